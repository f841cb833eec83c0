// defines: cross_entropy_forward, cross_entropy_backward, mse_forward, mse_backward
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
