// Check suite: `ssmkit predict` on images, its output forms and its refusals, through the
// binary ($SSMKIT_BIN, default build/ssmkit). A tiny image model is trained on a synthetic
// IDX set (tests/util/cli_fixture.h), then:
//   - predict's probabilities on PNG files of the first test images equal the model's own
//     evaluation of those images (the test batcher, model_predict, softmax) to 1e-6, for a
//     model trained with data.augment.normalize false (predict used to standardise its
//     inputs anyway: off by up to 0.19, issue 19) and for one trained with it true;
//   - --format json is valid JSON with the same probabilities as --format csv; the text
//     line keeps 4 decimals, --full 9 significant digits;
//   - a checkpoint without predict's metadata (as PyTorch writes one) predicts the same,
//     the config's data giving the missing keys; without that data the error names the key;
//   - a text file named .png, a missing file, bad options (a forecast's --at on images) and
//     a recipe without a reader (fmnist_bags) are refused with the file or option named and
//     a nonzero exit.
#include <check.h>
#include <png.h>

#include "core/checkpoint.h"
#include "datasets/image_data.h"
#include "tasks/task_run.h"
#include "tests/predict_fixture.h"

enum { N_IMG = 6, V = 10 };

static char data_dir[600];

static void setup(void) {
    pf_setup();
    snprintf(data_dir, sizeof data_dir, "%s/idx", fx_dir);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", data_dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(data_dir, 200, 40, 5), 0);
}

static void teardown(void) { pf_teardown(); }

// The --set options of the model (norm: data.augment.normalize), in sets [n] and as text.
static int model_sets(const char **sets, char *buf, size_t cap, int norm) {
    static char path[700];
    snprintf(path, sizeof path, "data.path=%s", data_dir);
    const char *s[] = {"data.name=idx", path, "backbone.d_model=16", "backbone.n_layers=1",
                       "task.tta=none", "data.num_workers=0", "data.batch_size=32",
                       norm ? "data.augment.normalize=true" : "data.augment.normalize=false"};
    int n = (int)(sizeof s / sizeof *s);
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        sets[i] = s[i];
        used += (size_t)snprintf(buf + used, cap - used, " --set %s", s[i]);
    }
    return n;
}

static void train(const char *name, int norm, char *ckpt, size_t cap) {
    const char *sets[16];
    char opts[1024], cmd[2048];
    model_sets(sets, opts, sizeof opts, norm);
    snprintf(cmd, sizeof cmd, "%s train configs/image/fashion_mnist.yaml%s --set train.epochs=2 "
             "--set run.dir=%s --set run.name=%s", pf_bin, opts, fx_dir, name);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    snprintf(ckpt, cap, "%s/%s/last.safetensors", fx_dir, name);
}

static void write_png(const char *path, const uint8_t *px) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = 28;
    im.height = 28;
    im.format = PNG_FORMAT_GRAY;
    ck_assert_msg(png_image_write_to_file(&im, path, 0, px, 28, NULL), "%s", path);
}

// The probabilities of the first N_IMG test images as the evaluation computes them
// (probs [N_IMG, V]); their PNG files written as <fx_dir>/img<i>.png.
static void eval_probs(const char *ckpt, int norm, double *probs) {
    const char *sets[16];
    char opts[1024];
    int n = model_sets(sets, opts, sizeof opts, norm);
    ssm_config cfg;
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve_checked(&cfg, "configs/image/fashion_mnist.yaml", sets, n,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    image_data g;
    ck_assert_msg(image_data_open(&g, &cfg.data, (uint64_t)cfg.run.seed, 1, &e) == SSM_OK, "%s",
                  e.msg);
    task_data_info info = {.input = {3, {g.C, g.H, g.W}},
                           .class_names = (const char *const *)g.train_ds.class_names};
    ssm_task *t = NULL;
    ck_assert_msg(task_create(&t, &cfg, &info, cfg.data.batch_size, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_load_checkpoint(t, ckpt, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    const ssm_batch *b = NULL;
    ck_assert_msg(ssm_batcher_next(&g.test, &b, &e) == SSM_OK && b, "%s", e.msg);
    ck_assert_int_ge(b->B, N_IMG);
    const real *out;
    ck_assert_msg(model_predict(&t->model, b->x, b->B, &out, &e) == SSM_OK, "%s", e.msg);
    for (int i = 0; i < N_IMG; i++) {
        ck_assert_int_eq(b->index[i], i);
        pf_softmax(probs + i * V, out + i * t->model.K, V);
        char path[700];
        snprintf(path, sizeof path, "%s/img%d.png", fx_dir, i);
        write_png(path, g.test_ds.pixels + (size_t)i * 28 * 28);
    }
    task_free(t);
    image_data_close(&g);
}

static void predict_cmd(char *cmd, size_t cap, const char *ckpt, const char *extra) {
    size_t used = (size_t)snprintf(cmd, cap, "%s predict configs/image/fashion_mnist.yaml "
                                   "--set backbone.d_model=16 --set backbone.n_layers=1 --ckpt %s %s",
                                   pf_bin, ckpt, extra);
    for (int i = 0; i < N_IMG; i++)
        used += (size_t)snprintf(cmd + used, cap - used, " %s/img%d.png", fx_dir, i);
}

// predict (csv) against the evaluation, for a model trained with normalize = norm.
static void check_against_eval(int norm) {
    char ckpt[700], cmd[4096];
    train(norm ? "norm" : "raw", norm, ckpt, sizeof ckpt);
    double ref[N_IMG * V];
    eval_probs(ckpt, norm, ref);
    // the command line's config keeps the default normalize: true; the checkpoint decides
    predict_cmd(cmd, sizeof cmd, ckpt, "--format csv");
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, N_IMG);
    ck_assert_str_eq(tb.cols[6], "prob_0");
    for (int i = 0; i < N_IMG; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/img%d.png", fx_dir, i);
        const pf_row *r = pf_find(&tb, path, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->n, V);
        double d = pf_max_diff(r->v, ref + i * V, V);
        ck_assert_msg(d < 1e-6, "normalize %d, image %d: predict and eval differ by %g", norm, i,
                      d);
    }
    // json: valid, the same numbers
    predict_cmd(cmd, sizeof cmd, ckpt, "--format json");
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    ck_assert_msg(pf_json_valid(pf_out), "not JSON:\n%s", pf_out);
    ck_assert_ptr_nonnull(strstr(pf_out, "\"classes\":[\"0\",\"1\","));
    for (int i = 0; i < N_IMG; i++) {
        double v[PF_MAX_V];
        ck_assert_int_eq(pf_json_probabilities(pf_out, i, v, PF_MAX_V), V);
        ck_assert_msg(pf_max_diff(v, tb.rows[i].v, V) == 0, "json and csv differ, image %d", i);
    }
    // text: the top class with 4 decimals, or 9 significant digits with --full
    for (int full = 0; full < 2; full++) {
        predict_cmd(cmd, sizeof cmd, ckpt, full ? "--top 1 --full" : "--top 1");
        ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
        const char *line = pf_out;
        for (int i = 0; i < N_IMG; i++) {
            char name[700], cls[64];
            double p;
            ck_assert_int_eq(sscanf(line, "%699[^\t]\t%63s %lf", name, cls, &p), 3);
            const pf_row *r = pf_find(&tb, name, NULL);
            ck_assert_ptr_nonnull(r);
            ck_assert_str_eq(cls, r->predicted);
            double best = r->v[atoi(cls)];
            ck_assert_msg(fabs(p - best) <= (full ? 1e-8 * best : 5.001e-5), "%.12g vs %.12g", p,
                          best);
            line = strchr(line, '\n') + 1;
        }
    }
    pf_table_free(&tb);
}

START_TEST(images_match_eval_unnormalized) { check_against_eval(0); }
END_TEST

START_TEST(images_match_eval_normalized) { check_against_eval(1); }
END_TEST

// A checkpoint with the weights and nothing else in its metadata, as torch writes one.
START_TEST(checkpoint_without_metadata) {
    char ckpt[700], bare[700], cmd[4096];
    train("norm", 1, ckpt, sizeof ckpt);
    double ref[N_IMG * V];
    eval_probs(ckpt, 1, ref);
    ssm_params p;
    ssm_params_init(&p);
    ssm_ckpt_info info;
    ssm_error e = {0};
    ck_assert_msg(ssm_checkpoint_inspect(ckpt, &info, &e) == SSM_OK, "%s", e.msg);
    for (size_t i = 0; i < info.count; i++)
        if (strncmp(info.tensors[i].name, "optim.", 6)) // the weights only
            ck_assert(ssm_params_add(&p, info.tensors[i].name, info.tensors[i].ndim,
                                 info.tensors[i].shape, 0, NULL, &e) == SSM_OK);
    ck_assert_ptr_null(ssm_metadata_get(&info.meta, "nothing"));
    ck_assert_ptr_nonnull(ssm_metadata_get(&info.meta, "data_normalize"));
    ssm_ckpt_info_free(&info);
    ck_assert(ssm_params_finalize(&p, &e) == SSM_OK);
    ck_assert_msg(ssm_checkpoint_load(ckpt, &p, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    fx_path(bare, sizeof bare, "bare.safetensors");
    ck_assert_msg(ssm_checkpoint_save(bare, &p, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    ssm_params_free(&p);
    const char *sets[16];
    char opts[1024];
    model_sets(sets, opts, sizeof opts, 1);
    predict_cmd(cmd, sizeof cmd, bare, "--format csv");
    strncat(cmd, opts, sizeof cmd - strlen(cmd) - 1);
    ck_assert_msg(pf_run(cmd) == 0, "%s\n%s", cmd, pf_err);
    pf_table tb;
    pf_read_csv(&tb, pf_out);
    ck_assert_int_eq(tb.n, N_IMG);
    for (int i = 0; i < N_IMG; i++)
        ck_assert_msg(pf_max_diff(tb.rows[i].v, ref + i * V, V) < 1e-6, "image %d", i);
    pf_table_free(&tb);
    // without the data the config names, the missing key is named
    strncat(cmd, " --set data.path=/nonexistent/idx", sizeof cmd - strlen(cmd) - 1);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, "data_channels") && strstr(pf_err, "bare.safetensors"), "%s",
                  pf_err);
}
END_TEST

// The checkpoint re-saved with metadata `key` set to `value` (the weights unchanged).
static void resave_with(const char *ckpt, const char *key, const char *value, char *out,
                        size_t cap) {
    ssm_params p;
    ssm_params_init(&p);
    ssm_ckpt_info info;
    ssm_error e = {0};
    ck_assert_msg(ssm_checkpoint_inspect(ckpt, &info, &e) == SSM_OK, "%s", e.msg);
    for (size_t i = 0; i < info.count; i++)
        if (strncmp(info.tensors[i].name, "optim.", 6))
            ck_assert(ssm_params_add(&p, info.tensors[i].name, info.tensors[i].ndim,
                                     info.tensors[i].shape, 0, NULL, &e) == SSM_OK);
    ssm_metadata m;
    ssm_metadata_init(&m);
    for (size_t i = 0; i < info.meta.count; i++)
        ck_assert(ssm_metadata_set(&m, info.meta.items[i].key, info.meta.items[i].value, &e) ==
                  SSM_OK);
    ck_assert(ssm_metadata_set(&m, key, value, &e) == SSM_OK);
    ssm_ckpt_info_free(&info);
    ck_assert(ssm_params_finalize(&p, &e) == SSM_OK);
    ck_assert_msg(ssm_checkpoint_load(ckpt, &p, 0, NULL, &e) == SSM_OK, "%s", e.msg);
    fx_path(out, cap, "edited.safetensors");
    ck_assert_msg(ssm_checkpoint_save(out, &p, 0, &m, &e) == SSM_OK, "%s", e.msg);
    ssm_metadata_free(&m);
    ssm_params_free(&p);
}

// Normalisation statistics that are NaN, inf or 0 printed NaN probabilities with exit 0
// (issue 18): each is refused, naming the key and the file.
START_TEST(non_finite_statistics_are_refused) {
    char ckpt[700], edited[700], cmd[4096];
    train("norm", 1, ckpt, sizeof ckpt);
    const char *cases[][2] = {{"data_mean.0", "nan"}, {"data_mean.0", "inf"},
                              {"data_std.0", "0"}, {"data_std.0", "-inf"}};
    for (int k = 0; k < 4; k++) {
        resave_with(ckpt, cases[k][0], cases[k][1], edited, sizeof edited);
        predict_cmd(cmd, sizeof cmd, edited, "--format csv");
        ck_assert_msg(pf_run(cmd) == 1, "%s = %s: exit 0\n%s", cases[k][0], cases[k][1], pf_out);
        ck_assert_msg(strstr(pf_err, cases[k][0]) && strstr(pf_err, "edited.safetensors"),
                      "%s", pf_err);
    }
}
END_TEST

START_TEST(bad_inputs_are_refused) {
    char ckpt[700], cmd[4096], bad[700], missing[700];
    train("raw", 0, ckpt, sizeof ckpt);
    fx_write(bad, sizeof bad, "notes.png", "this is not a picture\n", SIZE_MAX);
    fx_path(missing, sizeof missing, "absent.png");
    const char *base = "%s predict configs/image/fashion_mnist.yaml --set backbone.d_model=16 "
                       "--set backbone.n_layers=1 --ckpt %s %s";
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, bad), "%s", pf_err);
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, missing);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, missing), "%s", pf_err);
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, "--format xml x.png");
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "--format"), "%s", pf_err);
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, "--window 1 x.png");
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "audio only"), "%s", pf_err);
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, "--window -1 x.png");
    ck_assert_int_eq(pf_run(cmd), 2);
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, "--attention a.csv x.png");
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "bags only"), "%s", pf_err);
    // a recipe predict has no reader for (fmnist_bags: bags drawn from IDX images)
    snprintf(cmd, sizeof cmd, "%s predict configs/mil/fmnist_bags.yaml --ckpt %s w.csv", pf_bin,
             ckpt);
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "no reader") && strstr(pf_err, "points"), "%s", pf_err);
    // the forecasts' options elsewhere
    snprintf(cmd, sizeof cmd, base, pf_bin, ckpt, "--at 5 x.png");
    ck_assert_int_eq(pf_run(cmd), 2);
    ck_assert_msg(strstr(pf_err, "--at: forecasts only"), "%s", pf_err);
    // a checkpoint that is not one
    snprintf(cmd, sizeof cmd, base, pf_bin, bad, bad);
    ck_assert_int_eq(pf_run(cmd), 1);
    ck_assert_msg(strstr(pf_err, bad), "%s", pf_err);
}
END_TEST

int main(void) {
    Suite *s = suite_create("predict");
    TCase *tc = tcase_create("images");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, images_match_eval_unnormalized);
    tcase_add_test(tc, images_match_eval_normalized);
    tcase_add_test(tc, checkpoint_without_metadata);
    tcase_add_test(tc, non_finite_statistics_are_refused);
    tcase_add_test(tc, bad_inputs_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
