// defines: fps_forward_cuda, knn_forward_cuda, interp_weights_cuda, interp_forward_cuda,
//          interp_backward_cuda (see pointops.h)
#include <float.h>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/pointops.h"

#define FPS_THREADS 512
#define KNN_THREADS 128
#define KNN_TILE 256
#define FULL_MASK 0xffffffffu

// kernels/pointops.h's point_dist2, operation for operation, each rounded on its own.
__device__ __forceinline__ float cu_dist2(const float *a, const float *b) {
    float dx = __fsub_rn(a[0], b[0]), dy = __fsub_rn(a[1], b[1]), dz = __fsub_rn(a[2], b[2]);
    float s = __fadd_rn(__fmul_rn(dx, dx), __fmul_rn(dy, dy));
    return __fadd_rn(s, __fmul_rn(dz, dz));
}

// (v, i) beats (bv, bi): a larger distance, or the same with a lower index (i < 0: none).
__device__ __forceinline__ bool fps_better(float v, int64_t i, float bv, int64_t bi) {
    if (i < 0)
        return false;
    if (bi < 0)
        return true;
    return v > bv || (v == bv && i < bi);
}

__global__ void k_fps(int32_t *idx, float *dist, const float *xyz, int64_t N, int64_t M,
                      int64_t stride) {
    const int64_t b = blockIdx.x;
    const float *p = xyz + b * N * stride;
    float *d = dist + b * N;
    int32_t *out = idx + b * M;
    __shared__ float wv[FPS_THREADS / 32];
    __shared__ int64_t wi[FPS_THREADS / 32];
    __shared__ int64_t cur_s;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x)
        d[i] = i == 0 ? -1.f : FLT_MAX;
    if (threadIdx.x == 0) {
        out[0] = 0;
        cur_s = 0;
    }
    __syncthreads();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    for (int64_t m = 1; m < M; m++) {
        const int64_t cur = cur_s;
        const float c[3] = {p[cur * stride], p[cur * stride + 1], p[cur * stride + 2]};
        float best = -1.f;
        int64_t bi = -1;
        for (int64_t i = threadIdx.x; i < N; i += blockDim.x) { // ascending: ties keep the lowest
            float di = d[i];
            if (di < 0.f)
                continue;
            float t = cu_dist2(p + i * stride, c);
            if (t < di) {
                di = t;
                d[i] = t;
            }
            if (di > best) {
                best = di;
                bi = i;
            }
        }
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(FULL_MASK, best, o);
            int64_t oi = __shfl_xor_sync(FULL_MASK, bi, o);
            if (fps_better(ov, oi, best, bi)) {
                best = ov;
                bi = oi;
            }
        }
        if (lane == 0) {
            wv[warp] = best;
            wi[warp] = bi;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            float bv = -1.f;
            int64_t w = -1;
            for (int k = 0; k < nw; k++)
                if (fps_better(wv[k], wi[k], bv, w)) {
                    bv = wv[k];
                    w = wi[k];
                }
            if (w < 0) // only non-finite distances left: the lowest untaken, as the CPU
                for (w = 0; d[w] < 0.f; w++) {
                }
            out[m] = (int32_t)w;
            d[w] = -1.f;
            cur_s = w;
        }
        __syncthreads();
    }
}

extern "C" ssm_code fps_forward_cuda(int32_t *idx, real *scratch, const real *xyz, int64_t B,
                                     int64_t N, int64_t M, int64_t stride) {
    cu_bad_shape(B < 0 || N < 1 || M < 0 || M > N || stride < 3 || B > 2147483647,
                 "fps_forward_cuda: B = %lld, N = %lld, M = %lld, stride = %lld (M <= N, "
                 "stride >= 3)", (long long)B, (long long)N, (long long)M, (long long)stride);
    if (B == 0 || M == 0)
        return SSM_OK;
    k_fps<<<(unsigned)B, FPS_THREADS, 0, ssm_cuda_stream()>>>(idx, scratch, xyz, N, M, stride);
    CUDA_LAUNCH_CHECK("fps_forward_cuda");
    return SSM_OK;
}

__global__ void k_knn(int32_t *idx, float *dist2, const float *query, int64_t qstride,
                      const float *ref, int64_t rstride, int64_t M, int64_t N, int k) {
    const int64_t b = blockIdx.y, m = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    const bool active = m < M;
    __shared__ float tile[KNN_TILE * 3];
    float q[3] = {0.f, 0.f, 0.f};
    if (active)
        for (int c = 0; c < 3; c++)
            q[c] = query[(b * M + m) * qstride + c];
    float bd[KNN_CUDA_MAX_K];
    int32_t bi[KNN_CUDA_MAX_K];
    int n = 0;
    for (int64_t t0 = 0; t0 < N; t0 += KNN_TILE) {
        const int tn = (int)(N - t0 < KNN_TILE ? N - t0 : KNN_TILE);
        __syncthreads(); // the last tile is read by every thread
        for (int j = threadIdx.x; j < tn; j += blockDim.x)
            for (int c = 0; c < 3; c++)
                tile[j * 3 + c] = ref[(b * N + t0 + j) * rstride + c];
        __syncthreads();
        if (!active)
            continue;
        for (int j = 0; j < tn; j++) {
            float t = cu_dist2(tile + j * 3, q);
            if (n == k && !(t < bd[k - 1]))
                continue;
            int p = n < k ? n++ : k - 1;
            while (p > 0 && bd[p - 1] > t) {
                bd[p] = bd[p - 1];
                bi[p] = bi[p - 1];
                p--;
            }
            bd[p] = t;
            bi[p] = (int32_t)(t0 + j);
        }
    }
    if (!active)
        return;
    int32_t *oi = idx + (b * M + m) * k;
    for (int j = 0; j < k; j++)
        oi[j] = bi[j];
    if (dist2)
        for (int j = 0; j < k; j++)
            dist2[(b * M + m) * k + j] = bd[j];
}

extern "C" ssm_code knn_forward_cuda(int32_t *idx, real *dist2, const real *query,
                                     int64_t qstride, const real *ref, int64_t rstride, int64_t B,
                                     int64_t M, int64_t N, int64_t k) {
    cu_bad_shape(B < 0 || M < 0 || N < 1 || k < 1 || k > N || k > KNN_CUDA_MAX_K ||
                     qstride < 3 || rstride < 3 || B > 65535,
                 "knn_forward_cuda: B = %lld, M = %lld, N = %lld, k = %lld (1 <= k <= min(N, "
                 "%d), B <= 65535)", (long long)B, (long long)M, (long long)N, (long long)k,
                 KNN_CUDA_MAX_K);
    if (B == 0 || M == 0)
        return SSM_OK;
    dim3 grid((unsigned)((M + KNN_THREADS - 1) / KNN_THREADS), (unsigned)B);
    k_knn<<<grid, KNN_THREADS, 0, ssm_cuda_stream()>>>(idx, dist2, query, qstride, ref, rstride, M,
                                                       N, (int)k);
    CUDA_LAUNCH_CHECK("knn_forward_cuda");
    return SSM_OK;
}

// ---- inverse-distance interpolation -------------------------------------------------

__global__ void k_interp_weights(float *w, const float *dist2, int64_t n, int64_t k) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        double s = 0;
        for (int64_t j = 0; j < k; j++)
            s += 1.0 / (sqrt((double)dist2[i * k + j]) + 1e-8);
        for (int64_t j = 0; j < k; j++)
            w[i * k + j] = (float)(1.0 / (sqrt((double)dist2[i * k + j]) + 1e-8) / s);
    }
}

extern "C" ssm_code interp_weights_cuda(real *w, const real *dist2, int64_t n, int64_t k) {
    cu_bad_shape(n < 0 || k < 1, "interp_weights_cuda: n = %lld, k = %lld", (long long)n,
                 (long long)k);
    if (n == 0)
        return SSM_OK;
    k_interp_weights<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(w, dist2, n,
                                                                                     k);
    CUDA_LAUNCH_CHECK("interp_weights_cuda");
    return SSM_OK;
}

// One thread per out[b, i, c]: consecutive threads, consecutive c (coalesced reads of a row).
__global__ void k_interp_fwd(float *out, const float *feat, const int32_t *idx, const float *w,
                             int64_t B, int64_t N, int64_t M, int64_t C, int64_t k) {
    for (int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; t < B * N * C;
         t += (int64_t)gridDim.x * blockDim.x) {
        int64_t bn = t / C, c = t % C;
        const float *f = feat + bn / N * M * C + c;
        float s = 0.f;
        for (int64_t j = 0; j < k; j++)
            s += w[bn * k + j] * f[(int64_t)idx[bn * k + j] * C];
        out[t] = s;
    }
}

extern "C" ssm_code interp_forward_cuda(real *out, const real *feat, const int32_t *idx,
                                        const real *w, int64_t B, int64_t N, int64_t M, int64_t C,
                                        int64_t k) {
    cu_bad_shape(B < 0 || N < 0 || M < 1 || C < 1 || k < 1, "interp_forward_cuda: B = %lld, N = "
                 "%lld, M = %lld, C = %lld, k = %lld", (long long)B, (long long)N, (long long)M,
                 (long long)C, (long long)k);
    if (B == 0 || N == 0)
        return SSM_OK;
    k_interp_fwd<<<cu_blocks(B * N * C, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, feat, idx, w, B, N, M, C, k);
    CUDA_LAUNCH_CHECK("interp_forward_cuda");
    return SSM_OK;
}

#define INTERP_TILE 256
#define INTERP_SMEM_FLOATS 11264 // 44 KB of sums per block (with the 2 KB tile: < 48 KB)

// Block (tile of mt source points from m0, cloud b): sums[mt, C] over the cloud's entries
// (i, j) in order, then dfeat += sums.
__global__ void k_interp_bwd(float *dfeat, const float *dout, const int32_t *idx, const float *w,
                             int64_t N, int64_t M, int64_t C, int64_t k, int64_t mt) {
    extern __shared__ float sums[];
    __shared__ int32_t t_idx[INTERP_TILE];
    __shared__ float t_w[INTERP_TILE];
    const int64_t b = blockIdx.y, m0 = (int64_t)blockIdx.x * mt;
    const int64_t nm = M - m0 < mt ? M - m0 : mt, E = N * k;
    for (int64_t q = threadIdx.x; q < nm * C; q += blockDim.x)
        sums[q] = 0.f;
    const int32_t *ib = idx + b * E;
    const float *wb = w + b * E, *gb = dout + b * N * C;
    for (int64_t e0 = 0; e0 < E; e0 += INTERP_TILE) {
        int64_t ne = E - e0 < INTERP_TILE ? E - e0 : INTERP_TILE;
        __syncthreads();
        for (int64_t q = threadIdx.x; q < ne; q += blockDim.x) {
            t_idx[q] = ib[e0 + q];
            t_w[q] = wb[e0 + q];
        }
        __syncthreads();
        for (int64_t q = 0; q < ne; q++) { // every thread sees the same entries in order
            int64_t m = (int64_t)t_idx[q] - m0;
            if (m < 0 || m >= nm)
                continue;
            const float *g = gb + (e0 + q) / k * C;
            float wq = t_w[q];
            for (int64_t c = threadIdx.x; c < C; c += blockDim.x)
                sums[m * C + c] += wq * g[c];
        }
    }
    __syncthreads();
    float *df = dfeat + (b * M + m0) * C;
    for (int64_t q = threadIdx.x; q < nm * C; q += blockDim.x)
        df[q] += sums[q];
}

extern "C" ssm_code interp_backward_cuda(real *dfeat, const real *dout, const int32_t *idx,
                                         const real *w, int64_t B, int64_t N, int64_t M,
                                         int64_t C, int64_t k) {
    cu_bad_shape(B < 0 || N < 0 || M < 1 || C < 1 || C > INTERP_SMEM_FLOATS || k < 1 ||
                     B > 65535,
                 "interp_backward_cuda: B = %lld, N = %lld, M = %lld, C = %lld (at most %d), k = "
                 "%lld", (long long)B, (long long)N, (long long)M, (long long)C,
                 INTERP_SMEM_FLOATS, (long long)k);
    if (B == 0 || N == 0)
        return SSM_OK;
    int64_t mt = INTERP_SMEM_FLOATS / C;
    mt = mt > 16 ? 16 : mt;
    dim3 grid((unsigned)((M + mt - 1) / mt), (unsigned)B);
    k_interp_bwd<<<grid, CU_THREADS, (size_t)(mt * C) * sizeof(float), ssm_cuda_stream()>>>(
        dfeat, dout, idx, w, N, M, C, k, mt);
    CUDA_LAUNCH_CHECK("interp_backward_cuda");
    return SSM_OK;
}
