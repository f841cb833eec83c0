// defines: task_classify_wrap (the classify task, see task.h)
// Training loss: cross-entropy with label smoothing; evaluation: mean
// cross-entropy without smoothing, accuracy, top-5, macro-F1 (tasks/metrics.h).
// The last evaluation's confusion matrix is kept for the test report.
#include <stdlib.h>
#include <string.h>

#include "kernels/loss.h"
#include "tasks/task.h"
#include "tasks/train_classify.h"

typedef struct {
    classify_model *m;
    const char *const *class_names;
    class_metrics cm; // the last evaluation's counts
    classify_tta tta; // test-time augmentation of evaluate (task.tta)
} classify_task;

static ssm_code ct_loss_and_grad(ssm_task *t, const ssm_batch *b, double *loss, ssm_error *err) {
    classify_task *c = t->impl;
    if (!b->y)
        return ssm_fail(err, SSM_EDATA, "classify: the batch has no labels");
    const real *x;
    const int32_t *y;
    SSM_TRY(classify_model_batch_in(c->m, b->x, b->y, b->B, &x, &y, err));
    return classify_model_loss_and_grad(c->m, x, y, b->B, loss, err);
}

static ssm_code ct_evaluate(ssm_task *t, ssm_batcher *bt, task_metrics *out, ssm_error *err) {
    classify_task *c = t->impl;
    memset(out, 0, sizeof *out);
    class_metrics_reset(&c->cm);
    double loss;
    SSM_TRY(evaluate_classify(c->m, &c->tta, bt, &c->cm, &loss, err));
    out->samples = *c->cm.n;
    task_metrics_set(out, "loss", loss);
    task_metrics_set(out, "accuracy", class_metrics_accuracy(&c->cm));
    task_metrics_set(out, "top5", class_metrics_topk_accuracy(&c->cm));
    task_metrics_set(out, "macro_f1", class_metrics_macro_f1(&c->cm));
    return SSM_OK;
}

static ssm_code ct_test_report(ssm_task *t, const char *run_dir, ssm_error *err) {
    classify_task *c = t->impl;
    char path[1200];
    snprintf(path, sizeof path, "%s/confusion_test.csv", run_dir);
    return class_metrics_write_confusion_csv(&c->cm, path, c->class_names, err);
}

static void ct_free(ssm_task *t) {
    classify_task *c = t->impl;
    if (!c)
        return;
    class_metrics_free(&c->cm);
    classify_tta_free(&c->tta);
    free(c);
    t->impl = NULL;
}

static const ssm_task_vtable classify_vt = {
    .name = "classify",
    .loss_and_grad = ct_loss_and_grad,
    .evaluate = ct_evaluate,
    .test_report = ct_test_report,
    .free_impl = ct_free,
};

ssm_code task_classify_wrap(ssm_task *t, classify_model *m, const char *const *class_names,
                            ssm_error *err) {
    memset(t, 0, sizeof *t);
    classify_task *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    c->m = m;
    c->class_names = class_names;
    ssm_code rc = class_metrics_init(&c->cm, m->V, 5, err);
    if (rc) {
        free(c);
        return rc;
    }
    t->vt = &classify_vt;
    t->params = &m->params;
    t->work = classify_model_params(m);
    t->dev = train_device_get(&m->device);
    t->trunk = &m->trunk;
    t->primary = "accuracy";
    t->lower_is_better = 0;
    t->impl = c;
    return SSM_OK;
}

ssm_code task_classify_set_tta(ssm_task *t, int hflip, const ssm_input_shape *in, ssm_error *err) {
    classify_task *c = t->impl;
    classify_tta_free(&c->tta);
    return classify_tta_init(&c->tta, hflip, in, c->m->B_max, c->m->V, err);
}
