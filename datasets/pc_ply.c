// defines: pc_read_ply (see pc_cloud.h)
// The Stanford PLY format: a text header (format, elements, their properties) and a
// body in ASCII or binary (little- or big-endian). Only the vertex element's x, y, z
// (nx, ny, nz) and the face element's index list are kept; the reader walks through
// every other element and property so that elements after them are found.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/pc_cloud.h"
#include "datasets/series_text.h"

#define PLY_MAX_PROPS 64
#define PLY_MAX_ELEMS 16

typedef enum { T_NONE = 0, T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_F32, T_F64 } ply_type;

typedef struct {
    char name[64];
    ply_type type;      // the value's type (a list: its items')
    ply_type count;     // a list's count type, T_NONE for a scalar
} ply_prop;

typedef struct {
    char name[64];
    int64_t n;
    int np;
    ply_prop p[PLY_MAX_PROPS];
} ply_elem;

typedef enum { F_ASCII, F_LE, F_BE } ply_format;

static ply_type type_of(const char *s) {
    static const struct { const char *name; ply_type t; } names[] = {
        {"char", T_I8},   {"int8", T_I8},     {"uchar", T_U8},   {"uint8", T_U8},
        {"short", T_I16}, {"int16", T_I16},   {"ushort", T_U16}, {"uint16", T_U16},
        {"int", T_I32},   {"int32", T_I32},   {"uint", T_U32},   {"uint32", T_U32},
        {"float", T_F32}, {"float32", T_F32}, {"double", T_F64}, {"float64", T_F64}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name))
            return names[i].t;
    return T_NONE;
}

static int type_size(ply_type t) {
    return t == T_I8 || t == T_U8 ? 1 : t == T_I16 || t == T_U16 ? 2 : t == T_F64 ? 8 : 4;
}

typedef struct {
    const unsigned char *p, *end; // body cursor (binary) / text cursor (ASCII)
    ply_format fmt;
    int64_t line;                 // ASCII: line of the cursor
    const char *path;
} ply_body;

// One binary value, converted to double; 0 at the end of the data.
static int read_bin(ply_body *b, ply_type t, double *out) {
    int sz = type_size(t);
    if (b->end - b->p < sz)
        return 0;
    unsigned char buf[8];
    for (int i = 0; i < sz; i++)
        buf[i] = b->p[b->fmt == F_BE ? sz - 1 - i : i];
    b->p += sz;
    switch (t) {
    case T_I8: *out = (int8_t)buf[0]; break;
    case T_U8: *out = buf[0]; break;
    case T_I16: { int16_t v; memcpy(&v, buf, 2); *out = v; break; }
    case T_U16: { uint16_t v; memcpy(&v, buf, 2); *out = v; break; }
    case T_I32: { int32_t v; memcpy(&v, buf, 4); *out = v; break; }
    case T_U32: { uint32_t v; memcpy(&v, buf, 4); *out = v; break; }
    case T_F32: { float v; memcpy(&v, buf, 4); *out = v; break; }
    default: { double v; memcpy(&v, buf, 8); *out = v; break; }
    }
    return 1;
}

// One ASCII token as a number: 1, 0 at the end of the data, -1 not a number.
static int read_txt(ply_body *b, double *out) {
    while (b->p < b->end && (*b->p == ' ' || *b->p == '\t' || *b->p == '\r' || *b->p == '\n')) {
        b->line += *b->p == '\n';
        b->p++;
    }
    if (b->p == b->end)
        return 0;
    const unsigned char *s = b->p;
    while (b->p < b->end && *b->p != ' ' && *b->p != '\t' && *b->p != '\r' && *b->p != '\n')
        b->p++;
    return series_parse_number((const char *)s, (size_t)(b->p - s), out) == SERIES_NUM_OK ? 1 : -1;
}

static ssm_code value(ply_body *b, ply_type t, double *out, const ply_elem *e, int64_t item,
                      const char *prop, ssm_error *err) {
    int r = b->fmt == F_ASCII ? read_txt(b, out) : read_bin(b, t, out);
    if (r == 1)
        return SSM_OK;
    if (b->fmt == F_ASCII)
        return ssm_fail(err, SSM_EDATA, "%s:%lld: %s %lld, property %s: %s", b->path,
                        (long long)b->line, e->name, (long long)item, prop,
                        r == 0 ? "the file ends here" : "not a number");
    return ssm_fail(err, SSM_EDATA, "%s: %s %lld, property %s: %s", b->path, e->name,
                    (long long)item, prop, "the file ends here (truncated)");
}

static ssm_code parse_header(const char *path, const char *text, size_t len, ply_format *fmt,
                             ply_elem *el, int *ne, size_t *body, ssm_error *err) {
    const char *p = text, *end = text + len;
    int64_t line = 0;
    int have_format = 0;
    *ne = 0;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return ssm_fail(err, SSM_EDATA, "%s:%lld: the header has no end_header line", path,
                            (long long)line + 1);
        line++;
        char buf[256];
        size_t n = (size_t)(nl - p);
        if (n && p[n - 1] == '\r')
            n--;
        if (n >= sizeof buf)
            return ssm_fail(err, SSM_EDATA, "%s:%lld: header line too long", path, (long long)line);
        memcpy(buf, p, n);
        buf[n] = 0;
        p = nl + 1;
        char w[4][64] = {{0}};
        int k = sscanf(buf, "%63s %63s %63s %63s", w[0], w[1], w[2], w[3]);
        if (line == 1) {
            if (strcmp(buf, "ply"))
                return ssm_fail(err, SSM_EDATA, "%s:1: expected 'ply', the PLY magic", path);
            continue;
        }
        if (k <= 0 || !strcmp(w[0], "comment") || !strcmp(w[0], "obj_info"))
            continue;
        if (!strcmp(w[0], "end_header")) {
            *body = (size_t)(p - text);
            break;
        }
        if (!strcmp(w[0], "format")) {
            if (!strcmp(w[1], "ascii"))
                *fmt = F_ASCII;
            else if (!strcmp(w[1], "binary_little_endian"))
                *fmt = F_LE;
            else if (!strcmp(w[1], "binary_big_endian"))
                *fmt = F_BE;
            else
                return ssm_fail(err, SSM_EDATA, "%s:%lld: format '%s'; known: ascii, "
                                "binary_little_endian, binary_big_endian", path, (long long)line,
                                w[1]);
            have_format = 1;
        } else if (!strcmp(w[0], "element")) {
            char *e_end;
            errno = 0;
            long long cnt = k == 3 ? strtoll(w[2], &e_end, 10) : -1;
            if (k != 3 || errno || *e_end || cnt < 0 || *ne == PLY_MAX_ELEMS)
                return ssm_fail(err, SSM_EDATA, "%s:%lld: expected 'element NAME COUNT' (at most "
                                "%d elements)", path, (long long)line, PLY_MAX_ELEMS);
            ply_elem *e = &el[(*ne)++];
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", w[1]);
            e->n = cnt;
        } else if (!strcmp(w[0], "property")) {
            if (!*ne || el[*ne - 1].np == PLY_MAX_PROPS)
                return ssm_fail(err, SSM_EDATA, "%s:%lld: a property outside an element (or "
                                "more than %d)", path, (long long)line, PLY_MAX_PROPS);
            ply_prop *pr = &el[*ne - 1].p[el[*ne - 1].np++];
            int list = !strcmp(w[1], "list");
            pr->count = list ? type_of(w[2]) : T_NONE;
            pr->type = type_of(list ? w[3] : w[1]);
            char name[64] = "";
            if (list)
                sscanf(buf, "%*s %*s %*s %*s %63s", name);
            else
                snprintf(name, sizeof name, "%s", w[2]);
            snprintf(pr->name, sizeof pr->name, "%s", name);
            if (pr->type == T_NONE || (list && (pr->count == T_NONE || pr->count >= T_F32)) ||
                !name[0])
                return ssm_fail(err, SSM_EDATA, "%s:%lld: expected 'property TYPE NAME' or "
                                "'property list COUNT_TYPE TYPE NAME' with PLY types", path,
                                (long long)line);
        } else {
            return ssm_fail(err, SSM_EDATA, "%s:%lld: unknown header line '%s'", path,
                            (long long)line, w[0]);
        }
    }
    if (!have_format)
        return ssm_fail(err, SSM_EDATA, "%s: the header has no format line", path);
    return SSM_OK;
}

static int find_prop(const ply_elem *e, const char *name) {
    for (int i = 0; i < e->np; i++)
        if (!strcmp(e->p[i].name, name) && e->p[i].count == T_NONE)
            return i;
    return -1;
}

static ssm_code read_elements(pc_mesh *m, ply_body *b, const ply_elem *el, int ne, ssm_error *err) {
    int64_t cap = 0;
    for (int ei = 0; ei < ne; ei++) {
        const ply_elem *e = &el[ei];
        int vert = !strcmp(e->name, "vertex") && !m->v, face = !strcmp(e->name, "face") && !m->f;
        int ix = -1, iy = -1, iz = -1, inx = -1, iny = -1, inz = -1, ifc = -1;
        if (vert) {
            ix = find_prop(e, "x"), iy = find_prop(e, "y"), iz = find_prop(e, "z");
            inx = find_prop(e, "nx"), iny = find_prop(e, "ny"), inz = find_prop(e, "nz");
            if (ix < 0 || iy < 0 || iz < 0)
                return ssm_fail(err, SSM_EDATA, "%s: the vertex element has no x, y and z",
                                b->path);
            // x, y and z take at least a byte each (binary char) or two (ASCII "0 "): a
            // header claiming more vertices than the body can hold is refused before
            // memory is sized by it
            if (e->n > (int64_t)((b->end - b->p) / 3))
                return ssm_fail(err, SSM_EDATA, "%s: the header claims %lld vertices, more than "
                                "the %lld bytes after it can hold", b->path, (long long)e->n,
                                (long long)(b->end - b->p));
            m->nv = e->n;
            m->v = malloc((size_t)(e->n ? e->n : 1) * 3 * sizeof *m->v);
            if (inx >= 0 && iny >= 0 && inz >= 0)
                m->vn = malloc((size_t)(e->n ? e->n : 1) * 3 * sizeof *m->vn);
            if (!m->v || (inx >= 0 && iny >= 0 && inz >= 0 && !m->vn))
                return ssm_fail(err, SSM_ENOMEM, "%s: out of memory for %lld vertices", b->path,
                                (long long)e->n);
        }
        if (face) {
            for (int i = 0; i < e->np; i++)
                if (e->p[i].count != T_NONE && (!strcmp(e->p[i].name, "vertex_indices") ||
                                                !strcmp(e->p[i].name, "vertex_index")))
                    ifc = i;
            face = ifc >= 0;
        }
        for (int64_t it = 0; it < e->n; it++)
            for (int pi = 0; pi < e->np; pi++) {
                const ply_prop *pr = &e->p[pi];
                double v;
                if (pr->count == T_NONE) {
                    SSM_TRY(value(b, pr->type, &v, e, it, pr->name, err));
                    if (vert) {
                        int slot = pi == ix ? 0 : pi == iy ? 1 : pi == iz ? 2 : -1;
                        int nslot = pi == inx ? 0 : pi == iny ? 1 : pi == inz ? 2 : -1;
                        if ((slot >= 0 || (nslot >= 0 && m->vn)) && !isfinite(v))
                            return ssm_fail(err, SSM_EDATA, "%s: vertex %lld: %s is %g, expected "
                                            "a finite number", b->path, (long long)it, pr->name,
                                            v);
                        if (slot >= 0)
                            m->v[it * 3 + slot] = v;
                        if (nslot >= 0 && m->vn)
                            m->vn[it * 3 + nslot] = v;
                    }
                    continue;
                }
                double cnt;
                SSM_TRY(value(b, pr->count, &cnt, e, it, pr->name, err));
                if (cnt < 0 || cnt != floor(cnt) || cnt > 1e6)
                    return ssm_fail(err, SSM_EDATA, "%s: %s %lld: list %s has %g items", b->path,
                                    e->name, (long long)it, pr->name, cnt);
                int64_t deg = (int64_t)cnt, first = 0, prev = 0;
                if (face && pi == ifc && deg < 3)
                    return ssm_fail(err, SSM_EDATA, "%s: face %lld has %lld vertices, expected "
                                    ">= 3", b->path, (long long)it, (long long)deg);
                for (int64_t j = 0; j < deg; j++) {
                    SSM_TRY(value(b, pr->type, &v, e, it, pr->name, err));
                    if (!(face && pi == ifc))
                        continue;
                    if (v < 0 || v >= (double)m->nv || v != floor(v))
                        return ssm_fail(err, SSM_EDATA, "%s: face %lld: vertex index %g, "
                                        "expected 0..%lld (the vertices come first)", b->path,
                                        (long long)it, v, (long long)m->nv - 1);
                    int64_t vi = (int64_t)v;
                    if (j == 0)
                        first = vi;
                    if (j >= 2) { // fan (first, prev, vi)
                        if (m->nf == cap) {
                            // the first guess from the header's count, but never more
                            // triangles than the bytes left could hold
                            int64_t room = (int64_t)(b->end - b->p) + 4;
                            cap = cap ? cap * 2 : (e->n * 2 + 4 < room ? e->n * 2 + 4 : room);
                            int64_t *nf = realloc(m->f, (size_t)cap * 3 * sizeof *nf);
                            if (!nf)
                                return ssm_fail(err, SSM_ENOMEM, "%s: out of memory at face "
                                                "%lld", b->path, (long long)it);
                            m->f = nf;
                        }
                        int64_t *t = m->f + m->nf++ * 3;
                        t[0] = first;
                        t[1] = prev;
                        t[2] = vi;
                    }
                    prev = vi;
                }
            }
    }
    if (!m->v)
        return ssm_fail(err, SSM_EDATA, "%s: no vertex element", b->path);
    return SSM_OK;
}

ssm_code pc_read_ply(pc_mesh *m, const char *path, ssm_error *err) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 65536) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            unsigned char *nb = realloc(buf, nc + 1);
            if (!nb) {
                free(buf);
                fclose(f);
                return ssm_fail(err, SSM_ENOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return ssm_fail(err, SSM_EIO, "%s: read error after %zu bytes", path, len);
    }
    buf[len] = 0;
    ply_elem el[PLY_MAX_ELEMS];
    int ne = 0;
    size_t body = 0;
    ply_format fmt = F_ASCII;
    ssm_code rc = parse_header(path, (const char *)buf, len, &fmt, el, &ne, &body, err);
    if (rc == SSM_OK) {
        // the header's lines before the body, for ASCII line numbers
        int64_t lines = 1;
        for (size_t i = 0; i < body; i++)
            lines += buf[i] == '\n';
        ply_body b = {buf + body, buf + len, fmt, lines, path};
        rc = read_elements(m, &b, el, ne, err);
    }
    free(buf);
    if (rc != SSM_OK)
        pc_mesh_free(m);
    return rc;
}
