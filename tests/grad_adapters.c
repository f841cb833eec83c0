// Check suite (double build): gradients of the image_patches adapter against
// central finite differences, for every element of every parameter (the heads:
// tests/grad_heads.c).
//
// Tolerance: the loss is sum(out * R) with a fixed random R, and every output
// here is affine in each single parameter (a linear embedding, an added
// position, an added class token), so
// the central difference has no truncation error at all — only rounding,
// about eps * |loss| / h = 1e-16 * 10 / 1e-5 = 1e-10 absolute on gradients
// of size ~0.1..10 (the worst seen is ~5e-9 relative, on a small weight
// gradient). A relative error of 1e-7 is therefore loose by ~20x yet
// catches any wrong index, missing term or factor (those give O(1) errors).
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
#error "grad_adapters must be built with -DSSM_DOUBLE"
#endif

// ---- image_patches ----------------------------------------------------------

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
    real x[B * C * H * W];
    tu_fill_uniform(x, (size_t)(B * C * H * W), -1, 1, &st);
    char what[64];
    snprintf(what, sizeof what, "cls %s", ssm_cls_position_name(cls));
    tu_check_adapter_grads(a, &p, x, B, &st, TOL, what);
    ssm_adapter_free(a);
    ssm_params_free(&p);
}

START_TEST(image_patches_grad_cls_head) { check_adapter(SSM_CLS_HEAD); }
END_TEST
START_TEST(image_patches_grad_cls_middle) { check_adapter(SSM_CLS_MIDDLE); }
END_TEST
START_TEST(image_patches_grad_cls_none) { check_adapter(SSM_CLS_NONE); }
END_TEST

int main(void) {
    Suite *s = suite_create("grad_adapters");
    TCase *tc = tcase_create("grad_adapters");
    tcase_add_test(tc, image_patches_grad_cls_head);
    tcase_add_test(tc, image_patches_grad_cls_middle);
    tcase_add_test(tc, image_patches_grad_cls_none);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
