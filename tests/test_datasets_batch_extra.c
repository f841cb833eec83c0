// Check suite: the batch fields for the tasks to come (datasets/batch.h): per-position
// labels (y_tokens, segmentation), sample weights and the kind of dense targets, filled
// through a source's get_extra by the batcher, shuffled and with or without the prefetch
// thread; a source that declares them without get_extra is refused.
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/batch.h"
#include "tests/util/suite.h"

enum { N_SAMPLES = 23, T = 5, CLASSES = 3 };

static ssm_code get_x(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                      int64_t *length, ssm_error *err) {
    for (int t = 0; t < T; t++)
        x[t] = (real)(id * 10 + t);
    for (int c = 0; c < CLASSES; c++) // soft labels: a distribution over the classes
        y_dense[c] = (real)(c == id % CLASSES ? 0.8 : 0.1);
    return SSM_OK;
}

// label of position t of sample id: (id + t) % CLASSES, the last position unlabelled (-1)
static ssm_code get_extra(void *ctx, int64_t id, int32_t *y_tokens, real *weight,
                          ssm_error *err) {
    if (id == *(int64_t *)ctx)
        return ssm_fail(err, SSM_EDATA, "sample %lld: weight is NaN", (long long)id);
    for (int t = 0; t < T; t++)
        y_tokens[t] = t == T - 1 ? -1 : (int32_t)((id + t) % CLASSES);
    *weight = (real)(1 + id % 4);
    return SSM_OK;
}

static ssm_sample_source source(int64_t *bad_id) {
    ssm_sample_source src = {.ctx = bad_id, .n = N_SAMPLES, .x_ndim = 1, .x_shape = {T},
                             .dense_ndim = 1, .dense_shape = {CLASSES}, .get = get_x,
                             .dense_kind = SSM_DENSE_PROBS, .has_tokens = 1, .has_weight = 1,
                             .get_extra = get_extra};
    return src;
}

START_TEST(tokens_weights_and_dense_kind_reach_the_batch) {
    for (int pf = 0; pf < 2; pf++) {
        int64_t bad = -1;
        ssm_sample_source src = source(&bad);
        ssm_batcher_opts o = {.batch_size = 4, .shuffle = 1, .seed = 5, .prefetch = pf};
        ssm_batcher bt;
        ssm_error e = {0};
        ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
        const ssm_batch *b;
        int seen[N_SAMPLES] = {0};
        while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b) {
            ck_assert_ptr_nonnull(b->y_tokens);
            ck_assert_ptr_nonnull(b->weight);
            ck_assert_int_eq(b->dense_kind, SSM_DENSE_PROBS);
            for (int64_t k = 0; k < b->B; k++) {
                const int64_t id = (int64_t)b->x[k * T] / 10; // x says which sample this is
                ck_assert_int_eq(b->index[k], id);
                seen[id]++;
                ck_assert(b->weight[k] == (real)(1 + id % 4));
                for (int t = 0; t < T; t++)
                    ck_assert_int_eq(b->y_tokens[k * T + t],
                                     t == T - 1 ? -1 : (int32_t)((id + t) % CLASSES));
                real sum = 0;
                for (int c = 0; c < CLASSES; c++)
                    sum += b->y_dense[k * CLASSES + c];
                ck_assert(sum > (real)0.999 && sum < (real)1.001);
            }
        }
        for (int id = 0; id < N_SAMPLES; id++)
            ck_assert_int_eq(seen[id], 1); // one epoch: every sample once
        ssm_batcher_free(&bt);
    }
}
END_TEST

START_TEST(extra_errors_and_missing_callback) {
    int64_t bad = 9;
    ssm_sample_source src = source(&bad);
    ssm_batcher_opts o = {.batch_size = 4, .shuffle = 0, .seed = 1, .prefetch = 1};
    ssm_batcher bt;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    const ssm_batch *b;
    ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK); // ids 0..3
    ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK); // ids 4..7
    ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_EDATA); // 8..11 holds 9
    ck_assert_msg(strstr(e.msg, "sample 9: weight is NaN") != NULL, "%s", e.msg);
    ssm_batcher_free(&bt);
    // declared but no callback: refused when the batcher is made, not mid-epoch
    src.get_extra = NULL;
    ck_assert_int_ne(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, "get_extra") != NULL, "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *s = suite_create("datasets_batch_extra");
    TCase *tc = tcase_create("extra");
    tcase_add_test(tc, tokens_weights_and_dense_kind_reach_the_batch);
    tcase_add_test(tc, extra_errors_and_missing_callback);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
