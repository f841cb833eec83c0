// defines: gemm_cuda, gemm_strided_batched_cuda, linear_forward_cuda, linear_backward_cuda,
//          gemm_bf16_cuda, gemm_strided_batched_bf16_cuda, linear_forward_bf16,
//          linear_forward_bf16_f32, linear_backward_bf16 (see linear.h)
#include <cuda_bf16.h>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/linear.h"

static ssm_code check_dims(const char *name, int64_t M, int64_t N, int64_t K) {
    cu_bad_shape(M < 0 || N < 0 || K < 0 || M > 0x7fffffff || N > 0x7fffffff || K > 0x7fffffff,
                 "%s: M = %lld, N = %lld, K = %lld (each in [0, 2^31))", name, (long long)M,
                 (long long)N, (long long)K);
    return SSM_OK;
}

static ssm_code check_batch(const char *name, int64_t batch, int64_t strideA, int64_t strideB,
                            int64_t strideC) {
    cu_bad_shape(batch < 0 || batch > 0x7fffffff || strideA < 0 || strideB < 0 || strideC < 0,
                 "%s: batch = %lld (in [0, 2^31)), strides %lld, %lld, %lld (each >= 0)", name,
                 (long long)batch, (long long)strideA, (long long)strideB, (long long)strideC);
    return SSM_OK;
}

// Leading dimensions of the row-major A and B (cuBLAS wants >= 1 even when K = 0).
static void leading_dims(int64_t M, int64_t N, int64_t K, int transA, int transB, int *lda,
                         int *ldb) {
    *lda = (int)(transA ? M : K);
    *ldb = (int)(transB ? K : N);
    if (*lda < 1)
        *lda = 1;
    if (*ldb < 1)
        *ldb = 1;
}

// Row-major [M,N] = op(A) op(B)  <=>  column-major [N,M] = op'(B) op'(A), where the stored
// row-major B read column-major is already B^T (so op' = op, with the row-major leading dims).
extern "C" ssm_code gemm_cuda(real *C, const real *A, const real *B, int64_t M, int64_t N,
                              int64_t K, int transA, int transB, real alpha, real beta) {
    ssm_code rc = check_dims("gemm_cuda", M, N, K);
    if (rc != SSM_OK || M == 0 || N == 0)
        return rc;
    cublasHandle_t h;
    if ((rc = ssm_cublas_handle(&h)) != SSM_OK)
        return rc;
    int lda, ldb;
    leading_dims(M, N, K, transA, transB, &lda, &ldb);
    CUBLAS_CHECK(cublasSgemm(h, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                             transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha,
                             B, ldb, A, lda, &beta, C, (int)N));
    return SSM_OK;
}

extern "C" ssm_code gemm_strided_batched_cuda(real *C, const real *A, const real *B, int64_t M,
                                              int64_t N, int64_t K, int transA, int transB,
                                              real alpha, real beta, int64_t batch,
                                              int64_t strideA, int64_t strideB,
                                              int64_t strideC) {
    ssm_code rc = check_dims("gemm_strided_batched_cuda", M, N, K);
    if (rc != SSM_OK)
        return rc;
    if ((rc = check_batch("gemm_strided_batched_cuda", batch, strideA, strideB, strideC)) !=
        SSM_OK)
        return rc;
    if (M == 0 || N == 0 || batch == 0)
        return SSM_OK;
    cublasHandle_t h;
    if ((rc = ssm_cublas_handle(&h)) != SSM_OK)
        return rc;
    int lda, ldb;
    leading_dims(M, N, K, transA, transB, &lda, &ldb);
    CUBLAS_CHECK(cublasSgemmStridedBatched(h, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M,
                                           (int)K, &alpha, B, ldb, (long long)strideB, A, lda,
                                           (long long)strideA, &beta, C, (int)N,
                                           (long long)strideC, (int)batch));
    return SSM_OK;
}

extern "C" ssm_code gemm_bf16_cuda(void *C, int c_fp32, const ssm_bf16 *A, const ssm_bf16 *B,
                                   int64_t M, int64_t N, int64_t K, int transA, int transB,
                                   float alpha, float beta) {
    ssm_code rc = check_dims("gemm_bf16_cuda", M, N, K);
    if (rc != SSM_OK || M == 0 || N == 0)
        return rc;
    cublasHandle_t h;
    if ((rc = ssm_cublas_handle(&h)) != SSM_OK)
        return rc;
    int lda, ldb;
    leading_dims(M, N, K, transA, transB, &lda, &ldb);
    CUBLAS_CHECK(cublasGemmEx(h, transB ? CUBLAS_OP_T : CUBLAS_OP_N,
                              transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K, &alpha,
                              B, CUDA_R_16BF, ldb, A, CUDA_R_16BF, lda, &beta, C,
                              c_fp32 ? CUDA_R_32F : CUDA_R_16BF, (int)N, CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT));
    return SSM_OK;
}

extern "C" ssm_code gemm_strided_batched_bf16_cuda(void *C, int c_fp32, const ssm_bf16 *A,
                                                   const ssm_bf16 *B, int64_t M, int64_t N,
                                                   int64_t K, int transA, int transB, float alpha,
                                                   float beta, int64_t batch, int64_t strideA,
                                                   int64_t strideB, int64_t strideC) {
    ssm_code rc = check_dims("gemm_strided_batched_bf16_cuda", M, N, K);
    if (rc != SSM_OK)
        return rc;
    if ((rc = check_batch("gemm_strided_batched_bf16_cuda", batch, strideA, strideB,
                          strideC)) != SSM_OK)
        return rc;
    if (M == 0 || N == 0 || batch == 0)
        return SSM_OK;
    cublasHandle_t h;
    if ((rc = ssm_cublas_handle(&h)) != SSM_OK)
        return rc;
    int lda, ldb;
    leading_dims(M, N, K, transA, transB, &lda, &ldb);
    CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        h, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M,
        (int)K, &alpha, B, CUDA_R_16BF, ldb, (long long)strideB, A, CUDA_R_16BF, lda,
        (long long)strideA, &beta, C, c_fp32 ? CUDA_R_32F : CUDA_R_16BF, (int)N,
        (long long)strideC, (int)batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return SSM_OK;
}

// out[n, o] = bias[o]: the GEMM then adds to it (beta = 1), one pass fewer than a bias add.
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16(v);
}
template <typename T>
__global__ void k_bias_fill(T *out, const float *bias, int64_t N, int64_t OC) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < N * OC;
         i += (int64_t)gridDim.x * blockDim.x)
        out[i] = from_f<T>(bias[i % OC]);
}

template <typename T> struct BiasCols {
    const T *g;
    int64_t C;
    __device__ void operator()(int64_t n, int64_t c, float *a0, float *) const {
        *a0 += (float)g[n * C + c];
    }
};

template <typename T>
static ssm_code bias_fill(T *out, const float *bias, int64_t N, int64_t OC) {
    if (N * OC == 0)
        return SSM_OK;
    k_bias_fill<T>
        <<<cu_blocks(N * OC, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(out, bias, N, OC);
    CUDA_LAUNCH_CHECK("k_bias_fill");
    return SSM_OK;
}

template <typename T> static ssm_code bias_grad(float *dbias, const T *dout, int64_t N, int64_t OC) {
    if (OC == 0)
        return SSM_OK;
    BiasCols<T> f = {dout, OC};
    return cu_colsum(dbias, (float *)NULL, N, OC, f);
}

extern "C" ssm_code linear_forward_cuda(real *out, const real *inp, const real *weight,
                                        const real *bias, int64_t N, int64_t IC, int64_t OC) {
    ssm_code rc = check_dims("linear_forward_cuda", N, OC, IC);
    if (rc != SSM_OK)
        return rc;
    if (bias && (rc = bias_fill(out, bias, N, OC)) != SSM_OK)
        return rc;
    // out [N, OC] = inp [N, IC] @ weight [OC, IC]^T (+ out)
    return gemm_cuda(out, inp, weight, N, OC, IC, 0, 1, 1.f, bias ? 1.f : 0.f);
}

extern "C" ssm_code linear_backward_cuda(real *dinp, real *dweight, real *dbias,
                                         const real *dout, const real *inp, const real *weight,
                                         int64_t N, int64_t IC, int64_t OC) {
    ssm_code rc = check_dims("linear_backward_cuda", N, OC, IC);
    if (rc != SSM_OK)
        return rc;
    if (dinp && (rc = gemm_cuda(dinp, dout, weight, N, IC, OC, 0, 0, 1.f, 1.f)) != SSM_OK)
        return rc;
    if (dweight && (rc = gemm_cuda(dweight, dout, inp, OC, IC, N, 1, 0, 1.f, 1.f)) != SSM_OK)
        return rc;
    if (dbias)
        return bias_grad(dbias, dout, N, OC);
    return SSM_OK;
}

extern "C" ssm_code linear_forward_bf16(ssm_bf16 *out, const ssm_bf16 *inp,
                                        const ssm_bf16 *weight, const float *bias, int64_t N,
                                        int64_t IC, int64_t OC) {
    ssm_code rc = check_dims("linear_forward_bf16", N, OC, IC);
    if (rc != SSM_OK)
        return rc;
    if (bias && (rc = bias_fill((__nv_bfloat16 *)out, bias, N, OC)) != SSM_OK)
        return rc;
    return gemm_bf16_cuda(out, 0, inp, weight, N, OC, IC, 0, 1, 1.f, bias ? 1.f : 0.f);
}

extern "C" ssm_code linear_forward_bf16_f32(float *out, const ssm_bf16 *inp,
                                            const ssm_bf16 *weight, const float *bias, int64_t N,
                                            int64_t IC, int64_t OC) {
    ssm_code rc = check_dims("linear_forward_bf16_f32", N, OC, IC);
    if (rc != SSM_OK)
        return rc;
    if (bias && (rc = bias_fill(out, bias, N, OC)) != SSM_OK)
        return rc;
    return gemm_bf16_cuda(out, 1, inp, weight, N, OC, IC, 0, 1, 1.f, bias ? 1.f : 0.f);
}

extern "C" ssm_code linear_backward_bf16(ssm_bf16 *dinp, float *dweight, float *dbias,
                                         const ssm_bf16 *dout, const ssm_bf16 *inp,
                                         const ssm_bf16 *weight, int64_t N, int64_t IC,
                                         int64_t OC) {
    ssm_code rc = check_dims("linear_backward_bf16", N, OC, IC);
    if (rc != SSM_OK)
        return rc;
    if (dinp &&
        (rc = gemm_bf16_cuda(dinp, 0, dout, weight, N, IC, OC, 0, 0, 1.f, 1.f)) != SSM_OK)
        return rc;
    if (dweight &&
        (rc = gemm_bf16_cuda(dweight, 1, dout, inp, OC, IC, N, 1, 0, 1.f, 1.f)) != SSM_OK)
        return rc;
    if (dbias)
        return bias_grad(dbias, (const __nv_bfloat16 *)dout, N, OC);
    return SSM_OK;
}
