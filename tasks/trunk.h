// defines: ssm_trunk, ssm_trunk_spec, trunk_declare, trunk_init_params, trunk_plan,
//          trunk_forward, trunk_backward, trunk_free, trunk_fill_schedule
// The part every model shares: adapter -> Mamba backbone. A model (classify,
// forecast, ...) puts its head on top of `feats`. Handles the adapter's
// sequences per sample (S = n_seqs): the backbone runs on B*S sequences of L
// tokens, and one sample's features are the contiguous block [S*L, D].
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "backbone/mamba.h"
#include "core/arena.h"
#include "core/params.h"
#include "core/rng.h"

typedef struct {
    const char *adapter;             // registry name
    ssm_adapter_options adapter_opt;
    ssm_input_shape input;           // one sample's shape: [C, H, W] images, [T, V] series
    mamba_config backbone;           // n_branches 0 = one branch per adapter order (at most 8)
} ssm_trunk_spec;

typedef struct {
    ssm_adapter *adapter;
    mamba_stack *stack;
    int64_t B_max;     // samples a step may take
    int64_t S, L, D;   // sequences per sample, tokens per sequence, width
    int n_branches;
    int64_t n_layers;
    int32_t *orders;   // [n_orders, B_max*S, L] filled by the adapter (arena)
    int32_t *schedule; // [n_layers, K] order index per branch (arena)
    real *tokens;      // [B_max*S, L, D] adapter output
    real *feats;       // [B_max*S, L, D] backbone output
    real *dfeats;      // [B_max*S, L, D] the head accumulates the gradient here (caller zeroes)
    real *dtokens;     // [B_max*S, L, D]
    int32_t *host_schedule; // [n_layers, K] owned: the schedule of a trunk planned on a GPU
                            // (the backbone reads it on the host; tasks/cuda/trunk.h)
} ssm_trunk;

// Creates the adapter and declares the backbone in p (before ssm_params_finalize).
ssm_code trunk_declare(ssm_trunk *t, const ssm_trunk_spec *spec, int64_t B_max, ssm_params *p,
                       ssm_error *err);
// After ssm_params_finalize: adapter, then backbone, drawing from rng in that order.
void trunk_init_params(ssm_trunk *t, ssm_params *p, ssm_rng *rng);
// Call in measure mode and after ssm_arena_commit (then it also fills the schedule).
ssm_code trunk_plan(ssm_trunk *t, ssm_arena *a, ssm_error *err);
// feats for x [B, <input>], B <= B_max.
ssm_code trunk_forward(ssm_trunk *t, const ssm_params *p, const real *x, int64_t B, ssm_error *err);
// From dfeats [B*S, L, D] (filled by the head; this call zeroes dtokens itself)
// through the backbone and the adapter; parameter gradients accumulate.
// Uses the activations of the last trunk_forward (on the same x).
void trunk_backward(ssm_trunk *t, ssm_params *p, const real *x, int64_t B);
void trunk_free(ssm_trunk *t);
// schedule [n_layers, K]: branch k of layer i scans order (i*K + k) mod n_orders.
void trunk_fill_schedule(int32_t *schedule, int64_t n_layers, int K, int n_orders);
