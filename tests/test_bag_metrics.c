// Check suite: the metrics the MIL task reports (tasks/metrics.h) against values by hand
// and by scikit-learn: balanced accuracy (and macro-F1 beside it), ROC AUC of a binary
// labelling with tied scores (the Mann-Whitney statistic), CLAM's one-vs-rest macro AUC,
// the score accumulator (softmax of logits, growth over batches) and its refusals.
// The reference numbers come from scikit-learn 1.9.1 (balanced_accuracy_score, f1_score
// average='macro', roc_auc_score and roc_auc_score(multi_class='ovr', average='macro')) run
// on exactly the inputs written below.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/metrics.h"
#include "tests/util/suite.h"

#define EPS 1e-12

START_TEST(balanced_accuracy_and_macro_f1_match_sklearn) {
    class_metrics m;
    ssm_error e = {0};
    ck_assert_int_eq(class_metrics_init(&m, 4, 1, &e), SSM_OK);
    ck_assert(isnan(class_metrics_balanced_accuracy(&m)));
    int32_t yt[] = {0, 0, 0, 1, 1, 2, 2, 2, 2, 1};
    int32_t yp[] = {0, 1, 0, 1, 2, 2, 2, 0, 2, 1};
    ck_assert_int_eq(class_metrics_add_predictions(&m, yp, yt, 10, &e), SSM_OK);
    // by hand: recalls 2/3, 2/3, 3/4 -> 25/36; class 3 is neither label nor prediction
    ck_assert_double_eq_tol(class_metrics_balanced_accuracy(&m), 25.0 / 36, EPS);
    ck_assert_double_eq_tol(class_metrics_balanced_accuracy(&m), 0.6944444444444443, EPS);
    ck_assert_double_eq_tol(class_metrics_macro_f1(&m), 0.6944444444444443, EPS);
    // a class predicted but never a label (3) is left out of the balanced accuracy
    class_metrics_reset(&m);
    int32_t yp2[] = {0, 3, 0, 1, 2, 2, 3, 0, 2, 1};
    ck_assert_int_eq(class_metrics_add_predictions(&m, yp2, yt, 10, &e), SSM_OK);
    ck_assert_double_eq_tol(class_metrics_balanced_accuracy(&m), 0.611111111111111, EPS);
    class_metrics_free(&m);
}
END_TEST

START_TEST(binary_auc_counts_ties_as_halves) {
    uint8_t y[] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 0};
    double s[] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.05, 0.35};
    ck_assert_double_eq_tol(roc_auc_binary(s, y, 10), 0.5800000000000001, EPS);
    // by hand: every positive above every negative -> 1; the reverse -> 0; all tied -> 1/2
    uint8_t y2[] = {0, 0, 1, 1};
    double up[] = {1, 2, 3, 4}, down[] = {4, 3, 2, 1}, flat[] = {7, 7, 7, 7};
    ck_assert_double_eq(roc_auc_binary(up, y2, 4), 1);
    ck_assert_double_eq(roc_auc_binary(down, y2, 4), 0);
    ck_assert_double_eq(roc_auc_binary(flat, y2, 4), 0.5);
    // one positive tied with one of two negatives: (1 + 1/2) / 2
    uint8_t y3[] = {1, 0, 0};
    double s3[] = {2, 2, 1};
    ck_assert_double_eq(roc_auc_binary(s3, y3, 3), 0.75);
    // undefined: one side only, or a NaN score
    uint8_t ones[] = {1, 1, 1, 1};
    ck_assert(isnan(roc_auc_binary(up, ones, 4)));
    double nan_s[] = {1, NAN, 3, 4};
    ck_assert(isnan(roc_auc_binary(nan_s, y2, 4)));
}
END_TEST

static const double P[12 * 4] = {
    0.70, 0.10, 0.10, 0.10, 0.20, 0.50, 0.20, 0.10, 0.10, 0.20, 0.60, 0.10,
    0.25, 0.25, 0.25, 0.25, 0.40, 0.30, 0.20, 0.10, 0.10, 0.10, 0.10, 0.70,
    0.30, 0.30, 0.30, 0.10, 0.05, 0.05, 0.45, 0.45, 0.50, 0.20, 0.20, 0.10,
    0.10, 0.60, 0.20, 0.10, 0.20, 0.20, 0.20, 0.40, 0.30, 0.40, 0.10, 0.20};
static const int32_t YL[12] = {0, 1, 2, 3, 1, 3, 2, 2, 0, 1, 0, 3};

START_TEST(ovr_macro_auc_matches_sklearn_and_skips_absent_classes) {
    ck_assert_double_eq_tol(roc_auc_ovr_macro(P, YL, 12, 4), 0.9074074074074074, EPS);
    // CLAM's nanmean: class 3 absent from the labels is left out; the same as the mean of
    // the three classes' binary AUCs
    int32_t y[12];
    memcpy(y, YL, sizeof y);
    for (int i = 0; i < 12; i++)
        y[i] = y[i] == 3 ? 0 : y[i];
    double want = 0;
    for (int c = 0; c < 3; c++) {
        double col[12];
        uint8_t pos[12];
        for (int i = 0; i < 12; i++) {
            col[i] = P[i * 4 + c];
            pos[i] = y[i] == c;
        }
        want += roc_auc_binary(col, pos, 12) / 3;
    }
    ck_assert_double_eq_tol(roc_auc_ovr_macro(P, y, 12, 4), want, EPS);
    int32_t same[12] = {0};
    ck_assert(isnan(roc_auc_ovr_macro(P, same, 12, 4))); // one class only: no AUC defined
}
END_TEST

START_TEST(score_metrics_keep_softmax_probabilities) {
    score_metrics s;
    ssm_error e = {0};
    ck_assert_int_eq(score_metrics_init(&s, 1, &e), SSM_EINVAL);
    ck_assert_int_eq(score_metrics_init(&s, 4, &e), SSM_OK);
    ck_assert(isnan(score_metrics_auc(&s)));
    // logits = log(P) (+ a per-row constant): the softmax gives P back; added over 5 batches
    // to go through the growth of the buffers
    real z[12 * 4];
    for (int i = 0; i < 12 * 4; i++)
        z[i] = (real)(log(P[i]) + (i / 4) * 3.0);
    for (int b = 0; b < 12; b += 3)
        ck_assert_int_eq(score_metrics_add(&s, z + b * 4, YL + b, 3, &e), SSM_OK);
    ck_assert_int_eq(s.n, 12);
    for (int i = 0; i < 12 * 4; i++)
        ck_assert_double_eq_tol(s.prob[i], P[i], 1e-6);
    // (float logits break P's ties by an ulp here and there: the AUC is that of s.prob)
    ck_assert_double_eq(score_metrics_auc(&s), roc_auc_ovr_macro(s.prob, s.labels, 12, 4));
    int32_t bad[1] = {4};
    ck_assert_int_eq(score_metrics_add(&s, z, bad, 1, &e), SSM_EDATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "label 4"));
    real nanz[4] = {0, NAN, 0, 0};
    ck_assert_int_eq(score_metrics_add(&s, nanz, YL, 1, &e), SSM_EDATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "NaN logit (class 1)"));
    ck_assert_int_eq(s.n, 12);
    score_metrics_free(&s);
    // binary: the AUC of the class-1 probability, the same ranking as the logit difference
    ck_assert_int_eq(score_metrics_init(&s, 2, &e), SSM_OK);
    double sc[] = {0.1, 0.4, 0.35, 0.8, 0.4, 0.4, 0.2, 0.9, 0.05, 0.35};
    int32_t y[] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 0};
    real zb[20];
    for (int i = 0; i < 10; i++) {
        zb[2 * i] = 0;
        zb[2 * i + 1] = (real)log(sc[i] / (1 - sc[i]));
    }
    ck_assert_int_eq(score_metrics_add(&s, zb, y, 10, &e), SSM_OK);
    ck_assert_double_eq_tol(score_metrics_auc(&s), 0.58, 1e-12);
    score_metrics_reset(&s);
    ck_assert(isnan(score_metrics_auc(&s)));
    score_metrics_free(&s);
}
END_TEST

int main(void) {
    Suite *su = suite_create("bag_metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, balanced_accuracy_and_macro_f1_match_sklearn);
    tcase_add_test(tc, binary_auc_counts_ties_as_halves);
    tcase_add_test(tc, ovr_macro_auc_matches_sklearn_and_skips_absent_classes);
    tcase_add_test(tc, score_metrics_keep_softmax_probabilities);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
