// defines: seg_global_forward_cuda, seg_global_backward_cuda, seg_leaky_forward_cuda,
//          seg_leaky_backward_cuda, seg_add_rows_cuda, seg_rowsum_cuda, seg_relu_cuda,
//          seg_relu_mask_cuda
// Device kernels of the segment head (tasks/head_segment.c; its CUDA path
// tasks/cuda/head_segment_cuda.c), built with CUDA=1: the per-cloud max and mean of the
// tokens and their backward, the category embedding's LeakyReLU, the broadcast of a
// cloud's row over its points and the sum back, and ReLU. Every reduction runs in one fixed
// order per output (no atomics). Device pointers; errors as kernels/cuda/common.h says.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// glob[b, 0..D) = max over g of feats [B, G, D] (gam [B, D]: the first g holding it),
// glob[b, D..2D) = the mean; glob rows of ldg values.
ssm_code seg_global_forward_cuda(real *glob, int32_t *gam, const real *feats, int64_t B,
                                 int64_t G, int64_t D, int64_t ldg);
// dfeats[b, g, d] += dglob[b, D + d] / G + (g == gam[b, d] ? dglob[b, d] : 0).
ssm_code seg_global_backward_cuda(real *dfeats, const real *dglob, const int32_t *gam, int64_t B,
                                  int64_t G, int64_t D, int64_t ldg);
// glob[b, off + e] = LeakyReLU(eh[b, e], slope), eh [B, E].
ssm_code seg_leaky_forward_cuda(real *glob, const real *eh, int64_t B, int64_t E, int64_t ldg,
                                int64_t off, real slope);
// deh[b, e] = dglob[b, off + e] * (eh > 0 ? 1 : slope).
ssm_code seg_leaky_backward_cuda(real *deh, const real *dglob, const real *eh, int64_t B,
                                 int64_t E, int64_t ldg, int64_t off, real slope);
// h [R, H] += s[r / N, :] (s [R / N, H]).
ssm_code seg_add_rows_cuda(real *h, const real *s, int64_t R, int64_t N, int64_t H);
// s [B, H] = the sum over each cloud's N rows of d [B * N, H] (in double, rows in order).
ssm_code seg_rowsum_cuda(real *s, const real *d, int64_t B, int64_t N, int64_t H);
ssm_code seg_relu_cuda(real *x, int64_t n);                     // in place
ssm_code seg_relu_mask_cuda(real *d, const real *a, int64_t n); // d = a > 0 ? d : 0

#ifdef __cplusplus
}
#endif
