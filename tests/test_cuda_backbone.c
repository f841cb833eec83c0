// Check suite: the Mamba backbone on GPU (backbone/mamba_cuda.h) against the CPU stack.
// The same declared and initialised parameters run on both devices with the same random
// input, output gradient and per-sample random scan orders; forward and backward are compared
// by relative error ||gpu - cpu|| / ||cpu||: the output, din, and every parameter gradient
// tensor by name. The GPU output and the whole device arena are poisoned with NaN first (an
// element the GPU forgets to write, or scratch read before it is written, fails); din and the
// parameter gradients start from the same random values on both sides (they accumulate) and
// the increments are compared. Two GPU runs must give bit-identical results.
//
// Tolerances: 1e-5 for out and din. 5e-5 for the parameter gradients, because the CUDA scan
// computes exp(dt*A) with the multi-function unit's ex2.approx and softplus with __expf
// (kernels/cuda/scan_kernels.cuh): relative error ~2^-22 plus the fp32 rounding of an argument
// up to |dt*A| ~ 30, a few 1e-7 per factor, against ~6e-8 for the CPU's exp. The weight
// gradients sum B*L such terms of both signs (cancellation), through several layers: measured
// up to 1.03e-5 (A_log, K = 4 sum merge), while the CPU's own fp32 error against its double
// build is <= 6.2e-7 on these cases. 5e-5 keeps a 5x margin; a wrong index or a missed
// term gives errors of order 1.
//
// Built without CUDA=1, under the sanitizers, or where no GPU is present, the suite prints
// why it skips and passes.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "backbone/mamba_cuda.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/linear.h"
#include "kernels/linear.h"
#include "tests/cuda_backbone_fixture.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
static void sub(real *a, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        a[i] -= b[i];
}

// One GPU stack planned over the CPU net's parameters (same declaration: same indices);
// the stack's own host table g.decl receives downloads, dev mirrors the CPU net's values.
typedef struct {
    gstack g;
    ssm_params dev;
} gpu_net;

static void gpu_init(gpu_net *g, const net *n) {
    ssm_error e = {0};
    memset(g, 0, sizeof *g);
    gstack_init(&g->g, &n->cfg, n->B_max, n->L); // arena poisoned: scratch read early is NaN
    ck_assert(g->g.decl.total == n->p.total && g->g.decl.count == n->p.count);
    ck_assert_msg(ssm_params_cuda_mirror(&g->dev, &n->p, &e) == SSM_OK, "%s", e.msg);
}

static void gpu_free(gpu_net *g) {
    ssm_params_cuda_free(&g->dev);
    gstack_free(&g->g);
}

typedef struct {
    real *out, *din, *grad; // host copies: [B, L, D], [B, L, D], [total]
} gpu_result;

// Forward + backward on the GPU from grad = grad0 and din = din0; out poisoned first.
static gpu_result gpu_run(gpu_net *g, const net *n, const real *in_d, const real *dout_d,
                          const real *din0, const real *grad0, const mamba_orders *o_dev,
                          int64_t B) {
    ssm_error e = {0};
    const size_t nbld = (size_t)(B * n->L * n->cfg.d_model), tot = n->p.total;
    real *out_d = dev_poison(nbld * sizeof(real)), *din_d = dev_copy(din0, nbld * sizeof(real));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(g->dev.grad, grad0, tot * sizeof(real)));
    ck_assert_msg(mamba_stack_forward_cuda(g->g.s, &g->dev, out_d, in_d, o_dev, B, &e) == SSM_OK,
                  "forward: %s", e.msg);
    ck_assert_msg(mamba_stack_backward_cuda(g->g.s, &g->dev, din_d, dout_d, o_dev, B, &e) ==
                      SSM_OK,
                  "backward: %s", e.msg);
    gpu_result r = {host_of(out_d, nbld * sizeof(real)), host_of(din_d, nbld * sizeof(real)),
                    NULL};
    ck_assert_msg(ssm_params_cuda_download(&g->g.decl, &g->dev, 1, &e) == SSM_OK, "%s", e.msg);
    r.grad = malloc(sizeof(real) * tot);
    memcpy(r.grad, g->g.decl.grad, sizeof(real) * tot);
    ssm_cuda_free(out_d);
    ssm_cuda_free(din_d);
    return r;
}

static void result_free(gpu_result *r) {
    free(r->out);
    free(r->din);
    free(r->grad);
}

// Runs one configuration on both devices and compares. count orders of random per-sample
// permutations; schedule (host, [layers, K]) or NULL.
static void compare_case(mamba_config cfg, int64_t B_max, int64_t B, int64_t L, int64_t count,
                         const int32_t *schedule, uint64_t seed, int check_determinism) {
    net n;
    net_init(&n, cfg, B_max, L, seed);
    perturb(&n, seed + 1);
    uint64_t st = seed * 7919 + 3;
    const int64_t D = cfg.d_model;
    const size_t nbld = (size_t)(B * L * D), tot = n.p.total;

    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(count * B * L));
    for (int64_t r = 0; r < count * B; r++)
        random_perm(perm + r * L, L, &st);
    mamba_orders o = {.count = count, .perm = perm, .schedule = schedule};
    ssm_error e = {0};
    ck_assert_msg(mamba_orders_check(n.s, &o, B, &e) == SSM_OK, "%s", e.msg);
    real *in = tu_new_uniform(nbld, -1, 1, &st), *dout = tu_new_uniform(nbld, -1, 1, &st);
    real *din0 = tu_new_uniform(nbld, -1, 1, &st), *grad0 = tu_new_uniform(tot, -1, 1, &st);

    // GPU first (the CPU backward below overwrites n.p.grad)
    gpu_net g;
    gpu_init(&g, &n);
    int32_t *perm_d = dev_copy(perm, sizeof(int32_t) * (size_t)(count * B * L));
    mamba_orders od = {.count = count, .perm = perm_d, .schedule = schedule};
    real *in_d = dev_copy(in, nbld * sizeof(real)), *dout_d = dev_copy(dout, nbld * sizeof(real));
    gpu_result gr = gpu_run(&g, &n, in_d, dout_d, din0, grad0, &od, B);
    if (check_determinism) {
        gpu_result g2 = gpu_run(&g, &n, in_d, dout_d, din0, grad0, &od, B);
        ck_assert_msg(memcmp(gr.out, g2.out, nbld * sizeof(real)) == 0, "out differs between runs");
        ck_assert_msg(memcmp(gr.din, g2.din, nbld * sizeof(real)) == 0, "din differs between runs");
        for (size_t i = 0; i < n.p.count; i++) {
            const ssm_param_info *it = &n.p.items[i];
            ck_assert_msg(memcmp(gr.grad + it->offset, g2.grad + it->offset,
                                 it->numel * sizeof(real)) == 0,
                          "gradient of %s differs between two GPU runs", it->name);
        }
        result_free(&g2);
    }

    // CPU reference
    real *out = malloc(sizeof(real) * nbld), *din = malloc(sizeof(real) * nbld);
    memcpy(din, din0, sizeof(real) * nbld);
    memcpy(n.p.grad, grad0, sizeof(real) * tot);
    mamba_stack_forward(n.s, &n.p, out, in, &o, B);
    mamba_stack_backward(n.s, &n.p, din, dout, &o, B);

    const double err_out = tu_rel_err(gr.out, out, nbld);
    ck_assert_msg(err_out < TOL, "out: rel err %.3g", err_out);
    sub(gr.din, din0, nbld);
    sub(din, din0, nbld);
    const double err_din = tu_rel_err(gr.din, din, nbld);
    ck_assert_msg(err_din < TOL, "din: rel err %.3g", err_din);
    double err;
    sub(gr.grad, grad0, tot);
    sub(n.p.grad, grad0, tot);
    double worst = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < n.p.count; i++) {
        const ssm_param_info *it = &n.p.items[i];
        err = tu_rel_err(gr.grad + it->offset, n.p.grad + it->offset, it->numel);
        ck_assert_msg(err < TOL_GRAD, "gradient of %s: rel err %.3g", it->name, err);
        if (err > worst)
            worst = err, worst_name = it->name;
    }
    printf("  K=%d %s B=%lld/%lld L=%lld layers=%lld: rel err out %.2g, din %.2g, worst "
           "gradient %.2g (%s)\n",
           cfg.n_branches, cfg.norm == MAMBA_NORM_LAYER ? "LN" : "RMS", (long long)B,
           (long long)B_max, (long long)L, (long long)cfg.n_layers, err_out, err_din, worst,
           worst_name);

    result_free(&gr);
    free(out);
    free(din);
    free(perm);
    free(in);
    free(dout);
    free(din0);
    free(grad0);
    ssm_cuda_free(perm_d);
    ssm_cuda_free(in_d);
    ssm_cuda_free(dout_d);
    gpu_free(&g);
    net_free(&n);
}

START_TEST(bidirectional_rms_partial_batch) {
    mamba_config c = cfg_small(2, 2);
    compare_case(c, 5, 3, 13, 2, NULL, 101, 1);
}
END_TEST

START_TEST(causal_layernorm) {
    mamba_config c = cfg_small(1, 2);
    c.norm = MAMBA_NORM_LAYER;
    c.scan_chunk = 4;
    compare_case(c, 4, 4, 11, 1, NULL, 202, 0);
}
END_TEST

// K = 4 with a schedule over 3 orders (an order used twice in a layer, orders changing
// between layers), sum merge, no final norm.
START_TEST(cross_scan_schedule) {
    mamba_config c = cfg_small(4, 3);
    c.merge = MAMBA_MERGE_SUM;
    c.final_norm = 0;
    c.scan_chunk = 8;
    const int32_t sched[12] = {0, 1, 2, 0, 2, 2, 1, 0, 1, 0, 0, 2};
    compare_case(c, 3, 2, 16, 3, sched, 303, 1);
}
END_TEST

// A Vim-like block (N 16, chunk 16, dt_rank 2) with LayerNorm, bidirectional.
START_TEST(vim_like_layernorm) {
    mamba_config c = cfg_small(2, 2);
    c.d_model = 32;
    c.d_state = 16;
    c.scan_chunk = 16;
    c.norm = MAMBA_NORM_LAYER;
    compare_case(c, 6, 5, 40, 2, NULL, 404, 0);
}
END_TEST

// A batch large enough for the scan's state-split kernels (B*E*4 lanes >= 256 per SM).
START_TEST(wide_batch_split_scan) {
    mamba_config c = cfg_small(2, 1);
    c.d_model = 32;
    c.d_state = 16;
    c.scan_chunk = 16;
    compare_case(c, 160, 150, 20, 2, NULL, 505, 0);
}
END_TEST

START_TEST(plan_refuses_long_chunk) {
    mamba_config c = cfg_small(1, 1);
    c.scan_chunk = 65;
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s;
    ssm_error e = {0};
    ck_assert(mamba_stack_declare(&s, &c, &p, "", &e) == SSM_OK);
    ssm_arena a;
    ssm_arena_init(&a);
    ck_assert_int_eq(mamba_stack_plan_cuda(s, &a, 2, 10, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "scan_chunk 65"));
    // and a call without a plan is refused, not run
    mamba_orders o = {.count = 1, .perm = (const int32_t *)16, .schedule = NULL};
    ck_assert_int_eq(mamba_stack_forward_cuda(s, &p, (real *)16, (real *)16, &o, 1, &e),
                     SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "no CUDA plan"));
    mamba_stack_free(s);
    ssm_params_free(&p);
}
END_TEST

// gemm_strided_batched_cuda against its CPU twin: shared A (stride 0), both transposes,
// beta = 1 onto random C, and a C made of row blocks of a wider matrix.
START_TEST(gemm_strided_batched_twin) {
    uint64_t st = 77;
    const int64_t M = 7, N = 13, K = 9, batch = 5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            const int64_t sA = ta ? 0 : M * K, sB = N * K, sC = 2 * M * N; // C: every other block
            real *A = tu_new_uniform((size_t)(M * K * batch), -1, 1, &st);
            real *Bm = tu_new_uniform((size_t)(N * K * batch), -1, 1, &st);
            real *C = tu_new_uniform((size_t)(sC * batch), -1, 1, &st);
            real *Ad = dev_copy(A, sizeof(real) * M * K * batch);
            real *Bd = dev_copy(Bm, sizeof(real) * N * K * batch);
            real *Cd = dev_copy(C, sizeof(real) * sC * batch);
            SSM_CUDA_ABORT_ON_ERROR(gemm_strided_batched_cuda(Cd + M * N, Ad, Bd, M, N, K, ta, tb,
                                                              0.5f, 1.f, batch, sA, sB, sC));
            gemm_strided_batched(C + M * N, A, Bm, M, N, K, ta, tb, 0.5f, 1.f, batch, sA, sB, sC);
            real *Cg = host_of(Cd, sizeof(real) * (size_t)(sC * batch));
            double err = tu_rel_err(Cg, C, (size_t)(sC * batch));
            ck_assert_msg(err < TOL, "transA %d transB %d: rel err %.3g", ta, tb, err);
            free(A), free(Bm), free(C), free(Cg);
            ssm_cuda_free(Ad), ssm_cuda_free(Bd), ssm_cuda_free(Cd);
        }
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_backbone:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_backbone");
    TCase *tc = tcase_create("stack");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gemm_strided_batched_twin);
    tcase_add_test(tc, plan_refuses_long_chunk);
    tcase_add_test(tc, bidirectional_rms_partial_batch);
    tcase_add_test(tc, causal_layernorm);
    tcase_add_test(tc, cross_scan_schedule);
    tcase_add_test(tc, vim_like_layernorm);
    tcase_add_test(tc, wide_batch_split_scan);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
