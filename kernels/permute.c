// defines: gather_tokens_forward, gather_tokens_backward, scatter_tokens_forward,
//          scatter_tokens_backward, transpose_forward (see permute.h)
// One thread owns a whole row (b, c), so the indexed writes of the backward
// never race even if a perm row were not a permutation. The kernels trust
// perm: every entry must lie in [0, L) (the producer of an order checks it).
#include "kernels/permute.h"

#include "kernels/cpu_math.h"

void gather_tokens_forward(real *out, const real *inp, const int32_t *perm, int64_t B, int64_t C,
                           int64_t L) {
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L; // [L]
        const real *in = inp + row * L;         // [L]
        real *o = out + row * L;                // [L]
        for (int64_t l = 0; l < L; l++)
            o[l] = in[p[l]];
    }
}

void gather_tokens_backward(real *dinp, const real *dout, const int32_t *perm, int64_t B,
                            int64_t C, int64_t L) {
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L;
        const real *d = dout + row * L;
        real *di = dinp + row * L;
        for (int64_t l = 0; l < L; l++)
            di[p[l]] += d[l];
    }
}

void scatter_tokens_forward(real *out, const real *inp, const int32_t *perm, int64_t B, int64_t C,
                            int64_t L, real alpha, int accumulate) {
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L;
        const real *in = inp + row * L;
        real *o = out + row * L;
        if (accumulate)
            for (int64_t l = 0; l < L; l++)
                o[p[l]] += alpha * in[l];
        else
            for (int64_t l = 0; l < L; l++)
                o[p[l]] = alpha * in[l];
    }
}

void scatter_tokens_backward(real *dinp, const real *dout, const int32_t *perm, int64_t B,
                             int64_t C, int64_t L, real alpha) {
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L;
        const real *d = dout + row * L;
        real *di = dinp + row * L;
        for (int64_t l = 0; l < L; l++)
            di[l] += alpha * d[p[l]];
    }
}

// Square tiles keep both the reads and the writes within a few cache lines.
#define TILE 32

void transpose_forward(real *out, const real *inp, int64_t B, int64_t R, int64_t S) {
    int64_t tr = (R + TILE - 1) / TILE, ts = (S + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if (B * R * S >= R_PAR_MIN)
    for (int64_t job = 0; job < B * tr * ts; job++) {
        int64_t b = job / (tr * ts), i0 = (job / ts) % tr * TILE, j0 = job % ts * TILE;
        int64_t i1 = i0 + TILE < R ? i0 + TILE : R, j1 = j0 + TILE < S ? j0 + TILE : S;
        const real *in = inp + b * R * S; // [R, S]
        real *o = out + b * R * S;        // [S, R]
        for (int64_t i = i0; i < i1; i++)
            for (int64_t j = j0; j < j1; j++)
                o[j * R + i] = in[i * S + j];
    }
}
