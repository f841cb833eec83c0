// defines: pc_shapes_load, pc_shapes_write, PC_SHAPES_CLASSES, pc_shapes_mesh
// (see pc_shapes.h)
#include "datasets/pc_shapes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/pc_build.h"
#include "datasets/pc_modelnet.h"

const char *const PC_SHAPES_CLASSES[PC_SHAPES_NUM_CLASSES] = {
    "sphere", "box", "cylinder", "cone", "torus", "pyramid", "octahedron", "bowl", "dumbbell",
    "table"};

// The class's primitive with this shape's proportions (draws 0..19 of key).
static void build_class(pc_builder *b, int32_t cls, uint64_t key) {
    switch (cls) {
    case 0: pc_build_grid(b, pc_surf_sphere, (double[]){0, 0, 0, 1, 0, 1}); break;
    case 1:
        pc_build_box(b, 0, 0, 0, pc_between(key, 0, .4, .8), pc_between(key, 1, .4, .8), pc_between(key, 2, .4, .8));
        break;
    case 2: {
        double r = pc_between(key, 0, .3, .6), h = pc_between(key, 1, 1, 2);
        pc_build_grid(b, pc_surf_side, (double[]){-h / 2, h, r, r});
        pc_build_grid(b, pc_surf_disk, (double[]){-h / 2, r});
        pc_build_grid(b, pc_surf_disk, (double[]){h / 2, r});
        break;
    }
    case 3: {
        double r = pc_between(key, 0, .4, .8), h = pc_between(key, 1, 1, 2);
        pc_build_grid(b, pc_surf_side, (double[]){-h / 2, h, r, 0});
        pc_build_grid(b, pc_surf_disk, (double[]){-h / 2, r});
        break;
    }
    case 4: pc_build_grid(b, pc_surf_torus, (double[]){1, pc_between(key, 0, .15, .4)}); break;
    case 5: {
        double s = pc_between(key, 0, .5, .8), h = pc_between(key, 1, .8, 1.6);
        double c[4][3] = {{-s, 0, -s}, {s, 0, -s}, {s, 0, s}, {-s, 0, s}}, apex[3] = {0, h, 0};
        for (int k = 0; k < 4; k++)
            pc_build_tri(b, c[k], c[(k + 1) % 4], apex);
        pc_build_tri(b, c[0], c[1], c[2]);
        pc_build_tri(b, c[0], c[2], c[3]);
        break;
    }
    case 6: {
        double ax[3] = {pc_between(key, 0, .7, 1.3), pc_between(key, 1, .7, 1.3), pc_between(key, 2, .7, 1.3)};
        for (int sx = -1; sx <= 1; sx += 2)
            for (int sy = -1; sy <= 1; sy += 2)
                for (int sz = -1; sz <= 1; sz += 2) {
                    double A[3] = {sx * ax[0], 0, 0}, B[3] = {0, sy * ax[1], 0}, C[3] = {0, 0, sz * ax[2]};
                    pc_build_tri(b, A, B, C);
                }
        break;
    }
    case 7: pc_build_grid(b, pc_surf_sphere, (double[]){0, 0, 0, 1, .5, pc_between(key, 0, .35, .5)}); break;
    case 8: {
        double r = pc_between(key, 0, .3, .5), L = pc_between(key, 1, .7, 1.1), t = pc_between(key, 2, .08, .15);
        pc_build_grid(b, pc_surf_sphere, (double[]){-L, 0, 0, r, 0, 1});
        pc_build_grid(b, pc_surf_sphere, (double[]){L, 0, 0, r, 0, 1});
        pc_build_box(b, 0, 0, 0, L, t, t);
        break;
    }
    default: { // table: a top and four legs
        double w = pc_between(key, 0, .6, 1), d = pc_between(key, 1, .4, .7), t = pc_between(key, 2, .04, .08);
        double h = pc_between(key, 3, .6, 1.2), l = pc_between(key, 4, .03, .06);
        pc_build_box(b, 0, h, 0, w, t, d);
        for (int sx = -1; sx <= 1; sx += 2)
            for (int sz = -1; sz <= 1; sz += 2)
                pc_build_box(b, sx * (w - 2 * l), h / 2, sz * (d - 2 * l), l, h / 2, l);
        break;
    }
    }
}

ssm_code pc_shapes_mesh(pc_mesh *m, int32_t cls, uint64_t key, ssm_error *err) {
    pc_builder b = {0};
    build_class(&b, cls, key);
    if (b.oom) {
        pc_mesh_free(&b.m);
        return ssm_fail(err, SSM_ENOMEM, "shapes: out of memory building a %s",
                        PC_SHAPES_CLASSES[cls]);
    }
    pc_deform(&b.m, key);
    *m = b.m;
    return SSM_OK;
}

typedef struct {
    uint64_t seed;
    int split;          // 0 train, 1 test
    int64_t per_class, raw_points;
} shapes_ctx;

static uint64_t shape_key(const shapes_ctx *c, int64_t i) {
    return ssm_seed_derive(ssm_seed_derive(ssm_seed_derive(c->seed, 0x73686170ull), (uint64_t)c->split),
                           (uint64_t)i);
}

static ssm_code load_shape(void *vctx, int64_t i, uint64_t unused, pc_cloud *raw, ssm_error *err) {
    const shapes_ctx *c = vctx;
    uint64_t key = shape_key(c, i);
    int32_t cls = (int32_t)(i / c->per_class);
    pc_mesh m;
    SSM_TRY(pc_shapes_mesh(&m, cls, key, err));
    ssm_code rc = pc_mesh_sample(raw, &m, c->raw_points, ssm_seed_derive(key, 1000), "shapes", err);
    pc_mesh_free(&m);
    if (rc != SSM_OK)
        return rc;
    pc_jitter(raw, ssm_seed_derive(key, 2000));
    return SSM_OK;
}

ssm_code pc_shapes_load(pc_set *s, int64_t per_class, int64_t raw_points, uint64_t seed,
                        const char *split, const pc_prep *o, ssm_error *err) {
    memset(s, 0, sizeof *s);
    int sp = !strcmp(split, "train") ? 0 : !strcmp(split, "test") ? 1 : -1;
    if (sp < 0)
        return ssm_fail(err, SSM_EINVAL, "shapes: split '%s', expected train or test", split);
    if (per_class < 1 || raw_points < 1)
        return ssm_fail(err, SSM_EINVAL, "shapes: %lld per class of %lld points, expected >= 1",
                        (long long)per_class, (long long)raw_points);
    SSM_TRY(pc_set_alloc(s, per_class * PC_SHAPES_NUM_CLASSES, o, 0, err));
    ssm_code rc = pc_set_class_names(s, (char *const *)PC_SHAPES_CLASSES, PC_SHAPES_NUM_CLASSES, err);
    if (rc == SSM_OK)
        rc = pc_set_label_by_class(s, per_class, err);
    shapes_ctx ctx = {seed, sp, per_class, raw_points};
    if (rc == SSM_OK)
        rc = pc_set_fill(s, o, 0, s->n, load_shape, &ctx, err);
    if (rc != SSM_OK)
        pc_set_free(s);
    return rc;
}

ssm_code pc_shapes_write(const char *dir, int64_t train_per_class, int64_t test_per_class,
                         int64_t points, uint64_t seed, ssm_error *err) {
    pc_prep o = {.num_points = points, .sampling = PC_SAMPLE_FIRST, .normals = 1, .normalize = 1};
    const char *splits[2] = {"train", "test"};
    int64_t per[2] = {train_per_class, test_per_class};
    for (int k = 0; k < 2; k++) {
        pc_set s;
        SSM_TRY(pc_shapes_load(&s, per[k], points, seed, splits[k], &o, err));
        // the test shapes are numbered after the training ones: no file overwrites another
        ssm_code rc = k == 1 ? pc_set_number_after(&s, per[1], per[0], err) : SSM_OK;
        if (rc == SSM_OK)
            rc = pc_modelnet_write(&s, dir, "shapes", splits[k], k == 0, err);
        pc_set_free(&s);
        SSM_TRY(rc);
    }
    return SSM_OK;
}
