// defines: ssm_head_forecast (the head "forecast")
// The forecast head: a linear projection of each variate's features to the horizon,
// then RevIN's inversion when the adapter normalised each window (its `inorm`), so
// that the forecast is on the dataset's (standardised) scale, as the targets are.
//
// One sample's backbone features are a contiguous block of S*L*D values
// (tasks/trunk.h). The head views it as G groups of F = S*L*D / G values, one group
// per input variate, and maps each group to H values with one shared linear layer
// head.weight [H, F], head.bias [H]:
//   series_variate (one token per variate, S = 1, L = V):  F = D
//     (iTransformer / S-Mamba's projector: token -> H)
//   series_patch (one sequence of P patches per variate, S = V): F = P*D
//     (PatchTST's flatten head: a variate's patch tokens flattened -> H)
// Every variate is forecast (RevIN and the head are per variate), but the output is
// the target columns only, out [B, H, Vout]: the LAST Vout of the G (features MS:
// every variate in, the target out, which the dataset puts last; the reference's
// f_dim = -1), laid out as the batch's targets y_dense [B, H, Vout].
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/revin.h"
#include "kernels/linear.h"
#include "tasks/head.h"
#include "core/device_select.h" // SSM_HAVE_CUDA
#if SSM_HAVE_CUDA
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head.h"
#endif

#define NAME "forecast"

typedef struct {
    int64_t G, F, H, Vout;  // groups (input variates), features per group, horizon, targets
    size_t w_idx, b_idx;    // head.weight [H, F], head.bias [H]
    const ssm_revin *rv;    // the adapter's RevIN, or NULL
    real *tmp;   // [B_max * G, H] the linear layer's output / its gradient (arena)
    real *yn;    // [B_max, H, G] head output, RevIN-normalised scale (arena): read by backward
    real *pred;  // [B_max, H, G] de-normalised (arena; RevIN only)
    real *dpred; // [B_max, H, G] (arena)
    real *dyn;   // [B_max, H, G] (arena; RevIN only)
} forecast_head;

static ssm_code fh_create(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    if (in->input.ndim != 2)
        return ssm_fail(err, SSM_EINVAL, "head %s: input has %d dimensions, expected [lookback, "
                        "variates]", NAME, in->input.ndim);
    forecast_head *f = calloc(1, sizeof *f);
    if (!f)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    h->impl = f;
    f->G = in->input.dims[1];
    f->H = opt->horizon;
    f->Vout = opt->out_vars;
    if (f->H < 1 || f->Vout < 1 || f->Vout > f->G)
        return ssm_fail(err, SSM_EINVAL, "head %s: horizon %lld, %lld target variates out of %lld "
                        "inputs (expected a horizon >= 1 and 1..inputs targets)", NAME,
                        (long long)f->H, (long long)f->Vout, (long long)f->G);
    int64_t per_sample = in->S * in->L * in->D;
    if (per_sample % f->G != 0)
        return ssm_fail(err, SSM_ECONFIG,
                        "head %s: adapter %s gives %lld features per sample, not a multiple of "
                        "the %lld variates (use series_variate or series_patch)",
                        NAME, in->adapter, (long long)per_sample, (long long)f->G);
    f->F = per_sample / f->G;
    f->rv = in->inorm;
    if (f->rv && f->rv->V != f->G)
        return ssm_fail(err, SSM_EINVAL, "head %s: RevIN over %lld variates, head over %lld", NAME,
                        (long long)f->rv->V, (long long)f->G);
    h->out_numel = f->H * f->Vout;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%shead.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){f->H, f->F}, 0, &f->w_idx, err));
    snprintf(name, sizeof name, "%shead.bias", prefix);
    return ssm_params_add(p, name, 1, (int64_t[]){f->H}, SSM_PARAM_NO_DECAY, &f->b_idx, err);
}

// nn.Linear's default: uniform +-1/sqrt(F) for weight and bias.
static void fh_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) {
    forecast_head *f = h->impl;
    double bound = 1 / sqrt((double)f->F);
    real *w = ssm_params_data(p, f->w_idx), *b = ssm_params_data(p, f->b_idx);
    for (int64_t i = 0; i < f->H * f->F; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < f->H; i++)
        b[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

static ssm_code fh_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    forecast_head *f = h->impl;
    size_t n = (size_t)B_max * f->H * f->G * sizeof(real);
    f->tmp = ssm_arena_take(a, n);
    f->yn = ssm_arena_take(a, n);
    f->dpred = ssm_arena_take(a, n);
    f->pred = f->rv ? ssm_arena_take(a, n) : f->yn;
    f->dyn = f->rv ? ssm_arena_take(a, n) : f->dpred;
    return SSM_OK;
}

// [B, X, Y] -> [B, Y, X]
static void swap_last2(real *out, const real *in, int64_t B, int64_t X, int64_t Y) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t x = 0; x < X; x++)
            for (int64_t y = 0; y < Y; y++)
                out[((size_t)b * Y + y) * X + x] = in[((size_t)b * X + x) * Y + y];
}

static ssm_code fh_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                           int64_t B, ssm_error *err) {
    forecast_head *f = h->impl;
    const int64_t G = f->G, H = f->H, K = f->Vout;
    linear_forward(f->tmp, feats, ssm_params_data(p, f->w_idx), ssm_params_data(p, f->b_idx),
                   B * G, f->F, H);
    swap_last2(f->yn, f->tmp, B, G, H); // [B, G, H] -> [B, H, G], time-major like the targets
    if (f->rv)
        ssm_revin_denorm_forward(f->rv, p, f->pred, f->yn, B, H);
    for (int64_t r = 0; r < B * H; r++) // the target columns: the last K
        memcpy(out + r * K, f->pred + r * G + G - K, (size_t)K * sizeof(real));
    return SSM_OK;
}

static ssm_code fh_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                            const real *feats, int64_t B, ssm_error *err) {
    forecast_head *f = h->impl;
    const int64_t G = f->G, H = f->H, K = f->Vout;
    size_t n = (size_t)B * H * G;
    memset(f->dpred, 0, n * sizeof(real)); // the columns that are not targets get no gradient
    for (int64_t r = 0; r < B * H; r++)
        for (int64_t j = 0; j < K; j++)
            f->dpred[r * G + G - K + j] += dout[r * K + j];
    if (f->rv) { // with the statistics of the adapter's last forward (this batch's)
        memset(f->dyn, 0, n * sizeof(real));
        ssm_revin_denorm_backward(f->rv, p, f->dyn, f->dpred, f->yn, B, H);
    }
    swap_last2(f->tmp, f->dyn, B, H, G);
    linear_backward(dfeats, ssm_params_grad(p, f->w_idx), ssm_params_grad(p, f->b_idx), f->tmp,
                    feats, ssm_params_data(p, f->w_idx), B * G, f->F, H);
    return SSM_OK;
}

static void fh_free(ssm_head *h) {
    free(h->impl);
    h->impl = NULL;
}

#if SSM_HAVE_CUDA
// The same steps with device kernels (tasks/cuda/head.h, adapters/revin.h's twins).
// fp32 throughout, also in mixed precision: the head is one small GEMM.
static ssm_code fh_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                                int64_t B, ssm_error *err) {
    forecast_head *f = h->impl;
    const int64_t G = f->G, H = f->H, K = f->Vout;
    SSM_CUDA_TRY(linear_forward_cuda(f->tmp, feats, ssm_params_data(p, f->w_idx),
                                     ssm_params_data(p, f->b_idx), B * G, f->F, H),
                 err);
    SSM_CUDA_TRY(swap_last2_cuda(f->yn, f->tmp, B, G, H), err);
    if (f->rv)
        SSM_TRY(ssm_revin_denorm_forward_cuda(f->rv, p, f->pred, f->yn, B, H, err));
    SSM_CUDA_TRY(columns_gather_cuda(out, f->pred, B * H, G, G - K, K), err);
    return SSM_OK;
}

static ssm_code fh_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                 const real *feats, int64_t B, ssm_error *err) {
    forecast_head *f = h->impl;
    const int64_t G = f->G, H = f->H, K = f->Vout;
    size_t n = (size_t)B * H * G;
    SSM_CUDA_TRY(ssm_cuda_zero(f->dpred, n * sizeof(real)), err);
    SSM_CUDA_TRY(columns_scatter_add_cuda(f->dpred, dout, B * H, G, G - K, K), err);
    if (f->rv) {
        SSM_CUDA_TRY(ssm_cuda_zero(f->dyn, n * sizeof(real)), err);
        SSM_TRY(ssm_revin_denorm_backward_cuda(f->rv, p, f->dyn, f->dpred, f->yn, B, H, err));
    }
    SSM_CUDA_TRY(swap_last2_cuda(f->tmp, f->dyn, B, H, G), err);
    SSM_CUDA_TRY(linear_backward_cuda(dfeats, ssm_params_grad(p, f->w_idx),
                                      ssm_params_grad(p, f->b_idx), f->tmp, feats,
                                      ssm_params_data(p, f->w_idx), B * G, f->F, H),
                 err);
    return SSM_OK;
}
#endif

const ssm_head_vtable ssm_head_forecast = {
    .name = NAME,
    .summary = "each variate's features -> linear -> the horizon, RevIN inverted: [H, Vout]",
    .create = fh_create,
    .init_params = fh_init_params,
    .plan = fh_plan,
    .forward = fh_forward,
    .backward = fh_backward,
    .free_impl = fh_free,
#if SSM_HAVE_CUDA
    .plan_cuda = fh_plan,
    .forward_cuda = fh_forward_cuda,
    .backward_cuda = fh_backward_cuda,
#endif
};
