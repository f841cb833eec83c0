// defines: ssm_task_mil (the task "mil")
// Multiple-instance learning: one class per bag (a variable number of instances, packed:
// docs/design.md "Variable length"). Model: a ragged adapter (bag_features) and the bag
// head (tasks/head_bag.c: ABMIL attention or gated attention, mean, max or class-token
// pooling; task.pool, task.attn_dim) with cross-entropy. Evaluation: loss, accuracy,
// balanced accuracy, macro-F1, AUC (binary, or one-vs-rest macro as CLAM computes it);
// the primary metric is the validation loss (lower), as CLAM's early stopping uses: AUC
// and accuracy tie on the small validation splits MIL sets have. The test report writes
// predictions_test.csv (per bag: id, name, label, probabilities) and, with attention
// pooling, attention_test.csv (per instance: bag, position, weight).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/device_select.h"
#include "kernels/loss.h"
#include "tasks/head_bag.h"
#include "tasks/metrics_reduce.h"
#include "tasks/task.h"
#if SSM_HAVE_CUDA
#include "kernels/cuda/common.h"
#endif

typedef struct {
    class_metrics cm;
    score_metrics sm;
    double loss_sum;
    int64_t n;
    real *probs, *losses;        // [B_max, V], [B_max] host scratch of the evaluation's loss
    // what the test report writes (the last evaluation's)
    int64_t *ids;                // [cap] source ids of the evaluated bags
    int64_t *lens;               // [cap] their instance counts
    int64_t cap;
    real *attn;                  // [attn_cap] per-instance attention, bags in order
    int64_t attn_n, attn_cap;
    real *attn_host;             // [T_max] download buffer (CUDA)
    const char *const *names;    // test sample names by source id, or NULL
} mil_task;

static ssm_code mt_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    if (c->task.num_classes < 2) {
        *key = "task.num_classes";
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, task.name mil needs at "
                        "least 2", (long long)c->task.num_classes);
    }
    if (c->task.loss != SSM_LOSS_AUTO && c->task.loss != SSM_LOSS_CE) {
        *key = "task.loss";
        return ssm_fail(err, SSM_ECONFIG, "task.loss must be auto or ce for task.name mil");
    }
    if (c->task.pool == SSM_POOL_LAST) {
        *key = "task.pool";
        return ssm_fail(err, SSM_ECONFIG, "task.pool last: a bag has no order to take the last "
                        "of; mil takes attention, gated, mean, max or cls");
    }
    return SSM_OK;
}

static ssm_bag_pool bag_pool_of(ssm_pool_kind p) {
    switch (p) {
    case SSM_POOL_GATED: return SSM_BAG_POOL_GATED;
    case SSM_POOL_MEAN: return SSM_BAG_POOL_MEAN;
    case SSM_POOL_MAX: return SSM_BAG_POOL_MAX;
    case SSM_POOL_CLS: return SSM_BAG_POOL_CLS;
    default: return SSM_BAG_POOL_ATTENTION;
    }
}

static ssm_code mt_configure(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                             ssm_error *err) {
    if (d->num_classes > 0 && d->num_classes != c->task.num_classes)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld but the data has %lld classes",
                        (long long)c->task.num_classes, (long long)d->num_classes);
    s->head = "bag";
    s->head_opt.num_classes = c->task.num_classes;
    s->head_opt.bag_pool = bag_pool_of(c->task.pool);
    s->head_opt.attn_dim = c->task.attn_dim;
    s->loss = (loss_spec){.kind = LOSS_CE, .smoothing = c->task.label_smoothing};
    return SSM_OK;
}

static void mt_free(ssm_task *t) {
    mil_task *c = t->impl;
    if (!c)
        return;
    class_metrics_free(&c->cm);
    score_metrics_free(&c->sm);
    free(c->probs);
    free(c->losses);
    free(c->ids);
    free(c->lens);
    free(c->attn);
    free(c->attn_host);
    free(c);
    t->impl = NULL;
}

static ssm_code mt_init(ssm_task *t, const ssm_config *cfg, const task_data_info *d,
                        ssm_error *err) {
    (void)cfg;
    mil_task *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->impl = c;
    const int64_t B = t->model.B_max, V = t->model.K;
    c->probs = malloc((size_t)(B * V) * sizeof(real));
    c->losses = malloc((size_t)B * sizeof(real));
    c->attn_host = malloc((size_t)t->model.trunk.L * sizeof(real));
    if (!c->probs || !c->losses || !c->attn_host)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the evaluation's scratch");
    SSM_TRY(class_metrics_init(&c->cm, V, 1, err));
    SSM_TRY(score_metrics_init(&c->sm, V, err));
    c->names = d->test_sample_names;
    t->primary = "loss";
    t->lower_is_better = 1;
    return SSM_OK;
}

static ssm_code mt_targets(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err) {
    (void)t;
    if (!b->y)
        return ssm_fail(err, SSM_EDATA, "mil: the batch has no bag labels");
    *out = (ssm_targets){.cls = b->y, .weight = b->weight};
    return SSM_OK;
}

static void mt_eval_begin(ssm_task *t) {
    mil_task *c = t->impl;
    class_metrics_reset(&c->cm);
    score_metrics_reset(&c->sm);
    c->loss_sum = 0;
    c->n = 0;
    c->attn_n = 0;
}

static ssm_code grow(void **p, int64_t *cap, int64_t need, size_t elem, ssm_error *err) {
    if (need <= *cap)
        return SSM_OK;
    int64_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the evaluation's record");
    *p = q;
    *cap = n;
    return SSM_OK;
}

// Keeps the batch's ids, lengths and attention weights for the test report.
static ssm_code record(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    mil_task *c = t->impl;
    int64_t cap = c->cap;
    SSM_TRY(grow((void **)&c->ids, &cap, c->n + b->B, sizeof *c->ids, err));
    cap = c->cap;
    SSM_TRY(grow((void **)&c->lens, &cap, c->n + b->B, sizeof *c->lens, err));
    c->cap = cap;
    for (int64_t i = 0; i < b->B; i++) {
        c->ids[c->n + i] = b->index ? b->index[i] : c->n + i;
        c->lens[c->n + i] = b->offsets ? b->offsets[i + 1] - b->offsets[i] : 0;
    }
    const real *a = ssm_head_bag_attention(t->model.head);
    if (!a || !b->offsets)
        return SSM_OK;
    const ssm_trunk *tr = &t->model.trunk;
    const int64_t T = tr->tpack.total;
#if SSM_HAVE_CUDA
    if (t->model.device.kind == SSM_DEVICE_CUDA) {
        if (ssm_cuda_download(c->attn_host, a, (size_t)T * sizeof(real)))
            return ssm_fail(err, SSM_EDEVICE, "mil: copying the attention weights back failed");
        a = c->attn_host;
    }
#endif
    // Instances only: a class token (the first token of each bag) has its weight too.
    SSM_TRY(grow((void **)&c->attn, &c->attn_cap, c->attn_n + b->tokens, sizeof *c->attn, err));
    for (int64_t i = 0; i < b->B; i++) {
        int64_t t0 = tr->tok_off[i] + tr->extra, n = b->offsets[i + 1] - b->offsets[i];
        memcpy(c->attn + c->attn_n, a + t0, (size_t)n * sizeof(real));
        c->attn_n += n;
    }
    (void)T;
    return SSM_OK;
}

static ssm_code mt_eval_batch(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    mil_task *c = t->impl;
    if (!b->y)
        return ssm_fail(err, SSM_EDATA, "mil: the batch has no bag labels");
    const real *logits;
    const int64_t V = t->model.K;
    SSM_TRY(model_predict(&t->model, b->x, b->B, &logits, err));
    SSM_TRY(class_metrics_add(&c->cm, logits, b->y, b->B, err)); // checks the labels first
    SSM_TRY(score_metrics_add(&c->sm, logits, b->y, b->B, err));
    SSM_TRY(record(t, b, err));
    cross_entropy_forward(c->losses, c->probs, logits, b->y, b->B, V, 0);
    for (int64_t i = 0; i < b->B; i++)
        c->loss_sum += c->losses[i];
    c->n += b->B;
    return SSM_OK;
}

static void mt_eval_end(ssm_task *t, task_metrics *out) {
    mil_task *c = t->impl;
    task_metrics_set(out, "loss", c->n ? c->loss_sum / (double)c->n : NAN);
    task_metrics_set(out, "accuracy", class_metrics_accuracy(&c->cm));
    task_metrics_set(out, "balanced_accuracy", class_metrics_balanced_accuracy(&c->cm));
    task_metrics_set(out, "macro_f1", class_metrics_macro_f1(&c->cm));
    task_metrics_set(out, "auc", score_metrics_auc(&c->sm));
}

// Data-parallel evaluation: the confusion counts and loss sums summed, the bags' scores and
// the test report's record (ids, instance counts, attention weights) gathered in rank order,
// which is the split's order: every rank then holds the whole split's bags.
static ssm_code mt_eval_reduce(ssm_task *t, const ssm_dist *d, ssm_error *err) {
    mil_task *c = t->impl;
    SSM_TRY(class_metrics_allreduce(&c->cm, d, err));
    SSM_TRY(score_metrics_allgather(&c->sm, d, err));
    int64_t n_ids = c->n, n_lens = c->n;
    SSM_TRY(metrics_allgather_rows(d, (void **)&c->ids, &n_ids, sizeof *c->ids, err));
    SSM_TRY(metrics_allgather_rows(d, (void **)&c->lens, &n_lens, sizeof *c->lens, err));
    c->cap = n_ids < n_lens ? n_ids : n_lens;
    SSM_TRY(metrics_allgather_rows(d, (void **)&c->attn, &c->attn_n, sizeof *c->attn, err));
    c->attn_cap = c->attn_n;
    SSM_TRY(metrics_allreduce_sum(d, &c->loss_sum, 1, &c->n, 1, err));
    if (n_ids != c->n || n_lens != c->n || c->sm.n != c->n)
        return ssm_fail(err, SSM_EINVAL, "mil: the ranks evaluated %lld bags but gathered %lld "
                        "ids and %lld scores", (long long)c->n, (long long)n_ids,
                        (long long)c->sm.n);
    return SSM_OK;
}

static void csv_field(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static ssm_code mt_test_report(ssm_task *t, const char *run_dir, ssm_error *err) {
    mil_task *c = t->impl;
    const int64_t V = c->sm.V;
    char path[1200];
    snprintf(path, sizeof path, "%s/predictions_test.csv", run_dir);
    ssm_atomic_file f;
    SSM_TRY(ssm_atomic_open(&f, path, err));
    fprintf(f.f, "bag,name,instances,label,predicted");
    for (int64_t v = 0; v < V; v++) {
        fprintf(f.f, ",prob_");
        if (t->class_names && t->class_names[v])
            fputs(t->class_names[v], f.f);
        else
            fprintf(f.f, "%lld", (long long)v);
    }
    fprintf(f.f, "\n");
    for (int64_t i = 0; i < c->sm.n; i++) {
        const double *p = c->sm.prob + i * V;
        int64_t best = 0;
        for (int64_t v = 1; v < V; v++)
            if (p[v] > p[best])
                best = v;
        fprintf(f.f, "%lld,", (long long)c->ids[i]);
        csv_field(f.f, c->names && c->names[c->ids[i]] ? c->names[c->ids[i]] : "");
        fprintf(f.f, ",%lld,%d,%lld", (long long)c->lens[i], c->sm.labels[i], (long long)best);
        for (int64_t v = 0; v < V; v++)
            fprintf(f.f, ",%.9g", p[v]);
        fprintf(f.f, "\n");
    }
    SSM_TRY(ssm_atomic_commit(&f, err));
    if (!c->attn_n)
        return SSM_OK;
    snprintf(path, sizeof path, "%s/attention_test.csv", run_dir);
    SSM_TRY(ssm_atomic_open(&f, path, err));
    fprintf(f.f, "bag,instance,attention\n");
    int64_t k = 0;
    for (int64_t i = 0; i < c->sm.n && k < c->attn_n; i++)
        for (int64_t j = 0; j < c->lens[i] && k < c->attn_n; j++, k++)
            fprintf(f.f, "%lld,%lld,%.9g\n", (long long)c->ids[i], (long long)j, c->attn[k]);
    return ssm_atomic_commit(&f, err);
}

// One bag's class probabilities (softmax in double), "name probability" for each class.
static void mt_predict_line(const ssm_task *t, FILE *f, const real *lg, int top) {
    (void)top;
    const int64_t V = t->model.K;
    double mx = -INFINITY, z = 0;
    for (int64_t v = 0; v < V; v++)
        mx = fmax(mx, lg[v]);
    for (int64_t v = 0; v < V; v++)
        z += exp(lg[v] - mx);
    for (int64_t v = 0; v < V; v++) {
        if (t->class_names && t->class_names[v])
            fprintf(f, "\t%s %.6f", t->class_names[v], exp(lg[v] - mx) / z);
        else
            fprintf(f, "\t%lld %.6f", (long long)v, exp(lg[v] - mx) / z);
    }
}

const ssm_task_vtable ssm_task_mil = {
    .name = "mil",
    .summary = "one class per bag of instances (packed, any length): cross-entropy; accuracy, "
               "balanced accuracy, macro-F1, AUC",
    .check_config = mt_check_config,
    .configure = mt_configure,
    .init = mt_init,
    .targets = mt_targets,
    .eval_begin = mt_eval_begin,
    .eval_batch = mt_eval_batch,
    .eval_end = mt_eval_end,
    .test_report = mt_test_report,
    .predict_line = mt_predict_line,
    .free_impl = mt_free,
    .eval_reduce = mt_eval_reduce,
};
