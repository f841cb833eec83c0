// Check suite: point clouds end to end through the `ssmkit` binary (SSMKIT_BIN, default
// build/ssmkit):
//   - `ssmkit train` of configs/points/shapes.yaml, shrunk (20 shapes a class, 128
//     points, 16 groups of 16, d_model 32, 2 layers, 30 epochs, about 30 s on 2 cores), with data.path set so the
//     generated set is written in ModelNet's layout and read back by the modelnet reader:
//     test accuracy >= 0.5 over 10 classes (chance 0.1), the layout's files on disk, the
//     confusion matrix written; and `ssmkit eval` of the best checkpoint on the test
//     split agrees with the run's test accuracy; with task.tta vote:4 (Point-MAE's voting
//     over augmented copies) it still beats chance widely
//   - refusals: adapter.channels 6 on clouds without normals, an unknown data.subset,
//     a point order the adapter does not know
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <unistd.h>
#include "tests/util/cli_fixture.h"

static char fx_dir[256];

static void fx_init(void) {
    snprintf(fx_dir, sizeof fx_dir, "/tmp/ssmkit_pc_cli_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(fx_dir));
}

static void fx_cleanup(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx_dir);
    ck_assert_int_eq(system(cmd), 0);
}

static char bin[512], out[1024], errtxt[4096];

static int run(const char *cmd) {
    return cf_run_capture(cmd, fx_dir, out, sizeof out, errtxt, sizeof errtxt);
}

static void setup(void) {
    fx_init();
    const char *b = getenv("SSMKIT_BIN");
    snprintf(bin, sizeof bin, "%s", b && *b ? b : "build/ssmkit");
}

static void teardown(void) { fx_cleanup(); }

static const char *SMALL = "--set data.shapes_per_class=20 --set data.num_points=128 "
                           "--set data.batch_size=16 --set data.val_fraction=0.1 "
                           "--set adapter.group_size=16 --set adapter.num_groups=16 "
                           "--set backbone.d_model=32 --set backbone.n_layers=2 "
                           "--set optim.warmup_steps=20 --set run.progress=off";

START_TEST(train_shapes_beats_chance) {
    char cmd[4096], path[700];
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml %s --set train.epochs=30 "
             "--set data.path=%s/shapes --set run.dir=%s/runs --set run.name=s", bin, SMALL,
             fx_dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, errtxt);
    double acc = cf_json_number(out, "test_accuracy");
    fprintf(stderr, "  shapes (20 a class, 128 points, 30 epochs): test accuracy %.3f\n", acc);
    ck_assert_msg(acc >= 0.5, "test accuracy %g over 10 classes: %s", acc, out);
    struct stat st;
    const char *files[] = {"shapes/shapes_shape_names.txt", "shapes/shapes_train.txt",
                           "shapes/shapes_test.txt", "shapes/torus/torus_0020.txt",
                           "runs/s/confusion_test.csv", "runs/s/best.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", fx_dir, files[i]);
        ck_assert_msg(stat(path, &st) == 0, "%s missing", path);
    }
    double run_acc = acc;
    snprintf(cmd, sizeof cmd, "%s eval configs/points/shapes.yaml %s --set data.path=%s/shapes "
             "--ckpt %s/runs/s/last.safetensors --split test", bin, SMALL, fx_dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, errtxt);
    acc = cf_json_number(out, "accuracy");
    ck_assert_msg(fabs(acc - run_acc) < 1e-5, "eval %g, train's test %g: %s", acc, run_acc, out);
    // voting over 4 augmented copies of each cloud (the recipe's scale, shift and rotation)
    snprintf(cmd, sizeof cmd, "%s eval configs/points/shapes.yaml %s --set data.path=%s/shapes "
             "--ckpt %s/runs/s/last.safetensors --split test --set task.tta=vote:4", bin, SMALL,
             fx_dir, fx_dir);
    ck_assert_msg(run(cmd) == 0, "%s -> %s", cmd, errtxt);
    double vote = cf_json_number(out, "accuracy");
    fprintf(stderr, "  the same checkpoint with task.tta vote:4: test accuracy %.3f\n", vote);
    ck_assert_msg(vote >= 0.5, "vote:4 test accuracy %g: %s", vote, out);
}
END_TEST

START_TEST(refusals) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml %s --set adapter.channels=6 "
             "--set run.dir=%s/runs", bin, SMALL, fx_dir);
    ck_assert_int_ne(run(cmd), 0);
    ck_assert_msg(strstr(errtxt, "in_channels = 6") && strstr(errtxt, "data.normals"), "%s",
                  errtxt);
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml %s --set data.name=scanobjectnn "
             "--set data.subset=hardest --set data.path=%s --set run.dir=%s/runs", bin, SMALL,
             fx_dir, fx_dir);
    ck_assert_int_eq(run(cmd), 2);
    ck_assert_msg(strstr(errtxt, "data.subset") && strstr(errtxt, "pb_t50_rs"), "%s", errtxt);
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml %s --set adapter.orders=[hilbert,xyz] "
             "--set run.dir=%s/runs", bin, SMALL, fx_dir);
    ck_assert_int_ne(run(cmd), 0);
    ck_assert_msg(strstr(errtxt, "unknown scan order 'xyz'") && strstr(errtxt, "snake_xyz"), "%s",
                  errtxt);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, train_shapes_beats_chance);
    tcase_add_test(tc, refusals);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
