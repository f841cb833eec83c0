// defines: ucr_raw_init, ucr_raw_free, ucr_raw_value, ucr_raw_sample, ucr_raw_declare_class
#include "datasets/ucr_raw.h"

#include <stdlib.h>
#include <string.h>

void ucr_raw_init(ucr_raw *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = path;
}

void ucr_raw_free(ucr_raw *r) {
    for (int64_t i = 0; i < r->n; i++)
        free(r->label[i]);
    for (int64_t k = 0; k < r->nclasses; k++)
        free(r->classes[k]);
    free(r->len);
    free(r->off);
    free(r->line);
    free(r->label);
    free(r->vals);
    free(r->classes);
    const char *path = r->path;
    ucr_raw_init(r, path);
}

ssm_code ucr_raw_value(ucr_raw *r, real v, ssm_error *e) {
    if (r->nvals == r->vcap) {
        int64_t cap = r->vcap ? r->vcap * 2 : 4096;
        real *nv = realloc(r->vals, (size_t)cap * sizeof *nv);
        if (!nv)
            return ssm_fail(e, SSM_ENOMEM, "%s: out of memory for %lld values", r->path,
                            (long long)cap);
        r->vals = nv;
        r->vcap = cap;
    }
    r->vals[r->nvals++] = v;
    return SSM_OK;
}

static char *dup_n(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

ssm_code ucr_raw_sample(ucr_raw *r, const char *label, size_t label_n, int64_t len, int64_t off,
                        int64_t line, ssm_error *e) {
    if (r->n == r->cap) {
        int64_t cap = r->cap ? r->cap * 2 : 256;
        int64_t *nl = realloc(r->len, (size_t)cap * sizeof *nl);
        if (nl)
            r->len = nl;
        int64_t *no = realloc(r->off, (size_t)cap * sizeof *no);
        if (no)
            r->off = no;
        int64_t *nli = realloc(r->line, (size_t)cap * sizeof *nli);
        if (nli)
            r->line = nli;
        char **nla = realloc(r->label, (size_t)cap * sizeof *nla);
        if (nla)
            r->label = nla;
        if (!nl || !no || !nli || !nla)
            return ssm_fail(e, SSM_ENOMEM, "%s: out of memory for %lld samples", r->path,
                            (long long)cap);
        r->cap = cap;
    }
    char *lab = dup_n(label, label_n);
    if (!lab)
        return ssm_fail(e, SSM_ENOMEM, "%s: out of memory", r->path);
    r->len[r->n] = len;
    r->off[r->n] = off;
    r->line[r->n] = line;
    r->label[r->n] = lab;
    r->n++;
    return SSM_OK;
}

ssm_code ucr_raw_declare_class(ucr_raw *r, const char *label, size_t n, int64_t line,
                               ssm_error *e) {
    for (int64_t k = 0; k < r->nclasses; k++)
        if (strlen(r->classes[k]) == n && memcmp(r->classes[k], label, n) == 0)
            return ssm_fail(e, SSM_EFORMAT, "%s:%lld: class label '%s' listed twice in "
                            "@classLabel; expected distinct labels", r->path, (long long)line,
                            r->classes[k]);
    char **nc = realloc(r->classes, (size_t)(r->nclasses + 1) * sizeof *nc);
    if (!nc)
        return ssm_fail(e, SSM_ENOMEM, "%s: out of memory", r->path);
    r->classes = nc;
    char *lab = dup_n(label, n);
    if (!lab)
        return ssm_fail(e, SSM_ENOMEM, "%s: out of memory", r->path);
    r->classes[r->nclasses++] = lab;
    return SSM_OK;
}
