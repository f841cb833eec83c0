// defines: train_device_cpu, train_device_get (see train_device.h)
#include "tasks/train_device.h"

#include "kernels/optim.h"

static ssm_code cpu_clip(ssm_params *p, double max_norm, double *norm, ssm_error *err) {
    int64_t n = (int64_t)p->total;
    *norm = max_norm > 0 ? grad_clip(p->grad, n, max_norm) : grad_global_norm(p->grad, n);
    return SSM_OK;
}

// Tensor by tensor so that the no-decay flag is honoured.
static ssm_code cpu_adamw(ssm_params *p, const ssm_optim_config *oc, double lr, int64_t t,
                          ssm_error *err) {
    for (size_t i = 0; i < p->count; i++) {
        const ssm_param_info *it = &p->items[i];
        double wd = (it->flags & SSM_PARAM_NO_DECAY) ? 0.0 : oc->weight_decay;
        adamw_update(p->data + it->offset, p->grad + it->offset, p->m + it->offset,
                     p->v + it->offset, (int64_t)it->numel, (float)lr, (float)oc->beta1,
                     (float)oc->beta2, (float)oc->eps, (float)wd, t);
    }
    return SSM_OK;
}

static ssm_code cpu_same(ssm_params *dst, const ssm_params *src, ssm_error *err) {
    if (dst != src)
        return ssm_fail(err, SSM_EINVAL, "the CPU trains on the host table itself");
    return SSM_OK;
}

const train_device train_device_cpu = {
    .name = "cpu",
    .clip = cpu_clip,
    .adamw = cpu_adamw,
    .to_host = cpu_same,
    .to_device = cpu_same,
};

const train_device *train_device_get(const ssm_device *d) {
#if SSM_HAVE_CUDA
    if (d->kind == SSM_DEVICE_CUDA)
        return &train_device_cuda;
#endif
    (void)d;
    return &train_device_cpu;
}
