// defines: CU_THREADS, cu_blocks, cu_sigmoid, cu_silu, cu_silu_grad, cu_softplus,
//          cu_softplus_grad, cu_warp_sum, cu_block_sum, cu_block_max, cu_bad_shape,
//          cu_colsum_kernel
// Device helpers shared by the CUDA twins of the small kernels (kernels/cuda/*.cu other than
// the scan): the numerically stable sigmoid family with the CPU's formulas (kernels/cpu_math.h),
// grid sizing for grid-stride loops, and reductions in a FIXED order (shuffle trees and
// one-thread-per-column sweeps), so every twin gives the same bits on every run: no atomics.
#pragma once
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/cuda/common.h"

#define CU_THREADS 256

// Blocks for a grid-stride loop over n items: enough to fill any current GPU many times
// over, capped so the count fits the launch limits; the loops cover the rest.
static inline unsigned cu_blocks(int64_t n, int threads) {
    int64_t b = (n + threads - 1) / threads;
    if (b > 65535 * 4)
        b = 65535 * 4;
    return (unsigned)(b < 1 ? 1 : b);
}

// Shape guard for the entry points: a negative size is the caller's bug (SSM_EINVAL).
#define cu_bad_shape(cond, ...)                                                          \
    do {                                                                                 \
        if (cond)                                                                        \
            return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__, __VA_ARGS__);          \
    } while (0)

// exp of a non-positive argument only, so neither branch overflows (as r_sigmoid).
__device__ __forceinline__ float cu_sigmoid(float x) {
    if (x >= 0.f)
        return 1.f / (1.f + expf(-x));
    float e = expf(x);
    return e / (1.f + e);
}
__device__ __forceinline__ float cu_silu(float x) { return x * cu_sigmoid(x); }
__device__ __forceinline__ float cu_silu_grad(float x) {
    float s = cu_sigmoid(x);
    return s * (1.f + x * (1.f - s));
}
// PyTorch's softplus: identity above 20.
__device__ __forceinline__ float cu_softplus(float x) { return x > 20.f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float cu_softplus_grad(float x) {
    return x > 20.f ? 1.f : cu_sigmoid(x);
}

template <typename T> __device__ __forceinline__ T cu_warp_sum(T v) {
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread.
// The order is fixed by the thread layout, so the result is the same bits on every run.
// sh: at least 32 T of shared memory; the function synchronizes before and after use.
template <typename T> __device__ T cu_block_sum(T v, T *sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = cu_warp_sum(v);
    __syncthreads(); // sh may still be read by an earlier call
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    T r = lane < nw ? sh[lane] : (T)0;
    return cu_warp_sum(r);
}

template <typename T> __device__ T cu_block_max(T v, T *sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1)
        v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0)
        sh[warp] = v;
    __syncthreads();
    T r = lane < nw ? sh[lane] : (T)-INFINITY;
    for (int o = 16; o > 0; o >>= 1)
        r = fmax(r, __shfl_xor_sync(0xffffffffu, r, o));
    return r;
}

// Column sums of a row-major [N, C] expression, deterministic and atomic-free: block
// (32, 32) owns 32 adjacent columns (coalesced rows); thread row ty sums rows ty, ty+32, ...
// in ascending order, then the 32 partials of a column are added in ascending ty. F is a
// functor: f(n, c, &a0, &a1) adds the two quantities of element (n, c) (e.g. dweight and
// dbias terms); out0/out1 (either may be NULL) get += the column totals.
template <typename F>
__global__ void cu_colsum_kernel(float *out0, float *out1, int64_t N, int64_t C, F f) {
    __shared__ float s0[32][33], s1[32][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t c = (int64_t)blockIdx.x * 32 + tx;
    float a0 = 0.f, a1 = 0.f;
    if (c < C)
        for (int64_t n = ty; n < N; n += 32)
            f(n, c, &a0, &a1);
    s0[ty][tx] = a0;
    s1[ty][tx] = a1;
    __syncthreads();
    if (ty == 0 && c < C) {
        float t0 = 0.f, t1 = 0.f;
        for (int k = 0; k < 32; k++)
            t0 += s0[k][tx], t1 += s1[k][tx];
        if (out0)
            out0[c] += t0;
        if (out1)
            out1[c] += t1;
    }
}
