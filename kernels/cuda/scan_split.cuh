// defines: scan_fwd_split_kernel, SCAN_SPLIT_NS, split_reduce (and the tile helpers shared
//          with the backward in scan_split_bwd.cuh)
// The "state-split" selective-scan kernels (v4, docs/cuda-scan-notes.md): instead of lanes
// splitting time (scan_kernels.cuh), the P lanes of a channel split the N = 4P states, and
// each lane runs its SCAN_SPLIT_NS = 4 states sequentially over the whole sequence:
//   h_k = a h_k + b per (t, k), four independent chains per thread, no scan, no re-run.
// Per (t, n) the forward is one exp2 and three fp32 ops (against about six plus the scan's
// shuffles in the time-split kernel). What the lanes of a channel share per step is small:
// dt and dt*u (computed once per step by one lane, broadcast), and y_t, du_t, ddt_t
// (summed over the lanes by a recursive-halving shuffle, which leaves lane `seg` owning
// steps [seg*M/P, (seg+1)*M/P) of an M-step tile). Needs B*D*P threads to fill the GPU, so
// kernels/cuda/scan.cu uses it only when there are enough channels (and N = 4P, chunk a
// multiple of 16); otherwise the time-split kernels run.
#pragma once
#include <type_traits> // std::true_type: the vector / guarded variants of a tile

#include "kernels/cuda/scan.h" // SCAN_CUDA_MAX_BWD_CHUNK
#include "kernels/cuda/scan_kernels.cuh"

#define SCAN_SPLIT_NS 4

// Sums v over the P lanes of a channel: on return v[0 .. M/P) holds the totals of steps
// seg*(M/P) + j. Halving: the highest lane bit first; each round a lane keeps the half its
// bit selects and adds the partner's copy of it. Fixed order: deterministic.
template <int BIT, int W, int M> struct SplitHalve {
    static __device__ __forceinline__ void run(float (&v)[M], int seg) {
        const bool hi = seg & BIT;
#pragma unroll
        for (int j = 0; j < W; j++) {
            const float send = hi ? v[j] : v[j + W];
            const float keep = hi ? v[j + W] : v[j];
            v[j] = keep + __shfl_xor_sync(0xffffffffu, send, BIT);
        }
        SplitHalve<BIT / 2, W / 2, M>::run(v, seg);
    }
};
template <int W, int M> struct SplitHalve<0, W, M> {
    static __device__ __forceinline__ void run(float (&)[M], int) {}
};
template <int P, int M> __device__ __forceinline__ void split_reduce(float (&v)[M], int seg) {
    static_assert(M % P == 0, "tile must split evenly over the lanes");
    SplitHalve<P / 2, M / 2, M>::run(v, seg);
}

// M consecutive values from p: 16-byte loads when FULL (caller checked range and alignment),
// else guarded scalar loads, zero past lim.
template <typename T, int M, bool FULL>
__device__ __forceinline__ void split_load(float (&v)[M], const T *p, int lim) {
    if (FULL) {
        constexpr int PER16 = 16 / sizeof(T);
        static_assert(M % PER16 == 0, "vector loads need whole 16-byte pieces");
#pragma unroll
        for (int k = 0; k < M / PER16; k++) {
            uint4 raw = __ldg(reinterpret_cast<const uint4 *>(p) + k);
            const T *e = reinterpret_cast<const T *>(&raw);
#pragma unroll
            for (int j = 0; j < PER16; j++)
                v[k * PER16 + j] = scan_ld(e + j);
        }
    } else {
#pragma unroll
        for (int i = 0; i < M; i++)
            v[i] = i < lim ? scan_ld(p + i) : 0.f;
    }
}

// M consecutive values of T from shared memory (p 16-byte aligned when M * sizeof(T) is a
// multiple of 16: the staged layouts guarantee it).
template <typename T, int M>
__device__ __forceinline__ void split_smem_read(float (&v)[M], const T *p) {
    if ((M * sizeof(T)) % 16 == 0) {
        constexpr int PER = 16 / sizeof(T);
#pragma unroll
        for (int k = 0; k < (int)(M * sizeof(T)) / 16; k++) {
            const uint4 raw = reinterpret_cast<const uint4 *>(p)[k];
            const T *e = reinterpret_cast<const T *>(&raw);
#pragma unroll
            for (int j = 0; j < PER; j++)
                v[k * PER + j] = scan_ld(e + j);
        }
    } else if ((M * sizeof(T)) % 8 == 0) {
        constexpr int PER = 8 / sizeof(T);
#pragma unroll
        for (int k = 0; k < (int)(M * sizeof(T)) / 8; k++) {
            const uint2 raw = reinterpret_cast<const uint2 *>(p)[k];
            const T *e = reinterpret_cast<const T *>(&raw);
#pragma unroll
            for (int j = 0; j < PER; j++)
                v[k * PER + j] = scan_ld(e + j);
        }
    } else {
#pragma unroll
        for (int j = 0; j < M; j++)
            v[j] = scan_ld(p + j);
    }
}

// --- forward ------------------------------------------------------------------------------
// grid (nblk, G, B) with nblk = ceil(dpg / (SCAN_THREADS / P)); no shared memory.
// TS steps per tile (16: the lanes' loads of B, C are 16-byte vectors).
// Three blocks per multiprocessor (<= 168 registers): the target shape has 384 blocks, one
// wave on 132 multiprocessors; at two blocks (230 registers unbounded) it took 1.5 waves.
// CH (the chunked path's last pass, scan_chunked.cuh): grid (nblk * n_tchunks, G, B), block
// x = k * nblk + channel block runs the steps [k tchunk, (k + 1) tchunk) of its channels from
// the state the carry pass left in chunk_states (its first checkpoint; 0 for k = 0), and
// leaves the checkpoint at its end to the next time chunk, which reads it.
// SEG: packed rows, a_t = 0 where a sequence starts (scan_seg.cuh); only with CH.
template <typename T, int P, int TS, bool CH = false, bool SEG = false>
__global__ void __launch_bounds__(SCAN_THREADS, 3) scan_fwd_split_kernel(ScanArgs a) {
    constexpr int CPB = SCAN_THREADS / P, NS = SCAN_SPLIT_NS, Q = TS / P;
    const int tid = threadIdx.x, chl = tid / P, seg = tid % P;
    const int64_t kc = CH ? blockIdx.x / a.nblk : 0; // time chunk
    const int64_t blk = CH ? blockIdx.x - kc * a.nblk : blockIdx.x;
    const int64_t t_beg = CH ? kc * a.tchunk : 0;
    const int64_t t_end = CH ? min(a.L, t_beg + a.tchunk) : a.L;
    const int64_t dl = blk * CPB + chl;
    const bool valid = dl < a.dpg;
    const int64_t g = blockIdx.y, b = blockIdx.z, N = a.N, L = a.L;
    const int64_t d = g * a.dpg + (valid ? dl : 0); // idle lanes shadow a real channel
    const int64_t row = (b * a.D + d) * L;
    const T *u = (const T *)a.u + row, *delta = (const T *)a.delta + row;
    const T *z = a.z ? (const T *)a.z + row : nullptr;
    const int64_t bcrow = ((b * a.G + g) * N + seg * NS) * L; // my first state's row of B, C
    const T *Bm = (const T *)a.Bm + bcrow, *Cm = (const T *)a.Cm + bcrow;
    float *cs = a.chunk_states && valid
                    ? (float *)a.chunk_states + (b * a.D + d) * a.n_chunks * N + seg * NS
                    : nullptr;
    const float Dd = a.Dskip ? ((const float *)a.Dskip)[d] : 0.f;
    const float bias = a.delta_bias ? ((const float *)a.delta_bias)[d] : 0.f;
    const bool vec_ok = ((uintptr_t)a.Bm % 16 == 0) && ((uintptr_t)a.Cm % 16 == 0) &&
                        (L * (int64_t)sizeof(T)) % 16 == 0;
    // CH: the carried state entering this time chunk (idle lanes read their shadow's)
    const float *cs_in =
        CH && kc > 0 ? (const float *)a.chunk_states + (b * a.D + d) * a.n_chunks * N +
                           (t_beg / a.chunk) * N + seg * NS
                     : nullptr;
    float A2[NS], h[NS];
#pragma unroll
    for (int k = 0; k < NS; k++) {
        A2[k] = ((const float *)a.A)[d * N + seg * NS + k] * 1.4426950408889634f;
        h[k] = cs_in ? cs_in[k] : 0.f;
        if (cs && !cs_in)
            cs[k] = 0.f; // h before step 0
    }
    // delta, u of the next tile are loaded a tile ahead, raw: a tile is short (64 (t, n) per
    // lane), and a DRAM round trip at its start cost more than its arithmetic (v4 -> v4b)
    T dnext[Q], unext[Q];
    auto prefetch = [&](int64_t t) {
        const int ql = (int)max((int64_t)0, min((int64_t)Q, t_end - t - seg * Q));
#pragma unroll
        for (int j = 0; j < Q; j++) {
            dnext[j] = j < ql ? delta[t + seg * Q + j] : T(0.f);
            unext[j] = j < ql ? u[t + seg * Q + j] : T(0.f);
        }
    };
    prefetch(t_beg);
    for (int64_t t0 = t_beg; t0 < t_end; t0 += TS) {
        const int lim = (int)min((int64_t)TS, t_end - t0);
        const int qlim = max(0, min(Q, lim - seg * Q));
        const int64_t tq = t0 + seg * Q; // my own steps [tq, tq + qlim)
        float dq[Q], dtuq[Q], uq[Q];
        T zq[Q];
#pragma unroll
        for (int j = 0; j < Q; j++) {
            dq[j] = scan_ld(&dnext[j]);
            uq[j] = scan_ld(&unext[j]);
            zq[j] = z && j < qlim ? z[tq + j] : T(0.f);
        }
        if (t0 + TS < t_end)
            prefetch(t0 + TS);
#pragma unroll
        for (int j = 0; j < Q; j++) {
            float v = dq[j] + bias;
            v = a.softplus ? scan_softplus(v) : v;
            dq[j] = j < qlim ? v : 0.f; // dt = 0 past L: a = 1, b = 0, the identity step
            dtuq[j] = dq[j] * uq[j];
        }
        float dt[TS], dtu[TS], y[TS];
#pragma unroll
        for (int i = 0; i < TS; i++) {
            dt[i] = P > 1 ? __shfl_sync(0xffffffffu, dq[i % Q], i / Q, P) : dq[i % Q];
            dtu[i] = P > 1 ? __shfl_sync(0xffffffffu, dtuq[i % Q], i / Q, P) : dtuq[i % Q];
            y[i] = 0.f;
        }
        const uint32_t starts = SEG ? scan_seg_starts(a.seg_offsets, a.n_segs, t0, lim) : 0u;
        auto steps = [&](auto full) {
            constexpr bool FULL = decltype(full)::value;
            constexpr int HS = 8; // B, C in halves of a tile: fewer live registers
#pragma unroll
            for (int i0 = 0; i0 < TS; i0 += HS) {
                float bk[NS][HS], ck[NS][HS];
#pragma unroll
                for (int k = 0; k < NS; k++) {
                    split_load<T, HS, FULL>(bk[k], Bm + k * L + t0 + i0, lim - i0);
                    split_load<T, HS, FULL>(ck[k], Cm + k * L + t0 + i0, lim - i0);
                }
#pragma unroll
                for (int i = 0; i < HS; i++)
#pragma unroll
                    for (int k = 0; k < NS; k++) {
                        float at = scan_exp2(dt[i0 + i] * A2[k]);
                        if (SEG && (starts >> (i0 + i) & 1u))
                            at = 0.f;
                        h[k] = fmaf(at, h[k], bk[k][i] * dtu[i0 + i]);
                        y[i0 + i] = fmaf(ck[k][i], h[k], y[i0 + i]);
                    }
            }
        };
        if (vec_ok && lim == TS)
            steps(std::true_type{});
        else
            steps(std::false_type{});
        if (cs && t0 + TS < t_end && (t0 + TS) % a.chunk == 0) {
            float *p = cs + ((t0 + TS) / a.chunk) * N;
#pragma unroll
            for (int k = 0; k < NS; k++)
                p[k] = h[k];
        }
        split_reduce<P, TS>(y, seg);
        if (valid) {
#pragma unroll
            for (int j = 0; j < Q; j++) {
                if (j < qlim) {
                    float o = fmaf(Dd, uq[j], y[j]);
                    if (z) {
                        const float zz = scan_ld(&zq[j]);
                        o *= zz * scan_sigmoid(zz);
                    }
                    scan_st((T *)a.out + row + tq + j, o);
                }
            }
        }
    }
    if (a.last_state && valid && t_end == L) {
        float *p = (float *)a.last_state + (b * a.D + d) * N + seg * NS;
#pragma unroll
        for (int k = 0; k < NS; k++)
            p[k] = h[k]; // steps past L were identity steps
    }
}
