// defines: gemm, gemm_threads_init, gemm_strided_batched, linear_forward, linear_backward
//          (see linear.h)
// GEMM is OpenBLAS (threaded by us, see gemm); the bias reduction is ours, written so that every output
// element is summed in the same order whatever the thread count.
#include "kernels/linear.h"

#include <cblas.h>
#include <omp.h>

#include "kernels/cpu_math.h"

// Columns of dbias summed together by one thread: a block of a row is
// contiguous, so the sweep over rows reads memory in order.
#define BIAS_BLOCK 64

// GEMM threading is ours, not OpenBLAS's: OpenBLAS is set to one thread and
// a call made outside a parallel region is split over the OpenMP threads
// into bands of C (rows, or columns when C is wider than tall), one
// single-threaded BLAS call each. A call made inside a parallel region runs
// on the calling thread. Why: Debian's OpenBLAS has its own pthread pool,
// whose workers spin-yield for a while after every call and take the cores
// from the OpenMP regions that follow (~20% of a training step went to
// sched_yield on 2 cores), and the backbone runs its per-sample GEMMs from
// its own parallel loops. Every element of C is computed by one BLAS call
// whose shape depends only on (M, N, K, thread count): same threads, same bits.
#define GEMM_ALIGN 16          // band edges on multiples of 16 elements (one 64-byte line)
#define GEMM_PAR_MIN (1 << 18) // M*N*K below this runs on one thread (a fork costs ~10 us)

// BLAS takes int dimensions: each of M, N, K must be below 2^31 (the element
// counts themselves may exceed it).
static void blas(real *C, const real *A, const real *B, int64_t M, int64_t N, int64_t K,
                 int transA, int transB, real alpha, real beta, int64_t lda, int64_t ldb,
                 int64_t ldc) {
#if REAL_IS_DOUBLE
    cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
                (int)ldb, beta, C, (int)ldc);
#else
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, alpha, A, (int)lda, B,
                (int)ldb, beta, C, (int)ldc);
#endif
}

void gemm_threads_init(void) {
    if (!omp_in_parallel() && openblas_get_num_threads() != 1)
        openblas_set_num_threads(1); // outside any region: no other caller races this
}

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
    if (omp_in_parallel()) {
        blas(C, A, B, M, N, K, transA, transB, alpha, beta, lda, ldb, N);
        return;
    }
    gemm_threads_init();
    const int nt = omp_get_max_threads();
    const int by_rows = M >= N;
    const int64_t dim = by_rows ? M : N;
    int64_t parts = (dim + GEMM_ALIGN - 1) / GEMM_ALIGN;
    if (parts > nt)
        parts = nt;
    if (parts < 2 || (double)M * (double)N * (double)K < GEMM_PAR_MIN) {
        blas(C, A, B, M, N, K, transA, transB, alpha, beta, lda, ldb, N);
        return;
    }
    const int64_t band = ((dim + parts - 1) / parts + GEMM_ALIGN - 1) / GEMM_ALIGN * GEMM_ALIGN;
#pragma omp parallel for schedule(static) num_threads((int)parts)
    for (int64_t i = 0; i < parts; i++) {
        const int64_t lo = i * band, hi = lo + band < dim ? lo + band : dim;
        if (lo >= hi)
            continue;
        if (by_rows) // rows [lo, hi) of op(A) and of C
            blas(C + lo * N, transA ? A + lo : A + lo * lda, B, hi - lo, N, K, transA, transB,
                 alpha, beta, lda, ldb, N);
        else // columns [lo, hi) of op(B) and of C
            blas(C + lo, A, transB ? B + lo * ldb : B + lo, M, hi - lo, K, transA, transB, alpha,
                 beta, lda, ldb, N);
    }
}

void gemm_strided_batched(real *C, const real *A, const real *B, int64_t M, int64_t N, int64_t K,
                          int transA, int transB, real alpha, real beta, int64_t batch,
                          int64_t strideA, int64_t strideB, int64_t strideC) {
    for (int64_t i = 0; i < batch; i++)
        gemm(C + i * strideC, A + i * strideA, B + i * strideB, M, N, K, transA, transB, alpha,
             beta);
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
