// defines: BAG_HD, bag_act, bag_order_kind, bag_order, bag_grid, bag_mix64, bag_shuffle_key,
//          bag_order_position, bag_gcd, bag_hilbert_d, bag_snake_key, bag_grid_key,
//          bag_token_start
// What the bag_features adapter (adapters/bag_features.c) and its device kernels
// (adapters/cuda/bag.cu) must compute identically: the activations, the scan orders'
// closed forms and the sort keys of the content-dependent orders. Header-only, compiled
// for the host by C and for both sides by nvcc, so the CPU and the GPU draw the same
// shuffles and sort by the same keys (the same permutations, bit for bit).
//
// A sequence of the packed row (core/packing.h) is one bag of n instances; with a class
// token (extra = 1) the bag's tokens are [cls, instance 0, ..., instance n-1] starting at
// token position bag_token_start(offsets, b, extra). An order is a perm over the token row:
// perm[step] = the position read at that step; every order keeps the class token first and
// permutes the bag's instances among the bag's other positions.
#pragma once
#include <stdint.h>

#ifdef __CUDACC__
#define BAG_HD static inline __host__ __device__
#else
#define BAG_HD static inline
#endif

typedef enum { BAG_ACT_GELU = 0, BAG_ACT_RELU, BAG_ACT_NONE } bag_act;

typedef enum {
    BAG_ORDER_IDENTITY = 0, // instances in their stored order
    BAG_ORDER_REVERSE,      // the stored order backwards
    BAG_ORDER_SR,           // MambaMIL's sequence reordering with stride R
    BAG_ORDER_SHUFFLE,      // a fresh permutation per batch, drawn from the packing's key
    BAG_ORDER_SNAKE,        // coords: boustrophedon over the patch grid
    BAG_ORDER_HILBERT,      // coords: along a Hilbert curve over the patch grid
} bag_order_kind;

typedef struct {
    bag_order_kind kind;
    int64_t R; // BAG_ORDER_SR's stride (>= 1)
} bag_order;

// A bag's patch grid, from its coordinates (integers after rounding): grid column
// cx = (x - x0) / gx, row cy = (y - y0) / gy, where x0, y0 are the bag's smallest
// coordinates and gx, gy the greatest common divisors of the offsets from them (the patch
// step, whatever the magnification: 256 px, 224 px, ...; 1 when all are equal).
// bits: the Hilbert curve's order, the fewest bits (>= 1) that hold every cx and cy.
typedef struct {
    int64_t x0, y0, gx, gy;
    int bits;
} bag_grid;

// Where bag b's tokens start in the token row.
BAG_HD int64_t bag_token_start(const int64_t *offsets, int64_t b, int64_t extra) {
    return offsets[b] + b * extra;
}

// splitmix64's finaliser: a well-mixed 64-bit function of z.
BAG_HD uint64_t bag_mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The shuffle's sort key of instance i of bag b under order `order` of a packing with key
// `key`: sorting a bag by (key, i) is a uniform random permutation, fresh per bag and batch,
// different for two shuffle orders of one adapter. Bag b's own key is the splitmix64 output
// of the packing's stream advanced b steps (core/packing.h, SSM_PACKING_KEY_STEP): the key of
// the bag's position in its epoch's order, so a bag draws the same permutation whether one
// process packs the whole batch or a rank packs its slice (docs/distributed.md). A batch of
// one bag draws what it drew when the batch key itself was that output.
BAG_HD uint64_t bag_shuffle_key(uint64_t key, int64_t order, int64_t b, int64_t i) {
    const uint64_t bag = bag_mix64(key + (uint64_t)b * 0x9E3779B97F4A7C15ull);
    return bag_mix64(bag_mix64(bag_mix64(bag ^ (uint64_t)order)) ^ (uint64_t)i);
}

// The instance (0 .. n-1) an order without a sort key reads at step s of a bag of n:
// identity s; reverse n-1-s; sr:R reads 0, R, 2R, ... then 1, 1+R, ... (MambaMIL pads the
// bag to a multiple of R and reads the padded grid column by column; the padding is
// skipped here, so this is a permutation of the real instances). With n = m R + t, the
// residues r < t hold m+1 instances and the others m.
BAG_HD int64_t bag_order_position(bag_order_kind kind, int64_t R, int64_t n, int64_t s) {
    if (kind == BAG_ORDER_REVERSE)
        return n - 1 - s;
    if (kind != BAG_ORDER_SR)
        return s;
    int64_t m = n / R, t = n % R, head = t * (m + 1);
    if (s < head)
        return s / (m + 1) + (s % (m + 1)) * R;
    s -= head; // here m >= 1: when m = 0 every step is in the head
    return t + s / m + (s % m) * R;
}

BAG_HD uint64_t bag_gcd(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// The index of (x, y) along the Hilbert curve over the 2^bits x 2^bits grid (the xy2d of
// the curve's Wikipedia article: it starts at (0, 0), goes up to (0, 1) first and ends at
// (2^bits - 1, 0)).
BAG_HD uint64_t bag_hilbert_d(int bits, uint64_t x, uint64_t y) {
    uint64_t n = (uint64_t)1 << bits, d = 0;
    for (uint64_t s = n / 2; s > 0; s /= 2) {
        uint64_t rx = (x & s) > 0, ry = (y & s) > 0;
        d += s * s * ((3 * rx) ^ ry);
        if (ry == 0) { // rotate the quadrant
            if (rx == 1) {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            uint64_t t = x;
            x = y;
            y = t;
        }
    }
    return d;
}

// The boustrophedon's key: rows by y; even rows left to right, odd rows right to left.
BAG_HD uint64_t bag_snake_key(uint64_t cx, uint64_t cy) {
    return cy << 32 | (cy & 1 ? 0xFFFFFFFFull - cx : cx);
}

// The sort key of the patch at integer coordinates (x, y) of a bag with grid g.
BAG_HD uint64_t bag_grid_key(bag_order_kind kind, const bag_grid *g, int64_t x, int64_t y) {
    uint64_t cx = (uint64_t)(x - g->x0) / (uint64_t)g->gx;
    uint64_t cy = (uint64_t)(y - g->y0) / (uint64_t)g->gy;
    return kind == BAG_ORDER_HILBERT ? bag_hilbert_d(g->bits, cx, cy) : bag_snake_key(cx, cy);
}
