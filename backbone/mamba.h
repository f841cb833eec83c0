// defines: mamba_config, mamba_orders, mamba_stack, mamba_config_defaults,
//          mamba_stack_declare, mamba_stack_init_params, mamba_stack_plan,
//          mamba_stack_forward, mamba_stack_backward, mamba_stack_free,
//          mamba_stack_get_config, mamba_orders_check, mamba_order_identity,
//          mamba_order_reverse, mamba_stack_forward_packed, mamba_stack_backward_packed,
//          mamba_orders_check_packed, mamba_order_identity_packed, mamba_order_reverse_packed,
//          mamba_stack_set_dropout
// The Mamba backbone: n_layers pre-norm residual blocks, each with a Mamba
// mixer that runs K scan orders ("branches", Vim's v2 layout: own conv1d,
// x_proj, dt_proj, A_log, D per branch; shared in_proj and out_proj), merged
// by mean or sum, then a final norm. Knows nothing of modalities: tokens in,
// tokens out. Parameter names follow mamba_ssm / Vim (see docs/backbone.md).
//
// Two block options (both off by default, and then the stack is exactly the one above):
// a feed-forward sublayer after the mixer (ffn_dim > 0: Linear D -> F, exact GELU,
// Linear F -> D, parameters layers.i.ffn.fc1/fc2.{weight,bias}, its own norm layers.i.norm2),
// and where the norms sit (norm_position):
//   pre  (mamba_ssm):  h = x + mixer(norm(x));       x' = h + ffn(norm2(h))
//   post (S-Mamba, iTransformer's EncoderLayer):
//                      h = norm(x + mixer(x));       x' = norm2(h + ffn(h))
// (without the FFN, x' = h). The final norm (final_norm) follows the last block in both.
//
// Dropout (both 0 by default: none anywhere), as iTransformer's and S-Mamba's encoder layers
// place it, in training steps only (mamba_stack_set_dropout; kernels/dropout.h: inverted,
// masks a pure function of the step's key, the site and the element):
//   dropout:       in the FFN, on GELU(fc1(h)) and on fc2's output (S-Mamba, iTransformer)
//   mixer_dropout: on the mixer's output before the residual add, x + drop(mixer(.)), in
//                  every block (iTransformer's x + dropout(attn(x)); S-Mamba has none there)
// Order prompts (Point Cloud Mamba's, order_prompts = P > 0, off by default; backbone/prompts.c):
// every sequence gets P prompt slots before its first token, inside the stack only (the
// caller's in/out stay [B, L, D], its orders [count, B, L]). Before every layer i the slots
// are overwritten with the P learned tokens of the order that layer's branch 0 scans
// (schedule[i * K], or order 0 without a schedule): rows o*P .. o*P+P-1 of
// order_prompt.weight [O * P, D] (PCM's nn.Embedding; no weight decay, as pos_embed and
// cls_token; drawn N(0, 1) after every other backbone tensor). Every branch of the layer
// reads the slots first (in slot order), then the tokens in its own order. What a layer
// writes into the slots is discarded (the next layer overwrites them, and the output drops
// them), so order_prompt's gradient is the sum over the layers that wrote its rows. Dense
// batches only: mamba_orders_check_packed refuses a stack with prompts, and every order
// index used must be < prompt_orders (mamba_orders_check).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/packing.h"
#include "core/params.h"
#include "core/real.h"
#include "core/rng.h"
#include "kernels/dropout.h"

typedef enum { MAMBA_NORM_RMS = 0, MAMBA_NORM_LAYER } mamba_norm_kind;
typedef enum { MAMBA_MERGE_MEAN = 0, MAMBA_MERGE_SUM } mamba_merge_kind;
typedef enum { MAMBA_PRE_NORM = 0, MAMBA_POST_NORM } mamba_norm_position;
// fp32 everywhere, or mixed precision on a GPU (run.precision: bf16): bf16 GEMMs and scan,
// fp32 master weights, norms and residual stream (docs/backbone.md, "bf16 mixed precision").
typedef enum { MAMBA_FP32 = 0, MAMBA_BF16 } mamba_precision;

#define MAMBA_MAX_BRANCHES 8

typedef struct {
    int64_t d_model;    // D
    int64_t n_layers;
    int64_t d_state;    // N, default 16
    int64_t d_conv;     // conv width, default 4
    int64_t expand;     // E = expand * d_model, default 2
    int64_t dt_rank;    // 0 = ceil(d_model / 16)
    double dt_min, dt_max, dt_init_floor; // 1e-3, 1e-1, 1e-4
    mamba_norm_kind norm;                 // RMSNorm by default
    double norm_eps;                      // 1e-5
    int n_branches;                       // K: 1 causal, 2 bidirectional, 4 cross-scan
    mamba_merge_kind merge;               // mean by default
    int64_t scan_chunk;                   // checkpoint interval of the scan backward, default 64
    int final_norm;                       // apply norm_f at the end, default 1
    mamba_precision precision;            // MAMBA_FP32 (default); MAMBA_BF16 needs the GPU plan
                                          // (mamba_stack_plan refuses it) and a bf16 shadow of
                                          // the weights (core/cuda/device.h)
    int64_t ffn_dim;                      // F of the feed-forward sublayer; 0 (default) = none
    mamba_norm_position norm_position;    // MAMBA_PRE_NORM (default) or MAMBA_POST_NORM
    double dropout;                       // the FFN's two sites, in [0, 1); 0 (default) = none
    double mixer_dropout;                 // the mixer output's site, in [0, 1); 0 = none
    int64_t order_prompts;                // P: PCM's order prompt tokens per order; 0 (default)
                                          // = none (see "Order prompts" below)
    int64_t prompt_orders;                // O: orders that have prompts (>= 1 with P > 0)
} mamba_config;

void mamba_config_defaults(mamba_config *c); // fills the mamba_ssm defaults above

// Scan orders are data (DESIGN.md invariant 5). `perm` holds `count`
// per-sample permutations of the L token positions; branch k of layer i scans
// in order perm[schedule[i * K + k]] (or perm[k] when schedule is NULL).
// perm[o][b][l] = the position read at scan step l of sample b. B is the
// batch of the forward/backward call (not B_max). The backward must get the
// same orders as the forward it follows.
typedef struct {
    int64_t count;            // number of distinct orders
    const int32_t *perm;      // [count, B, L]
    const int32_t *schedule;  // [n_layers, K] indices into perm, or NULL
} mamba_orders;

// Per-layer parameter indices and activation pointers live inside; treat as opaque.
typedef struct mamba_stack mamba_stack;

// Declares every parameter in p under `prefix` ("" gives layers.0.mixer...,
// norm_f.weight). Allocates *out.
ssm_code mamba_stack_declare(mamba_stack **out, const mamba_config *cfg, ssm_params *p,
                             const char *prefix, ssm_error *err);

// mamba_ssm's init (after ssm_params_finalize): linear weights uniform
// kaiming, dt_proj weight uniform ±dt_rank^-0.5, dt bias = inverse softplus of
// log-uniform dt in [dt_min, dt_max] floored, A_log = log(1..N), D = 1,
// conv as PyTorch's default, out_proj rescaled by 1/sqrt(n_layers), norms 1.
// Post-norm blocks skip the out_proj rescale (mamba_ssm applies it to pre-norm
// residual branches; S-Mamba's Mamba modules keep nn.Linear's init); the FFN's
// linears get nn.Linear's (weight and bias uniform +-1/sqrt(fan_in)), drawn after
// the layer's mixer, so the draws without an FFN are unchanged.
void mamba_stack_init_params(mamba_stack *s, ssm_params *p, ssm_rng *rng);

// Lays out activations for batches up to B_max of length L in the arena.
// Call once in measure mode and again after ssm_arena_commit. The arena
// regions taken stay owned by the stack (nothing is released), so other
// modules may plan before or after it in the same arena. The scan backward's
// workspace is sized for omp_get_max_threads() at this call; a later backward
// run with more threads caps the scan at that count. With order prompts every
// buffer is laid out for sequences of P + L (the slots and the tokens).
ssm_code mamba_stack_plan(mamba_stack *s, ssm_arena *a, int64_t B_max, int64_t L, ssm_error *err);

// out [B, L, D] (after norm_f), in [B, L, D]; B <= B_max, L as planned.
// Preconditions (checked by mamba_orders_check, not here): valid orders.
// `in` is copied, so it may be overwritten after the call.
void mamba_stack_forward(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                         const mamba_orders *orders, int64_t B);

// din [B, L, D] += gradient w.r.t. in; parameter gradients accumulate into p->grad.
// Uses the activations of the last forward.
void mamba_stack_backward(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                          const mamba_orders *orders, int64_t B);

void mamba_stack_free(mamba_stack *s);

// The dropout of the passes that follow (until the next call): st.train 0 (the default of a
// new stack) turns every site off, for evaluation; else the masks of st.key (the stream of
// the batch's first sample, kernels/dropout.h) with seqs_per_sample consecutive sequences of
// a dense call per sample (the adapter's n_seqs; a packed call's samples are its
// sequences). A backward uses the masks of the forward it follows: leave the setting alone
// between them. Both devices read it.
void mamba_stack_set_dropout(mamba_stack *s, ssm_dropout_step st, int64_t seqs_per_sample);

// The resolved configuration (dt_rank filled in).
const mamba_config *mamba_stack_get_config(const mamba_stack *s);

// Checks that orders fit the stack for a batch of B: B <= B_max, each perm row
// a permutation of 0..L-1, schedule entries in [0, count) (or count >= K
// without a schedule). Names the order, sample and position at fault.
ssm_code mamba_orders_check(const mamba_stack *s, const mamba_orders *o, int64_t B,
                            ssm_error *err);

// ---- packed (ragged) batches: core/packing.h ----------------------------------
// One row of pk->total tokens holding pk->n sequences back to back. The token budget
// rule: a stack planned for (B_max, L) takes a packed row of up to B_max * L tokens (the
// dense batch's token count; the plan lays every buffer out for B_max * L tokens and
// sizes the scan's workspace for one row of that length), so plan with B_max = 1 and
// L = the most tokens a batch may hold (data.max_tokens), or reuse a dense plan of the
// same budget. No sequence length is bounded by L, only the total. in/out/din/dout are
// [total, D]; orders->perm is [count, 1, total] and every perm row maps each sequence
// onto itself. The conv window and the scan state restart at every offset, in every
// branch and order, and no gradient crosses one: the result for a sequence equals the
// result of that sequence run alone (mamba_stack_forward with B = 1, L = its length), to
// float rounding of the projections (tests/test_backbone_packed.c states the bar). Memory
// and time scale with total, not with n * the longest sequence. Preconditions (checked
// by mamba_orders_check_packed, not here): pk valid within the budget, valid orders.
// The backward uses the activations of the last forward, which must be packed with the
// same pk.
void mamba_stack_forward_packed(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                                const mamba_orders *orders, const ssm_packing *pk);
void mamba_stack_backward_packed(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                                 const mamba_orders *orders, const ssm_packing *pk);
// As mamba_orders_check, for a packed row: perm rows of length pk->total, each a
// permutation that keeps every sequence's positions within it (names order, sequence,
// step and the position read at fault), and pk itself valid for the plan
// (ssm_packing_check with max_total = B_max * L).
ssm_code mamba_orders_check_packed(const mamba_stack *s, const mamba_orders *o,
                                   const ssm_packing *pk, ssm_error *err);
// identity / reverse within each sequence of a packed row: perm [pk->total].
void mamba_order_identity_packed(int32_t *perm, const ssm_packing *pk);
void mamba_order_reverse_packed(int32_t *perm, const ssm_packing *pk);

// Helpers for common orders: identity and reverse for every sample.
void mamba_order_identity(int32_t *perm, int64_t B, int64_t L);
void mamba_order_reverse(int32_t *perm, int64_t B, int64_t L);
