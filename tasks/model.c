// defines: the one model of every task (see model.h)
#include "tasks/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if SSM_HAVE_CUDA
#include "tasks/cuda/model.h"
#include "tasks/cuda/step_graph.h"
#endif

// One sample's input values at most (2^31 floats: 8 GiB, more than a device holds).
#define MODEL_MAX_SAMPLE_VALUES (INT64_C(1) << 31)

static int on_cuda(const ssm_model *m) { return m->device.kind == SSM_DEVICE_CUDA; }


static ssm_code plan(ssm_model *m, ssm_error *err) {
    SSM_TRY(trunk_plan(&m->trunk, &m->arena, err));
    SSM_TRY(model_plan_arrays(m, &m->arena, err));
    m->h_out = m->out;
    return SSM_OK;
}

ssm_code model_build(ssm_model *m, const ssm_model_spec *spec, ssm_error *err) {
    memset(m, 0, sizeof *m);
    ssm_params_init(&m->params);
    ssm_arena_init(&m->arena);
    ssm_arena_init(&m->darena);
    if (spec->B_max < 1)
        return ssm_fail(err, SSM_ECONFIG, "batch size is %lld, expected >= 1", (long long)spec->B_max);
    if (spec->trunk.backbone.precision != MAMBA_FP32 && spec->device.kind != SSM_DEVICE_CUDA)
        return ssm_fail(err, SSM_ECONFIG,
                        "run.precision: bf16 is mixed precision on a GPU (run.device: cuda); on "
                        "the CPU models train in fp32 (set run.precision: fp32)");
    SSM_TRY(ssm_device_open(&spec->device, err)); // a CPU-only build refuses CUDA here
    m->device = spec->device;
    m->B_max = spec->B_max;
    m->loss = spec->loss;
    m->seed = spec->seed;
    // The shape may come from a checkpoint's metadata (predict): each dimension is checked
    // before it enters the product, so no product of them can overflow.
    m->in_numel = 1;
    for (int i = 0; i < spec->trunk.input.ndim; i++) {
        int64_t d = spec->trunk.input.dims[i];
        if (d < 1 || d > MODEL_MAX_SAMPLE_VALUES / m->in_numel)
            return ssm_fail(err, SSM_EINVAL, "input dimension %d of one sample is %lld; expected "
                            ">= 1, and at most 2^31 values per sample", i, (long long)d);
        m->in_numel *= d;
    }
    SSM_TRY(trunk_declare(&m->trunk, &spec->trunk, m->B_max, &m->params, err));
    m->adapter = m->trunk.adapter;
    m->stack = m->trunk.stack;
    m->n_branches = m->trunk.n_branches;
    ssm_head_input hi = {.adapter = spec->trunk.adapter, .input = spec->trunk.input,
                         .S = m->trunk.S, .L = m->trunk.L, .D = m->trunk.D,
                         .cls_index = m->adapter->cls_index, .inorm = m->adapter->inorm,
                         // the concat layout reads the token again after other ones
                         .cls_blind = m->adapter->cls_blind && !m->trunk.concat,
                         .pos_dims = m->adapter->pos_dims};
    SSM_TRY(ssm_head_create(&m->head, spec->head, &spec->head_opt, &hi, &m->params, "", err));
    if (m->trunk.ragged != (m->head->vt->ragged != 0))
        return ssm_fail(err, SSM_ECONFIG,
                        m->trunk.ragged ? "head %s cannot read the packed bags of adapter %s: "
                                          "pick a head for variable-length samples (bag)"
                                        : "head %s reads packed variable-length samples; adapter "
                                          "%s gives fixed-length ones",
                        spec->head, spec->trunk.adapter);
    m->head->bf16 = spec->trunk.backbone.precision == MAMBA_BF16;
    m->K = m->head->out_numel;
    m->rows = m->head->out_rows;
    SSM_TRY(ssm_params_finalize(&m->params, err));

    ssm_rng rng;
    SSM_TRY(ssm_rng_init(&rng, spec->seed, err));
    trunk_init_params(&m->trunk, &m->params, &rng);
    ssm_head_init_params(m->head, &m->params, &rng);
    ssm_rng_free(&rng);

#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return model_setup_cuda(m, err);
#endif
    SSM_TRY(plan(m, err)); // measure
    SSM_TRY(ssm_arena_commit(&m->arena, err));
    return plan(m, err); // hand out
}

ssm_params *model_params(ssm_model *m) { return on_cuda(m) ? &m->dparams : &m->params; }

ssm_code model_set_packing(ssm_model *m, const int64_t *offsets, int64_t B, uint64_t key,
                           ssm_error *err) {
    SSM_TRY(trunk_set_packing(&m->trunk, offsets, B, key, err));
    m->head->pack = &m->trunk.tpack;
    return SSM_OK;
}

#if SSM_HAVE_CUDA
// Rows of x for a batch of B: B samples, or the packed rows of a ragged one.
static int64_t x_rows(const ssm_model *m, int64_t B) {
    return m->trunk.ragged ? m->trunk.xpack.total : B;
}
#endif

ssm_code model_batch_in(ssm_model *m, const real *x_host, const ssm_targets *t_host, int64_t B,
                        const real **x, ssm_targets *t, ssm_error *err) {
    if (B < 1 || B > m->B_max)
        return ssm_fail(err, SSM_EINVAL, "batch of %lld, the model was planned for 1..%lld",
                        (long long)B, (long long)m->B_max);
    if (t_host)
        SSM_TRY(loss_check_targets(&m->loss, t_host, B * m->rows, m->K / m->rows, err));
    if (m->trunk.ragged && m->trunk.xpack.n != B)
        return ssm_fail(err, SSM_EINVAL, "ragged model: the packing of a batch of %lld is set "
                        "(model_set_packing), the batch has %lld", (long long)m->trunk.xpack.n,
                        (long long)B);
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return model_upload_cuda(m, x_host, x_rows(m, B), t_host, B, x, t, err);
#endif
    *x = x_host;
    if (t)
        *t = t_host ? *t_host : (ssm_targets){0};
    return SSM_OK;
}

void model_set_step_key(ssm_model *m, uint64_t key) { m->step_key = key; }

// The forward with the trunk's dropout as set (model_forward: none; a training step: its masks).
static ssm_code forward(ssm_model *m, const real *x, int64_t B, ssm_error *err) {
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return model_forward_cuda(m, x, B, err);
#endif
    SSM_TRY(trunk_forward(&m->trunk, &m->params, x, B, err));
    m->head->ctx = (ssm_head_context){.x = x, .positions = m->adapter->positions};
    return ssm_head_forward(m->head, &m->params, m->out, m->trunk.feats, B, err);
}

ssm_code model_forward(ssm_model *m, const real *x, int64_t B, ssm_error *err) {
    trunk_set_dropout(&m->trunk, (ssm_dropout_step){0});
    return forward(m, x, B, err);
}

ssm_code model_loss_and_grad(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                             double *loss, ssm_error *err) {
    // the step's masks, for its forward and its backward (the CUDA path's too)
    trunk_set_dropout(&m->trunk, (ssm_dropout_step){.train = 1, .key = m->step_key});
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return model_loss_and_grad_cuda(m, x, t, B, loss, err);
#endif
    const int64_t R = B * m->rows, KR = m->K / m->rows; // the loss's rows and their width
    SSM_TRY(loss_check_targets(&m->loss, t, R, KR, err));
    SSM_TRY(forward(m, x, B, err));
    loss_forward(&m->loss, loss, m->losses, m->probs, m->out, t, R, KR);
    if (!isfinite(*loss))
        return ssm_fail(err, SSM_EDATA, "loss is %g (not finite): lower optim.lr or check the data",
                        *loss);
    ssm_params_zero_grad(&m->params);
    const ssm_trunk *tr = &m->trunk;
    memset(m->dout, 0, (size_t)B * m->K * sizeof(real));
    memset(tr->dfeats, 0, (size_t)trunk_tokens(tr, B) * tr->D * sizeof(real));
    loss_backward(&m->loss, m->dout, m->dloss, m->probs, m->out, t, R, KR);
    SSM_TRY(ssm_head_backward(m->head, &m->params, tr->dfeats, m->dout, tr->feats, B, err));
    trunk_backward(&m->trunk, &m->params, x, B);
    return SSM_OK;
}

ssm_code model_train_step_graph(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                                const model_step_opts *o, double *loss, double *gnorm,
                                ssm_error *err) {
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return model_train_step_graph_cuda(m, x, t, B, o, loss, gnorm, err);
#endif
    (void)x, (void)t, (void)B, (void)o, (void)loss, (void)gnorm;
    return ssm_fail(err, SSM_EINVAL, "a CUDA graph of the training step (train.cuda_graph) "
                    "needs a model on a GPU (run.device: cuda)");
}

model_graph_stats model_graph_stats_of(const ssm_model *m) {
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return model_graph_stats_cuda(m);
#endif
    (void)m;
    return (model_graph_stats){0};
}

ssm_code model_predict(ssm_model *m, const real *x_host, int64_t B, const real **out,
                       ssm_error *err) {
    const real *x = NULL;
    SSM_TRY(model_batch_in(m, x_host, NULL, B, &x, NULL, err));
    SSM_TRY(model_forward(m, x, B, err));
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        SSM_TRY(model_out_to_host_cuda(m, B, err));
#endif
    *out = m->h_out;
    return SSM_OK;
}

void model_free(ssm_model *m) {
#if SSM_HAVE_CUDA
    if (on_cuda(m)) {
        model_step_graph_free_cuda(m); // the graphs hold pointers into the arena below
        model_free_cuda(m); // before the host table: the mirror shares its items
    }
#endif
    ssm_head_free(m->head);
    trunk_free(&m->trunk);
    ssm_arena_free(&m->arena);
    ssm_params_free(&m->params);
    memset(m, 0, sizeof *m);
}
