// defines: scan_fwd_pipe_kernel, scan_fwd_pipe_smem_bytes, scan_cp16, scan_cp16_zfill,
//          scan_cp_commit, scan_cp_wait, scan_smem_read, scan_softplus_nb, scan_silu_nb,
//          SCAN_PIPE_STAGES
// v5 of the state-split forward (docs/cuda-scan-notes.md): the same work split as
// scan_fwd_split_kernel (P lanes of a channel own 4 states each and run them sequentially
// over time), but every input of a tile (B, C of the group, delta, u, z of the warp's
// channels) arrives in shared memory by cp.async, SCAN_PIPE_STAGES - 1 tiles ahead. v4b
// stalled on an L2 round trip for B, C twice per 16-step tile (register prefetch did not fit
// under the 168-register cap); cp.async prefetches without registers. Each warp stages its
// own copy (B, C are shared by the block but staging them per warp keeps the warps
// independent: __syncwarp instead of __syncthreads, and 1 KB per tile of L2 reads).
// Needs 16-byte aligned rows (L * sizeof(T) % 16 == 0, aligned base pointers): the host
// falls back to scan_fwd_split_kernel otherwise. Then a 16-byte piece of a row is either
// wholly before L or wholly past it.
// v7: whole pieces only go through cp.async (the plain form, no src-size operand); a piece
// past L is zeroed by a plain shared-memory store. v5/v6 zero-filled it with the src-size
// form (kept as ZF for the diagnosis: the only instruction that differed between the shapes
// that failed on a device and those that passed; docs/cuda-scan-notes.md, v7).
#pragma once
#include "kernels/cuda/scan_split.cuh"

#define SCAN_PIPE_STAGES 3

// 16 bytes global -> shared, asynchronously; both addresses 16-byte aligned. CA: keep in L1
// (B, C are read by every warp of the multiprocessor's group).
template <bool CA> __device__ __forceinline__ void scan_cp16(void *smem, const void *g) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    if (CA)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(g) : "memory");
    else
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(g) : "memory");
}
// v5/v6's form: reads only `bytes` (< 16 at the row's end) and zero-fills the rest. ptxas
// lowers the register src-size to LDGSTS.ZFILL with the fill count added to the source
// address (its low 4 bits) and a predicate for src-size != 0 (read in the SASS of sm_90).
template <bool CA>
__device__ __forceinline__ void scan_cp16_zfill(void *smem, const void *g, int bytes) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    if (CA)
        asm volatile("cp.async.ca.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(g),
                     "r"(bytes)
                     : "memory");
    else
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(g),
                     "r"(bytes)
                     : "memory");
}
__device__ __forceinline__ void scan_cp_commit() {
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int NPEND> __device__ __forceinline__ void scan_cp_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(NPEND) : "memory");
}

// One 32-bit word of packed T as floats (fp32: one value; bf16: two, low half first) and back:
// bit operations on values, so no object is read through a pointer of another type.
__device__ __forceinline__ void scan_unpack(float *v, unsigned w, const float *) {
    v[0] = __uint_as_float(w);
}
__device__ __forceinline__ void scan_unpack(float *v, unsigned w, const __nv_bfloat16 *) {
    v[0] = __uint_as_float(w << 16);
    v[1] = __uint_as_float(w & 0xffff0000u);
}
__device__ __forceinline__ unsigned scan_pack(const float *v, const float *) {
    return __float_as_uint(v[0]);
}
__device__ __forceinline__ unsigned scan_pack(const float *v, const __nv_bfloat16 *) {
    return (unsigned)__bfloat16_as_ushort(__float2bfloat16(v[0])) |
           (unsigned)__bfloat16_as_ushort(__float2bfloat16(v[1])) << 16;
}

// M consecutive values of T from shared memory, in the widest loads the size allows
// (p is aligned to M * sizeof(T) when that is a power of two, by the layouts here).
template <typename T, int M>
__device__ __forceinline__ void scan_smem_read(float (&v)[M], const T *p) {
    constexpr int BYTES = M * (int)sizeof(T), EW = 4 / (int)sizeof(T); // values per word
    if constexpr (BYTES % 16 == 0) {
#pragma unroll
        for (int k = 0; k < BYTES / 16; k++) {
            const uint4 raw = reinterpret_cast<const uint4 *>(p)[k];
            const unsigned w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
            for (int i = 0; i < 4; i++)
                scan_unpack(v + (4 * k + i) * EW, w[i], p);
        }
    } else if constexpr (BYTES % 8 == 0) {
#pragma unroll
        for (int k = 0; k < BYTES / 8; k++) {
            const uint2 raw = reinterpret_cast<const uint2 *>(p)[k];
            scan_unpack(v + (2 * k) * EW, raw.x, p);
            scan_unpack(v + (2 * k + 1) * EW, raw.y, p);
        }
    } else if constexpr (BYTES % 4 == 0) {
#pragma unroll
        for (int k = 0; k < BYTES / 4; k++)
            scan_unpack(v + k * EW, reinterpret_cast<const unsigned *>(p)[k], p);
    } else {
#pragma unroll
        for (int j = 0; j < M; j++)
            v[j] = scan_ld(p + j);
    }
}

// M consecutive values to global memory in 4-, 8- or 16-byte stores (p aligned, all in
// range).
template <typename T, int M>
__device__ __forceinline__ void scan_vec_store(T *p, const float (&v)[M]) {
    constexpr int BYTES = M * (int)sizeof(T), EW = 4 / (int)sizeof(T);
    if constexpr (BYTES % 16 == 0) {
#pragma unroll
        for (int k = 0; k < BYTES / 16; k++)
            reinterpret_cast<uint4 *>(p)[k] =
                make_uint4(scan_pack(v + (4 * k) * EW, p), scan_pack(v + (4 * k + 1) * EW, p),
                           scan_pack(v + (4 * k + 2) * EW, p), scan_pack(v + (4 * k + 3) * EW, p));
    } else if constexpr (BYTES % 8 == 0) {
#pragma unroll
        for (int k = 0; k < BYTES / 8; k++)
            reinterpret_cast<uint2 *>(p)[k] =
                make_uint2(scan_pack(v + (2 * k) * EW, p), scan_pack(v + (2 * k + 1) * EW, p));
    } else if constexpr (BYTES % 4 == 0) {
#pragma unroll
        for (int k = 0; k < BYTES / 4; k++)
            reinterpret_cast<unsigned *>(p)[k] = scan_pack(v + k * EW, p);
    } else {
#pragma unroll
        for (int j = 0; j < M; j++)
            scan_st(p + j, v[j]);
    }
}

// v6: softplus and the z gate without branches. scan_softplus's log1pf and the IEEE
// reciprocal of scan_sigmoid each end a basic block (special-case branches), so the four
// values of a lane's quarter tile ran one after another (a serial ~30-op polynomial each).
// scan_softplus_nb is log1pf's own fast path, op for op (CUDA 12's sequence, read from the
// PTX: same constants, same rounding), which is exact for e = exp(x) in [0, 2^128); its
// special cases (e infinite or NaN, or <= -1) cannot occur for x <= 20, and NaN x returns x as
// before. Bit-identical to scan_softplus (checked against v5 in the lab).
__device__ __forceinline__ float scan_softplus_nb(float x) {
    const float e = __expf(x);
    const int ex = (__float_as_int(__fadd_rz(e, 1.f)) - 0x3f400000) & (int)0xff800000;
    const float m = __int_as_float(__float_as_int(e) - ex);
    const float s = __int_as_float(0x40800000 - ex);
    const float t = fmaf(0.25f, s, -1.f) + m;
    float p = fmaf(__int_as_float(0xBD39BF78), t, __int_as_float(0x3DD80012));
    p = fmaf(p, t, __int_as_float(0xBE0778E0));
    p = fmaf(p, t, __int_as_float(0x3E146475));
    p = fmaf(p, t, __int_as_float(0xBE2A68DD));
    p = fmaf(p, t, __int_as_float(0x3E4CAF9E));
    p = fmaf(p, t, __int_as_float(0xBE800042));
    p = fmaf(p, t, __int_as_float(0x3EAAAAE6));
    p = fmaf(p, t, __int_as_float(0xBF000000));
    const float q = t * p;
    float r = fmaf(q, t, t);
    r = fmaf((float)ex * __int_as_float(0x34000000), __int_as_float(0x3F317218), r);
    r = e == 0.f ? -0.f : r; // log1pf's sign rule at 0
    return x <= 20.f ? r : x;
}
// z * sigmoid(z) with the reciprocal's fast path only (MUFU.RCP and one Newton step: what
// rcp.rn does for a normal d; d = 1 + exp(-z) is >= 1, and infinite only for z < -88).
__device__ __forceinline__ float scan_silu_nb(float zv) {
    const float d = 1.f + __expf(-zv);
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(d));
    r = fmaf(fmaf(-d, r, 1.f), r, r);
    r = d == __int_as_float(0x7f800000) ? 0.f : r;
    return zv * r;
}

// Per warp and stage: rows of TS steps, [B: N][C: N][delta: CW][u: CW][z: CW] with CW = 32/P
// channels per warp. State n = 4 seg + k of B, C sits in row k P + seg: the P lanes of a
// channel then read adjacent rows (no bank conflicts on their 16-byte reads).
template <typename T, int P, int TS> struct ScanPipeLayout {
    static constexpr int N = SCAN_SPLIT_NS * P, CW = 32 / P, ROWS = 2 * N + 3 * CW;
    static constexpr int E = 16 / (int)sizeof(T), CR = TS / E; // 16-byte pieces per row
    static constexpr int STAGE = ROWS * TS;                    // elements of T
    static constexpr int PIECES = ROWS * CR, PER_LANE = (PIECES + 31) / 32;
};
template <typename T, int P, int TS> __host__ __device__ constexpr int scan_fwd_pipe_smem_bytes() {
    return SCAN_PIPE_STAGES * (SCAN_THREADS / 32) * ScanPipeLayout<T, P, TS>::STAGE *
           (int)sizeof(T);
}

// grid (nblk, G, B) as scan_fwd_split_kernel; dynamic shared memory scan_fwd_pipe_smem_bytes.
// Rows are indexed with int (the host checks L < 2^30).
// NB: v6 (branch-free softplus and gate, above); false: v5, kept for the lab's comparison.
// ZF: v5/v6's staging (src-size zero fill), for the diagnosis only (scan.cu: SSMKIT_SCAN_PIPE).
template <typename T, int P, int TS, bool NB = true, bool ZF = false>
__global__ void __launch_bounds__(SCAN_THREADS, 3) scan_fwd_pipe_kernel(ScanArgs a) {
    using LY = ScanPipeLayout<T, P, TS>;
    constexpr int CPB = SCAN_THREADS / P, NS = SCAN_SPLIT_NS, Q = TS / P, N = LY::N;
    constexpr int CW = LY::CW, E = LY::E, CR = LY::CR, S = SCAN_PIPE_STAGES;
    static_assert(TS % E == 0 && Q * P == TS, "tile must be whole 16-byte pieces per row");
    extern __shared__ uint4 smem_pipe[];
    const int tid = threadIdx.x, chl = tid / P, seg = tid % P, lane = tid & 31, warp = tid >> 5;
    const int chw = lane / P; // my channel within the warp
    T *wbase = reinterpret_cast<T *>(smem_pipe) + warp * S * LY::STAGE;
    const int64_t dl = (int64_t)blockIdx.x * CPB + chl;
    const bool valid = dl < a.dpg;
    const int64_t g = blockIdx.y, b = blockIdx.z;
    const int L = (int)a.L;
    const int64_t d = g * a.dpg + (valid ? dl : 0); // idle lanes shadow a real channel
    const int64_t row = (b * a.D + d) * (int64_t)L;
    const T *z = a.z ? (const T *)a.z + row : nullptr;
    float *cs = a.chunk_states && valid
                    ? (float *)a.chunk_states + (b * a.D + d) * a.n_chunks * N + seg * NS
                    : nullptr;
    const float Dd = a.Dskip ? ((const float *)a.Dskip)[d] : 0.f;
    const float bias = a.delta_bias ? ((const float *)a.delta_bias)[d] : 0.f;

    // The 16-byte pieces this lane stages every tile: source row start (step 0 of the piece's
    // column) and destination offset within a stage. Fixed over tiles: computed once.
    const T *src[LY::PER_LANE];
    int dsto[LY::PER_LANE], col[LY::PER_LANE];
#pragma unroll
    for (int j = 0; j < LY::PER_LANE; j++) {
        const int idx = lane + 32 * j, r = idx / CR, c = idx % CR;
        src[j] = nullptr;
        dsto[j] = r * TS + c * E;
        col[j] = c * E;
        if (idx >= LY::PIECES)
            continue;
        if (r < 2 * N) { // B or C, state n in row (n % 4) P + n / 4
            const int rr = r % N, n = (rr % P) * NS + rr / P;
            const T *base = (const T *)(r < N ? a.Bm : a.Cm);
            src[j] = base + ((b * a.G + g) * N + n) * (int64_t)L + c * E;
        } else {
            const int q = (r - 2 * N) / CW, ch = (r - 2 * N) % CW;
            const int64_t dlc = (int64_t)blockIdx.x * CPB + warp * CW + ch;
            const int64_t dc = g * a.dpg + (dlc < a.dpg ? dlc : 0);
            const void *bq = q == 0 ? a.delta : q == 1 ? a.u : a.z;
            src[j] = bq ? (const T *)bq + (b * a.D + dc) * (int64_t)L + c * E : nullptr;
        }
    }
    // A piece is wholly before L or wholly past it (rows of whole pieces: the host checks):
    // cp.async for the first, a plain zero store for the second (steps past L must read as
    // finite numbers: they run as identity steps, dt = 0, and are multiplied by 0).
    auto stage = [&](int t0, int buf) {
        T *dst = wbase + buf * LY::STAGE;
#pragma unroll
        for (int j = 0; j < LY::PER_LANE; j++) {
            if (!src[j])
                continue;
            const int left = L - t0 - col[j];
            const bool ca = j * 32 + lane < 2 * N * CR; // B, C
            if (ZF) {
                const int bytes = left >= E ? 16 : left > 0 ? left * (int)sizeof(T) : 0;
                const T *p = bytes ? src[j] + t0 : src[j] - col[j]; // a valid address when empty
                if (ca)
                    scan_cp16_zfill<true>(dst + dsto[j], p, bytes);
                else
                    scan_cp16_zfill<false>(dst + dsto[j], p, bytes);
            } else if (left > 0) {
                if (ca)
                    scan_cp16<true>(dst + dsto[j], src[j] + t0);
                else
                    scan_cp16<false>(dst + dsto[j], src[j] + t0);
            } else {
                *reinterpret_cast<uint4 *>(dst + dsto[j]) = make_uint4(0u, 0u, 0u, 0u);
            }
        }
    };

    float A2[NS], h[NS];
#pragma unroll
    for (int k = 0; k < NS; k++) {
        A2[k] = ((const float *)a.A)[d * N + seg * NS + k] * 1.4426950408889634f;
        h[k] = 0.f;
        if (cs)
            cs[k] = 0.f; // h before step 0
    }
#pragma unroll
    for (int s = 0; s < S - 1; s++) {
        if (s * TS < L)
            stage(s * TS, s);
        scan_cp_commit(); // empty groups too: the wait count below stays uniform
    }
    const int tiles_per_chunk = (int)(a.chunk / TS); // the host checks chunk % TS == 0
    int ck_count = 0, buf = 0;
    for (int t0 = 0; t0 < L; t0 += TS) {
        {
            const int tn = t0 + (S - 1) * TS, bn = buf == 0 ? S - 1 : buf - 1;
            if (tn < L)
                stage(tn, bn); // into the buffer read last tile (the warp synced after it)
            scan_cp_commit();
        }
        scan_cp_wait<S - 1>(); // this lane's pieces of tile t0 have landed
        __syncwarp();          // ... and every lane's
        const T *st = wbase + buf * LY::STAGE;
        const int lim = min(TS, L - t0);
        const int qlim = max(0, min(Q, lim - seg * Q));
        const int tq = t0 + seg * Q; // my own steps [tq, tq + qlim)
        float dq[Q], uq[Q], dtuq[Q];
        scan_smem_read<T, Q>(dq, st + (2 * N + chw) * TS + seg * Q);
        scan_smem_read<T, Q>(uq, st + (2 * N + CW + chw) * TS + seg * Q);
#pragma unroll
        for (int j = 0; j < Q; j++) {
            float v = dq[j] + bias;
            if (NB) {
                const float sp = scan_softplus_nb(v);
                v = a.softplus ? sp : v;
            } else {
                v = a.softplus ? scan_softplus(v) : v;
            }
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
        constexpr int HS = 8; // B, C in halves of a tile: fewer live registers
#pragma unroll
        for (int i0 = 0; i0 < TS; i0 += HS) {
            float bk[NS][HS], ck[NS][HS];
#pragma unroll
            for (int k = 0; k < NS; k++) {
                scan_smem_read<T, HS>(bk[k], st + (k * P + seg) * TS + i0);
                scan_smem_read<T, HS>(ck[k], st + (N + k * P + seg) * TS + i0);
            }
#pragma unroll
            for (int i = 0; i < HS; i++)
#pragma unroll
                for (int k = 0; k < NS; k++) {
                    h[k] = fmaf(scan_exp2(dt[i0 + i] * A2[k]), h[k], bk[k][i] * dtu[i0 + i]);
                    y[i0 + i] = fmaf(ck[k][i], h[k], y[i0 + i]);
                }
        }
        if (++ck_count == tiles_per_chunk) {
            ck_count = 0;
            if (cs && t0 + TS < L) {
                float *p = cs + (int64_t)((t0 + TS) / (int)a.chunk) * N;
#pragma unroll
                for (int k = 0; k < NS; k++)
                    p[k] = h[k];
            }
        }
        split_reduce<P, TS>(y, seg);
        float o[Q];
        {
            float zq[Q];
            if (z)
                scan_smem_read<T, Q>(zq, st + (2 * N + 2 * CW + chw) * TS + seg * Q);
#pragma unroll
            for (int j = 0; j < Q; j++) {
                o[j] = fmaf(Dd, uq[j], y[j]);
                if (z)
                    o[j] *= NB ? scan_silu_nb(zq[j]) : zq[j] * scan_sigmoid(zq[j]);
            }
        }
        __syncwarp(); // every lane is done with this buffer before it is staged again
        buf = buf == S - 1 ? 0 : buf + 1;
        if (valid) {
            T *op = (T *)a.out + row + tq;
            if (qlim == Q)
                scan_vec_store<T, Q>(op, o);
            else
#pragma unroll
                for (int j = 0; j < Q; j++)
                    if (j < qlim)
                        scan_st(op + j, o[j]);
        }
    }
    scan_cp_wait<0>(); // no copy may be in flight when the block exits
    if (a.last_state && valid) {
        float *p = (float *)a.last_state + (b * a.D + d) * N + seg * NS;
#pragma unroll
        for (int k = 0; k < NS; k++)
            p[k] = h[k]; // steps past L were identity steps
    }
}
