// defines: ucr_raw, ucr_raw_init, ucr_raw_free, ucr_raw_value, ucr_raw_sample,
//          ucr_raw_declare_class, ucr_parse_tsv, ucr_parse_ts
// Internal to ucr.c / ucr_ts.c: samples as parsed (channel-major, NaN marking a
// missing value), before labels are mapped and lengths unified.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef struct {
    const char *path;   // file name for messages
    int64_t n, cap;     // samples, allocated sample slots
    int64_t dims;       // channels (0 until the first sample)
    int64_t *len;       // [n] time steps of sample i (every channel the same)
    int64_t *off;       // [n] start of sample i in vals: [dims, len[i]] channel-major
    int64_t *line;      // [n] 1-based line of sample i
    char **label;       // [n] label text
    real *vals;         // [nvals] values, NaN = missing
    int64_t nvals, vcap;
    char **classes;     // [nclasses] declared class labels (.ts @classLabel)
    int64_t nclasses;
    char problem[128];
} ucr_raw;

void ucr_raw_init(ucr_raw *r, const char *path);
void ucr_raw_free(ucr_raw *r);
// Appends one value to the pending sample.
ssm_code ucr_raw_value(ucr_raw *r, real v, ssm_error *e);
// Closes the pending sample: its values are vals[off, nvals); label copied.
ssm_code ucr_raw_sample(ucr_raw *r, const char *label, size_t label_n, int64_t len, int64_t off,
                        int64_t line, ssm_error *e);
ssm_code ucr_raw_declare_class(ucr_raw *r, const char *label, size_t n, int64_t line,
                               ssm_error *e);

ssm_code ucr_parse_tsv(ucr_raw *r, ssm_error *e);
ssm_code ucr_parse_ts(ucr_raw *r, ssm_error *e);
