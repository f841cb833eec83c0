// defines: dropout_apply_cuda (see dropout.h)
// One thread per element: the sample's base is recomputed per element (two splitmix64
// finalisers), cheaper on a GPU than a pass that stores it; packed rows find their sample by
// a binary search of the device offsets, as the CPU does on the host's.
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/device_util.cuh"

__global__ void k_dropout(float *out, const float *in, int64_t row0, int64_t n, int64_t W,
                          ssm_dropout_rows m, uint32_t site, uint32_t thr, float scale) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / W, w = i - r * W;
        int64_t within;
        const int64_t s = ssm_dropout_sample_of(&m, row0 + r, &within);
        const uint64_t base = ssm_drop_base(m.key + (uint64_t)s * SSM_DROP_KEY_STEP, site);
        const float x = in[i];
        out[i] = ssm_drop_hash(base, (uint64_t)(within * W + w)) < thr ? 0.f : x * scale;
    }
}

extern "C" ssm_code dropout_apply_cuda(real *out, const real *in, int64_t row0, int64_t rows,
                                       int64_t W, const ssm_dropout_rows *m, uint32_t site,
                                       double p) {
    cu_bad_shape(rows < 0 || W < 0 || row0 < 0, "dropout_apply_cuda: row0 %lld, rows %lld, W %lld",
                 (long long)row0, (long long)rows, (long long)W);
    const int64_t n = rows * W;
    if (n == 0)
        return SSM_OK;
    if (!(p > 0)) {
        if (out == in)
            return SSM_OK;
        cudaError_t e = cudaMemcpyAsync(out, in, (size_t)n * sizeof(real),
                                        cudaMemcpyDeviceToDevice, ssm_cuda_stream());
        return e == cudaSuccess ? SSM_OK
                                : ssm_cuda_fail(__FILE__, __LINE__, "cudaMemcpyAsync", e);
    }
    cu_bad_shape(!m->offsets && m->rows_per_sample < 1,
                 "dropout_apply_cuda: dense rows need rows_per_sample >= 1 (got %lld)",
                 (long long)m->rows_per_sample);
    k_dropout<<<cu_blocks(n, CU_THREADS), CU_THREADS, 0, ssm_cuda_stream()>>>(
        out, in, row0, n, W, *m, site, ssm_dropout_threshold(p), ssm_dropout_scale(p));
    CUDA_LAUNCH_CHECK("k_dropout");
    return SSM_OK;
}
