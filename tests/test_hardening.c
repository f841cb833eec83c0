// Check suite: the defects of issue 18 and what the fuzz targets (tests/fuzz/) found, one
// test each, every one failing before its fix: config nesting and size limits, values
// beyond float range in .tsv / .ts / CSV, '%' comments in .ts, the image-data leak when
// the test IDX files are missing (seen by the sanitized twin of this suite), input shapes
// whose product overflows or that are negative (the model, and `ssmkit predict` with such
// checkpoint metadata), an audio header whose frame count sized the first buffer, and resume
// metadata no run can have written, config errors found after loading that named no file.
#include <check.h>
#include <float.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/config.h"
#include "datasets/audio_read.h"
#include "datasets/image_data.h"
#include "datasets/series_csv.h"
#include "datasets/ucr.h"
#include "tasks/classify_model.h"
#include "tests/series_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// Loads text as a config; returns the code, the message in e.
static ssm_code load_text(const char *name, const char *text, size_t n, ssm_error *e) {
    char p[512];
    fx_write(p, sizeof p, name, text, n);
    ssm_config c;
    ssm_config_defaults(&c);
    memset(e, 0, sizeof *e);
    return ssm_config_load(&c, p, e);
}

START_TEST(config_deeper_than_the_limit_is_refused_before_libyaml) {
    // 40,000 levels took libyaml 15 s; refused at once now, naming the line
    enum { DEPTH = 40000 };
    char *flow = malloc(2 * DEPTH + 16);
    int k = sprintf(flow, "run:\n  name: ");
    for (int i = 0; i < DEPTH; i++)
        flow[k++] = '[';
    for (int i = 0; i < DEPTH; i++)
        flow[k++] = ']';
    flow[k++] = '\n';
    ssm_error e;
    double t0 = now_s();
    ck_assert_int_eq(load_text("deep_flow.yaml", flow, (size_t)k, &e), SSM_ECONFIG);
    ck_assert_msg(now_s() - t0 < 1.0, "took %.1f s", now_s() - t0);
    ck_assert_msg(strstr(e.msg, "deep_flow.yaml:2: nested more than 16 levels"), "%s", e.msg);
    free(flow);

    // block nesting: 20 mappings, each indented one more step (libyaml's accepts it)
    char block[2048];
    k = 0;
    for (int i = 0; i < 20; i++)
        k += sprintf(block + k, "%*sk%d:\n", 2 * i, "", i);
    ck_assert_int_eq(load_text("deep_block.yaml", block, (size_t)k, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "deep_block.yaml:17: nested more than 16"), "%s", e.msg);
    // and "- - - ..." entries on one line
    k = sprintf(block, "data:\n  ");
    for (int i = 0; i < 20; i++)
        k += sprintf(block + k, "- ");
    k += sprintf(block + k, "x\n");
    ck_assert_int_eq(load_text("deep_seq.yaml", block, (size_t)k, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "deep_seq.yaml:2: nested more"), "%s", e.msg);
}
END_TEST

START_TEST(config_brackets_in_quotes_comments_and_block_scalars_are_not_nesting) {
    const char *ok = "# [[[[[[[[[[[[[[[[[[[[[[[[ a comment\n"
                     "run:\n"
                     "  name: \"[[[[[[[[[[[[[[[[[[[[[[\"   # {{{{{{{{{{{{{{{{{{{{{{\n"
                     "  dir: '{{{{{{{{{{{{{{{{{{{{{{{{{{''['\n"
                     "adapter:\n"
                     "  name: image_patches\n"
                     "  orders: [row, \"reverse\"]\n"
                     "data:\n"
                     "  path: a[b[c[d[e[f[g[h[i[j[k[l[m[n[o[p[q[r\n";
    ssm_error e;
    ck_assert_msg(load_text("quoted.yaml", ok, SIZE_MAX, &e) == SSM_OK, "%s", e.msg);
    const char *scalar = "run:\n  name: |\n    [[[[[[[[[[[[[[[[[[[[[[[[\n    {{{{{{{{{{{{{{{{{{\n"
                         "  seed: 3\n";
    ck_assert_msg(load_text("scalar.yaml", scalar, SIZE_MAX, &e) == SSM_OK, "%s", e.msg);
    // the deepest shipped shape: section, subsection, key, list
    const char *four = "data:\n  fbank:\n    num_mel_bins: 64\nadapter:\n  orders: [row]\n";
    ck_assert_msg(load_text("four.yaml", four, SIZE_MAX, &e) == SSM_OK, "%s", e.msg);
}
END_TEST

START_TEST(config_larger_than_the_limit_is_refused) {
    // comments only: a file libyaml would read as all defaults, so only the size refuses it
    size_t n = ((size_t)1 << 20) + 2;
    char *big = malloc(n);
    memset(big, ' ', n);
    big[0] = '#';
    big[n - 1] = '\n';
    ssm_error e;
    ck_assert_int_eq(load_text("big.yaml", big, n, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "big.yaml: larger than 1024 KiB"), "%s", e.msg);
    // exactly the limit is still a config
    ck_assert_msg(load_text("limit.yaml", big, n - 2, &e) == SSM_OK, "%s", e.msg);
    free(big);
}
END_TEST

static void expect_ucr(const char *name, const char *body, const char *needle) {
    char p[512];
    fx_write(p, sizeof p, name, body, SIZE_MAX);
    ucr_set s;
    ssm_error e = {0};
    ssm_code rc = ucr_read(&s, p, NULL, &e);
    if (rc == SSM_OK)
        ucr_free(&s);
    ck_assert_msg(rc == SSM_EDATA, "%s: code %d: %s", name, rc, e.msg);
    ck_assert_msg(strstr(e.msg, name) && strstr(e.msg, needle), "%s: %s", name, e.msg);
}

START_TEST(values_beyond_float_range_are_refused_at_read_time) {
    // a float holds |x| <= 3.4e38; 1e300 used to pass and fail later as "inf" in a step
    expect_ucr("big.tsv", "1\t1\t2\t3\n2\t4\t1e300\t6\n", ":2: column 3 (value 2): '1e300' is "
                                                        "beyond float range");
    expect_ucr("neg.tsv", "1\t-3.5e38\t2\n", ":1: column 2 (value 1): '-3.5e38'");
    expect_ucr("big.ts", "@problemName T\n@missing false\n@classLabel true a b\n@data\n"
                         "1,2:a\n1,2e39:b\n", ":6: dimension 1, value 2: '2e39' is beyond float");
    char p[512];
    fx_write(p, sizeof p, "big.csv", "date,a,b\n1,1,2\n2,3,1e300\n", SIZE_MAX);
    series_table t;
    ssm_error e = {0};
    ck_assert_int_eq(series_csv_read(&t, p, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "big.csv:3: column 3 ('b'): '1e300' is beyond float range"), "%s",
                  e.msg);
    // the largest floats are still numbers
    fx_write(p, sizeof p, "edge.csv", "date,a\n1,3.4e38\n2,-3.4e38\n3,1e-300\n", SIZE_MAX);
    ck_assert_msg(series_csv_read(&t, p, &e) == SSM_OK, "%s", e.msg);
    ck_assert(t.values[0] == 3.4e38 && t.values[1] == -3.4e38);
    series_table_free(&t);
}
END_TEST

START_TEST(ts_percent_comment_lines_are_comments) {
    const char *ts = "% sktime's UnitTest files open with lines like this\n"
                     "%\n"
                     "@problemName T\n"
                     "% between tags\n"
                     "@missing false\n"
                     "@classLabel true a b\n"
                     "@data\n"
                     "1,2,3:a\n"
                     "% and between samples\n"
                     "4,5,6:b\n";
    char p[512];
    fx_write(p, sizeof p, "pct.ts", ts, SIZE_MAX);
    ucr_set s;
    ssm_error e = {0};
    ck_assert_msg(ucr_read(&s, p, NULL, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(s.n, 2);
    ck_assert_int_eq(s.len, 3);
    ck_assert(s.labels[0] == 0 && s.labels[1] == 1 && s.x[3] == 4);
    ucr_free(&s);
}
END_TEST

START_TEST(image_data_frees_the_training_set_when_the_test_files_fail) {
    // the leak shows in the sanitized build of this suite (LeakSanitizer at exit)
    char dir[512];
    fx_path(dir, sizeof dir, "idx_no_test");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(dir, 20, 10, 3), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte", dir);
    ck_assert_int_eq(remove(p), 0);
    ssm_config c;
    ssm_config_defaults(&c);
    c.data.name = SSM_DATA_IDX;
    snprintf(c.data.path, sizeof c.data.path, "%s", dir);
    image_data d;
    ssm_error e = {0};
    ck_assert_int_ne(image_data_open(&d, &c.data, 1, 1, &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, "t10k"), "%s", e.msg);
    ck_assert(d.train_ds.n == 0 && d.open == 0); // nothing left for the caller to free
    image_data_close(&d);                        // and closing it again is harmless
}
END_TEST

static ssm_code build_image_model(int64_t C, int64_t H, int64_t W, ssm_error *e) {
    classify_model_spec s;
    memset(&s, 0, sizeof s);
    s.adapter = "image_patches";
    ssm_adapter_options_defaults(&s.adapter_opt);
    s.adapter_opt.patch_size = 4;
    s.input = (ssm_input_shape){3, {C, H, W}};
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = 8;
    s.backbone.n_layers = 1;
    s.backbone.d_state = 4;
    s.num_classes = 3;
    s.B_max = 2;
    classify_model m;
    ssm_code rc = classify_model_build(&m, &s, e);
    classify_model_free(&m);
    return rc;
}

START_TEST(input_shapes_that_overflow_or_are_negative_are_refused) {
    ssm_error e = {0};
    ck_assert_int_eq(build_image_model(1, INT64_C(1) << 62, INT64_C(1) << 62, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "input dimension 1 of one sample is 4611686018427387904"), "%s",
                  e.msg);
    ck_assert_int_eq(build_image_model(1, -28, 28, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "input dimension 1 of one sample is -28; expected >= 1"), "%s",
                  e.msg);
    ck_assert_int_eq(build_image_model(3, 0, 28, &e), SSM_EINVAL);
    ck_assert_msg(build_image_model(1, 8, 8, &e) == SSM_OK, "%s", e.msg);
}
END_TEST

// `ssmkit predict` on a checkpoint whose metadata says data_height = h.
static void predict_with_height(const char *h, const char *want) {
    char ckpt[512], cfg[512], out[512], errp[512], cmd[2400];
    fx_path(ckpt, sizeof ckpt, "meta.safetensors");
    fx_write(cfg, sizeof cfg, "predict.yaml", "data:\n  name: idx\n  path: /nonexistent\n",
             SIZE_MAX);
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    int64_t shape[1] = {2};
    ck_assert(ssm_params_add(&p, "w", 1, shape, 0, NULL, &e) == SSM_OK);
    ck_assert(ssm_params_finalize(&p, &e) == SSM_OK);
    ssm_metadata m;
    ssm_metadata_init(&m);
    const char *kv[][2] = {{"data_channels", "1"}, {"data_height", h}, {"data_width", "28"},
                           {"data_mean.0", "0.5"}, {"data_std.0", "0.25"}};
    for (int i = 0; i < 5; i++)
        ck_assert(ssm_metadata_set(&m, kv[i][0], kv[i][1], &e) == SSM_OK);
    ck_assert_msg(ssm_checkpoint_save(ckpt, &p, 0, &m, &e) == SSM_OK, "%s", e.msg);
    ssm_metadata_free(&m);
    ssm_params_free(&p);
    fx_path(out, sizeof out, "predict.out");
    fx_path(errp, sizeof errp, "predict.err");
    const char *bin = cf_bin();
    snprintf(cmd, sizeof cmd, "%s predict %s --ckpt %s %s/none.png", bin, cfg, ckpt, fx_dir);
    int rc = cf_run(cmd, out, errp);
    char *msg = cf_read_file(errp, NULL);
    ck_assert_msg(rc == 1 && msg && strstr(msg, want), "exit %d: %s", rc, msg ? msg : "");
    free(msg);
}

START_TEST(predict_refuses_checkpoint_image_sizes_out_of_range) {
    // 2^62 overflowed n * C * H * W (UBSan) and a negative height read as out of memory
    predict_with_height("4611686018427387904", "data_height 4611686018427387904, data_width 28; "
                                               "expected 1..65536 each");
    predict_with_height("-28", "data_height -28, data_width 28; expected 1..65536 each");
}
END_TEST

START_TEST(audio_header_frame_count_does_not_size_memory) {
    // A FLAC whose STREAMINFO promises 2^31 - 1 frames and holds 8: the first buffer was
    // sized by the promise (8 GiB; the fuzz target's malloc limit caught it). Under an
    // address-space limit that malloc fails and the file read as "out of memory" instead
    // of being refused as cut short. (ASan reserves its own address space: no limit there.)
    char p[512];
    fx_path(p, sizeof p, "promise.flac");
    SF_INFO info = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(p, SFM_WRITE, &info);
    ck_assert_ptr_nonnull(sf);
    short frames[8] = {0, 1000, -1000, 32767, -32768, 5, 6, 7};
    ck_assert_int_eq(sf_write_short(sf, frames, 8), 8);
    sf_close(sf);
    FILE *f = fopen(p, "r+b");
    unsigned char head[26];
    ck_assert_int_eq(fread(head, 1, sizeof head, f), sizeof head);
    ck_assert(memcmp(head, "fLaC", 4) == 0 && (head[4] & 0x7f) == 0); // STREAMINFO first
    // total samples: the low 36 bits of STREAMINFO bytes 10..17 (file bytes 18..25)
    head[21] &= 0xf0;
    head[22] = 0x7f, head[23] = head[24] = head[25] = 0xff;
    fseek(f, 0, SEEK_SET);
    ck_assert_int_eq(fwrite(head, 1, sizeof head, f), sizeof head);
    fclose(f);
#if !defined(__SANITIZE_ADDRESS__)
    struct rlimit lim = {.rlim_cur = (rlim_t)6 << 30, .rlim_max = RLIM_INFINITY};
    getrlimit(RLIMIT_AS, &lim);
    lim.rlim_cur = (rlim_t)6 << 30; // 6 GiB of address space: the 8 GiB buffer cannot fit
    ck_assert_int_eq(setrlimit(RLIMIT_AS, &lim), 0);
#endif
    ssm_audio a;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_audio_read(p, 0, &a, &e), SSM_EFORMAT);
    ck_assert_msg(strstr(e.msg, "cut short: the header promises 2147483647 frames, only 8"), "%s",
                  e.msg);
}
END_TEST

// Sets metadata `key` to `value` in a safetensors file's header, in place (the tensors'
// offsets count from the data section, so only the header and its length change).
static void set_meta_in_file(const char *path, const char *key, const char *value) {
    long n = 0;
    char *b = cf_read_file(path, &n);
    ck_assert_ptr_nonnull(b);
    uint64_t hn = 0;
    memcpy(&hn, b, 8);
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\"", key);
    char *h = b + 8, *k = memmem(h, hn, needle, strlen(needle));
    ck_assert_msg(k != NULL, "%s: no metadata %s", path, key);
    char *q = strchr(k + strlen(needle), '"'); // the value's opening quote
    char *e = strchr(q + 1, '"');
    size_t cap = hn + strlen(value) + 16;
    char *nh = malloc(cap);
    int len = snprintf(nh, cap, "%.*s%s%.*s", (int)(q + 1 - h), h, value, (int)(h + hn - e), e);
    while (len > 0 && nh[len - 1] == ' ')
        len--;
    while (len % 8)
        nh[len++] = ' ';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t nl = (uint64_t)len;
    fwrite(&nl, 8, 1, f);
    fwrite(nh, 1, (size_t)len, f);
    fwrite(b + 8 + hn, 1, (size_t)(n - 8 - (long)hn), f);
    fclose(f);
    free(nh);
    free(b);
}

// Resume metadata no run can have written was taken as it was: step -1 trained with a NaN
// learning rate, epoch 2^63 - 1 overflowed, best_metric inf could never be beaten.
START_TEST(resume_refuses_impossible_positions) {
    char dir[512], cmd[3000], out[512], errp[512], ckpt[600], keep[600];
    fx_path(dir, sizeof dir, "idx");
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    ck_assert_int_eq(cf_run(cmd, NULL, NULL), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(dir, 64, 16, 3), 0);
    const char *bin = cf_bin();
    char base[1500];
    snprintf(base, sizeof base, "%s train configs/image/fashion_mnist.yaml --set data.path=%s "
             "--set data.batch_size=16 --set backbone.d_model=8 --set backbone.n_layers=1 "
             "--set backbone.d_state=4 --set adapter.patch_size=7 --set train.epochs=2 "
             "--set run.progress=off --set run.dir=%s --set run.name=r", bin, dir, fx_dir);
    fx_path(out, sizeof out, "resume.out");
    fx_path(errp, sizeof errp, "resume.err");
    snprintf(cmd, sizeof cmd, "%s --set train.max_steps=3", base);
    ck_assert_int_eq(cf_run(cmd, out, errp), 0);
    snprintf(ckpt, sizeof ckpt, "%s/r/last.safetensors", fx_dir);
    snprintf(keep, sizeof keep, "%s/kept.safetensors", fx_dir);
    snprintf(cmd, sizeof cmd, "cp %s %s", ckpt, keep);
    ck_assert_int_eq(cf_run(cmd, NULL, NULL), 0);
    const char *cases[][3] = {{"step", "-1", "metadata step = -1"},
                              {"epoch", "9223372036854775807", "metadata epoch = 9223372036854775807"},
                              {"best_metric", "inf", "metadata best_metric = inf"},
                              {"best_step", "999", "metadata best_step = 999 is after step"}};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "cp %s %s", keep, ckpt);
        ck_assert_int_eq(cf_run(cmd, NULL, NULL), 0);
        set_meta_in_file(ckpt, cases[i][0], cases[i][1]);
        snprintf(cmd, sizeof cmd, "%s --resume %s/r", base, fx_dir);
        int rc = cf_run(cmd, out, errp);
        char *msg = cf_read_file(errp, NULL);
        ck_assert_msg(rc != 0 && msg && strstr(msg, cases[i][2]), "%s = %s: exit %d: %s",
                      cases[i][0], cases[i][1], rc, msg ? msg : "");
        free(msg);
    }
    // the untouched checkpoint still resumes, and removes the temp file a save killed
    // mid-write left (ssm_atomic_open's name), but no other file
    snprintf(cmd, sizeof cmd, "touch %s/r/.last.safetensors.4242.0.tmp %s/r/.keep.tmp "
             "%s/r/notes.1.2.tmp", fx_dir, fx_dir, fx_dir);
    ck_assert_int_eq(cf_run(cmd, NULL, NULL), 0);
    snprintf(cmd, sizeof cmd, "cp %s %s && %s --resume %s/r", keep, ckpt, base, fx_dir);
    ck_assert_int_eq(cf_run(cmd, out, errp), 0);
    char p[700];
    snprintf(p, sizeof p, "%s/r/.last.safetensors.4242.0.tmp", fx_dir);
    ck_assert_msg(access(p, F_OK) != 0, "%s survived the resume", p);
    snprintf(p, sizeof p, "%s/r/.keep.tmp", fx_dir);
    ck_assert_int_eq(access(p, F_OK), 0);
    snprintf(p, sizeof p, "%s/r/notes.1.2.tmp", fx_dir);
    ck_assert_int_eq(access(p, F_OK), 0);
}
END_TEST

// "unknown adapter 'constant'" and "task.num_classes is K but the data has M classes" named
// neither the config file nor its line.
START_TEST(config_errors_found_late_name_the_config) {
    char cfg[512], tsv[512], out[512], errp[512], cmd[2400];
    const char *bin = cf_bin();
    fx_write(tsv, sizeof tsv, "two_TRAIN.tsv",
             "1\t0.1\t0.2\t0.3\t0.4\t0.5\t0.6\t0.7\t0.8\n2\t0.8\t0.7\t0.6\t0.5\t0.4\t0.3\t0.2\t0.1\n"
             "1\t0.2\t0.2\t0.3\t0.4\t0.5\t0.6\t0.7\t0.8\n2\t0.9\t0.7\t0.6\t0.5\t0.4\t0.3\t0.2\t0.1\n",
             SIZE_MAX);
    char tst[512];
    fx_write(tst, sizeof tst, "two_TEST.tsv", "1\t0.1\t0.2\t0.3\t0.4\t0.5\t0.6\t0.7\t0.8\n"
             "2\t0.8\t0.7\t0.6\t0.5\t0.4\t0.3\t0.2\t0.1\n", SIZE_MAX);
    char text[1024];
    snprintf(text, sizeof text, "data:\n  name: ucr\n  path: %s\nadapter:\n  name: constant\n", tsv);
    fx_write(cfg, sizeof cfg, "late.yaml", text, SIZE_MAX);
    fx_path(out, sizeof out, "late.out");
    fx_path(errp, sizeof errp, "late.err");
    snprintf(cmd, sizeof cmd, "%s train %s", bin, cfg);
    ck_assert_int_ne(cf_run(cmd, out, errp), 0);
    char *msg = cf_read_file(errp, NULL), want[600];
    snprintf(want, sizeof want, "%s:5: unknown adapter 'constant'", cfg);
    ck_assert_msg(msg && strstr(msg, want), "%s", msg ? msg : "");
    free(msg);
    snprintf(cmd, sizeof cmd, "%s train configs/series/ucr.yaml --set data.path=%s "
             "--set task.num_classes=5 --set train.epochs=1", bin, tsv);
    ck_assert_int_ne(cf_run(cmd, out, errp), 0);
    msg = cf_read_file(errp, NULL);
    ck_assert_msg(msg && strstr(msg, "configs/series/ucr.yaml: task.num_classes is 5 but the "
                                     "data has 2 classes"), "%s", msg ? msg : "");
    free(msg);
}
END_TEST

int main(void) {
    fx_init();
    Suite *s = suite_create("hardening");
    TCase *tc = tcase_create("issue18");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, config_deeper_than_the_limit_is_refused_before_libyaml);
    tcase_add_test(tc, config_brackets_in_quotes_comments_and_block_scalars_are_not_nesting);
    tcase_add_test(tc, config_larger_than_the_limit_is_refused);
    tcase_add_test(tc, values_beyond_float_range_are_refused_at_read_time);
    tcase_add_test(tc, ts_percent_comment_lines_are_comments);
    tcase_add_test(tc, image_data_frees_the_training_set_when_the_test_files_fail);
    tcase_add_test(tc, input_shapes_that_overflow_or_are_negative_are_refused);
    tcase_add_test(tc, predict_refuses_checkpoint_image_sizes_out_of_range);
    tcase_add_test(tc, audio_header_frame_count_does_not_size_memory);
    tcase_add_test(tc, resume_refuses_impossible_positions);
    tcase_add_test(tc, config_errors_found_late_name_the_config);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    fx_cleanup();
    return failed;
}
