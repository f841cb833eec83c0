// defines: gemm, linear_forward, linear_backward (see linear.h)
// GEMM is OpenBLAS; the bias reduction is ours, written so that every output
// element is summed in the same order whatever the thread count.
#include "kernels/linear.h"

#include <cblas.h>

#include "kernels/cpu_math.h"

// Columns of dbias summed together by one thread: a block of a row is
// contiguous, so the sweep over rows reads memory in order.
#define BIAS_BLOCK 64

// BLAS takes int dimensions: each of M, N, K must be below 2^31 (the element
// counts themselves may exceed it).
void gemm(real *C, const real *A, const real *B, int64_t M, int64_t N, int64_t K, int transA,
          int transB, real alpha, real beta) {
    if (M <= 0 || N <= 0)
        return;
    // leading dimensions of the stored (row-major) matrices; BLAS wants >= 1
    int64_t lda = transA ? M : K, ldb = transB ? K : N;
    if (lda < 1)
        lda = 1;
    if (ldb < 1)
        ldb = 1;
#if REAL_IS_DOUBLE
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
                (int)ldb, beta, C, (int)N);
#else
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
                (int)ldb, beta, C, (int)N);
#endif
}

void linear_forward(real *out, const real *inp, const real *weight, const real *bias, int64_t N,
                    int64_t IC, int64_t OC) {
    // out [N, OC] = inp [N, IC] @ weight[OC, IC]^T
    gemm(out, inp, weight, N, OC, IC, 0, 1, 1, 0);
    if (!bias)
        return;
#pragma omp parallel for schedule(static) if (N * OC >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        real *o = out + n * OC;
        for (int64_t c = 0; c < OC; c++)
            o[c] += bias[c];
    }
}

void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, int64_t N, int64_t IC, int64_t OC) {
    // dinp [N, IC] += dout [N, OC] @ weight [OC, IC]
    if (dinp)
        gemm(dinp, dout, weight, N, IC, OC, 0, 0, 1, 1);
    // dweight [OC, IC] += dout^T [OC, N] @ inp [N, IC]
    if (dweight)
        gemm(dweight, dout, inp, OC, IC, N, 1, 0, 1, 1);
    if (!dbias)
        return;
    // dbias [OC] += sum over rows, in double, rows in ascending order for
    // every column: no scratch, and the same bits for any thread count.
    int64_t n_blocks = (OC + BIAS_BLOCK - 1) / BIAS_BLOCK;
#pragma omp parallel for schedule(static) if (N * OC >= R_PAR_MIN)
    for (int64_t blk = 0; blk < n_blocks; blk++) {
        int64_t c0 = blk * BIAS_BLOCK, c1 = c0 + BIAS_BLOCK < OC ? c0 + BIAS_BLOCK : OC;
        double acc[BIAS_BLOCK] = {0};
        for (int64_t n = 0; n < N; n++) {
            const real *d = dout + n * OC;
            for (int64_t c = c0; c < c1; c++)
                acc[c - c0] += d[c];
        }
        for (int64_t c = c0; c < c1; c++)
            dbias[c] += (real)acc[c - c0];
    }
}
