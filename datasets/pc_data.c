// defines: pc_data_is_points, pc_data_open, pc_data_close, pc_points_source (see pc_data.h)
#include "datasets/pc_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/rng.h"
#include "datasets/mil_folds.h"
#include "datasets/pc_h5.h"
#include "datasets/pc_modelnet.h"
#include "datasets/pc_parts.h"
#include "datasets/pc_shapenet.h"
#include "datasets/pc_shapes.h"

int pc_data_is_points(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_MODELNET || dc->name == SSM_DATA_MODELNET_OFF ||
           dc->name == SSM_DATA_MODELNET_H5 || dc->name == SSM_DATA_SCANOBJECTNN ||
           dc->name == SSM_DATA_SHAPES || dc->name == SSM_DATA_SHAPENETPART ||
           dc->name == SSM_DATA_PARTS;
}

static int is_segmentation(const ssm_data_config *dc) {
    return dc->name == SSM_DATA_SHAPENETPART || dc->name == SSM_DATA_PARTS;
}

// ---- the sample source ---------------------------------------------------------------

typedef struct {
    const pc_set *s;
    pc_augment aug;
    int augments;
    int32_t *parts;   // [P] the last cloud's parts as augmented (with s->parts), for get_extra
    int64_t parts_id; // whose parts they are
} points_src;

static ssm_code points_get(void *vctx, int64_t id, uint64_t key, real *x, int32_t *y,
                           real *y_dense, int64_t *length, ssm_error *err) {
    points_src *c = vctx;
    const pc_set *s = c->s;
    if (id < 0 || id >= s->n)
        return ssm_fail(err, SSM_EINVAL, "point cloud id %lld of %lld", (long long)id,
                        (long long)s->n);
    memcpy(x, s->points + id * s->P * s->C, (size_t)(s->P * s->C) * sizeof *x);
    if (c->parts) { // the parts move with the points a dropout replaces
        memcpy(c->parts, s->parts + id * s->P, (size_t)s->P * sizeof *c->parts);
        c->parts_id = id;
    }
    if (c->augments)
        pc_augment_apply(x, c->parts, s->P, s->C, &c->aug, key);
    if (y)
        *y = s->labels[id];
    return SSM_OK;
}

// After points_get of the same id (the batcher's order, one thread).
static ssm_code points_get_parts(void *vctx, int64_t id, int32_t *y_tokens, real *weight,
                                 ssm_error *err) {
    points_src *c = vctx;
    if (id != c->parts_id)
        return ssm_fail(err, SSM_EINVAL, "point cloud %lld: parts asked before its points",
                        (long long)id);
    if (y_tokens)
        memcpy(y_tokens, c->parts, (size_t)c->s->P * sizeof *y_tokens);
    return SSM_OK;
}

static void points_free(void *vctx) {
    points_src *c = vctx;
    free(c->parts);
    free(c);
}

ssm_code pc_points_source(ssm_sample_source *src, const pc_set *s, const pc_augment *a,
                          ssm_error *err) {
    points_src *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    c->s = s;
    c->aug = *a;
    c->augments = a->scale_translate || a->rotate_up || a->jitter > 0 || a->dropout > 0;
    c->parts_id = -1;
    if (s->parts && !(c->parts = malloc((size_t)s->P * sizeof *c->parts))) {
        free(c);
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    }
    memset(src, 0, sizeof *src);
    src->ctx = c;
    src->n = s->n;
    src->x_ndim = 2;
    src->x_shape[0] = s->P;
    src->x_shape[1] = s->C;
    src->has_y = 1;
    src->get = points_get;
    src->has_tokens = s->parts != NULL;
    src->get_extra = s->parts ? points_get_parts : NULL;
    src->free = points_free;
    return SSM_OK;
}

// ---- the recipes ---------------------------------------------------------------------------

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static ssm_code load_split(pc_set *s, const ssm_data_config *dc, const char *split,
                           const pc_prep *o, ssm_error *err) {
    const char *dir = dc->path;
    switch (dc->name) {
    case SSM_DATA_MODELNET:
        return pc_modelnet_load(s, dir, dc->subset[0] ? dc->subset : "modelnet40", split, o, err);
    case SSM_DATA_MODELNET_OFF: return pc_modelnet_off_load(s, dir, split, o, err);
    case SSM_DATA_MODELNET_H5: return pc_h5_modelnet_load(s, dir, split, o, err);
    case SSM_DATA_SCANOBJECTNN:
        return pc_h5_scanobjectnn_load(s, dir, dc->subset[0] ? dc->subset : "pb_t50_rs", split,
                                       o, err);
    case SSM_DATA_SHAPENETPART: // trains on train + val, as PointMamba
        return pc_shapenet_load(s, dir, strcmp(split, "test") ? "trainval" : "test", o, err);
    case SSM_DATA_PARTS: {
        int64_t per = dc->shapes_per_class, test_per = (per + 3) / 4;
        int64_t raw = 2 * dc->num_points;
        if (!dir[0])
            return pc_parts_load(s, strcmp(split, "test") ? per : test_per, raw, PC_PARTS_SEED,
                                 split, o, err);
        char names[SSM_CFG_PATH_MAX + 64];
        snprintf(names, sizeof names, "%s/synsetoffset2category.txt", dir);
        if (!file_exists(names)) {
            ssm_info("data: writing the generated parts set (%lld + %lld per category, %lld "
                     "points) to %s", (long long)per, (long long)test_per, (long long)raw, dir);
            SSM_TRY(pc_parts_write(dir, per, test_per, raw, PC_PARTS_SEED, err));
        }
        return pc_shapenet_load(s, dir, strcmp(split, "test") ? "trainval" : "test", o, err);
    }
    default: { // shapes
        int64_t per = dc->shapes_per_class, test_per = (per + 3) / 4;
        int64_t raw = 2 * dc->num_points;
        if (!dir[0])
            return pc_shapes_load(s, strcmp(split, "test") ? per : test_per, raw, PC_SHAPES_SEED,
                                  split, o, err);
        char names[SSM_CFG_PATH_MAX + 64];
        snprintf(names, sizeof names, "%s/shapes_shape_names.txt", dir);
        if (!file_exists(names)) {
            ssm_info("data: writing the generated shapes (%lld + %lld per class, %lld points) "
                     "to %s", (long long)per, (long long)test_per, (long long)raw, dir);
            SSM_TRY(pc_shapes_write(dir, per, test_per, raw, PC_SHAPES_SEED, err));
        }
        return pc_modelnet_load(s, dir, "shapes", split, o, err);
    }
    }
}

static ssm_code check_config(const ssm_data_config *dc, ssm_error *err) {
    if (dc->name != SSM_DATA_SHAPES && dc->name != SSM_DATA_PARTS && !dc->path[0])
        return ssm_fail(err, SSM_ECONFIG, "data.path: empty; the point recipe needs the dataset "
                        "folder");
    if (dc->name == SSM_DATA_MODELNET && dc->subset[0] && strcmp(dc->subset, "modelnet40") &&
        strcmp(dc->subset, "modelnet10"))
        return ssm_fail(err, SSM_ECONFIG, "data.subset: '%s'; modelnet knows modelnet40, "
                        "modelnet10", dc->subset);
    if (dc->name == SSM_DATA_SCANOBJECTNN && dc->subset[0] &&
        !pc_h5_scanobjectnn_file(dc->subset, "train"))
        return ssm_fail(err, SSM_ECONFIG, "data.subset: '%s'; scanobjectnn knows obj_bg, "
                        "obj_only, pb_t50_rs", dc->subset);
    if ((dc->name == SSM_DATA_MODELNET_OFF || dc->name == SSM_DATA_MODELNET_H5 ||
         dc->name == SSM_DATA_SHAPES || is_segmentation(dc)) && dc->subset[0])
        return ssm_fail(err, SSM_ECONFIG, "data.subset: '%s'; this point recipe has no "
                        "variants (leave it empty)", dc->subset);
    return SSM_OK;
}

static ssm_code make_batcher(ssm_batcher *bt, const pc_set *s, const pc_augment *aug,
                             const int64_t *ids, int64_t n, int64_t batch, int train,
                             const ssm_data_config *dc, uint64_t seed, ssm_error *err) {
    ssm_sample_source src;
    SSM_TRY(pc_points_source(&src, s, aug, err));
    ssm_batcher_opts o = {.batch_size = batch, .shuffle = train && dc->shuffle,
                          .drop_last = train, .seed = seed, .prefetch = dc->num_workers > 0};
    return ssm_batcher_init(bt, &src, ids, n, &o, err);
}

ssm_code pc_data_open(pc_data *d, const ssm_data_config *dc, uint64_t seed, int test_too,
                      ssm_error *err) {
    memset(d, 0, sizeof *d);
    if (!pc_data_is_points(dc))
        return ssm_fail(err, SSM_ECONFIG, "data.name: not a point-cloud dataset");
    SSM_TRY(check_config(dc, err));
    snprintf(d->path, sizeof d->path, "%s", dc->path);
    pc_prep o = {.num_points = dc->num_points,
                 .sampling = dc->point_sampling == SSM_POINTS_RANDOM  ? PC_SAMPLE_RANDOM
                             : dc->point_sampling == SSM_POINTS_FIRST ? PC_SAMPLE_FIRST
                                                                      : PC_SAMPLE_FPS,
                 .normals = dc->normals,
                 .normalize = dc->augment.normalize,
                 .seed = ssm_seed_derive(seed, 301)};
    ssm_code rc = load_split(&d->train_set, dc, "train", &o, err);
    if (rc == SSM_OK && test_too) {
        o.seed = ssm_seed_derive(seed, 302);
        rc = load_split(&d->test_set, dc, "test", &o, err);
        if (rc == SSM_OK && d->test_set.num_classes != d->train_set.num_classes)
            rc = ssm_fail(err, SSM_EDATA, "%s: the test split has %d classes, the training "
                          "split %d", dc->path, d->test_set.num_classes,
                          d->train_set.num_classes);
        if (rc == SSM_OK && d->test_set.num_parts > d->train_set.num_parts)
            rc = ssm_fail(err, SSM_EDATA, "%s: the test split has parts up to %d, the training "
                          "split up to %d", dc->path, d->test_set.num_parts - 1,
                          d->train_set.num_parts - 1);
    }
    if (rc != SSM_OK) {
        pc_data_close(d);
        return rc;
    }
    pc_set *tr = &d->train_set;
    d->P = tr->P;
    d->C = tr->C;
    d->num_classes = tr->num_classes;
    d->num_parts = tr->parts ? tr->num_parts : 0;
    d->part_range = tr->parts ? tr->part_range : NULL;
    int64_t n_all = dc->limit > 0 && dc->limit < tr->n ? dc->limit : tr->n;
    int64_t *all = malloc((size_t)n_all * sizeof *all), *train_ids = NULL, *val_ids = NULL;
    if (!all)
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory");
    for (int64_t i = 0; rc == SSM_OK && i < n_all; i++)
        all[i] = i;
    if (rc == SSM_OK)
        rc = mil_split_holdout(tr->labels, tr->num_classes, all, n_all, dc->val_fraction,
                               ssm_seed_derive(seed, 101), &train_ids, &d->n_train, &val_ids,
                               &d->n_val, err);
    free(all);
    if (rc == SSM_OK && d->n_train < 1)
        rc = ssm_fail(err, SSM_EDATA, "%s: no training clouds left after the validation split",
                      dc->path[0] ? dc->path : "shapes");
    pc_augment aug = {.scale_translate = dc->augment.scale_translate,
                      .rotate_up = dc->augment.rotate_up,
                      .jitter = dc->augment.jitter,
                      .dropout = dc->augment.point_dropout};
    pc_augment plain = {0};
    int64_t eval_batch = dc->eval_batch_size > 0 ? dc->eval_batch_size : dc->batch_size;
    if (rc == SSM_OK)
        rc = make_batcher(&d->train, tr, &aug, train_ids, d->n_train, dc->batch_size, 1, dc,
                          ssm_seed_derive(seed, 102), err);
    if (rc == SSM_OK) {
        d->open |= 1;
        d->has_val = d->n_val > 0;
        if (d->has_val) {
            rc = make_batcher(&d->val, tr, &plain, val_ids, d->n_val, eval_batch, 0, dc, seed,
                              err);
            if (rc == SSM_OK)
                d->open |= 2;
        }
    }
    if (rc == SSM_OK && test_too) {
        d->n_test = d->test_set.n;
        rc = make_batcher(&d->test, &d->test_set, &plain, NULL, d->n_test, eval_batch, 0, dc,
                          seed, err);
        if (rc == SSM_OK)
            d->open |= 4;
    }
    free(train_ids);
    free(val_ids);
    if (rc != SSM_OK) {
        pc_data_close(d);
        return rc;
    }
    ssm_info("data: %s: %lld train, %lld val, %lld test clouds of %lld points x %lld, %d %s",
             dc->path[0] ? dc->path : dc->name == SSM_DATA_PARTS ? "generated parts"
                                                                 : "generated shapes",
             (long long)d->n_train, (long long)d->n_val, (long long)d->n_test, (long long)d->P,
             (long long)d->C, d->num_classes, d->num_parts ? "categories" : "classes");
    if (d->num_parts)
        ssm_info("data: %d parts", d->num_parts);
    return SSM_OK;
}

void pc_data_close(pc_data *d) {
    ssm_batchers_free(&d->train, &d->val, &d->test, (unsigned)d->open);
    pc_set_free(&d->train_set);
    pc_set_free(&d->test_set);
    memset(d, 0, sizeof *d);
}
