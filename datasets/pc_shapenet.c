// defines: pc_shapenet_load, pc_shapenet_write, pc_shapenet_synset, pc_json_strings,
//          PC_SHAPENET_PARTS
// (see pc_shapenet.h)
#include "datasets/pc_shapenet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/series_text.h"

const int32_t PC_SHAPENET_PARTS[16][2] = {{0, 4},  {4, 2},  {6, 2},  {8, 4},  {12, 4}, {16, 3},
                                          {19, 3}, {22, 2}, {24, 4}, {28, 2}, {30, 6}, {36, 2},
                                          {38, 3}, {41, 3}, {44, 3}, {47, 3}};

static void strings_free(char **s, int64_t n) {
    for (int64_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

static int64_t line_of(const char *buf, const char *p) {
    int64_t line = 1;
    for (const char *q = buf; q < p; q++)
        line += *q == '\n';
    return line;
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

ssm_code pc_json_strings(char ***out, int64_t *n, const char *path, ssm_error *err) {
    *out = NULL;
    *n = 0;
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    const char *p = skip_ws(t.buf);
    ssm_code rc = SSM_OK;
    char *str = malloc(t.len + 1);
    if (!str)
        rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
    if (rc == SSM_OK && *p != '[')
        rc = ssm_fail(err, SSM_EDATA, "%s:%lld: expected a JSON array '['", path,
                      (long long)line_of(t.buf, p));
    if (rc == SSM_OK)
        p = skip_ws(p + 1);
    int first = 1;
    while (rc == SSM_OK && *p != ']') {
        if (!first) {
            if (*p != ',') {
                rc = ssm_fail(err, SSM_EDATA, "%s:%lld: expected ',' or ']'", path,
                              (long long)line_of(t.buf, p));
                break;
            }
            p = skip_ws(p + 1);
        }
        first = 0;
        if (*p != '"') {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: expected a string", path,
                          (long long)line_of(t.buf, p));
            break;
        }
        size_t k = 0;
        for (p++; rc == SSM_OK && *p != '"'; p++) {
            if (!*p || *p == '\n') {
                rc = ssm_fail(err, SSM_EDATA, "%s:%lld: unterminated string", path,
                              (long long)line_of(t.buf, p));
            } else if (*p != '\\') {
                str[k++] = *p;
            } else {
                p++;
                char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
                if (*p == 'u') {
                    unsigned v = 0;
                    if (sscanf(p + 1, "%4x", &v) != 1 || v > 127)
                        rc = ssm_fail(err, SSM_EDATA, "%s:%lld: only ASCII \\u escapes", path,
                                      (long long)line_of(t.buf, p));
                    c = (char)v;
                    p += 4;
                } else if (!strchr("\"\\/nt", *p)) {
                    rc = ssm_fail(err, SSM_EDATA, "%s:%lld: unknown escape", path,
                                  (long long)line_of(t.buf, p));
                }
                str[k++] = c;
            }
        }
        if (rc != SSM_OK)
            break;
        p = skip_ws(p + 1);
        char **ns = realloc(*out, (size_t)(*n + 1) * sizeof *ns);
        if (!ns || !(ns[*n] = strndup(str, k))) {
            if (ns)
                *out = ns;
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
            break;
        }
        *out = ns;
        (*n)++;
    }
    if (rc == SSM_OK && *skip_ws(p + 1))
        rc = ssm_fail(err, SSM_EDATA, "%s:%lld: text after the array", path,
                      (long long)line_of(t.buf, p));
    free(str);
    series_text_free(&t);
    if (rc != SSM_OK) {
        strings_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

typedef struct {
    const char *dir;
    char **synset; // [categories]
    const pc_set *s;
    int table;     // ShapeNetPart's 16 categories: their parts are known (PC_SHAPENET_PARTS)
} sn_ctx;

static ssm_code load_part(void *vctx, int64_t i, uint64_t key, pc_cloud *raw, ssm_error *err) {
    const sn_ctx *c = vctx;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s/%s.txt", c->dir, c->synset[c->s->labels[i]],
             c->s->names[i]);
    SSM_TRY(pc_read_text(raw, path, err));
    int32_t lo = 0, hi = INT32_MAX;
    if (c->table) {
        lo = PC_SHAPENET_PARTS[c->s->labels[i]][0];
        hi = lo + PC_SHAPENET_PARTS[c->s->labels[i]][1];
    }
    for (int64_t j = 0; raw->label && j < raw->n; j++)
        if (raw->label[j] < lo || raw->label[j] >= hi) {
            ssm_code rc = c->table
                ? ssm_fail(err, SSM_EDATA, "%s:%lld: part %d, expected %d..%d (the parts of %s)",
                           path, (long long)j + 1, raw->label[j], lo, hi - 1,
                           c->s->class_names[c->s->labels[i]])
                : ssm_fail(err, SSM_EDATA, "%s:%lld: part %d, expected >= 0", path,
                           (long long)j + 1, raw->label[j]);
            pc_cloud_free(raw);
            return rc;
        }
    if (!raw->label) {
        pc_cloud_free(raw);
        return ssm_fail(err, SSM_EDATA, "%s: rows of 7 values (x y z nx ny nz part) expected",
                        path);
    }
    return SSM_OK;
}

// s->part_range and num_parts: ShapeNetPart's table, or each category's labels in the
// split, which must be a range of their own (a category with no shapes is an error).
static ssm_code part_ranges(pc_set *s, int table, const char *dir, const char *split,
                            ssm_error *err) {
    const int32_t K = s->num_classes;
    s->part_range = malloc((size_t)(2 * K) * sizeof *s->part_range);
    if (!s->part_range)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    if (table) {
        memcpy(s->part_range, PC_SHAPENET_PARTS, sizeof PC_SHAPENET_PARTS);
        s->num_parts = PC_SHAPENET_NUM_PARTS;
        return SSM_OK;
    }
    int32_t *lo = s->part_range, hi_all = -1;
    for (int32_t k = 0; k < K; k++)
        lo[2 * k] = INT32_MAX, lo[2 * k + 1] = -1; // min, then max while scanning
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t j = 0; j < s->P; j++) {
            int32_t k = s->labels[i], y = s->parts[i * s->P + j];
            lo[2 * k] = y < lo[2 * k] ? y : lo[2 * k];
            lo[2 * k + 1] = y > lo[2 * k + 1] ? y : lo[2 * k + 1];
        }
    for (int32_t k = 0; k < K; k++) {
        if (lo[2 * k + 1] < 0)
            return ssm_fail(err, SSM_EDATA, "%s: split %s has no shape of category %s, so its "
                            "parts are unknown", dir, split, s->class_names[k]);
        lo[2 * k + 1] = lo[2 * k + 1] - lo[2 * k] + 1; // count
        hi_all = lo[2 * k] + lo[2 * k + 1] > hi_all ? lo[2 * k] + lo[2 * k + 1] : hi_all;
    }
    for (int32_t a = 0; a < K; a++)
        for (int32_t b = a + 1; b < K; b++)
            if (lo[2 * a] < lo[2 * b] + lo[2 * b + 1] && lo[2 * b] < lo[2 * a] + lo[2 * a + 1])
                return ssm_fail(err, SSM_EDATA, "%s: split %s: the parts of %s (%d..%d) and %s "
                                "(%d..%d) overlap; each category's part ids must be a range of "
                                "its own", dir, split, s->class_names[a], lo[2 * a],
                                lo[2 * a] + lo[2 * a + 1] - 1, s->class_names[b], lo[2 * b],
                                lo[2 * b] + lo[2 * b + 1] - 1);
    s->num_parts = hi_all;
    return SSM_OK;
}

ssm_code pc_shapenet_load(pc_set *s, const char *dir, const char *split, const pc_prep *o,
                          ssm_error *err) {
    memset(s, 0, sizeof *s);
    char path[1200];
    char *cat[PC_SHAPENET_MAX_CATS] = {0}, *syn[PC_SHAPENET_MAX_CATS] = {0};
    int ncat = 0;
    snprintf(path, sizeof path, "%s/synsetoffset2category.txt", dir);
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    series_lines it;
    series_lines_init(&it, &t);
    const char *l;
    size_t len;
    ssm_code rc = SSM_OK;
    while (rc == SSM_OK && series_next_line(&it, &l, &len)) {
        series_trim(&l, &len);
        if (!len)
            continue;
        char a[128] = "", b[128] = "", extra[8] = "";
        char line[300];
        snprintf(line, sizeof line, "%.*s", (int)len, l);
        if (sscanf(line, "%127s %127s %7s", a, b, extra) != 2 || ncat == PC_SHAPENET_MAX_CATS)
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: expected 'Category synset' (at most %d "
                          "lines; ShapeNetPart has 16)", path, (long long)it.lineno,
                          PC_SHAPENET_MAX_CATS);
        else if (!(cat[ncat] = strdup(a)) || !(syn[ncat] = strdup(b)))
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        else
            ncat++;
    }
    series_text_free(&t);
    if (rc == SSM_OK && ncat < 1)
        rc = ssm_fail(err, SSM_EDATA, "%s: no categories (ShapeNetPart has 16)", path);
    // the split's entries: train/val/test, or trainval = train then val
    char **ids = NULL;
    int64_t n = 0;
    int trainval = !strcmp(split, "trainval");
    const char *parts[2] = {trainval ? "train" : split, trainval ? "val" : NULL};
    if (rc == SSM_OK && strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test") &&
        !trainval)
        rc = ssm_fail(err, SSM_EINVAL, "ShapeNetPart split '%s'; known: train, val, test, "
                      "trainval", split);
    for (int k = 0; rc == SSM_OK && k < 2 && parts[k]; k++) {
        char **more = NULL;
        int64_t nm = 0;
        snprintf(path, sizeof path, "%s/train_test_split/shuffled_%s_file_list.json", dir,
                 parts[k]);
        rc = pc_json_strings(&more, &nm, path, err);
        char **ns = rc == SSM_OK ? realloc(ids, (size_t)(n + nm + 1) * sizeof *ns) : NULL;
        if (rc == SSM_OK && !ns)
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        if (ns)
            ids = ns;
        for (int64_t j = 0; j < nm; j++) {
            if (rc == SSM_OK)
                ids[n++] = more[j];
            else
                free(more[j]);
        }
        free(more);
    }
    if (rc == SSM_OK && n == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no shapes in split %s", dir, split);
    if (rc == SSM_OK)
        rc = pc_set_alloc(s, n, o, 1, err);
    if (rc == SSM_OK)
        rc = pc_set_class_names(s, cat, ncat, err);
    for (int64_t i = 0; rc == SSM_OK && i < n; i++) {
        // "shape_data/<synset>/<id>"
        char sy[128] = "", id[256] = "";
        const char *a = strchr(ids[i], '/'), *b = a ? strchr(a + 1, '/') : NULL;
        int c = -1;
        if (a && b && b - a - 1 < (int)sizeof sy && strlen(b + 1) < sizeof id && b[1] &&
            !strchr(b + 1, '/')) {
            snprintf(sy, sizeof sy, "%.*s", (int)(b - a - 1), a + 1);
            snprintf(id, sizeof id, "%s", b + 1);
            for (int k = 0; k < ncat; k++)
                if (!strcmp(syn[k], sy))
                    c = k;
        }
        if (c < 0)
            rc = ssm_fail(err, SSM_EDATA, "%s: split %s, entry %lld '%s': expected shape_data/"
                          "<synset of synsetoffset2category.txt>/<id>", dir, split,
                          (long long)i + 1, ids[i]);
        else if (!(s->names[i] = strdup(id)))
            rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
        else
            s->labels[i] = c;
    }
    sn_ctx ctx = {dir, syn, s, ncat == 16};
    if (rc == SSM_OK)
        rc = pc_set_fill(s, o, 0, s->n, load_part, &ctx, err);
    if (rc == SSM_OK)
        rc = part_ranges(s, ctx.table, dir, split, err);
    strings_free(ids, n);
    for (int k = 0; k < PC_SHAPENET_MAX_CATS; k++) {
        free(cat[k]);
        free(syn[k]);
    }
    if (rc != SSM_OK)
        pc_set_free(s);
    return rc;
}

static ssm_code mkdir_p(const char *path, ssm_error *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return ssm_fail(err, SSM_EIO, "%s: cannot create folder: %s", path, strerror(errno));
    return SSM_OK;
}

static ssm_code closed(FILE *f, const char *path, ssm_error *err) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    return SSM_OK;
}

void pc_shapenet_synset(char *out, size_t n, int32_t k) {
    snprintf(out, n, "%08d", 90000000 + k);
}

ssm_code pc_shapenet_write(const pc_set *s, const char *dir, const char *split,
                           int with_categories, ssm_error *err) {
    if (!s->parts || s->C < 6)
        return ssm_fail(err, SSM_EINVAL, "%s: ShapeNetPart's layout holds points with normals "
                        "and parts", dir);
    char path[1400], syn[16];
    FILE *f;
    SSM_TRY(mkdir_p(dir, err));
    snprintf(path, sizeof path, "%s/train_test_split", dir);
    SSM_TRY(mkdir_p(path, err));
    if (with_categories) {
        snprintf(path, sizeof path, "%s/synsetoffset2category.txt", dir);
        if (!(f = fopen(path, "w")))
            return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
        for (int32_t k = 0; k < s->num_classes; k++) {
            pc_shapenet_synset(syn, sizeof syn, k);
            fprintf(f, "%s\t%s\n", s->class_names[k], syn);
        }
        SSM_TRY(closed(f, path, err));
    }
    for (int32_t k = 0; k < s->num_classes; k++) {
        pc_shapenet_synset(syn, sizeof syn, k);
        snprintf(path, sizeof path, "%s/%s", dir, syn);
        SSM_TRY(mkdir_p(path, err));
    }
    snprintf(path, sizeof path, "%s/train_test_split/shuffled_%s_file_list.json", dir, split);
    if (!(f = fopen(path, "w")))
        return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "[");
    for (int64_t i = 0; i < s->n; i++) {
        pc_shapenet_synset(syn, sizeof syn, s->labels[i]);
        fprintf(f, "%s\"shape_data/%s/%s\"", i ? ", " : "", syn, s->names[i]);
    }
    fprintf(f, "]");
    SSM_TRY(closed(f, path, err));
    for (int64_t i = 0; i < s->n; i++) {
        pc_shapenet_synset(syn, sizeof syn, s->labels[i]);
        snprintf(path, sizeof path, "%s/%s/%s.txt", dir, syn, s->names[i]);
        if (!(f = fopen(path, "w")))
            return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
        for (int64_t j = 0; j < s->P; j++) {
            const real *q = s->points + (i * s->P + j) * s->C;
            fprintf(f, "%.6f %.6f %.6f %.6f %.6f %.6f %d\n", (double)q[0], (double)q[1],
                    (double)q[2], (double)q[3], (double)q[4], (double)q[5], s->parts[i * s->P + j]);
        }
        SSM_TRY(closed(f, path, err));
    }
    return SSM_OK;
}
