// defines: fill_kernel, median_ms
// The harness the GPU benchmarks share (bench/*.cu): inputs filled on the device from a
// seed, and a callable's median time over repetitions, after warm-up calls, timed with CUDA
// events on the default stream.
#pragma once
#include <algorithm>
#include <stdint.h>
#include <vector>

#include "kernels/cuda/common.h"

// x[0..n) uniform in [lo, hi): a hash of (i, seed), the same values for every launch shape.
__global__ void fill_kernel(float *x, int64_t n, float lo, float hi, uint32_t seed) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 2654435761u ^ seed;
        h ^= h >> 15, h *= 2246822519u, h ^= h >> 13, h *= 3266489917u, h ^= h >> 16;
        x[i] = lo + (hi - lo) * (h >> 8) * (1.f / 16777216.f);
    }
}

// Milliseconds of f(): the median of reps timed calls after warm untimed ones. With flush,
// flush_bytes of it are overwritten before each timed call (outside the timing), so no call
// finds its inputs still in L2. Aborts on any CUDA error, the calls' own included.
template <typename F>
static double median_ms(F f, int warm, int reps, void *flush = nullptr, size_t flush_bytes = 0) {
    for (int i = 0; i < warm; i++)
        f();
    cudaEvent_t a, b;
    CUDA_CHECK_ABORT(cudaEventCreate(&a));
    CUDA_CHECK_ABORT(cudaEventCreate(&b));
    std::vector<float> t(reps);
    for (int i = 0; i < reps; i++) {
        if (flush)
            CUDA_CHECK_ABORT(cudaMemsetAsync(flush, i & 0xff, flush_bytes)); // evict L2
        CUDA_CHECK_ABORT(cudaEventRecord(a));
        f();
        CUDA_CHECK_ABORT(cudaEventRecord(b));
        CUDA_CHECK_ABORT(cudaEventSynchronize(b));
        CUDA_CHECK_ABORT(cudaEventElapsedTime(&t[i], a, b));
    }
    CUDA_CHECK_ABORT(cudaGetLastError());
    cudaEventDestroy(a), cudaEventDestroy(b);
    std::sort(t.begin(), t.end());
    return t[reps / 2];
}
