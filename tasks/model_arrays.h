// defines: ssm_model, ssm_model_spec, model_plan_arrays, model_step_opts, model_graph_stats
// The one model's struct (tasks/model.h has its calls) and the plan of its own arrays,
// shared by the CPU path (tasks/model.c) and the device path (tasks/cuda/model_cuda.c),
// which both build on this file and never on each other's.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "backbone/mamba.h"
#include "core/arena.h"
#include "core/config.h"
#include "core/device_select.h"
#include "core/params.h"
#include "tasks/head_registry.h"
#include "tasks/loss.h"
#include "tasks/trunk.h"

typedef struct {
    ssm_trunk_spec trunk;       // adapter, its options, one sample's input shape, backbone
    const char *head;           // head registry name
    ssm_head_options head_opt;
    loss_spec loss;
    int64_t B_max;              // largest batch a step or an evaluation may take
    uint64_t seed;              // parameter init
    ssm_device device;          // zero-initialised = the CPU
} ssm_model_spec;

typedef struct {
    ssm_params params;  // host table: the checkpoints' master (and the step's on the CPU)
    ssm_arena arena;    // host activations (CPU)
    ssm_trunk trunk;
    ssm_head *head;
    loss_spec loss;
    int64_t B_max, K;   // K: outputs per sample (head->out_numel)
    int64_t rows;       // loss rows per sample (head->out_rows): the loss sees B * rows
                        // samples of K / rows outputs (segment: a class per point)
    int64_t in_numel;   // elements of one input sample (ragged: of one token/instance)
    uint64_t seed;      // the spec's: batch keys of ragged batches derive from it
    uint64_t step_key;  // the dropout masks' key of the next training step (model_set_step_key)
    ssm_device device;
    ssm_params dparams; // CUDA: device mirror of params
    ssm_arena darena;   // CUDA: device activations
    // In the model's arena (device memory on CUDA):
    real *out;          // [B_max, K] head output
    real *dout;         // [B_max, K]
    real *probs;        // [B_max, K] the loss's saved softmax (CE)
    real *losses;       // [B_max * K] per-sample / per-element losses
    real *dloss;        // [B_max]
    real *x_in;         // [B_max, in_numel] CUDA: device staging of a batch
    int32_t *cls_in;    // [B_max * rows] CUDA: class targets
    real *val_in;       // [B_max, K] CUDA: real targets
    double *loss_sum;   // [1] CUDA: the batch's summed loss
    void *step_graphs;  // CUDA: the training step captured per batch shape
                        // (tasks/cuda/step_graph.c; NULL until train.cuda_graph's first step)
    real *h_out;        // [B_max, K] host view of out (= out on the CPU)
    // Aliases of the trunk's, for readers that print the model (bench/train.c).
    ssm_adapter *adapter;
    mamba_stack *stack;
    int n_branches;
} ssm_model;

// One step's optimizer settings for model_train_step_graph (tasks/model.h).
typedef struct {
    const ssm_optim_config *oc; // betas, eps, weight decay
    double max_norm;            // global-norm clipping (optim.grad_clip); <= 0: the norm only
    double lr;                  // this step's rate
    int64_t t;                  // this step's count, 1-based (AdamW's bias correction)
} model_step_opts;

// How model_train_step_graph ran its steps: eagerly (a shape's warm-up, a ragged batch, a
// shape past the cache), captured (the step that captured a shape and ran it), replayed.
typedef struct {
    int64_t eager, captured, replayed;
} model_graph_stats;

// After the trunk's plan in arena a (host or device: the model's device decides): the
// head's scratch and the model's own arrays (out, dout, probs, losses, dloss).
ssm_code model_plan_arrays(ssm_model *m, ssm_arena *a, ssm_error *err);
