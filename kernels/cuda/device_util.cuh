// defines: CU_THREADS, cu_blocks, cu_sigmoid, cu_silu, cu_silu_grad, cu_softplus,
//          cu_softplus_grad, cu_warp_sum, cu_block_sum, cu_block_max, cu_bad_shape,
//          cu_colsum_kernel, cu_colsum_part_kernel, cu_colsum
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

// Column sums of a row-major [N, C] expression in one block per 32 columns (pass 2 of
// cu_colsum, and all of it for a few rows), deterministic and atomic-free: block
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

// Pass 1 of cu_colsum: block (32, CU_COLSUM_TY) owns 32 adjacent columns of row tile
// blockIdx.y (rows [y * rows, (y + 1) * rows)); thread row ty sums the tile's rows ty,
// ty + CU_COLSUM_TY, ... in ascending order, and the CU_COLSUM_TY partials of a column are
// added in ascending ty. part0/part1 [gridDim.y, C] get the tile's sums (=, not +=); part1
// may be NULL.
#define CU_COLSUM_TY 8
template <typename F>
__global__ void cu_colsum_part_kernel(float *part0, float *part1, int64_t N, int64_t C,
                                      int64_t rows, F f) {
    __shared__ float s0[CU_COLSUM_TY][33], s1[CU_COLSUM_TY][33];
    int tx = threadIdx.x, ty = threadIdx.y;
    int64_t c = (int64_t)blockIdx.x * 32 + tx;
    int64_t r0 = (int64_t)blockIdx.y * rows, r1 = r0 + rows < N ? r0 + rows : N;
    float a0 = 0.f, a1 = 0.f;
    if (c < C) {
#pragma unroll 4
        for (int64_t n = r0 + ty; n < r1; n += CU_COLSUM_TY)
            f(n, c, &a0, &a1);
    }
    s0[ty][tx] = a0;
    s1[ty][tx] = a1;
    __syncthreads();
    if (ty == 0 && c < C) {
        float t0 = 0.f, t1 = 0.f;
        for (int k = 0; k < CU_COLSUM_TY; k++)
            t0 += s0[k][tx], t1 += s1[k][tx];
        part0[(int64_t)blockIdx.y * C + c] = t0;
        if (part1)
            part1[(int64_t)blockIdx.y * C + c] = t1;
    }
}

// Pass 2's expression: the tiles' partials, read as rows.
struct CuPartCols {
    const float *p0, *p1; // [tiles, C]; p1 may be NULL
    int64_t C;
    __device__ void operator()(int64_t n, int64_t c, float *a0, float *a1) const {
        *a0 += p0[n * C + c];
        if (p1)
            *a1 += p1[n * C + c];
    }
};

// out0[c] += sum_n f's first term, out1[c] += its second (either may be NULL), for a
// row-major [N, C] expression f (see cu_colsum_kernel). Many rows: pass 1 spreads row tiles
// over blocks (about 64 rows a tile, at most 1024 tiles), partials go to the per-thread
// scratch (ssm_cuda_scratch), pass 2 adds them per column in ascending tile order. The tiling
// depends on (N, C) only, so a shape gives the same bits on every run. Few rows: one pass.
template <typename F>
static ssm_code cu_colsum(float *out0, float *out1, int64_t N, int64_t C, F f) {
    if (C <= 0 || N <= 0 || (!out0 && !out1))
        return SSM_OK;
    int64_t cg = (C + 31) / 32, nt = (N + 63) / 64;
    int64_t cap = 8192 / cg; // enough blocks to fill the GPU; pass 2 stays short
    cap = cap < 1 ? 1 : cap > 1024 ? 1024 : cap;
    nt = nt > cap ? cap : nt;
    if (nt <= 4 || cg > 0x7fffffff) {
        cu_colsum_kernel<<<(unsigned)cg, dim3(32, 32), 0, ssm_cuda_stream()>>>(out0, out1, N, C, f);
        CUDA_LAUNCH_CHECK("cu_colsum_kernel");
        return SSM_OK;
    }
    int64_t rows = (N + nt - 1) / nt;
    nt = (N + rows - 1) / rows; // no empty tile
    float *part;
    ssm_code rc = ssm_cuda_scratch((void **)&part, sizeof(float) * 2 * nt * C, SSM_SCRATCH_COLSUM);
    if (rc != SSM_OK)
        return rc;
    float *p1 = out1 ? part + nt * C : NULL;
    cu_colsum_part_kernel<<<dim3((unsigned)cg, (unsigned)nt), dim3(32, CU_COLSUM_TY), 0,
                            ssm_cuda_stream()>>>(part, p1, N, C, rows, f);
    CUDA_LAUNCH_CHECK("cu_colsum_part_kernel");
    CuPartCols g = {part, p1, C};
    cu_colsum_kernel<<<(unsigned)cg, dim3(32, 32), 0, ssm_cuda_stream()>>>(out0, out1, nt, C, g);
    CUDA_LAUNCH_CHECK("cu_colsum_kernel (pass 2)");
    return SSM_OK;
}
