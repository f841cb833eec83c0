// defines: ssm_head_regress (the head "regress")
// The regression head, the worked example of docs/adding-a-task.md, for a sample
// x [T, G] of G variates: pool the sample's backbone tokens to one vector (task.pool:
// the mean over all S*L tokens, or the class / last token), map it to one value per
// variate with one linear layer head.weight [G, D], head.bias [G], invert the
// adapter's RevIN when it normalised the sample (so the value is on the dataset's
// scale, with the window's level: without it a model must recover the level from
// normalised inputs), and output the target columns, the LAST K of the G:
// out [B, K].
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/revin.h"
#include "kernels/linear.h"
#include "tasks/head.h"
#include "tasks/pool.h"
#include "core/device_select.h" // SSM_HAVE_CUDA
#if SSM_HAVE_CUDA
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head.h"
#endif

#define NAME "regress"

typedef struct {
    int64_t D, G, K, L;  // width, variates, outputs (targets), tokens per sample (S*L)
    int64_t pos;         // pooled position, -1 = the mean
    size_t w_idx, b_idx; // head.weight [G, D], head.bias [G]
    const ssm_revin *rv; // the adapter's RevIN, or NULL
    real *pooled;        // [B_max, D] (arena): recomputed in backward
    real *dpooled;       // [B_max, D] (arena)
    real *yn;            // [B_max, G] the linear layer's output (arena): read by backward
    real *pred;          // [B_max, G] de-normalised (arena; RevIN only, else = yn)
    real *dpred;         // [B_max, G] (arena)
    real *dyn;           // [B_max, G] (arena; RevIN only, else = dpred)
} regress_head;

static ssm_code rh_create(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    if (in->input.ndim != 2 || opt->outputs < 1 || opt->outputs > in->input.dims[1])
        return ssm_fail(err, SSM_ECONFIG, "head %s: %lld outputs of a %d-dimensional sample, "
                        "expected a [lookback, variates] sample and 1..variates outputs", NAME,
                        (long long)opt->outputs, in->input.ndim);
    regress_head *r = calloc(1, sizeof *r);
    if (!r)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    h->impl = r;
    r->D = in->D;
    r->G = in->input.dims[1];
    r->K = opt->outputs;
    r->rv = in->inorm;
    if (r->rv && r->rv->V != r->G)
        return ssm_fail(err, SSM_EINVAL, "head %s: RevIN over %lld variates, head over %lld", NAME,
                        (long long)r->rv->V, (long long)r->G);
    r->L = in->S * in->L;
    SSM_TRY(ssm_head_pool_index(in, opt->pool, NAME, &r->pos, err));
    h->out_numel = r->K;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%shead.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){r->G, r->D}, 0, &r->w_idx, err));
    snprintf(name, sizeof name, "%shead.bias", prefix);
    return ssm_params_add(p, name, 1, (int64_t[]){r->G}, SSM_PARAM_NO_DECAY, &r->b_idx, err);
}

// nn.Linear's default: uniform +-1/sqrt(D) for weight and bias.
static void rh_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) {
    regress_head *r = h->impl;
    double bound = 1 / sqrt((double)r->D);
    real *w = ssm_params_data(p, r->w_idx), *b = ssm_params_data(p, r->b_idx);
    for (int64_t i = 0; i < r->G * r->D; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < r->G; i++)
        b[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

static ssm_code rh_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    regress_head *r = h->impl;
    r->pooled = ssm_arena_take(a, (size_t)(B_max * r->D) * sizeof(real));
    r->dpooled = ssm_arena_take(a, (size_t)(B_max * r->D) * sizeof(real));
    size_t n = (size_t)(B_max * r->G) * sizeof(real);
    r->yn = ssm_arena_take(a, n);
    r->dpred = ssm_arena_take(a, n);
    r->pred = r->rv ? ssm_arena_take(a, n) : r->yn;
    r->dyn = r->rv ? ssm_arena_take(a, n) : r->dpred;
    return SSM_OK;
}

static ssm_code rh_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                           int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    pool_tokens_forward(r->pooled, feats, r->pos, B, r->L, r->D);
    linear_forward(r->yn, r->pooled, ssm_params_data(p, r->w_idx), ssm_params_data(p, r->b_idx), B,
                   r->D, r->G);
    if (r->rv) // [B, 1, G]: a horizon of one step
        ssm_revin_denorm_forward(r->rv, p, r->pred, r->yn, B, 1);
    for (int64_t b = 0; b < B; b++)
        memcpy(out + b * r->K, r->pred + b * r->G + r->G - r->K, (size_t)r->K * sizeof(real));
    return SSM_OK;
}

static ssm_code rh_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                            const real *feats, int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    const int64_t G = r->G, K = r->K;
    memset(r->dpred, 0, (size_t)(B * G) * sizeof(real)); // no gradient on non-targets
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < K; j++)
            r->dpred[b * G + G - K + j] += dout[b * K + j];
    if (r->rv) { // with the statistics of the adapter's last forward (this batch's)
        memset(r->dyn, 0, (size_t)(B * G) * sizeof(real));
        ssm_revin_denorm_backward(r->rv, p, r->dyn, r->dpred, r->yn, B, 1);
    }
    pool_tokens_forward(r->pooled, feats, r->pos, B, r->L, r->D); // cheap: recomputed
    memset(r->dpooled, 0, (size_t)(B * r->D) * sizeof(real));
    linear_backward(r->dpooled, ssm_params_grad(p, r->w_idx), ssm_params_grad(p, r->b_idx), r->dyn,
                    r->pooled, ssm_params_data(p, r->w_idx), B, r->D, G);
    pool_tokens_backward(dfeats, r->dpooled, r->pos, B, r->L, r->D);
    return SSM_OK;
}

static void rh_free(ssm_head *h) {
    free(h->impl);
    h->impl = NULL;
}

#if SSM_HAVE_CUDA
// The same steps with the device kernels, fp32 (one small GEMM).
static ssm_code rh_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                                int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    SSM_CUDA_TRY(pool_tokens_forward_cuda(r->pooled, feats, r->pos, B, r->L, r->D), err);
    SSM_CUDA_TRY(linear_forward_cuda(r->yn, r->pooled, ssm_params_data(p, r->w_idx),
                                     ssm_params_data(p, r->b_idx), B, r->D, r->G),
                 err);
    if (r->rv)
        SSM_TRY(ssm_revin_denorm_forward_cuda(r->rv, p, r->pred, r->yn, B, 1, err));
    SSM_CUDA_TRY(columns_gather_cuda(out, r->pred, B, r->G, r->G - r->K, r->K), err);
    return SSM_OK;
}

static ssm_code rh_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                 const real *feats, int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    const size_t n = (size_t)(B * r->G) * sizeof(real);
    SSM_CUDA_TRY(ssm_cuda_zero(r->dpred, n), err);
    SSM_CUDA_TRY(columns_scatter_add_cuda(r->dpred, dout, B, r->G, r->G - r->K, r->K), err);
    if (r->rv) {
        SSM_CUDA_TRY(ssm_cuda_zero(r->dyn, n), err);
        SSM_TRY(ssm_revin_denorm_backward_cuda(r->rv, p, r->dyn, r->dpred, r->yn, B, 1, err));
    }
    SSM_CUDA_TRY(pool_tokens_forward_cuda(r->pooled, feats, r->pos, B, r->L, r->D), err);
    SSM_CUDA_TRY(ssm_cuda_zero(r->dpooled, (size_t)(B * r->D) * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(r->dpooled, ssm_params_grad(p, r->w_idx),
                                      ssm_params_grad(p, r->b_idx), r->dyn, r->pooled,
                                      ssm_params_data(p, r->w_idx), B, r->D, r->G),
                 err);
    SSM_CUDA_TRY(pool_tokens_backward_cuda(dfeats, r->dpooled, r->pos, B, r->L, r->D), err);
    return SSM_OK;
}
#endif

const ssm_head_vtable ssm_head_regress = {
    .name = NAME,
    .summary = "pool a sample's tokens -> linear -> a value per variate, RevIN inverted: [K]",
    .create = rh_create,
    .init_params = rh_init_params,
    .plan = rh_plan,
    .forward = rh_forward,
    .backward = rh_backward,
    .free_impl = rh_free,
#if SSM_HAVE_CUDA
    .plan_cuda = rh_plan,
    .forward_cuda = rh_forward_cuda,
    .backward_cuda = rh_backward_cuda,
#endif
};
