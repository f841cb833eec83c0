// Check suite: calendar features (datasets/series_time.h) and their place in the forecasting
// windows (datasets/series_split.h, series_opts.time_features):
//   - dates in every accepted form parse to the same fields; malformed and impossible dates
//     (month 13, 29 February of a non-leap year, hour 24, trailing text) are refused with the
//     text and the form expected;
//   - the four features against values worked out by hand from a calendar (weekday with
//     Monday = 0, day of year in leap and common years), and against the reference's
//     formulas over every hour of two years (weekday advancing by one each midnight);
//   - windows with time features: x [lookback, 4 + variates] with each row's features first,
//     the variates unchanged, the features never scaled; y unchanged;
//   - a file whose date does not parse fails naming the CSV line and the column;
//   - the real ETTh1 file (${SSMKIT_DATA}/ETT-small/ETTh1.csv, skipped if absent): its first
//     row, 2016-07-01 00:00:00, a Friday, day 183 of a leap year.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/series_split.h"
#include "datasets/series_time.h"
#include "tests/series_fixture.h"

static void parse_ok(const char *text, int y, int mo, int d, int h, int mi, int s) {
    series_date dt;
    ssm_error e = {0};
    ck_assert_msg(series_date_parse(&dt, text, &e) == SSM_OK, "'%s': %s", text, e.msg);
    ck_assert_msg(dt.year == y && dt.month == mo && dt.day == d && dt.hour == h &&
                      dt.minute == mi && dt.second == s,
                  "'%s' -> %d-%d-%d %d:%d:%d", text, dt.year, dt.month, dt.day, dt.hour,
                  dt.minute, dt.second);
}

START_TEST(date_forms) {
    parse_ok("2016-07-01 00:00:00", 2016, 7, 1, 0, 0, 0);
    parse_ok("2016-07-01", 2016, 7, 1, 0, 0, 0);
    parse_ok("2016-07-01 13:45", 2016, 7, 1, 13, 45, 0);
    parse_ok("2016-07-01T23:59:59", 2016, 7, 1, 23, 59, 59);
    parse_ok("2016/7/1 5:00:00", 2016, 7, 1, 5, 0, 0);
    parse_ok("2020-02-29 12:00:00.250000", 2020, 2, 29, 12, 0, 0);
    parse_ok("2000-02-29", 2000, 2, 29, 0, 0, 0); // divisible by 400: leap
}
END_TEST

START_TEST(date_refusals) {
    static const char *bad[] = {"",          "d0",           "2016-13-01",     "2016-00-10",
                                "2017-02-29", "1900-02-29",  "2016-04-31",     "2016-07-01 24:00",
                                "2016-07-01 10:60", "2016-07-01 10", "2016-07-01 10:00:61",
                                "2016-07-01x", "2016-07-01 10:00:00 UTC", "2016-07/01",
                                "16-07-01 00:00", "2016-07-01 10:00:00.", NULL};
    for (int i = 0; bad[i]; i++) {
        series_date dt;
        ssm_error e = {0};
        ck_assert_msg(series_date_parse(&dt, bad[i], &e) == SSM_EDATA, "'%s' was accepted", bad[i]);
        ck_assert_msg(strstr(e.msg, "expected YYYY-MM-DD") != NULL, "'%s': %s", bad[i], e.msg);
    }
    // a very long text is shown cut
    char longer[200];
    memset(longer, '7', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    series_date dt;
    ssm_error e = {0};
    ck_assert_int_eq(series_date_parse(&dt, longer, &e), SSM_EDATA);
    ck_assert_ptr_nonnull(strstr(e.msg, "..."));
}
END_TEST

static void features_of(double *f, const char *text) {
    series_date dt;
    ssm_error e = {0};
    ck_assert_msg(series_date_parse(&dt, text, &e) == SSM_OK, "%s", e.msg);
    series_time_features(f, &dt);
}

START_TEST(features_by_hand) {
    double f[SERIES_TIME_FEATURES];
    // Friday 1 July 2016, 00:00; 2016 is a leap year: 31+29+31+30+31+30 = 182 days before July
    features_of(f, "2016-07-01 00:00:00");
    ck_assert_double_eq_tol(f[0], -0.5, 1e-15);
    ck_assert_double_eq_tol(f[1], 4 / 6.0 - 0.5, 1e-15);
    ck_assert_double_eq_tol(f[2], -0.5, 1e-15);
    ck_assert_double_eq_tol(f[3], 182 / 365.0 - 0.5, 1e-15);
    // Monday 26 June 2017, 23:00 (a common year: 31+28+31+30+31 = 151 days before June)
    features_of(f, "2017-06-26 23:00:00");
    ck_assert_double_eq_tol(f[0], 0.5, 1e-15);
    ck_assert_double_eq_tol(f[1], -0.5, 1e-15);
    ck_assert_double_eq_tol(f[2], 25 / 30.0 - 0.5, 1e-15);
    ck_assert_double_eq_tol(f[3], (151 + 26 - 1) / 365.0 - 0.5, 1e-15);
    // Sunday 31 December 2000 (leap: day 366)
    features_of(f, "2000-12-31 12:00");
    ck_assert_double_eq_tol(f[0], 12 / 23.0 - 0.5, 1e-15);
    ck_assert_double_eq_tol(f[1], 0.5, 1e-15);
    ck_assert_double_eq_tol(f[2], 0.5, 1e-15);
    ck_assert_double_eq_tol(f[3], 0.5, 1e-15); // (366 - 1) / 365 - 0.5
    // Thursday 1 January 1970; Saturday 1 January 1600 (before the epoch)
    features_of(f, "1970-01-01");
    ck_assert_double_eq_tol(f[1], 3 / 6.0 - 0.5, 1e-15);
    features_of(f, "1600-01-01");
    ck_assert_double_eq_tol(f[1], 5 / 6.0 - 0.5, 1e-15);
}
END_TEST

// Every hour of 2019 and 2020: the hour cycles, the weekday steps by one at each midnight
// (mod 7), the day of month and of year count up and restart.
START_TEST(features_over_two_years) {
    int wd = 1, doy = 1; // 1 January 2019 was a Tuesday
    static const int mdays[2][12] = {{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31},
                                     {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}};
    for (int y = 2019; y <= 2020; y++, doy = 1)
        for (int m = 1; m <= 12; m++)
            for (int d = 1; d <= mdays[y == 2020][m - 1]; d++, doy++, wd = (wd + 1) % 7)
                for (int h = 0; h < 24; h += 5) {
                    char text[64];
                    snprintf(text, sizeof text, "%04d-%02d-%02d %02d:00:00", y, m, d, h);
                    double f[SERIES_TIME_FEATURES];
                    features_of(f, text);
                    ck_assert_double_eq_tol(f[0], h / 23.0 - 0.5, 1e-15);
                    ck_assert_msg(fabs(f[1] - (wd / 6.0 - 0.5)) < 1e-15, "%s: weekday", text);
                    ck_assert_double_eq_tol(f[2], (d - 1) / 30.0 - 0.5, 1e-15);
                    ck_assert_double_eq_tol(f[3], (doy - 1) / 365.0 - 0.5, 1e-15);
                    for (int k = 0; k < SERIES_TIME_FEATURES; k++)
                        ck_assert(f[k] >= -0.5 && f[k] <= 0.5);
                }
}
END_TEST

// An hourly file of `rows` rows from 2021-03-01 00:00, 2 variates + OT.
static void write_hourly(char *path, size_t cap, int rows, const char *bad_date_at_row) {
    char *buf = malloc((size_t)rows * 80 + 64);
    size_t n = (size_t)sprintf(buf, "date,a,b,OT\n");
    for (int r = 0; r < rows; r++) {
        int day = r / 24, hour = r % 24; // March has 31 days, April 30: rows < 61 days
        int month = day < 31 ? 3 : 4, mday = day < 31 ? day + 1 : day - 30;
        if (bad_date_at_row && r == 17)
            n += (size_t)sprintf(buf + n, "%s", bad_date_at_row);
        else
            n += (size_t)sprintf(buf + n, "2021-%02d-%02d %02d:00:00", month, mday, hour);
        n += (size_t)sprintf(buf + n, ",%.4f,%.4f,%.4f\n", sin(r / 5.0), r / 100.0,
                             cos(r / 9.0) * 3 + 10);
    }
    fx_write(path, cap, "hourly.csv", buf, n);
    free(buf);
}

START_TEST(windows_with_time_features) {
    fx_init();
    char p[512];
    write_hourly(p, sizeof p, 300, NULL);
    series_opts o = {.layout = SERIES_CUSTOM, .mode = SERIES_M, .lookback = 24, .horizon = 12,
                     .scale = 1};
    series_dataset plain, timed;
    ssm_error e = {0};
    ck_assert_msg(series_dataset_load(&plain, p, &o, &e) == SSM_OK, "%s", e.msg);
    o.time_features = 1;
    ck_assert_msg(series_dataset_load(&timed, p, &o, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(plain.time_feats, 0);
    ck_assert_int_eq(plain.x_vars, 3);
    ck_assert_int_eq(timed.time_feats, SERIES_TIME_FEATURES);
    ck_assert_int_eq(timed.x_vars, SERIES_TIME_FEATURES + 3);
    ck_assert_int_eq(timed.in_vars, 3);
    for (int s = 0; s < 3; s++) {
        series_split sp, st;
        ck_assert_int_eq(series_split_get(&sp, &plain, (series_split_id)s, &e), SSM_OK);
        ck_assert_int_eq(series_split_get(&st, &timed, (series_split_id)s, &e), SSM_OK);
        ck_assert_int_eq(sp.count, st.count);
        const int64_t idx[2] = {0, sp.count - 1};
        real xp[2 * 24 * 3], yp[2 * 12 * 3], xt[2 * 24 * 7], yt[2 * 12 * 3];
        ck_assert_int_eq(series_batch(xp, yp, &sp, idx, 2, &e), SSM_OK);
        ck_assert_int_eq(series_batch(xt, yt, &st, idx, 2, &e), SSM_OK);
        ck_assert(memcmp(yp, yt, sizeof yp) == 0);
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 24; t++) {
                const int64_t row = sp.begin + idx[b] + t;
                const real *r = xt + (b * 24 + t) * 7;
                ck_assert(memcmp(r + 4, xp + (b * 24 + t) * 3, 3 * sizeof(real)) == 0);
                ck_assert_double_eq_tol(r[0], (row % 24) / 23.0 - 0.5, 1e-6);
                const int day = (int)(row / 24); // 1 March 2021 was a Monday
                ck_assert_double_eq_tol(r[1], (day % 7) / 6.0 - 0.5, 1e-6);
                ck_assert_double_eq_tol(r[2], ((day < 31 ? day : day - 31)) / 30.0 - 0.5, 1e-6);
                ck_assert_double_eq_tol(r[3], (31 + 28 + day) / 365.0 - 0.5, 1e-6);
            }
    }
    series_dataset_free(&plain);
    series_dataset_free(&timed);
    fx_cleanup();
}
END_TEST

START_TEST(bad_date_names_the_line) {
    fx_init();
    char p[512];
    write_hourly(p, sizeof p, 300, "2021-03-01 25:00:00");
    series_opts o = {.layout = SERIES_CUSTOM, .mode = SERIES_M, .lookback = 24, .horizon = 12,
                     .scale = 1, .time_features = 1};
    series_dataset d;
    ssm_error e = {0};
    ck_assert_int_eq(series_dataset_load(&d, p, &o, &e), SSM_EDATA);
    // row 17 is line 19 (the header is line 1)
    ck_assert_msg(strstr(e.msg, "hourly.csv: line 19, column 'date': date '2021-03-01 25:00:00'"),
                  "%s", e.msg);
    // without time features the dates are not read: the same file loads
    o.time_features = 0;
    ck_assert_msg(series_dataset_load(&d, p, &o, &e) == SSM_OK, "%s", e.msg);
    series_dataset_free(&d);
    fx_cleanup();
}
END_TEST

START_TEST(real_etth1_first_row) {
    const char *dir = getenv("SSMKIT_DATA");
    char p[600];
    snprintf(p, sizeof p, "%s/ETT-small/ETTh1.csv", dir && *dir ? dir : "../shared/data");
    if (access(p, R_OK) != 0) {
        fprintf(stderr, "real_etth1_first_row: skipped: %s not found (set SSMKIT_DATA)\n", p);
        return;
    }
    series_opts o = {.layout = SERIES_ETTH, .mode = SERIES_M, .lookback = 96, .horizon = 96,
                     .scale = 1, .time_features = 1};
    series_dataset d;
    ssm_error e = {0};
    ck_assert_msg(series_dataset_load(&d, p, &o, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.x_vars, 11);
    ck_assert_double_eq_tol(d.marks[0], -0.5, 1e-15);
    ck_assert_double_eq_tol(d.marks[1], 4 / 6.0 - 0.5, 1e-15);
    ck_assert_double_eq_tol(d.marks[2], -0.5, 1e-15);
    ck_assert_double_eq_tol(d.marks[3], 182 / 365.0 - 0.5, 1e-15);
    // a day later, 2016-07-02 00:00:00 (row 24), a Saturday
    ck_assert_double_eq_tol(d.marks[24 * 4 + 1], 5 / 6.0 - 0.5, 1e-15);
    series_dataset_free(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("series_time");
    TCase *tc = tcase_create("series_time");
    tcase_add_test(tc, date_forms);
    tcase_add_test(tc, date_refusals);
    tcase_add_test(tc, features_by_hand);
    tcase_add_test(tc, features_over_two_years);
    tcase_add_test(tc, windows_with_time_features);
    tcase_add_test(tc, bad_date_names_the_line);
    tcase_add_test(tc, real_etth1_first_row);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
