// defines: ssm_task_forecast (the task "forecast")
// Multivariate forecasting of the next H steps of the target columns. Model: the
// forecast head (tasks/head_forecast.c, RevIN inverted) with task.loss mse (default,
// also auto) or mae, on the dataset's standardised scale; targets y_dense [B, H, Vout].
// Evaluation: over every window of the split, the mean over windows x horizon x target
// variates of the squared and absolute error, on the standardised scale (mse, mae: the
// numbers papers report) and in the data's original units (mse_orig, mae_orig), and
// the training criterion (loss). predict prints the forecast, step-major.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/metrics_reduce.h"
#include "tasks/task.h"

typedef struct {
    value_metrics vm;
    int mae;
} forecast_task;

static ssm_code ft_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    if (c->task.loss == SSM_LOSS_CE || c->task.loss == SSM_LOSS_BCE) {
        *key = "task.loss";
        return ssm_fail(err, SSM_ECONFIG, "task.loss %s does not apply to task.name %s; use auto, "
                        "mse or mae", c->task.loss == SSM_LOSS_CE ? "ce" : "bce", c->task.name);
    }
    return SSM_OK;
}

static ssm_code ft_configure(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                             ssm_error *err) {
    if (d->horizon < 1 || d->out_vars < 1)
        return ssm_fail(err, SSM_ECONFIG,
                        "task.name %s needs a series dataset (data.name ett or csv)", c->task.name);
    s->head = "forecast";
    s->head_opt.horizon = d->horizon;
    s->head_opt.out_vars = d->out_vars;
    s->loss.kind = c->task.loss == SSM_LOSS_MAE ? LOSS_MAE : LOSS_MSE;
    return SSM_OK;
}

static void ft_free(ssm_task *t) {
    forecast_task *f = t->impl;
    if (!f)
        return;
    value_metrics_free(&f->vm);
    free(f);
    t->impl = NULL;
}

static ssm_code ft_init(ssm_task *t, const ssm_config *c, const task_data_info *d,
                        ssm_error *err) {
    forecast_task *f = calloc(1, sizeof *f);
    if (!f)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->impl = f;
    f->mae = t->model.loss.kind == LOSS_MAE;
    SSM_TRY(value_metrics_init(&f->vm, d->out_vars, d->out_std, err));
    t->primary = f->mae ? "mae" : "mse";
    t->lower_is_better = 1;
    return SSM_OK;
}

static ssm_code ft_targets(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err) {
    if (!b->y_dense || b->dense_kind != SSM_DENSE_VALUES)
        return ssm_fail(err, SSM_EDATA, "forecast: the batch has no real-valued targets");
    *out = (ssm_targets){.values = b->y_dense, .weight = b->weight};
    return SSM_OK;
}

static void ft_eval_begin(ssm_task *t) {
    forecast_task *f = t->impl;
    value_metrics_reset(&f->vm);
}

static ssm_code ft_eval_batch(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    forecast_task *f = t->impl;
    ssm_targets y = {0};
    SSM_TRY(ft_targets(t, b, &y, err));
    const real *pred;
    SSM_TRY(model_predict(&t->model, b->x, b->B, &pred, err));
    value_metrics_add(&f->vm, pred, y.values, b->B * t->model.K / f->vm.K);
    return SSM_OK;
}

static void ft_eval_end(ssm_task *t, task_metrics *out) {
    forecast_task *f = t->impl;
    value_metrics_report(&f->vm, f->mae, out);
}

// Data-parallel evaluation: the error sums of every rank's range.
static ssm_code ft_eval_reduce(ssm_task *t, const ssm_dist *d, ssm_error *err) {
    forecast_task *f = t->impl;
    return value_metrics_allreduce(&f->vm, d, err);
}

// out [H, Vout]: the H steps, each "v1,v2,..." (the dataset's standardised scale).
static void ft_predict_line(const ssm_task *t, FILE *f, const real *out, int top) {
    const forecast_task *ft = t->impl;
    const int64_t K = ft->vm.K, H = t->model.K / K;
    for (int64_t h = 0; h < H; h++)
        for (int64_t j = 0; j < K; j++)
            fprintf(f, j ? ",%.6g" : "\t%.6g", (double)out[h * K + j]);
}

const ssm_task_vtable ssm_task_forecast = {
    .name = "forecast",
    .summary = "the next H steps of the target columns: MSE or MAE; mse, mae (and in units)",
    .check_config = ft_check_config,
    .configure = ft_configure,
    .init = ft_init,
    .targets = ft_targets,
    .eval_begin = ft_eval_begin,
    .eval_batch = ft_eval_batch,
    .eval_end = ft_eval_end,
    .test_report = NULL,
    .predict_line = ft_predict_line,
    .free_impl = ft_free,
    .eval_reduce = ft_eval_reduce,
};
