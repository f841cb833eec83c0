// defines: pc_builder, pc_surface_fn, PC_BUILD_GRID, pc_build_vertex, pc_build_face,
//          pc_build_grid, pc_build_box, pc_build_tri, pc_surf_sphere, pc_surf_side,
//          pc_surf_disk, pc_surf_torus, pc_surf_box, pc_unit, pc_between, pc_deform,
//          pc_jitter
// Triangle meshes built from primitives for the generated point sets (pc_shapes.h: shape
// classification; pc_parts.h: part segmentation): vertices and faces grown in one mesh,
// parametric patches as grids, boxes, subdivided triangles; optionally every face labelled
// with the part being built (pc_mesh.flabel), so that surface samples carry their part.
// Random proportions come from a key (pc_unit, pc_between: pure functions of (key, i)).
#pragma once
#include <stdint.h>

#include "datasets/pc_cloud.h"

#define PC_BUILD_GRID 16 // cells per side of a curved surface

typedef struct {
    pc_mesh m;            // zero-initialise the builder (= {0}); take m when done
    int64_t cap_v, cap_f;
    int oom;              // an allocation failed: the mesh is incomplete
    int labelled;         // 1: faces get `label` in m.flabel
    int32_t label;        // the part the next faces belong to
} pc_builder;

int64_t pc_build_vertex(pc_builder *b, double x, double y, double z);
void pc_build_face(pc_builder *b, int64_t i, int64_t j, int64_t k);

// A parametric patch p(u, v), u, v in [0, 1], as a GRID x GRID grid of triangle pairs.
typedef void (*pc_surface_fn)(double u, double v, const double *q, double out[3]);
void pc_build_grid(pc_builder *b, pc_surface_fn fn, const double *q);
// An axis-aligned box: centre and half sizes, each face a grid (so deformations bend it).
void pc_build_box(pc_builder *b, double cx, double cy, double cz, double hx, double hy,
                  double hz);
// A triangle subdivided into GRID^2 small ones.
void pc_build_tri(pc_builder *b, const double *A, const double *B, const double *C);

// The surfaces (q: their parameters)
void pc_surf_sphere(double u, double v, const double *q, double o[3]); // cx cy cz r, polar from, length (x pi)
void pc_surf_side(double u, double v, const double *q, double o[3]);   // y0, height, r bottom, r top
void pc_surf_disk(double u, double v, const double *q, double o[3]);   // y, radius
void pc_surf_torus(double u, double v, const double *q, double o[3]);  // ring R, tube r
void pc_surf_box(double u, double v, const double *q, double o[3]);    // cx cy cz hx hy hz face

double pc_unit(uint64_t key, uint64_t i);                          // U[0, 1) from (key, i)
double pc_between(uint64_t key, uint64_t i, double lo, double hi); // U[lo, hi)

// The generated shapes' per-shape deformation (draws 20..29 of key): anisotropic scale,
// taper and twist along y about the mean height, a tilt of up to 10 degrees about x and z,
// a rotation about y.
void pc_deform(pc_mesh *m, uint64_t key);
// Gaussian noise of sigma 0.01 (Box-Muller on draws of key) on the x, y, z of every point of a
// sampled cloud of 6 values a point.
void pc_jitter(pc_cloud *raw, uint64_t key);
