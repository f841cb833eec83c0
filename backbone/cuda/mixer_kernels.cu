// defines: tokens_to_channels_cuda, channels_to_tokens_cuda, gate_tokens_forward_cuda,
//          gate_tokens_backward_cuda, neg_exp_cuda, mul_add_cuda, batch_sum_add_cuda
//          (see mixer_kernels.h)
// Why fused: the projections run token-major (one GEMM over B*L rows) and the conv and scan
// channel-first; the layout change is a transpose, and a transpose can read its rows in any
// order for free, so the scan order's gather (and the scatter back) cost nothing extra: one
// pass over the tensor instead of two, and an identity order costs the same as any other.
#include "backbone/cuda/mixer_kernels.h"
#include "kernels/cuda/device_util.cuh"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

// A 32 x 32 tile (32 channels x 32 scan steps) of sample b, through shared memory so that
// both the token-major side (channels contiguous) and the channel-first side (steps
// contiguous) are read and written coalesced; +1 padding avoids bank conflicts.
__global__ void k_tok2chan(float *out, const float *inp, const int32_t *perm, int64_t C,
                           int64_t L, int64_t ld, float alpha) {
    __shared__ float t[32][33];
    const int64_t b = blockIdx.z, c0 = (int64_t)blockIdx.x * 32, l0 = (int64_t)blockIdx.y * 32;
    const int tx = threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: step, tx: channel
        int64_t l = l0 + k, c = c0 + tx;
        if (l < L && c < C) {
            int64_t pl = perm ? perm[b * L + l] : l;
            t[k][tx] = inp[(b * L + pl) * ld + c];
        }
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: channel, tx: step
        int64_t c = c0 + k, l = l0 + tx;
        if (l < L && c < C)
            out[(b * C + c) * L + l] = alpha * t[tx][k];
    }
}

__global__ void k_chan2tok(float *out, const float *inp, const int32_t *perm, int64_t C,
                           int64_t L, int64_t ld, float alpha, int accumulate) {
    __shared__ float t[32][33];
    const int64_t b = blockIdx.z, c0 = (int64_t)blockIdx.x * 32, l0 = (int64_t)blockIdx.y * 32;
    const int tx = threadIdx.x;
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: channel, tx: step
        int64_t c = c0 + k, l = l0 + tx;
        if (l < L && c < C)
            t[k][tx] = inp[(b * C + c) * L + l];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) { // k: step, tx: channel
        int64_t l = l0 + k, c = c0 + tx;
        if (l < L && c < C) {
            int64_t pl = perm ? perm[b * L + l] : l;
            float *o = out + (b * L + pl) * ld + c;
            float v = alpha * t[tx][k];
            *o = accumulate ? v + *o : v; // the CPU scatter's order: alpha * x + old
        }
    }
}

static ssm_code layout_check(const char *name, int64_t B, int64_t C, int64_t L, int64_t ld) {
    cu_bad_shape(B < 0 || C < 0 || L < 0 || ld < C || B > 65535 || (L + 31) / 32 > 65535,
                 "%s: B = %lld (at most 65535), C = %lld, L = %lld, ld = %lld (>= C)", name,
                 (long long)B, (long long)C, (long long)L, (long long)ld);
    return SSM_OK;
}

extern "C" ssm_code tokens_to_channels_cuda(real *out, const real *inp, const int32_t *perm,
                                            int64_t B, int64_t C, int64_t L, int64_t ld,
                                            real alpha) {
    SSM_TRY(layout_check("tokens_to_channels_cuda", B, C, L, ld));
    if (B * C * L == 0)
        return SSM_OK;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)((L + 31) / 32), (unsigned)B);
    k_tok2chan<<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>(out, inp, perm, C, L, ld, alpha);
    CUDA_LAUNCH_CHECK("k_tok2chan");
    return SSM_OK;
}

extern "C" ssm_code channels_to_tokens_cuda(real *out, const real *inp, const int32_t *perm,
                                            int64_t B, int64_t C, int64_t L, int64_t ld,
                                            real alpha, int accumulate) {
    SSM_TRY(layout_check("channels_to_tokens_cuda", B, C, L, ld));
    if (B * C * L == 0)
        return SSM_OK;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)((L + 31) / 32), (unsigned)B);
    k_chan2tok<<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>(out, inp, perm, C, L, ld, alpha,
                                                            accumulate);
    CUDA_LAUNCH_CHECK("k_chan2tok");
    return SSM_OK;
}

__global__ void k_gate_tok_fwd(float *g, const float *y, const float *xz, int64_t E, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t r = i / E, e = i - r * E;
        g[i] = y[i] * cu_silu(xz[r * 2 * E + E + e]);
    }
}

__global__ void k_gate_tok_bwd(float *dy, float *dxz, const float *dg, const float *y,
                               const float *xz, int64_t E, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t r = i / E, e = i - r * E;
        float gi = dg[i], z = xz[r * 2 * E + E + e];
        dxz[r * 2 * E + E + e] = gi * y[i] * cu_silu_grad(z);
        dy[i] = gi * cu_silu(z);
    }
}

__global__ void k_neg_exp(float *A, const float *A_log, int64_t n) {
    GRID_STRIDE(i, n) A[i] = -(float)exp((double)A_log[i]);
}

__global__ void k_mul_add(float *out, const float *a, const float *b, int64_t n) {
    GRID_STRIDE(i, n) out[i] += a[i] * b[i];
}

// One thread per element, the B terms in ascending order (reads coalesced across threads).
__global__ void k_batch_sum_add(float *out, const float *part, int64_t B, int64_t n) {
    GRID_STRIDE(i, n) {
        float acc = 0.f;
        for (int64_t b = 0; b < B; b++)
            acc += part[b * n + i];
        out[i] += acc;
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

extern "C" ssm_code gate_tokens_forward_cuda(real *g, const real *y, const real *xz,
                                             int64_t rows, int64_t E) {
    LAUNCH(k_gate_tok_fwd, rows * E, g, y, xz, E, rows * E);
}
extern "C" ssm_code gate_tokens_backward_cuda(real *dy, real *dxz, const real *dg, const real *y,
                                              const real *xz, int64_t rows, int64_t E) {
    LAUNCH(k_gate_tok_bwd, rows * E, dy, dxz, dg, y, xz, E, rows * E);
}
extern "C" ssm_code neg_exp_cuda(real *A, const real *A_log, int64_t n) {
    LAUNCH(k_neg_exp, n, A, A_log, n);
}
extern "C" ssm_code mul_add_cuda(real *out, const real *a, const real *b, int64_t n) {
    LAUNCH(k_mul_add, n, out, a, b, n);
}
extern "C" ssm_code batch_sum_add_cuda(real *out, const real *part, int64_t B, int64_t n) {
    cu_bad_shape(B < 0, "batch_sum_add_cuda: B = %lld must be >= 0", (long long)B);
    LAUNCH(k_batch_sum_add, n, out, part, B, n);
}
