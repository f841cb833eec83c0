// defines: scan_fwd_csum_kernel, scan_bwd_csum_kernel, scan_fwd_carry_kernel,
//          scan_bwd_carry_kernel
// The chunked selective scan (docs/cuda-scan-notes.md, "The chunked path"): for few channels
// and long sequences (B = 1, D = 2048, L = 65536: 2048 channels cannot fill an H100, and one
// block walks the whole row) the row is cut into K time chunks of `tchunk` steps, run in
// parallel in three passes:
//   1. summary: each time chunk from a zero state: the state at its end E_k and the decay
//      over it, P_k = prod_t a_t = exp2(A log2e sum_t dt_t) (0 if a packed sequence starts
//      in it) per (b, d, n);
//   2. carry: sequential over the chunks, parallel over (b, d, n): H_{k+1} = P_k H_k + E_k;
//   3. the state-split kernels (scan_split*.cuh, CH instances) re-run every time chunk from
//      its true entering state.
// The backward is the same in reverse time: the adjoint G flowing into step t-1,
// G <- a_t (C_t dy_t + G), depends on dy = dout SiLU(z) and not on the states, so pass 1 runs
// it over each time chunk from zero (E_k) with the same decay P_k, pass 2 carries it from the
// last chunk to the first, and pass 3 is the state-split backward of each time chunk started
// from its carried adjoint, its checkpoints being the forward's. Sums over time (dA, dD,
// ddelta_bias per time chunk, dB and dC per block) are reduced afterwards in a fixed order:
// deterministic, no atomics.
//
// The forward keeps its carries in chunk_states (no workspace in its signature): with
// R = tchunk / chunk >= 2 checkpoints per time chunk, pass 1 of chunk k writes E_k to
// checkpoint (k + 1) R (the state at its end, where the carry will go) and P_k to checkpoint
// (k + 1) R - 1 (one of its own interior checkpoints, which pass 3 overwrites); pass 2
// replaces E_k by H_{k+1} in place; pass 3 of chunk k reads checkpoint k R and writes only
// its interior ones. No checkpoint is read and written by two blocks of one pass.
// The backward's carries go to the workspace, [K][B, D, N] each for E and P.
#pragma once
#include "kernels/cuda/scan_split_bwd.cuh"

// --- pass 1, forward: the end state of time chunk k < K - 1 from zero, and its decay -------
// grid ((K - 1) * nblk, G, B); the lane split of scan_fwd_split_kernel without C, y, out.
template <typename T, int P, bool SEG>
__global__ void __launch_bounds__(SCAN_THREADS) scan_fwd_csum_kernel(ScanArgs a) {
    constexpr int CPB = SCAN_THREADS / P, NS = SCAN_SPLIT_NS, TS = SCAN_ITEMS, Q = TS / P;
    const int tid = threadIdx.x, chl = tid / P, seg = tid % P;
    const int64_t kc = blockIdx.x / a.nblk, blk = blockIdx.x - kc * a.nblk;
    const int64_t t_beg = kc * a.tchunk, t_end = min(a.L, t_beg + a.tchunk);
    const int64_t dl = blk * CPB + chl;
    const bool valid = dl < a.dpg;
    const int64_t g = blockIdx.y, b = blockIdx.z, N = a.N, L = a.L;
    const int64_t d = g * a.dpg + (valid ? dl : 0); // idle lanes shadow a real channel
    const int64_t row = (b * a.D + d) * L;
    const T *u = (const T *)a.u + row, *delta = (const T *)a.delta + row;
    const T *Bm = (const T *)a.Bm + ((b * a.G + g) * N + seg * NS) * L;
    const float bias = a.delta_bias ? ((const float *)a.delta_bias)[d] : 0.f;
    const bool vec_ok = (uintptr_t)a.Bm % 16 == 0 && (L * (int64_t)sizeof(T)) % 16 == 0;
    float A2[NS], h[NS];
#pragma unroll
    for (int k = 0; k < NS; k++) {
        A2[k] = ((const float *)a.A)[d * N + seg * NS + k] * 1.4426950408889634f;
        h[k] = 0.f;
    }
    float sdt = 0.f;   // dt summed over this lane's own steps
    uint32_t any = 0u; // a sequence starts in the time chunk
    T dnext[Q], unext[Q]; // a tile ahead, as in scan_fwd_split_kernel
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
        float dq[Q], dtuq[Q];
#pragma unroll
        for (int j = 0; j < Q; j++) {
            dq[j] = scan_ld(&dnext[j]);
            dtuq[j] = scan_ld(&unext[j]);
        }
        if (t0 + TS < t_end)
            prefetch(t0 + TS);
#pragma unroll
        for (int j = 0; j < Q; j++) {
            float v = dq[j] + bias;
            v = a.softplus ? scan_softplus(v) : v;
            dq[j] = j < qlim ? v : 0.f; // dt = 0 past the end: the identity step
            dtuq[j] *= dq[j];
            sdt += dq[j];
        }
        float dt[TS], dtu[TS];
#pragma unroll
        for (int i = 0; i < TS; i++) {
            dt[i] = P > 1 ? __shfl_sync(0xffffffffu, dq[i % Q], i / Q, P) : dq[i % Q];
            dtu[i] = P > 1 ? __shfl_sync(0xffffffffu, dtuq[i % Q], i / Q, P) : dtuq[i % Q];
        }
        const uint32_t starts = SEG ? scan_seg_starts(a.seg_offsets, a.n_segs, t0, lim) : 0u;
        any |= starts;
        auto steps = [&](auto full) {
            constexpr bool FULL = decltype(full)::value;
            constexpr int HS = 8;
#pragma unroll
            for (int i0 = 0; i0 < TS; i0 += HS) {
                float bk[NS][HS];
#pragma unroll
                for (int k = 0; k < NS; k++)
                    split_load<T, HS, FULL>(bk[k], Bm + k * L + t0 + i0, lim - i0);
#pragma unroll
                for (int i = 0; i < HS; i++)
#pragma unroll
                    for (int k = 0; k < NS; k++) {
                        float at = scan_exp2(dt[i0 + i] * A2[k]);
                        if (SEG && (starts >> (i0 + i) & 1u))
                            at = 0.f;
                        h[k] = fmaf(at, h[k], bk[k][i] * dtu[i0 + i]);
                    }
            }
        };
        if (vec_ok && lim == TS)
            steps(std::true_type{});
        else
            steps(std::false_type{});
    }
    // the chunk's sum of dt: a butterfly over the lanes gives every lane the same bits
#pragma unroll
    for (int off = 1; off < P; off <<= 1)
        sdt += __shfl_xor_sync(0xffffffffu, sdt, off, P);
    if (valid) {
        float *cs = (float *)a.chunk_states + (b * a.D + d) * a.n_chunks * N + seg * NS;
        const int64_t c1 = (kc + 1) * (a.tchunk / a.chunk); // the checkpoint at the chunk's end
#pragma unroll
        for (int k = 0; k < NS; k++) {
            cs[c1 * N + k] = h[k];
            cs[(c1 - 1) * N + k] = any ? 0.f : scan_exp2(A2[k] * sdt);
        }
    }
}

// --- pass 1, backward: the adjoint leaving time chunk k >= 1 at its start, from zero -------
// grid ((K - 1) * nblk, G, B), block x = (k - 1) * nblk + channel block. Writes E_k and P_k
// to E, Pr [K][B, D, N].
template <typename T, int P, bool SEG>
__global__ void __launch_bounds__(SCAN_THREADS) scan_bwd_csum_kernel(ScanArgs a, float *E,
                                                                     float *Pr) {
    constexpr int CPB = SCAN_THREADS / P, NS = SCAN_SPLIT_NS, TS = SCAN_ITEMS, Q = TS / P;
    const int tid = threadIdx.x, chl = tid / P, seg = tid % P;
    const int64_t kc = blockIdx.x / a.nblk + 1, blk = blockIdx.x - (kc - 1) * a.nblk;
    const int64_t t_beg = kc * a.tchunk, t_end = min(a.L, t_beg + a.tchunk);
    const int64_t dl = blk * CPB + chl;
    const bool valid = dl < a.dpg;
    const int64_t g = blockIdx.y, b = blockIdx.z, N = a.N, L = a.L;
    const int64_t d = g * a.dpg + (valid ? dl : 0);
    const int64_t row = (b * a.D + d) * L;
    const T *delta = (const T *)a.delta + row, *dout = (const T *)a.dout + row;
    const T *z = a.z ? (const T *)a.z + row : nullptr;
    const T *Cm = (const T *)a.Cm + ((b * a.G + g) * N + seg * NS) * L;
    const float bias = a.delta_bias ? ((const float *)a.delta_bias)[d] : 0.f;
    const bool vec_ok = (uintptr_t)a.Cm % 16 == 0 && (L * (int64_t)sizeof(T)) % 16 == 0;
    float A2[NS], G_[NS];
#pragma unroll
    for (int k = 0; k < NS; k++) {
        A2[k] = ((const float *)a.A)[d * N + seg * NS + k] * 1.4426950408889634f;
        G_[k] = 0.f;
    }
    float sdt = 0.f;
    uint32_t any = 0u;
    const int nt = (int)((t_end - t_beg + TS - 1) / TS);
    T dnext[Q], gnext[Q], znext[Q]; // delta, dout, z of the next tile (earlier in time)
    auto prefetch = [&](int64_t t) {
        const int ql = (int)max((int64_t)0, min((int64_t)Q, t_end - t - seg * Q));
#pragma unroll
        for (int j = 0; j < Q; j++) {
            dnext[j] = j < ql ? delta[t + seg * Q + j] : T(0.f);
            gnext[j] = j < ql ? dout[t + seg * Q + j] : T(0.f);
            znext[j] = z && j < ql ? z[t + seg * Q + j] : T(0.f);
        }
    };
    prefetch(t_beg + (int64_t)(nt - 1) * TS);
    for (int it = nt - 1; it >= 0; it--) {
        const int64_t t0 = t_beg + (int64_t)it * TS;
        const int lim = (int)min((int64_t)TS, t_end - t0);
        const int qlim = max(0, min(Q, lim - seg * Q));
        float dq[Q], dyq[Q], zq[Q];
#pragma unroll
        for (int j = 0; j < Q; j++) {
            dq[j] = scan_ld(&dnext[j]);
            dyq[j] = scan_ld(&gnext[j]);
            zq[j] = scan_ld(&znext[j]);
        }
        if (it > 0)
            prefetch(t0 - TS);
#pragma unroll
        for (int j = 0; j < Q; j++) {
            float v = dq[j] + bias;
            v = a.softplus ? scan_softplus(v) : v;
            dq[j] = j < qlim ? v : 0.f;
            sdt += dq[j];
            float dyv = dyq[j];
            if (z) { // dy = dout SiLU(z), as the state-split backward forms it
                const float sg = scan_sigmoid(zq[j]);
                dyv = dyv * zq[j] * sg;
            }
            dyq[j] = j < qlim ? dyv : 0.f;
        }
        float dt[TS], dy[TS];
#pragma unroll
        for (int i = 0; i < TS; i++) {
            dt[i] = P > 1 ? __shfl_sync(0xffffffffu, dq[i % Q], i / Q, P) : dq[i % Q];
            dy[i] = P > 1 ? __shfl_sync(0xffffffffu, dyq[i % Q], i / Q, P) : dyq[i % Q];
        }
        const uint32_t starts = SEG ? scan_seg_starts(a.seg_offsets, a.n_segs, t0, lim) : 0u;
        any |= starts;
        auto steps = [&](auto full) {
            constexpr bool FULL = decltype(full)::value;
            constexpr int HS = 8;
#pragma unroll
            for (int i0 = TS - HS; i0 >= 0; i0 -= HS) {
                float ck[NS][HS];
#pragma unroll
                for (int k = 0; k < NS; k++)
                    split_load<T, HS, FULL>(ck[k], Cm + k * L + t0 + i0, lim - i0);
#pragma unroll
                for (int i = HS - 1; i >= 0; i--)
#pragma unroll
                    for (int k = 0; k < NS; k++) {
                        float at = scan_exp2(dt[i0 + i] * A2[k]);
                        if (SEG && (starts >> (i0 + i) & 1u))
                            at = 0.f;
                        G_[k] = at * fmaf(ck[k][i], dy[i0 + i], G_[k]);
                    }
            }
        };
        if (vec_ok && lim == TS)
            steps(std::true_type{});
        else
            steps(std::false_type{});
    }
#pragma unroll
    for (int off = 1; off < P; off <<= 1)
        sdt += __shfl_xor_sync(0xffffffffu, sdt, off, P);
    if (valid) {
        const int64_t o = (kc * a.B * a.D + b * a.D + d) * N + seg * NS;
#pragma unroll
        for (int k = 0; k < NS; k++) {
            E[o + k] = G_[k];
            Pr[o + k] = any ? 0.f : scan_exp2(A2[k] * sdt);
        }
    }
}

// --- pass 2 ---------------------------------------------------------------------------------
// One thread per (b, d, n), sequential over the time chunks; the loads of U chunks are issued
// before the U dependent steps (K is up to ~1000: one DRAM trip per step would dominate).
#define SCAN_CARRY_UNROLL 8

// Forward: checkpoint (k + 1) R holds E_k and (k + 1) R - 1 holds P_k (pass 1); replaces E_k
// by H_{k+1} = P_k H_k + E_k, H_0 = 0. cs: chunk_states [BD, n_chunks, N].
static __global__ void scan_fwd_carry_kernel(float *cs, int64_t BD, int64_t N, int64_t n_chunks,
                                             int64_t K, int64_t R) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= BD * N)
        return;
    float *p = cs + (i / N) * n_chunks * N + i % N;
    float H = 0.f;
    for (int64_t k0 = 0; k0 < K - 1; k0 += SCAN_CARRY_UNROLL) {
        float e[SCAN_CARRY_UNROLL], pr[SCAN_CARRY_UNROLL];
#pragma unroll
        for (int j = 0; j < SCAN_CARRY_UNROLL; j++) {
            const int64_t k = k0 + j;
            e[j] = k < K - 1 ? p[(k + 1) * R * N] : 0.f;
            pr[j] = k < K - 1 ? p[((k + 1) * R - 1) * N] : 0.f;
        }
#pragma unroll
        for (int j = 0; j < SCAN_CARRY_UNROLL; j++) {
            const int64_t k = k0 + j;
            if (k < K - 1) {
                H = fmaf(pr[j], H, e[j]);
                p[(k + 1) * R * N] = H;
            }
        }
    }
}

// Backward: E[k], Pr[k] ([K][BDN], k >= 1, pass 1) -> E[k] = the adjoint entering time chunk
// k from its right: 0 for the last, G_{k-1} = P_k G_k + E_k.
static __global__ void scan_bwd_carry_kernel(float *E, const float *Pr, int64_t BDN, int64_t K) {
    const int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i >= BDN)
        return;
    float G = 0.f;
    for (int64_t k0 = K - 1; k0 >= 1; k0 -= SCAN_CARRY_UNROLL) {
        float e[SCAN_CARRY_UNROLL], pr[SCAN_CARRY_UNROLL];
#pragma unroll
        for (int j = 0; j < SCAN_CARRY_UNROLL; j++) {
            const int64_t k = k0 - j;
            e[j] = k >= 1 ? E[k * BDN + i] : 0.f;
            pr[j] = k >= 1 ? Pr[k * BDN + i] : 0.f;
        }
#pragma unroll
        for (int j = 0; j < SCAN_CARRY_UNROLL; j++) {
            const int64_t k = k0 - j;
            if (k >= 1) {
                E[k * BDN + i] = G;
                G = fmaf(pr[j], G, e[j]);
            }
        }
    }
    E[i] = G;
}
