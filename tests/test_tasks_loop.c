// Check suite: learning-rate schedule and the metrics.jsonl writer.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tasks/runlog.h"
#include "tasks/schedule.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"

START_TEST(schedule_warmup_then_cosine) {
    lr_schedule s = {.lr = 1e-3, .min_lr = 1e-5, .warmup_steps = 10, .total_steps = 110, .cosine = 1};
    ck_assert(fabs(lr_schedule_at(&s, 0) - 1e-4) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 9) - 1e-3) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 10) - 1e-3) < 1e-12);                     // cosine starts at lr
    ck_assert(fabs(lr_schedule_at(&s, 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12); // halfway
    ck_assert(fabs(lr_schedule_at(&s, 110) - 1e-5) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 500) - 1e-5) < 1e-12); // clamped past the end
    for (int64_t t = 11; t < 110; t++)
        ck_assert(lr_schedule_at(&s, t) <= lr_schedule_at(&s, t - 1) + 1e-15);
    s.cosine = 0;
    ck_assert(fabs(lr_schedule_at(&s, 80) - 1e-3) < 1e-12);
}
END_TEST

// optim.schedule: linear, a straight line from lr to min_lr after the warmup
START_TEST(schedule_warmup_then_linear) {
    lr_schedule s = {.lr = 1e-3, .min_lr = 1e-5, .warmup_steps = 10, .total_steps = 110, .linear = 1};
    ck_assert(fabs(lr_schedule_at(&s, 4) - 5e-4) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 10) - 1e-3) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 35) - (1e-3 - 0.25 * (1e-3 - 1e-5))) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 60) - 0.5 * (1e-3 + 1e-5)) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 110) - 1e-5) < 1e-12);
    ck_assert(fabs(lr_schedule_at(&s, 300) - 1e-5) < 1e-12);
}
END_TEST

START_TEST(runlog_writes_json_lines) {
    char dir[256];
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir, "ssmkit_runlog"), 0);
    char path[300];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    runlog r;
    ssm_error e;
    ck_assert_int_eq(runlog_open(&r, path, &e), SSM_OK);
    runlog_begin(&r);
    runlog_str(&r, "kind", "step");
    runlog_int(&r, "step", 12);
    runlog_num(&r, "loss", 0.5);
    runlog_num(&r, "bad", NAN);
    runlog_str(&r, "note", "a \"q\"\n");
    runlog_end(&r);
    runlog_close(&r);
    FILE *f = fopen(path, "r");
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_str_eq(line, "{\"kind\":\"step\",\"step\":12,\"loss\":0.5,\"bad\":null,\"note\":\"a \\\"q\\\"\\n\"}\n");
    ck_assert_int_eq(tu_rmtree(dir), 0);
}
END_TEST

int main(void) {
    Suite *s = suite_create("tasks_loop");
    TCase *tc = tcase_create("loop");
    tcase_add_test(tc, schedule_warmup_then_cosine);
    tcase_add_test(tc, schedule_warmup_then_linear);
    tcase_add_test(tc, runlog_writes_json_lines);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
