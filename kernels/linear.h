// defines: gemm, gemm_threads_init, gemm_strided_batched, linear_forward, linear_backward
// Dense layers through BLAS (sgemm, or dgemm in the double build). Row-major.
// Backward accumulates (+=) into every gradient; callers zero them.
#pragma once
#include <stdint.h>

#include "core/real.h"

// C[M,N] = alpha * op(A) @ op(B) + beta * C, row-major; op(X) = X or X^T.
// A is [M,K] (or [K,M] when transA), B is [K,N] (or [N,K] when transB).
// Called outside a parallel region it splits C over the OpenMP threads;
// inside one, it runs on the calling thread (so callers may run independent
// GEMMs from their own parallel loops). It sets OpenBLAS to one thread.
void gemm(real *C, const real *A, const real *B, int64_t M, int64_t N, int64_t K, int transA,
          int transB, real alpha, real beta);

// `batch` independent GEMMs: C + i*strideC = alpha op(A + i*strideA) op(B + i*strideB)
// + beta C + i*strideC, each as gemm above (a stride of 0 shares that operand, e.g. one
// weight applied to every sample). The reference of gemm_strided_batched_cuda.
void gemm_strided_batched(real *C, const real *A, const real *B, int64_t M, int64_t N, int64_t K,
                          int transA, int transB, real alpha, real beta, int64_t batch,
                          int64_t strideA, int64_t strideB, int64_t strideC);

// Sets OpenBLAS to one thread (gemm's threads are OpenMP's). gemm does it on
// every call made outside a parallel region; a caller that runs gemm from
// inside its own region calls this first, outside it: OpenBLAS's own pool,
// entered from several threads at once, serializes them and spin-yields.
void gemm_threads_init(void);

// out[n, o] = sum_i inp[n, i] * weight[o, i] + bias[o]   (PyTorch nn.Linear layout)
// out    [N, OC]
// inp    [N, IC]
// weight [OC, IC]
// bias   [OC] or NULL
void linear_forward(real *out, const real *inp, const real *weight, const real *bias, int64_t N,
                    int64_t IC, int64_t OC);

// dinp += dout @ weight; dweight += dout^T @ inp; dbias += sum_n dout.
// Any of dinp, dweight, dbias may be NULL (not needed).
void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, int64_t N, int64_t IC, int64_t OC);
