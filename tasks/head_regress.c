// defines: ssm_head_regress (the head "regress")
// The regression head, the worked example of docs/adding-a-task.md: pool a sample's
// backbone tokens to one vector (task.pool: the mean over all S*L tokens, or the
// class / last token) and map it to K real values with one linear layer
// head.weight [K, D], head.bias [K]: out [B, K].
// It predicts on the dataset's scale, so it refuses an adapter that normalises each
// sample (RevIN): that would hide the level the value depends on, and this head has
// no inversion (the forecast head has one).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/linear.h"
#include "tasks/head.h"
#include "tasks/pool.h"
#if SSM_HAVE_CUDA
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head.h"
#endif

#define NAME "regress"

typedef struct {
    int64_t D, K, L;     // width, outputs, tokens per sample (S*L)
    int64_t pos;         // pooled position, -1 = the mean
    size_t w_idx, b_idx; // head.weight [K, D], head.bias [K]
    real *pooled;        // [B_max, D] (arena): recomputed in backward
    real *dpooled;       // [B_max, D] (arena)
} regress_head;

static ssm_code rh_create(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    if (opt->outputs < 1)
        return ssm_fail(err, SSM_ECONFIG, "head %s: %lld outputs per sample, expected >= 1", NAME,
                        (long long)opt->outputs);
    if (in->inorm)
        return ssm_fail(err, SSM_ECONFIG, "head %s predicts on the dataset's scale, but adapter "
                        "%s normalises each sample: set adapter.revin: false", NAME, in->adapter);
    regress_head *r = calloc(1, sizeof *r);
    if (!r)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    h->impl = r;
    r->D = in->D;
    r->K = opt->outputs;
    r->L = in->S * in->L;
    SSM_TRY(ssm_head_pool_index(in, opt->pool, NAME, &r->pos, err));
    h->out_numel = r->K;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%shead.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){r->K, r->D}, 0, &r->w_idx, err));
    snprintf(name, sizeof name, "%shead.bias", prefix);
    return ssm_params_add(p, name, 1, (int64_t[]){r->K}, SSM_PARAM_NO_DECAY, &r->b_idx, err);
}

// nn.Linear's default: uniform +-1/sqrt(D) for weight and bias.
static void rh_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) {
    regress_head *r = h->impl;
    double bound = 1 / sqrt((double)r->D);
    real *w = ssm_params_data(p, r->w_idx), *b = ssm_params_data(p, r->b_idx);
    for (int64_t i = 0; i < r->K * r->D; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
    for (int64_t i = 0; i < r->K; i++)
        b[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

static ssm_code rh_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    regress_head *r = h->impl;
    r->pooled = ssm_arena_take(a, (size_t)(B_max * r->D) * sizeof(real));
    r->dpooled = ssm_arena_take(a, (size_t)(B_max * r->D) * sizeof(real));
    return SSM_OK;
}

static ssm_code rh_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                           int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    pool_tokens_forward(r->pooled, feats, r->pos, B, r->L, r->D);
    linear_forward(out, r->pooled, ssm_params_data(p, r->w_idx), ssm_params_data(p, r->b_idx), B,
                   r->D, r->K);
    return SSM_OK;
}

static ssm_code rh_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                            const real *feats, int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    pool_tokens_forward(r->pooled, feats, r->pos, B, r->L, r->D); // cheap: recomputed
    memset(r->dpooled, 0, (size_t)(B * r->D) * sizeof(real));
    linear_backward(r->dpooled, ssm_params_grad(p, r->w_idx), ssm_params_grad(p, r->b_idx), dout,
                    r->pooled, ssm_params_data(p, r->w_idx), B, r->D, r->K);
    pool_tokens_backward(dfeats, r->dpooled, r->pos, B, r->L, r->D);
    return SSM_OK;
}

static void rh_free(ssm_head *h) {
    free(h->impl);
    h->impl = NULL;
}

#if SSM_HAVE_CUDA
// The same three steps with the device kernels, fp32 (one small GEMM).
static ssm_code rh_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                                int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    SSM_CUDA_TRY(pool_tokens_forward_cuda(r->pooled, feats, r->pos, B, r->L, r->D), err);
    SSM_CUDA_TRY(linear_forward_cuda(out, r->pooled, ssm_params_data(p, r->w_idx),
                                     ssm_params_data(p, r->b_idx), B, r->D, r->K),
                 err);
    return SSM_OK;
}

static ssm_code rh_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                 const real *feats, int64_t B, ssm_error *err) {
    regress_head *r = h->impl;
    SSM_CUDA_TRY(pool_tokens_forward_cuda(r->pooled, feats, r->pos, B, r->L, r->D), err);
    SSM_CUDA_TRY(ssm_cuda_zero(r->dpooled, (size_t)(B * r->D) * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(r->dpooled, ssm_params_grad(p, r->w_idx),
                                      ssm_params_grad(p, r->b_idx), dout, r->pooled,
                                      ssm_params_data(p, r->w_idx), B, r->D, r->K),
                 err);
    SSM_CUDA_TRY(pool_tokens_backward_cuda(dfeats, r->dpooled, r->pos, B, r->L, r->D), err);
    return SSM_OK;
}
#endif

const ssm_head_vtable ssm_head_regress = {
    .name = NAME,
    .summary = "pool a sample's tokens -> linear -> K real values",
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
