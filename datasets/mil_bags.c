// defines: mil_bags_free, mil_bags_alloc, mil_bags_set_name, mil_bags_find,
//          mil_bags_feature_stats, mil_bags_balance_weights, mil_crop_rows, mil_bags_source
//          (see mil_bags.h)
#include "datasets/mil_bags.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

#define CROP_STREAM 0x63726f70ull // "crop": the crop's draws, apart from other uses of the key
#define DROP_STREAM 0x64726f70ull // "drop": feature dropout's draws

void mil_bags_free(mil_bags *s) {
    if (s->impl_free && s->impl)
        s->impl_free(s->impl);
    for (int64_t i = 0; s->names && i < s->n; i++)
        free(s->names[i]);
    for (int64_t c = 0; s->class_names && c < s->num_classes; c++)
        free(s->class_names[c]);
    free(s->names);
    free(s->class_names);
    free(s->label);
    free(s->len);
    memset(s, 0, sizeof *s);
}

ssm_code mil_bags_alloc(mil_bags *s, int64_t n, int64_t num_classes,
                        const char *const *class_names, ssm_error *err) {
    s->n = n;
    s->num_classes = num_classes;
    s->names = calloc((size_t)n, sizeof *s->names);
    s->label = calloc((size_t)n, sizeof *s->label);
    s->len = calloc((size_t)n, sizeof *s->len);
    s->class_names = calloc((size_t)num_classes, sizeof *s->class_names);
    if (!s->names || !s->label || !s->len || !s->class_names)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate %" PRId64 " bags", n);
    for (int64_t c = 0; c < num_classes; c++) {
        char num[24];
        snprintf(num, sizeof num, "%" PRId64, c);
        if (!(s->class_names[c] = strdup(class_names ? class_names[c] : num)))
            return ssm_fail(err, SSM_ENOMEM, "out of memory");
    }
    return SSM_OK;
}

ssm_code mil_bags_set_name(mil_bags *s, int64_t i, const char *name, ssm_error *err) {
    free(s->names[i]);
    if (!(s->names[i] = strdup(name)))
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    return SSM_OK;
}

int64_t mil_bags_find(const mil_bags *s, const char *name) {
    for (int64_t i = 0; i < s->n; i++)
        if (s->names[i] && !strcmp(s->names[i], name))
            return i;
    return -1;
}

ssm_code mil_bags_feature_stats(const mil_bags *s, const int64_t *ids, int64_t n_ids,
                                double *mean, double *std, ssm_error *err) {
    int64_t longest = 0;
    for (int64_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= s->n)
            return ssm_fail(err, SSM_EINVAL, "bag id %" PRId64 ": the set has %" PRId64 " bags",
                            ids[i], s->n);
        longest = s->len[ids[i]] > longest ? s->len[ids[i]] : longest;
    }
    real *x = malloc((size_t)(longest * s->token + 1) * sizeof *x);
    double *m2 = calloc((size_t)s->F, sizeof *m2);
    if (!x || !m2) {
        free(x);
        free(m2);
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate a bag of %" PRId64 " instances", longest);
    }
    for (int64_t j = 0; j < s->F; j++)
        mean[j] = 0;
    // Welford per feature, in double: stable whatever the features' offset
    int64_t count = 0;
    ssm_code rc = SSM_OK;
    for (int64_t i = 0; i < n_ids && rc == SSM_OK; i++) {
        int64_t b = ids[i], k = s->len[b];
        if ((rc = s->read(s, b, NULL, k, x, NULL, err)))
            break;
        for (int64_t t = 0; t < k; t++) {
            count++;
            for (int64_t j = 0; j < s->F; j++) {
                double v = x[t * s->token + j], d = v - mean[j];
                mean[j] += d / (double)count;
                m2[j] += d * (v - mean[j]);
            }
        }
    }
    for (int64_t j = 0; j < s->F && rc == SSM_OK; j++) {
        double sd = count > 0 ? sqrt(m2[j] / (double)count) : 0;
        std[j] = sd > 1e-12 * (fabs(mean[j]) + 1) ? sd : 1; // constant: maps to 0
    }
    free(x);
    free(m2);
    return rc;
}

void mil_bags_balance_weights(const mil_bags *s, const int64_t *ids, int64_t n_ids, double *w) {
    int64_t *count = calloc((size_t)s->num_classes, sizeof *count);
    if (!count) { // a handful of classes: cannot fail in practice; fall back to uniform
        for (int64_t i = 0; i < n_ids; i++)
            w[i] = 1;
        return;
    }
    for (int64_t i = 0; i < n_ids; i++)
        count[s->label[ids[i]]]++;
    for (int64_t i = 0; i < n_ids; i++)
        w[i] = (double)n_ids / (double)count[s->label[ids[i]]];
    free(count);
}

void mil_crop_rows(int64_t *rows, int64_t len, int64_t k, uint64_t key) {
    // Knuth's selection sampling (Algorithm S): each row kept with probability
    // (still needed) / (still left), so every k-subset is equally likely, already in order.
    uint64_t stream = ssm_seed_derive(key, CROP_STREAM);
    int64_t kept = 0;
    for (int64_t i = 0; i < len && kept < k; i++) {
        double u = (double)(ssm_seed_derive(stream, (uint64_t)i) >> 11) * 0x1p-53;
        if ((double)(len - i) * u < (double)(k - kept))
            rows[kept++] = i;
    }
}

// ---- the sample source ----------------------------------------------------------

typedef struct {
    const mil_bags *s;
    int64_t max_inst;
    mil_sampling sampling;
    double drop;        // feature dropout probability, 0 = off
    double *mean, *std; // [F] or NULL
    int64_t *rows;      // [max_k] scratch of the crop
    int32_t *inst_y;    // [max_k] instance labels of the last get (get_extra copies them)
    int64_t last_id, last_k;
} src_ctx;

static int64_t src_count(void *ctx, int64_t id, uint64_t key) {
    const src_ctx *c = ctx;
    int64_t len = c->s->len[id];
    return c->max_inst > 0 && len > c->max_inst ? c->max_inst : len;
}

// Inverted dropout of the k instances' features in x, one draw per value from (key,
// instance, feature): pure in the key, like the crop.
static void drop_features(const src_ctx *c, real *x, int64_t k, uint64_t key) {
    const mil_bags *s = c->s;
    const uint64_t stream = ssm_seed_derive(key, DROP_STREAM);
    const real scale = (real)(1 / (1 - c->drop));
    for (int64_t t = 0; t < k; t++)
        for (int64_t j = 0; j < s->F; j++) {
            double u = (double)(ssm_seed_derive(stream, (uint64_t)(t * s->F + j)) >> 11) * 0x1p-53;
            real *v = &x[t * s->token + j];
            *v = u < c->drop ? 0 : *v * scale;
        }
}

static ssm_code src_get(void *ctx, int64_t id, uint64_t key, real *x, int32_t *y, real *y_dense,
                        int64_t *length, ssm_error *err) {
    src_ctx *c = ctx;
    const mil_bags *s = c->s;
    int64_t len = s->len[id], k = src_count(ctx, id, key);
    const int64_t *rows = NULL;
    if (k < len && c->sampling == MIL_SAMPLE_RANDOM) {
        mil_crop_rows(c->rows, len, k, key);
        rows = c->rows;
    }
    c->last_id = -1;
    ssm_code rc = s->read(s, id, rows, k, x, s->has_inst_labels ? c->inst_y : NULL, err);
    if (rc)
        return ssm_error_prefix(err, "bag %" PRId64 " (%s): ", id, s->names[id]);
    if (c->mean)
        for (int64_t t = 0; t < k; t++)
            for (int64_t j = 0; j < s->F; j++)
                x[t * s->token + j] = (real)((x[t * s->token + j] - c->mean[j]) / c->std[j]);
    if (c->drop > 0)
        drop_features(c, x, k, key);
    *y = s->label[id];
    *length = k;
    c->last_id = id;
    c->last_k = k;
    return SSM_OK;
}

static ssm_code src_extra(void *ctx, int64_t id, int32_t *y_tokens, real *weight,
                          ssm_error *err) {
    const src_ctx *c = ctx;
    if (!y_tokens)
        return SSM_OK;
    if (c->last_id != id) // the batcher calls get_extra right after get of the same id
        return ssm_fail(err, SSM_EINVAL, "bag %" PRId64 ": instance labels asked before the bag",
                        id);
    memcpy(y_tokens, c->inst_y, (size_t)c->last_k * sizeof *y_tokens);
    return SSM_OK;
}

static void src_free(void *ctx) {
    src_ctx *c = ctx;
    free(c->mean);
    free(c->std);
    free(c->rows);
    free(c->inst_y);
    free(c);
}

ssm_code mil_bags_source(ssm_sample_source *src, const mil_bags *s, const mil_source_opts *o,
                         ssm_error *err) {
    memset(src, 0, sizeof *src);
    if (s->n < 1 || s->token < 1 || s->token >= (int64_t)1 << 40)
        return ssm_fail(err, SSM_EINVAL, "%s: %" PRId64 " bags of %" PRId64
                        " values per instance: expected >= 1 each", s->what, s->n, s->token);
    if (!(o->feature_dropout >= 0 && o->feature_dropout < 1))
        return ssm_fail(err, SSM_EINVAL, "%s: feature dropout %g: expected a probability in "
                        "[0, 1)", s->what, o->feature_dropout);
    src_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    c->s = s;
    c->drop = o->feature_dropout;
    c->max_inst = o->max_instances;
    c->sampling = o->sampling;
    c->last_id = -1;
    int64_t max_k = 1;
    for (int64_t i = 0; i < s->n; i++) {
        int64_t k = src_count(c, i, 0);
        max_k = k > max_k ? k : max_k;
    }
    c->rows = malloc((size_t)max_k * sizeof *c->rows);
    c->inst_y = malloc((size_t)max_k * sizeof *c->inst_y);
    int ok = c->rows && c->inst_y;
    if (ok && o->mean) {
        c->mean = malloc((size_t)s->F * sizeof *c->mean);
        c->std = malloc((size_t)s->F * sizeof *c->std);
        if ((ok = c->mean && c->std)) {
            memcpy(c->mean, o->mean, (size_t)s->F * sizeof *c->mean);
            memcpy(c->std, o->std, (size_t)s->F * sizeof *c->std);
        }
    }
    if (!ok) {
        src_free(c);
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate the scratch of bags of %" PRId64
                        " instances", max_k);
    }
    *src = (ssm_sample_source){.ctx = c, .n = s->n, .x_ndim = 1, .x_shape = {s->token},
                               .has_y = 1, .get = src_get, .has_tokens = s->has_inst_labels,
                               .get_extra = src_extra, .free = src_free, .ragged = 1,
                               .count = src_count};
    return SSM_OK;
}
