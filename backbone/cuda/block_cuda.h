// defines: mamba_block_forward_cuda, mamba_block_backward_cuda
// The extended block (an FFN, or post-norm: backbone/mamba.h) on GPU, private to
// backbone/cuda/: the twins of stack.c's block_forward / block_backward, which stack_cuda.c
// runs layer by layer in place of its fused pre-norm path. Failures are recorded in the
// per-thread CUDA error (ssm_cuda_take_error), as the mixer's.
#pragma once
#include <stdint.h>

#include "backbone/cuda/mixer_cuda.h"

// next [B, L, D] = block_i(s->cu_acts[i].res) (WRITTEN); saves the block's activations.
ssm_code mamba_block_forward_cuda(mamba_stack *s, const ssm_params *p, int64_t layer, real *next,
                                  const mamba_orders *o, const mamba_cuda_call *cl);
// dres [B, L, D]: in, the gradient w.r.t. the block's output; out, w.r.t. its input.
// Parameter gradients +=. Uses s->cu.mix as scratch.
ssm_code mamba_block_backward_cuda(mamba_stack *s, ssm_params *p, int64_t layer, real *dres,
                                   const mamba_orders *o, const mamba_cuda_call *cl);
