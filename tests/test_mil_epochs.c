// Check suite: what a MIL run does across epochs.
//  - Ragged epochs are counted exactly: a shuffled or weighted epoch packs more or fewer
//    batches than epoch 0 when max_tokens binds; ssm_batcher_batches_before /
//    _in_epochs give each epoch's count and a resumed position's batch number as
//    ssm_batcher_next packs them (with the prefetch thread running), and the training loop
//    runs exactly that many steps, with the cosine ending on the last one, also when
//    killed mid-epoch and resumed (the CLI, on a musk fixture).
//  - Evaluation batchers (fixed_keys) repeat epoch 0: the same crops and orders on every
//    pass, so two evaluations of one model give bitwise the same metrics, while the
//    training batcher crops every bag afresh each epoch.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "datasets/batch.h"
#include "datasets/mil_data.h"
#include "tasks/schedule.h"
#include "tasks/task_run.h"
#include "tests/mil_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/suite.h"

enum { N = 37, TOK = 2, BS = 4, EPOCHS = 8 };

static int64_t base_len(int64_t id) { return 1 + (7 * id) % 13; }

static int64_t r_count(void *ctx, int64_t id, uint64_t key) {
    (void)ctx, (void)key;
    return base_len(id);
}

// token t of sample id: (id * 100 + t, a fingerprint of the sample key)
static ssm_code r_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                      int64_t *length, ssm_error *err) {
    int64_t n = base_len(id);
    for (int64_t t = 0; t < n; t++) {
        x[t * TOK] = (real)(id * 100 + t);
        x[t * TOK + 1] = (real)(key % 1000003);
    }
    *y = (int32_t)(id % 2);
    *length = n;
    return SSM_OK;
}

static ssm_sample_source source(void) {
    return (ssm_sample_source){.n = N, .x_ndim = 1, .x_shape = {TOK}, .has_y = 1, .get = r_get,
                               .ragged = 1, .count = r_count};
}

// Runs EPOCHS epochs of a batcher with max_tokens 20 (binding: lengths 1..13, 4 a batch) and
// checks every count against the batches it gives; *lo / *hi: the fewest / most batches of
// an epoch.
static void check_counts(int shuffle, const double *weights, int drop_last, int prefetch,
                         int64_t *lo, int64_t *hi) {
    ssm_sample_source src = source();
    ssm_batcher_opts o = {.batch_size = BS, .shuffle = shuffle, .seed = 5, .max_tokens = 20,
                          .drop_last = drop_last, .prefetch = prefetch,
                          .sample_weights = weights};
    ssm_batcher bt;
    ssm_error e = {0};
    ck_assert_msg(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e) == SSM_OK, "%s", e.msg);
    int64_t sum = 0, per[EPOCHS];
    *lo = INT64_MAX, *hi = 0;
    for (int64_t ep = 0; ep < EPOCHS; ep++) {
        int64_t want, k = 0, at;
        const ssm_batch *b;
        ck_assert_int_eq(ssm_batcher_batches_before(&bt, ep, N, &want, &e), SSM_OK);
        while (ssm_batcher_next(&bt, &b, &e) == SSM_OK && b) {
            ck_assert_int_eq(b->epoch, ep);
            // the batch at this position is batch number k of its epoch (a resume's count),
            // counted while the prefetch thread packs the next one
            ck_assert_int_eq(ssm_batcher_batches_before(&bt, ep, b->offset, &at, &e), SSM_OK);
            ck_assert_int_eq(at, k);
            k++;
        }
        ck_assert_int_eq(e.code, SSM_OK);
        ck_assert_msg(k == want, "epoch %lld: %lld batches, counted %lld", (long long)ep,
                      (long long)k, (long long)want);
        if (ep == 0)
            ck_assert_int_eq(k, ssm_batcher_batches_per_epoch(&bt));
        per[ep] = k;
        sum += k;
        *lo = k < *lo ? k : *lo;
        *hi = k > *hi ? k : *hi;
    }
    int64_t all, part;
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&bt, 0, EPOCHS, 0, &all, &e), SSM_OK);
    ck_assert_int_eq(all, sum);
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&bt, 2, 5, 0, &part, &e), SSM_OK);
    ck_assert_int_eq(part, per[2] + per[3] + per[4]);
    // a cap (train.max_steps) stops the count at the first epoch that reaches it
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&bt, 0, EPOCHS, per[0] + 1, &part, &e), SSM_OK);
    ck_assert_int_eq(part, per[0] + per[1]);
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&bt, 3, 3, 0, &part, &e), SSM_OK);
    ck_assert_int_eq(part, 0);
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&bt, 3, 2, 0, &part, &e), SSM_EINVAL);
    ck_assert_int_eq(ssm_batcher_batches_before(&bt, 0, N + 1, &part, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "offset in 0..37"), "%s", e.msg);
    ssm_batcher_free(&bt);
}

START_TEST(ragged_epochs_are_counted_exactly) {
    static double w[N];
    for (int i = 0; i < N; i++)
        w[i] = 1 + i % 3;
    int64_t lo, hi;
    int varied = 0;
    for (int pf = 0; pf < 2; pf++) {
        check_counts(1, NULL, 0, pf, &lo, &hi);
        varied += hi > lo;
        check_counts(1, NULL, 1, pf, &lo, &hi);
        varied += hi > lo;
        check_counts(0, w, 0, pf, &lo, &hi);
        varied += hi > lo;
        check_counts(0, NULL, 0, pf, &lo, &hi); // in order: every epoch packs alike
        ck_assert_int_eq(hi, lo);
    }
    // the counts are worth checking: later epochs do pack differently from epoch 0
    ck_assert_int_ge(varied, 4);

    // dense: arithmetic, drop_last skipping the short final batch
    ssm_sample_source src = source();
    src.ragged = 0;
    src.count = NULL;
    src.x_shape[0] = 13 * TOK;
    for (int drop = 0; drop < 2; drop++) {
        ssm_batcher_opts o = {.batch_size = BS, .shuffle = 1, .seed = 5, .drop_last = drop};
        ssm_batcher bt;
        ssm_error e = {0};
        ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
        int64_t k;
        ck_assert_int_eq(ssm_batcher_batches_before(&bt, 3, N, &k, &e), SSM_OK);
        ck_assert_int_eq(k, drop ? 9 : 10);
        ck_assert_int_eq(ssm_batcher_batches_before(&bt, 3, 8, &k, &e), SSM_OK);
        ck_assert_int_eq(k, 2);
        ck_assert_int_eq(ssm_batcher_batches_before(&bt, 3, 9, &k, &e), SSM_OK);
        ck_assert_int_eq(k, 3);
        ck_assert_int_eq(ssm_batcher_batches_in_epochs(&bt, 1, 4, 0, &k, &e), SSM_OK);
        ck_assert_int_eq(k, 3 * (drop ? 9 : 10));
        ssm_batcher_free(&bt);
    }
}
END_TEST

typedef struct {
    int64_t B, epoch, index[BS], offsets[BS + 1];
    real x[20 * TOK];
} rec;

// One epoch's batches into out (at most max); returns how many.
static int record(ssm_batcher *bt, rec *out, int max) {
    const ssm_batch *b;
    ssm_error e = {0};
    int n = 0;
    while (ssm_batcher_next(bt, &b, &e) == SSM_OK && b) {
        ck_assert_int_lt(n, max);
        memset(&out[n], 0, sizeof out[n]);
        out[n].B = b->B;
        out[n].epoch = b->epoch;
        memcpy(out[n].index, b->index, (size_t)b->B * sizeof *b->index);
        memcpy(out[n].offsets, b->offsets, (size_t)(b->B + 1) * sizeof *b->offsets);
        memcpy(out[n].x, b->x, (size_t)(b->tokens * TOK) * sizeof *b->x);
        n++;
    }
    ck_assert_int_eq(e.code, SSM_OK);
    return n;
}

START_TEST(fixed_keys_repeat_epoch_zero) {
    enum { MAXB = 40 };
    static rec a[MAXB], b[MAXB];
    static double w[N];
    for (int i = 0; i < N; i++)
        w[i] = 1 + i % 4;
    for (int fixed = 0; fixed < 2; fixed++)
        for (int weighted = 0; weighted < 2; weighted++) {
            ssm_sample_source src = source();
            ssm_batcher_opts o = {.batch_size = BS, .shuffle = 1, .seed = 9, .max_tokens = 20,
                                  .prefetch = 1, .fixed_keys = fixed,
                                  .sample_weights = weighted ? w : NULL};
            ssm_batcher bt;
            ssm_error e = {0};
            ck_assert_int_eq(ssm_batcher_init(&bt, &src, NULL, 0, &o, &e), SSM_OK);
            int na = record(&bt, a, MAXB), nb = record(&bt, b, MAXB);
            int64_t ep, off;
            ssm_batcher_tell(&bt, &ep, &off);
            ck_assert_int_eq(ep, 2); // the position moves on either way
            int same = na == nb && !memcmp(a, b, (size_t)na * sizeof *a);
            ck_assert_msg(same == fixed, "fixed_keys %d, weighted %d: epochs 0 and 1 %s", fixed,
                          weighted, same ? "equal" : "differ");
            ck_assert_int_eq(b[0].epoch, fixed ? 0 : 1);
            int64_t k;
            ck_assert_int_eq(ssm_batcher_batches_before(&bt, 5, N, &k, &e), SSM_OK);
            if (fixed)
                ck_assert_int_eq(k, na);
            ssm_batcher_free(&bt);
        }
}
END_TEST

// 24 bags of 4..12 instances of 5 features (odd bags positive: one instance's first
// feature is shifted by 3), as a musk CSV.
static void write_bags(const char *path) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    unsigned s = 11;
    for (int bag = 0; bag < 24; bag++) {
        int k = 4 + (bag * 5) % 9;
        for (int i = 0; i < k; i++) {
            int wit = bag % 2 && i == k / 3;
            fprintf(f, "%d,b%d", wit, bag);
            for (int j = 0; j < 5; j++) {
                s = s * 1103515245u + 12345u;
                fprintf(f, ",%.4f", ((s >> 8) % 2000) / 1000.0 - 1.0 + (wit && !j ? 3.0 : 0.0));
            }
            fprintf(f, "\n");
        }
    }
    fclose(f);
}

// The config both the library tests and the CLI run resolve (sets[] are CLI overrides).
static int musk_sets(char sets[][400], const char *csv) {
    int n = 0;
    snprintf(sets[n++], 400, "data.path=%s", csv);
    const char *rest[] = {"data.folds=4", "data.fold=1", "backbone.d_model=8",
                          "backbone.d_state=4", "task.attn_dim=8", "run.threads=1",
                          "run.progress=off", "run.tensorboard=false", NULL};
    for (int i = 0; rest[i]; i++)
        snprintf(sets[n++], 400, "%s", rest[i]);
    return n;
}

static void resolve(ssm_config *c, char sets[][400], int n) {
    const char *p[32];
    for (int i = 0; i < n; i++)
        p[i] = sets[i];
    ssm_error e = {0};
    ck_assert_msg(ssm_config_resolve(c, "configs/mil/musk1.yaml", p, n, &e) == SSM_OK, "%s",
                  e.msg);
}

START_TEST(evaluation_crops_repeat_training_crops_change) {
    char dir[256], csv[300], sets[32][400];
    mil_tmpdir(dir);
    snprintf(csv, sizeof csv, "%s/bags.csv", dir);
    write_bags(csv);
    int n = musk_sets(sets, csv);
    const char *more[] = {"data.val_fraction=0.3", "data.max_instances=3",
                          "data.instance_sampling=random", "data.batch_size=2",
                          "data.eval_batch_size=4", "data.num_workers=1", NULL};
    for (int i = 0; more[i]; i++)
        snprintf(sets[n++], 400, "%s", more[i]);
    ssm_config c;
    resolve(&c, sets, n);
    ck_assert_str_eq(c.adapter.orders[0], "shuffle"); // a random order at evaluation too
    mil_data d;
    ssm_error e = {0};
    ck_assert_msg(mil_data_open(&d, &c.data, (uint64_t)c.run.seed, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert(d.n_val >= 4);
    // data: validation bags cropped alike on two passes; some training bag cropped anew
    mil_epoch v0, v1, t0, t1;
    mil_epoch_run(&v0, &d.val, d.bags.n, d.token);
    mil_epoch_run(&v1, &d.val, d.bags.n, d.token);
    int cropped = 0;
    for (int64_t i = 0; i < d.n_val; i++) {
        int64_t b = d.split.val[i];
        ck_assert_int_eq(v0.len[b], d.bags.len[b] > 3 ? 3 : d.bags.len[b]);
        cropped += d.bags.len[b] > 3;
        ck_assert(v1.len[b] == v0.len[b] &&
                  !memcmp(v0.x[b], v1.x[b], (size_t)(v0.len[b] * d.token) * sizeof(real)));
    }
    ck_assert_int_gt(cropped, 0);
    mil_epoch_run(&t0, &d.train, d.bags.n, d.token);
    mil_epoch_run(&t1, &d.train, d.bags.n, d.token);
    int changed = 0;
    for (int64_t i = 0; i < d.n_train; i++) {
        int64_t b = d.split.train[i];
        ck_assert(t0.seen[b] == 1 && t1.seen[b] == 1);
        changed += memcmp(t0.x[b], t1.x[b], (size_t)(3 * d.token) * sizeof(real)) != 0;
    }
    ck_assert_int_gt(changed, d.n_train / 2);
    mil_epoch_free(&v0), mil_epoch_free(&v1), mil_epoch_free(&t0), mil_epoch_free(&t1);

    // a model: two evaluations of the validation split give the same metrics, bit for bit
    task_data_info info = {.input = {1, {d.token}}, .num_classes = d.num_classes};
    for (int i = 0; i < 3; i++)
        info.max_tokens = d.max_tokens[i] > info.max_tokens ? d.max_tokens[i] : info.max_tokens;
    ssm_task *t;
    ck_assert_msg(task_create(&t, &c, &info, 4, &e) == SSM_OK, "%s", e.msg);
    task_metrics m0, m1, m2;
    ck_assert_msg(task_evaluate(t, &d.val, &m0, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(task_evaluate(t, &d.val, &m1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(m0.n, m1.n);
    ck_assert_int_eq(m0.samples, d.n_val);
    for (int k = 0; k < m0.n; k++)
        ck_assert_msg(m0.value[k] == m1.value[k] || (isnan(m0.value[k]) && isnan(m1.value[k])),
                      "%s: %.9g then %.9g", m0.key[k], m0.value[k], m1.value[k]);
    // the same on the training batcher differs: its crops and orders are fresh each pass
    ck_assert_int_eq(task_evaluate(t, &d.train, &m0, &e), SSM_OK);
    ck_assert_int_eq(task_evaluate(t, &d.train, &m2, &e), SSM_OK);
    ck_assert(task_metrics_get(&m0, "loss") != task_metrics_get(&m2, "loss"));
    task_free(t);
    mil_data_close(&d);
    mil_rmtree(dir);
}
END_TEST

static char bin[512];

// The step lines of a run's metrics.jsonl: count, steps per epoch, the last lr.
static int64_t read_steps(const char *run_dir, int64_t *per_epoch, double *last_lr) {
    char path[400], line[1024];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run_dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    int64_t n = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"kind\":\"step\""))
            continue;
        const char *p = strstr(line, "\"epoch\":"), *q = strstr(line, "\"lr\":");
        ck_assert(p && q);
        int64_t ep = atoll(p + 8);
        ck_assert(ep >= 0 && ep < 16);
        per_epoch[ep]++;
        *last_lr = atof(q + 5);
        n++;
    }
    fclose(f);
    return n;
}

// The final summary's fields from "steps" up to train_seconds (the run folder differs).
static void summary_core(char *s) {
    char *a = strstr(s, "\"steps\""), *b = strstr(s, "\"train_seconds\"");
    ck_assert(a && b);
    *b = 0;
    memmove(s, a, strlen(a) + 1);
}

START_TEST(training_runs_the_counted_steps_and_resumes) {
    char dir[256], csv[300], sets[32][400], cmd[10000], args[4000] = "";
    mil_tmpdir(dir);
    snprintf(csv, sizeof csv, "%s/bags.csv", dir);
    write_bags(csv);
    int n = musk_sets(sets, csv);
    // 3 bags of 4..12 instances in 15 tokens: batches end early, and the class-balanced
    // draws change how many each epoch packs
    const char *more[] = {"data.val_fraction=0", "data.batch_size=3", "data.max_tokens=15",
                          "data.weighted_sampling=true", "train.epochs=4",
                          "optim.warmup_epochs=1", "optim.lr=1e-3", "optim.min_lr=1e-5",
                          "train.log_every=1", "train.checkpoint_every=1", NULL};
    for (int i = 0; more[i]; i++)
        snprintf(sets[n++], 400, "%s", more[i]);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(args), m = strlen(sets[i]);
        ck_assert(len + m + 8 < sizeof args);
        memcpy(args + len, " --set ", 7);
        memcpy(args + len + 7, sets[i], m + 1);
    }
    ssm_config c;
    resolve(&c, sets, n);
    mil_data d;
    ssm_error e = {0};
    ck_assert_msg(mil_data_open(&d, &c.data, (uint64_t)c.run.seed, 0, &e) == SSM_OK, "%s", e.msg);
    int64_t total, warm, per[4], lo = INT64_MAX, hi = 0;
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&d.train, 0, 4, 0, &total, &e), SSM_OK);
    ck_assert_int_eq(ssm_batcher_batches_in_epochs(&d.train, 0, 1, 0, &warm, &e), SSM_OK);
    for (int ep = 0; ep < 4; ep++) {
        ck_assert_int_eq(ssm_batcher_batches_before(&d.train, ep, d.n_train, &per[ep], &e),
                         SSM_OK);
        lo = per[ep] < lo ? per[ep] : lo;
        hi = per[ep] > hi ? per[ep] : hi;
    }
    mil_data_close(&d);
    ck_assert_msg(hi > lo, "the fixture should pack epochs differently (%lld..%lld)",
                  (long long)lo, (long long)hi);
    fprintf(stderr, "ragged epochs of %lld, %lld, %lld, %lld batches\n", (long long)per[0],
            (long long)per[1], (long long)per[2], (long long)per[3]);

    char full[2048], resumed[2048], run_dir[400];
    snprintf(cmd, sizeof cmd, "%s train configs/mil/musk1.yaml%s --set run.dir=%s "
             "--set run.name=full", bin, args, dir);
    ck_assert_msg(cf_run_last_line(cmd, dir, full, sizeof full) == 0, "%s", cmd);
    int64_t steps_of[16] = {0};
    double lr = 0;
    snprintf(run_dir, sizeof run_dir, "%s/full", dir);
    ck_assert_int_eq(read_steps(run_dir, steps_of, &lr), total);
    for (int ep = 0; ep < 4; ep++)
        ck_assert_int_eq(steps_of[ep], per[ep]);
    // the cosine ends on the last step, at min_lr (not before, not after)
    lr_schedule s = {.lr = 1e-3, .min_lr = 1e-5, .warmup_steps = warm, .total_steps = total,
                     .cosine = 1};
    ck_assert_msg(fabs(lr - lr_schedule_at(&s, total - 1)) <= 1e-6 * lr, "last lr %.9g", lr);
    ck_assert(lr < 1e-5 + 0.01 * (1e-3 - 1e-5));

    // killed mid-epoch 1 (checkpoint after every step), resumed: the same run
    snprintf(cmd, sizeof cmd, "SSMKIT_DEBUG_KILL_AT_STEP=%lld %s train configs/mil/musk1.yaml%s "
             "--set run.dir=%s --set run.name=cut", (long long)(per[0] + 2), bin, args, dir);
    ck_assert_int_ne(cf_run_last_line(cmd, dir, NULL, 0), 0);
    snprintf(cmd, sizeof cmd, "%s train configs/mil/musk1.yaml%s --set run.dir=%s "
             "--set run.name=cut --resume %s/cut", bin, args, dir, dir);
    ck_assert_msg(cf_run_last_line(cmd, dir, resumed, sizeof resumed) == 0, "%s", cmd);
    summary_core(full);
    summary_core(resumed);
    ck_assert_str_eq(full, resumed);
    memset(steps_of, 0, sizeof steps_of);
    snprintf(run_dir, sizeof run_dir, "%s/cut", dir);
    double lr2 = 0;
    read_steps(run_dir, steps_of, &lr2);
    ck_assert(lr2 == lr);
    mil_rmtree(dir);
}
END_TEST

int main(void) {
    snprintf(bin, sizeof bin, "%s", cf_bin());
    Suite *s = suite_create("mil_epochs");
    TCase *tc = tcase_create("mil_epochs");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, ragged_epochs_are_counted_exactly);
    tcase_add_test(tc, fixed_keys_repeat_epoch_zero);
    tcase_add_test(tc, evaluation_crops_repeat_training_crops_change);
    tcase_add_test(tc, training_runs_the_counted_steps_and_resumes);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
