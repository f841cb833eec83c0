// defines: the one model on one GPU (see model.h), and the losses' device twins
#include "tasks/cuda/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/loss.h"
#include "tasks/cuda/head.h"
#include "tasks/cuda/trunk.h"

static ssm_code plan_cuda(ssm_model *m, ssm_error *err) {
    ssm_arena *a = &m->darena;
    SSM_TRY(trunk_plan_cuda(&m->trunk, a, err));
    SSM_TRY(model_plan_arrays(m, a, err)); // the head's plan_cuda (refused by name without)
    // rows of x a batch may hold: B_max samples, or a ragged adapter's instance budget
    int64_t rows = m->trunk.ragged ? m->adapter->seq_len : m->B_max;
    m->x_in = ssm_arena_take(a, (size_t)rows * m->in_numel * sizeof(real));
    m->cls_in = ssm_arena_take(a, (size_t)(m->B_max * m->rows) * sizeof(int32_t));
    m->val_in = ssm_arena_take(a, (size_t)m->B_max * m->K * sizeof(real));
    m->loss_sum = ssm_arena_take(a, sizeof(double));
    return SSM_OK;
}

ssm_code model_setup_cuda(ssm_model *m, ssm_error *err) {
    if (!ssm_head_has_cuda(m->head)) // before any device memory: the refusal names the head
        return ssm_fail(err, SSM_EDEVICE,
                        "head %s has no CUDA path (run.device: cuda): set run.device: cpu",
                        m->head->vt->name);
    SSM_TRY(ssm_params_cuda_mirror(&m->dparams, &m->params, err));
    if (m->head->bf16) // mixed precision: the bf16 shadow the GEMMs read (core/cuda/device.h)
        SSM_TRY(ssm_params_cuda_shadow_bf16(&m->dparams, err));
    SSM_TRY(plan_cuda(m, err)); // measure
    SSM_TRY(ssm_arena_commit_cuda(&m->darena, err));
    SSM_TRY(plan_cuda(m, err)); // hand out
    m->h_out = malloc((size_t)m->B_max * m->K * sizeof(real));
    if (!m->h_out)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for the host copy of the outputs");
    return SSM_OK;
}

ssm_code model_forward_cuda(ssm_model *m, const real *x, int64_t B, ssm_error *err) {
    if (B < 1 || B > m->B_max)
        return ssm_fail(err, SSM_EINVAL, "batch of %lld, the model was planned for 1..%lld",
                        (long long)B, (long long)m->B_max);
    SSM_TRY(trunk_forward_cuda(&m->trunk, &m->dparams, x, B, err));
    m->head->ctx = (ssm_head_context){.x = x, .positions = m->adapter->positions};
    return ssm_head_forward_cuda(m->head, &m->dparams, m->out, m->trunk.feats, B, err);
}

ssm_code loss_forward_cuda(const loss_spec *l, double *sum, real *losses, real *probs,
                           const real *out, const ssm_targets *t, int64_t B, int64_t K,
                           ssm_error *err) {
    if (l->kind == LOSS_CE) {
        if (t->cls)
            SSM_CUDA_TRY(cross_entropy_forward_cuda(losses, probs, out, t->cls, B, K,
                                                    (real)l->smoothing), err);
        else // soft labels (mixup)
            SSM_CUDA_TRY(soft_cross_entropy_forward_cuda(losses, probs, out, t->values, B, K,
                                                         (real)l->smoothing), err);
        SSM_CUDA_TRY(sum_double_cuda(sum, losses, B), err);
        return SSM_OK;
    }
    if (l->kind == LOSS_BCE)
        SSM_CUDA_TRY(bce_logits_forward_cuda(losses, out, t->values, B * K), err);
    else if (l->kind == LOSS_MSE)
        SSM_CUDA_TRY(mse_forward_cuda(losses, out, t->values, B * K), err);
    else
        SSM_CUDA_TRY(mae_forward_cuda(losses, out, t->values, B * K), err);
    SSM_CUDA_TRY(sum_double_cuda(sum, losses, B * K), err);
    return SSM_OK;
}

ssm_code loss_backward_cuda(const loss_spec *l, real *dout, real *dloss, const real *probs,
                            const real *out, const ssm_targets *t, int64_t B, int64_t K,
                            ssm_error *err) {
    if (l->kind == LOSS_CE) {
        SSM_CUDA_TRY(fill_cuda(dloss, (real)(1.0 / (double)B), B), err);
        if (t->cls)
            SSM_CUDA_TRY(cross_entropy_backward_cuda(dout, dloss, probs, t->cls, B, K,
                                                     (real)l->smoothing), err);
        else
            SSM_CUDA_TRY(soft_cross_entropy_backward_cuda(dout, dloss, probs, t->values, B, K,
                                                          (real)l->smoothing), err);
        return SSM_OK;
    }
    // the mean over B*K elements: d/d out = 1/(B*K) times the element's derivative
    SSM_CUDA_TRY(fill_cuda(dloss, (real)(1.0 / (double)(B * K)), B * K), err);
    if (l->kind == LOSS_BCE)
        SSM_CUDA_TRY(bce_logits_backward_cuda(dout, dloss, out, t->values, B * K), err);
    else if (l->kind == LOSS_MSE)
        SSM_CUDA_TRY(mse_backward_cuda(dout, dloss, out, t->values, B * K), err);
    else
        SSM_CUDA_TRY(mae_backward_cuda(dout, dloss, out, t->values, B * K), err);
    return SSM_OK;
}

ssm_code model_loss_and_grad_queue_cuda(ssm_model *m, const real *x, const ssm_targets *t,
                                        int64_t B, ssm_error *err) {
    ssm_params *p = &m->dparams;
    const ssm_trunk *tr = &m->trunk;
    const int64_t R = B * m->rows, KR = m->K / m->rows; // the loss's rows and their width
    SSM_TRY(model_forward_cuda(m, x, B, err));
    SSM_TRY(loss_forward_cuda(&m->loss, m->loss_sum, m->losses, m->probs, m->out, t, R, KR, err));
    SSM_CUDA_TRY(ssm_cuda_zero(p->grad, p->total * sizeof(real)), err);
    SSM_CUDA_TRY(ssm_cuda_zero(m->dout, (size_t)B * m->K * sizeof(real)), err);
    SSM_CUDA_TRY(ssm_cuda_zero(tr->dfeats, (size_t)trunk_tokens(tr, B) * tr->D * sizeof(real)), err);
    SSM_TRY(loss_backward_cuda(&m->loss, m->dout, m->dloss, m->probs, m->out, t, R, KR, err));
    SSM_TRY(ssm_head_backward_cuda(m->head, p, tr->dfeats, m->dout, tr->feats, B, err));
    return trunk_backward_cuda(&m->trunk, p, x, B, err);
}

ssm_code model_loss_from_sum(const ssm_model *m, double sum, int64_t B, double *loss,
                             ssm_error *err) {
    *loss = sum / (double)(m->loss.kind == LOSS_CE ? B * m->rows : B * m->K);
    if (!isfinite(*loss))
        return ssm_fail(err, SSM_EDATA, "loss is %g (not finite): lower optim.lr or check the data",
                        *loss);
    return SSM_OK;
}

ssm_code model_loss_and_grad_cuda(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                                  double *loss, ssm_error *err) {
    SSM_TRY(model_loss_and_grad_queue_cuda(m, x, t, B, err));
    // The one copy of the step: the summed loss, after the backward is queued.
    double sum;
    SSM_CUDA_TRY(ssm_cuda_download(&sum, m->loss_sum, sizeof sum), err);
    return model_loss_from_sum(m, sum, B, loss, err);
}

ssm_code model_upload_cuda(ssm_model *m, const real *x_host, int64_t rows,
                           const ssm_targets *t_host, int64_t B, const real **x, ssm_targets *t,
                           ssm_error *err) {
    SSM_CUDA_TRY(ssm_cuda_upload(m->x_in, x_host, (size_t)rows * m->in_numel * sizeof(real)), err);
    if (m->trunk.ragged)
        SSM_TRY(trunk_upload_packing_cuda(&m->trunk, err));
    *x = m->x_in;
    if (!t)
        return SSM_OK;
    *t = (ssm_targets){0};
    if (t_host && t_host->cls) {
        SSM_CUDA_TRY(ssm_cuda_upload(m->cls_in, t_host->cls,
                                     (size_t)(B * m->rows) * sizeof(int32_t)), err);
        t->cls = m->cls_in;
    }
    if (t_host && t_host->values) {
        SSM_CUDA_TRY(ssm_cuda_upload(m->val_in, t_host->values, (size_t)B * m->K * sizeof(real)),
                     err);
        t->values = m->val_in;
    }
    return SSM_OK; // sample weights: no loss reads them yet (tasks/loss.h)
}

ssm_code model_out_to_host_cuda(ssm_model *m, int64_t B, ssm_error *err) {
    SSM_CUDA_TRY(ssm_cuda_download(m->h_out, m->out, (size_t)B * m->K * sizeof(real)), err);
    return SSM_OK;
}

void model_free_cuda(ssm_model *m) {
    if (m->dparams.data)
        ssm_params_cuda_free(&m->dparams);
    ssm_arena_free_cuda(&m->darena);
    free(m->h_out);
    m->h_out = NULL;
}
