// Check suite: the bf16 causal conv1d on the GPU (kernels/cuda/conv1d.h, conv1d_causal_*_bf16:
// x, out, dx in bf16, w, bias, dw, dbias in fp32, fp32 sums) against the CPU conv
// (kernels/conv1d.h) run on the bf16-rounded inputs, and against the fp32 CUDA conv on the
// same rounded inputs. Forward, and backward with dout in fp32 (what the bf16 mixer passes)
// and in bf16; K = 4 (the compiled-width kernels), 3 and 11 (generic, two tap passes);
// SiLU and bias on and off; rows shorter than a block chunk (Vim's L = 197), rows across
// chunks, L = 1; packed rows (device offsets). Bars, norm-wise relative error: out and the
// dx increment 1e-2 against the CPU (one bf16 rounding of the result); dw and dbias 1e-4
// against the CPU (fp32 sums of the same products in another order) and 1e-6 against the
// fp32 CUDA conv (the same sums in the same order: bit-identical expected, said on stderr);
// out against the fp32 CUDA conv rounded to bf16: 2e-3. dw, dbias twice from the same start:
// the same bits (no atomics). Outputs are NaN-poisoned before each GPU call.
// Built without CUDA=1, sanitized or double, or run without a GPU: skips.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "kernels/conv1d.h"
#include "kernels/cuda/conv1d.h"
#include "tests/util/cuda_compare.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#define TOL_SUM 1e-4
#define TOL_SAME 1e-6

static void report_same(const char *what, const real *a, const real *b, size_t n) {
    fprintf(stderr, "  %-28s %s the fp32 CUDA conv's\n", what,
            memcmp(a, b, sizeof(real) * n) ? "differs in some bits from" : "bit-identical to");
}

// seg: host offsets [n_segs + 1] or NULL
static void conv_bf16_case(int64_t B, int64_t C, int64_t L, int64_t K, int silu, int with_bias,
                           const int64_t *seg, int64_t n_segs, uint64_t seed) {
    uint64_t st = seed;
    const size_t n = (size_t)(B * C * L), CK = (size_t)(C * K);
    real *x = tu_new_uniform(n, -2, 2, &st), *w = tu_new_uniform(CK, -1, 1, &st);
    real *dout = tu_new_uniform(n, -1, 1, &st);
    real *bias = with_bias ? tu_new_uniform((size_t)C, -0.5, 0.5, &st) : NULL;
    real *i_dx = tu_new_uniform(n, -0.5, 0.5, &st), *i_dw = tu_new_uniform(CK, -1, 1, &st);
    real *i_db = tu_new_uniform((size_t)C, -1, 1, &st);
    round_bf16(x, n), round_bf16(i_dx, n); // what the GPU reads
    real *dout16 = hcopy(dout, n);
    round_bf16(dout16, n);
    fprintf(stderr, "conv1d bf16 B=%lld C=%lld L=%lld K=%lld silu=%d bias=%d segs=%lld:\n",
            (long long)B, (long long)C, (long long)L, (long long)K, silu, with_bias,
            (long long)(seg ? n_segs : 1));
    int64_t *seg_d = NULL;
    if (seg) {
        OK(ssm_cuda_alloc((void **)&seg_d, sizeof(int64_t) * (size_t)(n_segs + 1), "test"));
        OK(ssm_cuda_upload(seg_d, seg, sizeof(int64_t) * (size_t)(n_segs + 1)));
    }
    const int64_t ns = seg ? n_segs : 0;
    // forward: CPU, bf16 GPU, fp32 GPU on the same rounded x
    real *ref = malloc(sizeof(real) * n);
    conv1d_causal_forward(ref, x, w, bias, B, C, L, K, silu, seg, ns);
    void *gx = dev(x, n, 1), *gx32 = dev(x, n, 0), *gd16 = dev(dout16, n, 1);
    real *gw = dev(w, CK, 0), *gb = dev(bias, (size_t)C, 0), *gd = dev(dout, n, 0);
    real *gd32r = dev(dout16, n, 0);
    void *gout = poisoned(n, 1);
    real *gout32 = poisoned(n, 0);
    OK(conv1d_causal_forward_bf16(gout, gx, gw, gb, B, C, L, K, silu, seg_d, ns));
    OK(conv1d_causal_forward_cuda(gout32, gx32, gw, gb, B, C, L, K, silu, seg_d, ns));
    cmp("fwd out vs CPU", gout, ref, n, 1, TOL16);
    real *o32 = host(gout32, n, 0);
    round_bf16(o32, n);
    cmp("fwd out vs fp32 CUDA (rounded)", gout, o32, n, 1, 2e-3);
    // backward, dout in fp32 then in bf16
    for (int d32 = 1; d32 >= 0; d32--) {
        const real *dsrc = d32 ? dout : dout16;
        real *c_dx = hcopy(i_dx, n), *c_dw = hcopy(i_dw, CK), *c_db = hcopy(i_db, (size_t)C);
        conv1d_causal_backward(c_dx, c_dw, c_db, dsrc, x, w, bias, B, C, L, K, silu, seg, ns);
        void *g_dx = dev(i_dx, n, 1);
        real *g_dw = dev(i_dw, CK, 0), *g_db = dev(i_db, (size_t)C, 0);
        OK(conv1d_causal_backward_bf16(g_dx, g_dw, g_db, d32 ? (const void *)gd : gd16, d32, gx,
                                       gw, gb, B, C, L, K, silu, seg_d, ns));
        fprintf(stderr, "  backward, dout %s:\n", d32 ? "fp32" : "bf16");
        cmp_inc("bwd dx", g_dx, c_dx, i_dx, n, 1, TOL16);
        cmp_inc("bwd dw", g_dw, c_dw, i_dw, CK, 0, TOL_SUM);
        cmp_inc("bwd dbias", g_db, c_db, i_db, (size_t)C, 0, TOL_SUM);
        // the fp32 CUDA conv on the same values: the same sums in the same order
        real *f_dw = dev(i_dw, CK, 0), *f_db = dev(i_db, (size_t)C, 0);
        OK(conv1d_causal_backward_cuda(NULL, f_dw, f_db, d32 ? gd : gd32r, gx32, gw, gb, B, C, L,
                                       K, silu, seg_d, ns));
        real *h_dw = host(g_dw, CK, 0), *h_db = host(g_db, (size_t)C, 0);
        real *h_fdw = host(f_dw, CK, 0), *h_fdb = host(f_db, (size_t)C, 0);
        const double e_dw = tu_rel_err(h_dw, h_fdw, CK), e_db = tu_rel_err(h_db, h_fdb, (size_t)C);
        report_same("dw", h_dw, h_fdw, CK);
        report_same("dbias", h_db, h_fdb, (size_t)C);
        ck_assert_msg(e_dw < TOL_SAME && e_db < TOL_SAME,
                      "dw / dbias against the fp32 CUDA conv: rel err %g / %g", e_dw, e_db);
        // deterministic: dw, dbias again from the same start, without dx
        OK(ssm_cuda_upload(g_dw, i_dw, sizeof(real) * CK));
        OK(ssm_cuda_upload(g_db, i_db, sizeof(real) * (size_t)C));
        OK(conv1d_causal_backward_bf16(NULL, g_dw, g_db, d32 ? (const void *)gd : gd16, d32, gx,
                                       gw, gb, B, C, L, K, silu, seg_d, ns));
        same_bits("bwd dw (again)", g_dw, h_dw, CK);
        same_bits("bwd dbias (again)", g_db, h_db, (size_t)C);
        void *ds[] = {g_dx, g_dw, g_db, f_dw, f_db};
        for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
            ssm_cuda_free(ds[i]);
        real *hs[] = {c_dx, c_dw, c_db, h_dw, h_db, h_fdw, h_fdb};
        for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
            free(hs[i]);
    }
    void *ds[] = {seg_d, gx, gx32, gd16, gw, gb, gd, gd32r, gout, gout32};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        if (ds[i])
            ssm_cuda_free(ds[i]);
    real *hs[] = {x, w, dout, bias, i_dx, i_dw, i_db, dout16, ref, o32};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}

// Mamba's K = 4 with SiLU and bias: a Vim-Tiny-like row (L = 197, shorter than a block's
// 1024-step chunk), rows across chunks, L = 1
START_TEST(conv_bf16_k4) {
    conv_bf16_case(16, 96, 197, 4, 1, 1, NULL, 0, 301);
    conv_bf16_case(3, 5, 2049, 4, 1, 1, NULL, 0, 302);
    conv_bf16_case(33, 3, 1, 4, 1, 1, NULL, 0, 303);
}
END_TEST
// generic K (3; 11 > the 8 taps of one pass), no SiLU, no bias
START_TEST(conv_bf16_generic_k) {
    conv_bf16_case(2, 7, 601, 3, 0, 0, NULL, 0, 304);
    conv_bf16_case(6, 3, 700, 11, 1, 0, NULL, 0, 305);
    conv_bf16_case(3, 5, 9, 11, 0, 1, NULL, 0, 306); // K > L
}
END_TEST
// packed rows: sequences of 1, 2, 700 steps and one across the block chunks
START_TEST(conv_bf16_packed) {
    static const int64_t off[] = {0, 1, 3, 703, 2203, 2205};
    conv_bf16_case(2, 5, 2205, 4, 1, 1, off, 5, 307);
    conv_bf16_case(1, 3, 2205, 6, 0, 1, off, 5, 308);
}
END_TEST
// many chunks a channel (more than the backward's 256 parts)
START_TEST(conv_bf16_long) { conv_bf16_case(3, 2, 100003, 4, 1, 1, NULL, 0, 309); }
END_TEST

// bad shapes give a clear error, as the fp32 entries do
START_TEST(conv_bf16_refuses) {
    ssm_bf16 *p = (ssm_bf16 *)16;
    real *f = (real *)16;
    ck_assert_int_eq(conv1d_causal_forward_bf16(p, p, f, NULL, 1, 2, 8, 0, 1, NULL, 0),
                     SSM_EINVAL);
    ssm_error e = {0};
    ssm_cuda_take_error(&e);
    ck_assert_msg(strstr(e.msg, "conv1d_causal_forward_bf16") != NULL, "message: %s", e.msg);
    ck_assert_int_eq(conv1d_causal_backward_bf16(p, f, f, f, 1, p, f, NULL, 1, 2, 8, 4, 1,
                                                 (const int64_t *)16, 0),
                     SSM_EINVAL);
    ssm_cuda_take_error(&e);
    ck_assert_msg(strstr(e.msg, "conv1d_causal_backward_bf16") != NULL, "message: %s", e.msg);
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_conv_bf16:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_conv_bf16");
    TCase *tc = tcase_create("conv_bf16");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, conv_bf16_refuses);
    tcase_add_test(tc, conv_bf16_k4);
    tcase_add_test(tc, conv_bf16_generic_k);
    tcase_add_test(tc, conv_bf16_packed);
    tcase_add_test(tc, conv_bf16_long);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#else
    return 0;
#endif
}
