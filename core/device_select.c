// defines: run.device parsing and opening (see device_select.h)
#include "core/device_select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if SSM_HAVE_CUDA
#include "core/cuda/select.h"
#endif

ssm_code ssm_device_parse(ssm_device *d, const char *s, ssm_error *err) {
    memset(d, 0, sizeof *d);
    if (!strcmp(s, "cpu"))
        return SSM_OK;
    if (!strcmp(s, "cuda")) {
        d->kind = SSM_DEVICE_CUDA;
        return SSM_OK;
    }
    if (!strncmp(s, "cuda:", 5) && s[5] >= '0' && s[5] <= '9') {
        char *end;
        long v = strtol(s + 5, &end, 10);
        if (!*end && v >= 0 && v < 1000) {
            d->kind = SSM_DEVICE_CUDA;
            d->index = (int)v;
            return SSM_OK;
        }
    }
    return ssm_fail(err, SSM_ECONFIG, "run.device: '%s' is not a device; expected cpu, cuda or cuda:N",
                    s);
}

ssm_code ssm_device_open(const ssm_device *d, ssm_error *err) {
    if (d->kind == SSM_DEVICE_CPU)
        return SSM_OK;
#if SSM_HAVE_CUDA
    return ssm_cuda_select(d->index, err);
#else
    return ssm_fail(err, SSM_EDEVICE,
                    "run.device: cuda, but this ssmkit was built without CUDA (make CUDA=1)");
#endif
}

void ssm_device_describe_gpus(char *buf, size_t cap) {
#if SSM_HAVE_CUDA
    ssm_cuda_describe(buf, cap);
#else
    snprintf(buf, cap, "not in this build (make CUDA=1)");
#endif
}

const char *ssm_device_name(const ssm_device *d, char *buf, size_t n) {
    if (d->kind == SSM_DEVICE_CPU)
        snprintf(buf, n, "cpu");
    else
        snprintf(buf, n, "cuda:%d", d->index);
    return buf;
}
