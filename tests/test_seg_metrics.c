// Check suite: the part-segmentation metrics (tasks/metrics_seg.h) on hand-made cases.
//  - category-conditioned masking: a logit of another category's part, however large, is
//    never predicted; ties go to the lowest part of the category
//  - the shape IoU by hand: per part |pred & label| / |pred | label|, averaged over the
//    category's parts; a part absent from both the prediction and the labels counts 1, a
//    part only predicted (or only labelled) counts 0
//  - instance mIoU (mean over shapes) against class mIoU (mean over categories of their
//    shapes' mean) when categories have different numbers of shapes; point accuracy
//  - reset; a category or label out of range and a NaN logit are refused naming the shape
//    (and the point) and count nothing
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/metrics_seg.h"
#include "tests/util/suite.h"

// Two categories: A has parts 0..1, B parts 2..4.
static const int32_t RANGE[2][2] = {{0, 2}, {2, 3}};
#define P 5

// logits [n, P] with a 1 at each point's wanted column (and `noise` at column `other`).
static void one_hot(real *lg, const int32_t *want, int64_t n, int other, real noise) {
    memset(lg, 0, (size_t)(n * P) * sizeof *lg);
    for (int64_t i = 0; i < n; i++) {
        lg[i * P + want[i]] = 1;
        if (other >= 0)
            lg[i * P + other] = noise;
    }
}

START_TEST(masking) {
    real lg[3 * P] = {0};
    int32_t pred[3];
    // point 0: part 4 (category B) is the global argmax; A's parts: 0 beats 1
    lg[0 * P + 4] = 9, lg[0 * P + 0] = .5, lg[0 * P + 1] = .2;
    // point 1: tie between 0 and 1 -> 0
    lg[1 * P + 0] = .3, lg[1 * P + 1] = .3;
    // point 2: 1 wins inside A
    lg[2 * P + 1] = .1, lg[2 * P + 0] = -1, lg[2 * P + 3] = 5;
    seg_predict_masked(pred, lg, 3, P, 0, 2);
    ck_assert_int_eq(pred[0], 0);
    ck_assert_int_eq(pred[1], 0);
    ck_assert_int_eq(pred[2], 1);
    seg_predict_masked(pred, lg, 3, P, 2, 3); // the same logits read as category B
    ck_assert_int_eq(pred[0], 4);
    ck_assert_int_eq(pred[1], 2); // all of B's zero: the lowest
    ck_assert_int_eq(pred[2], 3);
}
END_TEST

START_TEST(shape_iou_by_hand) {
    // category B (2..4): labels 2 2 3 3 3, pred 2 3 3 3 3; part 4 in neither -> 1
    int32_t y[5] = {2, 2, 3, 3, 3}, p[5] = {2, 3, 3, 3, 3};
    // part 2: inter 1, union 2 -> 0.5; part 3: inter 3, union 4 -> 0.75; part 4: 1
    ck_assert(fabs(seg_shape_iou(p, y, 5, 2, 3) - (0.5 + 0.75 + 1) / 3) < 1e-12);
    // a part only predicted counts 0: pred 4 where the label is 3
    int32_t p2[5] = {2, 2, 3, 3, 4};
    // part 2: 1; part 3: 2/3; part 4: 0/1 = 0
    ck_assert(fabs(seg_shape_iou(p2, y, 5, 2, 3) - (1 + 2.0 / 3 + 0) / 3) < 1e-12);
    // perfect prediction with an absent part: 1
    ck_assert(fabs(seg_shape_iou(y, y, 5, 2, 3) - 1) < 1e-12);
}
END_TEST

START_TEST(instance_and_class) {
    seg_metrics m;
    ssm_error e = {0};
    ck_assert_int_eq(seg_metrics_init(&m, 2, &RANGE[0][0], P, &e), SSM_OK);
    ck_assert(isnan(seg_metrics_instance_miou(&m)) && isnan(seg_metrics_accuracy(&m)));
    enum { N = 4 };
    // three shapes: two of A (IoU 1 and 0.5), one of B (IoU (1/2 + 2/3... see below))
    int32_t cats[3] = {0, 0, 1};
    int32_t y[3 * N] = {0, 0, 1, 1, /**/ 0, 0, 0, 0, /**/ 2, 3, 3, 4};
    int32_t want[3 * N] = {0, 0, 1, 1, /**/ 0, 0, 1, 1, /**/ 2, 2, 3, 4};
    real lg[3 * N * P];
    // shape 1 predicts part 1 on two points; B's part 4 gets a big logit on shape 0's points:
    // masked away (A's points never predict 4)
    one_hot(lg, want, 3 * N, -1, 0);
    for (int i = 0; i < N; i++)
        lg[i * P + 4] = 7;
    ck_assert_int_eq(seg_metrics_add(&m, lg, cats, y, 3, N, &e), SSM_OK);
    // shape 0: 1. shape 1: part 0: 2/4, part 1: 0/2 -> 0.25. shape 2: part 2: 1/2,
    // part 3: 1/2, part 4: 1 -> 2/3.
    double s0 = 1, s1 = 0.25, s2 = 2.0 / 3;
    ck_assert(fabs(seg_metrics_instance_miou(&m) - (s0 + s1 + s2) / 3) < 1e-12);
    ck_assert(fabs(seg_metrics_class_miou(&m) - ((s0 + s1) / 2 + s2) / 2) < 1e-12);
    ck_assert(fabs(seg_metrics_accuracy(&m) - 9.0 / 12) < 1e-12);
    // errors: nothing of a bad batch is counted
    int32_t badc[1] = {2};
    ck_assert_int_eq(seg_metrics_add(&m, lg, badc, y, 1, N, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "shape 0") && strstr(e.msg, "category 2"), "%s", e.msg);
    int32_t bady[N] = {0, 1, 3, 0}; // part 3 is B's, the shape is A
    ck_assert_int_eq(seg_metrics_add(&m, lg, cats, bady, 1, N, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "point 2") && strstr(e.msg, "part 3"), "%s", e.msg);
    lg[1 * P + 2] = NAN;
    ck_assert_int_eq(seg_metrics_add(&m, lg, cats, y, 1, N, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "NaN") && strstr(e.msg, "point 1"), "%s", e.msg);
    ck_assert_int_eq(m.shapes, 3);
    ck_assert_int_eq(m.points, 12);
    seg_metrics_reset(&m);
    ck_assert(isnan(seg_metrics_class_miou(&m)));
    ck_assert_int_eq(m.shapes, 0);
    seg_metrics_free(&m);
    int32_t over[1][2] = {{3, 3}}; // parts 3..5 of 5
    ck_assert_int_eq(seg_metrics_init(&m, 1, &over[0][0], P, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "category 0"), "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *su = suite_create("seg_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, masking);
    tcase_add_test(tc, shape_iou_by_hand);
    tcase_add_test(tc, instance_and_class);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
