// defines: gather_tokens_forward, gather_tokens_backward, scatter_tokens_forward,
//          scatter_tokens_backward, transpose_forward (see permute.h)
// One thread owns a whole row (b, c), so the indexed writes of the backward
// never race even if a perm row were not a permutation. The kernels trust
// perm: every entry must lie in [0, L) (the producer of an order checks it).
// A reversed row (Vim's second direction) is found once per sample and moved
// by a plain reversed loop, which vectorizes; the indexed loop does not.
#include "kernels/permute.h"

#include "kernels/cpu_math.h"

// 1 when perm[l] = L-1-l for every l
static int is_reverse(const int32_t *perm, int64_t L) {
    for (int64_t l = 0; l < L; l++)
        if (perm[l] != L - 1 - l)
            return 0;
    return 1;
}

// rev[b] = is_reverse(perm row b), for the first min(B, 64) samples (0 after)
static uint64_t reverse_rows(const int32_t *perm, int64_t B, int64_t L) {
    uint64_t m = 0;
    for (int64_t b = 0; b < B && b < 64; b++)
        if (is_reverse(perm + b * L, L))
            m |= (uint64_t)1 << b;
    return m;
}
#define IS_REV(m, b) ((b) < 64 && (((m) >> (b)) & 1))

void gather_tokens_forward(real *out, const real *inp, const int32_t *perm, int64_t B, int64_t C,
                           int64_t L) {
    const uint64_t rev = reverse_rows(perm, B, L);
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L; // [L]
        const real *in = inp + row * L;         // [L]
        real *o = out + row * L;                // [L]
        if (IS_REV(rev, row / C))
            for (int64_t l = 0; l < L; l++)
                o[l] = in[L - 1 - l];
        else
            for (int64_t l = 0; l < L; l++)
                o[l] = in[p[l]];
    }
}

void gather_tokens_backward(real *dinp, const real *dout, const int32_t *perm, int64_t B,
                            int64_t C, int64_t L) {
    const uint64_t rev = reverse_rows(perm, B, L);
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L;
        const real *d = dout + row * L;
        real *di = dinp + row * L;
        if (IS_REV(rev, row / C))
            for (int64_t l = 0; l < L; l++)
                di[l] += d[L - 1 - l];
        else
            for (int64_t l = 0; l < L; l++)
                di[p[l]] += d[l];
    }
}

void scatter_tokens_forward(real *out, const real *inp, const int32_t *perm, int64_t B, int64_t C,
                            int64_t L, real alpha, int accumulate) {
    const uint64_t rev = reverse_rows(perm, B, L);
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L;
        const real *in = inp + row * L;
        real *o = out + row * L;
        if (IS_REV(rev, row / C) && accumulate)
            for (int64_t l = 0; l < L; l++)
                o[l] += alpha * in[L - 1 - l];
        else if (IS_REV(rev, row / C))
            for (int64_t l = 0; l < L; l++)
                o[l] = alpha * in[L - 1 - l];
        else if (accumulate)
            for (int64_t l = 0; l < L; l++)
                o[p[l]] += alpha * in[l];
        else
            for (int64_t l = 0; l < L; l++)
                o[p[l]] = alpha * in[l];
    }
}

void scatter_tokens_backward(real *dinp, const real *dout, const int32_t *perm, int64_t B,
                             int64_t C, int64_t L, real alpha) {
    const uint64_t rev = reverse_rows(perm, B, L);
#pragma omp parallel for schedule(static) if (B * C * L >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        const int32_t *p = perm + (row / C) * L;
        const real *d = dout + row * L;
        real *di = dinp + row * L;
        if (IS_REV(rev, row / C))
            for (int64_t l = 0; l < L; l++)
                di[l] += alpha * d[L - 1 - l];
        else
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
