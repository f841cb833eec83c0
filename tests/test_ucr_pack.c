// Check suite: UCR/UEA series as packed (ragged) batches of patch tokens
// (datasets/ucr_source.h, data.pack through datasets/series_data.h):
//   - the automatic patching and the token count of a series, by hand;
//   - a generated .ts set of unequal lengths (3 to 11 steps, 2 channels): every batch row
//     is the patch of the series it belongs to, the last patch repeats the last value, a
//     sample holds exactly its own tokens (no padding), labels follow;
//   - data.series_norm: series z-normalises each series over its own length, not the
//     padding; dataset standardises each channel of train and test by the training values;
//     auto is series for a univariate set (a raw .tsv) and dataset for a multivariate one;
//   - training batches (augmented) are pure functions of (seed, epoch): the same with or
//     without the prefetch thread and after a seek; evaluation batches are not augmented;
//   - a set smaller than a batch trains in one batch; data.pack on a forecasting set and
//     data.patch_len without data.pack are refused by key;
//   - the real JapaneseVowels (7 to 29 steps, 12 dims) packs every series to its own token
//     count (${SSMKIT_DATA}/ucr; skipped with a message when absent).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "datasets/series_data.h"
#include "datasets/ucr_source.h"
#include "tests/series_fixture.h"
#include "tests/util/suite.h"

// sample i: length 3 + i % 9, channel c value at t = 100 i + 10 c + t (so every value names
// its sample, channel and time), label i % 3
static void write_set(char *train, size_t cap, int n, const char *name) {
    char buf[20000];
    size_t k = (size_t)sprintf(buf, "@problemName Toy\n@timeStamps false\n@univariate false\n"
                                    "@dimensions 2\n@equalLength false\n@classLabel true a b c\n"
                                    "@data\n");
    for (int i = 0; i < n; i++) {
        int len = 3 + i % 9;
        for (int c = 0; c < 2; c++) {
            for (int t = 0; t < len; t++)
                k += (size_t)sprintf(buf + k, "%s%d", t ? "," : "", 100 * i + 10 * c + t);
            k += (size_t)sprintf(buf + k, ":");
        }
        k += (size_t)sprintf(buf + k, "%c\n", "abc"[i % 3]);
    }
    fx_write(train, cap, name, buf, k);
}

static void config_for(ssm_config *c, const char *path) {
    ssm_config_defaults(c);
    c->data.name = SSM_DATA_UCR;
    snprintf(c->data.path, sizeof c->data.path, "%s", path);
    c->data.val_fraction = 0;
    c->data.num_workers = 0;
    c->data.pack = true;
    c->data.batch_size = 4;
    c->data.eval_batch_size = 5;
}

static void setup(void) {
    fx_init();
    char p[512];
    write_set(p, sizeof p, 20, "Toy_TRAIN.ts");
    write_set(p, sizeof p, 11, "Toy_TEST.ts");
}

static void teardown(void) { fx_cleanup(); }

START_TEST(automatic_patching) {
    int64_t p = 0, s = 0;
    ucr_patch_auto(150, &p, &s); // GunPoint: ceil(150 / 64) = 3
    ck_assert(p == 6 && s == 3);
    ck_assert_int_eq(ucr_patch_count(150, 6, 3), 49); // ceil(144 / 3) + 1
    p = s = 0;
    ucr_patch_auto(29, &p, &s); // JapaneseVowels: one token per step
    ck_assert(p == 2 && s == 1);
    ck_assert_int_eq(ucr_patch_count(29, 2, 1), 28);
    ck_assert_int_eq(ucr_patch_count(7, 2, 1), 6);
    p = s = 0;
    ucr_patch_auto(2844, &p, &s); // Rock: ceil(2844 / 64) = 45
    ck_assert(p == 90 && s == 45);
    ck_assert_int_eq(ucr_patch_count(2844, 90, 45), 63);
    p = 8, s = 0;
    ucr_patch_auto(100, &p, &s); // a given length keeps it, stride half of it
    ck_assert(p == 8 && s == 4);
    ck_assert_int_eq(ucr_patch_count(1, 8, 4), 1);  // shorter than a patch: one token
    ck_assert_int_eq(ucr_patch_count(9, 8, 4), 2);  // 8 + a partial patch
    ck_assert_int_eq(ucr_patch_count(12, 8, 4), 2); // exactly two
}
END_TEST

START_TEST(tokens_are_the_series_patches) {
    char path[512];
    fx_path(path, sizeof path, "Toy_TRAIN.ts");
    ssm_config c;
    config_for(&c, path);
    c.data.patch_len = 3;
    c.data.patch_stride = 2;
    series_data d;
    ssm_error e = {0};
    ck_assert_msg(series_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert(d.ragged && d.token == 6 && d.patch_len == 3 && d.patch_stride == 2);
    ck_assert(!d.has_val && d.n_train == 20 && d.n_test == 11);
    // the test batcher: in order, not augmented; sample i has ceil((n - 3) / 2) + 1 tokens
    int64_t seen = 0;
    for (;;) {
        const ssm_batch *b;
        ck_assert_msg(ssm_batcher_next(&d.test, &b, &e) == SSM_OK, "%s", e.msg);
        if (!b)
            break;
        ck_assert_ptr_nonnull(b->offsets);
        ck_assert_int_le(b->tokens, d.max_tokens);
        for (int64_t k = 0; k < b->B; k++) {
            int64_t i = b->index[k], n = 3 + i % 9, P = ucr_patch_count(n, 3, 2);
            ck_assert_int_eq(b->length[k], P);
            ck_assert_int_eq(b->offsets[k + 1] - b->offsets[k], P);
            ck_assert_int_eq(b->y[k], (int32_t)(i % 3));
            for (int64_t r = 0; r < P; r++)
                for (int64_t j = 0; j < 3; j++)
                    for (int64_t ch = 0; ch < 2; ch++) {
                        int64_t t = 2 * r + j < n ? 2 * r + j : n - 1;
                        real v = b->x[(b->offsets[k] + r) * 6 + j * 2 + ch];
                        ck_assert_msg(v == (real)(100 * i + 10 * ch + t),
                                      "sample %lld token %lld step %lld channel %lld: %g",
                                      (long long)i, (long long)r, (long long)j, (long long)ch,
                                      (double)v);
                    }
        }
        seen += b->B;
    }
    ck_assert_int_eq(seen, 11);
    series_data_close(&d);
}
END_TEST

START_TEST(series_norm_uses_each_length) {
    char path[512];
    fx_path(path, sizeof path, "Toy_TRAIN.ts");
    ssm_config c;
    config_for(&c, path);
    c.data.pack = false;
    c.data.series_norm = SSM_SERIES_NORM_SERIES;
    series_data d;
    ssm_error e = {0};
    ck_assert_msg(series_data_open(&d, &c.data, 1, 0, &e) == SSM_OK, "%s", e.msg);
    const ucr_set *s = &d.ucr_train;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t n = s->lengths[i];
        for (int64_t ch = 0; ch < 2; ch++) {
            double m = 0, v = 0;
            for (int64_t t = 0; t < n; t++)
                m += s->x[(i * s->len + t) * 2 + ch];
            m /= n;
            for (int64_t t = 0; t < n; t++) {
                double z = s->x[(i * s->len + t) * 2 + ch] - m;
                v += z * z;
            }
            ck_assert(fabs(m) < 1e-5 && fabs(sqrt(v / n) - 1) < 1e-4);
            for (int64_t t = n; t < s->len; t++) // the padding is left at 0
                ck_assert(s->x[(i * s->len + t) * 2 + ch] == 0);
        }
    }
    series_data_close(&d);
}
END_TEST

START_TEST(dataset_norm_uses_the_training_values) {
    char path[512];
    fx_path(path, sizeof path, "Toy_TRAIN.ts");
    ssm_config c;
    config_for(&c, path);
    c.data.series_norm = SSM_SERIES_NORM_DATASET;
    c.data.val_fraction = 0.25; // 5 series held out: their values do not enter the scale
    series_data d;
    ssm_error e = {0};
    ck_assert_msg(series_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert(d.n_train == 15 && d.n_val == 5);
    // the raw values: 100 i + 10 c + t, sample i of length 3 + i % 9
    for (int ch = 0; ch < 2; ch++) {
        double m = 0, m2 = 0;
        int k = 0;
        for (int j = 0; j < 15; j++) {
            int i = (int)d.ucr_train_ids[j];
            for (int t = 0; t < 3 + i % 9; t++) {
                m += 100 * i + 10 * ch + t;
                k++;
            }
        }
        m /= k;
        for (int j = 0; j < 15; j++) {
            int i = (int)d.ucr_train_ids[j];
            for (int t = 0; t < 3 + i % 9; t++)
                m2 += (100 * i + 10 * ch + t - m) * (100 * i + 10 * ch + t - m);
        }
        double sd = sqrt(m2 / k);
        ck_assert(fabs(d.ucr_mean[ch] - m) < 1e-6 * m && fabs(d.ucr_std[ch] - sd) < 1e-6 * sd);
        // test sample 7, time 2, by the training scale; its padding stays 0
        const ucr_set *ts = &d.ucr_test;
        double want = (700 + 10 * ch + 2 - m) / sd;
        ck_assert(fabs(ts->x[(7 * ts->len + 2) * 2 + ch] - want) < 1e-4);
        ck_assert(ts->x[(1 * ts->len + 10) * 2 + ch] == 0); // sample 1 has 4 steps
    }
    series_data_close(&d);
}
END_TEST

START_TEST(auto_norm_follows_the_channel_count) {
    ck_assert(ucr_series_norm_resolve(SSM_SERIES_NORM_AUTO, 1) == SSM_SERIES_NORM_SERIES);
    ck_assert(ucr_series_norm_resolve(SSM_SERIES_NORM_AUTO, 3) == SSM_SERIES_NORM_DATASET);
    ck_assert(ucr_series_norm_resolve(SSM_SERIES_NORM_NONE, 1) == SSM_SERIES_NORM_NONE);
    // multivariate (Toy, 2 channels): the same values as dataset
    char path[512];
    fx_path(path, sizeof path, "Toy_TRAIN.ts");
    ssm_config c;
    config_for(&c, path);
    series_data a, b;
    ssm_error e = {0};
    c.data.series_norm = SSM_SERIES_NORM_AUTO;
    ck_assert_msg(series_data_open(&a, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    c.data.series_norm = SSM_SERIES_NORM_DATASET;
    ck_assert_msg(series_data_open(&b, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert(a.ucr_mean && b.ucr_mean && a.ucr_mean[1] == b.ucr_mean[1]);
    size_t nx = (size_t)a.ucr_test.n * a.ucr_test.len * 2;
    ck_assert(!memcmp(a.ucr_test.x, b.ucr_test.x, nx * sizeof *a.ucr_test.x));
    series_data_close(&a);
    series_data_close(&b);
    // univariate, raw levels far apart (as PLAID ships): each series z-normalised over its
    // own length; the trailing NaN are padding
    static const char tsv[] = "1\t1\t2\t3\t4\n"
                              "2\t100\t300\t200\tNaN\n"
                              "1\t0.5\t0.25\t0.75\t1\n";
    char uni[512];
    fx_write(uni, sizeof uni, "Uni_TRAIN.tsv", tsv, sizeof tsv - 1);
    fx_write(path, sizeof path, "Uni_TEST.tsv", tsv, sizeof tsv - 1);
    config_for(&c, uni);
    c.data.series_norm = SSM_SERIES_NORM_AUTO;
    ck_assert_msg(series_data_open(&a, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert(a.ucr_mean == NULL);
    const ucr_set *s = &a.ucr_test;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t n = s->lengths[i];
        double m = 0, v = 0;
        for (int64_t t = 0; t < n; t++)
            m += s->x[i * s->len + t];
        m /= n;
        for (int64_t t = 0; t < n; t++)
            v += (s->x[i * s->len + t] - m) * (s->x[i * s->len + t] - m);
        ck_assert_msg(fabs(m) < 1e-5 && fabs(sqrt(v / n) - 1) < 1e-4, "series %lld: mean %g sd %g",
                      (long long)i, m, sqrt(v / n));
    }
    ck_assert_int_eq(s->lengths[1], 3);
    series_data_close(&a);
}
END_TEST

// The bytes of every training batch of epochs 0 and 1.
static size_t epoch_bytes(series_data *d, real *out, size_t cap) {
    size_t k = 0;
    ssm_error e = {0};
    for (int ep = 0; ep < 2; ep++)
        for (;;) {
            const ssm_batch *b;
            ck_assert_msg(ssm_batcher_next(&d->train, &b, &e) == SSM_OK, "%s", e.msg);
            if (!b)
                break;
            ck_assert(k + (size_t)b->tokens * d->token <= cap);
            memcpy(out + k, b->x, (size_t)b->tokens * d->token * sizeof *out);
            k += (size_t)b->tokens * d->token;
        }
    return k;
}

START_TEST(augmented_batches_are_reproducible) {
    char path[512];
    fx_path(path, sizeof path, "Toy_TRAIN.ts");
    ssm_config c;
    config_for(&c, path);
    c.data.series_norm = SSM_SERIES_NORM_DATASET;
    c.data.augment.jitter = 0.03;
    c.data.augment.scaling = 0.1;
    c.data.augment.window_slice = 0.9;
    c.data.augment.window_warp = 0.1;
    enum { CAP = 20000 };
    static real a[CAP], b[CAP], plain[CAP];
    size_t na, nb, np;
    ssm_error e = {0};
    series_data d;
    ck_assert_msg(series_data_open(&d, &c.data, 3, 0, &e) == SSM_OK, "%s", e.msg);
    na = epoch_bytes(&d, a, CAP);
    // once more from epoch 0 after a seek: the same bits
    ck_assert(ssm_batcher_seek(&d.train, 0, 0, &e) == SSM_OK);
    nb = epoch_bytes(&d, b, CAP);
    ck_assert(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    series_data_close(&d);
    c.data.num_workers = 1; // with the prefetch thread
    ck_assert_msg(series_data_open(&d, &c.data, 3, 0, &e) == SSM_OK, "%s", e.msg);
    nb = epoch_bytes(&d, b, CAP);
    ck_assert(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    series_data_close(&d);
    // without augmentation the same order gives other values: the augmentation is on
    c.data.augment.jitter = c.data.augment.scaling = 0;
    c.data.augment.window_slice = c.data.augment.window_warp = 0;
    ck_assert_msg(series_data_open(&d, &c.data, 3, 0, &e) == SSM_OK, "%s", e.msg);
    np = epoch_bytes(&d, plain, CAP);
    ck_assert(np == na && memcmp(a, plain, na * sizeof *a) != 0);
    series_data_close(&d);
}
END_TEST

START_TEST(small_sets_and_refusals) {
    char path[512];
    fx_path(path, sizeof path, "Toy_TEST.ts"); // 11 series, read as a training file
    char train[512];
    write_set(train, sizeof train, 3, "Tiny_TRAIN.ts");
    write_set(path, sizeof path, 3, "Tiny_TEST.ts");
    ssm_config c;
    config_for(&c, train);
    c.data.batch_size = 16;
    series_data d;
    ssm_error e = {0};
    ck_assert_msg(series_data_open(&d, &c.data, 1, 0, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(ssm_batcher_batches_per_epoch(&d.train), 1); // 3 series, one batch
    series_data_close(&d);
    c.data.pack = false;
    c.data.patch_len = 4;
    ck_assert_int_eq(series_data_open(&d, &c.data, 1, 0, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "data.patch_len"), "%s", e.msg);
    ssm_config f;
    ssm_config_defaults(&f);
    f.data.name = SSM_DATA_CSV;
    snprintf(f.data.path, sizeof f.data.path, "%s", train);
    f.data.pack = true;
    ck_assert_int_eq(series_data_open(&d, &f.data, 1, 0, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "data.pack"), "%s", e.msg);
}
END_TEST

START_TEST(real_japanese_vowels) {
    const char *root = getenv("SSMKIT_DATA");
    char path[SSM_CFG_PATH_MAX];
    snprintf(path, sizeof path, "%s/ucr/JapaneseVowels/JapaneseVowels_TRAIN.ts",
             root && *root ? root : "../shared/data");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "real_japanese_vowels: %s not found, skipped\n", path);
        return;
    }
    ssm_config c;
    config_for(&c, path);
    c.data.batch_size = 32;
    c.data.eval_batch_size = 64;
    series_data d;
    ssm_error e = {0};
    ck_assert_msg(series_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert(d.in_vars == 12 && d.T == 29 && d.num_classes == 9 && d.n_train == 270 &&
              d.n_test == 370);
    ck_assert(d.patch_len == 2 && d.patch_stride == 1 && d.token == 24);
    int64_t shortest = 1 << 30, longest = 0, n = 0;
    for (;;) {
        const ssm_batch *b;
        ck_assert_msg(ssm_batcher_next(&d.test, &b, &e) == SSM_OK, "%s", e.msg);
        if (!b)
            break;
        for (int64_t k = 0; k < b->B; k++) {
            int64_t len = d.ucr_test.lengths[b->index[k]];
            ck_assert_int_eq(b->length[k], len - 1); // a token per step pair
            shortest = len < shortest ? len : shortest;
            longest = len > longest ? len : longest;
        }
        n += b->B;
    }
    ck_assert_int_eq(n, 370);
    ck_assert_msg(shortest < 10 && longest > 25, "lengths %lld..%lld", (long long)shortest,
                  (long long)longest);
    series_data_close(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ucr_pack");
    TCase *tc = tcase_create("pack");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, automatic_patching);
    tcase_add_test(tc, tokens_are_the_series_patches);
    tcase_add_test(tc, series_norm_uses_each_length);
    tcase_add_test(tc, auto_norm_follows_the_channel_count);
    tcase_add_test(tc, dataset_norm_uses_the_training_values);
    tcase_add_test(tc, augmented_batches_are_reproducible);
    tcase_add_test(tc, small_sets_and_refusals);
    tcase_add_test(tc, real_japanese_vowels);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
