// defines: tokens_to_channels_bf16_cuda, channels_to_tokens_bf16_cuda,
//          gate_tokens_forward_bf16_cuda, gate_tokens_backward_bf16_cuda (see mixer_kernels_bf16.h)
// The fp32 kernels of mixer_kernels.cu templated on the element types: the tile stays fp32
// in shared memory, so each value is converted once on load and rounded once on store.
#include <cuda_bf16.h>

#include "backbone/cuda/mixer_kernels_bf16.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

__device__ __forceinline__ float ld_f(const float *p) { return *p; }
__device__ __forceinline__ float ld_f(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void st_f(float *p, float v) { *p = v; }
__device__ __forceinline__ void st_f(__nv_bfloat16 *p, float v) { *p = __float2bfloat16(v); }

template <typename TO>
__global__ void k_tok2chan_h(TO *out, const __nv_bfloat16 *inp, const int32_t *perm, int64_t C,
                             int64_t L, int64_t ld, float alpha) {
    __shared__ float t[32][33];
    const int64_t b = blockIdx.z, c0 = (int64_t)blockIdx.x * 32, l0 = (int64_t)blockIdx.y * 32;
    const int tx = threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: step, tx: channel
        int64_t l = l0 + k, c = c0 + tx;
        if (l < L && c < C) {
            int64_t pl = perm ? perm[b * L + l] : l;
            t[k][tx] = ld_f(inp + (b * L + pl) * ld + c);
        }
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: channel, tx: step
        int64_t c = c0 + k, l = l0 + tx;
        if (l < L && c < C)
            st_f(out + (b * C + c) * L + l, alpha * t[tx][k]);
    }
}

template <typename TI>
__global__ void k_chan2tok_h(__nv_bfloat16 *out, const TI *inp, const int32_t *perm, int64_t C,
                             int64_t L, int64_t ld, float alpha, int accumulate) {
    __shared__ float t[32][33];
    const int64_t b = blockIdx.z, c0 = (int64_t)blockIdx.x * 32, l0 = (int64_t)blockIdx.y * 32;
    const int tx = threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: channel, tx: step
        int64_t c = c0 + k, l = l0 + tx;
        if (l < L && c < C)
            t[k][tx] = ld_f(inp + (b * C + c) * L + l);
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: step, tx: channel
        int64_t l = l0 + k, c = c0 + tx;
        if (l < L && c < C) {
            int64_t pl = perm ? perm[b * L + l] : l;
            __nv_bfloat16 *o = out + (b * L + pl) * ld + c;
            float v = alpha * t[tx][k];
            st_f(o, accumulate ? v + ld_f(o) : v);
        }
    }
}

static ssm_code layout_check(const char *name, int64_t B, int64_t C, int64_t L, int64_t ld) {
    cu_bad_shape(B < 0 || C < 0 || L < 0 || ld < C || B > 65535 || (L + 31) / 32 > 65535,
                 "%s: B = %lld (at most 65535), C = %lld, L = %lld, ld = %lld (>= C)", name,
                 (long long)B, (long long)C, (long long)L, (long long)ld);
    return SSM_OK;
}

extern "C" ssm_code tokens_to_channels_bf16_cuda(void *out, int out_fp32, const ssm_bf16 *inp,
                                                 const int32_t *perm, int64_t B, int64_t C,
                                                 int64_t L, int64_t ld, float alpha) {
    SSM_TRY(layout_check("tokens_to_channels_bf16_cuda", B, C, L, ld));
    if (B * C * L == 0)
        return SSM_OK;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)((L + 31) / 32), (unsigned)B);
    const __nv_bfloat16 *in = (const __nv_bfloat16 *)inp;
    if (out_fp32)
        k_tok2chan_h<float>
            <<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>((float *)out, in, perm, C, L, ld, alpha);
    else
        k_tok2chan_h<__nv_bfloat16><<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>(
            (__nv_bfloat16 *)out, in, perm, C, L, ld, alpha);
    CUDA_LAUNCH_CHECK("k_tok2chan_h");
    return SSM_OK;
}

extern "C" ssm_code channels_to_tokens_bf16_cuda(ssm_bf16 *out, const void *inp, int in_fp32,
                                                 const int32_t *perm, int64_t B, int64_t C,
                                                 int64_t L, int64_t ld, float alpha,
                                                 int accumulate) {
    SSM_TRY(layout_check("channels_to_tokens_bf16_cuda", B, C, L, ld));
    if (B * C * L == 0)
        return SSM_OK;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)((L + 31) / 32), (unsigned)B);
    __nv_bfloat16 *o = (__nv_bfloat16 *)out;
    if (in_fp32)
        k_chan2tok_h<float><<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>(
            o, (const float *)inp, perm, C, L, ld, alpha, accumulate);
    else
        k_chan2tok_h<__nv_bfloat16><<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>(
            o, (const __nv_bfloat16 *)inp, perm, C, L, ld, alpha, accumulate);
    CUDA_LAUNCH_CHECK("k_chan2tok_h");
    return SSM_OK;
}

__global__ void k_gate_tok_fwd_h(__nv_bfloat16 *g, const __nv_bfloat16 *y,
                                 const __nv_bfloat16 *xz, int64_t E, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t r = i / E, e = i - r * E;
        g[i] = __float2bfloat16(__bfloat162float(y[i]) *
                                cu_silu(__bfloat162float(xz[r * 2 * E + E + e])));
    }
}

__global__ void k_gate_tok_bwd_h(__nv_bfloat16 *dy, __nv_bfloat16 *dxz, const __nv_bfloat16 *dg,
                                 const __nv_bfloat16 *y, const __nv_bfloat16 *xz, int64_t E,
                                 int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t r = i / E, e = i - r * E;
        float gi = __bfloat162float(dg[i]), z = __bfloat162float(xz[r * 2 * E + E + e]);
        dxz[r * 2 * E + E + e] = __float2bfloat16(gi * __bfloat162float(y[i]) * cu_silu_grad(z));
        dy[i] = __float2bfloat16(gi * cu_silu(z));
    }
}

extern "C" ssm_code gate_tokens_forward_bf16_cuda(ssm_bf16 *g, const ssm_bf16 *y,
                                                  const ssm_bf16 *xz, int64_t rows, int64_t E) {
    const int64_t n = rows * E;
    cu_bad_shape(rows < 0 || E < 0, "gate_tokens_forward_bf16_cuda: rows %lld, E %lld",
                 (long long)rows, (long long)E);
    if (n == 0)
        return SSM_OK;
    k_gate_tok_fwd_h<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        (__nv_bfloat16 *)g, (const __nv_bfloat16 *)y, (const __nv_bfloat16 *)xz, E, n);
    CUDA_LAUNCH_CHECK("k_gate_tok_fwd_h");
    return SSM_OK;
}

extern "C" ssm_code gate_tokens_backward_bf16_cuda(ssm_bf16 *dy, ssm_bf16 *dxz,
                                                   const ssm_bf16 *dg, const ssm_bf16 *y,
                                                   const ssm_bf16 *xz, int64_t rows, int64_t E) {
    const int64_t n = rows * E;
    cu_bad_shape(rows < 0 || E < 0, "gate_tokens_backward_bf16_cuda: rows %lld, E %lld",
                 (long long)rows, (long long)E);
    if (n == 0)
        return SSM_OK;
    k_gate_tok_bwd_h<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        (__nv_bfloat16 *)dy, (__nv_bfloat16 *)dxz, (const __nv_bfloat16 *)dg,
        (const __nv_bfloat16 *)y, (const __nv_bfloat16 *)xz, E, n);
    CUDA_LAUNCH_CHECK("k_gate_tok_bwd_h");
    return SSM_OK;
}
