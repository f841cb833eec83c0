// defines: fps_forward_cuda, knn_forward_cuda, KNN_CUDA_MAX_K, interp_weights_cuda,
//          interp_forward_cuda, interp_backward_cuda
// CUDA twins of kernels/pointops.h's FPS and kNN (same arguments, device pointers, an
// ssm_code result; kernels/cuda/common.h says how errors travel). They evaluate the CPU's
// distance expression with explicit round-to-nearest multiplies and adds (no FMA
// contraction), so they return the CPU's indices exactly, ties included, and the same
// bits on every run (no atomics).
//   fps_forward_cuda  one block of 512 threads per cloud: each pass updates the min
//                     distances (scratch [B, N] in device memory) and reduces the argmax
//                     (ties to the lowest index) through shared memory
//   knn_forward_cuda  one thread per query, its sorted k-list in local memory, the
//                     cloud's points staged through shared memory in tiles
//   interp_*_cuda     the inverse-distance interpolation (feature propagation): weights in
//                     double as the CPU; forward one thread per output value; backward a
//                     gather without atomics: a block per (cloud, a few source points)
//                     sweeps the cloud's (point, neighbour) entries in their order and sums
//                     the ones that name its points in shared memory, so the result is the
//                     same bits on every run (the CPU adds in the same entry order, straight
//                     into dfeat: the two differ by rounding only)
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"
#include "kernels/cuda/common.h"

#define KNN_CUDA_MAX_K 128

#ifdef __cplusplus
extern "C" {
#endif

ssm_code fps_forward_cuda(int32_t *idx, real *scratch, const real *xyz, int64_t B, int64_t N,
                          int64_t M, int64_t stride);
// k <= KNN_CUDA_MAX_K (SSM_EINVAL beyond).
ssm_code knn_forward_cuda(int32_t *idx, real *dist2, const real *query, int64_t qstride,
                          const real *ref, int64_t rstride, int64_t B, int64_t M, int64_t N,
                          int64_t k);
// The twins of interp_weights, interp_forward, interp_backward (kernels/pointops.h).
// interp_backward_cuda: C <= 11264 (its shared-memory sums; SSM_EINVAL beyond).
ssm_code interp_weights_cuda(real *w, const real *dist2, int64_t n, int64_t k);
ssm_code interp_forward_cuda(real *out, const real *feat, const int32_t *idx, const real *w,
                             int64_t B, int64_t N, int64_t M, int64_t C, int64_t k);
ssm_code interp_backward_cuda(real *dfeat, const real *dout, const int32_t *idx, const real *w,
                              int64_t B, int64_t N, int64_t M, int64_t C, int64_t k);

#ifdef __cplusplus
}
#endif
