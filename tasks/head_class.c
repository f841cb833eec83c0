// defines: ssm_head_class (the head "class")
// The classification head (Vim's): pool a sample's backbone tokens (already
// final-normed by the backbone) to one vector — the class token, the last token, or
// the mean over all S*L tokens of the sample (task.pool) — then a linear layer
// head.weight [V, D], head.bias [V] to logits [V]: out [B, V].
// On a GPU in mixed precision (h->bf16) the linear layer is autocast's: the pooled
// features cast to bf16, the bf16 shadow of head.weight, fp32 accumulation and fp32
// logits; backward: dlogits cast to bf16, fp32 weight and bias gradients, fp32 dpooled.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/linear.h"
#include "tasks/head.h"
#include "tasks/pool.h"
#include "core/device_select.h" // SSM_HAVE_CUDA
#if SSM_HAVE_CUDA
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head.h"
#endif

#define NAME "class"

typedef struct {
    int64_t D, V, L;     // width, classes, tokens per sample (S*L of the trunk)
    int64_t pos;         // pooled position, -1 = the mean
    size_t w_idx, b_idx; // head.weight [V, D], head.bias [V]
    real *pooled;        // [B_max, D] (arena): recomputed in backward
    real *dpooled;       // [B_max, D] (arena)
    void *pooled_h;      // [B_max, D] bf16 (arena, bf16 only)
    void *dlogits_h;     // [B_max, V] bf16 (arena, bf16 only)
} class_head;

static ssm_code ch_create(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    if (opt->num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG, "head %s: %lld classes, expected at least 2", NAME,
                        (long long)opt->num_classes);
    class_head *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    h->impl = c;
    c->D = in->D;
    c->V = opt->num_classes;
    c->L = in->S * in->L;
    SSM_TRY(ssm_head_pool_index(in, opt->pool, NAME, &c->pos, err));
    h->out_numel = c->V;
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%shead.weight", prefix);
    SSM_TRY(ssm_params_add(p, name, 2, (int64_t[]){c->V, c->D}, 0, &c->w_idx, err));
    snprintf(name, sizeof name, "%shead.bias", prefix);
    return ssm_params_add(p, name, 1, (int64_t[]){c->V}, SSM_PARAM_NO_DECAY, &c->b_idx, err);
}

// Vim's init: weight trunc_normal(std=.02), bias 0.
static void ch_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) {
    class_head *c = h->impl;
    ssm_init_trunc_normal(ssm_params_data(p, c->w_idx), (size_t)(c->V * c->D), rng, .02, -2, 2);
    memset(ssm_params_data(p, c->b_idx), 0, (size_t)c->V * sizeof(real));
}

// The same takes on both devices (the arena decides where they live).
static ssm_code ch_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    class_head *c = h->impl;
    c->pooled = ssm_arena_take(a, (size_t)(B_max * c->D) * sizeof(real));
    c->dpooled = ssm_arena_take(a, (size_t)(B_max * c->D) * sizeof(real));
    c->pooled_h = c->dlogits_h = NULL;
    if (h->bf16) { // 2-byte elements
        c->pooled_h = ssm_arena_take(a, (size_t)(B_max * c->D) * 2);
        c->dlogits_h = ssm_arena_take(a, (size_t)(B_max * c->V) * 2);
    }
    return SSM_OK;
}

static ssm_code ch_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                           int64_t B, ssm_error *err) {
    class_head *c = h->impl;
    pool_tokens_forward(c->pooled, feats, c->pos, B, c->L, c->D);
    linear_forward(out, c->pooled, ssm_params_data(p, c->w_idx), ssm_params_data(p, c->b_idx), B,
                   c->D, c->V);
    return SSM_OK;
}

static ssm_code ch_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                            const real *feats, int64_t B, ssm_error *err) {
    class_head *c = h->impl;
    pool_tokens_forward(c->pooled, feats, c->pos, B, c->L, c->D); // cheap: recomputed
    memset(c->dpooled, 0, (size_t)(B * c->D) * sizeof(real));
    linear_backward(c->dpooled, ssm_params_grad(p, c->w_idx), ssm_params_grad(p, c->b_idx), dout,
                    c->pooled, ssm_params_data(p, c->w_idx), B, c->D, c->V);
    pool_tokens_backward(dfeats, c->dpooled, c->pos, B, c->L, c->D);
    return SSM_OK;
}

static void ch_free(ssm_head *h) {
    free(h->impl);
    h->impl = NULL;
}

#if SSM_HAVE_CUDA
static ssm_code ch_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                                int64_t B, ssm_error *err) {
    class_head *c = h->impl;
    SSM_CUDA_TRY(pool_tokens_forward_cuda(c->pooled, feats, c->pos, B, c->L, c->D), err);
    if (h->bf16) {
        if (!p->data_bf16 || !c->pooled_h)
            return ssm_fail(err, SSM_EINVAL, "head %s (bf16): no bf16 weight shadow or no bf16 "
                                             "plan", NAME);
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(c->pooled_h, c->pooled, B * c->D), err);
        SSM_CUDA_TRY(linear_forward_bf16_f32(out, c->pooled_h, ssm_params_data_bf16(p, c->w_idx),
                                             ssm_params_data(p, c->b_idx), B, c->D, c->V),
                     err);
        return SSM_OK;
    }
    SSM_CUDA_TRY(linear_forward_cuda(out, c->pooled, ssm_params_data(p, c->w_idx),
                                     ssm_params_data(p, c->b_idx), B, c->D, c->V),
                 err);
    return SSM_OK;
}

static ssm_code ch_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                 const real *feats, int64_t B, ssm_error *err) {
    class_head *c = h->impl;
    const int64_t D = c->D, V = c->V;
    SSM_CUDA_TRY(pool_tokens_forward_cuda(c->pooled, feats, c->pos, B, c->L, D), err);
    SSM_CUDA_TRY(ssm_cuda_zero(c->dpooled, (size_t)(B * D) * sizeof(real)), err);
    if (h->bf16) {
        const ssm_bf16 *W = ssm_params_data_bf16(p, c->w_idx);
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(c->pooled_h, c->pooled, B * D), err);
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(c->dlogits_h, dout, B * V), err);
        // dpooled [B, D] fp32 = dlogits [B, V] @ W [V, D]
        SSM_CUDA_TRY(gemm_bf16_cuda(c->dpooled, 1, c->dlogits_h, W, B, D, V, 0, 0, 1.f, 0.f), err);
        SSM_CUDA_TRY(linear_backward_bf16(NULL, ssm_params_grad(p, c->w_idx), NULL, c->dlogits_h,
                                          c->pooled_h, W, B, D, V),
                     err);
        SSM_CUDA_TRY(linear_backward_cuda(NULL, NULL, ssm_params_grad(p, c->b_idx), dout, NULL,
                                          NULL, B, D, V),
                     err); // the bias gradient from the fp32 dlogits
    } else {
        SSM_CUDA_TRY(linear_backward_cuda(c->dpooled, ssm_params_grad(p, c->w_idx),
                                          ssm_params_grad(p, c->b_idx), dout, c->pooled,
                                          ssm_params_data(p, c->w_idx), B, D, V),
                     err);
    }
    SSM_CUDA_TRY(pool_tokens_backward_cuda(dfeats, c->dpooled, c->pos, B, c->L, D), err);
    return SSM_OK;
}
#endif

const ssm_head_vtable ssm_head_class = {
    .name = NAME,
    .summary = "pool a sample's tokens (mean, class token or last) -> linear -> logits [V]",
    .create = ch_create,
    .init_params = ch_init_params,
    .plan = ch_plan,
    .forward = ch_forward,
    .backward = ch_backward,
    .free_impl = ch_free,
#if SSM_HAVE_CUDA
    .plan_cuda = ch_plan,
    .forward_cuda = ch_forward_cuda,
    .backward_cuda = ch_backward_cuda,
#endif
};
