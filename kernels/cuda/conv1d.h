// defines: conv1d_causal_forward_cuda, conv1d_causal_backward_cuda, conv1d_causal_forward_bf16,
//          conv1d_causal_backward_bf16, CONV1D_CUDA_MAX_K
// CUDA twins of kernels/conv1d.h (causal depthwise conv with optional fused SiLU): the same
// arguments (device pointers) and an ssm_code result. K <= CONV1D_CUDA_MAX_K (Mamba uses 4).
// Both passes run blocks over (channel, chunks of the flattened batch x time); the backward's
// dw[c,:], dbias[c] are summed per block in a fixed thread layout and tree, then over the
// blocks in ascending order (partials in the per-thread scratch, ssm_cuda_scratch): no
// atomics, the same bits on every run for a given shape. Backward += into dx, dw, dbias
// (each may be NULL).
// Packed rows (core/packing.h): seg_offsets [n_segs + 1] is a DEVICE array, the same for
// every row (0 = offsets[0] < ... < offsets[n_segs] = L); the window never reaches across
// an offset, as if each sequence were a row of its own. NULL, 0: one sequence per row.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h" // ssm_bf16

#define CONV1D_CUDA_MAX_K 1024

#ifdef __cplusplus
extern "C" {
#endif

// out [B, C, L], x [B, C, L], w [C, K], bias [C] or NULL
ssm_code conv1d_causal_forward_cuda(real *out, const real *x, const real *w, const real *bias,
                                    int64_t B, int64_t C, int64_t L, int64_t K, int silu,
                                    const int64_t *seg_offsets, int64_t n_segs);
ssm_code conv1d_causal_backward_cuda(real *dx, real *dw, real *dbias, const real *dout,
                                     const real *x, const real *w, const real *bias, int64_t B,
                                     int64_t C, int64_t L, int64_t K, int silu,
                                     const int64_t *seg_offsets, int64_t n_segs);

// Mixed precision (run.precision: bf16): x, out, dx in bf16, w, bias, dw, dbias in fp32, every
// sum in fp32 (the same order as above) and each output rounded once. dout is fp32 when
// dout_f32 (the bf16 mixer accumulates the scan's du in fp32), else bf16. Deterministic as
// the fp32 pair; packed rows the same way.
ssm_code conv1d_causal_forward_bf16(ssm_bf16 *out, const ssm_bf16 *x, const real *w,
                                    const real *bias, int64_t B, int64_t C, int64_t L, int64_t K,
                                    int silu, const int64_t *seg_offsets, int64_t n_segs);
ssm_code conv1d_causal_backward_bf16(ssm_bf16 *dx, real *dw, real *dbias, const void *dout,
                                     int dout_f32, const ssm_bf16 *x, const real *w,
                                     const real *bias, int64_t B, int64_t C, int64_t L,
                                     int64_t K, int silu, const int64_t *seg_offsets,
                                     int64_t n_segs);

#ifdef __cplusplus
}
#endif
