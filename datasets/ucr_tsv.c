// defines: ucr_parse_tsv
// UCR 2018 archive .tsv: one sample a line, `label<TAB>v1<TAB>v2...`. Every line
// of a file has the same number of fields; varying-length datasets pad shorter
// series with trailing NaN, so the sample ends after its last number. A NaN
// before that is a missing value (left NaN here, filled in ucr.c).
#include <float.h>
#include <math.h>
#include <string.h>

#include "datasets/series_text.h"
#include "datasets/ucr_raw.h"

static int only_blank_after(const series_lines *it) {
    for (const char *p = it->p; p < it->end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return 0;
    return 1;
}

ssm_code ucr_parse_tsv(ucr_raw *r, ssm_error *e) {
    series_text text;
    SSM_TRY(series_text_read(&text, r->path, e));
    ssm_code rc = SSM_OK;
    series_lines it;
    series_lines_init(&it, &text);
    r->dims = 1;
    int64_t want = -1, want_line = 0; // values per line, from the first sample
    const char *s;
    size_t n;
    char snip[64];
    while (series_next_line(&it, &s, &n)) {
        const long long line = (long long)it.lineno;
        const char *ts = s;
        size_t tn = n;
        series_trim(&ts, &tn);
        if (tn == 0) {
            if (only_blank_after(&it))
                break;
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: empty line; expected label<TAB>values", r->path,
                          line);
            goto done;
        }
        const char *tab = memchr(s, '\t', n);
        if (!tab) {
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: no tab; expected label<TAB>v1<TAB>v2...",
                          r->path, line);
            goto done;
        }
        const char *lab = s;
        size_t lab_n = (size_t)(tab - s);
        series_trim(&lab, &lab_n);
        if (lab_n == 0) {
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: column 1: empty label; expected a class label",
                          r->path, line);
            goto done;
        }
        const int64_t off = r->nvals;
        int64_t count = 0, last_obs = -1;
        const char *p = tab + 1, *end = s + n;
        for (;;) {
            const char *t2 = memchr(p, '\t', (size_t)(end - p));
            const char *fe = t2 ? t2 : end;
            const char *f = p;
            size_t fn = (size_t)(fe - p);
            series_trim(&f, &fn);
            double v = 0;
            int st = series_parse_number(f, fn, &v);
            if (st != SERIES_NUM_OK && st != SERIES_NUM_NAN) {
                series_snippet(snip, sizeof snip, f, fn);
                rc = ssm_fail(e, SSM_EDATA, "%s:%lld: column %lld (value %lld): expected a number "
                              "or NaN, found '%s'", r->path, line, (long long)count + 2,
                              (long long)count + 1, snip);
                goto done;
            }
            if (st == SERIES_NUM_OK && fabs(v) > FLT_MAX) { // stored as float: it would be inf
                series_snippet(snip, sizeof snip, f, fn);
                rc = ssm_fail(e, SSM_EDATA, "%s:%lld: column %lld (value %lld): '%s' is beyond "
                              "float range (|x| <= 3.4e38)", r->path, line, (long long)count + 2,
                              (long long)count + 1, snip);
                goto done;
            }
            if ((rc = ucr_raw_value(r, st == SERIES_NUM_OK ? (real)v : (real)NAN, e)) != SSM_OK)
                goto done;
            if (st == SERIES_NUM_OK)
                last_obs = count;
            count++;
            if (!t2)
                break;
            p = t2 + 1;
        }
        if (want < 0) {
            want = count;
            want_line = line;
        } else if (count != want) {
            rc = ssm_fail(e, SSM_EFORMAT, "%s:%lld: %lld values; expected %lld as on line %lld "
                          "(shorter series are padded with NaN)", r->path, line, (long long)count,
                          (long long)want, (long long)want_line);
            goto done;
        }
        if (last_obs < 0) {
            rc = ssm_fail(e, SSM_EDATA, "%s:%lld: every value is NaN; expected at least one number",
                          r->path, line);
            goto done;
        }
        r->nvals = off + last_obs + 1; // trailing NaN are padding, not data
        if ((rc = ucr_raw_sample(r, lab, lab_n, last_obs + 1, off, line, e)) != SSM_OK)
            goto done;
    }
    if (r->n == 0)
        rc = ssm_fail(e, SSM_EFORMAT, "%s:1: empty file; expected lines label<TAB>v1<TAB>v2...",
                      r->path);
done:
    series_text_free(&text);
    return rc;
}
