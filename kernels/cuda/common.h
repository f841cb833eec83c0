// defines: CUDA_CHECK, CUBLAS_CHECK, CUDA_LAUNCH_CHECK, SSM_CUDA_ABORT_ON_ERROR, CUDA_CHECK_ABORT,
//          ssm_cuda_fail, ssm_cublas_fail, ssm_cuda_take_error, ssm_cuda_device_count, ssm_cuda_has_kernel_image,
//          ssm_cuda_alloc, ssm_cuda_free, ssm_cuda_upload, ssm_cuda_download, ssm_cuda_sync,
//          ssm_cuda_stream, ssm_cuda_capturing, ssm_cublas_handle, ssm_cuda_scratch,
//          ssm_cuda_scratch_generation,
//          ssm_scratch_slot, ssm_bf16, ssm_bf16_from_float, ssm_bf16_to_float
// Shared pieces of the CUDA twins (kernels/cuda/*.cu), usable from C and C++.
//
// Error policy (DESIGN.md invariant 7, errors are values):
//  * Library code never exits. Every CUDA twin returns an ssm_code (SSM_OK, SSM_EINVAL for a bad
//    shape, SSM_EDEVICE for a failed CUDA/cuBLAS call) where its CPU twin returns void; its
//    other parameters are the CPU twin's, with device pointers.
//  * The message (file:line, the call, CUDA's error name and string, and a hint) goes into a
//    per-thread ssm_error, the way cudaGetLastError works: ssm_cuda_take_error() copies it out
//    and clears it. Per-thread, so two host threads driving two GPUs never see each other's.
//  * CUDA_CHECK / CUBLAS_CHECK / CUDA_LAUNCH_CHECK are for functions returning ssm_code: they
//    record the failure and `return SSM_EDEVICE`.
//  * Test and bench programs (never library code) use CUDA_CHECK_ABORT and
//    SSM_CUDA_ABORT_ON_ERROR, which print the message and abort.
//
// Streams: every twin queues its work on the library stream, ssm_cuda_stream() (one per host
// thread), and is asynchronous to the host like any kernel launch; copy results back with
// ssm_cuda_download (which synchronizes). The stream is a blocking one (created without
// cudaStreamNonBlocking): the legacy default stream (0) still orders with it both ways, so the
// synchronous cudaMemcpy of ssm_cuda_upload / _download, and a test's own launches on stream
// 0, see the twins' work in order as before. It exists because a CUDA graph can only be
// captured from a stream other than the legacy one (tasks/cuda/step_graph.h).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

// Records a failed CUDA runtime call in the per-thread error; returns SSM_EDEVICE.
ssm_code ssm_cuda_fail(const char *file, int line, const char *call, cudaError_t err);
ssm_code ssm_cublas_fail(const char *file, int line, const char *call, cublasStatus_t st);
// Records any other failure (bad shape: SSM_EINVAL) with a printf-style message; returns code.
ssm_code ssm_cuda_failf(ssm_code code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// Copies the last recorded error into *e (if non-NULL), clears it, and returns its code
// (SSM_OK when nothing failed since the last take).
ssm_code ssm_cuda_take_error(ssm_error *e);

// Number of usable devices; 0 when the driver or the device is absent (never an error: tests
// use it to skip).
int ssm_cuda_device_count(void);
// 1 when this build has code (SASS or JIT-able PTX) for the current device.
int ssm_cuda_has_kernel_image(void);

// cudaMalloc with the size and purpose in the message on failure (what = "scan workspace").
// During a graph capture on the library stream it allocates nothing and fails (SSM_EDEVICE,
// naming `what`): a captured step would bake in a buffer the next growth frees.
ssm_code ssm_cuda_alloc(void **p, size_t bytes, const char *what);
void ssm_cuda_free(void *p); // NULL is fine
// These three synchronize with the host, so during a capture they fail (SSM_EDEVICE) instead
// of breaking it: a captured step reads nothing back mid-step.
ssm_code ssm_cuda_upload(void *dst_dev, const void *src_host, size_t bytes);
ssm_code ssm_cuda_download(void *dst_host, const void *src_dev, size_t bytes); // synchronizes
ssm_code ssm_cuda_sync(void);

// The library stream of this host thread: created on first use on the current device (like
// the cuBLAS handle), blocking (see "Streams" above), never destroyed. Every launch, async
// memset / copy, cuBLAS call and NCCL call of the library goes here.
cudaStream_t ssm_cuda_stream(void);
// 1 while this thread's library stream is capturing a CUDA graph (0 before it exists).
int ssm_cuda_capturing(void);

// One cuBLAS handle per host thread, created on first use (on the current device), bound to
// the library stream.
ssm_code ssm_cublas_handle(cublasHandle_t *h);

// Device scratch for the partial sums between the two launches of a fixed-order reduction
// (the twins keep their CPU signatures, so they cannot take a workspace argument). One buffer
// per slot and host thread, allocated on first use, grown when a larger request comes (the
// cudaFree of the old one waits for the device, so no queued kernel still reads it) and kept
// for the thread's life. Slots keep two users from sharing a buffer; every user runs on the
// library stream, so successive calls through one slot are ordered. A growth during a CUDA
// graph capture fails (SSM_EDEVICE, naming the slot and both sizes): the step's warm-up run,
// before its capture, is what grows them.
typedef enum { SSM_SCRATCH_CONV1D, SSM_SCRATCH_COLSUM, SSM_SCRATCH_COUNT } ssm_scratch_slot;
ssm_code ssm_cuda_scratch(void **p, size_t bytes, ssm_scratch_slot slot);
// Counts this thread's scratch reallocations: a captured graph that holds a scratch pointer
// is stale once it changes (another model or shape grew a slot), and is captured again.
uint64_t ssm_cuda_scratch_generation(void);

#ifdef __cplusplus
}
#endif

#define CUDA_CHECK(call)                                              \
    do {                                                              \
        cudaError_t ssm_cu_err_ = (call);                             \
        if (ssm_cu_err_ != cudaSuccess)                               \
            return ssm_cuda_fail(__FILE__, __LINE__, #call, ssm_cu_err_); \
    } while (0)

#define CUBLAS_CHECK(call)                                              \
    do {                                                                \
        cublasStatus_t ssm_cb_st_ = (call);                             \
        if (ssm_cb_st_ != CUBLAS_STATUS_SUCCESS)                        \
            return ssm_cublas_fail(__FILE__, __LINE__, #call, ssm_cb_st_); \
    } while (0)

// After a kernel launch: a bad configuration shows here, a fault inside the kernel shows at the
// next synchronizing call (run with CUDA_LAUNCH_BLOCKING=1 to pin it to its launch).
#define CUDA_LAUNCH_CHECK(name) CUDA_CHECK(cudaGetLastError())

// --- for test and bench programs only ----------------------------------------------------
#define CUDA_CHECK_ABORT(call)                                                          \
    do {                                                                                \
        cudaError_t ssm_cu_err_ = (call);                                               \
        if (ssm_cu_err_ != cudaSuccess) {                                               \
            ssm_cuda_fail(__FILE__, __LINE__, #call, ssm_cu_err_);                      \
            ssm_error ssm_cu_e_;                                                        \
            ssm_cuda_take_error(&ssm_cu_e_);                                            \
            fprintf(stderr, "%s\n", ssm_cu_e_.msg);                                     \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define SSM_CUDA_ABORT_ON_ERROR(expr)                                                   \
    do {                                                                                \
        if ((expr) != SSM_OK) {                                                         \
            ssm_error ssm_cu_e_;                                                        \
            ssm_cuda_take_error(&ssm_cu_e_);                                            \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr,        \
                    ssm_cu_e_.msg);                                                     \
            abort();                                                                    \
        }                                                                               \
    } while (0)

// --- bf16 storage ---------------------------------------------------------------------------
// bf16 values as the device stores them (__nv_bfloat16 has the same 2-byte layout); the host
// converts with round-to-nearest-even, as __float2bfloat16 does.
typedef uint16_t ssm_bf16;

static inline ssm_bf16 ssm_bf16_from_float(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) // NaN stays a (quiet) NaN
        return (ssm_bf16)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (ssm_bf16)(x >> 16);
}

static inline float ssm_bf16_to_float(ssm_bf16 h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}
