// Check suite (double build): gradients of the audio_patches adapter against central finite
// differences, for every element of every parameter, on a spectrogram with different
// frequency and time strides (AST-style overlap on one axis, a gap on the other), for every
// class-token place. The tolerance argument is grad_adapters.c's: every token is affine in
// each single parameter, so the central difference has rounding error only (~1e-10), and
// 1e-7 relative catches any wrong index or missing term.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tests/util/testutil.h"

#define TOL 1e-7
#define FD_H 1e-5
#define FLOOR 1e-8

#if !REAL_IS_DOUBLE
#error "grad_audio_patches must be built with -DSSM_DOUBLE"
#endif

typedef struct {
    ssm_adapter *a;
    ssm_params *p;
    real *tokens;
    const real *x, *R;
    int64_t B;
} adapter_ctx;

static double adapter_loss(void *vctx) {
    adapter_ctx *c = vctx;
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(c->a, c->p, c->tokens, NULL, c->x, c->B, &e), SSM_OK);
    return tu_dot(c->tokens, c->R, (size_t)(c->B * c->a->seq_len * c->a->d_model));
}

static void check_grad(ssm_cls_position cls) {
    // 13 frames x 9 mel bins, p = 3, fstride 2 (overlap), tstride 4 (a frame skipped):
    // 4 bands x 3 steps
    const int64_t B = 2, T = 13, F = 9, D = 4;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 3;
    o.cls_token = cls;
    const char *kv[2][2] = {{"fstride", "2"}, {"tstride", "4"}};
    for (int i = 0; i < 2; i++) {
        strcpy(o.extra[i].key, kv[i][0]);
        strcpy(o.extra[i].value, kv[i][1]);
    }
    o.n_extra = 2;
    ssm_input_shape in = {2, {T, F}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_adapter *a;
    ck_assert_msg(ssm_adapter_create(&a, "audio_patches", &o, &in, D, &p, "", &e) == SSM_OK, "%s",
                  e.msg);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_int_eq(a->seq_len, 12 + (cls != SSM_CLS_NONE));
    uint64_t st = 4321 + (uint64_t)cls;
    tu_fill_uniform(p.data, p.total, -1, 1, &st);
    ssm_arena ar;
    ssm_arena_init(&ar);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    size_t nt = (size_t)(B * a->seq_len * D), nx = (size_t)(B * T * F);
    real *x = malloc(nx * sizeof(real)), *R = malloc(nt * sizeof(real)),
         *tokens = malloc(nt * sizeof(real));
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
    free(g1), free(x), free(R), free(tokens);
    ssm_adapter_free(a);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(grad_cls_head) { check_grad(SSM_CLS_HEAD); }
END_TEST
START_TEST(grad_cls_middle) { check_grad(SSM_CLS_MIDDLE); }
END_TEST
START_TEST(grad_cls_none) { check_grad(SSM_CLS_NONE); }
END_TEST

int main(void) {
    Suite *s = suite_create("grad_audio_patches");
    TCase *tc = tcase_create("grad_audio_patches");
    tcase_add_test(tc, grad_cls_head);
    tcase_add_test(tc, grad_cls_middle);
    tcase_add_test(tc, grad_cls_none);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
