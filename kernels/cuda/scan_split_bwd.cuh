// defines: scan_bwd_split_kernel, scan_bwd_split_smem_floats
// The backward of the state-split selective scan (v4/v5, docs/cuda-scan-notes.md); the
// layout, the lane split of the states and the shared helpers are in scan_split.cuh.
#pragma once
#include "kernels/cuda/scan_split.cuh"

// --- backward -----------------------------------------------------------------------------
// Per checkpoint chunk (reverse order), in sub-tiles of SUB steps:
//   0. the chunk's dt, dt*u into shared memory (each lane computes every P-th step);
//   A. from chunk_states[c], run forward to each sub-tile's start, saving its state;
//   per sub-tile, last first:
//   B. re-run forward from the saved state, keeping h_t (SUB x 4 registers) and y_t; the
//      owner lanes form dy, dz, dD; dy goes to the other lanes by shuffles;
//   C. run the adjoint backward (a_t recomputed: a third exp per (t, n)), accumulating dA
//      per state, and per step sum_n g B and sum_n g a h A (summed over lanes, then du, ddt);
//      dB_t, dC_t of every (channel, n) go to shared memory, are summed over the block's
//      channels in channel order and written as one partial per block (as in scan_kernels).
template <int P, int SUB> __host__ __device__ constexpr int split_red_stride() {
    return SCAN_SPLIT_NS * P * SUB + 16; // channel stride = 16 words mod 32: two channels of
                                         // a quarter-warp's float4 stores fill all banks
}
// Steps per sub-tile of the state-split backward as the library runs it (v4: 8; 16 spills).
#define SCAN_SPLIT_SUB 8
#define SPLIT_CH_STRIDE 68 // 64 steps + 4: per-channel rows of dt, dt*u
// (SUB = 8, P = 4: 70.7 KB, three blocks per multiprocessor: the target shape's 384 blocks
// in one wave)
template <int P, int SUB> __host__ __device__ inline int64_t scan_bwd_split_smem_floats() {
    constexpr int CPB = SCAN_THREADS / P;
    return 2 * CPB * split_red_stride<P, SUB>()                    // dB | dC partials
           + (SCAN_CUDA_MAX_BWD_CHUNK / SUB) * SCAN_THREADS * SCAN_SPLIT_NS // sub-tile states
           + 2 * CPB * SPLIT_CH_STRIDE;                            // dt, dt*u
}
// v5 (STAGEBC): B, C of the chunk in shared memory as T, [B|C][row][SPLIT_BC_STRIDE], state
// n = 4 seg + k in row k P + seg; the row stride of 64 steps + 16 bytes puts the P lanes'
// 16-byte reads of one sub-tile in distinct banks. bf16, P = 4: 4.5 KB more (74.9 KB), still
// three blocks per multiprocessor; fp32 would need 8.5 KB and drop to two (the host keeps
// fp32 on STAGEBC = false).
template <typename T> __host__ __device__ constexpr int split_bc_stride() {
    return SCAN_CUDA_MAX_BWD_CHUNK + 16 / (int)sizeof(T);
}
template <typename T, int P, int SUB, bool STAGEBC>
__host__ __device__ inline int64_t scan_bwd_split_smem_bytes() {
    return scan_bwd_split_smem_floats<P, SUB>() * 4 +
           (STAGEBC ? 2 * SCAN_SPLIT_NS * P * split_bc_stride<T>() * (int64_t)sizeof(T) : 0);
}

// STAGEBC = false is v4b, kept for fp32 and as the lab's previous version (issue 4).
// CH (the chunked path's last pass, scan_chunked.cuh): grid (nblk * n_tchunks, G, B), block
// x = k * nblk + channel block runs the checkpoint chunks of time chunk k, last first, with
// the adjoint entering from its right taken from a.carry (the carry pass), and writes its
// dA, dD, ddelta_bias partials to row b * n_tchunks + k of the workspace (summed over those
// rows later, in order). SEG: packed rows, a_t = 0 where a sequence starts; only with CH.
template <typename T, int P, int SUB, bool STAGEBC = false, bool CH = false, bool SEG = false>
__global__ void __launch_bounds__(SCAN_THREADS, SUB <= 8 ? 3 : 1) scan_bwd_split_kernel(ScanArgs a) {
    constexpr int CPB = SCAN_THREADS / P, NS = SCAN_SPLIT_NS, Q = SUB / P;
    constexpr int RS = split_red_stride<P, SUB>(), NQ = SUB / 4;
    extern __shared__ float4 smem4[];
    float *smem = reinterpret_cast<float *>(smem4);
    float *s_red = smem;                                          // [2][CPB][RS]
    float4 *s_h = reinterpret_cast<float4 *>(smem + 2 * CPB * RS); // [sub][SCAN_THREADS]
    float *s_dt = smem + 2 * CPB * RS + (SCAN_CUDA_MAX_BWD_CHUNK / SUB) * SCAN_THREADS * NS;
    const int tid = threadIdx.x, chl = tid / P, seg = tid % P;
    float *my_dt = s_dt + chl * SPLIT_CH_STRIDE;                   // [CPB][68]
    float *my_dtu = my_dt + CPB * SPLIT_CH_STRIDE;
    constexpr int BCS = split_bc_stride<T>(), NB = SCAN_SPLIT_NS * P;
    T *s_bc = reinterpret_cast<T *>(s_dt + 2 * CPB * SPLIT_CH_STRIDE); // [2][NB][BCS]
    const int64_t kc = CH ? blockIdx.x / a.nblk : 0; // time chunk
    const int64_t blk = CH ? blockIdx.x - kc * a.nblk : blockIdx.x;
    const int64_t dl = blk * CPB + chl;
    const bool valid = dl < a.dpg;
    const int64_t g = blockIdx.y, b = blockIdx.z, N = a.N, L = a.L;
    const int64_t d = g * a.dpg + (valid ? dl : 0);
    const int64_t row = (b * a.D + d) * L;
    // checkpoint chunks [c_beg, c_end): all of them, or those of time chunk kc (tchunk is a
    // multiple of chunk)
    const int64_t c_beg = CH ? kc * (a.tchunk / a.chunk) : 0;
    const int64_t c_end = CH ? min(a.n_chunks, (kc + 1) * (a.tchunk / a.chunk)) : a.n_chunks;
    const T *u = (const T *)a.u + row, *delta = (const T *)a.delta + row;
    const T *dout = (const T *)a.dout + row;
    const T *z = a.z ? (const T *)a.z + row : nullptr;
    const int64_t bcrow = ((b * a.G + g) * N + seg * NS) * L;
    const T *Bm = (const T *)a.Bm + bcrow, *Cm = (const T *)a.Cm + bcrow;
    const float *cs = (const float *)a.chunk_states + (b * a.D + d) * a.n_chunks * N + seg * NS;
    const float Dd = a.Dskip ? ((const float *)a.Dskip)[d] : 0.f;
    const float bias = a.delta_bias ? ((const float *)a.delta_bias)[d] : 0.f;
    const bool vec_ok = ((uintptr_t)a.Bm % 16 == 0) && ((uintptr_t)a.Cm % 16 == 0) &&
                        (L * (int64_t)sizeof(T)) % 16 == 0;
    const int64_t bc_plane = a.B * a.G * a.nblk * N * L;
    float *wsb = a.ws_bc + ((b * a.G + g) * a.nblk + blk) * N * L;
    // CH: the adjoint entering the time chunk from its right (idle lanes read their shadow's)
    const float *gin = CH ? a.carry + (kc * a.B * a.D + b * a.D + d) * N + seg * NS : nullptr;
    float A2[NS], An[NS], G_[NS], dA[NS];
#pragma unroll
    for (int k = 0; k < NS; k++) {
        A2[k] = ((const float *)a.A)[d * N + seg * NS + k] * 1.4426950408889634f;
        An[k] = ((const float *)a.A)[d * N + seg * NS + k];
        G_[k] = CH ? gin[k] : 0.f; // a_{t+1} g_{t+1}: nothing flows back from past the end
        dA[k] = 0.f;
    }
    float dD_acc = 0.f, ddb_acc = 0.f;

    for (int64_t c = c_end - 1; c >= c_beg; c--) {
        const int64_t ts0 = c * a.chunk;
        const int tlen = (int)min(a.chunk, L - ts0);
        const int nsub = (tlen + SUB - 1) / SUB;
        // packed rows: bit j set where step ts0 + j starts a sequence (tlen <= 64)
        uint64_t starts = 0;
        if (SEG) {
            starts = scan_seg_starts(a.seg_offsets, a.n_segs, ts0, min(tlen, 32));
            if (tlen > 32)
                starts |= (uint64_t)scan_seg_starts(a.seg_offsets, a.n_segs, ts0 + 32, tlen - 32)
                          << 32;
        }
        // 0. dt, dt*u of the chunk (zero past its end: identity steps)
        __syncwarp();
        if (STAGEBC) { // B, C of the chunk: in flight during step 0's DRAM trip
            const T *Bg = (const T *)a.Bm + (b * a.G + g) * N * L;
            const T *Cg = (const T *)a.Cm + (b * a.G + g) * N * L;
            constexpr int E = 16 / (int)sizeof(T), CR = SCAN_CUDA_MAX_BWD_CHUNK / E;
            const int cols = nsub * SUB;
            // (the last sub-tile's reads ended before the two barriers closing it)
            if (vec_ok && (ts0 * (int64_t)sizeof(T)) % 16 == 0) {
                for (int idx = tid; idx < 2 * NB * CR; idx += SCAN_THREADS) {
                    const int r = idx / CR, c = (idx % CR) * E, rr = r % NB;
                    if (c >= cols)
                        continue;
                    const int n = (rr % P) * SCAN_SPLIT_NS + rr / P;
                    const T *src = (r < NB ? Bg : Cg) + n * L + ts0;
                    if (c + E <= tlen) { // whole piece in range: asynchronous copy
                        const unsigned sa =
                            (unsigned)__cvta_generic_to_shared(s_bc + r * BCS + c);
                        asm volatile("cp.async.ca.shared.global [%0], [%1], 16;\n" ::"r"(sa),
                                     "l"(src + c)
                                     : "memory");
                    } else { // the chunk's end: plain loads, zero past it (no src-size fill)
#pragma unroll
                        for (int e = 0; e < E; e++)
                            s_bc[r * BCS + c + e] = c + e < tlen ? src[c + e] : T(0.f);
                    }
                }
                asm volatile("cp.async.commit_group;\n" ::: "memory");
            } else {
                for (int idx = tid; idx < 2 * NB * SCAN_CUDA_MAX_BWD_CHUNK; idx += SCAN_THREADS) {
                    const int r = idx / SCAN_CUDA_MAX_BWD_CHUNK, c = idx % SCAN_CUDA_MAX_BWD_CHUNK;
                    const int rr = r % NB, n = (rr % P) * SCAN_SPLIT_NS + rr / P;
                    if (c < cols)
                        s_bc[r * BCS + c] = c < tlen ? (r < NB ? Bg : Cg)[n * L + ts0 + c] : T(0.f);
                }
            }
        }
        constexpr int JP = SCAN_CUDA_MAX_BWD_CHUNK / P < 16 ? SCAN_CUDA_MAX_BWD_CHUNK / P : 16;
        for (int j0 = 0; j0 < nsub * SUB; j0 += JP * P) { // JP loads in flight at once
            float dv[JP], uv[JP];
#pragma unroll
            for (int jj = 0; jj < JP; jj++) {
                const int j = j0 + seg + jj * P;
                dv[jj] = j < tlen ? scan_ld(delta + ts0 + j) : 0.f;
                uv[jj] = j < tlen ? scan_ld(u + ts0 + j) : 0.f;
            }
#pragma unroll
            for (int jj = 0; jj < JP; jj++) {
                const int j = j0 + seg + jj * P;
                float v = dv[jj] + bias;
                v = a.softplus ? scan_softplus(v) : v;
                v = j < tlen ? v : 0.f;
                if (j < nsub * SUB) {
                    my_dt[j] = v;
                    my_dtu[j] = v * uv[jj];
                }
            }
        }
        __syncwarp();
        if (STAGEBC) {
            asm volatile("cp.async.wait_group 0;\n" ::: "memory");
            __syncthreads(); // every thread's pieces of B, C have landed
        }
        // A. states at the sub-tile starts
        {
            float h[NS];
#pragma unroll
            for (int k = 0; k < NS; k++)
                h[k] = cs[c * N + k];
            for (int sc = 0; sc < nsub; sc++) {
                s_h[sc * SCAN_THREADS + tid] = make_float4(h[0], h[1], h[2], h[3]);
                if (sc == nsub - 1)
                    break;
                const int64_t t0 = ts0 + sc * SUB; // a whole sub-tile: it is not the last
                auto fwd = [&](auto full) {
                    constexpr bool FULL = decltype(full)::value;
                    float bk[NS][SUB];
#pragma unroll
                    for (int k = 0; k < NS; k++)
                        if (STAGEBC)
                            split_smem_read<T, SUB>(bk[k], s_bc + (k * P + seg) * BCS + sc * SUB);
                        else
                            split_load<T, SUB, FULL>(bk[k], Bm + k * L + t0, SUB);
#pragma unroll
                    for (int i = 0; i < SUB; i++) {
                        const float dti = my_dt[sc * SUB + i], dtui = my_dtu[sc * SUB + i];
                        const bool st = SEG && (starts >> (sc * SUB + i) & 1u);
#pragma unroll
                        for (int k = 0; k < NS; k++)
                            h[k] = fmaf(st ? 0.f : scan_exp2(dti * A2[k]), h[k], bk[k][i] * dtui);
                    }
                };
                if (vec_ok)
                    fwd(std::true_type{});
                else
                    fwd(std::false_type{});
            }
        }
        for (int sc = nsub - 1; sc >= 0; sc--) {
            const int64_t t0 = ts0 + sc * SUB;
            const int lim = min(SUB, tlen - sc * SUB);
            const int qlim = max(0, min(Q, lim - seg * Q));
            const int64_t tq = t0 + seg * Q; // the steps this lane owns after a halving
            const float *sdt = my_dt + sc * SUB, *sdtu = my_dtu + sc * SUB;
            const float4 h04 = s_h[sc * SCAN_THREADS + tid];
            const float h0[NS] = {h04.x, h04.y, h04.z, h04.w};
            float du_own[Q], dy[SUB];
            // the owned steps' inputs and old gradients, loaded before the sub-tile's arithmetic
            // so that their DRAM latency hides behind it
            T u_r[Q], go_r[Q], z_r[Q], dl_r[Q], du_r[Q], ddl_r[Q], dz_r[Q];
#pragma unroll
            for (int j = 0; j < Q; j++) {
                const bool in = j < qlim;
                u_r[j] = in ? u[tq + j] : T(0.f);
                go_r[j] = in ? dout[tq + j] : T(0.f);
                z_r[j] = in && z ? z[tq + j] : T(0.f);
                dl_r[j] = in ? delta[tq + j] : T(0.f);
                du_r[j] = in && valid ? ((const T *)a.du)[row + tq + j] : T(0.f);
                ddl_r[j] = in && valid ? ((const T *)a.ddelta)[row + tq + j] : T(0.f);
                dz_r[j] = in && valid && z && a.dz ? ((const T *)a.dz)[row + tq + j] : T(0.f);
            }
            auto body = [&](auto full) {
                constexpr bool FULL = decltype(full)::value;
                float bk[NS][SUB], ck[NS][SUB], hs[SUB][NS];
#pragma unroll
                for (int k = 0; k < NS; k++) {
                    if (STAGEBC) { // zero past the chunk's end, as split_load past lim
                        const T *sb = s_bc + (k * P + seg) * BCS + sc * SUB;
                        split_smem_read<T, SUB>(bk[k], sb);
                        split_smem_read<T, SUB>(ck[k], sb + NB * BCS);
                    } else {
                        split_load<T, SUB, FULL>(bk[k], Bm + k * L + t0, lim);
                        split_load<T, SUB, FULL>(ck[k], Cm + k * L + t0, lim);
                    }
                }
                // B. forward over the sub-tile: h_t and y_t
                {
                    float y[SUB], h[NS];
#pragma unroll
                    for (int k = 0; k < NS; k++)
                        h[k] = h0[k];
#pragma unroll
                    for (int i = 0; i < SUB; i++) {
                        const float dti = sdt[i], dtui = sdtu[i];
                        const bool st = SEG && (starts >> (sc * SUB + i) & 1u);
                        y[i] = 0.f;
#pragma unroll
                        for (int k = 0; k < NS; k++) {
                            h[k] = fmaf(st ? 0.f : scan_exp2(dti * A2[k]), h[k], bk[k][i] * dtui);
                            hs[i][k] = h[k];
                            y[i] = fmaf(ck[k][i], h[k], y[i]);
                        }
                    }
                    split_reduce<P, SUB>(y, seg);
                    float dzq[Q], dyq[Q];
#pragma unroll
                    for (int j = 0; j < Q; j++) {
                        float dyv = 0.f;
                        dzq[j] = 0.f;
                        du_own[j] = 0.f;
                        if (j < qlim) {
                            const float uj = scan_ld(&u_r[j]), go = scan_ld(&go_r[j]);
                            const float yv = fmaf(Dd, uj, y[j]);
                            dyv = go;
                            if (z) {
                                const float zz = scan_ld(&z_r[j]);
                                const float sg = scan_sigmoid(zz);
                                dzq[j] = go * yv * sg * (1.f + zz * (1.f - sg));
                                dyv = go * zz * sg;
                            }
                            dD_acc = fmaf(dyv, uj, dD_acc);
                            du_own[j] = Dd * dyv;
                        }
                        dyq[j] = dyv; // zero past the end
                    }
#pragma unroll
                    for (int i = 0; i < SUB; i++) // every lane needs every step's dy
                        dy[i] = P > 1 ? __shfl_sync(0xffffffffu, dyq[i % Q], i / Q, P) : dyq[i % Q];
                    if (z && a.dz && valid)
#pragma unroll
                        for (int j = 0; j < Q; j++)
                            if (j < qlim)
                                scan_st((T *)a.dz + row + tq + j, scan_ld(&dz_r[j]) + dzq[j]);
                }
                // C. adjoint, last step first
                float sgb[SUB], sga[SUB];
                float *redB = s_red + chl * RS, *redC = s_red + CPB * RS + chl * RS;
#pragma unroll
                for (int iq = NQ - 1; iq >= 0; iq--) {
                    float vb[NS][4], vc[NS][4];
                    if (STAGEBC) // re-read this quad's B, C: phase B's copies die early
#pragma unroll
                        for (int k = 0; k < NS; k++) {
                            const T *sb = s_bc + (k * P + seg) * BCS + sc * SUB + iq * 4;
                            float q4[4];
                            split_smem_read<T, 4>(q4, sb);
#pragma unroll
                            for (int e = 0; e < 4; e++)
                                bk[k][iq * 4 + e] = q4[e];
                            split_smem_read<T, 4>(q4, sb + NB * BCS);
#pragma unroll
                            for (int e = 0; e < 4; e++)
                                ck[k][iq * 4 + e] = q4[e];
                        }
#pragma unroll
                    for (int i4 = 3; i4 >= 0; i4--) {
                        const int i = iq * 4 + i4;
                        const float dti = sdt[i], dtui = sdtu[i], dyi = dy[i];
                        const bool st = SEG && (starts >> (sc * SUB + i) & 1u);
                        float sb = 0.f, sa = 0.f;
#pragma unroll
                        for (int k = 0; k < NS; k++) {
                            const float at = st ? 0.f : scan_exp2(dti * A2[k]);
                            const float hp = i > 0 ? hs[i > 0 ? i - 1 : 0][k] : h0[k];
                            const float gg = fmaf(ck[k][i], dyi, G_[k]);
                            const float ga = gg * at;
                            const float gb = gg * bk[k][i];
                            const float gah = ga * hp;
                            sb += gb;
                            sa = fmaf(gah, An[k], sa);
                            dA[k] = fmaf(gah, dti, dA[k]);
                            vb[k][i4] = valid ? gg * dtui : 0.f;
                            vc[k][i4] = valid ? dyi * hs[i][k] : 0.f;
                            G_[k] = ga;
                        }
                        sgb[i] = sb;
                        sga[i] = sa;
                    }
                    // swizzled quad position: the four lanes of a channel hit distinct banks
                    const int pos = 4 * (iq ^ (seg & (NQ - 1)));
#pragma unroll
                    for (int k = 0; k < NS; k++) {
                        const int n = seg * NS + k;
                        *reinterpret_cast<float4 *>(redB + n * SUB + pos) =
                            make_float4(vb[k][0], vb[k][1], vb[k][2], vb[k][3]);
                        *reinterpret_cast<float4 *>(redC + n * SUB + pos) =
                            make_float4(vc[k][0], vc[k][1], vc[k][2], vc[k][3]);
                    }
                }
                split_reduce<P, SUB>(sgb, seg);
                split_reduce<P, SUB>(sga, seg);
                if (valid) {
                    float dtq[Q], duq[Q];
#pragma unroll
                    for (int j = 0; j < Q; j++) {
                        const float dtj = sdt[seg * Q + j];
                        duq[j] = fmaf(dtj, sgb[j], du_own[j]);
                        float v = 0.f;
                        if (j < qlim) {
                            v = fmaf(scan_ld(&u_r[j]), sgb[j], sga[j]);
                            if (a.softplus) // softplus' = sigmoid of the pre-activation
                                v *= scan_sigmoid(scan_ld(&dl_r[j]) + bias);
                        }
                        dtq[j] = v;
                        ddb_acc += v;
                    }
#pragma unroll
                    for (int j = 0; j < Q; j++)
                        if (j < qlim) {
                            scan_st((T *)a.du + row + tq + j, scan_ld(&du_r[j]) + duq[j]);
                            scan_st((T *)a.ddelta + row + tq + j, scan_ld(&ddl_r[j]) + dtq[j]);
                        }
                }
            };
            if (STAGEBC || (vec_ok && lim == SUB)) // (staged: both paths read shared memory)
                body(std::true_type{});
            else
                body(std::false_type{});
            // sum dB, dC of the sub-tile over the block's channels, channel order
            __syncthreads();
            for (int col = tid; col < 2 * (int)N * NQ; col += SCAN_THREADS) {
                const int q = col / ((int)N * NQ), r = col % ((int)N * NQ);
                const int n = r / NQ, tqd = r % NQ;
                const int pos = 4 * (tqd ^ ((n / NS) & (NQ - 1)));
                const float *src = s_red + q * CPB * RS + n * SUB + pos;
                float4 s = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 8
                for (int k = 0; k < CPB; k++) {
                    const float4 v = *reinterpret_cast<const float4 *>(src + k * RS);
                    s.x += v.x, s.y += v.y, s.z += v.z, s.w += v.w;
                }
                float *dst = wsb + q * bc_plane + n * L + t0 + 4 * tqd;
                const float sv[4] = {s.x, s.y, s.z, s.w};
#pragma unroll
                for (int e = 0; e < 4; e++)
                    if (4 * tqd + e < lim)
                        dst[e] = sv[e];
            }
            __syncthreads(); // s_red is rewritten by the next sub-tile
        }
    }
    // per-(b, d) partials: dA per state directly; dD, ddelta_bias summed over the lanes
#pragma unroll
    for (int off = 1; off < P; off <<= 1) {
        dD_acc += __shfl_xor_sync(0xffffffffu, dD_acc, off);
        ddb_acc += __shfl_xor_sync(0xffffffffu, ddb_acc, off);
    }
    const int64_t pr = CH ? b * a.n_tchunks + kc : b; // partial row: [B (* n_tchunks), D]
    if (valid) {
#pragma unroll
        for (int k = 0; k < NS; k++)
            a.ws_dA[(pr * a.D + d) * N + seg * NS + k] = dA[k];
        if (seg == 0) {
            a.ws_dD[pr * a.D + d] = dD_acc;
            a.ws_ddb[pr * a.D + d] = ddb_acc;
        }
    }
}
