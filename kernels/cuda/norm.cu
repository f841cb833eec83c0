// defines: rmsnorm_forward_cuda, rmsnorm_backward_cuda, layernorm_forward_cuda,
//          layernorm_backward_cuda, rmsnorm_residual_forward_cuda,
//          rmsnorm_residual_backward_cuda, layernorm_residual_forward_cuda,
//          layernorm_residual_backward_cuda (see norm.h)
// One warp per row (rows are C wide, up to a few thousand: 32 lanes stride the row, coalesced,
// and a shuffle tree gives the row sums with no shared memory or block barrier). The plain
// norms are the fused ones with no residual.
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/norm.h"

#define ROWS_PER_BLOCK 8

// LN: layernorm, else RMSNorm. resid_out non-NULL: x = inp + resid (resid may be NULL) is
// written there first and normalized (each lane re-reads only what it wrote).
template <bool LN>
__global__ void k_norm_fwd(float *out, float *resid_out, float *mean, float *rstd,
                           const float *inp, const float *resid, const float *w,
                           const float *bias, int64_t N, int64_t C, float eps) {
    int lane = threadIdx.x & 31;
    int64_t n = (int64_t)blockIdx.x * ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (n >= N)
        return;
    const float *x = inp + n * C; // [C]
    if (resid_out) {
        float *ro = resid_out + n * C;
        const float *rr = resid ? resid + n * C : NULL;
        for (int64_t c = lane; c < C; c += 32)
            ro[c] = x[c] + (rr ? rr[c] : 0.f);
        x = ro;
    }
    float *o = out + n * C;
    if (LN) {
        float s = 0.f;
        for (int64_t c = lane; c < C; c += 32)
            s += x[c];
        float mu = cu_warp_sum(s) / (float)C, v = 0.f;
        for (int64_t c = lane; c < C; c += 32) { // two passes: no cancellation
            float d = x[c] - mu;
            v += d * d;
        }
        float r = 1.f / sqrtf(cu_warp_sum(v) / (float)C + eps);
        for (int64_t c = lane; c < C; c += 32) {
            float y = ((x[c] - mu) * r) * w[c];
            o[c] = bias ? y + bias[c] : y;
        }
        if (lane == 0)
            mean[n] = mu, rstd[n] = r;
    } else {
        float ss = 0.f;
        for (int64_t c = lane; c < C; c += 32)
            ss += x[c] * x[c];
        float r = 1.f / sqrtf(cu_warp_sum(ss) / (float)C + eps);
        for (int64_t c = lane; c < C; c += 32)
            o[c] = x[c] * r * w[c];
        if (lane == 0)
            rstd[n] = r;
    }
}

// Row part of the backward: g = dnorm(dout) + dresid_out; dinp += g; dresid += g.
//   RMS: dnorm_j = r w_j g_j - x_j (r^3 / C) sum_i g_i w_i x_i
//   LN:  dnorm_j = r (g_j w_j - mean(g w) - xhat_j mean(g w xhat))
template <bool LN>
__global__ void k_norm_bwd_rows(float *dinp, float *dresid, const float *dout,
                                const float *dresid_out, const float *inp, const float *w,
                                const float *mean, const float *rstd, int64_t N, int64_t C) {
    int lane = threadIdx.x & 31;
    int64_t n = (int64_t)blockIdx.x * ROWS_PER_BLOCK + (threadIdx.x >> 5);
    if (n >= N)
        return;
    const float *x = inp + n * C, *g = dout + n * C; // [C]
    const float *dro = dresid_out ? dresid_out + n * C : NULL;
    float r = rstd[n], mu = LN ? mean[n] : 0.f;
    float s1 = 0.f, s2 = 0.f;
    for (int64_t c = lane; c < C; c += 32) {
        float gw = g[c] * w[c];
        if (LN) {
            s1 += gw;
            s2 += gw * (x[c] - mu) * r;
        } else {
            s2 += gw * x[c];
        }
    }
    s1 = cu_warp_sum(s1) / (float)C;
    s2 = cu_warp_sum(s2) / (float)C;
    float k = r * r * r * s2; // RMS only
    for (int64_t c = lane; c < C; c += 32) {
        float gw = g[c] * w[c], d;
        if (LN)
            d = r * (gw - s1 - (x[c] - mu) * r * s2);
        else
            d = r * gw - k * x[c];
        if (dro)
            d += dro[c];
        if (dinp)
            dinp[n * C + c] += d;
        if (dresid)
            dresid[n * C + c] += d;
    }
}

// Column terms: a0 = dweight term, a1 = dbias term.
template <bool LN> struct NormCols {
    const float *g, *x, *mean, *rstd;
    int64_t C;
    __device__ void operator()(int64_t n, int64_t c, float *a0, float *a1) const {
        float gi = g[n * C + c], xh = (x[n * C + c] - (LN ? mean[n] : 0.f)) * rstd[n];
        *a0 += gi * xh;
        if (LN)
            *a1 += gi;
    }
};

static ssm_code check_shape(const char *name, int64_t N, int64_t C) {
    cu_bad_shape(N < 0 || C < 1 || (N + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK > 0x7fffffff,
                 "%s: N = %lld, C = %lld (C must be >= 1)", name, (long long)N, (long long)C);
    return SSM_OK;
}

template <bool LN>
static ssm_code norm_fwd(const char *name, float *out, float *resid_out, float *mean,
                         float *rstd, const float *inp, const float *resid, const float *w,
                         const float *bias, int64_t N, int64_t C, float eps) {
    ssm_code rc = check_shape(name, N, C);
    if (rc != SSM_OK || N == 0)
        return rc;
    unsigned blocks = (unsigned)((N + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
    k_norm_fwd<LN><<<blocks, 32 * ROWS_PER_BLOCK, 0, ssm_cuda_stream()>>>(
        out, resid_out, mean, rstd, inp, resid, w, bias, N, C, eps);
    CUDA_LAUNCH_CHECK(name);
    return SSM_OK;
}

template <bool LN>
static ssm_code norm_bwd(const char *name, float *dinp, float *dresid, float *dweight,
                         float *dbias, const float *dout, const float *dresid_out,
                         const float *x, const float *w, const float *mean, const float *rstd,
                         int64_t N, int64_t C) {
    ssm_code rc = check_shape(name, N, C);
    if (rc != SSM_OK || N == 0)
        return rc;
    if (dinp || dresid) {
        unsigned blocks = (unsigned)((N + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
        k_norm_bwd_rows<LN><<<blocks, 32 * ROWS_PER_BLOCK, 0, ssm_cuda_stream()>>>(
            dinp, dresid, dout, dresid_out, x, w, mean, rstd, N, C);
        CUDA_LAUNCH_CHECK(name);
    }
    if (dweight || dbias) {
        NormCols<LN> f = {dout, x, mean, rstd, C};
        rc = cu_colsum(dweight, LN ? dbias : NULL, N, C, f);
        if (rc != SSM_OK)
            return rc;
    }
    return SSM_OK;
}

extern "C" ssm_code rmsnorm_forward_cuda(real *out, real *rstd, const real *inp,
                                         const real *weight, int64_t N, int64_t C, real eps) {
    return norm_fwd<false>("rmsnorm_forward_cuda", out, NULL, NULL, rstd, inp, NULL, weight,
                           NULL, N, C, eps);
}
extern "C" ssm_code rmsnorm_backward_cuda(real *dinp, real *dweight, const real *dout,
                                          const real *inp, const real *weight, const real *rstd,
                                          int64_t N, int64_t C) {
    return norm_bwd<false>("rmsnorm_backward_cuda", dinp, NULL, dweight, NULL, dout, NULL, inp,
                           weight, NULL, rstd, N, C);
}
extern "C" ssm_code layernorm_forward_cuda(real *out, real *mean, real *rstd, const real *inp,
                                           const real *weight, const real *bias, int64_t N,
                                           int64_t C, real eps) {
    return norm_fwd<true>("layernorm_forward_cuda", out, NULL, mean, rstd, inp, NULL, weight,
                          bias, N, C, eps);
}
extern "C" ssm_code layernorm_backward_cuda(real *dinp, real *dweight, real *dbias,
                                            const real *dout, const real *inp,
                                            const real *weight, const real *mean,
                                            const real *rstd, int64_t N, int64_t C) {
    return norm_bwd<true>("layernorm_backward_cuda", dinp, NULL, dweight, dbias, dout, NULL, inp,
                          weight, mean, rstd, N, C);
}
extern "C" ssm_code rmsnorm_residual_forward_cuda(real *out, real *residual_out, real *rstd,
                                                  const real *inp, const real *residual,
                                                  const real *weight, int64_t N, int64_t C,
                                                  real eps) {
    return norm_fwd<false>("rmsnorm_residual_forward_cuda", out, residual_out, NULL, rstd, inp,
                           residual, weight, NULL, N, C, eps);
}
extern "C" ssm_code rmsnorm_residual_backward_cuda(real *dinp, real *dresidual, real *dweight,
                                                   const real *dout, const real *dresidual_out,
                                                   const real *residual_out, const real *weight,
                                                   const real *rstd, int64_t N, int64_t C) {
    return norm_bwd<false>("rmsnorm_residual_backward_cuda", dinp, dresidual, dweight, NULL,
                           dout, dresidual_out, residual_out, weight, NULL, rstd, N, C);
}
extern "C" ssm_code layernorm_residual_forward_cuda(real *out, real *residual_out, real *mean,
                                                    real *rstd, const real *inp,
                                                    const real *residual, const real *weight,
                                                    const real *bias, int64_t N, int64_t C,
                                                    real eps) {
    return norm_fwd<true>("layernorm_residual_forward_cuda", out, residual_out, mean, rstd, inp,
                          residual, weight, bias, N, C, eps);
}
extern "C" ssm_code layernorm_residual_backward_cuda(real *dinp, real *dresidual, real *dweight,
                                                     real *dbias, const real *dout,
                                                     const real *dresidual_out,
                                                     const real *residual_out,
                                                     const real *weight, const real *mean,
                                                     const real *rstd, int64_t N, int64_t C) {
    return norm_bwd<true>("layernorm_residual_backward_cuda", dinp, dresidual, dweight, dbias,
                          dout, dresidual_out, residual_out, weight, mean, rstd, N, C);
}
