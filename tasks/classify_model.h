// defines: classify_model, classify_model_spec, classify_model_build, classify_model_forward,
//          classify_model_loss_and_grad, classify_model_free, classify_model_params,
//          classify_check_labels, classify_model_batch_in, classify_model_predict,
//          classify_model_plan_head
// The classification model: adapter -> Mamba backbone (tasks/trunk.h) ->
// class head, with cross-entropy. Owns the flat parameter table and the
// activation arena, both sized once when the model is built (no malloc in a
// step). With an adapter of several sequences per sample (series_patch: one
// per variate) the head mean-pools over all S*L tokens of the sample.
//
// On one GPU (spec.device cuda; built with CUDA=1, tasks/cuda/classify_cuda.c):
// the host table `params` is built and initialised exactly as on the CPU (same
// seed, same weights), then mirrored to the device (`dparams`, the parameters a
// step updates); the host table stays the master for checkpoints (download before
// saving, upload after loading: ssm_params_cuda_download / _upload). Activations
// live in a device arena. forward and loss_and_grad then take DEVICE x and labels
// (classify_model_batch_in uploads a host batch into the model's staging buffers),
// and a step copies nothing between host and device but the mean loss (8 bytes).
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "backbone/mamba.h"
#include "core/arena.h"
#include "core/device_select.h"
#include "core/params.h"
#include "tasks/head.h"
#include "tasks/trunk.h"

typedef struct {
    const char *adapter;          // registry name
    ssm_adapter_options adapter_opt;
    ssm_input_shape input;        // one sample's shape, e.g. [C, H, W] or [T, V]
    mamba_config backbone;        // n_branches 0 = one branch per adapter order
    int64_t num_classes;
    int mean_pool;                // 1: head pools the mean of all tokens, 0: the class token
                                  // (mean when the adapter has none)
    int64_t B_max;                // largest batch a step may take
    double label_smoothing;
    uint64_t seed;                // parameter init
    ssm_device device;            // where it computes; zero-initialised = the CPU
} classify_model_spec;

typedef struct {
    ssm_params params;
    ssm_arena arena;
    ssm_trunk trunk;   // adapter -> backbone; the fields below alias its pointers
    ssm_adapter *adapter;
    mamba_stack *stack;
    class_head head;
    int64_t B_max, L, D, V; // L: tokens per sample the head pools (S*L of the trunk)
    int n_branches;
    int64_t n_layers;
    double smoothing;
    int32_t *orders;   // [n_orders, B_max*S, L] filled by the adapter
    int32_t *schedule; // [n_layers, K] order index per branch (arena)
    real *tokens;      // [B_max, L, D] adapter output
    real *feats;       // [B_max, L, D] backbone output
    real *logits;      // [B_max, V]
    real *probs;       // [B_max, V]
    real *losses;      // [B_max]
    real *dloss;       // [B_max]
    real *dlogits;     // [B_max, V]
    real *dfeats;      // [B_max, L, D]
    real *dtokens;     // [B_max, L, D]
    // ---- the device (all pointers above are device memory on CUDA) ----
    ssm_device device;
    ssm_params dparams; // CUDA: device mirror of params (data/grad/m/v on the device)
    ssm_arena darena;   // CUDA: device activations
    int64_t in_numel;   // elements of one input sample
    real *x_in;         // [B_max, in_numel] CUDA: device staging of a batch
    int32_t *y_in;      // [B_max] CUDA: device labels
    double *loss_sum;   // [1] CUDA: the batch's summed loss (device)
    // Host views of the outputs evaluation reads: on the CPU the arrays above, on
    // CUDA host buffers the logits come down into (probs/losses are host scratch).
    real *h_logits;     // [B_max, V]
    real *h_probs;      // [B_max, V]
    real *h_losses;     // [B_max]
} classify_model;

// Declares, initialises (seeded) and plans the whole model, on spec->device
// (CUDA in a CPU-only build, or without a GPU: SSM_EDEVICE with the reason).
ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err);

// The parameters a step reads and updates: &m->params on the CPU, &m->dparams on CUDA.
ssm_params *classify_model_params(classify_model *m);

// logits for x [B, <input>] (on the model's device) land in m->logits [B, V].
ssm_code classify_model_forward(classify_model *m, const real *x, int64_t B, ssm_error *err);

// Forward + mean cross-entropy + backward. Zeroes and fills the gradients of
// classify_model_params(m); *loss is the batch mean. x and labels on the model's
// device. Labels must lie in [0, V): checked on the CPU (SSM_EDATA); on CUDA the
// caller checks them on the host (classify_model_batch_in does), else the loss is NaN.
ssm_code classify_model_loss_and_grad(classify_model *m, const real *x, const int32_t *labels,
                                      int64_t B, double *loss, ssm_error *err);

void classify_model_free(classify_model *m);

// SSM_EDATA naming the first label outside [0, V).
ssm_code classify_check_labels(const int32_t *labels, int64_t B, int64_t V, ssm_error *err);

// A host batch x [B, <input>] (and labels [B], may be NULL) onto the model's device:
// checks the labels, and on CUDA uploads both into x_in / y_in. *x and *y (y may be
// NULL) receive the pointers to hand to forward / loss_and_grad.
ssm_code classify_model_batch_in(classify_model *m, const real *x_host, const int32_t *y_host,
                                 int64_t B, const real **x, const int32_t **y, ssm_error *err);

// Host x in, host logits out: batch_in, forward, and on CUDA the logits come down
// into m->h_logits. *logits = m->h_logits [B, V].
ssm_code classify_model_predict(classify_model *m, const real *x_host, int64_t B,
                                const real **logits, ssm_error *err);

// Shared by the CPU and CUDA plans (after the trunk's plan in arena a): takes the
// head's arrays and aliases the trunk's.
ssm_code classify_model_plan_head(classify_model *m, ssm_arena *a, ssm_error *err);
