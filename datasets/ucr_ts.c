// defines: ucr_parse_ts
// The sktime/UEA .ts format: a header of @tags, then `@data` and one sample a
// line, dimensions separated by ':' and values by ',', the class label last:
//   @problemName BasicMotions
//   @univariate false
//   @dimensions 2
//   @equalLength true
//   @seriesLength 3
//   @classLabel true standing walking
//   @data
//   0.1,0.2,0.3:1.0,?,1.2:walking
// Tags are case-insensitive; lines starting with '#' or '%' are comments (sktime's
// UnitTest files have '%' ones). `?` (or NaN) is a missing
// value, refused when the header says `@missing false`. Timestamped data
// (@timeStamps true) and regression files (@classLabel false, @targetLabel) are
// refused: they are not classification data in this layout.
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datasets/series_text.h"
#include "datasets/ucr_raw.h"

typedef struct {
    int has_classes, missing, univariate, equal_length; // -1 unknown, else 0/1
    int64_t dimensions, series_length;                    // -1 unknown
} ts_header;

// Next whitespace-separated token of [*p, end): returns 0 when none is left.
static int next_token(const char **p, const char *end, const char **tok, size_t *n) {
    const char *q = *p;
    while (q < end && (*q == ' ' || *q == '\t'))
        q++;
    if (q >= end)
        return 0;
    const char *t = q;
    while (q < end && *q != ' ' && *q != '\t')
        q++;
    *tok = t;
    *n = (size_t)(q - t);
    *p = q;
    return 1;
}

static int tok_is(const char *t, size_t n, const char *word) {
    return strlen(word) == n && strncasecmp(t, word, n) == 0;
}

static ssm_code parse_bool(int *out, ucr_raw *r, long long line, const char *tag, const char **p,
                           const char *end, ssm_error *e) {
    const char *t;
    size_t n;
    char snip[64] = "";
    if (next_token(p, end, &t, &n)) {
        if (tok_is(t, n, "true"))
            *out = 1;
        else if (tok_is(t, n, "false"))
            *out = 0;
        else
            series_snippet(snip, sizeof snip, t, n);
        if (*out >= 0 && !next_token(p, end, &t, &n))
            return SSM_OK;
    }
    return ssm_fail(e, SSM_EFORMAT, "%s:%lld: %s '%s'; expected true or false", r->path, line,
                    tag, snip);
}

static ssm_code parse_count(int64_t *out, ucr_raw *r, long long line, const char *tag,
                            const char **p, const char *end, ssm_error *e) {
    const char *t;
    size_t n;
    double v = 0;
    char snip[64] = "";
    if (next_token(p, end, &t, &n)) {
        series_snippet(snip, sizeof snip, t, n);
        const char *rest = *p;
        if (series_parse_number(t, n, &v) == SERIES_NUM_OK && v >= 1 && v <= 1e9 &&
            v == floor(v) && !next_token(&rest, end, &t, &n)) {
            *out = (int64_t)v;
            return SSM_OK;
        }
    }
    return ssm_fail(e, SSM_EFORMAT, "%s:%lld: %s '%s'; expected a positive integer", r->path, line,
                    tag, snip);
}

static ssm_code header_line(ts_header *h, ucr_raw *r, long long line, const char *s, size_t n,
                            int *data_start, ssm_error *e) {
    const char *p = s, *end = s + n, *tag = s;
    size_t tn = 0;
    next_token(&p, end, &tag, &tn);
    char snip[64];
    if (tok_is(tag, tn, "@problemName")) {
        const char *t;
        size_t k;
        if (!next_token(&p, end, &t, &k))
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: @problemName without a name", r->path, line);
        series_snippet(r->problem, sizeof r->problem, t, k);
        return SSM_OK;
    }
    if (tok_is(tag, tn, "@timeStamps")) {
        int v = -1;
        SSM_TRY(parse_bool(&v, r, line, "@timeStamps", &p, end, e));
        if (v)
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: @timeStamps true is not supported; expected "
                            "plain value lists (@timeStamps false)", r->path, line);
        return SSM_OK;
    }
    if (tok_is(tag, tn, "@missing"))
        return parse_bool(&h->missing, r, line, "@missing", &p, end, e);
    if (tok_is(tag, tn, "@univariate"))
        return parse_bool(&h->univariate, r, line, "@univariate", &p, end, e);
    if (tok_is(tag, tn, "@equalLength"))
        return parse_bool(&h->equal_length, r, line, "@equalLength", &p, end, e);
    if (tok_is(tag, tn, "@dimensions"))
        return parse_count(&h->dimensions, r, line, "@dimensions", &p, end, e);
    if (tok_is(tag, tn, "@seriesLength"))
        return parse_count(&h->series_length, r, line, "@seriesLength", &p, end, e);
    if (tok_is(tag, tn, "@classLabel")) {
        const char *t;
        size_t k;
        if (!next_token(&p, end, &t, &k) || !tok_is(t, k, "true"))
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: @classLabel must be 'true' followed by the "
                            "class labels (this reader is for classification data)", r->path, line);
        if (h->has_classes == 1)
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: second @classLabel line; expected one",
                            r->path, line);
        while (next_token(&p, end, &t, &k))
            SSM_TRY(ucr_raw_declare_class(r, t, k, line, e));
        if (r->nclasses == 0)
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: @classLabel true without labels; expected "
                            "the list of class labels", r->path, line);
        h->has_classes = 1;
        return SSM_OK;
    }
    if (tok_is(tag, tn, "@data")) {
        if (h->has_classes != 1)
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: @data before @classLabel; expected "
                            "'@classLabel true <labels>' in the header", r->path, line);
        *data_start = 1;
        return SSM_OK;
    }
    series_snippet(snip, sizeof snip, tag, tn);
    return ssm_fail(e, SSM_EFORMAT, "%s:%lld: unknown header tag '%s'; expected one of @problemName "
                    "@timeStamps @missing @univariate @dimensions @equalLength @seriesLength "
                    "@classLabel @data", r->path, line, snip);
}

// One data line: dims separated by ':', values by ',', label last.
static ssm_code data_line(const ts_header *h, ucr_raw *r, long long line, const char *s, size_t n,
                          int64_t *want_len, long long *want_line, ssm_error *e) {
    const char *colon = memrchr(s, ':', n);
    if (!colon)
        return ssm_fail(e, SSM_EFORMAT, "%s:%lld: no ':'; expected values of each dimension "
                        "separated by ':' and the class label last", r->path, line);
    const char *lab = colon + 1;
    size_t lab_n = (size_t)(s + n - lab);
    series_trim(&lab, &lab_n);
    if (lab_n == 0)
        return ssm_fail(e, SSM_EFORMAT, "%s:%lld: empty class label after the last ':'", r->path,
                        line);
    const int64_t off = r->nvals;
    int64_t dims = 0, len = -1;
    const char *p = s;
    char snip[64];
    while (p <= colon) {
        const char *dend = memchr(p, ':', (size_t)(colon - p) + 1); // never NULL: colon is in range
        int64_t count = 0;
        const char *q = p;
        for (;;) {
            const char *comma = memchr(q, ',', (size_t)(dend - q));
            const char *fe = comma ? comma : dend;
            const char *f = q;
            size_t fn = (size_t)(fe - q);
            series_trim(&f, &fn);
            double v = 0;
            int st = fn == 1 && f[0] == '?' ? SERIES_NUM_NAN : series_parse_number(f, fn, &v);
            if (st != SERIES_NUM_OK && st != SERIES_NUM_NAN) {
                series_snippet(snip, sizeof snip, f, fn);
                return ssm_fail(e, SSM_EDATA, "%s:%lld: dimension %lld, value %lld: expected a "
                                "number or '?', found '%s'", r->path, line, (long long)dims + 1,
                                (long long)count + 1, snip);
            }
            if (st == SERIES_NUM_OK && fabs(v) > FLT_MAX) { // stored as float: it would be inf
                series_snippet(snip, sizeof snip, f, fn);
                return ssm_fail(e, SSM_EDATA, "%s:%lld: dimension %lld, value %lld: '%s' is beyond "
                                "float range (|x| <= 3.4e38)", r->path, line, (long long)dims + 1,
                                (long long)count + 1, snip);
            }
            if (st == SERIES_NUM_NAN && h->missing == 0)
                return ssm_fail(e, SSM_EDATA, "%s:%lld: dimension %lld, value %lld: missing value "
                                "but the header says @missing false", r->path, line,
                                (long long)dims + 1, (long long)count + 1);
            SSM_TRY(ucr_raw_value(r, st == SERIES_NUM_OK ? (real)v : (real)NAN, e));
            count++;
            if (!comma)
                break;
            q = comma + 1;
        }
        dims++;
        if (len >= 0 && count != len)
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: dimension %lld has %lld values, dimension 1 "
                            "has %lld; expected the same length in every dimension of a sample",
                            r->path, line, (long long)dims, (long long)count, (long long)len);
        len = count;
        p = dend + 1;
    }
    const int64_t want_dims = r->dims ? r->dims
                              : h->dimensions > 0 ? h->dimensions
                              : h->univariate == 1 ? 1 : 0;
    if (want_dims && dims != want_dims)
        return ssm_fail(e, SSM_EFORMAT, "%s:%lld: %lld dimensions; expected %lld (%s)", r->path,
                        line, (long long)dims, (long long)want_dims,
                        r->dims ? "as on the first data line"
                        : h->dimensions > 0 ? "@dimensions" : "@univariate true");
    r->dims = dims;
    if (h->series_length > 0 && h->equal_length == 1 && len != h->series_length)
        return ssm_fail(e, SSM_EFORMAT, "%s:%lld: %lld values per dimension; expected "
                        "@seriesLength %lld", r->path, line, (long long)len,
                        (long long)h->series_length);
    if (h->equal_length == 1 && *want_len >= 0 && len != *want_len)
        return ssm_fail(e, SSM_EFORMAT, "%s:%lld: %lld values per dimension; expected %lld as on "
                        "line %lld (@equalLength true)", r->path, line, (long long)len,
                        (long long)*want_len, *want_line);
    if (*want_len < 0) {
        *want_len = len;
        *want_line = line;
    }
    return ucr_raw_sample(r, lab, lab_n, len, off, line, e);
}

ssm_code ucr_parse_ts(ucr_raw *r, ssm_error *e) {
    series_text text;
    SSM_TRY(series_text_read(&text, r->path, e));
    ssm_code rc = SSM_OK;
    ts_header h = {-1, -1, -1, -1, -1, -1};
    series_lines it;
    series_lines_init(&it, &text);
    int in_data = 0;
    int64_t want_len = -1;
    long long want_line = 0;
    const char *s;
    size_t n;
    while (rc == SSM_OK && series_next_line(&it, &s, &n)) {
        const long long line = (long long)it.lineno;
        series_trim(&s, &n);
        if (n == 0 || s[0] == '#' || s[0] == '%')
            continue;
        if (!in_data && s[0] != '@')
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: data before @data; expected header lines "
                          "starting with '@' (is this a .ts file?)", r->path, line);
        else if (!in_data)
            rc = header_line(&h, r, line, s, n, &in_data, e);
        else if (s[0] == '@')
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: header tag after @data; expected data lines",
                          r->path, line);
        else
            rc = data_line(&h, r, line, s, n, &want_len, &want_line, e);
    }
    if (rc == SSM_OK && !in_data)
        rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: no @data line; expected a header ending in @data "
                      "and data lines", r->path, (long long)it.lineno + 1);
    else if (rc == SSM_OK && r->n == 0)
        rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: no data lines after @data; expected at least one",
                      r->path, (long long)it.lineno + 1);
    series_text_free(&text);
    return rc;
}
