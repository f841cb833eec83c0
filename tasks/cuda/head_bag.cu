// defines: the bag head's device kernels (see head_bag.h)
#include "kernels/cuda/device_util.cuh"
#include "tasks/cuda/head_bag.h"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

#define CHUNK 256 // tokens per partial sum

// The segment s with off[s] <= t < off[s+1] (n segments).
__device__ __forceinline__ int64_t seg_of(const int64_t *off, int64_t n, int64_t t) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (off[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

__global__ static void tanh_sigmoid_kernel(float *A, float *G, int64_t n) {
    GRID_STRIDE(i, n) {
        A[i] = tanhf(A[i]);
        if (G)
            G[i] = cu_sigmoid(G[i]);
    }
}

extern "C" ssm_code bag_tanh_sigmoid_cuda(real *A, real *G, int64_t n) {
    cu_bad_shape(n < 0, "bag_tanh_sigmoid_cuda: n=%lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    tanh_sigmoid_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(A, G, n);
    CUDA_LAUNCH_CHECK("tanh_sigmoid_kernel");
    return SSM_OK;
}

// One warp per token: lanes stride the hidden units, then a shuffle tree.
__global__ static void score_kernel(float *score, const float *A, const float *G, const float *w,
                                    int64_t T, int64_t H) {
    int lane = threadIdx.x & 31;
    int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int64_t warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t t = warp; t < T; t += warps) {
        float s = 0.f;
        for (int64_t j = lane; j < H; j += 32)
            s += w[j] * A[t * H + j] * (G ? G[t * H + j] : 1.f);
        s = cu_warp_sum(s);
        if (lane == 0)
            score[t] = s;
    }
}

extern "C" ssm_code bag_attn_score_cuda(real *score, const real *A, const real *G, const real *w,
                                        int64_t T, int64_t H) {
    cu_bad_shape(T < 1 || H < 1, "bag_attn_score_cuda: T=%lld H=%lld", (long long)T, (long long)H);
    score_kernel<<<cu_blocks(T * 32, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(score, A, G,
                                                                                      w, T, H);
    CUDA_LAUNCH_CHECK("score_kernel");
    return SSM_OK;
}

// One block per bag: its maximum, the sum of exp in a fixed tree, then the weights.
__global__ static void softmax_kernel(float *attn, const float *score, const int64_t *off) {
    __shared__ float sh[32];
    int64_t lo = off[blockIdx.x], hi = off[blockIdx.x + 1];
    float m = -INFINITY;
    for (int64_t t = lo + threadIdx.x; t < hi; t += blockDim.x)
        m = fmaxf(m, score[t]);
    m = cu_block_max(m, sh);
    float s = 0.f;
    for (int64_t t = lo + threadIdx.x; t < hi; t += blockDim.x)
        s += expf(score[t] - m);
    s = cu_block_sum(s, sh);
    float inv = 1.f / s;
    for (int64_t t = lo + threadIdx.x; t < hi; t += blockDim.x)
        attn[t] = expf(score[t] - m) * inv;
}

extern "C" ssm_code bag_softmax_cuda(real *attn, const real *score, const int64_t *off,
                                     int64_t nb) {
    cu_bad_shape(nb < 1 || nb > 0x7fffffff, "bag_softmax_cuda: nb=%lld", (long long)nb);
    softmax_kernel<<<(unsigned)nb, CU_THREADS, 0, ssm_cuda_stream()>>>(attn, score, off);
    CUDA_LAUNCH_CHECK("softmax_kernel");
    return SSM_OK;
}

// ---- segment sums in chunks --------------------------------------------------------------

extern "C" int64_t bag_segsum_scratch(int64_t T_max, int64_t nb_max) {
    return T_max / CHUNK + nb_max + 1; // every segment's last chunk may be partial
}

__device__ __forceinline__ int64_t seg_lo(const int64_t *off, int64_t s) { return off ? off[s] : 0; }
__device__ __forceinline__ int64_t seg_hi(const int64_t *off, int64_t s, int64_t T) {
    return off ? off[s + 1] : T;
}

// chunk_start [nseg + 1]: the first chunk of each segment (one thread: nseg is a batch's bags).
__global__ static void chunks_kernel(int64_t *chunk_start, const int64_t *off, int64_t nseg,
                                     int64_t T) {
    int64_t c = 0;
    for (int64_t s = 0; s < nseg; s++) {
        chunk_start[s] = c;
        c += (seg_hi(off, s, T) - seg_lo(off, s) + CHUNK - 1) / CHUNK;
    }
    chunk_start[nseg] = c;
}

// partial [c, j] = sum over chunk c's tokens (in order) of wt[t] X[t, j] (Y[t, j]); wt NULL: 1.
__global__ static void partial_kernel(float *partial, const float *X, const float *Y,
                                      const float *wt, const int64_t *off,
                                      const int64_t *chunk_start, int64_t nseg, int64_t T,
                                      int64_t C, int64_t max_chunks) {
    int64_t nch = chunk_start[nseg];
    GRID_STRIDE(i, max_chunks * C) {
        int64_t c = i / C, j = i % C;
        if (c >= nch)
            continue;
        int64_t s = seg_of(chunk_start, nseg, c);
        int64_t t0 = seg_lo(off, s) + (c - chunk_start[s]) * CHUNK, t1 = t0 + CHUNK;
        t1 = t1 < seg_hi(off, s, T) ? t1 : seg_hi(off, s, T);
        float acc = 0.f;
        for (int64_t t = t0; t < t1; t++)
            acc += (wt ? wt[t] : 1.f) * X[t * C + j] * (Y ? Y[t * C + j] : 1.f);
        partial[i] = acc;
    }
}

// out [s, j] (=, or +=) = the segment's chunks added in chunk order (/ length for the mean).
__global__ static void finish_kernel(float *out, const float *partial, const int64_t *off,
                                     const int64_t *chunk_start, int64_t nseg, int64_t T,
                                     int64_t C, int mean, int accumulate) {
    GRID_STRIDE(i, nseg * C) {
        int64_t s = i / C, j = i % C;
        float acc = 0.f;
        for (int64_t c = chunk_start[s]; c < chunk_start[s + 1]; c++)
            acc += partial[c * C + j];
        if (mean)
            acc /= (float)(seg_hi(off, s, T) - seg_lo(off, s));
        out[i] = accumulate ? out[i] + acc : acc;
    }
}

extern "C" ssm_code bag_segsum_cuda(real *out, const real *X, const real *Y, const real *wt,
                                    const int64_t *off, int64_t nseg, int64_t T, int64_t C,
                                    int accumulate, real *partial, int64_t *chunk_start,
                                    int64_t max_chunks) {
    cu_bad_shape(nseg < 1 || T < nseg || C < 1 || (!off && nseg != 1) ||
                     max_chunks < T / CHUNK + nseg,
                 "bag_segsum_cuda: nseg=%lld T=%lld C=%lld max_chunks=%lld", (long long)nseg,
                 (long long)T, (long long)C, (long long)max_chunks);
    chunks_kernel<<<1, 1, 0, ssm_cuda_stream()>>>(chunk_start, off, nseg, T);
    CUDA_LAUNCH_CHECK("chunks_kernel");
    partial_kernel<<<cu_blocks(max_chunks * C, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        partial, X, Y, wt, off, chunk_start, nseg, T, C, max_chunks);
    CUDA_LAUNCH_CHECK("partial_kernel");
    finish_kernel<<<cu_blocks(nseg * C, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, partial, off, chunk_start, nseg, T, C, wt == NULL, accumulate);
    CUDA_LAUNCH_CHECK("finish_kernel");
    return SSM_OK;
}

// ---- max and class-token pooling ------------------------------------------------------------

// One thread per (bag, d): the first token holding the maximum, as the CPU.
__global__ static void max_kernel(float *pooled, int64_t *argmax, const float *feats,
                                  const int64_t *off, int64_t nb, int64_t D) {
    GRID_STRIDE(i, nb * D) {
        int64_t b = i / D, d = i % D, best = off[b];
        for (int64_t t = off[b] + 1; t < off[b + 1]; t++)
            best = feats[t * D + d] > feats[best * D + d] ? t : best;
        pooled[i] = feats[best * D + d];
        argmax[i] = best;
    }
}

extern "C" ssm_code bag_max_pool_cuda(real *pooled, int64_t *argmax, const real *feats,
                                      const int64_t *off, int64_t nb, int64_t D) {
    cu_bad_shape(nb < 1 || D < 1, "bag_max_pool_cuda: nb=%lld D=%lld", (long long)nb, (long long)D);
    max_kernel<<<cu_blocks(nb * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        pooled, argmax, feats, off, nb, D);
    CUDA_LAUNCH_CHECK("max_kernel");
    return SSM_OK;
}

__global__ static void cls_kernel(float *pooled, const float *feats, const int64_t *off,
                                  int64_t nb, int64_t D) {
    GRID_STRIDE(i, nb * D) pooled[i] = feats[off[i / D] * D + i % D];
}

extern "C" ssm_code bag_cls_pool_cuda(real *pooled, const real *feats, const int64_t *off,
                                      int64_t nb, int64_t D) {
    cu_bad_shape(nb < 1 || D < 1, "bag_cls_pool_cuda: nb=%lld D=%lld", (long long)nb, (long long)D);
    cls_kernel<<<cu_blocks(nb * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(pooled, feats,
                                                                                    off, nb, D);
    CUDA_LAUNCH_CHECK("cls_kernel");
    return SSM_OK;
}

// ---- backward --------------------------------------------------------------------------------

// One block per bag: da_t = feats[t] . dz (a thread per token, d in order), ds_t into ds;
// S = sum a da by a fixed tree; then ds_t = a_t (da_t - S).
__global__ static void dscore_kernel(float *ds, const float *attn, const float *feats,
                                     const float *dz, const int64_t *off, int64_t D) {
    __shared__ float sh[32];
    int64_t b = blockIdx.x, lo = off[b], hi = off[b + 1];
    const float *z = dz + b * D;
    float S = 0.f;
    for (int64_t t = lo + threadIdx.x; t < hi; t += blockDim.x) {
        float da = 0.f;
        for (int64_t d = 0; d < D; d++)
            da += feats[t * D + d] * z[d];
        ds[t] = da;
        S += attn[t] * da;
    }
    S = cu_block_sum(S, sh);
    for (int64_t t = lo + threadIdx.x; t < hi; t += blockDim.x)
        ds[t] = attn[t] * (ds[t] - S); // the same thread wrote ds[t] above
}

extern "C" ssm_code bag_attn_dscore_cuda(real *ds, const real *attn, const real *feats,
                                         const real *dz, const int64_t *off, int64_t nb,
                                         int64_t D) {
    cu_bad_shape(nb < 1 || nb > 0x7fffffff || D < 1, "bag_attn_dscore_cuda: nb=%lld D=%lld",
                 (long long)nb, (long long)D);
    dscore_kernel<<<(unsigned)nb, CU_THREADS, 0, ssm_cuda_stream()>>>(ds, attn, feats, dz, off, D);
    CUDA_LAUNCH_CHECK("dscore_kernel");
    return SSM_OK;
}

// mode 0 (weights) and 1 (mean): one thread per (token, d).
__global__ static void spread_kernel(float *dfeats, const float *dz, const float *wt,
                                     const int64_t *off, int64_t nb, int64_t T, int64_t D) {
    GRID_STRIDE(i, T * D) {
        int64_t t = i / D, b = seg_of(off, nb, t);
        float w = wt ? wt[t] : 1.f / (float)(off[b + 1] - off[b]);
        dfeats[i] += w * dz[b * D + i % D];
    }
}

// mode 2 (class token) and 3 (max): one thread per (bag, d), a single token each.
__global__ static void pick_kernel(float *dfeats, const float *dz, const int64_t *argmax,
                                   const int64_t *off, int64_t nb, int64_t D) {
    GRID_STRIDE(i, nb * D) {
        int64_t t = argmax ? argmax[i] : off[i / D];
        dfeats[t * D + i % D] += dz[i];
    }
}

extern "C" ssm_code bag_pool_backward_cuda(real *dfeats, const real *dz, const real *wt,
                                           const int64_t *argmax, const int64_t *off, int64_t nb,
                                           int64_t T, int64_t D, int mode) {
    cu_bad_shape(nb < 1 || T < nb || D < 1 || mode < 0 || mode > 3 || (mode == 0 && !wt) ||
                     (mode == 3 && !argmax),
                 "bag_pool_backward_cuda: nb=%lld T=%lld D=%lld mode=%d", (long long)nb,
                 (long long)T, (long long)D, mode);
    if (mode <= 1) {
        spread_kernel<<<cu_blocks(T * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
            dfeats, dz, mode ? NULL : wt, off, nb, T, D);
        CUDA_LAUNCH_CHECK("spread_kernel");
    } else {
        pick_kernel<<<cu_blocks(nb * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(dfeats, dz,
                                                                   mode == 3 ? argmax : NULL, off,
                                                                   nb, D);
        CUDA_LAUNCH_CHECK("pick_kernel");
    }
    return SSM_OK;
}

__global__ static void dpre_kernel(float *A, float *G, const float *ds, const float *w, int64_t T,
                                   int64_t H) {
    GRID_STRIDE(i, T * H) {
        float a = A[i], g = G ? G[i] : 1.f, dP = ds[i / H] * w[i % H];
        A[i] = dP * g * (1.f - a * a);
        if (G)
            G[i] = dP * a * g * (1.f - g);
    }
}

extern "C" ssm_code bag_attn_dpre_cuda(real *A, real *G, const real *ds, const real *w, int64_t T,
                                       int64_t H) {
    cu_bad_shape(T < 1 || H < 1, "bag_attn_dpre_cuda: T=%lld H=%lld", (long long)T, (long long)H);
    dpre_kernel<<<cu_blocks(T * H, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(A, G, ds, w, T,
                                                                                    H);
    CUDA_LAUNCH_CHECK("dpre_kernel");
    return SSM_OK;
}
