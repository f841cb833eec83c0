// Check suite (double build): gradients of the audio_patches adapter against central finite
// differences, for every element of every parameter, on a spectrogram with different
// frequency and time strides (AST-style overlap on one axis, a gap on the other), for every
// class-token place. The tolerance argument is grad_adapters.c's: every token is affine in
// each single parameter, so the central difference has rounding error only (~1e-10), and
// 1e-7 relative catches any wrong index or missing term.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/params.h"
#include "tests/util/grad_check.h"
#include "tests/util/suite.h"

#define TOL 1e-7

#if !REAL_IS_DOUBLE
#error "grad_audio_patches must be built with -DSSM_DOUBLE"
#endif

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
    real *x = malloc((size_t)(B * T * F) * sizeof(real));
    tu_fill_uniform(x, (size_t)(B * T * F), -1, 1, &st);
    char what[64];
    snprintf(what, sizeof what, "cls %s", ssm_cls_position_name(cls));
    tu_check_adapter_grads(a, &p, x, B, &st, TOL, what);
    free(x);
    ssm_adapter_free(a);
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
    return tu_run_suite(s);
}
