// defines: series_adapter_orders, series_adapter_revin_options, series_adapter_check_input,
//          series_adapter_time_features, series_adapter_dropout
// What the two time-series adapters (series_variate.c, series_patch.c) share:
// their scan orders over a token sequence that has no second dimension
// (forward = the identity, also accepted as "row", the config's default;
// reverse = its flip: S-Mamba's bidirectional scan)
// and the RevIN options. Private to adapters/.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"

// Fills a->n_orders, a->order_names and *base [n_orders, L] (malloc'd, the
// caller frees) from opt->orders (default: forward, reverse).
ssm_code series_adapter_orders(ssm_adapter *a, const ssm_adapter_options *opt, int64_t L,
                               int32_t **base, const char *adapter, ssm_error *err);

// The checks both series adapters make at create: only the extra options revin,
// revin_affine, time_features and dropout, a [lookback, variates] sample shape, no class token (they
// pool by mean).
ssm_code series_adapter_check_input(const ssm_adapter_options *opt, const ssm_input_shape *in,
                                    const char *adapter, ssm_error *err);

// Reads the extra options "revin" and "revin_affine" (0 or 1; default 0).
ssm_code series_adapter_revin_options(const ssm_adapter_options *opt, const char *adapter,
                                      int *revin, int *affine, ssm_error *err);

// Reads the extra option "time_features" (default 0): how many of the input's first columns
// are calendar features (datasets/series_time.h; the trunk sets it from data.time_features),
// checked against the input's V columns (at least one variate must remain).
ssm_code series_adapter_time_features(const ssm_adapter_options *opt, const char *adapter,
                                      int64_t V, int64_t *F, ssm_error *err);

// Reads the extra option "dropout" (default 0): the probability of the dropout on the
// adapter's tokens in training steps (adapter.dropout; ssm_adapter.drop), in [0, 1).
ssm_code series_adapter_dropout(const ssm_adapter_options *opt, const char *adapter, double *p,
                                ssm_error *err);
