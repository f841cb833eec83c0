// defines: the in-memory image dataset (see dataset.h)
#include "datasets/dataset.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/rng.h"
#include "datasets/idx.h"

#define SPLIT_STREAM 0x73706c74ull // "splt"

const char *const SSM_FASHION_MNIST_CLASSES[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

void ssm_image_dataset_free(ssm_image_dataset *ds) {
    if (!ds)
        return;
    free(ds->pixels);
    free(ds->labels);
    if (ds->class_names)
        for (int32_t c = 0; c < ds->num_classes; c++)
            free(ds->class_names[c]);
    free(ds->class_names);
    memset(ds, 0, sizeof *ds);
}

// First existing file among the spellings of <dir>/<prefix>-<kind>-<idxN>-ubyte.
static ssm_code find_file(char *path, size_t cap, const char *dir, const char *prefix,
                          const char *kind, const char *idxn, ssm_error *err) {
    const char *fmts[] = {"%s/%s-%s-%s-ubyte.gz", "%s/%s-%s-%s-ubyte", "%s/%s-%s.%s-ubyte.gz",
                          "%s/%s-%s.%s-ubyte"};
    for (size_t i = 0; i < sizeof fmts / sizeof *fmts; i++) {
        snprintf(path, cap, fmts[i], dir, prefix, kind, idxn);
        if (access(path, F_OK) == 0)
            return SSM_OK;
    }
    return ssm_fail(err, SSM_ENOTFOUND,
                    "%s: no %s %s file: expected %s-%s-%s-ubyte.gz or %s-%s-%s-ubyte there", dir,
                    prefix, kind, prefix, kind, idxn, prefix, kind, idxn);
}

ssm_code ssm_image_dataset_load_idx(ssm_image_dataset *ds, const char *dir, const char *split,
                                    int32_t num_classes, const char *const *class_names,
                                    ssm_error *err) {
    memset(ds, 0, sizeof *ds);
    const char *prefix = !strcmp(split, "train") ? "train" : !strcmp(split, "test") ? "t10k" : NULL;
    if (!prefix)
        return ssm_fail(err, SSM_EINVAL, "split '%s': expected \"train\" or \"test\"", split);
    if (num_classes <= 0)
        num_classes = 10;
    if (num_classes > 256)
        return ssm_fail(err, SSM_EINVAL, "num_classes %d: IDX labels are bytes, expected <= 256",
                        (int)num_classes);
    char ipath[4096], lpath[4096];
    SSM_TRY(find_file(ipath, sizeof ipath, dir, prefix, "images", "idx3", err));
    SSM_TRY(find_file(lpath, sizeof lpath, dir, prefix, "labels", "idx1", err));
    int64_t n_img, n_lab, h, w;
    SSM_TRY(ssm_idx_read_images(ipath, &ds->pixels, &n_img, &h, &w, err));
    ssm_code rc = ssm_idx_read_labels(lpath, num_classes, &ds->labels, &n_lab, err);
    if (rc != SSM_OK)
        goto fail;
    if (n_img != n_lab) {
        rc = ssm_fail(err, SSM_EFORMAT,
                      "%s has %" PRId64 " images but %s has %" PRId64
                      " labels: expected the same count", ipath, n_img, lpath, n_lab);
        goto fail;
    }
    if (n_img == 0) {
        rc = ssm_fail(err, SSM_EFORMAT, "%s: header says 0 images: expected at least 1", ipath);
        goto fail;
    }
    ds->n = n_img;
    ds->C = 1;
    ds->H = h;
    ds->W = w;
    ds->num_classes = num_classes;
    ds->class_names = calloc((size_t)num_classes, sizeof *ds->class_names);
    if (!ds->class_names) {
        rc = ssm_fail(err, SSM_ENOMEM, "cannot allocate class names");
        goto fail;
    }
    for (int32_t c = 0; c < num_classes; c++) {
        char num[16];
        snprintf(num, sizeof num, "%d", (int)c);
        ds->class_names[c] = strdup(class_names ? class_names[c] : num);
        if (!ds->class_names[c]) {
            rc = ssm_fail(err, SSM_ENOMEM, "cannot allocate class names");
            goto fail;
        }
    }
    return SSM_OK;
fail:
    ds->num_classes = ds->class_names ? num_classes : 0;
    ssm_image_dataset_free(ds);
    return rc;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

ssm_code ssm_image_dataset_split(const ssm_image_dataset *ds, double val_fraction, uint64_t seed,
                                 int stratified, int64_t **train_ids, int64_t *n_train,
                                 int64_t **val_ids, int64_t *n_val, ssm_error *err) {
    *train_ids = *val_ids = NULL;
    *n_train = *n_val = 0;
    if (!(val_fraction >= 0 && val_fraction <= 1))
        return ssm_fail(err, SSM_EINVAL, "validation fraction %g: expected 0..1", val_fraction);
    int64_t n = ds->n, nv = llround(val_fraction * (double)n), K = ds->num_classes;
    int64_t *perm = malloc((size_t)(n ? n : 1) * sizeof *perm);
    int64_t *tr = malloc((size_t)(n - nv ? n - nv : 1) * sizeof *tr);
    int64_t *va = malloc((size_t)(nv ? nv : 1) * sizeof *va);
    int64_t *count = calloc((size_t)(stratified ? K : 1), sizeof *count);
    int64_t *quota = calloc((size_t)(stratified ? K : 1), sizeof *quota);
    ssm_rng r = {0};
    ssm_code rc = SSM_OK;
    if (!perm || !tr || !va || !count || !quota) {
        rc = ssm_fail(err, SSM_ENOMEM, "cannot allocate a split of %" PRId64 " samples", n);
        goto done;
    }
    rc = ssm_rng_init(&r, ssm_seed_derive(seed, SPLIT_STREAM), err);
    if (rc != SSM_OK)
        goto done;
    int64_t a = 0, b = 0;
    if (!stratified) {
        for (int64_t i = 0; i < n; i++)
            perm[i] = i;
        ssm_rng_shuffle(&r, perm, (size_t)n);
        for (int64_t i = 0; i < n; i++) {
            if (i < nv)
                va[a++] = perm[i];
            else
                tr[b++] = perm[i];
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            int32_t y = ds->labels[i];
            if (y < 0 || y >= K) {
                rc = ssm_fail(err, SSM_EDATA, "sample %" PRId64 ": label %d outside 0..%d", i,
                              (int)y, (int)K - 1);
                goto done;
            }
            count[y]++;
        }
        // floor quotas, then the largest remainders (ties: lower class) take the rest
        int64_t given = 0;
        for (int64_t c = 0; c < K; c++) {
            quota[c] = (int64_t)floor(val_fraction * (double)count[c]);
            if (quota[c] > count[c])
                quota[c] = count[c];
            given += quota[c];
        }
        while (given < nv) {
            int64_t best = -1;
            double best_rem = -1;
            for (int64_t c = 0; c < K; c++) {
                double rem = val_fraction * (double)count[c] - (double)quota[c];
                if (quota[c] < count[c] && rem > best_rem) {
                    best = c;
                    best_rem = rem;
                }
            }
            if (best < 0)
                break;
            quota[best]++;
            given++;
        }
        // per class, in class order: shuffle its ids, the first `quota` validate
        for (int64_t c = 0; c < K; c++) {
            int64_t m = 0;
            for (int64_t i = 0; i < n; i++)
                if (ds->labels[i] == c)
                    perm[m++] = i;
            ssm_rng_shuffle(&r, perm, (size_t)m);
            for (int64_t i = 0; i < m; i++) {
                if (i < quota[c])
                    va[a++] = perm[i];
                else
                    tr[b++] = perm[i];
            }
        }
    }
    qsort(va, (size_t)a, sizeof *va, cmp_i64);
    qsort(tr, (size_t)b, sizeof *tr, cmp_i64);
    *train_ids = tr;
    *val_ids = va;
    *n_train = b;
    *n_val = a;
    tr = va = NULL;
done:
    if (r.g)
        ssm_rng_free(&r);
    free(perm);
    free(tr);
    free(va);
    free(count);
    free(quota);
    return rc;
}

ssm_code ssm_image_dataset_stats(const ssm_image_dataset *ds, const int64_t *ids, int64_t n_ids,
                                 double *mean, double *std, ssm_error *err) {
    int64_t n = ids ? n_ids : ds->n, HW = ds->H * ds->W;
    if (n <= 0)
        return ssm_fail(err, SSM_EINVAL, "statistics over %" PRId64 " samples: expected >= 1", n);
    for (int64_t c = 0; c < ds->C; c++) {
        // integer sums are exact: 255^2 * 2^40 pixels still fits in uint64
        uint64_t s = 0, s2 = 0;
        for (int64_t k = 0; k < n; k++) {
            int64_t id = ids ? ids[k] : k;
            if (id < 0 || id >= ds->n)
                return ssm_fail(err, SSM_EINVAL, "statistics: id %" PRId64 " outside 0..%" PRId64,
                                id, ds->n - 1);
            const uint8_t *p = ds->pixels + (id * ds->C + c) * HW;
            for (int64_t i = 0; i < HW; i++) {
                s += p[i];
                s2 += (uint64_t)p[i] * p[i];
            }
        }
        double cnt = (double)n * (double)HW;
        double m = (double)s / cnt, m2 = (double)s2 / cnt;
        mean[c] = m / 255.0;
        std[c] = sqrt(fmax(m2 - m * m, 0.0)) / 255.0;
    }
    return SSM_OK;
}

typedef struct {
    const ssm_image_dataset *ds;
    ssm_augment aug;
} image_source;

static ssm_code image_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                          int64_t *length, ssm_error *err) {
    const image_source *s = ctx;
    const ssm_image_dataset *ds = s->ds;
    if (id < 0 || id >= ds->n)
        return ssm_fail(err, SSM_EINVAL, "sample %" PRId64 " outside 0..%" PRId64, id, ds->n - 1);
    int64_t chw = ds->C * ds->H * ds->W;
    ssm_augment_apply(x, ds->pixels + id * chw, &s->aug, ssm_augment_choose(&s->aug, key, ds->H, ds->W), ds->C,
                      ds->H, ds->W);
    if (y)
        *y = ds->labels[id];
    return SSM_OK;
}

ssm_code ssm_image_dataset_source(ssm_sample_source *src, const ssm_image_dataset *ds,
                                  const ssm_augment *a, ssm_error *err) {
    memset(src, 0, sizeof *src);
    if (ds->C < 1 || ds->C > SSM_IMAGE_MAX_C)
        return ssm_fail(err, SSM_EINVAL, "image dataset with %" PRId64 " channels: expected 1..%d",
                        ds->C, SSM_IMAGE_MAX_C);
    if (a->pad < 0)
        return ssm_fail(err, SSM_EINVAL, "crop padding %" PRId64 ": expected >= 0", a->pad);
    if (a->normalize)
        for (int64_t c = 0; c < ds->C; c++)
            if (!(a->std[c] > 0))
                return ssm_fail(err, SSM_EINVAL, "normalisation std[%" PRId64 "] = %g: expected > 0",
                                c, (double)a->std[c]);
    image_source *s = malloc(sizeof *s);
    if (!s)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate an image source");
    s->ds = ds;
    s->aug = *a;
    src->ctx = s;
    src->n = ds->n;
    src->x_ndim = 3;
    src->x_shape[0] = ds->C;
    src->x_shape[1] = ds->H;
    src->x_shape[2] = ds->W;
    src->has_y = 1;
    src->get = image_get;
    src->free = free;
    return SSM_OK;
}
