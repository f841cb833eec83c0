// defines: point_order_kind, point_hilbert_key, point_morton_key, point_snake_key,
//          point_order_key, POINT_CELL_MAX, PK_FN
// The sort keys of the point-cloud scan orders (adapters/point_orders.h) on integer grid
// cells, as inline functions that the host (point_orders.c) and the device
// (adapters/cuda/points.cu) both compile, so both build the same permutations.
#pragma once
#include <stdint.h>

#ifdef __CUDACC__
#define PK_FN static inline __host__ __device__
#else
#define PK_FN static inline
#endif

#define POINT_CELL_MAX ((1u << 21) - 1) // cells per axis are clamped to 21 bits

typedef enum { POINT_ORDER_FPS = 0, POINT_ORDER_HILBERT, POINT_ORDER_Z, POINT_ORDER_SNAKE } point_order_kind;

// Hilbert: Skilling's transpose algorithm ("Programming the Hilbert curve", 2004) with x
// as the first axis, the index read most significant bit first across x, y, z; each
// coordinate < 2^bits, bits in 1..21.
PK_FN uint64_t point_hilbert_key(uint32_t x, uint32_t y, uint32_t z, int bits) {
    uint32_t X[3] = {x, y, z}, M = 1u << (bits - 1), t;
    for (uint32_t Q = M; Q > 1; Q >>= 1) { // inverse undo
        uint32_t P = Q - 1;
        for (int i = 0; i < 3; i++) {
            if (X[i] & Q) {
                X[0] ^= P;
            } else {
                t = (X[0] ^ X[i]) & P;
                X[0] ^= t;
                X[i] ^= t;
            }
        }
    }
    for (int i = 1; i < 3; i++) // Gray encode
        X[i] ^= X[i - 1];
    t = 0;
    for (uint32_t Q = M; Q > 1; Q >>= 1)
        if (X[2] & Q)
            t ^= Q - 1;
    for (int i = 0; i < 3; i++)
        X[i] ^= t;
    uint64_t key = 0; // the transposed index, most significant bit first
    for (int b = bits - 1; b >= 0; b--)
        for (int i = 0; i < 3; i++)
            key = key << 1 | (X[i] >> b & 1u);
    return key;
}

// Morton: bits interleaved x, y, z from the most significant down.
PK_FN uint64_t point_morton_key(uint32_t x, uint32_t y, uint32_t z, int bits) {
    uint64_t key = 0;
    for (int b = bits - 1; b >= 0; b--)
        key = key << 3 | (uint64_t)(x >> b & 1u) << 2 | (uint64_t)(y >> b & 1u) << 1 |
              (z >> b & 1u);
    return key;
}

// Snake: c[axes[0]], then c[axes[1]] (reversed on odd layers), then c[axes[2]] (reversed
// on odd rows, rows counted across layers), with the sample's largest cell indices mx.
PK_FN uint64_t point_snake_key(const uint32_t c[3], const uint32_t mx[3], const int axes[3]) {
    uint64_t a = c[axes[0]], b = c[axes[1]], cc = c[axes[2]];
    uint64_t mb = mx[axes[1]], mc = mx[axes[2]];
    uint64_t b2 = a % 2 ? mb - b : b;
    uint64_t row = a * (mb + 1) + b2;
    uint64_t c2 = row % 2 ? mc - cc : cc;
    return a << 42 | b2 << 21 | c2;
}

// The key of a centre in cell c of a sample whose largest cells are mx: Hilbert and
// Morton use as many bits as the largest cell needs (Point Transformer V3's depth); trans
// swaps x and y first.
PK_FN uint64_t point_order_key(point_order_kind kind, int trans, const int axes[3],
                               const uint32_t c[3], const uint32_t mx[3]) {
    if (kind == POINT_ORDER_SNAKE)
        return point_snake_key(c, mx, axes);
    uint32_t m = mx[0] > mx[1] ? mx[0] : mx[1];
    m = m > mx[2] ? m : mx[2];
    int bits = 1;
    while (bits < 21 && (m >> bits))
        bits++;
    uint32_t x = trans ? c[1] : c[0], y = trans ? c[0] : c[1];
    return kind == POINT_ORDER_HILBERT ? point_hilbert_key(x, y, c[2], bits)
                                       : point_morton_key(x, y, c[2], bits);
}
