// defines: pc_set_free, pc_prep_key, pc_set_alloc, pc_set_class_names, pc_set_label_by_class, pc_set_find_class,
//          pc_set_fill, pc_set_number_after (see pc_set.h)
#include "datasets/pc_set.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

#define PREP_STREAM 0x70637072ull // "pcpr"

static void free_names(char **names, int64_t n) {
    for (int64_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

void pc_set_free(pc_set *s) {
    free(s->points);
    free(s->labels);
    free(s->parts);
    free(s->part_range);
    free_names(s->names, s->n);
    free_names(s->class_names, s->num_classes);
    memset(s, 0, sizeof *s);
}

uint64_t pc_prep_key(uint64_t seed, int64_t i) {
    return ssm_seed_derive(ssm_seed_derive(seed, PREP_STREAM), (uint64_t)i);
}

ssm_code pc_set_alloc(pc_set *s, int64_t n, const pc_prep *o, int with_parts, ssm_error *err) {
    memset(s, 0, sizeof *s);
    if (n < 1 || o->num_points < 1)
        return ssm_fail(err, SSM_EINVAL, "point set of %lld clouds of %lld points", (long long)n,
                        (long long)o->num_points);
    s->P = o->num_points;
    s->C = o->normals ? 6 : 3;
    s->points = malloc((size_t)(n * s->P * s->C) * sizeof *s->points);
    s->labels = calloc((size_t)n, sizeof *s->labels);
    s->names = calloc((size_t)n, sizeof *s->names);
    s->parts = with_parts ? calloc((size_t)(n * s->P), sizeof *s->parts) : NULL;
    s->n = n;
    if (!s->points || !s->labels || !s->names || (with_parts && !s->parts)) {
        pc_set_free(s);
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld clouds of %lld points",
                        (long long)n, (long long)o->num_points);
    }
    return SSM_OK;
}

ssm_code pc_set_class_names(pc_set *s, char *const *names, int32_t k, ssm_error *err) {
    s->class_names = calloc((size_t)k, sizeof *s->class_names);
    if (!s->class_names)
        return ssm_fail(err, SSM_ENOMEM, "out of memory for %d class names", k);
    s->num_classes = k;
    for (int32_t i = 0; i < k; i++)
        if (!(s->class_names[i] = strdup(names[i])))
            return ssm_fail(err, SSM_ENOMEM, "out of memory for %d class names", k);
    return SSM_OK;
}

ssm_code pc_set_label_by_class(pc_set *s, int64_t per_class, ssm_error *err) {
    for (int64_t i = 0; i < s->n; i++) {
        char name[96];
        s->labels[i] = (int32_t)(i / per_class);
        snprintf(name, sizeof name, "%s_%04lld", s->class_names[s->labels[i]],
                 (long long)(i % per_class + 1));
        if (!(s->names[i] = strdup(name)))
            return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld cloud names",
                            (long long)s->n);
    }
    return SSM_OK;
}

ssm_code pc_set_number_after(pc_set *s, int64_t per_class, int64_t after, ssm_error *err) {
    for (int64_t i = 0; i < s->n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s_%04lld", s->class_names[s->labels[i]],
                 (long long)(after + i % per_class + 1));
        free(s->names[i]);
        if (!(s->names[i] = strdup(name)))
            return ssm_fail(err, SSM_ENOMEM, "out of memory for %lld cloud names",
                            (long long)s->n);
    }
    return SSM_OK;
}

int32_t pc_set_find_class(const pc_set *s, const char *name) {
    for (int32_t i = 0; i < s->num_classes; i++)
        if (!strcmp(s->class_names[i], name))
            return i;
    return -1;
}

// One cloud: load, check, sample, store.
static ssm_code fill_one(pc_set *s, const pc_prep *o, pc_load_fn load, void *ctx, int64_t i,
                         ssm_error *err) {
    uint64_t key = pc_prep_key(o->seed, i);
    pc_cloud raw = {0}, smp = {0};
    SSM_TRY(load(ctx, i, key, &raw, err));
    ssm_code rc = SSM_OK;
    const char *name = s->names[i] ? s->names[i] : "?";
    if (o->normals && raw.C < 6)
        rc = ssm_fail(err, SSM_EDATA, "cloud %s: no normals (data.normals asks for nx, ny, nz)",
                      name);
    else if (s->parts && !raw.label)
        rc = ssm_fail(err, SSM_EDATA, "cloud %s: no per-point labels", name);
    for (int64_t j = 0; rc == SSM_OK && j < raw.n * raw.C; j++)
        if (!isfinite(raw.p[j]))
            rc = ssm_fail(err, SSM_EDATA, "cloud %s: point %lld, value %lld is %g", name,
                          (long long)(j / raw.C), (long long)(j % raw.C), (double)raw.p[j]);
    if (rc == SSM_OK)
        rc = pc_sample(&smp, &raw, s->P, o->sampling, key, err);
    if (rc == SSM_OK) {
        real *dst = s->points + i * s->P * s->C;
        for (int64_t p = 0; p < s->P; p++)
            memcpy(dst + p * s->C, smp.p + p * smp.C, (size_t)s->C * sizeof *dst);
        if (o->normalize)
            pc_normalize(dst, s->P, s->C);
        if (s->parts)
            memcpy(s->parts + i * s->P, smp.label, (size_t)s->P * sizeof *s->parts);
    }
    pc_cloud_free(&raw);
    pc_cloud_free(&smp);
    return rc;
}

ssm_code pc_set_fill(pc_set *s, const pc_prep *o, int64_t i0, int64_t i1, pc_load_fn load,
                     void *ctx, ssm_error *err) {
    int64_t first_bad = -1;
    ssm_code bad_rc = SSM_OK;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = i0; i < i1; i++) {
        int64_t fb;
#pragma omp atomic read
        fb = first_bad;
        if (fb >= 0 && fb < i) // an earlier cloud already failed: its error is the one reported
            continue;
        ssm_error e = {0};
        ssm_code rc = fill_one(s, o, load, ctx, i, &e);
        if (rc != SSM_OK) {
#pragma omp critical(pc_set_fill_err)
            if (first_bad < 0 || i < first_bad) {
                first_bad = i;
                bad_rc = rc;
                if (err)
                    *err = e;
            }
        }
    }
    return bad_rc;
}
