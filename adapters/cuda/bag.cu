// defines: the bag_features device kernels (see bag.h)
#include <cub/device/device_segmented_radix_sort.cuh>

#include "adapters/cuda/bag.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

// The bag (0 .. n-1) that instance i of the packed row belongs to: off[b] <= i < off[b+1].
__device__ __forceinline__ int64_t bag_of(const int64_t *off, int64_t n, int64_t i) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (off[mid] <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

// The token row's bag of token position q: bag_token_start(off, b, extra) <= q.
__device__ __forceinline__ int64_t bag_of_token(const int64_t *off, int64_t n, int64_t extra,
                                                int64_t q) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (bag_token_start(off, mid, extra) <= q)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

// The CPU's formulas (adapters/bag_features.c), in float.
__device__ __forceinline__ float act_f(bag_act act, float v) {
    if (act == BAG_ACT_GELU)
        return 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    if (act == BAG_ACT_RELU)
        return v > 0.f ? v : 0.f;
    return v;
}

__device__ __forceinline__ float act_grad(bag_act act, float v) {
    if (act == BAG_ACT_GELU)
        return 0.5f * (1.f + erff(v * 0.70710678118654752f)) +
               v * expf(-0.5f * v * v) * 0.3989422804014327f;
    if (act == BAG_ACT_RELU)
        return v > 0.f ? 1.f : 0.f;
    return 1.f;
}

__global__ static void gather_kernel(float *xf, const float *x, int64_t total, int64_t row,
                                     int64_t F) {
    GRID_STRIDE(i, total * F) xf[i] = x[(i / F) * row + i % F];
}

extern "C" ssm_code bag_gather_cuda(real *xf, const real *x, int64_t total, int64_t row,
                                    int64_t F) {
    cu_bad_shape(total < 0 || F < 1 || row < F, "bag_gather_cuda: total=%lld row=%lld F=%lld",
                 (long long)total, (long long)row, (long long)F);
    if (total == 0)
        return SSM_OK;
    gather_kernel<<<cu_blocks(total * F, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        xf, x, total, row, F);
    CUDA_LAUNCH_CHECK("gather_kernel");
    return SSM_OK;
}

// One thread per (token, d) of the token row.
__global__ static void tokens_fwd_kernel(float *tokens, const float *pre, const float *cls,
                                         const int64_t *off, int64_t n, int64_t total, int64_t D,
                                         int64_t extra, bag_act act) {
    GRID_STRIDE(i, (total + n * extra) * D) {
        int64_t q = i / D, d = i % D, b = bag_of_token(off, n, extra, q);
        int64_t j = q - bag_token_start(off, b, extra); // position within the bag's tokens
        if (j < extra)
            tokens[i] = cls[d];
        else
            tokens[i] = act_f(act, pre[(off[b] + j - extra) * D + d]);
    }
}

extern "C" ssm_code bag_tokens_forward_cuda(real *tokens, const real *pre, const real *cls,
                                            const int64_t *off, int64_t n, int64_t total,
                                            int64_t D, int64_t extra, bag_act act) {
    cu_bad_shape(n < 1 || total < n || D < 1 || extra < 0 || extra > 1 || (extra && !cls),
                 "bag_tokens_forward_cuda: n=%lld total=%lld D=%lld extra=%lld", (long long)n,
                 (long long)total, (long long)D, (long long)extra);
    int64_t m = (total + n * extra) * D;
    tokens_fwd_kernel<<<cu_blocks(m, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        tokens, pre, cls, off, n, total, D, extra, act);
    CUDA_LAUNCH_CHECK("tokens_fwd_kernel");
    return SSM_OK;
}

// One thread per (instance, d); dpre may be pre (each element reads, then writes, its own).
__global__ static void tokens_bwd_kernel(float *dpre, const float *dtokens, const float *pre,
                                         const int64_t *off, int64_t n, int64_t total, int64_t D,
                                         int64_t extra, bag_act act) {
    GRID_STRIDE(i, total * D) {
        int64_t t = i / D, d = i % D;
        int64_t b = extra ? bag_of(off, n, t) : 0; // the token is instance t + (b + 1) * extra
        float g = dtokens[(t + (b + 1) * extra) * D + d];
        dpre[i] = g * act_grad(act, pre[i]);
    }
}

// One thread per d: the bags in ascending order, as the CPU adds them.
__global__ static void dcls_kernel(float *dcls, const float *dtokens, const int64_t *off,
                                   int64_t n, int64_t D) {
    GRID_STRIDE(d, D) {
        float acc = 0.f;
        for (int64_t b = 0; b < n; b++)
            acc += dtokens[bag_token_start(off, b, 1) * D + d];
        dcls[d] += acc;
    }
}

extern "C" ssm_code bag_tokens_backward_cuda(real *dpre, real *dcls, const real *dtokens,
                                             const real *pre, const int64_t *off, int64_t n,
                                             int64_t total, int64_t D, int64_t extra,
                                             bag_act act) {
    cu_bad_shape(n < 1 || total < n || D < 1 || extra < 0 || extra > 1 || (extra && !dcls),
                 "bag_tokens_backward_cuda: n=%lld total=%lld D=%lld extra=%lld", (long long)n,
                 (long long)total, (long long)D, (long long)extra);
    tokens_bwd_kernel<<<cu_blocks(total * D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dpre, dtokens, pre, off, n, total, D, extra, act);
    CUDA_LAUNCH_CHECK("tokens_bwd_kernel");
    if (extra) {
        dcls_kernel<<<cu_blocks(D, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(dcls, dtokens,
                                                                                    off, n, D);
        CUDA_LAUNCH_CHECK("dcls_kernel");
    }
    return SSM_OK;
}

// One thread per token position of the row: class tokens read themselves; instance steps
// read the closed form's instance.
__global__ static void closed_kernel(int32_t *perm, bag_order_kind kind, int64_t R,
                                     const int64_t *off, int64_t n, int64_t T, int64_t extra) {
    GRID_STRIDE(q, T) {
        int64_t b = bag_of_token(off, n, extra, q), t0 = bag_token_start(off, b, extra);
        int64_t s = q - t0 - extra, len = off[b + 1] - off[b];
        perm[q] = (int32_t)(s < 0 ? q : t0 + extra + bag_order_position(kind, R, len, s));
    }
}

extern "C" ssm_code bag_order_closed_cuda(int32_t *perm, const bag_order *o, const int64_t *off,
                                          int64_t n, int64_t total, int64_t extra) {
    cu_bad_shape(n < 1 || total < n || o->R < 1 || o->kind >= BAG_ORDER_SHUFFLE,
                 "bag_order_closed_cuda: n=%lld total=%lld kind=%d", (long long)n,
                 (long long)total, (int)o->kind);
    int64_t T = total + n * extra;
    closed_kernel<<<cu_blocks(T, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        perm, o->kind, o->R, off, n, T, extra);
    CUDA_LAUNCH_CHECK("closed_kernel");
    return SSM_OK;
}

// ---- orders that sort --------------------------------------------------------------------

// Work layout: keys_in, keys_out [max_total] u64; vals_in, vals_out [max_total] i32;
// grids [max_n]; then the sort's temporary storage.
static size_t align256(size_t x) { return (x + 255) / 256 * 256; }

static ssm_code sort_temp_bytes(int64_t max_total, int64_t max_n, size_t *bytes) {
    *bytes = 0;
    CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
        (void *)NULL, *bytes, (const uint64_t *)NULL, (uint64_t *)NULL, (const int32_t *)NULL,
        (int32_t *)NULL, (int)max_total, (int)max_n, (const int64_t *)NULL,
        (const int64_t *)NULL));
    return SSM_OK;
}

extern "C" ssm_code bag_order_work_bytes(int64_t max_total, int64_t max_n, size_t *bytes) {
    cu_bad_shape(max_total < 1 || max_n < 1 || max_total > 0x7fffffff,
                 "bag_order_work_bytes: max_total=%lld max_n=%lld", (long long)max_total,
                 (long long)max_n);
    size_t temp;
    ssm_code rc = sort_temp_bytes(max_total, max_n, &temp);
    if (rc != SSM_OK)
        return rc;
    size_t T = (size_t)max_total;
    *bytes = 2 * align256(T * 8) + 2 * align256(T * 4) + align256((size_t)max_n * sizeof(bag_grid)) +
             align256(temp);
    return SSM_OK;
}

// A bag's grid (adapters/bag_common.h) by one block per bag: minima, then the gcd of the
// offsets, then the largest grid index; each a tree over the block (min, gcd and max give
// the same result in any order).
__device__ __forceinline__ int64_t coord(float v) { return (int64_t)llrint((double)v); }

template <typename T, typename Op> __device__ T block_reduce(T v, T *sh, Op op) {
    __syncthreads();
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            sh[threadIdx.x] = op(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    return sh[0];
}

struct MinOp {
    __device__ int64_t operator()(int64_t a, int64_t b) const { return a < b ? a : b; }
};
struct MaxOp {
    __device__ uint64_t operator()(uint64_t a, uint64_t b) const { return a > b ? a : b; }
};
struct GcdOp {
    __device__ uint64_t operator()(uint64_t a, uint64_t b) const { return bag_gcd(a, b); }
};

#define GRID_THREADS 256

__global__ static void grid_kernel(bag_grid *grids, const float *xy, int64_t row,
                                   const int64_t *off) {
    __shared__ int64_t shi[GRID_THREADS];
    __shared__ uint64_t shu[GRID_THREADS];
    int64_t b = blockIdx.x, lo = off[b], hi = off[b + 1];
    int64_t mx = INT64_MAX, my = INT64_MAX;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        int64_t x = coord(xy[i * row]), y = coord(xy[i * row + 1]);
        mx = x < mx ? x : mx;
        my = y < my ? y : my;
    }
    int64_t x0 = block_reduce(mx, shi, MinOp()), y0 = block_reduce(my, shi, MinOp());
    uint64_t gx = 0, gy = 0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        gx = bag_gcd(gx, (uint64_t)(coord(xy[i * row]) - x0));
        gy = bag_gcd(gy, (uint64_t)(coord(xy[i * row + 1]) - y0));
    }
    gx = block_reduce(gx, shu, GcdOp());
    gy = block_reduce(gy, shu, GcdOp());
    gx = gx ? gx : 1;
    gy = gy ? gy : 1;
    uint64_t cmax = 0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) {
        uint64_t cx = (uint64_t)(coord(xy[i * row]) - x0) / gx;
        uint64_t cy = (uint64_t)(coord(xy[i * row + 1]) - y0) / gy;
        cmax = cx > cmax ? cx : cmax;
        cmax = cy > cmax ? cy : cmax;
    }
    cmax = block_reduce(cmax, shu, MaxOp());
    if (threadIdx.x == 0) {
        int bits = 1;
        while (bits < 32 && (cmax >> bits) != 0)
            bits++;
        grids[b] = bag_grid{x0, y0, (int64_t)gx, (int64_t)gy, bits};
    }
}

// keys and values (the instance within its bag) of every instance.
__global__ static void keys_kernel(uint64_t *keys, int32_t *vals, bag_order_kind kind, int which,
                                   uint64_t key, const float *xy, int64_t row,
                                   const bag_grid *grids, const int64_t *off, int64_t n,
                                   int64_t total) {
    GRID_STRIDE(i, total) {
        int64_t b = bag_of(off, n, i), j = i - off[b];
        vals[i] = (int32_t)j;
        if (kind == BAG_ORDER_SHUFFLE)
            keys[i] = bag_shuffle_key(key, which, b, j);
        else
            keys[i] = bag_grid_key(kind, &grids[b], coord(xy[i * row]), coord(xy[i * row + 1]));
    }
}

// perm over the token row from the sorted values: step s of bag b reads its instance vals[s].
__global__ static void scatter_kernel(int32_t *perm, const int32_t *vals, const int64_t *off,
                                      int64_t n, int64_t T, int64_t extra) {
    GRID_STRIDE(q, T) {
        int64_t b = bag_of_token(off, n, extra, q), t0 = bag_token_start(off, b, extra);
        int64_t s = q - t0 - extra;
        perm[q] = (int32_t)(s < 0 ? q : t0 + extra + vals[off[b] + s]);
    }
}

extern "C" ssm_code bag_order_sorted_cuda(int32_t *perm, const bag_order *o, int which,
                                          uint64_t key, const real *xy, int64_t row,
                                          const int64_t *off, int64_t n, int64_t total,
                                          int64_t extra, void *work, int64_t max_total,
                                          int64_t max_n) {
    cu_bad_shape(n < 1 || total < n || total > max_total || n > max_n ||
                     o->kind < BAG_ORDER_SHUFFLE || (o->kind != BAG_ORDER_SHUFFLE && !xy),
                 "bag_order_sorted_cuda: n=%lld (max %lld) total=%lld (max %lld) kind=%d",
                 (long long)n, (long long)max_n, (long long)total, (long long)max_total,
                 (int)o->kind);
    size_t Tm = (size_t)max_total;
    char *w = (char *)work;
    uint64_t *keys_in = (uint64_t *)w, *keys_out = (uint64_t *)(w + align256(Tm * 8));
    int32_t *vals_in = (int32_t *)(w + 2 * align256(Tm * 8));
    int32_t *vals_out = (int32_t *)((char *)vals_in + align256(Tm * 4));
    bag_grid *grids = (bag_grid *)((char *)vals_out + align256(Tm * 4));
    void *temp = (char *)grids + align256((size_t)max_n * sizeof(bag_grid));
    size_t temp_bytes;
    ssm_code rc = sort_temp_bytes(max_total, max_n, &temp_bytes);
    if (rc != SSM_OK)
        return rc;
    if (o->kind != BAG_ORDER_SHUFFLE) {
        grid_kernel<<<(unsigned)n, GRID_THREADS, 0, ssm_cuda_stream()>>>(grids, xy, row, off);
        CUDA_LAUNCH_CHECK("grid_kernel");
    }
    keys_kernel<<<cu_blocks(total, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        keys_in, vals_in, o->kind, which, key, xy, row, grids, off, n, total);
    CUDA_LAUNCH_CHECK("keys_kernel");
    // A radix sort is stable: equal keys keep the ascending instance order, as the host's
    // sort by (key, instance).
    CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairs(
        temp, temp_bytes, keys_in, keys_out, vals_in, vals_out, (int)total, (int)n, off, off + 1,
        0, (int)(sizeof(uint64_t) * 8), ssm_cuda_stream()));
    int64_t T = total + n * extra;
    scatter_kernel<<<cu_blocks(T, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        perm, vals_out, off, n, T, extra);
    CUDA_LAUNCH_CHECK("scatter_kernel");
    return SSM_OK;
}
