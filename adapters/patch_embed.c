// defines: the shared patch embedding of image_patches and audio_patches (see patch_embed.h)
#include "adapters/patch_embed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/linear.h"
#if SSM_HAVE_CUDA
#include "adapters/cuda/patches.h"
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/linear.h"
#endif

ssm_code patch_grid_setup(patch_grid *g, int64_t p, int64_t sh, int64_t sw, const char *who,
                          const char *what, ssm_error *err) {
    g->p = p;
    g->sh = sh;
    g->sw = sw;
    if (p < 1 || sh < 1 || sw < 1) {
        if (sh == sw)
            return ssm_fail(err, SSM_ECONFIG, "%s: patch_size = %lld, stride = %lld, expected >= 1",
                            who, (long long)p, (long long)sh);
        return ssm_fail(err, SSM_ECONFIG, "%s: patch_size = %lld, strides = %lld (rows), %lld "
                        "(columns), expected >= 1", who, (long long)p, (long long)sh,
                        (long long)sw);
    }
    if (p > g->H || p > g->W)
        return ssm_fail(err, SSM_ECONFIG, "%s: patch_size %lld does not fit in a %lldx%lld %s", who,
                        (long long)p, (long long)g->H, (long long)g->W, what);
    g->gh = (g->H - p) / sh + 1;
    g->gw = (g->W - p) / sw + 1;
    g->P = g->gh * g->gw;
    g->K = g->C * p * p;
    if (g->P + 1 > INT32_MAX)
        return ssm_fail(err, SSM_ECONFIG, "%s: %lld patches, more than int32 scan orders hold", who,
                        (long long)g->P);
    return SSM_OK;
}

// Position of patch k (row-major) in the token layout.
static inline int64_t patch_pos(int64_t k, int64_t c) { return c >= 0 && k >= c ? k + 1 : k; }

void patch_order_build(int32_t *perm, patch_scan scan, int reversed, int64_t gh, int64_t gw,
                       int64_t c) {
    int64_t P = gh * gw, L = P + (c >= 0);
    int64_t step = 0, j = 0; // j counts patches visited so far
    for (int64_t l = 0; l < L; l++) {
        if (l == c) { // the class token keeps its step in forward orders
            perm[step++] = (int32_t)c;
            continue;
        }
        int64_t k; // the j-th patch of this order, row-major index
        if (scan == PATCH_SCAN_ROW) {
            k = j;
        } else if (scan == PATCH_SCAN_COLUMN) {
            k = (j % gh) * gw + j / gh;
        } else { // snake
            int64_t r = j / gw, q = j % gw;
            k = r * gw + (r % 2 ? gw - 1 - q : q);
        }
        perm[step++] = (int32_t)patch_pos(k, c);
        j++;
    }
    if (reversed)
        for (int64_t a = 0, b = L - 1; a < b; a++, b--) {
            int32_t t = perm[a];
            perm[a] = perm[b];
            perm[b] = t;
        }
}

static ssm_code declare(ssm_params *p, const char *who, const char *prefix, const char *suffix,
                        int ndim, const int64_t *shape, unsigned flags, size_t *idx,
                        ssm_error *err) {
    char name[SSM_PARAM_NAME_MAX];
    if (snprintf(name, sizeof name, "%s%s", prefix, suffix) >= (int)sizeof name)
        return ssm_fail(err, SSM_EINVAL, "%s: parameter name %s%s too long", who, prefix, suffix);
    return ssm_params_add(p, name, ndim, shape, flags, idx, err);
}

ssm_code patch_embed_create(ssm_adapter *a, const ssm_adapter_options *opt,
                            const patch_order_name *names, int n_names,
                            const char *const *defaults, int n_defaults, ssm_params *p,
                            const char *prefix, ssm_error *err) {
    patch_embed *pe = a->impl;
    const char *who = a->vt->name;
    const patch_grid *g = &pe->g;
    int64_t D = a->d_model;
    switch (opt->cls_token) {
    case SSM_CLS_DEFAULT: // Vim's and AuM's choice: the middle token is reached from both halves
    case SSM_CLS_MIDDLE: a->cls_index = g->P / 2; break;
    case SSM_CLS_HEAD: a->cls_index = 0; break;
    case SSM_CLS_NONE: a->cls_index = -1; break;
    default:
        return ssm_fail(err, SSM_ECONFIG, "%s: cls_token = %d, expected head, middle or none", who,
                        (int)opt->cls_token);
    }
    a->seq_len = g->P + (a->cls_index >= 0);
    int64_t L = a->seq_len;

    a->n_orders = opt->n_orders ? opt->n_orders : n_defaults;
    pe->base = malloc((size_t)a->n_orders * (size_t)L * sizeof *pe->base);
    if (!pe->base)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", who);
    for (int o = 0; o < a->n_orders; o++) {
        const char *name = opt->n_orders ? opt->orders[o] : defaults[o];
        int which = -1;
        for (int i = 0; i < n_names && which < 0; i++)
            if (strcmp(name, names[i].name) == 0)
                which = i;
        if (which < 0) {
            char list[384];
            size_t used = 0;
            for (int i = 0; i < n_names && used < sizeof list; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, i ? ", %s" : "%s",
                                         names[i].name);
            return ssm_fail(err, SSM_ECONFIG, "%s: unknown scan order '%s'; known: %s", who, name,
                            list);
        }
        patch_order_build(pe->base + (size_t)o * L, names[which].scan, names[which].reversed,
                          g->gh, g->gw, a->cls_index);
        snprintf(a->order_names[o], sizeof a->order_names[o], "%s", name);
    }
    a->cls_blind = a->cls_index >= 0;
    for (int o = 0; o < a->n_orders; o++)
        if (pe->base[(size_t)o * L] != a->cls_index)
            a->cls_blind = 0;

    SSM_TRY(declare(p, who, prefix, "patch_embed.proj.weight", 4,
                    (int64_t[]){D, g->C, g->p, g->p}, 0, &pe->w_idx, err));
    SSM_TRY(declare(p, who, prefix, "patch_embed.proj.bias", 1, (int64_t[]){D}, SSM_PARAM_NO_DECAY,
                    &pe->b_idx, err));
    if (a->cls_index >= 0)
        SSM_TRY(declare(p, who, prefix, "cls_token", 3, (int64_t[]){1, 1, D}, SSM_PARAM_NO_DECAY,
                        &pe->cls_idx, err));
    SSM_TRY(declare(p, who, prefix, "pos_embed", 3, (int64_t[]){1, L, D}, SSM_PARAM_NO_DECAY,
                    &pe->pos_idx, err));
    return SSM_OK;
}

// Vim's init: the patch conv with lecun_normal (truncated normal at 2 std,
// std = sqrt(1/fan_in) / .8796 to undo the truncation's shrink), bias 0;
// pos_embed and cls_token trunc_normal(std=.02).
void patch_embed_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    patch_embed *pe = a->impl;
    int64_t D = a->d_model, L = a->seq_len, K = pe->g.K;
    double std = sqrt(1.0 / (double)K) / .87962566103423978;
    ssm_init_trunc_normal(ssm_params_data(p, pe->w_idx), (size_t)(D * K), rng, std, -2 * std,
                          2 * std);
    memset(ssm_params_data(p, pe->b_idx), 0, (size_t)D * sizeof(real));
    ssm_init_trunc_normal(ssm_params_data(p, pe->pos_idx), (size_t)(L * D), rng, .02, -2, 2);
    if (a->cls_index >= 0)
        ssm_init_trunc_normal(ssm_params_data(p, pe->cls_idx), (size_t)D, rng, .02, -2, 2);
}

ssm_code patch_embed_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    patch_embed *pe = a->impl;
    size_t rows = (size_t)B_max * (size_t)pe->g.P;
    pe->cols = ssm_arena_take(arena, rows * (size_t)pe->g.K * sizeof(real));
    pe->emb = ssm_arena_take(arena, rows * (size_t)a->d_model * sizeof(real));
    return SSM_OK;
}

// cols [B*P, K] from x through the view (patch_grid.h). A view whose columns are
// contiguous (images) copies p values at a time.
static void im2col(real *cols, const real *x, const patch_grid *g, int64_t B) {
    int64_t C = g->C, p = g->p, gw = g->gw, P = g->P, K = g->K;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < P; k++) {
            int64_t gi = k / gw, gj = k % gw;
            real *row = cols + ((size_t)b * P + k) * K;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ki = 0; ki < p; ki++) {
                    const real *src = x + (size_t)b * g->st_n + c * g->st_c +
                                      (gi * g->sh + ki) * g->st_h + gj * g->sw * g->st_w;
                    real *dst = row + (c * p + ki) * p;
                    if (g->st_w == 1)
                        memcpy(dst, src, (size_t)p * sizeof(real));
                    else
                        for (int64_t kj = 0; kj < p; kj++)
                            dst[kj] = src[kj * g->st_w];
                }
        }
}

ssm_code patch_embed_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                             const real *x, int64_t B, ssm_error *err) {
    patch_embed *pe = a->impl;
    if (!pe->cols || !pe->emb)
        return ssm_fail(err, SSM_EINVAL, "%s: forward before the arena was committed", a->vt->name);
    int64_t D = a->d_model, L = a->seq_len, P = pe->g.P, c = a->cls_index;
    im2col(pe->cols, x, &pe->g, B);
    // emb [B*P, D] = cols [B*P, K] @ weight[D, K]^T + bias
    linear_forward(pe->emb, pe->cols, ssm_params_data(p, pe->w_idx), ssm_params_data(p, pe->b_idx),
                   B * P, pe->g.K, D);
    const real *pos = ssm_params_data(p, pe->pos_idx); // [L, D]
    const real *cls = c >= 0 ? ssm_params_data(p, pe->cls_idx) : NULL;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++) {
            real *t = tokens + ((size_t)b * L + l) * D;
            const real *pp = pos + (size_t)l * D;
            // position l holds the class token (l == c) or patch l - (c >= 0 && l > c)
            const real *src = l == c ? cls : pe->emb + ((size_t)b * P + l - (c >= 0 && l > c)) * D;
            for (int64_t d = 0; d < D; d++)
                t[d] = src[d] + pp[d];
        }
    if (orders)
        ssm_adapter_broadcast_orders(orders, pe->base, a->n_orders, B, L);
    return SSM_OK;
}

void patch_embed_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                          int64_t B) {
    patch_embed *pe = a->impl;
    int64_t D = a->d_model, L = a->seq_len, P = pe->g.P, c = a->cls_index;
    real *dpos = ssm_params_grad(p, pe->pos_idx); // [L, D]
    // Positions and class token: sums over the batch (columns d are independent).
#pragma omp parallel for schedule(static)
    for (int64_t l = 0; l < L; l++)
        for (int64_t b = 0; b < B; b++) {
            const real *g = dtokens + ((size_t)b * L + l) * D;
            for (int64_t d = 0; d < D; d++)
                dpos[l * D + d] += g[d];
        }
    if (c >= 0) {
        real *dcls = ssm_params_grad(p, pe->cls_idx);
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++)
                dcls[d] += dtokens[((size_t)b * L + c) * D + d];
    }
    // Patch rows of dtokens, gathered contiguous into emb (free after forward),
    // then the embedding's weight and bias gradients from a recomputed im2col.
    real *demb = pe->emb;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < P; k++)
            memcpy(demb + ((size_t)b * P + k) * D, dtokens + ((size_t)b * L + patch_pos(k, c)) * D,
                   (size_t)D * sizeof(real));
    im2col(pe->cols, x, &pe->g, B);
    linear_backward(NULL, ssm_params_grad(p, pe->w_idx), ssm_params_grad(p, pe->b_idx), demb,
                    pe->cols, ssm_params_data(p, pe->w_idx), B * P, pe->g.K, D);
}

// One axis of align_corners=False linear resampling: output cell i reads input cells
// *i0, *i1 with weight 1 - *w, *w.
static void resample_tap(int64_t i, int64_t in, int64_t out, int64_t *i0, int64_t *i1,
                         double *w) {
    double x = ((double)i + 0.5) * (double)in / (double)out - 0.5;
    if (x < 0)
        x = 0;
    *i0 = (int64_t)x;
    if (*i0 > in - 1)
        *i0 = in - 1;
    *i1 = *i0 + 1 < in ? *i0 + 1 : in - 1;
    *w = x - (double)*i0;
    if (*i1 == *i0)
        *w = 0;
}

void patch_embed_resize_positions(real *dst, int64_t gh1, int64_t gw1, int64_t c1,
                                  const real *src, int64_t gh0, int64_t gw0, int64_t c0,
                                  int64_t D) {
    if (c1 >= 0 && c0 >= 0)
        memcpy(dst + c1 * D, src + c0 * D, (size_t)D * sizeof(real));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < gh1 * gw1; k++) {
        int64_t r = k / gw1, q = k % gw1, r0, r1, q0, q1;
        double wr, wq;
        resample_tap(r, gh0, gh1, &r0, &r1, &wr);
        resample_tap(q, gw0, gw1, &q0, &q1, &wq);
        const real *a = src + patch_pos(r0 * gw0 + q0, c0) * D;
        const real *b = src + patch_pos(r0 * gw0 + q1, c0) * D;
        const real *c = src + patch_pos(r1 * gw0 + q0, c0) * D;
        const real *e = src + patch_pos(r1 * gw0 + q1, c0) * D;
        real *o = dst + patch_pos(k, c1) * D;
        if (wr == 0 && wq == 0) { // an unchanged axis pair: exact copies
            memcpy(o, a, (size_t)D * sizeof(real));
            continue;
        }
        for (int64_t d = 0; d < D; d++)
            o[d] = (real)((1 - wr) * ((1 - wq) * a[d] + wq * b[d]) +
                          wr * ((1 - wq) * c[d] + wq * e[d]));
    }
}

ssm_code patch_embed_resize_from(const ssm_adapter *to, real *dst, const ssm_adapter *from,
                                 const real *src, ssm_error *err) {
    if (to->vt->forward != patch_embed_forward || from->vt->forward != patch_embed_forward)
        return ssm_fail(err, SSM_EINVAL, "adapter %s: its positions cannot be resized (only "
                        "the patch adapters' can)", to->vt->name);
    const patch_embed *pt = to->impl, *pf = from->impl;
    if (to->d_model != from->d_model || (to->cls_index >= 0) != (from->cls_index >= 0))
        return ssm_fail(err, SSM_EINVAL, "%s: positions of width %lld%s cannot become width "
                        "%lld%s", to->vt->name, (long long)from->d_model,
                        from->cls_index >= 0 ? " with a class token" : "",
                        (long long)to->d_model, to->cls_index >= 0 ? " with a class token" : "");
    patch_embed_resize_positions(dst, pt->g.gh, pt->g.gw, to->cls_index, src, pf->g.gh,
                                 pf->g.gw, from->cls_index, to->d_model);
    return SSM_OK;
}

void patch_embed_free(ssm_adapter *a) {
    patch_embed *pe = a->impl;
    if (pe)
        free(pe->base);
    free(pe);
    a->impl = NULL;
}

#if SSM_HAVE_CUDA
// The CUDA path: the same steps as the CPU forward / backward on device arrays. The
// orders do not depend on the content, so their base is uploaded once at plan time
// and broadcast on the device per batch.
ssm_code patch_embed_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    patch_embed *pe = a->impl;
    SSM_TRY(patch_embed_plan(a, arena, B_max, err));
    size_t bytes = (size_t)a->n_orders * (size_t)a->seq_len * sizeof(int32_t);
    pe->dev_base = ssm_arena_take(arena, bytes);
    pe->demb_h = a->bf16 ? ssm_arena_take(arena, (size_t)(B_max * pe->g.P * a->d_model) * 2) : NULL;
    if (!ssm_arena_measuring(arena))
        SSM_CUDA_TRY(ssm_cuda_upload(pe->dev_base, pe->base, bytes), err);
    return SSM_OK;
}

ssm_code patch_embed_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens,
                                  int32_t *orders, const real *x, int64_t B, ssm_error *err) {
    patch_embed *pe = a->impl;
    if (!pe->cols || !pe->emb || !pe->dev_base)
        return ssm_fail(err, SSM_EINVAL, "%s: CUDA forward before the device arena was committed",
                        a->vt->name);
    int64_t D = a->d_model, L = a->seq_len, P = pe->g.P, K = pe->g.K, c = a->cls_index;
    if (a->bf16) { // autocast's patch embedding: bf16 cols and weight, fp32 tokens
        if (!p->data_bf16)
            return ssm_fail(err, SSM_EINVAL, "%s: bf16 plan but no bf16 weight shadow",
                            a->vt->name);
        ssm_bf16 *cols_h = (ssm_bf16 *)pe->cols;
        SSM_CUDA_TRY(patchify_forward_bf16_cuda(cols_h, x, B, &pe->g), err);
        SSM_CUDA_TRY(linear_forward_bf16_f32(pe->emb, cols_h, ssm_params_data_bf16(p, pe->w_idx),
                                             ssm_params_data(p, pe->b_idx), B * P, K, D),
                     err);
    } else {
        SSM_CUDA_TRY(patchify_forward_cuda(pe->cols, x, B, &pe->g), err);
        SSM_CUDA_TRY(linear_forward_cuda(pe->emb, pe->cols, ssm_params_data(p, pe->w_idx),
                                         ssm_params_data(p, pe->b_idx), B * P, K, D), err);
    }
    const real *cls = c >= 0 ? ssm_params_data(p, pe->cls_idx) : NULL;
    SSM_CUDA_TRY(patch_tokens_forward_cuda(tokens, pe->emb, ssm_params_data(p, pe->pos_idx), cls, B,
                                           P, L, D, c), err);
    if (orders)
        SSM_CUDA_TRY(orders_broadcast_cuda(orders, pe->dev_base, a->n_orders, B, L), err);
    return SSM_OK;
}

ssm_code patch_embed_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens,
                                   const real *x, int64_t B, ssm_error *err) {
    patch_embed *pe = a->impl;
    int64_t D = a->d_model, L = a->seq_len, P = pe->g.P, K = pe->g.K, c = a->cls_index;
    real *dcls = c >= 0 ? ssm_params_grad(p, pe->cls_idx) : NULL;
    SSM_CUDA_TRY(patch_tokens_backward_cuda(pe->emb, ssm_params_grad(p, pe->pos_idx), dcls, dtokens,
                                            B, P, L, D, c), err);
    if (a->bf16) { // fp32 weight and bias gradients from bf16 operands
        ssm_bf16 *cols_h = (ssm_bf16 *)pe->cols;
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(pe->demb_h, pe->emb, B * P * D), err);
        SSM_CUDA_TRY(patchify_forward_bf16_cuda(cols_h, x, B, &pe->g), err);
        // the bias gradient from the fp32 demb (no rounding in a column sum with cancellation)
        SSM_CUDA_TRY(linear_backward_cuda(NULL, NULL, ssm_params_grad(p, pe->b_idx), pe->emb, NULL,
                                          NULL, B * P, K, D), err);
        SSM_CUDA_TRY(linear_backward_bf16(NULL, ssm_params_grad(p, pe->w_idx), NULL, pe->demb_h,
                                          cols_h, ssm_params_data_bf16(p, pe->w_idx), B * P, K, D),
                     err);
        return SSM_OK;
    }
    SSM_CUDA_TRY(patchify_forward_cuda(pe->cols, x, B, &pe->g), err);
    SSM_CUDA_TRY(linear_backward_cuda(NULL, ssm_params_grad(p, pe->w_idx),
                                      ssm_params_grad(p, pe->b_idx), pe->emb, pe->cols,
                                      ssm_params_data(p, pe->w_idx), B * P, K, D), err);
    return SSM_OK;
}
#endif
