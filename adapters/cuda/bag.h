// defines: bag_gather_cuda, bag_tokens_forward_cuda, bag_tokens_backward_cuda,
//          bag_order_closed_cuda, bag_order_work_bytes, bag_order_sorted_cuda
// Device kernels of the bag_features adapter (adapters/bag_features.c, built with CUDA=1):
// the instance features out of rows that also hold coordinates, the token row (class tokens
// and activated embeddings) and its backward, and the scan orders over a packed batch, with
// the same keys as the host (adapters/bag_common.h) so both give the same permutations.
// Device pointers; `off` is the packing's d_offsets [n + 1] (instance offsets). Results as
// kernels/cuda/common.h says. Reductions in a fixed order (no atomics).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "adapters/bag_common.h"
#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// xf [total, F] = the first F columns of x [total, row].
ssm_code bag_gather_cuda(real *xf, const real *x, int64_t total, int64_t row, int64_t F);
// tokens [total + n * extra, D]: bag b's class token cls [D] (extra = 1) then act(pre) of
// its instances (pre [total, D]).
ssm_code bag_tokens_forward_cuda(real *tokens, const real *pre, const real *cls,
                                 const int64_t *off, int64_t n, int64_t total, int64_t D,
                                 int64_t extra, bag_act act);
// dpre [total, D] = the instance rows of dtokens times act'(pre) (overwritten); dcls [D] +=
// the class token rows of dtokens summed over the bags in ascending order (extra = 1).
ssm_code bag_tokens_backward_cuda(real *dpre, real *dcls, const real *dtokens, const real *pre,
                                  const int64_t *off, int64_t n, int64_t total, int64_t D,
                                  int64_t extra, bag_act act);
// perm [total + n * extra] of an order without a key (identity, reverse, sr:R).
ssm_code bag_order_closed_cuda(int32_t *perm, const bag_order *o, const int64_t *off, int64_t n,
                               int64_t total, int64_t extra);
// Device scratch that bag_order_sorted_cuda needs for batches of up to max_total instances in
// up to max_n bags (keys, values, grids and the segmented sort's temporary storage).
ssm_code bag_order_work_bytes(int64_t max_total, int64_t max_n, size_t *bytes);
// perm of an order with a key (shuffle, coords_snake, coords_hilbert): keys per instance
// (the batch key and the order's number `which` for shuffle; the coordinates at xy, `row`
// values apart, for coords_*), a stable segmented radix sort per bag, then the scatter into
// the token row. work: bag_order_work_bytes(max_total, max_n) bytes, total <= max_total,
// n <= max_n.
ssm_code bag_order_sorted_cuda(int32_t *perm, const bag_order *o, int which, uint64_t key,
                               const real *xy, int64_t row, const int64_t *off, int64_t n,
                               int64_t total, int64_t extra, void *work, int64_t max_total,
                               int64_t max_n);

#ifdef __cplusplus
}
#endif
