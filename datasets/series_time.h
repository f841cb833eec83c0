// defines: SERIES_TIME_FEATURES, series_date, series_date_parse, series_time_features
// Calendar features of a timestamp, as the forecasting reference code computes them
// (Informer / Autoformer / iTransformer / S-Mamba utils/timefeatures.py, `timeF` embedding at
// the default freq 'h', which every ETT script of S-Mamba and iTransformer runs with):
//   hour of day    hour / 23 - 0.5
//   day of week    weekday / 6 - 0.5          (Monday = 0, pandas' dayofweek)
//   day of month   (day - 1) / 30 - 0.5
//   day of year    (day of year - 1) / 365 - 0.5
// in this order, each in [-0.5, 0.5]. Minutes and seconds are read and ignored (freq 'h').
// The dataset (series_split.h, series_opts.time_features) puts them before the variates of
// every input window; the series_variate adapter makes each one a token.
#pragma once
#include <stdint.h>

#include "core/error.h"

#define SERIES_TIME_FEATURES 4

typedef struct {
    int year, month, day, hour, minute, second;
} series_date;

// Reads "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD HH:MM:SS" and the same with 'T'
// between date and time, '/' between the date's fields, and a fractional second
// ("...:SS.ffffff", ignored). Nothing may follow. The fields must make a real date
// (month 1..12, the month's days, leap years), hour 0..23, minute 0..59, second 0..60.
// Failure: SSM_EDATA naming the text and the form expected (the caller adds file:line).
ssm_code series_date_parse(series_date *d, const char *text, ssm_error *e);

// out [SERIES_TIME_FEATURES] of a parsed date, as listed above.
void series_time_features(double *out, const series_date *d);
