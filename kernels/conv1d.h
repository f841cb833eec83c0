// defines: conv1d_causal_forward, conv1d_causal_backward
// Causal depthwise 1-D convolution over channel-first activations, with an
// optional fused SiLU (the Mamba mixer's conv1d + act). mamba_ssm stores the
// weight as [C, 1, K]; the memory layout is the same as [C, K].
//   pre[b,c,t] = bias[c] + sum_{k<K} w[c,k] * x[b,c,t-(K-1)+k]   (x[t<0] = 0)
//   out = silu ? SiLU(pre) : pre
#pragma once
#include <stdint.h>

#include "core/real.h"

// out  [B, C, L]
// x    [B, C, L]
// w    [C, K]
// bias [C] or NULL
// seg_offsets [n_segs + 1] or NULL (n_segs 0): packed rows (core/packing.h). NULL: every row
// is one sequence. Else every row is n_segs sequences [seg_offsets[i], seg_offsets[i+1])
// (seg_offsets[0] = 0, seg_offsets[n_segs] = L, ascending) and the window never reads
// across a start: x before a sequence's first step counts as 0, as before a row's.
void conv1d_causal_forward(real *out, const real *x, const real *w, const real *bias, int64_t B,
                           int64_t C, int64_t L, int64_t K, int silu, const int64_t *seg_offsets,
                           int64_t n_segs);

// Accumulates dx, dw, dbias (each may be NULL). Recomputes the pre-activation
// when silu is set rather than storing it. seg_offsets, n_segs as in the forward
// (no gradient crosses a sequence start).
void conv1d_causal_backward(real *dx, real *dw, real *dbias, const real *dout, const real *x,
                            const real *w, const real *bias, int64_t B, int64_t C, int64_t L,
                            int64_t K, int silu, const int64_t *seg_offsets, int64_t n_segs);
