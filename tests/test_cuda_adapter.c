// Check suite: the image_patches adapter's CUDA path and the classification head's CUDA
// twins against their CPU versions, on fresh random inputs and parameters: tokens and scan
// orders of the forward, every parameter gradient of the backward (accumulated onto random
// values, so += is checked), the pooled head's logits and its input and parameter gradients.
// Device outputs are poisoned (NaN) before each call so that an unwritten element fails.
// Skips (and passes) without CUDA=1, in the sanitized / double builds, or without a GPU.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "adapters/adapter.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "tasks/cuda/head.h"
#include "tasks/head.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
static void *dev_copy(const void *h, size_t bytes) {
    void *d;
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&d, bytes ? bytes : 4, "test"));
    if (bytes)
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d, h, bytes));
    return d;
}

static void *dev_poison(size_t bytes) {
    void *d;
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&d, bytes ? bytes : 4, "test"));
    CUDA_CHECK_ABORT(cudaMemset(d, 0xFF, bytes));
    return d;
}

static void *host_of(const void *d, size_t bytes) {
    void *h = malloc(bytes ? bytes : 4);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(h, d, bytes));
    return h;
}

typedef struct {
    int64_t C, H, W, p, s;
    ssm_cls_position cls;
    const char *orders[3];
    int n_orders;
} ip_case;

static const ip_case IP_CASES[] = {
    {1, 28, 28, 4, 4, SSM_CLS_NONE, {"row", "reverse"}, 2},
    {3, 17, 13, 4, 3, SSM_CLS_MIDDLE, {"snake", "column_reverse", "column"}, 3},
    {2, 9, 12, 3, 2, SSM_CLS_HEAD, {"row", "snake_reverse"}, 2},
};

START_TEST(image_patches_matches_cpu) {
    const ip_case *c = &IP_CASES[_i];
    const int64_t D = 24, B = 5;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = c->p;
    o.stride = c->s;
    o.cls_token = c->cls;
    o.n_orders = c->n_orders;
    for (int i = 0; i < c->n_orders; i++)
        snprintf(o.orders[i], SSM_ADAPTER_NAME_MAX, "%s", c->orders[i]);
    ssm_input_shape in = {3, {c->C, c->H, c->W}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_adapter *a = NULL;
    ssm_error e = {0};
    ck_assert_msg(ssm_adapter_create(&a, "image_patches", &o, &in, D, &p, "", &e) == SSM_OK, "%s",
                  e.msg);
    ck_assert(ssm_adapter_has_cuda(a));
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    uint64_t st = 1000 + (uint64_t)_i;
    tu_fill_uniform(p.data, p.total, -0.5, 0.5, &st); // random, biases and cls included
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st); // backward must accumulate onto these
    ssm_params dp;
    ck_assert_msg(ssm_params_cuda_mirror(&dp, &p, &e) == SSM_OK, "%s", e.msg);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(dp.grad, p.grad, p.total * sizeof(real)));

    // CPU plan and run
    ssm_arena ha, da;
    ssm_arena_init(&ha);
    ssm_arena_init(&da);
    ssm_adapter *ga = NULL; // a second instance for the device (its own scratch)
    ssm_params p2;
    ssm_params_init(&p2);
    ck_assert(ssm_adapter_create(&ga, "image_patches", &o, &in, D, &p2, "", &e) == SSM_OK);
    ck_assert(ssm_adapter_plan(a, &ha, B, &e) == SSM_OK);
    ck_assert(ssm_arena_commit(&ha, &e) == SSM_OK);
    ck_assert(ssm_adapter_plan(a, &ha, B, &e) == SSM_OK);
    ck_assert(ssm_adapter_plan_cuda(ga, &da, B, &e) == SSM_OK);
    ck_assert(ssm_arena_commit_cuda(&da, &e) == SSM_OK);
    ck_assert_msg(ssm_adapter_plan_cuda(ga, &da, B, &e) == SSM_OK, "%s", e.msg);

    int64_t L = a->seq_len, nx = B * c->C * c->H * c->W;
    real *x = malloc((size_t)nx * sizeof(real));
    tu_fill_uniform(x, (size_t)nx, -1, 1, &st);
    real *tok = malloc((size_t)(B * L * D) * sizeof(real));
    int32_t *ord = malloc((size_t)(a->n_orders * B * L) * sizeof(int32_t));
    ck_assert(ssm_adapter_forward(a, &p, tok, ord, x, B, &e) == SSM_OK);
    real *dx = dev_copy(x, (size_t)nx * sizeof(real));
    real *dtok = dev_poison((size_t)(B * L * D) * sizeof(real));
    int32_t *dord = dev_poison((size_t)(a->n_orders * B * L) * sizeof(int32_t));
    ck_assert_msg(ssm_adapter_forward_cuda(ga, &dp, dtok, dord, dx, B, &e) == SSM_OK, "%s", e.msg);
    real *gtok = host_of(dtok, (size_t)(B * L * D) * sizeof(real));
    int32_t *gord = host_of(dord, (size_t)(a->n_orders * B * L) * sizeof(int32_t));
    double r = tu_rel_err(gtok, tok, (size_t)(B * L * D));
    ck_assert_msg(r < 1e-5, "tokens: relative error %.3e", r);
    ck_assert(!memcmp(gord, ord, (size_t)(a->n_orders * B * L) * sizeof(int32_t)));

    // backward from random dtokens
    real *g = malloc((size_t)(B * L * D) * sizeof(real));
    tu_fill_uniform(g, (size_t)(B * L * D), -1, 1, &st);
    real *dg = dev_copy(g, (size_t)(B * L * D) * sizeof(real));
    ssm_adapter_backward(a, &p, g, x, B);
    ck_assert_msg(ssm_adapter_backward_cuda(ga, &dp, dg, dx, B, &e) == SSM_OK, "%s", e.msg);
    real *ggrad = host_of(dp.grad, p.total * sizeof(real));
    for (size_t i = 0; i < p.count; i++) {
        const ssm_param_info *it = &p.items[i];
        double ri = tu_rel_err(ggrad + it->offset, p.grad + it->offset, it->numel);
        ck_assert_msg(ri < 1e-5, "gradient of %s: relative error %.3e", it->name, ri);
    }
    free(x), free(tok), free(ord), free(gtok), free(gord), free(g), free(ggrad);
    ssm_cuda_free(dx), ssm_cuda_free(dtok), ssm_cuda_free(dord), ssm_cuda_free(dg);
    ssm_adapter_free(a);
    ssm_adapter_free(ga);
    ssm_arena_free(&ha);
    ssm_arena_free_cuda(&da);
    ssm_params_cuda_free(&dp);
    ssm_params_free(&p);
    ssm_params_free(&p2);
}
END_TEST

START_TEST(class_head_matches_cpu) {
    const int64_t D = 40, V = 7, B = 9, L = 13;
    const int64_t cls = _i == 0 ? -1 : 6;
    ssm_params p;
    ssm_params_init(&p);
    class_head h, gh;
    ssm_error e = {0};
    ck_assert(class_head_declare(&h, &p, "", D, V, cls, &e) == SSM_OK);
    ck_assert(ssm_params_finalize(&p, &e) == SSM_OK);
    gh = h;
    uint64_t st = 77 + (uint64_t)_i;
    tu_fill_uniform(p.data, p.total, -0.5, 0.5, &st);
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st);
    ssm_params dp;
    ck_assert(ssm_params_cuda_mirror(&dp, &p, &e) == SSM_OK);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(dp.grad, p.grad, p.total * sizeof(real)));
    ssm_arena ha, da;
    ssm_arena_init(&ha);
    ssm_arena_init(&da);
    class_head_plan(&h, &ha, B, &e);
    ssm_arena_commit(&ha, &e);
    class_head_plan(&h, &ha, B, &e);
    class_head_plan(&gh, &da, B, &e);
    ck_assert(ssm_arena_commit_cuda(&da, &e) == SSM_OK);
    class_head_plan(&gh, &da, B, &e);

    size_t nt = (size_t)(B * L * D);
    real *tok = malloc(nt * sizeof(real)), *dlog = malloc((size_t)(B * V) * sizeof(real));
    real *dtok = malloc(nt * sizeof(real)), *logits = malloc((size_t)(B * V) * sizeof(real));
    tu_fill_uniform(tok, nt, -1, 1, &st);
    tu_fill_uniform(dlog, (size_t)(B * V), -1, 1, &st);
    tu_fill_uniform(dtok, nt, -1, 1, &st);
    real *d_tok = dev_copy(tok, nt * sizeof(real)), *d_dlog = dev_copy(dlog, B * V * sizeof(real));
    real *d_dtok = dev_copy(dtok, nt * sizeof(real));
    real *d_logits = dev_poison((size_t)(B * V) * sizeof(real));
    class_head_forward(&h, &p, logits, tok, B, L);
    ck_assert(class_head_forward_cuda(&gh, &dp, d_logits, d_tok, B, L, &e) == SSM_OK);
    real *g_logits = host_of(d_logits, (size_t)(B * V) * sizeof(real));
    ck_assert_msg(tu_rel_err(g_logits, logits, B * V) < 1e-5, "logits");
    class_head_backward(&h, &p, dtok, dlog, tok, B, L);
    ck_assert(class_head_backward_cuda(&gh, &dp, d_dtok, d_dlog, d_tok, B, L, &e) == SSM_OK);
    real *g_dtok = host_of(d_dtok, nt * sizeof(real));
    real *g_grad = host_of(dp.grad, p.total * sizeof(real));
    ck_assert_msg(tu_rel_err(g_dtok, dtok, nt) < 1e-5, "dtokens %.3e", tu_rel_err(g_dtok, dtok, nt));
    ck_assert_msg(tu_rel_err(g_grad, p.grad, p.total) < 1e-5, "head gradients");

    // The loss helpers: a fixed-order double sum and a fill.
    double sum = 0, gsum;
    for (size_t i = 0; i < nt; i++)
        sum += tok[i];
    double *d_sum = dev_poison(sizeof(double));
    ck_assert(sum_double_cuda(d_sum, d_tok, (int64_t)nt) == SSM_OK);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_download(&gsum, d_sum, sizeof gsum));
    ck_assert_msg(fabs(gsum - sum) < 1e-9 * nt, "sum %.12g vs %.12g", gsum, sum);
    ck_assert(fill_cuda(d_logits, 0.25f, B * V) == SSM_OK);
    free(g_logits);
    g_logits = host_of(d_logits, (size_t)(B * V) * sizeof(real));
    for (int64_t i = 0; i < B * V; i++)
        ck_assert(g_logits[i] == 0.25f);

    free(tok), free(dlog), free(dtok), free(logits), free(g_logits), free(g_dtok), free(g_grad);
    ssm_cuda_free(d_tok), ssm_cuda_free(d_dlog), ssm_cuda_free(d_dtok), ssm_cuda_free(d_logits);
    ssm_cuda_free(d_sum);
    ssm_arena_free(&ha);
    ssm_arena_free_cuda(&da);
    ssm_params_cuda_free(&dp);
    ssm_params_free(&p);
}
END_TEST
#endif

int main(void) {
#if !HAVE_CUDA
    printf("test_cuda_adapter: skipped (built without CUDA=1, or a sanitizer/double build)\n");
    return 0;
#else
    if (ssm_cuda_device_count() == 0) {
        printf("test_cuda_adapter: skipped (no CUDA device)\n");
        return 0;
    }
    Suite *su = suite_create("cuda_adapter");
    TCase *tc = tcase_create("adapter_head");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, image_patches_matches_cpu, 0, 3);
    tcase_add_loop_test(tc, class_head_matches_cpu, 0, 2);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
#endif
}
