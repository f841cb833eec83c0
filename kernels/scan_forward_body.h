// defines (private to kernels/scan.c, which includes it twice):
//          selective_scan_forward (SCAN_PACKED 0), forward_packed (SCAN_PACKED 1)
// The body of the CPU scan forward (the algorithm: kernels/scan.c). SCAN_PACKED 0
// gives the public function, whose code for unpacked rows is the code of unpacked
// rows before packed rows existed, line for line (it only hands packed rows to the
// other instance first; gcc 12 makes the same instructions of it). SCAN_PACKED 1
// gives the instance for packed rows (scan_shape.seg_offsets), which differs where
// marked by `#if SCAN_PACKED`: its time tiles also end at every segment start,
// where h is set to 0.
//
// Each instance has its own copy of fwd_group, the hot loop. The packed
// instance's is always inlined (it never exists as a function that could be
// merged with the unpacked one), so the unpacked instance's keeps the callers
// it always had and compiles as before.
#if SCAN_PACKED
#define FWD_GROUP fwd_group_packed
#define FWD_HELPER static inline __attribute__((always_inline)) void
#else
#define FWD_GROUP fwd_group
#define FWD_HELPER static inline void
#endif

// Forward of one lane block over a tile for the states [g0, g0 + ng), their
// h in registers: h_io [N, W] in and out, yt [tl, W] += C.h; A2 = A*log2(e).
// Bc, Cc: B and C rows at the tile start ([N, L] layout).
FWD_HELPER FWD_GROUP(real *restrict h_io, real *restrict yt, const real *dt, const real *ut,
                             const real *A2, const real *Bc, const real *Cc, int64_t L, int64_t g0,
                             const int64_t ng, int64_t tl) {
    enum { W = SCAN_W };
    vr h[SCAN_NG];
    for (int64_t n = 0; n < ng; n++)
        h[n] = v_ld(h_io + (g0 + n) * W);
    for (int64_t i = 0; i < tl; i++) {
        const vr dtv = v_ld(dt + i * W), dtu = v_mul(dtv, v_ld(ut + i * W));
        vr y = v_ld(yt + i * W);
#pragma GCC unroll 8
        for (int64_t n = 0; n < ng; n++) {
            const vr a = v_exp2(v_mul(dtv, v_ld(A2 + (g0 + n) * W)));
            h[n] = v_fma(a, h[n], v_mul(dtu, v_set1(Bc[(g0 + n) * L + i])));
            y = v_fma(v_set1(Cc[(g0 + n) * L + i]), h[n], y);
        }
        v_st(yt + i * W, y);
    }
    for (int64_t n = 0; n < ng; n++)
        v_st(h_io + (g0 + n) * W, h[n]);
}

#if SCAN_PACKED
static __attribute__((noipa)) void forward_packed(
#else
void selective_scan_forward(
#endif
    real *out, real *last_state, real *chunk_states, const real *u, const real *delta,
    const real *A, const real *Bm, const real *Cm, const real *Dskip, const real *z,
    const real *delta_bias, const scan_shape *s) {
#if !SCAN_PACKED
    if (s->seg_offsets) {
        forward_packed(out, last_state, chunk_states, u, delta, A, Bm, Cm, Dskip, z, delta_bias, s);
        return;
    }
#endif
    enum { W = SCAN_W, T = SCAN_FWD_TILE };
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, chunk = s->chunk;
    const int64_t Dg = D / G, nc = scan_n_chunks(s), nwb = (Dg + W - 1) / W;
#if SCAN_PACKED
    const int64_t *so = s->seg_offsets; // [n_segs + 1]
#endif

#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t item = 0; item < B * G * nwb; item++) {
        const int64_t b = item / (G * nwb), g = (item / nwb) % G, j = item % nwb;
        const int64_t d0 = g * Dg + j * W, nw = min64(W, (g + 1) * Dg - d0);
        const real *Bg = Bm + (b * G + g) * N * L, *Cg = Cm + (b * G + g) * N * L;
        real At[N * W], h[N * W]; // [N, W]: A of the lane block, running state
        real dt[T * W], ut[T * W], yt[T * W], zt[T * W], Dv[W]; // [T, W] tiles
        gather_A(At, A, d0, nw, N, SCAN_LOG2E); // exp(dt*A) = 2^(dt * A*log2(e))
        memset(h, 0, sizeof h);
        for (int64_t w = 0; w < W; w++)
            Dv[w] = Dskip && w < nw ? Dskip[d0 + w] : 0;

#if SCAN_PACKED
        int64_t si = 0; // so[si] is the first segment start >= t0
#endif
        for (int64_t t0 = 0; t0 < L;) {
            // tiles never straddle a chunk boundary, so checkpoints fall on tile starts
#if SCAN_PACKED
            // nor a segment start: h restarts from 0 at the first step of a tile
            int64_t tl = min64(min64(T, L - t0), chunk - t0 % chunk);
            while (so[si] < t0)
                si++;
            if (so[si] == t0) {
                memset(h, 0, sizeof h);
                while (so[si] <= t0) // (an empty segment would end here too)
                    si++;
            }
            tl = min64(tl, so[si] - t0);
#else
            const int64_t tl = min64(min64(T, L - t0), chunk - t0 % chunk);
#endif
            const int64_t row = (b * D + d0) * L + t0;
            if (chunk_states && t0 % chunk == 0)
                for (int64_t w = 0; w < nw; w++)
                    for (int64_t n = 0; n < N; n++)
                        chunk_states[((b * D + d0 + w) * nc + t0 / chunk) * N + n] = h[n * W + w];
            gather_rows(yt, delta + row, delta_bias ? delta_bias + d0 : NULL, L, nw, tl);
            scan_dt(dt, NULL, yt, tl * W, s->delta_softplus);
            gather_rows(ut, u + row, NULL, L, nw, tl);
            const vr Dvv = v_ld(Dv);
            for (int64_t i = 0; i < tl; i++)
                v_st(yt + i * W, v_mul(Dvv, v_ld(ut + i * W)));
            for (int64_t g0 = 0; g0 < N; g0 += SCAN_NG) {
                const int64_t ng = min64(SCAN_NG, N - g0);
                if (ng == SCAN_NG)
                    FWD_GROUP(h, yt, dt, ut, At, Bg + t0, Cg + t0, L, g0, SCAN_NG, tl);
                else
                    FWD_GROUP(h, yt, dt, ut, At, Bg + t0, Cg + t0, L, g0, ng, tl);
            }
            if (z) { // out = y * silu(z)
                gather_rows(zt, z + row, NULL, L, nw, tl);
                for (int64_t i = 0; i < tl * W; i++)
                    yt[i] = yt[i] * zt[i] / (1 + r_fexp(-zt[i]));
            }
            scatter_rows(out + row, yt, L, nw, tl, 0);
            t0 += tl;
        }
        if (last_state)
            for (int64_t w = 0; w < nw; w++)
                for (int64_t n = 0; n < N; n++)
                    last_state[(b * D + d0 + w) * N + n] = h[n * W + w];
    }
}

#undef FWD_GROUP
#undef FWD_HELPER
