// defines: trunk_plan_cuda, trunk_forward_cuda, trunk_backward_cuda, trunk_upload_packing_cuda
// The adapter -> backbone trunk (tasks/trunk.h) on one GPU: the twins of trunk_plan,
// trunk_forward and trunk_backward with a device arena (core/cuda/device.h), p a
// device mirror of the parameter table and device x. The adapter must have a CUDA
// path (ssm_adapter_has_cuda), the backbone is backbone/mamba_cuda.h. A trunk is
// planned for one device only. No host<->device copy inside forward or backward.
#pragma once
#include "tasks/trunk.h"

// Call in measure mode and after ssm_arena_commit_cuda, as trunk_plan.
ssm_code trunk_plan_cuda(ssm_trunk *t, ssm_arena *dev_arena, ssm_error *err);
ssm_code trunk_forward_cuda(ssm_trunk *t, const ssm_params *p, const real *x, int64_t B,
                            ssm_error *err);
// Ragged trunks: copies the offsets trunk_set_packing set to the device (before forward).
ssm_code trunk_upload_packing_cuda(ssm_trunk *t, ssm_error *err);
// Zeroes dtokens itself; parameter gradients accumulate.
ssm_code trunk_backward_cuda(ssm_trunk *t, ssm_params *p, const real *x, int64_t B, ssm_error *err);
