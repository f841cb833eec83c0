// defines: adamw_update, grad_global_norm, grad_clip
// One loop over one flat buffer (DESIGN.md invariant 3).
#pragma once
#include <stdint.h>

#include "core/real.h"

// AdamW with decoupled weight decay (Loshchilov & Hutter; torch.optim.AdamW):
//   p -= lr * wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// t is the 1-based step. n elements.
void adamw_update(real *p, const real *g, real *m, real *v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int64_t t);

// sqrt(sum g^2), summed in double in a fixed order (deterministic across runs
// with the same thread count).
double grad_global_norm(const real *g, int64_t n);

// Scales g by max_norm / norm when norm > max_norm; returns the norm before clipping.
double grad_clip(real *g, int64_t n, double max_norm);
