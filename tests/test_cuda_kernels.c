// Check suite: the CUDA twins of the elementwise and layout kernels (activation, conv1d,
// permute, norm) against the CPU kernels, on fresh random inputs, forward and backward.
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

#include "tests/util/suite.h"
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
#include "tests/util/cuda_compare.h"

START_TEST(activation_all) {
    uint64_t st = 101;
    const int64_t n = 10007;
    real *x = tu_new_uniform(n, -25, 25, &st), *y = tu_new_uniform(n, -3, 3, &st),
         *g = tu_new_uniform(n, -1, 1, &st);
    real *init = tu_new_uniform(n, -1, 1, &st), *init2 = tu_new_uniform(n, -1, 1, &st);
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
    real *x = tu_new_uniform(n, -2, 2, &st), *w = tu_new_uniform(C * K, -1, 1, &st),
         *dout = tu_new_uniform(n, -1, 1, &st);
    real *bias = with_bias ? tu_new_uniform(C, -0.5, 0.5, &st) : NULL;
    real *ref = malloc(sizeof(real) * n);
    fprintf(stderr, "conv1d B=%lld C=%lld L=%lld K=%lld silu=%d bias=%d:\n", (long long)B,
            (long long)C, (long long)L, (long long)K, silu, with_bias);
    conv1d_causal_forward(ref, x, w, bias, B, C, L, K, silu, NULL, 0);
    real *gx = dev(x, n, 0), *gw = dev(w, C * K, 0), *gd = dev(dout, n, 0);
    real *gb = bias ? dev(bias, C, 0) : NULL, *gout = poisoned(n, 0);
    OK(conv1d_causal_forward_cuda(gout, gx, gw, gb, B, C, L, K, silu, NULL, 0));
    cmp("conv fwd", gout, ref, n, 0, TOL32);
    real *i_dx = tu_new_uniform(n, -1, 1, &st), *i_dw = tu_new_uniform(C * K, -1, 1, &st),
         *i_db = tu_new_uniform(C, -1, 1, &st);
    real *c_dx = hcopy(i_dx, n), *c_dw = hcopy(i_dw, C * K), *c_db = hcopy(i_db, C);
    conv1d_causal_backward(c_dx, c_dw, c_db, dout, x, w, bias, B, C, L, K, silu, NULL, 0);
    real *g_dx = dev(i_dx, n, 0), *g_dw = dev(i_dw, C * K, 0), *g_db = dev(i_db, C, 0);
    OK(conv1d_causal_backward_cuda(g_dx, g_dw, g_db, gd, gx, gw, gb, B, C, L, K, silu, NULL, 0));
    cmp_inc("conv bwd dx", g_dx, c_dx, i_dx, n, 0, TOL32);
    cmp_inc("conv bwd dw", g_dw, c_dw, i_dw, C * K, 0, TOL32);
    cmp_inc("conv bwd dbias", g_db, c_db, i_db, C, 0, TOL32);
    // deterministic: the same increment again from the same start gives the same bits
    real *h_dw = host(g_dw, C * K, 0), *h_db = host(g_db, C, 0);
    OK(ssm_cuda_upload(g_dw, i_dw, 4 * C * K));
    OK(conv1d_causal_backward_cuda(NULL, g_dw, NULL, gd, gx, gw, gb, B, C, L, K, silu, NULL, 0));
    same_bits("conv dw", g_dw, h_dw, C * K);
    OK(ssm_cuda_upload(g_db, i_db, 4 * C));
    OK(conv1d_causal_backward_cuda(NULL, NULL, g_db, gd, gx, gw, gb, B, C, L, K, silu, NULL, 0));
    same_bits("conv dbias", g_db, h_db, C);
    // dx alone (no reduction launched) gives the same increment
    OK(ssm_cuda_upload(g_dx, i_dx, 4 * n));
    OK(conv1d_causal_backward_cuda(g_dx, NULL, NULL, gd, gx, gw, gb, B, C, L, K, silu, NULL, 0));
    cmp_inc("conv bwd dx (alone)", g_dx, c_dx, i_dx, n, 0, TOL32);
    void *ds[] = {gx, gw, gd, gb, gout, g_dx, g_dw, g_db};
    for (int i = 0; i < 8; i++)
        ssm_cuda_free(ds[i]);
    real *hs[] = {x, w, dout, bias, ref, i_dx, i_dw, i_db, c_dx, c_dw, c_db, h_dw, h_db};
    for (int i = 0; i < 13; i++)
        free(hs[i]);
}
START_TEST(conv1d_mamba) { conv_case(2, 37, 601, 4, 1, 1, 201); }
END_TEST
START_TEST(conv1d_wide_filter) { conv_case(3, 5, 9, 11, 0, 0, 202); } // K > L, K > 8 taps
END_TEST
START_TEST(conv1d_long_silu_nobias) { conv_case(1, 3, 1000, 3, 1, 0, 203); }
END_TEST
// The kernels cut each channel's flattened B x L steps into chunks of 1024 (at most 256 blocks
// a channel, each looping over its chunks): chunk edges inside rows, rows shorter and longer
// than a chunk, B*L an exact multiple of a chunk, one-step rows, and more chunks than blocks.
START_TEST(conv1d_vim_tiny) { conv_case(128, 384, 197, 4, 1, 1, 204); }
END_TEST
START_TEST(conv1d_chunk_edges) {
    conv_case(7, 3, 197, 4, 1, 1, 205);  // rows straddle chunk edges
    conv_case(4, 2, 256, 4, 1, 1, 206);  // B*L = 1024: one full chunk
    conv_case(5, 2, 2049, 4, 0, 1, 207); // rows longer than two chunks
    conv_case(33, 3, 1, 4, 1, 1, 208);   // L = 1: every tap but the last reaches before t = 0
    conv_case(9, 4, 3, 5, 1, 0, 209);    // K > L, generic K
    conv_case(6, 3, 700, 11, 1, 1, 210); // generic K in two tap passes, chunks inside rows
}
END_TEST
START_TEST(conv1d_more_chunks_than_blocks) { conv_case(3, 2, 100003, 4, 1, 1, 211); }
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
    real *x = tu_new_uniform(n, -1, 1, &st), *init = tu_new_uniform(n, -1, 1, &st),
         *ref = malloc(sizeof(real) * n);
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
        real *t = tu_new_uniform(TB * R * S, -1, 1, &st), *tr = malloc(sizeof(real) * TB * R * S);
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
    real *x = tu_new_uniform(n, -2, 3, &st), *r = tu_new_uniform(n, -1, 1, &st),
         *w = tu_new_uniform(C, 0.5, 1.5, &st);
    real *b = with_bias ? tu_new_uniform(C, -0.5, 0.5, &st) : NULL,
         *dout = tu_new_uniform(n, -1, 1, &st);
    real *dro = tu_new_uniform(n, -1, 1, &st);
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
    real *i_dx = tu_new_uniform(n, -1, 1, &st), *i_dr = tu_new_uniform(n, -1, 1, &st);
    real *i_dw = tu_new_uniform(C, -1, 1, &st), *i_db = tu_new_uniform(C, -1, 1, &st);
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
// The weight-gradient column sum: one pass up to 256 rows, else row tiles of about 64 rows
// (at most 1024 tiles, fewer for wide rows) and a second pass over the tiles.
START_TEST(norm_vim_tiny) {
    norm_case(0, 1, 0, 25216, 192, 407); // RMSNorm + residual, B*L x d_model of Vim-Tiny
    norm_case(1, 0, 1, 25216, 192, 408);
}
END_TEST
START_TEST(norm_row_tiles) {
    norm_case(0, 0, 0, 256, 40, 409);   // the last one-pass size
    norm_case(1, 0, 1, 257, 40, 410);   // the first two-pass size
    norm_case(1, 0, 1, 70001, 5, 411);  // tile count capped at 1024, a short last tile
    norm_case(0, 0, 0, 6001, 3001, 412); // wide rows: tile count capped lower (87)
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_kernels:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_kernels");
    TCase *tc = tcase_create("twins");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, activation_all);
    tcase_add_test(tc, conv1d_mamba);
    tcase_add_test(tc, conv1d_wide_filter);
    tcase_add_test(tc, conv1d_long_silu_nobias);
    tcase_add_test(tc, conv1d_vim_tiny);
    tcase_add_test(tc, conv1d_chunk_edges);
    tcase_add_test(tc, conv1d_more_chunks_than_blocks);
    tcase_add_test(tc, permute_all);
    tcase_add_test(tc, norm_rms);
    tcase_add_test(tc, norm_ln);
    tcase_add_test(tc, norm_ln_nobias_many_rows);
    tcase_add_test(tc, norm_rms_residual);
    tcase_add_test(tc, norm_ln_residual);
    tcase_add_test(tc, norm_rms_residual_null);
    tcase_add_test(tc, norm_vim_tiny);
    tcase_add_test(tc, norm_row_tiles);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
