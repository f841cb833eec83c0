// defines: series_text_read, series_text_free, series_lines_init, series_next_line,
//          series_trim, series_next_cell, series_parse_number, series_snippet
#include "datasets/series_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

ssm_code series_text_read(series_text *t, const char *path, ssm_error *e) {
    t->buf = NULL;
    t->len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssm_fail(e, SSM_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return ssm_fail(e, SSM_ENOMEM, "%s: out of memory reading the file", path);
    }
    for (;;) {
        if (cap - len < 2) { // room for at least one byte and the final NUL
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(f);
                return ssm_fail(e, SSM_ENOMEM, "%s: out of memory reading %zu bytes", path, len);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                fclose(f);
                return ssm_fail(e, SSM_EIO, "%s: read error after %zu bytes", path, len);
            }
            break;
        }
    }
    fclose(f);
    buf[len] = '\0';
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        int64_t line = 1;
        for (const char *p = buf; p < nul; p++)
            line += *p == '\n';
        const size_t at = (size_t)(nul - buf);
        free(buf);
        return ssm_fail(e, SSM_EFORMAT, "%s:%lld: NUL byte at offset %zu; expected a text file",
                        path, (long long)line, at);
    }
    t->buf = buf;
    t->len = len;
    return SSM_OK;
}

void series_text_free(series_text *t) {
    free(t->buf);
    t->buf = NULL;
    t->len = 0;
}

void series_lines_init(series_lines *it, const series_text *t) {
    it->p = t->buf;
    it->end = t->buf + t->len;
    it->lineno = 0;
}

int series_next_line(series_lines *it, const char **s, size_t *n) {
    if (it->p >= it->end)
        return 0;
    const char *start = it->p;
    const char *nl = memchr(start, '\n', (size_t)(it->end - start));
    const char *stop = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    size_t len = (size_t)(stop - start);
    if (len > 0 && start[len - 1] == '\r')
        len--;
    it->lineno++;
    *s = start;
    *n = len;
    return 1;
}

void series_trim(const char **s, size_t *n) {
    const char *p = *s;
    size_t len = *n;
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    *s = p;
    *n = len;
}

void series_next_cell(const char **p, const char *end, const char **cell, size_t *len) {
    const char *q = memchr(*p, ',', (size_t)(end - *p));
    if (!q)
        q = end;
    *cell = *p;
    *len = (size_t)(q - *p);
    series_trim(cell, len);
    if (*len >= 2 && (*cell)[0] == '"' && (*cell)[*len - 1] == '"') {
        (*cell)++;
        *len -= 2;
    }
    *p = q < end ? q + 1 : end;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

int series_parse_number(const char *s, size_t n, double *v) {
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    // words first, so that "NaN" and "-inf" get their own answers
    size_t rest = n - i;
    if (rest == 3 && strncasecmp(s + i, "nan", 3) == 0)
        return SERIES_NUM_NAN;
    if ((rest == 3 && strncasecmp(s + i, "inf", 3) == 0) ||
        (rest == 8 && strncasecmp(s + i, "infinity", 8) == 0))
        return SERIES_NUM_NONFINITE;
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && is_digit(s[i])) {
        i++;
        int_digits++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            i++;
            frac_digits++;
        }
    }
    if (int_digits + frac_digits == 0)
        return SERIES_NUM_BAD;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < n && is_digit(s[i])) {
            i++;
            exp_digits++;
        }
        if (exp_digits == 0)
            return SERIES_NUM_BAD;
    }
    if (i != n)
        return SERIES_NUM_BAD;
    // strtod needs a terminated string; a bounded copy keeps it from reading
    // past the cell (the syntax is already known to be valid)
    char tmp[128];
    char *heap = NULL, *src = tmp;
    if (n >= sizeof tmp) {
        heap = malloc(n + 1);
        if (!heap)
            return SERIES_NUM_BAD;
        src = heap;
    }
    memcpy(src, s, n);
    src[n] = '\0';
    double x = strtod(src, NULL);
    free(heap);
    if (!isfinite(x))
        return SERIES_NUM_NONFINITE;
    *v = x;
    return SERIES_NUM_OK;
}

void series_snippet(char *out, size_t cap, const char *s, size_t n) {
    if (cap == 0)
        return;
    size_t limit = 40, j = 0;
    for (size_t i = 0; i < n && i < limit && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[j++] = (c < 32 || c == 127) ? '?' : (char)c;
    }
    if (n > limit && j + 4 < cap) {
        memcpy(out + j, "...", 3);
        j += 3;
    }
    out[j] = '\0';
}
