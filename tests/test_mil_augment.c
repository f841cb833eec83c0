// Check suite: the training augmentation of MIL bags (datasets/mil_bags.h), on a musk
// fixture through mil_data_open as a config sets it: data.augment.feature_dropout zeroes
// about p of the training features and scales the others by 1 / (1 - p); fresh each epoch,
// pure in the key (a second open gives the same epoch); validation and test bags untouched;
// a probability outside [0, 1) refused.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "datasets/mil_data.h"
#include "tests/mil_fixture.h"
#include "tests/util/suite.h"

enum { NBAGS = 30, FEAT = 4 };

// 30 bags c0..c29 of 2 + (3 i) % 7 instances; instance t of bag i: features
// (i, t, i * t, 7 - i + t / 4); odd bags positive (their first instance).
static void write_bags(const char *path) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < NBAGS; i++)
        for (int t = 0; t < 2 + (3 * i) % 7; t++)
            fprintf(f, "%d,c%d,%d,%d,%d,%g\n", i % 2 && t == 0, i, i, t, i * t, 7 - i + 0.25 * t);
    fclose(f);
}

static ssm_config config(const char *csv) {
    ssm_config c;
    ssm_config_defaults(&c);
    c.data.name = SSM_DATA_MUSK;
    snprintf(c.data.path, sizeof c.data.path, "%s", csv);
    c.data.folds = 5;
    c.data.fold = 2;
    c.data.val_fraction = 0.25;
    c.data.batch_size = 2;
    c.data.num_workers = 0;
    return c;
}

static void open_ok(mil_data *d, const ssm_config *c) {
    ssm_error e = {0};
    ck_assert_msg(mil_data_open(d, &c->data, 4, 1, &e) == SSM_OK, "%s", e.msg);
}

START_TEST(feature_dropout_drops_training_features_only) {
    char dir[256], csv[300];
    mil_tmpdir(dir);
    snprintf(csv, sizeof csv, "%s/b.csv", dir);
    write_bags(csv);
    ssm_config c = config(csv);
    mil_data plain, drop, again;
    open_ok(&plain, &c);
    c.data.augment.feature_dropout = 0.4;
    open_ok(&drop, &c);
    open_ok(&again, &c);
    mil_epoch p0, d0, d1, a0;
    mil_epoch_run(&p0, &plain.train, NBAGS, FEAT);
    mil_epoch_run(&d0, &drop.train, NBAGS, FEAT);
    mil_epoch_run(&d1, &drop.train, NBAGS, FEAT);
    mil_epoch_run(&a0, &again.train, NBAGS, FEAT);
    int64_t zeros = 0, total = 0, differ = 0;
    for (int64_t i = 0; i < plain.n_train; i++) {
        int64_t b = plain.split.train[i];
        ck_assert_int_eq(d0.len[b], p0.len[b]);
        for (int64_t v = 0; v < p0.len[b] * FEAT; v++) {
            real x = d0.x[b][v], ref = p0.x[b][v];
            total++;
            if (x == 0 && ref != 0)
                zeros++;
            else
                ck_assert_msg(fabs((double)x - ref / 0.6) <= 1e-5 * (1 + fabs((double)ref)),
                              "bag %lld value %lld: %g, plain %g", (long long)b, (long long)v,
                              (double)x, (double)ref);
            ck_assert(x == a0.x[b][v]); // pure in the key: the same epoch, the same drops
        }
        differ += memcmp(d0.x[b], d1.x[b], (size_t)(p0.len[b] * FEAT) * sizeof(real)) != 0;
    }
    ck_assert_msg(fabs((double)zeros / (double)total - 0.4) < 0.08, "%lld of %lld dropped",
                  (long long)zeros, (long long)total);
    ck_assert_int_gt(differ, plain.n_train / 2); // a fresh draw every epoch
    // validation and test: exactly the plain values
    ssm_batcher *pe[2] = {&plain.val, &plain.test}, *de[2] = {&drop.val, &drop.test};
    for (int s = 0; s < 2; s++) {
        mil_epoch pv, dv;
        mil_epoch_run(&pv, pe[s], NBAGS, FEAT);
        mil_epoch_run(&dv, de[s], NBAGS, FEAT);
        for (int b = 0; b < NBAGS; b++) {
            ck_assert_int_eq(pv.seen[b], dv.seen[b]);
            if (pv.seen[b])
                ck_assert(!memcmp(pv.x[b], dv.x[b], (size_t)(pv.len[b] * FEAT) * sizeof(real)));
        }
        mil_epoch_free(&pv), mil_epoch_free(&dv);
    }
    mil_epoch_free(&p0), mil_epoch_free(&d0), mil_epoch_free(&d1), mil_epoch_free(&a0);
    mil_data_close(&plain), mil_data_close(&drop), mil_data_close(&again);
    ssm_error e = {0};
    c.data.augment.feature_dropout = 1;
    ck_assert_int_eq(mil_data_open(&drop, &c.data, 4, 1, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "feature dropout 1: expected a probability in [0, 1)"), "%s",
                  e.msg);
    mil_rmtree(dir);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mil_augment");
    TCase *tc = tcase_create("mil_augment");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, feature_dropout_drops_training_features_only);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
