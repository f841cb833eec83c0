// defines: ssm_cuda_select, ssm_cuda_describe (see select.h)
#include "core/cuda/select.h"

#include "kernels/cuda/common.h"

#include <stdio.h>

#ifndef SSM_CUDA_ARCHS
#define SSM_CUDA_ARCHS "(unknown)"
#endif

ssm_code ssm_cuda_select(int index, ssm_error *err) {
    int count = ssm_cuda_device_count();
    if (count == 0)
        return ssm_fail(err, SSM_EDEVICE, "run.device: cuda, but no CUDA device was found");
    if (index < 0 || index >= count)
        return ssm_fail(err, SSM_EDEVICE, "run.device: cuda:%d, but there %s %d CUDA device%s (0..%d)",
                        index, count == 1 ? "is" : "are", count, count == 1 ? "" : "s", count - 1);
    cudaError_t e = cudaSetDevice(index);
    if (e != cudaSuccess)
        return ssm_fail(err, SSM_EDEVICE, "run.device: cuda:%d: cudaSetDevice failed: %s", index,
                        cudaGetErrorString(e));
    if (!ssm_cuda_has_kernel_image()) {
        struct cudaDeviceProp prop;
        const int ok = cudaGetDeviceProperties(&prop, index) == cudaSuccess;
        return ssm_fail(err, SSM_EDEVICE,
                        "run.device: cuda:%d is %s (compute capability %d.%d), and this ssmkit "
                        "has no GPU code for it (built for: %s); rebuild with "
                        "make CUDA=1 CUDA_ARCH='-gencode arch=compute_%d%d,code=sm_%d%d'",
                        index, ok ? prop.name : "a GPU", ok ? prop.major : 0, ok ? prop.minor : 0,
                        SSM_CUDA_ARCHS, ok ? prop.major : 0, ok ? prop.minor : 0,
                        ok ? prop.major : 0, ok ? prop.minor : 0);
    }
    return SSM_OK;
}

void ssm_cuda_describe(char *buf, size_t cap) {
    const int count = ssm_cuda_device_count();
    size_t len = (size_t)snprintf(buf, cap, "built for %s; %d device%s", SSM_CUDA_ARCHS, count,
                                  count == 1 ? "" : "s");
    for (int i = 0; i < count; i++) {
        struct cudaDeviceProp prop;
        if (cudaGetDeviceProperties(&prop, i) != cudaSuccess)
            continue;
        int runs = 0;
        if (cudaSetDevice(i) == cudaSuccess)
            runs = ssm_cuda_has_kernel_image();
        len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0,
                                "\n  cuda:%d %s, compute capability %d.%d, %.1f GiB%s", i,
                                prop.name, prop.major, prop.minor,
                                (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0),
                                runs ? "" : " (no code for it in this build)");
    }
    cudaGetLastError();
}
