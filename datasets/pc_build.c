// defines: pc_build_vertex, pc_build_face, pc_build_grid, pc_build_box, pc_build_tri,
//          pc_surf_sphere, pc_surf_side, pc_surf_disk, pc_surf_torus, pc_surf_box, pc_unit,
//          pc_between, pc_deform (see pc_build.h)
#include "datasets/pc_build.h"

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"

int64_t pc_build_vertex(pc_builder *b, double x, double y, double z) {
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

void pc_build_face(pc_builder *b, int64_t i, int64_t j, int64_t k) {
    if (b->oom)
        return;
    if (b->m.nf == b->cap_f) {
        int64_t cap = b->cap_f ? b->cap_f * 2 : 2048;
        int64_t *nf = realloc(b->m.f, (size_t)cap * 3 * sizeof *nf);
        if (nf)
            b->m.f = nf;
        int32_t *nl = nf && b->labelled ? realloc(b->m.flabel, (size_t)cap * sizeof *nl) : NULL;
        if (nl)
            b->m.flabel = nl;
        if (!nf || (b->labelled && !nl)) {
            b->oom = 1;
            return;
        }
        b->cap_f = cap;
    }
    if (b->labelled)
        b->m.flabel[b->m.nf] = b->label;
    int64_t *f = b->m.f + b->m.nf++ * 3;
    f[0] = i, f[1] = j, f[2] = k;
}

void pc_build_grid(pc_builder *b, pc_surface_fn fn, const double *q) {
    int64_t base = b->m.nv;
    for (int i = 0; i <= PC_BUILD_GRID; i++)
        for (int j = 0; j <= PC_BUILD_GRID; j++) {
            double o[3];
            fn((double)i / PC_BUILD_GRID, (double)j / PC_BUILD_GRID, q, o);
            pc_build_vertex(b, o[0], o[1], o[2]);
        }
    for (int i = 0; i < PC_BUILD_GRID; i++)
        for (int j = 0; j < PC_BUILD_GRID; j++) {
            int64_t a = base + i * (PC_BUILD_GRID + 1) + j, c = a + PC_BUILD_GRID + 1;
            pc_build_face(b, a, c, a + 1);
            pc_build_face(b, a + 1, c, c + 1);
        }
}

// q: centre x, y, z, radius, polar range start and length (fractions of pi)
void pc_surf_sphere(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u, f = M_PI * (q[4] + q[5] * v);
    o[0] = q[0] + q[3] * sin(f) * cos(t);
    o[1] = q[1] + q[3] * cos(f);
    o[2] = q[2] + q[3] * sin(f) * sin(t);
}

// q: y0, height, radius at the bottom, radius at the top (a cylinder or a cone side)
void pc_surf_side(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u, r = q[2] + (q[3] - q[2]) * v;
    o[0] = r * cos(t);
    o[1] = q[0] + q[1] * v;
    o[2] = r * sin(t);
}

// q: y, radius (a disk facing up or down)
void pc_surf_disk(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u;
    o[0] = q[1] * v * cos(t);
    o[1] = q[0];
    o[2] = q[1] * v * sin(t);
}

// q: ring radius R, tube radius r
void pc_surf_torus(double u, double v, const double *q, double o[3]) {
    double t = 2 * M_PI * u, f = 2 * M_PI * v;
    o[0] = (q[0] + q[1] * cos(f)) * cos(t);
    o[1] = q[1] * sin(f);
    o[2] = (q[0] + q[1] * cos(f)) * sin(t);
}

// q: centre x, y, z, half sizes hx, hy, hz, face 0..5 (a box face, subdivided so that
// the taper and twist bend it)
void pc_surf_box(double u, double v, const double *q, double o[3]) {
    int face = (int)q[6], ax = face / 2;
    double s = face % 2 ? 1 : -1, a = 2 * u - 1, c = 2 * v - 1, p[3];
    p[ax] = s;
    p[(ax + 1) % 3] = a;
    p[(ax + 2) % 3] = c;
    for (int k = 0; k < 3; k++)
        o[k] = q[k] + q[3 + k] * p[k];
}

void pc_build_box(pc_builder *b, double cx, double cy, double cz, double hx, double hy, double hz) {
    for (int f = 0; f < 6; f++) {
        double q[7] = {cx, cy, cz, hx, hy, hz, f};
        pc_build_grid(b, pc_surf_box, q);
    }
}

// A triangle subdivided into PC_BUILD_GRID^2 small ones.
void pc_build_tri(pc_builder *b, const double *A, const double *B, const double *C) {
    int64_t base = b->m.nv;
    for (int i = 0; i <= PC_BUILD_GRID; i++)
        for (int j = 0; j <= PC_BUILD_GRID - i; j++) {
            double u = (double)i / PC_BUILD_GRID, v = (double)j / PC_BUILD_GRID, w = 1 - u - v;
            pc_build_vertex(b, w * A[0] + u * B[0] + v * C[0], w * A[1] + u * B[1] + v * C[1],
                  w * A[2] + u * B[2] + v * C[2]);
        }
    // row i starts at base + sum_{k<i} (PC_BUILD_GRID + 1 - k)
    for (int i = 0; i < PC_BUILD_GRID; i++) {
        int64_t r0 = base + (int64_t)i * (PC_BUILD_GRID + 1) - (int64_t)i * (i - 1) / 2;
        int64_t r1 = r0 + (PC_BUILD_GRID + 1 - i);
        for (int j = 0; j < PC_BUILD_GRID - i; j++) {
            pc_build_face(b, r0 + j, r1 + j, r0 + j + 1);
            if (j + 1 < PC_BUILD_GRID - i)
                pc_build_face(b, r0 + j + 1, r1 + j, r1 + j + 1);
        }
    }
}

double pc_unit(uint64_t key, uint64_t i) {
    return (double)(ssm_seed_derive(key, i) >> 11) * 0x1.0p-53;
}

double pc_between(uint64_t key, uint64_t i, double lo, double hi) {
    return lo + (hi - lo) * pc_unit(key, i);
}

// Per-shape deformation (draws 20..29 of key): anisotropic scale, taper and twist along
// y about the shape's mean height, tilt about x and z, rotation about y.
void pc_deform(pc_mesh *m, uint64_t key) {
    double sc[3] = {pc_between(key, 20, .8, 1.25), pc_between(key, 21, .8, 1.25), pc_between(key, 22, .8, 1.25)};
    double taper = pc_between(key, 23, -.3, .3), twist = pc_between(key, 24, -.6, .6);
    double tx = pc_between(key, 25, -1, 1) * M_PI / 18, tz = pc_between(key, 26, -1, 1) * M_PI / 18;
    double ry = pc_between(key, 27, 0, 2 * M_PI);
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

void pc_jitter(pc_cloud *raw, uint64_t key) {
    for (int64_t j = 0; j < raw->n; j++)
        for (int k = 0; k < 3; k++) {
            uint64_t d = (uint64_t)(j * 3 + k) * 2;
            double u = pc_unit(key, d), v = pc_unit(key, d + 1);
            raw->p[j * 6 + k] += (real)(0.01 * sqrt(-2 * log(1 - u)) * cos(2 * M_PI * v));
        }
}
