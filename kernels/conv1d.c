// defines: conv1d_causal_forward, conv1d_causal_backward (see conv1d.h)
// One thread owns whole channels: rows (b, c) are independent in the forward;
// in the backward the channel is the unit so that dw[c,:] and dbias[c] are
// summed over (b, t) in one fixed order by one thread, with no scratch and no
// atomics (bitwise the same for any thread count).
// Packed rows (seg_offsets): each segment runs through the code of a row of
// its own (same tiles from its first step), so out and dx of a segment equal
// those of the segment alone bit for bit; dw and dbias keep one double sum
// over all the segments of every row (rounded to real once at the end).
#include "kernels/conv1d.h"

#include <string.h>

#include "kernels/cpu_math.h"

// Taps of dw accumulated in double at once; wider filters take more passes
// (Mamba uses K = 4, so one pass).
#define TAP_BLOCK 16

// pre-activation at time t of one row: bias + sum_k w[k] x[t-(K-1)+k]
static inline real conv_pre(const real *x, const real *w, real b, int64_t t, int64_t K) {
    real acc = b;
    int64_t k0 = (K - 1) - t; // taps with k < k0 read x before the start (zero)
    for (int64_t k = k0 > 0 ? k0 : 0; k < K; k++)
        acc += w[k] * x[t - (K - 1) + k];
    return acc;
}

// Mamba's width (d_conv = 4) gets straight-line code over tiles of the row:
// a zero-padded window xt [3 + T] makes every step the same four taps (the
// padding adds w*0 = 0, the same value the generic loop gets by skipping),
// so the loops over t vectorize, SiLU included (r_sigmoid is branch-free on
// a polynomial exp in float).
#define K4_TILE 256

// xt[j] = x[t0 - 3 + j] for j < tl + 3, 0 before the start of the row; only
// the first three can fall before it, so the rest is one copy (a per-element
// test was a scalar loop, a real cost on the short rows of image models)
static inline void k4_window(real *xt, const real *x, int64_t t0, int64_t tl) {
    for (int64_t j = 0; j < 3; j++)
        xt[j] = t0 - 3 + j >= 0 ? x[t0 - 3 + j] : 0;
    memcpy(xt + 3, x + t0, sizeof(real) * (size_t)tl);
}

// pre[i] = bias + sum_k w[k] xt[i + k]: the generic loop's order of additions
static inline void k4_pre(real *restrict pre, const real *restrict xt, const real *w, real b,
                          int64_t tl) {
    const real w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
    for (int64_t i = 0; i < tl; i++)
        pre[i] = (((b + w0 * xt[i]) + w1 * xt[i + 1]) + w2 * xt[i + 2]) + w3 * xt[i + 3];
}

static void conv_row_k4(real *o, const real *x, const real *w, real b, int64_t L, int silu) {
    real xt[K4_TILE + 3];
    for (int64_t t0 = 0; t0 < L; t0 += K4_TILE) {
        const int64_t tl = L - t0 < K4_TILE ? L - t0 : K4_TILE;
        k4_window(xt, x, t0, tl);
        real *ot = o + t0;
        k4_pre(ot, xt, w, b, tl);
        if (silu)
            for (int64_t i = 0; i < tl; i++)
                ot[i] = r_silu(ot[i]);
    }
}

// One row's contribution to dx, dw (acc, double), dbias (db, double).
static void conv_row_k4_backward(real *dxr, double *acc, double *db, const real *dor,
                                 const real *xr, const real *w, real b, int64_t L, int silu) {
    real xt[K4_TILE + 3], dp[K4_TILE];
    for (int64_t t0 = 0; t0 < L; t0 += K4_TILE) {
        const int64_t tl = L - t0 < K4_TILE ? L - t0 : K4_TILE;
        k4_window(xt, xr, t0, tl);
        if (silu) {
            k4_pre(dp, xt, w, b, tl);
            for (int64_t i = 0; i < tl; i++)
                dp[i] = dor[t0 + i] * r_silu_grad(dp[i]);
        } else {
            for (int64_t i = 0; i < tl; i++)
                dp[i] = dor[t0 + i];
        }
        double s = 0, a0 = 0, a1 = 0, a2 = 0, a3 = 0;
#pragma omp simd reduction(+ : s, a0, a1, a2, a3)
        for (int64_t i = 0; i < tl; i++) {
            const double d = dp[i];
            s += d;
            a0 += d * xt[i];
            a1 += d * xt[i + 1];
            a2 += d * xt[i + 2];
            a3 += d * xt[i + 3];
        }
        *db += s;
        acc[0] += a0, acc[1] += a1, acc[2] += a2, acc[3] += a3;
        if (dxr) // x[t - 3 + k] fed pre[t] through w[k]
            for (int64_t k = 0; k < 4; k++) {
                const real wk = w[k];
                const int64_t i0 = t0 - 3 + k >= 0 ? 0 : 3 - k - t0; // first step inside x
                real *d = dxr + t0 - 3 + k;
                for (int64_t i = i0; i < tl; i++)
                    d[i] += wk * dp[i];
            }
    }
}

// One sequence of n steps (a row, or a segment of a packed row): the window
// reads nothing before x[0].
static void conv_seq(real *o, const real *xr, const real *wc, real b, int64_t n, int64_t K,
                     int silu) {
    if (K == 4) {
        conv_row_k4(o, xr, wc, b, n, silu);
        return;
    }
    for (int64_t t = 0; t < n; t++) {
        real p = conv_pre(xr, wc, b, t, K);
        o[t] = silu ? r_silu(p) : p;
    }
}

void conv1d_causal_forward(real *out, const real *x, const real *w, const real *bias, int64_t B,
                           int64_t C, int64_t L, int64_t K, int silu, const int64_t *seg_offsets,
                           int64_t n_segs) {
#pragma omp parallel for schedule(static) if (B * C * L * K >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        int64_t c = row % C;
        const real *xr = x + row * L;  // [L]
        const real *wc = w + c * K;    // [K]
        real *o = out + row * L;       // [L]
        real b = bias ? bias[c] : 0;
        if (!seg_offsets) {
            conv_seq(o, xr, wc, b, L, K, silu);
            continue;
        }
        for (int64_t i = 0; i < n_segs; i++) { // each segment as a row of its own
            const int64_t t0 = seg_offsets[i], n = seg_offsets[i + 1] - t0;
            if (n > 0)
                conv_seq(o + t0, xr + t0, wc, b, n, K, silu);
        }
    }
}

void conv1d_causal_backward(real *dx, real *dw, real *dbias, const real *dout, const real *x,
                            const real *w, const real *bias, int64_t B, int64_t C, int64_t L,
                            int64_t K, int silu, const int64_t *seg_offsets, int64_t n_segs) {
    // one sequence per row, or the segments of each row
    const int64_t one[2] = {0, L}, *so = seg_offsets ? seg_offsets : one;
    const int64_t ns = seg_offsets ? n_segs : 1;
#pragma omp parallel for schedule(static) if (B * C * L * K >= R_PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        const real *wc = w + c * K; // [K]
        real b = bias ? bias[c] : 0;
        double db = 0;
        if (K == 4) {
            double acc[4] = {0};
            for (int64_t bb = 0; bb < B; bb++) {
                int64_t row = bb * C + c;
                for (int64_t i = 0; i < ns; i++) {
                    const int64_t t0 = so[i], n = so[i + 1] - t0, r0 = row * L + t0;
                    if (n > 0)
                        conv_row_k4_backward(dx ? dx + r0 : NULL, acc, &db, dout + r0, x + r0, wc,
                                             b, n, silu);
                }
            }
            if (dw)
                for (int64_t k = 0; k < 4; k++)
                    dw[c * K + k] += (real)acc[k];
            if (dbias)
                dbias[c] += (real)db;
            continue;
        }
        // Pass j accumulates taps [k0, k0+TAP_BLOCK) of dw; the first pass
        // also does dx and dbias. dpre is recomputed in each pass (K mults).
        for (int64_t k0 = 0; k0 < K; k0 += TAP_BLOCK) {
            int64_t k1 = k0 + TAP_BLOCK < K ? k0 + TAP_BLOCK : K;
            int first = k0 == 0;
            if (!first && !dw)
                break;
            double acc[TAP_BLOCK] = {0};
            for (int64_t q = 0; q < B * ns; q++) { // each sequence of each row, in order
                const int64_t row = (q / ns) * C + c, t0 = so[q % ns], n = so[q % ns + 1] - t0;
                const real *xr = x + row * L + t0;    // [n]
                const real *dor = dout + row * L + t0; // [n]
                real *dxr = dx ? dx + row * L + t0 : NULL;
                for (int64_t t = 0; t < n; t++) {
                    real dp = dor[t];
                    if (silu)
                        dp *= r_silu_grad(conv_pre(xr, wc, b, t, K));
                    int64_t kmin = (K - 1) - t > 0 ? (K - 1) - t : 0; // first tap inside x
                    if (first) {
                        db += dp;
                        // scatter: x[t-(K-1)+k] fed pre[t] through w[k]
                        if (dxr)
                            for (int64_t k = kmin; k < K; k++)
                                dxr[t - (K - 1) + k] += wc[k] * dp;
                    }
                    if (dw)
                        for (int64_t k = kmin > k0 ? kmin : k0; k < k1; k++)
                            acc[k - k0] += (double)dp * xr[t - (K - 1) + k];
                }
            }
            if (dw)
                for (int64_t k = k0; k < k1; k++)
                    dw[c * K + k] += (real)acc[k - k0];
        }
        if (dbias)
            dbias[c] += (real)db;
    }
}
