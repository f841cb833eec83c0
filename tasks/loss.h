// defines: loss_kind, loss_spec, ssm_targets, loss_kind_name, loss_check_targets,
//          loss_forward, loss_backward
// The training losses a task may pick for its model (tasks/model.h), over the head's
// outputs out [B, K] and the batch's targets, written once for every head:
//   LOSS_CE   cross-entropy with label smoothing of logits [B, K] against class
//             indices [B] (K = classes), or, when the targets carry no indices, against
//             a distribution per row in values [B, K] (soft labels: mixup)
//   LOSS_MSE  mean squared error of out [B, K] against values [B, K]
//   LOSS_MAE  mean absolute error (subgradient 0 at 0)
//   LOSS_BCE  binary cross-entropy on logits [B, K] against values [B, K] in [0, 1]
//             (multi-hot labels, or two of them mixed by mixup)
// The loss is the mean over the batch (CE) or over every element (MSE, MAE: B*K, the
// mean the forecasting papers take over windows x horizon x variates; BCE: B*K, as
// AST's BCEWithLogitsLoss). Each has a CUDA twin (tasks/cuda/model.h) with the same
// arguments.
#pragma once
#include <stdint.h>

#include "core/error.h"
#include "core/real.h"

typedef enum { LOSS_CE = 0, LOSS_MSE, LOSS_MAE, LOSS_BCE } loss_kind;

typedef struct {
    loss_kind kind;
    double smoothing; // CE only
} loss_spec;

// A batch's targets, as the loss reads them (host or device pointers, by context).
// Soft or multi-hot labels [B, K] go in `values`; per-sample weights are carried but no
// loss reads them yet.
typedef struct {
    const int32_t *cls;  // [B] class indices (LOSS_CE), or NULL
    const real *values;  // [B, K] real targets (MSE, MAE, BCE; CE when cls is NULL), or NULL
    const real *weight;  // [B] sample weights, or NULL (not used by these losses)
} ssm_targets;

const char *loss_kind_name(loss_kind k); // "ce", "mse", "mae", "bce"

// The targets the loss needs are present; class indices in [0, K), soft CE rows
// distributions (entries >= 0 summing to 1 within 1e-3), BCE targets in [0, 1] (host
// arrays): SSM_EDATA naming the first bad sample (and class).
ssm_code loss_check_targets(const loss_spec *l, const ssm_targets *t, int64_t B, int64_t K,
                            ssm_error *err);

// *loss = the batch's loss. losses [B*K] and probs [B*K] are scratch (probs keeps the
// softmax for backward).
void loss_forward(const loss_spec *l, double *loss, real *losses, real *probs, const real *out,
                  const ssm_targets *t, int64_t B, int64_t K);
// dout [B, K] += d loss / d out (after loss_forward on the same out; dloss [B*K] scratch).
void loss_backward(const loss_spec *l, real *dout, real *dloss, const real *probs,
                   const real *out, const ssm_targets *t, int64_t B, int64_t K);
