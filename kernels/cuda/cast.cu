// defines: cast_f32_to_bf16_cuda, cast_bf16_to_f32_cuda (see cast.h)
// Two elements per thread (a 4-byte bf16 pair, an 8-byte float pair) when the pointers allow:
// the casts are pure bandwidth.
#include <cuda_bf16.h>

#include "kernels/cuda/cast.h"
#include "kernels/cuda/device_util.cuh"

__global__ void k_f2bf(__nv_bfloat16 *out, const float *in, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16(in[i]);
}
__global__ void k_f2bf2(__nv_bfloat162 *out, const float2 *in, int64_t n2) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n2;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __float22bfloat162_rn(in[i]);
}
__global__ void k_bf2f(float *out, const __nv_bfloat16 *in, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __bfloat162float(in[i]);
}

extern "C" ssm_code cast_f32_to_bf16_cuda(ssm_bf16 *out, const float *in, int64_t n) {
    cu_bad_shape(n < 0, "cast_f32_to_bf16_cuda: n = %lld must be >= 0", (long long)n);
    if (n == 0)
        return SSM_OK;
    if ((((uintptr_t)out | (uintptr_t)in) & 7) == 0 && n % 2 == 0) {
        k_f2bf2<<<cu_blocks(n / 2, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
            (__nv_bfloat162 *)out, (const float2 *)in, n / 2);
        CUDA_LAUNCH_CHECK("k_f2bf2");
        return SSM_OK;
    }
    k_f2bf<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>((__nv_bfloat16 *)out, in,
                                                                           n);
    CUDA_LAUNCH_CHECK("k_f2bf");
    return SSM_OK;
}

extern "C" ssm_code cast_bf16_to_f32_cuda(float *out, const ssm_bf16 *in, int64_t n) {
    cu_bad_shape(n < 0, "cast_bf16_to_f32_cuda: n = %lld must be >= 0", (long long)n);
    if (n == 0)
        return SSM_OK;
    k_bf2f<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, (const __nv_bfloat16 *)in, n);
    CUDA_LAUNCH_CHECK("k_bf2f");
    return SSM_OK;
}
