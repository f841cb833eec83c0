// Check suite: the two readers `ssmkit predict` adds for series (tests/test_predict_series.c
// runs the command itself):
//   - datasets/series_stamps.h: the time column of a forecasting CSV read and extrapolated:
//     ETT's layout, the exchange-rate set's unpadded one, dates only, ISO 'T' / 'Z', leap
//     days and years, monthly and month-end calendar steps, an integer index; the future
//     stamps checked against libc's gmtime (another implementation of the calendar);
//     uneven or falling times and a cell of another layout refused naming the cell; names,
//     one row, fractional seconds and time zones are not time; past the year 9999 fails;
//   - datasets/series_plain.h: a plain CSV of one series (a header, blank lines, the row
//     form of a univariate series) and its refusals with file:line and the column.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets/series_plain.h"
#include "datasets/series_stamps.h"
#include "tests/series_fixture.h"

static void setup(void) { fx_init(); }
static void teardown(void) { fx_cleanup(); }

// Infers from cells and checks the next k stamps.
static void expect_next(const char *const *cells, int n, series_stamp_kind kind,
                        const char *const *next, int k) {
    series_stamps s;
    ssm_error e = {0};
    int64_t bad = 7;
    ck_assert_msg(series_stamps_infer(&s, cells, n, &bad, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(bad, -1);
    ck_assert_int_eq(s.kind, kind);
    for (int i = 0; i < k; i++) {
        char out[SERIES_STAMP_MAX];
        ck_assert_int_eq(series_stamps_format(&s, i + 1, out, sizeof out), 0);
        ck_assert_str_eq(out, next[i]);
    }
}

START_TEST(ett_layout) {
    const char *c[] = {"2016-07-01 00:00:00", "2016-07-01 01:00:00", "2016-07-01 02:00:00"};
    const char *n[] = {"2016-07-01 03:00:00", "2016-07-01 04:00:00"};
    expect_next(c, 3, SERIES_STAMP_TIME, n, 2);
    // across a day, a month, a leap day and a year, 15-minute steps (ETTm)
    const char *m[] = {"2016-02-28 23:30:00", "2016-02-28 23:45:00"};
    const char *mn[] = {"2016-02-29 00:00:00", "2016-02-29 00:15:00"};
    expect_next(m, 2, SERIES_STAMP_TIME, mn, 2);
    const char *y[] = {"2019-12-31 22:00:00", "2019-12-31 23:00:00"};
    const char *yn[] = {"2020-01-01 00:00:00"};
    expect_next(y, 2, SERIES_STAMP_TIME, yn, 1);
}
END_TEST

START_TEST(other_layouts) {
    // the exchange-rate set: slashes, month / day / hour of one digit where they fit
    const char *x[] = {"1990/1/8 0:00", "1990/1/9 0:00"};
    const char *xn[] = {"1990/1/10 0:00", "1990/1/11 0:00"};
    expect_next(x, 2, SERIES_STAMP_TIME, xn, 2);
    // dates only, dots; weekly
    const char *d[] = {"2002.01.01", "2002.01.08", "2002.01.15"};
    const char *dn[] = {"2002.01.22", "2002.01.29", "2002.02.05"};
    expect_next(d, 3, SERIES_STAMP_TIME, dn, 3);
    // ISO with T and Z, no seconds; 10-minute steps (the weather set's rate)
    const char *z[] = {"2020-12-31T23:40Z", "2020-12-31T23:50Z"};
    const char *zn[] = {"2021-01-01T00:00Z", "2021-01-01T00:10Z"};
    expect_next(z, 2, SERIES_STAMP_TIME, zn, 2);
    // before 1970, across the Gregorian leap rule of 1900 (not a leap year)
    const char *o[] = {"1900-02-27", "1900-02-28"};
    const char *on[] = {"1900-03-01"};
    expect_next(o, 2, SERIES_STAMP_TIME, on, 1);
}
END_TEST

START_TEST(calendar_steps) {
    // monthly: 31, 29, 31 days apart, one step of a month
    const char *m[] = {"2020-01-15 12:00", "2020-02-15 12:00", "2020-03-15 12:00"};
    const char *mn[] = {"2020-04-15 12:00", "2020-05-15 12:00"};
    expect_next(m, 3, SERIES_STAMP_TIME, mn, 2);
    // two rows a month apart are monthly, not 31 days
    const char *t[] = {"2021-01-01", "2021-02-01"};
    const char *tn[] = {"2021-03-01", "2021-04-01"};
    expect_next(t, 2, SERIES_STAMP_TIME, tn, 2);
    // month ends, quarterly
    const char *e[] = {"2019-08-31", "2019-11-30", "2020-02-29"};
    const char *en[] = {"2020-05-31", "2020-08-31", "2020-11-30", "2021-02-28"};
    expect_next(e, 3, SERIES_STAMP_TIME, en, 4);
    // yearly
    const char *y[] = {"1998-06-01", "1999-06-01"};
    const char *yn[] = {"2000-06-01"};
    expect_next(y, 2, SERIES_STAMP_TIME, yn, 1);
}
END_TEST

// Hourly stamps from several starting points, 2000 steps ahead, against gmtime_r.
START_TEST(agrees_with_libc) {
    const time_t starts[] = {0, 951782400 /* 2000-02-29 */, 1467331200 /* 2016-07-01 */,
                             4102358400 /* 2099-12-31 */, -2208988800 /* 1900-01-01 */};
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++) {
        char a[40], b[40], want[40];
        struct tm tm;
        time_t t0 = starts[i], t1 = t0 + 5400; // 90 minutes
        gmtime_r(&t0, &tm);
        strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S", &tm);
        gmtime_r(&t1, &tm);
        strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
        const char *cells[] = {a, b};
        series_stamps s;
        ssm_error e = {0};
        int64_t bad;
        ck_assert_msg(series_stamps_infer(&s, cells, 2, &bad, &e) == SSM_OK, "%s", e.msg);
        for (int64_t k = 1; k <= 2000; k += 37) {
            time_t tk = t1 + (time_t)k * 5400;
            gmtime_r(&tk, &tm);
            strftime(want, sizeof want, "%Y-%m-%d %H:%M:%S", &tm);
            char got[SERIES_STAMP_MAX];
            ck_assert_int_eq(series_stamps_format(&s, k, got, sizeof got), 0);
            ck_assert_str_eq(got, want);
        }
    }
}
END_TEST

START_TEST(index_and_not_time) {
    const char *i[] = {"100", "105", "110"};
    const char *in[] = {"115", "120"};
    expect_next(i, 3, SERIES_STAMP_INDEX, in, 2);
    const char *neg[] = {"-3", "-1"};
    const char *negn[] = {"1"};
    expect_next(neg, 2, SERIES_STAMP_INDEX, negn, 1);
    // not time: names, uneven integers, fractional seconds, an offset, one row, bad dates
    const char *const nots[][3] = {{"d0", "d1", "d2"},
                                   {"1", "2", "4"},
                                   {"3", "2", "1"},
                                   {"2020-01-01 00:00:00", "x", "2020-01-01 00:00:00.5"},
                                   {"a", "b", "2020-01-01 00:00+01:00"},
                                   {"a", "b", "2020-02-30"},
                                   {"a", "b", "2020-1-1 25:00"},
                                   {"a", "b", "20-01-01"}};
    for (size_t k = 0; k < sizeof nots / sizeof *nots; k++) {
        series_stamps s;
        ssm_error e = {0};
        int64_t bad;
        ck_assert_msg(series_stamps_infer(&s, nots[k], 3, &bad, &e) == SSM_OK, "%zu: %s", k,
                      e.msg);
        ck_assert_msg(s.kind == SERIES_STAMP_NONE, "case %zu: kind %d", k, (int)s.kind);
    }
    const char *one[] = {"2020-01-01"};
    series_stamps s;
    ssm_error e = {0};
    int64_t bad;
    ck_assert_int_eq(series_stamps_infer(&s, one, 1, &bad, &e), SSM_OK);
    ck_assert_int_eq(s.kind, SERIES_STAMP_NONE);
    char out[SERIES_STAMP_MAX];
    ck_assert_int_eq(series_stamps_format(&s, 1, out, sizeof out), -1);
}
END_TEST

START_TEST(uneven_times_refused) {
    series_stamps s;
    ssm_error e = {0};
    int64_t bad;
    // a missing row: cell 2 is 2 hours after cell 1, the last step is 1 hour
    const char *gap[] = {"2016-07-01 00:00:00", "2016-07-01 01:00:00", "2016-07-01 03:00:00",
                         "2016-07-01 04:00:00"};
    ck_assert_int_eq(series_stamps_infer(&s, gap, 4, &bad, &e), SSM_EDATA);
    ck_assert_int_eq(bad, 2);
    ck_assert_msg(strstr(e.msg, "'2016-07-01 03:00:00' follows '2016-07-01 01:00:00' by 7200 s"),
                  "%s", e.msg);
    // a repeated row, and a row out of order
    const char *rep[] = {"2016-07-01 00:00", "2016-07-01 01:00", "2016-07-01 01:00"};
    ck_assert_int_eq(series_stamps_infer(&s, rep, 3, &bad, &e), SSM_EDATA);
    ck_assert_int_eq(bad, 2);
    ck_assert_msg(strstr(e.msg, "not later"), "%s", e.msg);
    // another layout in the window
    const char *mix[] = {"2016-07-01", "2016-07-02 00:00:00", "2016-07-03 00:00:00"};
    ck_assert_int_eq(series_stamps_infer(&s, mix, 3, &bad, &e), SSM_EDATA);
    ck_assert_int_eq(bad, 0);
    ck_assert_msg(strstr(e.msg, "not a timestamp of the last row's layout"), "%s", e.msg);
    const char *junk[] = {"2016-07-01", "n/a", "2016-07-03"};
    ck_assert_int_eq(series_stamps_infer(&s, junk, 3, &bad, &e), SSM_EDATA);
    ck_assert_int_eq(bad, 1);
}
END_TEST

START_TEST(past_year_9999) {
    const char *c[] = {"9999-12-31 22:00:00", "9999-12-31 23:00:00"};
    series_stamps s;
    ssm_error e = {0};
    int64_t bad;
    ck_assert_int_eq(series_stamps_infer(&s, c, 2, &bad, &e), SSM_OK);
    char out[SERIES_STAMP_MAX];
    ck_assert_int_eq(series_stamps_format(&s, 1, out, sizeof out), -1);
    const char *m[] = {"9999-10-01", "9999-11-01"};
    ck_assert_int_eq(series_stamps_infer(&s, m, 2, &bad, &e), SSM_OK);
    ck_assert_int_eq(series_stamps_format(&s, 1, out, sizeof out), 0);
    ck_assert_str_eq(out, "9999-12-01");
    ck_assert_int_eq(series_stamps_format(&s, 2, out, sizeof out), -1);
    ck_assert_int_eq(series_stamps_format(&s, INT64_MAX, out, sizeof out), -1);
    const char *i[] = {"9223372036854775", "9223372036854776"};
    ck_assert_int_eq(series_stamps_infer(&s, i, 2, &bad, &e), SSM_OK);
    ck_assert_int_eq(s.kind, SERIES_STAMP_INDEX);
    ck_assert_int_eq(series_stamps_format(&s, INT64_MAX - 5, out, sizeof out), -1);
}
END_TEST

// ---- plain CSV series -----------------------------------------------------------------

static ssm_code read_plain(const char *text, int64_t dims, real **x, int64_t *len, ssm_error *e) {
    char path[600];
    fx_write(path, sizeof path, "s.csv", text, SIZE_MAX);
    return series_plain_read(x, len, path, dims, e);
}

START_TEST(plain_series) {
    real *x;
    int64_t len;
    ssm_error e = {0};
    // a header, CRLF, blank lines, spaces
    ck_assert_msg(read_plain("x, y\r\n1, 2\r\n\r\n3,4.5e0\n -5 ,6\n\n", 2, &x, &len, &e) == SSM_OK,
                  "%s", e.msg);
    ck_assert_int_eq(len, 3);
    const real want[] = {1, 2, 3, 4.5f, -5, 6};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(x[i], want[i]);
    free(x);
    // univariate: a column, or one row
    ck_assert_int_eq(read_plain("value\n1\n2\n3\n", 1, &x, &len, &e), SSM_OK);
    ck_assert_int_eq(len, 3);
    ck_assert_float_eq(x[2], 3);
    free(x);
    ck_assert_int_eq(read_plain("0.5,1.5,2.5,3.5\n", 1, &x, &len, &e), SSM_OK);
    ck_assert_int_eq(len, 4);
    ck_assert_float_eq(x[3], 3.5f);
    free(x);
}
END_TEST

START_TEST(plain_refusals) {
    real *x;
    int64_t len;
    ssm_error e = {0};
    ck_assert_int_eq(read_plain("a,b\n1,2\n3,oops\n", 2, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "s.csv:3: column 2: expected a finite number, found 'oops'"), "%s",
                  e.msg);
    ck_assert_int_eq(read_plain("1,2\n3\n", 2, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "s.csv:2: 1 value(s); expected 2"), "%s", e.msg);
    ck_assert_int_eq(read_plain("1,2\n3,nan\n", 2, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "s.csv:2: column 2") && strstr(e.msg, "NaN"), "%s", e.msg);
    ck_assert_int_eq(read_plain("1,2\n3,\n", 2, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "empty cell"), "%s", e.msg);
    ck_assert_int_eq(read_plain("1,2\n3,1e39\n", 2, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "float range"), "%s", e.msg);
    ck_assert_int_eq(read_plain("a,b\n\n", 2, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "no values after the header"), "%s", e.msg);
    ck_assert_int_eq(read_plain("", 1, &x, &len, &e), SSM_EDATA);
    // a row of 3 for a 1-channel model over several lines is not the row form
    ck_assert_int_eq(read_plain("1\n2,3\n", 1, &x, &len, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "s.csv:2: 2 value(s); expected 1"), "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict_series_parse");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ett_layout);
    tcase_add_test(tc, other_layouts);
    tcase_add_test(tc, calendar_steps);
    tcase_add_test(tc, agrees_with_libc);
    tcase_add_test(tc, index_and_not_time);
    tcase_add_test(tc, uneven_times_refused);
    tcase_add_test(tc, past_year_9999);
    tcase_add_test(tc, plain_series);
    tcase_add_test(tc, plain_refusals);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    (void)fx_hammer_mutate;
    return failed ? 1 : 0;
}
