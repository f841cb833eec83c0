// defines: pc_cloud, pc_cloud_free, pc_mesh, pc_mesh_free, pc_read_text, pc_read_ply,
//          pc_read_off, pc_read_points, pc_mesh_sample
// One point cloud or one triangle mesh read from the formats point-cloud data ships in:
//   text   ModelNet's `modelnet40_normal_resampled` rows `x,y,z,nx,ny,nz`, ShapeNetPart's
//          `x y z nx ny nz part`, `.xyz` / `.pts` (`x y z [nx ny nz]`): numbers separated
//          by commas and/or blanks, 3, 6 or 7 per row, the same count on every row
//   .ply   ASCII, binary little- and big-endian; the vertex element's x, y, z (and nx,
//          ny, nz when all three are there), the face element's vertex_indices (or
//          vertex_index) lists; other elements and properties are skipped
//   .off   Princeton's mesh format, with ModelNet's header quirk (`OFF1046 900 0`: the
//          counts on the OFF line itself), `#` comments, polygons of any size
// Meshes become points by area-weighted surface sampling (pc_mesh_sample). Every error
// names the file and, in text formats, the line; binary PLY names the vertex.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef struct {
    int64_t n;      // points
    int64_t C;      // values per point: 3 (x, y, z) or 6 (x, y, z, nx, ny, nz)
    real *p;        // [n, C]
    int32_t *label; // [n] per-point labels (ShapeNetPart's part ids), or NULL
} pc_cloud;

void pc_cloud_free(pc_cloud *c);

typedef struct {
    int64_t nv, nf;
    double *v;      // [nv, 3] vertices
    double *vn;     // [nv, 3] vertex normals (PLY nx, ny, nz), or NULL
    int64_t *f;     // [nf, 3] triangles (a polygon of k vertices is fanned into k - 2)
    int32_t *flabel; // [nf] a label per triangle (the generated parts' ids), or NULL
} pc_mesh;

void pc_mesh_free(pc_mesh *m);

// A text point file (see above). Rows of 7 values put the 7th, an integer, into
// c->label. Empty lines are skipped; an empty file is an error.
ssm_code pc_read_text(pc_cloud *c, const char *path, ssm_error *err);

// A .ply file: its vertices (and faces when it has any; m->nf = 0 otherwise).
ssm_code pc_read_ply(pc_mesh *m, const char *path, ssm_error *err);

// A .off mesh.
ssm_code pc_read_off(pc_mesh *m, const char *path, ssm_error *err);

// A cloud from any of the formats by file extension (.txt, .xyz, .pts, .csv: text;
// .ply: its vertices as points, with normals when it has them; .off: its vertices).
ssm_code pc_read_points(pc_cloud *c, const char *path, ssm_error *err);

// n points on the mesh surface: a triangle drawn with probability proportional to its
// area, then a uniform point in it (sqrt barycentric rule); the normal is the
// triangle's unit normal (right-hand rule on its vertex order); with m->flabel each point
// carries its triangle's label (out->label). Every draw comes from
// `key` (ssm_seed_derive streams), so the sample is a pure function of (mesh, n, key).
// out is [n, 6]. A mesh without faces or of zero area is an error naming `what`.
ssm_code pc_mesh_sample(pc_cloud *out, const pc_mesh *m, int64_t n, uint64_t key,
                        const char *what, ssm_error *err);
