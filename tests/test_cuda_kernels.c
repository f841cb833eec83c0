// Check suite: the CUDA twins of the small kernels (activation, conv1d, permute, norm, loss,
// optim, linear) against the CPU kernels, on fresh random inputs, forward and backward.
// Outputs are poisoned (NaN bytes) before every GPU call, so an element a kernel forgets to
// write fails; accumulated gradients start from random values and the increments are
// compared. ||gpu - cpu|| / ||cpu||: < 1e-5 fp32, < 1e-2 bf16 (the CPU sees the same
// bf16-rounded inputs). Sizes are odd on purpose (not multiples of a warp, a tile, a block).
// The fused residual norms have no CPU twin: their reference is add_forward + the CPU norm.
//
// Built without CUDA=1, under the sanitizers or in double, or run with no GPU: prints why it
// skips, and passes.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "kernels/activation.h"
#include "kernels/conv1d.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/permute.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/optim.h"
#include "kernels/permute.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#define TOL32 1e-5
#define TOL16 1e-2
#define OK(expr) SSM_CUDA_ABORT_ON_ERROR(expr)

static real *hfill(size_t n, double lo, double hi, uint64_t *st) {
    real *x = malloc(sizeof(real) * (n ? n : 1));
    tu_fill_uniform(x, n, lo, hi, st);
    return x;
}
static real *hcopy(const real *x, size_t n) {
    real *y = malloc(sizeof(real) * (n ? n : 1));
    memcpy(y, x, sizeof(real) * n);
    return y;
}
static void round_bf16(real *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = ssm_bf16_to_float(ssm_bf16_from_float(x[i]));
}
// device copy (fp32, or bf16 when bf16 is set)
static void *dev(const void *h, size_t n, int bf16) {
    void *d;
    if (bf16) {
        const real *hf = h;
        ssm_bf16 *tmp = malloc(2 * (n ? n : 1));
        for (size_t i = 0; i < n; i++)
            tmp[i] = ssm_bf16_from_float(hf[i]);
        OK(ssm_cuda_alloc(&d, 2 * n, "test"));
        OK(ssm_cuda_upload(d, tmp, 2 * n));
        free(tmp);
    } else {
        OK(ssm_cuda_alloc(&d, 4 * n, "test"));
        OK(ssm_cuda_upload(d, h, 4 * n));
    }
    return d;
}
static void *poisoned(size_t n, int bf16) {
    void *d;
    size_t bytes = (bf16 ? 2 : 4) * n;
    OK(ssm_cuda_alloc(&d, bytes, "test"));
    CUDA_CHECK_ABORT(cudaMemset(d, 0xFF, bytes));
    return d;
}
static void repoison(void *d, size_t n, int bf16) {
    CUDA_CHECK_ABORT(cudaMemset(d, 0xFF, (bf16 ? 2 : 4) * n));
}
static real *host(const void *d, size_t n, int bf16) {
    real *h = malloc(sizeof(real) * (n ? n : 1));
    if (bf16) {
        ssm_bf16 *tmp = malloc(2 * (n ? n : 1));
        OK(ssm_cuda_download(tmp, d, 2 * n));
        for (size_t i = 0; i < n; i++)
            h[i] = ssm_bf16_to_float(tmp[i]);
        free(tmp);
    } else {
        OK(ssm_cuda_download(h, d, 4 * n));
    }
    return h;
}
// gpu buffer d against cpu values; frees the host copy
static double cmp(const char *what, const void *d, const real *cpu, size_t n, int bf16,
                  double tol) {
    real *g = host(d, n, bf16);
    double e = tu_rel_err(g, cpu, n);
    for (size_t i = 0; i < n; i++)
        if (isnan(g[i]))
            e = INFINITY;
    fprintf(stderr, "  %-28s rel err %.2g\n", what, e);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    free(g);
    return e;
}
// increments: (gpu - init) against (cpu - init)
static double cmp_inc(const char *what, const void *d, const real *cpu, const real *init,
                      size_t n, int bf16, double tol) {
    real *g = host(d, n, bf16);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double dc = (double)cpu[i] - init[i], dg = (double)g[i] - init[i];
        num += (dg - dc) * (dg - dc);
        den += dc * dc;
    }
    double e = isnan(num) ? INFINITY : sqrt(num) / fmax(sqrt(den), 1e-30);
    fprintf(stderr, "  %-28s rel err %.2g (increment)\n", what, e);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    free(g);
    return e;
}
static void same_bits(const char *what, const void *d, const real *prev, size_t n) {
    real *g = host(d, n, 0);
    ck_assert_msg(memcmp(g, prev, sizeof(real) * n) == 0, "%s: not bit-identical across runs",
                  what);
    free(g);
}

// --- activation -----------------------------------------------------------------------------
START_TEST(activation_all) {
    uint64_t st = 101;
    const int64_t n = 10007;
    real *x = hfill(n, -25, 25, &st), *y = hfill(n, -3, 3, &st), *g = hfill(n, -1, 1, &st);
    real *init = hfill(n, -1, 1, &st), *init2 = hfill(n, -1, 1, &st);
    real *ref = malloc(sizeof(real) * n), *ref2 = malloc(sizeof(real) * n);
    real *dx_ = dev(x, n, 0), *dy_ = dev(y, n, 0), *dg_ = dev(g, n, 0);
    real *out = poisoned(n, 0), *acc = poisoned(n, 0), *acc2 = poisoned(n, 0);
    fprintf(stderr, "activation n=%lld:\n", (long long)n);
    silu_forward(ref, x, n);
    OK(silu_forward_cuda(out, dx_, n));
    cmp("silu fwd", out, ref, n, 0, TOL32);
    memcpy(ref, init, 4 * n);
    silu_backward(ref, g, x, n);
    OK(ssm_cuda_upload(acc, init, 4 * n));
    OK(silu_backward_cuda(acc, dg_, dx_, n));
    cmp_inc("silu bwd", acc, ref, init, n, 0, TOL32);
    repoison(out, n, 0);
    softplus_forward(ref, x, n);
    OK(softplus_forward_cuda(out, dx_, n));
    cmp("softplus fwd", out, ref, n, 0, TOL32);
    memcpy(ref, init, 4 * n);
    softplus_backward(ref, g, x, n);
    OK(ssm_cuda_upload(acc, init, 4 * n));
    OK(softplus_backward_cuda(acc, dg_, dx_, n));
    cmp_inc("softplus bwd", acc, ref, init, n, 0, TOL32);
    repoison(out, n, 0);
    gate_forward(ref, y, x, n);
    OK(gate_forward_cuda(out, dy_, dx_, n));
    cmp("gate fwd", out, ref, n, 0, TOL32);
    memcpy(ref, init, 4 * n), memcpy(ref2, init2, 4 * n);
    gate_backward(ref, ref2, g, y, x, n);
    OK(ssm_cuda_upload(acc, init, 4 * n));
    OK(ssm_cuda_upload(acc2, init2, 4 * n));
    OK(gate_backward_cuda(acc, acc2, dg_, dy_, dx_, n));
    cmp_inc("gate bwd dy", acc, ref, init, n, 0, TOL32);
    cmp_inc("gate bwd dz", acc2, ref2, init2, n, 0, TOL32);
    repoison(out, n, 0);
    add_forward(ref, x, y, n);
    OK(add_forward_cuda(out, dx_, dy_, n));
    cmp("add", out, ref, n, 0, TOL32);
    OK(add_forward_cuda(dx_, dx_, dy_, n)); // out aliases a
    cmp("add (out aliases a)", dx_, ref, n, 0, TOL32);
    memcpy(ref2, y, 4 * n);
    scale_inplace(ref2, (real)-1.7, n);
    OK(scale_inplace_cuda(dy_, (real)-1.7, n));
    cmp("scale_inplace", dy_, ref2, n, 0, TOL32);
    void *ds[] = {dx_, dy_, dg_, out, acc, acc2};
    for (int i = 0; i < 6; i++)
        ssm_cuda_free(ds[i]);
    free(x), free(y), free(g), free(init), free(init2), free(ref), free(ref2);
}
END_TEST

// --- conv1d -------------------------------------------------------------------------------------
static void conv_case(int64_t B, int64_t C, int64_t L, int64_t K, int silu, int with_bias,
                      uint64_t seed) {
    uint64_t st = seed;
    size_t n = B * C * L;
    real *x = hfill(n, -2, 2, &st), *w = hfill(C * K, -1, 1, &st), *dout = hfill(n, -1, 1, &st);
    real *bias = with_bias ? hfill(C, -0.5, 0.5, &st) : NULL;
    real *ref = malloc(sizeof(real) * n);
    fprintf(stderr, "conv1d B=%lld C=%lld L=%lld K=%lld silu=%d bias=%d:\n", (long long)B,
            (long long)C, (long long)L, (long long)K, silu, with_bias);
    conv1d_causal_forward(ref, x, w, bias, B, C, L, K, silu);
    real *gx = dev(x, n, 0), *gw = dev(w, C * K, 0), *gd = dev(dout, n, 0);
    real *gb = bias ? dev(bias, C, 0) : NULL, *gout = poisoned(n, 0);
    OK(conv1d_causal_forward_cuda(gout, gx, gw, gb, B, C, L, K, silu));
    cmp("conv fwd", gout, ref, n, 0, TOL32);
    real *i_dx = hfill(n, -1, 1, &st), *i_dw = hfill(C * K, -1, 1, &st), *i_db = hfill(C, -1, 1, &st);
    real *c_dx = hcopy(i_dx, n), *c_dw = hcopy(i_dw, C * K), *c_db = hcopy(i_db, C);
    conv1d_causal_backward(c_dx, c_dw, c_db, dout, x, w, bias, B, C, L, K, silu);
    real *g_dx = dev(i_dx, n, 0), *g_dw = dev(i_dw, C * K, 0), *g_db = dev(i_db, C, 0);
    OK(conv1d_causal_backward_cuda(g_dx, g_dw, g_db, gd, gx, gw, gb, B, C, L, K, silu));
    cmp_inc("conv bwd dx", g_dx, c_dx, i_dx, n, 0, TOL32);
    cmp_inc("conv bwd dw", g_dw, c_dw, i_dw, C * K, 0, TOL32);
    cmp_inc("conv bwd dbias", g_db, c_db, i_db, C, 0, TOL32);
    // deterministic: the same increment again from the same start gives the same bits
    real *h_dw = host(g_dw, C * K, 0);
    OK(ssm_cuda_upload(g_dw, i_dw, 4 * C * K));
    OK(conv1d_causal_backward_cuda(NULL, g_dw, NULL, gd, gx, gw, gb, B, C, L, K, silu));
    same_bits("conv dw", g_dw, h_dw, C * K);
    void *ds[] = {gx, gw, gd, gb, gout, g_dx, g_dw, g_db};
    for (int i = 0; i < 8; i++)
        ssm_cuda_free(ds[i]);
    real *hs[] = {x, w, dout, bias, ref, i_dx, i_dw, i_db, c_dx, c_dw, c_db, h_dw};
    for (int i = 0; i < 12; i++)
        free(hs[i]);
}
START_TEST(conv1d_mamba) { conv_case(2, 37, 601, 4, 1, 1, 201); }
END_TEST
START_TEST(conv1d_wide_filter) { conv_case(3, 5, 9, 11, 0, 0, 202); } // K > L, K > 8 taps
END_TEST
START_TEST(conv1d_long_silu_nobias) { conv_case(1, 3, 1000, 3, 1, 0, 203); }
END_TEST

// --- permute ------------------------------------------------------------------------------------
START_TEST(permute_all) {
    uint64_t st = 301;
    const int64_t B = 3, C = 5, L = 257;
    size_t n = B * C * L;
    int32_t *perm = malloc(sizeof(int32_t) * B * L);
    for (int64_t b = 0; b < B; b++) { // Fisher-Yates from the test's own generator
        int32_t *p = perm + b * L;
        for (int64_t l = 0; l < L; l++)
            p[l] = (int32_t)l;
        for (int64_t l = L - 1; l > 0; l--) {
            int64_t j = (int64_t)(tu_uniform(&st) * (l + 1));
            if (j > l)
                j = l;
            int32_t t = p[l];
            p[l] = p[j], p[j] = t;
        }
    }
    int32_t *gp;
    OK(ssm_cuda_alloc((void **)&gp, sizeof(int32_t) * B * L, "test"));
    OK(ssm_cuda_upload(gp, perm, sizeof(int32_t) * B * L));
    real *x = hfill(n, -1, 1, &st), *init = hfill(n, -1, 1, &st), *ref = malloc(sizeof(real) * n);
    real *gx = dev(x, n, 0), *gout = poisoned(n, 0), *gacc = poisoned(n, 0);
    fprintf(stderr, "permute B=%lld C=%lld L=%lld:\n", (long long)B, (long long)C, (long long)L);
    gather_tokens_forward(ref, x, perm, B, C, L);
    OK(gather_tokens_forward_cuda(gout, gx, gp, B, C, L));
    cmp("gather fwd", gout, ref, n, 0, TOL32);
    memcpy(ref, init, 4 * n);
    gather_tokens_backward(ref, x, perm, B, C, L);
    OK(ssm_cuda_upload(gacc, init, 4 * n));
    OK(gather_tokens_backward_cuda(gacc, gx, gp, B, C, L));
    cmp_inc("gather bwd", gacc, ref, init, n, 0, TOL32);
    repoison(gout, n, 0);
    scatter_tokens_forward(ref, x, perm, B, C, L, (real)0.7, 0);
    OK(scatter_tokens_forward_cuda(gout, gx, gp, B, C, L, (real)0.7, 0));
    cmp("scatter fwd", gout, ref, n, 0, TOL32);
    memcpy(ref, init, 4 * n);
    scatter_tokens_forward(ref, x, perm, B, C, L, (real)-1.3, 1);
    OK(ssm_cuda_upload(gacc, init, 4 * n));
    OK(scatter_tokens_forward_cuda(gacc, gx, gp, B, C, L, (real)-1.3, 1));
    cmp_inc("scatter fwd accumulate", gacc, ref, init, n, 0, TOL32);
    memcpy(ref, init, 4 * n);
    scatter_tokens_backward(ref, x, perm, B, C, L, (real)0.3);
    OK(ssm_cuda_upload(gacc, init, 4 * n));
    OK(scatter_tokens_backward_cuda(gacc, gx, gp, B, C, L, (real)0.3));
    cmp_inc("scatter bwd", gacc, ref, init, n, 0, TOL32);
    // transpose [2, 33, 70] -> [2, 70, 33], and a thin one
    int64_t tb[2][3] = {{2, 33, 70}, {1, 1, 97}};
    for (int k = 0; k < 2; k++) {
        int64_t TB = tb[k][0], R = tb[k][1], S = tb[k][2];
        real *t = hfill(TB * R * S, -1, 1, &st), *tr = malloc(sizeof(real) * TB * R * S);
        transpose_forward(tr, t, TB, R, S);
        real *gt = dev(t, TB * R * S, 0), *go = poisoned(TB * R * S, 0);
        OK(transpose_forward_cuda(go, gt, TB, R, S));
        cmp("transpose", go, tr, TB * R * S, 0, TOL32);
        ssm_cuda_free(gt), ssm_cuda_free(go), free(t), free(tr);
    }
    ssm_cuda_free(gp), ssm_cuda_free(gx), ssm_cuda_free(gout), ssm_cuda_free(gacc);
    free(perm), free(x), free(init), free(ref);
}
END_TEST

// --- norms --------------------------------------------------------------------------------------
// ln: layernorm (else RMSNorm); resid: the fused residual variant (0: none, 1: with a
// residual tensor, 2: residual NULL)
static void norm_case(int ln, int resid, int with_bias, int64_t N, int64_t C, uint64_t seed) {
    uint64_t st = seed;
    size_t n = N * C;
    const real eps = (real)1e-5;
    real *x = hfill(n, -2, 3, &st), *r = hfill(n, -1, 1, &st), *w = hfill(C, 0.5, 1.5, &st);
    real *b = with_bias ? hfill(C, -0.5, 0.5, &st) : NULL, *dout = hfill(n, -1, 1, &st);
    real *dro = hfill(n, -1, 1, &st);
    fprintf(stderr, "%s%s N=%lld C=%lld bias=%d:\n", ln ? "layernorm" : "rmsnorm",
            resid == 1 ? " + residual" : resid == 2 ? " + residual(NULL)" : "", (long long)N,
            (long long)C, with_bias);
    // CPU reference: the residual sum first, then the plain norm
    real *xs = hcopy(x, n);
    if (resid == 1)
        add_forward(xs, x, r, n);
    real *out = malloc(sizeof(real) * n), *mean = malloc(sizeof(real) * N);
    real *rstd = malloc(sizeof(real) * N);
    if (ln)
        layernorm_forward(out, mean, rstd, xs, w, b, N, C, eps);
    else
        rmsnorm_forward(out, rstd, xs, w, N, C, eps);
    real *gx = dev(x, n, 0), *gr = dev(r, n, 0), *gw = dev(w, C, 0);
    real *gb = b ? dev(b, C, 0) : NULL, *gd = dev(dout, n, 0), *gdro = dev(dro, n, 0);
    real *gout = poisoned(n, 0), *gro = poisoned(n, 0), *gmean = poisoned(N, 0);
    real *grstd = poisoned(N, 0);
    const real *gres = resid == 1 ? gr : NULL;
    if (ln && resid)
        OK(layernorm_residual_forward_cuda(gout, gro, gmean, grstd, gx, gres, gw, gb, N, C, eps));
    else if (ln)
        OK(layernorm_forward_cuda(gout, gmean, grstd, gx, gw, gb, N, C, eps));
    else if (resid)
        OK(rmsnorm_residual_forward_cuda(gout, gro, grstd, gx, gres, gw, N, C, eps));
    else
        OK(rmsnorm_forward_cuda(gout, grstd, gx, gw, N, C, eps));
    cmp("out", gout, out, n, 0, TOL32);
    cmp("rstd", grstd, rstd, N, 0, TOL32);
    if (ln)
        cmp("mean", gmean, mean, N, 0, TOL32);
    if (resid)
        cmp("residual_out", gro, xs, n, 0, TOL32);
    // backward. CPU: the norm's dx into zeros, plus dresidual_out, added to both inputs.
    real *i_dx = hfill(n, -1, 1, &st), *i_dr = hfill(n, -1, 1, &st);
    real *i_dw = hfill(C, -1, 1, &st), *i_db = hfill(C, -1, 1, &st);
    real *c_dx = hcopy(i_dx, n), *c_dr = hcopy(i_dr, n), *c_dw = hcopy(i_dw, C);
    real *c_db = hcopy(i_db, C), *gsum = calloc(n, sizeof(real));
    if (ln)
        layernorm_backward(gsum, c_dw, b ? c_db : NULL, dout, xs, w, mean, rstd, N, C);
    else
        rmsnorm_backward(gsum, c_dw, dout, xs, w, rstd, N, C);
    for (size_t i = 0; i < n; i++) {
        real g = gsum[i] + (resid ? dro[i] : 0);
        c_dx[i] += g;
        c_dr[i] += g;
    }
    real *g_dx = dev(i_dx, n, 0), *g_dr = dev(i_dr, n, 0), *g_dw = dev(i_dw, C, 0);
    real *g_db = dev(i_db, C, 0);
    // the GPU backward reads the GPU's own saved statistics and residual stream
    const real *gxs = resid ? gro : gx;
    if (ln && resid)
        OK(layernorm_residual_backward_cuda(g_dx, g_dr, g_dw, b ? g_db : NULL, gd, gdro, gro, gw,
                                            gmean, grstd, N, C));
    else if (ln)
        OK(layernorm_backward_cuda(g_dx, g_dw, b ? g_db : NULL, gd, gxs, gw, gmean, grstd, N, C));
    else if (resid)
        OK(rmsnorm_residual_backward_cuda(g_dx, g_dr, g_dw, gd, gdro, gro, gw, grstd, N, C));
    else
        OK(rmsnorm_backward_cuda(g_dx, g_dw, gd, gxs, gw, grstd, N, C));
    cmp_inc("dinp", g_dx, c_dx, i_dx, n, 0, TOL32);
    if (resid)
        cmp_inc("dresidual", g_dr, c_dr, i_dr, n, 0, TOL32);
    cmp_inc("dweight", g_dw, c_dw, i_dw, C, 0, TOL32);
    if (ln && b)
        cmp_inc("dbias", g_db, c_db, i_db, C, 0, TOL32);
    real *h_dw = host(g_dw, C, 0);
    OK(ssm_cuda_upload(g_dw, i_dw, 4 * C));
    if (ln)
        OK(layernorm_backward_cuda(NULL, g_dw, NULL, gd, gxs, gw, gmean, grstd, N, C));
    else
        OK(rmsnorm_backward_cuda(NULL, g_dw, gd, gxs, gw, grstd, N, C));
    same_bits("dweight", g_dw, h_dw, C);
    void *ds[] = {gx, gr, gw, gb, gd, gdro, gout, gro, gmean, grstd, g_dx, g_dr, g_dw, g_db};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        ssm_cuda_free(ds[i]);
    real *hs[] = {x, r, w, b, dout, dro, xs, out, mean, rstd, i_dx, i_dr, i_dw, i_db,
                  c_dx, c_dr, c_dw, c_db, gsum, h_dw};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}
START_TEST(norm_rms) { norm_case(0, 0, 0, 37, 129, 401); }
END_TEST
START_TEST(norm_ln) { norm_case(1, 0, 1, 37, 129, 402); }
END_TEST
START_TEST(norm_ln_nobias_many_rows) { norm_case(1, 0, 0, 1031, 33, 403); }
END_TEST
START_TEST(norm_rms_residual) { norm_case(0, 1, 0, 45, 1537, 404); }
END_TEST
START_TEST(norm_ln_residual) { norm_case(1, 1, 1, 45, 77, 405); }
END_TEST
START_TEST(norm_rms_residual_null) { norm_case(0, 2, 0, 9, 31, 406); }
END_TEST

// --- losses -------------------------------------------------------------------------------------
static void ce_case(int64_t N, int64_t V, real smoothing, uint64_t seed) {
    uint64_t st = seed;
    real *logits = hfill(N * V, -8, 8, &st), *dloss = hfill(N, -1, 1, &st);
    int32_t *t = malloc(sizeof(int32_t) * N);
    for (int64_t i = 0; i < N; i++)
        t[i] = (int32_t)(tu_uniform(&st) * V) % (int32_t)V;
    t[N / 2] = -1; // an invalid label: NaN loss, row untouched in the backward
    fprintf(stderr, "cross-entropy N=%lld V=%lld smoothing=%g:\n", (long long)N, (long long)V,
            (double)smoothing);
    real *loss = malloc(sizeof(real) * N), *probs = malloc(sizeof(real) * N * V);
    cross_entropy_forward(loss, probs, logits, t, N, V, smoothing);
    int32_t *gt;
    OK(ssm_cuda_alloc((void **)&gt, sizeof(int32_t) * N, "test"));
    OK(ssm_cuda_upload(gt, t, sizeof(int32_t) * N));
    real *gl = dev(logits, N * V, 0), *gdl = dev(dloss, N, 0);
    real *gloss = poisoned(N, 0), *gprobs = poisoned(N * V, 0);
    OK(cross_entropy_forward_cuda(gloss, gprobs, gl, gt, N, V, smoothing));
    real *hl = host(gloss, N, 0);
    ck_assert_msg(isnan(hl[N / 2]), "invalid target must give a NaN loss");
    hl[N / 2] = loss[N / 2] = 0;
    double e = tu_rel_err(hl, loss, N);
    fprintf(stderr, "  %-28s rel err %.2g\n", "losses", e);
    ck_assert_msg(e < TOL32, "losses: rel err %g", e);
    cmp("probs", gprobs, probs, N * V, 0, TOL32);
    real *init = hfill(N * V, -1, 1, &st), *c_d = hcopy(init, N * V);
    cross_entropy_backward(c_d, dloss, probs, t, N, V, smoothing);
    real *g_d = dev(init, N * V, 0);
    OK(cross_entropy_backward_cuda(g_d, gdl, gprobs, gt, N, V, smoothing));
    cmp_inc("dlogits", g_d, c_d, init, N * V, 0, TOL32);
    ssm_cuda_free(gt), ssm_cuda_free(gl), ssm_cuda_free(gdl), ssm_cuda_free(gloss);
    ssm_cuda_free(gprobs), ssm_cuda_free(g_d);
    free(logits), free(dloss), free(t), free(loss), free(probs), free(hl), free(init), free(c_d);
}
START_TEST(ce_small) { ce_case(13, 37, (real)0.1, 501); }
END_TEST
START_TEST(ce_wide) { ce_case(7, 5003, (real)0.0, 502); }
END_TEST

START_TEST(mse_all) {
    uint64_t st = 503;
    const int64_t n = 1001;
    real *p = hfill(n, -2, 2, &st), *q = hfill(n, -2, 2, &st), *dl = hfill(n, -1, 1, &st);
    real *init = hfill(n, -1, 1, &st), *ref = malloc(sizeof(real) * n), *c_d = hcopy(init, n);
    fprintf(stderr, "mse n=%lld:\n", (long long)n);
    mse_forward(ref, p, q, n);
    mse_backward(c_d, dl, p, q, n);
    real *gp = dev(p, n, 0), *gq = dev(q, n, 0), *gdl = dev(dl, n, 0), *go = poisoned(n, 0);
    real *gd = dev(init, n, 0);
    OK(mse_forward_cuda(go, gp, gq, n));
    OK(mse_backward_cuda(gd, gdl, gp, gq, n));
    cmp("mse fwd", go, ref, n, 0, TOL32);
    cmp_inc("mse bwd", gd, c_d, init, n, 0, TOL32);
    ssm_cuda_free(gp), ssm_cuda_free(gq), ssm_cuda_free(gdl), ssm_cuda_free(go), ssm_cuda_free(gd);
    free(p), free(q), free(dl), free(init), free(ref), free(c_d);
}
END_TEST

// --- optimizer ------------------------------------------------------------------------------------
START_TEST(optim_all) {
    uint64_t st = 601;
    const int64_t n = 100003;
    real *p = hfill(n, -1, 1, &st), *g = hfill(n, -0.1, 0.1, &st), *m = hfill(n, -0.01, 0.01, &st);
    real *v = hfill(n, 0, 0.001, &st);
    real *gp = dev(p, n, 0), *gg = dev(g, n, 0), *gm = dev(m, n, 0), *gv = dev(v, n, 0);
    fprintf(stderr, "optim n=%lld:\n", (long long)n);
    adamw_update(p, g, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3);
    OK(adamw_update_cuda(gp, gg, gm, gv, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 3));
    cmp("adamw p", gp, p, n, 0, TOL32);
    cmp("adamw m", gm, m, n, 0, TOL32);
    cmp("adamw v", gv, v, n, 0, TOL32);
    double cn = grad_global_norm(g, n), gn = -1, gn2 = -2;
    OK(grad_global_norm_cuda(&gn, gg, n));
    OK(grad_global_norm_cuda(&gn2, gg, n));
    fprintf(stderr, "  grad norm cpu %.10g gpu %.10g\n", cn, gn);
    ck_assert_msg(fabs(gn - cn) / cn < 1e-12, "norm %g vs %g", gn, cn); // both sum in double
    ck_assert_msg(memcmp(&gn, &gn2, sizeof gn) == 0, "norm not bit-identical across runs");
    // clip above the norm: untouched; below: scaled
    double cl = 0;
    OK(grad_clip_cuda(&cl, gg, n, 2 * cn));
    cmp("clip (no-op)", gg, g, n, 0, TOL32);
    real *gc = hcopy(g, n);
    double cpu_cl = grad_clip(gc, n, cn / 3);
    OK(grad_clip_cuda(&cl, gg, n, cn / 3));
    ck_assert_msg(fabs(cl - cpu_cl) / cpu_cl < 1e-12, "clip returned %g vs %g", cl, cpu_cl);
    cmp("clip (scaled)", gg, gc, n, 0, TOL32);
    OK(grad_global_norm_cuda(&gn, gg, 0));
    ck_assert(gn == 0);
    ssm_cuda_free(gp), ssm_cuda_free(gg), ssm_cuda_free(gm), ssm_cuda_free(gv);
    free(p), free(g), free(m), free(v), free(gc);
}
END_TEST

// --- linear -------------------------------------------------------------------------------------
START_TEST(gemm_transposes) {
    uint64_t st = 701;
    const int64_t M = 37, N = 29, K = 53;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            real *A = hfill(M * K, -1, 1, &st), *B = hfill(K * N, -1, 1, &st);
            real *C0 = hfill(M * N, -1, 1, &st), *C = hcopy(C0, M * N);
            gemm(C, A, B, M, N, K, ta, tb, (real)0.7, (real)-0.4);
            real *gA = dev(A, M * K, 0), *gB = dev(B, K * N, 0), *gC = dev(C0, M * N, 0);
            OK(gemm_cuda(gC, gA, gB, M, N, K, ta, tb, (real)0.7, (real)-0.4));
            fprintf(stderr, "gemm M=%lld N=%lld K=%lld transA=%d transB=%d:\n", (long long)M,
                    (long long)N, (long long)K, ta, tb);
            cmp("C", gC, C, M * N, 0, TOL32);
            ssm_cuda_free(gA), ssm_cuda_free(gB), ssm_cuda_free(gC);
            free(A), free(B), free(C0), free(C);
        }
}
END_TEST

static void linear_case(int bf16, int with_bias, int64_t N, int64_t IC, int64_t OC,
                        uint64_t seed) {
    uint64_t st = seed;
    double tol = bf16 ? TOL16 : TOL32;
    real *x = hfill(N * IC, -1, 1, &st), *w = hfill(OC * IC, -0.5, 0.5, &st);
    real *b = with_bias ? hfill(OC, -1, 1, &st) : NULL, *dout = hfill(N * OC, -1, 1, &st);
    real *i_dx = hfill(N * IC, -1, 1, &st), *i_dw = hfill(OC * IC, -1, 1, &st);
    real *i_db = hfill(OC, -1, 1, &st);
    if (bf16)
        round_bf16(x, N * IC), round_bf16(w, OC * IC), round_bf16(dout, N * OC),
            round_bf16(i_dx, N * IC);
    fprintf(stderr, "linear %s N=%lld IC=%lld OC=%lld bias=%d:\n", bf16 ? "bf16" : "fp32",
            (long long)N, (long long)IC, (long long)OC, with_bias);
    real *out = malloc(sizeof(real) * N * OC);
    linear_forward(out, x, w, b, N, IC, OC);
    real *c_dx = hcopy(i_dx, N * IC), *c_dw = hcopy(i_dw, OC * IC), *c_db = hcopy(i_db, OC);
    linear_backward(c_dx, c_dw, c_db, dout, x, w, N, IC, OC);
    void *gx = dev(x, N * IC, bf16), *gw = dev(w, OC * IC, bf16), *gd = dev(dout, N * OC, bf16);
    real *gb = b ? dev(b, OC, 0) : NULL;
    void *gout = poisoned(N * OC, bf16), *g_dx = dev(i_dx, N * IC, bf16);
    real *g_dw = dev(i_dw, OC * IC, 0), *g_db = dev(i_db, OC, 0);
    if (bf16) {
        OK(linear_forward_bf16(gout, gx, gw, gb, N, IC, OC));
        OK(linear_backward_bf16(g_dx, g_dw, g_db, gd, gx, gw, N, IC, OC));
    } else {
        OK(linear_forward_cuda(gout, gx, gw, gb, N, IC, OC));
        OK(linear_backward_cuda(g_dx, g_dw, g_db, gd, gx, gw, N, IC, OC));
    }
    cmp("out", gout, out, N * OC, bf16, tol);
    cmp_inc("dinp", g_dx, c_dx, i_dx, N * IC, bf16, tol);
    cmp_inc("dweight", g_dw, c_dw, i_dw, OC * IC, 0, tol);
    cmp_inc("dbias", g_db, c_db, i_db, OC, 0, tol);
    void *ds[] = {gx, gw, gd, gb, gout, g_dx, g_dw, g_db};
    for (int i = 0; i < 8; i++)
        ssm_cuda_free(ds[i]);
    real *hs[] = {x, w, b, dout, i_dx, i_dw, i_db, out, c_dx, c_dw, c_db};
    for (int i = 0; i < 11; i++)
        free(hs[i]);
}
START_TEST(linear_fp32) { linear_case(0, 1, 67, 45, 33, 702); }
END_TEST
START_TEST(linear_fp32_nobias_tall) { linear_case(0, 0, 1029, 17, 65, 703); }
END_TEST
START_TEST(linear_bf16) { linear_case(1, 1, 129, 96, 80, 704); }
END_TEST
START_TEST(linear_bf16_odd) { linear_case(1, 1, 67, 45, 33, 705); }
END_TEST

START_TEST(refuses_bad_shapes) {
    ssm_cuda_take_error(NULL);
    void *p = (void *)16;
    ck_assert_int_eq(conv1d_causal_forward_cuda(p, p, p, NULL, 1, 1, 4, 0, 1), SSM_EINVAL);
    ssm_error e;
    ck_assert_int_eq(ssm_cuda_take_error(&e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "K"));
    ck_assert_int_eq(silu_forward_cuda(p, p, -1), SSM_EINVAL);
    ck_assert_int_eq(rmsnorm_forward_cuda(p, p, p, p, 3, 0, 1e-5f), SSM_EINVAL);
    ck_assert_int_eq(gemm_cuda(p, p, p, -1, 2, 2, 0, 0, 1, 0), SSM_EINVAL);
    ck_assert_int_eq(ssm_cuda_take_error(NULL), SSM_EINVAL);
    ck_assert_int_eq(silu_forward_cuda(p, p, 0), SSM_OK); // empty: nothing to do
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
#if !HAVE_CUDA
    printf("test_cuda_kernels: skipped (built without CUDA=1, or a sanitizer/double build, which "
           "links no CUDA code)\n");
    return 0;
#else
    if (ssm_cuda_device_count() == 0) {
        printf("test_cuda_kernels: skipped (no CUDA device: nvidia-smi shows none, or the driver "
               "is missing)\n");
        return 0;
    }
    Suite *su = suite_create("cuda_kernels");
    TCase *tc = tcase_create("twins");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, refuses_bad_shapes);
    tcase_add_test(tc, activation_all);
    tcase_add_test(tc, conv1d_mamba);
    tcase_add_test(tc, conv1d_wide_filter);
    tcase_add_test(tc, conv1d_long_silu_nobias);
    tcase_add_test(tc, permute_all);
    tcase_add_test(tc, norm_rms);
    tcase_add_test(tc, norm_ln);
    tcase_add_test(tc, norm_ln_nobias_many_rows);
    tcase_add_test(tc, norm_rms_residual);
    tcase_add_test(tc, norm_ln_residual);
    tcase_add_test(tc, norm_rms_residual_null);
    tcase_add_test(tc, ce_small);
    tcase_add_test(tc, ce_wide);
    tcase_add_test(tc, mse_all);
    tcase_add_test(tc, optim_all);
    tcase_add_test(tc, gemm_transposes);
    tcase_add_test(tc, linear_fp32);
    tcase_add_test(tc, linear_fp32_nobias_tall);
    tcase_add_test(tc, linear_bf16);
    tcase_add_test(tc, linear_bf16_odd);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK); // one CUDA context for the whole suite
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
#endif
}
