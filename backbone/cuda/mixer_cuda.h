// defines: mamba_mixer_forward_cuda, mamba_mixer_backward_cuda, mamba_mixer_forward_bf16,
//          mamba_mixer_backward_bf16
// One layer's mixer on GPU over the whole batch (private to backbone/cuda/; the stack in
// stack_cuda.c runs it). Failures are recorded in the per-thread CUDA error
// (ssm_cuda_take_error), as the kernels/cuda twins do.
#pragma once
#include <stdint.h>

#include "backbone/mamba_internal.h"

// out [B, L, D] = mixer(in) (WRITTEN, not +=: the stack adds the residual in its fused
// add + norm), in [B, L, D]. Saves xz, y, xdbl, cstates in s->cu_acts[layer].
ssm_code mamba_mixer_forward_cuda(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                                  const real *in, const mamba_orders *o, int64_t B);

// din [B, L, D] = gradient w.r.t. the mixer input (WRITTEN); parameter gradients +=.
// dout [B, L, D]; in [B, L, D] is the forward's mixer input.
ssm_code mamba_mixer_backward_cuda(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                                   const real *dout, const real *in, const mamba_orders *o,
                                   int64_t B);

// The mixed-precision twins (mixer_bf16.c; stack planned with precision MAMBA_BF16, p with a
// bf16 shadow): in [B, L, D] fp32 (cast to bf16 into s->bf_acts[layer].normed, which the
// backward reads), out [B, L, D] fp32 WRITTEN; din [B, L, D] fp32 WRITTEN; fp32 gradients +=.
ssm_code mamba_mixer_forward_bf16(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                                  const real *in, const mamba_orders *o, int64_t B);
ssm_code mamba_mixer_backward_bf16(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                                   const real *dout, const mamba_orders *o, int64_t B);
