// defines: the segment head's device kernels (see head_segment.h)
#include "kernels/cuda/device_util.cuh"
#include "tasks/cuda/head_segment.h"

#define GRID_STRIDE(i, n)                                                                    \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);                \
         i += (int64_t)gridDim.x * blockDim.x)

#define LAUNCH(kernel, n, ...)                                                                     \
    do {                                                                                           \
        if ((n) > 0) {                                                                             \
            kernel<<<cu_blocks((n), CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(__VA_ARGS__); \
            CUDA_LAUNCH_CHECK(#kernel);                                                            \
        }                                                                                          \
        return SSM_OK;                                                                             \
    } while (0)

// One thread per (b, d): consecutive threads read consecutive d of a token row.
__global__ static void k_global_fwd(float *glob, int32_t *gam, const float *feats, int64_t B,
                                    int64_t G, int64_t D, int64_t ldg) {
    GRID_STRIDE(i, B * D) {
        int64_t b = i / D, d = i % D;
        const float *f = feats + b * G * D + d;
        int64_t best = 0;
        double s = 0;
        for (int64_t g = 0; g < G; g++) {
            float v = f[g * D];
            if (v > f[best * D])
                best = g;
            s += v;
        }
        glob[b * ldg + d] = f[best * D];
        glob[b * ldg + D + d] = (float)(s / (double)G);
        gam[i] = (int32_t)best;
    }
}

__global__ static void k_global_bwd(float *dfeats, const float *dglob, const int32_t *gam,
                                    int64_t B, int64_t G, int64_t D, int64_t ldg) {
    GRID_STRIDE(i, B * G * D) {
        int64_t d = i % D, g = i / D % G, b = i / (G * D);
        float v = dglob[b * ldg + D + d] / (float)G;
        if (gam[b * D + d] == g)
            v += dglob[b * ldg + d];
        dfeats[i] += v;
    }
}

__global__ static void k_leaky_fwd(float *glob, const float *eh, int64_t B, int64_t E,
                                   int64_t ldg, int64_t off, float slope) {
    GRID_STRIDE(i, B * E) {
        float v = eh[i];
        glob[i / E * ldg + off + i % E] = v > 0.f ? v : slope * v;
    }
}

__global__ static void k_leaky_bwd(float *deh, const float *dglob, const float *eh, int64_t B,
                                   int64_t E, int64_t ldg, int64_t off, float slope) {
    GRID_STRIDE(i, B * E) deh[i] = dglob[i / E * ldg + off + i % E] * (eh[i] > 0.f ? 1.f : slope);
}

__global__ static void k_add_rows(float *h, const float *s, int64_t R, int64_t N, int64_t H) {
    GRID_STRIDE(i, R * H) h[i] += s[i / H / N * H + i % H];
}

__global__ static void k_rowsum(float *s, const float *d, int64_t B, int64_t N, int64_t H) {
    GRID_STRIDE(i, B * H) {
        int64_t b = i / H, j = i % H;
        const float *x = d + b * N * H + j;
        double acc = 0;
        for (int64_t r = 0; r < N; r++)
            acc += x[r * H];
        s[i] = (float)acc;
    }
}

__global__ static void k_relu(float *x, int64_t n) {
    GRID_STRIDE(i, n) x[i] = x[i] > 0.f ? x[i] : 0.f;
}

__global__ static void k_relu_mask(float *d, const float *a, int64_t n) {
    GRID_STRIDE(i, n) d[i] = a[i] > 0.f ? d[i] : 0.f;
}

extern "C" ssm_code seg_global_forward_cuda(real *glob, int32_t *gam, const real *feats,
                                            int64_t B, int64_t G, int64_t D, int64_t ldg) {
    cu_bad_shape(B < 0 || G < 1 || D < 1 || ldg < 2 * D, "seg_global_forward_cuda: B=%lld G=%lld "
                 "D=%lld ldg=%lld", (long long)B, (long long)G, (long long)D, (long long)ldg);
    LAUNCH(k_global_fwd, B * D, glob, gam, feats, B, G, D, ldg);
}

extern "C" ssm_code seg_global_backward_cuda(real *dfeats, const real *dglob, const int32_t *gam,
                                             int64_t B, int64_t G, int64_t D, int64_t ldg) {
    cu_bad_shape(B < 0 || G < 1 || D < 1 || ldg < 2 * D, "seg_global_backward_cuda: B=%lld "
                 "G=%lld D=%lld ldg=%lld", (long long)B, (long long)G, (long long)D,
                 (long long)ldg);
    LAUNCH(k_global_bwd, B * G * D, dfeats, dglob, gam, B, G, D, ldg);
}

extern "C" ssm_code seg_leaky_forward_cuda(real *glob, const real *eh, int64_t B, int64_t E,
                                           int64_t ldg, int64_t off, real slope) {
    cu_bad_shape(B < 0 || E < 1 || off < 0 || off + E > ldg, "seg_leaky_forward_cuda: B=%lld "
                 "E=%lld ldg=%lld off=%lld", (long long)B, (long long)E, (long long)ldg,
                 (long long)off);
    LAUNCH(k_leaky_fwd, B * E, glob, eh, B, E, ldg, off, slope);
}

extern "C" ssm_code seg_leaky_backward_cuda(real *deh, const real *dglob, const real *eh,
                                            int64_t B, int64_t E, int64_t ldg, int64_t off,
                                            real slope) {
    cu_bad_shape(B < 0 || E < 1 || off < 0 || off + E > ldg, "seg_leaky_backward_cuda: B=%lld "
                 "E=%lld ldg=%lld off=%lld", (long long)B, (long long)E, (long long)ldg,
                 (long long)off);
    LAUNCH(k_leaky_bwd, B * E, deh, dglob, eh, B, E, ldg, off, slope);
}

extern "C" ssm_code seg_add_rows_cuda(real *h, const real *s, int64_t R, int64_t N, int64_t H) {
    cu_bad_shape(R < 0 || N < 1 || H < 1, "seg_add_rows_cuda: R=%lld N=%lld H=%lld",
                 (long long)R, (long long)N, (long long)H);
    LAUNCH(k_add_rows, R * H, h, s, R, N, H);
}

extern "C" ssm_code seg_rowsum_cuda(real *s, const real *d, int64_t B, int64_t N, int64_t H) {
    cu_bad_shape(B < 0 || N < 1 || H < 1, "seg_rowsum_cuda: B=%lld N=%lld H=%lld", (long long)B,
                 (long long)N, (long long)H);
    LAUNCH(k_rowsum, B * H, s, d, B, N, H);
}

extern "C" ssm_code seg_relu_cuda(real *x, int64_t n) {
    cu_bad_shape(n < 0, "seg_relu_cuda: n=%lld", (long long)n);
    LAUNCH(k_relu, n, x, n);
}

extern "C" ssm_code seg_relu_mask_cuda(real *d, const real *a, int64_t n) {
    cu_bad_shape(n < 0, "seg_relu_mask_cuda: n=%lld", (long long)n);
    LAUNCH(k_relu_mask, n, d, a, n);
}
