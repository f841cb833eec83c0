// defines: gelu_forward_cuda, gelu_backward_cuda (see ffn_kernels.h)
// In double like the CPU's (backbone/ffn.c): the FFN's hidden layer is small next to the
// mixer, and the two devices then agree to the fp32 rounding of the result.
#include "backbone/cuda/ffn_kernels.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

__global__ void k_ffn_gelu_fwd(float *g, const float *a, int64_t n) {
    GRID_STRIDE(i, n) {
        const double v = a[i];
        g[i] = (float)(0.5 * v * (1 + erf(v * M_SQRT1_2)));
    }
}

// GELU'(v) = Phi(v) + v phi(v)
__global__ void k_ffn_gelu_bwd(float *d, const float *a, int64_t n) {
    GRID_STRIDE(i, n) {
        const double v = a[i];
        const double grad =
            0.5 * (1 + erf(v * M_SQRT1_2)) + v * exp(-0.5 * v * v) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
        d[i] = (float)(d[i] * grad);
    }
}

#define LAUNCH(kernel, n, ...)                                                                     \
    do {                                                                                           \
        cu_bad_shape((n) < 0, #kernel ": n = %lld must be >= 0", (long long)(n));                  \
        if ((n) == 0)                                                                              \
            return SSM_OK;                                                                         \
        kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(__VA_ARGS__);       \
        CUDA_LAUNCH_CHECK(#kernel);                                                                \
        return SSM_OK;                                                                             \
    } while (0)

extern "C" ssm_code gelu_forward_cuda(real *g, const real *a, int64_t n) {
    LAUNCH(k_ffn_gelu_fwd, n, g, a, n);
}
extern "C" ssm_code gelu_backward_cuda(real *d, const real *a, int64_t n) {
    LAUNCH(k_ffn_gelu_bwd, n, d, a, n);
}
