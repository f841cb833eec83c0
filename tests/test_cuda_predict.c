// Check suite: `ssmkit predict` on one GPU (run.device: cuda) against the CPU, through the
// binary ($SSMKIT_BIN; tests/device_check.sh runs it with build-cuda/ssmkit). Small models
// are trained on the CPU, then predicted on both devices:
//   - images (PNG): every probability within 1e-4;
//   - audio: a clip 4x longer than the training clips (the model planned for its length,
//     positions resized and copied to the device) and --window rows: within 1e-4;
//   - CLAM bags with --attention (the attention weights come back from the device): the
//     probabilities and every instance's weight within 1e-4.
// Without a GPU (a CPU-only binary, or no device) predict's refusal of run.device: cuda is
// checked instead: a nonzero exit that names CUDA.
#include <check.h>
#include <png.h>

#include "core/device_select.h"
#include "datasets/mil_synth.h"
#include "tests/predict_fixture.h"
#include "tests/util/suite.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "kernels/cuda/common.h"
#else
#define HAVE_CUDA 0
#endif

static void setup(void) { pf_setup(); }
static void teardown(void) { pf_teardown(); }

static const char *IMG = "configs/image/fashion_mnist.yaml --set data.name=idx --set "
                         "backbone.d_model=16 --set backbone.n_layers=1 --set task.tta=none";

// A trained image model and three PNGs; *ckpt and the inputs' text.
static void image_fixture(char *ckpt, size_t cap, char *inputs, size_t icap) {
    char dir[600], cmd[4096];
    snprintf(dir, sizeof dir, "%s/idx", fx_dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(dir, 200, 10, 5), 0);
    snprintf(cmd, sizeof cmd, "%s train %s --set data.path=%s --set train.epochs=1 --set "
             "run.dir=%s --set run.name=img", pf_bin, IMG, dir, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, cap, "%s/img/last.safetensors", fx_dir);
    uint64_t st = 1;
    size_t used = 0;
    for (int k = 0; k < 3; k++) {
        uint8_t px[28 * 28];
        cf_pattern_image(px, k, &st);
        char path[700];
        snprintf(path, sizeof path, "%s/img%d.png", fx_dir, k);
        png_image im;
        memset(&im, 0, sizeof im);
        im.version = PNG_IMAGE_VERSION;
        im.width = im.height = 28;
        im.format = PNG_FORMAT_GRAY;
        ck_assert(png_image_write_to_file(&im, path, 0, px, 28, NULL));
        used += (size_t)snprintf(inputs + used, icap - used, " %s", path);
    }
}

START_TEST(refused_without_a_gpu) {
#if HAVE_CUDA
    if (ssm_cuda_device_count() > 0) {
        printf("refused_without_a_gpu: a GPU is present, nothing to refuse\n");
        return;
    }
#endif
    char ckpt[700], inputs[2200], cmd[8192];
    image_fixture(ckpt, sizeof ckpt, inputs, sizeof inputs);
    snprintf(cmd, sizeof cmd, "%s predict %s --ckpt %s --set run.device=cuda%s", pf_bin, IMG, ckpt,
             inputs);
    ck_assert_int_ne(pf_run(cmd), 0);
    ck_assert_msg(strstr(pf_err, "CUDA") || strstr(pf_err, "cuda"), "%s", pf_err);
}
END_TEST

#if HAVE_CUDA
// Runs cmd with run.device cpu, then cuda; the two outputs' files (CSV) in *cpu, *gpu.
static void both_devices(const char *cmd, pf_table *cpu, pf_table *gpu) {
    char full[16384];
    for (int dev = 0; dev < 2; dev++) {
        snprintf(full, sizeof full, "%s --format csv --set run.device=%s", cmd,
                 dev ? "cuda" : "cpu");
        ck_assert_msg(pf_run(full) == 0, "%s\n%s", full, pf_err);
        pf_read_csv(dev ? gpu : cpu, pf_out);
    }
    ck_assert_int_eq(cpu->n, gpu->n);
}

static void tables_agree(const pf_table *a, const pf_table *b, double tol) {
    for (int i = 0; i < a->n; i++) {
        ck_assert_str_eq(a->rows[i].input, b->rows[i].input);
        ck_assert_int_eq(a->rows[i].n, b->rows[i].n);
        double d = pf_max_diff(a->rows[i].v, b->rows[i].v, a->rows[i].n);
        ck_assert_msg(d < tol, "%s %s: cpu and cuda differ by %g", a->rows[i].input,
                      a->rows[i].sample, d);
    }
}

START_TEST(images_on_the_gpu) {
    char ckpt[700], inputs[2200], cmd[8192];
    image_fixture(ckpt, sizeof ckpt, inputs, sizeof inputs);
    snprintf(cmd, sizeof cmd, "%s predict %s --ckpt %s%s", pf_bin, IMG, ckpt, inputs);
    pf_table a, b;
    both_devices(cmd, &a, &b);
    ck_assert_int_eq(a.n, 3);
    tables_agree(&a, &b, 1e-4);
    pf_table_free(&a);
    pf_table_free(&b);
}
END_TEST

START_TEST(long_audio_on_the_gpu) {
    char dir[600], sets[2048], cmd[8192], wav[700];
    snprintf(dir, sizeof dir, "%s/tones", fx_dir);
    uint64_t st = 3;
    int16_t x[32000];
    for (int k = 0; k < 2; k++) {
        char p[800];
        snprintf(p, sizeof p, "mkdir -p %s/%s", dir, k ? "low" : "high");
        ck_assert_int_eq(system(p), 0);
        for (int i = 0; i < 10; i++) {
            pf_tone(x, 8000, k, &st);
            snprintf(p, sizeof p, "%s/%s/c%d.wav", dir, k ? "low" : "high", i);
            pf_write_wav(p, x, 8000);
        }
    }
    snprintf(sets, sizeof sets, "configs/audio/keywords.yaml --set data.name=audio_folder --set "
             "data.path=%s --set data.target_frames=48 --set data.augment.noise=0 --set "
             "data.num_workers=0 --set data.batch_size=8 --set backbone.d_model=16 --set "
             "backbone.n_layers=1 --set task.num_classes=2 --set adapter.cls_token=middle", dir);
    snprintf(cmd, sizeof cmd, "%s train %s --set train.epochs=1 --set run.dir=%s --set "
             "run.name=au", pf_bin, sets, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    for (int s = 0; s < 4; s++)
        pf_tone(x + s * 8000, 8000, s % 2, &st);
    fx_path(wav, sizeof wav, "long.wav");
    pf_write_wav(wav, x, 32000);
    for (int windows = 0; windows < 2; windows++) {
        snprintf(cmd, sizeof cmd, "%s predict %s --ckpt %s/au/last.safetensors %s %s", pf_bin, sets,
                 fx_dir, windows ? "--window 0.5 --hop 0.25" : "", wav);
        pf_table a, b;
        both_devices(cmd, &a, &b);
        ck_assert_int_eq(a.n, windows ? 7 : 1);
        tables_agree(&a, &b, 1e-4);
        pf_table_free(&a);
        pf_table_free(&b);
    }
}
END_TEST

START_TEST(bags_on_the_gpu) {
    char dir[600], sets[2048], cmd[8192], att[2][700];
    snprintf(dir, sizeof dir, "%s/slides", fx_dir);
    mil_synth_opts o = {.n_bags = 12, .min_len = 20, .max_len = 80, .F = 8, .min_witness = 2,
                        .max_witness = 4, .shift = 6.0, .positive_fraction = 0.5, .n_splits = 2,
                        .val_fraction = 0.2, .seed = 3};
    ssm_error e = {0};
    ck_assert_msg(mil_synth_write(dir, &o, &e) == SSM_OK, "%s", e.msg);
    snprintf(sets, sizeof sets, "configs/mil/camelyon16_clam.yaml --set data.path=%s/dataset.csv "
             "--set data.features_dir=%s --set data.splits_dir=%s/splits --set backbone.d_model=16 "
             "--set backbone.n_layers=1 --set task.attn_dim=8", dir, dir, dir);
    snprintf(cmd, sizeof cmd, "%s train %s --set train.epochs=1 --set run.dir=%s --set run.name=c",
             pf_bin, sets, fx_dir);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table t[2];
    for (int dev = 0; dev < 2; dev++) {
        fx_path(att[dev], sizeof att[dev], dev ? "att_gpu.csv" : "att_cpu.csv");
        snprintf(cmd, sizeof cmd, "%s predict %s --ckpt %s/c/last.safetensors --format csv "
                 "--set run.device=%s --attention %s %s/h5_files/slide_0000.h5 "
                 "%s/h5_files/slide_0001.h5 %s/h5_files/slide_0002.h5", pf_bin, sets, fx_dir,
                 dev ? "cuda" : "cpu", att[dev], dir, dir, dir);
        ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
        pf_read_csv(&t[dev], pf_out);
    }
    ck_assert_int_eq(t[0].n, 3);
    tables_agree(&t[0], &t[1], 1e-4);
    pf_table_free(&t[0]);
    pf_table_free(&t[1]);
    char *a = cf_read_file(att[0], NULL), *b = cf_read_file(att[1], NULL);
    ck_assert(a && b);
    const char *p = strchr(a, '\n') + 1, *q = strchr(b, '\n') + 1;
    int rows = 0;
    while (*p && *q) {
        char fa[700], fb[700], cell[64];
        double wa = 0, wb = 0;
        for (int col = 0; col < 6; col++) { // input,sample,instance,attention,x,y
            pf_field(&p, col == 0 ? fa : cell, col == 0 ? sizeof fa : sizeof cell);
            if (col == 3)
                wa = atof(cell);
            pf_field(&q, col == 0 ? fb : cell, col == 0 ? sizeof fb : sizeof cell);
            if (col == 3)
                wb = atof(cell);
        }
        ck_assert_str_eq(fa, fb);
        ck_assert_msg(fabs(wa - wb) < 1e-4, "row %d: attention %g (cpu) vs %g (cuda)", rows, wa,
                      wb);
        rows++;
    }
    ck_assert(!*p && !*q && rows >= 60);
    free(a);
    free(b);
}
END_TEST
#endif

int main(void) {
    Suite *s = suite_create("cuda_predict");
    TCase *tc = tcase_create("predict");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, refused_without_a_gpu);
    if (tu_cuda_ready("test_cuda_predict: GPU cases")) {
#if HAVE_CUDA
        tcase_add_test(tc, images_on_the_gpu);
        tcase_add_test(tc, long_audio_on_the_gpu);
        tcase_add_test(tc, bags_on_the_gpu);
#endif
    }
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
