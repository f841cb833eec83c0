// Check suite (double build): gradients of the image_patches adapter and the
// classification head against central finite differences, for every element
// of every parameter (and of the head's input tokens).
//
// Tolerance: the loss is sum(out * R) with a fixed random R, and every output
// here is affine in each single parameter (a linear embedding, an added
// position, an added class token, a gather/mean pooling, a linear head), so
// the central difference has no truncation error at all — only rounding,
// about eps * |loss| / h = 1e-16 * 10 / 1e-5 = 1e-10 absolute on gradients
// of size ~0.1..10 (the worst seen is ~5e-9 relative, on a small weight
// gradient). A relative error of 1e-7 is therefore loose by ~20x yet
// catches any wrong index, missing term or factor (those give O(1) errors).
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tasks/head.h"
#include "tests/util/testutil.h"

#define TOL 1e-7
#define FD_H 1e-5
#define FLOOR 1e-8

#if !REAL_IS_DOUBLE
#error "grad_adapters must be built with -DSSM_DOUBLE"
#endif

// ---- image_patches ----------------------------------------------------------

typedef struct {
    ssm_adapter *a;
    ssm_params *p;
    real *tokens; // [B, L, D]
    const real *x, *R;
    int64_t B;
} adapter_ctx;

static double adapter_loss(void *vctx) {
    adapter_ctx *c = vctx;
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(c->a, c->p, c->tokens, NULL, c->x, c->B, &e), SSM_OK);
    return tu_dot(c->tokens, c->R, (size_t)(c->B * c->a->seq_len * c->a->d_model));
}

static void check_adapter(ssm_cls_position cls) {
    const int64_t B = 2, C = 2, H = 7, W = 8, D = 4; // p = 3, s = 2: overlapping, 3 x 3 grid, 1 column unread
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 3;
    o.stride = 2;
    o.cls_token = cls;
    ssm_input_shape in = {3, {C, H, W}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_adapter *a;
    ck_assert_int_eq(ssm_adapter_create(&a, "image_patches", &o, &in, D, &p, "", &e), SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_int_eq(a->seq_len, 9 + (cls != SSM_CLS_NONE));
    uint64_t st = 1234 + (uint64_t)cls;
    tu_fill_uniform(p.data, p.total, -1, 1, &st); // every parameter non-trivial, biases included
    ssm_arena ar;
    ssm_arena_init(&ar);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);

    size_t nt = (size_t)(B * a->seq_len * D), nx = (size_t)(B * C * H * W);
    real x[B * C * H * W], R[nt], tokens[nt];
    tu_fill_uniform(x, nx, -1, 1, &st);
    tu_fill_uniform(R, nt, -1, 1, &st);
    adapter_ctx ctx = {a, &p, tokens, x, R, B};

    ssm_params_zero_grad(&p);
    ssm_adapter_backward(a, &p, R, x, B);
    for (size_t i = 0; i < p.count; i++) {
        size_t worst;
        double err = tu_fd_check(ssm_params_data(&p, i), ssm_params_grad(&p, i), p.items[i].numel,
                                 adapter_loss, &ctx, FD_H, FLOOR, 100000, &worst);
        ck_assert_msg(err < TOL, "cls %s: %s[%zu] relative error %g", ssm_cls_position_name(cls),
                      p.items[i].name, worst, err);
    }
    // backward accumulates: a second call doubles every gradient
    real *g1 = malloc(p.total * sizeof(real));
    memcpy(g1, p.grad, p.total * sizeof(real));
    ssm_adapter_backward(a, &p, R, x, B);
    for (size_t i = 0; i < p.total; i++)
        ck_assert(fabs(p.grad[i] - 2 * g1[i]) <= 1e-12 * (1 + fabs(g1[i])));
    free(g1);
    ssm_adapter_free(a);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(image_patches_grad_cls_head) { check_adapter(SSM_CLS_HEAD); }
END_TEST
START_TEST(image_patches_grad_cls_middle) { check_adapter(SSM_CLS_MIDDLE); }
END_TEST
START_TEST(image_patches_grad_cls_none) { check_adapter(SSM_CLS_NONE); }
END_TEST

// ---- classification head -------------------------------------------------------

typedef struct {
    class_head *h;
    ssm_params *p;
    real *logits; // [B, V]
    const real *tokens, *R;
    int64_t B, L;
} head_ctx;

static double head_loss(void *vctx) {
    head_ctx *c = vctx;
    class_head_forward(c->h, c->p, c->logits, c->tokens, c->B, c->L);
    return tu_dot(c->logits, c->R, (size_t)(c->B * c->h->num_classes));
}

static void check_head(int64_t cls_index) {
    const int64_t B = 3, L = 5, D = 4, V = 3;
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    class_head h;
    ck_assert_int_eq(class_head_declare(&h, &p, "", D, V, cls_index, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_find(&p, "head.weight"), (int64_t)h.w_idx);
    ck_assert(p.items[h.b_idx].flags & SSM_PARAM_NO_DECAY);
    ck_assert(!(p.items[h.w_idx].flags & SSM_PARAM_NO_DECAY));
    uint64_t st = 99 + (uint64_t)(cls_index + 1);
    tu_fill_uniform(p.data, p.total, -1, 1, &st);
    ssm_arena ar;
    ssm_arena_init(&ar);
    ck_assert_int_eq(class_head_plan(&h, &ar, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
    ck_assert_int_eq(class_head_plan(&h, &ar, B, &e), SSM_OK);

    real tokens[B * L * D], R[B * V], logits[B * V], dtokens[B * L * D], pre[B * L * D];
    tu_fill_uniform(tokens, B * L * D, -1, 1, &st);
    tu_fill_uniform(R, B * V, -1, 1, &st);
    tu_fill_uniform(pre, B * L * D, -1, 1, &st); // dtokens starts non-zero: backward must add
    memcpy(dtokens, pre, sizeof dtokens);
    ssm_params_zero_grad(&p);
    class_head_backward(&h, &p, dtokens, R, tokens, B, L);
    for (int64_t i = 0; i < B * L * D; i++)
        dtokens[i] -= pre[i];

    head_ctx ctx = {&h, &p, logits, tokens, R, B, L};
    for (size_t i = 0; i < p.count; i++) {
        size_t worst;
        double err = tu_fd_check(ssm_params_data(&p, i), ssm_params_grad(&p, i), p.items[i].numel,
                                 head_loss, &ctx, FD_H, FLOOR, 100000, &worst);
        ck_assert_msg(err < TOL, "cls_index %lld: %s[%zu] relative error %g", (long long)cls_index,
                      p.items[i].name, worst, err);
    }
    size_t worst;
    double err = tu_fd_check(tokens, dtokens, B * L * D, head_loss, &ctx, FD_H, FLOOR, 100000, &worst);
    ck_assert_msg(err < TOL, "cls_index %lld: tokens[%zu] relative error %g", (long long)cls_index,
                  worst, err);
    if (cls_index >= 0) // only the class token's row receives gradient
        for (int64_t i = 0; i < B * L * D; i++)
            if ((i / D) % L != cls_index)
                ck_assert(dtokens[i] == 0);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(head_grad_cls_pooling) {
    check_head(0);
    check_head(2);
}
END_TEST
START_TEST(head_grad_mean_pooling) { check_head(-1); }
END_TEST

int main(void) {
    Suite *s = suite_create("grad_adapters");
    TCase *tc = tcase_create("grad_adapters");
    tcase_add_test(tc, image_patches_grad_cls_head);
    tcase_add_test(tc, image_patches_grad_cls_middle);
    tcase_add_test(tc, image_patches_grad_cls_none);
    tcase_add_test(tc, head_grad_cls_pooling);
    tcase_add_test(tc, head_grad_mean_pooling);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
