// Check suite: multiple-instance learning end to end through the `ssmkit` binaries
// (SSMKIT_BIN, default build/ssmkit):
//   - `ssmkit-f64 check-grad` of configs/mil/musk1.yaml on a generated musk CSV (packed
//     bags of 1..9 instances through the bag adapter, a bidirectional backbone and the
//     gated attention head, double precision);
//   - `ssmkit train` of configs/mil/camelyon16_clam.yaml on a generated CLAM-layout slide
//     set (datasets/mil_synth.h: 3..6 witness instances among 50..300 decide the label;
//     the recipe's own model, d_model 128, 2 layers, 15 epochs on 41 training slides):
//     test AUC >= 0.95, predictions_test.csv and attention_test.csv written, and the
//     attention ranks a witness first in >= 90% of the positive test slides;
//   - `ssmkit cv` (3 folds) of musk1.yaml: cv_folds.csv with one row per fold and
//     cv_summary.json with the mean and std of each metric;
//   - refusals: a bag adapter under the classify task, a bag longer than data.max_tokens.
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "datasets/mil_synth.h"
#include "tests/series_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

static char bin[512], out[1024];

// Runs cmd with the last line of its stdout into `out`; returns the exit code.
static int run(const char *cmd) { return cf_run_last_line(cmd, fx_dir, out, sizeof out); }

// A musk-style CSV: 40 bags of 1..9 instances of 6 features; a positive bag holds one
// instance whose first feature is large.
static void write_musk(char *path, size_t n) {
    char *buf = malloc(1 << 16);
    size_t len = 0;
    unsigned s = 7;
    for (int bag = 0; bag < 40; bag++) {
        int pos = bag % 2, k = 1 + (bag * 5) % 9;
        for (int i = 0; i < k; i++) {
            int wit = pos && i == k / 2;
            len += (size_t)sprintf(buf + len, "%d,%d", wit, bag);
            for (int f = 0; f < 6; f++) {
                s = s * 1103515245u + 12345u;
                double v = ((s >> 8) % 2000) / 1000.0 - 1.0 + (wit && f == 0 ? 3.0 : 0.0);
                len += (size_t)sprintf(buf + len, ",%.4f", v);
            }
            len += (size_t)sprintf(buf + len, "\n");
        }
    }
    fx_write(path, n, "musk.csv", buf, len);
    free(buf);
}

static void setup(void) {
    fx_init();
    snprintf(bin, sizeof bin, "%s", cf_bin());
}

static void teardown(void) { fx_cleanup(); }

static const char *SMALL_MUSK = "--set backbone.d_model=8 --set backbone.d_state=4 "
                                "--set task.attn_dim=8 --set data.val_fraction=0.2";

START_TEST(musk_check_grad) {
    char csv[512], cmd[2048];
    write_musk(csv, sizeof csv);
    snprintf(cmd, sizeof cmd, "%s-f64 check-grad configs/mil/musk1.yaml %s --set data.path=%s",
             bin, SMALL_MUSK, csv);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, ": ok"));
}
END_TEST

// The witness flags of one slide's h5 file, [n] (malloc'd), or NULL.
static int64_t *read_witness(const char *dir, const char *slide, int64_t *n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/h5_files/%s.h5", dir, slide);
    hid_t f = H5Fopen(p, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return NULL;
    hid_t d = H5Dopen2(f, "witness", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    hsize_t dims[1] = {0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    int64_t *w = malloc(dims[0] * sizeof *w);
    H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, w);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    *n = (int64_t)dims[0];
    return w;
}

START_TEST(clam_train_finds_the_witnesses) {
    char dir[600], cmd[4096];
    snprintf(dir, sizeof dir, "%s/slides", fx_dir);
    mil_synth_opts o = {.n_bags = 96, .min_len = 50, .max_len = 300, .F = 16,
                        .min_witness = 3, .max_witness = 6, .shift = 6.0,
                        .positive_fraction = 0.5, .n_splits = 2, .val_fraction = 0.15,
                        .seed = 11};
    ssm_error e = {0};
    ck_assert_msg(mil_synth_write(dir, &o, &e) == SSM_OK, "%s", e.msg);
    snprintf(cmd, sizeof cmd,
             "%s train configs/mil/camelyon16_clam.yaml --set data.path=%s/dataset.csv "
             "--set data.features_dir=%s --set data.splits_dir=%s/splits "
             "--set train.epochs=15 --set optim.lr=1e-3 "
             "--set run.dir=%s --set run.name=c",
             bin, dir, dir, dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    double auc = cf_json_number(out, "test_auc");
    ck_assert_msg(auc >= 0.95, "test AUC %g < 0.95: %s", auc, out);
    // attention: the top instance of each positive test slide is a witness
    char p[800];
    snprintf(p, sizeof p, "%s/c/predictions_test.csv", fx_dir);
    FILE *pf = fopen(p, "r");
    ck_assert_ptr_nonnull(pf);
    snprintf(p, sizeof p, "%s/c/attention_test.csv", fx_dir);
    FILE *af = fopen(p, "r");
    ck_assert_ptr_nonnull(af);
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, pf)); // headers
    ck_assert_ptr_nonnull(fgets(line, sizeof line, af));
    int positives = 0, found = 0;
    while (fgets(line, sizeof line, pf)) {
        long long bag, inst;
        char name[128];
        int label;
        ck_assert_int_eq(sscanf(line, "%lld,\"%127[^\"]\",%lld,%d", &bag, name, &inst, &label), 4);
        int64_t n_w = 0;
        int64_t *w = read_witness(dir, name, &n_w);
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(n_w, inst);
        double best = -1;
        int64_t arg = -1;
        for (int64_t j = 0; j < inst; j++) {
            long long b2, j2;
            double a;
            ck_assert_ptr_nonnull(fgets(line, sizeof line, af));
            ck_assert_int_eq(sscanf(line, "%lld,%lld,%lf", &b2, &j2, &a), 3);
            ck_assert_int_eq(b2, bag);
            ck_assert_int_eq(j2, j);
            if (a > best)
                best = a, arg = j;
        }
        if (label == 1) {
            positives++;
            found += w[arg] != 0;
        }
        free(w);
    }
    fclose(pf);
    fclose(af);
    ck_assert_int_gt(positives, 0);
    // eval --out: the same per-bag predictions from the best checkpoint, for any split
    snprintf(cmd, sizeof cmd,
             "%s eval configs/mil/camelyon16_clam.yaml --set data.path=%s/dataset.csv "
             "--set data.features_dir=%s --set data.splits_dir=%s/splits --ckpt %s/c/best.safetensors "
             "--split val --out %s/ev", bin, dir, dir, dir, fx_dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, "\"split\":\"val\""));
    snprintf(p, sizeof p, "%s/ev/predictions_test.csv", fx_dir);
    ck_assert_int_eq(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/ev/attention_test.csv", fx_dir);
    ck_assert_int_eq(access(p, R_OK), 0);
    ck_assert_msg(found * 10 >= positives * 9, "a witness ranks first in %d of %d positive "
                  "slides", found, positives);
}
END_TEST

START_TEST(musk_cross_validation) {
    char csv[512], cmd[2048], p[800];
    write_musk(csv, sizeof csv);
    snprintf(cmd, sizeof cmd, "%s cv configs/mil/musk1.yaml --folds 3 %s --set data.path=%s "
             "--set train.epochs=3 --set run.dir=%s --set run.name=cv", bin, SMALL_MUSK, csv,
             fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    snprintf(p, sizeof p, "%s/cv/cv_folds.csv", fx_dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int rows = 0;
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(strstr(line, "repeat,fold,loss,accuracy,balanced_accuracy"));
    while (fgets(line, sizeof line, f))
        ck_assert_int_eq(atoi(strchr(line, ',') + 1), rows++);
    fclose(f);
    ck_assert_int_eq(rows, 3);
    snprintf(p, sizeof p, "%s/cv/cv_summary.json", fx_dir);
    f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    double m = cf_json_number(line, "accuracy_mean");
    ck_assert_msg(m >= 0 && m <= 1, "%s", line);
    ck_assert_ptr_nonnull(strstr(line, "\"auc_std\":"));
    for (int k = 0; k < 3; k++) { // one ordinary run folder per fold
        snprintf(p, sizeof p, "%s/cv/r0_f%d/best.safetensors", fx_dir, k);
        ck_assert_int_eq(access(p, R_OK), 0);
    }
}
END_TEST

START_TEST(refusals) {
    char csv[512], cmd[2048];
    write_musk(csv, sizeof csv);
    snprintf(cmd, sizeof cmd, "%s train configs/mil/musk1.yaml %s --set data.path=%s "
             "--set task.name=classify --set task.pool=mean --set run.dir=%s", bin, SMALL_MUSK,
             csv, fx_dir);
    ck_assert_int_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s train configs/mil/musk1.yaml %s --set data.path=%s "
             "--set data.max_tokens=4 --set run.dir=%s", bin, SMALL_MUSK, csv, fx_dir);
    ck_assert_int_ne(run(cmd), 0);
    char p[700], err[2048] = "";
    snprintf(p, sizeof p, "%s/stderr.txt", fx_dir);
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(err, 1, sizeof err - 1, f);
    err[n] = 0;
    fclose(f);
    ck_assert_msg(strstr(err, "max_instances") != NULL, "%s", err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mil_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, musk_check_grad);
    tcase_add_test(tc, clam_train_finds_the_witnesses);
    tcase_add_test(tc, musk_cross_validation);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
