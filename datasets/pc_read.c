// defines: pc_cloud_free, pc_mesh_free, pc_read_text, pc_read_off, pc_read_points,
//          pc_mesh_sample (see pc_cloud.h; PLY is datasets/pc_ply.c)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/rng.h"
#include "datasets/pc_cloud.h"
#include "datasets/series_text.h"

void pc_cloud_free(pc_cloud *c) {
    free(c->p);
    free(c->label);
    memset(c, 0, sizeof *c);
}

void pc_mesh_free(pc_mesh *m) {
    free(m->v);
    free(m->vn);
    free(m->f);
    free(m->flabel);
    memset(m, 0, sizeof *m);
}

// Splits a line into numbers at commas and blanks: up to `max` values into v; returns
// the count, or -1 with err filled (a token that is not a finite number).
static int64_t parse_row(double *v, int64_t max, const char *s, size_t n, const char *path,
                         int64_t line, ssm_error *err) {
    int64_t k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ',' || s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            break;
        size_t j = i;
        while (j < n && s[j] != ',' && s[j] != ' ' && s[j] != '\t')
            j++;
        double x = 0;
        int rc = series_parse_number(s + i, j - i, &x);
        if (rc != SERIES_NUM_OK) {
            char snip[64];
            series_snippet(snip, sizeof snip, s + i, j - i);
            ssm_fail(err, SSM_EDATA, "%s:%lld: value %lld '%s' is not a finite number", path,
                     (long long)line, (long long)k + 1, snip);
            return -1;
        }
        if (k < max)
            v[k] = x;
        k++;
        i = j;
    }
    return k;
}

ssm_code pc_read_text(pc_cloud *c, const char *path, ssm_error *err) {
    memset(c, 0, sizeof *c);
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    series_lines it;
    series_lines_init(&it, &t);
    const char *s;
    size_t n;
    int64_t cols = 0, first_line = 0, cap = 0, rows = 0;
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK && series_next_line(&it, &s, &n)) {
        series_trim(&s, &n);
        if (n == 0)
            continue;
        double v[8];
        int64_t k = parse_row(v, 8, s, n, path, it.lineno, err);
        if (k < 0) {
            rc = SSM_EDATA;
            break;
        }
        if (!cols) {
            if (k != 3 && k != 6 && k != 7) {
                rc = ssm_fail(err, SSM_EDATA, "%s:%lld: %lld values, expected 3 (x y z), 6 (x y "
                              "z nx ny nz) or 7 (x y z nx ny nz part)", path,
                              (long long)it.lineno, (long long)k);
                break;
            }
            cols = k;
            first_line = it.lineno;
            c->C = k >= 6 ? 6 : 3;
        } else if (k != cols) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: %lld values, expected %lld as on line %lld",
                          path, (long long)it.lineno, (long long)k, (long long)cols,
                          (long long)first_line);
            break;
        }
        if (rows == cap) {
            cap = cap ? cap * 2 : 4096;
            real *np = realloc(c->p, (size_t)cap * (size_t)c->C * sizeof *np);
            int32_t *nl = cols == 7 ? realloc(c->label, (size_t)cap * sizeof *nl) : c->label;
            if (np)
                c->p = np;
            if (nl)
                c->label = nl;
            if (!np || (cols == 7 && !nl)) {
                rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory at line %lld", path,
                              (long long)it.lineno);
                break;
            }
        }
        for (int64_t j = 0; j < c->C; j++)
            c->p[rows * c->C + j] = (real)v[j];
        if (cols == 7) {
            if (v[6] != floor(v[6]) || v[6] < 0 || v[6] > 1e6) {
                rc = ssm_fail(err, SSM_EDATA, "%s:%lld: part label %g, expected an integer in "
                              "0..1000000", path, (long long)it.lineno, v[6]);
                break;
            }
            c->label[rows] = (int32_t)v[6];
        }
        rows++;
    }
    series_text_free(&t);
    if (rc == SSM_OK && rows == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no points (an empty file)", path);
    if (rc != SSM_OK) {
        pc_cloud_free(c);
        return rc;
    }
    c->n = rows;
    return SSM_OK;
}

// ---- OFF -----------------------------------------------------------------------

// The next line that is not empty or a comment, trimmed; 0 at the end.
static int next_content(series_lines *it, const char **s, size_t *n) {
    while (series_next_line(it, s, n)) {
        series_trim(s, n);
        if (*n && **s != '#')
            return 1;
    }
    return 0;
}

ssm_code pc_read_off(pc_mesh *m, const char *path, ssm_error *err) {
    memset(m, 0, sizeof *m);
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    series_lines it;
    series_lines_init(&it, &t);
    const char *s;
    size_t n;
    ssm_code rc = SSM_OK;
    double cnt[4];
    int64_t k = 0;
    if (!next_content(&it, &s, &n) || n < 3 || strncmp(s, "OFF", 3) != 0) {
        rc = ssm_fail(err, SSM_EDATA, "%s:%lld: expected the header OFF", path,
                      (long long)(it.lineno ? it.lineno : 1));
        goto done;
    }
    // ModelNet's quirk: "OFF1046 900 0", the counts glued to the keyword
    k = parse_row(cnt, 4, s + 3, n - 3, path, it.lineno, err);
    if (k < 0) {
        rc = SSM_EDATA;
        goto done;
    }
    if (k == 0) {
        if (!next_content(&it, &s, &n)) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: the file ends before the vertex and face "
                          "counts", path, (long long)it.lineno);
            goto done;
        }
        k = parse_row(cnt, 4, s, n, path, it.lineno, err);
        if (k < 0) {
            rc = SSM_EDATA;
            goto done;
        }
    }
    if (k != 3 || cnt[0] < 1 || cnt[1] < 0 || cnt[0] != floor(cnt[0]) ||
        cnt[1] != floor(cnt[1]) || cnt[0] > 1e9 || cnt[1] > 1e9) {
        rc = ssm_fail(err, SSM_EDATA, "%s:%lld: expected 3 counts (vertices >= 1, faces, "
                      "edges)", path, (long long)it.lineno);
        goto done;
    }
    // a vertex line takes at least 6 bytes ("0 0 0\n") and a face at least 8: a header
    // claiming more than the file can hold is refused before memory is sized by it
    if (cnt[0] * 6 > (double)t.len || cnt[1] * 8 > (double)t.len) {
        rc = ssm_fail(err, SSM_EDATA, "%s:%lld: the header claims %.0f vertices and %.0f faces, "
                      "more than the file's %zu bytes can hold", path, (long long)it.lineno,
                      cnt[0], cnt[1], t.len);
        goto done;
    }
    m->nv = (int64_t)cnt[0];
    int64_t nfaces = (int64_t)cnt[1], cap = nfaces * 2 + 1;
    m->v = malloc((size_t)m->nv * 3 * sizeof *m->v);
    m->f = malloc((size_t)cap * 3 * sizeof *m->f);
    if (!m->v || !m->f) {
        rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory for %lld vertices", path,
                      (long long)m->nv);
        goto done;
    }
    for (int64_t i = 0; i < m->nv; i++) {
        double v[8];
        if (!next_content(&it, &s, &n)) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: the file ends at vertex %lld of %lld", path,
                          (long long)it.lineno, (long long)i, (long long)m->nv);
            goto done;
        }
        k = parse_row(v, 8, s, n, path, it.lineno, err);
        if (k < 0) {
            rc = SSM_EDATA;
            goto done;
        }
        if (k < 3) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: vertex %lld has %lld values, expected x y z",
                          path, (long long)it.lineno, (long long)i, (long long)k);
            goto done;
        }
        memcpy(m->v + i * 3, v, 3 * sizeof *v);
    }
    for (int64_t i = 0; i < nfaces; i++) {
        double v[64];
        if (!next_content(&it, &s, &n)) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: the file ends at face %lld of %lld", path,
                          (long long)it.lineno, (long long)i, (long long)nfaces);
            goto done;
        }
        k = parse_row(v, 64, s, n, path, it.lineno, err);
        if (k < 0) {
            rc = SSM_EDATA;
            goto done;
        }
        // range first: casting a value beyond int64 is undefined
        int64_t deg = k > 0 && v[0] >= 0 && v[0] <= 64 ? (int64_t)v[0] : -1;
        if (k < 1 || v[0] != (double)deg || deg < 3 || deg > 63 || k < 1 + deg) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: face %lld: expected a vertex count 3..63 and "
                          "that many indices", path, (long long)it.lineno, (long long)i);
            goto done;
        }
        for (int64_t j = 1; j <= deg; j++)
            if (v[j] != floor(v[j]) || v[j] < 0 || v[j] >= (double)m->nv) {
                rc = ssm_fail(err, SSM_EDATA, "%s:%lld: face %lld: vertex index %g, expected "
                              "0..%lld", path, (long long)it.lineno, (long long)i, v[j],
                              (long long)m->nv - 1);
                goto done;
            }
        for (int64_t j = 2; j < deg; j++) { // fan: (v1, vj, vj+1)
            if (m->nf == cap) {
                int64_t *nf = realloc(m->f, (size_t)cap * 2 * 3 * sizeof *nf);
                if (!nf) {
                    rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory at face %lld", path,
                                  (long long)i);
                    goto done;
                }
                m->f = nf;
                cap *= 2;
            }
            int64_t *tri = m->f + m->nf * 3;
            tri[0] = (int64_t)v[1];
            tri[1] = (int64_t)v[j];
            tri[2] = (int64_t)v[j + 1];
            m->nf++;
        }
    }
done:
    series_text_free(&t);
    if (rc != SSM_OK)
        pc_mesh_free(m);
    return rc;
}

// ---- any format -------------------------------------------------------------------

static const char *extension(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot + 1 : "";
}

ssm_code pc_read_points(pc_cloud *c, const char *path, ssm_error *err) {
    memset(c, 0, sizeof *c);
    const char *ext = extension(path);
    if (!strcasecmp(ext, "txt") || !strcasecmp(ext, "xyz") || !strcasecmp(ext, "pts") ||
        !strcasecmp(ext, "csv"))
        return pc_read_text(c, path, err);
    if (strcasecmp(ext, "ply") && strcasecmp(ext, "off"))
        return ssm_fail(err, SSM_EDATA, "%s: unknown point file type '.%s'; known: .txt, .xyz, "
                        ".pts, .csv, .ply, .off", path, ext);
    pc_mesh m;
    SSM_TRY(strcasecmp(ext, "ply") ? pc_read_off(&m, path, err) : pc_read_ply(&m, path, err));
    c->n = m.nv;
    c->C = m.vn ? 6 : 3;
    c->p = malloc((size_t)(c->n * c->C) * sizeof *c->p);
    if (!c->p) {
        pc_mesh_free(&m);
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory for %lld points", path,
                        (long long)c->n);
    }
    for (int64_t i = 0; i < c->n; i++)
        for (int64_t j = 0; j < 3; j++) {
            c->p[i * c->C + j] = (real)m.v[i * 3 + j];
            if (m.vn)
                c->p[i * c->C + 3 + j] = (real)m.vn[i * 3 + j];
        }
    pc_mesh_free(&m);
    return SSM_OK;
}

// ---- surface sampling ---------------------------------------------------------------

static double unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

static void tri_cross(double out[3], const double *a, const double *b, const double *c) {
    double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    double w[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    out[0] = u[1] * w[2] - u[2] * w[1];
    out[1] = u[2] * w[0] - u[0] * w[2];
    out[2] = u[0] * w[1] - u[1] * w[0];
}

ssm_code pc_mesh_sample(pc_cloud *out, const pc_mesh *m, int64_t n, uint64_t key,
                        const char *what, ssm_error *err) {
    memset(out, 0, sizeof *out);
    if (m->nf < 1)
        return ssm_fail(err, SSM_EDATA, "%s: a mesh without faces cannot be sampled", what);
    if (n < 1)
        return ssm_fail(err, SSM_EINVAL, "%s: %lld points asked, expected >= 1", what,
                        (long long)n);
    double *cum = malloc((size_t)m->nf * sizeof *cum);
    out->p = malloc((size_t)n * 6 * sizeof *out->p);
    if (m->flabel)
        out->label = malloc((size_t)n * sizeof *out->label);
    if (!cum || !out->p || (m->flabel && !out->label)) {
        free(cum);
        pc_cloud_free(out);
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory sampling %lld points", what,
                        (long long)n);
    }
    double total = 0;
    for (int64_t f = 0; f < m->nf; f++) {
        const int64_t *t = m->f + f * 3;
        double cr[3];
        tri_cross(cr, m->v + t[0] * 3, m->v + t[1] * 3, m->v + t[2] * 3);
        total += 0.5 * sqrt(cr[0] * cr[0] + cr[1] * cr[1] + cr[2] * cr[2]);
        cum[f] = total;
    }
    if (!(total > 0) || !isfinite(total)) {
        free(cum);
        pc_cloud_free(out);
        return ssm_fail(err, SSM_EDATA, "%s: the mesh's surface area is %g; expected a finite "
                        "positive area", what, total);
    }
    for (int64_t i = 0; i < n; i++) {
        double r = unit(key, (uint64_t)i * 3) * total;
        int64_t lo = 0, hi = m->nf - 1; // first face with cum > r
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (cum[mid] > r)
                hi = mid;
            else
                lo = mid + 1;
        }
        const int64_t *t = m->f + lo * 3;
        const double *a = m->v + t[0] * 3, *b = m->v + t[1] * 3, *c = m->v + t[2] * 3;
        double s = sqrt(unit(key, (uint64_t)i * 3 + 1)), r2 = unit(key, (uint64_t)i * 3 + 2);
        double wa = 1 - s, wb = s * (1 - r2), wc = s * r2, cr[3];
        tri_cross(cr, a, b, c);
        double len = sqrt(cr[0] * cr[0] + cr[1] * cr[1] + cr[2] * cr[2]);
        real *o = out->p + i * 6;
        if (out->label)
            out->label[i] = m->flabel[lo];
        for (int j = 0; j < 3; j++) {
            o[j] = (real)(wa * a[j] + wb * b[j] + wc * c[j]);
            o[3 + j] = (real)(len > 0 ? cr[j] / len : 0);
        }
    }
    free(cum);
    out->n = n;
    out->C = 6;
    return SSM_OK;
}
