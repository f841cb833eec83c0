// defines: gather_tokens_forward, gather_tokens_backward, scatter_tokens_forward,
//          scatter_tokens_backward, transpose_forward
// Scan orders are data (DESIGN.md invariant 5): a serialized scan is a
// per-sample permutation perm[b, l] of token positions. Gather reads the
// tokens in scan order; scatter writes scan-order results back to their
// positions. Channel-first activations [B, C, L]. perm entries are int32
// positions in [0, L) and each row is a permutation.
#pragma once
#include <stdint.h>

#include "core/real.h"

// out[b,c,l] = inp[b,c,perm[b,l]]
void gather_tokens_forward(real *out, const real *inp, const int32_t *perm, int64_t B, int64_t C,
                           int64_t L);
// dinp[b,c,perm[b,l]] += dout[b,c,l]
void gather_tokens_backward(real *dinp, const real *dout, const int32_t *perm, int64_t B,
                            int64_t C, int64_t L);

// out[b,c,perm[b,l]] = alpha * inp[b,c,l] + (accumulate ? out[b,c,perm[b,l]] : 0)
void scatter_tokens_forward(real *out, const real *inp, const int32_t *perm, int64_t B, int64_t C,
                            int64_t L, real alpha, int accumulate);
// dinp[b,c,l] += alpha * dout[b,c,perm[b,l]]
void scatter_tokens_backward(real *dinp, const real *dout, const int32_t *perm, int64_t B,
                             int64_t C, int64_t L, real alpha);

// Batched 2-D transpose: out[b, j, i] = inp[b, i, j], inp [B, R, S] -> out [B, S, R].
// Used between token-major [B, L, D] and channel-first [B, D, L].
void transpose_forward(real *out, const real *inp, int64_t B, int64_t R, int64_t S);
