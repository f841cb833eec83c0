// defines: bag_order_parse, bag_order_list, bag_grid_of, bag_sort_item, bag_order_build
// The scan orders of the bag_features adapter on the host (the device builds the same ones
// in adapters/cuda/bag.cu from the same keys, adapters/bag_common.h): parsing an order's
// name, and filling an order's perm over a packed batch's token row.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "adapters/bag_common.h"
#include "core/error.h"
#include "core/packing.h"
#include "core/real.h"

// "identity", "reverse", "sr:R" (R an integer >= 1), "shuffle", "coords_snake",
// "coords_hilbert" -> *out. With coords = 0 (the adapter reads no coordinates) the coords_*
// orders are refused (SSM_ECONFIG naming the adapter, the order and what to set).
ssm_code bag_order_parse(const char *adapter, const char *name, int coords, bag_order *out,
                         ssm_error *err);
// The known order names, comma-separated, into buf (for messages).
void bag_order_list(char *buf, size_t n);

// The grid (adapters/bag_common.h) of a bag's n patches: coordinates x at xy[i * row], y at
// xy[i * row + 1], rounded to the nearest integer (the caller checked them: finite,
// |v| < 2^31).
void bag_grid_of(bag_grid *g, const real *xy, int64_t n, int64_t row);

typedef struct {
    uint64_t key;
    int64_t pos; // the instance, within its bag
} bag_sort_item;

// perm [pk->total + pk->n * extra]: order o (the adapter's order number `which`, for the
// shuffle's key) over every bag of pk; a class token (extra = 1) stays first. xy: the
// coordinates of instance 0 with `row` values between instances (NULL for orders that
// read none); work [pk->total] for the orders that sort (shuffle, coords_*).
void bag_order_build(int32_t *perm, const bag_order *o, int which, const ssm_packing *pk,
                     int64_t extra, const real *xy, int64_t row, bag_sort_item *work);
