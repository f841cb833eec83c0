// defines: classify_model_setup_cuda, classify_model_forward_cuda,
//          classify_model_loss_and_grad_cuda, classify_model_upload_cuda,
//          classify_model_logits_to_host, classify_model_free_cuda
// The device half of classify_model (tasks/classify_model.h), built with CUDA=1;
// classify_model.c dispatches here when the model's device is CUDA.
#pragma once
#include "tasks/classify_model.h"

// After the host table is initialised: mirror it to the current device, plan the
// trunk and head in a device arena, allocate the host views of the logits.
ssm_code classify_model_setup_cuda(classify_model *m, ssm_error *err);
ssm_code classify_model_forward_cuda(classify_model *m, const real *x, int64_t B, ssm_error *err);
ssm_code classify_model_loss_and_grad_cuda(classify_model *m, const real *x, const int32_t *labels,
                                           int64_t B, double *loss, ssm_error *err);
// x_host [B, in_numel] -> m->x_in, y_host [B] (or NULL) -> m->y_in.
ssm_code classify_model_upload_cuda(classify_model *m, const real *x_host, const int32_t *y_host,
                                    int64_t B, const real **x, const int32_t **y, ssm_error *err);
// m->logits [B, V] -> m->h_logits (synchronizes).
ssm_code classify_model_logits_to_host(classify_model *m, int64_t B, ssm_error *err);
void classify_model_free_cuda(classify_model *m);
