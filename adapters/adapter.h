// defines: ssm_adapter, ssm_adapter_vtable, ssm_adapter_options, ssm_input_shape,
//          ssm_cls_position, ssm_adapter_options_defaults, ssm_adapter_option_str,
//          ssm_adapter_option_int, ssm_adapter_option_double, ssm_adapter_check_options,
//          ssm_adapter_find, ssm_adapter_lookup, ssm_adapter_list, ssm_adapter_registry,
//          ssm_adapter_create, ssm_adapter_init_params, ssm_adapter_plan,
//          ssm_adapter_forward, ssm_adapter_backward, ssm_adapter_free,
//          ssm_adapter_broadcast_orders, ssm_init_trunc_normal, ssm_cls_position_name,
//          ssm_adapter_has_cuda, ssm_adapter_plan_cuda, ssm_adapter_forward_cuda,
//          ssm_adapter_backward_cuda
// Adapters (DESIGN.md "Adapters (pluggable)"): an adapter turns one modality's
// raw input x [B, <per-sample shape>] into token sequences for the backbone:
// S = n_seqs sequences of L tokens per sample, tokens [B*S, L, D] (sample b's
// sequences are rows b*S .. b*S+S-1, so one sample's tokens are contiguous
// [S*L, D]); plus the scan orders the backbone may use (perm [n_orders, B*S, L],
// see mamba_orders in backbone/mamba.h). S is 1 for most modalities; PatchTST's
// channel independence makes each variate its own sequence (S = variates).
// It owns parameters in the flat table and knows nothing of losses or heads.
// An adapter that normalises each sample (RevIN) exposes the statistics in
// `inorm` so that a head can map its outputs back (adapters/revin.h).
//
// Adding a modality = one .c file that defines a `const ssm_adapter_vtable`
// + one line in the table of adapters/registry.c. docs/adding-an-adapter.md
// walks through it.
//
// Lifecycle (mirrors mamba_stack):
//   ssm_adapter_create      declare parameters (before ssm_params_finalize)
//   ssm_adapter_init_params after ssm_params_finalize
//   ssm_adapter_plan        twice: arena measuring, then after ssm_arena_commit
//   ssm_adapter_forward / ssm_adapter_backward   per step
//   ssm_adapter_free
// On one GPU (run.device: cuda) plan/forward/backward are replaced by their
// optional CUDA twins (plan_cuda, forward_cuda, backward_cuda); an adapter that
// leaves them NULL runs on the CPU only, and the _cuda calls below refuse it by name.
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

struct ssm_revin; // adapters/revin.h

#define SSM_ADAPTER_MAX_ORDERS 24    // = SSM_CFG_MAX_ORDERS (PCM: 9 orders, 18 with reverses)
#define SSM_ADAPTER_NAME_MAX 32      // order names, option keys
#define SSM_ADAPTER_VALUE_MAX 128    // option values
#define SSM_ADAPTER_MAX_EXTRA 16     // modality-specific options
#define SSM_INPUT_MAX_DIMS 4

// Where the class token sits in the token sequence (Vim: head or middle).
// DEFAULT (0, as every other "unset" option) lets the adapter choose:
// image_patches picks middle (Vim), a modality without class tokens none.
typedef enum { SSM_CLS_DEFAULT = 0, SSM_CLS_HEAD, SSM_CLS_MIDDLE, SSM_CLS_NONE } ssm_cls_position;

const char *ssm_cls_position_name(ssm_cls_position c); // "default", "head", "middle", "none"

// A modality-specific option the generic fields do not cover ("n_mels" = "128").
typedef struct {
    char key[SSM_ADAPTER_NAME_MAX];
    char value[SSM_ADAPTER_VALUE_MAX];
} ssm_adapter_kv;

// The generic options every adapter reads from (the config maps YAML onto it).
// A field an adapter does not use is ignored by it; 0 means "adapter default".
typedef struct {
    int64_t patch_size;          // p: patch side (image), 0 = adapter default
    int64_t stride;              // patch stride, 0 = patch_size (non-overlapping)
    int64_t in_channels;         // 0 = from the input shape; else must equal it
    ssm_cls_position cls_token;  // SSM_CLS_DEFAULT = the adapter's choice
    int n_orders;                // 0 = adapter default orders
    char orders[SSM_ADAPTER_MAX_ORDERS][SSM_ADAPTER_NAME_MAX]; // scan order names
    int n_extra;
    ssm_adapter_kv extra[SSM_ADAPTER_MAX_EXTRA]; // modality options, checked by the adapter
} ssm_adapter_options;

void ssm_adapter_options_defaults(ssm_adapter_options *o);

// Extra (modality) options. Absent key -> the default; a value that does not
// parse -> SSM_ECONFIG naming the adapter, key and value.
const char *ssm_adapter_option_str(const ssm_adapter_options *o, const char *key, const char *def);
ssm_code ssm_adapter_option_int(const ssm_adapter_options *o, const char *adapter, const char *key,
                                int64_t def, int64_t *out, ssm_error *err);
ssm_code ssm_adapter_option_double(const ssm_adapter_options *o, const char *adapter,
                                   const char *key, double def, double *out, ssm_error *err);
// Typo guard: refuses any extra key not in `known` (NULL-terminated, may be
// NULL for "none"), listing the known ones.
ssm_code ssm_adapter_check_options(const ssm_adapter_options *o, const char *adapter,
                                   const char *const *known, ssm_error *err);

// The shape of ONE sample of the adapter's input (the batch dimension is apart).
typedef struct {
    int ndim;
    int64_t dims[SSM_INPUT_MAX_DIMS]; // image: [C, H, W]
} ssm_input_shape;

typedef struct ssm_adapter ssm_adapter;

typedef struct {
    const char *name;    // registry key, the config's `adapter.name`
    const char *summary; // one line for --help
    // Validates the options against the input shape, fills the instance's
    // public fields (seq_len, cls_index, n_orders, order_names) and declares
    // its parameters in p under `prefix` ("" gives Vim names: pos_embed, ...).
    // `a` is zeroed by the caller, with a->vt and a->d_model set; the adapter
    // keeps its own state in a->impl.
    ssm_code (*create)(ssm_adapter *a, const ssm_adapter_options *opt, const ssm_input_shape *in,
                       ssm_params *p, const char *prefix, ssm_error *err);
    // After ssm_params_finalize. Draws from rng in a fixed order.
    void (*init_params)(ssm_adapter *a, ssm_params *p, ssm_rng *rng);
    // Lays out the adapter's scratch for batches up to B_max (see core/arena.h).
    ssm_code (*plan)(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err);
    // tokens [B*S, L, D]; orders [n_orders, B*S, L] (may be NULL: not wanted);
    // x [B, <in shape>]. B <= B_max. Content errors (NaN, ...) are values.
    ssm_code (*forward)(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                        const real *x, int64_t B, ssm_error *err);
    // Accumulates (+=) parameter gradients into p->grad from dtokens [B*S, L, D].
    // Inputs are data: no gradient w.r.t. x. Must not depend on the last
    // forward's scratch (it may recompute from x).
    void (*backward)(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x, int64_t B);
    void (*free_impl)(ssm_adapter *a); // frees a->impl (may be NULL)
    // ---- optional CUDA path (NULL: none; filled only in a CUDA=1 build) ----
    // The twins of plan / forward / backward: a device arena (core/cuda/device.h),
    // p a device mirror of the parameter table, and device arrays tokens, orders,
    // x, dtokens. No host<->device copy inside forward or backward.
    ssm_code (*plan_cuda)(ssm_adapter *a, ssm_arena *dev_arena, int64_t B_max, ssm_error *err);
    ssm_code (*forward_cuda)(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                             const real *x, int64_t B, ssm_error *err);
    ssm_code (*backward_cuda)(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                              int64_t B, ssm_error *err);
} ssm_adapter_vtable;

struct ssm_adapter {
    const ssm_adapter_vtable *vt;
    int64_t d_model;   // D
    int64_t seq_len;   // L, tokens per sequence
    int64_t n_seqs;    // S, sequences per sample (1 unless the adapter splits a sample);
                       //    ssm_adapter_create sets 1 before create
    int64_t cls_index; // position of the class token in [0, L), or -1 when there is none
    // 1 when every order reads the class token at its first step (set by adapters whose
    // orders are fixed): a causal scan then shows it no other token, so its output is the
    // same for every input and a head must not pool it (tasks/pool.c refuses).
    int cls_blind;
    int n_orders;      // scan orders forward fills
    char order_names[SSM_ADAPTER_MAX_ORDERS][SSM_ADAPTER_NAME_MAX];
    int64_t B_max;     // samples, as planned, 0 before plan (the backbone plans B_max * S)
    // The reversible instance normalisation the adapter applied to x, or NULL.
    // Holds the statistics of the last forward and the affine parameters'
    // indices, so that a head can invert the normalisation on its outputs
    // (a forecast head de-normalises its forecast; see adapters/revin.h).
    struct ssm_revin *inorm;
    int bf16;          // mixed precision (run.precision: bf16), set before plan_cuda: the CUDA
                       // path may run its GEMMs in bf16 from p->data_bf16 (core/cuda/device.h)
    // Ragged input (DESIGN.md "Variable length"): create sets ragged = 1 when every sample
    // is a variable number of tokens (a bag of instances, a clip of any length). Then x is
    // packed [pack->total, <token shape>] (the input shape is ONE token's: [F]), tokens are
    // [pack->total, D], orders [n_orders, 1, pack->total] (each maps every sequence onto
    // itself), and seq_len is the most tokens a batch may hold (plan for it); S is 1.
    // The trunk sets `pack` before every forward and backward (NULL for dense adapters).
    int ragged;
    const ssm_packing *pack;
    // Tokens a ragged adapter adds to every sequence: 0, or 1 for a class token placed FIRST
    // in each sequence (then cls_index = 0, the position within every sequence). `pack` is
    // the packing of x's rows (instances); the token row is packed with offsets_tok[b] =
    // offsets[b] + b * ragged_extra (the trunk derives it and hands it to the backbone and
    // the head), so tokens are [pack->total + n * ragged_extra, D] and so are the orders'
    // rows; seq_len counts x's rows, and the trunk plans the token row for seq_len + B_max *
    // ragged_extra tokens (the L it gives the backbone and the head).
    int64_t ragged_extra;
    // Token geometry (heads that map tokens back onto the input, tasks/head_segment.c):
    // an adapter whose tokens sit at places in the input's space sets pos_dims (3 for
    // point_groups: x, y, z) in create and points `positions` at [B*S, L, pos_dims], the
    // places of the last forward's tokens (host or device memory, as its scratch), in
    // forward. 0 / NULL otherwise. Data, like orders: no gradient flows through them.
    int64_t pos_dims;
    const real *positions;
    // The training step's dropout, for an adapter with an option dropout (series_variate,
    // series_patch: on their tokens, the embedding's output as iTransformer / S-Mamba /
    // PatchTST drop it): the trunk sets it before every forward, train 0 (and the zeroed
    // default) at evaluation; the backward uses the forward's masks (kernels/dropout.h).
    ssm_dropout_step drop;
    void *impl;        // the adapter's own state
};

// ---- registry (adapters/registry.c) ----------------------------------------

// The vtable registered under `name`, or NULL.
const ssm_adapter_vtable *ssm_adapter_find(const char *name);
// Same, or SSM_ENOTFOUND with "unknown adapter 'x'; known: image_patches, ...".
ssm_code ssm_adapter_lookup(const char *name, const ssm_adapter_vtable **out, ssm_error *err);
// Writes the registered names, comma-separated, into buf (truncated to n).
void ssm_adapter_list(char *buf, size_t n);
// The registry itself, for --help listings: *count entries.
const ssm_adapter_vtable *const *ssm_adapter_registry(size_t *count);

// ---- calling an adapter ------------------------------------------------------

// Looks `name` up and creates the instance (allocated into *out).
ssm_code ssm_adapter_create(ssm_adapter **out, const char *name, const ssm_adapter_options *opt,
                            const ssm_input_shape *in, int64_t d_model, ssm_params *p,
                            const char *prefix, ssm_error *err);
void ssm_adapter_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng);
ssm_code ssm_adapter_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err);
// Checks 1 <= B <= B_max and that the plan was committed, then dispatches.
ssm_code ssm_adapter_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                             const real *x, int64_t B, ssm_error *err);
void ssm_adapter_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                          int64_t B);
void ssm_adapter_free(ssm_adapter *a);

// ---- the CUDA path (the calls dispatch; the device code is the adapter's) -----
int ssm_adapter_has_cuda(const ssm_adapter *a); // all three CUDA entries present
// SSM_EDEVICE "adapter X has no CUDA path ..." when the adapter has none.
ssm_code ssm_adapter_plan_cuda(ssm_adapter *a, ssm_arena *dev_arena, int64_t B_max, ssm_error *err);
ssm_code ssm_adapter_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens,
                                  int32_t *orders, const real *x, int64_t B, ssm_error *err);
ssm_code ssm_adapter_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens,
                                   const real *x, int64_t B, ssm_error *err);

// ---- helpers for adapter (and head) authors ---------------------------------

// Truncated normal by rejection: N(0, std^2) restricted to [lo, hi]
// (timm's trunc_normal_(std=.02) is lo = -2, hi = 2 in absolute units).
// Needs lo <= 0 <= hi (else, or with std <= 0, fills the point of [lo, hi] nearest 0).
void ssm_init_trunc_normal(real *x, size_t n, ssm_rng *rng, double std, double lo, double hi);

// Fills orders [n_orders, B, L] from per-sample-independent base orders
// base [n_orders, L] (orders that depend only on the shape, not the content).
void ssm_adapter_broadcast_orders(int32_t *orders, const int32_t *base, int n_orders, int64_t B,
                                  int64_t L);
