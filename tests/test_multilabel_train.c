// Check suite: multi-label audio end to end through the ssmkit command ($SSMKIT_BIN, default
// build/ssmkit, run from the repository root). `ssmkit synth-scenes` writes a generated
// sound-event set in AST/AuM's manifest layout (1..3 overlapping sources of 8 classes per
// clip); `ssmkit train` with data.name audio_manifest, task.name multilabel and mixup 0.5
// must reach a test mAP of at least 0.65 (chance: about the mean positive rate, ~0.25,
// computed here from the test manifest), write per_class_test.csv, and `ssmkit eval` must
// give the same test mAP from the best checkpoint. A config asking classify of this
// multi-label data is refused with a message naming the task to use.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"

static char g_dir[64];

static const char *CONFIG =
    "data:\n"
    "  name: audio_manifest\n"
    "  path: %s/scenes\n"
    "  train_manifest: train.json\n"
    "  val_manifest: val.json\n"
    "  test_manifest: test.json\n"
    "  target_frames: 100\n"
    "  batch_size: 16\n"
    "  num_workers: 1\n"
    "  fbank:\n"
    "    num_mel_bins: 32\n"
    "  augment:\n"
    "    mixup: 0.5\n"
    "    time_shift: 0.1\n"
    "    roll: true\n"
    "adapter:\n"
    "  name: audio_patches\n"
    "  patch_size: 8\n"
    "  orders: [time, time_reverse]\n"
    "backbone:\n"
    "  d_model: 48\n"
    "  n_layers: 2\n"
    "  d_state: 8\n"
    "task:\n"
    "  name: multilabel\n"
    "  num_classes: 8\n"
    "optim:\n"
    "  lr: 3e-3\n"
    "  warmup_steps: 20\n"
    "train:\n"
    "  epochs: 12\n"
    "  log_every: 25\n"
    "run:\n"
    "  dir: %s/runs\n"
    "  name: ml\n"
    "  progress: off\n"
    "  tensorboard: false\n";

static int ssmkit(const char *args) { return cf_ssmkit(g_dir, NULL, args); }

static char *output(const char *which) { return cf_output(g_dir, which); }

// The mAP of a constant score: the mean over classes of their positive rate in the manifest.
static double chance_map(const char *manifest) {
    char *s = cf_read_file(manifest, NULL);
    ck_assert_ptr_nonnull(s);
    const char *mids[8] = {"hum", "tone", "whistle", "chirp_up", "chirp_down", "beeps",
                           "noise", "clicks"};
    double clips = 0, sum = 0;
    for (char *p = s; (p = strstr(p, "\"labels\"")); p++)
        clips++;
    for (int k = 0; k < 8; k++) {
        double pos = 0;
        char key[32];
        snprintf(key, sizeof key, "scene_%s", mids[k]);
        for (char *p = s; (p = strstr(p, key)); p++)
            pos++;
        sum += pos / clips;
    }
    free(s);
    return sum / 8;
}

START_TEST(multilabel_train_reaches_map_then_eval_agrees) {
    char path[256], args[1024];
    snprintf(args, sizeof args, "synth-scenes %s/scenes --train 400 --val 60 --test 120 --seed 3",
             g_dir);
    ck_assert_int_eq(ssmkit(args), 0);
    snprintf(path, sizeof path, "%s/cfg.yaml", g_dir);
    FILE *f = fopen(path, "w");
    fprintf(f, CONFIG, g_dir, g_dir);
    fclose(f);
    snprintf(args, sizeof args, "train %s", path);
    int rc = ssmkit(args);
    if (rc) {
        char *e = output("err");
        ck_abort_msg("train exited %d:\n%s", rc, e);
    }
    char *summary = output("out");
    double map = cf_json_number(summary, "test_mAP");
    snprintf(path, sizeof path, "%s/scenes/test.json", g_dir);
    double chance = chance_map(path);
    fprintf(stderr, "multilabel end to end: test mAP %.4f (chance %.3f), auc %.4f, micro-F1 %.4f\n",
            map, chance, cf_json_number(summary, "test_auc"),
            cf_json_number(summary, "test_micro_f1"));
    ck_assert_msg(chance > 0.15 && chance < 0.4, "chance mAP %.3f", chance);
    ck_assert_msg(map >= 0.65, "test mAP %.3f (chance %.3f)", map, chance);
    ck_assert_msg(cf_json_number(summary, "test_mAP_classes") == 8, "%s", summary);
    free(summary);
    snprintf(path, sizeof path, "%s/runs/ml/per_class_test.csv", g_dir);
    char *csv = cf_read_file(path, NULL);
    ck_assert_ptr_nonnull(csv);
    ck_assert(!strncmp(csv, "class,positives,ap,auc\n", 23));
    ck_assert_ptr_nonnull(strstr(csv, "\n\"Beeps, pulsed\","));
    free(csv);
    snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt %s/runs/ml/best.safetensors", g_dir,
             g_dir);
    ck_assert_int_eq(ssmkit(args), 0);
    char *ev = output("out");
    ck_assert_msg(fabs(cf_json_number(ev, "mAP") - map) < 1e-6, "%s", ev);
    free(ev);
    // the same data asked of classify: refused, naming the task
    snprintf(args, sizeof args, "train %s/cfg.yaml --set task.name=classify --set run.name=c",
             g_dir);
    ck_assert_int_ne(ssmkit(args), 0);
    char *err = output("err");
    ck_assert_msg(strstr(err, "use task.name multilabel"), "%s", err);
    free(err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("multilabel_train");
    TCase *tc = tcase_create("multilabel_train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, multilabel_train_reaches_map_then_eval_agrees);
    suite_add_tcase(s, tc);
    return tu_run_suite_in(s, 0, g_dir, sizeof g_dir, "ssm_multilabel_train");
}
