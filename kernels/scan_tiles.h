// defines (private to kernels/scan.c and kernels/scan_backward.c): SCAN_W,
//          SCAN_FWD_TILE, SCAN_NG, SCAN_LOG2E, min64, round_up, scan_dt, gather_rows,
//          scatter_rows, prefetch_rows, gather_A
// The tile moves and the dt math both halves of the CPU selective scan share.
// The per-(channel, time) inputs (u, delta, z, dout) are moved into
// [time, SCAN_W] tiles and the per-(channel, time) results back; lanes past
// the group's last channel are padding (u = 0, A = 0: their state stays 0 and
// nothing is written back). Whole SCAN_W x SCAN_W blocks go through the
// in-register transposes of kernels/cpu_vec.h.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/real.h"
#include "kernels/cpu_math.h"
#include "kernels/cpu_vec.h"

#define SCAN_W V_W // channels per lane block (one vector: 16 or 8 floats, 8 doubles)
#define SCAN_FWD_TILE 64                // forward time tile (steps)
#define SCAN_ALIGN 16                   // workspace sub-buffers start on multiples of 16 reals
#define SOFTPLUS_LINEAR 20              // softplus(x) = x above this, as torch and mamba_ssm do

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline size_t round_up(size_t n) { return (n + SCAN_ALIGN - 1) / SCAN_ALIGN * SCAN_ALIGN; }

// x[i] holds delta + bias; writes dt[i] = softplus?(x[i]) and, when sp is not
// NULL, sp[i] = d dt / d x. softplus(x) = max(x, 0) + log1p(exp(-|x|)) keeps
// full relative precision for very negative x. Flat loops with no branch on
// sp inside (a conditional store keeps AVX2 from vectorizing): they vectorize.
static inline void scan_dt(real *restrict dt, real *restrict sp, const real *restrict x, int64_t n,
                    int softplus) {
    if (!softplus) {
        memcpy(dt, x, sizeof(real) * (size_t)n);
        if (sp)
            for (int64_t i = 0; i < n; i++)
                sp[i] = 1;
        return;
    }
    // both sides of each select are computed (no division under a branch),
    // so that targets without masked stores (AVX2) if-convert the loops
    for (int64_t i = 0; i < n; i++) {
        const real xi = x[i], e = r_fexp(xi < 0 ? xi : -xi);
        const real soft = (xi > 0 ? xi : 0) + r_log1p_01(e);
        dt[i] = xi > SOFTPLUS_LINEAR ? xi : soft;
    }
    if (sp)
        for (int64_t i = 0; i < n; i++) { // sigmoid(x) from e = exp(-|x|)
            const real xi = x[i], e = r_fexp(xi < 0 ? xi : -xi);
            const real sig = (xi > 0 ? 1 : e) / (1 + e);
            sp[i] = xi > SOFTPLUS_LINEAR ? 1 : sig;
        }
}

// tile[i*W + w] = rows[w*L + i] (+ add[w]) for w < nw, i < tl; 0 in padding
// lanes. rows: channel w's row starts w*L after rows (a [.., L] tensor).
// Whole W x W blocks go through an in-register transpose (cpu_vec.h).
static inline void gather_rows(real *restrict tile, const real *restrict rows, const real *add, int64_t L,
                        int64_t nw, int64_t tl) {
    int64_t i0 = 0;
    if (nw == SCAN_W)
        for (; i0 + SCAN_W <= tl; i0 += SCAN_W)
            v_tile_from_rows(tile + i0 * SCAN_W, rows + i0, L, add);
    for (int64_t w = 0; w < nw; w++) {
        const real a = add ? add[w] : 0;
        for (int64_t i = i0; i < tl; i++)
            tile[i * SCAN_W + w] = rows[w * L + i] + a;
    }
    for (int64_t w = nw; w < SCAN_W; w++)
        for (int64_t i = 0; i < tl; i++)
            tile[i * SCAN_W + w] = 0;
}

// rows[w*L + i] = tile[i*W + w] (accumulate: +=) for w < nw, i < tl
static inline void scatter_rows(real *restrict rows, const real *restrict tile, int64_t L, int64_t nw,
                         int64_t tl, int accumulate) {
    int64_t i0 = 0;
    if (nw == SCAN_W)
        for (; i0 + SCAN_W <= tl; i0 += SCAN_W)
            v_rows_from_tile(rows + i0, L, tile + i0 * SCAN_W, accumulate);
    for (int64_t w = 0; w < nw; w++)
        for (int64_t i = i0; i < tl; i++)
            rows[w * L + i] = accumulate ? rows[w * L + i] + tile[i * SCAN_W + w]
                                         : tile[i * SCAN_W + w];
}

// Asks for the [nw, tl] piece of rows (row stride L) ahead of use: the
// backward walks each row back to front, a pattern the hardware prefetchers
// do not follow across 16 rows.
static inline void prefetch_rows(const real *rows, int64_t L, int64_t nw, int64_t tl, int for_write) {
    const int64_t step = 64 / (int64_t)sizeof(real); // one cache line
    for (int64_t w = 0; w < nw; w++)
        for (int64_t i = 0; i < tl + step - 1; i += step) {
            const real *q = rows + w * L + (i < tl ? i : tl - 1);
            if (for_write)
                __builtin_prefetch(q, 1);
            else
                __builtin_prefetch(q, 0);
        }
}

// At[n*W + w] = scale * A[(d0 + w)*N + n]; 0 in padding lanes (exp(dt*0) = 1,
// harmless). scale = log2(e) gives the base-2 exponents that v_exp2 takes.
static inline void gather_A(real *At, const real *A, int64_t d0, int64_t nw, int64_t N, real scale) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t w = 0; w < SCAN_W; w++)
            At[n * SCAN_W + w] = w < nw ? scale * A[(d0 + w) * N + n] : 0;
}
#define SCAN_LOG2E ((real)1.44269504088896340736)

#ifndef SCAN_NG
#define SCAN_NG 8 // states per register group (forward, recompute, reverse sweep)
#endif

