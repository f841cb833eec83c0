// defines: tokens_to_channels_bf16_cuda, channels_to_tokens_bf16_cuda,
//          gate_tokens_forward_bf16_cuda, gate_tokens_backward_bf16_cuda
// The layout and gate kernels of mixer_kernels.h for the bf16 mixer (mixer_bf16.c): the same
// semantics, with the token-major side in bf16 and the channel-first side in bf16 or fp32
// (where an fp32 op, the conv, sits on it). Arithmetic in fp32, one rounding per store.
// Private to backbone/cuda/; errors as kernels/cuda/common.h says.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "kernels/cuda/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// out [B, C, L] (fp32 when out_fp32, else bf16) = alpha * columns [0, C) of the bf16
// token-major rows inp (width ld) read in scan order perm [B, L] (NULL: identity).
ssm_code tokens_to_channels_bf16_cuda(void *out, int out_fp32, const ssm_bf16 *inp,
                                      const int32_t *perm, int64_t B, int64_t C, int64_t L,
                                      int64_t ld, float alpha);
// The inverse into bf16 token-major rows: out[(b*L + perm[b, l]) * ld + c] = alpha *
// inp[b, c, l] (+ the old value when accumulate, added in fp32 and rounded once);
// inp [B, C, L] fp32 (in_fp32) or bf16.
ssm_code channels_to_tokens_bf16_cuda(ssm_bf16 *out, const void *inp, int in_fp32,
                                      const int32_t *perm, int64_t B, int64_t C, int64_t L,
                                      int64_t ld, float alpha, int accumulate);
// g [rows, E] = y * SiLU(z), z = columns [E, 2E) of xz [rows, 2E]; all bf16.
ssm_code gate_tokens_forward_bf16_cuda(ssm_bf16 *g, const ssm_bf16 *y, const ssm_bf16 *xz,
                                       int64_t rows, int64_t E);
// dy = dg * SiLU(z), dxz[:, E:2E] = dg * y * SiLU'(z), WRITTEN; dy may be dg. All bf16.
ssm_code gate_tokens_backward_bf16_cuda(ssm_bf16 *dy, ssm_bf16 *dxz, const ssm_bf16 *dg,
                                        const ssm_bf16 *y, const ssm_bf16 *xz, int64_t rows,
                                        int64_t E);

#ifdef __cplusplus
}
#endif
