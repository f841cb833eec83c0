// defines: the head's device kernels (see head.h)
#include "kernels/cuda/device_util.cuh"
#include "tasks/cuda/head.h"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

// One thread per (b, d); consecutive threads read consecutive d (coalesced).
__global__ static void pool_fwd_kernel(float *out, const float *inp, int64_t cls, int64_t B,
                                       int64_t L, int64_t D) {
    GRID_STRIDE(i, B * D) {
        int64_t b = i / D, d = i % D;
        const float *x = inp + b * L * D + d;
        if (cls >= 0) {
            out[i] = x[cls * D];
            continue;
        }
        float s = 0.f;
        for (int64_t l = 0; l < L; l++)
            s += x[l * D];
        out[i] = s * (1.f / (float)L);
    }
}

__global__ static void pool_bwd_kernel(float *dinp, const float *dout, int64_t cls, int64_t B,
                                       int64_t L, int64_t D) {
    GRID_STRIDE(i, B * L * D) {
        int64_t d = i % D, l = (i / D) % L, b = i / (L * D);
        float g = dout[b * D + d];
        if (cls >= 0) {
            if (l == cls)
                dinp[i] += g;
        } else {
            dinp[i] += g * (1.f / (float)L);
        }
    }
}

extern "C" ssm_code pool_tokens_forward_cuda(real *out, const real *inp, int64_t cls_index,
                                             int64_t B, int64_t L, int64_t D) {
    cu_bad_shape(B < 0 || L < 1 || D < 1 || cls_index >= L, "pool_tokens_forward_cuda: B=%lld L=%lld "
                 "D=%lld cls=%lld", (long long)B, (long long)L, (long long)D, (long long)cls_index);
    if (B == 0)
        return SSM_OK;
    pool_fwd_kernel<<<cu_blocks(B * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, inp, cls_index, B, L, D);
    CUDA_LAUNCH_CHECK("pool_fwd_kernel");
    return SSM_OK;
}

extern "C" ssm_code pool_tokens_backward_cuda(real *dinp, const real *dout, int64_t cls_index,
                                              int64_t B, int64_t L, int64_t D) {
    cu_bad_shape(B < 0 || L < 1 || D < 1 || cls_index >= L, "pool_tokens_backward_cuda: B=%lld "
                 "L=%lld D=%lld cls=%lld", (long long)B, (long long)L, (long long)D,
                 (long long)cls_index);
    if (B == 0)
        return SSM_OK;
    pool_bwd_kernel<<<cu_blocks(B * L * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dinp, dout, cls_index, B, L, D);
    CUDA_LAUNCH_CHECK("pool_bwd_kernel");
    return SSM_OK;
}

__global__ static void fill_kernel(float *x, float v, int64_t n) {
    GRID_STRIDE(i, n) x[i] = v;
}

extern "C" ssm_code fill_cuda(real *x, real v, int64_t n) {
    cu_bad_shape(n < 0, "fill_cuda: n=%lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    fill_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(x, v, n);
    CUDA_LAUNCH_CHECK("fill_kernel");
    return SSM_OK;
}

__global__ static void sum_double_kernel(double *out, const float *x, int64_t n) {
    __shared__ double sh[32];
    double s = 0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
        s += (double)x[i];
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0)
        *out = s;
}

extern "C" ssm_code sum_double_cuda(double *out, const real *x, int64_t n) {
    cu_bad_shape(n < 0, "sum_double_cuda: n=%lld", (long long)n);
    sum_double_kernel<<<1, 256, 0, ssm_cuda_stream()>>>(out, x, n);
    CUDA_LAUNCH_CHECK("sum_double_kernel");
    return SSM_OK;
}

__global__ static void swap_last2_kernel(float *out, const float *in, int64_t B, int64_t X,
                                         int64_t Y) {
    GRID_STRIDE(i, B * X * Y) { // i indexes out [B, Y, X]: writes coalesced
        int64_t x = i % X, y = (i / X) % Y, b = i / (X * Y);
        out[i] = in[(b * X + x) * Y + y];
    }
}

extern "C" ssm_code swap_last2_cuda(real *out, const real *in, int64_t B, int64_t X, int64_t Y) {
    cu_bad_shape(B < 0 || X < 1 || Y < 1, "swap_last2_cuda: B=%lld X=%lld Y=%lld", (long long)B,
                 (long long)X, (long long)Y);
    if (B == 0)
        return SSM_OK;
    swap_last2_kernel<<<cu_blocks(B * X * Y, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, in, B, X, Y);
    CUDA_LAUNCH_CHECK("swap_last2_kernel");
    return SSM_OK;
}

__global__ static void columns_kernel(float *out, const float *in, int64_t rows, int64_t G,
                                      int64_t first, int64_t K, int scatter) {
    GRID_STRIDE(i, rows * K) {
        int64_t r = i / K, j = i % K;
        if (scatter)
            out[r * G + first + j] += in[i];
        else
            out[i] = in[r * G + first + j];
    }
}

static ssm_code columns(float *out, const float *in, int64_t rows, int64_t G, int64_t first,
                        int64_t K, int scatter) {
    cu_bad_shape(rows < 0 || K < 1 || first < 0 || first + K > G, "columns_%s_cuda: rows=%lld "
                 "G=%lld first=%lld K=%lld", scatter ? "scatter_add" : "gather", (long long)rows,
                 (long long)G, (long long)first, (long long)K);
    if (rows == 0)
        return SSM_OK;
    columns_kernel<<<cu_blocks(rows * K, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, in, rows, G, first, K, scatter);
    CUDA_LAUNCH_CHECK("columns_kernel");
    return SSM_OK;
}

extern "C" ssm_code columns_gather_cuda(real *out, const real *in, int64_t rows, int64_t G,
                                        int64_t first, int64_t K) {
    return columns(out, in, rows, G, first, K, 0);
}

extern "C" ssm_code columns_scatter_add_cuda(real *out, const real *in, int64_t rows, int64_t G,
                                             int64_t first, int64_t K) {
    return columns(out, in, rows, G, first, K, 1);
}
