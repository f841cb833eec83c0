// defines: predict_run, predict_meta, predict_meta_int, predict_meta_double,
//          predict_normalize, predict_group_alloc, predict_group_free (see predict.h)
#include "cli/predict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/patch_embed.h"
#include "cli/cli.h"
#include "core/checkpoint.h"
#include "core/rng.h"
#include "datasets/augment.h"
#include "tasks/task_run.h"

// The readers; each claims its data.names.
static const predict_reader *const readers[] = {&predict_reader_images, &predict_reader_audio,
                                                &predict_reader_bags, &predict_reader_points,
                                                &predict_reader_forecast, &predict_reader_series};
#define N_READERS (sizeof readers / sizeof *readers)

ssm_code predict_group_alloc(predict_group *g, int64_t n, int64_t nx, ssm_error *err) {
    if (n > g->cap_n) {
        predict_item *it = realloc(g->items, (size_t)n * sizeof *it);
        int64_t *off = it ? realloc(g->offsets, (size_t)(n + 1) * sizeof *off) : NULL;
        if (it)
            g->items = it;
        if (off)
            g->offsets = off;
        if (!it || !off)
            return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld samples", (long long)n);
        g->cap_n = n;
    }
    if (nx > g->cap_x) {
        real *x = realloc(g->x, (size_t)nx * sizeof *x);
        if (!x)
            return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld input values", (long long)nx);
        g->x = x;
        g->cap_x = nx;
    }
    return SSM_OK;
}

void predict_group_free(predict_group *g) {
    free(g->items);
    free(g->offsets);
    free(g->x);
    memset(g, 0, sizeof *g);
}

// ---- metadata ---------------------------------------------------------------------------

const char *predict_meta(predict_ctx *c, const char *key, ssm_error *err) {
    const char *v = ssm_metadata_get(&c->meta, key);
    if (v)
        return v;
    if (!c->data_tried) { // the config's data, as `train` would open it
        c->data_tried = 1;
        cli_data d;
        ssm_code rc = cli_data_open(&d, c->cfg, 0, &c->data_err);
        if (rc == SSM_OK) {
            rc = cli_data_metadata(&c->data_meta, &d, &c->data_err);
            cli_data_close(&d);
        }
        if (rc != SSM_OK)
            c->data_err.code = rc;
    }
    v = ssm_metadata_get(&c->data_meta, key);
    if (v)
        return v;
    if (c->data_err.code != SSM_OK) {
        ssm_fail(err, SSM_EFORMAT, "%s: the checkpoint has no '%s' metadata, and the config's "
                 "data, which gives it, could not be opened: %s", c->ckpt, key, c->data_err.msg);
        return NULL;
    }
    ssm_fail(err, SSM_EFORMAT, "%s: the checkpoint has no '%s' metadata, and the config's data "
             "(data.name) does not give it either: a model of another modality? "
             "(docs/checkpoints.md lists the keys predict reads)", c->ckpt, key);
    return NULL;
}

ssm_code predict_meta_int(predict_ctx *c, const char *key, int64_t *out, ssm_error *err) {
    const char *v = predict_meta(c, key, err);
    if (!v)
        return err->code;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end)
        return ssm_fail(err, SSM_EFORMAT, "%s: metadata %s = '%s', expected an integer", c->ckpt,
                        key, v);
    *out = x;
    return SSM_OK;
}

ssm_code predict_meta_double(predict_ctx *c, const char *key, double *out, ssm_error *err) {
    const char *v = predict_meta(c, key, err);
    if (!v)
        return err->code;
    char *end;
    double x = strtod(v, &end);
    // NaN or inf statistics would print NaN probabilities and exit 0 (issue 18)
    if (end == v || *end || !isfinite(x))
        return ssm_fail(err, SSM_EFORMAT, "%s: metadata %s = '%s', expected a finite number",
                        c->ckpt, key, v);
    *out = x;
    return SSM_OK;
}

ssm_code predict_meta_scaler(predict_ctx *c, int64_t n, double **mean, double **std,
                             ssm_error *err) {
    if (!(*mean = malloc((size_t)n * sizeof **mean)) || !(*std = malloc((size_t)n * sizeof **std)))
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld columns' scaler", (long long)n);
    for (int64_t j = 0; j < n; j++) {
        char key[64];
        snprintf(key, sizeof key, "data_mean.%lld", (long long)j);
        SSM_TRY(predict_meta_double(c, key, &(*mean)[j], err));
        snprintf(key, sizeof key, "data_std.%lld", (long long)j);
        SSM_TRY(predict_meta_double(c, key, &(*std)[j], err));
        if (!((*std)[j] > 0))
            return ssm_fail(err, SSM_EFORMAT, "%s: metadata %s = %g, expected > 0", c->ckpt, key,
                            (*std)[j]);
    }
    return SSM_OK;
}

ssm_code predict_normalize(predict_ctx *c, int *out, ssm_error *err) {
    if (!ssm_metadata_get(&c->meta, "data_normalize")) {
        *out = c->cfg->data.augment.normalize;
        return SSM_OK;
    }
    int64_t v = 0;
    SSM_TRY(predict_meta_int(c, "data_normalize", &v, err));
    *out = v != 0;
    return SSM_OK;
}

// Class names: the checkpoint's, else the config's data's when it opens, else numbers.
static ssm_code class_names(predict_ctx *c, ssm_error *err) {
    int64_t V = c->V > 0 ? c->V : 1;
    c->class_names = calloc((size_t)V, sizeof *c->class_names);
    if (!c->class_names)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_error ignored = {0};
    const char *names = predict_meta(c, CLI_META_CLASS_NAMES, &ignored);
    if (!names)
        return SSM_OK;
    if (!(c->names_buf = strdup(names)))
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    char *p = c->names_buf;
    for (int64_t i = 0; i < c->V && p && *p; i++) { // one per line
        c->class_names[i] = p;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = 0;
        p = nl ? nl + 1 : NULL;
    }
    return SSM_OK;
}

// ---- the model --------------------------------------------------------------------------

static int same_shape(const ssm_input_shape *a, const ssm_input_shape *b) {
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

// The checkpoint into a model built for another input size than the trained one: every
// tensor as stored but the learned positions, resized from the trained grid to the model's
// (patch_embed_resize_from). The file must hold exactly the model's tensors.
static ssm_code load_resized(predict_ctx *c, ssm_task *t, const ssm_input_shape *trained,
                             ssm_error *err) {
    ssm_ckpt_info info;
    SSM_TRY(ssm_checkpoint_inspect(c->ckpt, &info, err));
    ssm_params file, decl;
    ssm_params_init(&file);
    ssm_params_init(&decl);
    ssm_adapter *from = NULL;
    const ssm_params *p = t->params;
    int64_t pos = -1;
    ssm_code rc = SSM_OK;
    for (size_t i = 0; rc == SSM_OK && i < p->count; i++) {
        const ssm_param_info *it = &p->items[i];
        const ssm_ckpt_tensor *ft = NULL;
        for (size_t j = 0; j < info.count && !ft; j++)
            if (!strcmp(info.tensors[j].name, it->name))
                ft = &info.tensors[j];
        int differs = ft && ft->ndim == it->ndim &&
                      memcmp(ft->shape, it->shape, (size_t)it->ndim * sizeof(int64_t)) != 0;
        if (differs && ends_with(it->name, "pos_embed") && pos < 0)
            pos = (int64_t)i;
        // a tensor absent or of another shape: ssm_checkpoint_load names it below
        rc = ssm_params_add(&file, it->name, it->ndim, differs && pos == (int64_t)i ? ft->shape
                                                                                  : it->shape,
                            it->flags, NULL, err);
    }
    ssm_ckpt_info_free(&info);
    if (rc == SSM_OK)
        rc = ssm_params_finalize(&file, err);
    if (rc == SSM_OK)
        rc = ssm_checkpoint_load(c->ckpt, &file, 0, NULL, err);
    if (rc == SSM_OK && pos >= 0) { // the trained model's adapter, declared only
        ssm_trunk_spec spec;
        task_trunk_spec_from_config(&spec, c->cfg, trained);
        rc = ssm_adapter_create(&from, spec.adapter, &spec.adapter_opt, trained,
                                spec.backbone.d_model, &decl, "", err);
        if (rc == SSM_OK)
            rc = patch_embed_resize_from(t->model.trunk.adapter,
                                         ssm_params_data(p, (size_t)pos), from,
                                         ssm_params_data(&file, (size_t)pos), err);
    }
    for (size_t i = 0; rc == SSM_OK && i < p->count; i++)
        if ((int64_t)i != pos)
            memcpy(ssm_params_data(p, i), ssm_params_data(&file, i),
                   p->items[i].numel * sizeof(real));
    if (from)
        ssm_adapter_free(from);
    ssm_params_free(&decl);
    ssm_params_free(&file);
    if (rc == SSM_OK)
        rc = t->dev->to_device(t->work, t->params, err);
    return rc;
}

typedef struct {
    ssm_task *task;
    ssm_input_shape shape; // the input the model was built for
    int64_t B, tokens;     // planned samples, ragged tokens
} predict_model;

// A model fit for g: the current one when g fits its plan, else a new one.
static ssm_code model_for(predict_ctx *c, predict_model *m, const predict_group *g,
                          const predict_plan *plan, ssm_error *err) {
    int64_t tokens = g->ragged ? g->offsets[g->n] : 0;
    if (m->task && same_shape(&m->shape, &g->shape) && g->n <= m->B && tokens <= m->tokens)
        return SSM_OK;
    int64_t B = m->task && g->n < m->B ? m->B : g->n;
    if (m->task && tokens < m->tokens) // grow only: a run of bags rebuilds rarely
        tokens = m->tokens;
    task_free(m->task);
    m->task = NULL;
    task_data_info d = {.input = g->shape, .num_classes = c->V,
                        .class_names = (const char *const *)c->class_names,
                        .max_tokens = tokens, .coords = plan->coords,
                        .horizon = plan->horizon, .out_vars = plan->out_vars,
                        .out_std = plan->out_std, .time_features = plan->time_features, .num_parts = plan->num_parts,
                        .part_range = plan->part_range};
    if (plan->num_parts) // segmentation: the task's classes are the categories
        d.num_classes = plan->categories;
    SSM_TRY(task_create(&m->task, c->cfg, &d, B, err));
    m->shape = g->shape;
    m->B = B;
    m->tokens = tokens;
    if (same_shape(&g->shape, &plan->trained))
        return task_load_checkpoint(m->task, c->ckpt, 0, NULL, err);
    return load_resized(c, m->task, &plan->trained, err);
}

static ssm_code run_groups(predict_ctx *c, const predict_reader *r, void *state,
                           const predict_plan *plan, ssm_error *err) {
    predict_group g = {0};
    predict_model m = {0};
    predict_writer w = {0};
    int begun = 0;
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK) {
        g.n = 0;
        rc = r->next(c, state, &g, err);
        if (rc != SSM_OK || g.n == 0)
            break;
        rc = model_for(c, &m, &g, plan, err);
        if (rc == SSM_OK && g.ragged)
            rc = model_set_packing(&m.task->model, g.offsets, g.n,
                                   ssm_augment_key(m.task->model.seed, 0, 0), err);
        if (rc == SSM_OK && r->before)
            rc = r->before(c, state, m.task, &g, err);
        const real *out = NULL;
        if (rc == SSM_OK)
            rc = model_predict(&m.task->model, g.x, g.n, &out, err);
        if (rc == SSM_OK && r->after)
            rc = r->after(c, state, m.task, &g, err);
        if (rc == SSM_OK && r->write) {
            rc = r->write(c, state, m.task, &g, out, err);
            begun = 1;
            fflush(c->out);
            continue;
        }
        if (plan->own_rows) // the reader wrote them
            continue;
        if (rc == SSM_OK && !begun) {
            predict_writer_begin(&w, c->out, c->opt, m.task,
                                 (const char *const *)c->class_names, c->ckpt,
                                 c->opt->window > 0);
            begun = 1;
        }
        for (int64_t i = 0; rc == SSM_OK && i < g.n; i++)
            predict_writer_row(&w, &g.items[i], out + i * m.task->model.K);
        fflush(c->out);
    }
    if (rc == SSM_OK && begun && r->finish)
        r->finish(c, state);
    else if (rc == SSM_OK && begun)
        predict_writer_end(&w);
    task_free(m.task);
    predict_group_free(&g);
    return rc;
}

ssm_code predict_run(const ssm_config *cfg, const char *ckpt, const char *const *inputs,
                     int64_t n_inputs, const predict_opts *opt, ssm_error *err) {
    predict_ctx c = {.cfg = cfg, .ckpt = ckpt, .opt = opt, .inputs = inputs,
                     .n_inputs = n_inputs, .V = cfg->task.num_classes, .out = stdout};
    ssm_metadata_init(&c.data_meta);
    ssm_ckpt_info info;
    SSM_TRY(ssm_checkpoint_inspect(ckpt, &info, err));
    c.meta = info.meta; // taken over
    memset(&info.meta, 0, sizeof info.meta);
    ssm_ckpt_info_free(&info);
    const predict_reader *r = NULL;
    for (size_t i = 0; i < N_READERS && !r; i++)
        if (readers[i]->matches(&cfg->data))
            r = readers[i];
    void *state = NULL;
    predict_plan plan = {0};
    ssm_code rc = SSM_OK;
    if (!r) {
        char names[512];
        size_t used = 0;
        for (size_t i = 0; i < N_READERS; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s (%s)",
                                     i ? ", " : "", readers[i]->name, readers[i]->inputs);
        rc = ssm_fail(err, SSM_ECONFIG, "data.name: predict has no reader for this recipe's "
                      "inputs; it reads %s", names);
    }
    if (rc == SSM_OK && r != &predict_reader_forecast) // forecasts have no classes
        rc = class_names(&c, err);
    if (rc == SSM_OK && opt->window > 0 && r != &predict_reader_audio)
        rc = ssm_fail(err, SSM_EINVAL, "--window: audio only; data.name is %s's (%s)", r->name,
                      r->inputs);
    if (rc == SSM_OK && opt->category && r != &predict_reader_points)
        rc = ssm_fail(err, SSM_EINVAL, "--category: point-cloud segmentation only; data.name is "
                      "%s's (%s)", r->name, r->inputs);
    if (rc == SSM_OK && opt->attention && r != &predict_reader_bags)
        rc = ssm_fail(err, SSM_EINVAL, "--attention: MIL bags only; data.name is %s's (%s)",
                      r->name, r->inputs);
    if (rc == SSM_OK && (opt->at > 0 || opt->no_dates) && r != &predict_reader_forecast)
        rc = ssm_fail(err, SSM_EINVAL, "%s: forecasts only; data.name is %s's (%s)",
                      opt->at > 0 ? "--at" : "--no-dates", r->name, r->inputs);
    if (rc == SSM_OK)
        rc = r->open(&c, &state, &plan, err);
    if (rc == SSM_OK)
        rc = run_groups(&c, r, state, &plan, err);
    if (state)
        r->close(state);
    free(c.class_names);
    free(c.names_buf);
    ssm_metadata_free(&c.meta);
    ssm_metadata_free(&c.data_meta);
    return rc;
}
