// Check suite: UCR 2018 .tsv and sktime/UEA .ts classification readers
// (datasets/ucr.h). Fixtures are written into a temp directory; expected values
// (label indices, interpolated and resampled values) are worked out by hand in
// the comments next to them.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "datasets/ucr.h"
#include "tests/series_fixture.h"
#include "tests/util/suite.h"

#define X(s, i, t, c) ((s)->x[((i) * (s)->len + (t)) * (s)->dims + (c)])

static const char *TSV =
    "2\t1.0\t2.0\t3.0\t4.0\n"
    "-1\t0.5\tNaN\t1.5\tNaN\n" // interior NaN missing, trailing NaN padding: length 3
    "10\t1\t2\t3\t4\n"
    "1\tNaN\t4\t5\t6\n"; // leading NaN takes the nearest value, 4

START_TEST(tsv_labels_lengths_missing_and_padding) {
    char p[512];
    fx_write(p, sizeof p, "Toy_TRAIN.tsv", TSV, SIZE_MAX);
    ucr_set s;
    ssm_error e = {0};
    ck_assert_msg(ucr_read(&s, p, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert_str_eq(s.problem, "Toy");
    ck_assert_int_eq(s.n, 4);
    ck_assert_int_eq(s.dims, 1);
    ck_assert_int_eq(s.len, 4);
    // sorted by value, not text: -1 1 2 10 (text order would put 10 before 2)
    ck_assert_int_eq(s.num_classes, 4);
    const char *cls[4] = {"-1", "1", "2", "10"};
    for (int k = 0; k < 4; k++)
        ck_assert_str_eq(s.classes[k], cls[k]);
    const int32_t lab[4] = {2, 0, 3, 1};
    const int64_t len[4] = {4, 3, 4, 4};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(s.labels[i], lab[i]);
        ck_assert_int_eq(s.lengths[i], len[i]);
    }
    ck_assert_int_eq(s.missing, 2);
    const double want1[4] = {0.5, 1.0, 1.5, 0.0}; // (0.5 + 1.5) / 2, then a zero pad
    const double want3[4] = {4, 4, 5, 6};
    for (int t = 0; t < 4; t++) {
        ck_assert_double_eq_tol(X(&s, 1, t, 0), want1[t], 1e-6);
        ck_assert_double_eq_tol(X(&s, 3, t, 0), want3[t], 1e-6);
        ck_assert_double_eq_tol(X(&s, 0, t, 0), t + 1.0, 1e-6);
    }
    // a batch is the samples gathered
    real xb[2 * 4];
    int32_t yb[2];
    int64_t lb[2], idx[2] = {1, 0};
    ck_assert_int_eq(ucr_batch(xb, yb, lb, &s, idx, 2, &e), SSM_OK);
    ck_assert(memcmp(xb, &X(&s, 1, 0, 0), 4 * sizeof(real)) == 0);
    ck_assert(yb[0] == 0 && yb[1] == 2 && lb[0] == 3 && lb[1] == 4);
    idx[0] = 4;
    ck_assert_int_eq(ucr_batch(xb, yb, lb, &s, idx, 2, &e), SSM_EINVAL);
    ucr_free(&s);

    // resampled to 4 points: positions t * 2 / 3 in the 3 points 0.5, 1.0, 1.5
    ucr_opts o = {UCR_RESAMPLE, 0};
    ck_assert_int_eq(ucr_read(&s, p, &o, &e), SSM_OK);
    const double rs[4] = {0.5, 0.5 + (2.0 / 3) * 0.5, 1.0 + (1.0 / 3) * 0.5, 1.5};
    for (int t = 0; t < 4; t++)
        ck_assert_double_eq_tol(X(&s, 1, t, 0), rs[t], 1e-6);
    ck_assert_int_eq(s.lengths[1], 3);
    ucr_free(&s);
    // padded to 6
    o = (ucr_opts){UCR_PAD, 6};
    ck_assert_int_eq(ucr_read(&s, p, &o, &e), SSM_OK);
    ck_assert_int_eq(s.len, 6);
    ck_assert(X(&s, 0, 3, 0) == 4 && X(&s, 0, 4, 0) == 0 && X(&s, 0, 5, 0) == 0);
    ucr_free(&s);
}
END_TEST

static void expect_error(const char *name, const char *body, ssm_code code, const char *line_tag,
                         const char *needle) {
    char p[512];
    fx_write(p, sizeof p, name, body, SIZE_MAX);
    ucr_set s;
    ssm_error e = {0};
    ssm_code rc = ucr_read(&s, p, NULL, &e);
    ck_assert_msg(rc == code, "%s: code %d, expected %d (%s)", name, rc, code, e.msg);
    ck_assert_msg(strstr(e.msg, p) != NULL, "%s: no path in: %s", name, e.msg);
    ck_assert_msg(strstr(e.msg, line_tag) != NULL, "%s: no '%s' in: %s", name, line_tag, e.msg);
    ck_assert_msg(strstr(e.msg, needle) != NULL, "%s: no '%s' in: %s", name, needle, e.msg);
    ck_assert_ptr_null(s.x);
}

START_TEST(tsv_malformed) {
    expect_error("ragged.tsv", "1\t1\t2\t3\n2\t1\t2\n", SSM_EFORMAT, ":2:",
                 "2 values; expected 3 as on line 1");
    expect_error("bad.tsv", "1\t1\t2\t3\n2\t1\tx\t3\n", SSM_EDATA, ":2:", "found 'x'");
    expect_error("inf.tsv", "1\t1\tinf\t3\n", SSM_EDATA, ":1:", "value 2");
    expect_error("notab.tsv", "1\t1\t2\n1,2,3\n", SSM_EFORMAT, ":2:", "no tab");
    expect_error("allnan.tsv", "1\t1\t2\n2\tNaN\tNaN\n", SSM_EDATA, ":2:", "every value is NaN");
    expect_error("empty.tsv", "", SSM_EFORMAT, ":1:", "empty file");
    expect_error("nolabel.tsv", "\t1\t2\n", SSM_EFORMAT, ":1:", "empty label");
    expect_error("blank.tsv", "1\t1\t2\n\n2\t1\t2\n", SSM_EFORMAT, ":2:", "empty line");
    expect_error("trailtab.tsv", "1\t1\t2\t\n", SSM_EDATA, ":1:", "value 3");
    expect_error("ext.csv", "1\t1\n", SSM_EINVAL, "ext.csv", "expected .tsv");
}
END_TEST

static const char *TS_UNI = "# a comment line\n"
                            "@problemName Toy\n"
                            "@timeStamps false\n"
                            "@MISSING true\n"
                            "@univariate true\n"
                            "@equalLength false\n"
                            "@classLabel true b a c\n"
                            "\n"
                            "@data\n"
                            "1,2,3:a\n"
                            "4,?,6,7:c\n" // ? between 4 and 6: 5
                            "# comments may follow\n"
                            "?, ?,8 :b\n"; // leading missing take 8

START_TEST(ts_univariate_class_order_missing_unequal) {
    char p[512];
    fx_write(p, sizeof p, "Toy_TRAIN.ts", TS_UNI, SIZE_MAX);
    ucr_set s;
    ssm_error e = {0};
    ck_assert_msg(ucr_read(&s, p, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert_str_eq(s.problem, "Toy");
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.dims, 1);
    ck_assert_int_eq(s.len, 4);
    ck_assert_int_eq(s.num_classes, 3);
    // @classLabel order b a c, not sorted
    ck_assert_str_eq(s.classes[0], "b");
    ck_assert_int_eq(s.labels[0], 1);
    ck_assert_int_eq(s.labels[1], 2);
    ck_assert_int_eq(s.labels[2], 0);
    ck_assert(s.lengths[0] == 3 && s.lengths[1] == 4 && s.lengths[2] == 3);
    ck_assert_int_eq(s.missing, 3);
    const double w[3][4] = {{1, 2, 3, 0}, {4, 5, 6, 7}, {8, 8, 8, 0}};
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 4; t++)
            ck_assert_double_eq_tol(X(&s, i, t, 0), w[i][t], 1e-6);
    ucr_free(&s);
}
END_TEST

static const char *TS_MULTI = "@problemName Multi\n"
                              "@univariate false\n"
                              "@dimensions 2\n"
                              "@equalLength false\n"
                              "@missing true\n"
                              "@classLabel true x y\n"
                              "@data\n"
                              "1,2,3:10,20,30:x\n"
                              "4,5:?,50:y\n";

START_TEST(ts_multivariate_time_major) {
    char p[512];
    fx_write(p, sizeof p, "Multi.ts", TS_MULTI, SIZE_MAX);
    ucr_set s;
    ssm_error e = {0};
    ck_assert_msg(ucr_read(&s, p, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert(s.n == 2 && s.dims == 2 && s.len == 3);
    // [n, len, dims]: sample 0 is (1,10) (2,20) (3,30); sample 1 (4,50) (5,50) then zeros
    const double w[2][3][2] = {{{1, 10}, {2, 20}, {3, 30}}, {{4, 50}, {5, 50}, {0, 0}}};
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < 3; t++)
            for (int c = 0; c < 2; c++)
                ck_assert_double_eq_tol(X(&s, i, t, c), w[i][t][c], 1e-6);
    ck_assert(s.lengths[1] == 2 && s.labels[1] == 1 && s.missing == 1);
    ucr_free(&s);
    // resampling stretches every channel of the short sample: 2 points to 3
    ucr_opts o = {UCR_RESAMPLE, 0};
    ck_assert_int_eq(ucr_read(&s, p, &o, &e), SSM_OK);
    ck_assert_double_eq_tol(X(&s, 1, 1, 0), 4.5, 1e-6);
    ck_assert_double_eq_tol(X(&s, 1, 2, 0), 5.0, 1e-6);
    ck_assert_double_eq_tol(X(&s, 1, 1, 1), 50.0, 1e-6);
    ucr_free(&s);
}
END_TEST

#define HDR "@problemName T\n@missing false\n@classLabel true a b\n@data\n"

START_TEST(ts_malformed) {
    expect_error("unknown.ts", HDR "1,2:a\n1,2:z\n", SSM_EDATA, ":6:", "class label 'z' is unknown");
    expect_error("dims.ts", HDR "1,2:3,4:a\n1,2:b\n", SSM_EFORMAT, ":6:",
                 "1 dimensions; expected 2 (as on the first data line)");
    expect_error("dimtag.ts", "@dimensions 3\n" HDR "1,2:3,4:a\n", SSM_EFORMAT, ":6:",
                 "2 dimensions; expected 3 (@dimensions)");
    expect_error("uni.ts", "@univariate true\n" HDR "1,2:3,4:a\n", SSM_EFORMAT, ":6:",
                 "@univariate true");
    expect_error("badnum.ts", HDR "1,x,3:a\n", SSM_EDATA, ":5:", "dimension 1, value 2");
    expect_error("emptyval.ts", HDR "1,,3:a\n", SSM_EDATA, ":5:", "found ''");
    expect_error("missing.ts", HDR "1,?,3:a\n", SSM_EDATA, ":5:", "@missing false");
    expect_error("nodata.ts", "@problemName T\n@classLabel true a\n", SSM_EFORMAT, ":3:",
                 "no @data");
    expect_error("nolines.ts", HDR, SSM_EFORMAT, ":5:", "no data lines");
    expect_error("regress.ts", "@classLabel false\n@data\n1,2:0.5\n", SSM_EFORMAT, ":1:",
                 "@classLabel must be 'true'");
    expect_error("nolabels.ts", "@classLabel true\n@data\n1:a\n", SSM_EFORMAT, ":1:",
                 "without labels");
    expect_error("duplabel.ts", "@classLabel true a b a\n@data\n1:a\n", SSM_EFORMAT, ":1:",
                 "listed twice");
    expect_error("stamps.ts", "@timeStamps true\n" HDR "1:a\n", SSM_EFORMAT, ":1:", "not supported");
    expect_error("tag.ts", "@foo bar\n" HDR "1:a\n", SSM_EFORMAT, ":1:", "unknown header tag '@foo'");
    expect_error("bool.ts", "@missing maybe\n" HDR, SSM_EFORMAT, ":1:", "expected true or false");
    expect_error("count.ts", "@seriesLength -3\n" HDR, SSM_EFORMAT, ":1:", "positive integer");
    expect_error("inner.ts", HDR "1,2,3:4,5:a\n", SSM_EFORMAT, ":5:", "same length in every");
    expect_error("equal.ts", "@equalLength true\n" HDR "1,2,3:a\n1,2:b\n", SSM_EFORMAT, ":7:",
                 "@equalLength true");
    expect_error("slen.ts", "@equalLength true\n@seriesLength 4\n" HDR "1,2,3:a\n", SSM_EFORMAT,
                 ":7:", "@seriesLength 4");
    expect_error("nocolon.ts", HDR "1,2,3\n", SSM_EFORMAT, ":5:", "no ':'");
    expect_error("nolab.ts", HDR "1,2,3:\n", SSM_EFORMAT, ":5:", "empty class label");
    expect_error("early.ts", "1,2:a\n" HDR, SSM_EFORMAT, ":1:", "data before @data");
    expect_error("late.ts", HDR "1,2:a\n@classLabel true a\n", SSM_EFORMAT, ":6:",
                 "header tag after @data");
    expect_error("order.ts", "@data\n1:a\n", SSM_EFORMAT, ":1:", "@data before @classLabel");
}
END_TEST

START_TEST(pairs_share_classes_and_length) {
    char a[512], b[512];
    fx_write(a, sizeof a, "P_TRAIN.tsv", "1\t1\t2\t3\n2\t4\t5\tNaN\n", SIZE_MAX);
    fx_write(b, sizeof b, "P_TEST.tsv", "3\t1\t2\t3\t4\t5\n1\t0\t0\t0\tNaN\tNaN\n", SIZE_MAX);
    ucr_set tr, te;
    ssm_error e = {0};
    ck_assert_msg(ucr_read_pair(&tr, &te, a, b, NULL, &e) == SSM_OK, "%s", e.msg);
    // classes of both files sorted: 1 2 3; the longest sample (5) sets the length
    ck_assert(tr.num_classes == 3 && te.num_classes == 3);
    ck_assert_str_eq(te.classes[2], "3");
    ck_assert(tr.len == 5 && te.len == 5);
    ck_assert(te.labels[0] == 2 && te.labels[1] == 0 && tr.labels[1] == 1);
    ck_assert(tr.lengths[1] == 2 && te.lengths[1] == 3);
    ck_assert(X(&tr, 0, 2, 0) == 3 && X(&tr, 0, 3, 0) == 0);
    ucr_free(&tr);
    ucr_free(&te);

    // .ts: the test file must use the train file's classes
    fx_write(a, sizeof a, "Q_TRAIN.ts", HDR "1,2:a\n3,4:b\n", SIZE_MAX);
    fx_write(b, sizeof b, "Q_TEST.ts", "@classLabel true a b c\n@data\n1,2,3:a\n4:c\n", SIZE_MAX);
    ck_assert_int_eq(ucr_read_pair(&tr, &te, a, b, NULL, &e), SSM_EDATA);
    ck_assert(strstr(e.msg, b) && strstr(e.msg, ":4:") && strstr(e.msg, a));
    ck_assert_ptr_null(tr.x);
    fx_write(b, sizeof b, "Q_TEST.ts", "@classLabel true a b\n@data\n1,2,3:b\n", SIZE_MAX);
    ck_assert_msg(ucr_read_pair(&tr, &te, a, b, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert(tr.len == 3 && te.len == 3 && te.labels[0] == 1);
    ucr_free(&tr);
    ucr_free(&te);
    fx_write(b, sizeof b, "Q_TEST.ts", "@classLabel true a b\n@data\n1:2:b\n", SIZE_MAX);
    ck_assert_int_eq(ucr_read_pair(&tr, &te, a, b, NULL, &e), SSM_EFORMAT);
    ck_assert(strstr(e.msg, "2 dimensions; expected 1"));
    ck_assert_int_eq(ucr_read_pair(&tr, &te, a, "x.tsv", NULL, &e), SSM_EINVAL);
}
END_TEST

static void hammer(const char *name, const char *valid) {
    const size_t n = strlen(valid);
    char buf[4096];
    uint64_t seed = 777;
    int ok = 0, bad = 0;
    for (int k = 0; k < 1500; k++) {
        size_t m = fx_hammer_mutate(buf, valid, n, &seed);
        char p[512];
        fx_write(p, sizeof p, name, buf, m);
        ucr_set s;
        ssm_error e = {0};
        ucr_opts o = {k % 2 ? UCR_RESAMPLE : UCR_PAD, 0};
        if (ucr_read(&s, p, &o, &e) == SSM_OK) {
            ok++;
            ck_assert(s.n >= 1 && s.dims >= 1 && s.len >= 1 && s.num_classes >= 1);
            for (int64_t i = 0; i < s.n; i++) {
                ck_assert(s.labels[i] >= 0 && s.labels[i] < s.num_classes);
                ck_assert(s.lengths[i] >= 1 && s.lengths[i] <= s.len);
            }
            for (int64_t i = 0; i < s.n * s.len * s.dims; i++)
                ck_assert(isfinite(s.x[i]));
            ucr_free(&s);
        } else {
            bad++;
            ck_assert_msg(strstr(e.msg, p) != NULL, "no path in: %s", e.msg);
        }
    }
    ck_assert(ok > 0 && bad > 0);
}

START_TEST(hammer_tsv_and_ts_never_crash) {
    hammer("h.tsv", TSV);
    hammer("h.ts", TS_UNI);
    hammer("m.ts", TS_MULTI);
}
END_TEST

int main(void) {
    fx_init();
    Suite *s = suite_create("datasets_ucr");
    TCase *tc = tcase_create("ucr");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, tsv_labels_lengths_missing_and_padding);
    tcase_add_test(tc, tsv_malformed);
    tcase_add_test(tc, ts_univariate_class_order_missing_unequal);
    tcase_add_test(tc, ts_multivariate_time_major);
    tcase_add_test(tc, ts_malformed);
    tcase_add_test(tc, pairs_share_classes_and_length);
    tcase_add_test(tc, hammer_tsv_and_ts_never_crash);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    fx_cleanup();
    return failed;
}
