// defines: ssm_task_regress (the task "regress"; the worked example of docs/adding-a-task.md)
// One real value per target column and sample: the value of the target column(s) at
// the LAST step of the window's horizon, i.e. data.horizon steps after the lookback
// ends (ETTh1 with features MS, target OT, horizon 24: the oil temperature 24 hours
// ahead). Model: the regress head (tasks/head_regress.c) with MSE (task.loss auto or
// mse) or MAE on the dataset's standardised scale. Metrics as forecast's: loss, mse,
// mae, mse_orig, mae_orig; primary mse (mae with task.loss mae), lower. predict prints
// the values.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/metrics_reduce.h"
#include "tasks/task.h"

typedef struct {
    value_metrics vm; // K = target columns
    int mae;
    real *y;          // [B_max, K] the batch's targets, picked from y_dense (no malloc per step)
} regress_task;

static ssm_code rt_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    if (c->task.pool > SSM_POOL_LAST) {
        *key = "task.pool";
        return ssm_fail(err, SSM_ECONFIG, "task.pool attention, gated and max pool bags: they "
                        "are for task.name mil; regress takes mean, cls or last");
    }
    if (c->task.loss == SSM_LOSS_CE || c->task.loss == SSM_LOSS_BCE) {
        *key = "task.loss";
        return ssm_fail(err, SSM_ECONFIG, "task.loss %s does not apply to task.name regress; use "
                        "auto, mse or mae", c->task.loss == SSM_LOSS_CE ? "ce" : "bce");
    }
    return SSM_OK;
}

static ssm_head_pool pool_of(ssm_pool_kind p) {
    return p == SSM_POOL_CLS ? SSM_HEAD_POOL_CLS
         : p == SSM_POOL_LAST ? SSM_HEAD_POOL_LAST : SSM_HEAD_POOL_MEAN;
}

static ssm_code rt_configure(ssm_model_spec *s, const ssm_config *c, const task_data_info *d,
                             ssm_error *err) {
    if (d->horizon < 1 || d->out_vars < 1)
        return ssm_fail(err, SSM_ECONFIG, "task.name regress reads its target from a series "
                        "window's horizon: it needs data.name ett or csv");
    s->head = "regress";
    s->head_opt.outputs = d->out_vars;
    s->head_opt.pool = pool_of(c->task.pool);
    s->loss.kind = c->task.loss == SSM_LOSS_MAE ? LOSS_MAE : LOSS_MSE;
    return SSM_OK;
}

static void rt_free(ssm_task *t) {
    regress_task *r = t->impl;
    if (!r)
        return;
    value_metrics_free(&r->vm);
    free(r->y);
    free(r);
    t->impl = NULL;
}

static ssm_code rt_init(ssm_task *t, const ssm_config *c, const task_data_info *d,
                        ssm_error *err) {
    regress_task *r = calloc(1, sizeof *r);
    if (!r)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->impl = r;
    r->mae = t->model.loss.kind == LOSS_MAE;
    r->y = malloc((size_t)(t->model.B_max * d->out_vars) * sizeof(real));
    if (!r->y)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    SSM_TRY(value_metrics_init(&r->vm, d->out_vars, d->out_std, err));
    t->primary = r->mae ? "mae" : "mse";
    t->lower_is_better = 1;
    return SSM_OK;
}

// y_dense [B, H, K] -> y [B, K]: the last horizon step.
static ssm_code rt_targets(ssm_task *t, const ssm_batch *b, ssm_targets *out, ssm_error *err) {
    regress_task *r = t->impl;
    const int64_t K = r->vm.K;
    if (!b->y_dense || b->dense_kind != SSM_DENSE_VALUES || b->dense_ndim != 3 ||
        b->dense_shape[2] != K)
        return ssm_fail(err, SSM_EDATA, "regress: the batch has no [horizon, %lld] real-valued "
                        "targets", (long long)K);
    const int64_t H = b->dense_shape[1];
    for (int64_t i = 0; i < b->B; i++)
        memcpy(r->y + i * K, b->y_dense + (i * H + H - 1) * K, (size_t)K * sizeof(real));
    *out = (ssm_targets){.values = r->y, .weight = b->weight};
    return SSM_OK;
}

static void rt_eval_begin(ssm_task *t) {
    regress_task *r = t->impl;
    value_metrics_reset(&r->vm);
}

static ssm_code rt_eval_batch(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    regress_task *r = t->impl;
    ssm_targets y = {0};
    SSM_TRY(rt_targets(t, b, &y, err));
    const real *pred;
    SSM_TRY(model_predict(&t->model, b->x, b->B, &pred, err));
    value_metrics_add(&r->vm, pred, y.values, b->B);
    return SSM_OK;
}

static void rt_eval_end(ssm_task *t, task_metrics *out) {
    regress_task *r = t->impl;
    value_metrics_report(&r->vm, r->mae, out);
}

// Data-parallel evaluation: the error sums of every rank's range.
static ssm_code rt_eval_reduce(ssm_task *t, const ssm_dist *d, ssm_error *err) {
    regress_task *r = t->impl;
    return value_metrics_allreduce(&r->vm, d, err);
}

static void rt_predict_line(const ssm_task *t, FILE *f, const real *out, int top) {
    for (int64_t j = 0; j < t->model.K; j++)
        fprintf(f, "\t%.6g", (double)out[j]);
}

const ssm_task_vtable ssm_task_regress = {
    .name = "regress",
    .summary = "one real value per target column: its value data.horizon steps ahead; MSE",
    .check_config = rt_check_config,
    .configure = rt_configure,
    .init = rt_init,
    .targets = rt_targets,
    .eval_begin = rt_eval_begin,
    .eval_batch = rt_eval_batch,
    .eval_end = rt_eval_end,
    .test_report = NULL,
    .predict_line = rt_predict_line,
    .free_impl = rt_free,
    .eval_reduce = rt_eval_reduce,
};
