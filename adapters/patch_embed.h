// defines: patch_embed, patch_scan, patch_order_name, patch_grid_setup, patch_embed_create,
//          patch_embed_init_params, patch_embed_plan, patch_embed_forward, patch_embed_backward,
//          patch_embed_free, patch_embed_plan_cuda, patch_embed_forward_cuda,
//          patch_embed_backward_cuda, patch_order_build, patch_embed_resize_positions,
//          patch_embed_resize_from
// The patch embedding that image_patches and audio_patches share (one code path for both,
// CPU and CUDA): p x p patches of a 2-D view (adapters/patch_grid.h) -> a linear embedding
// (patch_embed.proj.weight [D, C, p, p], .bias [D], Vim's and AST/AuM's Conv2d) -> a class
// token cls_token [1, 1, D] inserted at index c (head: 0; middle: P / 2; none) -> plus
// learned positions pos_embed [1, L, D], L = P + (class token), on every token (Vim's
// layout). Patches sit in row-major grid order, patch k at position k + (cls && k >= c).
//
// Scan orders (perm[l] = the position read at step l, see mamba_orders) over the grid:
// row-major, column-major (down each column, columns left to right), snake (row 0 left to
// right, row 1 right to left, ...), and the exact flip of each. A forward order reads the
// class token at step c, its place in the layout; a reversed one at L - 1 - c (the whole
// forward sequence flipped, as Vim's bidirectional flip). An adapter names the orders
// (a table of patch_order_name) and the view; the rest is here.
//
// An adapter built on this keeps a patch_embed in a->impl and puts the functions below
// in its vtable (they have the vtable's signatures): only its create is its own.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "adapters/patch_grid.h"
#include "core/device_select.h"

typedef enum { PATCH_SCAN_ROW = 0, PATCH_SCAN_COLUMN, PATCH_SCAN_SNAKE } patch_scan;

// One order name an adapter accepts: the grid walk and whether it is flipped.
typedef struct {
    const char *name;
    patch_scan scan;
    int reversed;
} patch_order_name;

typedef struct {
    patch_grid g;
    size_t w_idx, b_idx, pos_idx, cls_idx; // parameter indices (cls_idx unused without one)
    int32_t *base;     // [n_orders, L] the orders, identical for every sample
    real *cols;        // [B_max * P, K] im2col of the batch (arena)
    real *emb;         // [B_max * P, D] patch embeddings; reused as their gradient (arena)
    int32_t *dev_base; // [n_orders, L] base on the device (CUDA plan only)
    void *demb_h;      // [B_max * P, D] bf16 patch-embedding gradient (CUDA, a->bf16); the
                       // bf16 cols [B_max * P, K] live in the first half of cols
} patch_embed;

// Completes g (C, H, W and the strides set by the caller) for patch side p and the
// strides sh, sw: checks that a patch fits and computes gh, gw, P, K. Errors name the
// adapter `who` and the view `what` ("image": "does not fit in a HxW image").
ssm_code patch_grid_setup(patch_grid *g, int64_t p, int64_t sh, int64_t sw, const char *who,
                          const char *what, ssm_error *err);

// The rest of an adapter's create once a->impl = pe holds a set-up grid: the class token
// (SSM_CLS_DEFAULT = middle), seq_len, the orders (opt's names looked up in `names` [n],
// or `defaults` [n_defaults] when opt has none) and the parameters under `prefix`.
ssm_code patch_embed_create(ssm_adapter *a, const ssm_adapter_options *opt,
                            const patch_order_name *names, int n_names,
                            const char *const *defaults, int n_defaults, ssm_params *p,
                            const char *prefix, ssm_error *err);

// perm [gh*gw + (c >= 0)] for one walk (c: class token index, -1 for none).
void patch_order_build(int32_t *perm, patch_scan scan, int reversed, int64_t gh, int64_t gw,
                       int64_t c);

// Learned positions for another input size (`ssmkit predict` on a clip longer than the
// training clips, docs/predict.md): src [L0, D] laid out for a gh0 x gw0 grid with the class
// token at c0 (-1: none) -> dst [L1, D] for gh1 x gw1 with it at c1. The class token's row is
// copied; the patch rows, seen as the [D, gh0, gw0] image they are, are resampled bilinearly
// as torch.nn.functional.interpolate(mode="bilinear", align_corners=False) does (AST's way
// of fitting its positions to another spectrogram size): output cell i of an axis reads the
// input at (i + 0.5) * in / out - 0.5, clamped to [0, in - 1]. An axis of unchanged length is
// copied exactly, so an audio model resized in time keeps each band's positions.
void patch_embed_resize_positions(real *dst, int64_t gh1, int64_t gw1, int64_t c1,
                                  const real *src, int64_t gh0, int64_t gw0, int64_t c0,
                                  int64_t D);
// The same between two instances of one patch adapter (image_patches, audio_patches) built
// for different input sizes: from's positions src -> to's dst. SSM_EINVAL when either is
// not a patch-embedding adapter, or they differ in width or in having a class token.
ssm_code patch_embed_resize_from(const ssm_adapter *to, real *dst, const ssm_adapter *from,
                                 const real *src, ssm_error *err);

// The vtable entries (a->impl is the patch_embed).
void patch_embed_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng);
ssm_code patch_embed_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err);
ssm_code patch_embed_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                             const real *x, int64_t B, ssm_error *err);
void patch_embed_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                          int64_t B);
void patch_embed_free(ssm_adapter *a);
#if SSM_HAVE_CUDA
ssm_code patch_embed_plan_cuda(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err);
ssm_code patch_embed_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens,
                                  int32_t *orders, const real *x, int64_t B, ssm_error *err);
ssm_code patch_embed_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens,
                                   const real *x, int64_t B, ssm_error *err);
#endif
