// Check suite: the in-memory MIL readers and the bag sample source: the musk-style CSV on
// a fixture written here (bag grouping, bag label = max instance label, instance labels)
// and on the shared Musk1/Musk2 files (published counts); bad files named by line and
// column; crops (data.max_instances) random and first, pure in the key; feature
// statistics of the training bags only; Fashion-MNIST bags (Ilse et al.) when installed.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/batch.h"
#include "datasets/image_data.h"
#include "datasets/mil_bags.h"
#include "datasets/mil_fmnist.h"
#include "datasets/mil_musk.h"
#include "tests/mil_fixture.h"
#include "tests/util/suite.h"

// 3 bags; b2's rows are not adjacent; b2 is positive through its first instance.
static const char *TINY = "0,b1,1.0,2.0\n"
                          "1, b2 ,3,4\n"
                          "0,b1,5,6e0\n"
                          "0,b3,-7,8\n"
                          "0,b2,9,10\r\n"
                          "\n";

START_TEST(musk_csv_groups_bags_in_file_order) {
    char dir[256], path[300];
    mil_tmpdir(dir);
    snprintf(path, sizeof path, "%s/tiny.csv", dir);
    tu_write_text(path, TINY);
    mil_bags s;
    ssm_error e = {0};
    ck_assert_msg(mil_musk_read(&s, path, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.n, 3);
    ck_assert_int_eq(s.F, 2);
    ck_assert_int_eq(s.token, 2);
    ck_assert_int_eq(s.num_classes, 2);
    ck_assert(s.has_inst_labels && !s.has_coords);
    const char *names[3] = {"b1", "b2", "b3"};
    int64_t lens[3] = {2, 2, 1};
    int32_t labels[3] = {0, 1, 0};
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(s.names[i], names[i]);
        ck_assert_int_eq(s.len[i], lens[i]);
        ck_assert_int_eq(s.label[i], labels[i]);
    }
    ck_assert_int_eq(mil_bags_find(&s, "b3"), 2);
    ck_assert_int_eq(mil_bags_find(&s, "b4"), -1);

    // through the ragged source and the batcher: the bags' rows, in file order per bag
    ssm_sample_source src;
    mil_source_opts so = {0};
    ck_assert_int_eq(mil_bags_source(&src, &s, &so, &e), SSM_OK);
    ck_assert(src.ragged && src.has_tokens && src.x_shape[0] == 2);
    ssm_batcher bt;
    ssm_batcher_opts o = {.batch_size = 2, .seed = 1};
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    ck_assert_int_eq(bt.opts.max_tokens, 4); // the 2 longest bags
    mil_epoch ep;
    mil_epoch_run(&ep, &bt, 3, 2);
    const real want[3][4] = {{1, 2, 5, 6}, {3, 4, 9, 10}, {-7, 8}};
    const int32_t want_y[3][2] = {{0, 0}, {1, 0}, {0}};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(ep.seen[i], 1);
        ck_assert_int_eq(ep.y[i], labels[i]);
        ck_assert_int_eq(ep.len[i], lens[i]);
        for (int j = 0; j < 2 * lens[i]; j++)
            ck_assert(ep.x[i][j] == want[i][j]);
        for (int t = 0; t < lens[i]; t++)
            ck_assert_int_eq(ep.yt[i][t], want_y[i][t]);
    }
    mil_epoch_free(&ep);
    ssm_batcher_free(&bt);
    mil_bags_free(&s);
    mil_rmtree(dir);
}
END_TEST

static void expect_bad(const char *dir, const char *text, ssm_code code, const char *needle) {
    char path[300];
    snprintf(path, sizeof path, "%s/bad.csv", dir);
    tu_write_text(path, text);
    mil_bags s;
    ssm_error e = {0};
    ck_assert_int_eq(mil_musk_read(&s, path, &e), code);
    ck_assert_msg(strstr(e.msg, needle) && strstr(e.msg, "bad.csv"), "'%s' lacks '%s'", e.msg,
                  needle);
    ck_assert_ptr_null(s.names); // nothing left allocated
}

START_TEST(musk_csv_bad_files_are_named_by_line_and_column) {
    char dir[256];
    mil_tmpdir(dir);
    expect_bad(dir, "0,a,1,2\n0,a,1,2\n1,b,3\n", SSM_EFORMAT,
               "line 3: 3 fields, expected 4 (label, bag_id and 2 features, as on line 1)");
    expect_bad(dir, "0,a,1,2\n0,a,abc,2\n", SSM_EFORMAT, "line 2, column 3: 'abc' is not a number");
    expect_bad(dir, "0,a,1,2\n0,a,1,NaN\n", SSM_EDATA, "line 2, column 4: 'NaN': expected a finite");
    expect_bad(dir, "0,a,1,inf\n", SSM_EDATA, "line 1, column 4: 'inf'");
    expect_bad(dir, "0,a,1,\n", SSM_EFORMAT, "line 1, column 4: '' is not a number");
    expect_bad(dir, "0.5,a,1,2\n", SSM_EDATA, "line 1, column 1: label '0.5'");
    expect_bad(dir, "-1,a,1,2\n", SSM_EDATA, "label '-1': expected a whole number >= 0");
    expect_bad(dir, "0,,1,2\n", SSM_EFORMAT, "line 1, column 2: empty bag_id");
    expect_bad(dir, "0,a\n", SSM_EFORMAT, "line 1: 2 fields: expected label,bag_id");
    expect_bad(dir, "0,a,1\n\n0,b,2\n", SSM_EFORMAT, "line 2: blank line between rows");
    expect_bad(dir, "", SSM_EFORMAT, "no rows");
    mil_bags s;
    ssm_error e = {0};
    char path[300];
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    ck_assert_int_eq(mil_musk_read(&s, path, &e), SSM_EIO);
    ck_assert_msg(strstr(e.msg, "missing.csv"), "%s", e.msg);
    mil_rmtree(dir);
}
END_TEST

START_TEST(musk_shared_files_have_the_published_counts) {
    const char *root = getenv("SSMKIT_DATA");
    char path[600];
    struct {
        const char *file;
        int64_t bags, pos, inst;
    } sets[2] = {{"musk1.csv", 92, 47, 476}, {"musk2.csv", 102, 39, 6598}};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/mil/%s", root && root[0] ? root : "../shared/data",
                 sets[k].file);
        FILE *f = fopen(path, "r");
        if (!f) {
            fprintf(stderr, "skipped: %s is absent (set SSMKIT_DATA to the shared data)\n", path);
            continue;
        }
        fclose(f);
        mil_bags s;
        ssm_error e = {0};
        ck_assert_msg(mil_musk_read(&s, path, &e) == SSM_OK, "%s", e.msg);
        int64_t pos = 0, inst = 0, pos_inst = 0, longest = 0;
        for (int64_t i = 0; i < s.n; i++) {
            pos += s.label[i];
            inst += s.len[i];
            longest = s.len[i] > longest ? s.len[i] : longest;
        }
        ck_assert_int_eq(s.n, sets[k].bags);
        ck_assert_int_eq(pos, sets[k].pos);
        ck_assert_int_eq(inst, sets[k].inst);
        ck_assert_int_eq(s.F, 166);
        // every negative bag's instances are negative; a positive bag has a positive one
        real *x = malloc((size_t)(longest * s.token) * sizeof *x);
        int32_t *y = malloc((size_t)longest * sizeof *y);
        for (int64_t i = 0; i < s.n; i++) {
            ck_assert_int_eq(s.read(&s, i, NULL, s.len[i], x, y, &e), SSM_OK);
            int32_t mx = 0;
            for (int64_t t = 0; t < s.len[i]; t++) {
                mx = y[t] > mx ? y[t] : mx;
                pos_inst += y[t];
            }
            ck_assert_int_eq(mx, s.label[i]);
        }
        ck_assert_int_gt(pos_inst, 0);
        free(x);
        free(y);
        mil_bags_free(&s);
    }
}
END_TEST

START_TEST(crops_are_uniform_sorted_and_pure_in_the_key) {
    int64_t rows[7], again[7];
    int64_t hits[20] = {0};
    enum { KEYS = 20000 };
    for (uint64_t key = 0; key < KEYS; key++) {
        mil_crop_rows(rows, 20, 7, key * 0x9E3779B97F4A7C15ull);
        for (int i = 0; i < 7; i++) {
            ck_assert(rows[i] >= 0 && rows[i] < 20);
            if (i)
                ck_assert_int_lt(rows[i - 1], rows[i]);
            hits[rows[i]]++;
        }
    }
    for (int r = 0; r < 20; r++) // expected 7000; binomial sd ~ 67
        ck_assert_int_lt(llabs(hits[r] - KEYS * 7 / 20), 400);
    mil_crop_rows(rows, 20, 7, 42);
    mil_crop_rows(again, 20, 7, 42);
    ck_assert(memcmp(rows, again, sizeof rows) == 0);
    mil_crop_rows(rows, 5, 5, 42); // keeping everything keeps everything
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(rows[i], i);

    // the source: count = min(len, max_instances); first keeps rows 0..k-1
    char dir[256], path[300];
    mil_tmpdir(dir);
    snprintf(path, sizeof path, "%s/long.csv", dir);
    FILE *f = fopen(path, "w");
    for (int t = 0; t < 50; t++) // bag A: 50 instances, feature = row
        fprintf(f, "%d,A,%d\n", t == 30, t);
    fprintf(f, "0,B,100\n0,B,101\n");
    fclose(f);
    mil_bags s;
    ssm_error e = {0};
    ck_assert_int_eq(mil_musk_read(&s, path, &e), SSM_OK);
    for (int mode = 0; mode < 2; mode++) {
        ssm_sample_source src;
        mil_source_opts so = {.max_instances = 8,
                              .sampling = mode ? MIL_SAMPLE_FIRST : MIL_SAMPLE_RANDOM};
        ck_assert_int_eq(mil_bags_source(&src, &s, &so, &e), SSM_OK);
        ck_assert_int_eq(src.count(src.ctx, 0, 1), 8);
        ck_assert_int_eq(src.count(src.ctx, 1, 1), 2);
        real x1[8], x2[8], x3[8];
        int32_t y;
        int64_t len;
        ck_assert_int_eq(src.get(src.ctx, 0, 11, x1, &y, NULL, &len, &e), SSM_OK);
        ck_assert_int_eq(len, 8);
        ck_assert_int_eq(y, 1);
        ck_assert_int_eq(src.get(src.ctx, 0, 11, x2, &y, NULL, &len, &e), SSM_OK);
        ck_assert(memcmp(x1, x2, sizeof x1) == 0); // pure in the key
        ck_assert_int_eq(src.get(src.ctx, 0, 12, x3, &y, NULL, &len, &e), SSM_OK);
        for (int t = 0; t < 8; t++) {
            if (mode)
                ck_assert(x1[t] == (real)t);
            if (t)
                ck_assert(x1[t] > x1[t - 1]); // bag order kept
        }
        ck_assert(mode ? !memcmp(x1, x3, sizeof x1) : memcmp(x1, x3, sizeof x1) != 0);
        src.free(src.ctx);
    }
    mil_bags_free(&s);
    mil_rmtree(dir);
}
END_TEST

START_TEST(feature_stats_use_the_given_bags_only) {
    char dir[256], path[300];
    mil_tmpdir(dir);
    snprintf(path, sizeof path, "%s/stats.csv", dir);
    tu_write_text(path, "0,a,1,5\n0,a,3,5\n1,b,5,5\n1,c,1000,-1000\n");
    mil_bags s;
    ssm_error e = {0};
    ck_assert_int_eq(mil_musk_read(&s, path, &e), SSM_OK);
    double mean[2], std[2];
    int64_t train[2] = {0, 1}; // bag c (the outlier) is not a training bag
    ck_assert_int_eq(mil_bags_feature_stats(&s, train, 2, mean, std, &e), SSM_OK);
    ck_assert_double_eq_tol(mean[0], 3, 1e-12);
    ck_assert_double_eq_tol(std[0], sqrt(8.0 / 3), 1e-12);
    ck_assert_double_eq_tol(mean[1], 5, 1e-12);
    ck_assert_double_eq(std[1], 1); // constant over the training bags
    // the source standardises with them: bag a's first instance is (1 - 3) / std, 0
    ssm_sample_source src;
    mil_source_opts so = {.mean = mean, .std = std};
    ck_assert_int_eq(mil_bags_source(&src, &s, &so, &e), SSM_OK);
    real x[4];
    int32_t y;
    int64_t len;
    ck_assert_int_eq(src.get(src.ctx, 0, 0, x, &y, NULL, &len, &e), SSM_OK);
    ck_assert_double_eq_tol(x[0], -2 / sqrt(8.0 / 3), 1e-6);
    ck_assert(x[1] == 0);
    src.free(src.ctx);
    // class-balanced weights: bags a (class 0), b and c (class 1)
    int64_t all[3] = {0, 1, 2};
    double w[3];
    mil_bags_balance_weights(&s, all, 3, w);
    ck_assert_double_eq_tol(w[0], 3.0, 1e-12);
    ck_assert_double_eq_tol(w[1], 1.5, 1e-12);
    ck_assert_double_eq_tol(w[0] * 1, w[1] + w[2], 1e-12); // equal class mass
    mil_bags_free(&s);
    mil_rmtree(dir);
}
END_TEST

START_TEST(fmnist_bags_follow_ilse) {
    FILE *f = fopen(SSM_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", "r");
    if (!f) {
        fprintf(stderr, "skipped: Fashion-MNIST is not installed (apt-get install "
                        "dataset-fashion-mnist)\n");
        return;
    }
    fclose(f);
    mil_fmnist_opts o = {.dir = SSM_FASHION_MNIST_DIR, .num_bags = 400, .mean_len = 10,
                         .std_len = 2, .target = 9, .normalize = 1, .seed = 5};
    mil_bags s, s2, t;
    ssm_error e = {0};
    ck_assert_msg(mil_fmnist_open(&s, &o, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.n, 400);
    ck_assert_int_eq(s.F, 784);
    ck_assert_str_eq(s.class_names[1], "has Ankle boot");
    ck_assert_str_eq(s.names[17], "train_17");
    double mean_len = 0, pos = 0;
    real *x = malloc(100 * 784 * sizeof *x);
    int32_t y[100];
    for (int64_t i = 0; i < s.n; i++) {
        ck_assert_int_ge(s.len[i], 1);
        ck_assert_int_le(s.len[i], 100);
        mean_len += (double)s.len[i] / s.n;
        pos += (double)s.label[i] / s.n;
        ck_assert_int_eq(s.read(&s, i, NULL, s.len[i], x, y, &e), SSM_OK);
        int any = 0;
        for (int64_t k = 0; k < s.len[i]; k++)
            any |= y[k];
        ck_assert_int_eq(any, s.label[i]); // a bag is positive iff it holds the target class
    }
    ck_assert_double_eq_tol(mean_len, 10, 0.4); // sd of the mean: 2 / 20 = 0.1
    ck_assert_double_eq_tol(pos, 1 - pow(0.9, 10), 0.08);
    // pixels standardised: a background pixel (0) is -mean / std
    ck_assert_double_eq_tol(x[0], -0.2860 / 0.3530, 1e-5);
    // deterministic for a seed; another seed gives other bags; test bags from test images
    ck_assert_int_eq(mil_fmnist_open(&s2, &o, &e), SSM_OK);
    ck_assert(!memcmp(s.len, s2.len, (size_t)s.n * sizeof *s.len));
    mil_bags_free(&s2);
    o.test = 1;
    o.num_bags = 30;
    ck_assert_int_eq(mil_fmnist_open(&t, &o, &e), SSM_OK);
    ck_assert_str_eq(t.names[3], "test_3");
    mil_bags_free(&t);
    o.target = 10;
    ck_assert_int_eq(mil_fmnist_open(&t, &o, &e), SSM_EINVAL);
    free(x);
    mil_bags_free(&s);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mil_readers");
    TCase *tc = tcase_create("mil_readers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, musk_csv_groups_bags_in_file_order);
    tcase_add_test(tc, musk_csv_bad_files_are_named_by_line_and_column);
    tcase_add_test(tc, musk_shared_files_have_the_published_counts);
    tcase_add_test(tc, crops_are_uniform_sorted_and_pure_in_the_key);
    tcase_add_test(tc, feature_stats_use_the_given_bags_only);
    tcase_add_test(tc, fmnist_bags_follow_ilse);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
