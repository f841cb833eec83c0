// defines: prompt_extend_cuda, prompt_write_cuda, prompt_backward_cuda, prompt_tokens_in_cuda,
//          prompt_tokens_out_cuda
// The order prompts' steps on GPU (backbone/mamba.h "Order prompts"; private to backbone/cuda/,
// the CUDA twins of backbone/prompts.c, with sizes instead of the stack). Same conventions
// as mixer_kernels.h: device pointers, an ssm_code result, the message in the per-thread
// CUDA error, the library stream (ssm_cuda_stream). A sequence inside the stack has
// L = P + Lt rows: the P prompt slots, then the Lt tokens.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// ext [rows, L] from perm [rows, Lt]: step j < P reads slot j, step P + l reads P + perm[l]
// (rows = count * B)
ssm_code prompt_extend_cuda(int32_t *ext, const int32_t *perm, int64_t rows, int64_t Lt,
                            int64_t P);
// res [B, L, D]: the slots of every sequence = w [P, D]
ssm_code prompt_write_cuda(real *res, const real *w, int64_t B, int64_t Lt, int64_t P, int64_t D);
// gw [P, D] += the sum over the B sequences of dres's slots (in sequence order); then those
// slots = 0
ssm_code prompt_backward_cuda(real *gw, real *dres, int64_t B, int64_t Lt, int64_t P, int64_t D);
// inner [B, L, D]'s token rows = outer [B, Lt, D]
ssm_code prompt_tokens_in_cuda(real *inner, const real *outer, int64_t B, int64_t Lt, int64_t P,
                               int64_t D);
// outer [B, Lt, D] = (accumulate: +=) inner's token rows
ssm_code prompt_tokens_out_cuda(real *outer, const real *inner, int64_t B, int64_t Lt, int64_t P,
                                int64_t D, int accumulate);

#ifdef __cplusplus
}
#endif
