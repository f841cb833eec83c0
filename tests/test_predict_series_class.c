// Check suite: `ssmkit predict` on series classification ($SSMKIT_BIN, default
// build/ssmkit): configs/series/ucr.yaml (packed tokens, and a dense series_patch variant)
// on a generated UEA .ts pair of unequal lengths: the test file's class probabilities equal
// the evaluation's (the test batcher, model_predict, softmax) to 1e-6, a plain CSV of one of
// its series predicts the same row, a dense model refuses a series longer than its length,
// and a plain CSV of the wrong width is refused with file:line. The recipe's data.series_norm
// auto is checked both ways: the two-channel set is standardised by the training scale, a
// univariate one (its first channel) z-normalised per series, in predict as in training.
// (Forecasts:
// tests/test_predict_series.c.)
#include <check.h>
#include <math.h>

#include "datasets/series_data.h"
#include "tasks/task_run.h"
#include "tests/predict_fixture.h"

static char ckpt[700];

static void setup(void) { pf_setup(); }
static void teardown(void) { pf_teardown(); }

enum { NTRAIN = 40, NTEST = 20 };
static int n_ch = 2; // channels of the generated set: 2, or 1 (its first channel)

// Series i of a two-class, n_ch-channel set of unequal lengths 24..32, as .ts text values.
static size_t ucr_series(char *buf, int i, int test, int ts) {
    int c = i % 2, len = 24 + (i * 7 + test) % 9;
    size_t n = 0;
    for (int ch = 0; ch < n_ch; ch++)
        for (int t = 0; t < len; t++) {
            double v = ch ? cos(t * 0.3 + i) * (1 + c)
                          : (c ? -1 : 1) * (t - len / 2.0) / 8 + 0.3 * sin(t * 0.7 + i + test);
            n += (size_t)sprintf(buf + n, "%s%.4f", t ? "," : ch ? ":" : "", v);
        }
    if (ts)
        n += (size_t)sprintf(buf + n, ":%s\n", c ? "down" : "up");
    return n;
}

static void write_ucr(char *train, char *test) {
    char *buf = malloc(1 << 16);
    for (int f = 0; f < 2; f++) {
        size_t n = (size_t)sprintf(buf, "@problemName Toy\n@timeStamps false\n@missing false\n"
                                   "@univariate %s\n@dimensions %d\n@equalLength false\n"
                                   "@classLabel true up down\n@data\n",
                                   n_ch == 1 ? "true" : "false", n_ch);
        for (int i = 0; i < (f ? NTEST : NTRAIN); i++)
            n += ucr_series(buf + n, i, f, 1);
        fx_write(f ? test : train, 600, f ? "Toy_TEST.ts" : "Toy_TRAIN.ts", buf, n);
    }
    free(buf);
}

// Test series i of write_ucr as a plain CSV: a header, a row per step, a column per channel.
static void write_plain(char *path, int i) {
    char one[8192], *buf = malloc(1 << 15);
    ucr_series(one, i, 1, 0);
    double v[2][64];
    int len = 0;
    char *p = one;
    for (int ch = 0; ch < n_ch; ch++) {
        int t = 0;
        for (;;) {
            char *end;
            v[ch][t++] = strtod(p, &end);
            p = end + 1;
            if (*end != ',')
                break;
        }
        len = t;
    }
    size_t n = (size_t)sprintf(buf, n_ch == 2 ? "ch0,ch1\n" : "ch0\n");
    for (int t = 0; t < len; t++)
        n += n_ch == 2 ? (size_t)sprintf(buf + n, "%.4f,%.4f\n", v[0][t], v[1][t])
                       : (size_t)sprintf(buf + n, "%.4f\n", v[0][t]);
    fx_write(path, 600, "one.csv", buf, n);
    free(buf);
}

// Trains configs/series/ucr.yaml with sets, then compares predict on the test file with
// the evaluation's batches.
static void ucr_matches_eval(const char *const *sets, int n_sets) {
    char train[600], test[600], plain[600], cmd[8192], set_text[2048];
    write_ucr(train, test);
    write_plain(plain, 3);
    char path_set[700];
    snprintf(path_set, sizeof path_set, "data.path=%s", train);
    const char *all[16] = {path_set, "task.num_classes=2"};
    int n_all = 2;
    for (int i = 0; i < n_sets; i++)
        all[n_all++] = sets[i];
    size_t used = 0;
    for (int i = 0; i < n_all; i++)
        used += (size_t)snprintf(set_text + used, sizeof set_text - used, " --set %s", all[i]);
    snprintf(cmd, sizeof cmd, "%s train configs/series/ucr.yaml%s --set train.min_steps=0 "
             "--set train.epochs=3 --set run.dir=%s --set run.name=u", pf_bin, set_text, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, sizeof ckpt, "%s/u/best.safetensors", fx_dir);
    // in-process: the test batcher through the model
    ssm_config cfg;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve_checked(&cfg, "configs/series/ucr.yaml", all, n_all,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    series_data d;
    ck_assert_msg(series_data_open(&d, &cfg.data, (uint64_t)cfg.run.seed, 1, &e) == SSM_OK, "%s",
                  e.msg);
    task_data_info info = {.input = {2, {d.T, d.in_vars}}, .num_classes = d.num_classes,
                           .class_names = (const char *const *)d.ucr_train.classes};
    if (d.ragged)
        info = (task_data_info){.input = {1, {d.token}}, .num_classes = d.num_classes,
                                .class_names = (const char *const *)d.ucr_train.classes,
                                .max_tokens = d.max_tokens};
    ssm_task *t = NULL;
    ck_assert_msg(task_create(&t, &cfg, &info, cfg.data.eval_batch_size, &e) == SSM_OK, "%s",
                  e.msg);
    ck_assert_msg(task_load_checkpoint(t, ckpt, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    // the training file's path in the config is not needed: the checkpoint holds the rest
    snprintf(cmd, sizeof cmd, "%s predict configs/series/ucr.yaml --set data.path=/absent/"
             "Toy_TRAIN.ts%s --ckpt %s --format csv %s %s", pf_bin, set_text + strlen(" --set ") +
             strlen(path_set), ckpt, test, plain);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, NTEST + 1);
    ck_assert_str_eq(tb.cols[6], "prob_up");
    int seen = 0;
    const ssm_batch *b = NULL;
    while (ssm_batcher_next(&d.test, &b, &e) == SSM_OK && b) {
        const real *out;
        ck_assert_msg(task_batch_layout(t, b, &e) == SSM_OK, "%s", e.msg);
        ck_assert_msg(model_predict(&t->model, b->x, b->B, &out, &e) == SSM_OK, "%s", e.msg);
        for (int64_t i = 0; i < b->B; i++, seen++) {
            char id[32];
            snprintf(id, sizeof id, "%lld", (long long)b->index[i]);
            const pf_row *r = pf_find(&tb, test, id);
            ck_assert_msg(r != NULL, "no row for series %s", id);
            double p[2];
            pf_softmax(p, out + i * t->model.K, 2);
            ck_assert_msg(pf_max_diff(r->v, p, 2) < 1e-6, "series %s: %g", id,
                          pf_max_diff(r->v, p, 2));
            ck_assert_str_eq(r->predicted, p[0] >= p[1] ? "up" : "down");
        }
    }
    ck_assert_int_eq(seen, NTEST);
    const pf_row *one = pf_find(&tb, plain, ""), *three = pf_find(&tb, test, "3");
    ck_assert_ptr_nonnull(one);
    ck_assert_ptr_nonnull(three);
    ck_assert_msg(pf_max_diff(one->v, three->v, 2) < 1e-6, "plain CSV %g %g, .ts %g %g",
                  one->v[0], one->v[1], three->v[0], three->v[1]);
    pf_table_free(&tb);
    task_free(t);
    // auto resolved by the channel count: the training scale kept for two, none for one
    ck_assert(cfg.data.series_norm != SSM_SERIES_NORM_AUTO || (d.ucr_mean != NULL) == (n_ch == 2));
    series_data_close(&d);
    if (n_ch != 2)
        return;
    // a plain CSV of one channel for a two-channel model
    char bad[600];
    fx_write(bad, sizeof bad, "bad.csv", "1,2\n3,4\n5\n", SIZE_MAX);
    snprintf(cmd, sizeof cmd, "%s predict configs/series/ucr.yaml%s --ckpt %s %s", pf_bin,
             set_text, ckpt, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    char want[700];
    snprintf(want, sizeof want, "%s:3: 1 value(s); expected 2", bad);
    ck_assert_msg(strstr(pf_err, want), "%s", pf_err);
}

START_TEST(ucr_packed) { ucr_matches_eval(NULL, 0); }
END_TEST

START_TEST(ucr_packed_univariate) {
    n_ch = 1;
    ucr_matches_eval(NULL, 0);
    n_ch = 2;
}
END_TEST

START_TEST(ucr_dense) {
    static const char *const DENSE[] = {"data.pack=false", "adapter.name=series_patch",
                                        "adapter.patch_size=8", "adapter.orders=[forward]",
                                        "data.series_norm=series"};
    ucr_matches_eval(DENSE, 5);
    // a series longer than the model's 32 steps
    char *buf = malloc(4096), longer[600], cmd[4096];
    size_t n = (size_t)sprintf(buf, "a,b\n");
    for (int t = 0; t < 40; t++)
        n += (size_t)sprintf(buf + n, "%d,%d\n", t, -t);
    fx_write(longer, sizeof longer, "long.csv", buf, n);
    free(buf);
    char train[600];
    fx_path(train, sizeof train, "Toy_TRAIN.ts");
    snprintf(cmd, sizeof cmd, "%s predict configs/series/ucr.yaml --set data.path=%s --set "
             "task.num_classes=2 --set %s --set %s --set %s --set %s --set %s --ckpt %s %s",
             pf_bin, train, DENSE[0], DENSE[1], DENSE[2], DENSE[3], DENSE[4], ckpt, longer);
    ck_assert_int_eq(pf_run(cmd), 1);
    char want[700];
    snprintf(want, sizeof want, "%s: series 0 has 40 steps; the model was built for at most 32",
             longer);
    ck_assert_msg(strstr(pf_err, want), "%s", pf_err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict_series_class");
    TCase *tc = tcase_create("predict_series_class");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ucr_packed);
    tcase_add_test(tc, ucr_packed_univariate);
    tcase_add_test(tc, ucr_dense);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    (void)pf_tone;
    (void)pf_write_wav;
    (void)pf_json_probabilities;
    return failed ? 1 : 0;
}
