// defines: adamw_constants, adamw_update_cuda, adamw_update_dev_cuda, grad_global_norm_cuda,
//          grad_clip_cuda, grad_clip_queue_cuda
// CUDA twins of kernels/optim.h over one flat device buffer. The CPU versions return the
// norm; these return an ssm_code and write the norm to a HOST double (*norm), so they
// synchronize with the device.
//
// The norm is deterministic (the same bits on every run for the same n): 1024 fixed
// contiguous parts summed in double by one block each (a fixed shuffle tree), then the parts
// in a fixed tree by one block. No atomics. The bits differ from the CPU's (another order).
// Partials live in a per-host-thread device buffer made on first use and never freed (like
// the cuBLAS handle).
//
// For a captured CUDA graph of the step (tasks/cuda/step_graph.h) two variants read nothing
// back and bake nothing that changes per step into their launches: grad_clip_queue_cuda leaves
// the norm on the device, adamw_update_dev_cuda reads the step's constants from device memory.
// Given the same constants they compute the same bits as their synchronous twins.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

// p, m, v updated in place from g; n elements; same formulas as adamw_update.
ssm_code adamw_update_cuda(real *p, const real *g, real *m, real *v, int64_t n, float lr,
                           float beta1, float beta2, float eps, float weight_decay, int64_t t);
// The constants the AdamW kernel uses for step t: c[0] = lr / (1 - beta1^t),
// c[1] = 1 / sqrt(1 - beta2^t), c[2] = 1 - lr * weight_decay (the CPU's formulas, in double
// then rounded). adamw_update_cuda computes them itself.
void adamw_constants(float c[3], float lr, float beta1, float beta2, float weight_decay,
                     int64_t t);
// adamw_update_cuda with the constants in device memory, dev_c[3] as adamw_constants writes
// them, read when the kernel runs; where dev_guard (a device double, may be NULL) is not
// finite the kernel changes nothing.
ssm_code adamw_update_dev_cuda(real *p, const real *g, real *m, real *v, int64_t n, float beta1,
                               float beta2, float eps, const float *dev_c,
                               const double *dev_guard);
// *norm = sqrt(sum g^2)
ssm_code grad_global_norm_cuda(double *norm, const real *g, int64_t n);
// Scales g by max_norm / norm when norm > max_norm (and finite); *norm = the norm before.
ssm_code grad_clip_cuda(double *norm, real *g, int64_t n, double max_norm);
// Queues the norm and (max_norm > 0) the clip of grad_clip_cuda without synchronizing;
// *norm_dev = the device double the norm lands in (this thread's; the next call reuses it).
ssm_code grad_clip_queue_cuda(const double **norm_dev, real *g, int64_t n, double max_norm);

#ifdef __cplusplus
}
#endif
