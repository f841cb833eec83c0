// Check suite: the CUDA twins of the reduction and GEMM kernels (loss, optim, gemm, linear)
// against the CPU kernels, on fresh random inputs, forward and backward; bad shapes refused.
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


// --- losses -------------------------------------------------------------------------------------
static void ce_case(int64_t N, int64_t V, real smoothing, uint64_t seed) {
    uint64_t st = seed;
    real *logits = tu_new_uniform(N * V, -8, 8, &st), *dloss = tu_new_uniform(N, -1, 1, &st);
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
    real *init = tu_new_uniform(N * V, -1, 1, &st), *c_d = hcopy(init, N * V);
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

// Soft labels (mixup): rows of the target are distributions; the CE twins' soft variants.
static void soft_ce_case(int64_t N, int64_t V, real smoothing, uint64_t seed) {
    uint64_t st = seed;
    real *logits = tu_new_uniform(N * V, -8, 8, &st), *dloss = tu_new_uniform(N, -1, 1, &st);
    real *q = tu_new_uniform(N * V, 0, 1, &st);
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t j = 0; j < V; j++)
            s += q[n * V + j];
        for (int64_t j = 0; j < V; j++)
            q[n * V + j] = (real)(q[n * V + j] / s);
    }
    fprintf(stderr, "soft cross-entropy N=%lld V=%lld smoothing=%g:\n", (long long)N,
            (long long)V, (double)smoothing);
    real *loss = malloc(sizeof(real) * N), *probs = malloc(sizeof(real) * N * V);
    soft_cross_entropy_forward(loss, probs, logits, q, N, V, smoothing);
    real *gl = dev(logits, N * V, 0), *gq = dev(q, N * V, 0), *gdl = dev(dloss, N, 0);
    real *gloss = poisoned(N, 0), *gprobs = poisoned(N * V, 0);
    OK(soft_cross_entropy_forward_cuda(gloss, gprobs, gl, gq, N, V, smoothing));
    cmp("soft losses", gloss, loss, N, 0, TOL32);
    cmp("soft probs", gprobs, probs, N * V, 0, TOL32);
    real *init = tu_new_uniform(N * V, -1, 1, &st), *c_d = hcopy(init, N * V);
    soft_cross_entropy_backward(c_d, dloss, probs, q, N, V, smoothing);
    real *g_d = dev(init, N * V, 0);
    OK(soft_cross_entropy_backward_cuda(g_d, gdl, gprobs, gq, N, V, smoothing));
    cmp_inc("soft dlogits", g_d, c_d, init, N * V, 0, TOL32);
    ssm_cuda_free(gl), ssm_cuda_free(gq), ssm_cuda_free(gdl), ssm_cuda_free(gloss);
    ssm_cuda_free(gprobs), ssm_cuda_free(g_d);
    free(logits), free(dloss), free(q), free(loss), free(probs), free(init), free(c_d);
}
START_TEST(soft_ce_small) { soft_ce_case(13, 37, (real)0.1, 511); }
END_TEST
START_TEST(soft_ce_wide) { soft_ce_case(5, 3001, (real)0.0, 512); }
END_TEST

// Binary cross-entropy on logits (multilabel): logits far into both tails, 0/1 and mixed
// targets.
START_TEST(bce_all) {
    uint64_t st = 513;
    const int64_t n = 1003;
    real *l = tu_new_uniform(n, -30, 30, &st), *y = tu_new_uniform(n, 0, 1, &st),
         *dl = tu_new_uniform(n, -1, 1, &st);
    for (int64_t i = 0; i < n; i += 3)
        y[i] = (real)(i % 2); // multi-hot entries
    real *init = tu_new_uniform(n, -1, 1, &st), *ref = malloc(sizeof(real) * n),
         *c_d = hcopy(init, n);
    fprintf(stderr, "bce n=%lld:\n", (long long)n);
    bce_logits_forward(ref, l, y, n);
    bce_logits_backward(c_d, dl, l, y, n);
    real *gl = dev(l, n, 0), *gy = dev(y, n, 0), *gdl = dev(dl, n, 0), *go = poisoned(n, 0);
    real *gd = dev(init, n, 0);
    OK(bce_logits_forward_cuda(go, gl, gy, n));
    OK(bce_logits_backward_cuda(gd, gdl, gl, gy, n));
    cmp("bce fwd", go, ref, n, 0, TOL32);
    cmp_inc("bce bwd", gd, c_d, init, n, 0, TOL32);
    ssm_cuda_free(gl), ssm_cuda_free(gy), ssm_cuda_free(gdl), ssm_cuda_free(go), ssm_cuda_free(gd);
    free(l), free(y), free(dl), free(init), free(ref), free(c_d);
}
END_TEST

START_TEST(mse_all) {
    uint64_t st = 503;
    const int64_t n = 1001;
    real *p = tu_new_uniform(n, -2, 2, &st), *q = tu_new_uniform(n, -2, 2, &st),
         *dl = tu_new_uniform(n, -1, 1, &st);
    real *init = tu_new_uniform(n, -1, 1, &st), *ref = malloc(sizeof(real) * n),
         *c_d = hcopy(init, n);
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
    real *p = tu_new_uniform(n, -1, 1, &st), *g = tu_new_uniform(n, -0.1, 0.1, &st),
         *m = tu_new_uniform(n, -0.01, 0.01, &st);
    real *v = tu_new_uniform(n, 0, 0.001, &st);
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
            real *A = tu_new_uniform(M * K, -1, 1, &st), *B = tu_new_uniform(K * N, -1, 1, &st);
            real *C0 = tu_new_uniform(M * N, -1, 1, &st), *C = hcopy(C0, M * N);
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
    real *x = tu_new_uniform(N * IC, -1, 1, &st), *w = tu_new_uniform(OC * IC, -0.5, 0.5, &st);
    real *b = with_bias ? tu_new_uniform(OC, -1, 1, &st) : NULL,
         *dout = tu_new_uniform(N * OC, -1, 1, &st);
    real *i_dx = tu_new_uniform(N * IC, -1, 1, &st), *i_dw = tu_new_uniform(OC * IC, -1, 1, &st);
    real *i_db = tu_new_uniform(OC, -1, 1, &st);
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
    ck_assert_int_eq(conv1d_causal_forward_cuda(p, p, p, NULL, 1, 1, 4, 0, 1, NULL, 0), SSM_EINVAL);
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
    if (!tu_cuda_ready("test_cuda_math:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_math");
    TCase *tc = tcase_create("twins");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, refuses_bad_shapes);
    tcase_add_test(tc, ce_small);
    tcase_add_test(tc, ce_wide);
    tcase_add_test(tc, soft_ce_small);
    tcase_add_test(tc, soft_ce_wide);
    tcase_add_test(tc, bce_all);
    tcase_add_test(tc, mse_all);
    tcase_add_test(tc, optim_all);
    tcase_add_test(tc, gemm_transposes);
    tcase_add_test(tc, linear_fp32);
    tcase_add_test(tc, linear_fp32_nobias_tall);
    tcase_add_test(tc, linear_bf16);
    tcase_add_test(tc, linear_bf16_odd);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
