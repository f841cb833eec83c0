// defines: ssm_revin, ssm_revin_declare, ssm_revin_init_params, ssm_revin_plan,
//          ssm_revin_stats, ssm_revin_norm_forward, ssm_revin_norm_backward,
//          ssm_revin_denorm_forward, ssm_revin_denorm_backward, SSM_REVIN_EPS,
//          ssm_revin_norm_forward_cuda, ssm_revin_norm_backward_cuda,
//          ssm_revin_denorm_forward_cuda, ssm_revin_denorm_backward_cuda
// Reversible instance normalisation (RevIN, Kim et al. 2022; the `Normalize`
// layer of Time-Series-Library / PatchTST / S-Mamba's `use_norm`): each
// sample's each variate is standardised by its own statistics over the
// lookback window before the model sees it, and the model's forecast is
// mapped back with the same statistics, so the model never has to learn the
// level and scale of a window (distribution shift between train and test).
//
//   mean[b, v] = mean_t x[b, t, v]
//   std[b, v]  = sqrt(var_t x[b, t, v] + eps)          (population variance)
//   norm:   xn = (x - mean) / std        [* w[v] + c[v] when affine]
//   denorm: y  = yn * std + mean         [(yn - c[v]) / (w[v] + eps^2) first when affine]
// Statistics are data (x has no gradient), exactly as the reference's
// `.detach()`. The affine parameters, when on, are `revin.affine_weight` [V]
// (init 1) and `revin.affine_bias` [V] (init 0), both without weight decay;
// both the norm (in the adapter's backward) and the denorm (in the head's
// backward) contribute to their gradients.
//
// Lives with the adapters because the adapter applies it; the adapter points
// `ssm_adapter.inorm` at its instance so a head finds the statistics of the
// last forward there (valid until the adapter's next forward).
#pragma once
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/params.h"
#include "core/real.h"

#define SSM_REVIN_EPS 1e-5

typedef struct ssm_revin {
    int64_t T, V;        // time steps and variates of one sample x [T, V]
    int affine;          // learnable per-variate scale and shift
    size_t w_idx, c_idx; // affine_weight [V], affine_bias [V] (when affine)
    int64_t B_max;
    real *mean;          // [B_max, V] statistics of the last forward (arena)
    real *std;           // [B_max, V]
} ssm_revin;

ssm_code ssm_revin_declare(ssm_revin *r, ssm_params *p, const char *prefix, int64_t T, int64_t V,
                           int affine, ssm_error *err);
void ssm_revin_init_params(ssm_revin *r, ssm_params *p);
// Call in measure mode and after ssm_arena_commit.
void ssm_revin_plan(ssm_revin *r, ssm_arena *a, int64_t B_max);

// mean, std [B, V] of x [B, T, V] (as defined above).
void ssm_revin_stats(real *mean, real *std, const real *x, int64_t B, int64_t T, int64_t V);

// xn [B, T, V] from x [B, T, V]; stores the statistics in r->mean, r->std.
void ssm_revin_norm_forward(ssm_revin *r, const ssm_params *p, real *xn, const real *x, int64_t B);
// Affine gradients (no-op without affine) from dxn [B, T, V]; recomputes the
// statistics from x (independent of the last forward).
void ssm_revin_norm_backward(const ssm_revin *r, ssm_params *p, const real *dxn, const real *x,
                             int64_t B);

// y [B, H, V] from yn [B, H, V] with the statistics of the last norm_forward.
void ssm_revin_denorm_forward(const ssm_revin *r, const ssm_params *p, real *y, const real *yn,
                              int64_t B, int64_t H);
// dyn [B, H, V] += dy * dy/dyn; affine gradients += (statistics of the last forward).
void ssm_revin_denorm_backward(const ssm_revin *r, ssm_params *p, real *dyn, const real *dy,
                               const real *yn, int64_t B, int64_t H);

// ---- on one GPU (CUDA=1 builds only; adapters/cuda/series.cu) ------------------------
// The twins of the four calls above, with r planned in a device arena (mean, std device
// arrays) and p the device mirror of the parameter table.
ssm_code ssm_revin_norm_forward_cuda(ssm_revin *r, const ssm_params *p, real *xn, const real *x,
                                     int64_t B, ssm_error *err);
ssm_code ssm_revin_norm_backward_cuda(const ssm_revin *r, ssm_params *p, const real *dxn,
                                      const real *x, int64_t B, ssm_error *err);
ssm_code ssm_revin_denorm_forward_cuda(const ssm_revin *r, const ssm_params *p, real *y,
                                       const real *yn, int64_t B, int64_t H, ssm_error *err);
ssm_code ssm_revin_denorm_backward_cuda(const ssm_revin *r, ssm_params *p, real *dyn,
                                        const real *dy, const real *yn, int64_t B, int64_t H,
                                        ssm_error *err);
