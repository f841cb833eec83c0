// defines: selective_scan_backward, selective_scan_variant_workspace_size
// CPU reference of the selective scan, backward (semantics in kernels/scan.h).
//
// The work item is (batch b, group g, block k of the group's channels). For
// each chunk from last to first, and each lane block of the item, it
// recomputes the chunk's states and exp(dt*A) from the chunk checkpoint, then
// sweeps the chunk in reverse carrying dh (kept per lane block across chunks).
// States go in register groups of SCAN_NG (h, dh, dA live in registers). dB
// and dC of the chunk are summed over the item's lane blocks as vectors, then
// over the lanes once per chunk, and added to dB/dC directly when the item is
// the whole group (K = 1), else to the item's own [L, N] partial buffer;
// partials are summed in block order at the end. dA, dD, ddelta_bias are kept
// per (b, d) and summed over b in order. No atomics; the result depends on
// the thread count only through K (same thread count and CPU variant -> same
// bits).
#include "kernels/scan.h"

#include <omp.h>
#include <string.h>

#include "kernels/scan_tiles.h"

// How the backward splits the work and carves the workspace. A function of
// the shape and the thread count only, shared by the size query and the
// backward so the two cannot disagree.
typedef struct {
    int64_t K;          // channel blocks per group (work items = B * G * K)
    int64_t blk;        // channels per block, a multiple of SCAN_W (the last may have fewer)
    int64_t nlb;        // lane blocks per channel block: blk / SCAN_W
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
    const int64_t W = SCAN_W;
    bwd_plan p;
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, Dg = D / G;
    if (n_threads < 1)
        n_threads = 1;
    // ~4 work items per thread for load balance, no more blocks than needed:
    // each extra block costs a [L, N] partial for dB and for dC.
    // One thread has nothing to balance: one block per group, no partials.
    const int64_t want = n_threads > 1 ? 4 * (int64_t)n_threads : 1, have = B * G;
    const int64_t nwb = (Dg + W - 1) / W;
    const int64_t K0 = have >= want ? 1 : min64(nwb, (want + have - 1) / have);
    p.nlb = (nwb + K0 - 1) / K0;
    p.blk = p.nlb * W;
    p.K = (Dg + p.blk - 1) / p.blk; // no empty blocks
    p.cl = min64(s->chunk, L);
    const size_t cNW = round_up((size_t)(p.cl * N * W)), cW = round_up((size_t)(p.cl * W));
    const size_t NW = round_up((size_t)(N * W));
    p.per_thread = 3 * cNW                                 // exp(dt*A), dB, dC: [cl, N, W]
                   + round_up((size_t)((p.cl + 1) * N * W)) // h before/after each step
                   + 10 * cW // dt, sp, u, dout, z, y/dy, du, ddelta, sum B, sum A: [cl, W]
                   + 4 * (size_t)p.nlb * NW  // A, A*log2(e), dh, dA per lane block: [nlb, N, W]
                   + 2 * round_up((size_t)(p.nlb * W)); // dD, ddelta_bias: [nlb, W]
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

size_t selective_scan_variant_workspace_size(const scan_shape *s, int n_threads) {
    return plan_backward(s, n_threads).total;
}

// A [tl, N, W] tile summed over its lanes and added into either a [N, L] row
// set (dst_nl, at t0) or a [tl, N] slice (dst_ln).
static void lane_sum_tile(real *dst_nl, real *dst_ln, const real *tile, int64_t N, int64_t L,
                          int64_t t0, int64_t tl) {
    for (int64_t i = 0; i < tl; i++)
        for (int64_t n = 0; n < N; n++) {
            const real acc = v_hsum(v_ld(tile + (i * N + n) * SCAN_W));
            if (dst_nl)
                dst_nl[n * L + t0 + i] += acc;
            else
                dst_ln[i * N + n] += acc;
        }
}

// The pieces of one lane block's rows that the next (lane block, chunk) of
// the backward reads and writes: rows = (b*D + d)*L + t0.
static void prefetch_block(const real *u, const real *delta, const real *dout, const real *z,
                           const real *du, const real *ddelta, const real *dz, int64_t rows,
                           int64_t L, int64_t nw, int64_t tl) {
    prefetch_rows(delta + rows, L, nw, tl, 0);
    prefetch_rows(u + rows, L, nw, tl, 0);
    prefetch_rows(dout + rows, L, nw, tl, 0);
    prefetch_rows(du + rows, L, nw, tl, 1);
    prefetch_rows(ddelta + rows, L, nw, tl, 1);
    if (z)
        prefetch_rows(z + rows, L, nw, tl, 0);
    if (dz)
        prefetch_rows(dz + rows, L, nw, tl, 1);
}


// Recompute of one lane block over a chunk for the states [g0, g0 + ng):
// from h before the chunk (hb[0]), stores a = exp(dt*A) (ab) and h after each
// step (hb[i + 1]), with A2 = A*log2(e); with_y: yt += C.h (the gate needs y), else dCv += dy h
// (dy known). Bc, Cc: B and C rows at the chunk start ([N, L] layout).
static inline void bwd_recompute(real *restrict ab, real *restrict hb, real *restrict yt,
                                 real *restrict dCv, const real *dt, const real *ut,
                                 const real *dy, const real *A2, const real *Bc, const real *Cc,
                                 int64_t L, int64_t N, int64_t g0, const int64_t ng, int64_t tl,
                                 const int with_y) {
    enum { W = SCAN_W };
    vr h[SCAN_NG];
    for (int64_t n = 0; n < ng; n++)
        h[n] = v_ld(hb + (g0 + n) * W);
    for (int64_t i = 0; i < tl; i++) {
        const vr dtv = v_ld(dt + i * W), dtu = v_mul(dtv, v_ld(ut + i * W));
        const vr dyv = with_y ? v_zero() : v_ld(dy + i * W);
        vr y = with_y ? v_ld(yt + i * W) : v_zero();
        const size_t o = (size_t)((i * N + g0) * W);
#pragma GCC unroll 8
        for (int64_t n = 0; n < ng; n++) {
            const vr a = v_exp2(v_mul(dtv, v_ld(A2 + (g0 + n) * W)));
            h[n] = v_fma(a, h[n], v_mul(dtu, v_set1(Bc[(g0 + n) * L + i])));
            v_st(ab + o + n * W, a);
            v_st(hb + o + (N + n) * W, h[n]);
            if (with_y)
                y = v_fma(v_set1(Cc[(g0 + n) * L + i]), h[n], y);
            else
                v_st(dCv + o + n * W, v_fma(dyv, h[n], v_ld(dCv + o + n * W)));
        }
        if (with_y)
            v_st(yt + i * W, y);
    }
}

// Reverse sweep of one lane block over a chunk for the states [g0, g0 + ng):
// carries dh and dA (dh_io, dA_io: [N, W], in and out), adds dB of each step
// into dBv and the step's sums over these states of gh*B and ga*A into sBt,
// sAt (first group: stores them).
static inline void bwd_reverse(real *restrict dBv, real *restrict sBt, real *restrict sAt,
                               real *restrict dh_io, real *restrict dA_io, const real *ab,
                               const real *hb, const real *dt, const real *ut, const real *dy,
                               const real *At, const real *Bc, const real *Cc, int64_t L,
                               int64_t N, int64_t g0, const int64_t ng, int64_t tl, int first) {
    enum { W = SCAN_W };
    vr dh[SCAN_NG], dAv[SCAN_NG];
    for (int64_t n = 0; n < ng; n++) {
        dh[n] = v_ld(dh_io + (g0 + n) * W);
        dAv[n] = v_ld(dA_io + (g0 + n) * W);
    }
    for (int64_t i = tl - 1; i >= 0; i--) {
        const vr dtv = v_ld(dt + i * W), dyv = v_ld(dy + i * W);
        const vr dtu = v_mul(dtv, v_ld(ut + i * W));
        vr sumB = v_zero(), sumA = v_zero();
        const size_t o = (size_t)((i * N + g0) * W);
#pragma GCC unroll 8
        for (int64_t n = 0; n < ng; n++) {
            const vr a = v_ld(ab + o + n * W);
            const vr gh = v_fma(dyv, v_set1(Cc[(g0 + n) * L + i]), dh[n]); // dL/dh_t
            v_st(dBv + o + n * W, v_fma(gh, dtu, v_ld(dBv + o + n * W)));
            sumB = v_fma(gh, v_set1(Bc[(g0 + n) * L + i]), sumB);
            const vr ga = v_mul(v_mul(gh, v_ld(hb + o + n * W)), a); // dL/d(dt*A[n]) at step t
            dAv[n] = v_fma(ga, dtv, dAv[n]);
            sumA = v_fma(ga, v_ld(At + (g0 + n) * W), sumA);
            dh[n] = v_mul(gh, a);
        }
        if (first) {
            v_st(sBt + i * W, sumB);
            v_st(sAt + i * W, sumA);
        } else {
            v_st(sBt + i * W, v_add(v_ld(sBt + i * W), sumB));
            v_st(sAt + i * W, v_add(v_ld(sAt + i * W), sumA));
        }
    }
    for (int64_t n = 0; n < ng; n++) {
        v_st(dh_io + (g0 + n) * W, dh[n]);
        v_st(dA_io + (g0 + n) * W, dAv[n]);
    }
}

void selective_scan_backward(real *du, real *ddelta, real *dA, real *dBm, real *dCm, real *dDskip,
                             real *dz, real *ddelta_bias, const real *dout,
                             const real *chunk_states, const real *u, const real *delta,
                             const real *A, const real *Bm, const real *Cm, const real *Dskip,
                             const real *z, const real *delta_bias, real *workspace,
                             const scan_shape *s) {
    enum { W = SCAN_W };
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, chunk = s->chunk;
    const int64_t Dg = D / G, nc = scan_n_chunks(s);
    const int n_threads = omp_get_max_threads();
    const bwd_plan p = plan_backward(s, n_threads);
    const int64_t K = p.K, cl = p.cl;
    const size_t cNW = round_up((size_t)(cl * N * W)), cW = round_up((size_t)(cl * W));
    const size_t NW = round_up((size_t)(N * W));
    real *part_dA = workspace + p.off_dA, *part_dD = workspace + p.off_dD;
    real *part_dbias = workspace + p.off_dbias;
    real *part_dB = workspace + p.off_dB, *part_dC = workspace + p.off_dC;
    if (!z)
        dz = NULL;

#pragma omp parallel num_threads(n_threads)
    {
        // per-thread scratch, disjoint by construction (hence restrict)
        real *restrict ab = workspace + p.off_threads + (size_t)omp_get_thread_num() * p.per_thread;
        real *restrict dBv = ab + cNW;  // [cl, N, W] exp(dt*A); dB, dC summed over lane blocks
        real *restrict dCv = dBv + cNW; //
        real *restrict hb = dCv + cNW;  // [cl + 1, N, W]: hb[i] = h before step i
        real *restrict dt = hb + round_up((size_t)((cl + 1) * N * W)); // [cl, W] tiles
        real *restrict sp = dt + cW, *restrict ut = sp + cW, *restrict dot = ut + cW;
        real *restrict zt = dot + cW, *restrict yt = zt + cW, *restrict dut = yt + cW;
        real *restrict gxt = dut + cW, *restrict sBt = gxt + cW, *restrict sAt = sBt + cW;
        real *restrict Ats = sAt + cW;                                // [nlb, N, W]
        real *restrict A2s = Ats + p.nlb * NW;                        // [nlb, N, W]
        real *restrict dhs = A2s + p.nlb * NW, *restrict dAs = dhs + p.nlb * NW;
        real *restrict dDs = dAs + p.nlb * NW;                        // [nlb, W]
        real *restrict dbs = dDs + round_up((size_t)(p.nlb * W));     // [nlb, W]

#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < B * G * K; item++) {
            const int64_t b = item / (G * K), g = (item / K) % G, k = item % K, bg = b * G + g;
            const int64_t d0 = g * Dg + k * p.blk, d1 = min64(d0 + p.blk, (g + 1) * Dg);
            const int64_t nlb = (d1 - d0 + W - 1) / W;
            const real *Bg = Bm + bg * N * L, *Cg = Cm + bg * N * L;
            real *pdB = K > 1 ? part_dB + (size_t)(bg * K + k) * L * N : NULL; // [L, N]
            real *pdC = K > 1 ? part_dC + (size_t)(bg * K + k) * L * N : NULL;
            if (K > 1) {
                memset(pdB, 0, sizeof(real) * (size_t)(L * N));
                memset(pdC, 0, sizeof(real) * (size_t)(L * N));
            }
            for (int64_t j = 0; j < nlb; j++) {
                gather_A(Ats + j * NW, A, d0 + j * W, min64(W, d1 - d0 - j * W), N, 1);
                gather_A(A2s + j * NW, A, d0 + j * W, min64(W, d1 - d0 - j * W), N, SCAN_LOG2E);
            }
            memset(dhs, 0, sizeof(real) * (size_t)nlb * NW);
            memset(dAs, 0, sizeof(real) * (size_t)nlb * NW);
            memset(dDs, 0, sizeof(real) * (size_t)(nlb * W));
            memset(dbs, 0, sizeof(real) * (size_t)(nlb * W));
            // chunks outer, lane blocks inner: the chunk's dB and dC are summed
            // over the lane blocks as vectors, and over the lanes once per chunk
            for (int64_t c = nc - 1; c >= 0; c--) {
                const int64_t t0 = c * chunk, tl = min64(chunk, L - t0);
                memset(dBv, 0, sizeof(real) * (size_t)(tl * N * W));
                memset(dCv, 0, sizeof(real) * (size_t)(tl * N * W));
                for (int64_t j = 0; j < nlb; j++) {
                    const int64_t dl = d0 + j * W, nw = min64(W, d1 - dl);
                    const int64_t row = (b * D + dl) * L + t0;
                    const real *At = Ats + j * NW, *A2 = A2s + j * NW;
                    real *dh = dhs + j * NW, *dAacc = dAs + j * NW;
                    if (j + 1 < nlb) // the next lane block, same chunk
                        prefetch_block(u, delta, dout, z, du, ddelta, dz, row + W * L, L,
                                       min64(W, d1 - dl - W), tl);
                    else if (c > 0) // the first lane block of the previous chunk
                        prefetch_block(u, delta, dout, z, du, ddelta, dz,
                                       (b * D + d0) * L + t0 - chunk, L, min64(W, d1 - d0), chunk);
                    real Dv[W];
                    for (int w = 0; w < W; w++)
                        Dv[w] = Dskip && w < nw ? Dskip[dl + w] : 0;
                    gather_rows(dut, delta + row, delta_bias ? delta_bias + dl : NULL, L, nw, tl);
                    scan_dt(dt, sp, dut, tl * W, s->delta_softplus);
                    gather_rows(ut, u + row, NULL, L, nw, tl);
                    gather_rows(dot, dout + row, NULL, L, nw, tl);

                    // recompute h and exp(dt*A) over the chunk from its checkpoint,
                    // SCAN_NG states at a time (their h in registers); with the gate
                    // y too, else dC right away (dy = dout is known)
                    memset(hb, 0, sizeof(real) * (size_t)(N * W));
                    for (int64_t w = 0; w < nw; w++)
                        for (int64_t n = 0; n < N; n++)
                            hb[n * W + w] = chunk_states[((b * D + dl + w) * nc + c) * N + n];
                    const vr Dvv = v_ld(Dv);
                    if (z)
                        for (int64_t i = 0; i < tl; i++)
                            v_st(yt + i * W, v_mul(Dvv, v_ld(ut + i * W)));
                    for (int64_t g0 = 0; g0 < N; g0 += SCAN_NG) {
                        const int64_t ng = min64(SCAN_NG, N - g0);
                        if (ng == SCAN_NG && z)
                            bwd_recompute(ab, hb, yt, NULL, dt, ut, NULL, A2, Bg + t0, Cg + t0, L, N, g0, SCAN_NG, tl, 1);
                        else if (ng == SCAN_NG)
                            bwd_recompute(ab, hb, NULL, dCv, dt, ut, dot, A2, Bg + t0, Cg + t0, L, N, g0, SCAN_NG, tl, 0);
                        else
                            bwd_recompute(ab, hb, z ? yt : NULL, z ? NULL : dCv, dt, ut, z ? NULL : dot, A2,
                                          Bg + t0, Cg + t0, L, N, g0, ng, tl, z != NULL);
                    }

                    // out = y * silu(z): dy = dout * silu(z), dz = dout * y * silu'(z)
                    const real *dy = dot;
                    if (z) {
                        gather_rows(zt, z + row, NULL, L, nw, tl);
                        for (int64_t i = 0; i < tl * W; i++) {
                            const real sg = 1 / (1 + r_fexp(-zt[i]));
                            gxt[i] = dot[i] * yt[i] * sg * (1 + zt[i] * (1 - sg));
                            yt[i] = dot[i] * zt[i] * sg;
                        }
                        if (dz)
                            scatter_rows(dz + row, gxt, L, nw, tl, 1);
                        dy = yt;
                        for (int64_t i = 0; i < tl; i++) { // dC now that dy is known
                            const vr dyv = v_ld(dy + i * W);
                            for (int64_t n = 0; n < N; n++) {
                                const size_t o = (size_t)((i * N + n) * W);
                                v_st(dCv + o, v_fma(dyv, v_ld(hb + o + N * W), v_ld(dCv + o)));
                            }
                        }
                    }

                    // reverse sweep, SCAN_NG states at a time (dh and dA in registers);
                    // the sums over n for du and ddelta are collected in sBt, sAt
                    for (int64_t g0 = 0; g0 < N; g0 += SCAN_NG) {
                        const int64_t ng = min64(SCAN_NG, N - g0);
                        if (ng == SCAN_NG)
                            bwd_reverse(dBv, sBt, sAt, dh, dAacc, ab, hb, dt, ut, dy, At, Bg + t0,
                                        Cg + t0, L, N, g0, SCAN_NG, tl, g0 == 0);
                        else
                            bwd_reverse(dBv, sBt, sAt, dh, dAacc, ab, hb, dt, ut, dy, At, Bg + t0,
                                        Cg + t0, L, N, g0, ng, tl, g0 == 0);
                    }
                    vr dDv = v_ld(dDs + j * W), dbv = v_ld(dbs + j * W);
                    for (int64_t i = tl - 1; i >= 0; i--) {
                        const vr dtv = v_ld(dt + i * W), uv = v_ld(ut + i * W);
                        const vr dyv = v_ld(dy + i * W), sumB = v_ld(sBt + i * W);
                        v_st(dut + i * W, v_fma(dyv, Dvv, v_mul(dtv, sumB)));
                        // dL/d(delta + bias)
                        const vr gx = v_mul(v_fma(uv, sumB, v_ld(sAt + i * W)), v_ld(sp + i * W));
                        v_st(gxt + i * W, gx);
                        dDv = v_fma(dyv, uv, dDv);
                        dbv = v_add(dbv, gx);
                    }
                    v_st(dDs + j * W, dDv);
                    v_st(dbs + j * W, dbv);
                    scatter_rows(du + row, dut, L, nw, tl, 1);
                    scatter_rows(ddelta + row, gxt, L, nw, tl, 1);
                }
                // dB, dC summed over the block's channels; with one block per
                // group (K = 1) no other item touches dB[b, g]: add directly
                if (K == 1) {
                    if (dBm)
                        lane_sum_tile(dBm + bg * N * L, NULL, dBv, N, L, t0, tl);
                    if (dCm)
                        lane_sum_tile(dCm + bg * N * L, NULL, dCv, N, L, t0, tl);
                } else {
                    lane_sum_tile(NULL, pdB + t0 * N, dBv, N, L, t0, tl);
                    lane_sum_tile(NULL, pdC + t0 * N, dCv, N, L, t0, tl);
                }
            }
            for (int64_t d = d0; d < d1; d++) {
                const int64_t j = (d - d0) / W, w = (d - d0) % W;
                for (int64_t n = 0; n < N; n++)
                    part_dA[(b * D + d) * N + n] = dAs[j * NW + n * W + w];
                part_dD[b * D + d] = dDs[j * W + w];
                part_dbias[b * D + d] = dbs[j * W + w];
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
