// defines: ssm_nccl_attach, ssm_nccl_available (see nccl.h)
#include "core/cuda/nccl.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SSM_NCCL
#include <nccl.h>

#include "core/cuda/try.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/common.h"

// The device gradients are fp32 (CUDA builds are float builds; the double build has no
// device code), summed as ncclFloat.
_Static_assert(!REAL_IS_DOUBLE, "core/cuda/nccl.c sums float gradients");

// NCCL's last message (2.13 and later), else its reason alone.
static const char *last_error(ncclComm_t comm) {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 13, 0)
    const char *s = ncclGetLastError(comm);
    return s && *s ? s : "no further message";
#else
    (void)comm;
    return "no further message";
#endif
}

// Every NCCL call is checked: the call, NCCL's reason and its last message, and a hint.
#define NCCL_TRY(call, comm, err)                                                            \
    do {                                                                                     \
        ncclResult_t nccl_rc_ = (call);                                                      \
        if (nccl_rc_ != ncclSuccess)                                                         \
            return ssm_fail((err), SSM_EDEVICE,                                              \
                            "%s:%d: %s failed: %s (%s; NCCL_DEBUG=INFO tells more)",         \
                            __FILE__, __LINE__, #call, ncclGetErrorString(nccl_rc_),         \
                            last_error(comm));                                               \
    } while (0)

typedef struct {
    ncclComm_t comm;
    int bf16;
    ssm_bf16 *buf; // [cap] the bf16 copy of the gradients (bf16 only)
    size_t cap;
} nccl_ctx;

// A non-blocking communicator's "not yet" (NCCL 2.14 and later) is no error.
static int in_progress(ncclResult_t r) {
#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
    return r == ncclInProgress;
#else
    (void)r;
    return 0;
#endif
}

// An error NCCL met while running an earlier collective (a peer gone, a network failure):
// ncclAllReduce only queues its work, so such errors surface here, on the next step.
static ssm_code check_async(nccl_ctx *c, ssm_error *err) {
    ncclResult_t async = ncclSuccess;
    NCCL_TRY(ncclCommGetAsyncError(c->comm, &async), c->comm, err);
    if (async != ncclSuccess && !in_progress(async))
        return ssm_fail(err, SSM_EDEVICE, "the NCCL gradient all-reduce failed: %s (%s; a rank "
                        "or the network between the GPUs failed; NCCL_DEBUG=INFO tells more)",
                        ncclGetErrorString(async), last_error(c->comm));
    return SSM_OK;
}

// Everything is queued on the library stream (ssm_cuda_stream), where the backward's kernels
// ran and clipping's will: ordered after the one and before the other, with no host
// synchronisation.
static ssm_code nccl_grad_average(void *ctx, real *grad, size_t n, double share,
                                  ssm_error *err) {
    nccl_ctx *c = ctx;
    SSM_TRY(check_async(c, err));
    if (share == 0)
        SSM_CUDA_TRY(ssm_cuda_zero(grad, n * sizeof *grad), err);
    else if (share != 1)
        SSM_CUDA_TRY(scale_inplace_cuda(grad, (real)share, (int64_t)n), err);
    if (!c->bf16) {
        NCCL_TRY(ncclAllReduce(grad, grad, n, ncclFloat, ncclSum, c->comm, ssm_cuda_stream()),
                 c->comm, err);
        return SSM_OK;
    }
    if (c->cap < n) {
        // the previous buffer may still be read by a queued all-reduce: free it after
        SSM_CUDA_TRY(ssm_cuda_sync(), err);
        ssm_cuda_free(c->buf);
        c->buf = NULL;
        c->cap = 0;
        SSM_CUDA_TRY(ssm_cuda_alloc((void **)&c->buf, n * sizeof *c->buf,
                                    "bf16 gradients of the all-reduce"), err);
        c->cap = n;
    }
    SSM_CUDA_TRY(cast_f32_to_bf16_cuda(c->buf, grad, (int64_t)n), err);
    NCCL_TRY(ncclAllReduce(c->buf, c->buf, n, ncclBfloat16, ncclSum, c->comm, ssm_cuda_stream()),
             c->comm, err);
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
    // Rank 0 makes the id and sends it with its verdict, so that a failure there fails every
    // rank at once instead of leaving the others waiting for an id that never comes.
    struct {
        int32_t ok;
        ncclUniqueId id;
    } msg;
    memset(&msg, 0, sizeof msg);
    ncclResult_t rc = ncclSuccess;
    if (d->rank == 0) {
        rc = ncclGetUniqueId(&msg.id);
        msg.ok = rc == ncclSuccess;
    }
    SSM_TRY(ssm_dist_bcast(d, &msg, sizeof msg, 0, err));
    if (!msg.ok)
        return ssm_fail(err, SSM_EDEVICE, "rank %d of %d: rank 0 could not create the NCCL "
                        "unique id%s%s (NCCL_DEBUG=INFO tells more)", d->rank, d->size,
                        d->rank == 0 ? ": " : "", d->rank == 0 ? ncclGetErrorString(rc) : "");
    nccl_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "out of memory");
    c->bf16 = bf16;
    // blocking: returns once every rank has joined (the current device is this rank's GPU)
    rc = ncclCommInitRank(&c->comm, d->size, msg.id, d->rank);
    if (rc != ncclSuccess) {
        free(c);
        return ssm_fail(err, SSM_EDEVICE,
                        "rank %d of %d: ncclCommInitRank failed: %s (%s; one GPU per rank: are "
                        "there as many GPUs as ranks on each machine? NCCL_DEBUG=INFO tells "
                        "more)", d->rank, d->size, ncclGetErrorString(rc), last_error(NULL));
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
