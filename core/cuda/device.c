// defines: the device parameter mirror and device arena (see device.h)
#include "core/cuda/device.h"

#include <string.h>

#include "kernels/cuda/cast.h"
#include "kernels/cuda/common.h"

// The message recorded by a failed ssm_cuda_* call goes into err.
static ssm_code take(ssm_code c, ssm_error *err) { return c == SSM_OK ? c : ssm_cuda_take_error(err); }

ssm_code ssm_params_cuda_mirror(ssm_params *dev, const ssm_params *host, ssm_error *err) {
    memset(dev, 0, sizeof *dev);
    dev->items = host->items;
    dev->count = host->count;
    dev->cap = host->cap;
    dev->total = host->total;
    const size_t bytes = (host->total ? host->total : 1) * sizeof(real);
    real **bufs[4] = {&dev->data, &dev->grad, &dev->m, &dev->v};
    const char *what[4] = {"parameters", "gradients", "AdamW first moments", "AdamW second moments"};
    for (int i = 0; i < 4; i++) {
        ssm_code c = take(ssm_cuda_alloc((void **)bufs[i], bytes, what[i]), err);
        if (c != SSM_OK) {
            ssm_params_cuda_free(dev);
            return c;
        }
        if (cudaMemset(*bufs[i], 0, bytes) != cudaSuccess) {
            ssm_params_cuda_free(dev);
            return ssm_fail(err, SSM_EDEVICE, "cudaMemset of the %s failed", what[i]);
        }
    }
    ssm_code c = ssm_params_cuda_upload(dev, host, err);
    if (c != SSM_OK)
        ssm_params_cuda_free(dev);
    return c;
}

ssm_code ssm_params_cuda_upload(ssm_params *dev, const ssm_params *host, ssm_error *err) {
    if (dev->total != host->total)
        return ssm_fail(err, SSM_EINVAL, "device parameters hold %zu elements, host %zu",
                        dev->total, host->total);
    const size_t bytes = host->total * sizeof(real);
    ssm_code c = take(ssm_cuda_upload(dev->data, host->data, bytes), err);
    if (c == SSM_OK)
        c = take(ssm_cuda_upload(dev->m, host->m, bytes), err);
    if (c == SSM_OK)
        c = take(ssm_cuda_upload(dev->v, host->v, bytes), err);
    if (c == SSM_OK)
        c = ssm_params_cuda_refresh_bf16(dev, err);
    return c;
}

ssm_code ssm_params_cuda_download(ssm_params *host, const ssm_params *dev, int grad,
                                  ssm_error *err) {
    if (dev->total != host->total)
        return ssm_fail(err, SSM_EINVAL, "device parameters hold %zu elements, host %zu",
                        dev->total, host->total);
    const size_t bytes = host->total * sizeof(real);
    ssm_code c = take(ssm_cuda_download(host->data, dev->data, bytes), err);
    if (c == SSM_OK)
        c = take(ssm_cuda_download(host->m, dev->m, bytes), err);
    if (c == SSM_OK)
        c = take(ssm_cuda_download(host->v, dev->v, bytes), err);
    if (c == SSM_OK && grad)
        c = take(ssm_cuda_download(host->grad, dev->grad, bytes), err);
    return c;
}

void ssm_params_cuda_free(ssm_params *dev) {
    ssm_cuda_free(dev->data);
    ssm_cuda_free(dev->grad);
    ssm_cuda_free(dev->m);
    ssm_cuda_free(dev->v);
    ssm_cuda_free(dev->data_bf16);
    memset(dev, 0, sizeof *dev); // the items table belongs to the host table
}

ssm_code ssm_arena_commit_cuda(ssm_arena *a, ssm_error *err) {
    ssm_cuda_free(a->base);
    a->base = NULL;
    size_t cap = a->peak ? a->peak : 64;
    ssm_code c = take(ssm_cuda_alloc((void **)&a->base, cap, "activation arena"), err);
    if (c != SSM_OK)
        return c;
    a->capacity = cap;
    a->used = 0;
    return SSM_OK;
}

void ssm_arena_free_cuda(ssm_arena *a) {
    ssm_cuda_free(a->base);
    memset(a, 0, sizeof *a);
}

ssm_code ssm_params_cuda_shadow_bf16(ssm_params *dev, ssm_error *err) {
    if (!dev->data)
        return ssm_fail(err, SSM_EINVAL, "bf16 shadow of a parameter table with no device mirror");
    if (!dev->data_bf16) {
        size_t bytes = (dev->total ? dev->total : 1) * sizeof(ssm_bf16);
        SSM_TRY(take(ssm_cuda_alloc(&dev->data_bf16, bytes, "bf16 shadow of the parameters"),
                     err));
    }
    return ssm_params_cuda_refresh_bf16(dev, err);
}

ssm_code ssm_params_cuda_refresh_bf16(ssm_params *dev, ssm_error *err) {
    if (!dev->data_bf16)
        return SSM_OK;
    return take(cast_f32_to_bf16_cuda(dev->data_bf16, dev->data, (int64_t)dev->total), err);
}
