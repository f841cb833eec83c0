// defines: tokens_to_channels_cuda, channels_to_tokens_cuda, gate_tokens_forward_cuda,
//          gate_tokens_backward_cuda, neg_exp_cuda, mul_add_cuda, batch_sum_add_cuda
// The backbone's own small kernels on GPU (private to backbone/cuda/): the layout changes
// between the token-major projections and the channel-first conv and scan, fused with the
// scan order's gather / scatter, and the gate on token-major rows whose z is a column block
// of xz. Same conventions as the kernels/cuda twins: device pointers, an ssm_code result,
// the message in the per-thread CUDA error (ssm_cuda_take_error), the library stream.
// perm rows must be permutations of [0, L) (the writes of channels_to_tokens would race
// otherwise); perm NULL is the identity.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// out [B, C, L] channel-first, out[b, c, l] = alpha * inp[(b*L + perm[b, l]) * ld + c]:
// columns [0, C) of token-major rows of width ld >= C, read in scan order.
ssm_code tokens_to_channels_cuda(real *out, const real *inp, const int32_t *perm, int64_t B,
                                 int64_t C, int64_t L, int64_t ld, real alpha);
// The inverse: out[(b*L + perm[b, l]) * ld + c] = alpha * inp[b, c, l]
// (+ the old value when accumulate). inp [B, C, L].
ssm_code channels_to_tokens_cuda(real *out, const real *inp, const int32_t *perm, int64_t B,
                                 int64_t C, int64_t L, int64_t ld, real alpha, int accumulate);

// g [rows, E] = y [rows, E] * SiLU(z), z = columns [E, 2E) of xz [rows, 2E].
ssm_code gate_tokens_forward_cuda(real *g, const real *y, const real *xz, int64_t rows,
                                  int64_t E);
// dy [rows, E] = dg * SiLU(z) and dxz[:, E:2E] = dg * y * SiLU'(z), both WRITTEN (not +=);
// dy may be dg itself (each element is read before it is written).
ssm_code gate_tokens_backward_cuda(real *dy, real *dxz, const real *dg, const real *y,
                                   const real *xz, int64_t rows, int64_t E);

// A [n] = -exp(A_log) (in double, as the CPU mixer)
ssm_code neg_exp_cuda(real *A, const real *A_log, int64_t n);
// out [n] += a * b
ssm_code mul_add_cuda(real *out, const real *a, const real *b, int64_t n);
// out [n] += sum over i < B of part[i * n + ...], in ascending i for every element: the
// deterministic reduction of per-sample weight gradients.
ssm_code batch_sum_add_cuda(real *out, const real *part, int64_t B, int64_t n);

#ifdef __cplusplus
}
#endif
