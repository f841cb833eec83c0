// defines: train_device_cuda, train_cuda_adamw_constants, train_cuda_adamw_dev
//          (see tasks/train_device.h)
// The loop's device operations on one GPU: clipping and AdamW over the device
// mirror, with the two copies the loop needs around checkpoints.
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/optim.h"
#include "tasks/train_device.h"

// The norm comes down to the host (a logged scalar): grad_clip_cuda synchronizes.
static ssm_code cuda_clip(ssm_params *p, double max_norm, double *norm, ssm_error *err) {
    int64_t n = (int64_t)p->total;
    if (max_norm > 0)
        SSM_CUDA_TRY(grad_clip_cuda(norm, p->grad, n, max_norm), err);
    else
        SSM_CUDA_TRY(grad_global_norm_cuda(norm, p->grad, n), err);
    return SSM_OK;
}

// AdamW is elementwise: a run of adjacent tensors with the same decay is one launch
// (the same numbers as tensor by tensor, fewer launches). dev_c NULL: the constants of lr
// and t go into the launches; else they are read from dev_c (train_cuda_adamw_constants).
static ssm_code adamw_runs(ssm_params *p, const ssm_optim_config *oc, double lr, int64_t t,
                           const float *dev_c, const double *dev_guard, ssm_error *err) {
    size_t i = 0;
    while (i < p->count) {
        unsigned nd = p->items[i].flags & SSM_PARAM_NO_DECAY;
        size_t off = p->items[i].offset, n = 0, j = i;
        while (j < p->count && (p->items[j].flags & SSM_PARAM_NO_DECAY) == nd &&
               p->items[j].offset == off + n) {
            n += p->items[j].numel;
            j++;
        }
        double wd = nd ? 0.0 : oc->weight_decay;
        if (dev_c)
            SSM_CUDA_TRY(adamw_update_dev_cuda(p->data + off, p->grad + off, p->m + off,
                                               p->v + off, (int64_t)n, (float)oc->beta1,
                                               (float)oc->beta2, (float)oc->eps,
                                               dev_c + (nd ? 3 : 0), dev_guard), err);
        else
            SSM_CUDA_TRY(adamw_update_cuda(p->data + off, p->grad + off, p->m + off, p->v + off,
                                           (int64_t)n, (float)lr, (float)oc->beta1,
                                           (float)oc->beta2, (float)oc->eps, (float)wd, t), err);
        i = j;
    }
    // mixed precision: the bf16 shadow follows the updated master (one pass; no-op in fp32)
    return ssm_params_cuda_refresh_bf16(p, err);
}

static ssm_code cuda_adamw(ssm_params *p, const ssm_optim_config *oc, double lr, int64_t t,
                           ssm_error *err) {
    return adamw_runs(p, oc, lr, t, NULL, NULL, err);
}

void train_cuda_adamw_constants(float c[6], const ssm_optim_config *oc, double lr, int64_t t) {
    adamw_constants(c, (float)lr, (float)oc->beta1, (float)oc->beta2, (float)oc->weight_decay, t);
    adamw_constants(c + 3, (float)lr, (float)oc->beta1, (float)oc->beta2, 0.f, t);
}

ssm_code train_cuda_adamw_dev(ssm_params *p, const ssm_optim_config *oc, const float *dev_c,
                              const double *dev_guard, ssm_error *err) {
    if (!dev_c)
        return ssm_fail(err, SSM_EINVAL, "train_cuda_adamw_dev: no device constants");
    return adamw_runs(p, oc, 0, 1, dev_c, dev_guard, err);
}

static ssm_code cuda_to_host(ssm_params *host, const ssm_params *work, ssm_error *err) {
    return ssm_params_cuda_download(host, work, 0, err);
}

static ssm_code cuda_to_device(ssm_params *work, const ssm_params *host, ssm_error *err) {
    return ssm_params_cuda_upload(work, host, err);
}

const train_device train_device_cuda = {
    .name = "cuda",
    .clip = cuda_clip,
    .adamw = cuda_adamw,
    .to_host = cuda_to_host,
    .to_device = cuda_to_device,
};
