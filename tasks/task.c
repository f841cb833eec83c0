// defines: task metrics, task_trunk_spec_from_config, task_create, task_free (see task.h)
#include "tasks/task.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checkpoint.h"

void task_metrics_set(task_metrics *m, const char *key, double v) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key)) {
            m->value[i] = v;
            return;
        }
    if (m->n == TASK_MAX_METRICS)
        return;
    snprintf(m->key[m->n], TASK_METRIC_KEY_MAX, "%s", key);
    m->value[m->n++] = v;
}

double task_metrics_get(const task_metrics *m, const char *key) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->key[i], key))
            return m->value[i];
    return NAN;
}

static ssm_cls_position cls_from_config(ssm_cls_token t) {
    switch (t) {
    case SSM_CFG_CLS_HEAD: return SSM_CLS_HEAD;
    case SSM_CFG_CLS_MIDDLE: return SSM_CLS_MIDDLE;
    default: return SSM_CLS_NONE;
    }
}

static void add_extra(ssm_adapter_options *o, const char *key, const char *value) {
    if (o->n_extra == SSM_ADAPTER_MAX_EXTRA)
        return;
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "%s", key);
    snprintf(o->extra[o->n_extra].value, SSM_ADAPTER_VALUE_MAX, "%s", value);
    o->n_extra++;
}

void task_trunk_spec_from_config(ssm_trunk_spec *s, const ssm_config *c, const ssm_input_shape *in) {
    memset(s, 0, sizeof *s);
    s->adapter = c->adapter.name;
    ssm_adapter_options *o = &s->adapter_opt;
    ssm_adapter_options_defaults(o);
    o->patch_size = c->adapter.patch_size;
    o->stride = c->adapter.stride;
    o->in_channels = c->adapter.channels;
    o->cls_token = cls_from_config(c->adapter.cls_token);
    o->n_orders = (int)c->adapter.orders_count;
    for (uint32_t i = 0; i < c->adapter.orders_count && i < SSM_ADAPTER_MAX_ORDERS; i++)
        snprintf(o->orders[i], SSM_ADAPTER_NAME_MAX, "%s", c->adapter.orders[i]);
    // Modality options travel as extras, only when switched on, so that an
    // adapter without them (image_patches) refuses them by name.
    if (c->adapter.revin)
        add_extra(o, "revin", "1");
    if (c->adapter.revin_affine)
        add_extra(o, "revin_affine", "1");
    s->input = *in;
    mamba_config *b = &s->backbone;
    mamba_config_defaults(b);
    b->d_model = c->backbone.d_model;
    b->n_layers = c->backbone.n_layers;
    b->d_state = c->backbone.d_state;
    b->d_conv = c->backbone.d_conv;
    b->expand = c->backbone.expand;
    b->dt_rank = c->backbone.dt_rank;
    b->dt_min = c->backbone.dt_min;
    b->dt_max = c->backbone.dt_max;
    b->dt_init_floor = c->backbone.dt_init_floor;
    b->norm = c->backbone.norm == SSM_NORM_LAYER ? MAMBA_NORM_LAYER : MAMBA_NORM_RMS;
    b->norm_eps = c->backbone.norm_eps;
    b->n_branches = (int)c->backbone.n_branches; // 0: one per adapter order
    b->merge = c->backbone.merge == SSM_MERGE_SUM ? MAMBA_MERGE_SUM : MAMBA_MERGE_MEAN;
    b->scan_chunk = c->backbone.scan_chunk;
    b->final_norm = c->backbone.final_norm;
    b->precision = c->run.precision == SSM_PREC_BF16 ? MAMBA_BF16 : MAMBA_FP32;
}

// The owned model behind a task made by task_create.
typedef struct {
    classify_model cm;
    forecast_model fm;
    int kind; // 0 classify, 1 forecast
} owned_model;

ssm_code task_create(ssm_task **out, const ssm_config *c, const task_data_info *d, int64_t B_max,
                     ssm_error *err) {
    *out = NULL;
    ssm_task *t = calloc(1, sizeof *t + sizeof(owned_model));
    if (!t)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    owned_model *om = (owned_model *)(t + 1);
    ssm_trunk_spec ts;
    task_trunk_spec_from_config(&ts, c, &d->input);
    ssm_code rc;
    ssm_device dev;
    rc = ssm_device_parse(&dev, c->run.device, err);
    if (!rc && dev.kind != SSM_DEVICE_CPU && c->task.name != SSM_TASK_CLASSIFY)
        rc = ssm_fail(err, SSM_ECONFIG,
                      "run.device: %s: task %s has no CUDA path yet (only classify runs on a GPU); "
                      "set run.device: cpu", c->run.device,
                      c->task.name == SSM_TASK_FORECAST ? "forecast" : "(this task)");
    if (rc) {
        free(t);
        return rc;
    }
    if (c->task.name == SSM_TASK_CLASSIFY) {
        om->kind = 0;
        if (d->num_classes > 0 && d->num_classes != c->task.num_classes) {
            free(t);
            return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld but the data has %lld classes",
                            (long long)c->task.num_classes, (long long)d->num_classes);
        }
        classify_model_spec s = {.adapter = ts.adapter, .adapter_opt = ts.adapter_opt,
                                 .input = ts.input, .backbone = ts.backbone,
                                 .num_classes = c->task.num_classes,
                                 .mean_pool = c->task.pool == SSM_POOL_MEAN, .B_max = B_max,
                                 .label_smoothing = c->task.label_smoothing,
                                 .seed = (uint64_t)c->run.seed, .device = dev};
        rc = classify_model_build(&om->cm, &s, err);
        if (!rc)
            rc = task_classify_wrap(t, &om->cm, d->class_names, err);
        if (!rc && c->task.tta == SSM_TTA_HFLIP)
            rc = task_classify_set_tta(t, 1, &ts.input, err);
    } else if (c->task.name == SSM_TASK_FORECAST) {
        om->kind = 1;
        if (d->horizon < 1 || d->out_vars < 1) {
            free(t);
            return ssm_fail(err, SSM_ECONFIG,
                            "task.name forecast needs a series dataset (data.name ett or csv)");
        }
        forecast_model_spec s = {.trunk = ts, .horizon = d->horizon, .out_vars = d->out_vars,
                                 .mae = c->task.loss == SSM_LOSS_MAE, .B_max = B_max,
                                 .seed = (uint64_t)c->run.seed};
        rc = forecast_model_build(&om->fm, &s, err);
        if (!rc)
            rc = task_forecast_wrap(t, &om->fm, d->out_std, err);
    } else {
        free(t);
        return ssm_fail(err, SSM_ECONFIG, "task.name: only classify and forecast are available so far");
    }
    if (rc) {
        if (t->vt && t->vt->free_impl)
            t->vt->free_impl(t);
        om->kind ? forecast_model_free(&om->fm) : classify_model_free(&om->cm);
        free(t);
        return rc;
    }
    *out = t;
    return SSM_OK;
}

ssm_code task_load_checkpoint(ssm_task *t, const char *path, unsigned flags, ssm_metadata *meta,
                              ssm_error *err) {
    SSM_TRY(ssm_checkpoint_load(path, t->params, flags, meta, err));
    return t->dev->to_device(t->work, t->params, err);
}

ssm_code task_save_checkpoint(ssm_task *t, const char *path, unsigned flags,
                              const ssm_metadata *meta, ssm_error *err) {
    SSM_TRY(t->dev->to_host(t->params, t->work, err));
    return ssm_checkpoint_save(path, t->params, flags, meta, err);
}

void task_release(ssm_task *t) {
    if (t && t->vt && t->vt->free_impl)
        t->vt->free_impl(t);
    if (t)
        t->impl = NULL;
}

void task_free(ssm_task *t) {
    if (!t)
        return;
    task_release(t);
    owned_model *om = (owned_model *)(t + 1);
    om->kind ? forecast_model_free(&om->fm) : classify_model_free(&om->cm);
    free(t);
}
