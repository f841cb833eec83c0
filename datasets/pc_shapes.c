// defines: pc_shapes_load, pc_shapes_write, PC_SHAPES_CLASSES, pc_shapes_mesh
// (see pc_shapes.h)
#include "datasets/pc_shapes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "datasets/pc_modelnet.h"

const char *const PC_SHAPES_CLASSES[PC_SHAPES_NUM_CLASSES] = {
    "sphere", "box", "cylinder", "cone", "torus", "pyramid", "octahedron", "bowl", "dumbbell",
    "table"};

#define GRID 16 // cells per side of a curved surface

typedef struct {
    pc_mesh m;
    int64_t cap_v, cap_f;
    int oom;
} builder;

static int64_t add_v(builder *b, double x, double y, double z) {
    if (b->m.nv == b->cap_v) {
        b->cap_v = b->cap_v ? b->cap_v * 2 : 1024;
        double *nv = realloc(b->m.v, (size_t)b->cap_v * 3 * sizeof *nv);
        if (!nv) {
            b->oom = 1;
            b->cap_v = b->m.nv;
            return 0;
        }
        b->m.v = nv;
    }
    double *v = b->m.v + b->m.nv * 3;
    v[0] = x, v[1] = y, v[2] = z;
    return b->m.nv++;
}

static void add_f(builder *b, int64_t i, int64_t j, int64_t k) {
    if (b->oom)
        return;
    if (b->m.nf == b->cap_f) {
        b->cap_f = b->cap_f ? b->cap_f * 2 : 2048;
        int64_t *nf = realloc(b->m.f, (size_t)b->cap_f * 3 * sizeof *nf);
        if (!nf) {
            b->oom = 1;
            b->cap_f = b->m.nf;
            return;
        }
        b->m.f = nf;
    }
    int64_t *f = b->m.f + b->m.nf++ * 3;
    f[0] = i, f[1] = j, f[2] = k;
}

// A parametric patch p(u, v), u, v in [0, 1], as an n x n grid of triangle pairs.
typedef void (*surface_fn)(double u, double v, const double *q, double out[3]);

static void add_grid(builder *b, surface_fn fn, const double *q) {
    int64_t base = b->m.nv;
    for (int i = 0; i <= GRID; i++)
        for (int j = 0; j <= GRID; j++) {
            double o[3];
            fn((double)i / GRID, (double)j / GRID, q, o);
            add_v(b, o[0], o[1], o[2]);
        }
    for (int i = 0; i < GRID; i++)
        for (int j = 0; j < GRID; j++) {
            int64_t a = base + i * (GRID + 1) + j, c = a + GRID + 1;
            add_f(b, a, c, a + 1);
            add_f(b, a + 1, c, c + 1);
        }
}

// q: centre x, y, z, radius, polar range start and length (fractions of pi)
static void s_sphere(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u, f = M_PI * (q[4] + q[5] * v);
    o[0] = q[0] + q[3] * sin(f) * cos(t);
    o[1] = q[1] + q[3] * cos(f);
    o[2] = q[2] + q[3] * sin(f) * sin(t);
}

// q: y0, height, radius at the bottom, radius at the top (a cylinder or a cone side)
static void s_side(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u, r = q[2] + (q[3] - q[2]) * v;
    o[0] = r * cos(t);
    o[1] = q[0] + q[1] * v;
    o[2] = r * sin(t);
}

// q: y, radius (a disk facing up or down)
static void s_disk(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u;
    o[0] = q[1] * v * cos(t);
    o[1] = q[0];
    o[2] = q[1] * v * sin(t);
}

// q: ring radius R, tube radius r
static void s_torus(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u, f = 2 * M_PI * v;
    o[0] = (q[0] + q[1] * cos(f)) * cos(t);
    o[1] = q[1] * sin(f);
    o[2] = (q[0] + q[1] * cos(f)) * sin(t);
}

// q: centre x, y, z, half sizes hx, hy, hz, face 0..5 (a box face, subdivided so that
// the taper and twist bend it)
static void s_box(double u, double v, const double *q, double o[3]) {
    int face = (int)q[6], ax = face / 2;
    double s = face % 2 ? 1 : -1, a = 2 * u - 1, c = 2 * v - 1, p[3];
    p[ax] = s;
    p[(ax + 1) % 3] = a;
    p[(ax + 2) % 3] = c;
    for (int k = 0; k < 3; k++)
        o[k] = q[k] + q[3 + k] * p[k];
}

static void add_box(builder *b, double cx, double cy, double cz, double hx, double hy, double hz) {
    for (int f = 0; f < 6; f++) {
        double q[7] = {cx, cy, cz, hx, hy, hz, f};
        add_grid(b, s_box, q);
    }
}

// A triangle subdivided into GRID^2 small ones.
static void add_tri(builder *b, const double *A, const double *B, const double *C) {
    int64_t base = b->m.nv;
    for (int i = 0; i <= GRID; i++)
        for (int j = 0; j <= GRID - i; j++) {
            double u = (double)i / GRID, v = (double)j / GRID, w = 1 - u - v;
            add_v(b, w * A[0] + u * B[0] + v * C[0], w * A[1] + u * B[1] + v * C[1],
                  w * A[2] + u * B[2] + v * C[2]);
        }
    // row i starts at base + sum_{k<i} (GRID + 1 - k)
    for (int i = 0; i < GRID; i++) {
        int64_t r0 = base + (int64_t)i * (GRID + 1) - (int64_t)i * (i - 1) / 2;
        int64_t r1 = r0 + (GRID + 1 - i);
        for (int j = 0; j < GRID - i; j++) {
            add_f(b, r0 + j, r1 + j, r0 + j + 1);
            if (j + 1 < GRID - i)
                add_f(b, r0 + j + 1, r1 + j, r1 + j + 1);
        }
    }
}

static double unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

static double between(uint64_t key, uint64_t i, double lo, double hi) {
    return lo + (hi - lo) * unit(key, i);
}

// The class's primitive with this shape's proportions (draws 0..19 of key).
static void build_class(builder *b, int32_t cls, uint64_t key) {
    switch (cls) {
    case 0: add_grid(b, s_sphere, (double[]){0, 0, 0, 1, 0, 1}); break;
    case 1:
        add_box(b, 0, 0, 0, between(key, 0, .4, .8), between(key, 1, .4, .8), between(key, 2, .4, .8));
        break;
    case 2: {
        double r = between(key, 0, .3, .6), h = between(key, 1, 1, 2);
        add_grid(b, s_side, (double[]){-h / 2, h, r, r});
        add_grid(b, s_disk, (double[]){-h / 2, r});
        add_grid(b, s_disk, (double[]){h / 2, r});
        break;
    }
    case 3: {
        double r = between(key, 0, .4, .8), h = between(key, 1, 1, 2);
        add_grid(b, s_side, (double[]){-h / 2, h, r, 0});
        add_grid(b, s_disk, (double[]){-h / 2, r});
        break;
    }
    case 4: add_grid(b, s_torus, (double[]){1, between(key, 0, .15, .4)}); break;
    case 5: {
        double s = between(key, 0, .5, .8), h = between(key, 1, .8, 1.6);
        double c[4][3] = {{-s, 0, -s}, {s, 0, -s}, {s, 0, s}, {-s, 0, s}}, apex[3] = {0, h, 0};
        for (int k = 0; k < 4; k++)
            add_tri(b, c[k], c[(k + 1) % 4], apex);
        add_tri(b, c[0], c[1], c[2]);
        add_tri(b, c[0], c[2], c[3]);
        break;
    }
    case 6: {
        double ax[3] = {between(key, 0, .7, 1.3), between(key, 1, .7, 1.3), between(key, 2, .7, 1.3)};
        for (int sx = -1; sx <= 1; sx += 2)
            for (int sy = -1; sy <= 1; sy += 2)
                for (int sz = -1; sz <= 1; sz += 2) {
                    double A[3] = {sx * ax[0], 0, 0}, B[3] = {0, sy * ax[1], 0}, C[3] = {0, 0, sz * ax[2]};
                    add_tri(b, A, B, C);
                }
        break;
    }
    case 7: add_grid(b, s_sphere, (double[]){0, 0, 0, 1, .5, between(key, 0, .35, .5)}); break;
    case 8: {
        double r = between(key, 0, .3, .5), L = between(key, 1, .7, 1.1), t = between(key, 2, .08, .15);
        add_grid(b, s_sphere, (double[]){-L, 0, 0, r, 0, 1});
        add_grid(b, s_sphere, (double[]){L, 0, 0, r, 0, 1});
        add_box(b, 0, 0, 0, L, t, t);
        break;
    }
    default: { // table: a top and four legs
        double w = between(key, 0, .6, 1), d = between(key, 1, .4, .7), t = between(key, 2, .04, .08);
        double h = between(key, 3, .6, 1.2), l = between(key, 4, .03, .06);
        add_box(b, 0, h, 0, w, t, d);
        for (int sx = -1; sx <= 1; sx += 2)
            for (int sz = -1; sz <= 1; sz += 2)
                add_box(b, sx * (w - 2 * l), h / 2, sz * (d - 2 * l), l, h / 2, l);
        break;
    }
    }
}

// Per-shape deformation (draws 20..29 of key): anisotropic scale, taper and twist along
// y about the shape's mean height, tilt about x and z, rotation about y.
static void deform(pc_mesh *m, uint64_t key) {
    double sc[3] = {between(key, 20, .8, 1.25), between(key, 21, .8, 1.25), between(key, 22, .8, 1.25)};
    double taper = between(key, 23, -.3, .3), twist = between(key, 24, -.6, .6);
    double tx = between(key, 25, -1, 1) * M_PI / 18, tz = between(key, 26, -1, 1) * M_PI / 18;
    double ry = between(key, 27, 0, 2 * M_PI);
    double yc = 0;
    for (int64_t i = 0; i < m->nv; i++)
        yc += m->v[i * 3 + 1];
    yc /= (double)(m->nv ? m->nv : 1);
    for (int64_t i = 0; i < m->nv; i++) {
        double *v = m->v + i * 3, x = v[0], y = v[1] - yc, z = v[2];
        double k = 1 + taper * y, a = twist * y;
        double x1 = k * (cos(a) * x - sin(a) * z), z1 = k * (sin(a) * x + cos(a) * z);
        x = x1 * sc[0], y = y * sc[1], z = z1 * sc[2];
        double y2 = cos(tx) * y - sin(tx) * z, z2 = sin(tx) * y + cos(tx) * z; // about x
        double x3 = cos(tz) * x - sin(tz) * y2, y3 = sin(tz) * x + cos(tz) * y2; // about z
        v[0] = cos(ry) * x3 + sin(ry) * z2; // about y
        v[1] = y3;
        v[2] = -sin(ry) * x3 + cos(ry) * z2;
    }
}

ssm_code pc_shapes_mesh(pc_mesh *m, int32_t cls, uint64_t key, ssm_error *err) {
    builder b = {0};
    build_class(&b, cls, key);
    if (b.oom) {
        pc_mesh_free(&b.m);
        return ssm_fail(err, SSM_ENOMEM, "shapes: out of memory building a %s",
                        PC_SHAPES_CLASSES[cls]);
    }
    deform(&b.m, key);
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
    uint64_t nk = ssm_seed_derive(key, 2000);
    for (int64_t j = 0; j < raw->n; j++)
        for (int k = 0; k < 3; k++) { // Box-Muller, sigma 0.01
            uint64_t d = (uint64_t)(j * 3 + k) * 2;
            double u = unit(nk, d), v = unit(nk, d + 1);
            raw->p[j * 6 + k] += (real)(0.01 * sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v));
        }
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
    for (int64_t i = 0; rc == SSM_OK && i < s->n; i++) {
        char name[64];
        s->labels[i] = (int32_t)(i / per_class);
        snprintf(name, sizeof name, "%s_%04lld", PC_SHAPES_CLASSES[s->labels[i]],
                 (long long)(i % per_class + 1));
        if (!(s->names[i] = strdup(name)))
            rc = ssm_fail(err, SSM_ENOMEM, "shapes: out of memory");
    }
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
        ssm_code rc = pc_modelnet_write(&s, dir, "shapes", splits[k], k == 0, err);
        pc_set_free(&s);
        SSM_TRY(rc);
    }
    return SSM_OK;
}
