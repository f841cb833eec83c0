// defines: silu_forward, silu_backward, softplus_forward, softplus_backward,
//          gate_forward, gate_backward, add_forward, scale_inplace
// Elementwise ops over n elements. Backward accumulates (+=).
#pragma once
#include <stdint.h>

#include "core/real.h"

void silu_forward(real *out, const real *x, int64_t n);                  // x * sigmoid(x)
void silu_backward(real *dx, const real *dout, const real *x, int64_t n);

// softplus(x) = log(1 + exp(x)), linear above 20 as in PyTorch
void softplus_forward(real *out, const real *x, int64_t n);
void softplus_backward(real *dx, const real *dout, const real *x, int64_t n);

// The Mamba gate: out = y * SiLU(z)
void gate_forward(real *out, const real *y, const real *z, int64_t n);
void gate_backward(real *dy, real *dz, const real *dout, const real *y, const real *z, int64_t n);

void add_forward(real *out, const real *a, const real *b, int64_t n); // out = a + b (out may alias)
void scale_inplace(real *x, real s, int64_t n);
