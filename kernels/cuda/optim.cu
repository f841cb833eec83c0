// defines: adamw_constants, adamw_update_cuda, adamw_update_dev_cuda, grad_global_norm_cuda,
//          grad_clip_cuda, grad_clip_queue_cuda (see optim.h)
#include <math.h>

#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/optim.h"

#define NORM_PARTS 1024

// One element's update; the one body of both launches below, so that an eager step and a
// replayed CUDA graph compute the same bits from the same constants.
__device__ __forceinline__ void adamw_one(float *p, const float *g, float *m, float *v,
                                          int64_t i, float b1, float b2, float e, float step,
                                          float rbc2, float decay) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.f - b1) * gi;
    float vi = b2 * v[i] + (1.f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * decay - step * mi / (sqrtf(vi) * rbc2 + e);
}

__global__ void k_adamw(float *p, const float *g, float *m, float *v, int64_t n, float b1,
                        float b2, float e, float step, float rbc2, float decay) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        adamw_one(p, g, m, v, i, b1, b2, e, step, rbc2, decay);
}

// The step's constants c[3] read from device memory when the kernel runs, not baked in at
// launch (a captured graph replays this launch every step); nothing changes where *guard is
// not finite (a diverged gradient leaves the weights as they were).
__global__ void k_adamw_dev(float *p, const float *g, float *m, float *v, int64_t n, float b1,
                            float b2, float e, const float *c, const double *guard) {
    if (guard && !isfinite(*guard))
        return;
    const float step = c[0], rbc2 = c[1], decay = c[2];
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        adamw_one(p, g, m, v, i, b1, b2, e, step, rbc2, decay);
}

extern "C" void adamw_constants(float c[3], float lr, float beta1, float beta2,
                                float weight_decay, int64_t t) {
    // the CPU's constants, computed the same way (double, then rounded)
    double bc1 = 1.0 - pow((double)beta1, (double)t), bc2 = 1.0 - pow((double)beta2, (double)t);
    c[0] = (float)((double)lr / bc1);
    c[1] = (float)(1.0 / sqrt(bc2));
    c[2] = (float)(1.0 - (double)lr * (double)weight_decay);
}

extern "C" ssm_code adamw_update_cuda(real *p, const real *g, real *m, real *v, int64_t n,
                                      float lr, float beta1, float beta2, float eps,
                                      float weight_decay, int64_t t) {
    cu_bad_shape(n < 0 || t < 1, "adamw_update_cuda: n = %lld, step t = %lld (1-based)",
                 (long long)n, (long long)t);
    if (n == 0)
        return SSM_OK;
    float c[3];
    adamw_constants(c, lr, beta1, beta2, weight_decay, t);
    k_adamw<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        p, g, m, v, n, beta1, beta2, eps, c[0], c[1], c[2]);
    CUDA_LAUNCH_CHECK("k_adamw");
    return SSM_OK;
}

extern "C" ssm_code adamw_update_dev_cuda(real *p, const real *g, real *m, real *v, int64_t n,
                                          float beta1, float beta2, float eps,
                                          const float *dev_c, const double *dev_guard) {
    cu_bad_shape(n < 0 || !dev_c, "adamw_update_dev_cuda: n = %lld, constants %p", (long long)n,
                 (const void *)dev_c);
    if (n == 0)
        return SSM_OK;
    k_adamw_dev<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        p, g, m, v, n, beta1, beta2, eps, dev_c, dev_guard);
    CUDA_LAUNCH_CHECK("k_adamw_dev");
    return SSM_OK;
}

// Block k sums part k = [k*chunk, min((k+1)*chunk, n)) in double.
__global__ void k_norm_parts(double *part, const float *g, int64_t n, int64_t chunk) {
    __shared__ double sh[32];
    int64_t i0 = blockIdx.x * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
    double s = 0;
    for (int64_t i = i0 + threadIdx.x; i < i1; i += blockDim.x)
        s += (double)g[i] * g[i];
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0)
        part[blockIdx.x] = s;
}

// One block of NORM_PARTS threads: part k per thread, fixed tree; part[NORM_PARTS] = sqrt.
__global__ void k_norm_final(double *part) {
    __shared__ double sh[32];
    double s = cu_block_sum(part[threadIdx.x], sh);
    if (threadIdx.x == 0)
        part[NORM_PARTS] = sqrt(s);
}

// g *= max_norm / norm where the norm (on the device) is finite and above max_norm
__global__ void k_clip(float *g, int64_t n, const double *norm, double max_norm) {
    double nm = *norm;
    if (!(isfinite(nm) && nm > max_norm))
        return;
    float s = (float)(max_norm / nm);
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        g[i] *= s;
}

static thread_local double *g_parts = NULL; // [NORM_PARTS + 1] on the device

// Launches the two norm kernels; the norm is left in g_parts[NORM_PARTS] on the device.
static ssm_code norm_on_device(const float *g, int64_t n) {
    if (!g_parts) {
        ssm_code c = ssm_cuda_alloc((void **)&g_parts, sizeof(double) * (NORM_PARTS + 1),
                                    "grad norm partials");
        if (c != SSM_OK)
            return c;
    }
    int64_t chunk = (n + NORM_PARTS - 1) / NORM_PARTS;
    k_norm_parts<<<NORM_PARTS, CU_THREADS, 0, ssm_cuda_stream()>>>(g_parts, g, n,
                                                                   chunk < 1 ? 1 : chunk);
    CUDA_LAUNCH_CHECK("k_norm_parts");
    k_norm_final<<<1, NORM_PARTS, 0, ssm_cuda_stream()>>>(g_parts);
    CUDA_LAUNCH_CHECK("k_norm_final");
    return SSM_OK;
}

extern "C" ssm_code grad_global_norm_cuda(double *norm, const real *g, int64_t n) {
    cu_bad_shape(n < 0, "grad_global_norm_cuda: n = %lld", (long long)n);
    *norm = 0;
    if (n == 0)
        return SSM_OK;
    ssm_code c = norm_on_device(g, n);
    if (c != SSM_OK)
        return c;
    return ssm_cuda_download(norm, g_parts + NORM_PARTS, sizeof(double));
}

// The scale is decided on the device: no round trip between the norm and the clip.
static ssm_code clip_on_device(real *g, int64_t n, double max_norm) {
    k_clip<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        g, n, g_parts + NORM_PARTS, max_norm);
    CUDA_LAUNCH_CHECK("k_clip");
    return SSM_OK;
}

extern "C" ssm_code grad_clip_cuda(double *norm, real *g, int64_t n, double max_norm) {
    cu_bad_shape(n < 0, "grad_clip_cuda: n = %lld", (long long)n);
    *norm = 0;
    if (n == 0)
        return SSM_OK;
    ssm_code c = norm_on_device(g, n);
    if (c == SSM_OK)
        c = clip_on_device(g, n, max_norm);
    if (c != SSM_OK)
        return c;
    return ssm_cuda_download(norm, g_parts + NORM_PARTS, sizeof(double));
}

extern "C" ssm_code grad_clip_queue_cuda(const double **norm_dev, real *g, int64_t n,
                                         double max_norm) {
    cu_bad_shape(n < 1, "grad_clip_queue_cuda: n = %lld (at least one gradient)", (long long)n);
    ssm_code c = norm_on_device(g, n);
    if (c == SSM_OK && max_norm > 0)
        c = clip_on_device(g, n, max_norm);
    *norm_dev = g_parts + NORM_PARTS;
    return c;
}
