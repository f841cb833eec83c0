// defines: ssm_task_classify (the task "classify")
// One class per sample. Model: the class head (tasks/head_class.c), or on packed samples of
// varying length (a ragged adapter: series with data.pack) the bag head's mean or class-token
// pooling of each sample (tasks/head_bag.c), with cross-entropy and label smoothing
// (task.label_smoothing); a batch that carries soft labels (y_dense of kind
// SSM_DENSE_PROBS: mixup, data.augment.mixup) trains on the soft-target cross-entropy
// instead, and multi-hot targets are refused (task.name multilabel reads them). Evaluation
// (on the hard labels y): mean cross-entropy without
// smoothing, accuracy, top-5, macro-F1 (tasks/metrics.h), optionally over each image
// and its mirror, or point clouds over augmented copies (task.tta: hflip, vote:N,
// tasks/classify_tta.h). The last evaluation's confusion matrix is the test report
// (confusion_test.csv, and as a heat map confusion_test.png). predict prints the top K
// classes with their probabilities.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/loss.h"
#include "tasks/classify_tta.h"
#include "tasks/plot_run.h"
#include "tasks/metrics_reduce.h"
#include "tasks/task.h"

typedef struct {
    class_metrics cm; // the last evaluation's counts
    classify_tta tta; // test-time augmentation of evaluate (task.tta)
    double loss_sum;  // the evaluation's summed cross-entropy
    int64_t n;
    real *probs;      // [B_max, V] host scratch of the evaluation's loss
    real *losses;     // [B_max]
} classify_task;

static ssm_code ct_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    if (c->task.pool > SSM_POOL_LAST) {
        *key = "task.pool";
        return ssm_fail(err, SSM_ECONFIG, "task.pool attention, gated and max pool bags: they "
                        "are for task.name mil; classify takes mean, cls or last");
    }
    const ssm_task_config *t = &c->task;
    if (t->num_classes < 2) {
        *key = "task.num_classes";
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, task.name classify needs at "
                        "least 2", (long long)t->num_classes);
    }
    if (t->loss != SSM_LOSS_AUTO && t->loss != SSM_LOSS_CE) {
        *key = "task.loss";
        static const char *const names[] = {"auto", "ce", "mse", "mae", "bce"};
        return ssm_fail(err, SSM_ECONFIG, "task.loss must be auto or ce for task.name classify, "
                        "got %s%s", names[t->loss <= SSM_LOSS_BCE ? t->loss : 0],
                        t->loss == SSM_LOSS_BCE ? " (multi-label: task.name multilabel)" : "");
    }
    return SSM_OK;
}

static ssm_head_pool pool_of(ssm_pool_kind p) {
    return p == SSM_POOL_CLS ? SSM_HEAD_POOL_CLS
         : p == SSM_POOL_LAST ? SSM_HEAD_POOL_LAST : SSM_HEAD_POOL_MEAN;
}

static ssm_code ct_configure(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                             ssm_error *err) {
    if (d->num_classes > 0 && d->num_classes != c->task.num_classes)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld but the data has %lld classes",
                        (long long)c->task.num_classes, (long long)d->num_classes);
    s->head = "class";
    s->head_opt.num_classes = c->task.num_classes;
    s->head_opt.pool = pool_of(c->task.pool);
    if (d->max_tokens > 0) { // packed samples (series of any length): the bag head pools each
        if (!c->data.pack)
            return ssm_fail(err, SSM_ECONFIG, "task.name classify takes packed samples from "
                            "series (data.pack: true); bags of instances are task.name mil");
        if (c->task.pool == SSM_POOL_LAST || strcmp(c->task.tta, "none") != 0)
            return ssm_fail(err, SSM_ECONFIG, "classify on packed samples (data.pack) pools by "
                            "task.pool mean or cls, without task.tta");
        s->head = "bag";
        s->head_opt.bag_pool = c->task.pool == SSM_POOL_CLS ? SSM_BAG_POOL_CLS : SSM_BAG_POOL_MEAN;
    }
    s->loss = (loss_spec){.kind = LOSS_CE, .smoothing = c->task.label_smoothing};
    return SSM_OK;
}

static void ct_free(ssm_task *t) {
    classify_task *c = t->impl;
    if (!c)
        return;
    class_metrics_free(&c->cm);
    classify_tta_free(&c->tta);
    free(c->probs);
    free(c->losses);
    free(c);
    t->impl = NULL;
}

static ssm_code ct_init(ssm_task *t, const ssm_config *cfg, const task_data_info *d,
                        ssm_error *err) {
    classify_task *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->impl = c;
    const int64_t B = t->model.B_max, V = t->model.K;
    c->probs = malloc((size_t)(B * V) * sizeof(real));
    c->losses = malloc((size_t)B * sizeof(real));
    if (!c->probs || !c->losses)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the evaluation's loss");
    SSM_TRY(class_metrics_init(&c->cm, V, 5, err));
    SSM_TRY(classify_tta_init(&c->tta, cfg, &d->input, B, V, err));
    t->primary = "accuracy";
    t->lower_is_better = 0;
    return SSM_OK;
}

static ssm_code ct_targets(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err) {
    if (b->y_dense && b->dense_kind == SSM_DENSE_MULTI_HOT)
        return ssm_fail(err, SSM_EDATA, "classify: the data is multi-label (multi-hot targets): "
                        "use task.name multilabel");
    if (b->y_dense && b->dense_kind == SSM_DENSE_PROBS) { // soft labels (mixup)
        if (b->dense_ndim != 2 || b->dense_shape[1] != t->model.K)
            return ssm_fail(err, SSM_EDATA, "classify: soft labels of %lld values per sample, "
                            "the model has %lld classes",
                            (long long)(b->dense_ndim == 2 ? b->dense_shape[1] : -1),
                            (long long)t->model.K);
        *out = (ssm_targets){.values = b->y_dense, .weight = b->weight};
        return SSM_OK;
    }
    if (!b->y)
        return ssm_fail(err, SSM_EDATA, "classify: the batch has no labels");
    *out = (ssm_targets){.cls = b->y, .weight = b->weight};
    return SSM_OK;
}

static void ct_eval_begin(ssm_task *t) {
    classify_task *c = t->impl;
    class_metrics_reset(&c->cm);
    c->loss_sum = 0;
    c->n = 0;
}

static ssm_code ct_eval_batch(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    classify_task *c = t->impl;
    if (!b->y)
        return ssm_fail(err, SSM_EDATA, "classify: the batch has no labels");
    // On a GPU the logits come down per batch; the loss and metrics are the host's.
    const real *logits;
    const int64_t V = t->model.K;
    SSM_TRY(classify_predict_tta(&t->model, &c->tta, b->x, b->B, &logits, err));
    SSM_TRY(class_metrics_add(&c->cm, logits, b->y, b->B, err)); // checks the labels first
    cross_entropy_forward(c->losses, c->probs, logits, b->y, b->B, V, 0);
    for (int64_t i = 0; i < b->B; i++)
        c->loss_sum += c->losses[i];
    c->n += b->B;
    return SSM_OK;
}

static void ct_eval_end(ssm_task *t, task_metrics *out) {
    classify_task *c = t->impl;
    task_metrics_set(out, "loss", c->n ? c->loss_sum / (double)c->n : NAN);
    task_metrics_set(out, "accuracy", class_metrics_accuracy(&c->cm));
    task_metrics_set(out, "top5", class_metrics_topk_accuracy(&c->cm));
    task_metrics_set(out, "macro_f1", class_metrics_macro_f1(&c->cm));
}

// Data-parallel evaluation: every rank's counts and loss sums (the confusion matrix of the
// test report included).
static ssm_code ct_eval_reduce(ssm_task *t, const ssm_dist *d, ssm_error *err) {
    classify_task *c = t->impl;
    SSM_TRY(class_metrics_allreduce(&c->cm, d, err));
    return metrics_allreduce_sum(d, &c->loss_sum, 1, &c->n, 1, err);
}

static ssm_code ct_test_report(ssm_task *t, const char *run_dir, ssm_error *err) {
    classify_task *c = t->impl;
    char path[1200];
    snprintf(path, sizeof path, "%s/confusion_test.csv", run_dir);
    SSM_TRY(class_metrics_write_confusion_csv(&c->cm, path, t->class_names, err));
    snprintf(path, sizeof path, "%s/confusion_test.png", run_dir); // the same, as a heat map
    ssm_error pe; // a picture that cannot be drawn is not a failed run
    if (plot_confusion_write(path, c->cm.confusion, c->cm.num_classes, t->class_names, &pe))
        ssm_warn("confusion_test.png not written: %s", pe.msg);
    return SSM_OK;
}

// The top `top` classes by logit, each "name probability" (softmax in double).
static void ct_predict_line(const ssm_task *t, FILE *f, const real *lg, int top) {
    const int64_t V = t->model.K;
    double mx = -INFINITY, z = 0;
    for (int64_t v = 0; v < V; v++)
        mx = fmax(mx, lg[v]);
    for (int64_t v = 0; v < V; v++)
        z += exp(lg[v] - mx);
    unsigned char used[4096] = {0};
    for (int k = 0; k < top && k < V && k < 4096; k++) {
        int64_t best = -1;
        for (int64_t v = 0; v < V && v < 4096; v++)
            if (!used[v] && (best < 0 || lg[v] > lg[best]))
                best = v;
        used[best] = 1;
        if (t->class_names && t->class_names[best])
            fprintf(f, "\t%s %.4f", t->class_names[best], exp(lg[best] - mx) / z);
        else
            fprintf(f, "\t%lld %.4f", (long long)best, exp(lg[best] - mx) / z);
    }
}

const ssm_task_vtable ssm_task_classify = {
    .name = "classify",
    .summary = "one class per sample: cross-entropy; accuracy, top-5, macro-F1",
    .check_config = ct_check_config,
    .configure = ct_configure,
    .init = ct_init,
    .targets = ct_targets,
    .eval_begin = ct_eval_begin,
    .eval_batch = ct_eval_batch,
    .eval_end = ct_eval_end,
    .test_report = ct_test_report,
    .predict_line = ct_predict_line,
    .free_impl = ct_free,
    .eval_reduce = ct_eval_reduce,
};
