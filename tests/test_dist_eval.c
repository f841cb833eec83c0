// Check suite: every task's data-parallel evaluation (docs/distributed.md, the tasks'
// eval_reduce and tasks/metrics_reduce.h) gives the metrics and the test report of one
// process evaluating the whole split, on the same weights:
//   - mil (ragged bags, a shuffle scan order, batches of 3 bags: the ranks' ranges cut the
//     split where one process's batches do not, so every bag must draw its instance order by
//     its position in the split), multilabel (dense images, multi-hot targets: mAP and AUC
//     need every score) and segment (point clouds of two categories: shape IoU sums and
//     counts per category);
//   - alone (rank 0 of 1: the split cut into one range) and on 2 real ranks (this program
//     started again under `mpirun -np 2`): the split cut in two, each rank evaluating its
//     range, the task combining them. Counts (samples, confusion counts, shapes, points,
//     the report's ids, labels and instance counts) must be equal; values computed from
//     float sums or per-sample logits (whose GEMMs see other batch sizes) within
//     VALUE_BAR relative.
// The mpirun part skips (message, pass) where mpirun is absent, in a build without MPI and
// in the sanitizer build (MPI's own start-up allocations are not this code's leaks).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/distributed.h"
#include "tasks/task_registry.h"
#include "tasks/task_run.h"
#include "tests/util/cli_fixture.h"

// Here every metric came out equal to the last bit (the same logits per sample, the sums of
// a few doubles); the bar leaves room for GEMMs that round a row differently in batches of
// another size. A wrong reduction (one rank's half, a sum counted twice) or a bag shuffled
// by its place in the rank's batch rather than in the split moved them by 1e-2 or more.
#define VALUE_BAR 1e-6

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// A value in [-1, 1) of (id, j): samples are pure functions of their id.
static real val(int64_t id, int64_t j) {
    return (real)((double)(mix((uint64_t)id * 1000003u + (uint64_t)j + 1) >> 11) * 0x1.0p-52 - 1);
}

// ---- mil: bag id holds 2 + (5 id) % 9 instances of F features; label id % 2, a positive
// bag's first instance shifted (a witness)
#define MIL_F 6
static int64_t bag_count(void *ctx, int64_t id, uint64_t key) {
    (void)ctx, (void)key;
    return 2 + (5 * id) % 9;
}
static ssm_code bag_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *yd,
                        int64_t *len, ssm_error *err) {
    (void)yd, (void)err;
    int64_t n = bag_count(ctx, id, key);
    for (int64_t i = 0; i < n * MIL_F; i++)
        x[i] = val(id, i) + (id % 2 && i < MIL_F ? 2 : 0);
    *y = (int32_t)(id % 2);
    *len = n;
    return SSM_OK;
}

// ---- multilabel: an 8 x 8 image, classes = the bits of id % 32 (class 4: id % 3 == 0)
#define ML_K 5
static ssm_code image_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *yd,
                          int64_t *len, ssm_error *err) {
    (void)ctx, (void)key, (void)y, (void)len, (void)err;
    for (int64_t k = 0; k < ML_K; k++)
        yd[k] = k < 4 ? (real)((id >> k) & 1) : (real)(id % 3 == 0);
    for (int64_t i = 0; i < 64; i++)
        x[i] = val(id, i) + 0.5f * yd[i % ML_K];
    return SSM_OK;
}

// ---- segment: 64 points; category id % 2 (parts 0-1, or parts 2-4), a point's part by
// the sign pattern of its coordinates within its category's parts
#define SEG_N 64
static const int32_t PART_RANGE[4] = {0, 2, 2, 3};
static ssm_code cloud_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *yd,
                          int64_t *len, ssm_error *err) {
    (void)ctx, (void)key, (void)yd, (void)len, (void)err;
    for (int64_t i = 0; i < SEG_N * 3; i++)
        x[i] = val(id, i);
    *y = (int32_t)(id % 2);
    return SSM_OK;
}
static ssm_code cloud_parts(void *ctx, int64_t id, int32_t *y_tokens, real *weight,
                            ssm_error *err) {
    (void)ctx, (void)weight, (void)err;
    const int32_t *r = PART_RANGE + 2 * (id % 2);
    for (int64_t i = 0; i < SEG_N; i++) {
        int s = (val(id, 3 * i) > 0) + 2 * (val(id, 3 * i + 1) > 0);
        y_tokens[i] = r[0] + s % r[1];
    }
    return SSM_OK;
}

typedef struct {
    const char *name;           // the task
    const char *sets[16];       // config overrides, NULL-terminated
    int64_t n, eval_bs;         // samples in the split, evaluation batch
    const char *reports[2];     // the test report's files
} eval_case;

static const eval_case CASES[3] = {
    {"mil",
     {"task.name=mil", "task.num_classes=2", "task.pool=attention", "task.attn_dim=8",
      "adapter.name=bag_features", "adapter.orders=[shuffle, reverse]", "backbone.d_model=16",
      "backbone.n_layers=1", "backbone.d_state=4", "run.seed=3", NULL},
     13, 3, {"predictions_test.csv", "attention_test.csv"}},
    {"multilabel",
     {"task.name=multilabel", "task.num_classes=5", "task.pool=mean", "adapter.name=image_patches",
      "adapter.patch_size=4", "adapter.cls_token=none", "adapter.orders=[row, reverse]",
      "backbone.d_model=16", "backbone.n_layers=1", "backbone.d_state=4", "run.seed=5", NULL},
     19, 4, {"per_class_test.csv", NULL}},
    {"segment",
     {"task.name=segment", "task.num_classes=5", "task.seg_dim=16", "adapter.name=point_groups",
      "adapter.channels=3", "adapter.group_size=8", "adapter.num_groups=8",
      "adapter.cls_token=none", "adapter.orders=[hilbert, trans_hilbert]", "backbone.d_model=16",
      "backbone.n_layers=1", "backbone.d_state=4", "run.seed=7", NULL},
     11, 3, {"miou_test.csv", NULL}},
};

static ssm_sample_source source_of(int which, int64_t n) {
    ssm_sample_source s = {.n = n, .has_y = which != 1};
    switch (which) {
    case 0:
        s.x_ndim = 1, s.x_shape[0] = MIL_F;
        s.ragged = 1, s.get = bag_get, s.count = bag_count;
        break;
    case 1:
        s.x_ndim = 3, s.x_shape[0] = 1, s.x_shape[1] = 8, s.x_shape[2] = 8;
        s.dense_ndim = 1, s.dense_shape[0] = ML_K, s.dense_kind = SSM_DENSE_MULTI_HOT;
        s.get = image_get;
        break;
    default:
        s.x_ndim = 2, s.x_shape[0] = SEG_N, s.x_shape[1] = 3;
        s.get = cloud_get, s.has_tokens = 1, s.get_extra = cloud_parts;
    }
    return s;
}

static int n_sets(const eval_case *c) {
    int n = 0;
    while (c->sets[n])
        n++;
    return n;
}

// 1 when every field of every line of a and b agrees: numbers within VALUE_BAR (relative,
// absolute below 1), other text exactly. Prints the first difference.
static int same_csv(const char *a, const char *b) {
    char *x = cf_read_file(a, NULL), *y = cf_read_file(b, NULL);
    int ok = x && y;
    char *sx = NULL, *sy = NULL;
    for (char *p = ok ? strtok_r(x, ",\n", &sx) : NULL, *q = ok ? strtok_r(y, ",\n", &sy) : NULL;
         ok && (p || q); p = strtok_r(NULL, ",\n", &sx), q = strtok_r(NULL, ",\n", &sy)) {
        if (!p || !q) {
            fprintf(stderr, "%s and %s: different lengths\n", a, b);
            ok = 0;
            break;
        }
        char *ep, *eq;
        double u = strtod(p, &ep), v = strtod(q, &eq);
        int num = ep != p && !*ep && eq != q && !*eq;
        if (num ? !(fabs(u - v) <= VALUE_BAR * fmax(1, fabs(u)) || (isnan(u) && isnan(v)))
                : strcmp(p, q) != 0) {
            fprintf(stderr, "%s and %s differ: '%s' vs '%s'\n", a, b, p, q);
            ok = 0;
        }
    }
    if (!x || !y)
        fprintf(stderr, "%s or %s missing\n", a, b);
    free(x);
    free(y);
    return ok;
}

// Evaluates case `which` on the whole split and on this rank's range of it (d: the ranks;
// alone: one range), compares the metrics, and (rank 0) the test reports written to
// dir/one and dir/ranks. Returns the number of failed checks, each printed.
static int eval_case_check(int which, const ssm_dist *d, const char *dir) {
    const eval_case *c = &CASES[which];
    const int rank = d ? d->rank : 0, size = d && d->active ? d->size : 1;
    ssm_error e = {0};
    int bad = 0;
#define ECHECK(cond, ...)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s, rank %d of %d: ", c->name, rank, size);                   \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            bad++;                                                                         \
        }                                                                                  \
    } while (0)
    ssm_config cfg;
    ssm_code rc = ssm_config_resolve_checked(&cfg, NULL, c->sets, n_sets(c), task_check_config, &e);
    ECHECK(rc == SSM_OK, "config: %s", e.msg);
    if (rc)
        return bad;
    ssm_batcher one, part;
    ssm_batcher_opts o = {.batch_size = c->eval_bs, .seed = 11, .fixed_keys = 1};
    ssm_sample_source s1 = source_of(which, c->n), s2 = source_of(which, c->n);
    rc = ssm_batcher_init(&one, &s1, NULL, 0, &o, &e);
    if (!rc)
        rc = ssm_batcher_init(&part, &s2, NULL, 0, &o, &e);
    if (!rc)
        rc = ssm_batcher_shard(&part, SSM_SHARD_SPLIT, rank, size, &e);
    ECHECK(rc == SSM_OK, "batchers: %s", e.msg);
    // segment: 2 categories (num_classes) of 5 parts; the others: the task's classes
    task_data_info info = {.num_classes = which == 2 ? 2 : cfg.task.num_classes};
    if (which == 0) {
        info.input = (ssm_input_shape){.ndim = 1, .dims = {MIL_F}};
        info.max_tokens = one.opts.max_tokens;
    } else if (which == 1) {
        info.input = (ssm_input_shape){.ndim = 3, .dims = {1, 8, 8}};
    } else {
        info.input = (ssm_input_shape){.ndim = 2, .dims = {SEG_N, 3}};
        info.num_parts = 5;
        info.part_range = PART_RANGE;
    }
    ssm_task *t = NULL;
    if (!rc) {
        rc = task_create(&t, &cfg, &info, c->eval_bs, &e);
        ECHECK(rc == SSM_OK, "task_create: %s", e.msg);
    }
    task_metrics m1, m2;
    char d1[600], d2[600];
    snprintf(d1, sizeof d1, "%s/one", dir);
    snprintf(d2, sizeof d2, "%s/ranks", dir);
    if (!rc) {
        mkdir(d1, 0755);
        mkdir(d2, 0755);
        rc = task_evaluate(t, &one, &m1, &e); // one process: the whole split, no reduction
        if (!rc && rank == 0)
            rc = t->vt->test_report(t, d1, &e);
        t->dist = d;
        if (!rc)
            rc = task_evaluate(t, &part, &m2, &e); // this rank's range, then eval_reduce
        if (!rc && rank == 0)
            rc = t->vt->test_report(t, d2, &e);
        ECHECK(rc == SSM_OK, "evaluate: %s", e.msg);
    }
    if (!rc) {
        ECHECK(m1.samples == c->n && m2.samples == c->n, "samples %lld and %lld of %lld",
               (long long)m1.samples, (long long)m2.samples, (long long)c->n);
        ECHECK(m1.n == m2.n && m1.n >= 3, "%d and %d metrics", m1.n, m2.n);
        for (int i = 0; i < m1.n && i < m2.n; i++) {
            double a = m1.value[i], b = m2.value[i];
            ECHECK(!strcmp(m1.key[i], m2.key[i]) &&
                       ((isnan(a) && isnan(b)) || fabs(a - b) <= VALUE_BAR * fmax(1, fabs(a))),
                   "%s: one process %.9g, %d ranks %s %.9g", m1.key[i], a, size, m2.key[i], b);
            if (rank == 0 && size > 1)
                fprintf(stderr, "%s %s: one process %.17g, %d ranks %.17g\n", c->name, m1.key[i], a,
                        size, b);
        }
        for (int k = 0; k < 2 && rank == 0 && c->reports[k]; k++) {
            char a[700], b[700];
            snprintf(a, sizeof a, "%s/%s", d1, c->reports[k]);
            snprintf(b, sizeof b, "%s/%s", d2, c->reports[k]);
            ECHECK(same_csv(a, b), "the test reports %s differ", c->reports[k]);
        }
    }
    task_free(t);
    ssm_batcher_free(&one);
    ssm_batcher_free(&part);
    return bad;
#undef ECHECK
}

static void make_dir(char *dir, size_t n) {
    snprintf(dir, n, "/tmp/ssmkit_dist_eval_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

// Alone: the split as one range (the path a sharded evaluation takes) equals the whole split.
START_TEST(one_range_equals_the_split) {
    char dir[64];
    make_dir(dir, sizeof dir);
    ssm_dist d;
    ssm_error e;
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMI_SIZE"), unsetenv("PMIX_RANK");
    ck_assert_int_eq(ssm_dist_init(&d, NULL, NULL, &e), SSM_OK);
    for (int i = 0; i < 3; i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s/%d", dir, i);
        mkdir(sub, 0755);
        ck_assert_int_eq(eval_case_check(i, &d, sub), 0);
    }
    ssm_dist_finalize(&d);
    remove_dir(dir);
}
END_TEST

// Under `mpirun -np 2 test_dist_eval --ranks DIR`: 0 when every case agreed on this rank.
static int rank_checks(const char *dir) {
    ssm_dist d;
    ssm_error e = {0};
    if (ssm_dist_init(&d, NULL, NULL, &e) || !d.active || d.size != 2) {
        fprintf(stderr, "rank checks: not 2 MPI ranks (%s)\n", e.msg);
        return 1;
    }
    int bad = 0;
    for (int i = 0; i < 3; i++) {
        char sub[700];
        snprintf(sub, sizeof sub, "%s/%d", dir, i);
        if (d.rank == 0)
            mkdir(sub, 0755);
        bad += eval_case_check(i, &d, sub);
    }
    ssm_dist_finalize(&d);
    return bad;
}

START_TEST(two_ranks_equal_one_process) {
#ifdef __SANITIZE_ADDRESS__
    fprintf(stderr, "two_ranks_equal_one_process: skipped in the sanitizer build\n");
    return;
#endif
    if (strcmp(ssm_dist_backend(), "mpi")) {
        fprintf(stderr, "two_ranks_equal_one_process: skipped (built without MPI)\n");
        return;
    }
    if (system("command -v mpirun > /dev/null 2>&1") != 0) {
        fprintf(stderr, "two_ranks_equal_one_process: skipped (no mpirun: apt-get install "
                        "openmpi-bin)\n");
        return;
    }
    char self[1024], cmd[1600], dir[64];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    ck_assert(n > 0);
    self[n] = 0;
    make_dir(dir, sizeof dir);
    snprintf(cmd, sizeof cmd, "mpirun %s --oversubscribe --bind-to none -np 2 %s --ranks %s",
             geteuid() == 0 ? "--allow-run-as-root" : "", self, dir);
    int rc = system(cmd);
    remove_dir(dir);
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (%d)", cmd, rc);
}
END_TEST

int main(int argc, char **argv) {
    if (argc > 2 && !strcmp(argv[1], "--ranks"))
        return rank_checks(argv[2]) ? 1 : 0;
    Suite *s = suite_create("dist_eval");
    TCase *tc = tcase_create("dist_eval");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_range_equals_the_split);
    tcase_add_test(tc, two_ranks_equal_one_process);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
