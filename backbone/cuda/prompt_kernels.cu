// defines: prompt_extend_cuda, prompt_write_cuda, prompt_backward_cuda, prompt_tokens_in_cuda,
//          prompt_tokens_out_cuda (see prompt_kernels.h)
// Copies and one reduction, as backbone/prompts.c: the prompt gradient sums its B sequences
// in order (one thread per prompt element, no atomics), so the result is the same bits on
// every run and adds in the CPU's order.
#include "backbone/cuda/prompt_kernels.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

#define LAUNCH(kernel, n, ...)                                                            \
    do {                                                                                  \
        if ((n) == 0)                                                                     \
            return SSM_OK;                                                                \
        kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(__VA_ARGS__); \
        CUDA_LAUNCH_CHECK(#kernel);                                                       \
        return SSM_OK;                                                                    \
    } while (0)

// every entry point: sizes >= 0, Lt and P >= 1
#define CHECK_SIZES(who, n, Lt, P, D)                                                     \
    cu_bad_shape((n) < 0 || (Lt) < 1 || (P) < 1 || (D) < 0,                               \
                 who ": %lld sequences, Lt %lld, P %lld, D %lld: expected Lt, P >= 1",    \
                 (long long)(n), (long long)(Lt), (long long)(P), (long long)(D))

__global__ void k_prompt_extend(int32_t *ext, const int32_t *perm, int64_t rows, int64_t Lt,
                                int64_t P) {
    const int64_t L = P + Lt;
    GRID_STRIDE(i, rows * L) {
        const int64_t r = i / L, j = i % L;
        ext[i] = j < P ? (int32_t)j : (int32_t)(P + perm[r * Lt + (j - P)]);
    }
}

extern "C" ssm_code prompt_extend_cuda(int32_t *ext, const int32_t *perm, int64_t rows,
                                       int64_t Lt, int64_t P) {
    CHECK_SIZES("prompt_extend_cuda", rows, Lt, P, 0);
    LAUNCH(k_prompt_extend, rows * (P + Lt), ext, perm, rows, Lt, P);
}

// one sequence's slots are its first P D values (rows of width D, L rows a sequence)
__global__ void k_prompt_write(float *res, const float *w, int64_t B, int64_t LD, int64_t PD) {
    GRID_STRIDE(i, B * PD) {
        const int64_t b = i / PD, r = i % PD;
        res[b * LD + r] = w[r];
    }
}

extern "C" ssm_code prompt_write_cuda(real *res, const real *w, int64_t B, int64_t Lt, int64_t P,
                                      int64_t D) {
    CHECK_SIZES("prompt_write_cuda", B, Lt, P, D);
    LAUNCH(k_prompt_write, B * P * D, res, w, B, (P + Lt) * D, P * D);
}

__global__ void k_prompt_backward(float *gw, float *dres, int64_t B, int64_t LD, int64_t PD) {
    GRID_STRIDE(r, PD) {
        float g = gw[r];
        for (int64_t b = 0; b < B; b++) {
            g += dres[b * LD + r];
            dres[b * LD + r] = 0;
        }
        gw[r] = g;
    }
}

extern "C" ssm_code prompt_backward_cuda(real *gw, real *dres, int64_t B, int64_t Lt, int64_t P,
                                         int64_t D) {
    CHECK_SIZES("prompt_backward_cuda", B, Lt, P, D);
    LAUNCH(k_prompt_backward, P * D, gw, dres, B, (P + Lt) * D, P * D);
}

// dir 0: inner's token rows = outer; dir 1: outer = inner's token rows; dir 2: outer +=
__global__ void k_prompt_tokens(float *inner, float *outer, int64_t B, int64_t Lt, int64_t P,
                                int64_t D, int dir) {
    const int64_t LtD = Lt * D, LD = (P + Lt) * D;
    GRID_STRIDE(i, B * LtD) {
        float *in = inner + (i / LtD) * LD + P * D + i % LtD;
        if (dir == 0)
            *in = outer[i];
        else if (dir == 1)
            outer[i] = *in;
        else
            outer[i] += *in;
    }
}

extern "C" ssm_code prompt_tokens_in_cuda(real *inner, const real *outer, int64_t B, int64_t Lt,
                                          int64_t P, int64_t D) {
    CHECK_SIZES("prompt_tokens_in_cuda", B, Lt, P, D);
    LAUNCH(k_prompt_tokens, B * Lt * D, inner, (float *)outer, B, Lt, P, D, 0);
}

extern "C" ssm_code prompt_tokens_out_cuda(real *outer, const real *inner, int64_t B, int64_t Lt,
                                           int64_t P, int64_t D, int accumulate) {
    CHECK_SIZES("prompt_tokens_out_cuda", B, Lt, P, D);
    LAUNCH(k_prompt_tokens, B * Lt * D, (float *)inner, outer, B, Lt, P, D, accumulate ? 2 : 1);
}
