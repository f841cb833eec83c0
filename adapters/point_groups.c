// defines: ssm_adapter_point_groups (the adapter "point_groups")
// Point clouds -> tokens, as Point-MAE and PointMamba tokenise them:
//   x [B, N, C] (C >= 3: x, y, z, then extra channels such as normals)
//   -> G group centres by farthest point sampling from point 0 (kernels/pointops.h)
//   -> the k nearest points of each centre (the centre itself among them), their x, y, z
//      made relative to the centre, extra channels kept: groups [B, G, k, C]
//   -> a mini-PointNet per group (Point-MAE's Encoder), 1x1 convs as shared linears:
//        first_conv   C -> 128, LayerNorm, ReLU, 128 -> 256       f   [B, G, k, 256]
//        global       max over the k points                       fg  [B, G, 256]
//        second_conv  [fg, f] 512 -> 512, LayerNorm, ReLU, 512 -> D, max over k
//      = the group's token [B, G, D]
//   -> plus a positional MLP on the centres: Linear(3, 128), GELU, Linear(128, D)
//      (PointMamba's pos_embed), added to the token.
// LayerNorm (over the channels of each point) stands where Point-MAE has BatchNorm1d:
// the same function in training and evaluation (no running statistics, no mode flag
// through the trunk, no batch-size dependence, no state outside the flat parameters),
// and a plain explicit backward; the parameters keep BatchNorm's names and shapes
// (encoder.first_conv.1.weight [128], ...) so that the table mirrors Point-MAE's.
// Orders (point_orders.h) come from each sample's centres, one per backbone branch;
// default hilbert and trans_hilbert (PointMamba). No class token (PointMamba pools the
// mean).
//
// Sizes: the options group_size (k, default 32; adapter.group_size) and num_groups (G,
// default N / (k / 2): 1024 points give 64 groups of 32, 2048 give 128, the Point-MAE /
// PointMamba settings; adapter.num_groups). The older spelling, adapter.patch_size = k and
// adapter.stride = N / G, is read only when neither option is given (the config refuses
// the two spellings mixed).
//
// The second_conv's first weight [512, 512] is applied as two halves: its first 256 input
// channels see the group's max-pooled feature, the same for the k points of a group, so
// that half runs once per group instead of once per point (a third fewer FLOPs; the
// result is the concatenation's).
// Backward recomputes the forward from x (the adapter contract); its scratch is sized
// for B_max clouds: about (C + 2,050 + D) reals per grouped point.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/point_orders.h"
#include "adapters/point_groups.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/pointops.h"

static const char *const known_options[] = {"group_size", "num_groups", NULL};

static ssm_code declare(ssm_params *p, const char *prefix, const char *suffix, int ndim,
                        const int64_t *shape, unsigned flags, size_t *idx, ssm_error *err) {
    char name[SSM_PARAM_NAME_MAX];
    if (snprintf(name, sizeof name, "%s%s", prefix, suffix) >= (int)sizeof name)
        return ssm_fail(err, SSM_EINVAL, "%s: parameter name %s%s too long", PG_NAME, prefix,
                        suffix);
    return ssm_params_add(p, name, ndim, shape, flags, idx, err);
}

static ssm_code pg_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    SSM_TRY(ssm_adapter_check_options(opt, PG_NAME, known_options, err));
    if (in->ndim != 2 || in->dims[1] < 3 || in->dims[0] < 1) {
        char s[96];
        ssm_shape_str(s, sizeof s, in->ndim, in->dims);
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape %s, expected [points, C] with "
                        "C >= 3 (x, y, z first)", PG_NAME, s);
    }
    point_groups *pg = calloc(1, sizeof *pg);
    if (!pg)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", PG_NAME);
    a->impl = pg;
    pg->N = in->dims[0];
    pg->C = in->dims[1];
    if (opt->in_channels && opt->in_channels != pg->C)
        return ssm_fail(err, SSM_ECONFIG, "%s: in_channels = %lld but the points have %lld "
                        "values (adapter.channels: 3 for x y z, 6 with data.normals)", PG_NAME,
                        (long long)opt->in_channels, (long long)pg->C);
    // The options group_size and num_groups (adapter.group_size, adapter.num_groups); the
    // older spelling patch_size = k, stride = N / G applies only when neither is given.
    int new_keys = ssm_adapter_option_str(opt, "group_size", NULL) ||
                   ssm_adapter_option_str(opt, "num_groups", NULL);
    int64_t k = !new_keys && opt->patch_size ? opt->patch_size : PG_DEFAULT_K;
    SSM_TRY(ssm_adapter_option_int(opt, PG_NAME, "group_size", k, &k, err));
    int64_t stride = !new_keys && opt->stride ? opt->stride : (k / 2 > 0 ? k / 2 : 1);
    int64_t G;
    SSM_TRY(ssm_adapter_option_int(opt, PG_NAME, "num_groups", pg->N / stride, &G, err));
    if (k < 1 || k > pg->N)
        return ssm_fail(err, SSM_ECONFIG, "%s: %lld points per group (adapter.group_size), "
                        "expected 1..%lld (the cloud's points)", PG_NAME, (long long)k,
                        (long long)pg->N);
    if (G < 1 || G > pg->N)
        return ssm_fail(err, SSM_ECONFIG, "%s: %lld groups (adapter.num_groups), expected "
                        "1..%lld (the cloud's points)", PG_NAME, (long long)G, (long long)pg->N);
    if (pg->N > INT32_MAX)
        return ssm_fail(err, SSM_ECONFIG, "%s: %lld points, more than int32 indices hold",
                        PG_NAME, (long long)pg->N);
    pg->k = k;
    pg->G = G;
    if (opt->cls_token != SSM_CLS_DEFAULT && opt->cls_token != SSM_CLS_NONE)
        return ssm_fail(err, SSM_ECONFIG, "%s: cls_token = %s; point tokens have no class token "
                        "(set adapter.cls_token: none and pool the mean)", PG_NAME,
                        ssm_cls_position_name(opt->cls_token));
    a->cls_index = -1;
    a->seq_len = G;
    a->pos_dims = 3; // the group centres (forward sets positions)
    static const char *const defaults[] = {"hilbert", "trans_hilbert"};
    a->n_orders = opt->n_orders ? opt->n_orders : 2;
    for (int o = 0; o < a->n_orders; o++) {
        const char *name = opt->n_orders ? opt->orders[o] : defaults[o];
        SSM_TRY(point_order_parse(PG_NAME, name, &pg->orders[o], err));
        snprintf(a->order_names[o], sizeof a->order_names[o], "%s", name);
    }
    const int64_t D = a->d_model, C = pg->C;
    const unsigned ND = SSM_PARAM_NO_DECAY;
    SSM_TRY(declare(p, prefix, "encoder.first_conv.0.weight", 3, (int64_t[]){PG_H1, C, 1}, 0,
                    &pg->w1, err));
    SSM_TRY(declare(p, prefix, "encoder.first_conv.0.bias", 1, (int64_t[]){PG_H1}, ND, &pg->b1, err));
    SSM_TRY(declare(p, prefix, "encoder.first_conv.1.weight", 1, (int64_t[]){PG_H1}, ND, &pg->g1, err));
    SSM_TRY(declare(p, prefix, "encoder.first_conv.1.bias", 1, (int64_t[]){PG_H1}, ND, &pg->be1, err));
    SSM_TRY(declare(p, prefix, "encoder.first_conv.3.weight", 3, (int64_t[]){PG_H2, PG_H1, 1}, 0,
                    &pg->w2, err));
    SSM_TRY(declare(p, prefix, "encoder.first_conv.3.bias", 1, (int64_t[]){PG_H2}, ND, &pg->b2, err));
    SSM_TRY(declare(p, prefix, "encoder.second_conv.0.weight", 3, (int64_t[]){PG_H3, 2 * PG_H2, 1},
                    0, &pg->w3, err));
    SSM_TRY(declare(p, prefix, "encoder.second_conv.0.bias", 1, (int64_t[]){PG_H3}, ND, &pg->b3, err));
    SSM_TRY(declare(p, prefix, "encoder.second_conv.1.weight", 1, (int64_t[]){PG_H3}, ND, &pg->g3, err));
    SSM_TRY(declare(p, prefix, "encoder.second_conv.1.bias", 1, (int64_t[]){PG_H3}, ND, &pg->be3, err));
    SSM_TRY(declare(p, prefix, "encoder.second_conv.3.weight", 3, (int64_t[]){D, PG_H3, 1}, 0,
                    &pg->w4, err));
    SSM_TRY(declare(p, prefix, "encoder.second_conv.3.bias", 1, (int64_t[]){D}, ND, &pg->b4, err));
    SSM_TRY(declare(p, prefix, "pos_embed.0.weight", 2, (int64_t[]){PG_PH, 3}, 0, &pg->pw1, err));
    SSM_TRY(declare(p, prefix, "pos_embed.0.bias", 1, (int64_t[]){PG_PH}, ND, &pg->pb1, err));
    SSM_TRY(declare(p, prefix, "pos_embed.2.weight", 2, (int64_t[]){D, PG_PH}, 0, &pg->pw2, err));
    SSM_TRY(declare(p, prefix, "pos_embed.2.bias", 1, (int64_t[]){D}, ND, &pg->pb2, err));
    return SSM_OK;
}

// PyTorch's defaults for the 1x1 convs (kaiming_uniform(a=sqrt(5)): U(+-1/sqrt(fan_in))
// for weight and bias), norms at 1 and 0, and PointMamba's _init_weights for the
// positional Linears (trunc_normal(std=.02), bias 0).
static void uniform(real *w, int64_t n, double bound, ssm_rng *rng) {
    for (int64_t i = 0; i < n; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

static void fill(real *w, int64_t n, real v) {
    for (int64_t i = 0; i < n; i++)
        w[i] = v;
}

static void pg_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    point_groups *pg = a->impl;
    const int64_t D = a->d_model;
    const struct { size_t w, b; int64_t out, in; } conv[4] = {
        {pg->w1, pg->b1, PG_H1, pg->C}, {pg->w2, pg->b2, PG_H2, PG_H1},
        {pg->w3, pg->b3, PG_H3, 2 * PG_H2}, {pg->w4, pg->b4, D, PG_H3}};
    for (int i = 0; i < 4; i++) {
        double bound = 1 / sqrt((double)conv[i].in);
        uniform(ssm_params_data(p, conv[i].w), conv[i].out * conv[i].in, bound, rng);
        uniform(ssm_params_data(p, conv[i].b), conv[i].out, bound, rng);
    }
    fill(ssm_params_data(p, pg->g1), PG_H1, 1);
    fill(ssm_params_data(p, pg->be1), PG_H1, 0);
    fill(ssm_params_data(p, pg->g3), PG_H3, 1);
    fill(ssm_params_data(p, pg->be3), PG_H3, 0);
    ssm_init_trunc_normal(ssm_params_data(p, pg->pw1), PG_PH * 3, rng, .02, -2, 2);
    fill(ssm_params_data(p, pg->pb1), PG_PH, 0);
    ssm_init_trunc_normal(ssm_params_data(p, pg->pw2), (size_t)(D * PG_PH), rng, .02, -2, 2);
    fill(ssm_params_data(p, pg->pb2), D, 0);
}

static ssm_code pg_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    point_groups *pg = a->impl;
    point_groups_take(pg, arena, B_max, a->d_model);
    size_t BG = (size_t)(B_max * pg->G);
    pg->work = ssm_arena_take(arena, (size_t)a->n_orders * BG * sizeof *pg->work);
    return SSM_OK;
}

// x finite, so that FPS and kNN see real distances.
static ssm_code check_values(const point_groups *pg, const real *x, int64_t B, ssm_error *err) {
    for (int64_t i = 0; i < B * pg->N * pg->C; i++)
        if (!isfinite(x[i]))
            return ssm_fail(err, SSM_EDATA, "%s: cloud %lld (of the batch), point %lld, value "
                            "%lld is %g", PG_NAME, (long long)(i / (pg->N * pg->C)),
                            (long long)(i / pg->C % pg->N), (long long)(i % pg->C), (double)x[i]);
    return SSM_OK;
}

static ssm_code pg_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                           const real *x, int64_t B, ssm_error *err) {
    point_groups *pg = a->impl;
    if (!pg->pin || !pg->work)
        return ssm_fail(err, SSM_EINVAL, "%s: forward before the arena was committed", PG_NAME);
    SSM_TRY(check_values(pg, x, B, err));
    point_groups_group(pg, x, B);
    point_groups_embed(pg, p, tokens, a->d_model, B);
    a->positions = pg->centres;
    if (orders)
#pragma omp parallel for collapse(2) schedule(dynamic, 1)
        for (int o = 0; o < a->n_orders; o++)
            for (int64_t b = 0; b < B; b++)
                point_order_build(orders + ((size_t)o * B + b) * pg->G, &pg->orders[o],
                                  pg->centres + b * pg->G * 3, pg->G, 3, POINT_ORDER_GRID,
                                  pg->work + ((size_t)o * B + b) * pg->G);
    return SSM_OK;
}

static void pg_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                        int64_t B) {
    point_groups *pg = a->impl;
    point_groups_group(pg, x, B); // recomputed: independent of the last forward
    point_groups_embed(pg, p, NULL, a->d_model, B);
    point_groups_embed_backward(pg, p, dtokens, a->d_model, B);
}

static void pg_free(ssm_adapter *a) {
    free(a->impl);
    a->impl = NULL;
}

const ssm_adapter_vtable ssm_adapter_point_groups = {
    .name = PG_NAME,
    .summary = "point clouds [N, C] -> FPS centres + kNN groups -> mini-PointNet tokens + "
               "positional MLP; orders hilbert, trans_hilbert, z, trans_z, snake_<axes>, fps "
               "(+ _reverse)",
    .create = pg_create,
    .init_params = pg_init_params,
    .plan = pg_plan,
    .forward = pg_forward,
    .backward = pg_backward,
    .free_impl = pg_free,
#if SSM_HAVE_CUDA
    .plan_cuda = point_groups_plan_cuda,
    .forward_cuda = point_groups_forward_cuda,
    .backward_cuda = point_groups_backward_cuda,
#endif
};
