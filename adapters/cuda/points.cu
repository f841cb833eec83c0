// defines: the point_groups device kernels (see points.h)
#include <math.h>

#include "adapters/adapter.h"
#include "adapters/cuda/points.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

#define LAUNCH(kernel, n, ...)                                                                     \
    do {                                                                                           \
        if ((n) > 0) {                                                                             \
            kernel<<<cu_blocks((n), CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(__VA_ARGS__); \
            CUDA_LAUNCH_CHECK(#kernel);                                                            \
        }                                                                                          \
        return SSM_OK;                                                                             \
    } while (0)

__global__ void k_centres(float *centres, const float *x, const int32_t *cidx, int64_t N,
                          int64_t G, int64_t C, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t bg = i / 3, j = i % 3;
        centres[i] = x[(bg / G * N + cidx[bg]) * C + j];
    }
}

extern "C" ssm_code pg_centres_cuda(real *centres, const real *x, const int32_t *cidx, int64_t B,
                                    int64_t N, int64_t G, int64_t C) {
    LAUNCH(k_centres, B * G * 3, centres, x, cidx, N, G, C, B * G * 3);
}

__global__ void k_group(float *pin, const float *x, const float *centres, const int32_t *nidx,
                        int64_t N, int64_t G, int64_t k, int64_t C, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t r = i / C, j = i % C, bg = r / k;
        float v = x[(bg / G * N + nidx[r]) * C + j];
        pin[i] = j < 3 ? v - centres[bg * 3 + j] : v;
    }
}

extern "C" ssm_code pg_group_cuda(real *pin, const real *x, const real *centres,
                                  const int32_t *nidx, int64_t B, int64_t N, int64_t G, int64_t k,
                                  int64_t C) {
    LAUNCH(k_group, B * G * k * C, pin, x, centres, nidx, N, G, k, C, B * G * k * C);
}

__global__ void k_relu(float *x, int64_t n) {
    GRID_STRIDE(i, n) x[i] = x[i] > 0.f ? x[i] : 0.f;
}
extern "C" ssm_code pg_relu_cuda(real *x, int64_t n) { LAUNCH(k_relu, n, x, n); }

__global__ void k_relu_mask(float *d, const float *a, int64_t n) {
    GRID_STRIDE(i, n) d[i] = a[i] > 0.f ? d[i] : 0.f;
}
extern "C" ssm_code pg_relu_mask_cuda(real *d, const real *a, int64_t n) {
    LAUNCH(k_relu_mask, n, d, a, n);
}

__global__ void k_maxpool(float *out, int32_t *am, const float *in, int64_t k, int64_t Ch,
                          int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t g = i / Ch, c = i % Ch;
        const float *col = in + g * k * Ch + c;
        float m = col[0];
        int32_t a = 0;
        for (int64_t j = 1; j < k; j++)
            if (col[j * Ch] > m) {
                m = col[j * Ch];
                a = (int32_t)j;
            }
        out[i] = m;
        am[i] = a;
    }
}

extern "C" ssm_code pg_maxpool_cuda(real *out, int32_t *am, const real *in, int64_t BG, int64_t k,
                                    int64_t Ch) {
    LAUNCH(k_maxpool, BG * Ch, out, am, in, k, Ch, BG * Ch);
}

__global__ void k_maxpool_bwd(float *din, const float *dout, const int32_t *am, int64_t k,
                              int64_t Ch, int64_t n) {
    GRID_STRIDE(i, n) { // (g, c) owns one element of din: no two threads write the same one
        int64_t g = i / Ch, c = i % Ch;
        din[(g * k + am[i]) * Ch + c] += dout[i];
    }
}

extern "C" ssm_code pg_maxpool_backward_cuda(real *din, const real *dout, const int32_t *am,
                                             int64_t BG, int64_t k, int64_t Ch) {
    LAUNCH(k_maxpool_bwd, BG * Ch, din, dout, am, k, Ch, BG * Ch);
}

__global__ void k_w3_split(float *w3g, float *w3l, const float *w3, int64_t H2, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t o = i / (2 * H2), c = i % (2 * H2);
        if (c < H2)
            w3g[o * H2 + c] = w3[i];
        else
            w3l[o * H2 + c - H2] = w3[i];
    }
}

extern "C" ssm_code pg_w3_split_cuda(real *w3g, real *w3l, const real *w3, int64_t H3,
                                     int64_t H2) {
    LAUNCH(k_w3_split, H3 * 2 * H2, w3g, w3l, w3, H2, H3 * 2 * H2);
}

__global__ void k_w3_add_half(float *dw3, const float *dw, int half, int64_t H2, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t o = i / H2, c = i % H2;
        dw3[o * 2 * H2 + half * H2 + c] += dw[i];
    }
}

extern "C" ssm_code pg_w3_add_half_cuda(real *dw3, const real *dw, int half, int64_t H3,
                                        int64_t H2) {
    LAUNCH(k_w3_add_half, H3 * H2, dw3, dw, half, H2, H3 * H2);
}

__global__ void k_add_group(float *h, const float *g, int64_t k, int64_t Ch, int64_t n) {
    GRID_STRIDE(i, n) h[i] += g[i / Ch / k * Ch + i % Ch];
}

extern "C" ssm_code pg_add_group_cuda(real *h, const real *g, int64_t R, int64_t k, int64_t Ch) {
    LAUNCH(k_add_group, R * Ch, h, g, k, Ch, R * Ch);
}

__global__ void k_group_sum(float *s, const float *d, int64_t k, int64_t Ch, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t g = i / Ch, c = i % Ch;
        float a = 0.f;
        for (int64_t j = 0; j < k; j++) // ascending j, as the CPU
            a += d[(g * k + j) * Ch + c];
        s[i] = a;
    }
}

extern "C" ssm_code pg_group_sum_cuda(real *s, const real *d, int64_t BG, int64_t k, int64_t Ch) {
    LAUNCH(k_group_sum, BG * Ch, s, d, k, Ch, BG * Ch);
}

__global__ void k_gelu(float *out, const float *in, int64_t n) {
    GRID_STRIDE(i, n) {
        double v = in[i];
        out[i] = (float)(0.5 * v * (1 + erf(v * M_SQRT1_2)));
    }
}
extern "C" ssm_code pg_gelu_cuda(real *out, const real *in, int64_t n) {
    LAUNCH(k_gelu, n, out, in, n);
}

__global__ void k_gelu_bwd(float *d, const float *pre, int64_t n) {
    GRID_STRIDE(i, n) {
        double v = pre[i];
        double g = 0.5 * (1 + erf(v * M_SQRT1_2)) + v * exp(-0.5 * v * v) * 0.3989422804014327;
        d[i] = (float)(d[i] * g);
    }
}
extern "C" ssm_code pg_gelu_backward_cuda(real *d, const real *pre, int64_t n) {
    LAUNCH(k_gelu_bwd, n, d, pre, n);
}

typedef struct {
    point_order o[SSM_ADAPTER_MAX_ORDERS];
} orders_arg;

// One block per (order, sample): thread 0 finds the sample's lowest coordinates and
// largest cells (point_order_build's two passes), every thread keys its centres, then
// each centre's rank among (key, index) pairs is its scan step.
__global__ void k_orders(int32_t *orders, orders_arg oa, const float *centres, int64_t B,
                         int64_t G, double grid, uint64_t *keys) {
    const int o = (int)(blockIdx.x / B);
    const int64_t b = blockIdx.x % B;
    const point_order *po = &oa.o[o];
    int32_t *perm = orders + ((int64_t)o * B + b) * G;
    const float *c = centres + b * G * 3;
    uint64_t *key = keys + ((int64_t)o * B + b) * G;
    if (po->kind == POINT_ORDER_FPS) {
        for (int64_t g = threadIdx.x; g < G; g += blockDim.x)
            perm[po->reverse ? G - 1 - g : g] = (int32_t)g;
        return;
    }
    __shared__ double lo[3];
    __shared__ uint32_t mx[3];
    if (threadIdx.x == 0) {
        for (int j = 0; j < 3; j++) {
            lo[j] = INFINITY;
            mx[j] = 0;
        }
        for (int64_t g = 0; g < G; g++)
            for (int j = 0; j < 3; j++)
                lo[j] = fmin(lo[j], (double)c[g * 3 + j]);
    }
    __syncthreads();
    uint32_t cell[3];
#define CELLS(g)                                                                          \
    for (int j = 0; j < 3; j++) {                                                         \
        double v = floor(((double)c[(g) * 3 + j] - lo[j]) / grid);                        \
        cell[j] = !(v > 0) ? 0 : v >= POINT_CELL_MAX ? POINT_CELL_MAX : (uint32_t)v;     \
    }
    if (threadIdx.x == 0)
        for (int64_t g = 0; g < G; g++) {
            CELLS(g)
            for (int j = 0; j < 3; j++)
                mx[j] = cell[j] > mx[j] ? cell[j] : mx[j];
        }
    __syncthreads();
    uint32_t m[3] = {mx[0], mx[1], mx[2]};
    for (int64_t g = threadIdx.x; g < G; g += blockDim.x) {
        CELLS(g)
        key[g] = point_order_key(po->kind, po->trans, po->axes, cell, m);
    }
#undef CELLS
    __syncthreads();
    for (int64_t g = threadIdx.x; g < G; g += blockDim.x) {
        uint64_t kg = key[g];
        int64_t rank = 0;
        for (int64_t j = 0; j < G; j++)
            rank += key[j] < kg || (key[j] == kg && j < g);
        perm[po->reverse ? G - 1 - rank : rank] = (int32_t)g;
    }
}

extern "C" ssm_code pg_orders_cuda(int32_t *orders, const point_order *o, int n_orders,
                                   const real *centres, int64_t B, int64_t G, double grid,
                                   uint64_t *keys) {
    cu_bad_shape(n_orders < 0 || n_orders > SSM_ADAPTER_MAX_ORDERS || B < 0 || G < 1 || B * n_orders > 2147483647,
                 "pg_orders_cuda: %d orders, B = %lld, G = %lld", n_orders, (long long)B,
                 (long long)G);
    if (B == 0 || n_orders == 0)
        return SSM_OK;
    orders_arg oa;
    for (int i = 0; i < n_orders; i++)
        oa.o[i] = o[i];
    k_orders<<<(unsigned)(B * n_orders), CU_THREADS, 0, ssm_cuda_stream()>>>(orders, oa, centres, B,
                                                                             G, grid, keys);
    CUDA_LAUNCH_CHECK("pg_orders_cuda");
    return SSM_OK;
}
