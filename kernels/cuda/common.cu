// defines: ssm_cuda_fail, ssm_cublas_fail, ssm_cuda_failf, ssm_cuda_take_error,
//          ssm_cuda_device_count, ssm_cuda_has_kernel_image, ssm_cuda_alloc, ssm_cuda_free, ssm_cuda_upload,
//          ssm_cuda_download, ssm_cuda_sync, ssm_cuda_stream, ssm_cuda_capturing,
//          ssm_cublas_handle, ssm_cuda_scratch, ssm_cuda_scratch_generation
// The error bookkeeping and allocation helpers behind kernels/cuda/common.h.
#include "kernels/cuda/common.h"

#include <stdarg.h>

// Per-thread, like cudaGetLastError: the twins keep their CPU signatures, so the message
// travels beside the returned code instead of through an extra argument.
static thread_local ssm_error g_last = {SSM_OK, {0}};

// A line a person can act on, for the errors people actually meet.
static const char *cuda_hint(cudaError_t err) {
    switch (err) {
    case cudaErrorMemoryAllocation:
        return "the GPU is out of memory: lower the batch size or sequence length, or free "
               "other buffers (nvidia-smi shows who holds memory)";
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
        return "no usable GPU: check nvidia-smi, the driver version against the CUDA runtime, "
               "and CUDA_VISIBLE_DEVICES; or set run.device: cpu";
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDeviceFunction:
        return "the binary has no code for this GPU: rebuild with CUDA_ARCH='-gencode "
               "arch=compute_XX,code=sm_XX' for its compute capability";
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
        return "a kernel touched memory it does not own (a host pointer passed as a device "
               "pointer, or a buffer too small for the shape); rerun under compute-sanitizer "
               "with CUDA_LAUNCH_BLOCKING=1";
    case cudaErrorInvalidConfiguration:
        return "bad launch configuration (grid or shared memory too large for the shape)";
    case cudaErrorInvalidValue:
        return "an argument is out of range (a NULL or mis-sized pointer, a zero-sized copy "
               "from an unallocated buffer)";
    default:
        return "the CUDA context may now be unusable; earlier asynchronous work can also "
               "report here (CUDA_LAUNCH_BLOCKING=1 pins it to its launch)";
    }
}

static const char *cublas_name(cublasStatus_t st) {
    switch (st) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_(unknown)";
    }
}

static const char *cublas_hint(cublasStatus_t st) {
    switch (st) {
    case CUBLAS_STATUS_NOT_INITIALIZED:
        return "cublasCreate failed: usually no GPU or out of memory at start";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS could not allocate its workspace: GPU memory is full";
    case CUBLAS_STATUS_INVALID_VALUE: return "a dimension or leading dimension is negative or too small";
    case CUBLAS_STATUS_EXECUTION_FAILED:
        return "the GEMM kernel failed: check that every pointer is a device pointer of the right size";
    default: return "see the cuBLAS documentation for this status";
    }
}

extern "C" ssm_code ssm_cuda_fail(const char *file, int line, const char *call, cudaError_t err) {
    g_last.code = SSM_EDEVICE;
    snprintf(g_last.msg, sizeof g_last.msg, "%s:%d: %s: %s (%s); hint: %s", file, line, call,
             cudaGetErrorName(err), cudaGetErrorString(err), cuda_hint(err));
    return SSM_EDEVICE;
}

extern "C" ssm_code ssm_cublas_fail(const char *file, int line, const char *call,
                                    cublasStatus_t st) {
    g_last.code = SSM_EDEVICE;
    snprintf(g_last.msg, sizeof g_last.msg, "%s:%d: %s: %s; hint: %s", file, line, call,
             cublas_name(st), cublas_hint(st));
    return SSM_EDEVICE;
}

extern "C" ssm_code ssm_cuda_failf(ssm_code code, const char *file, int line, const char *fmt,
                                   ...) {
    g_last.code = code;
    int k = snprintf(g_last.msg, sizeof g_last.msg, "%s:%d: ", file, line);
    if (k < 0 || k >= (int)sizeof g_last.msg)
        k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last.msg + k, sizeof g_last.msg - k, fmt, ap);
    va_end(ap);
    return code;
}

extern "C" ssm_code ssm_cuda_take_error(ssm_error *e) {
    ssm_code c = g_last.code;
    if (e)
        *e = g_last;
    g_last.code = SSM_OK;
    g_last.msg[0] = 0;
    return c;
}

// Does this binary carry code the current GPU can run (SASS for its compute
// capability, or PTX it can JIT)? Asked of a trivial kernel, before any real launch.
__global__ static void ssm_probe_kernel(void) {}
extern "C" int ssm_cuda_has_kernel_image(void) {
    cudaFuncAttributes attr;
    const cudaError_t e = cudaFuncGetAttributes(&attr, ssm_probe_kernel);
    if (e != cudaSuccess) {
        cudaGetLastError(); // an answer, not a sticky failure
        return 0;
    }
    return 1;
}

extern "C" int ssm_cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); // clear: "no device" is an answer here, not a failure
        return 0;
    }
    return n;
}

// One stream per host thread, like the cuBLAS handle; g_stream stays NULL until first use, so
// asking whether it captures never creates it.
static thread_local cudaStream_t g_stream = NULL;

extern "C" cudaStream_t ssm_cuda_stream(void) {
    if (!g_stream && cudaStreamCreate(&g_stream) != cudaSuccess) {
        // No stream (no device, or a dead context): the legacy stream keeps the library
        // working as before, and the error shows at the first launch or copy.
        g_stream = NULL;
        return 0;
    }
    return g_stream;
}

extern "C" int ssm_cuda_capturing(void) {
    cudaStreamCaptureStatus st = cudaStreamCaptureStatusNone;
    if (!g_stream || cudaStreamIsCapturing(g_stream, &st) != cudaSuccess)
        return 0;
    return st != cudaStreamCaptureStatusNone;
}

// The refusal of a host-synchronizing or allocating call inside a captured step.
static ssm_code refuse_in_capture(const char *file, int line, const char *call) {
    return ssm_cuda_failf(SSM_EDEVICE, file, line,
                          "%s during a CUDA graph capture of the training step: a captured step "
                          "may not allocate, copy synchronously or read back (the warm-up step "
                          "before the capture should have made every buffer); set "
                          "train.cuda_graph: false and report this",
                          call);
}

extern "C" ssm_code ssm_cuda_alloc(void **p, size_t bytes, const char *what) {
    *p = NULL;
    if (bytes == 0)
        return SSM_OK;
    if (ssm_cuda_capturing()) {
        char call[160];
        snprintf(call, sizeof call, "cudaMalloc of %zu bytes for %s", bytes, what ? what : "?");
        return refuse_in_capture(__FILE__, __LINE__, call);
    }
    cudaError_t err = cudaMalloc(p, bytes);
    if (err != cudaSuccess) {
        *p = NULL;
        size_t free_b = 0, total_b = 0;
        cudaGetLastError();
        cudaMemGetInfo(&free_b, &total_b);
        ssm_cuda_fail(__FILE__, __LINE__, "cudaMalloc", err);
        char tail[256];
        snprintf(tail, sizeof tail, " [allocating %zu bytes for %s; %zu of %zu bytes free]", bytes,
                 what ? what : "?", free_b, total_b);
        strncat(g_last.msg, tail, sizeof g_last.msg - strlen(g_last.msg) - 1);
        return SSM_ENOMEM;
    }
    return SSM_OK;
}

extern "C" void ssm_cuda_free(void *p) {
    if (p)
        cudaFree(p);
}

extern "C" ssm_code ssm_cuda_upload(void *dst_dev, const void *src_host, size_t bytes) {
    if (bytes && ssm_cuda_capturing())
        return refuse_in_capture(__FILE__, __LINE__, "ssm_cuda_upload (a synchronous cudaMemcpy)");
    if (bytes)
        CUDA_CHECK(cudaMemcpy(dst_dev, src_host, bytes, cudaMemcpyHostToDevice));
    return SSM_OK;
}

extern "C" ssm_code ssm_cuda_download(void *dst_host, const void *src_dev, size_t bytes) {
    if (bytes && ssm_cuda_capturing())
        return refuse_in_capture(__FILE__, __LINE__, "ssm_cuda_download (a host read)");
    if (bytes)
        CUDA_CHECK(cudaMemcpy(dst_host, src_dev, bytes, cudaMemcpyDeviceToHost));
    return SSM_OK;
}

extern "C" ssm_code ssm_cuda_sync(void) {
    if (ssm_cuda_capturing())
        return refuse_in_capture(__FILE__, __LINE__, "ssm_cuda_sync (cudaDeviceSynchronize)");
    CUDA_CHECK(cudaDeviceSynchronize());
    return SSM_OK;
}

// One handle per host thread; never destroyed (the process end releases it), so a library
// user needs no init/teardown call. Bound once to the library stream, then given a workspace
// of its own (cublasSetStream resets it, hence after): with cuBLAS's default pool a captured
// step (train.cuda_graph) may get a workspace allocated inside the graph, of another size than
// the eager steps', and cuBLAS promises the same bits only with the same workspace. 32 MiB is
// NVIDIA's recommendation for Hopper (4 MiB before it).
static thread_local cublasHandle_t g_cublas = NULL;
enum { CUBLAS_WORKSPACE_BYTES = 32 << 20 };

extern "C" ssm_code ssm_cublas_handle(cublasHandle_t *h) {
    if (!g_cublas) {
        cublasHandle_t fresh = NULL;
        CUBLAS_CHECK(cublasCreate(&fresh));
        cublasStatus_t st = cublasSetStream(fresh, ssm_cuda_stream());
        if (st != CUBLAS_STATUS_SUCCESS) {
            cublasDestroy(fresh);
            return ssm_cublas_fail(__FILE__, __LINE__, "cublasSetStream", st);
        }
        void *ws = NULL;
        cudaError_t ce = cudaMalloc(&ws, CUBLAS_WORKSPACE_BYTES);
        if (ce != cudaSuccess) {
            cublasDestroy(fresh);
            return ssm_cuda_failf(SSM_ENOMEM, __FILE__, __LINE__,
                                  "cudaMalloc of the %d MiB cuBLAS workspace: %s",
                                  CUBLAS_WORKSPACE_BYTES >> 20, cudaGetErrorString(ce));
        }
        st = cublasSetWorkspace(fresh, ws, CUBLAS_WORKSPACE_BYTES);
        if (st != CUBLAS_STATUS_SUCCESS) {
            cudaFree(ws);
            cublasDestroy(fresh);
            return ssm_cublas_fail(__FILE__, __LINE__, "cublasSetWorkspace", st);
        }
        g_cublas = fresh;
    }
    *h = g_cublas;
    return SSM_OK;
}

static thread_local void *g_scratch[SSM_SCRATCH_COUNT];
static thread_local size_t g_scratch_bytes[SSM_SCRATCH_COUNT];
static thread_local uint64_t g_scratch_gen = 0;

extern "C" uint64_t ssm_cuda_scratch_generation(void) { return g_scratch_gen; }

extern "C" ssm_code ssm_cuda_scratch(void **p, size_t bytes, ssm_scratch_slot slot) {
    *p = NULL;
    if ((int)slot < 0 || slot >= SSM_SCRATCH_COUNT)
        return ssm_cuda_failf(SSM_EINVAL, __FILE__, __LINE__,
                              "ssm_cuda_scratch: slot %d (expected 0..%d)", (int)slot,
                              SSM_SCRATCH_COUNT - 1);
    if (bytes > g_scratch_bytes[slot]) {
        if (ssm_cuda_capturing()) { // the captured step would keep the pointer freed here
            static_assert(SSM_SCRATCH_COUNT == 2, "a name per scratch slot");
            static const char *const names[SSM_SCRATCH_COUNT] = {"conv1d", "colsum"};
            char call[160];
            snprintf(call, sizeof call, "growing scratch slot %s from %zu to %zu bytes",
                     names[slot], g_scratch_bytes[slot], bytes);
            return refuse_in_capture(__FILE__, __LINE__, call);
        }
        ssm_cuda_free(g_scratch[slot]);
        g_scratch[slot] = NULL, g_scratch_bytes[slot] = 0;
        g_scratch_gen++;
        size_t grow = bytes + bytes / 4; // headroom: a slightly larger shape reuses it
        ssm_code c = ssm_cuda_alloc(&g_scratch[slot], grow, "reduction partial sums (scratch)");
        if (c != SSM_OK)
            return c;
        g_scratch_bytes[slot] = grow;
    }
    *p = g_scratch[slot];
    return SSM_OK;
}
