// defines: ssm_adapter_bag_features (the adapter "bag_features")
// Bags of precomputed instance features (MIL: a slide's patch features, a molecule's
// conformations) -> tokens, as MambaMIL, CLAM and ABMIL embed them:
//   x [total, F] (ragged: the packed instances of a batch, core/packing.h), or [total, F+2]
//     with option coords: true (the last 2 values of a row are the patch's (x, y)
//     coordinates, read by the coords_* orders and never embedded)
//   -> tokens = act(x W^T + b): _fc1.0.weight [D, F], _fc1.0.bias [D] (MambaMIL's _fc1),
//      act: gelu (the default; exact, erf), relu (MambaMIL's and CLAM's) or none
//   -> optional class token cls_token [1, 1, D] placed FIRST in every bag (cls_token: head;
//      ragged_extra = 1, cls_index = 0); the default is none (middle is refused).
// No dropout of its own (the MIL recipes drop features in the data:
// data.augment.feature_dropout); the adapter's training switch, ssm_adapter.drop, is unused.
//
// Options (extra): coords (true|false), act (gelu|relu|none), max_tokens (required: the
// most instances a batch holds, data.max_tokens; it is seq_len, what the plan holds).
// Scan orders (per bag, adapters/bag_common.h): identity, reverse, sr:R (MambaMIL's
// sequence reordering), shuffle (a fresh seeded permutation per batch), coords_snake,
// coords_hilbert (the patch grid from the coordinates). Default: identity, reverse.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/bag_orders.h"
#include "core/device_select.h"
#include "kernels/linear.h"
#if SSM_HAVE_CUDA
#include "adapters/cuda/bag.h"
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#endif

#define ADAPTER_NAME "bag_features"

typedef struct {
    int64_t F, row;             // features embedded, values per row of x (F or F + 2)
    int coords;                 // rows end with (x, y)
    bag_act act;
    int sorts;                  // some order sorts (shuffle, coords_*)
    bag_order orders[SSM_ADAPTER_MAX_ORDERS];
    size_t w_idx, b_idx, cls_idx;
    real *xf;                   // [seq_len, F] the features without coordinates (coords only)
    real *pre;                  // [seq_len, D] x W^T + b; its gradient in backward
    bag_sort_item *work;        // [seq_len] the host orders' sort (when sorts)
    void *dev_work;             // the device orders' scratch (CUDA plan, when sorts)
} bag_features;

static const char *const KNOWN[] = {"coords", "act", "max_tokens", NULL};

static ssm_code parse_bool(const ssm_adapter_options *o, const char *key, int *out,
                           ssm_error *err) {
    const char *v = ssm_adapter_option_str(o, key, "false");
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
        *out = 1;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
        *out = 0;
    else
        return ssm_fail(err, SSM_ECONFIG, "%s: option %s = '%s', expected true or false",
                        ADAPTER_NAME, key, v);
    return SSM_OK;
}

static ssm_code bf_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    SSM_TRY(ssm_adapter_check_options(opt, ADAPTER_NAME, KNOWN, err));
    bag_features *bf = calloc(1, sizeof *bf);
    if (!bf)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    a->impl = bf;
    SSM_TRY(parse_bool(opt, "coords", &bf->coords, err));
    if (in->ndim != 1 || in->dims[0] < 1 + 2 * bf->coords) {
        char s[96];
        ssm_shape_str(s, sizeof s, in->ndim, in->dims);
        return ssm_fail(err, SSM_EINVAL, "%s: one instance's shape is %s, expected [F]%s",
                        ADAPTER_NAME, s, bf->coords ? " + 2 coordinates, F >= 1" : "");
    }
    bf->row = in->dims[0];
    bf->F = bf->row - 2 * bf->coords;
    const char *act = ssm_adapter_option_str(opt, "act", "gelu");
    if (!strcmp(act, "gelu"))
        bf->act = BAG_ACT_GELU;
    else if (!strcmp(act, "relu"))
        bf->act = BAG_ACT_RELU;
    else if (!strcmp(act, "none"))
        bf->act = BAG_ACT_NONE;
    else
        return ssm_fail(err, SSM_ECONFIG, "%s: option act = '%s'; known: gelu, relu, none",
                        ADAPTER_NAME, act);
    int64_t max_tokens;
    SSM_TRY(ssm_adapter_option_int(opt, ADAPTER_NAME, "max_tokens", 0, &max_tokens, err));
    if (max_tokens < 1)
        return ssm_fail(err, SSM_ECONFIG, "%s: option max_tokens = %lld: set it to the most "
                        "instances a batch holds (data.max_tokens), >= 1", ADAPTER_NAME,
                        (long long)max_tokens);
    switch (opt->cls_token) {
    case SSM_CLS_DEFAULT:
    case SSM_CLS_NONE: a->ragged_extra = 0; break;
    case SSM_CLS_HEAD: a->ragged_extra = 1; break;
    default:
        return ssm_fail(err, SSM_ECONFIG, "%s: cls_token = %s; a bag's class token is first "
                        "(head) or absent (none)", ADAPTER_NAME,
                        ssm_cls_position_name(opt->cls_token));
    }
    // the token row (with a class token per bag, at most one per instance) in int32 orders
    if (max_tokens > INT32_MAX / 2)
        return ssm_fail(err, SSM_ECONFIG, "%s: max_tokens = %lld, at most %d (int32 scan "
                        "orders)", ADAPTER_NAME, (long long)max_tokens, INT32_MAX / 2);
    a->ragged = 1;
    a->seq_len = max_tokens;
    a->n_seqs = 1;
    a->cls_index = a->ragged_extra ? 0 : -1;
    static const char *const defaults[] = {"identity", "reverse"};
    a->n_orders = opt->n_orders ? opt->n_orders : 2;
    for (int o = 0; o < a->n_orders; o++) {
        const char *name = opt->n_orders ? opt->orders[o] : defaults[o];
        SSM_TRY(bag_order_parse(ADAPTER_NAME, name, bf->coords, &bf->orders[o], err));
        bf->sorts |= bf->orders[o].kind >= BAG_ORDER_SHUFFLE;
        snprintf(a->order_names[o], sizeof a->order_names[o], "%s", name);
    }
    int64_t D = a->d_model;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s_fc1.0.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){D, bf->F}, 0, &bf->w_idx, err));
    snprintf(name, sizeof name, "%s_fc1.0.bias", prefix);
    SSM_TRY(ssm_params_add(p, name, 1, (int64_t[]){D}, SSM_PARAM_NO_DECAY, &bf->b_idx, err));
    if (a->ragged_extra) {
        snprintf(name, sizeof name, "%scls_token", prefix);
        SSM_TRY(ssm_params_add(p, name, 3, (int64_t[]){1, 1, D}, SSM_PARAM_NO_DECAY,
                               &bf->cls_idx, err));
    }
    return SSM_OK;
}

// MambaMIL's / CLAM's initialize_weights: xavier_normal_ weights, zero biases; the class
// token trunc_normal(std=.02) as Vim's.
static void bf_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    bag_features *bf = a->impl;
    int64_t D = a->d_model;
    double std = sqrt(2.0 / (double)(bf->F + D));
    real *w = ssm_params_data(p, bf->w_idx);
    for (int64_t i = 0; i < D * bf->F; i++)
        w[i] = (real)ssm_rng_normal(rng, std);
    memset(ssm_params_data(p, bf->b_idx), 0, (size_t)D * sizeof(real));
    if (a->ragged_extra)
        ssm_init_trunc_normal(ssm_params_data(p, bf->cls_idx), (size_t)D, rng, .02, -2, 2);
}

static ssm_code bf_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    bag_features *bf = a->impl;
    size_t L = (size_t)a->seq_len;
    bf->xf = bf->coords ? ssm_arena_take(arena, L * (size_t)bf->F * sizeof(real)) : NULL;
    bf->pre = ssm_arena_take(arena, L * (size_t)a->d_model * sizeof(real));
    bf->work = bf->sorts ? ssm_arena_take(arena, L * sizeof(bag_sort_item)) : NULL;
    return SSM_OK;
}

// The packing the trunk set, valid for this batch and the plan.
static ssm_code check_pack(const ssm_adapter *a, int64_t B, ssm_error *err) {
    const ssm_packing *pk = a->pack;
    if (!pk)
        return ssm_fail(err, SSM_EINVAL, "%s: a ragged adapter needs the batch's packing "
                        "(adapter.pack), none was set", ADAPTER_NAME);
    if (pk->n != B)
        return ssm_fail(err, SSM_EINVAL, "%s: batch of %lld bags, the packing has %lld",
                        ADAPTER_NAME, (long long)B, (long long)pk->n);
    ssm_code rc = ssm_packing_check(pk, a->seq_len, err);
    if (rc != SSM_OK)
        ssm_error_prefix(err, "%s (max_tokens %lld): ", ADAPTER_NAME, (long long)a->seq_len);
    return rc;
}

// Features finite, coordinates finite and within +-2^31 (the grid's integers).
static ssm_code check_values(const bag_features *bf, const ssm_packing *pk, const real *x,
                             ssm_error *err) {
    for (int64_t b = 0; b < pk->n; b++)
        for (int64_t i = pk->offsets[b]; i < pk->offsets[b + 1]; i++)
            for (int64_t c = 0; c < bf->row; c++) {
                real v = x[i * bf->row + c];
                if (c < bf->F && !isfinite(v))
                    return ssm_fail(err, SSM_EDATA, "%s: bag %lld (of the batch), instance "
                                    "%lld, feature %lld is %g", ADAPTER_NAME, (long long)b,
                                    (long long)(i - pk->offsets[b]), (long long)c, (double)v);
                if (c >= bf->F && !(fabs((double)v) < 2147483647.0))
                    return ssm_fail(err, SSM_EDATA, "%s: bag %lld (of the batch), instance "
                                    "%lld, coordinate %c is %g, expected a finite value within "
                                    "+-2^31", ADAPTER_NAME, (long long)b,
                                    (long long)(i - pk->offsets[b]), c == bf->F ? 'x' : 'y',
                                    (double)v);
            }
    return SSM_OK;
}

static inline double act_f(bag_act act, double v) {
    if (act == BAG_ACT_GELU)
        return 0.5 * v * (1 + erf(v * M_SQRT1_2));
    if (act == BAG_ACT_RELU)
        return v > 0 ? v : 0;
    return v;
}

static inline double act_grad(bag_act act, double v) {
    if (act == BAG_ACT_GELU) // Phi(v) + v phi(v)
        return 0.5 * (1 + erf(v * M_SQRT1_2)) + v * exp(-0.5 * v * v) * 0.3989422804014327;
    if (act == BAG_ACT_RELU)
        return v > 0;
    return 1;
}

// pre = (features of x) W^T + b, the features gathered out of the rows when they hold
// coordinates.
static const real *embed(ssm_adapter *a, const ssm_params *p, const real *x) {
    bag_features *bf = a->impl;
    int64_t T = a->pack->total, F = bf->F;
    const real *xf = x;
    if (bf->coords) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < T; i++)
            memcpy(bf->xf + i * F, x + i * bf->row, (size_t)F * sizeof(real));
        xf = bf->xf;
    }
    linear_forward(bf->pre, xf, ssm_params_data(p, bf->w_idx), ssm_params_data(p, bf->b_idx), T,
                   F, a->d_model);
    return xf;
}

static ssm_code bf_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                           const real *x, int64_t B, ssm_error *err) {
    bag_features *bf = a->impl;
    if (!bf->pre || (bf->sorts && !bf->work))
        return ssm_fail(err, SSM_EINVAL, "%s: forward before the arena was committed", ADAPTER_NAME);
    SSM_TRY(check_pack(a, B, err));
    const ssm_packing *pk = a->pack;
    SSM_TRY(check_values(bf, pk, x, err));
    embed(a, p, x);
    const int64_t D = a->d_model, extra = a->ragged_extra, *off = pk->offsets;
    const real *cls = extra ? ssm_params_data(p, bf->cls_idx) : NULL;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < B; b++) {
        real *t = tokens + bag_token_start(off, b, extra) * D;
        if (extra) {
            memcpy(t, cls, (size_t)D * sizeof(real));
            t += D;
        }
        const real *pr = bf->pre + off[b] * D;
        for (int64_t i = 0, n = (off[b + 1] - off[b]) * D; i < n; i++)
            t[i] = (real)act_f(bf->act, pr[i]);
    }
    if (orders) {
        int64_t T = pk->total + B * extra;
        const real *xy = bf->coords ? x + bf->F : NULL;
        for (int o = 0; o < a->n_orders; o++)
            bag_order_build(orders + (size_t)o * T, &bf->orders[o], o, pk, extra, xy, bf->row,
                            bf->work);
    }
    return SSM_OK;
}

static void bf_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                        int64_t B) {
    bag_features *bf = a->impl;
    const ssm_packing *pk = a->pack;
    const real *xf = embed(a, p, x); // recomputed: independent of the last forward
    const int64_t D = a->d_model, extra = a->ragged_extra, *off = pk->offsets;
    // dpre = the instance rows of dtokens times act'(pre), into pre
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < B; b++) {
        const real *g = dtokens + (bag_token_start(off, b, extra) + extra) * D;
        real *pr = bf->pre + off[b] * D;
        for (int64_t i = 0, n = (off[b + 1] - off[b]) * D; i < n; i++)
            pr[i] = (real)(g[i] * act_grad(bf->act, pr[i]));
    }
    linear_backward(NULL, ssm_params_grad(p, bf->w_idx), ssm_params_grad(p, bf->b_idx), bf->pre,
                    xf, ssm_params_data(p, bf->w_idx), pk->total, bf->F, D);
    if (extra) {
        real *dcls = ssm_params_grad(p, bf->cls_idx);
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++)
                dcls[d] += dtokens[bag_token_start(off, b, extra) * D + d];
    }
}

#if SSM_HAVE_CUDA
// The CUDA path: the same steps on device arrays (fp32, also in mixed precision: one small
// GEMM). The orders are built on the device from the packing's d_offsets and, for coords_*,
// the coordinates in x, so nothing crosses to the host. The input is not scanned for NaN on
// the device: a non-finite feature shows as a non-finite loss, which the step refuses.
static ssm_code bf_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    bag_features *bf = a->impl;
    size_t L = (size_t)a->seq_len;
    bf->xf = bf->coords ? ssm_arena_take(arena, L * (size_t)bf->F * sizeof(real)) : NULL;
    bf->pre = ssm_arena_take(arena, L * (size_t)a->d_model * sizeof(real));
    bf->work = NULL;
    bf->dev_work = NULL;
    if (bf->sorts) {
        size_t bytes;
        SSM_CUDA_TRY(bag_order_work_bytes(a->seq_len, B_max, &bytes), err);
        bf->dev_work = ssm_arena_take(arena, bytes);
    }
    return SSM_OK;
}

static ssm_code embed_cuda(ssm_adapter *a, const ssm_params *p, const real *x, const real **xf,
                           ssm_error *err) {
    bag_features *bf = a->impl;
    int64_t T = a->pack->total;
    *xf = x;
    if (bf->coords) {
        SSM_CUDA_TRY(bag_gather_cuda(bf->xf, x, T, bf->row, bf->F), err);
        *xf = bf->xf;
    }
    SSM_CUDA_TRY(linear_forward_cuda(bf->pre, *xf, ssm_params_data(p, bf->w_idx),
                                     ssm_params_data(p, bf->b_idx), T, bf->F, a->d_model),
                 err);
    return SSM_OK;
}

static ssm_code check_pack_cuda(const ssm_adapter *a, int64_t B, ssm_error *err) {
    SSM_TRY(check_pack(a, B, err));
    if (!a->pack->d_offsets)
        return ssm_fail(err, SSM_EINVAL, "%s: the CUDA path needs the packing's offsets on the "
                        "device (d_offsets), none were set", ADAPTER_NAME);
    return SSM_OK;
}

static ssm_code bf_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                                const real *x, int64_t B, ssm_error *err) {
    bag_features *bf = a->impl;
    if (!bf->pre || (bf->sorts && !bf->dev_work))
        return ssm_fail(err, SSM_EINVAL, "%s: CUDA forward before the device arena was committed",
                        ADAPTER_NAME);
    SSM_TRY(check_pack_cuda(a, B, err));
    const ssm_packing *pk = a->pack;
    const real *xf;
    SSM_TRY(embed_cuda(a, p, x, &xf, err));
    const int64_t extra = a->ragged_extra, T = pk->total + B * extra;
    const real *cls = extra ? ssm_params_data(p, bf->cls_idx) : NULL;
    SSM_CUDA_TRY(bag_tokens_forward_cuda(tokens, bf->pre, cls, pk->d_offsets, B, pk->total,
                                         a->d_model, extra, bf->act), err);
    if (!orders)
        return SSM_OK;
    for (int o = 0; o < a->n_orders; o++) {
        int32_t *perm = orders + (size_t)o * T;
        if (bf->orders[o].kind >= BAG_ORDER_SHUFFLE)
            SSM_CUDA_TRY(bag_order_sorted_cuda(perm, &bf->orders[o], o, pk->key,
                                               bf->coords ? x + bf->F : NULL, bf->row,
                                               pk->d_offsets, B, pk->total, extra, bf->dev_work,
                                               a->seq_len, a->B_max), err);
        else
            SSM_CUDA_TRY(bag_order_closed_cuda(perm, &bf->orders[o], pk->d_offsets, B, pk->total,
                                               extra), err);
    }
    return SSM_OK;
}

static ssm_code bf_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                                 int64_t B, ssm_error *err) {
    bag_features *bf = a->impl;
    SSM_TRY(check_pack_cuda(a, B, err));
    const ssm_packing *pk = a->pack;
    const real *xf;
    SSM_TRY(embed_cuda(a, p, x, &xf, err)); // recomputed: independent of the last forward
    const int64_t extra = a->ragged_extra;
    real *dcls = extra ? ssm_params_grad(p, bf->cls_idx) : NULL;
    SSM_CUDA_TRY(bag_tokens_backward_cuda(bf->pre, dcls, dtokens, bf->pre, pk->d_offsets, B,
                                          pk->total, a->d_model, extra, bf->act), err);
    SSM_CUDA_TRY(linear_backward_cuda(NULL, ssm_params_grad(p, bf->w_idx),
                                      ssm_params_grad(p, bf->b_idx), bf->pre, xf,
                                      ssm_params_data(p, bf->w_idx), pk->total, bf->F,
                                      a->d_model), err);
    return SSM_OK;
}
#endif

static void bf_free(ssm_adapter *a) {
    free(a->impl);
    a->impl = NULL;
}

const ssm_adapter_vtable ssm_adapter_bag_features = {
    .name = ADAPTER_NAME,
    .summary = "bags of instance features [F] (+ 2 coordinates), ragged -> act(linear) tokens, "
               "optional class token first; orders identity, reverse, sr:R, shuffle, "
               "coords_snake, coords_hilbert",
    .create = bf_create,
    .init_params = bf_init_params,
    .plan = bf_plan,
    .forward = bf_forward,
    .backward = bf_backward,
    .free_impl = bf_free,
#if SSM_HAVE_CUDA
    .plan_cuda = bf_plan_cuda,
    .forward_cuda = bf_forward_cuda,
    .backward_cuda = bf_backward_cuda,
#endif
};
