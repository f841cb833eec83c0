// Check suite: CPU kernels in float. Each forward against a naive loop written
// here (in double), hand-computed values for the loss and the optimizer, the
// permutation round trip, and bitwise determinism of the reductions.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/conv1d.h"
#include "kernels/cpu_math.h" // r_fexp and the sigmoid family (private helpers, tested here)
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/permute.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

// float kernels vs double naive loops over short sums: a few ulps of float
#define FTOL 2e-6

static uint64_t seed = 0x9E3779B97F4A7C15ull;

static real *rnd(size_t n, double lo, double hi) { return tu_new_uniform(n, lo, hi, &seed); }

// max |a - ref| / max(|ref|, 1): relative for large values, absolute near 0
static double err_vs(const real *a, const double *ref, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]) / fmax(fabs(ref[i]), 1.0);
        if (!(e <= m))
            m = e;
    }
    return m;
}

// Fisher-Yates shuffle of 0..L-1 for each of B rows
static int32_t *random_perms(int64_t B, int64_t L) {
    int32_t *p = malloc(B * L * sizeof *p);
    for (int64_t b = 0; b < B; b++) {
        int32_t *r = p + b * L;
        for (int64_t l = 0; l < L; l++)
            r[l] = (int32_t)l;
        for (int64_t l = L - 1; l > 0; l--) {
            int64_t j = (int64_t)(tu_uniform(&seed) * (double)(l + 1));
            int32_t t = r[l];
            r[l] = r[j];
            r[j] = t;
        }
    }
    return p;
}

// Small shapes run as one BLAS call; large ones are split into bands of rows
// (M >= N) or of columns over the threads, and a call from inside a parallel
// region runs whole on its thread: every path against the naive product.
START_TEST(gemm_all_transposes) {
    const int64_t shapes[][3] = {{5, 7, 3}, {300, 40, 50}, {40, 300, 50}, {17, 333, 70}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const int64_t M = shapes[si][0], N = shapes[si][1], K = shapes[si][2];
        real *A = rnd(M * K, -1, 1), *B = rnd(K * N, -1, 1), *C0 = rnd(M * N, -1, 1);
        real *C = tu_new_zeros(M * N);
        double *ref = malloc(sizeof(double) * M * N);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                // A is [M,K] or, transposed, stored [K,M]; B likewise
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double s = 0;
                        for (int64_t k = 0; k < K; k++)
                            s += (double)(ta ? A[k * M + i] : A[i * K + k]) *
                                 (tb ? B[j * K + k] : B[k * N + j]);
                        ref[i * N + j] = 0.7 * s + 0.3 * C0[i * N + j];
                    }
                // K terms of float rounding: scale the tolerance with sqrt(K)
                const double tol = FTOL * sqrt((double)K);
                memcpy(C, C0, M * N * sizeof *C);
                gemm(C, A, B, M, N, K, ta, tb, 0.7f, 0.3f);
                ck_assert_msg(err_vs(C, ref, M * N) < tol, "gemm %lldx%lldx%lld ta=%d tb=%d",
                              (long long)M, (long long)N, (long long)K, ta, tb);
                memcpy(C, C0, M * N * sizeof *C);
#pragma omp parallel num_threads(2)
                {
#pragma omp single
                    gemm(C, A, B, M, N, K, ta, tb, 0.7f, 0.3f);
                }
                ck_assert_msg(err_vs(C, ref, M * N) < tol, "gemm in a region %lldx%lldx%lld",
                              (long long)M, (long long)N, (long long)K);
            }
        free(A), free(B), free(C0), free(C), free(ref);
    }
}
END_TEST

START_TEST(linear_forward_matches_naive) {
    const int64_t N = 6, IC = 5, OC = 4;
    real *x = rnd(N * IC, -1, 1), *w = rnd(OC * IC, -1, 1), *b = rnd(OC, -1, 1);
    real *out = tu_new_zeros(N * OC);
    double ref[6 * 4];
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < OC; o++) {
                double s = with_bias ? b[o] : 0;
                for (int64_t i = 0; i < IC; i++)
                    s += (double)x[n * IC + i] * w[o * IC + i];
                ref[n * OC + o] = s;
            }
        linear_forward(out, x, w, with_bias ? b : NULL, N, IC, OC);
        ck_assert_msg(err_vs(out, ref, N * OC) < FTOL, "linear bias=%d", with_bias);
    }
    free(x), free(w), free(b), free(out);
}
END_TEST

// The polynomial exp against libm in double on a dense grid over its whole
// range: the relative error stays within the documented bound (a few float
// ulps), below -87 it gives 0, and NaN propagates.
START_TEST(fast_exp_within_documented_bound) {
    double worst = 0;
    for (int64_t i = 0; i <= 2000000; i++) {
        const real x = (real)(-87.0 + 175.0 * (double)i / 2000000.0);
        const double ref = exp((double)x), e = fabs((double)r_fexp(x) - ref) / ref;
        if (!(e <= worst))
            worst = e;
    }
    ck_assert_msg(worst < R_FEXP_REL_ERR, "r_fexp max relative error %g", worst);
    ck_assert(r_fexp((real)-200) == 0);
    ck_assert(r_fexp((real)0) == 1);
    ck_assert(isnan(r_fexp((real)NAN)));
    // the sigmoid family built on it: within a few ulps where it matters
    double ws = 0, wp = 0;
    for (int64_t i = 0; i <= 200000; i++) {
        const real x = (real)(-60.0 + 120.0 * (double)i / 200000.0);
        const double s = 1 / (1 + exp(-(double)x));
        const double sp = x > 20 ? x : log1p(exp((double)x));
        ws = fmax(ws, fabs((double)r_sigmoid(x) - s) / s);
        wp = fmax(wp, fabs((double)r_softplus(x) - sp) / sp);
    }
    ck_assert_msg(ws < 2 * R_FEXP_REL_ERR + 1e-7, "sigmoid rel err %g", ws);
    ck_assert_msg(wp < 2 * R_FEXP_REL_ERR + 1e-7, "softplus rel err %g", wp);
}
END_TEST

START_TEST(conv1d_forward_matches_naive) {
    // K = 4 has its own tiled path (tiles of 256 steps): lengths below K, one
    // tile, and several; K = 3 and 5 take the generic loop
    const int64_t shapes[][2] = {{9, 4}, {1, 4}, {2, 4}, {600, 4}, {9, 3}, {9, 5}};
    const int64_t B = 2, C = 3, Lmax = 600;
    real *x = rnd(B * C * Lmax, -2, 2), *w = rnd(C * 5, -1, 1), *bias = rnd(C, -1, 1);
    real *out = tu_new_zeros(B * C * Lmax);
    double *ref = malloc(sizeof(double) * B * C * Lmax);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int silu = 0; silu < 2; silu++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                const int64_t L = shapes[si][0], K = shapes[si][1];
                for (int64_t b = 0; b < B; b++)
                    for (int64_t c = 0; c < C; c++)
                        for (int64_t t = 0; t < L; t++) {
                            double s = with_bias ? bias[c] : 0;
                            for (int64_t k = 0; k < K; k++) {
                                int64_t src = t - (K - 1) + k;
                                if (src >= 0)
                                    s += (double)w[c * K + k] * x[(b * C + c) * L + src];
                            }
                            ref[(b * C + c) * L + t] = silu ? s / (1 + exp(-s)) : s;
                        }
                conv1d_causal_forward(out, x, w, with_bias ? bias : NULL, B, C, L, K, silu, NULL, 0);
                ck_assert_msg(err_vs(out, ref, B * C * L) < FTOL, "conv L=%lld K=%lld silu=%d bias=%d",
                              (long long)L, (long long)K, silu, with_bias);
            }
    free(x), free(w), free(bias), free(out), free(ref);
}
END_TEST

START_TEST(norms_forward_match_naive) {
    const int64_t N = 4, C = 10;
    const real eps = 1e-5f;
    real *x = rnd(N * C, -3, 3), *w = rnd(C, 0.5, 1.5), *b = rnd(C, -1, 1);
    real *out = tu_new_zeros(N * C), *mean = tu_new_zeros(N), *rstd = tu_new_zeros(N);
    double ref[4 * 10], ref_rstd[4], ref_mean[4];
    for (int64_t n = 0; n < N; n++) {
        double ss = 0;
        for (int64_t c = 0; c < C; c++)
            ss += (double)x[n * C + c] * x[n * C + c];
        ref_rstd[n] = 1 / sqrt(ss / C + eps);
        for (int64_t c = 0; c < C; c++)
            ref[n * C + c] = x[n * C + c] * ref_rstd[n] * w[c];
    }
    rmsnorm_forward(out, rstd, x, w, N, C, eps);
    ck_assert(err_vs(out, ref, N * C) < FTOL);
    ck_assert(err_vs(rstd, ref_rstd, N) < FTOL);

    for (int with_bias = 0; with_bias < 2; with_bias++) {
        for (int64_t n = 0; n < N; n++) {
            double s = 0, v = 0;
            for (int64_t c = 0; c < C; c++)
                s += x[n * C + c];
            ref_mean[n] = s / C;
            for (int64_t c = 0; c < C; c++)
                v += (x[n * C + c] - ref_mean[n]) * (x[n * C + c] - ref_mean[n]);
            ref_rstd[n] = 1 / sqrt(v / C + eps);
            for (int64_t c = 0; c < C; c++)
                ref[n * C + c] = (x[n * C + c] - ref_mean[n]) * ref_rstd[n] * w[c] +
                                 (with_bias ? b[c] : 0);
        }
        layernorm_forward(out, mean, rstd, x, w, with_bias ? b : NULL, N, C, eps);
        ck_assert_msg(err_vs(out, ref, N * C) < FTOL, "layernorm bias=%d", with_bias);
        ck_assert(err_vs(mean, ref_mean, N) < FTOL);
        ck_assert(err_vs(rstd, ref_rstd, N) < FTOL);
    }
    free(x), free(w), free(b), free(out), free(mean), free(rstd);
}
END_TEST

START_TEST(activations_match_naive) {
    // random values plus the extremes where a naive sigmoid or softplus breaks
    enum { n = 40 };
    real *x = rnd(n, -8, 8), *z = rnd(n, -8, 8), *out = tu_new_zeros(n);
    const real special[] = {-100, -30, 0, 19.5f, 20, 20.5f, 30, 100};
    memcpy(x, special, sizeof special);
    double ref[n];
    for (int i = 0; i < n; i++)
        ref[i] = x[i] / (1 + exp(-(double)x[i])); // exp(100) is fine in double
    silu_forward(out, x, n);
    ck_assert(err_vs(out, ref, n) < FTOL);
    for (int i = 0; i < n; i++)
        ref[i] = x[i] > 20 ? x[i] : log1p(exp((double)x[i]));
    softplus_forward(out, x, n);
    ck_assert(err_vs(out, ref, n) < FTOL);
    ck_assert(out[7] == 100); // linear above 20: no exp overflow
    for (int i = 0; i < n; i++)
        ref[i] = x[i] * (z[i] / (1 + exp(-(double)z[i])));
    gate_forward(out, x, z, n);
    ck_assert(err_vs(out, ref, n) < FTOL);
    for (int i = 0; i < n; i++)
        ref[i] = (double)x[i] + z[i];
    add_forward(out, x, z, n);
    ck_assert(err_vs(out, ref, n) < FTOL);
    add_forward(x, x, z, n); // out aliasing a
    ck_assert(err_vs(x, ref, n) < FTOL);
    for (int i = 0; i < n; i++)
        ref[i] = -0.5 * x[i];
    scale_inplace(x, -0.5f, n);
    ck_assert(err_vs(x, ref, n) < FTOL);
    free(x), free(z), free(out);
}
END_TEST

START_TEST(gather_scatter_round_trip_and_by_hand) {
    const int64_t B = 3, C = 4, L = 10;
    const size_t n = B * C * L;
    int32_t *perm = random_perms(B, L);
    real *x = rnd(n, -1, 1), *g = tu_new_zeros(n), *back = tu_new_zeros(n), *y = rnd(n, -1, 1);
    real *acc = tu_new_zeros(n);
    gather_tokens_forward(g, x, perm, B, C, L);
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t l = 0; l < L; l++)
                ck_assert(g[(b * C + c) * L + l] == x[(b * C + c) * L + perm[b * L + l]]);
    scatter_tokens_forward(back, g, perm, B, C, L, 1, 0);
    ck_assert_mem_eq(back, x, n * sizeof *x); // scatter undoes gather, bit for bit
    // accumulate: acc = y, then acc[perm[l]] += 0.5 g[l] = y + 0.5 x
    memcpy(acc, y, n * sizeof *y);
    scatter_tokens_forward(acc, g, perm, B, C, L, 0.5f, 1);
    for (size_t i = 0; i < n; i++)
        ck_assert(acc[i] == y[i] + 0.5f * x[i]);
    // the permutations really move things (the test would be void otherwise)
    ck_assert(memcmp(g, x, n * sizeof *x) != 0);
    free(perm), free(x), free(g), free(back), free(y), free(acc);
}
END_TEST

START_TEST(transpose_matches_naive) {
    const int64_t B = 2, R = 37, S = 45; // not multiples of the tile
    real *x = rnd(B * R * S, -1, 1), *t = tu_new_zeros(B * R * S), *tt = tu_new_zeros(B * R * S);
    transpose_forward(t, x, B, R, S);
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < S; j++)
                ck_assert(t[b * R * S + j * R + i] == x[b * R * S + i * S + j]);
    transpose_forward(tt, t, B, S, R);
    ck_assert_mem_eq(tt, x, B * R * S * sizeof *x);
    free(x), free(t), free(tt);
}
END_TEST

START_TEST(cross_entropy_hand_value) {
    // Row 0: logits (1,2,3), target 0, eps 0.1, V 3.
    //   lse = 3 + log(1 + e^-1 + e^-2) = 3.4076059644
    //   loss = lse - (1-eps) l_t - eps/V sum l = 3.4076059644 - 0.9 - 0.2 = 2.3076059644
    // Row 1: the same logits shifted by 1000 (a naive exp overflows): same loss.
    // Row 2 with eps 0 is plain cross-entropy (checked in a second call):
    //   target 2: lse - 3 = 0.4076059644
    const int64_t N = 2, V = 3;
    real logits[] = {1, 2, 3, 1001, 1002, 1003};
    int32_t targets[] = {0, 0};
    real losses[2], probs[6];
    cross_entropy_forward(losses, probs, logits, targets, N, V, 0.1f);
    ck_assert_double_eq_tol(losses[0], 2.3076059644, 1e-6);
    ck_assert_double_eq_tol(losses[1], 2.3076059644, 1e-6);
    for (int n = 0; n < 2; n++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += probs[n * 3 + j];
        ck_assert_double_eq_tol(s, 1, 1e-6);
    }
    ck_assert_double_eq_tol(probs[0], exp(1 - 3.4076059644), 1e-6);
    int32_t t2[] = {2};
    cross_entropy_forward(losses, probs, logits, t2, 1, V, 0);
    ck_assert_double_eq_tol(losses[0], 0.4076059644, 1e-6);
    // an invalid target gives NaN, never an out-of-bounds read
    int32_t bad[] = {3};
    cross_entropy_forward(losses, probs, logits, bad, 1, V, 0);
    ck_assert(isnan(losses[0]));
}
END_TEST

START_TEST(mse_matches_naive) {
    enum { n = 17 };
    real *p = rnd(n, -2, 2), *t = rnd(n, -2, 2), *l = tu_new_zeros(n);
    double ref[n];
    for (int i = 0; i < n; i++)
        ref[i] = ((double)p[i] - t[i]) * ((double)p[i] - t[i]);
    mse_forward(l, p, t, n);
    ck_assert(err_vs(l, ref, n) < FTOL);
    free(p), free(t), free(l);
}
END_TEST

// torch.optim.AdamW, one step, written out in double
static void adamw_ref(double *p, const double *g, double *m, double *v, int n, double lr,
                      double b1, double b2, double eps, double wd, int t) {
    for (int i = 0; i < n; i++) {
        p[i] *= 1 - lr * wd;
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        double mh = m[i] / (1 - pow(b1, t)), vh = v[i] / (1 - pow(b2, t));
        p[i] -= lr * mh / (sqrt(vh) + eps);
    }
}

START_TEST(adamw_one_step_formula) {
    enum { n = 5 };
    const double lr = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    const double g0[n] = {0.1, -0.3, 0, 2.5, -1e-3};
    for (int t = 1; t <= 3; t += 2) {
        // t = 1 from zero moments; t = 3 from moments left by earlier steps
        double p[n] = {0.5, -1.2, 2.0, 0, 3.0}, m[n] = {0}, v[n] = {0};
        if (t == 3)
            for (int i = 0; i < n; i++)
                m[i] = 0.05 * (i - 2), v[i] = 0.01 * (i + 1);
        real pr[n], gr[n], mr[n], vr[n];
        for (int i = 0; i < n; i++)
            pr[i] = p[i], gr[i] = g0[i], mr[i] = m[i], vr[i] = v[i];
        adamw_ref(p, g0, m, v, n, lr, b1, b2, eps, wd, t);
        adamw_update(pr, gr, mr, vr, n, lr, b1, b2, eps, wd, t);
        ck_assert_msg(err_vs(pr, p, n) < FTOL, "adamw p at t=%d", t);
        ck_assert_msg(err_vs(mr, m, n) < FTOL, "adamw m at t=%d", t);
        ck_assert_msg(err_vs(vr, v, n) < FTOL, "adamw v at t=%d", t);
        if (t == 1) {
            // by hand: bias correction makes the first step lr * sign(g):
            // 0.5 (1 - 1e-3) - 1e-2 * 0.1 / (0.1 + 1e-8) = 0.489500001
            ck_assert_double_eq_tol(pr[0], 0.489500001, 1e-6);
            // g = 0: only the decoupled decay moves p: 2.0 (1 - 1e-3)
            ck_assert_double_eq_tol(pr[2], 1.998, 1e-6);
        }
    }
}
END_TEST

START_TEST(global_norm_and_clip) {
    real g[2] = {3, 4};
    ck_assert(grad_clip(g, 2, 10) == 5);
    ck_assert(g[0] == 3 && g[1] == 4); // below max_norm: untouched
    ck_assert(grad_clip(g, 2, 1) == 5);
    ck_assert_double_eq_tol(g[0], 0.6, 1e-7);
    ck_assert_double_eq_tol(g[1], 0.8, 1e-7);
    ck_assert_double_eq_tol(grad_global_norm(g, 2), 1, 1e-6);
    real bad[3] = {1, NAN, 2};
    ck_assert(isnan(grad_clip(bad, 3, 1)));
    ck_assert(bad[0] == 1 && bad[2] == 2);
    // a long buffer (parallel, 256 parts with a ragged end) against a plain sum
    const int64_t n = 100003;
    real *x = rnd(n, -1, 1);
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    ck_assert_double_eq_tol(grad_global_norm(x, n), sqrt(s), 1e-9 * sqrt(s));
    free(x);
}
END_TEST

// Runs every reducing backward into fresh buffers with `threads` threads and
// returns the concatenated gradients, and the global norm (kept in double:
// a float cast would hide differences in the last bits of the sum).
static real *reducing_backwards(int threads, size_t *len, double *norm) {
    const int64_t B = 4, C = 32, L = 256, K = 4, N = 512, D = 96;
    uint64_t s = 42; // same inputs every call
    size_t nconv = B * C * L, nnorm = N * D;
    real *x = malloc(nconv * sizeof *x), *dout = malloc(nconv * sizeof *x);
    real *w = malloc(C * K * sizeof *x), *bias = malloc(C * sizeof *x);
    real *nx = malloc(nnorm * sizeof *x), *ndout = malloc(nnorm * sizeof *x);
    real *nw = malloc(D * sizeof *x), *nb = malloc(D * sizeof *x);
    tu_fill_uniform(x, nconv, -1, 1, &s), tu_fill_uniform(dout, nconv, -1, 1, &s);
    tu_fill_uniform(w, C * K, -1, 1, &s), tu_fill_uniform(bias, C, -1, 1, &s);
    tu_fill_uniform(nx, nnorm, -1, 1, &s), tu_fill_uniform(ndout, nnorm, -1, 1, &s);
    tu_fill_uniform(nw, D, -1, 1, &s), tu_fill_uniform(nb, D, -1, 1, &s);
    *len = nconv + C * K + C + 2 * (nnorm + D) + D + D;
    real *o = calloc(*len, sizeof *o), *p = o;
    real *out = malloc(nnorm * sizeof *x), *mean = malloc(N * sizeof *x), *rstd = malloc(N * sizeof *x);
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    conv1d_causal_backward(p, p + nconv, p + nconv + C * K, dout, x, w, bias, B, C, L, K, 1, NULL, 0);
    p += nconv + C * K + C;
    rmsnorm_forward(out, rstd, nx, nw, N, D, 1e-5f);
    rmsnorm_backward(p, p + nnorm, ndout, nx, nw, rstd, N, D);
    p += nnorm + D;
    layernorm_forward(out, mean, rstd, nx, nw, nb, N, D, 1e-5f);
    layernorm_backward(p, p + nnorm, p + nnorm + D, ndout, nx, nw, mean, rstd, N, D);
    p += nnorm + 2 * D;
    linear_backward(NULL, NULL, p, ndout, nx, NULL, N, D, D);
    *norm = grad_global_norm(nx, nnorm);
    omp_set_num_threads(saved);
    free(x), free(dout), free(w), free(bias), free(nx), free(ndout), free(nw), free(nb);
    free(out), free(mean), free(rstd);
    return o;
}

START_TEST(backward_reductions_bitwise_deterministic) {
    size_t n;
    double na, nb, nc, nd;
    real *a = reducing_backwards(2, &n, &na), *b = reducing_backwards(2, &n, &nb);
    ck_assert_mem_eq(a, b, n * sizeof *a);
    ck_assert(na == nb);
    // the reduction order does not depend on the thread count either
    real *c = reducing_backwards(1, &n, &nc), *d = reducing_backwards(3, &n, &nd);
    ck_assert_mem_eq(a, c, n * sizeof *a);
    ck_assert_mem_eq(a, d, n * sizeof *a);
    ck_assert(na == nc && na == nd);
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs(a[i]);
    ck_assert(s > 1); // the gradients were actually written
    free(a), free(b), free(c), free(d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("kernels");
    tcase_add_test(tc, gemm_all_transposes);
    tcase_add_test(tc, linear_forward_matches_naive);
    tcase_add_test(tc, fast_exp_within_documented_bound);
    tcase_add_test(tc, conv1d_forward_matches_naive);
    tcase_add_test(tc, norms_forward_match_naive);
    tcase_add_test(tc, activations_match_naive);
    tcase_add_test(tc, gather_scatter_round_trip_and_by_hand);
    tcase_add_test(tc, transpose_matches_naive);
    tcase_add_test(tc, cross_entropy_hand_value);
    tcase_add_test(tc, mse_matches_naive);
    tcase_add_test(tc, adamw_one_step_formula);
    tcase_add_test(tc, global_norm_and_clip);
    tcase_add_test(tc, backward_reductions_bitwise_deterministic);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
