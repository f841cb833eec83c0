// defines: patchify_forward_cuda, patchify_forward_bf16_cuda, patch_tokens_forward_cuda, patch_tokens_backward_cuda,
//          orders_broadcast_cuda
// Device kernels of the patch adapters (adapters/patch_embed.c, shared by image_patches
// and audio_patches, built with CUDA=1): the im2col of p x p patches through a strided
// view (adapters/patch_grid.h), the assembly of tokens from patch embeddings,
// learned positions and the class token, its backward, and the broadcast of
// content-independent scan orders. Device pointers; ssm_code results as in
// kernels/cuda/common.h. Reductions run in a fixed order (no atomics).
#pragma once
#include <stdint.h>

#include "adapters/patch_grid.h"
#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h"

#ifdef __cplusplus
extern "C" {
#endif

// cols [B*P, K] from x through the view g: row b*P + gi*gw + gj holds the patch at
// (gi*sh, gj*sw), columns in the weight's [C, p, p] order (as the CPU im2col of
// adapters/patch_embed.c).
ssm_code patchify_forward_cuda(real *cols, const real *x, int64_t B, const patch_grid *g);
// The same with bf16 cols (mixed precision: the patch embedding's GEMM input).
ssm_code patchify_forward_bf16_cuda(ssm_bf16 *cols, const real *x, int64_t B, const patch_grid *g);
// tokens [B, L, D]: position l is the class token cls [D] (l == c) or patch
// emb [B, P, D] row l - (c >= 0 && l > c), plus pos [L, D]. c = -1: no class token.
ssm_code patch_tokens_forward_cuda(real *tokens, const real *emb, const real *pos, const real *cls,
                                   int64_t B, int64_t P, int64_t L, int64_t D, int64_t c);
// demb [B, P, D] = the patch rows of dtokens [B, L, D] (overwritten);
// dpos [L, D] += sum over b; dcls [D] += sum over b of the class token row (c >= 0).
ssm_code patch_tokens_backward_cuda(real *demb, real *dpos, real *dcls, const real *dtokens,
                                    int64_t B, int64_t P, int64_t L, int64_t D, int64_t c);
// orders [n_orders, B, L] = base [n_orders, L] for every sample.
ssm_code orders_broadcast_cuda(int32_t *orders, const int32_t *base, int n_orders, int64_t B,
                               int64_t L);

#ifdef __cplusplus
}
#endif
