// defines: ucr_read, ucr_read_pair, ucr_free, ucr_batch
// Turns parsed samples (ucr_raw) into a ucr_set: labels mapped to 0..K-1,
// missing values filled by linear interpolation, every sample brought to the
// common length by zero padding or linear resampling, time-major layout.
#include "datasets/ucr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/series_text.h"
#include "datasets/ucr_raw.h"

typedef enum { FMT_TSV, FMT_TS } ucr_format;

static ssm_code format_of(ucr_format *f, const char *path, ssm_error *e) {
    size_t n = strlen(path);
    if (n >= 4 && strcmp(path + n - 4, ".tsv") == 0)
        *f = FMT_TSV;
    else if (n >= 3 && strcmp(path + n - 3, ".ts") == 0)
        *f = FMT_TS;
    else
        return ssm_fail(e, SSM_EINVAL, "%s: unknown extension; expected .tsv (UCR 2018) or .ts "
                        "(sktime/UEA)", path);
    return SSM_OK;
}

static ssm_code parse(ucr_raw *r, ucr_format f, const char *path, ssm_error *e) {
    ucr_raw_init(r, path);
    ssm_code rc = f == FMT_TSV ? ucr_parse_tsv(r, e) : ucr_parse_ts(r, e);
    if (rc == SSM_OK && r->problem[0] == '\0') {
        // the .tsv convention: <Problem>_TRAIN.tsv / <Problem>_TEST.tsv
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        snprintf(r->problem, sizeof r->problem, "%s", base);
        char *dot = strrchr(r->problem, '.');
        if (dot)
            *dot = '\0';
        size_t k = strlen(r->problem);
        if (k > 6 && strcmp(r->problem + k - 6, "_TRAIN") == 0)
            r->problem[k - 6] = '\0';
        else if (k > 5 && strcmp(r->problem + k - 5, "_TEST") == 0)
            r->problem[k - 5] = '\0';
    }
    return rc;
}

// Numbers first, ordered by value; then other labels by strcmp; equal values
// written differently ("1" and "1.0") stay distinct labels, ordered by text.
static int label_cmp(const void *pa, const void *pb) {
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    double va = 0, vb = 0;
    int na = series_parse_number(a, strlen(a), &va) == SERIES_NUM_OK;
    int nb = series_parse_number(b, strlen(b), &vb) == SERIES_NUM_OK;
    if (na != nb)
        return na ? -1 : 1;
    if (na && va != vb)
        return va < vb ? -1 : 1;
    return strcmp(a, b);
}

static void free_strings(char **v, int64_t n) {
    if (v)
        for (int64_t i = 0; i < n; i++)
            free(v[i]);
    free(v);
}

// The sorted distinct labels of one or two raw files (.tsv class list).
static ssm_code sorted_labels(char ***out, int64_t *K, const ucr_raw *a, const ucr_raw *b,
                              ssm_error *e) {
    const int64_t total = a->n + (b ? b->n : 0);
    const char **all = malloc((size_t)total * sizeof *all);
    if (!all)
        return ssm_fail(e, SSM_ENOMEM, "out of memory sorting %lld labels", (long long)total);
    for (int64_t i = 0; i < a->n; i++)
        all[i] = a->label[i];
    for (int64_t i = 0; b && i < b->n; i++)
        all[a->n + i] = b->label[i];
    qsort(all, (size_t)total, sizeof *all, label_cmp);
    char **cls = malloc((size_t)total * sizeof *cls);
    int64_t k = 0;
    int failed = !cls;
    for (int64_t i = 0; !failed && i < total; i++) {
        if (k > 0 && strcmp(cls[k - 1], all[i]) == 0)
            continue;
        if (!(cls[k] = strdup(all[i])))
            failed = 1;
        else
            k++;
    }
    free(all);
    if (failed) {
        free_strings(cls, k);
        return ssm_fail(e, SSM_ENOMEM, "out of memory for class labels");
    }
    *out = cls;
    *K = k;
    return SSM_OK;
}

// Fills NaN entries of v[0..n) by linear interpolation between the nearest
// observed neighbours; the ends take the nearest observed value; a series with
// nothing observed becomes 0. Returns the number of values filled.
static int64_t fill_missing(double *v, int64_t n) {
    int64_t filled = 0, prev = -1;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        if (prev < 0) {
            for (int64_t j = 0; j < i; j++)
                v[j] = v[i];
            filled += i;
        } else if (i - prev > 1) {
            for (int64_t j = prev + 1; j < i; j++) {
                double w = (double)(j - prev) / (double)(i - prev);
                v[j] = (1 - w) * v[prev] + w * v[i];
            }
            filled += i - prev - 1;
        }
        prev = i;
    }
    const double tail = prev < 0 ? 0 : v[prev];
    for (int64_t j = prev + 1; j < n; j++)
        v[j] = tail;
    return filled + (n - 1 - prev);
}

static void class_list(char *out, size_t cap, char **cls, int64_t K) {
    size_t j = 0;
    out[0] = '\0';
    for (int64_t k = 0; k < K && j + 8 < cap; k++) {
        int w = snprintf(out + j, cap - j, "%s%s", k ? " " : "", cls[k]);
        if (w < 0 || (size_t)w >= cap - j) {
            snprintf(out + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            return;
        }
        j += (size_t)w;
    }
}

static ssm_code finalize(ucr_set *s, const ucr_raw *r, char **cls, int64_t K, int64_t L,
                         ucr_unequal mode, const char *class_source, ssm_error *e) {
    memset(s, 0, sizeof *s);
    s->n = r->n;
    s->dims = r->dims;
    s->len = L;
    s->num_classes = K;
    snprintf(s->problem, sizeof s->problem, "%s", r->problem);
    const size_t per = (size_t)L * (size_t)r->dims;
    if (per / (size_t)r->dims != (size_t)L || per * (size_t)r->n / per != (size_t)r->n)
        return ssm_fail(e, SSM_ENOMEM, "%s: %lld samples x %lld steps x %lld dims is too large",
                        r->path, (long long)r->n, (long long)L, (long long)r->dims);
    s->x = calloc(per * (size_t)r->n, sizeof *s->x);
    s->lengths = malloc((size_t)r->n * sizeof *s->lengths);
    s->labels = malloc((size_t)r->n * sizeof *s->labels);
    s->classes = calloc((size_t)K, sizeof *s->classes);
    double *tmp = malloc((size_t)L * sizeof *tmp);
    if (!s->x || !s->lengths || !s->labels || !s->classes || !tmp) {
        free(tmp);
        ucr_free(s);
        return ssm_fail(e, SSM_ENOMEM, "%s: out of memory for %lld samples", r->path,
                        (long long)r->n);
    }
    for (int64_t k = 0; k < K; k++)
        if (!(s->classes[k] = strdup(cls[k]))) {
            free(tmp);
            ucr_free(s);
            return ssm_fail(e, SSM_ENOMEM, "out of memory");
        }
    for (int64_t i = 0; i < r->n; i++) {
        int64_t k = 0;
        while (k < K && strcmp(cls[k], r->label[i]) != 0)
            k++;
        if (k == K) {
            char list[256], snip[64];
            class_list(list, sizeof list, cls, K);
            series_snippet(snip, sizeof snip, r->label[i], strlen(r->label[i]));
            free(tmp);
            ucr_free(s);
            return ssm_fail(e, SSM_EDATA, "%s:%lld: class label '%s' is unknown; expected one of "
                            "the %lld classes of %s: %s", r->path, (long long)r->line[i], snip,
                            (long long)K, class_source, list);
        }
        s->labels[i] = (int32_t)k;
        const int64_t n = r->len[i];
        s->lengths[i] = n;
        for (int64_t c = 0; c < r->dims; c++) {
            const real *src = r->vals + r->off[i] + c * n;
            for (int64_t t = 0; t < n; t++)
                tmp[t] = (double)src[t];
            s->missing += fill_missing(tmp, n);
            real *dst = s->x + (size_t)i * per + c;
            if (mode == UCR_RESAMPLE && n != L) {
                for (int64_t t = 0; t < L; t++) {
                    double pos = L > 1 ? (double)t * (double)(n - 1) / (double)(L - 1) : 0;
                    int64_t i0 = (int64_t)pos;
                    if (i0 > n - 1)
                        i0 = n - 1;
                    int64_t i1 = i0 + 1 < n ? i0 + 1 : i0;
                    double w = pos - (double)i0;
                    dst[t * r->dims] = (real)((1 - w) * tmp[i0] + w * tmp[i1]);
                }
            } else {
                for (int64_t t = 0; t < n; t++) // after n: 0 from calloc
                    dst[t * r->dims] = (real)tmp[t];
            }
        }
    }
    free(tmp);
    return SSM_OK;
}

static int64_t max_len(const ucr_raw *r) {
    int64_t m = 0;
    for (int64_t i = 0; i < r->n; i++)
        m = r->len[i] > m ? r->len[i] : m;
    return m;
}

ssm_code ucr_read(ucr_set *s, const char *path, const ucr_opts *o, ssm_error *e) {
    memset(s, 0, sizeof *s);
    const ucr_opts def = {UCR_PAD, 0};
    if (!o)
        o = &def;
    ucr_format f = FMT_TSV;
    SSM_TRY(format_of(&f, path, e));
    ucr_raw r;
    ssm_code rc = parse(&r, f, path, e);
    char **cls = NULL;
    int64_t K = 0;
    if (rc == SSM_OK && f == FMT_TSV)
        rc = sorted_labels(&cls, &K, &r, NULL, e);
    if (rc == SSM_OK) {
        int64_t L = max_len(&r);
        L = o->pad_to > L ? o->pad_to : L;
        rc = f == FMT_TSV ? finalize(s, &r, cls, K, L, o->unequal, "the file", e)
                          : finalize(s, &r, r.classes, r.nclasses, L, o->unequal, "@classLabel", e);
    }
    free_strings(cls, K);
    ucr_raw_free(&r);
    return rc;
}

ssm_code ucr_read_pair(ucr_set *train, ucr_set *test, const char *train_path,
                       const char *test_path, const ucr_opts *o, ssm_error *e) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    const ucr_opts def = {UCR_PAD, 0};
    if (!o)
        o = &def;
    ucr_format f1 = FMT_TSV, f2 = FMT_TSV;
    SSM_TRY(format_of(&f1, train_path, e));
    SSM_TRY(format_of(&f2, test_path, e));
    if (f1 != f2)
        return ssm_fail(e, SSM_EINVAL, "%s and %s: expected both .tsv or both .ts", train_path,
                        test_path);
    ucr_raw a, b;
    ucr_raw_init(&b, test_path);
    char **cls = NULL;
    int64_t K = 0;
    char source[600];
    ssm_code rc = parse(&a, f1, train_path, e);
    if (rc == SSM_OK)
        rc = parse(&b, f2, test_path, e);
    if (rc == SSM_OK && a.dims != b.dims)
        rc = ssm_fail(e, SSM_EFORMAT, "%s: %lld dimensions; expected %lld as in %s", test_path,
                      (long long)b.dims, (long long)a.dims, train_path);
    if (rc == SSM_OK && f1 == FMT_TSV) {
        rc = sorted_labels(&cls, &K, &a, &b, e);
        snprintf(source, sizeof source, "the two files");
    } else if (rc == SSM_OK) {
        snprintf(source, sizeof source, "@classLabel in %s", train_path);
    }
    if (rc == SSM_OK) {
        int64_t L = max_len(&a) > max_len(&b) ? max_len(&a) : max_len(&b);
        L = o->pad_to > L ? o->pad_to : L;
        char **c = f1 == FMT_TSV ? cls : a.classes;
        int64_t k = f1 == FMT_TSV ? K : a.nclasses;
        rc = finalize(train, &a, c, k, L, o->unequal, source, e);
        if (rc == SSM_OK && (rc = finalize(test, &b, c, k, L, o->unequal, source, e)) != SSM_OK)
            ucr_free(train);
    }
    free_strings(cls, K);
    ucr_raw_free(&a);
    ucr_raw_free(&b);
    return rc;
}

void ucr_free(ucr_set *s) {
    free(s->x);
    free(s->lengths);
    free(s->labels);
    free_strings(s->classes, s->num_classes);
    memset(s, 0, sizeof *s);
}

ssm_code ucr_batch(real *x, int32_t *y, int64_t *lengths, const ucr_set *s, const int64_t *idx,
                   int64_t B, ssm_error *e) {
    const size_t per = (size_t)s->len * (size_t)s->dims;
    for (int64_t b = 0; b < B; b++) {
        const int64_t i = idx[b];
        if (i < 0 || i >= s->n)
            return ssm_fail(e, SSM_EINVAL, "%s: sample %lld: expected 0 <= index < %lld",
                            s->problem, (long long)i, (long long)s->n);
        memcpy(x + (size_t)b * per, s->x + (size_t)i * per, per * sizeof *x);
        if (y)
            y[b] = s->labels[i];
        if (lengths)
            lengths[b] = s->lengths[i];
    }
    return SSM_OK;
}
