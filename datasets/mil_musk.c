// defines: mil_musk_read (see mil_musk.h)
#include "datasets/mil_musk.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_text.h"

typedef struct {
    float *x;       // [rows, F] grouped by bag
    int32_t *inst;  // [rows] instance labels, grouped the same way
    int64_t *off;   // [n + 1] first row of each bag
} musk_impl;

static void musk_free(void *p) {
    musk_impl *m = p;
    free(m->x);
    free(m->inst);
    free(m->off);
    free(m);
}

static ssm_code musk_read_rows(const mil_bags *s, int64_t bag, const int64_t *rows, int64_t k,
                               real *x, int32_t *inst_y, ssm_error *err) {
    const musk_impl *m = s->impl;
    for (int64_t t = 0; t < k; t++) {
        int64_t r = m->off[bag] + (rows ? rows[t] : t);
        for (int64_t j = 0; j < s->F; j++)
            x[t * s->token + j] = (real)m->x[r * s->F + j];
        if (inst_y)
            inst_y[t] = m->inst[r];
    }
    return SSM_OK;
}

// ---- bag ids -> bag index (open addressing, FNV-1a) ---------------------------------

typedef struct {
    char **names;    // [n] in first-seen order
    int64_t n, cap;  // bags, capacity of names
    int64_t *slot;   // [nslot] bag index + 1, 0 = empty
    int64_t nslot;   // power of two, > 2n
} bag_index;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int64_t *probe(bag_index *bi, const char *s, size_t n) {
    for (uint64_t h = fnv(s, n);; h++) {
        int64_t *e = &bi->slot[h & (uint64_t)(bi->nslot - 1)];
        if (!*e)
            return e;
        const char *nm = bi->names[*e - 1];
        if (strlen(nm) == n && !memcmp(nm, s, n))
            return e;
    }
}

// The index of bag [s, s+n), added if new; -1 when out of memory.
static int64_t bag_of(bag_index *bi, const char *s, size_t n) {
    if (2 * (bi->n + 1) >= bi->nslot) { // grow: rehash every name
        int64_t ns = bi->nslot ? 2 * bi->nslot : 64;
        int64_t *slot = calloc((size_t)ns, sizeof *slot);
        if (!slot)
            return -1;
        free(bi->slot);
        bi->slot = slot;
        bi->nslot = ns;
        for (int64_t i = 0; i < bi->n; i++)
            *probe(bi, bi->names[i], strlen(bi->names[i])) = i + 1;
    }
    int64_t *e = probe(bi, s, n);
    if (*e)
        return *e - 1;
    if (bi->n == bi->cap) {
        int64_t cap = bi->cap ? 2 * bi->cap : 64;
        char **nm = realloc(bi->names, (size_t)cap * sizeof *nm);
        if (!nm)
            return -1;
        bi->names = nm;
        bi->cap = cap;
    }
    if (!(bi->names[bi->n] = strndup(s, n)))
        return -1;
    *e = ++bi->n;
    return bi->n - 1;
}

// ---- parsing --------------------------------------------------------------------

typedef struct {
    float *x;        // [rows, F] in file order
    int32_t *label;  // [rows]
    int64_t *bag;    // [rows]
    int64_t rows, cap, F;
} rows_buf;

static int grow_rows(rows_buf *r) {
    if (r->rows < r->cap)
        return 1;
    int64_t cap = r->cap ? 2 * r->cap : 1024;
    float *x = realloc(r->x, (size_t)(cap * r->F) * sizeof *x);
    if (x)
        r->x = x;
    int32_t *l = realloc(r->label, (size_t)cap * sizeof *l);
    if (l)
        r->label = l;
    int64_t *b = realloc(r->bag, (size_t)cap * sizeof *b);
    if (b)
        r->bag = b;
    if (!x || !l || !b)
        return 0;
    r->cap = cap;
    return 1;
}

static int64_t count_fields(const char *s, size_t n) {
    int64_t f = 1;
    for (size_t i = 0; i < n; i++)
        f += s[i] == ',';
    return f;
}

static ssm_code parse_line(rows_buf *r, bag_index *bi, const char *path, int64_t lineno,
                           const char *s, size_t n, ssm_error *err) {
    const char *end = s + n, *p = s;
    int64_t r0 = r->rows;
    for (int64_t col = 0; col < r->F + 2; col++) {
        const char *q = memchr(p, ',', (size_t)(end - p));
        if (!q)
            q = end;
        const char *cell = p;
        size_t len = (size_t)(q - p);
        series_trim(&cell, &len);
        char snip[64];
        series_snippet(snip, sizeof snip, cell, len);
        if (col == 1) {
            if (!len)
                return ssm_fail(err, SSM_EFORMAT, "%s: line %" PRId64 ", column 2: empty bag_id",
                                path, lineno);
            int64_t b = bag_of(bi, cell, len);
            if (b < 0)
                return ssm_fail(err, SSM_ENOMEM, "%s: out of memory at line %" PRId64, path,
                                lineno);
            r->bag[r0] = b;
        } else {
            double v;
            int st = series_parse_number(cell, len, &v);
            if (st == SERIES_NUM_BAD)
                return ssm_fail(err, SSM_EFORMAT,
                                "%s: line %" PRId64 ", column %" PRId64 ": '%s' is not a number",
                                path, lineno, col + 1, snip);
            if (st != SERIES_NUM_OK)
                return ssm_fail(err, SSM_EDATA,
                                "%s: line %" PRId64 ", column %" PRId64
                                ": '%s': expected a finite number",
                                path, lineno, col + 1, snip);
            if (col == 0) {
                if (v != floor(v) || v < 0 || v > 1e6)
                    return ssm_fail(err, SSM_EDATA,
                                    "%s: line %" PRId64 ", column 1: label '%s': expected a "
                                    "whole number >= 0 (the instance's class)",
                                    path, lineno, snip);
                r->label[r0] = (int32_t)v;
            } else {
                if (fabs(v) > 3.4e38)
                    return ssm_fail(err, SSM_EDATA,
                                    "%s: line %" PRId64 ", column %" PRId64
                                    ": '%s' does not fit a float", path, lineno, col + 1, snip);
                r->x[r0 * r->F + col - 2] = (float)v;
            }
        }
        p = q + 1;
    }
    r->rows++;
    return SSM_OK;
}

static ssm_code parse_file(rows_buf *r, bag_index *bi, const char *path, ssm_error *err) {
    series_text txt;
    SSM_TRY(series_text_read(&txt, path, err));
    series_lines it;
    series_lines_init(&it, &txt);
    const char *s;
    size_t n;
    int64_t fields = 0, first_line = 0, blank = 0;
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK && series_next_line(&it, &s, &n)) {
        const char *t = s;
        size_t tn = n;
        series_trim(&t, &tn);
        if (!tn) {
            blank = blank ? blank : it.lineno;
            continue;
        }
        if (blank) {
            rc = ssm_fail(err, SSM_EFORMAT, "%s: line %" PRId64 ": blank line between rows", path,
                          blank);
            break;
        }
        int64_t f = count_fields(s, n);
        if (!fields) {
            if (f < 3) {
                rc = ssm_fail(err, SSM_EFORMAT,
                              "%s: line %" PRId64 ": %" PRId64 " fields: expected label,bag_id,"
                              "f1,...,fd (at least 3, no header)", path, it.lineno, f);
                break;
            }
            fields = f;
            first_line = it.lineno;
            r->F = f - 2;
        } else if (f != fields) {
            rc = ssm_fail(err, SSM_EFORMAT,
                          "%s: line %" PRId64 ": %" PRId64 " fields, expected %" PRId64
                          " (label, bag_id and %" PRId64 " features, as on line %" PRId64 ")",
                          path, it.lineno, f, fields, fields - 2, first_line);
            break;
        }
        if (!grow_rows(r)) {
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory at line %" PRId64, path, it.lineno);
            break;
        }
        rc = parse_line(r, bi, path, it.lineno, s, n, err);
    }
    if (rc == SSM_OK && !r->rows)
        rc = ssm_fail(err, SSM_EFORMAT, "%s: no rows: expected label,bag_id,f1,...,fd lines",
                      path);
    series_text_free(&txt);
    return rc;
}

// Groups the rows by bag (stable) into the set.
static ssm_code build(mil_bags *s, rows_buf *r, bag_index *bi, const char *path, ssm_error *err) {
    int32_t max_label = 0;
    for (int64_t i = 0; i < r->rows; i++)
        max_label = r->label[i] > max_label ? r->label[i] : max_label;
    SSM_TRY(mil_bags_alloc(s, bi->n, max_label + 1 > 2 ? max_label + 1 : 2, NULL, err));
    snprintf(s->what, sizeof s->what, "%s", path);
    s->F = s->token = r->F;
    s->has_inst_labels = 1;
    for (int64_t b = 0; b < bi->n; b++) { // the set takes the names
        s->names[b] = bi->names[b];
        bi->names[b] = NULL;
    }
    musk_impl *m = calloc(1, sizeof *m);
    if (!m)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    s->impl = m;
    s->impl_free = musk_free;
    s->read = musk_read_rows;
    m->off = calloc((size_t)s->n + 1, sizeof *m->off);
    m->x = malloc((size_t)(r->rows * r->F) * sizeof *m->x);
    m->inst = malloc((size_t)r->rows * sizeof *m->inst);
    if (!m->off || !m->x || !m->inst)
        return ssm_fail(err, SSM_ENOMEM, "%s: cannot hold %" PRId64 " instances", path, r->rows);
    for (int64_t i = 0; i < r->rows; i++) {
        int64_t b = r->bag[i];
        s->len[b]++;
        s->label[b] = r->label[i] > s->label[b] ? r->label[i] : s->label[b];
    }
    for (int64_t b = 0; b < s->n; b++)
        m->off[b + 1] = m->off[b] + s->len[b];
    int64_t *fill = calloc((size_t)s->n, sizeof *fill);
    if (!fill)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; i < r->rows; i++) {
        int64_t b = r->bag[i], dst = m->off[b] + fill[b]++;
        memcpy(m->x + dst * r->F, r->x + i * r->F, (size_t)r->F * sizeof *m->x);
        m->inst[dst] = r->label[i];
    }
    free(fill);
    return SSM_OK;
}

ssm_code mil_musk_read(mil_bags *s, const char *path, ssm_error *err) {
    memset(s, 0, sizeof *s);
    rows_buf r = {0};
    bag_index bi = {0};
    ssm_code rc = parse_file(&r, &bi, path, err);
    if (rc == SSM_OK)
        rc = build(s, &r, &bi, path, err);
    for (int64_t b = 0; b < bi.n; b++)
        free(bi.names[b]);
    free(bi.names);
    free(bi.slot);
    free(r.x);
    free(r.label);
    free(r.bag);
    if (rc)
        mil_bags_free(s);
    return rc;
}
