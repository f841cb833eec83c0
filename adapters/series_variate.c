// defines: ssm_adapter_series_variate (the adapter "series_variate")
// Multivariate series -> one token per variate, as iTransformer and S-Mamba
// ("inverted" embedding):
//   x [B, T, V] (T = lookback, V = variates, standardised by the dataset)
//   -> optional RevIN (per sample, per variate; adapters/revin.h)
//   -> each variate's whole window x[b, :, v] (T values) is one token:
//      tokens [B, V, D] = x^T @ enc_embedding.value_embedding.weight^T + bias
//      (weight [D, T], bias [D]; the reference's nn.Linear(seq_len, d_model))
// No positions: which variate a token is comes from its values and its place
// in the scan. The scan runs over the V variate tokens; the default orders
// are forward (the identity) and reverse (S-Mamba's bidirectional Mamba).
// One sequence per sample (n_seqs = 1), L = V, no class token.
//
// Options: orders (forward, reverse), extra "revin" / "revin_affine" (0|1),
// "time_features" (F, set by the trunk from data.time_features), "dropout" (p, from
// adapter.dropout: S-Mamba's and iTransformer's DataEmbedding_inverted dropout on the tokens,
// in training steps; ssm_adapter.drop).
// patch_size, stride and in_channels do not apply and are ignored (the
// variates come from the data).
//
// Calendar tokens (time_features = F > 0; iTransformer / S-Mamba's x_mark): the first F
// of the V input columns are the window's calendar features (datasets/series_time.h).
// Each becomes a token like a variate, through the same embedding (the reference embeds
// cat(x, x_mark) with one nn.Linear), but RevIN leaves them as they are: their statistics
// are set to mean 0, std 1, so the head's de-normalisation leaves their (never used)
// forecasts alone too. Tokens stay in column order (calendar first: the head forecasts
// the last columns, the variates); the scan orders visit the variates first, then the
// calendar tokens, as the reference's concatenation [variates, marks] is scanned:
// forward = F, .., V-1, 0, .., F-1, and reverse its flip. RevIN's learnable affine is
// refused with calendar tokens (it would scale them).
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

#define ADAPTER_NAME "series_variate"

typedef struct {
    int64_t T, V;
    int64_t F;     // calendar columns at the front of V (option time_features), or 0
    int revin, affine;
    ssm_revin rv;
    size_t w_idx, b_idx;
    int32_t *base; // [n_orders, V]
    real *xn;      // [B_max, T, V] RevIN output (arena; when revin)
    real *xt;      // [B_max * V, T] the windows variate-major (arena)
    real *dxt;     // [B_max * V, T] their gradient (arena; when affine)
    int32_t *dev_base; // [n_orders, V] the orders' base on the device (CUDA plan)
    real *dev_ones;    // [B_max * F] ones: the calendar columns' RevIN std (CUDA plan)
    double drop;       // dropout on the tokens (option dropout), 0 = none
    real *dtok;        // [B_max * V, D] dtokens through the mask (arena; when drop > 0)
} series_variate;

// The dropout of this pass (0: none) and its rows: V tokens per sample.
static double drop_p(const ssm_adapter *a) {
    const series_variate *sv = a->impl;
    return a->drop.train ? sv->drop : 0;
}
static ssm_dropout_rows drop_rows(const ssm_adapter *a) {
    const series_variate *sv = a->impl;
    return (ssm_dropout_rows){.key = a->drop.key, .rows_per_sample = sv->V};
}

static ssm_code sv_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    SSM_TRY(series_adapter_check_input(opt, in, ADAPTER_NAME, err));
    series_variate *sv = calloc(1, sizeof *sv);
    if (!sv)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    a->impl = sv;
    sv->T = in->dims[0];
    sv->V = in->dims[1];
    SSM_TRY(series_adapter_revin_options(opt, ADAPTER_NAME, &sv->revin, &sv->affine, err));
    SSM_TRY(series_adapter_time_features(opt, ADAPTER_NAME, sv->V, &sv->F, err));
    SSM_TRY(series_adapter_dropout(opt, ADAPTER_NAME, &sv->drop, err));
    if (sv->F > 0 && sv->affine)
        return ssm_fail(err, SSM_ECONFIG,
                        "%s: revin_affine with calendar tokens (data.time_features): the affine "
                        "would scale the calendar columns, which RevIN leaves alone; use "
                        "revin without affine (as S-Mamba and iTransformer do)",
                        ADAPTER_NAME);
    a->seq_len = sv->V;
    a->n_seqs = 1;
    a->cls_index = -1;
    SSM_TRY(series_adapter_orders(a, opt, sv->V, &sv->base, ADAPTER_NAME, err));
    // with calendar tokens every order starts at the first variate (see the header)
    for (int64_t i = 0; sv->F > 0 && i < (int64_t)a->n_orders * sv->V; i++)
        sv->base[i] = (int32_t)((sv->base[i] + sv->F) % sv->V);
    int64_t D = a->d_model;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%senc_embedding.value_embedding.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){D, sv->T}, 0, &sv->w_idx, err));
    snprintf(name, sizeof name, "%senc_embedding.value_embedding.bias", prefix);
    SSM_TRY(ssm_params_add(p, name, 1, (int64_t[]){D}, SSM_PARAM_NO_DECAY, &sv->b_idx, err));
    if (sv->revin) {
        SSM_TRY(ssm_revin_declare(&sv->rv, p, prefix, sv->T, sv->V, sv->affine, err));
        a->inorm = &sv->rv;
    }
    return SSM_OK;
}

// PyTorch's nn.Linear default: weight and bias uniform in +-1/sqrt(fan_in).
static void sv_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    series_variate *sv = a->impl;
    double bound = 1 / sqrt((double)sv->T);
    real *w = ssm_params_data(p, sv->w_idx), *b = ssm_params_data(p, sv->b_idx);
    for (int64_t i = 0; i < a->d_model * sv->T; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < a->d_model; i++)
        b[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    if (sv->revin)
        ssm_revin_init_params(&sv->rv, p);
}

static ssm_code sv_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    series_variate *sv = a->impl;
    size_t n = (size_t)B_max * sv->T * sv->V * sizeof(real);
    sv->xt = ssm_arena_take(arena, n);
    sv->xn = sv->revin ? ssm_arena_take(arena, n) : NULL;
    sv->dxt = sv->affine ? ssm_arena_take(arena, n) : NULL;
    sv->dtok = sv->drop > 0
                   ? ssm_arena_take(arena, (size_t)(B_max * sv->V * a->d_model) * sizeof(real))
                   : NULL;
    if (sv->revin)
        ssm_revin_plan(&sv->rv, arena, B_max);
    return SSM_OK;
}

// xt [B, V, T] from src [B, T, V].
static void to_variate_major(real *xt, const real *src, int64_t B, int64_t T, int64_t V) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++)
            for (int64_t t = 0; t < T; t++)
                xt[((size_t)b * V + v) * T + t] = src[((size_t)b * T + t) * V + v];
}

// RevIN normalised every column: the calendar columns get their raw values back and the
// statistics mean 0, std 1 (as if not normalised).
static void keep_calendar(series_variate *sv, const real *x, int64_t B) {
    const int64_t T = sv->T, V = sv->V, F = sv->F;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t t = 0; t < T; t++)
            memcpy(sv->xn + ((size_t)b * T + t) * V, x + ((size_t)b * T + t) * V,
                   (size_t)F * sizeof(real));
        for (int64_t c = 0; c < F; c++) {
            sv->rv.mean[b * V + c] = 0;
            sv->rv.std[b * V + c] = 1;
        }
    }
}

// The model's input after RevIN (or x itself), variate-major into sv->xt.
static const real *prepare(ssm_adapter *a, const ssm_params *p, const real *x, int64_t B) {
    series_variate *sv = a->impl;
    const real *src = x;
    if (sv->revin) {
        ssm_revin_norm_forward(&sv->rv, p, sv->xn, x, B);
        if (sv->F > 0)
            keep_calendar(sv, x, B);
        src = sv->xn;
    }
    to_variate_major(sv->xt, src, B, sv->T, sv->V);
    return sv->xt;
}

static ssm_code sv_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                           const real *x, int64_t B, ssm_error *err) {
    series_variate *sv = a->impl;
    if (!sv->xt)
        return ssm_fail(err, SSM_EINVAL, "%s: forward before the arena was committed", ADAPTER_NAME);
    for (size_t i = 0, n = (size_t)B * sv->T * sv->V; i < n; i++)
        if (!isfinite(x[i]))
            return ssm_fail(err, SSM_EDATA, "%s: sample %lld, time %lld, variate %lld is %g",
                            ADAPTER_NAME, (long long)(i / (sv->T * sv->V)),
                            (long long)(i / sv->V % sv->T), (long long)(i % sv->V), (double)x[i]);
    const real *xt = prepare(a, p, x, B);
    linear_forward(tokens, xt, ssm_params_data(p, sv->w_idx), ssm_params_data(p, sv->b_idx),
                   B * sv->V, sv->T, a->d_model);
    if (drop_p(a) > 0) {
        const ssm_dropout_rows m = drop_rows(a);
        dropout_apply(tokens, tokens, 0, B * sv->V, a->d_model, &m, SSM_DROP_SITE_ADAPTER,
                      drop_p(a));
    }
    if (orders)
        ssm_adapter_broadcast_orders(orders, sv->base, a->n_orders, B, sv->V);
    return SSM_OK;
}

static void sv_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                        int64_t B) {
    series_variate *sv = a->impl;
    int64_t T = sv->T, V = sv->V;
    const real *xt = prepare(a, p, x, B); // recomputed: independent of the last forward
    if (drop_p(a) > 0) { // the embedding's output gradient: dtokens through the mask
        const ssm_dropout_rows m = drop_rows(a);
        dropout_apply(sv->dtok, dtokens, 0, B * V, a->d_model, &m, SSM_DROP_SITE_ADAPTER,
                      drop_p(a));
        dtokens = sv->dtok;
    }
    if (sv->affine)
        memset(sv->dxt, 0, (size_t)B * V * T * sizeof(real));
    linear_backward(sv->affine ? sv->dxt : NULL, ssm_params_grad(p, sv->w_idx),
                    ssm_params_grad(p, sv->b_idx), dtokens, xt, ssm_params_data(p, sv->w_idx),
                    B * V, T, a->d_model);
    if (!sv->affine)
        return;
    // dxn [B, T, V] (into xn, free now) from dxt [B, V, T], then the affine's gradients.
    for (int64_t b = 0; b < B; b++)
        for (int64_t v = 0; v < V; v++)
            for (int64_t t = 0; t < T; t++)
                sv->xn[((size_t)b * T + t) * V + v] = sv->dxt[((size_t)b * V + v) * T + t];
    ssm_revin_norm_backward(&sv->rv, p, sv->xn, x, B);
}

#if SSM_HAVE_CUDA
// The CUDA path: the same steps on device arrays, fp32 (the embedding is one small GEMM,
// also in mixed precision). The input is not scanned for NaN on the device: a
// non-finite value shows as a non-finite loss, which the step refuses.
static ssm_code sv_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    series_variate *sv = a->impl;
    SSM_TRY(sv_plan(a, arena, B_max, err));
    size_t bytes = (size_t)a->n_orders * (size_t)sv->V * sizeof(int32_t);
    sv->dev_base = ssm_arena_take(arena, bytes);
    if (!ssm_arena_measuring(arena))
        SSM_CUDA_TRY(ssm_cuda_upload(sv->dev_base, sv->base, bytes), err);
    sv->dev_ones = NULL;
    if (sv->revin && sv->F > 0) {
        const size_t n = (size_t)B_max * (size_t)sv->F;
        sv->dev_ones = ssm_arena_take(arena, n * sizeof(real));
        if (!ssm_arena_measuring(arena)) {
            real *ones = malloc(n * sizeof(real));
            if (!ones)
                return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
            for (size_t i = 0; i < n; i++)
                ones[i] = 1;
            ssm_code rc = ssm_cuda_upload(sv->dev_ones, ones, n * sizeof(real));
            free(ones);
            SSM_CUDA_TRY(rc, err);
        }
    }
    return SSM_OK;
}

// keep_calendar on the device: strided copies, no kernel of its own.
static ssm_code keep_calendar_cuda(series_variate *sv, const real *x, int64_t B) {
    const size_t row = (size_t)sv->V * sizeof(real), width = (size_t)sv->F * sizeof(real);
    CUDA_CHECK(cudaMemcpy2DAsync(sv->xn, row, x, row, width, (size_t)(B * sv->T),
                                 cudaMemcpyDeviceToDevice, ssm_cuda_stream()));
    CUDA_CHECK(cudaMemset2DAsync(sv->rv.mean, row, 0, width, (size_t)B, ssm_cuda_stream()));
    CUDA_CHECK(cudaMemcpy2DAsync(sv->rv.std, row, sv->dev_ones, width, width, (size_t)B,
                                 cudaMemcpyDeviceToDevice, ssm_cuda_stream()));
    return SSM_OK;
}

static ssm_code prepare_cuda(ssm_adapter *a, const ssm_params *p, const real *x, int64_t B,
                             ssm_error *err) {
    series_variate *sv = a->impl;
    const real *src = x;
    if (sv->revin) {
        SSM_TRY(ssm_revin_norm_forward_cuda(&sv->rv, p, sv->xn, x, B, err));
        if (sv->F > 0)
            SSM_CUDA_TRY(keep_calendar_cuda(sv, x, B), err);
        src = sv->xn;
    }
    SSM_CUDA_TRY(series_swap_last2_cuda(sv->xt, src, B, sv->T, sv->V), err);
    return SSM_OK;
}

static ssm_code sv_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                                const real *x, int64_t B, ssm_error *err) {
    series_variate *sv = a->impl;
    if (!sv->xt || !sv->dev_base)
        return ssm_fail(err, SSM_EINVAL, "%s: CUDA forward before the device arena was committed",
                        ADAPTER_NAME);
    SSM_TRY(prepare_cuda(a, p, x, B, err));
    SSM_CUDA_TRY(linear_forward_cuda(tokens, sv->xt, ssm_params_data(p, sv->w_idx),
                                     ssm_params_data(p, sv->b_idx), B * sv->V, sv->T, a->d_model),
                 err);
    if (drop_p(a) > 0) {
        const ssm_dropout_rows m = drop_rows(a);
        SSM_CUDA_TRY(dropout_apply_cuda(tokens, tokens, 0, B * sv->V, a->d_model, &m,
                                        SSM_DROP_SITE_ADAPTER, drop_p(a)),
                     err);
    }
    if (orders)
        SSM_CUDA_TRY(orders_broadcast_cuda(orders, sv->dev_base, a->n_orders, B, sv->V), err);
    return SSM_OK;
}

static ssm_code sv_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                                 int64_t B, ssm_error *err) {
    series_variate *sv = a->impl;
    int64_t T = sv->T, V = sv->V;
    SSM_TRY(prepare_cuda(a, p, x, B, err)); // recomputed: independent of the last forward
    if (drop_p(a) > 0) {
        const ssm_dropout_rows m = drop_rows(a);
        SSM_CUDA_TRY(dropout_apply_cuda(sv->dtok, dtokens, 0, B * V, a->d_model, &m,
                                        SSM_DROP_SITE_ADAPTER, drop_p(a)),
                     err);
        dtokens = sv->dtok;
    }
    if (sv->affine)
        SSM_CUDA_TRY(ssm_cuda_zero(sv->dxt, (size_t)B * V * T * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(sv->affine ? sv->dxt : NULL, ssm_params_grad(p, sv->w_idx),
                                      ssm_params_grad(p, sv->b_idx), dtokens, sv->xt,
                                      ssm_params_data(p, sv->w_idx), B * V, T, a->d_model),
                 err);
    if (!sv->affine)
        return SSM_OK;
    SSM_CUDA_TRY(series_swap_last2_cuda(sv->xn, sv->dxt, B, V, T), err); // dxn [B, T, V]
    return ssm_revin_norm_backward_cuda(&sv->rv, p, sv->xn, x, B, err);
}
#endif

static void sv_free(ssm_adapter *a) {
    series_variate *sv = a->impl;
    if (sv)
        free(sv->base);
    free(sv);
    a->impl = NULL;
}

const ssm_adapter_vtable ssm_adapter_series_variate = {
    .name = ADAPTER_NAME,
    .summary = "series [T, V] -> one token per variate (its whole window, linear embed; "
               "iTransformer / S-Mamba); orders forward, reverse; optional RevIN and "
               "calendar tokens",
    .create = sv_create,
    .init_params = sv_init_params,
    .plan = sv_plan,
    .forward = sv_forward,
    .backward = sv_backward,
    .free_impl = sv_free,
#if SSM_HAVE_CUDA
    .plan_cuda = sv_plan_cuda,
    .forward_cuda = sv_forward_cuda,
    .backward_cuda = sv_backward_cuda,
#endif
};
