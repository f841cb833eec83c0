// Check suite: selective scan (float). The forward is compared with a naive
// double-precision loop written here from the equations in kernels/scan.h;
// the chunked backward with the unchunked one; repeated runs bit for bit.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scan.h"
#include "tests/scan_fixture.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

typedef scan_problem problem;

static problem make_problem(int64_t B, int64_t D, int64_t L, int64_t N, int64_t G, int64_t chunk,
                            int opts, uint64_t seed) {
    const scan_shape s = {.B = B, .D = D, .L = L, .N = N, .G = G, .chunk = chunk,
                          .delta_softplus = !!(opts & OPT_SOFTPLUS)};
    return scan_problem_draw(s, opts, 0, &seed);
}

// The equations of scan.h, one (b, d) at a time, in double. h_all [B,D,L+1,N]
// receives h before step 0 (zero) and after every step.
static void naive_scan(double *out, double *h_all, const problem *p) {
    const scan_shape *s = &p->s;
    int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G;
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            int64_t g = d / (D / G);
            double *h = h_all + (b * D + d) * (L + 1) * N;
            for (int64_t n = 0; n < N; n++)
                h[n] = 0;
            for (int64_t t = 0; t < L; t++) {
                int64_t i = (b * D + d) * L + t;
                double x = (double)p->delta[i] + (p->bias ? p->bias[d] : 0.0);
                double dt = s->delta_softplus ? (x > 20 ? x : log(1 + exp(x))) : x;
                double y = 0;
                for (int64_t n = 0; n < N; n++) {
                    int64_t j = ((b * G + g) * N + n) * L + t;
                    double hn = exp(dt * p->A[d * N + n]) * h[t * N + n] + dt * p->Bm[j] * p->u[i];
                    h[(t + 1) * N + n] = hn;
                    y += p->Cm[j] * hn;
                }
                if (p->Dskip)
                    y += p->Dskip[d] * p->u[i];
                if (p->z) {
                    double zz = p->z[i];
                    y *= zz / (1 + exp(-zz));
                }
                out[i] = y;
            }
        }
}

// ||a - b|| / ||b|| with b in double
static double rel_err_d(const real *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - b[i];
        num += e * e;
        den += b[i] * b[i];
    }
    return isnan(num) ? INFINITY : sqrt(num) / fmax(sqrt(den), 1e-30);
}

// Forward against the naive loop: out, last_state and the chunk checkpoints.
static void check_forward(int64_t B, int64_t D, int64_t L, int64_t N, int64_t G, int64_t chunk,
                          int opts) {
    problem p = make_problem(B, D, L, N, G, chunk, opts, 1000 + (uint64_t)opts * 7 + (uint64_t)G);
    size_t BDL = (size_t)(B * D * L), nc = (size_t)scan_n_chunks(&p.s);
    real *out = malloc(sizeof(real) * BDL), *last = malloc(sizeof(real) * (size_t)(B * D * N));
    real *cs = malloc(sizeof(real) * selective_scan_chunk_states_size(&p.s));
    double *ref = malloc(sizeof(double) * BDL);
    double *h = malloc(sizeof(double) * (size_t)(B * D * (L + 1) * N));
    selective_scan_forward(out, last, cs, p.u, p.delta, p.A, p.Bm, p.Cm, p.Dskip, p.z, p.bias, &p.s);
    naive_scan(ref, h, &p);

    // float state recurrence over <= 40 steps: a few ulps of drift at most
    double e = rel_err_d(out, ref, BDL);
    ck_assert_msg(e < 2e-6, "out: rel err %g (L=%ld N=%ld G=%ld chunk=%ld opts=%d)", e, (long)L,
                  (long)N, (long)G, (long)chunk, opts);

    double *ref_last = malloc(sizeof(double) * (size_t)(B * D * N));
    double *ref_cs = malloc(sizeof(double) * (size_t)(B * D) * nc * (size_t)N);
    for (int64_t r = 0; r < B * D; r++) {
        for (int64_t n = 0; n < N; n++)
            ref_last[r * N + n] = h[(r * (L + 1) + L) * N + n];
        for (size_t c = 0; c < nc; c++)
            for (int64_t n = 0; n < N; n++)
                ref_cs[(r * nc + c) * N + n] = h[(r * (L + 1) + (int64_t)c * chunk) * N + n];
    }
    e = rel_err_d(last, ref_last, (size_t)(B * D * N));
    ck_assert_msg(e < 2e-6, "last_state: rel err %g (opts=%d G=%ld)", e, opts, (long)G);
    e = rel_err_d(cs, ref_cs, (size_t)(B * D) * nc * (size_t)N);
    ck_assert_msg(e < 2e-6, "chunk_states: rel err %g (opts=%d G=%ld)", e, opts, (long)G);

    // NULL last_state / chunk_states must not change out
    real *out2 = malloc(sizeof(real) * BDL);
    selective_scan_forward(out2, NULL, NULL, p.u, p.delta, p.A, p.Bm, p.Cm, p.Dskip, p.z, p.bias,
                           &p.s);
    ck_assert(memcmp(out, out2, sizeof(real) * BDL) == 0);

    free(out), free(out2), free(last), free(cs), free(ref), free(h), free(ref_last), free(ref_cs);
    scan_problem_free(&p);
}

START_TEST(forward_matches_naive_all_options) {
    for (int opts = 0; opts <= OPT_ALL; opts++)
        for (int64_t G = 1; G <= 2; G++) {
            check_forward(2, 4, 13, 3, G, 5, opts);  // L not a multiple of chunk
            check_forward(2, 4, 40, 16, G, 64, opts); // one chunk
        }
    // more channels per group than one lane block (16), the last one partial; chunk 1
    check_forward(2, 40, 19, 5, 2, 6, OPT_ALL);
    check_forward(1, 20, 17, 7, 1, 1, OPT_ALL);
    check_forward(3, 12, 23, 16, 1, 7, OPT_SOFTPLUS | OPT_Z);
    // the forward's time tile (64 steps) shorter than a chunk
    check_forward(1, 3, 150, 4, 1, 100, OPT_ALL);
}
END_TEST

START_TEST(forward_extreme_delta) {
    // large dt * A (exp underflows to 0) and large softplus inputs (linear branch)
    problem p = make_problem(1, 2, 9, 4, 1, 4, OPT_SOFTPLUS | OPT_D, 77);
    for (int i = 0; i < 18; i++)
        p.delta[i] = (real)(i % 3 == 0 ? 60.0 : (i % 3 == 1 ? -30.0 : 25.0));
    real out[18];
    double ref[18], h[2 * 10 * 4];
    selective_scan_forward(out, NULL, NULL, p.u, p.delta, p.A, p.Bm, p.Cm, p.Dskip, NULL, NULL, &p.s);
    naive_scan(ref, h, &p);
    double e = rel_err_d(out, ref, 18);
    ck_assert_msg(e < 2e-6, "rel err %g", e);
    scan_problem_free(&p);
}
END_TEST

// All gradients of one backward call, in one allocation per array.
typedef struct {
    real *du, *ddelta, *dA, *dB, *dC, *dD, *dz, *dbias;
    size_t n_du, n_dA, n_dB, n_dD;
} grads;

static grads grads_alloc(const scan_shape *s, uint64_t seed) {
    grads g;
    g.n_du = (size_t)(s->B * s->D * s->L);
    g.n_dA = (size_t)(s->D * s->N);
    g.n_dB = (size_t)(s->B * s->G * s->N * s->L);
    g.n_dD = (size_t)s->D;
    uint64_t st = seed; // nonzero start: backward accumulates
    g.du = tu_new_uniform(g.n_du, -1, 1, &st);
    g.ddelta = tu_new_uniform(g.n_du, -1, 1, &st);
    g.dz = tu_new_uniform(g.n_du, -1, 1, &st);
    g.dA = tu_new_uniform(g.n_dA, -1, 1, &st);
    g.dB = tu_new_uniform(g.n_dB, -1, 1, &st);
    g.dC = tu_new_uniform(g.n_dB, -1, 1, &st);
    g.dD = tu_new_uniform(g.n_dD, -1, 1, &st);
    g.dbias = tu_new_uniform(g.n_dD, -1, 1, &st);
    return g;
}

static void grads_free(grads *g) {
    free(g->du), free(g->ddelta), free(g->dz), free(g->dA), free(g->dB), free(g->dC);
    free(g->dD), free(g->dbias);
}

// forward (to get the checkpoints at s->chunk) then backward into g
static void run_backward(grads *g, const problem *p, const real *dout, const scan_shape *s) {
    size_t BDL = (size_t)(s->B * s->D * s->L);
    real *out = malloc(sizeof(real) * BDL);
    real *cs = malloc(sizeof(real) * selective_scan_chunk_states_size(s));
    size_t ws_n = selective_scan_workspace_size(s, omp_get_max_threads());
    real *ws = malloc(sizeof(real) * ws_n);
    for (size_t i = 0; i < ws_n; i++)
        ws[i] = NAN; // the backward must not read scratch it did not write
    selective_scan_forward(out, NULL, cs, p->u, p->delta, p->A, p->Bm, p->Cm, p->Dskip, p->z,
                           p->bias, s);
    selective_scan_backward(g->du, g->ddelta, g->dA, g->dB, g->dC, p->Dskip ? g->dD : NULL,
                            p->z ? g->dz : NULL, p->bias ? g->dbias : NULL, dout, cs, p->u,
                            p->delta, p->A, p->Bm, p->Cm, p->Dskip, p->z, p->bias, ws, s);
    free(out), free(cs), free(ws);
}

static double grads_max_rel(const grads *a, const grads *b) {
    double e = 0;
    e = fmax(e, tu_rel_err(a->du, b->du, a->n_du));
    e = fmax(e, tu_rel_err(a->ddelta, b->ddelta, a->n_du));
    e = fmax(e, tu_rel_err(a->dz, b->dz, a->n_du));
    e = fmax(e, tu_rel_err(a->dA, b->dA, a->n_dA));
    e = fmax(e, tu_rel_err(a->dB, b->dB, a->n_dB));
    e = fmax(e, tu_rel_err(a->dC, b->dC, a->n_dB));
    e = fmax(e, tu_rel_err(a->dD, b->dD, a->n_dD));
    e = fmax(e, tu_rel_err(a->dbias, b->dbias, a->n_dD));
    return e;
}

static int grads_bitwise_equal(const grads *a, const grads *b) {
    return !memcmp(a->du, b->du, sizeof(real) * a->n_du) &&
           !memcmp(a->ddelta, b->ddelta, sizeof(real) * a->n_du) &&
           !memcmp(a->dz, b->dz, sizeof(real) * a->n_du) &&
           !memcmp(a->dA, b->dA, sizeof(real) * a->n_dA) &&
           !memcmp(a->dB, b->dB, sizeof(real) * a->n_dB) &&
           !memcmp(a->dC, b->dC, sizeof(real) * a->n_dB) &&
           !memcmp(a->dD, b->dD, sizeof(real) * a->n_dD) &&
           !memcmp(a->dbias, b->dbias, sizeof(real) * a->n_dD);
}

// Zero initial gradients, so that relative errors measure the gradients
// themselves rather than the random starting values.
static void grads_zero(grads *g) {
    memset(g->du, 0, sizeof(real) * g->n_du), memset(g->ddelta, 0, sizeof(real) * g->n_du);
    memset(g->dz, 0, sizeof(real) * g->n_du), memset(g->dA, 0, sizeof(real) * g->n_dA);
    memset(g->dB, 0, sizeof(real) * g->n_dB), memset(g->dC, 0, sizeof(real) * g->n_dB);
    memset(g->dD, 0, sizeof(real) * g->n_dD), memset(g->dbias, 0, sizeof(real) * g->n_dD);
}

// Backpropagation through time written out from the equations of scan.h, in
// double, storing every state (no chunks, no lanes, no blocks). Gradients are
// [B, D, L] (du, ddelta, dz), [D, N] (dA), [B, G, N, L] (dB, dC), [D] (dD,
// dbias), all zero-initialised by the caller.
typedef struct {
    double *du, *ddelta, *dz, *dA, *dB, *dC, *dD, *dbias;
} naive_grads;

static void naive_backward(naive_grads *g, const real *dout, const problem *p) {
    const scan_shape *s = &p->s;
    int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G;
    double *h = malloc(sizeof(double) * (size_t)((L + 1) * N)), *dh = malloc(sizeof(double) * N);
    double *dt = malloc(sizeof(double) * L), *sp = malloc(sizeof(double) * L);
    double *y = malloc(sizeof(double) * L);
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            int64_t g_ = d / (D / G);
            const real *Bg = p->Bm + (b * G + g_) * N * L, *Cg = p->Cm + (b * G + g_) * N * L;
            double *dBg = g->dB + (b * G + g_) * N * L, *dCg = g->dC + (b * G + g_) * N * L;
            int64_t r = (b * D + d) * L;
            double Dd = p->Dskip ? p->Dskip[d] : 0;
            for (int64_t n = 0; n < N; n++)
                h[n] = dh[n] = 0;
            for (int64_t t = 0; t < L; t++) { // forward, keeping every state
                double x = (double)p->delta[r + t] + (p->bias ? p->bias[d] : 0.0);
                dt[t] = s->delta_softplus ? log(1 + exp(x)) : x;
                sp[t] = s->delta_softplus ? 1 / (1 + exp(-x)) : 1;
                y[t] = Dd * p->u[r + t];
                for (int64_t n = 0; n < N; n++) {
                    h[(t + 1) * N + n] = exp(dt[t] * p->A[d * N + n]) * h[t * N + n] +
                                         dt[t] * Bg[n * L + t] * p->u[r + t];
                    y[t] += Cg[n * L + t] * h[(t + 1) * N + n];
                }
            }
            for (int64_t t = L - 1; t >= 0; t--) {
                double go = dout[r + t], gy = go, u_ = p->u[r + t], ddt = 0;
                if (p->z) {
                    double zz = p->z[r + t], sg = 1 / (1 + exp(-zz));
                    gy = go * zz * sg;
                    g->dz[r + t] += go * y[t] * (sg + zz * sg * (1 - sg));
                }
                g->dD[d] += gy * u_;
                g->du[r + t] += gy * Dd;
                for (int64_t n = 0; n < N; n++) {
                    double a = exp(dt[t] * p->A[d * N + n]);
                    dh[n] += gy * Cg[n * L + t];
                    dCg[n * L + t] += gy * h[(t + 1) * N + n];
                    dBg[n * L + t] += dh[n] * dt[t] * u_;
                    g->du[r + t] += dh[n] * dt[t] * Bg[n * L + t];
                    ddt += dh[n] * (u_ * Bg[n * L + t] + p->A[d * N + n] * a * h[t * N + n]);
                    g->dA[d * N + n] += dh[n] * dt[t] * a * h[t * N + n];
                    dh[n] *= a;
                }
                g->ddelta[r + t] += ddt * sp[t];
                g->dbias[d] += ddt * sp[t];
            }
        }
    free(h), free(dh), free(dt), free(sp), free(y);
}

START_TEST(backward_matches_naive_bptt) {
    // D = 40, G = 1 or 2: 20 or 40 channels per group, so lane blocks of 16 are
    // full and partial; both thread counts (one or more channel blocks per group)
    const int opt_sets[] = {OPT_ALL, 0, OPT_SOFTPLUS | OPT_Z, OPT_D | OPT_BIAS};
    int saved = omp_get_max_threads();
    for (int nt = 1; nt <= 2; nt++)
        for (int o = 0; o < 4; o++)
            for (int64_t G = 1; G <= 2; G++) {
                omp_set_num_threads(nt);
                const int64_t B = 2, D = 40, L = 23, N = 6;
                problem p = make_problem(B, D, L, N, G, 5, opt_sets[o], 71 + (uint64_t)o);
                uint64_t st = 3;
                size_t BDL = (size_t)(B * D * L), DN = (size_t)(D * N);
                size_t BGNL = (size_t)(B * G * N * L);
                real *dout = tu_new_uniform(BDL, -1, 1, &st);
                grads gr = grads_alloc(&p.s, 1);
                grads_zero(&gr);
                run_backward(&gr, &p, dout, &p.s);
                naive_grads ng;
                double **arrs[] = {&ng.du, &ng.ddelta, &ng.dz, &ng.dA, &ng.dB, &ng.dC, &ng.dD, &ng.dbias};
                size_t lens[] = {BDL, BDL, BDL, DN, BGNL, BGNL, (size_t)D, (size_t)D};
                for (int i = 0; i < 8; i++)
                    *arrs[i] = calloc(lens[i], sizeof(double));
                naive_backward(&ng, dout, &p);
                const real *got[] = {gr.du, gr.ddelta, gr.dz, gr.dA, gr.dB, gr.dC, gr.dD, gr.dbias};
                const char *names[] = {"du", "ddelta", "dz", "dA", "dB", "dC", "dD", "dbias"};
                int present[] = {1, 1, !!p.z, 1, 1, 1, !!p.Dskip, !!p.bias};
                for (int i = 0; i < 8; i++) {
                    if (!present[i])
                        continue;
                    // float recurrences over 23 steps against double: ~1e-6
                    double e = rel_err_d(got[i], *arrs[i], lens[i]);
                    ck_assert_msg(e < 1e-5, "%s: rel err %g (threads=%d opts=%d G=%ld)", names[i],
                                  e, nt, opt_sets[o], (long)G);
                }
                for (int i = 0; i < 8; i++)
                    free(*arrs[i]);
                grads_free(&gr);
                free(dout);
                scan_problem_free(&p);
            }
    omp_set_num_threads(saved);
}
END_TEST

START_TEST(chunked_backward_equals_unchunked) {
    const int64_t chunks[] = {3, 7, 64};
    for (int opts = 0; opts <= OPT_ALL; opts += 5) // 0, 5, 10, 15: each option on and off
        for (int64_t G = 1; G <= 2; G++) {
            const int64_t L = 40;
            // D = 20: with G = 1 two channel blocks per group (partial dB/dC buffers)
            problem p = make_problem(2, 20, L, 5, G, L, opts, 500 + (uint64_t)opts);
            uint64_t st = 99;
            real *dout = tu_new_uniform((size_t)(2 * 20 * L), -1, 1, &st);
            grads ref = grads_alloc(&p.s, 1);
            grads_zero(&ref);
            run_backward(&ref, &p, dout, &p.s); // chunk = L: one chunk, no checkpoints used
            for (int c = 0; c < 3; c++) {
                scan_shape s = p.s;
                s.chunk = chunks[c];
                grads g = grads_alloc(&s, 1);
                grads_zero(&g);
                run_backward(&g, &p, dout, &s);
                // same math in another order of float rounding: recomputed states
                // restart from float checkpoints equal to the carried ones
                double e = grads_max_rel(&g, &ref);
                ck_assert_msg(e < 1e-5, "chunk %ld vs %ld: rel err %g (opts=%d G=%ld)",
                              (long)chunks[c], (long)L, e, opts, (long)G);
                grads_free(&g);
            }
            grads_free(&ref);
            free(dout);
            scan_problem_free(&p);
        }
}
END_TEST

START_TEST(backward_bitwise_deterministic_and_thread_counts_agree) {
    // B*G = 4, 20 channels per group: one thread gives one channel block per
    // group, two threads two blocks (partial dB/dC buffers); both reduction
    // paths run here.
    problem p = make_problem(2, 40, 29, 8, 2, 6, OPT_ALL, 4242);
    uint64_t st = 5;
    real *dout = tu_new_uniform((size_t)(2 * 40 * 29), -1, 1, &st);
    int saved = omp_get_max_threads();
    grads per_threads[2];
    for (int nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        grads g1 = grads_alloc(&p.s, 11), g2 = grads_alloc(&p.s, 11);
        run_backward(&g1, &p, dout, &p.s);
        run_backward(&g2, &p, dout, &p.s);
        ck_assert_msg(grads_bitwise_equal(&g1, &g2), "two runs with %d threads differ", nt);
        grads_free(&g2);
        per_threads[nt - 1] = g1;
    }
    omp_set_num_threads(saved);
    double e = grads_max_rel(&per_threads[0], &per_threads[1]);
    ck_assert_msg(e < 1e-5, "1 vs 2 threads: rel err %g", e);
    grads_free(&per_threads[0]);
    grads_free(&per_threads[1]);

    // the forward's result does not depend on threads at all
    size_t BDL = (size_t)(2 * 40 * 29);
    real *o1 = malloc(sizeof(real) * BDL), *o2 = malloc(sizeof(real) * BDL);
    omp_set_num_threads(1);
    selective_scan_forward(o1, NULL, NULL, p.u, p.delta, p.A, p.Bm, p.Cm, p.Dskip, p.z, p.bias, &p.s);
    omp_set_num_threads(2);
    selective_scan_forward(o2, NULL, NULL, p.u, p.delta, p.A, p.Bm, p.Cm, p.Dskip, p.z, p.bias, &p.s);
    omp_set_num_threads(saved);
    ck_assert(memcmp(o1, o2, sizeof(real) * BDL) == 0);
    free(o1), free(o2), free(dout);
    scan_problem_free(&p);
}
END_TEST

START_TEST(workspace_size_scales_with_chunk_not_length_times_state) {
    // the backward's memory is O(B*D*N*L/chunk) + per-thread O(chunk*N), not O(B*D*N*L)
    scan_shape s = {8, 768, 784, 16, 1, 64, 1, NULL, 0};
    size_t ws = selective_scan_workspace_size(&s, 2);
    size_t full = (size_t)(8 * 768 * 784 * 16);
    ck_assert_uint_lt(ws, full / 50);
    ck_assert_uint_lt(selective_scan_chunk_states_size(&s), full / 50);
    ck_assert_uint_eq(selective_scan_chunk_states_size(&s), (size_t)(8 * 768 * 13 * 16));
}
END_TEST

int main(void) {
    Suite *su = suite_create("scan");
    TCase *tc = tcase_create("scan");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, forward_matches_naive_all_options);
    tcase_add_test(tc, forward_extreme_delta);
    tcase_add_test(tc, backward_matches_naive_bptt);
    tcase_add_test(tc, chunked_backward_equals_unchunked);
    tcase_add_test(tc, backward_bitwise_deterministic_and_thread_counts_agree);
    tcase_add_test(tc, workspace_size_scales_with_chunk_not_length_times_state);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
