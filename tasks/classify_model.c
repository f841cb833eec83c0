// defines: the classification model (see classify_model.h)
#include "tasks/classify_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/loss.h"
#if SSM_HAVE_CUDA
#include "tasks/cuda/classify.h"
#endif

static int on_cuda(const classify_model *m) { return m->device.kind == SSM_DEVICE_CUDA; }

ssm_code classify_model_plan_head(classify_model *m, ssm_arena *a, ssm_error *err) {
    int64_t B = m->B_max, V = m->V;
    m->logits = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->probs = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->dlogits = ssm_arena_take(a, (size_t)B * V * sizeof(real));
    m->losses = ssm_arena_take(a, (size_t)B * sizeof(real));
    m->dloss = ssm_arena_take(a, (size_t)B * sizeof(real));
    SSM_TRY(class_head_plan(&m->head, a, B, err));
    const ssm_trunk *t = &m->trunk;
    m->orders = t->orders;
    m->schedule = t->schedule;
    m->tokens = t->tokens;
    m->feats = t->feats;
    m->dfeats = t->dfeats;
    m->dtokens = t->dtokens;
    return SSM_OK;
}

static ssm_code plan(classify_model *m, ssm_error *err) {
    SSM_TRY(trunk_plan(&m->trunk, &m->arena, err));
    SSM_TRY(classify_model_plan_head(m, &m->arena, err));
    m->h_logits = m->logits;
    m->h_probs = m->probs;
    m->h_losses = m->losses;
    return SSM_OK;
}

ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err) {
    memset(m, 0, sizeof *m);
    ssm_params_init(&m->params);
    ssm_arena_init(&m->arena);
    ssm_arena_init(&m->darena);
    if (spec->num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG, "task.num_classes is %lld, expected >= 2",
                        (long long)spec->num_classes);
    if (spec->B_max < 1)
        return ssm_fail(err, SSM_ECONFIG, "batch size is %lld, expected >= 1", (long long)spec->B_max);
    if (spec->backbone.precision != MAMBA_FP32 && spec->device.kind != SSM_DEVICE_CUDA)
        return ssm_fail(err, SSM_ECONFIG,
                        "run.precision: bf16 is mixed precision on a GPU (run.device: cuda); on "
                        "the CPU models train in fp32 (set run.precision: fp32)");
    SSM_TRY(ssm_device_open(&spec->device, err)); // a CPU-only build refuses CUDA here
    m->device = spec->device;
    m->B_max = spec->B_max;
    m->V = spec->num_classes;
    m->smoothing = spec->label_smoothing;
    m->in_numel = 1;
    for (int i = 0; i < spec->input.ndim; i++)
        m->in_numel *= spec->input.dims[i];
    ssm_trunk_spec ts = {.adapter = spec->adapter, .adapter_opt = spec->adapter_opt,
                         .input = spec->input, .backbone = spec->backbone};
    SSM_TRY(trunk_declare(&m->trunk, &ts, m->B_max, &m->params, err));
    m->adapter = m->trunk.adapter;
    m->stack = m->trunk.stack;
    m->D = m->trunk.D;
    m->n_layers = m->trunk.n_layers;
    m->n_branches = m->trunk.n_branches;
    m->L = m->trunk.S * m->trunk.L; // one sample's tokens, contiguous
    int64_t cls = spec->mean_pool ? -1 : m->adapter->cls_index;
    if (cls >= 0 && m->trunk.S > 1)
        return ssm_fail(err, SSM_ECONFIG,
                        "adapter %s makes %lld sequences per sample: pool by the mean (task.pool: mean)",
                        spec->adapter, (long long)m->trunk.S);
    SSM_TRY(class_head_declare(&m->head, &m->params, "", m->D, m->V, cls, err));
    m->head.bf16 = spec->backbone.precision == MAMBA_BF16;
    SSM_TRY(ssm_params_finalize(&m->params, err));

    ssm_rng rng;
    SSM_TRY(ssm_rng_init(&rng, spec->seed, err));
    trunk_init_params(&m->trunk, &m->params, &rng);
    class_head_init_params(&m->head, &m->params, &rng);
    ssm_rng_free(&rng);

#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return classify_model_setup_cuda(m, err);
#endif
    SSM_TRY(plan(m, err)); // measure
    SSM_TRY(ssm_arena_commit(&m->arena, err));
    SSM_TRY(plan(m, err)); // hand out
    return SSM_OK;
}

ssm_params *classify_model_params(classify_model *m) {
    return on_cuda(m) ? &m->dparams : &m->params;
}

ssm_code classify_check_labels(const int32_t *labels, int64_t B, int64_t V, ssm_error *err) {
    for (int64_t i = 0; i < B; i++)
        if (labels[i] < 0 || labels[i] >= V)
            return ssm_fail(err, SSM_EDATA, "label %d of batch sample %lld is outside [0, %lld)",
                            labels[i], (long long)i, (long long)V);
    return SSM_OK;
}

ssm_code classify_model_forward(classify_model *m, const real *x, int64_t B, ssm_error *err) {
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return classify_model_forward_cuda(m, x, B, err);
#endif
    SSM_TRY(trunk_forward(&m->trunk, &m->params, x, B, err));
    class_head_forward(&m->head, &m->params, m->logits, m->feats, B, m->L);
    return SSM_OK;
}

ssm_code classify_model_loss_and_grad(classify_model *m, const real *x, const int32_t *labels,
                                      int64_t B, double *loss, ssm_error *err) {
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return classify_model_loss_and_grad_cuda(m, x, labels, B, loss, err);
#endif
    SSM_TRY(classify_check_labels(labels, B, m->V, err));
    SSM_TRY(classify_model_forward(m, x, B, err));
    cross_entropy_forward(m->losses, m->probs, m->logits, labels, B, m->V, (real)m->smoothing);
    double sum = 0;
    for (int64_t i = 0; i < B; i++)
        sum += m->losses[i];
    *loss = sum / (double)B;
    if (!isfinite(*loss))
        return ssm_fail(err, SSM_EDATA, "loss is %g (not finite): lower optim.lr or check the data",
                        *loss);

    ssm_params_zero_grad(&m->params);
    for (int64_t i = 0; i < B; i++)
        m->dloss[i] = (real)(1.0 / (double)B);
    size_t nlog = (size_t)B * m->V, ntok = (size_t)B * m->L * m->D;
    memset(m->dlogits, 0, nlog * sizeof(real));
    memset(m->dfeats, 0, ntok * sizeof(real));
    cross_entropy_backward(m->dlogits, m->dloss, m->probs, labels, B, m->V, (real)m->smoothing);
    class_head_backward(&m->head, &m->params, m->dfeats, m->dlogits, m->feats, B, m->L);
    trunk_backward(&m->trunk, &m->params, x, B);
    return SSM_OK;
}

ssm_code classify_model_batch_in(classify_model *m, const real *x_host, const int32_t *y_host,
                                 int64_t B, const real **x, const int32_t **y, ssm_error *err) {
    if (B < 1 || B > m->B_max)
        return ssm_fail(err, SSM_EINVAL, "batch of %lld, the model was planned for 1..%lld",
                        (long long)B, (long long)m->B_max);
    if (y_host)
        SSM_TRY(classify_check_labels(y_host, B, m->V, err));
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        return classify_model_upload_cuda(m, x_host, y_host, B, x, y, err);
#endif
    *x = x_host;
    if (y)
        *y = y_host;
    return SSM_OK;
}

ssm_code classify_model_predict(classify_model *m, const real *x_host, int64_t B,
                                const real **logits, ssm_error *err) {
    const real *x = NULL;
    SSM_TRY(classify_model_batch_in(m, x_host, NULL, B, &x, NULL, err));
    SSM_TRY(classify_model_forward(m, x, B, err));
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        SSM_TRY(classify_model_logits_to_host(m, B, err));
#endif
    *logits = m->h_logits;
    return SSM_OK;
}

void classify_model_free(classify_model *m) {
#if SSM_HAVE_CUDA
    if (on_cuda(m))
        classify_model_free_cuda(m); // before the host table: the mirror shares its items
#endif
    trunk_free(&m->trunk);
    ssm_arena_free(&m->arena);
    ssm_params_free(&m->params);
    memset(m, 0, sizeof *m);
}
