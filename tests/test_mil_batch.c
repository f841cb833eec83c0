// Check suite: ragged batches (datasets/batch.h, core/packing.h): samples of different
// lengths packed back to back with offsets; a batch ends early rather than overflow
// max_tokens; a sample that can never fit is refused by id, length and limit; max_tokens 0
// is the exact worst case; prefetch and resume give bitwise the same batches; sampling
// weights draw an epoch with replacement, pure in (seed, epoch).
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/augment.h"
#include "datasets/batch.h"
#include "tests/util/suite.h"

enum { N = 37, TOK = 3, BS = 4 };

// sample id: 1 + (7 id) % 13 tokens; token t value j = id * 1000 + t * 10 + j; y = id % 2;
// y_tokens[t] = (id + t) % 3; weight 1 + id % 5. The ctx says which id (if any) gets a
// key-dependent length (500 tokens when the key's low bit is grow_bit) or writes a wrong
// length.
typedef struct {
    int64_t grow_id, lie_id;
    uint64_t grow_bit;
} rsrc;

static int64_t base_len(int64_t id) { return 1 + (7 * id) % 13; }

static int64_t r_count(void *ctx, int64_t id, uint64_t key) {
    const rsrc *r = ctx;
    if (id == r->grow_id && (key & 1) == r->grow_bit)
        return 500;
    return base_len(id);
}

static ssm_code r_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                      int64_t *length, ssm_error *err) {
    const rsrc *r = ctx;
    int64_t n = r_count(ctx, id, key);
    for (int64_t t = 0; t < n; t++)
        for (int j = 0; j < TOK; j++)
            x[t * TOK + j] = (real)(id * 1000 + t * 10 + j);
    *y = (int32_t)(id % 2);
    *length = id == r->lie_id ? n - 1 : n;
    return SSM_OK;
}

static ssm_code r_extra(void *ctx, int64_t id, int32_t *y_tokens, real *weight, ssm_error *err) {
    for (int64_t t = 0; t < base_len(id); t++)
        y_tokens[t] = (int32_t)((id + t) % 3);
    *weight = (real)(1 + id % 5);
    return SSM_OK;
}

static ssm_sample_source source(rsrc *r) {
    ssm_sample_source s = {.ctx = r, .n = N, .x_ndim = 1, .x_shape = {TOK}, .has_y = 1,
                           .has_tokens = 1, .has_weight = 1, .get = r_get,
                           .get_extra = r_extra, .ragged = 1, .count = r_count};
    return s;
}

// Checks one batch's packing and contents against the source's formulas.
static void check_batch(const ssm_batch *b, int64_t max_tokens) {
    ck_assert_ptr_nonnull(b->offsets);
    ck_assert_int_ge(b->B, 1);
    ck_assert_int_le(b->B, BS);
    ck_assert_int_eq(b->offsets[0], 0);
    ck_assert_int_eq(b->offsets[b->B], b->tokens);
    ck_assert_int_eq(b->shape[0], b->tokens);
    ck_assert_int_eq(b->shape[1], TOK);
    ck_assert_int_eq(b->ndim, 2);
    ck_assert_int_le(b->tokens, max_tokens);
    ck_assert_int_eq(b->max_tokens, max_tokens);
    for (int64_t k = 0; k < b->B; k++) {
        int64_t id = b->index[k], o = b->offsets[k];
        ck_assert_int_eq(b->length[k], base_len(id));
        ck_assert_int_eq(b->offsets[k + 1] - o, b->length[k]);
        ck_assert_int_eq(b->y[k], id % 2);
        ck_assert(b->weight[k] == (real)(1 + id % 5));
        for (int64_t t = 0; t < b->length[k]; t++) {
            ck_assert_int_eq(b->y_tokens[o + t], (id + t) % 3);
            for (int j = 0; j < TOK; j++)
                ck_assert(b->x[(o + t) * TOK + j] == (real)(id * 1000 + t * 10 + j));
        }
    }
}

START_TEST(packs_without_padding_and_ends_early) {
    rsrc r = {.grow_id = -1, .lie_id = -1};
    ssm_error e = {0};
    // max_tokens 0: the exact worst case = the sum of the BS longest lengths
    for (int64_t limit = 0; limit <= 20; limit += 20) {
        ssm_sample_source src = source(&r);
        ssm_batcher_opts o = {.batch_size = BS, .shuffle = 1, .seed = 7, .max_tokens = limit};
        ssm_batcher bt;
        ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
        int64_t lens[N], max = 0;
        for (int i = 0; i < N; i++)
            lens[i] = base_len(i);
        for (int k = 0; k < BS; k++) { // the BS longest, by selection
            int best = 0;
            for (int i = 1; i < N; i++)
                best = lens[i] > lens[best] ? i : best;
            max += lens[best];
            lens[best] = 0;
        }
        ck_assert_int_eq(max, 13 + 13 + 12 + 12); // ids 11, 24 and 10, 23
        if (limit)
            max = limit;
        ck_assert_int_eq(bt.opts.max_tokens, max);
        for (int ep = 0; ep < 2; ep++) {
            int seen[N] = {0}, batches = 0, early = 0;
            const ssm_batch *b;
            int64_t prev_tokens = -1, prev_B = 0;
            while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b) {
                check_batch(b, max);
                for (int64_t k = 0; k < b->B; k++)
                    seen[b->index[k]]++;
                // the previous batch ended early only because this first sample did not fit
                if (prev_tokens >= 0 && prev_B < BS) {
                    ck_assert_int_gt(prev_tokens + b->length[0], max);
                    early++;
                }
                prev_tokens = b->tokens;
                prev_B = b->B;
                batches++;
            }
            for (int i = 0; i < N; i++)
                ck_assert_int_eq(seen[i], 1);
            if (ep == 0)
                ck_assert_int_eq(batches, ssm_batcher_batches_per_epoch(&bt));
            if (limit) // 20 tokens hold fewer than 4 samples of mean length 7
                ck_assert_int_gt(early, 0);
            else
                ck_assert_int_eq(batches, (N + BS - 1) / BS);
        }
        ssm_batcher_free(&bt);
    }
}
END_TEST

START_TEST(too_long_sample_is_refused_by_id_length_and_limit) {
    rsrc r = {.grow_id = -1, .lie_id = -1};
    ssm_error e = {0};
    ssm_sample_source src = source(&r);
    ssm_batcher_opts o = {.batch_size = BS, .seed = 1, .max_tokens = 12};
    ssm_batcher bt;
    // id 13: 1 + 91 % 13 = 1; the first with 13 tokens is id 11 (1 + 77 % 13 = 13)
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "sample 11 has 13 tokens, more than the 12") &&
                      strstr(e.msg, "data.max_instances"),
                  "%s", e.msg);

    // a count that grows with the key: fine at init (epoch 0's keys), refused when it comes
    for (int pf = 0; pf < 2; pf++) {
        // id 5 is 500 tokens long under keys whose low bit differs from epoch 0's
        rsrc g = {.grow_id = 5, .lie_id = -1,
                  .grow_bit = (ssm_augment_key(1, 0, 5) & 1) ^ 1};
        src = source(&g);
        o = (ssm_batcher_opts){.batch_size = BS, .seed = 1, .max_tokens = 40, .prefetch = pf};
        ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
        int failed = 0;
        for (int ep = 0; ep < 8 && !failed; ep++) {
            const ssm_batch *b;
            ssm_code rc;
            while ((rc = ssm_batcher_next(&bt, &b, &e)) == SSM_OK && b)
                ;
            if (rc != SSM_OK) {
                failed = 1;
                ck_assert_int_gt(ep, 0);
                ck_assert_int_eq(rc, SSM_EDATA);
                ck_assert_msg(strstr(e.msg, "sample 5 has 500 tokens, more than the 40"), "%s",
                              e.msg);
                ck_assert_msg(strstr(e.msg, "batch at offset"), "%s", e.msg);
            }
        }
        ck_assert(failed);
        ssm_batcher_free(&bt);
    }

    // a source whose get disagrees with its count
    rsrc l = {.grow_id = -1, .lie_id = 3};
    src = source(&l);
    o = (ssm_batcher_opts){.batch_size = BS, .seed = 1};
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    const ssm_batch *b;
    ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "sample 3: the source wrote 8 tokens, its count said 9"), "%s",
                  e.msg);
    ssm_batcher_free(&bt);

    // a ragged source without count
    src = source(&l);
    src.count = NULL;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "needs count"), "%s", e.msg);
}
END_TEST

// Every batch of `epochs` epochs (end marks included) as flat records.
typedef struct {
    int64_t B, tokens, epoch, offset;
    int64_t index[BS], offsets[BS + 1];
    real x[200 * TOK];
    int32_t y_tokens[200];
} rec;

static int record(ssm_batcher *bt, rec *out, int max) {
    int n = 0;
    const ssm_batch *b;
    ssm_error e;
    for (; n < max; n++) {
        ck_assert_int_eq(ssm_batcher_next(bt, &b, &e), SSM_OK);
        memset(&out[n], 0, sizeof out[n]);
        if (!b)
            continue;
        out[n].B = b->B;
        out[n].tokens = b->tokens;
        out[n].epoch = b->epoch;
        out[n].offset = b->offset;
        memcpy(out[n].index, b->index, (size_t)b->B * sizeof *b->index);
        memcpy(out[n].offsets, b->offsets, (size_t)(b->B + 1) * sizeof *b->offsets);
        memcpy(out[n].x, b->x, (size_t)(b->tokens * TOK) * sizeof *b->x);
        memcpy(out[n].y_tokens, b->y_tokens, (size_t)b->tokens * sizeof *b->y_tokens);
    }
    return n;
}

START_TEST(prefetch_and_resume_are_bitwise_identical) {
    enum { COUNT = 40 };
    static rec a[COUNT], p[COUNT], t[COUNT];
    static double w[N];
    for (int i = 0; i < N; i++)
        w[i] = i % 4 == 0 ? 0 : 1 + i % 3;
    for (int weighted = 0; weighted < 2; weighted++) {
        rsrc r = {.grow_id = -1, .lie_id = -1};
        ssm_error e = {0};
        ssm_batcher s0, s1;
        ssm_sample_source src = source(&r);
        ssm_batcher_opts o = {.batch_size = BS, .shuffle = 1, .seed = 11, .max_tokens = 30,
                              .sample_weights = weighted ? w : NULL};
        ck_assert_int_eq(ssm_batcher_init(&s0, &src, NULL, 0, &o, &e), SSM_OK);
        o.prefetch = 1;
        ck_assert_int_eq(ssm_batcher_init(&s1, &src, NULL, 0, &o, &e), SSM_OK);
        record(&s0, a, COUNT);
        record(&s1, p, COUNT);
        ck_assert(memcmp(a, p, sizeof a) == 0);
        for (int k = 0; k < COUNT && weighted; k++)
            for (int64_t i = 0; i < a[k].B; i++)
                ck_assert(w[a[k].index[i]] > 0); // a zero weight is never drawn
        // resume from the position after batch 17, with and without prefetch
        for (int pf = 0; pf < 2; pf++) {
            ssm_batcher r1, r2;
            o.prefetch = pf;
            ck_assert_int_eq(ssm_batcher_init(&r1, &src, NULL, 0, &o, &e), SSM_OK);
            record(&r1, t, 18);
            int64_t ep, off;
            ssm_batcher_tell(&r1, &ep, &off);
            ssm_batcher_free(&r1);
            ck_assert_int_eq(ssm_batcher_init(&r2, &src, NULL, 0, &o, &e), SSM_OK);
            ck_assert_int_eq(ssm_batcher_seek(&r2, ep, off, &e), SSM_OK);
            record(&r2, t, COUNT - 18);
            ck_assert(memcmp(t, a + 18, (COUNT - 18) * sizeof *t) == 0);
            ssm_batcher_free(&r2);
        }
        ssm_batcher_free(&s0);
        ssm_batcher_free(&s1);
    }
}
END_TEST

START_TEST(drop_last_skips_only_the_short_final_batch) {
    rsrc r = {.grow_id = -1, .lie_id = -1};
    ssm_error e = {0};
    ssm_sample_source src = source(&r);
    int64_t ids[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}; // lengths 1 8 2 9 3 10 4 11 5
    ssm_batcher_opts o = {.batch_size = 4, .seed = 1, .max_tokens = 20, .drop_last = 1};
    ssm_batcher bt;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, ids, 9, &o, &e), SSM_OK);
    // in order: {0,1,2,3} = 20; {4,5,6} = 17 (+11 > 20, early); {7,8} = 16 (short, last: dropped)
    ck_assert_int_eq(ssm_batcher_batches_per_epoch(&bt), 2);
    const ssm_batch *b;
    int64_t want_B[2] = {4, 3}, want_tokens[2] = {20, 17};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK);
        ck_assert_ptr_nonnull(b);
        ck_assert_int_eq(b->B, want_B[k]);
        ck_assert_int_eq(b->tokens, want_tokens[k]);
        check_batch(b, 20);
    }
    ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK);
    ck_assert_ptr_null(b);
    ssm_batcher_free(&bt);
}
END_TEST

START_TEST(weighted_order_is_pure_and_proportional) {
    enum { M = 5, DRAWS = 50000 };
    double w[M] = {1, 2, 0, 3, 4}, cum[M];
    double acc = 0;
    for (int i = 0; i < M; i++)
        cum[i] = acc += w[i];
    static int64_t o1[DRAWS], o2[DRAWS];
    ssm_error e;
    // a long "epoch" over 5 positions is n draws: build it from repeated positions
    static double cum_big[DRAWS];
    for (int i = 0; i < DRAWS; i++)
        cum_big[i] = cum[M - 1] * (i / M) + cum[i % M];
    ck_assert_int_eq(ssm_weighted_order(o1, cum_big, DRAWS, 3, 0, &e), SSM_OK);
    ck_assert_int_eq(ssm_weighted_order(o2, cum_big, DRAWS, 3, 0, &e), SSM_OK);
    ck_assert(memcmp(o1, o2, sizeof o1) == 0);
    ck_assert_int_eq(ssm_weighted_order(o2, cum_big, DRAWS, 3, 1, &e), SSM_OK);
    ck_assert(memcmp(o1, o2, sizeof o1) != 0);
    ck_assert_int_eq(ssm_weighted_order(o2, cum_big, DRAWS, 4, 0, &e), SSM_OK);
    ck_assert(memcmp(o1, o2, sizeof o1) != 0);
    int64_t hits[M] = {0};
    for (int i = 0; i < DRAWS; i++)
        hits[o1[i] % M]++;
    ck_assert_int_eq(hits[2], 0);
    for (int i = 0; i < M; i++) // binomial sd <= sqrt(50000 / 4) = 112: 5 sd = 560 = 1.1%
        ck_assert_double_eq_tol((double)hits[i] / DRAWS, w[i] / acc, 0.012);

    // class balance as CLAM: weight 1 / (count of the class) gives the classes equal shares
    enum { NB = 60 };
    rsrc r = {.grow_id = -1, .lie_id = -1};
    ssm_sample_source src = source(&r);
    src.n = NB;
    double cw[NB];
    int64_t pos_count = 0;
    for (int i = 0; i < NB; i++)
        pos_count += i % 6 == 0; // 10 of 60 in class 1
    for (int i = 0; i < NB; i++)
        cw[i] = 1.0 / (double)(i % 6 == 0 ? pos_count : NB - pos_count);
    ssm_batcher_opts o = {.batch_size = 6, .seed = 2, .sample_weights = cw};
    ssm_batcher bt;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    cw[0] = NAN; // copied at init: later changes do not matter
    int64_t cls1 = 0, total = 0;
    for (int ep = 0; ep < 50; ep++) {
        const ssm_batch *b;
        int64_t in_epoch = 0;
        while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b) {
            in_epoch += b->B;
            for (int64_t k = 0; k < b->B; k++)
                cls1 += b->index[k] % 6 == 0;
        }
        ck_assert_int_eq(in_epoch, NB); // an epoch is n draws
        total += in_epoch;
    }
    ck_assert_double_eq_tol((double)cls1 / total, 0.5, 0.03); // 3000 draws: sd 0.009
    ssm_batcher_free(&bt);

    // bad weights are refused, naming the sample
    src = source(&r);
    double bad[N];
    for (int i = 0; i < N; i++)
        bad[i] = 1;
    bad[7] = -1;
    o.sample_weights = bad;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "sampling weight -1 of sample 7"), "%s", e.msg);
    bad[7] = NAN;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_EINVAL);
    for (int i = 0; i < N; i++)
        bad[i] = 0;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "sum to 0"), "%s", e.msg);
}
END_TEST

// The dense path keeps its layout: no offsets, tokens 0, x [B, T].
static ssm_code d_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                      int64_t *length, ssm_error *err) {
    x[0] = (real)id;
    x[1] = (real)-id;
    return SSM_OK;
}

START_TEST(dense_batches_are_unchanged) {
    ssm_sample_source src = {.n = 10, .x_ndim = 1, .x_shape = {2}, .get = d_get};
    ssm_batcher_opts o = {.batch_size = 4, .seed = 1};
    ssm_batcher bt;
    ssm_error e;
    ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
    ck_assert_int_eq(ssm_batcher_batches_per_epoch(&bt), 3);
    const ssm_batch *b;
    int64_t next = 0;
    while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b) {
        ck_assert_ptr_null(b->offsets);
        ck_assert_int_eq(b->tokens, 0);
        ck_assert_int_eq(b->shape[0], b->B);
        for (int64_t k = 0; k < b->B; k++, next++) {
            ck_assert(b->x[2 * k] == (real)next && b->x[2 * k + 1] == (real)-next);
        }
    }
    ck_assert_int_eq(next, 10);
    ssm_batcher_free(&bt);
}
END_TEST

int main(void) {
    Suite *s = suite_create("mil_batch");
    TCase *tc = tcase_create("mil_batch");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, packs_without_padding_and_ends_early);
    tcase_add_test(tc, too_long_sample_is_refused_by_id_length_and_limit);
    tcase_add_test(tc, prefetch_and_resume_are_bitwise_identical);
    tcase_add_test(tc, drop_last_skips_only_the_short_final_batch);
    tcase_add_test(tc, weighted_order_is_pure_and_proportional);
    tcase_add_test(tc, dense_batches_are_unchanged);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
