// defines: pf_row, pf_table, pf_setup, pf_teardown, pf_run, pf_read_csv, pf_table_free,
//          pf_find, pf_json_valid, pf_json_probabilities, pf_softmax, pf_max_diff, pf_bin, pf_out,
//          pf_err, pf_tone, pf_write_wav
// Shared by the `ssmkit predict` suites (tests/test_predict*.c): a private temp folder
// (series_fixture.h), running the binary ($SSMKIT_BIN, default build/ssmkit, from the
// repository root) with stdout and stderr kept, predict's CSV output parsed into rows, a
// strict JSON syntax check, and the softmax the comparisons with the model's own outputs
// use. Header-only: each suite owns its copy.
#pragma once
#include <check.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/real.h"
#include "tests/series_fixture.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/testutil.h"

#define PF_MAX_V 64

static char pf_bin[512];
static char *pf_out, *pf_err; // the last run's stdout and stderr (malloc'd)

static inline void pf_setup(void) {
    fx_init();
    snprintf(pf_bin, sizeof pf_bin, "%s", cf_bin());
}

static inline void pf_teardown(void) {
    free(pf_out);
    free(pf_err);
    pf_out = pf_err = NULL;
    fx_cleanup();
}

// Runs `cmd`; returns its exit status. pf_out / pf_err hold what it printed.
static inline int pf_run(const char *cmd) {
    char o[600], e[600];
    fx_path(o, sizeof o, "stdout.txt");
    fx_path(e, sizeof e, "stderr.txt");
    int rc = cf_run(cmd, o, e);
    free(pf_out);
    free(pf_err);
    pf_out = cf_read_file(o, NULL);
    pf_err = cf_read_file(e, NULL);
    if (!pf_out)
        pf_out = calloc(1, 1);
    if (!pf_err)
        pf_err = calloc(1, 1);
    return rc;
}

// One row of `predict --format csv`.
typedef struct {
    char input[512], sample[512], predicted[512];
    double start, end; // NAN when empty
    long long instances; // 0 when empty
    int n;             // probabilities (or outputs)
    double v[PF_MAX_V];
} pf_row;

typedef struct {
    int n, ncol;
    char cols[PF_MAX_V + 8][512]; // header names
    pf_row *rows;
} pf_table;

// The next CSV field of *p (quotes undone) into out; returns 0 at the end of the line.
static inline int pf_field(const char **p, char *out, size_t cap) {
    const char *s = *p;
    size_t n = 0;
    if (*s == '"') {
        for (s++; *s && !(*s == '"' && s[1] != '"'); s++) {
            if (*s == '"')
                s++;
            if (n + 1 < cap)
                out[n++] = *s;
        }
        if (*s == '"')
            s++;
    } else {
        for (; *s && *s != ',' && *s != '\n'; s++)
            if (n + 1 < cap)
                out[n++] = *s;
    }
    out[n] = 0;
    int more = *s == ',';
    *p = *s ? s + 1 : s;
    return more;
}

// Parses predict's CSV (header input,sample,start,end,instances[,predicted],values...).
static inline void pf_read_csv(pf_table *t, const char *text) {
    memset(t, 0, sizeof *t);
    const char *p = text;
    char cell[512];
    int more = 1;
    while (more && t->ncol < PF_MAX_V + 8) {
        more = pf_field(&p, cell, sizeof cell);
        snprintf(t->cols[t->ncol++], sizeof t->cols[0], "%s", cell);
    }
    ck_assert_int_ge(t->ncol, 6);
    ck_assert_str_eq(t->cols[0], "input");
    ck_assert_str_eq(t->cols[4], "instances");
    int has_pred = !strcmp(t->cols[5], "predicted");
    int cap = 16;
    t->rows = malloc((size_t)cap * sizeof *t->rows);
    while (*p) {
        if (t->n == cap)
            t->rows = realloc(t->rows, (size_t)(cap *= 2) * sizeof *t->rows);
        pf_row *r = &t->rows[t->n++];
        memset(r, 0, sizeof *r);
        int col = 0;
        more = 1;
        while (more) {
            more = pf_field(&p, cell, sizeof cell);
            if (col == 0)
                snprintf(r->input, sizeof r->input, "%s", cell);
            else if (col == 1)
                snprintf(r->sample, sizeof r->sample, "%s", cell);
            else if (col == 2)
                r->start = *cell ? atof(cell) : NAN;
            else if (col == 3)
                r->end = *cell ? atof(cell) : NAN;
            else if (col == 4)
                r->instances = atoll(cell);
            else if (col == 5 && has_pred)
                snprintf(r->predicted, sizeof r->predicted, "%s", cell);
            else if (r->n < PF_MAX_V)
                r->v[r->n++] = atof(cell);
            col++;
        }
        ck_assert_int_eq(col, t->ncol);
    }
}

static inline void pf_table_free(pf_table *t) {
    free(t->rows);
    memset(t, 0, sizeof *t);
}

// The row of input (and sample, when not NULL), or NULL.
static inline const pf_row *pf_find(const pf_table *t, const char *input, const char *sample) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->rows[i].input, input) && (!sample || !strcmp(t->rows[i].sample, sample)))
            return &t->rows[i];
    return NULL;
}

// ---- a strict JSON recogniser (RFC 8259 syntax) ----------------------------------------

static inline const char *pf_json_value(const char *s);

static inline const char *pf_json_ws(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    return s;
}

static inline const char *pf_json_string(const char *s) {
    if (*s++ != '"')
        return NULL;
    for (; *s != '"'; s++) {
        if ((unsigned char)*s < 0x20)
            return NULL;
        if (*s == '\\') {
            s++;
            if (*s == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
                        return NULL;
                s += 4;
            } else if (!*s || !strchr("\"\\/bfnrt", *s)) {
                return NULL;
            }
        }
    }
    return s + 1;
}

static inline const char *pf_json_number(const char *s) {
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static inline const char *pf_json_value(const char *s) {
    s = pf_json_ws(s);
    if (*s == '{' || *s == '[') {
        char close = *s == '{' ? '}' : ']';
        int obj = *s == '{';
        s = pf_json_ws(s + 1);
        if (*s == close)
            return s + 1;
        for (;;) {
            if (obj) {
                s = pf_json_string(pf_json_ws(s));
                if (!s || *(s = pf_json_ws(s)) != ':')
                    return NULL;
                s++;
            }
            if (!(s = pf_json_value(s)))
                return NULL;
            s = pf_json_ws(s);
            if (*s == close)
                return s + 1;
            if (*s++ != ',')
                return NULL;
        }
    }
    if (*s == '"')
        return pf_json_string(s);
    if (!strncmp(s, "true", 4) || !strncmp(s, "null", 4))
        return s + 4;
    if (!strncmp(s, "false", 5))
        return s + 5;
    return pf_json_number(s);
}

// 1 when text is exactly one JSON value (surrounded by white space).
static inline int pf_json_valid(const char *text) {
    const char *end = pf_json_value(text);
    return end && !*pf_json_ws(end);
}

// The k-th "probabilities" array of a predict JSON document into v (returns its length).
static inline int pf_json_probabilities(const char *text, int k, double *v, int cap) {
    const char *p = text;
    for (int i = 0; i <= k; i++) {
        p = strstr(p, "\"probabilities\":[");
        if (!p)
            return -1;
        p += strlen("\"probabilities\":[");
    }
    int n = 0;
    while (n < cap) {
        char *end;
        v[n++] = strtod(p, &end);
        if (*end != ',')
            break;
        p = end + 1;
    }
    return n;
}

// p [V] = softmax(logits) in double, as predict computes it.
static inline void pf_softmax(double *p, const real *lg, int64_t V) {
    double mx = -INFINITY, z = 0;
    for (int64_t v = 0; v < V; v++)
        mx = fmax(mx, lg[v]);
    for (int64_t v = 0; v < V; v++)
        z += p[v] = exp(lg[v] - mx);
    for (int64_t v = 0; v < V; v++)
        p[v] /= z;
}

static inline double pf_max_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]));
    return m;
}

// ---- audio -----------------------------------------------------------------------------

// n samples at 16 kHz of tone class k (0: 1800 Hz, 1: 500 Hz) at a random level, in noise.
static inline void pf_tone(int16_t *x, int64_t n, int k, uint64_t *st) {
    double f = k ? 500 : 1800, amp = 0.1 + 0.3 * tu_uniform(st), ph = tu_uniform(st) * 6.28;
    for (int64_t i = 0; i < n; i++) {
        double v = amp * sin(ph + 2 * M_PI * f * (double)i / 16000) +
                   0.02 * (tu_uniform(st) - 0.5);
        x[i] = (int16_t)lrint(v * 32767);
    }
}

// A 16-bit 16 kHz mono WAV of x [n].
static inline void pf_write_wav(const char *path, const int16_t *x, int64_t n) {
    SF_INFO info = {.samplerate = 16000, .channels = 1,
                    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *f = sf_open(path, SFM_WRITE, &info);
    ck_assert_msg(f != NULL, "%s", path);
    ck_assert_int_eq(sf_writef_short(f, x, n), n);
    sf_close(f);
}
