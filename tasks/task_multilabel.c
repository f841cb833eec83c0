// defines: ssm_task_multilabel (the task "multilabel")
// Any number of classes per sample (AudioSet, VGGSound, multi-label images), as AST and
// Audio Mamba train and report it. Model: the class head (tasks/head_class.c, K logits)
// with binary cross-entropy on the logits, the mean over samples and classes (AST's
// BCEWithLogitsLoss). Targets: the batch's y_dense [B, K] (SSM_DENSE_MULTI_HOT, values in
// [0, 1]: mixup mixes two clips' labels; or SSM_DENSE_PROBS), or, for single-label data,
// the one-hot of y. Evaluation (tasks/metrics.h): loss, mAP (mean over the classes with a
// positive in the split of their average precision; mAP_classes counts them), macro ROC
// AUC (over the classes with both label values), micro-F1 of the predictions at
// task.threshold; primary mAP (higher). The last evaluation's per-class AP, AUC and
// positives are the test report (per_class_test.csv). predict prints the classes whose
// probability reaches task.threshold, most probable first, at most --top of them.
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/loss.h"
#include "tasks/metrics_reduce.h"
#include "tasks/task.h"

typedef struct {
    multilabel_metrics mm; // the evaluation's scores and targets
    double threshold;
    double loss_sum;       // the evaluation's summed BCE (over samples and classes)
    int64_t n;
    real *onehot;          // [B_max, K] targets made from class labels
    real *losses;          // [B_max, K] host scratch of the evaluation's loss
} multilabel_task;

static ssm_code ml_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    const ssm_task_config *t = &c->task;
    if (t->pool > SSM_POOL_LAST) {
        *key = "task.pool";
        return ssm_fail(err, SSM_ECONFIG, "task.pool attention, gated and max pool bags: they "
                        "are for task.name mil; multilabel takes mean, cls or last");
    }
    if (t->num_classes < 1) {
        *key = "task.num_classes";
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, task.name multilabel needs "
                        "at least 1", (long long)t->num_classes);
    }
    if (t->loss != SSM_LOSS_AUTO && t->loss != SSM_LOSS_BCE) {
        *key = "task.loss";
        return ssm_fail(err, SSM_ECONFIG, "task.loss must be auto or bce for task.name "
                        "multilabel (binary cross-entropy per class)");
    }
    if (t->label_smoothing > 0) {
        *key = "task.label_smoothing";
        return ssm_fail(err, SSM_ECONFIG, "task.label_smoothing smooths the cross-entropy of "
                        "task.name classify; multilabel's binary cross-entropy has none (set 0)");
    }
    return SSM_OK;
}

static ssm_head_pool pool_of(ssm_pool_kind p) {
    return p == SSM_POOL_CLS ? SSM_HEAD_POOL_CLS
         : p == SSM_POOL_LAST ? SSM_HEAD_POOL_LAST : SSM_HEAD_POOL_MEAN;
}

static ssm_code ml_configure(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                             ssm_error *err) {
    if (d->num_classes > 0 && d->num_classes != c->task.num_classes)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld but the data has %lld classes",
                        (long long)c->task.num_classes, (long long)d->num_classes);
    s->head = "class";
    s->head_opt.num_classes = c->task.num_classes;
    s->head_opt.pool = pool_of(c->task.pool);
    s->loss = (loss_spec){.kind = LOSS_BCE};
    return SSM_OK;
}

static void ml_free(ssm_task *t) {
    multilabel_task *m = t->impl;
    if (!m)
        return;
    multilabel_metrics_free(&m->mm);
    free(m->onehot);
    free(m->losses);
    free(m);
    t->impl = NULL;
}

static ssm_code ml_init(ssm_task *t, const ssm_config *cfg, const task_data_info *d,
                        ssm_error *err) {
    multilabel_task *m = calloc(1, sizeof *m);
    if (!m)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->impl = m;
    const int64_t B = t->model.B_max, K = t->model.K;
    m->onehot = malloc((size_t)(B * K) * sizeof(real));
    m->losses = malloc((size_t)(B * K) * sizeof(real));
    if (!m->onehot || !m->losses)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the multi-label targets");
    m->threshold = cfg->task.threshold;
    SSM_TRY(multilabel_metrics_init(&m->mm, K, m->threshold, err));
    t->primary = "mAP";
    t->lower_is_better = 0;
    return SSM_OK;
}

// The batch's targets [B, K] on the host: its y_dense, or the one-hot of its labels.
static ssm_code batch_targets(ssm_task *t, const ssm_batch *b, const real **out, ssm_error *err) {
    multilabel_task *m = t->impl;
    const int64_t K = t->model.K;
    if (b->y_dense) {
        if (b->dense_kind == SSM_DENSE_VALUES)
            return ssm_fail(err, SSM_EDATA, "multilabel: the data gives real-valued targets "
                            "(forecast or regression data), not labels");
        if (b->dense_ndim != 2 || b->dense_shape[1] != K)
            return ssm_fail(err, SSM_EDATA, "multilabel: targets of %lld values per sample, the "
                            "model has %lld classes (task.num_classes)",
                            (long long)(b->dense_ndim == 2 ? b->dense_shape[1] : -1),
                            (long long)K);
        *out = b->y_dense;
        return SSM_OK;
    }
    if (!b->y)
        return ssm_fail(err, SSM_EDATA, "multilabel: the batch has no labels");
    for (int64_t i = 0; i < b->B; i++) {
        if (b->y[i] < 0 || b->y[i] >= K)
            return ssm_fail(err, SSM_EDATA, "multilabel: label %d of batch sample %lld is "
                            "outside [0, %lld)", b->y[i], (long long)i, (long long)K);
        real *row = m->onehot + i * K;
        memset(row, 0, (size_t)K * sizeof *row);
        row[b->y[i]] = 1;
    }
    *out = m->onehot;
    return SSM_OK;
}

static ssm_code ml_targets(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err) {
    const real *values = NULL;
    SSM_TRY(batch_targets(t, b, &values, err));
    *out = (ssm_targets){.values = values, .weight = b->weight};
    return SSM_OK;
}

static void ml_eval_begin(ssm_task *t) {
    multilabel_task *m = t->impl;
    multilabel_metrics_reset(&m->mm);
    m->loss_sum = 0;
    m->n = 0;
}

static ssm_code ml_eval_batch(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    multilabel_task *m = t->impl;
    const int64_t K = t->model.K;
    const real *y = NULL, *logits = NULL;
    SSM_TRY(batch_targets(t, b, &y, err));
    // On a GPU the logits come down per batch; the loss and metrics are the host's.
    SSM_TRY(model_predict(&t->model, b->x, b->B, &logits, err));
    SSM_TRY(multilabel_metrics_add(&m->mm, logits, y, b->B, err)); // checks the targets first
    bce_logits_forward(m->losses, logits, y, b->B * K);
    for (int64_t i = 0; i < b->B * K; i++)
        m->loss_sum += m->losses[i];
    m->n += b->B;
    return SSM_OK;
}

static void ml_eval_end(ssm_task *t, task_metrics *out) {
    multilabel_task *m = t->impl;
    multilabel_summary s;
    multilabel_metrics_summarize(&m->mm, &s, NULL, NULL, NULL);
    task_metrics_set(out, "loss", m->n ? m->loss_sum / ((double)m->n * (double)t->model.K) : NAN);
    task_metrics_set(out, "mAP", s.map);
    task_metrics_set(out, "auc", s.auc);
    task_metrics_set(out, "micro_f1", s.micro_f1);
    task_metrics_set(out, "mAP_classes", (double)s.ap_classes);
}

// Data-parallel evaluation: every rank's scores and targets gathered in rank order (mAP and
// AUC rank them all), the loss sums summed; the test report then covers the whole split.
static ssm_code ml_eval_reduce(ssm_task *t, const ssm_dist *d, ssm_error *err) {
    multilabel_task *m = t->impl;
    SSM_TRY(multilabel_metrics_allgather(&m->mm, d, err));
    return metrics_allreduce_sum(d, &m->loss_sum, 1, &m->n, 1, err);
}

// A CSV field, quoted when it holds a comma, quote or newline (AudioSet's display names do).
static void put_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

// per_class_test.csv: class,positives,ap,auc (empty where undefined), written to a temporary
// file and renamed, so that an earlier report is never left half-written.
static ssm_code ml_test_report(ssm_task *t, const char *run_dir, ssm_error *err) {
    multilabel_task *m = t->impl;
    const int64_t K = t->model.K;
    char path[1200], tmp[1210];
    snprintf(path, sizeof path, "%s/per_class_test.csv", run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    double *ap = malloc((size_t)K * sizeof *ap), *auc = malloc((size_t)K * sizeof *auc);
    int64_t *pos = malloc((size_t)K * sizeof *pos);
    FILE *f = ap && auc && pos ? fopen(tmp, "w") : NULL;
    if (!f) {
        ssm_code rc = ap && auc && pos
                          ? ssm_fail(err, SSM_EIO, "%s: cannot open for writing: %s", tmp,
                                     strerror(errno))
                          : ssm_fail(err, SSM_ENOMEM, "out of memory");
        free(ap), free(auc), free(pos);
        return rc;
    }
    multilabel_summary s;
    multilabel_metrics_summarize(&m->mm, &s, ap, auc, pos);
    fputs("class,positives,ap,auc\n", f);
    for (int64_t k = 0; k < K; k++) {
        if (t->class_names && t->class_names[k])
            put_field(f, t->class_names[k]);
        else
            fprintf(f, "%lld", (long long)k);
        fprintf(f, ",%lld,", (long long)pos[k]);
        if (!isnan(ap[k]))
            fprintf(f, "%.6f", ap[k]);
        fputc(',', f);
        if (!isnan(auc[k]))
            fprintf(f, "%.6f", auc[k]);
        fputc('\n', f);
    }
    free(ap), free(auc), free(pos);
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    }
    return SSM_OK;
}

// The classes with probability >= task.threshold, most probable first, at most `top`,
// each "name probability".
static void ml_predict_line(const ssm_task *t, FILE *f, const real *lg, int top) {
    const multilabel_task *m = t->impl;
    const int64_t K = t->model.K;
    unsigned char used[4096] = {0};
    for (int k = 0; k < top && k < K && k < 4096; k++) {
        int64_t best = -1;
        for (int64_t v = 0; v < K && v < 4096; v++)
            if (!used[v] && (best < 0 || lg[v] > lg[best]))
                best = v;
        double l = lg[best], e = exp(-fabs(l)), p = l >= 0 ? 1 / (1 + e) : e / (1 + e);
        if (p < m->threshold)
            break;
        used[best] = 1;
        if (t->class_names && t->class_names[best])
            fprintf(f, "\t%s %.4f", t->class_names[best], p);
        else
            fprintf(f, "\t%lld %.4f", (long long)best, p);
    }
}

const ssm_task_vtable ssm_task_multilabel = {
    .name = "multilabel",
    .summary = "any number of classes per sample: binary cross-entropy; mAP, macro AUC, micro-F1",
    .check_config = ml_check_config,
    .configure = ml_configure,
    .init = ml_init,
    .targets = ml_targets,
    .eval_begin = ml_eval_begin,
    .eval_batch = ml_eval_batch,
    .eval_end = ml_eval_end,
    .test_report = ml_test_report,
    .predict_line = ml_predict_line,
    .free_impl = ml_free,
    .eval_reduce = ml_eval_reduce,
};
