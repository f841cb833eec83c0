// defines (private to kernels/scan_backward.c, which includes it twice):
//          selective_scan_backward (SCAN_PACKED 0), backward_packed (SCAN_PACKED 1)
// The body of the CPU scan backward (the algorithm: kernels/scan_backward.c).
// SCAN_PACKED 0 gives the public function, whose code for unpacked rows is the
// code of unpacked rows before packed rows existed, line for line (it only
// hands packed rows to the other instance first): gcc 12 makes the same
// instructions of it, up to the order of a few and the registers and stack
// slots they use (docs/kernels.md, "Packed sequences"). SCAN_PACKED 1 gives the
// instance for packed rows (scan_shape.seg_offsets), which differs where marked
// by `#if SCAN_PACKED`: the segment starts of each chunk, a chunk holding one
// recomputed by recompute_packed, and that function's scratch.
//
// Each instance has its own copies of the two helpers that carry the hot loops
// (defined as BWD_RECOMPUTE_DEF, BWD_REVERSE_DEF; called as BWD_RECOMPUTE,
// BWD_REVERSE). The unpacked instance's keep their names (bwd_recompute,
// bwd_reverse) and their callers, so the compiler inlines and specializes them
// as it did before packed rows existed. The packed instance calls its copies
// only through noipa entry points (never inlined into a caller or cloned),
// which pick the constant arguments of the common cases, and its copies are
// no_icf (never merged with the unpacked ones, which would give those more
// callers and change how they are inlined).
#if SCAN_PACKED
#define BWD_RECOMPUTE_DEF bwd_recompute_packed
#define BWD_REVERSE_DEF bwd_reverse_packed
#define BWD_RECOMPUTE bwd_recompute_packed_call
#define BWD_REVERSE bwd_reverse_packed_call
#define BWD_HELPER static inline __attribute__((no_icf)) void
#else
#define BWD_RECOMPUTE_DEF bwd_recompute
#define BWD_REVERSE_DEF bwd_reverse
#define BWD_RECOMPUTE bwd_recompute
#define BWD_REVERSE bwd_reverse
#define BWD_HELPER static inline void
#endif

// Recompute of one lane block over a chunk for the states [g0, g0 + ng):
// from h before the chunk (hb[0]), stores a = exp(dt*A) (ab) and h after each
// step (hb[i + 1]), with A2 = A*log2(e); with_y: yt += C.h (the gate needs y), else dCv += dy h
// (dy known). Bc, Cc: B and C rows at the chunk start ([N, L] layout).
BWD_HELPER BWD_RECOMPUTE_DEF(real *restrict ab, real *restrict hb, real *restrict yt,
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

#if SCAN_PACKED
// The packed instance's entry points to bwd_recompute_packed (see above).
static __attribute__((noipa)) void bwd_recompute_packed_call(
    real *ab, real *hb, real *yt, real *dCv, const real *dt, const real *ut, const real *dy,
    const real *A2, const real *Bc, const real *Cc, int64_t L, int64_t N, int64_t g0, int64_t ng,
    int64_t tl, int with_y) {
    if (ng == SCAN_NG && with_y)
        bwd_recompute_packed(ab, hb, yt, dCv, dt, ut, dy, A2, Bc, Cc, L, N, g0, SCAN_NG, tl, 1);
    else if (ng == SCAN_NG)
        bwd_recompute_packed(ab, hb, yt, dCv, dt, ut, dy, A2, Bc, Cc, L, N, g0, SCAN_NG, tl, 0);
    else
        bwd_recompute_packed(ab, hb, yt, dCv, dt, ut, dy, A2, Bc, Cc, L, N, g0, ng, tl, with_y);
}
#endif

#if SCAN_PACKED
// The recompute of one lane block over a chunk that holds the segment starts
// so[sa..sb) (packed rows; bwd_recompute's arguments at the chunk start): one
// run per piece, h from 0 at each start (hb[start] is zeroed for the run, then
// gets back h after the step before, which the gate's dC reads); then
// a = exp(dt*A) is set to 0 at each start, so the reverse sweep gets no dA
// term there (h before is 0) and passes dh = 0 on to the previous segment.
static __attribute__((noipa)) void recompute_packed(
    real *ab, real *hb, real *yt, real *dCv, real *hsave, const real *dt, const real *ut,
    const real *dot, const real *A2, const real *Bg, const real *Cg, int with_z,
    const int64_t *so, int64_t sa, int64_t sb, int64_t t0, int64_t tl, int64_t L, int64_t N) {
    enum { W = SCAN_W };
    for (int64_t q = sa - 1; q < sb; q++) {
        const int64_t i0 = q < sa ? 0 : so[q] - t0;
        const int64_t i1 = q + 1 < sb ? so[q + 1] - t0 : tl;
        if (i1 <= i0)
            continue;
        real *hp = hb + i0 * N * W, *ap = ab + i0 * N * W, *cp = dCv + i0 * N * W;
        if (q >= sa) {
            memcpy(hsave, hp, sizeof(real) * (size_t)(N * W));
            memset(hp, 0, sizeof(real) * (size_t)(N * W));
        }
        const real *dp = dt + i0 * W, *up = ut + i0 * W, *op = dot + i0 * W;
        const real *Bp = Bg + t0 + i0, *Cp = Cg + t0 + i0;
        for (int64_t g0 = 0; g0 < N; g0 += SCAN_NG)
            BWD_RECOMPUTE(ap, hp, with_z ? yt + i0 * W : NULL, with_z ? NULL : cp, dp, up,
                          with_z ? NULL : op, A2, Bp, Cp, L, N, g0, min64(SCAN_NG, N - g0), i1 - i0,
                          with_z);
        if (q >= sa)
            memcpy(hp, hsave, sizeof(real) * (size_t)(N * W));
    }
    for (int64_t q = sa; q < sb; q++)
        memset(ab + (so[q] - t0) * N * W, 0, sizeof(real) * (size_t)(N * W));
}

#endif

// Reverse sweep of one lane block over a chunk for the states [g0, g0 + ng):
// carries dh and dA (dh_io, dA_io: [N, W], in and out), adds dB of each step
// into dBv and the step's sums over these states of gh*B and ga*A into sBt,
// sAt (first group: stores them).
BWD_HELPER BWD_REVERSE_DEF(real *restrict dBv, real *restrict sBt, real *restrict sAt,
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

#if SCAN_PACKED
// The packed instance's entry point to bwd_reverse_packed (see above).
static __attribute__((noipa)) void bwd_reverse_packed_call(
    real *dBv, real *sBt, real *sAt, real *dh_io, real *dA_io, const real *ab, const real *hb,
    const real *dt, const real *ut, const real *dy, const real *At, const real *Bc, const real *Cc,
    int64_t L, int64_t N, int64_t g0, int64_t ng, int64_t tl, int first) {
    if (ng == SCAN_NG)
        bwd_reverse_packed(dBv, sBt, sAt, dh_io, dA_io, ab, hb, dt, ut, dy, At, Bc, Cc, L, N, g0,
                           SCAN_NG, tl, first);
    else
        bwd_reverse_packed(dBv, sBt, sAt, dh_io, dA_io, ab, hb, dt, ut, dy, At, Bc, Cc, L, N, g0, ng,
                           tl, first);
}
#endif

#if SCAN_PACKED
static __attribute__((noipa)) void backward_packed(
#else
void selective_scan_backward(
#endif
    real *du, real *ddelta, real *dA, real *dBm, real *dCm, real *dDskip, real *dz,
    real *ddelta_bias, const real *dout, const real *chunk_states, const real *u,
    const real *delta, const real *A, const real *Bm, const real *Cm, const real *Dskip,
    const real *z, const real *delta_bias, real *workspace, const scan_shape *s) {
#if !SCAN_PACKED
    if (s->seg_offsets) {
        backward_packed(du, ddelta, dA, dBm, dCm, dDskip, dz, ddelta_bias, dout, chunk_states, u,
                        delta, A, Bm, Cm, Dskip, z, delta_bias, workspace, s);
        return;
    }
#endif
    enum { W = SCAN_W };
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, chunk = s->chunk;
    const int64_t Dg = D / G, nc = scan_n_chunks(s);
#if SCAN_PACKED
    const int64_t *so = s->seg_offsets; // [n_segs + 1]
#endif
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
#if SCAN_PACKED
        real *restrict hsave = dbs + round_up((size_t)(p.nlb * W));   // [N, W]
#endif

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
#if SCAN_PACKED
                // the segment starts in [t0, t0 + tl) are so[sa..sb)
                const int64_t sa = first_at_or_after(so, s->n_segs, t0);
                const int64_t sb = first_at_or_after(so, s->n_segs, t0 + tl);
#endif
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
#if SCAN_PACKED
                    if (sa < sb)
                        recompute_packed(ab, hb, yt, dCv, hsave, dt, ut, dot, A2, Bg, Cg, z != NULL,
                                         so, sa, sb, t0, tl, L, N);
                    else
#endif
                    for (int64_t g0 = 0; g0 < N; g0 += SCAN_NG) {
                        const int64_t ng = min64(SCAN_NG, N - g0);
                        if (ng == SCAN_NG && z)
                            BWD_RECOMPUTE(ab, hb, yt, NULL, dt, ut, NULL, A2, Bg + t0, Cg + t0, L, N, g0, SCAN_NG, tl, 1);
                        else if (ng == SCAN_NG)
                            BWD_RECOMPUTE(ab, hb, NULL, dCv, dt, ut, dot, A2, Bg + t0, Cg + t0, L, N, g0, SCAN_NG, tl, 0);
                        else
                            BWD_RECOMPUTE(ab, hb, z ? yt : NULL, z ? NULL : dCv, dt, ut, z ? NULL : dot, A2,
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
                            BWD_REVERSE(dBv, sBt, sAt, dh, dAacc, ab, hb, dt, ut, dy, At, Bg + t0,
                                        Cg + t0, L, N, g0, SCAN_NG, tl, g0 == 0);
                        else
                            BWD_REVERSE(dBv, sBt, sAt, dh, dAacc, ab, hb, dt, ut, dy, At, Bg + t0,
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

#undef BWD_RECOMPUTE
#undef BWD_REVERSE
#undef BWD_RECOMPUTE_DEF
#undef BWD_REVERSE_DEF
#undef BWD_HELPER
