// defines: classify_model, classify_model_spec, classify_model_build, classify_model_batch_in,
//          classify_model_loss_and_grad, classify_model_free
// The classification model under its old name: an ssm_model (tasks/model.h) with the
// class head and cross-entropy. Kept only for bench/train.c, which times a GPU step
// through these calls (bench/ is another room's); new code builds an ssm_model. A
// model built here is the one task "classify" builds from the same settings.
#pragma once
#include <stdint.h>

#include "tasks/model.h"

typedef ssm_model classify_model;

typedef struct {
    const char *adapter;          // registry name
    ssm_adapter_options adapter_opt;
    ssm_input_shape input;        // one sample's shape
    mamba_config backbone;        // n_branches 0 = one branch per adapter order
    int64_t num_classes;
    int mean_pool;                // 1: the mean of all tokens, 0: the class token (mean if none)
    int64_t B_max;
    double label_smoothing;
    uint64_t seed;
    ssm_device device;            // zero-initialised = the CPU
} classify_model_spec;

ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err);
// model_batch_in with class labels y_host [B] (may be NULL).
ssm_code classify_model_batch_in(classify_model *m, const real *x_host, const int32_t *y_host,
                                 int64_t B, const real **x, const int32_t **y, ssm_error *err);
// model_loss_and_grad with the labels on the model's device.
ssm_code classify_model_loss_and_grad(classify_model *m, const real *x, const int32_t *labels,
                                      int64_t B, double *loss, ssm_error *err);
void classify_model_free(classify_model *m);
