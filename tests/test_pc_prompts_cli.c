// Check suite: PCM's order prompts end to end through the `ssmkit` binary (SSMKIT_BIN,
// default build/ssmkit):
//   - `ssmkit train` of configs/points/shapes.yaml, shrunk as tests/test_pc_cli.c shrinks it
//     (20 shapes a class, 128 points, 16 groups of 16, d_model 32), with PCM's layout: three
//     layers, one order each (snake_xyz, hilbert, trans_z on one branch,
//     adapter.order_layout: branches) and 2 order prompts per order; 30 epochs on the
//     generated shapes must reach test accuracy >= 0.5 over 10 classes (chance 0.1), and
//     `ssmkit eval` of the saved checkpoint (order_prompt.weight in it) gives the run's
//     test accuracy again;
//   - refusals naming backbone.order_prompts: the demo's own concat layout with prompts.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

static char dir[512];

static const char *SMALL = "--set data.shapes_per_class=20 --set data.num_points=128 "
                           "--set data.batch_size=16 --set data.val_fraction=0.1 "
                           "--set adapter.group_size=16 --set adapter.num_groups=16 "
                           "--set backbone.d_model=32 --set optim.warmup_steps=20 "
                           "--set run.progress=off";
static const char *PCM = "--set adapter.order_layout=branches --set backbone.n_branches=1 "
                         "--set adapter.orders=[snake_xyz,hilbert,trans_z] "
                         "--set backbone.n_layers=3 --set backbone.order_prompts=2";

START_TEST(train_with_prompts_beats_chance) {
    char cmd[4096], last[2048];
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml %s %s --set train.epochs=30 "
             "--set run.dir=%s/runs --set run.name=p", cf_bin(), SMALL, PCM, dir);
    ck_assert_msg(cf_run_last_line(cmd, dir, last, sizeof last) == 0, "%s", cmd);
    double acc = cf_json_number(last, "test_accuracy");
    fprintf(stderr, "  shapes with order prompts (3 layers, 3 orders, 2 prompts each, 30 "
            "epochs): test accuracy %.3f\n", acc);
    ck_assert_msg(acc >= 0.5, "test accuracy %g over 10 classes: %s", acc, last);
    snprintf(cmd, sizeof cmd, "%s eval configs/points/shapes.yaml %s %s --ckpt "
             "%s/runs/p/last.safetensors --split test", cf_bin(), SMALL, PCM, dir);
    ck_assert_msg(cf_run_last_line(cmd, dir, last, sizeof last) == 0, "%s", cmd);
    double again = cf_json_number(last, "accuracy");
    ck_assert_msg(fabs(again - acc) < 1e-5, "eval of the checkpoint %g, the run's test %g: %s",
                  again, acc, last);
}
END_TEST

START_TEST(refusals) {
    char cmd[4096], last[2048];
    snprintf(cmd, sizeof cmd, "%s train configs/points/shapes.yaml %s --set backbone.order_prompts=2 "
             "--set run.dir=%s/runs --set run.name=r", cf_bin(), SMALL, dir);
    ck_assert_int_ne(cf_run_last_line(cmd, dir, last, sizeof last), 0);
    char path[600];
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    char *err = cf_read_file(path, NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, "backbone.order_prompts") && strstr(err, "order_layout"), "%s", err);
    free(err);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_prompts_cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, train_with_prompts_beats_chance);
    tcase_add_test(tc, refusals);
    suite_add_tcase(su, tc);
    return tu_run_suite_in(su, 0, dir, sizeof dir, "ssmkit_pc_prompts");
}
