// defines: ucr_source, ucr_patch_auto, ucr_patch_count, ucr_znorm_set, ucr_channel_stats,
//          ucr_standardize_set (see ucr_source.h)
#include "datasets/ucr_source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ucr_patch_auto(int64_t L, int64_t *len, int64_t *stride) {
    if (*len <= 0) {
        int64_t s = *stride > 0 ? *stride : (L + UCR_AUTO_TOKENS - 1) / UCR_AUTO_TOKENS;
        s = s < 1 ? 1 : s;
        *len = 2 * s;
        if (*stride <= 0)
            *stride = s;
    } else if (*stride <= 0) {
        *stride = *len / 2 > 1 ? *len / 2 : 1;
    }
}

int64_t ucr_patch_count(int64_t n, int64_t p, int64_t s) {
    return n > p ? (n - p + s - 1) / s + 1 : 1;
}

void ucr_znorm_set(ucr_set *s) {
    const size_t per = (size_t)s->len * (size_t)s->dims;
    for (int64_t i = 0; i < s->n; i++)
        series_znorm(s->x + (size_t)i * per, s->lengths[i], s->dims);
}

static int id_cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

ssm_code ucr_channel_stats(const ucr_set *s, const int64_t *ids, int64_t n, double *mean,
                           double *std, ssm_error *err) {
    const int64_t V = s->dims;
    const size_t per = (size_t)s->len * (size_t)V;
    // in file order, whatever order the split lists them in: the sums' rounding (and so the
    // scale, to the last bit) depends on which series are in, not on the shuffle
    int64_t *sorted = NULL;
    if (ids) {
        if (!(sorted = malloc((size_t)(n > 0 ? n : 1) * sizeof *sorted)))
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
        memcpy(sorted, ids, (size_t)n * sizeof *sorted);
        qsort(sorted, (size_t)n, sizeof *sorted, id_cmp);
        ids = sorted;
    } else {
        n = s->n;
    }
    for (int64_t c = 0; c < V; c++) {
        double m = 0, m2 = 0;
        int64_t k = 0;
        for (int64_t j = 0; j < n; j++) // Welford: sets of millions of values
            for (int64_t i = ids ? ids[j] : j, t = 0; t < s->lengths[i]; t++) {
                double v = s->x[(size_t)i * per + (size_t)t * V + c], d = v - m;
                k++;
                m += d / (double)k;
                m2 += d * (v - m);
            }
        double sd = k > 0 ? sqrt(m2 / (double)k) : 0;
        mean[c] = m;
        std[c] = sd > 1e-8 * (1 + fabs(m)) ? sd : 1;
    }
    free(sorted);
    return SSM_OK;
}

void ucr_standardize_set(ucr_set *s, const double *mean, const double *std) {
    const int64_t V = s->dims;
    const size_t per = (size_t)s->len * (size_t)V;
    for (int64_t i = 0; i < s->n; i++)
        for (int64_t t = 0; t < s->lengths[i]; t++)
            for (int64_t c = 0; c < V; c++) {
                real *x = s->x + (size_t)i * per + (size_t)t * V + c;
                *x = (real)((*x - mean[c]) / std[c]);
            }
}

typedef struct {
    const ucr_set *s;
    ucr_source_opts o;
    real *series; // [len, dims] the sample being made
    real *work;   // [3 * len] the augmentation's scratch
} src_ctx;

static int64_t src_count(void *ctx, int64_t id, uint64_t key) {
    const src_ctx *c = ctx;
    return ucr_patch_count(c->s->lengths[id], c->o.patch_len, c->o.patch_stride);
}

static ssm_code src_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                        int64_t *length, ssm_error *err) {
    src_ctx *c = ctx;
    const ucr_set *s = c->s;
    if (id < 0 || id >= s->n)
        return ssm_fail(err, SSM_EINVAL, "%s: sample %lld: expected 0 <= index < %lld",
                        s->problem, (long long)id, (long long)s->n);
    const int64_t V = s->dims, n = s->lengths[id];
    const size_t per = (size_t)s->len * (size_t)V;
    real *v = c->o.pack ? c->series : x;
    memcpy(v, s->x + (size_t)id * per, per * sizeof *v);
    if (c->o.augment) {
        series_aug_choice ch = series_aug_choose(&c->o.aug, key);
        series_aug_apply(v, n, V, &c->o.aug, &ch, c->work);
    }
    *y = s->labels[id];
    if (!c->o.pack) {
        if (length)
            *length = n;
        return SSM_OK;
    }
    const int64_t p = c->o.patch_len, st = c->o.patch_stride, P = ucr_patch_count(n, p, st);
    for (int64_t k = 0; k < P; k++) {
        real *row = x + k * p * V;
        for (int64_t j = 0; j < p; j++) {
            int64_t t = k * st + j < n ? k * st + j : n - 1;
            memcpy(row + j * V, v + t * V, (size_t)V * sizeof *row);
        }
    }
    *length = P;
    return SSM_OK;
}

static void src_free(void *ctx) {
    src_ctx *c = ctx;
    if (c) {
        free(c->series);
        free(c->work);
    }
    free(c);
}

ssm_code ucr_source(ssm_sample_source *src, const ucr_set *s, const ucr_source_opts *o,
                    ssm_error *err) {
    memset(src, 0, sizeof *src);
    if (o->pack && (o->patch_len < 1 || o->patch_stride < 1))
        return ssm_fail(err, SSM_EINVAL, "%s: patch length %lld and stride %lld, expected >= 1",
                        s->problem, (long long)o->patch_len, (long long)o->patch_stride);
    for (int64_t i = 0; i < s->n; i++)
        if (s->lengths[i] < 1)
            return ssm_fail(err, SSM_EDATA, "%s: sample %lld is empty (no value)", s->problem,
                            (long long)i);
    src_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    c->s = s;
    c->o = *o;
    c->series = malloc((size_t)s->len * (size_t)s->dims * sizeof *c->series);
    c->work = malloc((size_t)(3 * s->len + 3) * sizeof *c->work);
    if (!c->series || !c->work) {
        src_free(c);
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    }
    *src = (ssm_sample_source){.ctx = c, .n = s->n, .has_y = 1, .get = src_get, .free = src_free};
    if (o->pack) {
        src->x_ndim = 1;
        src->x_shape[0] = o->patch_len * s->dims;
        src->ragged = 1;
        src->count = src_count;
    } else {
        src->x_ndim = 2;
        src->x_shape[0] = s->len;
        src->x_shape[1] = s->dims;
    }
    return SSM_OK;
}
