// Check suite: part segmentation end to end through the `ssmkit` binary (SSMKIT_BIN,
// default build/ssmkit):
//   - `ssmkit train` of configs/points/parts.yaml, shrunk (25 shapes a category, 128
//     points, 16 groups of 16, d_model 32, 2 layers, head width 32, 30 epochs: about 20 s of
//     CPU on 2 cores; 0.705 measured), with data.path set so the generated set is written in
//     ShapeNetPart's layout and read back by the ShapeNetPart reader: test instance mIoU
//     >= 0.6 (each category's most common part everywhere scores 0.26, a uniform guess
//     among the category's parts 0.19), class mIoU and accuracy reported, miou_test.csv
//     written; and
//     `ssmkit eval` of the last checkpoint on the test split agrees with the run's numbers
//   - refusals: task segment on a classification set (no part labels), task.num_classes
//     other than the data's parts, a segment head on image patches
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "tests/util/cli_fixture.h"

static char fx_dir[256], bin[512], out[1024], errtxt[4096];

static void setup(void) {
    snprintf(fx_dir, sizeof fx_dir, "/tmp/ssmkit_seg_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx_dir));
    const char *b = getenv("SSMKIT_BIN");
    snprintf(bin, sizeof bin, "%s", b && *b ? b : "build/ssmkit");
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
    ck_assert_int_eq(system(cmd), 0);
}

// Runs cmd; out = the last line of stdout, errtxt = the start of stderr.
static int run(const char *cmd) {
    return cf_run_capture(cmd, fx_dir, out, sizeof out, errtxt, sizeof errtxt);
}

static const char *SMALL = "--set data.shapes_per_class=25 --set data.num_points=128 "
                           "--set data.batch_size=8 --set data.val_fraction=0.1 "
                           "--set adapter.group_size=16 --set adapter.num_groups=16 "
                           "--set backbone.d_model=32 --set backbone.n_layers=2 "
                           "--set task.seg_dim=32 --set optim.warmup_steps=20 "
                           "--set run.progress=off --set run.tensorboard=false";

START_TEST(train_parts_beats_chance) {
    char cmd[4096], path[700];
    snprintf(cmd, sizeof cmd, "%s train configs/points/parts.yaml %s --set train.epochs=30 "
             "--set data.path=%s/parts --set run.dir=%s/runs --set run.name=p", bin, SMALL,
             fx_dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, errtxt);
    double miou = cf_json_number(out, "test_instance_miou");
    double cmiou = cf_json_number(out, "test_class_miou");
    double acc = cf_json_number(out, "test_accuracy");
    fprintf(stderr, "  parts (25 a category, 128 points, 30 epochs): test instance mIoU %.3f, "
            "class mIoU %.3f, accuracy %.3f\n", miou, cmiou, acc);
    ck_assert_msg(miou >= 0.6, "test instance mIoU %g: %s", miou, out);
    ck_assert_msg(cmiou > 0 && acc > 0, "%s", out);
    struct stat st;
    const char *files[] = {"parts/synsetoffset2category.txt",
                           "parts/train_test_split/shuffled_test_file_list.json",
                           "runs/p/miou_test.csv", "runs/p/last.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fx_dir, files[i]);
        ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
    }
    snprintf(cmd, sizeof cmd, "%s eval configs/points/parts.yaml %s --set data.path=%s/parts "
             "--ckpt %s/runs/p/last.safetensors --split test", bin, SMALL, fx_dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, errtxt);
    double e_miou = cf_json_number(out, "instance_miou");
    ck_assert_msg(fabs(e_miou - miou) < 1e-5, "eval %g, train's test %g: %s", e_miou, miou, out);
}
END_TEST

START_TEST(refusals) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train configs/points/parts.yaml %s --set data.name=shapes "
             "--set run.dir=%s/runs", bin, SMALL, fx_dir);
    ck_assert_int_ne(run(cmd), 0);
    ck_assert_msg(strstr(errtxt, "per-point part labels") && strstr(errtxt, "shapenetpart"), "%s",
                  errtxt);
    snprintf(cmd, sizeof cmd, "%s train configs/points/parts.yaml %s --set task.num_classes=50 "
             "--set run.dir=%s/runs", bin, SMALL, fx_dir);
    ck_assert_int_ne(run(cmd), 0);
    ck_assert_msg(strstr(errtxt, "task.num_classes is 50") && strstr(errtxt, "13 parts"), "%s",
                  errtxt);
    snprintf(cmd, sizeof cmd, "%s train configs/points/parts.yaml %s --set adapter.patch_size=8 "
             "--set run.dir=%s/runs", bin, SMALL, fx_dir);
    ck_assert_int_eq(run(cmd), 2);
    ck_assert_msg(strstr(errtxt, "adapter.patch_size") && strstr(errtxt, "group_size"), "%s",
                  errtxt);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_seg_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 900);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, train_parts_beats_chance);
    tcase_add_test(tc, refusals);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
