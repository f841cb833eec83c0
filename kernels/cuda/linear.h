// defines: gemm_cuda, gemm_strided_batched_cuda, linear_forward_cuda, linear_backward_cuda,
//          gemm_bf16_cuda, gemm_strided_batched_bf16_cuda, linear_forward_bf16,
//          linear_forward_bf16_f32, linear_backward_bf16
// CUDA twins of kernels/linear.h through cuBLAS (the per-thread handle of common.h), with
// the same row-major convention and arguments (device pointers) and an ssm_code result.
// Row-major C = op(A) op(B) is computed as the column-major C^T = op(B)^T op(A)^T, so no
// copy or transpose is made. fp32 GEMMs run in cuBLAS's default math mode: full fp32
// (no TF32) unless the process sets NVIDIA_TF32_OVERRIDE=1.
//
// bf16 variants: activations and weights in bf16, products accumulated in fp32
// (cublasGemmEx, CUBLAS_COMPUTE_32F); weight and bias gradients are fp32 (master gradients),
// the input gradient bf16. Accumulating into a bf16 output (beta = 1) rounds once per call.
//
// dbias is a fixed-order column sum (no atomics). cuBLAS's own GEMMs are deterministic for
// a given GPU, library version and shape with the default (non-split-K-atomic) algorithms.
// Dimensions must each be below 2^31.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// C [M, N] = alpha op(A) op(B) + beta C; A [M, K] ([K, M] if transA), B [K, N] ([N, K] if transB)
ssm_code gemm_cuda(real *C, const real *A, const real *B, int64_t M, int64_t N, int64_t K,
                   int transA, int transB, real alpha, real beta);
// `batch` GEMMs in one cuBLAS call (cublasSgemmStridedBatched): matrix i of C, A, B starts
// at i * strideC, i * strideA, i * strideB elements; a stride of 0 shares the operand (one
// weight for every sample). Leading dimensions are the packed row-major ones, as gemm_cuda's,
// so a block of consecutive rows of a larger row-major matrix is a valid operand. Twin of
// gemm_strided_batched (kernels/linear.h). batch must be below 2^31.
ssm_code gemm_strided_batched_cuda(real *C, const real *A, const real *B, int64_t M, int64_t N,
                                   int64_t K, int transA, int transB, real alpha, real beta,
                                   int64_t batch, int64_t strideA, int64_t strideB,
                                   int64_t strideC);
// out [N, OC], inp [N, IC], weight [OC, IC], bias [OC] or NULL
ssm_code linear_forward_cuda(real *out, const real *inp, const real *weight, const real *bias,
                             int64_t N, int64_t IC, int64_t OC);
ssm_code linear_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                              const real *inp, const real *weight, int64_t N, int64_t IC,
                              int64_t OC);

// The bf16 GEMM: A, B bf16; C bf16 (c_fp32 = 0) or fp32 (c_fp32 = 1); fp32 accumulation.
ssm_code gemm_bf16_cuda(void *C, int c_fp32, const ssm_bf16 *A, const ssm_bf16 *B, int64_t M,
                        int64_t N, int64_t K, int transA, int transB, float alpha, float beta);
// gemm_strided_batched_cuda in bf16: A, B bf16, C bf16 or fp32 (c_fp32), fp32 accumulation
// (cublasGemmStridedBatchedEx); strides in elements, 0 shares the operand.
ssm_code gemm_strided_batched_bf16_cuda(void *C, int c_fp32, const ssm_bf16 *A, const ssm_bf16 *B,
                                        int64_t M, int64_t N, int64_t K, int transA, int transB,
                                        float alpha, float beta, int64_t batch, int64_t strideA,
                                        int64_t strideB, int64_t strideC);
// out [N, OC] bf16, inp [N, IC] bf16, weight [OC, IC] bf16, bias [OC] fp32 or NULL
ssm_code linear_forward_bf16(ssm_bf16 *out, const ssm_bf16 *inp, const ssm_bf16 *weight,
                             const float *bias, int64_t N, int64_t IC, int64_t OC);
// The same with an fp32 out [N, OC] (autocast's linear feeding an fp32 consumer: the residual
// stream, the loss): no bf16 rounding of the output.
ssm_code linear_forward_bf16_f32(float *out, const ssm_bf16 *inp, const ssm_bf16 *weight,
                                 const float *bias, int64_t N, int64_t IC, int64_t OC);
// dinp [N, IC] bf16 +=, dweight [OC, IC] fp32 +=, dbias [OC] fp32 += (each may be NULL)
ssm_code linear_backward_bf16(ssm_bf16 *dinp, float *dweight, float *dbias, const ssm_bf16 *dout,
                              const ssm_bf16 *inp, const ssm_bf16 *weight, int64_t N, int64_t IC,
                              int64_t OC);

#ifdef __cplusplus
}
#endif
