// defines: pg_centres_cuda, pg_group_cuda, pg_relu_cuda, pg_relu_mask_cuda, pg_maxpool_cuda,
//          pg_maxpool_backward_cuda, pg_w3_split_cuda, pg_w3_add_half_cuda,
//          pg_add_group_cuda, pg_group_sum_cuda, pg_gelu_cuda, pg_gelu_backward_cuda,
//          pg_orders_cuda
// Device kernels of the point_groups adapter (adapters/point_groups.c, built with CUDA=1),
// the twins of the loops of adapters/point_embed.c and of point_order_build, element for
// element (the orders use adapters/point_keys.h's keys and the same cells, so both devices
// build the same permutations). Device pointers; results as kernels/cuda/common.h says.
// No atomics: every output element has one writer, sums run in a fixed order.
#pragma once
#include <stdint.h>

#include "adapters/point_orders.h"
#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// centres [B, G, 3] = the xyz of x [B, N, C] at cidx [B, G].
ssm_code pg_centres_cuda(real *centres, const real *x, const int32_t *cidx, int64_t B, int64_t N,
                         int64_t G, int64_t C);
// pin [B * G * k, C] = x at nidx, xyz made relative to the group's centre.
ssm_code pg_group_cuda(real *pin, const real *x, const real *centres, const int32_t *nidx,
                       int64_t B, int64_t N, int64_t G, int64_t k, int64_t C);
ssm_code pg_relu_cuda(real *x, int64_t n);                          // in place
ssm_code pg_relu_mask_cuda(real *d, const real *a, int64_t n);      // d = a > 0 ? d : 0
// out [BG, Ch], am [BG, Ch] = max / first argmax over the k rows of in [BG * k, Ch].
ssm_code pg_maxpool_cuda(real *out, int32_t *am, const real *in, int64_t BG, int64_t k,
                         int64_t Ch);
// din [BG * k, Ch] += dout at the argmax rows.
ssm_code pg_maxpool_backward_cuda(real *din, const real *dout, const int32_t *am, int64_t BG,
                                  int64_t k, int64_t Ch);
// w3 [H3, 2 * H2] -> w3g, w3l [H3, H2]; and dw3 [H3, 2 H2] columns of `half` += dw.
ssm_code pg_w3_split_cuda(real *w3g, real *w3l, const real *w3, int64_t H3, int64_t H2);
ssm_code pg_w3_add_half_cuda(real *dw3, const real *dw, int half, int64_t H3, int64_t H2);
// h [R, Ch] += g [R / k, Ch]; and s [BG, Ch] = the sum of d [BG * k, Ch] over k.
ssm_code pg_add_group_cuda(real *h, const real *g, int64_t R, int64_t k, int64_t Ch);
ssm_code pg_group_sum_cuda(real *s, const real *d, int64_t BG, int64_t k, int64_t Ch);
// out = GELU(in) (erf form); d *= GELU'(pre).
ssm_code pg_gelu_cuda(real *out, const real *in, int64_t n);
ssm_code pg_gelu_backward_cuda(real *d, const real *pre, int64_t n);
// orders [n_orders, B, G] from centres [B, G, 3] (point_order_build's permutations);
// keys: [n_orders, B, G] scratch. n_orders <= 8.
ssm_code pg_orders_cuda(int32_t *orders, const point_order *o, int n_orders,
                        const real *centres, int64_t B, int64_t G, double grid, uint64_t *keys);

#ifdef __cplusplus
}
#endif
