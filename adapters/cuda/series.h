// defines: revin_norm_forward_cuda, revin_norm_backward_cuda, revin_denorm_forward_cuda,
//          revin_denorm_backward_cuda, series_swap_last2_cuda, series_patchify_cuda,
//          series_patchify_backward_cuda
// Device kernels of the time-series adapters (adapters/series_variate.c,
// adapters/series_patch.c) and of RevIN (adapters/revin.h), built with CUDA=1. The
// same arithmetic as the CPU functions (statistics in double, two passes); sums over
// the batch run in one fixed order (one thread per variate, no atomics). Device
// pointers; errors as kernels/cuda/common.h says. w, c (the affine) may be NULL.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// mean, std [B, V] of x [B, T, V]; xn [B, T, V] = (x - mean) / std [* w + c].
ssm_code revin_norm_forward_cuda(real *xn, real *mean, real *std, const real *x, const real *w,
                                 const real *c, int64_t B, int64_t T, int64_t V);
// dw, dc [V] += the affine's gradients from dxn [B, T, V] (statistics recomputed from x).
ssm_code revin_norm_backward_cuda(real *dw, real *dc, const real *dxn, const real *x, int64_t B,
                                  int64_t T, int64_t V);
// y [B, H, V] = ((yn - c) / (w + eps^2)) * std + mean
ssm_code revin_denorm_forward_cuda(real *y, const real *yn, const real *mean, const real *std,
                                   const real *w, const real *c, int64_t B, int64_t H, int64_t V);
// dyn += dy * dy/dyn; dw, dc [V] += (affine only; may be NULL otherwise)
ssm_code revin_denorm_backward_cuda(real *dyn, real *dw, real *dc, const real *dy, const real *yn,
                                    const real *std, const real *w, const real *c, int64_t B,
                                    int64_t H, int64_t V);
// out [B, Y, X] = in [B, X, Y]
ssm_code series_swap_last2_cuda(real *out, const real *in, int64_t B, int64_t X, int64_t Y);
// cols [B*V*P, p]: row (b*V + v)*P + k = x[b, k*s .. k*s+p-1, v], time steps past T
// repeat the last one (PatchTST's end padding). x [B, T, V].
ssm_code series_patchify_cuda(real *cols, const real *x, int64_t B, int64_t T, int64_t V,
                              int64_t P, int64_t p, int64_t s);
// dx [B, T, V] += the transpose of series_patchify applied to dcols [B*V*P, p]
// (one thread per (b, t, v): a fixed order of the overlapping patches).
ssm_code series_patchify_backward_cuda(real *dx, const real *dcols, int64_t B, int64_t T,
                                       int64_t V, int64_t P, int64_t p, int64_t s);

#ifdef __cplusplus
}
#endif
