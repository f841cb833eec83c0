// defines: silu_forward_cuda, silu_backward_cuda, softplus_forward_cuda,
//          softplus_backward_cuda, gate_forward_cuda, gate_backward_cuda, add_forward_cuda,
//          scale_inplace_cuda (see activation.h)
// One grid-stride kernel per op: memory-bound, one read and one write per element.
#include "kernels/cuda/activation.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

__global__ void k_silu_fwd(float *out, const float *x, int64_t n) {
    GRID_STRIDE(i, n) out[i] = cu_silu(x[i]);
}
__global__ void k_silu_bwd(float *dx, const float *dout, const float *x, int64_t n) {
    GRID_STRIDE(i, n) dx[i] += dout[i] * cu_silu_grad(x[i]);
}
__global__ void k_softplus_fwd(float *out, const float *x, int64_t n) {
    GRID_STRIDE(i, n) out[i] = cu_softplus(x[i]);
}
__global__ void k_softplus_bwd(float *dx, const float *dout, const float *x, int64_t n) {
    GRID_STRIDE(i, n) dx[i] += dout[i] * cu_softplus_grad(x[i]);
}
__global__ void k_gate_fwd(float *out, const float *y, const float *z, int64_t n) {
    GRID_STRIDE(i, n) out[i] = y[i] * cu_silu(z[i]);
}
// d/dy = silu(z) g, d/dz = y silu'(z) g; either output may be NULL
__global__ void k_gate_bwd(float *dy, float *dz, const float *dout, const float *y,
                           const float *z, int64_t n) {
    GRID_STRIDE(i, n) {
        float g = dout[i], zi = z[i];
        if (dy)
            dy[i] += g * cu_silu(zi);
        if (dz)
            dz[i] += g * y[i] * cu_silu_grad(zi);
    }
}
__global__ void k_add(float *out, const float *a, const float *b, int64_t n) {
    GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}
__global__ void k_scale(float *x, float s, int64_t n) { GRID_STRIDE(i, n) x[i] *= s; }

#define LAUNCH(kernel, n, ...)                                                                     \
    do {                                                                                           \
        cu_bad_shape((n) < 0, #kernel ": n = %lld must be >= 0", (long long)(n));                  \
        if ((n) == 0)                                                                              \
            return SSM_OK;                                                                         \
        kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(__VA_ARGS__);       \
        CUDA_LAUNCH_CHECK(#kernel);                                                                \
        return SSM_OK;                                                                             \
    } while (0)

extern "C" ssm_code silu_forward_cuda(real *out, const real *x, int64_t n) {
    LAUNCH(k_silu_fwd, n, out, x, n);
}
extern "C" ssm_code silu_backward_cuda(real *dx, const real *dout, const real *x, int64_t n) {
    LAUNCH(k_silu_bwd, n, dx, dout, x, n);
}
extern "C" ssm_code softplus_forward_cuda(real *out, const real *x, int64_t n) {
    LAUNCH(k_softplus_fwd, n, out, x, n);
}
extern "C" ssm_code softplus_backward_cuda(real *dx, const real *dout, const real *x,
                                           int64_t n) {
    LAUNCH(k_softplus_bwd, n, dx, dout, x, n);
}
extern "C" ssm_code gate_forward_cuda(real *out, const real *y, const real *z, int64_t n) {
    LAUNCH(k_gate_fwd, n, out, y, z, n);
}
extern "C" ssm_code gate_backward_cuda(real *dy, real *dz, const real *dout, const real *y,
                                       const real *z, int64_t n) {
    LAUNCH(k_gate_bwd, n, dy, dz, dout, y, z, n);
}
extern "C" ssm_code add_forward_cuda(real *out, const real *a, const real *b, int64_t n) {
    LAUNCH(k_add, n, out, a, b, n);
}
extern "C" ssm_code scale_inplace_cuda(real *x, real s, int64_t n) { LAUNCH(k_scale, n, x, s, n); }
