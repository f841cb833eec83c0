// defines: cross_entropy_forward_cuda, cross_entropy_backward_cuda, mse_forward_cuda,
//          mse_backward_cuda, mae_forward_cuda, mae_backward_cuda,
//          soft_cross_entropy_forward_cuda, soft_cross_entropy_backward_cuda,
//          bce_logits_forward_cuda, bce_logits_backward_cuda
// CUDA twins of kernels/loss.h (same arguments, device pointers, ssm_code result). As on the
// CPU, a target outside [0, V) gives a NaN loss and a backward that leaves its row alone.
// The row statistics are fp32 here (double on the CPU): max-subtracted, so no overflow.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// losses [N], probs [N, V], logits [N, V], targets [N]
ssm_code cross_entropy_forward_cuda(real *losses, real *probs, const real *logits,
                                    const int32_t *targets, int64_t N, int64_t V,
                                    real smoothing);
ssm_code cross_entropy_backward_cuda(real *dlogits, const real *dloss, const real *probs,
                                     const int32_t *targets, int64_t N, int64_t V,
                                     real smoothing);
ssm_code mse_forward_cuda(real *losses, const real *pred, const real *target, int64_t n);
ssm_code mse_backward_cuda(real *dpred, const real *dloss, const real *pred, const real *target,
                           int64_t n);
// losses[i] = |pred[i] - target[i]|; dpred[i] += dloss[i] * sign(pred[i] - target[i]) (0 at 0).
ssm_code mae_forward_cuda(real *losses, const real *pred, const real *target, int64_t n);
ssm_code mae_backward_cuda(real *dpred, const real *dloss, const real *pred, const real *target,
                           int64_t n);

// Soft targets [N, V] (a distribution per row): kernels/loss.h's soft_cross_entropy_*.
ssm_code soft_cross_entropy_forward_cuda(real *losses, real *probs, const real *logits,
                                         const real *target, int64_t N, int64_t V,
                                         real smoothing);
ssm_code soft_cross_entropy_backward_cuda(real *dlogits, const real *dloss, const real *probs,
                                          const real *target, int64_t N, int64_t V,
                                          real smoothing);
// Element-wise binary cross-entropy on logits (kernels/loss.h's bce_logits_*), n elements.
ssm_code bce_logits_forward_cuda(real *losses, const real *logits, const real *target, int64_t n);
ssm_code bce_logits_backward_cuda(real *dlogits, const real *dloss, const real *logits,
                                  const real *target, int64_t n);

#ifdef __cplusplus
}
#endif
