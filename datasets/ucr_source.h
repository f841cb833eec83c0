// defines: ucr_source_opts, ucr_source, ucr_patch_auto, ucr_patch_count, ucr_znorm_set,
//          ucr_channel_stats, ucr_standardize_set, ucr_series_norm_resolve, UCR_AUTO_TOKENS
// The sample source (datasets/batch.h) of a classification set (datasets/ucr.h), in one of
// two layouts:
//   dense   x [L, V]: the series at the set's common length L (zero after its own length,
//           or resampled, as read); what the series_patch / series_variate adapters take
//   packed  a ragged source (DESIGN.md "Variable length"): sample i is its own P_i patch
//           tokens, no padding and nothing to mask. Token k of a series of length n holds
//           the values at times k*s .. k*s + p - 1 (time-major, p x V values: row[j*V + v]
//           = x[k*s + j, v]); the last token repeats the last value past the end of the
//           series, and P_i = ceil(max(n - p, 0) / s) + 1 tokens cover every value. Patch
//           length p and stride s are the same for every series of the set (the model's
//           token embedding is one linear map of p x V values). An unequal-length set
//           (JapaneseVowels: 7 to 29 steps) thus gives each series exactly its tokens.
// Training sources augment (datasets/series_augment.h) each series over its own length
// before it is cut, every draw from the sample key, so the token count never depends on
// the augmentation.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "datasets/batch.h"
#include "datasets/series_augment.h"
#include "datasets/ucr.h"

// Tokens per series the automatic patching aims at: the cost of a step stays the same from
// 24-step to 2,844-step sets (the scan is linear in tokens; 64 tokens of d_model 64 keep a
// step on 2 CPU cores in milliseconds).
#define UCR_AUTO_TOKENS 64

typedef struct {
    int pack;                // 1: packed patch tokens; 0: dense [L, V]
    int64_t patch_len;       // p (packed); resolve 0 with ucr_patch_auto first
    int64_t patch_stride;    // s (packed)
    int augment;             // apply aug (training sources)
    series_aug aug;
} ucr_source_opts;

// The automatic patching for a set whose longest series has L steps: stride s =
// max(1, ceil(L / UCR_AUTO_TOKENS)), length p = 2 s (tokens overlap by half, as PatchTST's
// 16 / 8), so a series of L steps gives about UCR_AUTO_TOKENS tokens (fewer when shorter:
// L - 1 at most, one per step, for L <= UCR_AUTO_TOKENS). A given len or stride (> 0) is
// kept; only the zero ones are chosen (stride 0 with len p: s = max(1, p / 2)).
void ucr_patch_auto(int64_t L, int64_t *len, int64_t *stride);

// P = ceil(max(n - p, 0) / s) + 1 tokens of a series of n >= 1 steps.
int64_t ucr_patch_count(int64_t n, int64_t p, int64_t s);

// z-normalises every series of the set in place, each channel over the series' own length
// (padding stays 0): the UCR archive's per-series normalisation, also for UEA sets that
// ship raw.
void ucr_znorm_set(ucr_set *s);

// Per-channel mean and population std of every value (own lengths; the padding is not
// data) of the series ids[0..n) of s (ids NULL: all n = s->n): the training split's scale
// that data.series_norm: dataset applies to train, validation and test alike. A constant
// channel gets std 1.
ssm_code ucr_channel_stats(const ucr_set *s, const int64_t *ids, int64_t n,
                           double *mean /* [dims] */, double *std /* [dims] */, ssm_error *err);
// x = (x - mean[c]) / std[c] over each series' own length (padding stays 0).
void ucr_standardize_set(ucr_set *s, const double *mean, const double *std);

// data.series_norm as applied to a set of `dims` channels: auto is series for a univariate
// set and dataset for a multivariate one. Univariate archive sets are z-normalised series by
// convention, and the few that ship raw (PLAID: currents of 0.1 to 20 A) need it: with the
// training set's one scale, small appliances' series are near-constant tokens. Multivariate
// sets ship raw, and their channels' levels can tell classes apart (docs/tasks.md).
static inline ssm_series_norm ucr_series_norm_resolve(ssm_series_norm n, int64_t dims) {
    if (n != SSM_SERIES_NORM_AUTO)
        return n;
    return dims == 1 ? SSM_SERIES_NORM_SERIES : SSM_SERIES_NORM_DATASET;
}

// A source over s (not copied: s must outlive the batcher); ids are the set's sample
// indices. The batcher takes ownership of *src (its free releases the scratch).
ssm_code ucr_source(ssm_sample_source *src, const ucr_set *s, const ucr_source_opts *o,
                    ssm_error *err);
