// defines: pc_sampling, pc_sample, pc_normalize, pc_augment, pc_augment_apply,
//          PC_UP_AXIS
// From a cloud as read to the cloud a model sees: sampling to a fixed number of points,
// normalisation (PointNet's pc_normalize), and the training augmentations of the point
// recipes, each random choice a pure function of the sample's key (datasets/augment.h's
// ssm_augment_key), so a batch does not depend on threads, prefetching or resumes.
// Points are rows [x, y, z, (nx, ny, nz)]; y is up (ModelNet, ScanObjectNN, ShapeNetPart
// and the generated shapes all stand on the x-z plane).
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "datasets/pc_cloud.h"

#define PC_UP_AXIS 1 // y

typedef enum {
    PC_SAMPLE_FPS = 0, // farthest point sampling from point 0 (kernels/pointops.h)
    PC_SAMPLE_RANDOM,  // a random subset drawn from the key
    PC_SAMPLE_FIRST,   // the first points of the file
} pc_sampling;

// out = num points of in (C and labels carried over). A cloud with fewer than num
// points is repeated: its points in the chosen order, then again from the start.
ssm_code pc_sample(pc_cloud *out, const pc_cloud *in, int64_t num, pc_sampling mode,
                   uint64_t key, ssm_error *err);

// Centre on the centroid and scale so that the farthest point is at distance 1
// (normals untouched). A cloud of one repeated point is only centred.
void pc_normalize(real *p, int64_t n, int64_t C);

typedef struct {
    int scale_translate; // Point-MAE / PointMamba PointcloudScaleAndTranslate: each axis
                         // scaled by U(2/3, 3/2), then shifted by U(-0.2, 0.2)
    int rotate_up;       // rotation about the up axis by U(0, 2 pi) (ScanObjectNN recipes)
    double jitter;       // sigma of a Gaussian jitter of x, y, z clipped to +-5 sigma
                         // (PointNet: 0.01, clip 0.05); 0 = off
    double dropout;      // PointNet++ random_point_dropout: a ratio r ~ U(0, dropout), each
                         // point dropped with probability r and replaced by the first
                         // point (so N stays fixed); 0 = off
} pc_augment;

// In place on p [n, C] (and label [n] when not NULL, moved with dropped points):
// dropout, rotation, scale and translation, jitter, in that order. Normals turn with
// the rotation and follow the anisotropic scale (n / s, renormalised).
void pc_augment_apply(real *p, int32_t *label, int64_t n, int64_t C, const pc_augment *a,
                      uint64_t key);
