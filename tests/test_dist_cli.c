// Check suite: `mpirun -np 2 ssmkit train` end to end on generated data (docs/distributed.md),
// through the binaries `make test` builds (SSMKIT_BIN, default build/ssmkit):
//   - 2 ranks train the same model as one process with the same global batch: after 2 epochs
//     (batch 25 of 360 samples, drop_last: 14 steps an epoch, shards of 13 and 12 samples)
//     the two ranks' final weights are bit-identical, and within WEIGHT_BAR of one
//     process's (the sums run in another order); the sharded evaluation gives the same test
//     metrics; rank 0 alone wrote the run folder and the summary;
//   - a run cut on 2 ranks resumes on 1 process, and a run cut on 1 process resumes on 2
//     ranks, each continuing the same run (same step, the final weights within WEIGHT_BAR);
//   - a rank that fails (an error) or dies (SIGKILL) ends the whole job within seconds, the
//     rank named, and the last checkpoint stays a valid one;
//   - a build without MPI (build/ssmkit-nompi) refuses to run as 2 ranks, and so does any
//     command other than train in any build;
//   - forecasting (value metrics reduced over the ranks) matches one process too;
//   - MIL with 4 bags a step and a shuffle scan order: 2 ranks train the one-process run
//     (each bag's instance order keyed by its position in the global batch).
// Skips, with a message, where mpirun is absent or the binary has no MPI, and in the sanitizer
// build (the runs test the ssmkit binary, which the float build of this suite has run).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "datasets/mil_synth.h"
#include "tests/util/cli_fixture.h"

// 2 epochs of 14 AdamW steps of a tiny model from the same start: float sums in another order
// (13 + 12 samples, then the ranks' sum, against 25 at once) moved weights by at most 1.2e-7
// here; weighting the two shards 1/2 each instead of 13/25 and 12/25 (a share off by half a
// sample) moved them by 5e-3. The bar sits between, 400x above the first.
#define WEIGHT_BAR 5e-5

static char g_dir[256];
static const char *g_bin;
static char g_mpirun[256];
static int g_ready; // 1: mpirun and an MPI binary are here

static const char *CONFIG =
    "data:\n"
    "  name: idx\n"
    "  path: %s/data\n"
    "  val_fraction: 0.1\n"
    "  batch_size: 25\n"
    "  eval_batch_size: 16\n"
    "  num_workers: 1\n"
    "adapter:\n"
    "  name: image_patches\n"
    "  patch_size: 7\n"
    "  cls_token: none\n"
    "  orders: [row, reverse]\n"
    "backbone:\n"
    "  d_model: 16\n"
    "  n_layers: 2\n"
    "  d_state: 4\n"
    "task:\n"
    "  name: classify\n"
    "  num_classes: 10\n"
    "  label_smoothing: 0.1\n"
    "optim:\n"
    "  lr: 3e-3\n"
    "  warmup_steps: 5\n"
    "  grad_clip: 1.0\n"
    "train:\n"
    "  epochs: 2\n"
    "  log_every: 5\n"
    "  checkpoint_every: 5\n"
    "run:\n"
    "  dir: %s/runs\n"
    "  seed: 4\n"
    "  threads: 1\n"
    "  tensorboard: false\n"
    "  progress: off\n";

static void setup(void) {
    g_bin = getenv("SSMKIT_BIN") && *getenv("SSMKIT_BIN") ? getenv("SSMKIT_BIN") : "build/ssmkit";
    snprintf(g_dir, sizeof g_dir, "/tmp/ssmkit_dist_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    char path[512];
    snprintf(path, sizeof path, "%s/data", g_dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(path, 400, 120, 11), 0); // 360 train, 40 val
    snprintf(path, sizeof path, "%s/cfg.yaml", g_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, CONFIG, g_dir, g_dir);
    fclose(f);
    snprintf(g_mpirun, sizeof g_mpirun, "mpirun %s--oversubscribe --bind-to none -np",
             geteuid() == 0 ? "--allow-run-as-root " : "");
    char cmd[700];
    snprintf(cmd, sizeof cmd, "%s version | grep -q mpi", g_bin);
    g_ready = system("command -v mpirun > /dev/null 2>&1") == 0 && system(cmd) == 0;
}

static void teardown(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int skip(const char *test) {
#ifdef __SANITIZE_ADDRESS__
    // the runs test build/ssmkit, not this program: the float suite has run them already
    fprintf(stderr, "%s: skipped in the sanitizer build\n", test);
    return 1;
#endif
    if (g_ready)
        return 0;
    fprintf(stderr, "%s: skipped (needs mpirun and an MPI build of %s: apt-get install "
                    "openmpi-bin libopenmpi-dev, then make)\n", test, g_bin);
    return 1;
}

// Runs `[env] [mpirun -np ranks] ssmkit train CONFIG --set run.name=name extra` (CONFIG: the
// generated classification config, or cfg); stdout and stderr go to <dir>/<name>.out / .err;
// returns the exit status (128 + signal if killed).
static int train_cfg(const char *env, int ranks, const char *cfg, const char *name,
                     const char *extra) {
    char cmd[4096], out[512], err[512], mpi[300] = "", dflt[300];
    if (ranks > 0)
        snprintf(mpi, sizeof mpi, "%s %d", g_mpirun, ranks);
    snprintf(dflt, sizeof dflt, "%s/cfg.yaml", g_dir);
    snprintf(cmd, sizeof cmd, "%s %s %s train %s --set run.name=%s %s", env ? env : "", mpi, g_bin,
             cfg ? cfg : dflt, name, extra ? extra : "");
    snprintf(out, sizeof out, "%s/%s.out", g_dir, name);
    snprintf(err, sizeof err, "%s/%s.err", g_dir, name);
    return cf_run(cmd, out, err);
}

static int train(const char *env, int ranks, const char *name, const char *extra) {
    return train_cfg(env, ranks, NULL, name, extra);
}

static char *text(const char *name, const char *ext) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s", g_dir, name, ext);
    char *s = cf_read_file(path, NULL);
    ck_assert_msg(s != NULL, "%s missing", path);
    return s;
}

static void expect_ok(int rc, const char *name) {
    if (rc != 0) {
        char *e = text(name, "err");
        fprintf(stderr, "%s stderr:\n%s\n", name, e);
        free(e);
    }
    ck_assert_msg(rc == 0, "run %s exited %d", name, rc);
}

// The tensors of a weights file as floats; *n values.
static float *weights(const char *path, size_t *n) {
    ssm_ckpt_info info;
    ssm_error err;
    ck_assert_msg(ssm_checkpoint_inspect(path, &info, &err) == SSM_OK, "%s", err.msg);
    for (size_t i = 0; i < info.count; i++)
        ck_assert_str_eq(info.tensors[i].dtype, "F32");
    long len;
    char *all = cf_read_file(path, &len);
    ck_assert_ptr_nonnull(all);
    *n = (size_t)(len - (long)info.data_start) / sizeof(float);
    float *w = malloc(*n * sizeof *w);
    memcpy(w, all + info.data_start, *n * sizeof *w);
    free(all);
    ssm_ckpt_info_free(&info);
    return w;
}

static double max_diff(const char *a, const char *b) {
    size_t na, nb;
    float *wa = weights(a, &na), *wb = weights(b, &nb);
    ck_assert_int_eq(na, nb);
    double m = 0;
    for (size_t i = 0; i < na; i++)
        m = fmax(m, fabs((double)wa[i] - (double)wb[i]));
    free(wa);
    free(wb);
    return m;
}

static int same_bytes(const char *a, const char *b) {
    long na, nb;
    char *x = cf_read_file(a, &na), *y = cf_read_file(b, &nb);
    ck_assert(x && y);
    int same = na == nb && !memcmp(x, y, (size_t)na);
    free(x);
    free(y);
    return same;
}

static int count_lines(const char *path) {
    char *s = cf_read_file(path, NULL);
    ck_assert_msg(s != NULL, "%s missing", path);
    int n = 0;
    for (char *p = s; *p; p++)
        n += *p == '\n';
    free(s);
    return n;
}

// env that makes every rank write <dir>/w_<name>/rank<R>.safetensors at the end
static const char *weights_env(char *buf, size_t n, const char *name) {
    char dir[400];
    snprintf(dir, sizeof dir, "%s/w_%s", g_dir, name);
    mkdir(dir, 0755);
    snprintf(buf, n, "SSMKIT_DEBUG_RANK_WEIGHTS=%s", dir);
    return buf;
}

static void wpath(char *buf, size_t n, const char *name, int rank) {
    snprintf(buf, n, "%s/w_%s/rank%d.safetensors", g_dir, name, rank);
}

START_TEST(two_ranks_train_the_one_process_model) {
    if (skip("two_ranks_train_the_one_process_model"))
        return;
    char env[512], a[512], b0[512], b1[512], p[600];
    expect_ok(train(weights_env(env, sizeof env, "one"), 0, "one", NULL), "one");
    expect_ok(train(weights_env(env, sizeof env, "two"), 2, "two", NULL), "two");
    wpath(a, sizeof a, "one", 0);
    wpath(b0, sizeof b0, "two", 0);
    wpath(b1, sizeof b1, "two", 1);
    ck_assert_msg(same_bytes(b0, b1), "the 2 ranks' weights differ");
    double d = max_diff(a, b0);
    fprintf(stderr, "2 ranks vs 1 process: max |weight difference| %.3g (bar %.0e)\n", d,
            WEIGHT_BAR);
    ck_assert_msg(d > 0 ? d <= WEIGHT_BAR : 1, "weights differ by %g > %g", d, WEIGHT_BAR);
    // the same evaluation: accuracy within one of the 120 test images, loss close
    char *o1 = text("one", "out"), *o2 = text("two", "out");
    ck_assert_msg(fabs(cf_json_number(o1, "test_accuracy") - cf_json_number(o2, "test_accuracy")) <=
                      1.0 / 120 + 1e-9, "%s\n%s", o1, o2);
    ck_assert_msg(fabs(cf_json_number(o1, "test_loss") - cf_json_number(o2, "test_loss")) < 1e-3,
                  "%s\n%s", o1, o2);
    ck_assert_msg(fabs(cf_json_number(o1, "best_val_accuracy") -
                       cf_json_number(o2, "best_val_accuracy")) <= 1.0 / 40 + 1e-9, "%s\n%s", o1,
                  o2);
    ck_assert_int_eq((int)cf_json_number(o2, "steps"), 28); // 2 x floor(360 / 25)
    ck_assert_msg(!strchr(o2, '\n') || !strchr(strchr(o2, '\n') + 1, '{'), "two summaries: %s", o2);
    free(o1);
    free(o2);
    // rank 0 alone logged: as many lines as one process
    char q[600];
    snprintf(p, sizeof p, "%s/runs/one/metrics.jsonl", g_dir);
    snprintf(q, sizeof q, "%s/runs/two/metrics.jsonl", g_dir);
    ck_assert_int_eq(count_lines(q), count_lines(p));
    char *e2 = text("two", "err");
    ck_assert_msg(strstr(e2, "data parallel: 2 ranks") != NULL, "%s", e2);
    free(e2);
}
END_TEST

// Cut at step 12 (last checkpoint: step 10) and resumed with the other number of ranks.
START_TEST(resume_with_another_rank_count) {
    if (skip("resume_with_another_rank_count"))
        return;
    char env[600], ref[512], w[512], extra[700];
    expect_ok(train(weights_env(env, sizeof env, "ref"), 0, "ref", NULL), "ref");
    wpath(ref, sizeof ref, "ref", 0);
    for (int from = 1; from <= 2; from++) {
        char name[32];
        snprintf(name, sizeof name, "cut%d", from);
        int rc = train("SSMKIT_DEBUG_KILL_AT_STEP=12", from == 2 ? 2 : 0, name, NULL);
        ck_assert_msg(rc != 0, "the run cut at step 12 exited 0");
        snprintf(extra, sizeof extra, "--resume %s/runs/%s", g_dir, name);
        char rname[40];
        snprintf(rname, sizeof rname, "res%d", from);
        char wenv[600];
        weights_env(wenv, sizeof wenv, rname);
        expect_ok(train(wenv, from == 2 ? 0 : 2, rname, extra), rname);
        char *e = text(rname, "err");
        ck_assert_msg(strstr(e, "at step 10") != NULL, "%s", e);
        free(e);
        wpath(w, sizeof w, rname, 0);
        double d = max_diff(ref, w);
        fprintf(stderr, "cut on %d, resumed on %d: max |weight difference| %.3g\n", from,
                3 - from, d);
        ck_assert_msg(d <= WEIGHT_BAR, "weights differ by %g > %g", d, WEIGHT_BAR);
        if (from == 1) { // resumed on 2 ranks: they agree bit for bit
            char w1[512];
            wpath(w1, sizeof w1, rname, 1);
            ck_assert(same_bytes(w, w1));
        }
        char *o = text(rname, "out");
        ck_assert_int_eq((int)cf_json_number(o, "steps"), 28);
        free(o);
    }
}
END_TEST

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Rank 1 fails at step 7 (an error) or dies (SIGKILL): the job ends within seconds with the
// rank named, and last.safetensors is the valid checkpoint of step 5.
START_TEST(a_failing_rank_ends_the_job) {
    if (skip("a_failing_rank_ends_the_job"))
        return;
    const char *envs[2] = {"SSMKIT_DEBUG_FAIL_AT_STEP=7 SSMKIT_DEBUG_FAIL_RANK=1",
                           "SSMKIT_DEBUG_KILL_AT_STEP=7 SSMKIT_DEBUG_KILL_RANK=1"};
    const char *names[2] = {"fail", "kill"};
    const char *said[2] = {"rank 1 of 2: step 7", "rank 1"};
    for (int i = 0; i < 2; i++) {
        double t0 = seconds();
        int rc = train(envs[i], 2, names[i], NULL);
        double took = seconds() - t0;
        char *e = text(names[i], "err");
        ck_assert_msg(rc != 0, "%s: exit 0", names[i]);
        ck_assert_msg(strstr(e, said[i]) != NULL, "%s: no '%s' in:\n%s", names[i], said[i], e);
        ck_assert_msg(took < 60, "%s: the job took %.0f s to end", names[i], took);
        fprintf(stderr, "rank 1 %s at step 7: the job ended in %.1f s\n",
                i ? "killed" : "failed", took);
        free(e);
        char path[600];
        snprintf(path, sizeof path, "%s/runs/%s/last.safetensors", g_dir, names[i]);
        ssm_ckpt_info info;
        ssm_error err;
        ck_assert_msg(ssm_checkpoint_inspect(path, &info, &err) == SSM_OK, "%s", err.msg);
        const char *step = ssm_metadata_get(&info.meta, "step");
        ck_assert_msg(step && !strcmp(step, "5"), "last checkpoint at step %s", step ? step : "?");
        ssm_ckpt_info_free(&info);
    }
}
END_TEST

START_TEST(a_build_without_mpi_refuses_ranks) {
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        fprintf(stderr, "a_build_without_mpi_refuses_ranks: skipped (no mpirun)\n");
        return;
    }
    char nompi[600];
    snprintf(nompi, sizeof nompi, "%s-nompi", g_bin);
    if (access(nompi, X_OK) != 0) {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "%s version | grep -q mpi", g_bin);
        if (system(cmd) == 0) {
            fprintf(stderr, "a_build_without_mpi_refuses_ranks: skipped (%s not built)\n", nompi);
            return;
        }
        snprintf(nompi, sizeof nompi, "%s", g_bin); // this build has no MPI itself
    }
    const char *saved = g_bin;
    g_bin = nompi;
    int rc = train(NULL, 2, "nompi", NULL);
    g_bin = saved;
    char *e = text("nompi", "err");
    ck_assert_msg(rc != 0 && strstr(e, "built without MPI") && strstr(e, "of 2"), "exit %d:\n%s",
                  rc, e);
    free(e);
    char path[600];
    snprintf(path, sizeof path, "%s/runs/nompi", g_dir);
    ck_assert_msg(access(path, F_OK) != 0, "the refused run created %s", path);
    // commands other than train refuse several ranks in any build
    char cmd[1200], out[600], err[600];
    snprintf(cmd, sizeof cmd, "%s 2 %s info", g_mpirun, g_bin);
    snprintf(out, sizeof out, "%s/info.out", g_dir);
    snprintf(err, sizeof err, "%s/info.err", g_dir);
    rc = cf_run(cmd, out, err);
    e = text("info", "err");
    ck_assert_msg(rc != 0 && strstr(e, "only `ssmkit train` runs on several ranks"), "exit %d:\n%s",
                  rc, e);
    free(e);
}
END_TEST

// Forecasting: the error sums of the ranks' evaluation ranges add up to one process's.
START_TEST(forecast_on_two_ranks) {
    if (skip("forecast_on_two_ranks"))
        return;
    char csv[512], extra[1400];
    snprintf(csv, sizeof csv, "%s/s.csv", g_dir);
    FILE *f = fopen(csv, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "date,a,b,OT\n");
    for (int t = 0; t < 300; t++)
        fprintf(f, "d%d,%.5f,%.5f,%.5f\n", t, sin(t / 4.0), cos(t / 7.0) + t / 300.0,
                sin(t / 3.0) * cos(t / 11.0));
    fclose(f);
    snprintf(extra, sizeof extra,
             "--set data.name=csv --set data.path=%s --set data.lookback=24 --set data.horizon=8 "
             "--set data.batch_size=16 --set data.eval_batch_size=5 --set data.num_workers=0 "
             "--set backbone.d_model=8 --set backbone.n_layers=1 --set backbone.d_state=4 "
             "--set train.epochs=1 --set run.threads=1 --set run.progress=off "
             "--set run.tensorboard=false --set run.dir=%s/runs", csv, g_dir);
    const char *cfg = "configs/series/etth1_96.yaml";
    expect_ok(train_cfg(NULL, 0, cfg, "f1", extra), "f1");
    expect_ok(train_cfg(NULL, 2, cfg, "f2", extra), "f2");
    char *o1 = text("f1", "out"), *o2 = text("f2", "out");
    double m1 = cf_json_number(o1, "test_mse"), m2 = cf_json_number(o2, "test_mse");
    ck_assert_msg(isfinite(m1) && fabs(m1 - m2) <= 1e-4 * fabs(m1), "%s\n%s", o1, o2);
    ck_assert_msg(fabs(cf_json_number(o1, "test_mae_orig") - cf_json_number(o2, "test_mae_orig")) <=
                      1e-4 * fabs(cf_json_number(o1, "test_mae_orig")), "%s\n%s", o1, o2);
    free(o1);
    free(o2);
}
END_TEST

// MIL with several bags a step and a shuffle scan order (a fresh instance order per bag and
// step): each bag draws its order by its position in the global batch, so 2 ranks, each
// packing its slice of the bags, train the run one process trains.
START_TEST(mil_batches_on_two_ranks) {
    if (skip("mil_batches_on_two_ranks"))
        return;
    char bags[512], extra[3000], env[600], a[512], b0[512], b1[512];
    snprintf(bags, sizeof bags, "%s/bags", g_dir);
    mil_synth_opts so = {.n_bags = 40, .min_len = 6, .max_len = 40, .F = 8, .min_witness = 2,
                         .max_witness = 4, .shift = 3.0, .positive_fraction = 0.5, .n_splits = 2,
                         .val_fraction = 0.15, .seed = 5};
    ssm_error err;
    ck_assert_msg(mil_synth_write(bags, &so, &err) == SSM_OK, "%s", err.msg);
    snprintf(extra, sizeof extra,
             "--set data.path=%s/dataset.csv --set data.features_dir=%s --set data.splits_dir=%s/splits "
             "--set data.batch_size=4 --set data.eval_batch_size=3 --set adapter.orders=[shuffle,reverse] "
             "--set backbone.d_model=16 --set backbone.n_layers=1 --set backbone.d_state=4 "
             "--set task.attn_dim=8 --set optim.lr=2e-3 --set train.epochs=3 --set run.threads=1 "
             "--set run.progress=off --set run.tensorboard=false --set run.dir=%s/runs",
             bags, bags, bags, g_dir);
    const char *cfg = "configs/mil/camelyon16_clam.yaml";
    expect_ok(train_cfg(weights_env(env, sizeof env, "m1"), 0, cfg, "m1", extra), "m1");
    expect_ok(train_cfg(weights_env(env, sizeof env, "m2"), 2, cfg, "m2", extra), "m2");
    wpath(a, sizeof a, "m1", 0);
    wpath(b0, sizeof b0, "m2", 0);
    wpath(b1, sizeof b1, "m2", 1);
    ck_assert_msg(same_bytes(b0, b1), "the 2 ranks' weights differ");
    double d = max_diff(a, b0);
    fprintf(stderr, "MIL, 4 bags a step, shuffled instances: 2 ranks vs 1 process: max |weight "
                    "difference| %.3g (bar %.0e)\n", d, WEIGHT_BAR);
    ck_assert_msg(d <= WEIGHT_BAR, "weights differ by %g > %g", d, WEIGHT_BAR);
    char *o1 = text("m1", "out"), *o2 = text("m2", "out");
    ck_assert_msg(fabs(cf_json_number(o1, "test_loss") - cf_json_number(o2, "test_loss")) < 1e-3 &&
                      fabs(cf_json_number(o1, "test_auc") - cf_json_number(o2, "test_auc")) < 1e-3,
                  "%s\n%s", o1, o2);
    free(o1);
    free(o2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dist_cli");
    TCase *tc = tcase_create("mpirun");
    tcase_set_timeout(tc, 240);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, two_ranks_train_the_one_process_model);
    tcase_add_test(tc, resume_with_another_rank_count);
    tcase_add_test(tc, a_failing_rank_ends_the_job);
    tcase_add_test(tc, a_build_without_mpi_refuses_ranks);
    tcase_add_test(tc, forecast_on_two_ranks);
    tcase_add_test(tc, mil_batches_on_two_ranks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
