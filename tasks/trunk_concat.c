// defines: the concatenation of scan orders on the CPU (see trunk_concat.h)
#include "tasks/trunk_concat.h"

#include <string.h>

void trunk_concat_inverse(int32_t *inv, const int32_t *perm, int O, int64_t N, int64_t L) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < (int64_t)O * N; r++) {
        const int32_t *p = perm + r * L;
        int32_t *q = inv + r * L;
        for (int64_t l = 0; l < L; l++)
            q[p[l]] = (int32_t)l;
    }
}

void trunk_concat_gather(real *seq, const real *tokens, const int32_t *perm, const real *gamma,
                         const real *beta, int O, int64_t N, int64_t L, int64_t D) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < O * L; s++) {
            int64_t o = s / L, l = s % L;
            const real *src = tokens + (n * L + perm[(o * N + n) * L + l]) * D;
            const real *g = gamma + o * D, *b = beta + o * D;
            real *dst = seq + (n * O * L + s) * D;
            for (int64_t d = 0; d < D; d++)
                dst[d] = src[d] * g[d] + b[d];
        }
}

void trunk_concat_merge(real *feats, const real *out, const int32_t *inv, int O, int64_t N,
                        int64_t L, int64_t D) {
    const real scale = (real)1 / (real)O;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < L; g++) {
            real *dst = feats + (n * L + g) * D;
            for (int64_t d = 0; d < D; d++)
                dst[d] = 0;
            for (int o = 0; o < O; o++) {
                const real *src = out + (n * O * L + o * L + inv[(o * N + n) * L + g]) * D;
                for (int64_t d = 0; d < D; d++)
                    dst[d] += src[d];
            }
            for (int64_t d = 0; d < D; d++)
                dst[d] *= scale;
        }
}

void trunk_concat_merge_backward(real *dout, const real *dfeats, const int32_t *perm, int O,
                                 int64_t N, int64_t L, int64_t D) {
    const real scale = (real)1 / (real)O;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t s = 0; s < O * L; s++) {
            int64_t o = s / L, l = s % L;
            const real *src = dfeats + (n * L + perm[(o * N + n) * L + l]) * D;
            real *dst = dout + (n * O * L + s) * D;
            for (int64_t d = 0; d < D; d++)
                dst[d] = src[d] * scale;
        }
}

void trunk_concat_gather_backward(real *dtokens, real *dgamma, real *dbeta, const real *dseq,
                                  const real *tokens, const int32_t *perm, const int32_t *inv,
                                  const real *gamma, int O, int64_t N, int64_t L, int64_t D) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < L; g++) {
            real *dst = dtokens + (n * L + g) * D;
            for (int o = 0; o < O; o++) {
                const real *src = dseq + (n * O * L + o * L + inv[(o * N + n) * L + g]) * D;
                const real *gm = gamma + o * D;
                for (int64_t d = 0; d < D; d++)
                    dst[d] += src[d] * gm[d];
            }
        }
    // per (o, d): one sum over every (n, l) in a fixed order
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t o = 0; o < O; o++)
        for (int64_t d = 0; d < D; d++) {
            double sg = 0, sb = 0;
            for (int64_t n = 0; n < N; n++)
                for (int64_t l = 0; l < L; l++) {
                    real v = dseq[(n * O * L + o * L + l) * D + d];
                    sg += (double)v * tokens[(n * L + perm[(o * N + n) * L + l]) * D + d];
                    sb += v;
                }
            dgamma[o * D + d] += (real)sg;
            dbeta[o * D + d] += (real)sb;
        }
}

void trunk_concat_orders(int32_t *perm, int K, int64_t N, int64_t Lc) {
    for (int k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) {
            int32_t *row = perm + (k * N + n) * Lc;
            for (int64_t l = 0; l < Lc; l++)
                row[l] = (int32_t)(k ? Lc - 1 - l : l);
        }
}
