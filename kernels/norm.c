// defines: rmsnorm_forward, rmsnorm_backward, layernorm_forward, layernorm_backward
// Row statistics in double (the rows are D wide, up to thousands). Backward
// in two sweeps: rows in parallel for dinp, then column blocks in parallel
// for dweight/dbias, each column summed over rows in ascending order by one
// thread: no scratch, no atomics, the same bits for any thread count.
#include "kernels/norm.h"

#include "kernels/cpu_math.h"

#define COL_BLOCK 64

void rmsnorm_forward(real *out, real *rstd, const real *inp, const real *weight, int64_t N,
                     int64_t C, real eps) {
#pragma omp parallel for schedule(static) if (N * C >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const real *x = inp + n * C; // [C]
        real *o = out + n * C;       // [C]
        double ss = 0;
        for (int64_t c = 0; c < C; c++)
            ss += (double)x[c] * x[c];
        real r = (real)(1.0 / sqrt(ss / (double)C + (double)eps));
        for (int64_t c = 0; c < C; c++)
            o[c] = x[c] * r * weight[c];
        rstd[n] = r;
    }
}

// out_j = x_j r w_j with r = (mean(x^2) + eps)^(-1/2), dr/dx_j = -r^3 x_j / C:
//   dx_j = r w_j g_j - x_j (r^3 / C) sum_i g_i w_i x_i
void rmsnorm_backward(real *dinp, real *dweight, const real *dout, const real *inp,
                      const real *weight, const real *rstd, int64_t N, int64_t C) {
    if (dinp) {
#pragma omp parallel for schedule(static) if (N * C >= R_PAR_MIN)
        for (int64_t n = 0; n < N; n++) {
            const real *x = inp + n * C, *g = dout + n * C; // [C]
            real *dx = dinp + n * C;                        // [C]
            double r = rstd[n], dot = 0;
            for (int64_t c = 0; c < C; c++)
                dot += (double)g[c] * weight[c] * x[c];
            double k = r * r * r * dot / (double)C;
            for (int64_t c = 0; c < C; c++)
                dx[c] += (real)(r * weight[c] * g[c] - k * x[c]);
        }
    }
    if (dweight) {
        int64_t n_blocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * C >= R_PAR_MIN)
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            int64_t c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
            double acc[COL_BLOCK] = {0};
            for (int64_t n = 0; n < N; n++) {
                const real *x = inp + n * C, *g = dout + n * C;
                double r = rstd[n];
                for (int64_t c = c0; c < c1; c++)
                    acc[c - c0] += (double)g[c] * x[c] * r;
            }
            for (int64_t c = c0; c < c1; c++)
                dweight[c] += (real)acc[c - c0];
        }
    }
}

void layernorm_forward(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                       const real *bias, int64_t N, int64_t C, real eps) {
#pragma omp parallel for schedule(static) if (N * C >= R_PAR_MIN)
    for (int64_t n = 0; n < N; n++) {
        const real *x = inp + n * C; // [C]
        real *o = out + n * C;       // [C]
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            s += x[c];
        double mu = s / (double)C, v = 0;
        // two-pass variance: no cancellation when |mean| >> std
        for (int64_t c = 0; c < C; c++) {
            double d = x[c] - mu;
            v += d * d;
        }
        double r = 1.0 / sqrt(v / (double)C + (double)eps); // biased variance, as PyTorch
        for (int64_t c = 0; c < C; c++) {
            real y = (real)((x[c] - mu) * r) * weight[c];
            o[c] = bias ? y + bias[c] : y;
        }
        mean[n] = (real)mu;
        rstd[n] = (real)r;
    }
}

// xhat = (x - mean) rstd, dnorm = g w:
//   dx = rstd (dnorm - mean(dnorm) - xhat mean(dnorm xhat))
void layernorm_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                        const real *inp, const real *weight, const real *mean, const real *rstd,
                        int64_t N, int64_t C) {
    if (dinp) {
#pragma omp parallel for schedule(static) if (N * C >= R_PAR_MIN)
        for (int64_t n = 0; n < N; n++) {
            const real *x = inp + n * C, *g = dout + n * C; // [C]
            real *dx = dinp + n * C;                        // [C]
            double mu = mean[n], r = rstd[n], s1 = 0, s2 = 0;
            for (int64_t c = 0; c < C; c++) {
                double dn = (double)g[c] * weight[c];
                s1 += dn;
                s2 += dn * (x[c] - mu) * r;
            }
            s1 /= (double)C;
            s2 /= (double)C;
            for (int64_t c = 0; c < C; c++) {
                double xh = (x[c] - mu) * r;
                dx[c] += (real)(r * ((double)g[c] * weight[c] - s1 - xh * s2));
            }
        }
    }
    if (dweight || dbias) {
        int64_t n_blocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (N * C >= R_PAR_MIN)
        for (int64_t blk = 0; blk < n_blocks; blk++) {
            int64_t c0 = blk * COL_BLOCK, c1 = c0 + COL_BLOCK < C ? c0 + COL_BLOCK : C;
            double aw[COL_BLOCK] = {0}, ab[COL_BLOCK] = {0};
            for (int64_t n = 0; n < N; n++) {
                const real *x = inp + n * C, *g = dout + n * C;
                double mu = mean[n], r = rstd[n];
                for (int64_t c = c0; c < c1; c++) {
                    aw[c - c0] += (double)g[c] * (x[c] - mu) * r;
                    ab[c - c0] += g[c];
                }
            }
            for (int64_t c = c0; c < c1; c++) {
                if (dweight)
                    dweight[c] += (real)aw[c - c0];
                if (dbias)
                    dbias[c] += (real)ab[c - c0];
            }
        }
    }
}
