// defines: pc_parts_load, pc_parts_write, pc_parts_mesh, PC_PARTS_CATEGORIES,
//          PC_PARTS_NUM_CATEGORIES, PC_PARTS_NUM_PARTS, PC_PARTS_RANGE, PC_PARTS_NAMES
// A seeded synthetic part-segmentation set for the demo config and the end-to-end tests,
// with no download, the twin of ShapeNetPart: four categories of objects made of parts,
// each a triangle mesh whose faces carry their part (pc_build.h), sampled by area so that
// every point has its part's label. Part ids are global, a range per category, as
// ShapeNetPart's:
//   table     0 top, 1 legs                 (a box or round top; four legs or a pedestal)
//   lamp      2 base, 3 pole, 4 shade       (a disk base, a thin pole, a cone shade)
//   chair     5 seat, 6 back, 7 legs, 8 arms  (arms on about half the chairs: a part absent
//                                           from a shape, as in ShapeNetPart)
//   airplane  9 body, 10 wings, 11 tail, 12 engines (two or four engines under the wings)
// Each shape draws its own proportions, then the generated shapes' deformation
// (pc_deform: scale, taper, twist, tilt, a rotation about the up axis y) and Gaussian
// surface noise (sigma 0.01). Shape i of a split is a pure function of (seed, split, i).
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "datasets/pc_cloud.h"
#include "datasets/pc_set.h"

#define PC_PARTS_NUM_CATEGORIES 4
#define PC_PARTS_NUM_PARTS 13
extern const char *const PC_PARTS_CATEGORIES[PC_PARTS_NUM_CATEGORIES];
extern const int32_t PC_PARTS_RANGE[PC_PARTS_NUM_CATEGORIES][2]; // {first part, count}
extern const char *const PC_PARTS_NAMES[PC_PARTS_NUM_PARTS];      // by global part id

// A shape of category cat (faces labelled with global part ids, before the noise).
ssm_code pc_parts_mesh(pc_mesh *m, int32_t cat, uint64_t key, ssm_error *err);

// per_class shapes of every category for split "train" or "test" (category-major ids
// `<category>_0001`, ...): raw_points surface samples each with their parts, then the
// prep's sampling and normalisation (o->seed is not used: the set's seed is `seed`).
// s->parts, part_range and num_parts are set.
ssm_code pc_parts_load(pc_set *s, int64_t per_class, int64_t raw_points, uint64_t seed,
                       const char *split, const pc_prep *o, ssm_error *err);

// Writes the set in ShapeNetPart's layout (pc_shapenet.h: synsetoffset2category.txt, the
// train / val (empty) / test JSON lists, `<synset>/<id>.txt` rows x y z nx ny nz part)
// with `points` points per shape, normalised to the unit sphere; ids `<category>_NNNN`, the
// test shapes numbered after the training ones (no file of one split overwrites the other).
ssm_code pc_parts_write(const char *dir, int64_t train_per_class, int64_t test_per_class,
                        int64_t points, uint64_t seed, ssm_error *err);
