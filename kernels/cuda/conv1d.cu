// defines: conv1d_causal_forward_cuda, conv1d_causal_backward_cuda (see conv1d.h)
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/device_util.cuh"

#define TILE 256 // steps of one row per backward tile (= threads per block)
#define TAPS 8   // dw taps accumulated in registers per pass (K = 4: one pass)

// Forward: one thread per output (b, c, t); the K inputs come through L1.
__global__ void k_conv_fwd(float *out, const float *x, const float *w, const float *bias,
                           int64_t C, int64_t L, int K, int silu, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t row = i / L, t = i - row * L, c = row % C;
        const float *xr = x + row * L, *wc = w + c * K;
        float acc = bias ? bias[c] : 0.f;
        int64_t k0 = (K - 1) - t;
        for (int64_t k = k0 > 0 ? k0 : 0; k < K; k++)
            acc += wc[k] * xr[t - (K - 1) + k];
        out[i] = silu ? cu_silu(acc) : acc;
    }
}

// Backward: block = channel c. For each pass (taps [k0, k0+TAPS)), each batch row and each
// tile of TILE steps starting at t0:
//   xs[j]  = x[t0 - (K-1) + j],           j < TILE + 2(K-1)   (0 outside [0, L))
//   dps[j] = dpre at t0 + j,              j < TILE + K - 1    (0 at or after L)
//   dx[t0+i] += sum_k w[k] dps[i + (K-1) - k]            (first pass only)
//   dw[k]    += sum_i dps[i] xs[i + k],  dbias += sum_i dps[i]
__global__ void k_conv_bwd(float *dx, float *dw, float *dbias, const float *dout, const float *x,
                           const float *w, const float *bias, int64_t B, int64_t C, int64_t L,
                           int K, int silu) {
    extern __shared__ float sm[];
    float *ws = sm;                       // [K]
    float *xs = ws + K;                   // [TILE + 2(K-1)]
    float *dps = xs + TILE + 2 * (K - 1); // [TILE + K - 1]
    __shared__ float red[32];
    int64_t c = blockIdx.x;
    int tid = threadIdx.x;
    for (int k = tid; k < K; k += TILE)
        ws[k] = w[c * K + k];
    float b = bias ? bias[c] : 0.f;
    float db = 0.f;
    for (int k0 = 0; k0 < K; k0 += TAPS) {
        int first = k0 == 0;
        if (!first && !dw)
            break;
        float acc[TAPS];
#pragma unroll
        for (int j = 0; j < TAPS; j++)
            acc[j] = 0.f;
        for (int64_t bb = 0; bb < B; bb++) {
            const float *xr = x + (bb * C + c) * L, *dr = dout + (bb * C + c) * L;
            float *dxr = dx ? dx + (bb * C + c) * L : NULL;
            for (int64_t t0 = 0; t0 < L; t0 += TILE) {
                __syncthreads(); // the previous tile's readers are done
                for (int j = tid; j < TILE + 2 * (K - 1); j += TILE) {
                    int64_t p = t0 - (K - 1) + j;
                    xs[j] = p >= 0 && p < L ? xr[p] : 0.f;
                }
                __syncthreads();
                for (int j = tid; j < TILE + K - 1; j += TILE) {
                    int64_t t = t0 + j;
                    float d = 0.f;
                    if (t < L) {
                        d = dr[t];
                        if (silu) {
                            float pre = b;
                            for (int k = 0; k < K; k++)
                                pre += ws[k] * xs[j + k];
                            d *= cu_silu_grad(pre);
                        }
                    }
                    dps[j] = d;
                }
                __syncthreads();
                int64_t t = t0 + tid;
                if (t < L) {
                    float d = dps[tid];
                    if (first) {
                        db += d;
                        if (dxr) {
                            float s = 0.f;
                            for (int k = 0; k < K; k++)
                                s += ws[k] * dps[tid + (K - 1) - k];
                            dxr[t] += s;
                        }
                    }
                    if (dw) {
#pragma unroll
                        for (int j = 0; j < TAPS; j++)
                            if (k0 + j < K)
                                acc[j] += d * xs[tid + k0 + j];
                    }
                }
            }
        }
        if (dw) {
#pragma unroll
            for (int j = 0; j < TAPS; j++) {
                float s = cu_block_sum(acc[j], red);
                if (tid == 0 && k0 + j < K)
                    dw[c * K + k0 + j] += s;
            }
        }
    }
    if (dbias) {
        float s = cu_block_sum(db, red);
        if (tid == 0)
            dbias[c] += s;
    }
}

static ssm_code check_shape(const char *name, int64_t B, int64_t C, int64_t L, int64_t K) {
    cu_bad_shape(B < 0 || C < 0 || L < 0 || K < 1 || K > CONV1D_CUDA_MAX_K || C > 0x7fffffff,
                 "%s: B = %lld, C = %lld, L = %lld, K = %lld (K must be in [1, %d])", name,
                 (long long)B, (long long)C, (long long)L, (long long)K, CONV1D_CUDA_MAX_K);
    return SSM_OK;
}

extern "C" ssm_code conv1d_causal_forward_cuda(real *out, const real *x, const real *w,
                                               const real *bias, int64_t B, int64_t C,
                                               int64_t L, int64_t K, int silu) {
    ssm_code rc = check_shape("conv1d_causal_forward_cuda", B, C, L, K);
    int64_t n = B * C * L;
    if (rc != SSM_OK || n == 0)
        return rc;
    k_conv_fwd<<<cu_blocks(n, CU_THREADS), CU_THREADS>>>(out, x, w, bias, C, L, (int)K, silu, n);
    CUDA_LAUNCH_CHECK("k_conv_fwd");
    return SSM_OK;
}

extern "C" ssm_code conv1d_causal_backward_cuda(real *dx, real *dw, real *dbias,
                                                const real *dout, const real *x, const real *w,
                                                const real *bias, int64_t B, int64_t C,
                                                int64_t L, int64_t K, int silu) {
    ssm_code rc = check_shape("conv1d_causal_backward_cuda", B, C, L, K);
    if (rc != SSM_OK || C == 0 || (!dx && !dw && !dbias))
        return rc;
    size_t shmem = sizeof(float) * (K + TILE + 2 * (K - 1) + TILE + K - 1);
    if (shmem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(k_conv_bwd, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)shmem));
    k_conv_bwd<<<(unsigned)C, TILE, shmem>>>(dx, dw, dbias, dout, x, w, bias, B, C, L, (int)K,
                                             silu);
    CUDA_LAUNCH_CHECK("k_conv_bwd");
    return SSM_OK;
}
