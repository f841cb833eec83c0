// defines: series_csv_read, series_table_free, series_table_find
#include "datasets/series_csv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_text.h"

typedef struct {
    const char *s; // field contents (inside the quotes when quoted; "" not yet unescaped)
    size_t n;
    int quoted;
} csv_field;

// Splits one line at commas, honouring double quotes. Stores at most `cap`
// fields but counts them all into *count. Returns 0, or -1 for a quote that
// is not closed on this line / text after a closing quote (*bad_field set).
static int split_line(const char *s, size_t n, csv_field *fields, int64_t cap, int64_t *count,
                      int64_t *bad_field) {
    int64_t k = 0;
    size_t i = 0;
    for (;;) {
        const char *fs;
        size_t fn;
        int quoted = 0;
        size_t j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (j < n && s[j] == '"') {
            quoted = 1;
            size_t q = j + 1;
            for (;;) {
                if (q >= n) {
                    *bad_field = k + 1;
                    return -1;
                }
                if (s[q] == '"') {
                    if (q + 1 < n && s[q + 1] == '"') {
                        q += 2;
                        continue;
                    }
                    break;
                }
                q++;
            }
            fs = s + j + 1;
            fn = q - (j + 1);
            i = q + 1;
            while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++;
            if (i < n && s[i] != ',') {
                *bad_field = k + 1;
                return -1;
            }
        } else {
            const char *comma = memchr(s + i, ',', n - i);
            size_t stop = comma ? (size_t)(comma - s) : n;
            fs = s + i;
            fn = stop - i;
            series_trim(&fs, &fn);
            i = stop;
        }
        if (k < cap)
            fields[k] = (csv_field){fs, fn, quoted};
        k++;
        if (i >= n)
            break;
        i++; // past the comma; a trailing comma makes one more (empty) field
        if (i == n) {
            if (k < cap)
                fields[k] = (csv_field){s + n, 0, 0};
            k++;
            break;
        }
    }
    *count = k;
    return 0;
}

// Copies a field into dst (NUL-terminated), turning "" into " in quoted fields.
static size_t copy_field(char *dst, const csv_field *f) {
    size_t j = 0;
    for (size_t i = 0; i < f->n; i++) {
        dst[j++] = f->s[i];
        if (f->quoted && f->s[i] == '"' && i + 1 < f->n && f->s[i + 1] == '"')
            i++;
    }
    dst[j] = '\0';
    return j;
}

static char *dup_field(const csv_field *f) {
    char *d = malloc(f->n + 1);
    if (d)
        copy_field(d, f);
    return d;
}

static int only_blank_after(const series_lines *it) {
    for (const char *p = it->p; p < it->end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return 0;
    return 1;
}

static ssm_code read_header(series_table *t, const char *path, const char *s, size_t n,
                            csv_field **fields_out, ssm_error *e) {
    int64_t count = 0, bad = 0;
    if (split_line(s, n, NULL, 0, &count, &bad) != 0)
        return ssm_fail(e, SSM_EFORMAT, "%s:1: column %lld: unterminated quote or text after a "
                        "closing quote in the header", path, (long long)bad);
    if (count < 2)
        return ssm_fail(e, SSM_EFORMAT, "%s:1: header has %lld column(s); expected a date column "
                        "and at least one variate (e.g. date,HUFL,...,OT)", path, (long long)count);
    csv_field *fields = calloc((size_t)count + 1, sizeof *fields);
    t->names = calloc((size_t)count, sizeof *t->names);
    if (!fields || !t->names) {
        free(fields);
        return ssm_fail(e, SSM_ENOMEM, "%s: out of memory for %lld columns", path, (long long)count);
    }
    *fields_out = fields;
    split_line(s, n, fields, count + 1, &count, &bad);
    t->vars = count - 1;
    char snip[64];
    for (int64_t c = 0; c < count; c++) {
        if (fields[c].n == 0)
            return ssm_fail(e, SSM_EFORMAT, "%s:1: column %lld: empty column name; expected a "
                            "header line naming every column", path, (long long)c + 1);
        double v;
        if (c > 0 && !fields[c].quoted &&
            series_parse_number(fields[c].s, fields[c].n, &v) == SERIES_NUM_OK) {
            series_snippet(snip, sizeof snip, fields[c].s, fields[c].n);
            return ssm_fail(e, SSM_EFORMAT, "%s:1: column %lld: expected a column name, found the "
                            "number '%s' (is the header line missing?)", path, (long long)c + 1, snip);
        }
        char *name = dup_field(&fields[c]);
        if (!name)
            return ssm_fail(e, SSM_ENOMEM, "%s: out of memory", path);
        if (c == 0)
            t->date_name = name;
        else
            t->names[c - 1] = name;
    }
    // names[b] against the date column and every earlier variate; columns are 1-based in
    // messages and the date column is column 1, so variate b is column b + 2
    for (int64_t b = 0; b < t->vars; b++) {
        int64_t first = strcmp(t->names[b], t->date_name) == 0 ? 1 : 0;
        for (int64_t a = 0; a < b && !first; a++)
            if (strcmp(t->names[a], t->names[b]) == 0)
                first = a + 2;
        if (first) {
            series_snippet(snip, sizeof snip, t->names[b], strlen(t->names[b]));
            return ssm_fail(e, SSM_EFORMAT, "%s:1: column %lld: duplicate column name '%s' (also "
                            "column %lld); expected unique names", path, (long long)b + 2, snip,
                            (long long)first);
        }
    }
    return SSM_OK;
}

ssm_code series_csv_read(series_table *t, const char *path, ssm_error *e) {
    memset(t, 0, sizeof *t);
    series_text text;
    SSM_TRY(series_text_read(&text, path, e));
    ssm_code rc = SSM_OK;
    csv_field *fields = NULL;
    series_lines it;
    series_lines_init(&it, &text);
    const char *s;
    size_t n;
    int have = series_next_line(&it, &s, &n);
    const char *ts = s;
    size_t tn = n;
    if (have)
        series_trim(&ts, &tn);
    if (!have || (tn == 0 && only_blank_after(&it))) {
        rc = ssm_fail(e, SSM_EFORMAT, "%s:1: empty file; expected a header line (date,<variates>) "
                      "followed by data rows", path);
        goto done;
    }
    if ((rc = read_header(t, path, s, n, &fields, e)) != SSM_OK)
        goto done;
    const int64_t ncol = t->vars + 1;

    // rows are at most the remaining newlines + 1: allocate once
    int64_t cap_rows = 1;
    for (const char *p = it.p; p < it.end; p++)
        cap_rows += *p == '\n';
    size_t nvals = (size_t)cap_rows * (size_t)t->vars;
    if (nvals / (size_t)t->vars != (size_t)cap_rows) {
        rc = ssm_fail(e, SSM_ENOMEM, "%s: %lld rows x %lld columns is too large", path,
                      (long long)cap_rows, (long long)t->vars);
        goto done;
    }
    t->values = malloc(nvals * sizeof *t->values);
    t->dates = malloc((size_t)cap_rows * sizeof *t->dates);
    t->date_buf = malloc(text.len + 1); // every date cell + NUL fits in its own line
    if (!t->values || !t->dates || !t->date_buf) {
        rc = ssm_fail(e, SSM_ENOMEM, "%s: out of memory for %lld rows", path, (long long)cap_rows);
        goto done;
    }
    size_t date_used = 0;
    char snip[64];
    while (series_next_line(&it, &s, &n)) {
        const long long line = (long long)it.lineno;
        ts = s;
        tn = n;
        series_trim(&ts, &tn);
        if (tn == 0) {
            if (only_blank_after(&it))
                break;
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: empty line; expected a data row of %lld fields",
                          path, line, (long long)ncol);
            goto done;
        }
        int64_t count = 0, bad = 0;
        if (split_line(s, n, fields, ncol + 1, &count, &bad) != 0) {
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: column %lld: unterminated quote or text after "
                          "a closing quote", path, line, (long long)bad);
            goto done;
        }
        if (count != ncol) {
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: %lld fields; expected %lld as in the header "
                          "(%s + %lld variates)", path, line, (long long)count, (long long)ncol,
                          t->date_name, (long long)t->vars);
            goto done;
        }
        if (fields[0].n == 0) {
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: column 1 ('%s'): empty; expected a timestamp",
                          path, line, t->date_name);
            goto done;
        }
        const int64_t r = t->rows;
        for (int64_t c = 1; c < ncol; c++) {
            double v = 0;
            int st = series_parse_number(fields[c].s, fields[c].n, &v);
            if (st != SERIES_NUM_OK) {
                series_snippet(snip, sizeof snip, fields[c].s, fields[c].n);
                const char *why = st == SERIES_NUM_NAN ? " (NaN is not allowed)"
                                  : st == SERIES_NUM_NONFINITE ? " (not finite)"
                                  : fields[c].n == 0 ? " (empty cell)" : "";
                rc = ssm_fail(e, SSM_EDATA, "%s:%lld: column %lld ('%s'): expected a finite "
                              "number, found '%s'%s", path, line, (long long)c + 1,
                              t->names[c - 1], snip, why);
                goto done;
            }
            if (fabs(v) > FLT_MAX) { // the model computes in float: it would become inf
                series_snippet(snip, sizeof snip, fields[c].s, fields[c].n);
                rc = ssm_fail(e, SSM_EDATA, "%s:%lld: column %lld ('%s'): '%s' is beyond float "
                              "range (|x| <= 3.4e38)", path, line, (long long)c + 1,
                              t->names[c - 1], snip);
                goto done;
            }
            t->values[r * t->vars + (c - 1)] = v;
        }
        t->dates[r] = t->date_buf + date_used;
        date_used += copy_field(t->date_buf + date_used, &fields[0]) + 1;
        t->rows++;
    }
    if (t->rows == 0)
        rc = ssm_fail(e, SSM_EFORMAT, "%s:2: no data rows after the header; expected at least one",
                      path);
done:
    free(fields);
    series_text_free(&text);
    if (rc != SSM_OK)
        series_table_free(t);
    return rc;
}

void series_table_free(series_table *t) {
    if (t->names)
        for (int64_t c = 0; c < t->vars; c++)
            free(t->names[c]);
    free(t->names);
    free(t->values);
    free(t->date_name);
    free(t->dates);
    free(t->date_buf);
    memset(t, 0, sizeof *t);
}

int64_t series_table_find(const series_table *t, const char *name) {
    for (int64_t c = 0; c < t->vars; c++)
        if (strcmp(t->names[c], name) == 0)
            return c;
    return -1;
}
