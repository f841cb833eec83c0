// defines: series_stamp_kind, series_stamps, series_stamps_infer, series_stamps_format,
//          SERIES_STAMP_MAX
// The first column of a forecasting CSV (datasets/series_csv.h keeps it as the strings
// written) read as time, so that `ssmkit predict` can label the rows of a forecast with the
// times they forecast (docs/predict.md):
//   timestamps  YYYY<s>M<s>D[( |T)h:mm[:ss]][Z], <s> one of - / . (the same both times);
//               month, day and hour of one or two digits (ETT: 2016-07-01 00:00:00; the
//               exchange-rate set: 1990/1/1 0:00); taken as UTC (no time zone, no leap
//               seconds)
//   an index    integers ([-]digits, at most 18) rising by one constant step
// Anything else (fractional seconds, a time zone offset, names) is not time: kind NONE,
// and predict numbers the future steps 1..horizon instead.
// The step of timestamps is a calendar one when every cell is on the same day of the month
// at the same time (monthly data: a whole number of months), or on the last day of its
// month (month-end data); else the interval in seconds between the last two cells. Every
// interval must equal the step: a gap, a repeated row or a row out of order is refused,
// naming the cell (the window is then not one of the evenly spaced series the model was
// trained on). An index whose steps differ is not an index (NONE). Future stamps are
// written in the cells' own layout: the same separators, seconds and 'Z' when they have
// them, and month, day and hour in two digits unless some cell wrote one digit.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define SERIES_STAMP_MAX 40 // bytes a formatted stamp needs, NUL included

typedef enum {
    SERIES_STAMP_NONE = 0, // not time: number the steps
    SERIES_STAMP_TIME,     // timestamps
    SERIES_STAMP_INDEX     // an integer index
} series_stamp_kind;

typedef struct {
    series_stamp_kind kind;
    // TIME: the layout of the cells
    char date_sep;                    // '-', '/' or '.'
    char time_sep;                    // ' ' or 'T'; 0: dates only
    int seconds;                      // h:mm:ss (else h:mm)
    int zulu;                         // a trailing 'Z'
    int pad_month, pad_day, pad_hour; // two digits (else as many as the value needs)
    // the step
    int64_t last;   // TIME: seconds since 1970-01-01 of the last cell; INDEX: its value
    int64_t step;   // TIME (months 0): seconds; INDEX: the difference
    int64_t months; // TIME: a calendar step of this many months (step 0)
    int month_end;  // TIME with months: every cell is its month's last day
    int last_day;   // TIME with months: the last cell's day of the month
} series_stamps;

// What cells[0..n) (consecutive rows, oldest first) are. SSM_OK with kind NONE when they
// are not time, or n < 2 (no step to take). SSM_EDATA when the last cell is a timestamp and
// another is not one of the same layout, or the intervals are not one step: *bad is the
// index of the cell named, and the message (without a file name) says what was expected.
ssm_code series_stamps_infer(series_stamps *s, const char *const *cells, int64_t n,
                             int64_t *bad, ssm_error *e);

// The stamp k >= 1 steps after the last cell, in the cells' layout, into out [cap >=
// SERIES_STAMP_MAX]. Returns 0, or -1 when it is past the year 9999 (an index: past int64).
int series_stamps_format(const series_stamps *s, int64_t k, char *out, size_t cap);
