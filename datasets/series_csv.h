// defines: series_table, series_csv_read, series_table_free, series_table_find
// Reader of forecasting CSV files in the ETT / Autoformer layout:
//   date,HUFL,HULL,MUFL,MULL,LUFL,LULL,OT
//   2016-07-01 00:00:00,5.827,2.009,1.599,0.462,4.203,1.340,30.531
// The first column is the timestamp: kept as the strings written (never a
// feature, never parsed; the splits are by row index). Every other column is a
// variate and every cell must be a finite decimal number within float range. Parsing is strict:
// ragged rows, non-numeric cells, NaN/inf, an empty file, a missing header and
// duplicate column names are refused with file:line, the column and what was
// expected. Fields may be wrapped in double quotes ("" is a literal quote);
// CRLF line ends and blank lines at the very end of the file are accepted, a
// blank line between rows is not. See docs/datasets.md.
#pragma once
#include <stdint.h>

#include "core/error.h"

typedef struct {
    int64_t rows;    // data rows (the header line excluded)
    int64_t vars;    // numeric columns (every column but the first)
    double *values;  // [rows, vars] row-major, columns in file order
    char **names;    // [vars] column names from the header, in file order
    char *date_name; // header cell of the first (timestamp) column
    char **dates;    // [rows] timestamp cells as written; point into date_buf
    char *date_buf;  // storage of every date string
} series_table;

ssm_code series_csv_read(series_table *t, const char *path, ssm_error *e);
void series_table_free(series_table *t);

// Index of the variate column called `name`, or -1.
int64_t series_table_find(const series_table *t, const char *name);
