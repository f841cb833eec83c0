// defines: cast_f32_to_bf16_cuda, cast_bf16_to_f32_cuda
// The casts of mixed precision (run.precision: bf16): the bf16 shadow of the fp32 master
// weights, and the fp32 <-> bf16 boundaries where an fp32 op (norm, conv, loss) meets a bf16
// one (GEMM, scan), as autocast inserts them. Round to nearest even (__float2bfloat16).
// Device pointers, the library stream (ssm_cuda_stream), errors as kernels/cuda/common.h says.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "kernels/cuda/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// out [n] bf16 = in [n] fp32
ssm_code cast_f32_to_bf16_cuda(ssm_bf16 *out, const float *in, int64_t n);
// out [n] fp32 = in [n] bf16
ssm_code cast_bf16_to_f32_cuda(float *out, const ssm_bf16 *in, int64_t n);

#ifdef __cplusplus
}
#endif
