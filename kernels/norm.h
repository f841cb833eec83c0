// defines: rmsnorm_forward, rmsnorm_backward, layernorm_forward, layernorm_backward
// Row norms over the last dimension C of [N, C] activations. The forward saves
// the per-row statistics (mean, rstd) that the backward needs.
#pragma once
#include <stdint.h>

#include "core/real.h"

// out[n,c] = inp[n,c] * rstd[n] * weight[c],  rstd = 1/sqrt(mean(inp^2) + eps)
// out [N, C], rstd [N], inp [N, C], weight [C]
void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *weight, int64_t N,
                     int64_t C, real eps);
void rmsnorm_backward(real *dinp, real *dweight, const real *dout, const real *inp,
                      const real *weight, const real *rstd, int64_t N, int64_t C);

// out = (inp - mean) * rstd * weight + bias
// out [N, C], mean [N], rstd [N], inp [N, C], weight [C], bias [C] or NULL
void layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                       const real *bias, int64_t N, int64_t C, real eps);
void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                        const real *inp, const real *weight, const real *mean, const real *rstd,
                        int64_t N, int64_t C);
