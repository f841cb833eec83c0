// defines: pc_modelnet_load, pc_modelnet_off_load, pc_modelnet_write, pc_modelnet_class_of
// (see pc_modelnet.h)
#include "datasets/pc_modelnet.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "datasets/series_text.h"

#define NAME_MAX_LEN 256

int pc_modelnet_class_of(char *out, size_t n, const char *id) {
    const char *us = strrchr(id, '_');
    if (!us || us == id || !us[1])
        return 0;
    for (const char *p = us + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    snprintf(out, n, "%.*s", (int)(us - id), id);
    return 1;
}

// The non-empty trimmed lines of a file, malloc'd (a list of strings), with their line
// numbers.
typedef struct {
    char **s;
    int64_t *line;
    int64_t n;
} line_list;

static void lines_free(line_list *l) {
    for (int64_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->line);
    memset(l, 0, sizeof *l);
}

static ssm_code read_lines(line_list *l, const char *path, ssm_error *err) {
    memset(l, 0, sizeof *l);
    series_text t;
    SSM_TRY(series_text_read(&t, path, err));
    series_lines it;
    series_lines_init(&it, &t);
    const char *s;
    size_t n;
    int64_t cap = 0;
    ssm_code rc = SSM_OK;
    while (series_next_line(&it, &s, &n)) {
        series_trim(&s, &n);
        if (!n)
            continue;
        if (n >= NAME_MAX_LEN) {
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: a name of %zu characters, at most %d", path,
                          (long long)it.lineno, n, NAME_MAX_LEN - 1);
            break;
        }
        if (l->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **ns = realloc(l->s, (size_t)cap * sizeof *ns);
            int64_t *nl = ns ? realloc(l->line, (size_t)cap * sizeof *nl) : NULL;
            if (ns)
                l->s = ns;
            if (nl)
                l->line = nl;
            if (!ns || !nl) {
                rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
                break;
            }
        }
        l->line[l->n] = it.lineno;
        if (!(l->s[l->n] = strndup(s, n))) {
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", path);
            break;
        }
        l->n++;
    }
    series_text_free(&t);
    if (rc == SSM_OK && l->n == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no names (an empty file)", path);
    if (rc != SSM_OK)
        lines_free(l);
    return rc;
}

typedef struct {
    const char *dir;
    const pc_set *s;
} txt_ctx;

static ssm_code load_txt(void *vctx, int64_t i, uint64_t key, pc_cloud *raw, ssm_error *err) {
    const txt_ctx *c = vctx;
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/%s.txt", c->dir, c->s->class_names[c->s->labels[i]],
             c->s->names[i]);
    return pc_read_text(raw, path, err);
}

ssm_code pc_modelnet_load(pc_set *s, const char *dir, const char *subset, const char *split,
                          const pc_prep *o, ssm_error *err) {
    memset(s, 0, sizeof *s);
    char names_path[1024], ids_path[1024];
    snprintf(names_path, sizeof names_path, "%s/%s_shape_names.txt", dir, subset);
    snprintf(ids_path, sizeof ids_path, "%s/%s_%s.txt", dir, subset, split);
    line_list cls, ids;
    SSM_TRY(read_lines(&cls, names_path, err));
    ssm_code rc = read_lines(&ids, ids_path, err);
    if (rc != SSM_OK) {
        lines_free(&cls);
        return rc;
    }
    if (cls.n > INT32_MAX)
        rc = ssm_fail(err, SSM_EDATA, "%s: too many classes", names_path);
    if (rc == SSM_OK)
        rc = pc_set_alloc(s, ids.n, o, 0, err);
    if (rc == SSM_OK)
        rc = pc_set_class_names(s, cls.s, (int32_t)cls.n, err);
    for (int64_t i = 0; rc == SSM_OK && i < ids.n; i++) {
        char cname[NAME_MAX_LEN];
        int32_t c = pc_modelnet_class_of(cname, sizeof cname, ids.s[i])
                        ? pc_set_find_class(s, cname) : -1;
        if (c < 0)
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: id '%s': expected <class>_<number> with a "
                          "class of %s", ids_path, (long long)ids.line[i], ids.s[i], names_path);
        else if (strchr(ids.s[i], '/') || ids.s[i][0] == '.')
            rc = ssm_fail(err, SSM_EDATA, "%s:%lld: id '%s' is not a file name", ids_path,
                          (long long)ids.line[i], ids.s[i]);
        s->labels[i] = c;
        s->names[i] = ids.s[i]; // moved
        ids.s[i] = NULL;
    }
    lines_free(&cls);
    lines_free(&ids);
    txt_ctx ctx = {dir, s};
    if (rc == SSM_OK)
        rc = pc_set_fill(s, o, 0, s->n, load_txt, &ctx, err);
    if (rc != SSM_OK)
        pc_set_free(s);
    return rc;
}

// ---- the .off layout ------------------------------------------------------------------

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Sorted entries of a folder: sub-folders holding `sub` (want_dirs) or files ending in
// `ext`. *out malloc'd.
static ssm_code list_dir(char ***out, int64_t *n, const char *dir, int want_dirs,
                         const char *sub, const char *ext, ssm_error *err) {
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ssm_fail(err, SSM_EIO, "%s: cannot open the folder: %s", dir, strerror(errno));
    int64_t cap = 0;
    ssm_code rc = SSM_OK;
    for (struct dirent *e; rc == SSM_OK && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[1200];
        struct stat st;
        size_t len = strlen(e->d_name), el = ext ? strlen(ext) : 0;
        if (want_dirs) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, e->d_name, sub);
            if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
                continue;
        } else if (len <= el || strcasecmp(e->d_name + len - el, ext)) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **ns = realloc(*out, (size_t)cap * sizeof *ns);
            if (!ns) {
                rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory listing the folder", dir);
                break;
            }
            *out = ns;
        }
        if (!((*out)[*n] = strdup(e->d_name)))
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory listing the folder", dir);
        else
            (*n)++;
    }
    closedir(d);
    if (rc == SSM_OK && *n > 1)
        qsort(*out, (size_t)*n, sizeof **out, cmp_str);
    return rc;
}

typedef struct {
    const char *dir, *split;
    char **files; // [n] <class>/<split>/<file>.off relative paths
    int64_t points;
} off_ctx;

static ssm_code load_off(void *vctx, int64_t i, uint64_t key, pc_cloud *raw, ssm_error *err) {
    const off_ctx *c = vctx;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", c->dir, c->files[i]);
    pc_mesh m;
    SSM_TRY(pc_read_off(&m, path, err));
    ssm_code rc = pc_mesh_sample(raw, &m, c->points, key, path, err);
    pc_mesh_free(&m);
    return rc;
}

ssm_code pc_modelnet_off_load(pc_set *s, const char *dir, const char *split, const pc_prep *o,
                              ssm_error *err) {
    memset(s, 0, sizeof *s);
    char **cls = NULL, **files = NULL;
    int64_t ncls = 0, n = 0, cap = 0;
    int32_t *labels = NULL;
    ssm_code rc = list_dir(&cls, &ncls, dir, 1, split, NULL, err);
    if (rc == SSM_OK && ncls == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no class folder holds a '%s' folder of .off meshes",
                      dir, split);
    for (int64_t c = 0; rc == SSM_OK && c < ncls; c++) {
        char sub[1200];
        snprintf(sub, sizeof sub, "%s/%s/%s", dir, cls[c], split);
        char **f = NULL;
        int64_t nf = 0;
        rc = list_dir(&f, &nf, sub, 0, NULL, ".off", err);
        if (rc == SSM_OK && n + nf > cap) {
            cap = (n + nf) * 2;
            char **nfiles = realloc(files, (size_t)cap * sizeof *nfiles);
            int32_t *nl = nfiles ? realloc(labels, (size_t)cap * sizeof *nl) : NULL;
            if (nfiles)
                files = nfiles;
            if (nl)
                labels = nl;
            if (!nfiles || !nl)
                rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", dir);
        }
        for (int64_t j = 0; j < nf; j++) {
            if (rc == SSM_OK) {
                char rel[1200];
                snprintf(rel, sizeof rel, "%s/%s/%s", cls[c], split, f[j]);
                if (!(files[n] = strdup(rel)))
                    rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", dir);
                else
                    labels[n++] = (int32_t)c;
            }
            free(f[j]);
        }
        free(f);
    }
    if (rc == SSM_OK && n == 0)
        rc = ssm_fail(err, SSM_EDATA, "%s: no .off files in <class>/%s/", dir, split);
    pc_prep po = *o;
    if (rc == SSM_OK)
        rc = pc_set_alloc(s, n, &po, 0, err);
    if (rc == SSM_OK && ncls > INT32_MAX)
        rc = ssm_fail(err, SSM_EDATA, "%s: too many classes", dir);
    if (rc == SSM_OK)
        rc = pc_set_class_names(s, cls, (int32_t)ncls, err);
    for (int64_t i = 0; rc == SSM_OK && i < n; i++) {
        s->labels[i] = labels[i];
        const char *file = strrchr(files[i], '/') + 1;
        char name[1200];
        snprintf(name, sizeof name, "%s/%.*s", cls[labels[i]], (int)(strlen(file) - 4), file);
        if (!(s->names[i] = strdup(name)))
            rc = ssm_fail(err, SSM_ENOMEM, "%s: out of memory", dir);
    }
    off_ctx ctx = {dir, split, files, o->num_points * PC_OFF_OVERSAMPLE};
    if (rc == SSM_OK)
        rc = pc_set_fill(s, o, 0, s->n, load_off, &ctx, err);
    for (int64_t i = 0; i < n; i++)
        free(files[i]);
    free(files);
    free(labels);
    for (int64_t c = 0; c < ncls; c++)
        free(cls[c]);
    free(cls);
    if (rc != SSM_OK)
        pc_set_free(s);
    return rc;
}

// ---- writing ------------------------------------------------------------------------------

static ssm_code make_dir(const char *path, ssm_error *err) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return ssm_fail(err, SSM_EIO, "%s: cannot create the folder: %s", path, strerror(errno));
    return SSM_OK;
}

static ssm_code close_file(FILE *f, const char *path, ssm_error *err) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return ssm_fail(err, SSM_EIO, "%s: write error: %s", path, strerror(errno));
    return SSM_OK;
}

ssm_code pc_modelnet_write(const pc_set *s, const char *dir, const char *subset,
                           const char *split, int with_names, ssm_error *err) {
    SSM_TRY(make_dir(dir, err));
    char path[1200];
    FILE *f;
    if (with_names) {
        snprintf(path, sizeof path, "%s/%s_shape_names.txt", dir, subset);
        if (!(f = fopen(path, "w")))
            return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
        for (int32_t c = 0; c < s->num_classes; c++)
            fprintf(f, "%s\n", s->class_names[c]);
        SSM_TRY(close_file(f, path, err));
    }
    for (int32_t c = 0; c < s->num_classes; c++) {
        snprintf(path, sizeof path, "%s/%s", dir, s->class_names[c]);
        SSM_TRY(make_dir(path, err));
    }
    snprintf(path, sizeof path, "%s/%s_%s.txt", dir, subset, split);
    if (!(f = fopen(path, "w")))
        return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
    for (int64_t i = 0; i < s->n; i++)
        fprintf(f, "%s\n", s->names[i]);
    SSM_TRY(close_file(f, path, err));
    for (int64_t i = 0; i < s->n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s.txt", dir, s->class_names[s->labels[i]],
                 s->names[i]);
        if (!(f = fopen(path, "w")))
            return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
        const real *p = s->points + i * s->P * s->C;
        for (int64_t j = 0; j < s->P; j++, p += s->C) {
            for (int64_t k = 0; k < s->C; k++)
                fprintf(f, k ? ",%.6f" : "%.6f", (double)p[k]);
            fputc('\n', f);
        }
        SSM_TRY(close_file(f, path, err));
    }
    return SSM_OK;
}
