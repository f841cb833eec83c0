// defines: point_groups_plan_cuda, point_groups_forward_cuda, point_groups_backward_cuda
// (see adapters/point_groups.h)
// The point_groups adapter on one GPU: adapters/point_embed.c's steps on device arrays,
// FPS and kNN by kernels/cuda/pointops.h, the orders built on the device from the
// centres (adapters/cuda/points.h), so nothing crosses to the host. fp32 throughout (also
// in mixed precision: the adapter's GEMMs are a small part of a step). The input is not
// scanned for NaN on the device: a non-finite point shows as a non-finite loss, which the
// step refuses.
#include <string.h>

#include "adapters/cuda/points.h"
#include "adapters/point_groups.h"
#include "core/cuda/try.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/pointops.h"

ssm_code point_groups_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    point_groups *pg = a->impl;
    if (pg->k > KNN_CUDA_MAX_K)
        return ssm_fail(err, SSM_ECONFIG, "%s: %lld points per group; the CUDA kNN takes at most "
                        "%d (adapter.patch_size)", PG_NAME, (long long)pg->k, KNN_CUDA_MAX_K);
    if (B_max > 65535)
        return ssm_fail(err, SSM_ECONFIG, "%s: batches of %lld clouds; the CUDA kNN takes at "
                        "most 65535", PG_NAME, (long long)B_max);
    point_groups_take(pg, arena, B_max, a->d_model);
    pg->work = NULL;
    pg->keys = ssm_arena_take(arena, (size_t)(a->n_orders * B_max * pg->G) * sizeof *pg->keys);
    return SSM_OK;
}

static ssm_code group_cuda(point_groups *pg, const real *x, int64_t B, ssm_error *err) {
    SSM_CUDA_TRY(fps_forward_cuda(pg->cidx, pg->fps_d, x, B, pg->N, pg->G, pg->C), err);
    SSM_CUDA_TRY(pg_centres_cuda(pg->centres, x, pg->cidx, B, pg->N, pg->G, pg->C), err);
    SSM_CUDA_TRY(knn_forward_cuda(pg->nidx, pg->kd, pg->centres, 3, x, pg->C, B, pg->G, pg->N,
                                  pg->k), err);
    SSM_CUDA_TRY(pg_group_cuda(pg->pin, x, pg->centres, pg->nidx, B, pg->N, pg->G, pg->k, pg->C),
                 err);
    return SSM_OK;
}

#define D_(i) ssm_params_data(p, pg->i)
#define G_(i) ssm_params_grad(p, pg->i)

// point_groups_embed on the device.
static ssm_code embed_cuda(point_groups *pg, const ssm_params *p, real *tokens, int64_t D,
                           int64_t B, ssm_error *err) {
    const int64_t k = pg->k, BG = B * pg->G, R = BG * k;
    SSM_CUDA_TRY(linear_forward_cuda(pg->h1, pg->pin, D_(w1), D_(b1), R, pg->C, PG_H1), err);
    SSM_CUDA_TRY(layernorm_forward_cuda(pg->a1, pg->mu1, pg->rs1, pg->h1, D_(g1), D_(be1), R,
                                        PG_H1, PG_LN_EPS), err);
    SSM_CUDA_TRY(pg_relu_cuda(pg->a1, R * PG_H1), err);
    SSM_CUDA_TRY(linear_forward_cuda(pg->f2, pg->a1, D_(w2), D_(b2), R, PG_H1, PG_H2), err);
    SSM_CUDA_TRY(pg_maxpool_cuda(pg->fg, pg->am2, pg->f2, BG, k, PG_H2), err);
    SSM_CUDA_TRY(pg_w3_split_cuda(pg->w3g, pg->w3l, D_(w3), PG_H3, PG_H2), err);
    SSM_CUDA_TRY(linear_forward_cuda(pg->hg, pg->fg, pg->w3g, D_(b3), BG, PG_H2, PG_H3), err);
    SSM_CUDA_TRY(linear_forward_cuda(pg->h3, pg->f2, pg->w3l, NULL, R, PG_H2, PG_H3), err);
    SSM_CUDA_TRY(pg_add_group_cuda(pg->h3, pg->hg, R, k, PG_H3), err);
    SSM_CUDA_TRY(layernorm_forward_cuda(pg->a3, pg->mu3, pg->rs3, pg->h3, D_(g3), D_(be3), R,
                                        PG_H3, PG_LN_EPS), err);
    SSM_CUDA_TRY(pg_relu_cuda(pg->a3, R * PG_H3), err);
    SSM_CUDA_TRY(linear_forward_cuda(pg->f4, pg->a3, D_(w4), D_(b4), R, PG_H3, D), err);
    SSM_CUDA_TRY(pg_maxpool_cuda(pg->tok, pg->am4, pg->f4, BG, k, D), err);
    SSM_CUDA_TRY(linear_forward_cuda(pg->pp, pg->centres, D_(pw1), D_(pb1), BG, 3, PG_PH), err);
    SSM_CUDA_TRY(pg_gelu_cuda(pg->pa, pg->pp, BG * PG_PH), err);
    if (!tokens)
        return SSM_OK;
    SSM_CUDA_TRY(linear_forward_cuda(tokens, pg->pa, D_(pw2), D_(pb2), BG, PG_PH, D), err);
    SSM_CUDA_TRY(add_forward_cuda(tokens, tokens, pg->tok, BG * D), err);
    return SSM_OK;
}

ssm_code point_groups_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens,
                                   int32_t *orders, const real *x, int64_t B, ssm_error *err) {
    point_groups *pg = a->impl;
    if (!pg->pin || !pg->keys)
        return ssm_fail(err, SSM_EINVAL, "%s: CUDA forward before the device arena was "
                        "committed", PG_NAME);
    SSM_TRY(group_cuda(pg, x, B, err));
    SSM_TRY(embed_cuda(pg, p, tokens, a->d_model, B, err));
    a->positions = pg->centres;
    if (orders)
        SSM_CUDA_TRY(pg_orders_cuda(orders, pg->orders, a->n_orders, pg->centres, B, pg->G,
                                    POINT_ORDER_GRID, pg->keys), err);
    return SSM_OK;
}

// point_groups_embed_backward on the device (the same buffers reused the same way).
ssm_code point_groups_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens,
                                    const real *x, int64_t B, ssm_error *err) {
    point_groups *pg = a->impl;
    const int64_t D = a->d_model, k = pg->k, BG = B * pg->G, R = BG * k;
    SSM_TRY(group_cuda(pg, x, B, err)); // recomputed: independent of the last forward
    SSM_TRY(embed_cuda(pg, p, NULL, D, B, err));
    real *dpa = pg->d512;
    SSM_CUDA_TRY(ssm_cuda_zero(dpa, (size_t)(BG * PG_PH) * sizeof *dpa), err);
    SSM_CUDA_TRY(linear_backward_cuda(dpa, G_(pw2), G_(pb2), dtokens, pg->pa, D_(pw2), BG, PG_PH,
                                      D), err);
    SSM_CUDA_TRY(pg_gelu_backward_cuda(dpa, pg->pp, BG * PG_PH), err);
    SSM_CUDA_TRY(linear_backward_cuda(NULL, G_(pw1), G_(pb1), dpa, pg->centres, D_(pw1), BG, 3,
                                      PG_PH), err);
    real *df4 = pg->f4, *da3 = pg->d512;
    SSM_CUDA_TRY(ssm_cuda_zero(df4, (size_t)(R * D) * sizeof *df4), err);
    SSM_CUDA_TRY(pg_maxpool_backward_cuda(df4, dtokens, pg->am4, BG, k, D), err);
    SSM_CUDA_TRY(ssm_cuda_zero(da3, (size_t)(R * PG_H3) * sizeof *da3), err);
    SSM_CUDA_TRY(linear_backward_cuda(da3, G_(w4), G_(b4), df4, pg->a3, D_(w4), R, PG_H3, D), err);
    SSM_CUDA_TRY(pg_relu_mask_cuda(da3, pg->a3, R * PG_H3), err);
    real *dh3 = pg->a3;
    SSM_CUDA_TRY(ssm_cuda_zero(dh3, (size_t)(R * PG_H3) * sizeof *dh3), err);
    SSM_CUDA_TRY(layernorm_backward_cuda(dh3, G_(g3), G_(be3), da3, pg->h3, D_(g3), pg->mu3,
                                         pg->rs3, R, PG_H3), err);
    real *df2 = pg->d512;
    SSM_CUDA_TRY(ssm_cuda_zero(df2, (size_t)(R * PG_H2) * sizeof *df2), err);
    SSM_CUDA_TRY(ssm_cuda_zero(pg->dw3, PG_H3 * PG_H2 * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(df2, pg->dw3, NULL, dh3, pg->f2, pg->w3l, R, PG_H2, PG_H3),
                 err);
    SSM_CUDA_TRY(pg_w3_add_half_cuda(G_(w3), pg->dw3, 1, PG_H3, PG_H2), err);
    real *dhg = pg->hg, *dfg = pg->h3;
    SSM_CUDA_TRY(pg_group_sum_cuda(dhg, dh3, BG, k, PG_H3), err);
    SSM_CUDA_TRY(ssm_cuda_zero(dfg, (size_t)(BG * PG_H2) * sizeof *dfg), err);
    SSM_CUDA_TRY(ssm_cuda_zero(pg->dw3, PG_H3 * PG_H2 * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(dfg, pg->dw3, G_(b3), dhg, pg->fg, pg->w3g, BG, PG_H2,
                                      PG_H3), err);
    SSM_CUDA_TRY(pg_w3_add_half_cuda(G_(w3), pg->dw3, 0, PG_H3, PG_H2), err);
    SSM_CUDA_TRY(pg_maxpool_backward_cuda(df2, dfg, pg->am2, BG, k, PG_H2), err);
    real *da1 = pg->h3 + R * PG_H2;
    SSM_CUDA_TRY(ssm_cuda_zero(da1, (size_t)(R * PG_H1) * sizeof *da1), err);
    SSM_CUDA_TRY(linear_backward_cuda(da1, G_(w2), G_(b2), df2, pg->a1, D_(w2), R, PG_H1, PG_H2),
                 err);
    SSM_CUDA_TRY(pg_relu_mask_cuda(da1, pg->a1, R * PG_H1), err);
    real *dh1 = pg->a1;
    SSM_CUDA_TRY(ssm_cuda_zero(dh1, (size_t)(R * PG_H1) * sizeof *dh1), err);
    SSM_CUDA_TRY(layernorm_backward_cuda(dh1, G_(g1), G_(be1), da1, pg->h1, D_(g1), pg->mu1,
                                         pg->rs1, R, PG_H1), err);
    SSM_CUDA_TRY(linear_backward_cuda(NULL, G_(w1), G_(b1), dh1, pg->pin, D_(w1), R, pg->C,
                                      PG_H1), err);
    return SSM_OK;
}
