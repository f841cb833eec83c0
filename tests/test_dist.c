// Check suite: the pieces of data-parallel training below the command (docs/distributed.md).
//   - the launcher's environment is read right (OpenMPI, MPICH/PMI), garbage ignored; a
//     build without MPI refuses to start as one of several ranks, naming the rank;
//   - alone (no launcher), every collective leaves the caller's data as it was;
//   - the batcher's shards: each training batch of N ranks, concatenated in rank order, is
//     the one-process batch sample for sample (dense and ragged, shuffled, with an uneven
//     and an empty slice), positions are the global batch's, so a sharded run's (epoch,
//     offset) resumes an unsharded one exactly; evaluation ranges cover the split once; a
//     batch's position is its first sample's place in the whole split, and a packed batch's
//     key advanced b steps is the key of position + b (bags shuffle by their position);
//   - on 2 real ranks (this program started again under `mpirun -np 2`): sums (blocking and
//     not), broadcast, variable gathers, the weighted gradient average (uneven and empty
//     shares), the weights fingerprint check, and the metric reductions (confusion counts,
//     error sums, gathered AUC scores) equal the one-process numbers.
// The mpirun part skips (message, pass) when mpirun is absent, in a build without MPI, and
// in the sanitizer build (MPI's own start-up allocations are not this code's leaks).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "adapters/bag_common.h"
#include "core/distributed.h"
#include "core/packing.h"
#include "datasets/augment.h"
#include "datasets/batch.h"
#include "tasks/metrics_reduce.h"
#include "tests/util/testutil.h"

// ---------------------------------------------------------------- the launcher's environment

static const char *const ENV_NAMES[] = {
    "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK",
    "OMPI_COMM_WORLD_LOCAL_SIZE", "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS",
    "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "PMIX_RANK"};

static void clear_launcher_env(void) {
    for (size_t i = 0; i < sizeof ENV_NAMES / sizeof *ENV_NAMES; i++)
        unsetenv(ENV_NAMES[i]);
}

START_TEST(launcher_environment) {
    clear_launcher_env();
    int r, n, lr, ls;
    ck_assert_int_eq(ssm_dist_launched(&r, &n, &lr, &ls), 0);
    ck_assert(r == 0 && n == 1 && lr == 0 && ls == 1);
    setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
    setenv("OMPI_COMM_WORLD_RANK", "3", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "1", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 1);
    ck_assert_int_eq(ssm_dist_launched(&r, &n, &lr, &ls), 1);
    ck_assert(r == 3 && n == 4 && lr == 1 && ls == 2);
    setenv("OMPI_COMM_WORLD_RANK", "4", 1); // a rank outside the size: not a launcher's
    ck_assert_int_eq(ssm_dist_launched(&r, &n, &lr, &ls), 0);
    clear_launcher_env();
    setenv("PMI_SIZE", "3", 1); // MPICH / Intel MPI (hydra), without local ranks
    setenv("PMI_RANK", "2", 1);
    ck_assert_int_eq(ssm_dist_launched(&r, &n, &lr, &ls), 1);
    ck_assert(r == 2 && n == 3 && lr == 0 && ls == 1);
    setenv("PMI_SIZE", "two", 1);
    ck_assert_int_eq(ssm_dist_launched(&r, &n, &lr, &ls), 0);
    clear_launcher_env();
    setenv("PMIX_RANK", "3", 1); // PMIx names the rank only: at least 4 ranks
    ck_assert_int_eq(ssm_dist_launched(&r, &n, &lr, &ls), 1);
    ck_assert(r == 3 && n == 4);
    clear_launcher_env();
}
END_TEST

// Without MPI, a process the launcher calls rank 1 of 2 refuses with the rank and the fix;
// rank 0 of 1 (mpirun -np 1) runs alone. (An MPI build would start MPI: not tried here.)
START_TEST(no_mpi_build_refuses_several_ranks) {
    if (strcmp(ssm_dist_backend(), "none")) {
        fprintf(stderr, "no_mpi_build_refuses_several_ranks: skipped (an MPI build; "
                        "tests/test_dist_cli.c runs build/ssmkit-nompi under mpirun)\n");
        return;
    }
    clear_launcher_env();
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    setenv("OMPI_COMM_WORLD_RANK", "1", 1);
    ssm_dist d;
    ssm_error e;
    ck_assert_int_eq(ssm_dist_init(&d, NULL, NULL, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "rank 1 of 2") && strstr(e.msg, "without MPI"), "%s", e.msg);
    setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    setenv("OMPI_COMM_WORLD_RANK", "0", 1);
    ck_assert_int_eq(ssm_dist_init(&d, NULL, NULL, &e), SSM_OK);
    ck_assert(d.size == 1 && !d.active);
    ssm_dist_finalize(&d);
    clear_launcher_env();
}
END_TEST

START_TEST(alone_collectives_keep_data) {
    clear_launcher_env();
    ssm_dist d;
    ssm_error e;
    ck_assert_int_eq(ssm_dist_init(&d, NULL, NULL, &e), SSM_OK); // no launcher: alone
    ck_assert(d.rank == 0 && d.size == 1 && !d.active && ssm_dist_is_root(&d));
    real g[5] = {1, -2, 3, 0.5f, 7};
    ck_assert_int_eq(ssm_dist_grad_average(&d, g, 5, 1.0, 0, &e), SSM_OK);
    ck_assert(g[0] == 1 && g[1] == -2 && g[4] == 7);
    ssm_dist_request req;
    ck_assert_int_eq(ssm_dist_iallreduce(&d, g, 5, SSM_DIST_REAL, &req, &e), SSM_OK);
    ck_assert_int_eq(ssm_dist_wait(&d, &req, &e), SSM_OK);
    ck_assert(g[0] == 1 && g[4] == 7 && !req.handles);
    double s[2] = {1.5, 2.5};
    int64_t c[1] = {9};
    ck_assert_int_eq(metrics_allreduce_sum(&d, s, 2, c, 1, &e), SSM_OK);
    ck_assert(s[0] == 1.5 && s[1] == 2.5 && c[0] == 9);
    ck_assert_int_eq(ssm_dist_bcast(&d, s, sizeof s, 0, &e), SSM_OK);
    void *out;
    size_t nb;
    ck_assert_int_eq(ssm_dist_allgatherv(&d, "abc", 3, &out, &nb, &e), SSM_OK);
    ck_assert(nb == 3 && !memcmp(out, "abc", 3));
    free(out);
    ck_assert_int_eq(ssm_dist_check_same(&d, 42, "x", &e), SSM_OK);
    ck_assert_int_ge(ssm_dist_cores(&d), 1);
    ck_assert(ssm_dist_hash("a", 1) != ssm_dist_hash("b", 1));
    ssm_dist_finalize(&d);
}
END_TEST

// ---------------------------------------------------------------- batch shards

// Sample id: x [2] = (id, -id), y = id % 7; ragged: 1 + id % 3 tokens (id*10 + t, t).
static ssm_code get_dense(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *yd,
                          int64_t *len, ssm_error *err) {
    (void)ctx, (void)key, (void)yd, (void)len, (void)err;
    x[0] = (real)id, x[1] = (real)-id;
    *y = (int32_t)(id % 7);
    return SSM_OK;
}
static int64_t count_ragged(void *ctx, int64_t id, uint64_t key) {
    (void)ctx, (void)key;
    return 1 + id % 3;
}
static ssm_code get_ragged(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *yd,
                           int64_t *len, ssm_error *err) {
    (void)yd, (void)err;
    int64_t n = count_ragged(ctx, id, key);
    for (int64_t t = 0; t < n; t++)
        x[2 * t] = (real)(id * 10 + t), x[2 * t + 1] = (real)t;
    *y = (int32_t)(id % 7);
    *len = n;
    return SSM_OK;
}

static void make_batcher(ssm_batcher *bt, int ragged, int64_t n, int64_t bs, int shuffle,
                         int64_t max_tokens) {
    ssm_sample_source src = {.n = n, .x_ndim = 1, .x_shape = {2}, .has_y = 1};
    if (ragged) {
        src.ragged = 1, src.get = get_ragged, src.count = count_ragged;
    } else {
        src.get = get_dense;
    }
    ssm_batcher_opts o = {.batch_size = bs, .shuffle = shuffle, .seed = 5, .prefetch = 1,
                          .max_tokens = max_tokens};
    ssm_error e;
    ck_assert_msg(ssm_batcher_init(bt, &src, NULL, 0, &o, &e) == SSM_OK, "%s", e.msg);
}

// Every batch of two epochs: the R ranks' shards, concatenated in rank order, equal the
// one-process batch (ids, labels, tokens, ragged offsets), with the same positions.
static void check_shards(int ragged, int64_t n, int64_t bs, int R, int64_t max_tokens) {
    ssm_batcher one, *rk = calloc((size_t)R, sizeof *rk);
    ssm_error e;
    make_batcher(&one, ragged, n, bs, 1, max_tokens);
    for (int r = 0; r < R; r++) {
        make_batcher(&rk[r], ragged, n, bs, 1, max_tokens);
        ck_assert_int_eq(ssm_batcher_shard(&rk[r], SSM_SHARD_BATCH, r, R, &e), SSM_OK);
    }
    int saw_empty = 0, saw_uneven = 0;
    for (int epoch = 0; epoch < 2; epoch++)
        for (;;) {
            const ssm_batch *b1;
            ck_assert_int_eq(ssm_batcher_next(&one, &b1, &e), SSM_OK);
            int64_t k = 0, tok = 0, lo = INT64_MAX, hi = 0;
            for (int r = 0; r < R; r++) {
                const ssm_batch *b;
                ck_assert_int_eq(ssm_batcher_next(&rk[r], &b, &e), SSM_OK);
                ck_assert((b == NULL) == (b1 == NULL));
                if (!b)
                    continue;
                ck_assert_int_eq(b->global_B, b1->B);
                ck_assert(b->epoch == b1->epoch && b->offset == b1->offset);
                ck_assert_int_eq(b->position, b1->position + k); // its first sample's place
                saw_empty |= b->B == 0;
                lo = b->B < lo ? b->B : lo, hi = b->B > hi ? b->B : hi;
                for (int64_t i = 0; i < b->B; i++, k++) {
                    ck_assert_int_eq(b->index[i], b1->index[k]);
                    ck_assert_int_eq(b->y[i], b1->y[k]);
                    if (!ragged) {
                        ck_assert(b->x[2 * i] == b1->x[2 * k] && b->x[2 * i + 1] == b1->x[2 * k + 1]);
                        continue;
                    }
                    int64_t len = b->offsets[i + 1] - b->offsets[i];
                    ck_assert_int_eq(len, b1->offsets[k + 1] - b1->offsets[k]);
                    ck_assert_int_eq(b->length[i], len);
                    ck_assert(!memcmp(b->x + 2 * b->offsets[i], b1->x + 2 * b1->offsets[k],
                                      (size_t)(2 * len) * sizeof(real)));
                    tok += len;
                }
                if (ragged)
                    ck_assert_int_eq(b->tokens, b->offsets[b->B]);
                int64_t e1, o1, e2, o2;
                ssm_batcher_tell(&rk[r], &e1, &o1);
                ssm_batcher_tell(&one, &e2, &o2);
                ck_assert(e1 == e2 && o1 == o2);
            }
            if (!b1)
                break;
            saw_uneven |= hi - lo == 1;
            ck_assert_int_le(hi - lo, 1); // as equal as possible
            ck_assert_int_eq(k, b1->B);
            if (ragged)
                ck_assert_int_eq(tok, b1->tokens);
        }
    ck_assert(saw_uneven);
    if (!ragged)
        ck_assert(saw_empty == (n % bs != 0 && n % bs < R));
    for (int r = 0; r < R; r++)
        ssm_batcher_free(&rk[r]);
    ssm_batcher_free(&one);
    free(rk);
}

START_TEST(batch_shards_are_the_global_batch) {
    check_shards(0, 23, 5, 2, 0);  // batches 5 x4 + 3: 3/2 and 2/1
    check_shards(0, 22, 8, 3, 0);  // last batch 6 of 3 ranks, 8 = 3+3+2
    check_shards(0, 17, 4, 3, 0);  // last batch of 1 sample: two ranks get none
    check_shards(1, 31, 6, 2, 0);  // ragged, batches full
    check_shards(1, 31, 6, 3, 9);  // ragged, batches ended early by max_tokens
}
END_TEST

// A checkpoint of a sharded run (its global position) continues an unsharded one exactly,
// and the other way round: the position does not depend on the number of ranks.
START_TEST(positions_resume_across_rank_counts) {
    ssm_batcher a, b;
    ssm_error e;
    make_batcher(&a, 0, 29, 4, 1, 0);
    make_batcher(&b, 0, 29, 4, 1, 0);
    ck_assert_int_eq(ssm_batcher_shard(&b, SSM_SHARD_BATCH, 1, 2, &e), SSM_OK);
    const ssm_batch *x;
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ssm_batcher_next(&b, &x, &e), SSM_OK);
    int64_t ep, off;
    ssm_batcher_tell(&b, &ep, &off);
    ck_assert(ep == 0 && off == 12);
    ck_assert_int_eq(ssm_batcher_seek(&a, ep, off, &e), SSM_OK);
    ck_assert_int_eq(ssm_batcher_next(&a, &x, &e), SSM_OK);
    int64_t want[4];
    memcpy(want, x->index, sizeof want);
    ck_assert_int_eq(ssm_batcher_next(&b, &x, &e), SSM_OK); // rank 1's half of that batch
    ck_assert(x->B == 2 && x->index[0] == want[2] && x->index[1] == want[3]);
    ssm_batcher_free(&a);
    ssm_batcher_free(&b);
}
END_TEST

// Evaluation ranges: every id once, in order, whatever the batch size (1 included); a shuffled
// split, a second shard or a bad rank are refused.
START_TEST(split_ranges_cover_the_split_once) {
    ssm_error e;
    for (int ragged = 0; ragged < 2; ragged++)
        for (int R = 1; R <= 4; R++) {
            int64_t next = 0;
            for (int r = 0; r < R; r++) {
                ssm_batcher bt;
                make_batcher(&bt, ragged, 10, 1 + r % 3, 0, 0);
                ck_assert_int_eq(ssm_batcher_shard(&bt, SSM_SHARD_SPLIT, r, R, &e), SSM_OK);
                const ssm_batch *b;
                for (;;) {
                    ck_assert_int_eq(ssm_batcher_next(&bt, &b, &e), SSM_OK);
                    if (!b)
                        break;
                    ck_assert_int_eq(b->position, next); // the place in the whole split
                    for (int64_t i = 0; i < b->B; i++)
                        ck_assert_int_eq(b->index[i], next++);
                }
                ssm_batcher_free(&bt);
            }
            ck_assert_int_eq(next, 10);
        }
    ssm_batcher bt;
    make_batcher(&bt, 0, 10, 2, 1, 0);
    ck_assert_int_eq(ssm_batcher_shard(&bt, SSM_SHARD_SPLIT, 0, 2, &e), SSM_EINVAL);
    ck_assert_int_eq(ssm_batcher_shard(&bt, SSM_SHARD_BATCH, 2, 2, &e), SSM_EINVAL);
    ck_assert_int_eq(ssm_batcher_shard(&bt, SSM_SHARD_BATCH, 0, 2, &e), SSM_OK);
    ck_assert_int_eq(ssm_batcher_shard(&bt, SSM_SHARD_BATCH, 1, 2, &e), SSM_EINVAL);
    ssm_batcher_free(&bt);
}
END_TEST

// A packed batch's key is the stream of its first sample's position: advanced b steps it is
// the key of position + b (the augmentation key), so a bag's shuffle depends on its place in
// the epoch's order, not on which batch or rank's slice packs it.
START_TEST(packing_keys_follow_positions) {
    for (uint64_t seed = 0; seed < 3; seed++)
        for (int64_t e = 0; e < 3; e++)
            for (int64_t p = 0; p < 40; p += 7) {
                uint64_t st = ssm_augment_stream(seed, e, p);
                for (int64_t b = 0; b < 5; b++) {
                    ck_assert(bag_mix64(st + (uint64_t)b * SSM_PACKING_KEY_STEP) ==
                              ssm_augment_key(seed, e, p + b));
                    for (int64_t i = 0; i < 4; i++)
                        ck_assert(bag_shuffle_key(st, 1, b, i) ==
                                  bag_shuffle_key(ssm_augment_stream(seed, e, p + b), 1, 0, i));
                }
            }
    // a bag alone in its batch draws what it drew when the batch key was its own key
    uint64_t k = ssm_augment_key(9, 2, 17);
    ck_assert(bag_shuffle_key(ssm_augment_stream(9, 2, 17), 3, 0, 5) ==
              bag_mix64(bag_mix64(bag_mix64(k ^ 3)) ^ 5));
}
END_TEST

// ---------------------------------------------------------------- on two ranks

// Runs as `mpirun -np 2 test_dist --ranks`: returns the number of failed checks (0 = ok),
// each printed with the rank.
#define RCHECK(cond)                                                                          \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "rank %d: check failed at line %d: %s\n", d.rank, __LINE__, #cond); \
            bad++;                                                                            \
        }                                                                                     \
    } while (0)

static int rank_checks(void) {
    ssm_dist d;
    ssm_error e = {0};
    int bad = 0;
    if (ssm_dist_init(&d, NULL, NULL, &e) || !d.active || d.size != 2) {
        fprintf(stderr, "rank checks: not 2 MPI ranks (%s)\n", e.msg);
        return 1;
    }
    const int r = d.rank;
    // sums of each type, in place, the same on both ranks
    float f[3] = {1.5f + r, -2.0f, 0.25f * r};
    double x[2] = {1e300 * (r ? 1 : -1), 3.0 + r};
    int64_t k[2] = {(int64_t)1 << 40, r};
    RCHECK(!ssm_dist_allreduce(&d, f, 3, SSM_DIST_FLOAT, &e));
    RCHECK(!ssm_dist_allreduce(&d, x, 2, SSM_DIST_DOUBLE, &e));
    RCHECK(!ssm_dist_allreduce(&d, k, 2, SSM_DIST_INT64, &e));
    RCHECK(f[0] == 4.0f && f[1] == -4.0f && f[2] == 0.25f);
    RCHECK(x[0] == 0 && x[1] == 7.0);
    RCHECK(k[0] == (int64_t)1 << 41 && k[1] == 1);
    // the non-blocking sum: the same, once waited for
    ssm_dist_request req;
    double y[3] = {0.5 + r, -1.0, 2.0 * r};
    RCHECK(!ssm_dist_iallreduce(&d, y, 3, SSM_DIST_DOUBLE, &req, &e));
    RCHECK(!ssm_dist_wait(&d, &req, &e) && !req.handles);
    RCHECK(y[0] == 2.0 && y[1] == -2.0 && y[2] == 2.0);
    // broadcast from either root
    int v = 10 + r;
    RCHECK(!ssm_dist_bcast(&d, &v, sizeof v, 1, &e) && v == 11);
    // gathers of unequal sizes, one rank empty
    void *g;
    size_t gb;
    RCHECK(!ssm_dist_allgatherv(&d, r ? "xyz" : "", r ? 3 : 0, &g, &gb, &e));
    RCHECK(gb == 3 && g && !memcmp(g, "xyz", 3));
    free(g);
    RCHECK(!ssm_dist_allgatherv(&d, r ? "cd" : "ab", 2, &g, &gb, &e));
    RCHECK(gb == 4 && !memcmp(g, "abcd", 4));
    free(g);
    // the weighted gradient average: shards of 3 and 2 of a global batch of 5, then an
    // empty shard (its stale gradient is ignored)
    real grad[4], want[4];
    for (int i = 0; i < 4; i++) {
        real g0 = (real)(i + 1), g1 = (real)(10 * (i + 1));
        grad[i] = r ? g1 : g0;
        want[i] = (real)(0.6 * g0) + (real)(0.4 * g1);
    }
    RCHECK(!ssm_dist_grad_average(&d, grad, 4, r ? 0.4 : 0.6, 0, &e));
    RCHECK(tu_max_abs_diff(grad, want, 4) < 1e-5);
    for (int i = 0; i < 4; i++)
        grad[i] = r ? NAN : (real)i;
    RCHECK(!ssm_dist_grad_average(&d, grad, 4, r ? 0.0 : 1.0, 0, &e));
    RCHECK(grad[0] == 0 && grad[3] == 3);
    RCHECK(ssm_dist_grad_average(&d, grad, 4, 1.0, 1, &e) == SSM_EDEVICE); // no device reducer
    // weights fingerprints: equal passes, unequal is refused on both ranks
    RCHECK(!ssm_dist_check_same(&d, 0xdeadbeefcafeull, "w", &e));
    RCHECK(ssm_dist_check_same(&d, 77 + (uint64_t)r, "the weights", &e) == SSM_EDATA);
    RCHECK(strstr(e.msg, "the weights") != NULL);
    // metrics: each rank holds half of 6 samples; the reductions equal one process's
    const int32_t labels[6] = {0, 1, 2, 1, 0, 2};
    real logits[18];
    uint64_t st = 9;
    tu_fill_uniform(logits, 18, -2, 2, &st);
    class_metrics all, mine;
    score_metrics sall, smine;
    RCHECK(!class_metrics_init(&all, 3, 2, &e) && !class_metrics_init(&mine, 3, 2, &e));
    RCHECK(!score_metrics_init(&sall, 3, &e) && !score_metrics_init(&smine, 3, &e));
    RCHECK(!class_metrics_add(&all, logits, labels, 6, &e));
    RCHECK(!score_metrics_add(&sall, logits, labels, 6, &e));
    RCHECK(!class_metrics_add(&mine, logits + 9 * r, labels + 3 * r, 3, &e));
    RCHECK(!score_metrics_add(&smine, logits + 9 * r, labels + 3 * r, 3, &e));
    RCHECK(!class_metrics_allreduce(&mine, &d, &e));
    RCHECK(!memcmp(mine.counts, all.counts, (size_t)class_metrics_n_counts(&all) * sizeof(int64_t)));
    RCHECK(!score_metrics_allgather(&smine, &d, &e));
    RCHECK(smine.n == 6 && !memcmp(smine.labels, sall.labels, 6 * sizeof(int32_t)));
    RCHECK(!memcmp(smine.prob, sall.prob, 18 * sizeof(double))); // rank order = split order
    RCHECK(score_metrics_auc(&smine) == score_metrics_auc(&sall));
    value_metrics va, vm;
    RCHECK(!value_metrics_init(&va, 3, NULL, &e) && !value_metrics_init(&vm, 3, NULL, &e));
    value_metrics_add(&va, logits, logits + 9, 3);
    value_metrics_add(&vm, logits + 3 * r, logits + 9 + 3 * r, r ? 2 : 1);
    RCHECK(!value_metrics_allreduce(&vm, &d, &e));
    RCHECK(vm.rows == 3 && fabs(vm.sse - va.sse) < 1e-12 && fabs(vm.sae_orig - va.sae_orig) < 1e-12);
    class_metrics_free(&all);
    class_metrics_free(&mine);
    score_metrics_free(&sall);
    score_metrics_free(&smine);
    value_metrics_free(&va);
    value_metrics_free(&vm);
    RCHECK(!ssm_dist_barrier(&d, &e));
    ssm_dist_finalize(&d);
    return bad;
}

START_TEST(collectives_on_two_ranks) {
#ifdef __SANITIZE_ADDRESS__
    fprintf(stderr, "collectives_on_two_ranks: skipped in the sanitizer build\n");
    return;
#endif
    if (strcmp(ssm_dist_backend(), "mpi")) {
        fprintf(stderr, "collectives_on_two_ranks: skipped (built without MPI)\n");
        return;
    }
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        fprintf(stderr, "collectives_on_two_ranks: skipped (no mpirun: apt-get install "
                        "openmpi-bin)\n");
        return;
    }
    char self[1024], cmd[1400];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert(n > 0);
    self[n] = 0;
    snprintf(cmd, sizeof cmd, "mpirun %s --oversubscribe --bind-to none -np 2 %s --ranks",
             geteuid() == 0 ? "--allow-run-as-root" : "", self);
    int rc = system(cmd);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (%d)", cmd, rc);
}
END_TEST

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--ranks"))
        return rank_checks() ? 1 : 0;
    Suite *s = suite_create("dist");
    TCase *tc = tcase_create("dist");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, launcher_environment);
    tcase_add_test(tc, no_mpi_build_refuses_several_ranks);
    tcase_add_test(tc, alone_collectives_keep_data);
    tcase_add_test(tc, batch_shards_are_the_global_batch);
    tcase_add_test(tc, positions_resume_across_rank_counts);
    tcase_add_test(tc, split_ranges_cover_the_split_once);
    tcase_add_test(tc, packing_keys_follow_positions);
    tcase_add_test(tc, collectives_on_two_ranks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
