// Check suite: PCM's order prompts in the backbone on GPU (backbone/cuda/stack_cuda.c,
// backbone/cuda/prompt_kernels.cu) against the CPU stack (backbone/prompts.c, itself checked
// by finite differences in tests/grad_order_prompts.c and by hand in
// tests/test_order_prompts.c). The same parameters, random input, output gradient and
// per-sample random orders under a per-layer schedule run on both devices; compared by
// relative error: the output, din, and every parameter gradient by name, order_prompt.weight
// included. The GPU arena and output are poisoned with NaN first (a slot or token row the
// GPU forgets to write shows), din and the gradients start from the same random values on
// both sides (they accumulate) and the increments are compared. Cases: one branch over a
// schedule where an order comes back (its prompt gradient sums two layers), two branches
// with LayerNorm and no final norm, the extended blocks (FFN, post-norm), a partial batch
// (B < B_max: the extended orders are laid out for the call's B), and bf16. Two GPU runs
// give the same bits (the prompt gradient sums its sequences in a fixed order). A packed
// call and more orders than prompt sets are refused by name.
//
// Bars: as tests/test_cuda_backbone.c (fp32: 1e-5 out and din, 5e-5 per gradient tensor)
// and tests/test_cuda_bf16.c (bf16: 1e-2, 3e-2), from tests/cuda_backbone_fixture.h.
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
#include "tests/cuda_backbone_fixture.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
static void sub(real *a, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        a[i] -= b[i];
}

typedef struct {
    real *out, *din, *grad; // host: [B, L, D], [B, L, D], [total] (from grad0 / din0)
} run_result;

static void result_free(run_result *r) {
    free(r->out);
    free(r->din);
    free(r->grad);
}

// One forward + backward on the GPU stack g with the device table dev.
static run_result gpu_run(gstack *g, ssm_params *dev, const real *in_d, const real *dout_d,
                          const real *din0, const real *grad0, const mamba_orders *od, int64_t B,
                          size_t nbld) {
    ssm_error e = {0};
    const size_t tot = dev->total;
    real *out_d = dev_poison(nbld * sizeof(real)), *din_d = dev_copy(din0, nbld * sizeof(real));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(dev->grad, grad0, tot * sizeof(real)));
    ck_assert_msg(mamba_stack_forward_cuda(g->s, dev, out_d, in_d, od, B, &e) == SSM_OK,
                  "forward: %s", e.msg);
    ck_assert_msg(mamba_stack_backward_cuda(g->s, dev, din_d, dout_d, od, B, &e) == SSM_OK,
                  "backward: %s", e.msg);
    run_result r = {host_of(out_d, nbld * sizeof(real)), host_of(din_d, nbld * sizeof(real)),
                    malloc(tot * sizeof(real))};
    ck_assert_msg(ssm_params_cuda_download(&g->decl, dev, 1, &e) == SSM_OK, "%s", e.msg);
    memcpy(r.grad, g->decl.grad, tot * sizeof(real));
    ssm_cuda_free(out_d);
    ssm_cuda_free(din_d);
    return r;
}

// cfg with prompts; count orders of random per-sample permutations, schedule [layers, K].
static void compare_case(mamba_config cfg, int64_t B_max, int64_t B, int64_t L, int64_t count,
                         const int32_t *schedule, uint64_t seed, const char *label) {
    const int bf = cfg.precision == MAMBA_BF16;
    mamba_config ccpu = cfg;
    ccpu.precision = MAMBA_FP32;
    net n;
    net_init(&n, ccpu, B_max, L, seed);
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

    gstack g; // its arena poisoned with NaN bytes
    gstack_init(&g, &cfg, B_max, L);
    ck_assert(g.decl.total == tot && g.decl.count == n.p.count);
    ssm_params dev;
    ck_assert_msg(ssm_params_cuda_mirror(&dev, &n.p, &e) == SSM_OK, "%s", e.msg);
    if (bf)
        ck_assert_msg(ssm_params_cuda_shadow_bf16(&dev, &e) == SSM_OK, "%s", e.msg);
    int32_t *perm_d = dev_copy(perm, sizeof(int32_t) * (size_t)(count * B * L));
    mamba_orders od = {.count = count, .perm = perm_d, .schedule = schedule};
    real *in_d = dev_copy(in, nbld * sizeof(real)), *dout_d = dev_copy(dout, nbld * sizeof(real));
    run_result gr = gpu_run(&g, &dev, in_d, dout_d, din0, grad0, &od, B, nbld);
    if (!bf) {
        run_result g2 = gpu_run(&g, &dev, in_d, dout_d, din0, grad0, &od, B, nbld);
        ck_assert_msg(memcmp(gr.out, g2.out, nbld * sizeof(real)) == 0, "%s: out differs between "
                      "two GPU runs", label);
        ck_assert_msg(memcmp(gr.din, g2.din, nbld * sizeof(real)) == 0, "%s: din differs", label);
        ck_assert_msg(memcmp(gr.grad, g2.grad, tot * sizeof(real)) == 0, "%s: the gradients "
                      "differ between two GPU runs", label);
        result_free(&g2);
    }

    real *out = malloc(sizeof(real) * nbld), *din = malloc(sizeof(real) * nbld);
    memcpy(din, din0, sizeof(real) * nbld);
    memcpy(n.p.grad, grad0, sizeof(real) * tot);
    mamba_stack_forward(n.s, &n.p, out, in, &o, B);
    mamba_stack_backward(n.s, &n.p, din, dout, &o, B);

    const double tol = bf ? TOL_BF16 : TOL, tol_grad = bf ? TOL_BF16_GRAD : TOL_GRAD;
    const double err_out = tu_rel_err(gr.out, out, nbld);
    ck_assert_msg(err_out < tol, "%s: out: rel err %.3g", label, err_out);
    sub(gr.din, din0, nbld);
    sub(din, din0, nbld);
    const double err_din = tu_rel_err(gr.din, din, nbld);
    ck_assert_msg(err_din < tol, "%s: din: rel err %.3g", label, err_din);
    sub(gr.grad, grad0, tot);
    sub(n.p.grad, grad0, tot);
    double worst = 0, err_prompt = INFINITY;
    const char *worst_name = "";
    for (size_t i = 0; i < n.p.count; i++) {
        const ssm_param_info *it = &n.p.items[i];
        double err = tu_rel_err(gr.grad + it->offset, n.p.grad + it->offset, it->numel);
        ck_assert_msg(err < tol_grad, "%s: gradient of %s: rel err %.3g", label, it->name, err);
        if (!strcmp(it->name, "order_prompt.weight"))
            err_prompt = err;
        if (err > worst)
            worst = err, worst_name = it->name;
    }
    ck_assert_msg(isfinite(err_prompt), "%s: no order_prompt.weight", label);
    printf("  %-40s rel err out %.2g, din %.2g, order_prompt %.2g, worst gradient %.2g (%s)\n",
           label, err_out, err_din, err_prompt, worst, worst_name);

    result_free(&gr);
    free(out), free(din), free(perm), free(in), free(dout), free(din0), free(grad0);
    ssm_cuda_free(perm_d), ssm_cuda_free(in_d), ssm_cuda_free(dout_d);
    ssm_params_cuda_free(&dev);
    gstack_free(&g);
    net_free(&n);
}

static mamba_config cfg_of(int K, int64_t layers, int64_t P, int64_t O) {
    mamba_config c = cfg_small(K, layers);
    c.order_prompts = P;
    c.prompt_orders = O;
    return c;
}

START_TEST(one_branch_schedule) { // PCM: an order a layer; order 0 comes back at layer 2
    static const int32_t sched[3] = {0, 2, 0};
    compare_case(cfg_of(1, 3, 3, 3), 4, 4, 13, 3, sched, 11, "K 1, P 3, orders 0 2 0");
}
END_TEST

START_TEST(bidirectional_layernorm_partial_batch) {
    static const int32_t sched[4] = {0, 1, 2, 3};
    mamba_config c = cfg_of(2, 2, 2, 4);
    c.norm = MAMBA_NORM_LAYER;
    c.final_norm = 0;
    compare_case(c, 5, 3, 11, 4, sched, 22, "K 2, LN, no norm_f, B 3 of 5");
}
END_TEST

START_TEST(extended_blocks) {
    static const int32_t sched[2] = {1, 0};
    mamba_config c = cfg_of(1, 2, 2, 2);
    c.ffn_dim = 24;
    compare_case(c, 3, 3, 9, 2, sched, 33, "pre + FFN, P 2");
    c.norm_position = MAMBA_POST_NORM;
    c.norm = MAMBA_NORM_LAYER;
    compare_case(c, 3, 2, 9, 2, sched, 44, "post + FFN, LN, P 2, B 2 of 3");
}
END_TEST

START_TEST(bf16) {
    static const int32_t sched[6] = {0, 1, 2, 3, 1, 0};
    mamba_config c = cfg_of(2, 3, 6, 4);
    c.d_model = 32;
    c.d_state = 16;
    c.scan_chunk = 16;
    c.precision = MAMBA_BF16;
    compare_case(c, 4, 4, 24, 4, sched, 55, "bf16, K 2, P 6 (PCM's)");
}
END_TEST

START_TEST(refusals) {
    mamba_config c = cfg_of(1, 1, 2, 2);
    gstack g;
    gstack_init(&g, &c, 2, 8);
    ssm_params dev;
    ssm_error e = {0};
    ck_assert_msg(ssm_params_cuda_mirror(&dev, &g.decl, &e) == SSM_OK, "%s", e.msg);
    int32_t perm[3 * 8];
    for (int i = 0; i < 3 * 8; i++)
        perm[i] = i % 8;
    int32_t *perm_d = dev_copy(perm, sizeof perm);
    real *x_d = dev_poison(sizeof(real) * 2 * 8 * (size_t)c.d_model);
    mamba_orders od = {.count = 3, .perm = perm_d, .schedule = NULL};
    ck_assert_int_eq(mamba_stack_forward_cuda(g.s, &dev, x_d, x_d, &od, 1, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "declared for 2"), "%s", e.msg);
    int64_t off[3] = {0, 3, 8};
    int64_t *off_d = dev_copy(off, sizeof off);
    ssm_packing pk = {.n = 2, .total = 8, .offsets = off, .d_offsets = off_d};
    od.count = 1;
    ck_assert_int_eq(mamba_stack_forward_packed_cuda(g.s, &dev, x_d, x_d, &od, &pk, &e),
                     SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "packed (ragged) rows are not supported"), "%s", e.msg);
    ssm_cuda_free(perm_d), ssm_cuda_free(x_d), ssm_cuda_free(off_d);
    ssm_params_cuda_free(&dev);
    gstack_free(&g);
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_order_prompts:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_order_prompts");
    TCase *tc = tcase_create("prompts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, one_branch_schedule);
    tcase_add_test(tc, bidirectional_layernorm_partial_batch);
    tcase_add_test(tc, extended_blocks);
    tcase_add_test(tc, bf16);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
