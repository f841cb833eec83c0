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
//
// The embedding, positions, class token, orders and the CUDA path are adapters/patch_embed.c,
// shared with audio_patches: this file is the image's view of it (x as stored) and its
// order names.
#include <stdio.h>
#include <stdlib.h>

#include "adapters/adapter.h"
#include "adapters/patch_embed.h"

#define ADAPTER_NAME "image_patches"
#define DEFAULT_PATCH 16

static const patch_order_name order_names[] = {
    {"row", PATCH_SCAN_ROW, 0},     {"column", PATCH_SCAN_COLUMN, 0},
    {"snake", PATCH_SCAN_SNAKE, 0}, {"reverse", PATCH_SCAN_ROW, 1},
    {"column_reverse", PATCH_SCAN_COLUMN, 1}, {"snake_reverse", PATCH_SCAN_SNAKE, 1}};
#define N_ORDER_NAMES 6

static ssm_code ip_create(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    SSM_TRY(ssm_adapter_check_options(opt, ADAPTER_NAME, NULL, err));
    if (in->ndim != 3) {
        char s[96];
        ssm_shape_str(s, sizeof s, in->ndim, in->dims);
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape %s, expected [C, H, W]",
                        ADAPTER_NAME, s);
    }
    patch_embed *pe = calloc(1, sizeof *pe);
    if (!pe)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", ADAPTER_NAME);
    a->impl = pe;
    patch_grid *g = &pe->g;
    g->C = in->dims[0];
    g->H = in->dims[1];
    g->W = in->dims[2];
    // x [B, C, H, W] as stored
    g->st_w = 1;
    g->st_h = g->W;
    g->st_c = g->H * g->W;
    g->st_n = g->C * g->H * g->W;
    int64_t ps = opt->patch_size ? opt->patch_size : DEFAULT_PATCH;
    int64_t s = opt->stride ? opt->stride : ps;
    if (g->C <= 0 || g->H <= 0 || g->W <= 0)
        return ssm_fail(err, SSM_EINVAL, "%s: input sample shape [%lld, %lld, %lld] has an empty dimension",
                        ADAPTER_NAME, (long long)g->C, (long long)g->H, (long long)g->W);
    if (opt->in_channels && opt->in_channels != g->C)
        return ssm_fail(err, SSM_ECONFIG, "%s: in_channels = %lld but the data has %lld channels",
                        ADAPTER_NAME, (long long)opt->in_channels, (long long)g->C);
    SSM_TRY(patch_grid_setup(g, ps, s, s, ADAPTER_NAME, "image", err));
    // Orders: the options' list, or Vim's bidirectional pair by default.
    static const char *const defaults[] = {"row", "reverse"};
    return patch_embed_create(a, opt, order_names, N_ORDER_NAMES, defaults, 2, p, prefix, err);
}

const ssm_adapter_vtable ssm_adapter_image_patches = {
    .name = ADAPTER_NAME,
    .summary = "images [C, H, W] -> p x p patches (stride s), linear embed, learned positions, "
               "class token head|middle|none; orders row, column, snake and their reverses",
    .create = ip_create,
    .init_params = patch_embed_init_params,
    .plan = patch_embed_plan,
    .forward = patch_embed_forward,
    .backward = patch_embed_backward,
    .free_impl = patch_embed_free,
#if SSM_HAVE_CUDA
    .plan_cuda = patch_embed_plan_cuda,
    .forward_cuda = patch_embed_forward_cuda,
    .backward_cuda = patch_embed_backward_cuda,
#endif
};
