// defines: forecast_model, forecast_model_spec, forecast_model_build, forecast_model_forward,
//          forecast_model_loss_and_grad, forecast_model_free
// The forecasting model: adapter -> Mamba backbone (tasks/trunk.h) ->
// forecast head (tasks/forecast_head.h) -> RevIN de-normalisation when the
// adapter normalised (its `inorm`), with an MSE or MAE loss on the dataset's
// standardised scale. Owns the flat parameters and the arena (no malloc in a
// step).
#pragma once
#include <stdint.h>

#include "core/arena.h"
#include "core/params.h"
#include "tasks/forecast_head.h"
#include "tasks/trunk.h"

typedef struct {
    ssm_trunk_spec trunk;  // input [lookback, in_vars]
    int64_t horizon;       // H
    int64_t out_vars;      // target columns: the last out_vars of the input's variates
    int mae;               // loss: 0 MSE, 1 MAE
    int64_t B_max;
    uint64_t seed;
} forecast_model_spec;

typedef struct {
    ssm_params params;
    ssm_arena arena;
    ssm_trunk trunk;
    forecast_head head;
    int64_t B_max, H, G, Vout; // G: variates the head forecasts (the input's), Vout: targets
    int mae;
    real *yn;    // [B_max, H, G] head output (RevIN-normalised scale when RevIN is on)
    real *pred;  // [B_max, H, G] the forecast on the dataset's standardised scale
    real *dpred; // [B_max, H, G]
    real *dyn;   // [B_max, H, G]
    real *tmp;   // [B_max * G, H] head scratch
} forecast_model;

ssm_code forecast_model_build(forecast_model *m, const forecast_model_spec *spec, ssm_error *err);
// m->pred [B, H, G] for x [B, T, V].
ssm_code forecast_model_forward(forecast_model *m, const real *x, int64_t B, ssm_error *err);
// Forward + loss against y [B, H, Vout] + backward; zeroes and fills m->params.grad.
ssm_code forecast_model_loss_and_grad(forecast_model *m, const real *x, const real *y, int64_t B,
                                      double *loss, ssm_error *err);
void forecast_model_free(forecast_model *m);
