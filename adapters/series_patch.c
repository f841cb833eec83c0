// defines: ssm_adapter_series_patch (the adapter "series_patch")
// Multivariate series -> channel-independent patch tokens, as PatchTST:
//   x [B, T, V] (T = lookback, V = variates, standardised by the dataset)
//   -> optional RevIN (per sample, per variate; adapters/revin.h)
//   -> each variate on its own: padded at the end by repeating its last value
//      `stride` times (PatchTST's padding_patch = "end"), then cut into
//      P = (T + s - p) / s + 1 patches of p values with stride s
//   -> tokens [B*V, P, D] = patch @ W_P.weight^T + W_P.bias + W_pos
//      (W_P.weight [D, p], W_P.bias [D], W_pos [P, D]: PatchTST's names)
// Channel independence: every variate of every sample is its own sequence
// (n_seqs = V), sequence b*V + v; all share the weights. The scan runs over
// the P patches; default orders forward and reverse. No class token.
//
// Options: patch_size p (default 16), stride s (0 = p; PatchTST uses p/2),
// orders (forward, reverse), extra "revin" / "revin_affine" (0|1), "dropout" (p, from
// adapter.dropout: PatchTST's dropout after the positions are added, in training steps;
// ssm_adapter.drop; a sample's V sequences share its stream).
// in_channels does not apply and is ignored.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/revin.h"
#include "adapters/series_common.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"
#include "core/device_select.h" // SSM_HAVE_CUDA
#if SSM_HAVE_CUDA
#include "adapters/cuda/patches.h"
#include "adapters/cuda/series.h"
#include "core/cuda/try.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/linear.h"
#endif

#define ADAPTER_NAME "series_patch"
#define DEFAULT_PATCH 16

typedef struct {
    int64_t T, V, p, s, P;
    int revin, affine;
    ssm_revin rv;
    size_t w_idx, b_idx, pos_idx;
    int32_t *base; // [n_orders, P]
    real *xn;      // [B_max, T, V] RevIN output; reused for its gradient (arena; when revin)
    real *cols;    // [B_max * V * P, p] the patches (arena)
    real *dcols;   // [B_max * V * P, p] their gradient (arena; when affine)
    int32_t *dev_base; // [n_orders, P] the orders' base on the device (CUDA plan)
    real *demb;    // [B_max * V * P, D] the embedding's gradient (CUDA plan)
    double drop;   // dropout on the tokens (option dropout), 0 = none
    real *dtok;    // [B_max * V * P, D] dtokens through the mask (arena; when drop > 0)
} series_patch;

// The dropout of this pass (0: none) and its rows: V * P tokens per sample.
static double drop_p(const ssm_adapter *a) {
    const series_patch *sp = a->impl;
    return a->drop.train ? sp->drop : 0;
}
static ssm_dropout_rows drop_rows(const ssm_adapter *a) {
    const series_patch *sp = a->impl;
    return (ssm_dropout_rows){.key = a->drop.key, .rows_per_sample = sp->V * sp->P};
}

static ssm_code sp_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    SSM_TRY(series_adapter_check_input(opt, in, ADAPTER_NAME, err));
    series_patch *sp = calloc(1, sizeof *sp);
    if (!sp)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    a->impl = sp;
    sp->T = in->dims[0];
    sp->V = in->dims[1];
    sp->p = opt->patch_size ? opt->patch_size : DEFAULT_PATCH;
    sp->s = opt->stride ? opt->stride : sp->p;
    if (sp->p < 1 || sp->s < 1)
        return ssm_fail(err, SSM_ECONFIG, "%s: patch_size = %lld, stride = %lld, expected >= 1",
                        ADAPTER_NAME, (long long)sp->p, (long long)sp->s);
    if (sp->p > sp->T + sp->s)
        return ssm_fail(err, SSM_ECONFIG,
                        "%s: patch_size %lld is longer than the lookback %lld plus the end padding %lld",
                        ADAPTER_NAME, (long long)sp->p, (long long)sp->T, (long long)sp->s);
    sp->P = (sp->T + sp->s - sp->p) / sp->s + 1;
    SSM_TRY(series_adapter_revin_options(opt, ADAPTER_NAME, &sp->revin, &sp->affine, err));
    SSM_TRY(series_adapter_dropout(opt, ADAPTER_NAME, &sp->drop, err));
    int64_t F;
    SSM_TRY(series_adapter_time_features(opt, ADAPTER_NAME, sp->V, &F, err));
    if (F > 0)
        return ssm_fail(err, SSM_ECONFIG,
                        "%s: data.time_features: calendar tokens need adapter series_variate "
                        "(one token per column); series_patch would forecast the calendar "
                        "columns as variates",
                        ADAPTER_NAME);
    a->seq_len = sp->P;
    a->n_seqs = sp->V;
    a->cls_index = -1;
    SSM_TRY(series_adapter_orders(a, opt, sp->P, &sp->base, ADAPTER_NAME, err));
    int64_t D = a->d_model;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%sW_P.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){D, sp->p}, 0, &sp->w_idx, err));
    snprintf(name, sizeof name, "%sW_P.bias", prefix);
    SSM_TRY(ssm_params_add(p, name, 1, (int64_t[]){D}, SSM_PARAM_NO_DECAY, &sp->b_idx, err));
    snprintf(name, sizeof name, "%sW_pos", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){sp->P, D}, SSM_PARAM_NO_DECAY, &sp->pos_idx, err));
    if (sp->revin) {
        SSM_TRY(ssm_revin_declare(&sp->rv, p, prefix, sp->T, sp->V, sp->affine, err));
        a->inorm = &sp->rv;
    }
    return SSM_OK;
}

// PatchTST's init: W_P as nn.Linear (uniform +-1/sqrt(p)), W_pos uniform(-0.02, 0.02).
static void sp_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    series_patch *sp = a->impl;
    int64_t D = a->d_model;
    double bound = 1 / sqrt((double)sp->p);
    real *w = ssm_params_data(p, sp->w_idx), *b = ssm_params_data(p, sp->b_idx);
    real *pos = ssm_params_data(p, sp->pos_idx);
    for (int64_t i = 0; i < D * sp->p; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < D; i++)
        b[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < sp->P * D; i++)
        pos[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * .02);
    if (sp->revin)
        ssm_revin_init_params(&sp->rv, p);
}

static ssm_code sp_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    series_patch *sp = a->impl;
    size_t ncol = (size_t)B_max * sp->V * sp->P * sp->p * sizeof(real);
    sp->cols = ssm_arena_take(arena, ncol);
    sp->dcols = sp->affine ? ssm_arena_take(arena, ncol) : NULL;
    sp->dtok = sp->drop > 0 ? ssm_arena_take(arena, (size_t)(B_max * sp->V * sp->P * a->d_model) *
                                                        sizeof(real))
                            : NULL;
    sp->xn = sp->revin ? ssm_arena_take(arena, (size_t)B_max * sp->T * sp->V * sizeof(real)) : NULL;
    if (sp->revin)
        ssm_revin_plan(&sp->rv, arena, B_max);
    return SSM_OK;
}

// Time index read by element j of patch k (the end padding repeats t = T-1).
static inline int64_t src_t(const series_patch *sp, int64_t k, int64_t j) {
    int64_t t = k * sp->s + j;
    return t < sp->T ? t : sp->T - 1;
}

// cols[((b*V + v)*P + k), j] = src[b, src_t(k, j), v]
static void im2col(real *cols, const real *src, const series_patch *sp, int64_t B) {
    int64_t T = sp->T, V = sp->V, P = sp->P, p = sp->p;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++)
            for (int64_t k = 0; k < P; k++) {
                real *row = cols + (((size_t)b * V + v) * P + k) * p;
                for (int64_t j = 0; j < p; j++)
                    row[j] = src[((size_t)b * T + src_t(sp, k, j)) * V + v];
            }
}

static const real *prepare(ssm_adapter *a, const ssm_params *p, const real *x, int64_t B) {
    series_patch *sp = a->impl;
    const real *src = x;
    if (sp->revin) {
        ssm_revin_norm_forward(&sp->rv, p, sp->xn, x, B);
        src = sp->xn;
    }
    im2col(sp->cols, src, sp, B);
    return sp->cols;
}

static ssm_code sp_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                           const real *x, int64_t B, ssm_error *err) {
    series_patch *sp = a->impl;
    if (!sp->cols)
        return ssm_fail(err, SSM_EINVAL, "%s: forward before the arena was committed", ADAPTER_NAME);
    int64_t T = sp->T, V = sp->V, P = sp->P, D = a->d_model;
    for (size_t i = 0, n = (size_t)B * T * V; i < n; i++)
        if (!isfinite(x[i]))
            return ssm_fail(err, SSM_EDATA, "%s: sample %lld, time %lld, variate %lld is %g",
                            ADAPTER_NAME, (long long)(i / (T * V)), (long long)(i / V % T),
                            (long long)(i % V), (double)x[i]);
    const real *cols = prepare(a, p, x, B);
    linear_forward(tokens, cols, ssm_params_data(p, sp->w_idx), ssm_params_data(p, sp->b_idx),
                   B * V * P, sp->p, D);
    const real *pos = ssm_params_data(p, sp->pos_idx); // [P, D]
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B * V; r++)
        for (int64_t i = 0; i < P * D; i++)
            tokens[(size_t)r * P * D + i] += pos[i];
    if (drop_p(a) > 0) {
        const ssm_dropout_rows m = drop_rows(a);
        dropout_apply(tokens, tokens, 0, B * V * P, D, &m, SSM_DROP_SITE_ADAPTER, drop_p(a));
    }
    if (orders)
        ssm_adapter_broadcast_orders(orders, sp->base, a->n_orders, B * V, P);
    return SSM_OK;
}

static void sp_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                        int64_t B) {
    series_patch *sp = a->impl;
    int64_t T = sp->T, V = sp->V, P = sp->P, D = a->d_model;
    if (drop_p(a) > 0) { // the gradient before the mask: dtokens through it
        const ssm_dropout_rows m = drop_rows(a);
        dropout_apply(sp->dtok, dtokens, 0, B * V * P, D, &m, SSM_DROP_SITE_ADAPTER, drop_p(a));
        dtokens = sp->dtok;
    }
    real *dpos = ssm_params_grad(p, sp->pos_idx);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < P * D; i++) {
        real g = 0;
        for (int64_t r = 0; r < B * V; r++)
            g += dtokens[(size_t)r * P * D + i];
        dpos[i] += g;
    }
    const real *cols = prepare(a, p, x, B); // recomputed: independent of the last forward
    size_t ncol = (size_t)B * V * P * sp->p;
    if (sp->affine)
        memset(sp->dcols, 0, ncol * sizeof(real));
    linear_backward(sp->affine ? sp->dcols : NULL, ssm_params_grad(p, sp->w_idx),
                    ssm_params_grad(p, sp->b_idx), dtokens, cols, ssm_params_data(p, sp->w_idx),
                    B * V * P, sp->p, D);
    if (!sp->affine)
        return;
    // col2im: dxn [B, T, V] (into xn, free now) sums every patch element that read (b, t, v).
    memset(sp->xn, 0, (size_t)B * T * V * sizeof(real));
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++)
            for (int64_t k = 0; k < P; k++) {
                const real *row = sp->dcols + (((size_t)b * V + v) * P + k) * sp->p;
                for (int64_t j = 0; j < sp->p; j++)
                    sp->xn[((size_t)b * T + src_t(sp, k, j)) * V + v] += row[j];
            }
    ssm_revin_norm_backward(&sp->rv, p, sp->xn, x, B);
}

#if SSM_HAVE_CUDA
// The CUDA path: the same steps on device arrays, fp32. The input is not scanned for NaN
// on the device: a non-finite value shows as a non-finite loss, which the step refuses.
static ssm_code sp_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    series_patch *sp = a->impl;
    SSM_TRY(sp_plan(a, arena, B_max, err));
    size_t bytes = (size_t)a->n_orders * (size_t)sp->P * sizeof(int32_t);
    sp->dev_base = ssm_arena_take(arena, bytes);
    sp->demb = ssm_arena_take(arena, (size_t)(B_max * sp->V * sp->P * a->d_model) * sizeof(real));
    if (!ssm_arena_measuring(arena))
        SSM_CUDA_TRY(ssm_cuda_upload(sp->dev_base, sp->base, bytes), err);
    return SSM_OK;
}

static ssm_code prepare_cuda(ssm_adapter *a, const ssm_params *p, const real *x, int64_t B,
                             ssm_error *err) {
    series_patch *sp = a->impl;
    const real *src = x;
    if (sp->revin) {
        SSM_TRY(ssm_revin_norm_forward_cuda(&sp->rv, p, sp->xn, x, B, err));
        src = sp->xn;
    }
    SSM_CUDA_TRY(series_patchify_cuda(sp->cols, src, B, sp->T, sp->V, sp->P, sp->p, sp->s), err);
    return SSM_OK;
}

static ssm_code sp_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                                const real *x, int64_t B, ssm_error *err) {
    series_patch *sp = a->impl;
    int64_t V = sp->V, P = sp->P, D = a->d_model;
    if (!sp->cols || !sp->dev_base)
        return ssm_fail(err, SSM_EINVAL, "%s: CUDA forward before the device arena was committed",
                        ADAPTER_NAME);
    SSM_TRY(prepare_cuda(a, p, x, B, err));
    SSM_CUDA_TRY(linear_forward_cuda(tokens, sp->cols, ssm_params_data(p, sp->w_idx),
                                     ssm_params_data(p, sp->b_idx), B * V * P, sp->p, D), err);
    // + positions, in place (elementwise): image_patches' assembly without a class token
    SSM_CUDA_TRY(patch_tokens_forward_cuda(tokens, tokens, ssm_params_data(p, sp->pos_idx), NULL,
                                           B * V, P, P, D, -1), err);
    if (drop_p(a) > 0) {
        const ssm_dropout_rows m = drop_rows(a);
        SSM_CUDA_TRY(dropout_apply_cuda(tokens, tokens, 0, B * V * P, D, &m,
                                        SSM_DROP_SITE_ADAPTER, drop_p(a)),
                     err);
    }
    if (orders)
        SSM_CUDA_TRY(orders_broadcast_cuda(orders, sp->dev_base, a->n_orders, B * V, P), err);
    return SSM_OK;
}

static ssm_code sp_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                                 int64_t B, ssm_error *err) {
    series_patch *sp = a->impl;
    int64_t T = sp->T, V = sp->V, P = sp->P, D = a->d_model;
    if (drop_p(a) > 0) {
        const ssm_dropout_rows m = drop_rows(a);
        SSM_CUDA_TRY(dropout_apply_cuda(sp->dtok, dtokens, 0, B * V * P, D, &m,
                                        SSM_DROP_SITE_ADAPTER, drop_p(a)),
                     err);
        dtokens = sp->dtok;
    }
    SSM_CUDA_TRY(patch_tokens_backward_cuda(sp->demb, ssm_params_grad(p, sp->pos_idx), NULL,
                                            dtokens, B * V, P, P, D, -1), err);
    SSM_TRY(prepare_cuda(a, p, x, B, err)); // recomputed: independent of the last forward
    size_t ncol = (size_t)B * V * P * sp->p;
    if (sp->affine)
        SSM_CUDA_TRY(ssm_cuda_zero(sp->dcols, ncol * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(sp->affine ? sp->dcols : NULL, ssm_params_grad(p, sp->w_idx),
                                      ssm_params_grad(p, sp->b_idx), sp->demb, sp->cols,
                                      ssm_params_data(p, sp->w_idx), B * V * P, sp->p, D), err);
    if (!sp->affine)
        return SSM_OK;
    SSM_CUDA_TRY(ssm_cuda_zero(sp->xn, (size_t)B * T * V * sizeof(real)), err);
    SSM_CUDA_TRY(series_patchify_backward_cuda(sp->xn, sp->dcols, B, T, V, P, sp->p, sp->s), err);
    return ssm_revin_norm_backward_cuda(&sp->rv, p, sp->xn, x, B, err);
}
#endif

static void sp_free(ssm_adapter *a) {
    series_patch *sp = a->impl;
    if (sp)
        free(sp->base);
    free(sp);
    a->impl = NULL;
}

const ssm_adapter_vtable ssm_adapter_series_patch = {
    .name = ADAPTER_NAME,
    .summary = "series [T, V] -> channel-independent patches (PatchTST: end padding, p, stride), "
               "linear embed + positions, one sequence per variate; orders forward, reverse; "
               "optional RevIN",
    .create = sp_create,
    .init_params = sp_init_params,
    .plan = sp_plan,
    .forward = sp_forward,
    .backward = sp_backward,
    .free_impl = sp_free,
#if SSM_HAVE_CUDA
    .plan_cuda = sp_plan_cuda,
    .forward_cuda = sp_forward_cuda,
    .backward_cuda = sp_backward_cuda,
#endif
};
