// defines: cross_entropy_forward_cuda, cross_entropy_backward_cuda, mse_forward_cuda,
//          mse_backward_cuda, mae_forward_cuda, mae_backward_cuda,
//          soft_cross_entropy_forward_cuda, soft_cross_entropy_backward_cuda,
//          bce_logits_forward_cuda, bce_logits_backward_cuda (see loss.h)
// Cross-entropy: one block per row (max, then sum of exp and of logits, fixed-order block
// reductions); the backward is elementwise over [N, V].
#include "kernels/cuda/device_util.cuh"
#include "kernels/cuda/loss.h"

#define GRID_STRIDE(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);            \
         i += (int64_t)gridDim.x * blockDim.x)

// loss = lse - (1-eps) l_t - (eps/V) sum_j l_j, lse = max + log(sum exp(l - max))
__global__ void k_ce_fwd(float *losses, float *probs, const float *logits,
                         const int32_t *targets, int64_t V, float smoothing) {
    __shared__ float sh[32];
    int64_t n = blockIdx.x;
    const float *l = logits + n * V; // [V]
    float *p = probs + n * V;        // [V]
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
        mx = fmaxf(mx, l[j]);
    mx = cu_block_max(mx, sh);
    float s = 0.f, ls = 0.f;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
        float e = expf(l[j] - mx);
        p[j] = e;
        s += e;
        ls += l[j];
    }
    s = cu_block_sum(s, sh);
    ls = cu_block_sum(ls, sh);
    float inv = 1.f / s;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
        p[j] *= inv; // each thread rescales the entries it wrote
    if (threadIdx.x == 0) {
        int32_t t = targets[n];
        if (t < 0 || t >= V)
            losses[n] = NAN;
        else
            losses[n] = (mx + logf(s)) - (1.f - smoothing) * l[t] - smoothing / (float)V * ls;
    }
}

__global__ void k_ce_bwd(float *dlogits, const float *dloss, const float *probs,
                         const int32_t *targets, int64_t N, int64_t V, float smoothing) {
    float u = smoothing / (float)V;
    GRID_STRIDE(i, N * V) {
        int64_t n = i / V, j = i - n * V;
        int32_t t = targets[n];
        if (t < 0 || t >= V)
            continue;
        dlogits[i] += dloss[n] * (probs[i] - u - (j == t ? 1.f - smoothing : 0.f));
    }
}

__global__ void k_mse_fwd(float *losses, const float *pred, const float *target, int64_t n) {
    GRID_STRIDE(i, n) {
        float d = pred[i] - target[i];
        losses[i] = d * d;
    }
}
__global__ void k_mse_bwd(float *dpred, const float *dloss, const float *pred,
                          const float *target, int64_t n) {
    GRID_STRIDE(i, n) dpred[i] += dloss[i] * 2.f * (pred[i] - target[i]);
}

extern "C" ssm_code cross_entropy_forward_cuda(real *losses, real *probs, const real *logits,
                                               const int32_t *targets, int64_t N, int64_t V,
                                               real smoothing) {
    cu_bad_shape(N < 0 || V < 1 || N > 0x7fffffff, "cross_entropy_forward_cuda: N = %lld, V = %lld",
                 (long long)N, (long long)V);
    if (N == 0)
        return SSM_OK;
    int threads = V >= 1024 ? 512 : V >= 256 ? 256 : 128;
    k_ce_fwd<<<(unsigned)N, threads, 0, ssm_cuda_stream()>>>(losses, probs, logits, targets, V,
                                                             smoothing);
    CUDA_LAUNCH_CHECK("k_ce_fwd");
    return SSM_OK;
}

extern "C" ssm_code cross_entropy_backward_cuda(real *dlogits, const real *dloss,
                                                const real *probs, const int32_t *targets,
                                                int64_t N, int64_t V, real smoothing) {
    cu_bad_shape(N < 0 || V < 1, "cross_entropy_backward_cuda: N = %lld, V = %lld",
                 (long long)N, (long long)V);
    if (N == 0)
        return SSM_OK;
    k_ce_bwd<<<cu_blocks(N * V, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dlogits, dloss, probs, targets, N, V, smoothing);
    CUDA_LAUNCH_CHECK("k_ce_bwd");
    return SSM_OK;
}

extern "C" ssm_code mse_forward_cuda(real *losses, const real *pred, const real *target,
                                     int64_t n) {
    cu_bad_shape(n < 0, "mse_forward_cuda: n = %lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    k_mse_fwd<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(losses, pred, target,
                                                                              n);
    CUDA_LAUNCH_CHECK("k_mse_fwd");
    return SSM_OK;
}

extern "C" ssm_code mse_backward_cuda(real *dpred, const real *dloss, const real *pred,
                                      const real *target, int64_t n) {
    cu_bad_shape(n < 0, "mse_backward_cuda: n = %lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    k_mse_bwd<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(dpred, dloss, pred,
                                                                              target, n);
    CUDA_LAUNCH_CHECK("k_mse_bwd");
    return SSM_OK;
}

// MAE (the forecast task's task.loss: mae): the MSE kernels with |d| and sign(d).
__global__ static void mae_fwd_kernel(float *losses, const float *p, const float *t, int64_t n) {
    GRID_STRIDE(i, n) losses[i] = fabsf(p[i] - t[i]);
}

__global__ static void mae_bwd_kernel(float *dp, const float *dl, const float *p, const float *t,
                                      int64_t n) {
    GRID_STRIDE(i, n) {
        float d = p[i] - t[i];
        dp[i] += d > 0.f ? dl[i] : d < 0.f ? -dl[i] : 0.f;
    }
}

extern "C" ssm_code mae_forward_cuda(real *losses, const real *pred, const real *target,
                                     int64_t n) {
    cu_bad_shape(n < 0, "mae_forward_cuda: n=%lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    mae_fwd_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(losses, pred,
                                                                                   target, n);
    CUDA_LAUNCH_CHECK("mae_fwd_kernel");
    return SSM_OK;
}

extern "C" ssm_code mae_backward_cuda(real *dpred, const real *dloss, const real *pred,
                                      const real *target, int64_t n) {
    cu_bad_shape(n < 0, "mae_backward_cuda: n=%lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    mae_bwd_kernel<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(dpred, dloss,
                                                                                   pred, target, n);
    CUDA_LAUNCH_CHECK("mae_bwd_kernel");
    return SSM_OK;
}

// Soft-target cross-entropy (mixup): k_ce_fwd's row reductions with sum_j q_j l_j beside
// the sum of the logits; loss = lse - (1-eps) sum q l - (eps/V) sum l.
__global__ void k_soft_ce_fwd(float *losses, float *probs, const float *logits,
                              const float *target, int64_t V, float smoothing) {
    __shared__ float sh[32];
    int64_t n = blockIdx.x;
    const float *l = logits + n * V, *q = target + n * V; // [V]
    float *p = probs + n * V;                             // [V]
    float mx = -INFINITY;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
        mx = fmaxf(mx, l[j]);
    mx = cu_block_max(mx, sh);
    float s = 0.f, ls = 0.f, ql = 0.f;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x) {
        float e = expf(l[j] - mx);
        p[j] = e;
        s += e;
        ls += l[j];
        ql += q[j] * l[j];
    }
    s = cu_block_sum(s, sh);
    ls = cu_block_sum(ls, sh);
    ql = cu_block_sum(ql, sh);
    float inv = 1.f / s;
    for (int64_t j = threadIdx.x; j < V; j += blockDim.x)
        p[j] *= inv;
    if (threadIdx.x == 0)
        losses[n] = (mx + logf(s)) - (1.f - smoothing) * ql - smoothing / (float)V * ls;
}

__global__ void k_soft_ce_bwd(float *dlogits, const float *dloss, const float *probs,
                              const float *target, int64_t N, int64_t V, float smoothing) {
    float u = smoothing / (float)V, keep = 1.f - smoothing;
    GRID_STRIDE(i, N * V) dlogits[i] += dloss[i / V] * (probs[i] - u - keep * target[i]);
}

extern "C" ssm_code soft_cross_entropy_forward_cuda(real *losses, real *probs,
                                                    const real *logits, const real *target,
                                                    int64_t N, int64_t V, real smoothing) {
    cu_bad_shape(N < 0 || V < 1 || N > 0x7fffffff,
                 "soft_cross_entropy_forward_cuda: N = %lld, V = %lld", (long long)N,
                 (long long)V);
    if (N == 0)
        return SSM_OK;
    int threads = V >= 1024 ? 512 : V >= 256 ? 256 : 128;
    k_soft_ce_fwd<<<(unsigned)N, threads, 0, ssm_cuda_stream()>>>(losses, probs, logits, target, V,
                                                                  smoothing);
    CUDA_LAUNCH_CHECK("k_soft_ce_fwd");
    return SSM_OK;
}

extern "C" ssm_code soft_cross_entropy_backward_cuda(real *dlogits, const real *dloss,
                                                     const real *probs, const real *target,
                                                     int64_t N, int64_t V, real smoothing) {
    cu_bad_shape(N < 0 || V < 1, "soft_cross_entropy_backward_cuda: N = %lld, V = %lld",
                 (long long)N, (long long)V);
    if (N == 0)
        return SSM_OK;
    k_soft_ce_bwd<<<cu_blocks(N * V, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        dlogits, dloss, probs, target, N, V, smoothing);
    CUDA_LAUNCH_CHECK("k_soft_ce_bwd");
    return SSM_OK;
}

// Binary cross-entropy on logits (the multilabel task): the CPU's stable form in fp32.
__global__ static void k_bce_fwd(float *losses, const float *l, const float *y, int64_t n) {
    GRID_STRIDE(i, n) losses[i] = fmaxf(l[i], 0.f) - l[i] * y[i] + log1pf(expf(-fabsf(l[i])));
}

__global__ static void k_bce_bwd(float *dl, const float *dloss, const float *l, const float *y,
                                 int64_t n) {
    GRID_STRIDE(i, n) {
        float e = expf(-fabsf(l[i]));
        float s = l[i] >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
        dl[i] += dloss[i] * (s - y[i]);
    }
}

extern "C" ssm_code bce_logits_forward_cuda(real *losses, const real *logits, const real *target,
                                            int64_t n) {
    cu_bad_shape(n < 0, "bce_logits_forward_cuda: n = %lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    k_bce_fwd<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(losses, logits,
                                                                              target, n);
    CUDA_LAUNCH_CHECK("k_bce_fwd");
    return SSM_OK;
}

extern "C" ssm_code bce_logits_backward_cuda(real *dlogits, const real *dloss, const real *logits,
                                             const real *target, int64_t n) {
    cu_bad_shape(n < 0, "bce_logits_backward_cuda: n = %lld", (long long)n);
    if (n == 0)
        return SSM_OK;
    k_bce_bwd<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(dlogits, dloss,
                                                                              logits, target, n);
    CUDA_LAUNCH_CHECK("k_bce_bwd");
    return SSM_OK;
}
