// defines: scan_seg_starts
// Packed rows in the time-split scan kernels (scan_kernels.cuh, the SEG instances;
// scan_shape.seg_offsets): a sequence starting at step t restarts h from 0, which is the
// step h_t = 0 * h_{t-1} + b_t. So a_t is set to 0 there and nothing else changes: the
// lane scan composes a zero into its products, the carry entering the next tile comes out
// right, and in the backward the adjoint a_t g_t that flows into step t-1, and the dA and
// ddt terms of step t (both scaled by a_t), are 0, as they are for a sequence's first step
// run alone. h_{t-1} (the previous sequence's last state) is only ever multiplied by that
// zero, and it is finite, so no NaN can cross either. Each lane finds the starts among its
// SCAN_ITEMS steps once per tile; the dense instances (SEG false) do none of this.
// Included by scan_kernels.cuh after SCAN_ITEMS.
#pragma once
#include <stdint.h>

// Bit i set where step ts + i (i < lim) starts a sequence of a packed row: offsets
// seg[1 .. n_segs) (seg[0] = 0 needs no restart: every row starts from h = 0). A binary
// search for the first offset >= ts, then at most SCAN_ITEMS reads; only steps below lim
// (the tile's real steps), so an identity step past a chunk's end never blocks the carry.
__device__ __forceinline__ uint32_t scan_seg_starts(const int64_t *seg, int64_t n_segs,
                                                    int64_t ts, int lim) {
    int64_t lo = 1, hi = n_segs;
    while (lo < hi) {
        const int64_t mid = (lo + hi) >> 1;
        if (__ldg(seg + mid) < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint32_t m = 0;
    for (int64_t i = lo; i < n_segs; i++) {
        const int64_t o = __ldg(seg + i);
        if (o >= ts + lim)
            break;
        m |= 1u << (o - ts);
    }
    return m;
}
