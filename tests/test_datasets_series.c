// Check suite: forecasting CSV reader (datasets/series_csv.h) and the reference
// splits, scaler and windows (datasets/series_split.h). Fixtures are generated
// into a temp directory; expected borders and statistics are computed here from
// the formulas of the reference code, never taken from the code under test.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_csv.h"
#include "datasets/series_split.h"
#include "tests/series_fixture.h"
#include "tests/util/suite.h"

// The generated series: value of row r, variate c, written with %.17g so that
// the reader must give back exactly this double.
static double gen(int64_t r, int64_t c) {
    return sin(0.013 * (double)r * (double)(c + 1)) * (double)(c + 1) + 0.001 * (double)(c * r % 97);
}

// A CSV of `rows` rows with a date column and the named variates, values gen().
static void write_series(char *path, size_t cap, const char *file, int64_t rows,
                         const char *const *names, int64_t vars) {
    fx_path(path, cap, file);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "date");
    for (int64_t c = 0; c < vars; c++)
        fprintf(f, ",%s", names[c]);
    fprintf(f, "\n");
    for (int64_t r = 0; r < rows; r++) {
        fprintf(f, "2016-07-01 %02lld:00:00", (long long)(r % 24));
        for (int64_t c = 0; c < vars; c++)
            fprintf(f, ",%.17g", gen(r, c));
        fprintf(f, "\n");
    }
    ck_assert_int_eq(fclose(f), 0);
}

static const char *const ETT_NAMES[] = {"HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"};

START_TEST(csv_reads_values_names_and_dates) {
    char p[512];
    fx_write(p, sizeof p, "small.csv",
             "date,a,\"b \"\"x\"\"\",OT\r\n"
             "2020-01-01 00:00,1.5,-2,3e2\r\n"
             "\"2020-01-01 01:00\", 0.25 ,+4.,\"-.5\"\r\n"
             "\n\n",
             SIZE_MAX);
    series_table t;
    ssm_error e = {0};
    ck_assert_int_eq(series_csv_read(&t, p, &e), SSM_OK);
    ck_assert_int_eq(t.rows, 2);
    ck_assert_int_eq(t.vars, 3);
    ck_assert_str_eq(t.date_name, "date");
    ck_assert_str_eq(t.names[0], "a");
    ck_assert_str_eq(t.names[1], "b \"x\"");
    ck_assert_str_eq(t.names[2], "OT");
    ck_assert_str_eq(t.dates[0], "2020-01-01 00:00");
    ck_assert_str_eq(t.dates[1], "2020-01-01 01:00");
    const double want[6] = {1.5, -2, 300, 0.25, 4, -0.5};
    for (int i = 0; i < 6; i++)
        ck_assert(t.values[i] == want[i]);
    ck_assert_int_eq(series_table_find(&t, "OT"), 2);
    ck_assert_int_eq(series_table_find(&t, "date"), -1);
    series_table_free(&t);
}
END_TEST

// Writes `body`, reads it, and expects `code` with a message naming the file,
// the line tag (e.g. ":3:") and the text `needle`.
static void expect_csv_error(const char *name, const char *body, size_t n, ssm_code code,
                             const char *line_tag, const char *needle) {
    char p[512];
    fx_write(p, sizeof p, name, body, n);
    series_table t;
    ssm_error e = {0};
    ssm_code rc = series_csv_read(&t, p, &e);
    ck_assert_msg(rc == code, "%s: code %d, expected %d (%s)", name, rc, code, e.msg);
    ck_assert_msg(strstr(e.msg, p) != NULL, "%s: message lacks the path: %s", name, e.msg);
    ck_assert_msg(strstr(e.msg, line_tag) != NULL, "%s: message lacks '%s': %s", name, line_tag,
                  e.msg);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "%s: message lacks '%s': %s", name, needle, e.msg);
    ck_assert_ptr_null(t.values); // nothing half-built is handed back
}

START_TEST(csv_malformed_files_name_file_line_and_column) {
    const char *H = "date,a,b\n";
    char buf[256];
    snprintf(buf, sizeof buf, "%s2020,1,2\n2020,3\n", H);
    expect_csv_error("ragged.csv", buf, SIZE_MAX, SSM_EFORMAT, ":3:", "2 fields; expected 3");
    snprintf(buf, sizeof buf, "%s2020,1,2\n2020,3,4,5\n", H);
    expect_csv_error("ragged2.csv", buf, SIZE_MAX, SSM_EFORMAT, ":3:", "4 fields; expected 3");
    snprintf(buf, sizeof buf, "%s2020,1,2\n2020,1,2\n2020,x1,2\n", H);
    expect_csv_error("nonnum.csv", buf, SIZE_MAX, SSM_EDATA, ":4:", "column 2 ('a')");
    snprintf(buf, sizeof buf, "%s2020,1,abc\n", H);
    expect_csv_error("nonnum2.csv", buf, SIZE_MAX, SSM_EDATA, ":2:", "found 'abc'");
    snprintf(buf, sizeof buf, "%s2020,1,2\n2020,NaN,2\n", H);
    expect_csv_error("nan.csv", buf, SIZE_MAX, SSM_EDATA, ":3:", "NaN is not allowed");
    snprintf(buf, sizeof buf, "%s2020,1,-inf\n", H);
    expect_csv_error("inf.csv", buf, SIZE_MAX, SSM_EDATA, ":2:", "not finite");
    snprintf(buf, sizeof buf, "%s2020,1,1e999\n", H);
    expect_csv_error("overflow.csv", buf, SIZE_MAX, SSM_EDATA, ":2:", "column 3 ('b')");
    snprintf(buf, sizeof buf, "%s2020,1,\n", H);
    expect_csv_error("emptycell.csv", buf, SIZE_MAX, SSM_EDATA, ":2:", "empty cell");
    snprintf(buf, sizeof buf, "%s2020,0x10,1\n", H);
    expect_csv_error("hex.csv", buf, SIZE_MAX, SSM_EDATA, ":2:", "expected a finite number");
    expect_csv_error("empty.csv", "", 0, SSM_EFORMAT, ":1:", "empty file");
    expect_csv_error("blank.csv", "\n \n", SIZE_MAX, SSM_EFORMAT, ":1:", "empty file");
    expect_csv_error("header_only.csv", H, SIZE_MAX, SSM_EFORMAT, ":2:", "no data rows");
    expect_csv_error("no_header.csv", "2020-01-01,1.5,2\n2020-01-02,1,2\n", SIZE_MAX,
                     SSM_EFORMAT, ":1:", "header line missing");
    expect_csv_error("dup.csv", "date,a,b,a\n2020,1,2,3\n", SIZE_MAX, SSM_EFORMAT, ":1:",
                     "duplicate column name 'a' (also column 2)");
    expect_csv_error("dupdate.csv", "date,date\n2020,1\n", SIZE_MAX, SSM_EFORMAT, ":1:",
                     "duplicate column name 'date'");
    expect_csv_error("onecol.csv", "date\n2020\n", SIZE_MAX, SSM_EFORMAT, ":1:", "1 column");
    expect_csv_error("emptyname.csv", "date,,b\n2020,1,2\n", SIZE_MAX, SSM_EFORMAT, ":1:",
                     "empty column name");
    snprintf(buf, sizeof buf, "%s2020,1,2\n\n2020,1,2\n", H);
    expect_csv_error("midblank.csv", buf, SIZE_MAX, SSM_EFORMAT, ":3:", "empty line");
    snprintf(buf, sizeof buf, "%s2020,\"1,2\n", H);
    expect_csv_error("quote.csv", buf, SIZE_MAX, SSM_EFORMAT, ":2:", "unterminated quote");
    snprintf(buf, sizeof buf, "%s,1,2\n", H);
    expect_csv_error("nodate.csv", buf, SIZE_MAX, SSM_EFORMAT, ":2:", "expected a timestamp");
    snprintf(buf, sizeof buf, "%s2020,1,2\n2020,1", H);
    size_t n = strlen(buf);
    buf[n - 1] = '\0'; // a NUL byte in the last line
    expect_csv_error("nul.csv", buf, n, SSM_EFORMAT, ":3:", "NUL byte");

    series_table t;
    ssm_error e = {0};
    char p[512];
    fx_path(p, sizeof p, "does_not_exist.csv");
    ck_assert_int_eq(series_csv_read(&t, p, &e), SSM_EIO);
    ck_assert(strstr(e.msg, p) != NULL);
}
END_TEST

START_TEST(etth_borders_scaler_and_windows) {
    char p[512];
    const int64_t rows = 17420, V = 7, lb = 96, h = 96;
    write_series(p, sizeof p, "ETTh1.csv", rows, ETT_NAMES, V);
    series_dataset d;
    ssm_error e = {0};
    series_opts o = {.layout = series_layout_from_path(p), .mode = SERIES_M, .lookback = lb,
                     .horizon = h, .scale = 1};
    ck_assert_int_eq(o.layout, SERIES_ETTH);
    ck_assert_msg(series_dataset_load(&d, p, &o, &e) == SSM_OK, "%s", e.msg);
    // 12 months train, 4 val, 4 test; 30-day months of 24 hours
    const int64_t b1[3] = {0, 8640 - 96, 11520 - 96}, b2[3] = {8640, 11520, 14400};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(d.border1[k], b1[k]);
        ck_assert_int_eq(d.border2[k], b2[k]);
    }
    ck_assert_int_eq(d.rows, rows);
    ck_assert_int_eq(d.vars, V);
    ck_assert_int_eq(d.in_vars, V);
    ck_assert_int_eq(d.out_vars, V);
    // scaler: the training rows only, population std
    double mean[7], sd[7];
    for (int64_t c = 0; c < V; c++) {
        double s = 0, ss = 0;
        for (int64_t r = 0; r < 8640; r++)
            s += gen(r, c);
        mean[c] = s / 8640;
        for (int64_t r = 0; r < 8640; r++)
            ss += (gen(r, c) - mean[c]) * (gen(r, c) - mean[c]);
        sd[c] = sqrt(ss / 8640);
        ck_assert_double_eq_tol(d.mean[c], mean[c], 1e-12);
        ck_assert_double_eq_tol(d.std[c], sd[c], 1e-12 * sd[c]);
        ck_assert_str_eq(d.names[c], ETT_NAMES[c]);
    }
    // window counts: len(split) - lookback - horizon + 1
    const int64_t want_count[3] = {8640 - 96 - 96 + 1, 2880 + 96 - 96 - 96 + 1,
                                   2880 + 96 - 96 - 96 + 1};
    real *x = malloc(sizeof(real) * lb * V), *y = malloc(sizeof(real) * h * V);
    for (int k = 0; k < 3; k++) {
        series_split s;
        ck_assert_int_eq(series_split_get(&s, &d, (series_split_id)k, &e), SSM_OK);
        ck_assert_int_eq(s.count, want_count[k]);
        // first and last windows: x starts at border1 + i, y right after x
        int64_t is[2] = {0, s.count - 1};
        for (int j = 0; j < 2; j++) {
            ck_assert_int_eq(series_window(x, y, &s, is[j], &e), SSM_OK);
            const int64_t r = b1[k] + is[j];
            for (int64_t t = 0; t < lb; t += 19)
                for (int64_t c = 0; c < V; c++)
                    ck_assert_double_eq_tol(x[t * V + c], (gen(r + t, c) - mean[c]) / sd[c], 1e-5);
            for (int64_t t = 0; t < h; t += 13)
                for (int64_t c = 0; c < V; c++)
                    ck_assert_double_eq_tol(y[t * V + c], (gen(r + lb + t, c) - mean[c]) / sd[c],
                                            1e-5);
        }
        // the last window's target ends exactly at border2
        ck_assert_int_eq(b1[k] + (s.count - 1) + lb + h, b2[k]);
        ck_assert_int_eq(series_window(x, y, &s, s.count, &e), SSM_EINVAL);
    }
    // inverse transform of a target window restores the file's values
    series_split s;
    series_split_get(&s, &d, SERIES_TEST, &e);
    series_window(x, y, &s, 5, &e);
    series_inverse_transform(y, h, V, d.vars - d.out_vars, &d);
    for (int64_t t = 0; t < h; t++)
        for (int64_t c = 0; c < V; c++)
            ck_assert_double_eq_tol(y[t * V + c], gen(b1[2] + 5 + lb + t, c), 1e-4);
    free(x);
    free(y);
    series_dataset_free(&d);
}
END_TEST

START_TEST(ettm_borders_are_four_times_etth) {
    char p[512];
    const char *names[] = {"HUFL", "OT"};
    const int64_t rows = 57600 + 10, lb = 336;
    write_series(p, sizeof p, "ETTm2.csv", rows, names, 2);
    series_dataset d;
    ssm_error e = {0};
    series_opts o = {.layout = series_layout_from_path(p), .mode = SERIES_S, .lookback = lb,
                     .horizon = 720, .stride = 1, .scale = 1};
    ck_assert_int_eq(o.layout, SERIES_ETTM);
    ck_assert_msg(series_dataset_load(&d, p, &o, &e) == SSM_OK, "%s", e.msg);
    const int64_t b1[3] = {0, 34560 - 336, 46080 - 336}, b2[3] = {34560, 46080, 57600};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(d.border1[k], b1[k]);
        ck_assert_int_eq(d.border2[k], b2[k]);
        series_split s;
        series_split_get(&s, &d, (series_split_id)k, &e);
        ck_assert_int_eq(s.count, b2[k] - b1[k] - 336 - 720 + 1);
    }
    series_dataset_free(&d);
    // one row short of 20 months: refused, naming the file
    char q[512];
    write_series(q, sizeof q, "ETTm1.csv", 57599, names, 2);
    ck_assert_int_eq(series_dataset_load(&d, q, &o, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, q) && strstr(e.msg, "57600"));
    int64_t bb1[3], bb2[3];
    ck_assert_int_eq(series_borders(bb1, bb2, SERIES_ETTH, 14399, 96, &e), SSM_EDATA);
    ck_assert_int_eq(series_borders(bb1, bb2, SERIES_ETTH, 14400, 96, &e), SSM_OK);
}
END_TEST

START_TEST(custom_split_70_10_20_as_python_int) {
    int64_t b1[3], b2[3];
    ssm_error e = {0};
    // 1000 rows: 700 train, 200 test, 100 val
    ck_assert_int_eq(series_borders(b1, b2, SERIES_CUSTOM, 1000, 24, &e), SSM_OK);
    const int64_t w1[3] = {0, 700 - 24, 1000 - 200 - 24}, w2[3] = {700, 800, 1000};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(b1[k], w1[k]);
        ck_assert_int_eq(b2[k], w2[k]);
    }
    // 999 rows: int(699.3) = 699, int(199.8) = 199, val = 101
    ck_assert_int_eq(series_borders(b1, b2, SERIES_CUSTOM, 999, 10, &e), SSM_OK);
    ck_assert_int_eq(b2[0], 699);
    ck_assert_int_eq(b2[1], 699 + 101);
    ck_assert_int_eq(b1[2], 999 - 199 - 10);
    // 170 rows: in IEEE doubles 170 * 0.7 = 118.99999999999999, so Python's
    // int() gives 118 (not 119); we must match the reference, not exact math
    ck_assert_int_eq(series_borders(b1, b2, SERIES_CUSTOM, 170, 10, &e), SSM_OK);
    ck_assert_int_eq(b2[0], 118);
    ck_assert_int_eq(b1[2], 170 - 34 - 10);
    ck_assert_int_eq(b2[1], 118 + (170 - 118 - 34));
    // a lookback longer than the training rows cannot start the val split
    ck_assert_int_eq(series_borders(b1, b2, SERIES_CUSTOM, 100, 71, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "val") != NULL);
}
END_TEST

START_TEST(custom_modes_shapes_target_order_and_scaler) {
    char p[512];
    // target in the middle: M/MS move it last (Dataset_Custom), S keeps only it
    const char *names[] = {"x0", "load", "x2", "x3"};
    const int64_t rows = 200, V = 4, lb = 12, h = 5;
    write_series(p, sizeof p, "load.csv", rows, names, V);
    ssm_error e = {0};
    const int64_t ntrain = 140; // int(200 * 0.7)
    const int64_t order[4] = {0, 2, 3, 1};
    double mean[4], sd[4];
    for (int64_t c = 0; c < V; c++) {
        double s = 0, ss = 0;
        for (int64_t r = 0; r < ntrain; r++)
            s += gen(r, c);
        mean[c] = s / ntrain;
        for (int64_t r = 0; r < ntrain; r++)
            ss += (gen(r, c) - mean[c]) * (gen(r, c) - mean[c]);
        sd[c] = sqrt(ss / ntrain);
    }
    const series_mode modes[3] = {SERIES_M, SERIES_S, SERIES_MS};
    const int64_t want_in[3] = {4, 1, 4}, want_out[3] = {4, 1, 1};
    for (int m = 0; m < 3; m++) {
        series_dataset d;
        series_opts o = {.layout = SERIES_CUSTOM, .mode = modes[m], .target = "load",
                         .lookback = lb, .horizon = h, .stride = 3, .scale = 1};
        ck_assert_msg(series_dataset_load(&d, p, &o, &e) == SSM_OK, "%s", e.msg);
        ck_assert_int_eq(d.in_vars, want_in[m]);
        ck_assert_int_eq(d.out_vars, want_out[m]);
        ck_assert_str_eq(d.names[d.vars - 1], "load");
        series_split s;
        series_split_get(&s, &d, SERIES_VAL, &e);
        // val: rows [140 - 12, 140 + 20), stride 3
        ck_assert_int_eq(s.begin, 128);
        ck_assert_int_eq(s.end, 160);
        ck_assert_int_eq(s.count, (160 - 128 - lb - h) / 3 + 1);
        real x[12 * 4], y[5 * 4];
        const int64_t i = s.count - 1, r = 128 + 3 * i;
        ck_assert_int_eq(series_window(x, y, &s, i, &e), SSM_OK);
        for (int64_t t = 0; t < lb; t++)
            for (int64_t c = 0; c < d.in_vars; c++) {
                int64_t src = modes[m] == SERIES_S ? 1 : order[c];
                ck_assert_double_eq_tol(x[t * d.in_vars + c],
                                        (gen(r + t, src) - mean[src]) / sd[src], 1e-5);
            }
        for (int64_t t = 0; t < h; t++)
            for (int64_t c = 0; c < d.out_vars; c++) {
                int64_t src = modes[m] == SERIES_M ? order[c] : 1;
                ck_assert_double_eq_tol(y[t * d.out_vars + c],
                                        (gen(r + lb + t, src) - mean[src]) / sd[src], 1e-5);
            }
        // a batch is the windows stacked
        int64_t idx[2] = {1, 0};
        real xb[2 * 12 * 4], yb[2 * 5 * 4];
        ck_assert_int_eq(series_batch(xb, yb, &s, idx, 2, &e), SSM_OK);
        series_window(x, y, &s, 0, &e);
        ck_assert(memcmp(xb + lb * d.in_vars, x, sizeof(real) * lb * d.in_vars) == 0);
        ck_assert(memcmp(yb + h * d.out_vars, y, sizeof(real) * h * d.out_vars) == 0);
        idx[1] = -1;
        ck_assert_int_eq(series_batch(xb, yb, &s, idx, 2, &e), SSM_EINVAL);
        series_dataset_free(&d);
    }
    // unknown target, unscaled data, bad shapes
    series_dataset d;
    series_opts o = {.layout = SERIES_CUSTOM, .mode = SERIES_MS, .lookback = lb, .horizon = h};
    ck_assert_int_eq(series_dataset_load(&d, p, &o, &e), SSM_ENOTFOUND);
    ck_assert(strstr(e.msg, "'OT'") && strstr(e.msg, p));
    o.target = "x2";
    ck_assert_int_eq(series_dataset_load(&d, p, &o, &e), SSM_OK);
    ck_assert(d.data[7 * 4 + 3] == gen(7, 2) && d.std[3] == 1 && d.mean[0] == 0);
    series_dataset_free(&d);
    o.horizon = 0;
    ck_assert_int_eq(series_dataset_load(&d, p, &o, &e), SSM_EINVAL);
    o.horizon = 30; // val has 20 + 12 rows: no window of 12 + 30
    ck_assert_int_eq(series_dataset_load(&d, p, &o, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, "val split") != NULL);
}
END_TEST

START_TEST(constant_column_scales_by_one) {
    char p[512];
    fx_write(p, sizeof p, "const.csv", "", 0);
    FILE *f = fopen(p, "w");
    fprintf(f, "date,c,OT\n");
    for (int r = 0; r < 100; r++)
        fprintf(f, "d%d,2.5,%d\n", r, r % 7);
    fclose(f);
    series_dataset d;
    ssm_error e = {0};
    series_opts o = {.layout = SERIES_CUSTOM, .mode = SERIES_M, .lookback = 4, .horizon = 2,
                     .scale = 1};
    ck_assert_msg(series_dataset_load(&d, p, &o, &e) == SSM_OK, "%s", e.msg);
    ck_assert(d.mean[0] == 2.5 && d.std[0] == 1.0);
    ck_assert(d.data[50 * 2] == 0.0);
    series_dataset_free(&d);
}
END_TEST

START_TEST(hammer_csv_never_crashes) {
    char p[512];
    const char *names[] = {"a", "b", "OT"};
    write_series(p, sizeof p, "valid.csv", 40, names, 3);
    FILE *f = fopen(p, "rb");
    char src[8192], buf[8192];
    size_t n = fread(src, 1, sizeof src, f);
    fclose(f);
    ck_assert(n > 100 && n < sizeof src);
    uint64_t seed = 12345;
    int ok = 0, bad = 0;
    for (int k = 0; k < 1500; k++) {
        size_t m = fx_hammer_mutate(buf, src, n, &seed);
        char q[512];
        fx_write(q, sizeof q, "mutant.csv", buf, m);
        series_table t;
        ssm_error e = {0};
        ssm_code rc = series_csv_read(&t, q, &e);
        if (rc == SSM_OK) {
            ok++;
            ck_assert(t.rows >= 1 && t.vars >= 1);
            for (int64_t i = 0; i < t.rows * t.vars; i++)
                ck_assert(isfinite(t.values[i]));
            series_table_free(&t);
        } else {
            bad++;
            ck_assert_msg(strstr(e.msg, q) != NULL, "no path in: %s", e.msg);
        }
        series_dataset d;
        series_opts o = {.layout = SERIES_CUSTOM, .mode = SERIES_M, .lookback = 3, .horizon = 2,
                         .scale = 1};
        if (series_dataset_load(&d, q, &o, &e) == SSM_OK)
            series_dataset_free(&d);
    }
    ck_assert(ok > 0 && bad > 0); // both outcomes exercised
}
END_TEST

START_TEST(real_etth1_if_present) {
    const char *root = getenv("SSMKIT_DATA");
    char p[1024];
    snprintf(p, sizeof p, "%s/ETT-small/ETTh1.csv", root && *root ? root : "../shared/data");
    FILE *f = fopen(p, "r");
    if (!f) {
        printf("real_etth1_if_present: skipped, %s not found\n", p);
        return;
    }
    fclose(f);
    ssm_error e = {0};
    series_table t;
    ck_assert_msg(series_csv_read(&t, p, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(t.rows, 17420);
    ck_assert_int_eq(t.vars, 7);
    series_dataset d;
    series_opts o = {.layout = series_layout_from_path(p), .mode = SERIES_M, .lookback = 96,
                     .horizon = 96, .scale = 1};
    ck_assert_msg(series_dataset_build(&d, &t, &o, &e) == SSM_OK, "%s", e.msg);
    // from the Dataset_ETT_hour borders: (border2 - border1) - seq_len - pred_len + 1
    const int64_t M = 30 * 24;
    const int64_t want[3] = {(12 * M - 0) - 96 - 96 + 1, (16 * M - (12 * M - 96)) - 96 - 96 + 1,
                             (20 * M - (16 * M - 96)) - 96 - 96 + 1};
    for (int k = 0; k < 3; k++) {
        series_split s;
        series_split_get(&s, &d, (series_split_id)k, &e);
        ck_assert_int_eq(s.count, want[k]);
    }
    // the scaler saw the first 12 months only
    for (int64_t c = 0; c < 7; c++) {
        double s = 0, ss = 0;
        for (int64_t r = 0; r < 12 * M; r++)
            s += t.values[r * 7 + c];
        double mean = s / (12 * M);
        for (int64_t r = 0; r < 12 * M; r++)
            ss += (t.values[r * 7 + c] - mean) * (t.values[r * 7 + c] - mean);
        ck_assert_double_eq_tol(d.mean[c], mean, 1e-9 * (1 + fabs(mean)));
        ck_assert_double_eq_tol(d.std[c], sqrt(ss / (12 * M)), 1e-9 * sqrt(ss / (12 * M)));
    }
    printf("real_etth1_if_present: %s: 17420 x 7, windows %lld/%lld/%lld\n", p, (long long)want[0],
           (long long)want[1], (long long)want[2]);
    series_dataset_free(&d);
    series_table_free(&t);
}
END_TEST

int main(void) {
    fx_init();
    Suite *s = suite_create("datasets_series");
    TCase *tc = tcase_create("series");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, csv_reads_values_names_and_dates);
    tcase_add_test(tc, csv_malformed_files_name_file_line_and_column);
    tcase_add_test(tc, etth_borders_scaler_and_windows);
    tcase_add_test(tc, ettm_borders_are_four_times_etth);
    tcase_add_test(tc, custom_split_70_10_20_as_python_int);
    tcase_add_test(tc, custom_modes_shapes_target_order_and_scaler);
    tcase_add_test(tc, constant_column_scales_by_one);
    tcase_add_test(tc, hammer_csv_never_crashes);
    tcase_add_test(tc, real_etth1_if_present);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    fx_cleanup();
    return failed;
}
