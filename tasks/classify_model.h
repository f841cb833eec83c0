// defines: classify_model, classify_model_spec, classify_model_build, classify_model_forward,
//          classify_model_loss_and_grad, classify_model_free
// The classification model: adapter -> Mamba backbone (tasks/trunk.h) ->
// class head, with cross-entropy. Owns the flat parameter table and the
// activation arena, both sized once when the model is built (no malloc in a
// step). With an adapter of several sequences per sample (series_patch: one
// per variate) the head mean-pools over all S*L tokens of the sample.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "backbone/mamba.h"
#include "core/arena.h"
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
} classify_model;

// Declares, initialises (seeded) and plans the whole model.
ssm_code classify_model_build(classify_model *m, const classify_model_spec *spec, ssm_error *err);

// logits for x [B, <input>] land in m->logits [B, V].
ssm_code classify_model_forward(classify_model *m, const real *x, int64_t B, ssm_error *err);

// Forward + mean cross-entropy + backward. Zeroes and fills m->params.grad;
// *loss is the batch mean. Labels must lie in [0, V) (checked: SSM_EDATA).
ssm_code classify_model_loss_and_grad(classify_model *m, const real *x, const int32_t *labels,
                                      int64_t B, double *loss, ssm_error *err);

void classify_model_free(classify_model *m);
