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
//
// Packed rows (scan_shape.seg_offsets): the time tiles also end at every
// segment start, where h is set to 0 before the tile; the per-step arithmetic
// is the same as in a row of its own, so a segment's outputs equal, bit for
// bit, those of the segment scanned alone. Checkpoints stay at multiples of
// `chunk` along the row (the state after a reset, when one falls there). The
// function is kernels/scan_forward_body.h, compiled once for packed rows and
// once for the rest (whose code is unchanged by packed rows).
#include "kernels/scan.h"

#include <omp.h>
#include <string.h>

#include "kernels/scan_tiles.h"

size_t selective_scan_chunk_states_size(const scan_shape *s) {
    return (size_t)s->B * (size_t)s->D * (size_t)scan_n_chunks(s) * (size_t)s->N;
}

// ---------------------------------------------------------------- forward

// The unpacked instance first (everything before it as it was), then packed rows.
static void forward_packed(real *out, real *last_state, real *chunk_states, const real *u,
                           const real *delta, const real *A, const real *Bm, const real *Cm,
                           const real *Dskip, const real *z, const real *delta_bias,
                           const scan_shape *s);
#define SCAN_PACKED 0
#include "kernels/scan_forward_body.h"
#undef SCAN_PACKED
#define SCAN_PACKED 1
#include "kernels/scan_forward_body.h"
#undef SCAN_PACKED
