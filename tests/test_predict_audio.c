// Check suite: `ssmkit predict` on audio ($SSMKIT_BIN, default build/ssmkit). A tiny Audio
// Mamba (audio_patches with a middle class token and AST's per-axis strides from the config
// keys adapter.fstride / adapter.tstride) is trained on generated 0.5 s tones (an
// audio_folder set), then:
//   - predict's probabilities on the test clips equal the evaluation's (the test batcher,
//     model_predict, softmax) to 1e-6;
//   - a 2 s clip (4x the trained length) runs in one pass, and equals a model built by hand
//     for its 198 frames whose learned positions were resized with
//     patch_embed_resize_positions from the trained grid (class token moved to the new
//     middle);
//   - --window / --hop over a generated 10-minute recording: 1200 rows with exact
//     timestamps, each window's probabilities equal to predicting that stretch cut out as a
//     clip of its own; an overlapping hop gets a last window aligned to the end, and a
//     recording shorter than the window is one window;
//   - patch_embed_resize_positions against hand-computed bilinear values;
//   - a text file named .wav and a config whose mel bins disagree with the checkpoint are
//     refused with the file or the key named.
#include <check.h>

#include "adapters/patch_embed.h"
#include "core/checkpoint.h"
#include "datasets/audio_data.h"
#include "datasets/audio_read.h"
#include "tasks/task_run.h"
#include "tests/predict_fixture.h"
#include "tests/util/testutil.h"

enum { SR = 16000, CLIP = 8000, NCLS = 2, MEL = 40, PATCH = 8, FSTRIDE = 4, TSTRIDE = 8 };

static char data_dir[600], ckpt[700];
static const char *const CLASSES[NCLS] = {"high", "low"};

static const char *SETS[] = {
    "data.name=audio_folder", NULL /* data.path */, "data.target_frames=48",
    "data.augment.noise=0", "data.augment.time_shift=0", "data.augment.gain_db=0",
    "data.augment.freq_mask=0", "data.augment.time_mask=0", "data.batch_size=8",
    "data.num_workers=0", "data.val_fraction=0.2", "backbone.d_model=16", "backbone.n_layers=1",
    "task.num_classes=2", "adapter.cls_token=middle", "adapter.fstride=4", "adapter.tstride=8",
    "optim.warmup_steps=1"};
#define N_SETS ((int)(sizeof SETS / sizeof *SETS))

static char *sets_text(void) {
    static char buf[2048];
    size_t used = 0;
    for (int i = 0; i < N_SETS; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, " --set %s", SETS[i]);
    return buf;
}

static void setup(void) {
    pf_setup();
    static char path[700];
    snprintf(data_dir, sizeof data_dir, "%s/tones", fx_dir);
    snprintf(path, sizeof path, "data.path=%s", data_dir);
    SETS[1] = path;
    uint64_t st = 3;
    int16_t x[CLIP];
    for (int k = 0; k < NCLS; k++) {
        char p[800];
        snprintf(p, sizeof p, "mkdir -p %s/%s", data_dir, CLASSES[k]);
        ck_assert_int_eq(system(p), 0);
        for (int i = 0; i < 15; i++) {
            pf_tone(x, CLIP, k, &st);
            snprintf(p, sizeof p, "%s/%s/clip%02d.wav", data_dir, CLASSES[k], i);
            pf_write_wav(p, x, CLIP);
        }
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train configs/audio/keywords.yaml%s --set train.epochs=2 "
             "--set run.dir=%s --set run.name=au", pf_bin, sets_text(), fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, sizeof ckpt, "%s/au/last.safetensors", fx_dir);
}

static void teardown(void) { pf_teardown(); }

static void load_config(ssm_config *cfg) {
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve_checked(cfg, "configs/audio/keywords.yaml", SETS, N_SETS,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
}

static void predict_cmd(char *cmd, size_t cap, const char *extra) {
    snprintf(cmd, cap, "%s predict configs/audio/keywords.yaml%s --ckpt %s --format csv %s", pf_bin,
             sets_text(), ckpt, extra);
}

START_TEST(clips_match_eval) {
    ssm_config cfg;
    load_config(&cfg);
    ssm_error e = {0};
    audio_data a;
    ck_assert_msg(audio_data_open(&a, &cfg.data, (uint64_t)cfg.run.seed, 1, &e) == SSM_OK, "%s",
                  e.msg);
    task_data_info info = {.input = {2, {a.T, a.F}}, .num_classes = a.num_classes,
                           .class_names = (const char *const *)a.set.class_names};
    ssm_task *t = NULL;
    ck_assert_msg(task_create(&t, &cfg, &info, cfg.data.batch_size, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_load_checkpoint(t, ckpt, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    const ssm_batch *b = NULL;
    ck_assert_msg(ssm_batcher_next(&a.test, &b, &e) == SSM_OK && b, "%s", e.msg);
    const real *out;
    ck_assert_msg(model_predict(&t->model, b->x, b->B, &out, &e) == SSM_OK, "%s", e.msg);
    char cmd[8192], extra[6000] = "";
    size_t used = 0;
    for (int64_t i = 0; i < b->B; i++)
        used += (size_t)snprintf(extra + used, sizeof extra - used, " %s",
                                 a.set.clips[b->index[i]].path);
    predict_cmd(cmd, sizeof cmd, extra);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, b->B);
    ck_assert_str_eq(tb.cols[6], "prob_high");
    for (int64_t i = 0; i < b->B; i++) {
        double p[NCLS];
        pf_softmax(p, out + i * t->model.K, NCLS);
        const pf_row *r = pf_find(&tb, a.set.clips[b->index[i]].path, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(pf_max_diff(r->v, p, NCLS) < 1e-6, "clip %lld: %g", (long long)i,
                      pf_max_diff(r->v, p, NCLS));
        ck_assert(isnan(r->start));
    }
    pf_table_free(&tb);
    task_free(t);
    audio_data_close(&a);
}
END_TEST

// The positions of the trained grid (9 bands x 6 steps, class token at 27) resized by hand
// to a 198-frame clip's (9 x 24, class token at 108): predict must agree with that model.
START_TEST(long_clip_in_one_pass) {
    ssm_config cfg;
    load_config(&cfg);
    ssm_error e = {0};
    char wav[700], cmd[8192];
    int16_t *x = malloc(4 * CLIP * sizeof *x);
    uint64_t st = 9;
    for (int s = 0; s < 4; s++)
        pf_tone(x + s * CLIP, CLIP, s % 2, &st);
    fx_path(wav, sizeof wav, "long.wav");
    pf_write_wav(wav, x, 4 * CLIP);
    free(x);
    predict_cmd(cmd, sizeof cmd, wav);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 1);
    // the reference: features as the evaluation makes them, for all 198 frames
    ssm_metadata meta;
    ssm_metadata_init(&meta);
    int64_t T0 = 48, T1 = 1 + (4 * CLIP - 400) / 160;
    ck_assert_int_eq(T1, 198);
    ssm_task *t0 = NULL, *t1 = NULL;
    task_data_info i0 = {.input = {2, {T0, MEL}}, .num_classes = NCLS};
    task_data_info i1 = {.input = {2, {T1, MEL}}, .num_classes = NCLS};
    ck_assert_msg(task_create(&t0, &cfg, &i0, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_load_checkpoint(t0, ckpt, 0, &meta, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_create(&t1, &cfg, &i1, 1, &e) == SSM_OK, "%s", e.msg);
    const ssm_params *p0 = t0->params, *p1 = t1->params;
    ck_assert_uint_eq(p0->count, p1->count);
    int64_t gf = (MEL - PATCH) / FSTRIDE + 1, g0 = (T0 - PATCH) / TSTRIDE + 1,
            g1 = (T1 - PATCH) / TSTRIDE + 1;
    ck_assert_int_eq(gf, 9); // the config keys reached the adapter
    for (size_t i = 0; i < p0->count; i++) {
        const ssm_param_info *a = &p0->items[i];
        ck_assert_str_eq(a->name, p1->items[i].name);
        if (!strcmp(a->name, "pos_embed")) {
            ck_assert_int_eq(a->shape[1], gf * g0 + 1);
            ck_assert_int_eq(p1->items[i].shape[1], gf * g1 + 1);
            patch_embed_resize_positions(ssm_params_data(p1, i), gf, g1, gf * g1 / 2,
                                         ssm_params_data(p0, i), gf, g0, gf * g0 / 2, 16);
        } else {
            memcpy(ssm_params_data(p1, i), ssm_params_data(p0, i), a->numel * sizeof(real));
        }
    }
    double mean = atof(ssm_metadata_get(&meta, "data_mean.0"));
    double sd = atof(ssm_metadata_get(&meta, "data_std.0"));
    ssm_audio au;
    ck_assert_msg(ssm_audio_read(wav, SR, &au, &e) == SSM_OK, "%s", e.msg);
    ssm_fbank_opts o;
    audio_data_fbank_opts(&o, &cfg.data);
    ssm_fbank *fb;
    ck_assert(ssm_fbank_create(&fb, &o, &e) == SSM_OK);
    float *feats = malloc((size_t)(T1 * MEL) * sizeof *feats);
    real *in = malloc((size_t)(T1 * MEL) * sizeof *in);
    ck_assert(ssm_fbank_compute(fb, au.samples, au.n, feats, &e) == SSM_OK);
    real m = (real)mean, inv = (real)(1 / (2 * sd));
    for (int64_t i = 0; i < T1 * MEL; i++)
        in[i] = ((real)feats[i] - m) * inv;
    const real *out;
    ck_assert_msg(model_predict(&t1->model, in, 1, &out, &e) == SSM_OK, "%s", e.msg);
    double pr[NCLS];
    pf_softmax(pr, out, NCLS);
    ck_assert_msg(pf_max_diff(tb.rows[0].v, pr, NCLS) < 1e-6, "predict %g %g, by hand %g %g",
                  tb.rows[0].v[0], tb.rows[0].v[1], pr[0], pr[1]);
    ck_assert_double_eq_tol(tb.rows[0].v[0] + tb.rows[0].v[1], 1, 1e-6);
    pf_table_free(&tb);
    free(feats);
    free(in);
    ssm_fbank_free(fb);
    ssm_audio_free(&au);
    ssm_metadata_free(&meta);
    task_free(t0);
    task_free(t1);
}
END_TEST

START_TEST(windows_over_ten_minutes) {
    const int64_t N = 600LL * SR; // 10 minutes: 1200 half-second events
    int16_t *x = malloc((size_t)N * sizeof *x);
    uint64_t st = 17;
    for (int64_t s = 0; s < N / CLIP; s++)
        pf_tone(x + s * CLIP, CLIP, (int)(tu_uniform(&st) * 2), &st);
    char wav[700], cmd[8192];
    fx_path(wav, sizeof wav, "recording.wav");
    pf_write_wav(wav, x, N);
    predict_cmd(cmd, sizeof cmd, "--window 0.5 --hop 0.5 ");
    strncat(cmd, wav, sizeof cmd - strlen(cmd) - 1);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 1200);
    for (int k = 0; k < tb.n; k++) {
        ck_assert_double_eq(tb.rows[k].start, 0.5 * k);
        ck_assert_double_eq(tb.rows[k].end, 0.5 * k + 0.5);
        ck_assert_double_eq_tol(tb.rows[k].v[0] + tb.rows[k].v[1], 1, 1e-6);
    }
    // three windows cut out as clips of their own
    const int pick[3] = {0, 617, 1199};
    char clips[3][700], list[2200] = "";
    for (int j = 0; j < 3; j++) {
        char name[64];
        snprintf(name, sizeof name, "window%d.wav", pick[j]);
        fx_path(clips[j], sizeof clips[j], name);
        pf_write_wav(clips[j], x + (int64_t)pick[j] * CLIP, CLIP);
        strcat(list, " ");
        strcat(list, clips[j]);
    }
    free(x);
    predict_cmd(cmd, sizeof cmd, list);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table one;
    pf_read_csv(&one, pf_out);
    for (int j = 0; j < 3; j++) {
        const pf_row *r = pf_find(&one, clips[j], NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(pf_max_diff(r->v, tb.rows[pick[j]].v, NCLS) < 1e-6, "window %d", pick[j]);
    }
    pf_table_free(&one);
    pf_table_free(&tb);
    // an overlapping hop: windows every 0.3 s, then one ending at the end (2.05 s)
    int16_t y[32800];
    pf_tone(y, 32800, 0, &st);
    fx_path(wav, sizeof wav, "short.wav");
    pf_write_wav(wav, y, 32800);
    predict_cmd(cmd, sizeof cmd, "--window 0.5 --hop 0.3 ");
    strncat(cmd, wav, sizeof cmd - strlen(cmd) - 1);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 7);
    for (int k = 0; k < 6; k++)
        ck_assert_double_eq_tol(tb.rows[k].start, 0.3 * k, 1e-12);
    ck_assert_double_eq_tol(tb.rows[6].start, 1.55, 1e-12);
    ck_assert_double_eq_tol(tb.rows[6].end, 2.05, 1e-12);
    pf_table_free(&tb);
    // shorter than the window: one window, the whole recording
    pf_write_wav(wav, y, 4800);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, 1);
    ck_assert_double_eq(tb.rows[0].start, 0);
    ck_assert_double_eq_tol(tb.rows[0].end, 0.3, 1e-12);
    pf_table_free(&tb);
}
END_TEST

START_TEST(resize_positions_by_hand) {
    // one row of 2 -> 4 (align_corners=False): 0, 4 -> 0, 1, 3, 4; class token carried
    real src[3] = {0, 9, 4}, dst[5];
    patch_embed_resize_positions(dst, 1, 4, 2, src, 1, 2, 1, 1);
    const real want[5] = {0, 1, 9, 3, 4};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(dst[i] == want[i], "%d: %g", i, (double)dst[i]);
    // 4 -> 2 averages pairs; no class token
    real s4[4] = {1, 3, 10, 20}, d2[2];
    patch_embed_resize_positions(d2, 1, 2, -1, s4, 1, 4, -1, 1);
    ck_assert(d2[0] == 2 && d2[1] == 15);
    // 2 x 2 -> 3 x 3, D = 2: the centre is the mean, an unchanged grid is copied
    real g[8] = {0, 100, 2, 102, 4, 104, 6, 106}, o[18], same[8];
    patch_embed_resize_positions(o, 3, 3, -1, g, 2, 2, -1, 2);
    ck_assert_msg(fabs(o[8] - 3) < 1e-6 && fabs(o[9] - 103) < 1e-6, "%g %g", (double)o[8],
                  (double)o[9]);
    ck_assert(o[0] == 0 && o[16] == 6); // corners clamp to the corners
    patch_embed_resize_positions(same, 2, 2, -1, g, 2, 2, -1, 2);
    ck_assert(memcmp(same, g, sizeof g) == 0);
}
END_TEST

START_TEST(bad_audio_is_refused) {
    char bad[700], cmd[8192];
    fx_write(bad, sizeof bad, "speech.wav", "not audio at all\n", SIZE_MAX);
    predict_cmd(cmd, sizeof cmd, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, bad), "%s", pf_err);
    predict_cmd(cmd, sizeof cmd, "--set data.fbank.num_mel_bins=64 x.wav");
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "num_mel_bins") && strstr(pf_err, "data_mel"), "%s", pf_err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict_audio");
    TCase *tc = tcase_create("audio");
    tcase_add_unchecked_fixture(tc, setup, teardown); // one training for every test
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, clips_match_eval);
    tcase_add_test(tc, long_clip_in_one_pass);
    tcase_add_test(tc, windows_over_ten_minutes);
    tcase_add_test(tc, resize_positions_by_hand);
    tcase_add_test(tc, bad_audio_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
