// defines: model_setup_cuda, model_forward_cuda, model_loss_and_grad_cuda,
//          model_loss_and_grad_queue_cuda, model_loss_from_sum, model_upload_cuda,
//          model_out_to_host_cuda, model_free_cuda, loss_forward_cuda, loss_backward_cuda
// The device half of the one model (tasks/model.h, its struct in tasks/model_arrays.h),
// built with CUDA=1; tasks/model.c
// dispatches here when the model's device is CUDA. Written once for every head and
// adapter: their CUDA twins run here, and one without twins is refused by name.
#pragma once
#include "tasks/model_arrays.h"

// After the host table is initialised: mirror it to the current device, plan the trunk,
// the head and the model's arrays in a device arena, allocate the host view of out.
ssm_code model_setup_cuda(ssm_model *m, ssm_error *err);
ssm_code model_forward_cuda(ssm_model *m, const real *x, int64_t B, ssm_error *err);
ssm_code model_loss_and_grad_cuda(ssm_model *m, const real *x, const ssm_targets *t, int64_t B,
                                  double *loss, ssm_error *err);
// The same, queued on the library stream with nothing read back (a captured step's body,
// tasks/cuda/step_graph.c): the summed loss stays in m->loss_sum on the device.
ssm_code model_loss_and_grad_queue_cuda(ssm_model *m, const real *x, const ssm_targets *t,
                                        int64_t B, ssm_error *err);
// *loss = the batch's mean loss from its sum (m->loss_sum read back); SSM_EDATA when it is
// not finite.
ssm_code model_loss_from_sum(const ssm_model *m, double sum, int64_t B, double *loss,
                             ssm_error *err);
// x_host [rows, in_numel] -> m->x_in (rows = B, or the packed rows of a ragged batch, whose
// offsets go up too); the host targets (or NULL) -> m->cls_in / m->val_in.
ssm_code model_upload_cuda(ssm_model *m, const real *x_host, int64_t rows,
                           const ssm_targets *t_host, int64_t B, const real **x, ssm_targets *t,
                           ssm_error *err);
// m->out [B, K] -> m->h_out (synchronizes).
ssm_code model_out_to_host_cuda(ssm_model *m, int64_t B, ssm_error *err);
void model_free_cuda(ssm_model *m);

// The twins of loss_forward / loss_backward (tasks/loss.h) on device arrays; *sum is a
// device double receiving the summed loss (the caller divides, after one download).
ssm_code loss_forward_cuda(const loss_spec *l, double *sum, real *losses, real *probs,
                           const real *out, const ssm_targets *t, int64_t B, int64_t K,
                           ssm_error *err);
ssm_code loss_backward_cuda(const loss_spec *l, real *dout, real *dloss, const real *probs,
                            const real *out, const ssm_targets *t, int64_t B, int64_t K,
                            ssm_error *err);
