// defines: runlog, runlog_open, runlog_begin, runlog_int, runlog_num, runlog_str, runlog_end, runlog_close
// metrics.jsonl: one JSON object per line, flushed after each line so a
// killed run keeps everything it logged. Keys are documented in docs/runs.md.
#pragma once
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

typedef struct {
    FILE *f;
    int first; // no key written yet in the current object
} runlog;

// Opens path for append (a resumed run continues the same file).
ssm_code runlog_open(runlog *r, const char *path, ssm_error *err);
void runlog_begin(runlog *r);
void runlog_int(runlog *r, const char *key, int64_t v);
void runlog_num(runlog *r, const char *key, double v); // NaN/inf written as null
void runlog_str(runlog *r, const char *key, const char *v);
void runlog_end(runlog *r);
void runlog_close(runlog *r);

// Writes s as a JSON string literal (quotes and escapes) to f.
void json_write_string(FILE *f, const char *s);
