// defines: ssm_params_cuda_mirror, ssm_params_cuda_upload, ssm_params_cuda_download,
//          ssm_params_cuda_free, ssm_arena_commit_cuda, ssm_arena_free_cuda,
//          ssm_params_cuda_shadow_bf16, ssm_params_cuda_refresh_bf16, ssm_params_data_bf16
// The flat parameters and the activation arena on one GPU (built with CUDA=1 only).
//
// A device mirror of a parameter table is an ssm_params whose data/grad/m/v point
// to device memory and whose items table is the host table's (shared, not owned):
// ssm_params_data(dev, i) and ssm_params_grad(dev, i) then give device pointers, so
// model code written against the table works unchanged with device pointers.
// The host table stays the master copy for checkpoints: download before saving,
// upload after loading.
//
// Mixed precision (run.precision: bf16, as PyTorch autocast): the fp32 data stays the master
// (AdamW updates it, gradients and moments are fp32); data_bf16 is its bf16 shadow, one
// conversion over the flat buffer refreshed after every change of data: at creation, after
// each AdamW step (tasks/cuda/train_device_cuda.c) and after an upload. Code that writes
// dev->data itself must call ssm_params_cuda_refresh_bf16 before the next forward.
//
// A device arena is an ssm_arena whose base is one cudaMalloc: plan in measure
// mode as usual, then ssm_arena_commit_cuda instead of ssm_arena_commit.
#pragma once
#include "core/arena.h"
#include "kernels/cuda/common.h"
#include "core/error.h"
#include "core/params.h"

// Allocates dev's four device buffers (grad, m, v zeroed) and uploads host->data.
// dev shares host->items: free dev (ssm_params_cuda_free) before the host table.
ssm_code ssm_params_cuda_mirror(ssm_params *dev, const ssm_params *host, ssm_error *err);
// Copies data, m and v (not grad) host -> device (after loading a checkpoint).
ssm_code ssm_params_cuda_upload(ssm_params *dev, const ssm_params *host, ssm_error *err);
// Copies data, m and v device -> host (before a checkpoint); synchronizes.
// With grad = 1 the gradients come too (tests compare them).
ssm_code ssm_params_cuda_download(ssm_params *host, const ssm_params *dev, int grad,
                                  ssm_error *err);
void ssm_params_cuda_free(ssm_params *dev); // and its bf16 shadow

// Allocates dev's bf16 shadow (once) and fills it from dev->data.
ssm_code ssm_params_cuda_shadow_bf16(ssm_params *dev, ssm_error *err);
// data_bf16 = bf16(data), queued on the library stream; a no-op without a shadow.
ssm_code ssm_params_cuda_refresh_bf16(ssm_params *dev, ssm_error *err);
// Tensor `index` of the shadow (device); NULL without one.
static inline const ssm_bf16 *ssm_params_data_bf16(const ssm_params *p, size_t index) {
    return p->data_bf16 ? (const ssm_bf16 *)p->data_bf16 + p->items[index].offset : NULL;
}

// Allocates the measured peak on the current device and rewinds the arena.
ssm_code ssm_arena_commit_cuda(ssm_arena *a, ssm_error *err);
void ssm_arena_free_cuda(ssm_arena *a);
