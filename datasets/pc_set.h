// defines: pc_set, pc_set_free, pc_prep, pc_set_alloc, pc_set_fill, pc_load_fn,
//          pc_set_class_names, pc_set_label_by_class, pc_set_find_class, pc_prep_key,
//          pc_set_number_after
// A labelled set of point clouds held in memory, every cloud already sampled to the same
// number of points (so a 12,311-cloud ModelNet40 of 10,000-point files becomes 12,311 x
// 1,024 points once, at load, instead of 3 GB) and normalised: what the point recipes
// batch from. The readers of the standard layouts (pc_modelnet.h, pc_h5.h,
// pc_shapenet.h, pc_shapes.h) fill one through pc_set_fill, which reads the files in
// parallel (OpenMP) and reports the first failing file in index order, so the error
// does not depend on the thread count.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/pc_augment.h"
#include "datasets/pc_cloud.h"

typedef struct {
    int64_t n;           // clouds
    int64_t P;           // points per cloud
    int64_t C;           // values per point: 3 (x, y, z) or 6 (with the normals)
    real *points;        // [n, P, C]
    int32_t *labels;     // [n] classes in [0, num_classes)
    int32_t *parts;      // [n, P] per-point labels (ShapeNetPart), or NULL
    int32_t num_parts;   // part ids are 0..num_parts-1 (with parts)
    int32_t *part_range; // [num_classes, 2] each class's parts {first, count} (with parts)
    char **names;        // [n] sample names (ModelNet ids, file names), owned
    int32_t num_classes;
    char **class_names;  // [num_classes], owned
} pc_set;

void pc_set_free(pc_set *s);

// How a raw cloud becomes a set member.
typedef struct {
    int64_t num_points;  // P
    pc_sampling sampling;
    int normals;         // 1: keep nx, ny, nz (C = 6; a cloud without them is an error)
    int normalize;       // 1: centre and scale to the unit sphere (pc_normalize)
    uint64_t seed;       // random sampling and mesh sampling: cloud i draws from
                         // pc_prep_key(seed, i)
} pc_prep;

// The key of cloud i's random choices at load time.
uint64_t pc_prep_key(uint64_t seed, int64_t i);

// Allocates n clouds of o->num_points points; names, labels (and parts when with_parts)
// zeroed. Class names are set apart (pc_set_class_names).
ssm_code pc_set_alloc(pc_set *s, int64_t n, const pc_prep *o, int with_parts, ssm_error *err);

// Copies k class names.
ssm_code pc_set_class_names(pc_set *s, char *const *names, int32_t k, ssm_error *err);
// A generated set's labels and names: cloud i is of class i / per_class and named
// "<class>_<NNNN>" (ModelNet's spelling), numbered from 1 within its class.
ssm_code pc_set_label_by_class(pc_set *s, int64_t per_class, ssm_error *err);
// Renames a set labelled by pc_set_label_by_class "<class>_<NNNN>" numbered from after + 1
// within its class: the test split of a generated set written beside its training split
// (after = the training shapes per class), so that no file of one overwrites the other's.
ssm_code pc_set_number_after(pc_set *s, int64_t per_class, int64_t after, ssm_error *err);
// The index of a class name, or -1.
int32_t pc_set_find_class(const pc_set *s, const char *name);

// Reads cloud i (a file, a mesh surface sample, an HDF5 row) into *raw; called from
// several threads at once for different i. key = pc_prep_key(o->seed, i).
typedef ssm_code (*pc_load_fn)(void *ctx, int64_t i, uint64_t key, pc_cloud *raw,
                               ssm_error *err);

// For i in i0..i1-1 in parallel: load, sample to P points, keep C channels, normalise,
// store (labels and names are the caller's). A cloud whose part labels are wanted
// (s->parts) must come with them.
ssm_code pc_set_fill(pc_set *s, const pc_prep *o, int64_t i0, int64_t i1, pc_load_fn load,
                     void *ctx, ssm_error *err);
