// defines: forecast_head, forecast_head_declare, forecast_head_init_params, forecast_head_forward,
//          forecast_head_backward, forecast_loss_forward, forecast_loss_backward, forecast_errors
// The forecast head: a linear projection of each variate's features to the
// horizon, and the forecast losses.
//
// One sample's backbone features are a contiguous block of S*L*D values
// (tasks/trunk.h). The head views it as G groups of F = S*L*D / G values, one
// group per variate, and maps each group to H values with one shared linear
// layer head.weight [H, F], head.bias [H]:
//   series_variate (one token per variate, S = 1, L = V):  F = D
//     (iTransformer / S-Mamba's projector: token -> H)
//   series_patch (one sequence of P patches per variate, S = V): F = P*D
//     (PatchTST's flatten head: a variate's patch tokens flattened -> H)
// Output yn [B, H, G], time-major like the targets.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/params.h"
#include "core/real.h"
#include "core/rng.h"

typedef struct {
    int64_t G, F, H;     // groups (variates), features per group, horizon
    size_t w_idx, b_idx; // head.weight [H, F], head.bias [H]
} forecast_head;

ssm_code forecast_head_declare(forecast_head *h, ssm_params *p, const char *prefix, int64_t G,
                               int64_t F, int64_t H, ssm_error *err);
// nn.Linear's default: uniform +-1/sqrt(F) for weight and bias.
void forecast_head_init_params(forecast_head *h, ssm_params *p, ssm_rng *rng);

// yn [B, H, G] from feats [B, G, F]; tmp [B*G, H] scratch.
void forecast_head_forward(const forecast_head *h, const ssm_params *p, real *yn, real *tmp,
                           const real *feats, int64_t B);
// dfeats [B, G, F] += gradient from dyn [B, H, G]; head gradients +=. tmp [B*G, H] scratch.
void forecast_head_backward(const forecast_head *h, ssm_params *p, real *dfeats, real *tmp,
                            const real *dyn, const real *feats, int64_t B);

// The loss of pred [B, H, G] against y [B, H, Vout]: the target columns are
// the LAST Vout of the G (features MS: all variates in, the target out, which
// the dataset puts last). mae = 0: mean squared error, 1: mean absolute error;
// the mean runs over B*H*Vout.
double forecast_loss_forward(const real *pred, const real *y, int64_t B, int64_t H, int64_t G,
                             int64_t Vout, int mae);
// dpred [B, H, G] += d loss / d pred (0 on the columns that are not targets;
// the MAE's subgradient at 0 is 0).
void forecast_loss_backward(real *dpred, const real *pred, const real *y, int64_t B, int64_t H,
                            int64_t G, int64_t Vout, int mae);

// Sums over the batch, for metrics: sse/sae of (pred - y) on the given scale
// and on the original scale (each target column j's error times std[j]: the
// dataset's scaler, whose mean cancels in the difference). std may be NULL (1).
void forecast_errors(double *sse, double *sae, double *sse_orig, double *sae_orig, const real *pred,
                     const real *y, const double *std, int64_t B, int64_t H, int64_t G,
                     int64_t Vout);
