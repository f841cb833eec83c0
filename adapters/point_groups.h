// defines: point_groups, point_groups_take, point_groups_group, point_groups_embed,
//          point_groups_embed_backward, point_groups_plan_cuda, point_groups_forward_cuda,
//          point_groups_backward_cuda, PG_NAME, PG_H1, PG_H2, PG_H3, PG_PH, PG_DEFAULT_K,
//          PG_LN_EPS
// Internal to the point_groups adapter (adapters/point_groups.c: options, parameters,
// orders; adapters/point_embed.c: grouping and the mini-PointNet on the CPU;
// adapters/cuda/points.c: the CUDA path): its state and the steps they share.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/point_orders.h"
#include "core/arena.h"
#include "core/device_select.h"
#include "core/params.h"
#include "core/real.h"

#define PG_NAME "point_groups"
#define PG_H1 128      // first_conv widths
#define PG_H2 256
#define PG_H3 512      // second_conv hidden width
#define PG_PH 128      // positional MLP hidden width
#define PG_DEFAULT_K 32
#define PG_LN_EPS 1e-5f

typedef struct {
    int64_t N, C;      // points per cloud, values per point
    int64_t G, k;      // groups, points per group
    point_order orders[SSM_ADAPTER_MAX_ORDERS];
    size_t w1, b1, g1, be1, w2, b2;       // first_conv.{0,1,3}
    size_t w3, b3, g3, be3, w4, b4;       // second_conv.{0,1,3}
    size_t pw1, pb1, pw2, pb2;            // pos_embed.{0,2}
    // Scratch for B_max clouds (arena; host or device): R = B * G * k grouped points,
    // BG = B * G groups.
    real *fps_d;       // [B, N] FPS min distances
    int32_t *cidx;     // [B, G] centre indices
    real *centres;     // [B, G, 3]
    int32_t *nidx;     // [B, G, k] neighbour indices (into the cloud's N points)
    real *kd;          // [R] their squared distances
    real *pin;         // [R, C] grouped points, x y z relative to the centre
    real *h1, *a1;     // [R, 128] first conv; after LayerNorm and ReLU
    real *mu1, *rs1;   // [R] LayerNorm statistics
    real *f2;          // [R, 256]
    real *fg;          // [BG, 256] max over a group's points
    int32_t *am2;      // [BG, 256] which point gave it (first on ties)
    real *w3g, *w3l;   // [512, 256] second_conv.0.weight's global / local halves
    real *hg;          // [BG, 512] global half + bias
    real *h3, *a3;     // [R, 512] second conv; after LayerNorm and ReLU
    real *mu3, *rs3;   // [R]
    real *f4;          // [R, D]
    real *tok;         // [BG, D] max over a group's points
    int32_t *am4;      // [BG, D]
    real *pp, *pa;     // [BG, 128] positional pre-activation, after GELU
    real *d512;        // [R, 512] backward scratch
    real *dw3;         // [512, 256] backward scratch
    point_order_item *work; // [n_orders, B, G] order sorting (host path)
    uint64_t *keys;         // [n_orders, B, G] order keys (CUDA path)
} point_groups;

// Lays out every array above except work (host or device arena alike).
void point_groups_take(point_groups *pg, ssm_arena *arena, int64_t B_max, int64_t D);

// FPS centres, kNN groups, grouped points (fps_d, cidx, centres, nidx, kd, pin) of x
// [B, N, C].
void point_groups_group(point_groups *pg, const real *x, int64_t B);
// The mini-PointNet and the positional MLP on the grouped points; tokens [B, G, D]
// (NULL: everything but the tokens, for the backward).
void point_groups_embed(point_groups *pg, const ssm_params *p, real *tokens, int64_t D,
                        int64_t B);
// Accumulates every parameter gradient from dtokens [B, G, D], after point_groups_embed
// on the same batch.
void point_groups_embed_backward(point_groups *pg, ssm_params *p, const real *dtokens,
                                 int64_t D, int64_t B);

#if SSM_HAVE_CUDA
ssm_code point_groups_plan_cuda(ssm_adapter *a, ssm_arena *dev_arena, int64_t B_max,
                                ssm_error *err);
ssm_code point_groups_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens,
                                   int32_t *orders, const real *x, int64_t B, ssm_error *err);
ssm_code point_groups_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens,
                                    const real *x, int64_t B, ssm_error *err);
#endif
