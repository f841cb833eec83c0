// defines: the classification model on one GPU (see classify.h)
#include "tasks/cuda/classify.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/loss.h"
#include "tasks/cuda/head.h"
#include "tasks/cuda/trunk.h"

static ssm_code plan_cuda(classify_model *m, ssm_error *err) {
    ssm_arena *a = &m->darena;
    SSM_TRY(trunk_plan_cuda(&m->trunk, a, err));
    SSM_TRY(classify_model_plan_head(m, a, err));
    m->x_in = ssm_arena_take(a, (size_t)m->B_max * m->in_numel * sizeof(real));
    m->y_in = ssm_arena_take(a, (size_t)m->B_max * sizeof(int32_t));
    m->loss_sum = ssm_arena_take(a, sizeof(double));
    return SSM_OK;
}

ssm_code classify_model_setup_cuda(classify_model *m, ssm_error *err) {
    SSM_TRY(ssm_params_cuda_mirror(&m->dparams, &m->params, err));
    if (m->head.bf16) // mixed precision: the bf16 shadow the GEMMs read (core/cuda/device.h)
        SSM_TRY(ssm_params_cuda_shadow_bf16(&m->dparams, err));
    SSM_TRY(plan_cuda(m, err)); // measure
    SSM_TRY(ssm_arena_commit_cuda(&m->darena, err));
    SSM_TRY(plan_cuda(m, err)); // hand out
    size_t nlog = (size_t)m->B_max * m->V;
    m->h_logits = malloc(nlog * sizeof(real));
    m->h_probs = malloc(nlog * sizeof(real));
    m->h_losses = malloc((size_t)m->B_max * sizeof(real));
    if (!m->h_logits || !m->h_probs || !m->h_losses)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the host copies of the logits");
    return SSM_OK;
}

ssm_code classify_model_forward_cuda(classify_model *m, const real *x, int64_t B, ssm_error *err) {
    if (B < 1 || B > m->B_max)
        return ssm_fail(err, SSM_EINVAL, "batch of %lld, the model was planned for 1..%lld",
                        (long long)B, (long long)m->B_max);
    SSM_TRY(trunk_forward_cuda(&m->trunk, &m->dparams, x, B, err));
    return class_head_forward_cuda(&m->head, &m->dparams, m->logits, m->feats, B, m->L, err);
}

ssm_code classify_model_loss_and_grad_cuda(classify_model *m, const real *x, const int32_t *labels,
                                           int64_t B, double *loss, ssm_error *err) {
    ssm_params *p = &m->dparams;
    real sm = (real)m->smoothing;
    SSM_TRY(classify_model_forward_cuda(m, x, B, err));
    SSM_CUDA_TRY(cross_entropy_forward_cuda(m->losses, m->probs, m->logits, labels, B, m->V, sm),
                 err);
    SSM_CUDA_TRY(sum_double_cuda(m->loss_sum, m->losses, B), err);

    SSM_CUDA_TRY(ssm_cuda_zero(p->grad, p->total * sizeof(real)), err);
    SSM_CUDA_TRY(fill_cuda(m->dloss, (real)(1.0 / (double)B), B), err);
    SSM_CUDA_TRY(ssm_cuda_zero(m->dlogits, (size_t)B * m->V * sizeof(real)), err);
    SSM_CUDA_TRY(ssm_cuda_zero(m->dfeats, (size_t)B * m->L * m->D * sizeof(real)), err);
    SSM_CUDA_TRY(cross_entropy_backward_cuda(m->dlogits, m->dloss, m->probs, labels, B, m->V, sm),
                 err);
    SSM_TRY(class_head_backward_cuda(&m->head, p, m->dfeats, m->dlogits, m->feats, B, m->L, err));
    SSM_TRY(trunk_backward_cuda(&m->trunk, p, x, B, err));

    // The one copy of the step: the summed loss, after the backward is queued.
    double sum;
    SSM_CUDA_TRY(ssm_cuda_download(&sum, m->loss_sum, sizeof sum), err);
    *loss = sum / (double)B;
    if (!isfinite(*loss))
        return ssm_fail(err, SSM_EDATA, "loss is %g (not finite): lower optim.lr or check the data",
                        *loss);
    return SSM_OK;
}

ssm_code classify_model_upload_cuda(classify_model *m, const real *x_host, const int32_t *y_host,
                                    int64_t B, const real **x, const int32_t **y, ssm_error *err) {
    SSM_CUDA_TRY(ssm_cuda_upload(m->x_in, x_host, (size_t)B * m->in_numel * sizeof(real)), err);
    *x = m->x_in;
    if (y_host)
        SSM_CUDA_TRY(ssm_cuda_upload(m->y_in, y_host, (size_t)B * sizeof(int32_t)), err);
    if (y)
        *y = y_host ? m->y_in : NULL;
    return SSM_OK;
}

ssm_code classify_model_logits_to_host(classify_model *m, int64_t B, ssm_error *err) {
    SSM_CUDA_TRY(ssm_cuda_download(m->h_logits, m->logits, (size_t)B * m->V * sizeof(real)), err);
    return SSM_OK;
}

void classify_model_free_cuda(classify_model *m) {
    if (m->dparams.data)
        ssm_params_cuda_free(&m->dparams);
    ssm_arena_free_cuda(&m->darena);
    free(m->h_logits);
    free(m->h_probs);
    free(m->h_losses);
    m->h_logits = m->h_probs = m->h_losses = NULL;
}
