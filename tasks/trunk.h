// defines: ssm_trunk, ssm_trunk_spec, trunk_declare, trunk_init_params, trunk_plan,
//          trunk_forward, trunk_backward, trunk_free, trunk_fill_schedule, trunk_set_packing,
//          trunk_tokens, trunk_order_layout, trunk_set_dropout
// The part every model shares: adapter -> Mamba backbone. A model (classify,
// forecast, ...) puts its head on top of `feats`. Handles the adapter's
// sequences per sample (S = n_seqs): the backbone runs on B*S sequences of L
// tokens, and one sample's features are the contiguous block [S*L, D].
//
// A ragged adapter (adapter->ragged: bags, clips of any length) makes a ragged trunk:
// each batch is packed (core/packing.h), set by trunk_set_packing before the forward.
// x is [xpack.total, <token shape>] (instances), tokens and feats are [tpack.total, D]
// where the token packing adds the adapter's ragged_extra tokens (a class token) to each
// sequence; the backbone runs one packed row (mamba_stack_forward_packed), planned for
// T_max = adapter->seq_len + B_max * ragged_extra tokens.
//
// How the adapter's O scan orders reach the backbone (order_layout):
//   branches  one order per backbone branch (Vim's bidirectional layout; with more orders
//             than branches the layers cycle through them, trunk_fill_schedule)
//   concat    PointMamba's layout (tasks/trunk_concat.h): every sequence read in each of
//             its O orders, each copy scaled and shifted by its order's learned indicator
//             (order_scale.gamma, order_scale.beta [O, D]), the O copies laid end to end as
//             one sequence of O*L tokens that the backbone scans forward (1 branch) or both
//             ways (2); each token's O outputs are then averaged back onto it, so feats stay
//             [B*S, L, D] in the adapter's token order (a head, the pooling and the segment
//             head's propagation see the L tokens, not the O*L copies). Dense adapters only.
#pragma once
#include <stdint.h>

#include "adapters/adapter.h"
#include "backbone/mamba.h"
#include "core/arena.h"
#include "core/packing.h"
#include "core/params.h"
#include "core/rng.h"

typedef enum { TRUNK_ORDERS_BRANCHES = 0, TRUNK_ORDERS_CONCAT } trunk_order_layout;

typedef struct {
    const char *adapter;             // registry name
    ssm_adapter_options adapter_opt;
    ssm_input_shape input;           // one sample's shape: [C, H, W] images, [T, V] series
    mamba_config backbone;           // n_branches 0 = one branch per adapter order (at most 8);
                                     // concat: 0 = 1, or 2 (forward and reverse)
    trunk_order_layout order_layout;
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
    // ragged trunks only (ragged = 1; L is then T_max and S is 1)
    int ragged;
    int64_t extra;          // the adapter's tokens added per sequence (ragged_extra)
    int64_t *x_off, *tok_off;       // [B_max + 1] owned host offsets of the batch in flight
    int64_t *d_x_off, *d_tok_off;   // [B_max + 1] their device copies (CUDA plan, arena)
    ssm_packing xpack, tpack;       // instances (the adapter's x) and tokens (backbone, head)
    // concat layout only (concat = 1; n_branches is then 1 or 2)
    int concat;
    int n_cat;              // O: the adapter's orders, laid end to end
    int64_t Lc;             // O * L: the backbone's sequence length
    size_t cat_gamma, cat_beta;     // order_scale.gamma, order_scale.beta [O, D]
    int32_t *cat_inv;       // [O, B_max*S, L] the inverse of each adapter order (arena)
    int32_t *cat_orders;    // [n_branches, B_max*S, Lc] identity, reverse (arena)
    real *cat_in;           // [B_max*S, Lc, D] the backbone's input; its gradient in backward
    real *cat_out;          // [B_max*S, Lc, D] the backbone's output; its gradient in backward
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
// Ragged trunks: the batch in flight has B samples, sample b being instances
// offsets[b] .. offsets[b+1] of x (offsets [B+1], copied); key is its random key
// (orders that shuffle). Checks the plan's budget and names the limit when it is exceeded.
// On a GPU the model uploads x_off / tok_off afterwards (tasks/cuda/trunk.h).
ssm_code trunk_set_packing(ssm_trunk *t, const int64_t *offsets, int64_t B, uint64_t key,
                           ssm_error *err);
// The dropout of the passes that follow, on both devices: the adapter's (ssm_adapter.drop)
// and the backbone's (mamba_stack_set_dropout, S sequences a sample); st.train 0 = none.
void trunk_set_dropout(ssm_trunk *t, ssm_dropout_step st);
// Tokens of a batch of B samples: B*S*L, or tpack.total on a ragged trunk.
int64_t trunk_tokens(const ssm_trunk *t, int64_t B);
// schedule [n_layers, K]: branch k of layer i scans order (i*K + k) mod n_orders.
void trunk_fill_schedule(int32_t *schedule, int64_t n_layers, int K, int n_orders);
