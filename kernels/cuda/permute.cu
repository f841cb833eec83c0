// defines: gather_tokens_forward_cuda, gather_tokens_backward_cuda,
//          scatter_tokens_forward_cuda, scatter_tokens_backward_cuda, transpose_forward_cuda
//          (see permute.h)
// Element i = (row, l) of [B*C, L]: the contiguous side (l) is coalesced, the permuted side
// reads/writes within the same row of L elements (L2-friendly for the usual L).
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/permute.h"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

// mode 0: gather fwd  out[row,l] = in[row,p[l]]
// mode 1: gather bwd  d[row,p[l]] += s[row,l]
// mode 2: scatter fwd out[row,p[l]] = alpha in[row,l] (+ out if accumulate)
// mode 3: scatter bwd d[row,l] += alpha s[row,p[l]]
template <int MODE>
__global__ void k_perm(float *dst, const float *src, const int32_t *perm, int64_t C, int64_t L,
                       int64_t n, float alpha, int accumulate) {
    GRID_STRIDE(i, n) {
        int64_t row = i / L, l = i - row * L;
        int64_t base = row * L;
        int64_t pl = perm[(row / C) * L + l];
        if (MODE == 0)
            dst[i] = src[base + pl];
        else if (MODE == 1)
            dst[base + pl] += src[i];
        else if (MODE == 2)
            dst[base + pl] = alpha * src[i] + (accumulate ? dst[base + pl] : 0.f);
        else
            dst[i] += alpha * src[base + pl];
    }
}

template <int MODE>
static ssm_code perm_launch(const char *name, float *dst, const float *src, const int32_t *perm,
                            int64_t B, int64_t C, int64_t L, float alpha, int accumulate) {
    cu_bad_shape(B < 0 || C < 0 || L < 0, "%s: B = %lld, C = %lld, L = %lld", name,
                 (long long)B, (long long)C, (long long)L);
    int64_t n = B * C * L;
    if (n == 0)
        return SSM_OK;
    k_perm<MODE><<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dst, src, perm, C, L, n, alpha, accumulate);
    CUDA_LAUNCH_CHECK(name);
    return SSM_OK;
}

extern "C" ssm_code gather_tokens_forward_cuda(real *out, const real *inp, const int32_t *perm,
                                               int64_t B, int64_t C, int64_t L) {
    return perm_launch<0>("gather_tokens_forward_cuda", out, inp, perm, B, C, L, 1.f, 0);
}
extern "C" ssm_code gather_tokens_backward_cuda(real *dinp, const real *dout,
                                                const int32_t *perm, int64_t B, int64_t C,
                                                int64_t L) {
    return perm_launch<1>("gather_tokens_backward_cuda", dinp, dout, perm, B, C, L, 1.f, 0);
}
extern "C" ssm_code scatter_tokens_forward_cuda(real *out, const real *inp, const int32_t *perm,
                                                int64_t B, int64_t C, int64_t L, real alpha,
                                                int accumulate) {
    return perm_launch<2>("scatter_tokens_forward_cuda", out, inp, perm, B, C, L, alpha,
                          accumulate);
}
extern "C" ssm_code scatter_tokens_backward_cuda(real *dinp, const real *dout,
                                                 const int32_t *perm, int64_t B, int64_t C,
                                                 int64_t L, real alpha) {
    return perm_launch<3>("scatter_tokens_backward_cuda", dinp, dout, perm, B, C, L, alpha, 0);
}

// Tile (32 x 32) of one matrix b: read rows i of inp coalesced, write rows j of out
// coalesced; +1 column of padding keeps the column reads free of bank conflicts.
__global__ void k_transpose(float *out, const float *inp, int64_t R, int64_t S) {
    __shared__ float t[32][33];
    int64_t b = blockIdx.z;
    int64_t i0 = (int64_t)blockIdx.y * 32, j0 = (int64_t)blockIdx.x * 32;
    const float *in = inp + b * R * S; // [R, S]
    float *o = out + b * R * S;        // [S, R]
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        int64_t i = i0 + k, j = j0 + threadIdx.x;
        if (i < R && j < S)
            t[k][threadIdx.x] = in[i * S + j];
    }
    __syncthreads();
    for (int k = threadIdx.y; k < 32; k += blockDim.y) {
        int64_t j = j0 + k, i = i0 + threadIdx.x;
        if (i < R && j < S)
            o[j * R + i] = t[threadIdx.x][k];
    }
}

extern "C" ssm_code transpose_forward_cuda(real *out, const real *inp, int64_t B, int64_t R,
                                           int64_t S) {
    cu_bad_shape(B < 0 || R < 0 || S < 0 || B > 65535 || (R + 31) / 32 > 65535,
                 "transpose_forward_cuda: B = %lld (at most 65535), R = %lld, S = %lld",
                 (long long)B, (long long)R, (long long)S);
    if (B * R * S == 0)
        return SSM_OK;
    dim3 grid((unsigned)((S + 31) / 32), (unsigned)((R + 31) / 32), (unsigned)B);
    k_transpose<<<grid, dim3(32, 8), 0, ssm_cuda_stream()>>>(out, inp, R, S);
    CUDA_LAUNCH_CHECK("k_transpose");
    return SSM_OK;
}
