// defines: median_ms
// The GPU benchmarks' timer (bench/*.cu): a callable's median time over repetitions, after
// warm-up calls, timed with CUDA events on the default stream.
#pragma once
#include <algorithm>
#include <vector>

#include "kernels/cuda/common.h"

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
