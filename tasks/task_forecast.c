// defines: task_forecast_wrap, evaluate_forecast (the forecast task, see task.h)
// Training loss: MSE or MAE (task.loss) on the dataset's standardised scale.
// Evaluation: over every window of the split, the mean over windows x
// horizon x target variates of the squared and absolute error, on the
// standardised scale (mse, mae: the numbers papers report) and in the data's
// original units (mse_orig, mae_orig: each target column's error times the
// scaler's std), and the training criterion (loss).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/task.h"

typedef struct {
    forecast_model *m;
    double *std; // [Vout] or NULL
} forecast_task;

static ssm_code ft_loss_and_grad(ssm_task *t, const ssm_batch *b, double *loss, ssm_error *err) {
    forecast_task *f = t->impl;
    if (!b->y_dense)
        return ssm_fail(err, SSM_EDATA, "forecast: the batch has no targets");
    return forecast_model_loss_and_grad(f->m, b->x, b->y_dense, b->B, loss, err);
}

static ssm_code ft_evaluate(ssm_task *t, ssm_batcher *bt, task_metrics *out, ssm_error *err) {
    forecast_task *f = t->impl;
    forecast_model *m = f->m;
    memset(out, 0, sizeof *out);
    double sse = 0, sae = 0, sse_o = 0, sae_o = 0;
    int64_t n = 0;
    for (;;) {
        const ssm_batch *b;
        SSM_TRY(ssm_batcher_next(bt, &b, err));
        if (!b)
            break;
        SSM_TRY(forecast_model_forward(m, b->x, b->B, err));
        forecast_errors(&sse, &sae, &sse_o, &sae_o, m->pred, b->y_dense, f->std, b->B, m->H, m->G,
                        m->Vout);
        n += b->B;
    }
    double cnt = (double)n * (double)m->H * (double)m->Vout;
    out->samples = n;
    double mse = n ? sse / cnt : NAN, mae = n ? sae / cnt : NAN;
    task_metrics_set(out, "loss", m->mae ? mae : mse);
    task_metrics_set(out, "mse", mse);
    task_metrics_set(out, "mae", mae);
    task_metrics_set(out, "mse_orig", n ? sse_o / cnt : NAN);
    task_metrics_set(out, "mae_orig", n ? sae_o / cnt : NAN);
    return SSM_OK;
}

static void ft_free(ssm_task *t) {
    forecast_task *f = t->impl;
    if (!f)
        return;
    free(f->std);
    free(f);
    t->impl = NULL;
}

static const ssm_task_vtable forecast_vt = {
    .name = "forecast",
    .loss_and_grad = ft_loss_and_grad,
    .evaluate = ft_evaluate,
    .test_report = NULL,
    .free_impl = ft_free,
};

ssm_code task_forecast_wrap(ssm_task *t, forecast_model *m, const double *out_std, ssm_error *err) {
    memset(t, 0, sizeof *t);
    forecast_task *f = calloc(1, sizeof *f);
    if (!f)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    f->m = m;
    if (out_std) {
        f->std = malloc((size_t)m->Vout * sizeof *f->std);
        if (!f->std) {
            free(f);
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        }
        memcpy(f->std, out_std, (size_t)m->Vout * sizeof *f->std);
    }
    t->vt = &forecast_vt;
    t->params = &m->params;
    t->work = &m->params;
    t->dev = &train_device_cpu;
    t->trunk = &m->trunk;
    t->primary = m->mae ? "mae" : "mse";
    t->lower_is_better = 1;
    t->impl = f;
    return SSM_OK;
}
