// defines: ucr_unequal, ucr_opts, ucr_set, ucr_read, ucr_read_pair, ucr_free, ucr_batch
// Readers of the time-series classification archives:
//   UCR 2018 .tsv  `label<TAB>v1<TAB>v2...`, univariate; varying-length datasets
//                  pad each line with trailing NaN, which we take as padding
//                  (the sample's length is the position after its last number);
//                  a NaN before the last number is a missing value.
//   sktime/UEA .ts header lines (@problemName, @timeStamps, @missing, @univariate,
//                  @dimensions, @equalLength, @seriesLength, @classLabel, @data),
//                  `#` and `%` comments, data lines `d1v1,d1v2,...:d2v1,...:label`, `?` missing.
// Every sample is brought to one length L (the longest in the file, or pair of
// files) and stored time-major [n, L, dims], as forecasting windows are, with its
// true length kept. Missing values are filled by linear interpolation between the
// nearest observed values of the same channel (the nearest value at the ends; 0 for
// a channel with no observed value). Labels become 0..K-1 in @classLabel order
// (.ts) or sorted order (.tsv: numerically when every label is a number).
// Errors name the file, the 1-based line and what was expected. docs/datasets.md.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef enum {
    UCR_PAD = 0,  // values after a sample's length are 0 (lengths[] says where it ends)
    UCR_RESAMPLE  // each sample linearly resampled to L points (end points kept)
} ucr_unequal;

typedef struct {
    ucr_unequal unequal; // how shorter samples reach the common length
    int64_t pad_to;      // common length at least this (0: the longest sample)
} ucr_opts;

typedef struct {
    int64_t n;           // samples
    int64_t dims;        // channels (1 for .tsv)
    int64_t len;         // common length L of every stored sample
    int64_t num_classes; // K
    real *x;             // [n, len, dims] time-major values
    int64_t *lengths;    // [n] each sample's length in the file (before padding/resampling)
    int32_t *labels;     // [n] class index in 0..K-1
    char **classes;      // [K] label text of each class index
    int64_t missing;     // values that were missing and filled by interpolation
    char problem[128];   // @problemName, or the file's base name for .tsv
} ucr_set;

// Reads one .tsv or .ts file (chosen by the extension). opts may be NULL.
ssm_code ucr_read(ucr_set *s, const char *path, const ucr_opts *o, ssm_error *e);

// Reads a train and a test file with one class mapping and one common length:
// .ts uses the train file's @classLabel list (a test label outside it is an
// error); .tsv uses the sorted labels of both files together.
ssm_code ucr_read_pair(ucr_set *train, ucr_set *test, const char *train_path,
                       const char *test_path, const ucr_opts *o, ssm_error *e);

void ucr_free(ucr_set *s);

// Gathers samples idx[0..B): x [B, len, dims], y [B] labels, lengths [B] (y and
// lengths may be NULL).
ssm_code ucr_batch(real *x /* [B, len, dims] */, int32_t *y /* [B] */, int64_t *lengths /* [B] */,
                   const ucr_set *s, const int64_t *idx /* [B] */, int64_t B, ssm_error *e);
