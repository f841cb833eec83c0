// defines: series_plain_read (see series_plain.h)
#include "datasets/series_plain.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_text.h"

// Fields of the line [s, s + n): commas + 1.
static int64_t field_count(const char *s, size_t n) {
    int64_t k = 1;
    for (size_t i = 0; i < n; i++)
        k += s[i] == ',';
    return k;
}

// The next comma-separated field of [*p, end), trimmed; *p moves past its comma.
static void next_field(const char **p, const char *end, const char **f, size_t *fn) {
    const char *comma = memchr(*p, ',', (size_t)(end - *p));
    *f = *p;
    *fn = comma ? (size_t)(comma - *p) : (size_t)(end - *p);
    series_trim(f, fn);
    *p = comma ? comma + 1 : end;
}

static int is_header(const char *s, size_t n) {
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *f;
        size_t fn;
        double v;
        next_field(&p, end, &f, &fn);
        if (series_parse_number(f, fn, &v) == SERIES_NUM_OK)
            return 0;
    }
    return 1;
}

static ssm_code cell_value(double *v, const char *path, int64_t line, int64_t col,
                           const char *f, size_t fn, ssm_error *e) {
    int st = series_parse_number(f, fn, v);
    if (st == SERIES_NUM_OK && fabs(*v) <= FLT_MAX)
        return SSM_OK;
    char snip[64];
    series_snippet(snip, sizeof snip, f, fn);
    return ssm_fail(e, SSM_EDATA, "%s:%lld: column %lld: expected a finite number, found "
                    "'%s'%s", path, (long long)line, (long long)col, snip,
                    st == SERIES_NUM_NAN ? " (NaN is not allowed)"
                    : st == SERIES_NUM_OK || st == SERIES_NUM_NONFINITE ? " (beyond float range)"
                    : fn == 0 ? " (empty cell)" : "");
}

ssm_code series_plain_read(real **x, int64_t *len, const char *path, int64_t dims, ssm_error *e) {
    *x = NULL;
    *len = 0;
    if (dims < 1)
        return ssm_fail(e, SSM_EINVAL, "%s: %lld channels, expected >= 1", path, (long long)dims);
    series_text t;
    SSM_TRY(series_text_read(&t, path, e));
    series_lines it;
    const char *s;
    size_t n;
    // pass 1: the data lines, the header, the row form
    int64_t lines = 0, first_fields = 0, header_line = 0;
    series_lines_init(&it, &t);
    while (series_next_line(&it, &s, &n)) {
        series_trim(&s, &n);
        if (!n)
            continue;
        if (!lines && !header_line && is_header(s, n)) {
            header_line = it.lineno;
            continue;
        }
        if (!lines)
            first_fields = field_count(s, n);
        lines++;
    }
    ssm_code rc = SSM_OK;
    const int row_form = dims == 1 && lines == 1 && first_fields > 1;
    const int64_t values = row_form ? first_fields : lines * dims;
    if (lines == 0)
        rc = ssm_fail(e, SSM_EDATA, "%s: no values%s; expected rows of %lld number(s), one row "
                      "per time step", path, header_line ? " after the header" : "",
                      (long long)dims);
    real *v = rc == SSM_OK ? malloc((size_t)values * sizeof *v) : NULL;
    if (rc == SSM_OK && !v)
        rc = ssm_fail(e, SSM_ENOMEM, "%s: out of memory for %lld values", path, (long long)values);
    // pass 2: the values
    int64_t k = 0;
    series_lines_init(&it, &t);
    while (rc == SSM_OK && series_next_line(&it, &s, &n)) {
        series_trim(&s, &n);
        if (!n || it.lineno == header_line)
            continue;
        const int64_t want = row_form ? first_fields : dims, got = field_count(s, n);
        if (got != want) {
            rc = ssm_fail(e, SSM_EDATA, "%s:%lld: %lld value(s); expected %lld, one per channel "
                          "of the model's series (data_variates), a row per time step", path,
                          (long long)it.lineno, (long long)got, (long long)want);
            break;
        }
        const char *p = s, *end = s + n;
        for (int64_t c = 0; c < want && rc == SSM_OK; c++) {
            const char *f;
            size_t fn;
            double d = 0;
            next_field(&p, end, &f, &fn);
            rc = cell_value(&d, path, it.lineno, c + 1, f, fn, e);
            v[k++] = (real)d;
        }
    }
    series_text_free(&t);
    if (rc != SSM_OK) {
        free(v);
        return rc;
    }
    *x = v;
    *len = row_form ? first_fields : lines;
    return SSM_OK;
}
