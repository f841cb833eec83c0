// defines: selective_scan_forward, selective_scan_backward,
//          selective_scan_chunk_states_size, selective_scan_workspace_size
// CPU reference of the selective scan (semantics in kernels/scan.h).
//
// Layout of the work. B and C are [.., N, L] (time innermost) but the
// recurrence runs along time with the state index n innermost, so each worker
// transposes the time tile of B and C it needs into [tile, N] buffers and
// reuses them for a block of channels of the same group: the transpose is paid
// once per block, not once per channel, and every inner loop runs over n with
// unit stride (it vectorizes; exp is a local polynomial so it vectorizes too).
//
// Backward: the work item is (batch b, group g, block k of the group's
// channels). For each chunk, last to first, it recomputes the chunk's hidden
// states and exp(dt*A) from the chunk checkpoint, then sweeps the chunk in
// reverse carrying dh. dB and dC of the chunk are summed over the block's
// channels in a per-thread tile; blocks of one (b, g) write their tiles to
// separate partial buffers that are summed in block order at the end, and dA,
// dD, ddelta_bias are kept per (b, d) and summed over b in order: no atomics,
// and the result depends on the thread count only through the number of
// blocks (same thread count -> same bits).
#include "kernels/scan.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define SCAN_TILE_ELEMS 4096 // reals in one transposed B (or C) tile of the forward
#define SCAN_FWD_BLOCK 8     // channels that share one transposed tile in the forward
#define SCAN_ALIGN 16        // workspace sub-buffers start on multiples of 16 reals
#define SOFTPLUS_LINEAR 20   // softplus(x) = x above this, as torch and mamba_ssm do

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static inline size_t round_up(size_t n) { return (n + SCAN_ALIGN - 1) / SCAN_ALIGN * SCAN_ALIGN; }

// exp without a libm call, so that loops over n vectorize. In the double build
// (gradient checks) libm's exp is used: accuracy matters more there than speed.
#if REAL_IS_DOUBLE
static inline real scan_exp(real x) { return exp(x); }
#else
typedef union {
    float f;
    uint32_t u;
} f32_bits;
// exp(x) = 2^k * exp(r), k = round(x / ln2), |r| <= ln2/2; exp(r) by its
// degree-7 Taylor polynomial (truncation < 1e-8 relative, below float
// rounding). Arguments below -87 give 0 (exp is < 2e-38 there); above 88 are
// clamped (only sigmoid of a huge negative sees that, and it still gives ~0).
// NaN propagates.
static inline float scan_exp(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    f32_bits t;
    t.f = xc * 1.44269504f + 12582912.0f; // 1.5 * 2^23: round to integer in the low bits
    float k = t.f - 12582912.0f;
    uint32_t kb = t.u - 0x4B400000u; // k, two's complement
    float r = (xc - k * 0.693145751953125f) - k * 1.428606765330187e-06f; // Cody-Waite ln2
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    f32_bits s;
    s.u = (kb + 127u) << 23;
    float e = p * s.f;
    return x < -87.0f ? 0.0f : e;
}
#endif

static inline real scan_sigmoid(real x) { return 1 / (1 + scan_exp(-x)); }

#if REAL_IS_DOUBLE
static inline real scan_log1p(real x) { return log1p(x); }
#else
static inline real scan_log1p(real x) { return log1pf(x); }
#endif

// dt[i] = softplus?(delta[i] + bias) and sp[i] = d dt / d delta, for n steps.
static void scan_dt(real *dt, real *sp, const real *delta, real bias, int64_t n, int softplus) {
    if (!softplus) {
        for (int64_t i = 0; i < n; i++) {
            dt[i] = delta[i] + bias;
            if (sp)
                sp[i] = 1;
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        real x = delta[i] + bias;
        // softplus(x) = max(x, 0) + log1p(exp(-|x|)) keeps full relative
        // precision for very negative x, where log(1 + exp(x)) rounds to 0.
        real e = scan_exp(-fabs(x));
        dt[i] = x > SOFTPLUS_LINEAR ? x : (x > 0 ? x : 0) + scan_log1p(e);
        if (sp) // sigmoid(x) from the same e: e/(1+e) or 1/(1+e)
            sp[i] = x > SOFTPLUS_LINEAR ? 1 : (x > 0 ? 1 / (1 + e) : e / (1 + e));
    }
}

// dst[i*N + n] = src[n*L + i] for i < tl: a [N, tl] slice of a [N, L] row
// into a [tl, N] tile.
static void transpose_tile(real *dst, const real *src, int64_t N, int64_t L, int64_t tl) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < tl; i++)
            dst[i * N + n] = src[n * L + i];
}

size_t selective_scan_chunk_states_size(const scan_shape *s) {
    return (size_t)s->B * (size_t)s->D * (size_t)scan_n_chunks(s) * (size_t)s->N;
}

// ---------------------------------------------------------------- forward

void selective_scan_forward(real *out, real *last_state, real *chunk_states, const real *u,
                            const real *delta, const real *A, const real *Bm, const real *Cm,
                            const real *Dskip, const real *z, const real *delta_bias,
                            const scan_shape *s) {
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, chunk = s->chunk;
    const int64_t Dg = D / G, nc = scan_n_chunks(s);
    const int64_t nblk = (Dg + SCAN_FWD_BLOCK - 1) / SCAN_FWD_BLOCK;
    const int64_t T = max64(1, min64(SCAN_TILE_ELEMS / N, chunk)); // tile steps
    const int64_t items = B * G * nblk;

#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t item = 0; item < items; item++) {
        const int64_t b = item / (G * nblk), g = (item / nblk) % G, k = item % nblk;
        const int64_t d0 = g * Dg + k * SCAN_FWD_BLOCK, d1 = min64(d0 + SCAN_FWD_BLOCK, (g + 1) * Dg);
        const real *Bg = Bm + (b * G + g) * N * L, *Cg = Cm + (b * G + g) * N * L;
        real h[SCAN_FWD_BLOCK * N]; // [block, N] running state of each channel
        real Bt[T * N], Ct[T * N];  // [T, N] transposed tiles
        real dt[T];                 // [T]
        memset(h, 0, sizeof(real) * (size_t)((d1 - d0) * N));

        for (int64_t t0 = 0; t0 < L;) {
            // tiles never straddle a chunk boundary, so checkpoints fall on tile starts
            const int64_t tl = min64(min64(T, L - t0), chunk - t0 % chunk);
            transpose_tile(Bt, Bg + t0, N, L, tl);
            transpose_tile(Ct, Cg + t0, N, L, tl);
            for (int64_t d = d0; d < d1; d++) {
                real *hd = h + (d - d0) * N;
                const real *Ad = A + d * N;
                const int64_t row = (b * D + d) * L + t0;
                if (chunk_states && t0 % chunk == 0)
                    memcpy(chunk_states + ((b * D + d) * nc + t0 / chunk) * N, hd,
                           sizeof(real) * (size_t)N);
                scan_dt(dt, NULL, delta + row, delta_bias ? delta_bias[d] : 0, tl,
                        s->delta_softplus);
                const real Dd = Dskip ? Dskip[d] : 0;
                for (int64_t i = 0; i < tl; i++) {
                    const real dti = dt[i], ui = u[row + i], dtu = dti * ui;
                    const real *Bi = Bt + i * N, *Ci = Ct + i * N;
                    real y = 0;
#pragma omp simd reduction(+ : y)
                    for (int64_t n = 0; n < N; n++) {
                        real hn = scan_exp(dti * Ad[n]) * hd[n] + dtu * Bi[n];
                        hd[n] = hn;
                        y += Ci[n] * hn;
                    }
                    out[row + i] = y + Dd * ui;
                }
                if (z) {
                    const real *zr = z + row;
                    real *o = out + row;
#pragma omp simd
                    for (int64_t i = 0; i < tl; i++)
                        o[i] = o[i] * zr[i] / (1 + scan_exp(-zr[i]));
                }
            }
            t0 += tl;
        }
        if (last_state)
            for (int64_t d = d0; d < d1; d++)
                memcpy(last_state + (b * D + d) * N, h + (d - d0) * N, sizeof(real) * (size_t)N);
    }
}

// ---------------------------------------------------------------- backward

// How the backward splits the work and carves the workspace. A function of
// the shape and the thread count only, shared by the size query and the
// backward so the two cannot disagree.
typedef struct {
    int64_t K;          // channel blocks per group (work items = B * G * K)
    int64_t blk;        // channels per block (the last may have fewer)
    int64_t cl;         // longest chunk: min(chunk, L)
    size_t per_thread;  // reals of scratch per thread
    size_t off_dA;      // [B, D, N] per-(b, d) partial dA
    size_t off_dD;      // [B, D] per-(b, d) partial dD
    size_t off_dbias;   // [B, D] per-(b, d) partial ddelta_bias
    size_t off_dB;      // [B, G, K, L, N] per-block partial dB (only when K > 1)
    size_t off_dC;      // [B, G, K, L, N] per-block partial dC (only when K > 1)
    size_t off_threads; // n_threads * per_thread
    size_t total;
} bwd_plan;

static bwd_plan plan_backward(const scan_shape *s, int n_threads) {
    bwd_plan p;
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, Dg = D / G;
    if (n_threads < 1)
        n_threads = 1;
    // ~4 work items per thread for load balance, no more blocks than needed:
    // each extra block costs a [L, N] partial for dB and for dC.
    int64_t want = 4 * (int64_t)n_threads, have = B * G;
    p.K = have >= want ? 1 : min64(Dg, (want + have - 1) / have);
    p.blk = (Dg + p.K - 1) / p.K;
    p.K = (Dg + p.blk - 1) / p.blk; // no empty blocks
    p.cl = min64(s->chunk, L);
    const size_t tileN = round_up((size_t)(p.cl * N));
    p.per_thread = 5 * tileN                          // Bt, Ct, dBt, dCt, exp(dt*A): [cl, N]
                   + round_up((size_t)((p.cl + 1) * N)) // h before and after each step
                   + 3 * round_up((size_t)p.cl)       // dt, dsoftplus, dy: [cl]
                   + round_up((size_t)(p.blk * N));   // dh carried per channel: [blk, N]
    size_t off = 0;
    p.off_dA = off;
    off += round_up((size_t)(B * D * N));
    p.off_dD = off;
    off += round_up((size_t)(B * D));
    p.off_dbias = off;
    off += round_up((size_t)(B * D));
    const size_t part = p.K > 1 ? round_up((size_t)(B * G * p.K * L * N)) : 0;
    p.off_dB = off;
    off += part;
    p.off_dC = off;
    off += part;
    p.off_threads = off;
    off += (size_t)n_threads * p.per_thread;
    p.total = off;
    return p;
}

size_t selective_scan_workspace_size(const scan_shape *s, int n_threads) {
    return plan_backward(s, n_threads).total;
}

// Adds a [tl, N] tile into a [N, L] row at t0 (the transpose of transpose_tile).
static void add_tile_transposed(real *dst, const real *tile, int64_t N, int64_t L, int64_t t0,
                                int64_t tl) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < tl; i++)
            dst[n * L + t0 + i] += tile[i * N + n];
}

void selective_scan_backward(real *du, real *ddelta, real *dA, real *dBm, real *dCm, real *dDskip,
                             real *dz, real *ddelta_bias, const real *dout,
                             const real *chunk_states, const real *u, const real *delta,
                             const real *A, const real *Bm, const real *Cm, const real *Dskip,
                             const real *z, const real *delta_bias, real *workspace,
                             const scan_shape *s) {
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, chunk = s->chunk;
    const int64_t Dg = D / G, nc = scan_n_chunks(s);
    const int n_threads = omp_get_max_threads();
    const bwd_plan p = plan_backward(s, n_threads);
    const int64_t K = p.K, cl = p.cl, items = B * G * K;
    const size_t tileN = round_up((size_t)(cl * N));
    real *part_dA = workspace + p.off_dA, *part_dD = workspace + p.off_dD;
    real *part_dbias = workspace + p.off_dbias;
    real *part_dB = workspace + p.off_dB, *part_dC = workspace + p.off_dC;

#pragma omp parallel num_threads(n_threads)
    {
        real *w = workspace + p.off_threads + (size_t)omp_get_thread_num() * p.per_thread;
        real *Bt = w, *Ct = Bt + tileN, *dBt = Ct + tileN, *dCt = dBt + tileN, *ab = dCt + tileN;
        real *hb = ab + tileN;                       // [cl + 1, N]: hb[i] = h before step i
        real *dt = hb + round_up((size_t)((cl + 1) * N)); // [cl]
        real *sp = dt + round_up((size_t)cl);          // [cl]
        real *dy = sp + round_up((size_t)cl);          // [cl]
        real *dhs = dy + round_up((size_t)cl);         // [blk, N]

#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < items; item++) {
            const int64_t b = item / (G * K), g = (item / K) % G, k = item % K;
            const int64_t d0 = g * Dg + k * p.blk, d1 = min64(d0 + p.blk, (g + 1) * Dg);
            const real *Bg = Bm + (b * G + g) * N * L, *Cg = Cm + (b * G + g) * N * L;
            memset(dhs, 0, sizeof(real) * (size_t)((d1 - d0) * N));
            for (int64_t d = d0; d < d1; d++) {
                memset(part_dA + (b * D + d) * N, 0, sizeof(real) * (size_t)N);
                part_dD[b * D + d] = 0;
                part_dbias[b * D + d] = 0;
            }
            for (int64_t c = nc - 1; c >= 0; c--) {
                const int64_t t0 = c * chunk, tl = min64(chunk, L - t0);
                transpose_tile(Bt, Bg + t0, N, L, tl);
                transpose_tile(Ct, Cg + t0, N, L, tl);
                memset(dBt, 0, sizeof(real) * (size_t)(tl * N));
                memset(dCt, 0, sizeof(real) * (size_t)(tl * N));
                for (int64_t d = d0; d < d1; d++) {
                    const int64_t row = (b * D + d) * L + t0;
                    const real *Ad = A + d * N, Dd = Dskip ? Dskip[d] : 0;
                    real *dh = dhs + (d - d0) * N, *dAacc = part_dA + (b * D + d) * N;
                    scan_dt(dt, sp, delta + row, delta_bias ? delta_bias[d] : 0, tl,
                            s->delta_softplus);

                    // recompute h (and exp(dt*A), y) over the chunk from its checkpoint
                    memcpy(hb, chunk_states + ((b * D + d) * nc + c) * N, sizeof(real) * (size_t)N);
                    for (int64_t i = 0; i < tl; i++) {
                        const real dti = dt[i], dtu = dti * u[row + i];
                        const real *Bi = Bt + i * N, *Ci = Ct + i * N, *hp = hb + i * N;
                        real *ai = ab + i * N, *hn = hb + (i + 1) * N;
                        real y = 0;
#pragma omp simd reduction(+ : y)
                        for (int64_t n = 0; n < N; n++) {
                            real a = scan_exp(dti * Ad[n]);
                            ai[n] = a;
                            hn[n] = a * hp[n] + dtu * Bi[n];
                            y += Ci[n] * hn[n];
                        }
                        dy[i] = y + Dd * u[row + i]; // y for now; becomes dy below
                    }

                    // out = y * silu(z): dy = dout * silu(z), dz = dout * y * silu'(z)
                    if (z) {
                        const real *zr = z + row, *go = dout + row;
                        real *dzr = dz ? dz + row : NULL;
                        for (int64_t i = 0; i < tl; i++) {
                            const real sg = scan_sigmoid(zr[i]), y = dy[i];
                            if (dzr)
                                dzr[i] += go[i] * y * sg * (1 + zr[i] * (1 - sg));
                            dy[i] = go[i] * zr[i] * sg;
                        }
                    } else {
                        memcpy(dy, dout + row, sizeof(real) * (size_t)tl);
                    }

                    // reverse sweep; dh enters holding dL/dh after the chunk's last step
                    real dDacc = 0, dbacc = 0;
                    for (int64_t i = tl - 1; i >= 0; i--) {
                        const real dti = dt[i], ui = u[row + i], dtu = dti * ui, dyi = dy[i];
                        const real *Bi = Bt + i * N, *Ci = Ct + i * N, *ai = ab + i * N;
                        const real *hp = hb + i * N, *hn = hb + (i + 1) * N;
                        real *dBi = dBt + i * N, *dCi = dCt + i * N;
                        real sumB = 0, sumA = 0;
#pragma omp simd reduction(+ : sumB, sumA)
                        for (int64_t n = 0; n < N; n++) {
                            const real g_h = dh[n] + dyi * Ci[n]; // dL/dh_t
                            dCi[n] += dyi * hn[n];
                            dBi[n] += g_h * dtu;
                            sumB += g_h * Bi[n];
                            const real ga = g_h * hp[n] * ai[n]; // dL/d(dt*A[n]) at step t
                            dAacc[n] += ga * dti;
                            sumA += ga * Ad[n];
                            dh[n] = g_h * ai[n];
                        }
                        dDacc += dyi * ui;
                        du[row + i] += dyi * Dd + dti * sumB;
                        const real gx = (ui * sumB + sumA) * sp[i]; // dL/d(delta + bias)
                        ddelta[row + i] += gx;
                        dbacc += gx;
                    }
                    part_dD[b * D + d] += dDacc;
                    part_dbias[b * D + d] += dbacc;
                }
                if (K == 1) { // the block is the whole group: add straight into dB, dC
                    if (dBm)
                        add_tile_transposed(dBm + (b * G + g) * N * L, dBt, N, L, t0, tl);
                    if (dCm)
                        add_tile_transposed(dCm + (b * G + g) * N * L, dCt, N, L, t0, tl);
                } else {
                    const size_t o = ((size_t)((b * G + g) * K + k) * L + t0) * N;
                    memcpy(part_dB + o, dBt, sizeof(real) * (size_t)(tl * N));
                    memcpy(part_dC + o, dCt, sizeof(real) * (size_t)(tl * N));
                }
            }
        }
        // implicit barrier: every partial is written

        // dA, dD, ddelta_bias: sum over the batch in order b = 0..B-1
#pragma omp for schedule(static)
        for (int64_t d = 0; d < D; d++) {
            if (dA)
                for (int64_t b = 0; b < B; b++)
                    for (int64_t n = 0; n < N; n++)
                        dA[d * N + n] += part_dA[(b * D + d) * N + n];
            if (dDskip)
                for (int64_t b = 0; b < B; b++)
                    dDskip[d] += part_dD[b * D + d];
            if (ddelta_bias)
                for (int64_t b = 0; b < B; b++)
                    ddelta_bias[d] += part_dbias[b * D + d];
        }

        // dB, dC: sum the blocks' [L, N] partials in order k = 0..K-1, per (b, g, n) row
        if (K > 1) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < B * G * N; r++) {
                const int64_t bg = r / N, n = r % N;
                for (int pass = 0; pass < 2; pass++) {
                    real *dst = pass == 0 ? dBm : dCm;
                    const real *part = pass == 0 ? part_dB : part_dC;
                    if (!dst)
                        continue;
                    dst += r * L;
                    for (int64_t t = 0; t < L; t++) {
                        real acc = 0;
                        for (int64_t kk = 0; kk < K; kk++)
                            acc += part[((size_t)(bg * K + kk) * L + t) * N + n];
                        dst[t] += acc;
                    }
                }
            }
        }
    }
}
