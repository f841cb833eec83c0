// defines: the concatenation of scan orders on the device (see trunk_concat.h)
#include "kernels/cuda/device_util.cuh"
#include "tasks/cuda/trunk_concat.h"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

__global__ static void inverse_kernel(int32_t *inv, const int32_t *perm, int64_t R, int64_t L) {
    GRID_STRIDE(i, R * L) {
        int64_t r = i / L;
        inv[r * L + perm[i]] = (int32_t)(i % L);
    }
}

// One thread per (n, s, d) of seq [N, O*L, D]; consecutive threads take consecutive d.
__global__ static void gather_kernel(float *seq, const float *tokens, const int32_t *perm,
                                     const float *gamma, const float *beta, int O, int64_t N,
                                     int64_t L, int64_t D) {
    GRID_STRIDE(i, N * O * L * D) {
        int64_t d = i % D, s = (i / D) % (O * L), n = i / (D * O * L);
        int64_t o = s / L, l = s % L;
        float v = tokens[(n * L + perm[(o * N + n) * L + l]) * D + d];
        seq[i] = v * gamma[o * D + d] + beta[o * D + d];
    }
}

// One thread per (n, g, d) of feats [N, L, D]: its O copies added in ascending o.
__global__ static void merge_kernel(float *feats, const float *out, const int32_t *inv, int O,
                                    int64_t N, int64_t L, int64_t D) {
    GRID_STRIDE(i, N * L * D) {
        int64_t d = i % D, g = (i / D) % L, n = i / (D * L);
        float s = 0.f;
        for (int o = 0; o < O; o++)
            s += out[(n * O * L + o * L + inv[(o * N + n) * L + g]) * D + d];
        feats[i] = s * (1.f / (float)O);
    }
}

__global__ static void merge_bwd_kernel(float *dout, const float *dfeats, const int32_t *perm,
                                        int O, int64_t N, int64_t L, int64_t D) {
    GRID_STRIDE(i, N * O * L * D) {
        int64_t d = i % D, s = (i / D) % (O * L), n = i / (D * O * L);
        int64_t o = s / L, l = s % L;
        dout[i] = dfeats[(n * L + perm[(o * N + n) * L + l]) * D + d] * (1.f / (float)O);
    }
}

__global__ static void gather_bwd_kernel(float *dtokens, const float *dseq, const int32_t *inv,
                                         const float *gamma, int O, int64_t N, int64_t L,
                                         int64_t D) {
    GRID_STRIDE(i, N * L * D) {
        int64_t d = i % D, g = (i / D) % L, n = i / (D * L);
        float s = dtokens[i];
        for (int o = 0; o < O; o++)
            s += dseq[(n * O * L + o * L + inv[(o * N + n) * L + g]) * D + d] * gamma[o * D + d];
        dtokens[i] = s;
    }
}

// Row r = n * L + l of order o: the terms of dgamma[o] (dseq * the token read) and dbeta[o].
struct ConcatScaleGrad {
    const float *dseq, *tokens;
    const int32_t *perm;
    int64_t o, O, N, L, D;
    __device__ void operator()(int64_t r, int64_t d, float *a0, float *a1) const {
        int64_t n = r / L, l = r % L;
        float v = dseq[(n * O * L + o * L + l) * D + d];
        *a0 += v * tokens[(n * L + perm[(o * N + n) * L + l]) * D + d];
        *a1 += v;
    }
};

__global__ static void orders_kernel(int32_t *perm, int K, int64_t N, int64_t Lc) {
    GRID_STRIDE(i, (int64_t)K * N * Lc) {
        int64_t l = i % Lc, k = i / (N * Lc);
        perm[i] = (int32_t)(k ? Lc - 1 - l : l);
    }
}

#define SHAPE_OK(O, N, L) cu_bad_shape((O) < 1 || (N) < 0 || (L) < 1, "%s: O=%d N=%lld L=%lld", \
                                       __func__, (O), (long long)(N), (long long)(L))

extern "C" ssm_code trunk_concat_inverse_cuda(int32_t *inv, const int32_t *perm, int O, int64_t N,
                                              int64_t L) {
    SHAPE_OK(O, N, L);
    if (N == 0)
        return SSM_OK;
    inverse_kernel<<<cu_blocks(O * N * L, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        inv, perm, O * N, L);
    CUDA_LAUNCH_CHECK("inverse_kernel");
    return SSM_OK;
}

extern "C" ssm_code trunk_concat_gather_cuda(real *seq, const real *tokens, const int32_t *perm,
                                             const real *gamma, const real *beta, int O,
                                             int64_t N, int64_t L, int64_t D) {
    SHAPE_OK(O, N, L);
    if (N == 0 || D < 1)
        return SSM_OK;
    gather_kernel<<<cu_blocks(N * O * L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        seq, tokens, perm, gamma, beta, O, N, L, D);
    CUDA_LAUNCH_CHECK("gather_kernel");
    return SSM_OK;
}

extern "C" ssm_code trunk_concat_merge_cuda(real *feats, const real *out, const int32_t *inv,
                                            int O, int64_t N, int64_t L, int64_t D) {
    SHAPE_OK(O, N, L);
    if (N == 0 || D < 1)
        return SSM_OK;
    merge_kernel<<<cu_blocks(N * L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        feats, out, inv, O, N, L, D);
    CUDA_LAUNCH_CHECK("merge_kernel");
    return SSM_OK;
}

extern "C" ssm_code trunk_concat_merge_backward_cuda(real *dout, const real *dfeats,
                                                     const int32_t *perm, int O, int64_t N,
                                                     int64_t L, int64_t D) {
    SHAPE_OK(O, N, L);
    if (N == 0 || D < 1)
        return SSM_OK;
    merge_bwd_kernel<<<cu_blocks(N * O * L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dout, dfeats, perm, O, N, L, D);
    CUDA_LAUNCH_CHECK("merge_bwd_kernel");
    return SSM_OK;
}

extern "C" ssm_code trunk_concat_gather_backward_cuda(real *dtokens, real *dgamma, real *dbeta,
                                                      const real *dseq, const real *tokens,
                                                      const int32_t *perm, const int32_t *inv,
                                                      const real *gamma, int O, int64_t N,
                                                      int64_t L, int64_t D) {
    SHAPE_OK(O, N, L);
    if (N == 0 || D < 1)
        return SSM_OK;
    gather_bwd_kernel<<<cu_blocks(N * L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dtokens, dseq, inv, gamma, O, N, L, D);
    CUDA_LAUNCH_CHECK("gather_bwd_kernel");
    for (int o = 0; o < O; o++) {
        ConcatScaleGrad f = {dseq, tokens, perm, o, O, N, L, D};
        ssm_code rc = cu_colsum(dgamma + o * D, dbeta + o * D, N * L, D, f);
        if (rc != SSM_OK)
            return rc;
    }
    return SSM_OK;
}

extern "C" ssm_code trunk_concat_orders_cuda(int32_t *perm, int K, int64_t N, int64_t Lc) {
    cu_bad_shape(K < 1 || K > 2 || N < 0 || Lc < 1, "trunk_concat_orders_cuda: K=%d N=%lld Lc=%lld",
                 K, (long long)N, (long long)Lc);
    if (N == 0)
        return SSM_OK;
    orders_kernel<<<cu_blocks(K * N * Lc, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(perm, K,
                                                                                           N, Lc);
    CUDA_LAUNCH_CHECK("orders_kernel");
    return SSM_OK;
}
