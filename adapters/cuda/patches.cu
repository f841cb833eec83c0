// defines: the image_patches device kernels (see patches.h)
#include <cuda_bf16.h>

#include "adapters/cuda/patches.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

template <typename T> __device__ __forceinline__ T to_col(float v);
template <> __device__ __forceinline__ float to_col<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 to_col<__nv_bfloat16>(float v) {
    return __float2bfloat16(v);
}

template <typename T>
__global__ static void patchify_kernel(T *cols, const float *x, int64_t B, int64_t C,
                                       int64_t H, int64_t W, int64_t p, int64_t s, int64_t gw,
                                       int64_t P) {
    int64_t K = C * p * p, n = B * P * K;
    GRID_STRIDE(i, n) {
        int64_t row = i / K, k = i % K;
        int64_t b = row / P, q = row % P, gi = q / gw, gj = q % gw;
        int64_t c = k / (p * p), ki = (k / p) % p, kj = k % p;
        cols[i] = to_col<T>(x[((b * C + c) * H + gi * s + ki) * W + gj * s + kj]);
    }
}

extern "C" ssm_code patchify_forward_cuda(real *cols, const real *x, int64_t B, int64_t C,
                                          int64_t H, int64_t W, int64_t p, int64_t s, int64_t gh,
                                          int64_t gw) {
    cu_bad_shape(B < 0 || C < 1 || p < 1 || s < 1 || gh < 1 || gw < 1,
                 "patchify_forward_cuda: bad shape B=%lld C=%lld p=%lld s=%lld", (long long)B,
                 (long long)C, (long long)p, (long long)s);
    int64_t n = B * gh * gw * C * p * p;
    if (n == 0)
        return SSM_OK;
    patchify_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS>>>(cols, x, B, C, H, W, p, s, gw, gh * gw);
    CUDA_LAUNCH_CHECK("patchify_kernel");
    return SSM_OK;
}

extern "C" ssm_code patchify_forward_bf16_cuda(ssm_bf16 *cols, const real *x, int64_t B,
                                               int64_t C, int64_t H, int64_t W, int64_t p,
                                               int64_t s, int64_t gh, int64_t gw) {
    cu_bad_shape(B < 0 || C < 1 || p < 1 || s < 1 || gh < 1 || gw < 1,
                 "patchify_forward_bf16_cuda: bad shape B=%lld C=%lld p=%lld s=%lld",
                 (long long)B, (long long)C, (long long)p, (long long)s);
    int64_t n = B * gh * gw * C * p * p;
    if (n == 0)
        return SSM_OK;
    patchify_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS>>>((__nv_bfloat16 *)cols, x, B, C, H,
                                                               W, p, s, gw, gh * gw);
    CUDA_LAUNCH_CHECK("patchify_kernel (bf16)");
    return SSM_OK;
}

__global__ static void tokens_fwd_kernel(float *tokens, const float *emb, const float *pos,
                                         const float *cls, int64_t B, int64_t P, int64_t L,
                                         int64_t D, int64_t c) {
    GRID_STRIDE(i, B * L * D) {
        int64_t d = i % D, l = (i / D) % L, b = i / (L * D);
        float v = l == c ? cls[d] : emb[(b * P + l - (c >= 0 && l > c)) * D + d];
        tokens[i] = v + pos[l * D + d];
    }
}

extern "C" ssm_code patch_tokens_forward_cuda(real *tokens, const real *emb, const real *pos,
                                              const real *cls, int64_t B, int64_t P, int64_t L,
                                              int64_t D, int64_t c) {
    cu_bad_shape(B < 0 || L != P + (c >= 0) || D < 1 || (c >= 0 && !cls),
                 "patch_tokens_forward_cuda: L=%lld P=%lld c=%lld", (long long)L, (long long)P,
                 (long long)c);
    if (B == 0)
        return SSM_OK;
    tokens_fwd_kernel<<<cu_blocks(B * L * D, CU_THREADS), CU_THREADS>>>(tokens, emb, pos, cls, B, P,
                                                                        L, D, c);
    CUDA_LAUNCH_CHECK("tokens_fwd_kernel");
    return SSM_OK;
}

__global__ static void demb_kernel(float *demb, const float *dtokens, int64_t B, int64_t P,
                                   int64_t L, int64_t D, int64_t c) {
    GRID_STRIDE(i, B * P * D) {
        int64_t d = i % D, k = (i / D) % P, b = i / (P * D);
        int64_t l = c >= 0 && k >= c ? k + 1 : k;
        demb[i] = dtokens[(b * L + l) * D + d];
    }
}

// One thread per (l, d): the batch in ascending b, as the CPU loop adds it.
__global__ static void dpos_kernel(float *dpos, float *dcls, const float *dtokens, int64_t B,
                                   int64_t L, int64_t D, int64_t c) {
    GRID_STRIDE(i, L * D) {
        int64_t l = i / D, d = i % D;
        float acc = 0.f;
        for (int64_t b = 0; b < B; b++)
            acc += dtokens[(b * L + l) * D + d];
        dpos[i] += acc;
        if (l == c)
            dcls[d] += acc;
    }
}

extern "C" ssm_code patch_tokens_backward_cuda(real *demb, real *dpos, real *dcls,
                                               const real *dtokens, int64_t B, int64_t P,
                                               int64_t L, int64_t D, int64_t c) {
    cu_bad_shape(B < 0 || L != P + (c >= 0) || D < 1 || (c >= 0 && !dcls),
                 "patch_tokens_backward_cuda: L=%lld P=%lld c=%lld", (long long)L, (long long)P,
                 (long long)c);
    if (B == 0)
        return SSM_OK;
    demb_kernel<<<cu_blocks(B * P * D, CU_THREADS), CU_THREADS>>>(demb, dtokens, B, P, L, D, c);
    CUDA_LAUNCH_CHECK("demb_kernel");
    dpos_kernel<<<cu_blocks(L * D, CU_THREADS), CU_THREADS>>>(dpos, dcls, dtokens, B, L, D, c);
    CUDA_LAUNCH_CHECK("dpos_kernel");
    return SSM_OK;
}

__global__ static void broadcast_kernel(int32_t *orders, const int32_t *base, int n_orders,
                                        int64_t B, int64_t L) {
    GRID_STRIDE(i, (int64_t)n_orders * B * L) {
        int64_t l = i % L, o = i / (B * L);
        orders[i] = base[o * L + l];
    }
}

extern "C" ssm_code orders_broadcast_cuda(int32_t *orders, const int32_t *base, int n_orders,
                                          int64_t B, int64_t L) {
    cu_bad_shape(n_orders < 0 || B < 0 || L < 1, "orders_broadcast_cuda: n_orders=%d B=%lld L=%lld",
                 n_orders, (long long)B, (long long)L);
    int64_t n = (int64_t)n_orders * B * L;
    if (n == 0)
        return SSM_OK;
    broadcast_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS>>>(orders, base, n_orders, B, L);
    CUDA_LAUNCH_CHECK("broadcast_kernel");
    return SSM_OK;
}
