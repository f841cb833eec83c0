// defines: series_data, series_data_open, series_data_close, series_data_is_series
// The time-series recipes behind `data.name: ett | csv | ucr`, the series twin
// of image_data.h: from the config to train / val / test batchers.
//
//   ett, csv   forecasting (datasets/series_split.h): data.path is the CSV file;
//              the splits, the scaler (fitted on the training rows) and the
//              windows are the reference code's (ett needs an ETTh* / ETTm*
//              file name, csv uses the 70/10/20 layout). data.lookback,
//              data.horizon, data.stride, data.features (M, S, MS),
//              data.target. Batches: x [B, lookback, in_vars] standardised,
//              y_dense [B, horizon, out_vars]; with data.time_features x is
//              [B, lookback, 4 + in_vars], the window's calendar features
//              (datasets/series_time.h) before the variates. data.limit keeps the first N
//              training windows. data.val_fraction does not apply: the
//              validation split is the reference's.
//   ucr        classification (datasets/ucr.h): data.path is the training file
//              (<Name>_TRAIN.tsv or .ts); the test file is the same path with
//              _TRAIN replaced by _TEST. data.val_fraction of the training
//              samples (seeded shuffle) is held out for validation. Batches:
//              x [B, len, dims] (as the archive ships them; data.series_norm
//              z-normalises each series, or standardises each channel with the
//              training file's statistics), y [B] labels; with data.pack ragged
//              batches of patch tokens instead (datasets/ucr_source.h: each series
//              its own length, nothing padded). Training batches are augmented
//              (data.augment.jitter, scaling, window_slice, window_warp), never
//              larger than the training split, and keep the last partial batch.
// Train batchers shuffle (data.shuffle) and drop the last partial batch (ucr:
// keep it); val and test keep every window in order.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "datasets/batch.h"
#include "datasets/series_split.h"
#include "datasets/ucr.h"

typedef struct {
    int forecast;               // 1: ett/csv windows, 0: ucr classification
    series_dataset ds;          // forecast
    series_split split[3];      // forecast: train, val, test
    ucr_set ucr_train, ucr_test;// classification
    int64_t *ucr_train_ids, *ucr_val_ids;
    double *ucr_mean, *ucr_std; // [in_vars] data.series_norm: dataset's scale, or NULL
    ssm_batcher train, val, test;
    int has_val;
    int64_t n_train, n_val, n_test;
    int64_t T, in_vars;         // one sample x [T, in_vars] (+ time_feats columns before them)
    int64_t time_feats;         // forecast with data.time_features: calendar columns of x, else 0
    int64_t x_vars;             // columns of one sample x: time_feats + in_vars
    int64_t horizon, out_vars;  // forecast targets [horizon, out_vars]
    double *out_std;            // [out_vars] scaler std of the target columns (forecast)
    int64_t num_classes;        // classification
    // data.pack (classification): ragged batches of patch tokens (datasets/ucr_source.h)
    int ragged;
    int64_t patch_len, patch_stride; // resolved (automatic when the config says 0)
    int64_t token;              // values of one token: patch_len * in_vars
    int64_t max_tokens;         // tokens a batch may hold (the largest batcher's budget)
    char path[SSM_CFG_PATH_MAX];
    int open;                   // which batchers exist (close frees them)
} series_data;

// 1 when data.name is a series recipe (ett, csv, ucr).
int series_data_is_series(const ssm_data_config *dc);

// test_too = 0 skips the test split's batcher (training-only uses, check-grad).
ssm_code series_data_open(series_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                          ssm_error *err);
void series_data_close(series_data *d);
