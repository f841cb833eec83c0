// Check suite: MIL folds and recipes. Stratified K-fold with repeats (every bag in exactly
// one test fold, each class's share kept, validation carved per class, pure in the seed);
// mil_data_open from the config for musk (a fixture, and the shared Musk1 when present),
// clam (a synthetic set, its split files, class-balanced sampling, coordinates) and
// fmnist_bags (when Fashion-MNIST is installed): ragged batchers over the right bags,
// features standardised with the training bags, too-long bags refused by name.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "datasets/image_data.h"
#include "datasets/mil_data.h"
#include "datasets/mil_folds.h"
#include "datasets/mil_synth.h"
#include "tests/mil_fixture.h"
#include "tests/util/suite.h"

enum { NB = 103, K = 10 };

static int32_t label_of(int64_t i) { return i % 7 == 0 ? 2 : i % 3 == 0 ? 1 : 0; }

START_TEST(stratified_folds_partition_and_keep_class_shares) {
    int32_t lab[NB];
    int64_t count[3] = {0};
    for (int i = 0; i < NB; i++)
        count[lab[i] = label_of(i)]++;
    ssm_error e = {0};
    for (int64_t rep = 0; rep < 2; rep++) {
        int tested[NB] = {0};
        for (int64_t f = 0; f < K; f++) {
            mil_split sp;
            ck_assert_msg(mil_folds_stratified(&sp, lab, NB, 3, K, f, rep, 0.2, 7, &e) == SSM_OK,
                          "%s", e.msg);
            ck_assert_int_eq(sp.n_train + sp.n_val + sp.n_test, NB);
            ck_assert(sp.n_test == NB / K || sp.n_test == NB / K + 1);
            int where[NB];
            for (int i = 0; i < NB; i++)
                where[i] = -1;
            int64_t *lists[3] = {sp.train, sp.val, sp.test}, ns[3] = {sp.n_train, sp.n_val, sp.n_test};
            int64_t per[3][3] = {{0}};
            for (int l = 0; l < 3; l++)
                for (int64_t i = 0; i < ns[l]; i++) {
                    int64_t b = lists[l][i];
                    ck_assert(b >= 0 && b < NB && where[b] < 0);
                    where[b] = l;
                    per[l][lab[b]]++;
                    if (i)
                        ck_assert_int_lt(lists[l][i - 1], b); // sorted
                }
            for (int c = 0; c < 3; c++) {
                // test: floor or ceil of the class count / K
                ck_assert(per[2][c] == count[c] / K || per[2][c] == count[c] / K + 1);
                // val: round(0.2 * the class's bags outside the test fold)
                int64_t rest = count[c] - per[2][c];
                ck_assert_int_eq(per[1][c], llround(0.2 * rest));
            }
            for (int64_t i = 0; i < sp.n_test; i++)
                tested[sp.test[i]]++;
            mil_split again;
            ck_assert_int_eq(mil_folds_stratified(&again, lab, NB, 3, K, f, rep, 0.2, 7, &e), SSM_OK);
            ck_assert(again.n_test == sp.n_test &&
                      !memcmp(again.test, sp.test, (size_t)sp.n_test * sizeof *sp.test) &&
                      !memcmp(again.val, sp.val, (size_t)sp.n_val * sizeof *sp.val));
            mil_split_free(&again);
            if (f == 0) { // another repeat (or seed) deals other folds
                ck_assert_int_eq(
                    mil_folds_stratified(&again, lab, NB, 3, K, 0, rep + 1, 0.2, 7, &e), SSM_OK);
                ck_assert(memcmp(again.test, sp.test, (size_t)sp.n_test * sizeof *sp.test) != 0);
                mil_split_free(&again);
            }
            mil_split_free(&sp);
        }
        for (int i = 0; i < NB; i++)
            ck_assert_int_eq(tested[i], 1); // every bag in exactly one test fold
    }
    mil_split sp;
    ck_assert_int_eq(mil_folds_stratified(&sp, lab, NB, 3, 1, 0, 0, 0, 7, &e), SSM_EINVAL);
    ck_assert_int_eq(mil_folds_stratified(&sp, lab, NB, 3, K, K, 0, 0, 7, &e), SSM_EINVAL);
    ck_assert_int_eq(mil_folds_stratified(&sp, lab, NB, 2, K, 0, 0, 0, 7, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "label 2 is outside 0..1"), "%s", e.msg);
    // no validation
    ck_assert_int_eq(mil_folds_stratified(&sp, lab, NB, 3, K, 3, 0, 0, 7, &e), SSM_OK);
    ck_assert_int_eq(sp.n_val, 0);
    ck_assert_ptr_nonnull(sp.val);
    mil_split_free(&sp);
}
END_TEST

// 20 bags a0..a19 of 1 + i % 6 instances, two features (i + t, 10 * t); even bags positive.
static void write_musk(const char *path) {
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 20; i++)
        for (int t = 0; t < 1 + i % 6; t++)
            fprintf(f, "%d,a%d,%d,%d\n", i % 2 == 0 && t == 0, i, i + t, 10 * t);
    fclose(f);
}

static ssm_config musk_config(const char *path) {
    ssm_config c;
    ssm_config_defaults(&c);
    c.data.name = SSM_DATA_MUSK;
    snprintf(c.data.path, sizeof c.data.path, "%s", path);
    c.data.folds = 5;
    c.data.fold = 1;
    c.data.val_fraction = 0.25;
    c.data.batch_size = 3;
    c.data.num_workers = 1;
    return c;
}

START_TEST(musk_recipe_gives_ragged_batchers_over_the_fold) {
    char dir[256], path[300];
    mil_tmpdir(dir);
    snprintf(path, sizeof path, "%s/m.csv", dir);
    write_musk(path);
    ssm_config c = musk_config(path);
    mil_data d;
    ssm_error e = {0};
    ck_assert_msg(mil_data_open(&d, &c.data, 3, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_train + d.n_val + d.n_test, 20);
    ck_assert_int_eq(d.n_test, 4);
    ck_assert_int_eq(d.n_val, 4); // round(0.25 * 8) per class
    ck_assert(d.has_val && d.has_inst_labels && !d.has_coords);
    ck_assert_int_eq(d.F, 2);
    ck_assert_int_eq(d.num_classes, 2);
    ck_assert_ptr_nonnull(d.mean);
    // the training epoch: every training bag once, standardised with the training bags
    mil_epoch ep;
    mil_epoch_run(&ep, &d.train, 20, 2);
    double s[2] = {0}, s2[2] = {0};
    int64_t cnt = 0;
    for (int64_t i = 0; i < d.n_train; i++) {
        int64_t b = d.split.train[i];
        ck_assert_int_eq(ep.seen[b], 1);
        ck_assert_int_eq(ep.len[b], d.bags.len[b]);
        ck_assert_int_eq(ep.y[b], b % 2 == 0);
        for (int64_t t = 0; t < ep.len[b]; t++, cnt++)
            for (int j = 0; j < 2; j++) {
                s[j] += ep.x[b][t * 2 + j];
                s2[j] += (double)ep.x[b][t * 2 + j] * ep.x[b][t * 2 + j];
            }
        ck_assert_int_eq(ep.yt[b][0], b % 2 == 0);
    }
    for (int j = 0; j < 2; j++) {
        ck_assert_double_eq_tol(s[j] / cnt, 0, 1e-5);
        ck_assert_double_eq_tol(s2[j] / cnt, 1, 1e-4);
    }
    mil_epoch_free(&ep);
    mil_epoch_run(&ep, &d.test, 20, 2);
    for (int64_t i = 0; i < d.n_test; i++)
        ck_assert_int_eq(ep.seen[d.split.test[i]], 1);
    mil_epoch_free(&ep);
    ck_assert_ptr_eq(mil_data_bags(&d, 2), &d.bags);
    mil_data_close(&d);

    // crops: data.max_instances 2, first instances; a batch bound smaller than a bag
    c.data.max_instances = 2;
    c.data.instance_sampling = SSM_SAMPLING_FIRST;
    ck_assert_int_eq(mil_data_open(&d, &c.data, 3, 1, &e), SSM_OK);
    ck_assert_int_eq(d.max_tokens[0], 6); // 3 bags of at most 2
    mil_data_close(&d);
    c.data.max_instances = 0;
    c.data.max_tokens = 4;
    ck_assert_int_eq(mil_data_open(&d, &c.data, 3, 1, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "training bag 'a") &&
                      strstr(e.msg, "instances, more than data.max_tokens = 4") &&
                      strstr(e.msg, "data.max_instances"),
                  "%s", e.msg);
    c.data.max_tokens = 0;
    c.data.fold = 5;
    ck_assert_int_eq(mil_data_open(&d, &c.data, 3, 1, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "data.fold 5: expected 0..4"), "%s", e.msg);
    c.data.fold = 0;
    c.data.path[0] = '\0';
    ck_assert_int_eq(mil_data_open(&d, &c.data, 3, 1, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "data.path: empty"), "%s", e.msg);
    mil_data_close(&d); // safe after a failed open
    mil_rmtree(dir);
}
END_TEST

START_TEST(musk1_ten_folds_from_the_config) {
    const char *root = getenv("SSMKIT_DATA");
    char path[480];
    snprintf(path, sizeof path, "%s/mil/musk1.csv", root && root[0] ? root : "../shared/data");
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "skipped: %s is absent (set SSMKIT_DATA to the shared data)\n", path);
        return;
    }
    fclose(f);
    ssm_config c = musk_config(path);
    c.data.folds = 10;
    c.data.val_fraction = 0;
    int tested[92] = {0};
    for (int64_t k = 0; k < 10; k++) {
        c.data.fold = k;
        mil_data d;
        ssm_error e = {0};
        ck_assert_msg(mil_data_open(&d, &c.data, 0, 1, &e) == SSM_OK, "%s", e.msg);
        ck_assert(!d.has_val);
        ck_assert(d.n_test == 9 || d.n_test == 10);
        ck_assert_int_eq(d.n_train + d.n_test, 92);
        ck_assert_int_eq(d.token, 166);
        for (int64_t i = 0; i < d.n_test; i++)
            tested[d.split.test[i]]++;
        mil_data_close(&d);
    }
    for (int i = 0; i < 92; i++)
        ck_assert_int_eq(tested[i], 1);
}
END_TEST

START_TEST(clam_recipe_with_splits_weights_and_coords) {
    char dir[256], csv[300], splits[300];
    mil_tmpdir(dir);
    mil_synth_opts so = {.n_bags = 24, .min_len = 5, .max_len = 30, .F = 6, .min_witness = 1,
                         .max_witness = 2, .shift = 3, .positive_fraction = 0.25, .n_splits = 4,
                         .val_fraction = 0.2, .seed = 4};
    ssm_error e = {0};
    ck_assert_msg(mil_synth_write(dir, &so, &e) == SSM_OK, "%s", e.msg);
    snprintf(csv, sizeof csv, "%s/dataset.csv", dir);
    snprintf(splits, sizeof splits, "%s/splits", dir);
    ssm_config c;
    ssm_config_defaults(&c);
    c.data.name = SSM_DATA_CLAM;
    snprintf(c.data.path, sizeof c.data.path, "%s", csv);
    snprintf(c.data.splits_dir, sizeof c.data.splits_dir, "%s", splits);
    c.data.fold = 2;
    c.data.coords = true;
    c.data.weighted_sampling = true;
    c.data.batch_size = 2;
    c.data.num_workers = 1;
    mil_data d;
    ck_assert_msg(mil_data_open(&d, &c.data, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.token, 8);
    ck_assert(d.has_coords && d.has_inst_labels);
    ck_assert_int_eq(d.n_train + d.n_val + d.n_test, 24);
    ck_assert_int_eq(d.n_test, 6);
    // weighted: an epoch is n_train draws with replacement, the classes about equal
    int64_t pos = 0, draws = 0, pos_bags = 0;
    for (int64_t i = 0; i < d.n_train; i++)
        pos_bags += d.bags.label[d.split.train[i]];
    ck_assert_int_lt(2 * pos_bags, d.n_train); // imbalanced: a quarter positive
    for (int epoch = 0; epoch < 40; epoch++) {
        const ssm_batch *b;
        int64_t in_epoch = 0;
        while (ssm_batcher_next(&d.train, &b, &e) == SSM_OK && b) {
            in_epoch += b->B;
            for (int64_t k = 0; k < b->B; k++) {
                pos += b->y[k];
                int in_train = 0;
                for (int64_t i = 0; i < d.n_train; i++)
                    in_train |= d.split.train[i] == b->index[k];
                ck_assert(in_train);
            }
        }
        ck_assert_int_eq(in_epoch, d.n_train);
        draws += in_epoch;
    }
    ck_assert_double_eq_tol((double)pos / draws, 0.5, 0.06); // ~560 draws: sd 0.021
    // the worst case of a weighted batcher: 2 draws of the longest bag
    int64_t longest = 0;
    for (int64_t i = 0; i < d.n_train; i++)
        longest = d.bags.len[d.split.train[i]] > longest ? d.bags.len[d.split.train[i]] : longest;
    ck_assert_int_eq(d.max_tokens[0], 2 * longest);
    mil_data_close(&d);
    // a split file that does not exist
    c.data.fold = 7;
    ck_assert_int_eq(mil_data_open(&d, &c.data, 1, 1, &e), SSM_EIO);
    ck_assert_msg(strstr(e.msg, "splits_7.csv"), "%s", e.msg);
    // without split files: seeded folds
    c.data.splits_dir[0] = '\0';
    c.data.folds = 4;
    c.data.fold = 3;
    ck_assert_msg(mil_data_open(&d, &c.data, 1, 0, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_test, 6);
    ck_assert_int_eq(d.open & 4, 0); // test_too = 0
    mil_data_close(&d);
    mil_rmtree(dir);
}
END_TEST

START_TEST(fmnist_bags_recipe) {
    FILE *f = fopen(SSM_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", "r");
    if (!f) {
        fprintf(stderr, "skipped: Fashion-MNIST is not installed\n");
        return;
    }
    fclose(f);
    ssm_config c;
    ssm_config_defaults(&c);
    c.data.name = SSM_DATA_FMNIST_BAGS;
    c.data.num_bags = 50;
    c.data.num_test_bags = 40;
    c.data.val_fraction = 0.2;
    c.data.batch_size = 1;
    mil_data d;
    ssm_error e = {0};
    ck_assert_msg(mil_data_open(&d, &c.data, 0, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(d.n_train + d.n_val, 50);
    ck_assert_int_eq(d.n_test, 40);
    ck_assert_int_eq(d.token, 784);
    ck_assert_ptr_eq(mil_data_bags(&d, 2), &d.test_bags);
    mil_epoch ep;
    mil_epoch_run(&ep, &d.test, 40, 784);
    for (int i = 0; i < 40; i++) {
        ck_assert_int_eq(ep.seen[i], 1);
        ck_assert_int_eq(ep.y[i], d.test_bags.label[i]);
    }
    mil_epoch_free(&ep);
    mil_data_close(&d);
    ck_assert_int_eq(mil_data_open(&d, &c.data, 0, 0, &e), SSM_OK); // training only
    ck_assert_int_eq(d.n_test, 0);
    ck_assert_int_eq(d.test_bags.n, 0);
    mil_data_close(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mil_data");
    TCase *tc = tcase_create("mil_data");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, stratified_folds_partition_and_keep_class_shares);
    tcase_add_test(tc, musk_recipe_gives_ragged_batchers_over_the_fold);
    tcase_add_test(tc, musk1_ten_folds_from_the_config);
    tcase_add_test(tc, clam_recipe_with_splits_weights_and_coords);
    tcase_add_test(tc, fmnist_bags_recipe);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
