// Check suite: the UCR/UEA classification recipe, configs/series/ucr.yaml, as a user runs
// it on a set it was never tuned on:
//   - its schedule on a 30-series set: the epochs rise until the run has train.min_steps
//     steps, the warmup is optim.warmup_fraction of them, the rate climbs linearly to
//     optim.lr and ends at optim.min_lr on the last step; no validation split, no early
//     stop, the last weights are tested. On a 9,000-series set the same file caps the run
//     at train.max_steps with a proportionate warmup. (tasks/schedule.h)
//   - end to end through the binary (SSMKIT_BIN, default build/ssmkit): a generated
//     2-channel set of unequal lengths (40 to 80 steps, packed), 3 classes told apart by
//     the shape and channel of one event at a random time, trained with the recipe
//     unchanged except a shorter train.min_steps (300, for the suite's time), must reach a
//     test accuracy of at least 0.9 (chance: 0.33); the run folder holds the confusion
//     matrix, the checkpoint the tokens' patching and the channels' scale (for predict),
//     and config.yaml keeps the recipe's own epochs (not the resolved ones);
//   - 600 classes with long names: the checkpoint's class_names holds all of them whole.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/config.h"
#include "datasets/series_data.h"
#include "tasks/schedule.h"
#include "tests/series_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

static const char *RECIPE = "configs/series/ucr.yaml";

static double gauss(uint64_t *s) {
    double u = tu_uniform(s) + 1e-12, v = tu_uniform(s);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

// n series in .ts: length 40..80, 2 channels of noise (sd 0.3) and one event of class
// i % 3 at a random time: 0 a bump on channel 0, 1 a dip on channel 0, 2 a bump on 1.
static void write_events(char *path, size_t cap, const char *name, int n, uint64_t seed) {
    size_t sz = (size_t)n * 2 * 80 * 12 + 512, k = 0;
    char *buf = malloc(sz);
    k += (size_t)sprintf(buf + k, "@problemName Events\n@timeStamps false\n@univariate false\n"
                                  "@dimensions 2\n@equalLength false\n"
                                  "@classLabel true bump dip other\n@data\n");
    for (int i = 0; i < n; i++) {
        int cls = i % 3, len = 40 + (int)(tu_uniform(&seed) * 41);
        double at = 8 + tu_uniform(&seed) * (len - 16);
        for (int c = 0; c < 2; c++) {
            for (int t = 0; t < len; t++) {
                double v = 0.3 * gauss(&seed);
                double ev = 2.5 * exp(-(t - at) * (t - at) / 8.0);
                if ((cls == 0 && c == 0) || (cls == 2 && c == 1))
                    v += ev;
                else if (cls == 1 && c == 0)
                    v -= ev;
                k += (size_t)sprintf(buf + k, "%s%.4f", t ? "," : "", v);
            }
            k += (size_t)sprintf(buf + k, ":");
        }
        k += (size_t)sprintf(buf + k, "%s\n", cls == 0 ? "bump" : cls == 1 ? "dip" : "other");
    }
    fx_write(path, cap, name, buf, k);
    free(buf);
}

static void setup(void) { fx_init(); }
static void teardown(void) { fx_cleanup(); }

START_TEST(schedule_on_a_30_series_set) {
    char train[512], test[512], set[600];
    write_events(train, sizeof train, "Events_TRAIN.ts", 30, 1);
    write_events(test, sizeof test, "Events_TEST.ts", 9, 2);
    snprintf(set, sizeof set, "data.path=%s", train);
    const char *sets[] = {set, "task.num_classes=3"};
    ssm_config c;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve(&c, RECIPE, sets, 2, &e) == SSM_OK, "%s", e.msg);
    // what the recipe promises whatever the set
    ck_assert(c.data.val_fraction == 0 && c.train.patience == 0);
    ck_assert(c.train.test_checkpoint == SSM_TEST_LAST);
    ck_assert(c.optim.warmup_fraction > 0 && c.optim.warmup_steps == 0 &&
              c.optim.warmup_epochs == 0);
    ck_assert(c.train.min_steps > 0 && c.train.max_steps > c.train.min_steps);
    series_data d;
    ck_assert_msg(series_data_open(&d, &c.data, 0, 0, &e) == SSM_OK, "%s", e.msg);
    ck_assert(!d.has_val && d.n_train == 30 && d.ragged);
    int64_t per = ssm_batcher_batches_per_epoch(&d.train);
    ck_assert_int_eq(per, (30 + c.data.batch_size - 1) / c.data.batch_size); // none dropped
    series_data_close(&d);

    ssm_config r = c;
    int64_t total = lr_schedule_resolve(&r, per);
    ck_assert_int_eq(total, r.train.epochs * per);
    ck_assert_int_ge(total, c.train.min_steps);             // enough steps ...
    ck_assert_int_lt((r.train.epochs - 1) * per, c.train.min_steps); // ... and no more
    ck_assert(r.train.epochs > c.train.epochs);
    int64_t w = (int64_t)llround(c.optim.warmup_fraction * (double)total);
    ck_assert_int_eq(r.optim.warmup_steps, w);
    ck_assert(r.optim.warmup_fraction == 0 && r.optim.warmup_epochs == 0);
    lr_schedule s = {.lr = r.optim.lr, .min_lr = r.optim.min_lr, .warmup_steps = w,
                     .total_steps = total, .cosine = r.optim.schedule == SSM_SCHED_COSINE};
    ck_assert(s.cosine);
    ck_assert_double_eq_tol(lr_schedule_at(&s, 0), r.optim.lr / (double)w, 1e-12);
    ck_assert_double_eq_tol(lr_schedule_at(&s, w - 1), r.optim.lr, 1e-12);
    double mid = lr_schedule_at(&s, w + (total - w) / 2);
    ck_assert(mid < r.optim.lr && mid > r.optim.min_lr);
    ck_assert_double_eq_tol(lr_schedule_at(&s, total - 1), r.optim.min_lr,
                            1e-3 * r.optim.lr); // the cosine has (nearly) reached min_lr
    // resolving is idempotent (a resume resolves the written config again)
    ssm_config again = c;
    ck_assert_int_eq(lr_schedule_resolve(&again, per), total);
    ck_assert(again.train.epochs == r.train.epochs &&
              again.optim.warmup_steps == r.optim.warmup_steps);

    // ElectricDevices' size (8926 series, 558 batches of 16): capped at max_steps
    ssm_config big = c;
    int64_t tb = lr_schedule_resolve(&big, 558);
    ck_assert_int_eq(tb, c.train.max_steps);
    ck_assert_int_eq(big.train.epochs, c.train.epochs);
    ck_assert_int_eq(big.optim.warmup_steps,
                     (int64_t)llround(c.optim.warmup_fraction * (double)tb));
}
END_TEST

START_TEST(recipe_learns_a_generated_set) {
    char train[512], test[512], cmd[4096], p[700];
    write_events(train, sizeof train, "Events_TRAIN.ts", 60, 11);
    write_events(test, sizeof test, "Events_TEST.ts", 90, 12);
    snprintf(cmd, sizeof cmd,
             "%s train %s --set data.path=%s --set task.num_classes=3 --set train.min_steps=300 "
             "--set run.dir=%s --set run.name=ev --set run.progress=off", cf_bin(), RECIPE, train,
             fx_dir);
    char line[2048];
    ck_assert_msg(cf_run_last_line(cmd, fx_dir, line, sizeof line) == 0, "train failed: %s", line);
    ck_assert_msg(strstr(line, "\"test_accuracy\":") != NULL, "%s", line);
    double acc = cf_json_number(line, "test_accuracy");
    fprintf(stderr, "recipe on the generated events set: test accuracy %.4f\n", acc);
    ck_assert_msg(acc >= 0.9, "test accuracy %g < 0.9: %s", acc, line);
    snprintf(p, sizeof p, "%s/ev/confusion_test.csv", fx_dir);
    ck_assert_int_eq(access(p, R_OK), 0);
    // the checkpoint carries what predict needs to make a series into tokens
    snprintf(p, sizeof p, "%s/ev/best.safetensors", fx_dir);
    ssm_ckpt_info info;
    ssm_error ce = {0};
    ck_assert_msg(ssm_checkpoint_inspect(p, &info, &ce) == SSM_OK, "%s", ce.msg);
    int64_t plen = 0, pstr = 0;
    double m0 = NAN, s1 = NAN;
    ck_assert(ssm_metadata_get_int(&info.meta, "data_patch_len", &plen, &ce) == SSM_OK);
    ck_assert(ssm_metadata_get_int(&info.meta, "data_patch_stride", &pstr, &ce) == SSM_OK);
    ck_assert(plen == 4 && pstr == 2); // the longest series has 80 steps: ceil(80 / 64) = 2
    ck_assert(ssm_metadata_get_double(&info.meta, "data_mean.0", &m0, &ce) == SSM_OK);
    ck_assert(ssm_metadata_get_double(&info.meta, "data_std.1", &s1, &ce) == SSM_OK);
    ck_assert(fabs(m0) < 0.5 && s1 > 0.2 && s1 < 2);
    ssm_ckpt_info_free(&info);
    // config.yaml is what was asked (the recipe's epochs), not the resolved schedule
    ssm_config c, r;
    ssm_error e = {0};
    snprintf(p, sizeof p, "%s/ev/config.yaml", fx_dir);
    ck_assert_msg(ssm_config_resolve(&c, p, NULL, 0, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_config_resolve(&r, RECIPE, NULL, 0, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.train.epochs, r.train.epochs);
    ck_assert(c.optim.warmup_fraction == r.optim.warmup_fraction && c.optim.warmup_steps == 0);
}
END_TEST

// A set of 600 classes with long names (AudioSet has 527): the checkpoint's class_names
// carries every name whole, however long the list (it was cut at 4 KB once).
START_TEST(many_long_class_names_survive) {
    enum { K = 600 };
    size_t cap = (size_t)K * 48 + 4096, k = 0;
    char *buf = malloc(cap);
    k += (size_t)sprintf(buf + k, "@problemName Many\n@timeStamps false\n@univariate true\n"
                                  "@equalLength true\n@classLabel true");
    for (int c = 0; c < K; c++)
        k += (size_t)sprintf(buf + k, " class_with_a_long_descriptive_name_%04d", c);
    k += (size_t)sprintf(buf + k, "\n@data\n");
    for (int i = 0; i < 12; i++)
        k += (size_t)sprintf(buf + k, "%d,%d,%d,%d:class_with_a_long_descriptive_name_%04d\n",
                             i, -i, i % 3, 7, (i * 53) % K);
    char train[512], test[512], cmd[4096], p[700];
    fx_write(train, sizeof train, "Many_TRAIN.ts", buf, k);
    fx_write(test, sizeof test, "Many_TEST.ts", buf, k);
    free(buf);
    const char *b = getenv("SSMKIT_BIN");
    snprintf(cmd, sizeof cmd,
             "%s train %s --set data.path=%s --set task.num_classes=%d --set train.min_steps=1 "
             "--set train.epochs=1 --set run.dir=%s --set run.name=many --set run.progress=off "
             "> %s/out.txt 2> %s/err.txt", b && *b ? b : "build/ssmkit", RECIPE, train, K, fx_dir,
             fx_dir, fx_dir);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "train failed (see %s/err.txt)", fx_dir);
    snprintf(p, sizeof p, "%s/many/best.safetensors", fx_dir);
    ssm_ckpt_info info;
    ssm_error ce = {0};
    ck_assert_msg(ssm_checkpoint_inspect(p, &info, &ce) == SSM_OK, "%s", ce.msg);
    const char *names = ssm_metadata_get(&info.meta, "class_names");
    ck_assert_ptr_nonnull(names);
    int lines = 1;
    for (const char *q = names; *q; q++)
        lines += *q == '\n';
    ck_assert_int_eq(lines, K);
    ck_assert(strstr(names, "class_with_a_long_descriptive_name_0000\n") == names);
    const char *last = strrchr(names, '\n');
    ck_assert_str_eq(last + 1, "class_with_a_long_descriptive_name_0599");
    ssm_ckpt_info_free(&info);
}
END_TEST

int main(void) {
    Suite *s = suite_create("ucr_recipe");
    TCase *tc = tcase_create("recipe");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schedule_on_a_30_series_set);
    tcase_add_test(tc, recipe_learns_a_generated_set);
    tcase_add_test(tc, many_long_class_names_survive);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
