// defines: the time-series adapters' and RevIN's device kernels (see series.h)
#include "adapters/cuda/series.h"
#include "adapters/revin.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

// One thread per (b, v): the window's two passes in double, as ssm_revin_stats.
__global__ static void norm_fwd_kernel(float *xn, float *mean, float *std, const float *x,
                                       const float *w, const float *c, int64_t B, int64_t T,
                                       int64_t V) {
    GRID_STRIDE(i, B * V) {
        int64_t b = i / V, v = i % V;
        const float *xb = x + b * T * V + v;
        double s = 0, q = 0;
        for (int64_t t = 0; t < T; t++)
            s += xb[t * V];
        double mu = s / (double)T;
        for (int64_t t = 0; t < T; t++) {
            double d = xb[t * V] - mu;
            q += d * d;
        }
        float m = (float)mu, sd = (float)sqrt(q / (double)T + SSM_REVIN_EPS);
        mean[i] = m;
        std[i] = sd;
        for (int64_t t = 0; t < T; t++) {
            float z = (xb[t * V] - m) / sd;
            xn[b * T * V + t * V + v] = w ? z * w[v] + c[v] : z;
        }
    }
}

extern "C" ssm_code revin_norm_forward_cuda(real *xn, real *mean, real *std, const real *x,
                                            const real *w, const real *c, int64_t B, int64_t T,
                                            int64_t V) {
    cu_bad_shape(B < 0 || T < 1 || V < 1, "revin_norm_forward_cuda: B=%lld T=%lld V=%lld",
                 (long long)B, (long long)T, (long long)V);
    if (B == 0)
        return SSM_OK;
    norm_fwd_kernel<<<cu_blocks(B * V, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        xn, mean, std, x, w, c, B, T, V);
    CUDA_LAUNCH_CHECK("norm_fwd_kernel");
    return SSM_OK;
}

// One thread per v, serial over b (the CPU's order): recomputed statistics.
__global__ static void norm_bwd_kernel(float *dw, float *dc, const float *dxn, const float *x,
                                       int64_t B, int64_t T, int64_t V) {
    GRID_STRIDE(v, V) {
        double gw_all = 0, gc_all = 0;
        for (int64_t b = 0; b < B; b++) {
            const float *xb = x + b * T * V + v, *gb = dxn + b * T * V + v;
            double s = 0, q = 0;
            for (int64_t t = 0; t < T; t++)
                s += xb[t * V];
            double mu = s / (double)T;
            for (int64_t t = 0; t < T; t++)
                q += (xb[t * V] - mu) * (xb[t * V] - mu);
            double sd = sqrt(q / (double)T + SSM_REVIN_EPS), gw = 0, gc = 0;
            for (int64_t t = 0; t < T; t++) {
                gw += gb[t * V] * ((xb[t * V] - mu) / sd);
                gc += gb[t * V];
            }
            gw_all += (float)gw; // rounded per sample as the CPU adds them
            gc_all += (float)gc;
        }
        dw[v] += (float)gw_all;
        dc[v] += (float)gc_all;
    }
}

extern "C" ssm_code revin_norm_backward_cuda(real *dw, real *dc, const real *dxn, const real *x,
                                             int64_t B, int64_t T, int64_t V) {
    cu_bad_shape(B < 0 || T < 1 || V < 1, "revin_norm_backward_cuda: B=%lld T=%lld V=%lld",
                 (long long)B, (long long)T, (long long)V);
    norm_bwd_kernel<<<cu_blocks(V, 64), 64, 0, ssm_cuda_stream()>>>(dw, dc, dxn, x, B, T, V);
    CUDA_LAUNCH_CHECK("norm_bwd_kernel");
    return SSM_OK;
}

__global__ static void denorm_fwd_kernel(float *y, const float *yn, const float *mean,
                                         const float *std, const float *w, const float *c,
                                         int64_t B, int64_t H, int64_t V) {
    const float eps2 = (float)(SSM_REVIN_EPS * SSM_REVIN_EPS);
    GRID_STRIDE(i, B * H * V) {
        int64_t v = i % V, b = i / (H * V);
        float z = w ? (yn[i] - c[v]) / (w[v] + eps2) : yn[i];
        y[i] = z * std[b * V + v] + mean[b * V + v];
    }
}

extern "C" ssm_code revin_denorm_forward_cuda(real *y, const real *yn, const real *mean,
                                              const real *std, const real *w, const real *c,
                                              int64_t B, int64_t H, int64_t V) {
    cu_bad_shape(B < 0 || H < 1 || V < 1, "revin_denorm_forward_cuda: B=%lld H=%lld V=%lld",
                 (long long)B, (long long)H, (long long)V);
    if (B == 0)
        return SSM_OK;
    denorm_fwd_kernel<<<cu_blocks(B * H * V, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        y, yn, mean, std, w, c, B, H, V);
    CUDA_LAUNCH_CHECK("denorm_fwd_kernel");
    return SSM_OK;
}

__global__ static void denorm_bwd_x_kernel(float *dyn, const float *dy, const float *std,
                                           const float *w, int64_t B, int64_t H, int64_t V) {
    const float eps2 = (float)(SSM_REVIN_EPS * SSM_REVIN_EPS);
    GRID_STRIDE(i, B * H * V) {
        int64_t v = i % V, b = i / (H * V);
        float g = dy[i] * std[b * V + v];
        dyn[i] += w ? g * (1.f / (w[v] + eps2)) : g;
    }
}

// One thread per v, serial over (b, h): the affine's two sums.
__global__ static void denorm_bwd_w_kernel(float *dw, float *dc, const float *dy, const float *yn,
                                           const float *std, const float *w, const float *c,
                                           int64_t B, int64_t H, int64_t V) {
    const float eps2 = (float)(SSM_REVIN_EPS * SSM_REVIN_EPS);
    GRID_STRIDE(v, V) {
        float inv = 1.f / (w[v] + eps2), sw = 0.f, sc = 0.f;
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < H; h++) {
                int64_t i = (b * H + h) * V + v;
                float g = dy[i] * std[b * V + v];
                sc -= g * inv;
                sw -= g * (yn[i] - c[v]) * inv * inv;
            }
        dw[v] += sw;
        dc[v] += sc;
    }
}

extern "C" ssm_code revin_denorm_backward_cuda(real *dyn, real *dw, real *dc, const real *dy,
                                               const real *yn, const real *std, const real *w,
                                               const real *c, int64_t B, int64_t H, int64_t V) {
    cu_bad_shape(B < 0 || H < 1 || V < 1 || (w && (!dw || !dc)), "revin_denorm_backward_cuda: "
                 "B=%lld H=%lld V=%lld", (long long)B, (long long)H, (long long)V);
    if (B == 0)
        return SSM_OK;
    denorm_bwd_x_kernel<<<cu_blocks(B * H * V, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dyn, dy, std, w, B, H, V);
    CUDA_LAUNCH_CHECK("denorm_bwd_x_kernel");
    if (!w)
        return SSM_OK;
    denorm_bwd_w_kernel<<<cu_blocks(V, 64), 64, 0, ssm_cuda_stream()>>>(dw, dc, dy, yn, std, w, c,
                                                                        B, H, V);
    CUDA_LAUNCH_CHECK("denorm_bwd_w_kernel");
    return SSM_OK;
}

__global__ static void swap_kernel(float *out, const float *in, int64_t B, int64_t X, int64_t Y) {
    GRID_STRIDE(i, B * X * Y) {
        int64_t x = i % X, y = (i / X) % Y, b = i / (X * Y);
        out[i] = in[(b * X + x) * Y + y];
    }
}

extern "C" ssm_code series_swap_last2_cuda(real *out, const real *in, int64_t B, int64_t X,
                                           int64_t Y) {
    cu_bad_shape(B < 0 || X < 1 || Y < 1, "series_swap_last2_cuda: B=%lld X=%lld Y=%lld",
                 (long long)B, (long long)X, (long long)Y);
    if (B == 0)
        return SSM_OK;
    swap_kernel<<<cu_blocks(B * X * Y, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(out, in, B,
                                                                                        X, Y);
    CUDA_LAUNCH_CHECK("swap_kernel");
    return SSM_OK;
}

__global__ static void patchify_kernel(float *cols, const float *x, int64_t B, int64_t T,
                                       int64_t V, int64_t P, int64_t p, int64_t s) {
    GRID_STRIDE(i, B * V * P * p) {
        int64_t j = i % p, k = (i / p) % P, v = (i / (p * P)) % V, b = i / (p * P * V);
        int64_t t = k * s + j;
        if (t > T - 1)
            t = T - 1;
        cols[i] = x[(b * T + t) * V + v];
    }
}

extern "C" ssm_code series_patchify_cuda(real *cols, const real *x, int64_t B, int64_t T,
                                         int64_t V, int64_t P, int64_t p, int64_t s) {
    cu_bad_shape(B < 0 || T < 1 || V < 1 || P < 1 || p < 1 || s < 1, "series_patchify_cuda: B=%lld "
                 "T=%lld V=%lld P=%lld p=%lld s=%lld", (long long)B, (long long)T, (long long)V,
                 (long long)P, (long long)p, (long long)s);
    if (B == 0)
        return SSM_OK;
    patchify_kernel<<<cu_blocks(B * V * P * p, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        cols, x, B, T, V, P, p, s);
    CUDA_LAUNCH_CHECK("patchify_kernel");
    return SSM_OK;
}

// Every (k, j) with min(k*s + j, T-1) == t, in ascending k: the same sum on every run.
__global__ static void patchify_bwd_kernel(float *dx, const float *dcols, int64_t B, int64_t T,
                                           int64_t V, int64_t P, int64_t p, int64_t s) {
    GRID_STRIDE(i, B * T * V) {
        int64_t v = i % V, t = (i / V) % T, b = i / (V * T);
        const float *dc = dcols + (b * V + v) * P * p;
        float g = 0.f;
        for (int64_t k = 0; k < P; k++)
            for (int64_t j = 0; j < p; j++) {
                int64_t tt = k * s + j;
                if ((tt > T - 1 ? T - 1 : tt) == t)
                    g += dc[k * p + j];
            }
        dx[i] += g;
    }
}

extern "C" ssm_code series_patchify_backward_cuda(real *dx, const real *dcols, int64_t B,
                                                  int64_t T, int64_t V, int64_t P, int64_t p,
                                                  int64_t s) {
    cu_bad_shape(B < 0 || T < 1 || V < 1 || P < 1 || p < 1 || s < 1, "series_patchify_backward_"
                 "cuda: B=%lld T=%lld V=%lld", (long long)B, (long long)T, (long long)V);
    if (B == 0)
        return SSM_OK;
    patchify_bwd_kernel<<<cu_blocks(B * T * V, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dx, dcols, B, T, V, P, p, s);
    CUDA_LAUNCH_CHECK("patchify_bwd_kernel");
    return SSM_OK;
}
