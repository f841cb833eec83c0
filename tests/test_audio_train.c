// Check suite: the audio path end to end through the ssmkit command ($SSMKIT_BIN, default
// build/ssmkit, run from the repository root). A generated Speech Commands-layout set of
// four sound classes (a rising chirp, a falling chirp, a steady tone, two short beeps) at
// random onsets, levels and noise: `ssmkit train` with data.name speech_commands and the
// audio_patches adapter (SpecAugment, noise, shift on) must beat chance (25%) by a wide
// margin on the held-out speakers; `ssmkit eval` gives the same test accuracy from the
// checkpoint, whose metadata holds the clip shape, the log-mel normalisation and the
// class names.
#include <check.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static char g_dir[64];

static const char *const CLASSES[4] = {"down_chirp", "up_chirp", "tone", "beeps"};

// 0.5 s at 16 kHz of class k, onset, level and noise from *st.
static void write_sound(const char *path, int k, uint64_t *st) {
    enum { N = 8000, SR = 16000 };
    float x[N];
    double amp = 0.05 + 0.3 * tu_uniform(st), onset = 0.15 * tu_uniform(st), len = 0.25;
    double phase = 0;
    for (int i = 0; i < N; i++) {
        double t = (double)i / SR - onset, v = 0;
        if (t >= 0 && t < len) {
            double u = t / len, f;
            if (k == 0)
                f = 2500 - 2100 * u;
            else if (k == 1)
                f = 400 + 2100 * u;
            else
                f = k == 2 ? 900 : 1800;
            phase += 2 * M_PI * f / SR;
            int on = k != 3 || u < 0.3 || (u > 0.6 && u < 0.9);
            v = on ? amp * sin(phase) : 0;
        }
        x[i] = (float)(v + 0.01 * (tu_uniform(st) - 0.5));
    }
    SF_INFO info = {.samplerate = SR, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s", path);
    sf_writef_float(f, x, N);
    sf_close(f);
}

static void make_set(const char *dir) {
    char path[512];
    FILE *val, *test;
    snprintf(path, sizeof path, "%s/validation_list.txt", dir);
    ck_assert_ptr_nonnull(val = fopen(path, "w"));
    snprintf(path, sizeof path, "%s/testing_list.txt", dir);
    ck_assert_ptr_nonnull(test = fopen(path, "w"));
    uint64_t st = 2024;
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, CLASSES[k]);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        for (int s = 0; s < 50; s++) { // speakers 40.. validate, 45.. test
            snprintf(path, sizeof path, "%s/%s/spk%02d_nohash_0.wav", dir, CLASSES[k], s);
            write_sound(path, k, &st);
            if (s >= 40)
                fprintf(s >= 45 ? test : val, "%s/spk%02d_nohash_0.wav\n", CLASSES[k], s);
        }
    }
    fclose(val);
    fclose(test);
    snprintf(path, sizeof path, "%s/_background_noise_", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/_background_noise_/hum.wav", dir);
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    for (int i = 0; i < 32000; i++) {
        float v = (float)(0.05 * sin(2 * M_PI * 120 * i / 16000.0) + 0.02 * (tu_uniform(&st) - 0.5));
        sf_writef_float(f, &v, 1);
    }
    sf_close(f);
}

static const char *CONFIG =
    "data:\n"
    "  name: speech_commands\n"
    "  path: %s/set\n"
    "  target_frames: 48\n"
    "  batch_size: 16\n"
    "  num_workers: 1\n"
    "  fbank:\n"
    "    num_mel_bins: 32\n"
    "  augment:\n"
    "    freq_mask: 4\n"
    "    time_mask: 6\n"
    "    noise: 0.5\n"
    "    snr_min: 10\n"
    "    time_shift: 0.05\n"
    "adapter:\n"
    "  name: audio_patches\n"
    "  patch_size: 8\n"
    "  cls_token: middle\n"
    "  orders: [time, time_reverse]\n"
    "backbone:\n"
    "  d_model: 32\n"
    "  n_layers: 2\n"
    "  d_state: 8\n"
    "task:\n"
    "  name: classify\n"
    "  num_classes: 4\n"
    "  pool: cls\n"
    "optim:\n"
    "  lr: 3e-3\n"
    "  warmup_steps: 10\n"
    "train:\n"
    "  epochs: 12\n"
    "  log_every: 10\n"
    "run:\n"
    "  dir: %s/runs\n"
    "  name: a\n"
    "  progress: off\n"
    "  tensorboard: false\n";

static int ssmkit(const char *args) { return cf_ssmkit(g_dir, NULL, args); }

static char *output(const char *which) { return cf_output(g_dir, which); }

START_TEST(train_beats_chance_then_eval_agrees) {
    char path[256], args[1024];
    snprintf(path, sizeof path, "%s/set", g_dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    make_set(path);
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
    double acc = cf_json_number(summary, "test_accuracy");
    ck_assert_msg(acc >= 0.9, "test accuracy %.3f (chance 0.25)", acc);
    free(summary);
    snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt %s/runs/a/last.safetensors", g_dir, g_dir);
    ck_assert_int_eq(ssmkit(args), 0);
    char *ev = output("out");
    ck_assert_msg(fabs(cf_json_number(ev, "accuracy") - acc) < 1e-6, "%s", ev);
    free(ev);
    snprintf(args, sizeof args, "info %s/runs/a/last.safetensors", g_dir);
    ck_assert_int_eq(ssmkit(args), 0);
    char *inf = output("out");
    ck_assert_msg(strstr(inf, "data_mel: 32") && strstr(inf, "data_frames: 48") &&
                      strstr(inf, "data_std.0") && strstr(inf, "class_names"),
                  "info shows no audio metadata");
    free(inf);
}
END_TEST

int main(void) {
    Suite *s = suite_create("audio_train");
    TCase *tc = tcase_create("audio_train");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, train_beats_chance_then_eval_agrees);
    suite_add_tcase(s, tc);
    return tu_run_suite_in(s, 0, g_dir, sizeof g_dir, "ssm_audio_train");
}
