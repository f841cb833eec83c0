// defines: lab_v2::conv_fwd, lab_v2::conv_bwd (the conv1d lab's version 2, see
//          bench/conv_norm_cuda.cu)
// conv1d v2 as first written (commit after a1dbbdb on branch cukern): blocks over (channel,
// chunks of the flattened batch x time) with x staged in shared memory, dw/dbias partials per
// block, then a fixed-order sum. Measured on an H100 at x [128, 384, 197]: fwd 0.078 ms,
// bwd 0.205 ms (26% of a copy's bandwidth): each thread had one load in flight at a time
// (the staging loop stores each value before loading the next, and dx's read-modify-write
// cannot be hoisted past the previous store), which v3 (kernels/cuda/conv1d.cu) fixes.
#pragma once
#include "kernels/cuda/device_util.cuh"

namespace lab_v2 {
#define THREADS 256
#define PER 4                   // steps per thread per chunk
#define CHUNK (THREADS * PER)   // flattened steps per chunk
#define TAPS 8                  // dw taps accumulated in registers per pass (generic K)
#define MAX_PARTS 256           // backward blocks per channel: bounds the scratch and pass 2

// xs[j] = x at flattened step f0 + j of channel c (0 outside [0, BL)), j < n
template <typename I>
__device__ __forceinline__ void stage_x(float *xs, const float *x, I f0, int n, I BL, I L,
                                        int64_t C, int64_t c) {
    for (int j = threadIdx.x; j < n; j += THREADS) {
        I f = f0 + j;
        float v = 0.f;
        if (f >= 0 && f < BL) {
            I b = f / L;
            v = x[((int64_t)b * C + c) * L + (f - b * L)];
        }
        xs[j] = v;
    }
}

// Pre-activation at step t of a row: bias + sum_k w[k] x[t - (K-1) + k], taps before the row
// start skipped; xw[k] = x at t - (K-1) + k. The order (bias, then k ascending) is the CPU's.
template <typename I>
__device__ __forceinline__ float pre_at(const float *xw, const float *ws, float b, I t, int K) {
    float acc = b;
    I k0 = (I)(K - 1) - t;
    for (int k = k0 > 0 ? (int)k0 : 0; k < K; k++)
        acc += ws[k] * xw[k];
    return acc;
}

// KC: the filter width when known at compile time (4, Mamba's), else 0 (K at run time).
template <typename I, int KC>
__global__ void k_conv_fwd(float *out, const float *x, const float *w, const float *bias, I BL,
                           int64_t C, I L, int Kr, int silu, I nchunks) {
    const int K = KC ? KC : Kr;
    extern __shared__ float sm[];
    float *ws = sm, *xs = sm + K; // [K], [CHUNK + K - 1]: x at i0 - (K-1) + j
    int64_t c = blockIdx.x;
    for (int k = threadIdx.x; k < K; k += THREADS)
        ws[k] = w[c * K + k];
    float b = bias ? bias[c] : 0.f;
    for (I p = blockIdx.y; p < nchunks; p += gridDim.y) {
        I i0 = p * CHUNK;
        __syncthreads(); // ws written; the previous chunk's readers are done
        stage_x(xs, x, i0 - (K - 1), CHUNK + K - 1, BL, L, C, c);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < PER; r++) {
            int i = threadIdx.x + r * THREADS;
            I f = i0 + i;
            if (f < BL) {
                I bb = f / L, t = f - bb * L;
                float acc = pre_at(xs + i, ws, b, t, K);
                out[((int64_t)bb * C + c) * L + t] = silu ? cu_silu(acc) : acc;
            }
        }
    }
}

// dpre = dout * silu'(pre) at step t (dout itself without SiLU)
template <typename I>
__device__ __forceinline__ float dpre_at(float g, const float *xw, const float *ws, float b, I t,
                                         int K, int silu) {
    return silu ? g * cu_silu_grad(pre_at(xw, ws, b, t, K)) : g;
}

// For each chunk (i0 = first flattened step):
//   xs[j]  = x at i0 - (K-1) + j,  j < CHUNK + 2(K-1)
//   dps[j] = dpre at i0 + j,       j < CHUNK + K - 1    (0 at or after B*L)
//   dx[i0+i] += sum_k w[k] dps[i + (K-1) - k]  over taps whose step stays in the row
//   dw[k]    += sum_i dps[i] xs[i + k]         over taps at or after the row start
//   dbias    += sum_i dps[i]
// Generic K > TAPS: dw in passes of TAPS taps (re-staging the chunks; dx in the first pass).
template <typename I, int KC>
__global__ void k_conv_bwd(float *dx, float *part, const float *dout, const float *x,
                           const float *w, const float *bias, I BL, int64_t C, I L, int Kr,
                           int silu, I nchunks, int sums) {
    const int K = KC ? KC : Kr;
    constexpr int NT = KC ? KC : TAPS; // taps per pass
    extern __shared__ float sm[];
    float *ws = sm;                        // [K]
    float *xs = ws + K;                    // [CHUNK + 2(K-1)]
    float *dps = xs + CHUNK + 2 * (K - 1); // [CHUNK + K - 1]
    __shared__ float red[THREADS / 32][NT + 1];
    int64_t c = blockIdx.x;
    int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    for (int k = tid; k < K; k += THREADS)
        ws[k] = w[c * K + k];
    float b = bias ? bias[c] : 0.f;
    float db = 0.f;
    for (int k0 = 0; k0 < K; k0 += NT) {
        int first = k0 == 0;
        if (!first && !sums)
            break;
        float acc[NT];
#pragma unroll
        for (int j = 0; j < NT; j++)
            acc[j] = 0.f;
        for (I p = blockIdx.y; p < nchunks; p += gridDim.y) {
            I i0 = p * CHUNK;
            __syncthreads(); // ws written; the previous chunk's readers are done
            stage_x(xs, x, i0 - (K - 1), CHUNK + 2 * (K - 1), BL, L, C, c);
            __syncthreads();
            I tr[PER];
            int64_t off[PER];
#pragma unroll
            for (int r = 0; r < PER; r++) {
                int j = tid + r * THREADS;
                I f = i0 + j;
                float d = 0.f;
                tr[r] = -1, off[r] = 0;
                if (f < BL) {
                    I bb = f / L, t = f - bb * L;
                    tr[r] = t, off[r] = ((int64_t)bb * C + c) * L + t;
                    d = dpre_at(dout[off[r]], xs + j, ws, b, t, K, silu);
                }
                dps[j] = d;
            }
            for (int j = CHUNK + tid; j < CHUNK + K - 1; j += THREADS) { // halo: next steps
                I f = i0 + j;
                float d = 0.f;
                if (f < BL) {
                    I bb = f / L, t = f - bb * L;
                    d = dpre_at(dout[((int64_t)bb * C + c) * L + t], xs + j, ws, b, t, K, silu);
                }
                dps[j] = d;
            }
            __syncthreads();
#pragma unroll
            for (int r = 0; r < PER; r++) {
                I t = tr[r];
                if (t < 0)
                    continue;
                int i = tid + r * THREADS;
                float d = dps[i];
                if (first) {
                    db += d;
                    if (dx) {
                        I rest = L - t; // steps t.. of this row: dps beyond them is another row
                        int kfirst = rest < (I)K ? K - (int)rest : 0;
                        float s = 0.f;
                        for (int k = kfirst; k < K; k++)
                            s += ws[k] * dps[i + (K - 1) - k];
                        dx[off[r]] += s;
                    }
                }
                if (sums) {
                    I kmin = (I)(K - 1) - t; // taps below reach before the row start
#pragma unroll
                    for (int j = 0; j < NT; j++)
                        if (k0 + j < K && (I)(k0 + j) >= kmin)
                            acc[j] += d * xs[i + k0 + j];
                }
            }
        }
        if (sums) {
#pragma unroll
            for (int j = 0; j < NT; j++) {
                float v = cu_warp_sum(acc[j]);
                if (lane == 0)
                    red[warp][j] = v;
            }
            float v = cu_warp_sum(db);
            if (lane == 0)
                red[warp][NT] = v;
            __syncthreads();
            int k = tid < NT ? k0 + tid : K; // slot K: dbias
            if (tid <= NT && k <= K && (tid < NT ? k < K : first)) {
                float s = 0.f;
                for (int wi = 0; wi < THREADS / 32; wi++)
                    s += red[wi][tid];
                part[(c * gridDim.y + blockIdx.y) * (K + 1) + k] = s;
            }
            __syncthreads(); // red is reused by the next pass
        }
    }
}

// dw[c, k] += sum_p part[c][p][k], dbias[c] += sum_p part[c][p][K], p ascending
__global__ void k_conv_sum_parts(float *dw, float *dbias, const float *part, int64_t C, int K,
                                 int nparts) {
    int64_t n = C * (K + 1);
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i / (K + 1);
        int k = (int)(i - c * (K + 1));
        const float *pp = part + c * nparts * (K + 1) + k;
        float s = 0.f;
        for (int p = 0; p < nparts; p++)
            s += pp[(int64_t)p * (K + 1)];
        if (k < K) {
            if (dw)
                dw[c * K + k] += s;
        } else if (dbias) {
            dbias[c] += s;
        }
    }
}


// part: [C, min(chunks, MAX_PARTS), K + 1] floats of device memory
static void conv_fwd(float *out, const float *x, const float *w, const float *bias, int64_t B,
                     int64_t C, int64_t L, int K) {
    int64_t BL = B * L, nch = (BL + CHUNK - 1) / CHUNK;
    unsigned gy = (unsigned)(nch < 65535 ? nch : 65535);
    size_t shmem = sizeof(float) * (K + CHUNK + K - 1);
    k_conv_fwd<int32_t, 4><<<dim3((unsigned)C, gy), THREADS, shmem>>>(
        out, x, w, bias, (int32_t)BL, C, (int32_t)L, K, 1, (int32_t)nch);
    CUDA_CHECK_ABORT(cudaGetLastError());
}
static int64_t parts_size(int64_t B, int64_t C, int64_t L, int K) {
    int64_t nch = (B * L + CHUNK - 1) / CHUNK;
    return C * (nch < MAX_PARTS ? nch : MAX_PARTS) * (K + 1);
}
static void conv_bwd(float *dx, float *dw, float *dbias, float *part, const float *dout,
                     const float *x, const float *w, const float *bias, int64_t B, int64_t C,
                     int64_t L, int K) {
    int64_t BL = B * L, nch = (BL + CHUNK - 1) / CHUNK;
    int nparts = (int)(nch < MAX_PARTS ? nch : MAX_PARTS);
    size_t shmem = sizeof(float) * (K + CHUNK + 2 * (K - 1) + CHUNK + K - 1);
    k_conv_bwd<int32_t, 4><<<dim3((unsigned)C, (unsigned)nparts), THREADS, shmem>>>(
        dx, part, dout, x, w, bias, (int32_t)BL, C, (int32_t)L, K, 1, (int32_t)nch, 1);
    CUDA_CHECK_ABORT(cudaGetLastError());
    k_conv_sum_parts<<<cu_blocks(C * (K + 1), CU_THREADS), CU_THREADS>>>(dw, dbias, part, C, K,
                                                                         nparts);
    CUDA_CHECK_ABORT(cudaGetLastError());
}
} // namespace lab_v2
