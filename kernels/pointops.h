// defines: fps_forward, knn_forward, point_dist2, interp_weights, interp_forward,
//          interp_backward
// Point-cloud primitives (PointNet++ / Point-MAE grouping without pointnet2_ops or
// knn_cuda): farthest point sampling, k nearest neighbours and inverse-distance
// interpolation. A cloud is N rows of `stride` reals whose first three are x, y, z (the
// rest, normals or features, are skipped). Indices are int32 (a cloud holds < 2^31
// points). FPS and kNN have no gradient: their outputs are indices, i.e. data.
//
// Every distance is the squared Euclidean one computed as ((dx*dx + dy*dy) + dz*dz),
// dx = a.x - b.x, each product and sum rounded on its own (no fused multiply-add): the
// CUDA twins (kernels/cuda/pointops.h) evaluate the very same expression, so both
// devices pick the same points, ties included.
#pragma once
#include <stdint.h>

#include "core/real.h"

// Squared distance between the xyz of a and b, as every kernel here computes it.
static inline real point_dist2(const real *a, const real *b) {
    real dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    real dxx = dx * dx, dyy = dy * dy, dzz = dz * dz;
    real s = dxx + dyy;
    return s + dzz;
}

// Farthest point sampling with pointnet2_ops' deterministic start: idx[b, 0] = 0 and
// idx[b, m] = argmax over the points not yet taken of min_{j < m} dist2(p_i, p_idx[b, j]),
// ties to the lowest i. M <= N. Taken points are excluded (pointnet2_ops instead may
// repeat index 0 once every distance is 0), so idx never repeats even when the cloud has
// fewer than M distinct points: the rest are then taken lowest index first.
//   idx     [B, M]       chosen point indices, in the order chosen
//   scratch [B, N]       min distances (work space)
//   xyz     [B, N, stride]
// OpenMP over clouds (and over the points of a cloud when there are fewer clouds than
// threads).
void fps_forward(int32_t *idx, real *scratch, const real *xyz, int64_t B, int64_t N, int64_t M,
                 int64_t stride);

// The k nearest reference points of every query point, nearest first, ties to the lower
// index (a strict order: the result is unique).
//   idx   [B, M, k]      indices into the cloud's N reference points
//   dist2 [B, M, k]      their squared distances, or NULL (not wanted)
//   query [B, M, qstride], ref [B, N, rstride]; k <= N
// OpenMP over all B * M queries.
void knn_forward(int32_t *idx, real *dist2, const real *query, int64_t qstride, const real *ref,
                 int64_t rstride, int64_t B, int64_t M, int64_t N, int64_t k);

// PointNet++ feature propagation weights from kNN distances: w[i, j] = 1 / (d[i, j] +
// 1e-8) normalised to sum 1 over j (d = sqrt(dist2), as pointnet2's three_nn; the
// distances are data, so the weights carry no gradient).
//   w [n, k], dist2 [n, k]
void interp_weights(real *w, const real *dist2, int64_t n, int64_t k);

// Inverse-distance interpolation of features from M source points onto N target points:
//   out[b, i, c] = sum_j w[b, i, j] * feat[b, idx[b, i, j], c]
//   out [B, N, C], feat [B, M, C], idx [B, N, k] (into M), w [B, N, k]
void interp_forward(real *out, const real *feat, const int32_t *idx, const real *w, int64_t B,
                    int64_t N, int64_t M, int64_t C, int64_t k);
// dfeat[b, idx[b, i, j], c] += w[b, i, j] * dout[b, i, c] (accumulates; OpenMP over
// clouds, so the sums run in a fixed order).
void interp_backward(real *dfeat, const real *dout, const int32_t *idx, const real *w, int64_t B,
                     int64_t N, int64_t M, int64_t C, int64_t k);
