// defines: mamba_stack_plan_cuda, mamba_stack_forward_cuda, mamba_stack_backward_cuda,
//          mamba_stack_forward_packed_cuda, mamba_stack_backward_packed_cuda
// The backbone on one GPU (built with CUDA=1; implemented in backbone/cuda/): the
// same stack (mamba_stack_declare / mamba_stack_init_params on the host table) run
// with device pointers. The CUDA twins of mamba_stack_plan / _forward / _backward:
// the same arguments and meaning, with
//   * a device arena (core/cuda/device.h: plan measuring, ssm_arena_commit_cuda,
//     plan again) instead of a host one; a stack is planned for one device only;
//   * p a device mirror of the parameter table (ssm_params_cuda_mirror): its
//     data/grad pointers are device memory, its items table the host's;
//   * out, in, din, dout device arrays; orders->perm a DEVICE array
//     [count, B, L]; orders->schedule stays a HOST array (read to pick a perm);
//   * an ssm_code result (a failed CUDA call: SSM_EDEVICE with file:line in err).
// No host<->device copy and no synchronization inside forward or backward.
// The result equals the CPU stack's to fp32 rounding (tests/test_cuda_backbone.c).
#pragma once
#include <stdint.h>

#include "backbone/mamba.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/params.h"

ssm_code mamba_stack_plan_cuda(mamba_stack *s, ssm_arena *dev_arena, int64_t B_max, int64_t L,
                               ssm_error *err);
ssm_code mamba_stack_forward_cuda(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                                  const mamba_orders *orders, int64_t B, ssm_error *err);
ssm_code mamba_stack_backward_cuda(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                                   const mamba_orders *orders, int64_t B, ssm_error *err);
// Packed (ragged) rows, as mamba_stack_forward_packed / _backward_packed: pk->d_offsets
// (device) is what the kernels read, pk->offsets and pk->total (host) size the launches
// and are checked (ssm_packing_check) against the plan: total <= B_max * L tokens (the
// arena's B_max rows of L). in/out/din/dout [total, D], orders->perm a device array
// [count, 1, total]. fp32 and bf16 (MAMBA_BF16) alike. The result for each sequence equals
// that sequence run alone through mamba_stack_forward_cuda / _backward_cuda (B = 1,
// L = its length) to fp32 rounding (tests/test_cuda_backbone_packed.c states the bar).
ssm_code mamba_stack_forward_packed_cuda(mamba_stack *s, const ssm_params *p, real *out,
                                         const real *in, const mamba_orders *orders,
                                         const ssm_packing *pk, ssm_error *err);
ssm_code mamba_stack_backward_packed_cuda(mamba_stack *s, ssm_params *p, real *din,
                                          const real *dout, const mamba_orders *orders,
                                          const ssm_packing *pk, ssm_error *err);
