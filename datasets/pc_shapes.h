// defines: pc_shapes_load, pc_shapes_write, PC_SHAPES_CLASSES, PC_SHAPES_NUM_CLASSES,
//          pc_shapes_mesh
// A seeded synthetic shape-classification set for the demo config and the end-to-end
// tests, with no download: ten classes of deformed primitives, each shape a triangle
// mesh sampled by area (pc_mesh_sample), like ModelNet's meshes. Each shape gets its own
// proportions (class parameters such as a torus's tube radius, a table's leg length),
// then a random anisotropic scale, a taper and a twist along the up axis (y), a tilt of
// up to 10 degrees, a rotation about y, and Gaussian surface noise (sigma 0.01 of the
// unit-sphere size). Classes are told apart by topology and
// parts, not by size or aspect (the recipes' scale augmentation changes those).
// Shape i of a split is a pure function of (seed, split, i): train and test draw from
// apart streams, so no test shape is a training shape.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "datasets/pc_cloud.h"
#include "datasets/pc_set.h"

#define PC_SHAPES_NUM_CLASSES 10
extern const char *const PC_SHAPES_CLASSES[PC_SHAPES_NUM_CLASSES];

// Shape i's mesh (class i % 10, before the surface noise) into m.
ssm_code pc_shapes_mesh(pc_mesh *m, int32_t cls, uint64_t key, ssm_error *err);

// per_class shapes of every class for split "train" or "test" (class-major ids
// `<class>_0001`, ...): raw_points surface samples each, then the prep's sampling
// and normalisation (o->seed is not used: the set's seed is `seed`).
ssm_code pc_shapes_load(pc_set *s, int64_t per_class, int64_t raw_points, uint64_t seed,
                        const char *split, const pc_prep *o, ssm_error *err);

// Writes the set in ModelNet's resampled layout (pc_modelnet.h, subset "shapes": files
// shapes_shape_names.txt, shapes_{train,test}.txt, <class>/<class>_NNNN.txt rows
// x,y,z,nx,ny,nz) with `points` points per shape, normalised to the unit sphere.
ssm_code pc_shapes_write(const char *dir, int64_t train_per_class, int64_t test_per_class,
                         int64_t points, uint64_t seed, ssm_error *err);
