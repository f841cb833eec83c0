// defines: conv1d_causal_forward_cuda, conv1d_causal_backward_cuda,
//          conv1d_causal_forward_bf16, conv1d_causal_backward_bf16 (see conv1d.h)
// Both passes see one channel's B rows of L steps as one flattened sequence f = b*L + t and
// cut it into chunks of CHUNK steps. Block (c, p) takes chunks p, p + gridDim.y, ... of
// channel c (a fixed assignment) and stages x with its halo in shared memory: every load is
// coalesced, short rows (Vim: L = 197) waste no threads, and the grid has C x parts blocks
// instead of the C that one block per channel gave (the v1 kernels, kept in
// bench/conv_norm_cuda.cu). Staging ignores row starts; a tap that would reach across one is
// masked by t instead. Each thread issues all its loads of a chunk (x, dout, dx) before its
// first barrier, so they are in flight together: the kernel is bound by memory, not by
// latency (v2, the same layout with one load in flight per thread, ran at a quarter of a
// copy's bandwidth). Index arithmetic is 32-bit where B*L allows, and (b, t) = divmod(f, L)
// goes through a double reciprocal instead of an integer divide.
// Backward dw/dbias: each block sums its chunks' terms in a fixed thread order and a fixed
// warp tree into part[c][p][K+1] (scratch, kernels/cuda/common.h ssm_cuda_scratch), then
// k_conv_sum_parts adds the parts of (c, k) in ascending p: no atomics, the same bits on
// every run for a given shape.
// Packed rows (seg_offsets, the SEG instances): the same masks with "row" read as "the
// sequence around the step": a tap is skipped where it would reach before the sequence's
// start (forward, dw) or, for dx, where the step it feeds lies at or past its end. Each step
// finds its sequence by a binary search of the device offsets (seg_around); the dense
// instances (SEG false) do no such work.
// bf16 (the _bf16 entries): the same kernels with x, out, dx (T) and dout (G) in bf16 or
// fp32, read into fp32 where they are loaded and rounded once where stored: every sum, the
// shared-memory stage and the dw/dbias partials stay fp32, so the sums run in the same order
// as the fp32 kernels' (the same bits for the same rounded inputs, up to the one rounding of
// each output).
#include <cuda_bf16.h>

#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/device_util.cuh"

#define THREADS 256
#define PER 4                   // steps per thread per chunk
#define CHUNK (THREADS * PER)   // flattened steps per chunk
#define TAPS 8                  // dw taps accumulated in registers per pass (generic K)
#define MAX_PARTS 256           // backward blocks per channel: bounds the scratch and pass 2

// Element loads into fp32 (read-only path for inputs: cv_ldg) and rounded stores.
__device__ __forceinline__ float cv_ldg(const float *p) { return __ldg(p); }
__device__ __forceinline__ float cv_ldg(const __nv_bfloat16 *p) {
    return __bfloat162float(__ldg(p));
}
__device__ __forceinline__ float cv_ld(const float *p) { return *p; }
__device__ __forceinline__ float cv_ld(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void cv_st(float *p, float v) { *p = v; }
__device__ __forceinline__ void cv_st(__nv_bfloat16 *p, float v) { *p = __float2bfloat16(v); }

// (b, t) of flattened step f >= 0: b = f / L. 32-bit: through a double reciprocal (exact to
// within one for f < 2^31, then corrected), a few instructions where an integer divide
// costs about 25; 64-bit: the divide.
template <typename I>
__device__ __forceinline__ void row_of(I f, I L, double rL, I *b, I *t) {
    I q, r;
    if (sizeof(I) == 4) {
        q = (I)((double)f * rL);
        r = f - q * L;
        if (r < 0)
            q--, r += L;
        else if (r >= L)
            q++, r -= L;
    } else {
        q = f / L, r = f - q * L;
    }
    *b = q, *t = r;
}

// The sequence around step t of a row (seg: offsets [n_segs + 1], device): *rel = t - its
// start, *rest = its end - t (steps t.. still in it). The last i with seg[i] <= t.
template <typename I>
__device__ __forceinline__ void seg_around(const int64_t *__restrict__ seg, int64_t n_segs, I t,
                                           I *rel, I *rest) {
    int64_t lo = 0, hi = n_segs - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi + 1) >> 1;
        if (__ldg(seg + mid) <= (int64_t)t)
            lo = mid;
        else
            hi = mid - 1;
    }
    *rel = t - (I)__ldg(seg + lo);
    *rest = (I)__ldg(seg + lo + 1) - t;
}

// Step t of a row as the masks see it: *rel steps after the start of its sequence, *rest
// steps from t to the end of it (the row itself, or the packed sequence around t).
template <typename I, bool SEG>
__device__ __forceinline__ void seq_pos(const int64_t *__restrict__ seg, int64_t n_segs, I t, I L,
                                        I *rel, I *rest) {
    if (SEG) {
        seg_around(seg, n_segs, t, rel, rest);
    } else {
        *rel = t;
        *rest = L - t;
    }
}

// xs[j] = x at flattened step f0 + j of channel c (0 outside [0, BL)), j < n. All of a
// thread's loads are issued before its first shared-memory store, so PER + 1 are in flight
// at once (a load-store loop keeps one).
template <typename I, typename T>
__device__ __forceinline__ void stage_x(float *xs, const T *__restrict__ x, I f0, int n, I BL,
                                        I L, double rL, int64_t C, int64_t c) {
    float v[PER + 1];
#pragma unroll
    for (int r = 0; r <= PER; r++) {
        int j = threadIdx.x + r * THREADS;
        I f = f0 + j, b, t;
        v[r] = 0.f;
        if (j < n && f >= 0 && f < BL) {
            row_of(f, L, rL, &b, &t);
            v[r] = cv_ldg(x + ((int64_t)b * C + c) * L + t);
        }
    }
#pragma unroll
    for (int r = 0; r <= PER; r++) {
        int j = threadIdx.x + r * THREADS;
        if (j < n)
            xs[j] = v[r];
    }
    for (int j = threadIdx.x + (PER + 1) * THREADS; j < n; j += THREADS) { // K > 129 only
        I f = f0 + j, b, t;
        float u = 0.f;
        if (f >= 0 && f < BL) {
            row_of(f, L, rL, &b, &t);
            u = cv_ld(x + ((int64_t)b * C + c) * L + t);
        }
        xs[j] = u;
    }
}

// Pre-activation at step t of a row: bias + sum_k w[k] x[t - (K-1) + k], taps before the row
// start skipped (t: steps since the start of the row, or of the packed sequence);
// xw[k] = x at t - (K-1) + k. The order (bias, then k ascending) is the CPU's.
template <typename I, int KC>
__device__ __forceinline__ float pre_at(const float *xw, const float *ws, float b, I t, int K) {
    float acc = b;
    I k0 = (I)(K - 1) - t;
    if (KC) {
#pragma unroll
        for (int k = 0; k < KC; k++)
            if ((I)k >= k0)
                acc += ws[k] * xw[k];
    } else {
        for (int k = k0 > 0 ? (int)k0 : 0; k < K; k++)
            acc += ws[k] * xw[k];
    }
    return acc;
}

// KC: the filter width when known at compile time (4, Mamba's), else 0 (K at run time).
// rL = 1.0 / L. SEG: packed rows (seg, n_segs). T: x and out, float or bf16 (deduced at the
// launch from the pointers).
template <typename I, int KC, bool SEG, typename T>
__global__ void __launch_bounds__(THREADS)
    k_conv_fwd(T *__restrict__ out, const T *__restrict__ x, const float *__restrict__ w,
               const float *__restrict__ bias, I BL, int64_t C, I L, double rL, int Kr, int silu,
               I nchunks, const int64_t *__restrict__ seg, int64_t n_segs) {
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
        stage_x(xs, x, i0 - (K - 1), CHUNK + K - 1, BL, L, rL, C, c);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < PER; r++) {
            int i = threadIdx.x + r * THREADS;
            I f = i0 + i, bb, t;
            if (f < BL) {
                row_of(f, L, rL, &bb, &t);
                I rel, rest;
                seq_pos<I, SEG>(seg, n_segs, t, L, &rel, &rest);
                float acc = pre_at<I, KC>(xs + i, ws, b, rel, K);
                cv_st(out + ((int64_t)bb * C + c) * L + t, silu ? cu_silu(acc) : acc);
            }
        }
    }
}

// dpre = dout * silu'(pre) at step t (dout itself without SiLU)
template <typename I, int KC>
__device__ __forceinline__ float dpre_at(float g, const float *xw, const float *ws, float b, I t,
                                         int K, int silu) {
    return silu ? g * cu_silu_grad(pre_at<I, KC>(xw, ws, b, t, K)) : g;
}

// For each chunk (i0 = first flattened step):
//   xs[j]  = x at i0 - (K-1) + j,  j < CHUNK + 2(K-1)
//   dps[j] = dpre at i0 + j,       j < CHUNK + K - 1    (0 at or after B*L)
//   dx[i0+i] += sum_k w[k] dps[i + (K-1) - k]  over taps whose step stays in the row
//   dw[k]    += sum_i dps[i] xs[i + k]         over taps at or after the row start
//   dbias    += sum_i dps[i]
// A thread's dout and dx values are loaded with the chunk's x, before the first barrier: all
// its loads are in flight together. Generic K > TAPS: dw in passes of TAPS taps (re-staging
// the chunks; dx in the first pass). "Row" above: the packed sequence around the step (SEG).
// T: x and dx, G: dout; float or bf16 each (deduced at the launch from the pointers).
template <typename I, int KC, bool SEG, typename T, typename G>
__global__ void __launch_bounds__(THREADS)
    k_conv_bwd(T *__restrict__ dx, float *__restrict__ part, const G *__restrict__ dout,
               const T *__restrict__ x, const float *__restrict__ w,
               const float *__restrict__ bias, I BL, int64_t C, I L, double rL, int Kr, int silu,
               I nchunks, int sums, const int64_t *__restrict__ seg, int64_t n_segs) {
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
            I tr[PER], rest[PER]; // steps since the row's start, steps to its end (-1: none)
            int64_t off[PER];
            float g[PER], dx0[PER];
#pragma unroll
            for (int r = 0; r < PER; r++) {
                I f = i0 + tid + r * THREADS, bb, t;
                tr[r] = -1, rest[r] = 0, off[r] = 0, g[r] = 0.f, dx0[r] = 0.f;
                if (f < BL) {
                    row_of(f, L, rL, &bb, &t);
                    seq_pos<I, SEG>(seg, n_segs, t, L, &tr[r], &rest[r]);
                    off[r] = ((int64_t)bb * C + c) * L + t;
                    g[r] = cv_ldg(dout + off[r]);
                    if (dx && first)
                        dx0[r] = cv_ld(dx + off[r]);
                }
            }
            __syncthreads(); // ws written; the previous chunk's readers are done
            stage_x(xs, x, i0 - (K - 1), CHUNK + 2 * (K - 1), BL, L, rL, C, c);
            __syncthreads();
#pragma unroll
            for (int r = 0; r < PER; r++) {
                int j = tid + r * THREADS;
                dps[j] = tr[r] >= 0 ? dpre_at<I, KC>(g[r], xs + j, ws, b, tr[r], K, silu) : 0.f;
            }
            for (int j = CHUNK + tid; j < CHUNK + K - 1; j += THREADS) { // halo: next steps
                I f = i0 + j, bb, t;
                float d = 0.f;
                if (f < BL) {
                    row_of(f, L, rL, &bb, &t);
                    I rel, rs;
                    seq_pos<I, SEG>(seg, n_segs, t, L, &rel, &rs);
                    d = dpre_at<I, KC>(cv_ldg(dout + ((int64_t)bb * C + c) * L + t), xs + j, ws,
                                       b, rel, K, silu);
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
                        // steps t.. of this row: dps beyond them is another row's
                        int kfirst = rest[r] < (I)K ? K - (int)rest[r] : 0;
                        float s = 0.f;
                        if (KC) {
#pragma unroll
                            for (int k = 0; k < KC; k++)
                                if (k >= kfirst)
                                    s += ws[k] * dps[i + (K - 1) - k];
                        } else {
                            for (int k = kfirst; k < K; k++)
                                s += ws[k] * dps[i + (K - 1) - k];
                        }
                        cv_st(dx + off[r], dx0[r] + s);
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

static ssm_code check_shape(const char *name, int64_t B, int64_t C, int64_t L, int64_t K,
                            const int64_t *seg_offsets, int64_t n_segs) {
    cu_bad_shape(B < 0 || C < 0 || L < 0 || K < 1 || K > CONV1D_CUDA_MAX_K || C > 0x7fffffff ||
                     (L > 0 && B > INT64_MAX / 4 / L),
                 "%s: B = %lld, C = %lld, L = %lld, K = %lld (K must be in [1, %d])", name,
                 (long long)B, (long long)C, (long long)L, (long long)K, CONV1D_CUDA_MAX_K);
    cu_bad_shape(seg_offsets && (n_segs < 1 || n_segs > L),
                 "%s: %lld packed sequences in rows of L = %lld (need 1..L)", name,
                 (long long)n_segs, (long long)L);
    return SSM_OK;
}

// 32-bit flattened indices when every step, halo included, fits
static int fits32(int64_t BL, int64_t K) { return BL + CHUNK + 2 * K < 0x7fffffff; }

// The packed rows of one call: offsets (device) and their count, or NULL, 0.
typedef struct {
    const int64_t *off;
    int64_t n;
} segs;

template <typename I, int KC, bool SEG, typename T>
static ssm_code launch_fwd_(T *out, const T *x, const float *w, const float *bias, int64_t BL,
                            int64_t C, int64_t L, int K, int silu, segs sg) {
    int64_t nch = (BL + CHUNK - 1) / CHUNK;
    unsigned gy = (unsigned)(nch < 65535 ? nch : 65535);
    size_t shmem = sizeof(float) * (K + CHUNK + K - 1);
    k_conv_fwd<I, KC, SEG><<<dim3((unsigned)C, gy), THREADS, shmem, ssm_cuda_stream()>>>(
        out, x, w, bias, (I)BL, C, (I)L, 1.0 / (double)L, K, silu, (I)nch, sg.off, sg.n);
    CUDA_LAUNCH_CHECK("k_conv_fwd");
    return SSM_OK;
}
template <typename I, int KC, typename T>
static ssm_code launch_fwd(T *out, const T *x, const float *w, const float *bias, int64_t BL,
                           int64_t C, int64_t L, int K, int silu, segs sg) {
    return sg.off ? launch_fwd_<I, KC, true>(out, x, w, bias, BL, C, L, K, silu, sg)
                  : launch_fwd_<I, KC, false>(out, x, w, bias, BL, C, L, K, silu, sg);
}

template <typename I, int KC, bool SEG, typename T, typename G>
static ssm_code launch_bwd_(T *dx, float *part, int nparts, const G *dout, const T *x,
                            const float *w, const float *bias, int64_t BL, int64_t C, int64_t L,
                            int K, int silu, segs sg) {
    int64_t nch = (BL + CHUNK - 1) / CHUNK;
    size_t shmem = sizeof(float) * (K + CHUNK + 2 * (K - 1) + CHUNK + K - 1);
    if (shmem > 48 * 1024)
        CUDA_CHECK(cudaFuncSetAttribute(k_conv_bwd<I, KC, SEG, T, G>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shmem));
    k_conv_bwd<I, KC, SEG>
        <<<dim3((unsigned)C, (unsigned)nparts), THREADS, shmem, ssm_cuda_stream()>>>(
            dx, part, dout, x, w, bias, (I)BL, C, (I)L, 1.0 / (double)L, K, silu, (I)nch,
            part != NULL, sg.off, sg.n);
    CUDA_LAUNCH_CHECK("k_conv_bwd");
    return SSM_OK;
}
template <typename I, int KC, typename T, typename G>
static ssm_code launch_bwd(T *dx, float *part, int nparts, const G *dout, const T *x,
                           const float *w, const float *bias, int64_t BL, int64_t C, int64_t L,
                           int K, int silu, segs sg) {
    return sg.off ? launch_bwd_<I, KC, true>(dx, part, nparts, dout, x, w, bias, BL, C, L, K,
                                             silu, sg)
                  : launch_bwd_<I, KC, false>(dx, part, nparts, dout, x, w, bias, BL, C, L, K,
                                              silu, sg);
}

// The forward of one element type (T: float or __nv_bfloat16); name: the entry's, for errors.
template <typename T>
static ssm_code conv_forward(const char *name, T *out, const T *x, const float *w,
                             const float *bias, int64_t B, int64_t C, int64_t L, int64_t K,
                             int silu, const int64_t *seg_offsets, int64_t n_segs) {
    ssm_code rc = check_shape(name, B, C, L, K, seg_offsets, n_segs);
    int64_t BL = B * L;
    if (rc != SSM_OK || BL == 0 || C == 0)
        return rc;
    int k = (int)K;
    const segs sg = {seg_offsets, seg_offsets ? n_segs : 0};
    if (fits32(BL, K))
        return K == 4 ? launch_fwd<int32_t, 4>(out, x, w, bias, BL, C, L, k, silu, sg)
                      : launch_fwd<int32_t, 0>(out, x, w, bias, BL, C, L, k, silu, sg);
    return launch_fwd<int64_t, 0>(out, x, w, bias, BL, C, L, k, silu, sg);
}

// The backward of one element type for x, dx (T) and one for dout (G).
template <typename T, typename G>
static ssm_code conv_backward(const char *name, T *dx, float *dw, float *dbias, const G *dout,
                              const T *x, const float *w, const float *bias, int64_t B,
                              int64_t C, int64_t L, int64_t K, int silu,
                              const int64_t *seg_offsets, int64_t n_segs) {
    ssm_code rc = check_shape(name, B, C, L, K, seg_offsets, n_segs);
    int64_t BL = B * L;
    if (rc != SSM_OK || C == 0 || BL == 0 || (!dx && !dw && !dbias))
        return rc;
    int64_t nch = (BL + CHUNK - 1) / CHUNK;
    int nparts = (int)(nch < MAX_PARTS ? nch : MAX_PARTS);
    float *part = NULL;
    if (dw || dbias) {
        rc = ssm_cuda_scratch((void **)&part, sizeof(float) * C * nparts * (K + 1),
                              SSM_SCRATCH_CONV1D);
        if (rc != SSM_OK)
            return rc;
    }
    int k = (int)K;
    const segs sg = {seg_offsets, seg_offsets ? n_segs : 0};
    if (fits32(BL, K))
        rc = K == 4 ? launch_bwd<int32_t, 4>(dx, part, nparts, dout, x, w, bias, BL, C, L, k, silu,
                                             sg)
                    : launch_bwd<int32_t, 0>(dx, part, nparts, dout, x, w, bias, BL, C, L, k, silu,
                                             sg);
    else
        rc = launch_bwd<int64_t, 0>(dx, part, nparts, dout, x, w, bias, BL, C, L, k, silu, sg);
    if (rc != SSM_OK || !part)
        return rc;
    k_conv_sum_parts<<<cu_blocks(C * (K + 1), CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dw, dbias, part, C, k, nparts);
    CUDA_LAUNCH_CHECK("k_conv_sum_parts");
    return SSM_OK;
}

extern "C" ssm_code conv1d_causal_forward_cuda(real *out, const real *x, const real *w,
                                               const real *bias, int64_t B, int64_t C,
                                               int64_t L, int64_t K, int silu,
                                               const int64_t *seg_offsets, int64_t n_segs) {
    return conv_forward("conv1d_causal_forward_cuda", out, x, w, bias, B, C, L, K, silu,
                        seg_offsets, n_segs);
}

extern "C" ssm_code conv1d_causal_backward_cuda(real *dx, real *dw, real *dbias,
                                                const real *dout, const real *x, const real *w,
                                                const real *bias, int64_t B, int64_t C,
                                                int64_t L, int64_t K, int silu,
                                                const int64_t *seg_offsets, int64_t n_segs) {
    return conv_backward("conv1d_causal_backward_cuda", dx, dw, dbias, dout, x, w, bias, B, C, L,
                         K, silu, seg_offsets, n_segs);
}

extern "C" ssm_code conv1d_causal_forward_bf16(ssm_bf16 *out, const ssm_bf16 *x, const real *w,
                                               const real *bias, int64_t B, int64_t C,
                                               int64_t L, int64_t K, int silu,
                                               const int64_t *seg_offsets, int64_t n_segs) {
    return conv_forward("conv1d_causal_forward_bf16", (__nv_bfloat16 *)out,
                        (const __nv_bfloat16 *)x, w, bias, B, C, L, K, silu, seg_offsets, n_segs);
}

extern "C" ssm_code conv1d_causal_backward_bf16(ssm_bf16 *dx, real *dw, real *dbias,
                                                const void *dout, int dout_f32, const ssm_bf16 *x,
                                                const real *w, const real *bias, int64_t B,
                                                int64_t C, int64_t L, int64_t K, int silu,
                                                const int64_t *seg_offsets, int64_t n_segs) {
    const char *name = "conv1d_causal_backward_bf16";
    __nv_bfloat16 *dxb = (__nv_bfloat16 *)dx;
    const __nv_bfloat16 *xb = (const __nv_bfloat16 *)x;
    if (dout_f32)
        return conv_backward(name, dxb, dw, dbias, (const float *)dout, xb, w, bias, B, C, L, K,
                             silu, seg_offsets, n_segs);
    return conv_backward(name, dxb, dw, dbias, (const __nv_bfloat16 *)dout, xb, w, bias, B, C, L,
                         K, silu, seg_offsets, n_segs);
}
