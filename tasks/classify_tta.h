// defines: classify_tta, classify_tta_init, classify_tta_free, classify_predict_tta
// Test-time augmentation of the classify evaluation (task.tta): with hflip the
// logits of an image are averaged with the logits of its horizontal mirror, the
// flip the training augmentation used (data.augment.hflip). Evaluation only
// (validation, test, `ssmkit eval`); training and `predict` are unchanged.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "core/error.h"
#include "tasks/model.h"

typedef struct {
    int hflip;          // 0: plain predictions
    int64_t C, H, W;    // one image [C, H, W]
    int64_t B_max, V;
    real *x_flip;       // [B_max, C, H, W] mirrored batch
    real *logits;       // [B_max, V] the averaged logits
} classify_tta;

// hflip needs image inputs (a [C, H, W] sample shape): SSM_ECONFIG otherwise.
ssm_code classify_tta_init(classify_tta *t, int hflip, const ssm_input_shape *in, int64_t B_max,
                           int64_t V, ssm_error *err);
void classify_tta_free(classify_tta *t);

// Host x [B, C, H, W] in, *logits [B, V] out (host): model_predict, and
// with hflip the mean of the logits of x and of x mirrored.
ssm_code classify_predict_tta(ssm_model *m, classify_tta *t, const real *x_host, int64_t B,
                              const real **logits, ssm_error *err);
