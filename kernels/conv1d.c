// defines: conv1d_causal_forward, conv1d_causal_backward (see conv1d.h)
// One thread owns whole channels: rows (b, c) are independent in the forward;
// in the backward the channel is the unit so that dw[c,:] and dbias[c] are
// summed over (b, t) in one fixed order by one thread, with no scratch and no
// atomics (bitwise the same for any thread count).
#include "kernels/conv1d.h"

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

void conv1d_causal_forward(real *out, const real *x, const real *w, const real *bias, int64_t B,
                           int64_t C, int64_t L, int64_t K, int silu) {
#pragma omp parallel for schedule(static) if (B * C * L * K >= R_PAR_MIN)
    for (int64_t row = 0; row < B * C; row++) {
        int64_t c = row % C;
        const real *xr = x + row * L;  // [L]
        const real *wc = w + c * K;    // [K]
        real *o = out + row * L;       // [L]
        real b = bias ? bias[c] : 0;
        for (int64_t t = 0; t < L; t++) {
            real p = conv_pre(xr, wc, b, t, K);
            o[t] = silu ? r_silu(p) : p;
        }
    }
}

void conv1d_causal_backward(real *dx, real *dw, real *dbias, const real *dout, const real *x,
                            const real *w, const real *bias, int64_t B, int64_t C, int64_t L,
                            int64_t K, int silu) {
#pragma omp parallel for schedule(static) if (B * C * L * K >= R_PAR_MIN)
    for (int64_t c = 0; c < C; c++) {
        const real *wc = w + c * K; // [K]
        real b = bias ? bias[c] : 0;
        double db = 0;
        // Pass j accumulates taps [k0, k0+TAP_BLOCK) of dw; the first pass
        // also does dx and dbias. dpre is recomputed in each pass (K mults).
        for (int64_t k0 = 0; k0 < K; k0 += TAP_BLOCK) {
            int64_t k1 = k0 + TAP_BLOCK < K ? k0 + TAP_BLOCK : K;
            int first = k0 == 0;
            if (!first && !dw)
                break;
            double acc[TAP_BLOCK] = {0};
            for (int64_t bb = 0; bb < B; bb++) {
                int64_t row = bb * C + c;
                const real *xr = x + row * L;    // [L]
                const real *dor = dout + row * L; // [L]
                real *dxr = dx ? dx + row * L : NULL;
                for (int64_t t = 0; t < L; t++) {
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
