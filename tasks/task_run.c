// defines: task_trunk_spec_from_config, task_create, task_free, task_loss_and_grad,
//          task_train_step_graph, task_evaluate, task_load_checkpoint, task_save_checkpoint,
//          task_batch_layout (see task_run.h)
// The calls every task shares, above the tasks themselves: they reach a task through
// its vtable, and the model through tasks/model.h.
#include "tasks/task_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/checkpoint.h"
#include "datasets/augment.h"

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
    char v[32];
    if (c->adapter.fstride) { // audio_patches' per-axis strides (AST)
        snprintf(v, sizeof v, "%lld", (long long)c->adapter.fstride);
        add_extra(o, "fstride", v);
    }
    if (c->adapter.tstride) {
        snprintf(v, sizeof v, "%lld", (long long)c->adapter.tstride);
        add_extra(o, "tstride", v);
    }
    if (c->adapter.dropout > 0) { // series adapters; the others refuse the option by name
        snprintf(v, sizeof v, "%.17g", c->adapter.dropout);
        add_extra(o, "dropout", v);
    }
    if (c->adapter.group_size > 0) {
        snprintf(v, sizeof v, "%lld", (long long)c->adapter.group_size);
        add_extra(o, "group_size", v);
    }
    if (c->adapter.num_groups > 0) {
        snprintf(v, sizeof v, "%lld", (long long)c->adapter.num_groups);
        add_extra(o, "num_groups", v);
    }
    s->input = *in;
    s->order_layout = c->adapter.order_layout == SSM_ORDERS_CONCAT ? TRUNK_ORDERS_CONCAT
                                                                   : TRUNK_ORDERS_BRANCHES;
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
    b->ffn_dim = c->backbone.ffn_dim;
    b->norm_position =
        c->backbone.norm_position == SSM_NORM_POS_POST ? MAMBA_POST_NORM : MAMBA_PRE_NORM;
    b->dropout = c->backbone.dropout;
    b->mixer_dropout = c->backbone.mixer_dropout;
    b->precision = c->run.precision == SSM_PREC_BF16 ? MAMBA_BF16 : MAMBA_FP32;
    b->order_prompts = c->backbone.order_prompts; // prompt_orders: the trunk's (adapter's orders)
}

ssm_code task_create(ssm_task **out, const ssm_config *c, const task_data_info *d, int64_t B_max,
                     ssm_error *err) {
    *out = NULL;
    const ssm_task_vtable *vt;
    const char *key = NULL;
    SSM_TRY(task_lookup(c->task.name, &vt, err));
    if (vt->check_config)
        SSM_TRY(vt->check_config(c, &key, err));
    ssm_model_spec s = {.B_max = B_max, .seed = (uint64_t)c->run.seed};
    task_trunk_spec_from_config(&s.trunk, c, &d->input);
    if (d->max_tokens > 0) { // ragged data: the token budget and the coordinates are the data's
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)d->max_tokens);
        add_extra(&s.trunk.adapter_opt, "max_tokens", v);
        if (d->coords)
            add_extra(&s.trunk.adapter_opt, "coords", "1");
    }
    if (d->time_features > 0) { // the first columns of x are calendar features (series_variate)
        char v[32];
        snprintf(v, sizeof v, "%lld", (long long)d->time_features);
        add_extra(&s.trunk.adapter_opt, "time_features", v);
    }
    SSM_TRY(ssm_device_parse(&s.device, c->run.device, err));
    SSM_TRY(vt->configure(&s, c, d, err));
    ssm_task *t = calloc(1, sizeof *t);
    if (!t)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    t->vt = vt;
    t->class_names = d->class_names;
    ssm_code rc = model_build(&t->model, &s, err);
    if (!rc) {
        t->params = &t->model.params;
        t->work = model_params(&t->model);
        t->dev = train_device_get(&t->model.device);
        t->trunk = &t->model.trunk;
        rc = vt->init(t, c, d, err);
    }
    if (rc) {
        task_free(t);
        return rc;
    }
    *out = t;
    return SSM_OK;
}

void task_free(ssm_task *t) {
    if (!t)
        return;
    if (t->vt && t->vt->free_impl)
        t->vt->free_impl(t);
    model_free(&t->model);
    free(t);
}

ssm_code task_batch_layout(ssm_task *t, const ssm_batch *b, ssm_error *err) {
    if (!b->offsets)
        return t->model.trunk.ragged
                   ? ssm_fail(err, SSM_EINVAL, "adapter %s needs a ragged (packed) batch; the "
                              "data gave a dense one", t->model.adapter->vt->name)
                   : SSM_OK;
    // keyed by the batch's position in the whole split, so that a rank's slice or range
    // draws what one process's batch draws for the same samples (core/packing.h)
    return model_set_packing(&t->model, b->offsets, b->B,
                             ssm_augment_stream(t->model.seed, b->epoch, b->position), err);
}

ssm_code task_loss_and_grad(ssm_task *t, const ssm_batch *b, double *loss, ssm_error *err) {
    ssm_targets th, td;
    const real *x;
    SSM_TRY(task_batch_layout(t, b, err));
    SSM_TRY(t->vt->targets(t, b, &th, err));
    SSM_TRY(model_batch_in(&t->model, b->x, &th, b->B, &x, &td, err));
    // the step's dropout masks: keyed like the packing, by the batch's place in the split
    model_set_step_key(&t->model, ssm_augment_stream(t->model.seed, b->epoch, b->position));
    return model_loss_and_grad(&t->model, x, &td, b->B, loss, err);
}

ssm_code task_train_step_graph(ssm_task *t, const ssm_batch *b, const model_step_opts *o,
                               double *loss, double *gnorm, ssm_error *err) {
    ssm_targets th, td;
    const real *x;
    SSM_TRY(task_batch_layout(t, b, err));
    SSM_TRY(t->vt->targets(t, b, &th, err));
    SSM_TRY(model_batch_in(&t->model, b->x, &th, b->B, &x, &td, err));
    return model_train_step_graph(&t->model, x, &td, b->B, o, loss, gnorm, err);
}

ssm_code task_evaluate(ssm_task *t, ssm_batcher *bt, task_metrics *out, ssm_error *err) {
    memset(out, 0, sizeof *out);
    t->vt->eval_begin(t);
    int64_t n = 0;
    for (;;) {
        const ssm_batch *b;
        SSM_TRY(ssm_batcher_next(bt, &b, err));
        if (!b)
            break;
        SSM_TRY(task_batch_layout(t, b, err));
        SSM_TRY(t->vt->eval_batch(t, b, err));
        n += b->B;
    }
    if (bt->shard_mode == SSM_SHARD_SPLIT) { // each rank evaluated its range: combine them
        if (!t->vt->eval_reduce)
            return ssm_fail(err, SSM_EINVAL, "task %s cannot combine the metrics of ranks "
                            "(no eval_reduce): evaluate the whole split on every rank",
                            t->vt->name);
        SSM_TRY(t->vt->eval_reduce(t, t->dist, err));
        SSM_TRY(ssm_dist_allreduce(t->dist, &n, 1, SSM_DIST_INT64, err));
    }
    t->vt->eval_end(t, out);
    out->samples = n;
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
