// defines: ssm_nccl_attach, ssm_nccl_available (see nccl.h)
#include "core/cuda/nccl.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef SSM_NCCL
#include <nccl.h>

#include "core/cuda/try.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/common.h"

// Every NCCL call is checked: the call, NCCL's reason and its last message, and a hint.
#define NCCL_TRY(call, err)                                                                  \
    do {                                                                                     \
        ncclResult_t nccl_rc_ = (call);                                                      \
        if (nccl_rc_ != ncclSuccess)                                                         \
            return ssm_fail((err), SSM_EDEVICE,                                              \
                            "%s:%d: %s failed: %s (%s; NCCL_DEBUG=INFO tells more)",         \
                            __FILE__, __LINE__, #call, ncclGetErrorString(nccl_rc_),         \
                            ncclGetLastError(NULL));                                         \
    } while (0)

typedef struct {
    ncclComm_t comm;
    int bf16;
    ssm_bf16 *buf; // [cap] the bf16 copy of the gradients (bf16 only)
    size_t cap;
} nccl_ctx;

static ssm_code nccl_grad_average(void *ctx, real *grad, size_t n, double share,
                                  ssm_error *err) {
    nccl_ctx *c = ctx;
    if (share == 0)
        SSM_CUDA_TRY(ssm_cuda_zero(grad, n * sizeof *grad), err);
    else if (share != 1)
        SSM_CUDA_TRY(scale_inplace_cuda(grad, (real)share, (int64_t)n), err);
    if (!c->bf16) {
        NCCL_TRY(ncclAllReduce(grad, grad, n, ncclFloat, ncclSum, c->comm, 0), err);
        return SSM_OK;
    }
    if (c->cap < n) {
        ssm_cuda_free(c->buf);
        c->buf = NULL;
        c->cap = 0;
        SSM_CUDA_TRY(ssm_cuda_alloc((void **)&c->buf, n * sizeof *c->buf,
                                    "bf16 gradients of the all-reduce"), err);
        c->cap = n;
    }
    SSM_CUDA_TRY(cast_f32_to_bf16_cuda(c->buf, grad, (int64_t)n), err);
    NCCL_TRY(ncclAllReduce(c->buf, c->buf, n, ncclBfloat16, ncclSum, c->comm, 0), err);
    SSM_CUDA_TRY(cast_bf16_to_f32_cuda(grad, c->buf, (int64_t)n), err);
    return SSM_OK;
}

static void nccl_free(void *ctx) {
    nccl_ctx *c = ctx;
    if (!c)
        return;
    ncclCommDestroy(c->comm);
    ssm_cuda_free(c->buf);
    free(c);
}

static const ssm_dist_device_ops nccl_ops = {
    .name = "nccl",
    .grad_average = nccl_grad_average,
    .free = nccl_free,
};

int ssm_nccl_available(void) { return 1; }

ssm_code ssm_nccl_attach(ssm_dist *d, int bf16, ssm_error *err) {
    if (d->dev)
        return ssm_fail(err, SSM_EINVAL, "rank %d: a device reducer (%s) is already attached",
                        d->rank, d->dev->name);
    ncclUniqueId id;
    if (d->rank == 0)
        NCCL_TRY(ncclGetUniqueId(&id), err);
    SSM_TRY(ssm_dist_bcast(d, &id, sizeof id, 0, err));
    nccl_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    c->bf16 = bf16;
    ncclResult_t rc = ncclCommInitRank(&c->comm, d->size, id, d->rank);
    if (rc != ncclSuccess) {
        free(c);
        return ssm_fail(err, SSM_EDEVICE,
                        "rank %d of %d: ncclCommInitRank failed: %s (%s; one GPU per rank: are "
                        "there as many GPUs as ranks on each machine? NCCL_DEBUG=INFO tells "
                        "more)", d->rank, d->size, ncclGetErrorString(rc), ncclGetLastError(NULL));
    }
    d->dev = &nccl_ops;
    d->dev_ctx = c;
    return SSM_OK;
}
#else
int ssm_nccl_available(void) { return 0; }

ssm_code ssm_nccl_attach(ssm_dist *d, int bf16, ssm_error *err) {
    (void)bf16;
    return ssm_fail(err, SSM_EDEVICE,
                    "rank %d of %d: GPU ranks sum their gradients with NCCL, and this build has "
                    "none (nccl.h was not found beside CUDA or in /usr/include; install NCCL and "
                    "rebuild with make CUDA=1, or train on one GPU without mpirun)",
                    d->rank, d->size);
}
#endif
