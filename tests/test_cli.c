// Check suite: the ssmkit command end to end on a synthetic IDX dataset —
// training reaches a stated accuracy, a SIGKILLed run resumed equals an
// uninterrupted one bit for bit, check-grad passes, eval/predict/info work,
// and bad configs are refused with file and line. Uses $SSMKIT_BIN
// (default build/ssmkit), run from the repository root.
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"

static char g_dir[256]; // temp folder: data/, runs/, cfg.yaml (tests/util/cli_fixture.h)

static void setup(void) { cf_idx_fixture(g_dir, sizeof g_dir, "ssmkit_cli", 1, NULL); }

static void teardown(void) { ck_assert_int_eq(tu_rmtree(g_dir), 0); }

// Runs `ssmkit <args>` with output into g_dir/out.txt and err.txt; returns the exit code.
static int ssmkit(const char *env, const char *args) { return cf_ssmkit(g_dir, env, args); }

static char *output(const char *which) { return cf_output(g_dir, which); }

static void train_run_with(const char *name, const char *env, const char *extra, int expect) {
    char args[1024];
    snprintf(args, sizeof args, "train %s/cfg.yaml --set run.name=%s %s", g_dir, name, extra);
    int rc = ssmkit(env, args);
    if (rc != expect) {
        fprintf(stderr, "train %s stderr:\n%s\n", name, output("err"));
        ck_abort_msg("train %s exited %d, expected %d", name, rc, expect);
    }
}

static void train_run(const char *name, const char *env, int expect) {
    train_run_with(name, env, "", expect);
}

// The data section of a checkpoint (every tensor's bytes); the header differs
// between runs only by the run name inside the stored config.
static char *ckpt_data(const char *path, long *n) {
    ssm_ckpt_info info;
    ssm_error err;
    ck_assert_msg(ssm_checkpoint_inspect(path, &info, &err) == SSM_OK, "%s", err.msg);
    long len;
    char *all = cf_read_file(path, &len);
    ck_assert_ptr_nonnull(all);
    *n = len - (long)info.data_start;
    char *data = malloc((size_t)*n);
    memcpy(data, all + info.data_start, (size_t)*n);
    free(all);
    ssm_ckpt_info_free(&info);
    return data;
}

START_TEST(train_reaches_accuracy_then_eval_predict_info) {
    train_run("a", NULL, 0);
    char *summary = output("out");
    double acc = cf_json_number(summary, "test_accuracy");
    // Ten well-separated patterns: a working model is near 100%; chance is 10%.
    ck_assert_msg(acc >= 0.95, "test accuracy %.4f < 0.95", acc);
    free(summary);

    char args[1024];
    snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt %s/runs/a/best.safetensors", g_dir, g_dir);
    ck_assert_int_eq(ssmkit(NULL, args), 0);
    char *ev = output("out");
    ck_assert(strstr(ev, "\"split\":\"test\"") != NULL);
    ck_assert(fabs(cf_json_number(ev, "accuracy") - acc) < 1e-6);
    ck_assert(cf_json_number(ev, "samples") == 300);
    free(ev);

    // predict: a PNG of class 7's pattern must come out as "7" first.
    char png_path[300];
    snprintf(png_path, sizeof png_path, "%s/seven.png", g_dir);
    uint8_t img[28 * 28];
    uint64_t st = 99;
    cf_pattern_image(img, 7, &st);
    FILE *f = fopen(png_path, "wb");
    png_structp w = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(w);
    png_init_io(w, f);
    png_set_IHDR(w, info, 28, 28, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w, info);
    for (int r = 0; r < 28; r++)
        png_write_row(w, img + r * 28);
    png_write_end(w, NULL);
    png_destroy_write_struct(&w, &info);
    fclose(f);
    snprintf(args, sizeof args, "predict %s/cfg.yaml --ckpt %s/runs/a/best.safetensors --top 2 %s",
             g_dir, g_dir, png_path);
    ck_assert_int_eq(ssmkit(NULL, args), 0);
    char *pred = output("out");
    char expect[1100];
    snprintf(expect, sizeof expect, "%s\t7 ", png_path);
    ck_assert_msg(strncmp(pred, expect, strlen(expect)) == 0, "predict printed: %s", pred);
    free(pred);

    snprintf(args, sizeof args, "info %s/runs/a/last.safetensors", g_dir);
    ck_assert_int_eq(ssmkit(NULL, args), 0);
    char *inf = output("out");
    ck_assert(strstr(inf, "layers.1.mixer.A_b_log") != NULL);
    ck_assert(strstr(inf, "optim.m.head.weight") != NULL);
    free(inf);

    // the run folder holds what the docs promise
    const char *files[] = {"config.yaml", "metrics.jsonl", "confusion_test.csv", "best.safetensors"};
    for (int i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/runs/a/%s", g_dir, files[i]);
        ck_assert_msg(access(p, R_OK) == 0, "missing %s", p);
    }
}
END_TEST

START_TEST(sigkilled_run_resumes_to_the_same_weights) {
    // (test_checkpoint does not change training, so the weights still compare)
    train_run_with("full", NULL, "--set train.test_checkpoint=last", 0);
    {   // its test metrics are those of the last weights: eval of last.safetensors agrees
        char *sum = output("out"), args[1024];
        snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt %s/runs/full/last.safetensors", g_dir,
                 g_dir);
        ck_assert_int_eq(ssmkit(NULL, args), 0);
        char *ev = output("out");
        ck_assert_msg(fabs(cf_json_number(ev, "loss") - cf_json_number(sum, "test_loss")) < 1e-5,
                      "test_checkpoint last: summary %s, eval of last %s", sum, ev);
        free(ev);
        free(sum);
    }
    // SIGKILL in the middle of epoch 2 (1080 samples / 32 = 33 steps per
    // epoch): the last checkpoint is at step 42 (every 7), so the resumed run
    // redoes 3 steps.
    train_run("killed", "SSMKIT_DEBUG_KILL_AT_STEP=45", 128 + 9);
    char args[1024];
    snprintf(args, sizeof args, "train %s/cfg.yaml --resume %s/runs/killed", g_dir, g_dir);
    int rc = ssmkit(NULL, args);
    if (rc != 0)
        fprintf(stderr, "resume stderr:\n%s\n", output("err"));
    ck_assert_int_eq(rc, 0);
    char *resumed = output("out");
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/runs/full/last.safetensors", g_dir);
    snprintf(b, sizeof b, "%s/runs/killed/last.safetensors", g_dir);
    long na, nb;
    char *da = ckpt_data(a, &na), *db = ckpt_data(b, &nb);
    ck_assert_int_eq(na, nb);
    ck_assert_msg(memcmp(da, db, (size_t)na) == 0, "resumed weights differ from the uninterrupted run");
    ck_assert(cf_json_number(resumed, "steps") == 6 * 33);
    free(da);
    free(db);
    free(resumed);
}
END_TEST

START_TEST(check_grad_passes_on_a_bidirectional_config) {
    char args[1024];
    snprintf(args, sizeof args, "check-grad %s/cfg.yaml --set data.limit=200", g_dir);
    int rc = ssmkit(NULL, args);
    char *out = output("out");
    if (rc != 0)
        fprintf(stderr, "check-grad output:\n%s\n%s\n", out, output("err"));
    ck_assert_int_eq(rc, 0);
    ck_assert(strstr(out, "layers.1.mixer.dt_proj_b.bias") != NULL);
    ck_assert(strstr(out, ": ok") != NULL);
    free(out);
}
END_TEST

START_TEST(bad_config_and_flags_are_refused) {
    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/bad.yaml", g_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "backbone:\n  d_model: 16\n  n_layer: 2\n");
    fclose(f);
    snprintf(args, sizeof args, "train %s", path);
    ck_assert_int_eq(ssmkit(NULL, args), 2);
    char *err = output("err");
    char expect[600];
    snprintf(expect, sizeof expect, "%s:3:", path);
    ck_assert_msg(strstr(err, expect) && strstr(err, "n_layer"), "stderr: %s", err);
    free(err);
    snprintf(args, sizeof args, "train %s/cfg.yaml --bogus", g_dir);
    ck_assert_int_eq(ssmkit(NULL, args), 2);
    snprintf(args, sizeof args, "train %s/cfg.yaml --set backbone.d_model=-3", g_dir);
    ck_assert_int_eq(ssmkit(NULL, args), 2);
    err = output("err");
    ck_assert(strstr(err, "backbone.d_model") != NULL);
    free(err);
    snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt %s/nope.safetensors", g_dir, g_dir);
    ck_assert_int_ne(ssmkit(NULL, args), 0);
    err = output("err");
    ck_assert(strstr(err, "nope.safetensors") != NULL);
    free(err);
    ck_assert_int_eq(ssmkit(NULL, "frobnicate"), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, train_reaches_accuracy_then_eval_predict_info);
    tcase_add_test(tc, sigkilled_run_resumes_to_the_same_weights);
    tcase_add_test(tc, check_grad_passes_on_a_bidirectional_config);
    tcase_add_test(tc, bad_config_and_flags_are_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
