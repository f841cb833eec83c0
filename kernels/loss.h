// defines: cross_entropy_forward, cross_entropy_backward, mse_forward, mse_backward,
//          soft_cross_entropy_forward, soft_cross_entropy_backward, bce_logits_forward,
//          bce_logits_backward
#pragma once
#include <stdint.h>

#include "core/real.h"

// Cross-entropy with label smoothing eps (PyTorch semantics: the target
// distribution is (1-eps) one-hot + eps/V uniform).
// losses [N], probs [N, V] (softmax saved for backward), logits [N, V], targets [N] in [0, V)
void cross_entropy_forward(real *losses, real *probs, const real *logits, const int32_t *targets,
                           int64_t N, int64_t V, real smoothing);
// dlogits[n,:] += dloss[n] * (probs[n,:] - target_dist[n,:]); dloss [N]
void cross_entropy_backward(real *dlogits, const real *dloss, const real *probs,
                            const int32_t *targets, int64_t N, int64_t V, real smoothing);

// losses[i] = (pred[i] - target[i])^2, n elements
void mse_forward(real *losses, const real *pred, const real *target, int64_t n);
// dpred[i] += dloss[i] * 2 (pred[i] - target[i])
void mse_backward(real *dpred, const real *dloss, const real *pred, const real *target, int64_t n);

// Cross-entropy against a target distribution per row (soft labels: mixup), with label
// smoothing eps: q = (1-eps) target + eps/V; loss = lse - sum_j q_j l_j.
// losses [N], probs [N, V] (softmax saved for backward), logits [N, V], target [N, V]
void soft_cross_entropy_forward(real *losses, real *probs, const real *logits,
                                const real *target, int64_t N, int64_t V, real smoothing);
// dlogits[n,:] += dloss[n] * (probs[n,:] - q[n,:]); dloss [N]
void soft_cross_entropy_backward(real *dlogits, const real *dloss, const real *probs,
                                 const real *target, int64_t N, int64_t V, real smoothing);

// Binary cross-entropy on logits, element by element (PyTorch's BCEWithLogitsLoss without
// reduction), stable for any logit: losses[i] = max(l, 0) - l y + log(1 + exp(-|l|)),
// targets y in [0, 1] (multi-hot, or mixed by mixup).
void bce_logits_forward(real *losses, const real *logits, const real *target, int64_t n);
// dlogits[i] += dloss[i] * (sigmoid(l[i]) - y[i])
void bce_logits_backward(real *dlogits, const real *dloss, const real *logits,
                         const real *target, int64_t n);
