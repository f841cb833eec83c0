// Check suite: the series augmentations and normalisation (datasets/series_augment.h):
// choices and outputs are pure functions of the key (same key, same bits; another epoch,
// other draws; switching one augmentation off leaves the others' draws alone); each one
// applies with probability 1/2 over many keys; the slice of a ramp is the ramp of its
// window, stretched; a warp keeps the end points and the monotonicity of a ramp; scaling
// multiplies each channel by one factor near 1; jitter's noise has the asked sigma;
// nothing changes the length; series_znorm and series_resample against direct math.
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/augment.h"
#include "datasets/series_augment.h"

static const series_aug ALL = {.jitter = 0.03, .scaling = 0.1, .window_slice = 0.9,
                               .window_warp = 0.1};

// x [n, V]: channel v is a ramp of slope v + 1 plus a wobble
static void fill(real *x, int64_t n, int64_t V) {
    for (int64_t t = 0; t < n; t++)
        for (int64_t v = 0; v < V; v++)
            x[t * V + v] = (real)((v + 1) * t / (double)n + 0.1 * sin(0.3 * t + v));
}

START_TEST(pure_functions_of_the_key) {
    enum { N = 97, V = 3 };
    real a[N * V], b[N * V], c[N * V], work[3 * N];
    int differs = 0;
    for (int64_t id = 0; id < 20; id++) {
        uint64_t k = ssm_augment_key(5, 2, id);
        series_aug_choice c1 = series_aug_choose(&ALL, k), c2 = series_aug_choose(&ALL, k);
        ck_assert(memcmp(&c1, &c2, sizeof c1) == 0);
        fill(a, N, V);
        fill(b, N, V);
        series_aug_apply(a, N, V, &ALL, &c1, work);
        series_aug_apply(b, N, V, &ALL, &c2, work);
        ck_assert(memcmp(a, b, sizeof a) == 0); // bit for bit
        // the next epoch draws anew
        series_aug_choice c3 = series_aug_choose(&ALL, ssm_augment_key(5, 3, id));
        fill(c, N, V);
        series_aug_apply(c, N, V, &ALL, &c3, work);
        differs += memcmp(a, c, sizeof a) != 0;
        // fixed draw slots: jitter off leaves the slice, warp and scaling draws as they were
        series_aug nj = ALL;
        nj.jitter = 0;
        series_aug_choice c4 = series_aug_choose(&nj, k);
        ck_assert(c4.jitter == 0 && c4.scaling == c1.scaling && c4.slice == c1.slice &&
                  c4.warp == c1.warp && c4.slice_start == c1.slice_start &&
                  c4.warp_start == c1.warp_start && c4.warp_speed == c1.warp_speed);
    }
    ck_assert_int_ge(differs, 18);
    // everything off: the identity, whatever the key
    series_aug none = {0};
    series_aug_choice z = series_aug_choose(&none, ssm_augment_key(1, 1, 1));
    ck_assert(!z.jitter && !z.scaling && !z.slice && !z.warp);
    fill(a, N, V);
    fill(b, N, V);
    series_aug_apply(a, N, V, &none, &z, work);
    ck_assert(memcmp(a, b, sizeof a) == 0);
}
END_TEST

START_TEST(each_applies_half_the_time) {
    int on[4] = {0};
    const int K = 4000;
    for (int i = 0; i < K; i++) {
        series_aug_choice c = series_aug_choose(&ALL, ssm_augment_key(9, 0, i));
        on[0] += c.jitter, on[1] += c.scaling, on[2] += c.slice, on[3] += c.warp;
        ck_assert(c.warp_speed == 0.5 || c.warp_speed == 2);
        ck_assert(c.slice_start >= 0 && c.slice_start < 1 && c.warp_start >= 0 &&
                  c.warp_start < 1);
    }
    for (int j = 0; j < 4; j++) // binomial(4000, 1/2): sd 32
        ck_assert_msg(abs(on[j] - K / 2) < 160, "augmentation %d on %d of %d", j, on[j], K);
}
END_TEST

START_TEST(slice_of_a_ramp) {
    enum { N = 101 };
    real x[N], work[3 * N];
    for (int t = 0; t < N; t++)
        x[t] = (real)t;
    series_aug a = {.window_slice = 0.9};
    series_aug_choice c = {.slice = 1, .slice_start = 0.5};
    series_aug_apply(x, N, 1, &a, &c, work);
    // a window of round(90.9) = 91 values starting at floor(0.5 * 11) = 5: 5..95 stretched
    const double k = 91, s0 = 5;
    for (int t = 0; t < N; t++)
        ck_assert_msg(fabs(x[t] - (s0 + t * (k - 1) / (N - 1))) < 1e-4, "t %d: %g", t,
                      (double)x[t]);
}
END_TEST

START_TEST(warp_keeps_ends_and_order) {
    enum { N = 200 };
    real x[N], work[3 * N];
    for (double sp = 0.5; sp <= 2; sp *= 4) {
        for (int t = 0; t < N; t++)
            x[t] = (real)(t * t);
        series_aug a = {.window_warp = 0.1};
        series_aug_choice c = {.warp = 1, .warp_start = 0.3, .warp_speed = sp};
        series_aug_apply(x, N, 1, &a, &c, work);
        ck_assert(fabs(x[0]) < 1e-6 && fabs(x[N - 1] - (N - 1) * (N - 1)) < 1e-2);
        int changed = 0;
        for (int t = 1; t < N; t++) {
            ck_assert_msg(x[t] >= x[t - 1], "speed %g: not increasing at %d", sp, t);
            changed += fabs(x[t] - (real)(t * t)) > 1;
        }
        ck_assert_int_gt(changed, 10); // the warp moved the values around the window
    }
}
END_TEST

START_TEST(scaling_and_jitter) {
    enum { N = 20000, V = 2 };
    real *x = malloc(sizeof(real) * N * V), *y = malloc(sizeof(real) * N * V), work[1];
    fill(x, N, V);
    memcpy(y, x, sizeof(real) * N * V);
    series_aug a = {.scaling = 0.1};
    series_aug_choice c = {.key = 77, .scaling = 1};
    series_aug_apply(y, N, V, &a, &c, work);
    for (int v = 0; v < V; v++) {
        double f = y[(N - 1) * V + v] / x[(N - 1) * V + v];
        ck_assert(fabs(f - 1) < 0.6); // 6 sigma
        for (int t = 1; t < N; t += 997)
            ck_assert(fabs(y[t * V + v] - f * x[t * V + v]) < 1e-4 * (1 + fabs(x[t * V + v])));
    }
    memcpy(y, x, sizeof(real) * N * V);
    series_aug j = {.jitter = 0.03};
    series_aug_choice cj = {.key = 78, .jitter = 1};
    series_aug_apply(y, N, V, &j, &cj, work);
    double m = 0, s2 = 0;
    for (int i = 0; i < N * V; i++) {
        double d = y[i] - x[i];
        m += d;
        s2 += d * d;
    }
    m /= N * V;
    double sd = sqrt(s2 / (N * V) - m * m);
    ck_assert_msg(fabs(m) < 0.002 && fabs(sd - 0.03) < 0.002, "noise mean %g sd %g", m, sd);
    free(x);
    free(y);
}
END_TEST

START_TEST(short_series_are_safe) {
    real x[3] = {1, 2, 3}, work[9];
    series_aug_choice c = series_aug_choose(&ALL, 12345);
    c.slice = c.warp = 1;
    series_aug_apply(x, 1, 3, &ALL, &c, work); // one step, 3 channels: slice and warp no-ops
    series_aug_apply(x, 3, 1, &ALL, &c, work);
    for (int i = 0; i < 3; i++)
        ck_assert(isfinite(x[i]));
}
END_TEST

START_TEST(znorm_and_resample) {
    enum { N = 50, V = 3 };
    real x[N * V];
    for (int t = 0; t < N; t++) {
        x[t * V] = (real)(3 + 2 * sin(t));
        x[t * V + 1] = 7; // constant: becomes 0
        x[t * V + 2] = (real)(t * t);
    }
    series_znorm(x, N, V);
    for (int v = 0; v < V; v++) {
        double m = 0, s = 0;
        for (int t = 0; t < N; t++)
            m += x[t * V + v];
        m /= N;
        for (int t = 0; t < N; t++)
            s += (x[t * V + v] - m) * (x[t * V + v] - m);
        s = sqrt(s / N);
        ck_assert(fabs(m) < 1e-5);
        ck_assert_msg(fabs(s - (v == 1 ? 0 : 1)) < 1e-4, "channel %d sd %g", v, s);
    }
    real in[5] = {0, 10, 20, 30, 40}, out[9], same[5];
    series_resample(out, 9, in, 5, 1);
    for (int t = 0; t < 9; t++)
        ck_assert(fabs(out[t] - 5 * t) < 1e-5);
    series_resample(same, 5, in, 5, 1);
    ck_assert(memcmp(same, in, sizeof in) == 0);
    real one;
    series_resample(&one, 1, in, 5, 1);
    ck_assert(one == 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("series_augment");
    TCase *tc = tcase_create("augment");
    tcase_add_test(tc, pure_functions_of_the_key);
    tcase_add_test(tc, each_applies_half_the_time);
    tcase_add_test(tc, slice_of_a_ramp);
    tcase_add_test(tc, warp_keeps_ends_and_order);
    tcase_add_test(tc, scaling_and_jitter);
    tcase_add_test(tc, short_series_are_safe);
    tcase_add_test(tc, znorm_and_resample);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
