// defines: ssm_head, ssm_head_vtable, ssm_head_options, ssm_head_input, ssm_head_pool,
//          ssm_head_context
// Heads (pluggable, like adapters: adapters/adapter.h): a head turns the backbone's
// output features into the model's outputs, one block of `out_numel` values per
// sample, laid out as the task's targets are (logits [V], a forecast [H, Vout], a
// value [K]). It owns parameters in the flat table and knows nothing of losses or
// metrics (the task picks the loss; tasks/loss.h).
//
//   feats [B*S, L, D] (sample b's S*L tokens contiguous)  --head-->  out [B, out_numel]
//
// A head whose outputs are one row per position (segment: part logits for every point,
// out [B, N, P]) sets out_rows = N: the loss then sees B * N rows of out_numel / N values
// (a class per point), and the targets are [B, N]. A head that maps tokens back onto the
// input (segment) also reads the batch's input x and the adapter's token positions from
// `ctx`, which the model sets before every forward (the smallest contract that lets such
// a head see the geometry: data in, gradients only through feats and its own parameters).
//
// Adding a head = one .c file that defines `const ssm_head_vtable ssm_head_<name>`
// + one line in tasks/head_registry.c. docs/adding-a-task.md walks through one.
// This header is what a head implements; the registry and the calls on a head (with
// the device checks) are tasks/head_registry.h, the layer above the heads.
//
// Lifecycle (mirrors the adapter's): create (declare parameters, before
// ssm_params_finalize), init_params, plan (twice: measure, then after commit),
// forward / backward per step, free. On one GPU plan/forward/backward are
// replaced by the optional CUDA twins; a head without them is refused by name.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/packing.h"
#include "core/params.h"
#include "core/real.h"
#include "core/rng.h"

struct ssm_revin; // adapters/revin.h

// How a per-sample head reduces a sample's tokens to one vector.
typedef enum { SSM_HEAD_POOL_MEAN = 0, SSM_HEAD_POOL_CLS, SSM_HEAD_POOL_LAST } ssm_head_pool;

// How the bag head (tasks/head_bag.h) reduces a bag's tokens to one vector: ABMIL's
// attention and gated attention (Ilse et al. 2018), the mean, the maximum per feature, or
// the class token (the first token of every sequence; the adapter's ragged_extra = 1).
typedef enum {
    SSM_BAG_POOL_ATTENTION = 0,
    SSM_BAG_POOL_GATED,
    SSM_BAG_POOL_MEAN,
    SSM_BAG_POOL_MAX,
    SSM_BAG_POOL_CLS
} ssm_bag_pool;

// What a head may be asked for (the task fills it from the config and the data).
// A field a head does not use is ignored by it; 0 means "not set".
typedef struct {
    int64_t num_classes; // class head: V
    ssm_head_pool pool;  // class / regress head: how to pool a sample's tokens
    int64_t horizon;     // forecast head: H steps
    int64_t out_vars;    // forecast / regress head: target columns (the last of the input's)
    int64_t outputs;     // regress head: values per sample
    ssm_bag_pool bag_pool; // bag head: how to pool a bag (0 = attention)
    int64_t attn_dim;      // bag head: the attention's hidden size (0 = 128)
    int64_t categories;    // segment head: object categories the parts are conditioned on
                           // (ShapeNetPart's 16; 0 or 1 = none)
    int64_t seg_dim;       // segment head: per-point MLP width (0 = 256)
} ssm_head_options;

// What the trunk (tasks/trunk.h) hands a head.
typedef struct {
    const char *adapter;           // its name, for messages
    ssm_input_shape input;         // one sample's input shape
    int64_t S, L, D;               // sequences per sample, tokens per sequence, width
                                   // (ragged trunk: S = 1, L = the most tokens a packed
                                   // batch may hold, class tokens included)
    int64_t cls_index;             // the adapter's class token in [0, L), or -1 (ragged
                                   // trunk: 0 when every sequence starts with one)
    int cls_blind;                 // every scan reads the class token first (adapter.h)
    const struct ssm_revin *inorm; // the adapter's instance normalisation, or NULL
    int64_t pos_dims;              // values per token position the adapter gives (3 for point
                                   // groups' centres), 0 = none (adapters/adapter.h)
} ssm_head_input;

// The batch in flight as the trunk saw it, for a head that reads more than the features.
// Set by the model before every forward (the backward follows the forward of the same
// batch); host or device arrays, as the model's device. Data: no gradient flows into them.
typedef struct {
    const real *x;         // the model input [B, <input shape>]
    const real *positions; // the adapter's token positions [B*S, L, pos_dims], or NULL
} ssm_head_context;

typedef struct ssm_head ssm_head;

typedef struct {
    const char *name;    // registry key (a task names its head by it)
    const char *summary; // one line for listings
    // Validates options against the trunk, sets h->out_numel, declares parameters
    // under prefix ("" gives the reference names: head.weight, ...). `h` is zeroed by
    // the caller with h->vt set; state goes in h->impl (freed by free_impl, also when
    // create fails half-way).
    ssm_code (*create)(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                       ssm_params *p, const char *prefix, ssm_error *err);
    void (*init_params)(ssm_head *h, ssm_params *p, ssm_rng *rng); // after finalize; fixed order
    // Scratch for batches up to B_max (called twice, same takes in the same order).
    ssm_code (*plan)(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err);
    // out [B, out_numel] from feats [B*S, L, D].
    ssm_code (*forward)(ssm_head *h, const ssm_params *p, real *out, const real *feats, int64_t B,
                        ssm_error *err);
    // dfeats [B*S, L, D] += d out / d feats applied to dout [B, out_numel]; parameter
    // gradients += into p->grad. Follows the forward of the same batch (as the trunk's
    // backward does): it may read what that forward left in the head's scratch.
    ssm_code (*backward)(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                         const real *feats, int64_t B, ssm_error *err);
    void (*free_impl)(ssm_head *h);
    // ---- optional CUDA path (NULL: none; filled only in a CUDA=1 build) ----
    // The twins of plan / forward / backward over a device arena, the device mirror of
    // the parameter table and device arrays. No host<->device copy inside.
    ssm_code (*plan_cuda)(ssm_head *h, ssm_arena *dev_arena, int64_t B_max, ssm_error *err);
    ssm_code (*forward_cuda)(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                             int64_t B, ssm_error *err);
    ssm_code (*backward_cuda)(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                              const real *feats, int64_t B, ssm_error *err);
    // 1: the head reads packed features (a ragged trunk: feats [pack->total, D], sample b's
    // tokens pack->offsets[b] .. offsets[b+1]); a head without it is refused on a ragged
    // trunk by name.
    int ragged;
} ssm_head_vtable;

struct ssm_head {
    const ssm_head_vtable *vt;
    int64_t out_numel; // outputs per sample (create sets it)
    int64_t out_rows;  // loss rows per sample (create may set it; 0 = 1): out [B, out_rows,
                       // out_numel / out_rows], targets [B, out_rows] (per-point classes)
    int64_t B_max;     // as planned
    int bf16;          // mixed precision on a GPU (set before plan_cuda); a head may ignore it
    ssm_head_input in; // the trunk it sits on
    const ssm_packing *pack; // the packing of the batch in flight (ragged trunks; set by the
                             // model before every forward and backward), else NULL
    ssm_head_context ctx;    // the batch's input and token positions (set by the model)
    void *impl;
};
