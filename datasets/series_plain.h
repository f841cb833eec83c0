// defines: series_plain_read
// One series in a plain CSV file, the input `ssmkit predict` takes besides the archive's
// .ts / .tsv files for a model trained on series classification (data.name ucr;
// docs/predict.md): rows are time steps, columns the series' `dims` channels, numbers only,
// separated by commas. A first line with no number in it is a header (skipped); blank lines
// are skipped; with dims 1 a file of a single line of several numbers is also one series
// (written as a row). Every value must be a finite decimal number within float range
// (datasets/series_text.h's strict parser): an empty cell, NaN, a row of another width are
// refused with file:line, the column and what was expected. Memory is sized by the file's
// bytes, never by what a line claims.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

// *x [*len, dims] time-major (malloc'd: the caller frees it), *len >= 1.
ssm_code series_plain_read(real **x, int64_t *len, const char *path, int64_t dims, ssm_error *e);
