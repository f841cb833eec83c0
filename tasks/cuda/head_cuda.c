// defines: class_head_forward_cuda, class_head_backward_cuda (see head.h)
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head.h"

ssm_code class_head_forward_cuda(class_head *h, const ssm_params *p, real *logits,
                                 const real *tokens, int64_t B, int64_t L, ssm_error *err) {
    SSM_CUDA_TRY(pool_tokens_forward_cuda(h->pooled, tokens, h->cls_index, B, L, h->d_model), err);
    SSM_CUDA_TRY(linear_forward_cuda(logits, h->pooled, ssm_params_data(p, h->w_idx),
                                     ssm_params_data(p, h->b_idx), B, h->d_model, h->num_classes),
                 err);
    return SSM_OK;
}

ssm_code class_head_backward_cuda(class_head *h, ssm_params *p, real *dtokens, const real *dlogits,
                                  const real *tokens, int64_t B, int64_t L, ssm_error *err) {
    SSM_CUDA_TRY(pool_tokens_forward_cuda(h->pooled, tokens, h->cls_index, B, L, h->d_model), err);
    SSM_CUDA_TRY(ssm_cuda_zero(h->dpooled, (size_t)(B * h->d_model) * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(h->dpooled, ssm_params_grad(p, h->w_idx),
                                      ssm_params_grad(p, h->b_idx), dlogits, h->pooled,
                                      ssm_params_data(p, h->w_idx), B, h->d_model, h->num_classes),
                 err);
    SSM_CUDA_TRY(pool_tokens_backward_cuda(dtokens, h->dpooled, h->cls_index, B, L, h->d_model),
                 err);
    return SSM_OK;
}
