// defines: series_layout, series_mode, series_split_id, series_opts, series_dataset, series_split,
//          series_layout_from_path, series_borders, series_dataset_build, series_dataset_load,
//          series_dataset_free, series_split_get, series_window, series_batch,
//          series_inverse_transform, series_split_name
// The forecasting benchmarks' splits, scaling and windows, exactly as the
// reference code (Informer/Autoformer/PatchTST/S-Mamba data_loader.py:
// Dataset_ETT_hour, Dataset_ETT_minute, Dataset_Custom) so that results are
// comparable with published tables. Borders are row indices [border1, border2)
// of the full file; each split after the first starts `lookback` rows before
// its predecessor ends, so its first window's input overlaps the previous split
// and its first target is the split's first own row. See docs/datasets.md.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/series_csv.h"

typedef enum {
    SERIES_ETTH = 0, // hourly ETT: 12/4/4 months of 30 days x 24 rows
    SERIES_ETTM,     // 15-minute ETT: the same months x 4
    SERIES_CUSTOM    // any other file: 70% train / 20% test / the rest val
} series_layout;

typedef enum {
    SERIES_M = 0, // all variates in, all variates out
    SERIES_S,     // the target only, in and out
    SERIES_MS     // all variates in, the target out
} series_mode;

typedef enum { SERIES_TRAIN = 0, SERIES_VAL = 1, SERIES_TEST = 2 } series_split_id;

typedef struct {
    series_layout layout;
    series_mode mode;
    const char *target; // target column; NULL means "OT" (the reference default)
    int64_t lookback;   // input length (seq_len), >= 1
    int64_t horizon;    // forecast length (pred_len), >= 1
    int64_t stride;     // step between window starts; 0 means 1
    int scale;          // 1: standardise with training statistics (reference default)
    int time_features;  // 1: calendar features of every row (series_time.h) before the input
                        //    columns of x (the reference's x_mark; never scaled)
} series_opts;

typedef struct {
    int64_t rows;      // rows of the file
    int64_t vars;      // columns kept: M/MS every variate with the target moved last; S 1
    int64_t in_vars;   // columns of a window's input x: M/MS vars, S 1
    int64_t out_vars;  // columns of a window's target y: M vars, S/MS 1 (the last column)
    double *data;      // [rows, vars] the kept columns, standardised when opts.scale
    char **names;      // [vars] names of the kept columns
    double *mean;      // [vars] training-split mean (0 when not scaled)
    double *std;       // [vars] training-split population std (ddof 0); 1 for a constant
                       //        column and when not scaled
    int64_t border1[3]; // [train, val, test] first row of each split
    int64_t border2[3]; // [train, val, test] one past the last row
    int64_t lookback, horizon, stride;
    series_mode mode;
    int64_t time_feats; // calendar columns of x: SERIES_TIME_FEATURES, or 0 (opts.time_features)
    int64_t x_vars;     // columns of a window's x: time_feats + in_vars
    double *marks;      // [rows, time_feats] the calendar features of every row, or NULL
} series_dataset;

typedef struct {
    const series_dataset *ds;
    series_split_id id;
    int64_t begin, end; // rows [begin, end) = [border1, border2) of the split
    int64_t count;      // windows: (end - begin - lookback - horizon) / stride + 1
} series_split;

// ETTh* → SERIES_ETTH, ETTm* → SERIES_ETTM (by the file's base name, as the
// reference picks its Dataset class by data name), anything else SERIES_CUSTOM.
series_layout series_layout_from_path(const char *path);

// The reference borders for a file of `rows` rows. Fails when the file is too
// short for the layout (ETTh needs 14400 rows, ETTm 57600) or a split would
// start before row 0.
ssm_code series_borders(int64_t border1[3], int64_t border2[3], series_layout layout,
                        int64_t rows, int64_t lookback, ssm_error *e);

// Selects columns, computes borders, fits the scaler on the training rows and
// standardises every row; with opts.time_features parses every row's date (a date that
// does not parse fails naming its CSV line, the header being line 1). The table is only read. Fails if the target is not a
// column or a split has no complete window.
ssm_code series_dataset_build(series_dataset *d, const series_table *t, const series_opts *o,
                              ssm_error *e);
// series_csv_read + series_dataset_build; messages carry the path.
ssm_code series_dataset_load(series_dataset *d, const char *path, const series_opts *o,
                             ssm_error *e);
void series_dataset_free(series_dataset *d);

ssm_code series_split_get(series_split *s, const series_dataset *d, series_split_id id,
                          ssm_error *e);

// Window i of a split: with r = begin + i * stride,
//   x = data[r : r + lookback, input columns], y = data[r + lookback : r + lookback + horizon,
//   output columns] (the output columns are the last out_vars). With time features, each row
//   of x is marks[r + t, :] then the input columns (x_vars = time_feats + in_vars columns).
ssm_code series_window(real *x /* [lookback, x_vars] */, real *y /* [horizon, out_vars] */,
                       const series_split *s, int64_t i, ssm_error *e);
// Windows idx[0..B) stacked.
ssm_code series_batch(real *x /* [B, lookback, x_vars] */, real *y /* [B, horizon, out_vars] */,
                      const series_split *s, const int64_t *idx /* [B] */, int64_t B,
                      ssm_error *e);

// Undoes the scaling in place: v[r, c] = v[r, c] * std[col0 + c] + mean[col0 + c].
// For a model output y pass col0 = vars - out_vars; for an input x, col0 = vars - in_vars.
void series_inverse_transform(real *v /* [n, ncols] */, int64_t n, int64_t ncols, int64_t col0,
                              const series_dataset *d);

const char *series_split_name(series_split_id id);
