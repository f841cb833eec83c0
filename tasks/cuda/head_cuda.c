// defines: class_head_forward_cuda, class_head_backward_cuda (see head.h)
// In mixed precision (h->bf16) the linear layer is autocast's: the pooled features cast to
// bf16, the bf16 shadow of head.weight, fp32 accumulation and fp32 logits (the loss is fp32);
// backward: dlogits cast to bf16, fp32 weight and bias gradients, fp32 dpooled.
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head.h"

ssm_code class_head_forward_cuda(class_head *h, const ssm_params *p, real *logits,
                                 const real *tokens, int64_t B, int64_t L, ssm_error *err) {
    SSM_CUDA_TRY(pool_tokens_forward_cuda(h->pooled, tokens, h->cls_index, B, L, h->d_model), err);
    if (h->bf16) {
        if (!p->data_bf16 || !h->pooled_h)
            return ssm_fail(err, SSM_EINVAL, "classification head (bf16): no bf16 weight shadow "
                                             "or no bf16 plan");
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(h->pooled_h, h->pooled, B * h->d_model), err);
        SSM_CUDA_TRY(linear_forward_bf16_f32(logits, h->pooled_h, ssm_params_data_bf16(p, h->w_idx),
                                             ssm_params_data(p, h->b_idx), B, h->d_model,
                                             h->num_classes),
                     err);
        return SSM_OK;
    }
    SSM_CUDA_TRY(linear_forward_cuda(logits, h->pooled, ssm_params_data(p, h->w_idx),
                                     ssm_params_data(p, h->b_idx), B, h->d_model, h->num_classes),
                 err);
    return SSM_OK;
}

ssm_code class_head_backward_cuda(class_head *h, ssm_params *p, real *dtokens, const real *dlogits,
                                  const real *tokens, int64_t B, int64_t L, ssm_error *err) {
    SSM_CUDA_TRY(pool_tokens_forward_cuda(h->pooled, tokens, h->cls_index, B, L, h->d_model), err);
    SSM_CUDA_TRY(ssm_cuda_zero(h->dpooled, (size_t)(B * h->d_model) * sizeof(real)), err);
    if (h->bf16) {
        const ssm_bf16 *W = ssm_params_data_bf16(p, h->w_idx);
        const int64_t D = h->d_model, V = h->num_classes;
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(h->pooled_h, h->pooled, B * D), err);
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(h->dlogits_h, dlogits, B * V), err);
        // dpooled [B, D] fp32 = dlogits [B, V] @ W [V, D]
        SSM_CUDA_TRY(gemm_bf16_cuda(h->dpooled, 1, h->dlogits_h, W, B, D, V, 0, 0, 1.f, 0.f), err);
        SSM_CUDA_TRY(linear_backward_bf16(NULL, ssm_params_grad(p, h->w_idx), NULL, h->dlogits_h,
                                          h->pooled_h, W, B, D, V),
                     err);
        SSM_CUDA_TRY(linear_backward_cuda(NULL, NULL, ssm_params_grad(p, h->b_idx), dlogits, NULL,
                                          NULL, B, D, V),
                     err); // the bias gradient from the fp32 dlogits
        SSM_CUDA_TRY(pool_tokens_backward_cuda(dtokens, h->dpooled, h->cls_index, B, L, D), err);
        return SSM_OK;
    }
    SSM_CUDA_TRY(linear_backward_cuda(h->dpooled, ssm_params_grad(p, h->w_idx),
                                      ssm_params_grad(p, h->b_idx), dlogits, h->pooled,
                                      ssm_params_data(p, h->w_idx), B, h->d_model, h->num_classes),
                 err);
    SSM_CUDA_TRY(pool_tokens_backward_cuda(dtokens, h->dpooled, h->cls_index, B, L, h->d_model),
                 err);
    return SSM_OK;
}
