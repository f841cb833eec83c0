// defines: ssm_cuda_select (see select.h)
#include "core/cuda/select.h"

#include "kernels/cuda/common.h"

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
    return SSM_OK;
}
