// defines: train_device, train_device_cpu, train_device_cuda, train_device_get,
//          train_cuda_adamw_constants, train_cuda_adamw_dev
// What the training loop (tasks/train.c) does differently on each device, as a
// small vtable, so that one loop serves the CPU and a GPU. `work` is the
// parameter table a step updates (the host table on the CPU, its device mirror on
// CUDA); `host` the master the checkpoints read and write.
#pragma once
#include <stdint.h>

#include "core/config.h"
#include "core/device_select.h"
#include "core/error.h"
#include "core/params.h"

typedef struct {
    const char *name;
    // Global-norm clipping of work's gradients to max_norm (max_norm <= 0: only the
    // norm). *norm = the norm before clipping.
    ssm_code (*clip)(ssm_params *work, double max_norm, double *norm, ssm_error *err);
    // One AdamW step, step count t (1-based); no weight decay on SSM_PARAM_NO_DECAY tensors.
    ssm_code (*adamw)(ssm_params *work, const ssm_optim_config *oc, double lr, int64_t t,
                      ssm_error *err);
    // work -> host (data, m, v) before a checkpoint; host -> work after loading one.
    // No-ops when work is the host table.
    ssm_code (*to_host)(ssm_params *host, const ssm_params *work, ssm_error *err);
    ssm_code (*to_device)(ssm_params *work, const ssm_params *host, ssm_error *err);
} train_device;

extern const train_device train_device_cpu;
#if SSM_HAVE_CUDA
extern const train_device train_device_cuda; // tasks/cuda/train_device_cuda.c

// The AdamW pass of train_device_cuda with its constants in device memory, for a step
// captured as a CUDA graph (tasks/cuda/step_graph.h), whose launches must not bake in the
// rate or the step count. train_cuda_adamw_constants writes them for the rate lr and step t:
// c[0..2] for the decayed tensors, c[3..5] for the no-decay ones (kernels/cuda/optim.h
// adamw_constants); the host copies them to dev_c before each replay. Where *dev_guard (the
// gradient norm, on the device) is not finite nothing is updated. The same bits as .adamw.
void train_cuda_adamw_constants(float c[6], const ssm_optim_config *oc, double lr, int64_t t);
ssm_code train_cuda_adamw_dev(ssm_params *work, const ssm_optim_config *oc, const float *dev_c,
                              const double *dev_guard, ssm_error *err);
#endif

// The vtable for d (the CPU's for a CPU device, or in a build without CUDA).
const train_device *train_device_get(const ssm_device *d);
