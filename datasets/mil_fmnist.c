// defines: mil_fmnist_open (see mil_fmnist.h)
#include "datasets/mil_fmnist.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/dataset.h"

typedef struct {
    ssm_image_dataset ds; // the images bags draw from
    int64_t *img;         // [total] image of each instance, bag by bag
    int64_t *off;         // [n + 1] first instance of each bag
    int32_t target;
    real mean, std;       // pixel scaling: (p / 255 - mean) / std
} fm_impl;

static void fm_free(void *p) {
    fm_impl *m = p;
    ssm_image_dataset_free(&m->ds);
    free(m->img);
    free(m->off);
    free(m);
}

static ssm_code fm_read(const mil_bags *s, int64_t bag, const int64_t *rows, int64_t k, real *x,
                        int32_t *inst_y, ssm_error *err) {
    const fm_impl *m = s->impl;
    for (int64_t t = 0; t < k; t++) {
        int64_t im = m->img[m->off[bag] + (rows ? rows[t] : t)];
        const uint8_t *p = m->ds.pixels + im * s->F;
        for (int64_t j = 0; j < s->F; j++)
            x[t * s->token + j] = ((real)p[j] / (real)255 - m->mean) / m->std;
        if (inst_y)
            inst_y[t] = m->ds.labels[im] == m->target;
    }
    return SSM_OK;
}

ssm_code mil_fmnist_open(mil_bags *s, const mil_fmnist_opts *o, ssm_error *err) {
    memset(s, 0, sizeof *s);
    if (o->num_bags < 1 || !(o->mean_len >= 1) || !(o->std_len >= 0) || !isfinite(o->mean_len) ||
        !isfinite(o->std_len) || o->target < 0 || o->target > 9)
        return ssm_fail(err, SSM_EINVAL, "Fashion-MNIST bags: %" PRId64 " bags of mean length %g, "
                        "std %g, target class %d: expected >= 1 bags, mean >= 1, std >= 0, a "
                        "class 0..9", o->num_bags, o->mean_len, o->std_len, o->target);
    fm_impl *m = calloc(1, sizeof *m);
    if (!m)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    ssm_code rc = ssm_image_dataset_load_idx(&m->ds, o->dir, o->test ? "test" : "train", 10,
                                             SSM_FASHION_MNIST_CLASSES, err);
    if (rc) {
        free(m);
        return rc;
    }
    s->impl = m;
    s->impl_free = fm_free;
    s->read = fm_read;
    m->target = o->target;
    m->mean = o->normalize ? (real)SSM_FASHION_MNIST_MEAN : 0;
    m->std = o->normalize ? (real)SSM_FASHION_MNIST_STD : 1;
    char without[96], with[96];
    snprintf(without, sizeof without, "no %s", SSM_FASHION_MNIST_CLASSES[o->target]);
    snprintf(with, sizeof with, "has %s", SSM_FASHION_MNIST_CLASSES[o->target]);
    const char *const cls[2] = {without, with};
    int64_t n = o->num_bags;
    ssm_rng r = {0};
    m->off = calloc((size_t)n + 1, sizeof *m->off);
    if (!m->off)
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    if (rc == SSM_OK)
        rc = mil_bags_alloc(s, n, 2, cls, err);
    if (rc == SSM_OK)
        rc = ssm_rng_init(&r, o->seed, err);
    // lengths first, then the images: a bag's length never depends on earlier images
    for (int64_t b = 0; b < n && rc == SSM_OK; b++) {
        double v = round(o->mean_len + ssm_rng_normal(&r, o->std_len));
        s->len[b] = v < 1 ? 1 : v > 1e7 ? (int64_t)1e7 : (int64_t)v;
        m->off[b + 1] = m->off[b] + s->len[b];
    }
    if (rc == SSM_OK && !(m->img = malloc((size_t)m->off[n] * sizeof *m->img)))
        rc = ssm_fail(err, SSM_ENOMEM, "cannot hold %" PRId64 " instances", m->off[n]);
    for (int64_t b = 0; b < n && rc == SSM_OK; b++) {
        char name[48];
        snprintf(name, sizeof name, "%s_%" PRId64, o->test ? "test" : "train", b);
        rc = mil_bags_set_name(s, b, name, err);
        for (int64_t i = m->off[b]; i < m->off[b + 1]; i++) {
            m->img[i] = (int64_t)ssm_rng_below(&r, (uint64_t)m->ds.n);
            if (m->ds.labels[m->img[i]] == o->target)
                s->label[b] = 1;
        }
    }
    if (r.g)
        ssm_rng_free(&r);
    if (rc) {
        mil_bags_free(s);
        return rc;
    }
    s->F = s->token = m->ds.C * m->ds.H * m->ds.W;
    s->has_inst_labels = 1;
    snprintf(s->what, sizeof s->what, "%s (%s images)", o->dir, o->test ? "test" : "training");
    return SSM_OK;
}
