// defines: ssm_adapter_image_patches (the adapter "image_patches")
// Images -> tokens, as Vision Mamba (Vim) does it:
//   x [B, C, H, W] (real, already normalized by the dataset)
//   -> p x p patches with stride s (like Conv2d(C, D, kernel p, stride s), no
//      padding): gh = (H - p) / s + 1 rows and gw = (W - p) / s + 1 columns of
//      patches, P = gh * gw. Pixels past the last full patch (when H - p or
//      W - p is not a multiple of s) are not read, exactly as the convolution.
//   -> linear embedding: patch_embed.proj.weight [D, C, p, p], .bias [D]
//   -> class token cls_token [1, 1, D] inserted at index c of the sequence:
//      head: c = 0; middle (the default): c = P / 2 (Vim's token_position = M // 2);
//      none: no token
//   -> plus learned positions pos_embed [1, L, D], L = P + (cls ? 1 : 0),
//      added to every token including the class token (Vim's layout).
//
// Token layout: patches in row-major grid order with the class token inserted
// at index c, so patch k (row-major) sits at position k + (cls && k >= c).
//
// Scan orders (perm[l] = the position read at scan step l, see mamba_orders):
//   row            patches row-major (the identity)
//   column         patches column-major: down each column, columns left to right
//   snake          boustrophedon: row 0 left->right, row 1 right->left, ...
//   reverse, column_reverse, snake_reverse: the exact flip of row, column, snake
// Class token in the orders: a forward order (row, column, snake) reads the
// class token at scan step c — the same step as its position in the layout,
// so head = first and middle = halfway in every forward order — and visits the
// patches, in that order's sequence, at the other steps. A *_reverse order is
// the whole forward sequence flipped, so the class token is read at step
// L - 1 - c (last for head, as Vim's bidirectional flip does; still the middle
// for middle when P is even). `reverse` is therefore mamba_order_reverse.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/device_select.h"
#include "kernels/linear.h"
#if SSM_HAVE_CUDA
#include "adapters/cuda/patches.h"
#include "core/cuda/try.h"
#include "core/cuda/device.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/linear.h"
#endif

#define ADAPTER_NAME "image_patches"
#define DEFAULT_PATCH 16

typedef enum { ORDER_ROW = 0, ORDER_COLUMN, ORDER_SNAKE, N_BASE_ORDERS } base_order;

static const char *const order_names[] = {"row",     "column",         "snake",
                                          "reverse", "column_reverse", "snake_reverse"};
#define N_ORDER_NAMES 6

typedef struct {
    int64_t C, H, W;         // input per sample
    int64_t p, s;            // patch side, stride
    int64_t gh, gw, P;       // patch grid, P = gh * gw
    int64_t K;               // C * p * p, the embedding's fan-in
    size_t w_idx, b_idx, pos_idx, cls_idx; // parameter indices (cls_idx unused when no cls)
    int32_t *base;           // [n_orders, L] the orders, identical for every sample
    real *cols;              // [B_max * P, K] im2col of the batch (arena)
    real *emb;               // [B_max * P, D] patch embeddings; reused as their gradient (arena)
    int32_t *dev_base;       // [n_orders, L] base on the device (CUDA plan only)
    void *demb_h;            // [B_max * P, D] bf16 patch-embedding gradient (CUDA, a->bf16);
                             // the bf16 cols [B_max * P, K] live in the first half of cols
} image_patches;

// Position of patch k (row-major) in the token layout.
static inline int64_t patch_pos(int64_t k, int64_t c) { return c >= 0 && k >= c ? k + 1 : k; }

// Fills perm [L] (L = gh*gw + (c >= 0)) for the named order; returns 0 if the
// name is unknown. c: class token index, -1 for none.
static int build_order(int32_t *perm, const char *name, int64_t gh, int64_t gw, int64_t c) {
    int which = -1;
    for (int i = 0; i < N_ORDER_NAMES; i++)
        if (strcmp(name, order_names[i]) == 0)
            which = i;
    if (which < 0)
        return 0;
    int reversed = which >= N_BASE_ORDERS;
    base_order base = (base_order)(which % N_BASE_ORDERS);
    int64_t P = gh * gw, L = P + (c >= 0);
    int64_t step = 0, j = 0; // j counts patches visited so far
    for (int64_t l = 0; l < L; l++) {
        if (l == c) { // the class token keeps its step in forward orders
            perm[step++] = (int32_t)c;
            continue;
        }
        int64_t k; // the j-th patch of this order, row-major index
        if (base == ORDER_ROW) {
            k = j;
        } else if (base == ORDER_COLUMN) {
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
    return 1;
}

static ssm_code declare(ssm_params *p, const char *prefix, const char *suffix, int ndim,
                        const int64_t *shape, unsigned flags, size_t *idx, ssm_error *err) {
    char name[SSM_PARAM_NAME_MAX];
    if (snprintf(name, sizeof name, "%s%s", prefix, suffix) >= (int)sizeof name)
        return ssm_fail(err, SSM_EINVAL, "%s: parameter name %s%s too long", ADAPTER_NAME, prefix,
                        suffix);
    return ssm_params_add(p, name, ndim, shape, flags, idx, err);
}

static ssm_code ip_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    SSM_TRY(ssm_adapter_check_options(opt, ADAPTER_NAME, NULL, err));
    if (in->ndim != 3) {
        char s[96];
        ssm_shape_str(s, sizeof s, in->ndim, in->dims);
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape %s, expected [C, H, W]",
                        ADAPTER_NAME, s);
    }
    image_patches *ip = calloc(1, sizeof *ip);
    if (!ip)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    a->impl = ip;
    ip->C = in->dims[0];
    ip->H = in->dims[1];
    ip->W = in->dims[2];
    ip->p = opt->patch_size ? opt->patch_size : DEFAULT_PATCH;
    ip->s = opt->stride ? opt->stride : ip->p;
    if (ip->C <= 0 || ip->H <= 0 || ip->W <= 0)
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape [%lld, %lld, %lld] has an empty dimension",
                        ADAPTER_NAME, (long long)ip->C, (long long)ip->H, (long long)ip->W);
    if (opt->in_channels && opt->in_channels != ip->C)
        return ssm_fail(err, SSM_ECONFIG, "%s: in_channels = %lld but the data has %lld channels",
                        ADAPTER_NAME, (long long)opt->in_channels, (long long)ip->C);
    if (ip->p < 1 || ip->s < 1)
        return ssm_fail(err, SSM_ECONFIG, "%s: patch_size = %lld, stride = %lld, expected >= 1",
                        ADAPTER_NAME, (long long)ip->p, (long long)ip->s);
    if (ip->p > ip->H || ip->p > ip->W)
        return ssm_fail(err, SSM_ECONFIG, "%s: patch_size %lld does not fit in a %lldx%lld image",
                        ADAPTER_NAME, (long long)ip->p, (long long)ip->H, (long long)ip->W);
    ip->gh = (ip->H - ip->p) / ip->s + 1;
    ip->gw = (ip->W - ip->p) / ip->s + 1;
    ip->P = ip->gh * ip->gw;
    ip->K = ip->C * ip->p * ip->p;
    if (ip->P + 1 > INT32_MAX)
        return ssm_fail(err, SSM_ECONFIG, "%s: %lld patches, more than int32 scan orders hold",
                        ADAPTER_NAME, (long long)ip->P);
    int64_t D = a->d_model;
    switch (opt->cls_token) {
    case SSM_CLS_DEFAULT: // Vim's choice: the middle token is reached from both halves in both scans
    case SSM_CLS_MIDDLE: a->cls_index = ip->P / 2; break;
    case SSM_CLS_HEAD: a->cls_index = 0; break;
    case SSM_CLS_NONE: a->cls_index = -1; break;
    default:
        return ssm_fail(err, SSM_ECONFIG, "%s: cls_token = %d, expected head, middle or none",
                        ADAPTER_NAME, (int)opt->cls_token);
    }
    a->seq_len = ip->P + (a->cls_index >= 0);
    int64_t L = a->seq_len;

    // Orders: the options' list, or Vim's bidirectional pair by default.
    static const char *const defaults[] = {"row", "reverse"};
    a->n_orders = opt->n_orders ? opt->n_orders : 2;
    ip->base = malloc((size_t)a->n_orders * (size_t)L * sizeof *ip->base);
    if (!ip->base)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    for (int o = 0; o < a->n_orders; o++) {
        const char *name = opt->n_orders ? opt->orders[o] : defaults[o];
        if (!build_order(ip->base + (size_t)o * L, name, ip->gh, ip->gw, a->cls_index)) {
            char list[256];
            size_t used = 0;
            for (int i = 0; i < N_ORDER_NAMES; i++)
                used += (size_t)snprintf(list + used, sizeof list - used, i ? ", %s" : "%s",
                                         order_names[i]);
            return ssm_fail(err, SSM_ECONFIG, "%s: unknown scan order '%s'; known: %s",
                            ADAPTER_NAME, name, list);
        }
        snprintf(a->order_names[o], sizeof a->order_names[o], "%s", name);
    }

    SSM_TRY(declare(p, prefix, "patch_embed.proj.weight", 4, (int64_t[]){D, ip->C, ip->p, ip->p},
                    0, &ip->w_idx, err));
    SSM_TRY(declare(p, prefix, "patch_embed.proj.bias", 1, (int64_t[]){D}, SSM_PARAM_NO_DECAY,
                    &ip->b_idx, err));
    if (a->cls_index >= 0)
        SSM_TRY(declare(p, prefix, "cls_token", 3, (int64_t[]){1, 1, D}, SSM_PARAM_NO_DECAY,
                        &ip->cls_idx, err));
    SSM_TRY(declare(p, prefix, "pos_embed", 3, (int64_t[]){1, L, D}, SSM_PARAM_NO_DECAY,
                    &ip->pos_idx, err));
    return SSM_OK;
}

// Vim's init: the patch conv with lecun_normal (truncated normal at 2 std,
// std = sqrt(1/fan_in) / .8796 to undo the truncation's shrink), bias 0;
// pos_embed and cls_token trunc_normal(std=.02).
static void ip_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    image_patches *ip = a->impl;
    int64_t D = a->d_model, L = a->seq_len;
    double std = sqrt(1.0 / (double)ip->K) / .87962566103423978;
    ssm_init_trunc_normal(ssm_params_data(p, ip->w_idx), (size_t)(D * ip->K), rng, std, -2 * std,
                          2 * std);
    memset(ssm_params_data(p, ip->b_idx), 0, (size_t)D * sizeof(real));
    ssm_init_trunc_normal(ssm_params_data(p, ip->pos_idx), (size_t)(L * D), rng, .02, -2, 2);
    if (a->cls_index >= 0)
        ssm_init_trunc_normal(ssm_params_data(p, ip->cls_idx), (size_t)D, rng, .02, -2, 2);
}

static ssm_code ip_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    image_patches *ip = a->impl;
    size_t rows = (size_t)B_max * (size_t)ip->P;
    ip->cols = ssm_arena_take(arena, rows * (size_t)ip->K * sizeof(real));
    ip->emb = ssm_arena_take(arena, rows * (size_t)a->d_model * sizeof(real));
    return SSM_OK;
}

// cols[(b*P + gi*gw + gj), c*p*p + ki*p + kj] = x[b, c, gi*s + ki, gj*s + kj]:
// the column order matches the weight's [D, C, p, p] layout.
static void im2col(real *cols, const real *x, const image_patches *ip, int64_t B) {
    int64_t C = ip->C, H = ip->H, W = ip->W, p = ip->p, s = ip->s, gw = ip->gw, P = ip->P;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < P; k++) {
            int64_t gi = k / gw, gj = k % gw;
            real *row = cols + ((size_t)b * P + k) * ip->K;
            for (int64_t c = 0; c < C; c++)
                for (int64_t ki = 0; ki < p; ki++) {
                    const real *src = x + (((size_t)b * C + c) * H + gi * s + ki) * W + gj * s;
                    memcpy(row + (c * p + ki) * p, src, (size_t)p * sizeof(real));
                }
        }
}

static ssm_code ip_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                           const real *x, int64_t B, ssm_error *err) {
    image_patches *ip = a->impl;
    if (!ip->cols || !ip->emb)
        return ssm_fail(err, SSM_EINVAL, "%s: forward before the arena was committed", ADAPTER_NAME);
    int64_t D = a->d_model, L = a->seq_len, P = ip->P, c = a->cls_index;
    im2col(ip->cols, x, ip, B);
    // emb [B*P, D] = cols [B*P, K] @ weight[D, K]^T + bias
    linear_forward(ip->emb, ip->cols, ssm_params_data(p, ip->w_idx), ssm_params_data(p, ip->b_idx),
                   B * P, ip->K, D);
    const real *pos = ssm_params_data(p, ip->pos_idx); // [L, D]
    const real *cls = c >= 0 ? ssm_params_data(p, ip->cls_idx) : NULL;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++) {
            real *t = tokens + ((size_t)b * L + l) * D;
            const real *pe = pos + (size_t)l * D;
            // position l holds the class token (l == c) or patch l - (c >= 0 && l > c)
            const real *src = l == c ? cls : ip->emb + ((size_t)b * P + l - (c >= 0 && l > c)) * D;
            for (int64_t d = 0; d < D; d++)
                t[d] = src[d] + pe[d];
        }
    if (orders)
        ssm_adapter_broadcast_orders(orders, ip->base, a->n_orders, B, L);
    return SSM_OK;
}

static void ip_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                        int64_t B) {
    image_patches *ip = a->impl;
    int64_t D = a->d_model, L = a->seq_len, P = ip->P, c = a->cls_index;
    real *dpos = ssm_params_grad(p, ip->pos_idx); // [L, D]
    // Positions and class token: sums over the batch (columns d are independent).
#pragma omp parallel for schedule(static)
    for (int64_t l = 0; l < L; l++)
        for (int64_t b = 0; b < B; b++) {
            const real *g = dtokens + ((size_t)b * L + l) * D;
            for (int64_t d = 0; d < D; d++)
                dpos[l * D + d] += g[d];
        }
    if (c >= 0) {
        real *dcls = ssm_params_grad(p, ip->cls_idx);
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++)
                dcls[d] += dtokens[((size_t)b * L + c) * D + d];
    }
    // Patch rows of dtokens, gathered contiguous into emb (free after forward),
    // then the embedding's weight and bias gradients from a recomputed im2col.
    real *demb = ip->emb;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t b = 0; b < B; b++)
        for (int64_t k = 0; k < P; k++)
            memcpy(demb + ((size_t)b * P + k) * D, dtokens + ((size_t)b * L + patch_pos(k, c)) * D,
                   (size_t)D * sizeof(real));
    im2col(ip->cols, x, ip, B);
    linear_backward(NULL, ssm_params_grad(p, ip->w_idx), ssm_params_grad(p, ip->b_idx), demb,
                    ip->cols, ssm_params_data(p, ip->w_idx), B * P, ip->K, D);
}

#if SSM_HAVE_CUDA
// The CUDA path: the same steps as ip_forward / ip_backward on device arrays. The
// orders do not depend on the content, so their base is uploaded once at plan time
// and broadcast on the device per batch.
static ssm_code ip_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    image_patches *ip = a->impl;
    SSM_TRY(ip_plan(a, arena, B_max, err));
    size_t bytes = (size_t)a->n_orders * (size_t)a->seq_len * sizeof(int32_t);
    ip->dev_base = ssm_arena_take(arena, bytes);
    ip->demb_h = a->bf16 ? ssm_arena_take(arena, (size_t)(B_max * ip->P * a->d_model) * 2) : NULL;
    if (!ssm_arena_measuring(arena))
        SSM_CUDA_TRY(ssm_cuda_upload(ip->dev_base, ip->base, bytes), err);
    return SSM_OK;
}

static ssm_code ip_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                                const real *x, int64_t B, ssm_error *err) {
    image_patches *ip = a->impl;
    if (!ip->cols || !ip->emb || !ip->dev_base)
        return ssm_fail(err, SSM_EINVAL, "%s: CUDA forward before the device arena was committed",
                        ADAPTER_NAME);
    int64_t D = a->d_model, L = a->seq_len, P = ip->P, c = a->cls_index;
    if (a->bf16) { // autocast's patch embedding: bf16 cols and weight, fp32 tokens
        if (!p->data_bf16)
            return ssm_fail(err, SSM_EINVAL, "%s: bf16 plan but no bf16 weight shadow",
                            ADAPTER_NAME);
        ssm_bf16 *cols_h = (ssm_bf16 *)ip->cols;
        SSM_CUDA_TRY(patchify_forward_bf16_cuda(cols_h, x, B, ip->C, ip->H, ip->W, ip->p, ip->s,
                                                ip->gh, ip->gw), err);
        SSM_CUDA_TRY(linear_forward_bf16_f32(ip->emb, cols_h, ssm_params_data_bf16(p, ip->w_idx),
                                             ssm_params_data(p, ip->b_idx), B * P, ip->K, D),
                     err);
    } else {
        SSM_CUDA_TRY(patchify_forward_cuda(ip->cols, x, B, ip->C, ip->H, ip->W, ip->p, ip->s,
                                           ip->gh, ip->gw), err);
        SSM_CUDA_TRY(linear_forward_cuda(ip->emb, ip->cols, ssm_params_data(p, ip->w_idx),
                                         ssm_params_data(p, ip->b_idx), B * P, ip->K, D), err);
    }
    const real *cls = c >= 0 ? ssm_params_data(p, ip->cls_idx) : NULL;
    SSM_CUDA_TRY(patch_tokens_forward_cuda(tokens, ip->emb, ssm_params_data(p, ip->pos_idx), cls, B,
                                           P, L, D, c), err);
    if (orders)
        SSM_CUDA_TRY(orders_broadcast_cuda(orders, ip->dev_base, a->n_orders, B, L), err);
    return SSM_OK;
}

static ssm_code ip_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                                 int64_t B, ssm_error *err) {
    image_patches *ip = a->impl;
    int64_t D = a->d_model, L = a->seq_len, P = ip->P, c = a->cls_index;
    real *dcls = c >= 0 ? ssm_params_grad(p, ip->cls_idx) : NULL;
    SSM_CUDA_TRY(patch_tokens_backward_cuda(ip->emb, ssm_params_grad(p, ip->pos_idx), dcls, dtokens,
                                            B, P, L, D, c), err);
    if (a->bf16) { // fp32 weight and bias gradients from bf16 operands
        ssm_bf16 *cols_h = (ssm_bf16 *)ip->cols;
        SSM_CUDA_TRY(cast_f32_to_bf16_cuda(ip->demb_h, ip->emb, B * P * D), err);
        SSM_CUDA_TRY(patchify_forward_bf16_cuda(cols_h, x, B, ip->C, ip->H, ip->W, ip->p, ip->s,
                                                ip->gh, ip->gw), err);
        // the bias gradient from the fp32 demb (no rounding in a column sum with cancellation)
        SSM_CUDA_TRY(linear_backward_cuda(NULL, NULL, ssm_params_grad(p, ip->b_idx), ip->emb, NULL,
                                          NULL, B * P, ip->K, D), err);
        SSM_CUDA_TRY(linear_backward_bf16(NULL, ssm_params_grad(p, ip->w_idx), NULL, ip->demb_h,
                                          cols_h,
                                          ssm_params_data_bf16(p, ip->w_idx), B * P, ip->K, D),
                     err);
        return SSM_OK;
    }
    SSM_CUDA_TRY(patchify_forward_cuda(ip->cols, x, B, ip->C, ip->H, ip->W, ip->p, ip->s, ip->gh,
                                       ip->gw), err);
    SSM_CUDA_TRY(linear_backward_cuda(NULL, ssm_params_grad(p, ip->w_idx),
                                      ssm_params_grad(p, ip->b_idx), ip->emb, ip->cols,
                                      ssm_params_data(p, ip->w_idx), B * P, ip->K, D), err);
    return SSM_OK;
}
#endif

static void ip_free(ssm_adapter *a) {
    image_patches *ip = a->impl;
    if (ip)
        free(ip->base);
    free(ip);
    a->impl = NULL;
}

const ssm_adapter_vtable ssm_adapter_image_patches = {
    .name = ADAPTER_NAME,
    .summary = "images [C, H, W] -> p x p patches (stride s), linear embed, learned positions, "
               "class token head|middle|none; orders row, column, snake and their reverses",
    .create = ip_create,
    .init_params = ip_init_params,
    .plan = ip_plan,
    .forward = ip_forward,
    .backward = ip_backward,
    .free_impl = ip_free,
#if SSM_HAVE_CUDA
    .plan_cuda = ip_plan_cuda,
    .forward_cuda = ip_forward_cuda,
    .backward_cuda = ip_backward_cuda,
#endif
};
