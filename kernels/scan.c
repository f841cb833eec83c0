// defines: selective_scan_forward, selective_scan_chunk_states_size
// CPU reference of the selective scan, forward (semantics in kernels/scan.h;
// the backward is kernels/scan_backward.c, the shared tile moves
// kernels/scan_tiles.h).
//
// Vectorized across channels. Channels of one group share B[n, t] and
// C[n, t], so the inner loops run over a lane block of SCAN_W channels
// (one vector: 16 floats with AVX-512, 8 with AVX2) with B and C as broadcast
// scalars: the sums over n (y = C.h in the forward; the B.dh and A.(dh h exp)
// terms of the backward) become vertical vector adds instead of a horizontal
// reduction per step, which was the bottleneck of a loop vectorized over n.
//
// exp(dt*A) is computed as 2^(dt * A*log2(e)) (v_exp2 in cpu_vec.h): A is
// scaled once per lane block.
#include "kernels/scan.h"

#include <omp.h>
#include <string.h>

#include "kernels/scan_tiles.h"

size_t selective_scan_chunk_states_size(const scan_shape *s) {
    return (size_t)s->B * (size_t)s->D * (size_t)scan_n_chunks(s) * (size_t)s->N;
}

// Forward of one lane block over a tile for the states [g0, g0 + ng), their
// h in registers: h_io [N, W] in and out, yt [tl, W] += C.h; A2 = A*log2(e).
// Bc, Cc: B and C rows at the tile start ([N, L] layout).
static inline void fwd_group(real *restrict h_io, real *restrict yt, const real *dt, const real *ut,
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

// ---------------------------------------------------------------- forward

void selective_scan_forward(real *out, real *last_state, real *chunk_states, const real *u,
                            const real *delta, const real *A, const real *Bm, const real *Cm,
                            const real *Dskip, const real *z, const real *delta_bias,
                            const scan_shape *s) {
    enum { W = SCAN_W, T = SCAN_FWD_TILE };
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, chunk = s->chunk;
    const int64_t Dg = D / G, nc = scan_n_chunks(s), nwb = (Dg + W - 1) / W;

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

        for (int64_t t0 = 0; t0 < L;) {
            // tiles never straddle a chunk boundary, so checkpoints fall on tile starts
            const int64_t tl = min64(min64(T, L - t0), chunk - t0 % chunk);
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
                    fwd_group(h, yt, dt, ut, At, Bg + t0, Cg + t0, L, g0, SCAN_NG, tl);
                else
                    fwd_group(h, yt, dt, ut, At, Bg + t0, Cg + t0, L, g0, ng, tl);
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
