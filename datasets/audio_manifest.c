// defines: the AST/AuM JSON manifests and class_labels_indices.csv (see audio_manifest.h)
#include "datasets/audio_manifest.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---- class_labels_indices.csv ---------------------------------------------------------

// Splits one CSV line into at most max fields in place (RFC 4180 quotes: "a, b" and ""
// inside quotes); returns the field count, or -1 for an unterminated quote.
static int csv_fields(char *line, char **f, int max) {
    int n = 0;
    char *r = line, *w = line;
    while (n < max) {
        f[n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                if (!*r)
                    return -1;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
        }
        while (*r && *r != ',')
            *w++ = *r++;
        int more = *r == ',';
        *w++ = 0;
        if (!more)
            break;
        r++;
    }
    return n;
}

static int parse_index(const char *s, long *v) {
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return !errno && end != s && *end == 0;
}

void ssm_audio_label_csv_free(ssm_audio_label_csv *c) {
    for (int32_t i = 0; i < c->n; i++) {
        free(c->mid ? c->mid[i] : NULL);
        free(c->display_name ? c->display_name[i] : NULL);
    }
    free(c->mid);
    free(c->display_name);
    memset(c, 0, sizeof *c);
}

// Rows are stored at their index column; every index 0..n-1 must appear once.
static ssm_code read_csv(ssm_audio_label_csv *c, FILE *fp, const char *path, ssm_error *err) {
    char line[4096];
    int64_t cap = 0, lineno = 0, rows = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        size_t len = strcspn(line, "\r\n");
        if (line[len] == 0 && !feof(fp))
            return ssm_fail(err, SSM_EFORMAT, "%s: line %lld: longer than %zu bytes", path,
                            (long long)lineno, sizeof line - 1);
        line[len] = 0;
        if (!line[0])
            continue;
        char *f[4];
        int nf = csv_fields(line, f, 4);
        long idx;
        if (lineno == 1 && nf >= 1 && !parse_index(f[0], &idx))
            continue; // the header: index,mid,display_name
        if (nf < 3)
            return ssm_fail(err, SSM_EFORMAT, "%s: line %lld: expected index,mid,display_name%s",
                            path, (long long)lineno, nf < 0 ? " (a quote is not closed)" : "");
        if (!parse_index(f[0], &idx) || idx < 0 || idx >= (1 << 20))
            return ssm_fail(err, SSM_EFORMAT, "%s: line %lld: index '%s' is not a number in "
                            "0..%d", path, (long long)lineno, f[0], (1 << 20) - 1);
        if (!f[1][0])
            return ssm_fail(err, SSM_EFORMAT, "%s: line %lld: empty mid", path,
                            (long long)lineno);
        if (idx >= cap) {
            int64_t nc = cap ? cap : 64;
            while (nc <= idx)
                nc *= 2;
            char **m = realloc(c->mid, (size_t)nc * sizeof *m);
            if (m)
                c->mid = m;
            char **d = m ? realloc(c->display_name, (size_t)nc * sizeof *d) : NULL;
            if (!m || !d)
                return ssm_fail(err, SSM_ENOMEM, "out of memory");
            c->display_name = d;
            memset(c->mid + cap, 0, (size_t)(nc - cap) * sizeof *m);
            memset(c->display_name + cap, 0, (size_t)(nc - cap) * sizeof *d);
            cap = nc;
        }
        if (c->mid[idx])
            return ssm_fail(err, SSM_EFORMAT, "%s: line %lld: index %ld appears twice", path,
                            (long long)lineno, idx);
        if (idx + 1 > c->n)
            c->n = (int32_t)idx + 1;
        c->mid[idx] = strdup(f[1]);
        c->display_name[idx] = strdup(f[2]);
        if (!c->mid[idx] || !c->display_name[idx])
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        rows++;
    }
    if (ferror(fp))
        return ssm_fail(err, SSM_EIO, "%s: read error: %s", path, strerror(errno));
    if (rows == 0)
        return ssm_fail(err, SSM_EFORMAT, "%s: no classes (expected lines index,mid,display_name)",
                        path);
    for (int32_t i = 0; i < c->n; i++)
        if (!c->mid[i])
            return ssm_fail(err, SSM_EFORMAT, "%s: index %d is missing (indices run 0..%d)", path,
                            i, c->n - 1);
    return SSM_OK;
}

ssm_code ssm_audio_label_csv_read(ssm_audio_label_csv *c, const char *path, ssm_error *err) {
    memset(c, 0, sizeof *c);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return ssm_fail(err, SSM_EIO, "%s: cannot open the class list (class_labels_indices.csv, "
                        "data.label_csv): %s", path, strerror(errno));
    ssm_code rc = read_csv(c, fp, path, err);
    fclose(fp);
    if (rc)
        ssm_audio_label_csv_free(c);
    return rc;
}

// ---- mids -> class indices -----------------------------------------------------------------

typedef struct {
    const char *mid;
    int32_t index;
} mid_entry;

static int by_mid(const void *a, const void *b) {
    return strcmp(((const mid_entry *)a)->mid, ((const mid_entry *)b)->mid);
}

// ---- manifests -----------------------------------------------------------------------------

typedef struct {
    ssm_audio_set *s;
    int64_t cap, label_cap;
    const mid_entry *mids; // sorted by mid
    int32_t n_mids;
    const char *csv_path;
} builder;

static ssm_code read_text(const char *path, char **out, size_t *len, ssm_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ssm_fail(err, SSM_EIO, "%s: cannot open the manifest: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, fp)) > 0;) {
        n += got;
        if (n == cap) {
            char *b2 = realloc(buf, 2 * cap + 1);
            if (!b2) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b2;
            cap *= 2;
        }
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory reading the manifest", path);
    if (bad) {
        free(buf);
        return ssm_fail(err, SSM_EIO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return SSM_OK;
}

// Appends class k to the clip being built, labels first .. *end (once, even when the entry
// repeats a mid).
static ssm_code push_label(builder *b, int64_t first, int64_t *end, int32_t k, ssm_error *err) {
    ssm_audio_set *s = b->s;
    for (int64_t i = first; i < *end; i++)
        if (s->label_idx[i] == k)
            return SSM_OK;
    if (*end == b->label_cap) {
        int64_t nc = b->label_cap ? 2 * b->label_cap : 256;
        int32_t *v = realloc(s->label_idx, (size_t)nc * sizeof *v);
        if (!v)
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        s->label_idx = v;
        b->label_cap = nc;
    }
    s->label_idx[(*end)++] = k;
    return SSM_OK;
}

// "a/b.wav" under the manifest's folder; an absolute path as it is.
static char *resolve(const char *manifest, const char *wav) {
    if (wav[0] == '/')
        return strdup(wav);
    const char *slash = strrchr(manifest, '/');
    int dl = slash ? (int)(slash - manifest) : 1;
    const char *dir = slash ? manifest : ".";
    size_t n = (size_t)dl + strlen(wav) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%.*s/%s", dl, dir, wav);
    return p;
}

static ssm_code add_entry(builder *b, const cJSON *e, const char *path, int64_t idx, int split,
                          ssm_error *err) {
    ssm_audio_set *s = b->s;
    const cJSON *wav = cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "wav") : NULL;
    const cJSON *labels = wav ? cJSON_GetObjectItemCaseSensitive(e, "labels") : NULL;
    if (!cJSON_IsString(wav) || !wav->valuestring[0])
        return ssm_fail(err, SSM_EFORMAT, "%s: entry %lld: expected an object with a \"wav\" "
                        "path", path, (long long)idx);
    if (!cJSON_IsString(labels))
        return ssm_fail(err, SSM_EFORMAT, "%s: entry %lld (%s): expected \"labels\": "
                        "\"mid,mid,...\"", path, (long long)idx, wav->valuestring);
    if (s->n == b->cap) { // clips [cap], label_off [cap + 1]
        int64_t nc = b->cap ? 2 * b->cap : 1024;
        ssm_audio_clip *c = realloc(s->clips, (size_t)nc * sizeof *c);
        if (c)
            s->clips = c;
        int64_t *o = c ? realloc(s->label_off, (size_t)(nc + 1) * sizeof *o) : NULL;
        if (!o)
            return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld clips", (long long)nc);
        if (!s->label_off)
            o[0] = 0;
        s->label_off = o;
        b->cap = nc;
    }
    // the clip's labels go to label_idx[first .. end); label_off[n + 1] = end once it is kept
    int64_t first = s->label_off[s->n], end = first;
    char *list = strdup(labels->valuestring);
    if (!list)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_code rc = SSM_OK;
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t len = strlen(tok);
        while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = 0;
        if (!len)
            continue;
        mid_entry key = {.mid = tok}, *hit = bsearch(&key, b->mids, (size_t)b->n_mids,
                                                     sizeof key, by_mid);
        if (!hit)
            rc = ssm_fail(err, SSM_EDATA, "%s: entry %lld (%s): label '%s' is not in %s", path,
                          (long long)idx, wav->valuestring, tok, b->csv_path);
        else
            rc = push_label(b, first, &end, hit->index, err);
    }
    free(list);
    if (rc)
        return rc;
    if (end == first)
        return ssm_fail(err, SSM_EDATA, "%s: entry %lld (%s): no labels", path, (long long)idx,
                        wav->valuestring);
    char *file = resolve(path, wav->valuestring);
    if (!file)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    if (access(file, R_OK) != 0) {
        rc = ssm_fail(err, SSM_EIO, "%s: entry %lld: %s: %s", path, (long long)idx, file,
                      strerror(errno));
        free(file);
        return rc;
    }
    s->clips[s->n] = (ssm_audio_clip){.path = file, .label = s->label_idx[first],
                                      .split = (int8_t)split};
    s->n++;
    s->label_off[s->n] = end;
    return SSM_OK;
}

static ssm_code read_manifest(builder *b, const char *path, int split, ssm_error *err) {
    char *text = NULL;
    size_t len = 0;
    SSM_TRY(read_text(path, &text, &len, err));
    const char *stop = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &stop, 0);
    ssm_code rc = SSM_OK;
    if (!root) {
        int64_t line = 1;
        for (const char *p = text; stop && p < stop && *p; p++)
            line += *p == '\n';
        rc = ssm_fail(err, SSM_EFORMAT, "%s: line %lld: not valid JSON", path, (long long)line);
    } else {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
        if (!cJSON_IsArray(data))
            rc = ssm_fail(err, SSM_EFORMAT, "%s: expected {\"data\": [{\"wav\": ..., \"labels\": "
                          "...}, ...]} (AST's manifest)", path);
        int64_t idx = 0;
        const cJSON *e;
        if (!rc)
            cJSON_ArrayForEach(e, data) {
                if ((rc = add_entry(b, e, path, idx++, split, err)) != SSM_OK)
                    break;
            }
        if (!rc && idx == 0)
            rc = ssm_fail(err, SSM_EDATA, "%s: no clips (\"data\" is empty)", path);
    }
    cJSON_Delete(root);
    free(text);
    return rc;
}

static ssm_code build(ssm_audio_set *s, const char *const manifests[3], const char *label_csv,
                      ssm_error *err) {
    ssm_audio_label_csv csv;
    SSM_TRY(ssm_audio_label_csv_read(&csv, label_csv, err));
    mid_entry *mids = malloc((size_t)csv.n * sizeof *mids);
    s->class_names = calloc((size_t)csv.n, sizeof *s->class_names);
    ssm_code rc = mids && s->class_names ? SSM_OK : ssm_fail(err, SSM_ENOMEM, "out of memory");
    if (!rc) {
        s->num_classes = csv.n;
        for (int32_t k = 0; k < csv.n; k++) {
            mids[k] = (mid_entry){csv.mid[k], k};
            s->class_names[k] = csv.display_name[k];
            csv.display_name[k] = NULL; // now the set's
        }
        qsort(mids, (size_t)csv.n, sizeof *mids, by_mid);
        for (int32_t k = 1; k < csv.n && !rc; k++)
            if (!strcmp(mids[k].mid, mids[k - 1].mid))
                rc = ssm_fail(err, SSM_EFORMAT, "%s: mid %s names classes %d and %d", label_csv,
                              mids[k].mid, mids[k - 1].index, mids[k].index);
    }
    builder b = {.s = s, .mids = mids, .n_mids = csv.n, .csv_path = label_csv};
    for (int sp = 0; sp < 3 && !rc; sp++)
        if (manifests[sp] && manifests[sp][0])
            rc = read_manifest(&b, manifests[sp], sp, err);
    free(mids);
    ssm_audio_label_csv_free(&csv);
    return rc;
}

ssm_code ssm_audio_set_manifests(ssm_audio_set *s, const char *train, const char *val,
                                 const char *test, const char *label_csv, ssm_error *err) {
    memset(s, 0, sizeof *s);
    if (!train || !train[0])
        return ssm_fail(err, SSM_ECONFIG, "audio manifests: no training manifest");
    s->has_splits = 1;
    const char *slash = strrchr(train, '/');
    snprintf(s->dir, sizeof s->dir, "%.*s", slash ? (int)(slash - train) : 1,
             slash ? train : ".");
    const char *const m[3] = {train, val, test};
    ssm_code rc = build(s, m, label_csv, err);
    if (rc)
        ssm_audio_set_free(s);
    return rc;
}
