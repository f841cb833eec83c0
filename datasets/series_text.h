// defines: series_text, series_text_read, series_text_free, series_lines, series_lines_init,
//          series_next_line, series_trim, series_next_cell, series_parse_number,
//          series_snippet, SERIES_NUM_*
// Shared text plumbing of the time-series readers (series_csv.c, ucr.c, ucr_ts.c):
// a whole file read into one NUL-terminated buffer, a line iterator that counts
// 1-based line numbers for error messages, and a strict decimal number parser
// (strtod alone accepts "nan", "inf", hex floats and leading junk; we do not).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct {
    char *buf;  // [len + 1] file bytes, NUL-terminated
    size_t len; // bytes in the file
} series_text;

// Reads the whole file. An empty file is accepted here (callers decide what an
// empty file means); a NUL byte anywhere is refused (file and line named),
// because text formats never contain one and it would cut strings short.
ssm_code series_text_read(series_text *t, const char *path, ssm_error *e);
void series_text_free(series_text *t);

typedef struct {
    const char *p, *end; // cursor and end of the buffer
    int64_t lineno;      // 1-based number of the line last returned
} series_lines;

void series_lines_init(series_lines *it, const series_text *t);
// Next line without its '\n' (and a trailing '\r', for CRLF files); returns 0
// at the end of the buffer. A final line without '\n' is still returned.
int series_next_line(series_lines *it, const char **s, size_t *n);

// Strips spaces and tabs at both ends of [*s, *s + *n).
void series_trim(const char **s, size_t *n);
// The next comma-separated cell of [*p, end) into [*cell, *cell + *len): trimmed, one pair of
// surrounding double quotes stripped; *p moves past its comma (to end after the last cell).
void series_next_cell(const char **p, const char *end, const char **cell, size_t *len);

enum {
    SERIES_NUM_OK = 0,      // a finite decimal number
    SERIES_NUM_BAD = 1,     // not a decimal number (empty, letters, junk after it)
    SERIES_NUM_NAN = 2,     // "nan"/"NaN" in any case (callers decide: error or missing)
    SERIES_NUM_NONFINITE = 3 // "inf", "infinity", or a decimal that overflows a double
};
// Parses exactly [s, s + n) (no trimming) as [+-]digits[.digits][(e|E)[+-]digits]
// (digits may be absent on one side of the point). Returns SERIES_NUM_*.
int series_parse_number(const char *s, size_t n, double *v);

// A printable copy of [s, s + n) for messages: at most ~40 characters, control
// bytes shown as '?', "..." when cut.
void series_snippet(char *out, size_t cap, const char *s, size_t n);
