// defines: the patch adapters' device kernels (see patches.h)
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
__global__ static void patchify_kernel(T *cols, const float *x, int64_t B, patch_grid g) {
    int64_t p = g.p, K = g.K, n = B * g.P * K;
    GRID_STRIDE(i, n) {
        int64_t row = i / K, k = i % K;
        int64_t b = row / g.P, q = row % g.P, gi = q / g.gw, gj = q % g.gw;
        int64_t c = k / (p * p), ki = (k / p) % p, kj = k % p;
        cols[i] = to_col<T>(x[b * g.st_n + c * g.st_c + (gi * g.sh + ki) * g.st_h +
                              (gj * g.sw + kj) * g.st_w]);
    }
}

static bool bad_grid(int64_t B, const patch_grid *g) {
    return B < 0 || g->C < 1 || g->p < 1 || g->sh < 1 || g->sw < 1 || g->gh < 1 || g->gw < 1 ||
           g->P != g->gh * g->gw || g->K != g->C * g->p * g->p;
}

extern "C" ssm_code patchify_forward_cuda(real *cols, const real *x, int64_t B,
                                          const patch_grid *g) {
    cu_bad_shape(bad_grid(B, g), "patchify_forward_cuda: bad shape B=%lld C=%lld p=%lld s=%lldx%lld",
                 (long long)B, (long long)g->C, (long long)g->p, (long long)g->sh,
                 (long long)g->sw);
    int64_t n = B * g->P * g->K;
    if (n == 0)
        return SSM_OK;
    patchify_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(cols, x, B, *g);
    CUDA_LAUNCH_CHECK("patchify_kernel");
    return SSM_OK;
}

extern "C" ssm_code patchify_forward_bf16_cuda(ssm_bf16 *cols, const real *x, int64_t B,
                                               const patch_grid *g) {
    cu_bad_shape(bad_grid(B, g),
                 "patchify_forward_bf16_cuda: bad shape B=%lld C=%lld p=%lld s=%lldx%lld",
                 (long long)B, (long long)g->C, (long long)g->p, (long long)g->sh,
                 (long long)g->sw);
    int64_t n = B * g->P * g->K;
    if (n == 0)
        return SSM_OK;
    patchify_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        (__nv_bfloat16 *)cols, x, B, *g);
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
    tokens_fwd_kernel<<<cu_blocks(B * L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        tokens, emb, pos, cls, B, P, L, D, c);
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
    demb_kernel<<<cu_blocks(B * P * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        demb, dtokens, B, P, L, D, c);
    CUDA_LAUNCH_CHECK("demb_kernel");
    dpos_kernel<<<cu_blocks(L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dpos, dcls, dtokens, B, L, D, c);
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
    broadcast_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        orders, base, n_orders, B, L);
    CUDA_LAUNCH_CHECK("broadcast_kernel");
    return SSM_OK;
}
