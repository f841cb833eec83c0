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
//
// Packed rows (scan_shape.seg_offsets): a chunk that holds segment starts is
// recomputed piece by piece, h from 0 at each start, and exp(dt*A) is then
// set to 0 at each start step: with it the reverse sweep's dA term there
// (dL/da * h before, h before being 0) vanishes and the dh it carries into the
// previous segment is 0, with no test in the sweep itself. Chunks without a
// start run the code of an unpacked row. A segment's du, ddelta, dz, dB, dC
// equal, bit for bit, those of the segment run alone (same steps, same order
// of every sum over channels and states); dA, dD and ddelta_bias are sums over
// the whole row, so they differ from the sum of separate runs by rounding.
// The function is kernels/scan_backward_body.h, compiled once for packed rows
// and once for the rest, whose code packed rows leave unchanged.
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
                   + 2 * round_up((size_t)(p.nlb * W)) // dD, ddelta_bias: [nlb, W]
                   + NW; // packed rows: h at a segment start, kept aside [N, W]
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

// The first i in [0, n] with so[i] >= t (so [n + 1] ascending, so[n] >= t).
static inline int64_t first_at_or_after(const int64_t *so, int64_t n, int64_t t) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (so[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
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


// The backward itself: the public function (unpacked rows; it hands packed
// rows to backward_packed) first, everything before it as it was, then the
// instance for packed rows; see the included file.
static void backward_packed(real *du, real *ddelta, real *dA, real *dBm, real *dCm,
                            real *dDskip, real *dz, real *ddelta_bias, const real *dout,
                            const real *chunk_states, const real *u, const real *delta,
                            const real *A, const real *Bm, const real *Cm, const real *Dskip,
                            const real *z, const real *delta_bias, real *workspace,
                            const scan_shape *s);
#define SCAN_PACKED 0
#include "kernels/scan_backward_body.h"
#undef SCAN_PACKED
#define SCAN_PACKED 1
#include "kernels/scan_backward_body.h"
#undef SCAN_PACKED
