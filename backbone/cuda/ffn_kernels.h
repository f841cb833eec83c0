// defines: gelu_forward_cuda, gelu_backward_cuda
// The GELU of the feed-forward sublayer (backbone/ffn.c) on GPU (private to backbone/cuda/).
// Same conventions as mixer_kernels.h: device pointers, an ssm_code result, the message in
// the per-thread CUDA error, the library stream (ssm_cuda_stream).
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// g [n] = GELU(a) (exact, erf), computed in double as the CPU's
ssm_code gelu_forward_cuda(real *g, const real *a, int64_t n);
// d [n] *= GELU'(a) in place: from the gradient of GELU(a) to that of a
ssm_code gelu_backward_cuda(real *d, const real *a, int64_t n);

#ifdef __cplusplus
}
#endif
