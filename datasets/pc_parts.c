// defines: pc_parts_load, pc_parts_write, pc_parts_mesh, PC_PARTS_CATEGORIES,
//          PC_PARTS_RANGE, PC_PARTS_NAMES (see pc_parts.h)
#include "datasets/pc_parts.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/pc_build.h"
#include "datasets/pc_shapenet.h"

const char *const PC_PARTS_CATEGORIES[PC_PARTS_NUM_CATEGORIES] = {"table", "lamp", "chair",
                                                                  "airplane"};
const int32_t PC_PARTS_RANGE[PC_PARTS_NUM_CATEGORIES][2] = {{0, 2}, {2, 3}, {5, 4}, {9, 4}};
const char *const PC_PARTS_NAMES[PC_PARTS_NUM_PARTS] = {
    "top", "legs", "base", "pole", "shade", "seat", "back", "legs", "arms",
    "body", "wings", "tail", "engines"};

#define U(i, lo, hi) pc_between(key, (i), (lo), (hi))

// Vertices v0.. of b scaled by s, then moved by t.
static void place(pc_builder *b, int64_t v0, double sx, double sy, double sz, double tx,
                  double ty, double tz) {
    for (int64_t i = v0; i < b->m.nv; i++) {
        double *v = b->m.v + i * 3;
        v[0] = v[0] * sx + tx, v[1] = v[1] * sy + ty, v[2] = v[2] * sz + tz;
    }
}

// A closed upright cylinder (or cone frustum) on the y axis from y0 to y0 + h, moved to
// (x, z).
static void cylinder(pc_builder *b, double x, double z, double y0, double h, double r_bottom,
                     double r_top) {
    int64_t v0 = b->m.nv;
    pc_build_grid(b, pc_surf_side, (double[]){y0, h, r_bottom, r_top});
    pc_build_grid(b, pc_surf_disk, (double[]){y0, r_bottom});
    if (r_top > 0)
        pc_build_grid(b, pc_surf_disk, (double[]){y0 + h, r_top});
    place(b, v0, 1, 1, 1, x, 0, z);
}

// An ellipsoid of half axes (a, b, c) centred at (x, y, z).
static void ellipsoid(pc_builder *b, double x, double y, double z, double ax, double ay,
                      double az) {
    int64_t v0 = b->m.nv;
    pc_build_grid(b, pc_surf_sphere, (double[]){0, 0, 0, 1, 0, 1});
    place(b, v0, ax, ay, az, x, y, z);
}

static void table(pc_builder *b, uint64_t key) {
    double w = U(0, .6, 1), d = U(1, .4, .7), t = U(2, .04, .08), h = U(3, .6, 1.2);
    double l = U(4, .03, .06);
    int round = U(5, 0, 1) < .4, pedestal = U(6, 0, 1) < .3;
    b->label = 0;
    if (round)
        cylinder(b, 0, 0, h - t, 2 * t, w, w);
    else
        pc_build_box(b, 0, h, 0, w, t, d);
    b->label = 1;
    if (pedestal) {
        cylinder(b, 0, 0, 0, h - t, 2.5 * l, 2.5 * l);
        return;
    }
    double lx = round ? w * .6 : w - 2 * l, lz = round ? w * .6 : d - 2 * l;
    for (int sx = -1; sx <= 1; sx += 2)
        for (int sz = -1; sz <= 1; sz += 2)
            pc_build_box(b, sx * lx, (h - t) / 2, sz * lz, l, (h - t) / 2, l);
}

static void lamp(pc_builder *b, uint64_t key) {
    double rb = U(0, .3, .5), hb = U(1, .05, .12), rp = U(2, .02, .04), hp = U(3, .6, 1.2);
    double r0 = U(4, .3, .55), r1 = U(5, .08, .2), hs = U(6, .25, .45);
    b->label = 2;
    cylinder(b, 0, 0, 0, hb, rb, rb);
    b->label = 3;
    cylinder(b, 0, 0, hb, hp, rp, rp);
    b->label = 4; // open at the bottom, as a shade
    pc_build_grid(b, pc_surf_side, (double[]){hb + hp - .6 * hs, hs, r0, r1});
    pc_build_grid(b, pc_surf_disk, (double[]){hb + hp + .4 * hs, r1});
}

static void chair(pc_builder *b, uint64_t key) {
    double hs = U(0, .4, .6), w = U(1, .35, .5), t = U(2, .03, .06), d = U(3, .35, .5);
    double hk = U(4, .4, .8), tb = U(5, .03, .05), l = U(6, .025, .05), ha = U(7, .15, .25);
    int arms = U(8, 0, 1) < .5;
    b->label = 5;
    pc_build_box(b, 0, hs, 0, w, t, d);
    b->label = 6;
    pc_build_box(b, 0, hs + t + hk / 2, -d + tb, w, hk / 2, tb);
    b->label = 7;
    for (int sx = -1; sx <= 1; sx += 2)
        for (int sz = -1; sz <= 1; sz += 2)
            pc_build_box(b, sx * (w - l), (hs - t) / 2, sz * (d - l), l, (hs - t) / 2, l);
    if (!arms)
        return;
    b->label = 8; // a bar on each side with a post at its front
    for (int sx = -1; sx <= 1; sx += 2) {
        pc_build_box(b, sx * (w - .03), hs + t + ha, -.1 * d, .03, .02, .8 * d);
        pc_build_box(b, sx * (w - .03), hs + t + ha / 2, .6 * d, .02, ha / 2, .02);
    }
}

static void airplane(pc_builder *b, uint64_t key) {
    double L = U(0, .9, 1.2), r = U(1, .1, .16), xw = U(2, -.1, .15), c = U(3, .12, .22);
    double tw = U(4, .015, .03), span = U(5, .7, 1.1), hf = U(6, .15, .25), st = U(7, .25, .35);
    double el = U(8, .14, .2), er = U(9, .05, .07);
    int four = U(10, 0, 1) < .4;
    b->label = 9;
    ellipsoid(b, 0, 0, 0, L, r, r);
    b->label = 10;
    pc_build_box(b, xw, 0, 0, c, tw, span);
    b->label = 11; // a fin and a stabiliser
    pc_build_box(b, -.85 * L, r + hf / 2, 0, U(11, .08, .12), hf / 2, .015);
    pc_build_box(b, -.85 * L, .3 * r, 0, .07, .012, st);
    b->label = 12;
    for (int s = -1; s <= 1; s += 2) {
        ellipsoid(b, xw + .05, -tw - er, s * .45 * span, el, er, er);
        if (four)
            ellipsoid(b, xw + .02, -tw - er, s * .75 * span, .8 * el, .8 * er, .8 * er);
    }
}

ssm_code pc_parts_mesh(pc_mesh *m, int32_t cat, uint64_t key, ssm_error *err) {
    if (cat < 0 || cat >= PC_PARTS_NUM_CATEGORIES)
        return ssm_fail(err, SSM_EINVAL, "parts: category %d, expected 0..%d", cat,
                        PC_PARTS_NUM_CATEGORIES - 1);
    pc_builder b = {.labelled = 1};
    switch (cat) {
    case 0: table(&b, key); break;
    case 1: lamp(&b, key); break;
    case 2: chair(&b, key); break;
    default: airplane(&b, key); break;
    }
    if (b.oom) {
        pc_mesh_free(&b.m);
        return ssm_fail(err, SSM_ENOMEM, "parts: out of memory building a %s",
                        PC_PARTS_CATEGORIES[cat]);
    }
    pc_deform(&b.m, key);
    *m = b.m;
    return SSM_OK;
}

typedef struct {
    uint64_t seed;
    int split; // 0 train, 1 test
    int64_t per_class, raw_points;
} parts_ctx;

static ssm_code load_shape(void *vctx, int64_t i, uint64_t unused, pc_cloud *raw,
                           ssm_error *err) {
    const parts_ctx *c = vctx;
    uint64_t key = ssm_seed_derive(
        ssm_seed_derive(ssm_seed_derive(c->seed, 0x70617274ull), (uint64_t)c->split), (uint64_t)i);
    pc_mesh m;
    SSM_TRY(pc_parts_mesh(&m, (int32_t)(i / c->per_class), key, err));
    ssm_code rc = pc_mesh_sample(raw, &m, c->raw_points, ssm_seed_derive(key, 1000), "parts", err);
    pc_mesh_free(&m);
    if (rc != SSM_OK)
        return rc;
    pc_jitter(raw, ssm_seed_derive(key, 2000));
    return SSM_OK;
}

ssm_code pc_parts_load(pc_set *s, int64_t per_class, int64_t raw_points, uint64_t seed,
                       const char *split, const pc_prep *o, ssm_error *err) {
    memset(s, 0, sizeof *s);
    int sp = !strcmp(split, "train") ? 0 : !strcmp(split, "test") ? 1 : -1;
    if (sp < 0)
        return ssm_fail(err, SSM_EINVAL, "parts: split '%s', expected train or test", split);
    if (per_class < 1 || raw_points < 1)
        return ssm_fail(err, SSM_EINVAL, "parts: %lld per category of %lld points, expected >= 1",
                        (long long)per_class, (long long)raw_points);
    const int32_t K = PC_PARTS_NUM_CATEGORIES;
    SSM_TRY(pc_set_alloc(s, per_class * K, o, 1, err));
    ssm_code rc = pc_set_class_names(s, (char *const *)PC_PARTS_CATEGORIES, K, err);
    s->part_range = malloc(sizeof PC_PARTS_RANGE);
    if (rc == SSM_OK && !s->part_range)
        rc = ssm_fail(err, SSM_ENOMEM, "parts: out of memory");
    if (rc == SSM_OK) {
        memcpy(s->part_range, PC_PARTS_RANGE, sizeof PC_PARTS_RANGE);
        s->num_parts = PC_PARTS_NUM_PARTS;
    }
    if (rc == SSM_OK)
        rc = pc_set_label_by_class(s, per_class, err);
    parts_ctx ctx = {seed, sp, per_class, raw_points};
    if (rc == SSM_OK)
        rc = pc_set_fill(s, o, 0, s->n, load_shape, &ctx, err);
    if (rc != SSM_OK)
        pc_set_free(s);
    return rc;
}

ssm_code pc_parts_write(const char *dir, int64_t train_per_class, int64_t test_per_class,
                        int64_t points, uint64_t seed, ssm_error *err) {
    pc_prep o = {.num_points = points, .sampling = PC_SAMPLE_FIRST, .normals = 1, .normalize = 1};
    const char *splits[2] = {"train", "test"};
    int64_t per[2] = {train_per_class, test_per_class};
    for (int k = 0; k < 2; k++) {
        pc_set s;
        SSM_TRY(pc_parts_load(&s, per[k], points, seed, splits[k], &o, err));
        // the test shapes are numbered after the training ones: no file overwrites another
        ssm_code rc = k == 1 ? pc_set_number_after(&s, per[1], per[0], err) : SSM_OK;
        if (rc == SSM_OK)
            rc = pc_shapenet_write(&s, dir, splits[k], k == 0, err);
        pc_set_free(&s);
        SSM_TRY(rc);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/train_test_split/shuffled_val_file_list.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return ssm_fail(err, SSM_EIO, "%s: cannot write: %s", path, strerror(errno));
    int bad = fputs("[]\n", f) < 0;
    if (fclose(f) != 0 || bad)
        return ssm_fail(err, SSM_EIO, "%s: write failed", path);
    return SSM_OK;
}
