// defines: point_order, point_order_parse, point_order_build, point_order_item,
//          POINT_ORDER_GRID
// Serialized scan orders of point-cloud tokens (DESIGN.md invariant 5: orders are data),
// computed per sample from the group centres [G, 3]:
//   fps             the tokens' own order (centres in farthest-point order)
//   hilbert         a 3-D Hilbert curve over the centres' grid cells (PointMamba,
//                   after Point Transformer V3's serialization)
//   trans_hilbert   the same with x and y swapped before encoding (PTv3's "-trans")
//   z, trans_z      the Morton (z-order) curve, x the most significant axis; trans swaps
//                   x and y
//   snake_<abc>     PCM's consistent traverse: sorted by grid cell along axis a, then b
//                   in alternating direction (a boustrophedon), then c alternating with
//                   every row, over the six axis permutations: snake_xyz, snake_xzy,
//                   snake_yxz, snake_yzx, snake_zxy, snake_zyx
//   <any>_reverse   the exact flip of an order (reverse alone = fps_reverse)
// Grid cells: floor((c - min over the sample's centres) / grid), grid POINT_ORDER_GRID
// (0.02, PointMamba's) in the units of the (normalised) cloud. The Hilbert and Morton
// curves use as many bits per axis as the sample's largest cell index needs (PTv3's
// depth), at most 21. Centres in the same cell keep their token order (the sort key
// ends with the token index), so every order is a permutation.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "adapters/point_keys.h"

#define POINT_ORDER_GRID 0.02

typedef struct {
    point_order_kind kind;
    int trans;     // hilbert, z: x and y swapped
    int axes[3];   // snake: slowest to fastest axis (0 x, 1 y, 2 z)
    int reverse;   // the flipped order
} point_order;

// Work space of point_order_build: one per token.
typedef struct {
    uint64_t key;
    int32_t index;
} point_order_item;

// "hilbert", "snake_zxy_reverse", ... -> *o, or SSM_ECONFIG naming the adapter and
// listing the known names.
ssm_code point_order_parse(const char *adapter, const char *name, point_order *o,
                           ssm_error *err);

// perm [G]: perm[l] = the token read at scan step l (as mamba_orders), from the centres
// [G, stride] (x, y, z first). work [G].
void point_order_build(int32_t *perm, const point_order *o, const real *centres, int64_t G,
                       int64_t stride, double grid, point_order_item *work);
