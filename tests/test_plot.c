// Check suite: the run folder's pictures (tasks/plot.h, tasks/plot_run.h). The PNGs are
// decoded back with libpng: their size, and the colours that must be in them (each curve,
// the best-value marker, the heat map's darkest cell); ticks and their labels; and a
// short `ssmkit train` run whose folder gets curves.png and confusion_test.png.
#include <check.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

#include "tasks/plot.h"
#include "tasks/plot_run.h"
#include "tests/series_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

// Decodes path as 8-bit RGB; *w, *h its size. Returns the pixels (free) or NULL.
static uint8_t *decode(const char *path, int *w, int *h) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path))
        return NULL;
    img.format = PNG_FORMAT_RGB;
    uint8_t *px = malloc(PNG_IMAGE_SIZE(img));
    if (!px || !png_image_finish_read(&img, NULL, px, 0, NULL)) {
        free(px);
        png_image_free(&img);
        return NULL;
    }
    *w = (int)img.width;
    *h = (int)img.height;
    return px;
}

static int64_t count_colour(const uint8_t *px, int w, int h, plot_rgb c) {
    int64_t n = 0;
    for (int64_t i = 0; i < (int64_t)w * h; i++)
        n += px[3 * i] == c.r && px[3 * i + 1] == c.g && px[3 * i + 2] == c.b;
    return n;
}

START_TEST(ticks_are_round_numbers_with_short_labels) {
    double t[16], step;
    int n = plot_nice_ticks(0, 3060, 6, t, &step); // 510 a tick at most: 1000
    ck_assert_double_eq(step, 1000);
    ck_assert_int_eq(n, 4);
    ck_assert(t[0] == 0 && t[3] == 3000);
    n = plot_nice_ticks(0, 3060, 8, t, &step); // 382.5: 500
    ck_assert_double_eq(step, 500);
    ck_assert_int_eq(n, 7);
    n = plot_nice_ticks(0.2612, 0.9413, 8, t, &step);
    ck_assert_double_eq_tol(step, 0.1, 1e-12);
    ck_assert_double_eq_tol(t[0], 0.3, 1e-12);
    ck_assert_int_eq(n, 7); // 0.3 .. 0.9
    n = plot_nice_ticks(-1, -1, 6, t, &step); // an empty range still gives one tick
    ck_assert_int_eq(n, 1);
    char b[32];
    const struct {
        double v, step;
        const char *want;
    } cases[] = {{1500, 500, "1.5k"}, {1000, 500, "1k"}, {20000, 5000, "20k"},
                 {2500000, 500000, "2.5M"}, {0.25, 0.05, "0.25"}, {2, 0.5, "2.0"},
                 {40, 10, "40"}, {2e-5, 1e-5, "2e-05"}, {-0.5, 0.25, "-0.50"},
                 {0.75, 0.25, "0.75"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        plot_format_tick(cases[i].v, cases[i].step, b, sizeof b);
        ck_assert_msg(!strcmp(b, cases[i].want), "%g step %g: '%s', expected '%s'", cases[i].v,
                      cases[i].step, b, cases[i].want);
    }
}
END_TEST

START_TEST(text_is_drawn_from_the_font) {
    plot_canvas c;
    ssm_error e;
    ck_assert_int_eq(plot_canvas_init(&c, 40, 20, PLOT_WHITE, &e), SSM_OK);
    plot_text(&c, 1, 1, "I", 2, PLOT_BLACK); // 'I': a 1-pixel stem in column 2, 7 rows
    int black = 0;
    for (int i = 0; i < 40 * 20; i++)
        black += c.px[3 * i] == 0;
    // stem 7 + serifs 2 x 2 = 11 font pixels, each 2 x 2
    ck_assert_int_eq(black, 11 * 4);
    ck_assert_int_eq(plot_text_width("abc", 2), (3 * 6 - 1) * 2);
    plot_canvas_free(&c);
}
END_TEST

static void write_log(const char *path, int resumed) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int s = 10; s <= 400; s += 10) {
        fprintf(f, "{\"kind\":\"step\",\"step\":%d,\"epoch\":%d,\"loss\":%.6f,\"lr\":0.001,"
                   "\"grad_norm\":null,\"samples_per_s\":10}\n", s, s / 100, 2.0 * exp(-s / 150.0));
        if (s % 100 == 0)
            fprintf(f, "{\"kind\":\"eval\",\"split\":\"val\",\"epoch\":%d,\"step\":%d,"
                       "\"loss\":%.4f,\"accuracy\":%.4f,\"top5\":1,\"macro_f1\":0.5}\n",
                    s / 100, s, 1.0 * exp(-s / 200.0), 0.5 + s / 1000.0);
        if (resumed == 1 && s == 250) { // killed after the checkpoint of step 200, resumed
            s = 200;
            resumed = 2;
        }
    }
    fputs("{\"kind\":\"eval\",\"split\":\"test\",\"epoch\":4,\"step\":400,\"loss\":0.2,"
          "\"accuracy\":0.99}\n", f);
    fclose(f);
}

START_TEST(curves_png_decodes_with_every_curve_and_the_best_marker) {
    char log[512], png[512];
    fx_path(log, sizeof log, "metrics.jsonl");
    fx_path(png, sizeof png, "curves.png");
    for (int resumed = 0; resumed < 2; resumed++) {
        write_log(log, resumed);
        ssm_error e = {0};
        ck_assert_msg(plot_curves_write(log, png, "accuracy", 0, &e) == SSM_OK, "%s", e.msg);
        int w, h;
        uint8_t *px = decode(png, &w, &h);
        ck_assert_ptr_nonnull(px);
        ck_assert_int_eq(w, PLOT_CURVES_W);
        ck_assert_int_eq(h, PLOT_CURVES_H);
        // the curves are anti-aliased: their full colour is at their centre lines
        ck_assert_int_gt(count_colour(px, w, h, PLOT_BLUE), 100);
        ck_assert_int_gt(count_colour(px, w, h, PLOT_LIGHT_BLUE), 20);
        ck_assert_int_gt(count_colour(px, w, h, PLOT_ORANGE), 200);
        ck_assert_int_gt(count_colour(px, w, h, PLOT_GREEN), 100); // best marker + legend
        free(px);
    }
}
END_TEST

START_TEST(curves_without_points_and_a_missing_log) {
    char log[512], png[512];
    fx_write(log, sizeof log, "empty.jsonl", "", 0);
    fx_path(png, sizeof png, "empty.png");
    ssm_error e = {0};
    ck_assert_msg(plot_curves_write(log, png, "mse", 1, &e) == SSM_OK, "%s", e.msg);
    int w, h;
    uint8_t *px = decode(png, &w, &h);
    ck_assert_ptr_nonnull(px);
    ck_assert(w == PLOT_CURVES_W && h == PLOT_CURVES_H);
    ck_assert_int_eq(count_colour(px, w, h, PLOT_ORANGE), 0);
    free(px);
    fx_path(log, sizeof log, "absent.jsonl");
    ck_assert_int_eq(plot_curves_write(log, png, "mse", 1, &e), SSM_EIO);
    ck_assert_msg(strstr(e.msg, "absent.jsonl"), "%s", e.msg);
}
END_TEST

START_TEST(confusion_png_has_the_layout_size_and_a_dark_diagonal) {
    const char *names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    int64_t cm[100] = {0};
    for (int i = 0; i < 10; i++)
        cm[i * 10 + i] = 100; // every row right: each diagonal cell is the darkest blue
    char png[512];
    fx_path(png, sizeof png, "confusion_test.png");
    ssm_error e = {0};
    ck_assert_msg(plot_confusion_write(png, cm, 10, names, &e) == SSM_OK, "%s", e.msg);
    int w, h, ew, eh;
    uint8_t *px = decode(png, &w, &h);
    ck_assert_ptr_nonnull(px);
    plot_confusion_size(10, names, &ew, &eh);
    ck_assert(w == ew && h == eh);
    ck_assert(w > 10 * 56 && h > 10 * 56); // 56-pixel cells for 10 classes
    // 10 cells of 56 x 56, less the white count written in each
    int64_t dark = count_colour(px, w, h, (plot_rgb){8, 48, 107});
    ck_assert_int_gt(dark, 10 * (56 * 56 - 600));
    free(px);
    ck_assert_int_eq(plot_confusion_write(png, cm, 5000, NULL, &e), SSM_EINVAL);
}
END_TEST

START_TEST(train_run_folder_gets_both_pictures) {
    char dir[512], cfg[600], cmd[2000], out[600], err[600];
    fx_path(dir, sizeof dir, "idx");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    ck_assert_int_eq(cf_write_synthetic_idx(dir, 240, 60, 5), 0);
    char text[1200];
    snprintf(text, sizeof text,
             "data:\n  name: idx\n  path: %s\n  val_fraction: 0.25\n  batch_size: 30\n"
             "adapter:\n  name: image_patches\n  patch_size: 7\n"
             "backbone:\n  d_model: 8\n  n_layers: 1\n  d_state: 4\n"
             "task:\n  name: classify\n  num_classes: 10\n"
             "train:\n  epochs: 2\n  log_every: 2\n"
             "run:\n  dir: %s/runs\n  name: pic\n  threads: 1\n  progress: off\n"
             "  tensorboard: false\n", dir, fx_dir);
    fx_write(cfg, sizeof cfg, "pic.yaml", text, SIZE_MAX);
    fx_path(out, sizeof out, "train.out");
    fx_path(err, sizeof err, "train.err");
    const char *bin = cf_bin();
    snprintf(cmd, sizeof cmd, "%s train %s", bin, cfg);
    int rc = cf_run(cmd, out, err);
    char *msg = cf_read_file(err, NULL);
    ck_assert_msg(rc == 0, "train exited %d: %s", rc, msg ? msg : "");
    free(msg);
    char png[700];
    int w, h;
    snprintf(png, sizeof png, "%s/runs/pic/curves.png", fx_dir);
    uint8_t *px = decode(png, &w, &h);
    ck_assert_msg(px != NULL, "%s missing or not a PNG", png);
    ck_assert(w == PLOT_CURVES_W && h == PLOT_CURVES_H);
    ck_assert_int_gt(count_colour(px, w, h, PLOT_ORANGE), 100); // the validation curve
    free(px);
    snprintf(png, sizeof png, "%s/runs/pic/confusion_test.png", fx_dir);
    px = decode(png, &w, &h);
    ck_assert_msg(px != NULL, "%s missing or not a PNG", png);
    int ew, eh;
    plot_confusion_size(10, NULL, &ew, &eh); // IDX classes have no names
    ck_assert(w == ew && h == eh);
    free(px);
}
END_TEST

int main(void) {
    fx_init();
    Suite *s = suite_create("plot");
    TCase *tc = tcase_create("plot");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ticks_are_round_numbers_with_short_labels);
    tcase_add_test(tc, text_is_drawn_from_the_font);
    tcase_add_test(tc, curves_png_decodes_with_every_curve_and_the_best_marker);
    tcase_add_test(tc, curves_without_points_and_a_missing_log);
    tcase_add_test(tc, confusion_png_has_the_layout_size_and_a_dark_diagonal);
    tcase_add_test(tc, train_run_folder_gets_both_pictures);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    fx_cleanup();
    return failed;
}
