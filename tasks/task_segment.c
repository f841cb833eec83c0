// defines: ssm_task_segment (the task "segment")
// Part segmentation: a class (part) per point, ShapeNetPart's protocol. Model: the segment
// head (tasks/head_segment.c: tokens propagated back to every point, conditioned on the
// shape's category) with a cross-entropy per point over all task.num_classes parts (label
// smoothing task.label_smoothing), as PointMamba trains. The batch's y [B] are the shapes'
// categories (handed to the head before every forward: an input, not a target) and its
// y_tokens [B, N] the points' parts (the targets). Evaluation: the mean cross-entropy per
// point (all parts, no smoothing), and with the category-conditioned prediction (argmax
// over the category's parts only) instance mIoU, class mIoU and point accuracy
// (tasks/metrics_seg.h); primary instance_miou. The test report miou_test.csv gives each
// category's shapes and mean IoU. predict prints each point's best part over all parts
// (a sample alone carries no category).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/loss.h"
#include "tasks/head_segment.h"
#include "tasks/metrics_reduce.h"
#include "tasks/metrics_seg.h"
#include "tasks/task.h"

typedef struct {
    seg_metrics sm;   // the last evaluation's
    double loss_sum;  // the evaluation's summed cross-entropy (per point)
    int64_t n;        // points
    int64_t N, P;     // points per cloud, parts
    real *probs;      // [B_max * N, P] host scratch of the evaluation's loss
    real *losses;     // [B_max * N]
} segment_task;

static ssm_code st_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    const ssm_task_config *t = &c->task;
    if (t->num_classes < 2) {
        *key = "task.num_classes";
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, task.name segment needs the "
                        "number of parts (at least 2; ShapeNetPart: 50)", (long long)t->num_classes);
    }
    if (t->loss != SSM_LOSS_AUTO && t->loss != SSM_LOSS_CE) {
        *key = "task.loss";
        return ssm_fail(err, SSM_ECONFIG, "task.loss must be auto or ce for task.name segment");
    }
    if (strcmp(t->tta, "none")) {
        *key = "task.tta";
        return ssm_fail(err, SSM_ECONFIG, "task.tta: segment has no test-time augmentation; set "
                        "task.tta: none");
    }
    return SSM_OK;
}

static ssm_code st_configure(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                             ssm_error *err) {
    if (d->num_parts < 1 || !d->part_range || d->num_classes < 1)
        return ssm_fail(err, SSM_ECONFIG, "task.name segment needs per-point part labels and "
                        "each category's parts: data.name shapenetpart or parts");
    if (d->num_parts != c->task.num_classes)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld but the data has %lld parts",
                        (long long)c->task.num_classes, (long long)d->num_parts);
    s->head = "segment";
    s->head_opt.num_classes = c->task.num_classes;
    s->head_opt.categories = d->num_classes > 1 ? d->num_classes : 0;
    s->head_opt.seg_dim = c->task.seg_dim;
    s->loss = (loss_spec){.kind = LOSS_CE, .smoothing = c->task.label_smoothing};
    return SSM_OK;
}

static void st_free(ssm_task *t) {
    segment_task *c = t->impl;
    if (!c)
        return;
    seg_metrics_free(&c->sm);
    free(c->probs);
    free(c->losses);
    free(c);
    t->impl = NULL;
}

static ssm_code st_init(ssm_task *t, const ssm_config *cfg, const task_data_info *d,
                        ssm_error *err) {
    segment_task *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->impl = c;
    c->N = t->model.rows;
    c->P = t->model.K / c->N;
    const int64_t R = t->model.B_max * c->N;
    c->probs = malloc((size_t)(R * c->P) * sizeof(real));
    c->losses = malloc((size_t)R * sizeof(real));
    if (!c->probs || !c->losses)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the evaluation's loss");
    SSM_TRY(seg_metrics_init(&c->sm, d->num_classes, d->part_range, c->P, err));
    t->primary = "instance_miou";
    t->lower_is_better = 0;
    return SSM_OK;
}

// The batch's categories into the head, its parts checked against the data's shape.
static ssm_code batch_in(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    const segment_task *c = t->impl;
    if (!b->y_tokens || !b->y)
        return ssm_fail(err, SSM_EDATA, "segment: the batch has no %s",
                        b->y ? "per-point part labels" : "categories");
    if (b->ndim != 3 || b->shape[1] != c->N)
        return ssm_fail(err, SSM_EDATA, "segment: clouds of %lld points, the model has %lld",
                        (long long)(b->ndim > 1 ? b->shape[1] : 0), (long long)c->N);
    return ssm_head_segment_set_categories(t->model.head, b->y, b->B, err);
}

static ssm_code st_targets(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err) {
    SSM_TRY(batch_in(t, b, err));
    *out = (ssm_targets){.cls = b->y_tokens};
    return SSM_OK;
}

static void st_eval_begin(ssm_task *t) {
    segment_task *c = t->impl;
    seg_metrics_reset(&c->sm);
    c->loss_sum = 0;
    c->n = 0;
}

static ssm_code st_eval_batch(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    segment_task *c = t->impl;
    SSM_TRY(batch_in(t, b, err));
    const real *logits;
    SSM_TRY(model_predict(&t->model, b->x, b->B, &logits, err));
    SSM_TRY(seg_metrics_add(&c->sm, logits, b->y, b->y_tokens, b->B, c->N, err));
    const int64_t R = b->B * c->N;
    cross_entropy_forward(c->losses, c->probs, logits, b->y_tokens, R, c->P, 0);
    for (int64_t i = 0; i < R; i++)
        c->loss_sum += c->losses[i];
    c->n += R;
    return SSM_OK;
}

static void st_eval_end(ssm_task *t, task_metrics *out) {
    segment_task *c = t->impl;
    task_metrics_set(out, "loss", c->n ? c->loss_sum / (double)c->n : NAN);
    task_metrics_set(out, "instance_miou", seg_metrics_instance_miou(&c->sm));
    task_metrics_set(out, "class_miou", seg_metrics_class_miou(&c->sm));
    task_metrics_set(out, "accuracy", seg_metrics_accuracy(&c->sm));
}

// Data-parallel evaluation: the shape IoU sums and counts (all, per category), the points
// and the loss sums summed over the ranks (tasks/metrics_reduce.h).
static ssm_code st_eval_reduce(ssm_task *t, const ssm_dist *d, ssm_error *err) {
    segment_task *c = t->impl;
    SSM_TRY(seg_metrics_allreduce(&c->sm, d, err));
    return metrics_allreduce_sum(d, &c->loss_sum, 1, &c->n, 1, err);
}

static ssm_code st_test_report(ssm_task *t, const char *run_dir, ssm_error *err) {
    segment_task *c = t->impl;
    char path[1200];
    snprintf(path, sizeof path, "%s/miou_test.csv", run_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot write", path);
    fprintf(f, "category,shapes,miou\n");
    for (int64_t k = 0; k < c->sm.n_cat; k++) {
        const char *name = t->class_names && t->class_names[k] ? t->class_names[k] : NULL;
        if (name)
            fprintf(f, "%s,", name);
        else
            fprintf(f, "%lld,", (long long)k);
        if (c->sm.cat_n[k])
            fprintf(f, "%lld,%.6f\n", (long long)c->sm.cat_n[k],
                    c->sm.cat_sum[k] / (double)c->sm.cat_n[k]);
        else
            fprintf(f, "0,\n");
    }
    fprintf(f, "instance,%lld,%.6f\nclass,,%.6f\n", (long long)c->sm.shapes,
            seg_metrics_instance_miou(&c->sm), seg_metrics_class_miou(&c->sm));
    if (fclose(f) != 0)
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    return SSM_OK;
}

// Each point's best part over all parts, tab-separated.
static void st_predict_line(const ssm_task *t, FILE *f, const real *lg, int top) {
    const segment_task *c = t->impl;
    for (int64_t i = 0; i < c->N; i++) {
        int64_t best = 0;
        for (int64_t j = 1; j < c->P; j++)
            best = lg[i * c->P + j] > lg[i * c->P + best] ? j : best;
        fprintf(f, "\t%lld", (long long)best);
    }
}

const ssm_task_vtable ssm_task_segment = {
    .name = "segment",
    .summary = "a part per point (ShapeNetPart): cross-entropy per point; instance mIoU, class "
               "mIoU, accuracy with category-conditioned masking",
    .check_config = st_check_config,
    .configure = st_configure,
    .init = st_init,
    .targets = st_targets,
    .eval_begin = st_eval_begin,
    .eval_batch = st_eval_batch,
    .eval_end = st_eval_end,
    .test_report = st_test_report,
    .predict_line = st_predict_line,
    .free_impl = st_free,
    .eval_reduce = st_eval_reduce,
};
