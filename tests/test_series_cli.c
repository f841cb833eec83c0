// Check suite: the `ssmkit` command on time series, end to end through the
// binaries `make test` builds (SSMKIT_BIN, default build/ssmkit):
//   - `ssmkit-f64 check-grad` on both series adapters' configs
//     (configs/series/etth1_96.yaml: series_variate + RevIN;
//     configs/series/etth1_96_patch.yaml: series_patch + RevIN), shrunk with
//     --set and fed a generated CSV, and on the real ETTh1 file when it is
//     there (${SSMKIT_DATA}/ETT-small/ETTh1.csv; skipped with a message if not);
//   - `ssmkit train` + `ssmkit eval` of a tiny forecast run (summary and eval
//     JSON carry the forecast metrics);
//   - `ssmkit train` of configs/series/ucr.yaml (the UCR/UEA recipe: packed series,
//     the bag head's mean pooling) on a generated UCR .tsv pair, then `ssmkit eval` of
//     its checkpoint (classification through the classify task).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/series_fixture.h"
#include "tests/util/testutil.h"
#include "tests/util/cli_fixture.h"

static char bin[512], csv[512], out[1024];

// Runs cmd with stdout captured into `out` (the last line); returns the exit code.
static int run(const char *cmd) {
    return cf_run_capture(cmd, fx_dir, out, sizeof out, NULL, 0);
}

static void setup(void) {
    fx_init();
    const char *b = getenv("SSMKIT_BIN");
    snprintf(bin, sizeof bin, "%s", b && *b ? b : "build/ssmkit");
    // a 3-variate series of 400 rows (custom 70/10/20 layout)
    char *buf = malloc(400 * 80 + 32);
    size_t n = (size_t)sprintf(buf, "date,a,b,OT\n");
    for (int t = 0; t < 400; t++)
        n += (size_t)sprintf(buf + n, "d%d,%.5f,%.5f,%.5f\n", t, sin(t / 4.0), cos(t / 7.0) + t / 400.0,
                             sin(t / 3.0) * cos(t / 11.0));
    fx_write(csv, sizeof csv, "s.csv", buf, n);
    free(buf);
}

static void teardown(void) { fx_cleanup(); }

static const char *SMALL = "--set data.name=csv --set data.lookback=24 --set data.horizon=8 "
                           "--set backbone.d_model=8 --set backbone.n_layers=1 --set backbone.d_state=4";

START_TEST(check_grad_variate) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s-f64 check-grad configs/series/etth1_96.yaml %s --set data.path=%s",
             bin, SMALL, csv);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, ": ok"));
}
END_TEST

START_TEST(check_grad_patch) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s-f64 check-grad configs/series/etth1_96_patch.yaml %s --set data.path=%s "
             "--set adapter.revin_affine=true", bin, SMALL, csv);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, ": ok"));
}
END_TEST

START_TEST(check_grad_real_etth1) {
    const char *d = getenv("SSMKIT_DATA");
    char path[600];
    snprintf(path, sizeof path, "%s/ETT-small/ETTh1.csv", d && *d ? d : "../shared/data");
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "check_grad_real_etth1: skipped: %s not found (set SSMKIT_DATA)\n", path);
        return;
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s check-grad configs/series/etth1_96.yaml --set backbone.d_model=8 "
             "--set backbone.n_layers=1 --set backbone.d_state=4", bin);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
}
END_TEST

START_TEST(forecast_train_then_eval) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s train configs/series/etth1_96.yaml %s --set data.path=%s --set train.epochs=2 "
             "--set train.max_steps=6 --set data.batch_size=8 --set data.num_workers=0 "
             "--set run.dir=%s --set run.name=f", bin, SMALL, csv, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, "\"best_val_mse\":"));
    ck_assert_ptr_nonnull(strstr(out, "\"test_mse\":"));
    ck_assert_ptr_nonnull(strstr(out, "\"test_mae_orig\":"));
    snprintf(cmd, sizeof cmd, "%s eval configs/series/etth1_96.yaml %s --set data.path=%s --ckpt %s/f/best.safetensors",
             bin, SMALL, csv, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    // 400 rows: test = int(400 * 0.2) = 80 rows + 24 overlap - 32 + 1 = 73 windows
    ck_assert_msg(strstr(out, "\"samples\":73,") != NULL, "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\"mse\":"));
}
END_TEST

// Exact resume through the one loop, on the forecast task: a run killed
// (SIGKILL) after step 5 and resumed from its last.safetensors (saved every 2
// steps) ends with the same test metrics as an uninterrupted run.
START_TEST(forecast_resume_is_exact) {
    char cmd[2048], full[1024], resumed[1024];
    const char *common = "--set train.epochs=2 --set data.batch_size=16 --set data.num_workers=0 "
                         "--set train.checkpoint_every=2 --set run.threads=1";
    snprintf(cmd, sizeof cmd, "%s train configs/series/etth1_96.yaml %s --set data.path=%s %s "
             "--set run.dir=%s --set run.name=full", bin, SMALL, csv, common, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    snprintf(full, sizeof full, "%s", strstr(out, "\"best_val_mse\""));
    snprintf(cmd, sizeof cmd, "SSMKIT_DEBUG_KILL_AT_STEP=5 %s train configs/series/etth1_96.yaml %s "
             "--set data.path=%s %s --set run.dir=%s --set run.name=cut", bin, SMALL, csv, common,
             fx_dir);
    ck_assert_int_ne(run(cmd), 0); // killed
    snprintf(cmd, sizeof cmd, "%s train configs/series/etth1_96.yaml %s --set data.path=%s %s "
             "--set run.dir=%s --set run.name=cut --resume %s/cut", bin, SMALL, csv, common, fx_dir,
             fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    snprintf(resumed, sizeof resumed, "%s", strstr(out, "\"best_val_mse\""));
    // compare everything from best_val_mse up to (not including) train_seconds
    *strstr(full, "\"train_seconds\"") = 0;
    *strstr(resumed, "\"train_seconds\"") = 0;
    ck_assert_str_eq(full, resumed);
}
END_TEST

// The worked example task (docs/adding-a-task.md): check-grad through the regress head,
// then train + eval on the generated series, whose target column (at horizon 8) a
// model must predict better than the window's last value does (persistence).
START_TEST(regress_check_grad_train_eval) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s-f64 check-grad configs/series/etth1_regress_ot.yaml %s "
             "--set data.path=%s", bin, SMALL, csv);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, ": ok"));
    snprintf(cmd, sizeof cmd,
             "%s train configs/series/etth1_regress_ot.yaml --set data.name=csv --set data.path=%s "
             "--set data.lookback=24 "
             "--set data.horizon=8 --set backbone.d_model=16 --set backbone.n_layers=1 "
             "--set train.epochs=12 --set train.patience=0 --set optim.lr=3e-3 "
             "--set optim.warmup_steps=10 --set data.batch_size=16 --set data.num_workers=0 "
             "--set run.dir=%s --set run.name=r", bin, csv, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    const char *m = strstr(out, "\"test_mse\":");
    ck_assert_msg(m && strstr(out, "\"best_val_mse\":") && strstr(out, "\"test_mae_orig\":"), "%s",
                  out);
    double mse = atof(m + 11);
    // persistence on the test windows: OT(t + 8) = OT(t), from the generator above (OT =
    // sin(t/3) cos(t/11)), on the dataset's scale (standardised by the training rows)
    double s1 = 0, s2 = 0, sse = 0;
    int n = 0;
    for (int t = 0; t < 280; t++) { // the training rows: the scaler
        double v = sin(t / 3.0) * cos(t / 11.0);
        s1 += v, s2 += v * v;
    }
    double sd = sqrt(s2 / 280 - (s1 / 280) * (s1 / 280));
    for (int t = 319; t + 8 < 400; t++, n++) { // the last input row of each test window
        double d = (sin((t + 8) / 3.0) * cos((t + 8) / 11.0) - sin(t / 3.0) * cos(t / 11.0)) / sd;
        sse += d * d;
    }
    fprintf(stderr, "regress: test MSE %.4f, persistence %.4f\n", mse, sse / n);
    ck_assert_msg(mse < 0.5 * sse / n, "test MSE %g is not below half of persistence's %g", mse,
                  sse / n);
    snprintf(cmd, sizeof cmd, "%s eval configs/series/etth1_regress_ot.yaml --set data.name=csv --set data.path=%s "
             "--set data.lookback=24 --set data.horizon=8 --set backbone.d_model=16 "
             "--set backbone.n_layers=1 --ckpt %s/r/best.safetensors", bin, csv, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_msg(strstr(out, "\"mse\":") && strstr(out, "\"samples\":"), "%s", out);
}
END_TEST

START_TEST(ucr_classification) {
    // two classes: a rising and a falling ramp of length 32 with some wobble
    char train[512], test[512], buf[40000];
    for (int f = 0; f < 2; f++) {
        size_t n = 0;
        for (int i = 0; i < (f ? 20 : 40); i++) {
            int cls = i % 2;
            n += (size_t)sprintf(buf + n, "%d", cls + 1);
            for (int t = 0; t < 32; t++)
                n += (size_t)sprintf(buf + n, "\t%.4f",
                                     (cls ? -1 : 1) * (t - 16) / 8.0 + 0.3 * sin(t * 0.7 + i));
            n += (size_t)sprintf(buf + n, "\n");
        }
        fx_write(f ? test : train, 512, f ? "Toy_TEST.tsv" : "Toy_TRAIN.tsv", buf, n);
    }
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "%s train configs/series/ucr.yaml --set data.path=%s --set task.num_classes=2 "
             "--set train.min_steps=0 --set train.epochs=3 --set run.dir=%s --set run.name=u",
             bin, train, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_ptr_nonnull(strstr(out, "\"test_accuracy\":"));
    ck_assert_ptr_nonnull(strstr(out, "\"steps\":9,")); // 3 epochs of 40 / 16 -> 3 batches
    char p[700];
    snprintf(p, sizeof p, "%s/u/confusion_test.csv", fx_dir);
    ck_assert_int_eq(access(p, R_OK), 0);
    snprintf(cmd, sizeof cmd, "%s eval configs/series/ucr.yaml --set data.path=%s "
             "--set task.num_classes=2 --ckpt %s/u/best.safetensors", bin, train, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, out);
    ck_assert_msg(strstr(out, "\"accuracy\":") && strstr(out, "\"samples\":20"), "%s", out);
    // a config whose class count disagrees with the data is refused by name
    snprintf(cmd, sizeof cmd, "%s train configs/series/ucr.yaml --set data.path=%s "
             "--set task.num_classes=3 --set run.dir=%s", bin, train, fx_dir);
    ck_assert_int_eq(run(cmd), 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("series_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, check_grad_variate);
    tcase_add_test(tc, check_grad_patch);
    tcase_add_test(tc, check_grad_real_etth1);
    tcase_add_test(tc, forecast_train_then_eval);
    tcase_add_test(tc, forecast_resume_is_exact);
    tcase_add_test(tc, regress_check_grad_train_eval);
    tcase_add_test(tc, ucr_classification);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    (void)fx_hammer_mutate;
    return failed ? 1 : 0;
}
