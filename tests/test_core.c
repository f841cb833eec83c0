// Check suite: core (errors, parameter table, arena, RNG).
#include <check.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/params.h"
#include "core/rng.h"
#include "tests/util/suite.h"

START_TEST(error_message_and_prefix) {
    ssm_error e = {0};
    ck_assert_int_eq(ssm_fail(&e, SSM_EIO, "%s: cannot open", "x.idx"), SSM_EIO);
    ssm_error_prefix(&e, "loading %s: ", "train");
    ck_assert_str_eq(e.msg, "loading train: x.idx: cannot open");
    ck_assert_int_eq(e.code, SSM_EIO);
}
END_TEST

START_TEST(params_table_offsets_and_lookup) {
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    size_t i0, i1;
    ck_assert_int_eq(ssm_params_add(&p, "a.weight", 2, (int64_t[]){3, 5}, 0, &i0, &e), SSM_OK);
    ck_assert_int_eq(ssm_params_add(&p, "a.bias", 1, (int64_t[]){5}, SSM_PARAM_NO_DECAY, &i1, &e),
                     SSM_OK);
    ck_assert_int_eq(ssm_params_add(&p, "a.bias", 1, (int64_t[]){5}, 0, NULL, &e), SSM_EINVAL);
    ck_assert(strstr(e.msg, "a.bias") != NULL);
    ck_assert_int_eq(ssm_params_add(&p, "bad", 1, (int64_t[]){0}, 0, NULL, &e), SSM_EINVAL);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_int_eq(p.items[i0].numel, 15);
    ck_assert_int_eq(p.items[i1].offset % 16, 0);
    ck_assert(p.items[i1].offset >= 15);
    ck_assert_int_eq(ssm_params_find(&p, "a.bias"), 1);
    ck_assert_int_eq(ssm_params_find(&p, "nope"), -1);
    ck_assert_int_eq(ssm_params_add(&p, "late", 1, (int64_t[]){1}, 0, NULL, &e), SSM_EINVAL);
    ssm_params_data(&p, i1)[4] = 2;
    ck_assert(p.data[p.items[i1].offset + 4] == 2);
    ssm_params_free(&p);
}
END_TEST

START_TEST(arena_measure_then_commit) {
    ssm_arena a;
    ssm_arena_init(&a);
    ck_assert_ptr_null(ssm_arena_take(&a, 100));
    size_t m = ssm_arena_mark(&a);
    ck_assert_ptr_null(ssm_arena_take(&a, 1000));
    ssm_arena_release(&a, m);
    ck_assert_ptr_null(ssm_arena_take(&a, 10));
    ssm_error e;
    ck_assert_int_eq(ssm_arena_commit(&a, &e), SSM_OK);
    ck_assert_uint_eq(a.capacity, 128 + 1024);
    char *p0 = ssm_arena_take(&a, 100);
    char *p1 = ssm_arena_take(&a, 1000);
    ck_assert_ptr_nonnull(p0);
    ck_assert_ptr_eq(p1, p0 + 128);
    ck_assert_ptr_null(ssm_arena_take(&a, 64)); // past the plan: refused, never overruns
    ssm_arena_free(&a);
}
END_TEST

START_TEST(rng_reproducible_and_restorable) {
    ssm_rng r1, r2;
    ssm_error e;
    ck_assert_int_eq(ssm_rng_init(&r1, 42, &e), SSM_OK);
    ck_assert_int_eq(ssm_rng_init(&r2, 42, &e), SSM_OK);
    for (int i = 0; i < 10; i++)
        ck_assert(ssm_rng_uniform(&r1) == ssm_rng_uniform(&r2));
    char buf[8192];
    ck_assert_uint_le(ssm_rng_state_size(&r1), sizeof buf);
    ssm_rng_save(&r1, buf);
    double x = ssm_rng_normal(&r1, 1.0);
    ssm_rng_load(&r1, buf);
    ck_assert(ssm_rng_normal(&r1, 1.0) == x);
    int64_t a[50];
    for (int i = 0; i < 50; i++)
        a[i] = i;
    ssm_rng_shuffle(&r1, a, 50);
    int seen[50] = {0}, moved = 0;
    for (int i = 0; i < 50; i++) {
        seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 10);
    ck_assert(ssm_seed_derive(1, 0) != ssm_seed_derive(1, 1));
    ssm_rng_free(&r1);
    ssm_rng_free(&r2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, error_message_and_prefix);
    tcase_add_test(tc, params_table_offsets_and_lookup);
    tcase_add_test(tc, arena_measure_then_commit);
    tcase_add_test(tc, rng_reproducible_and_restorable);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
