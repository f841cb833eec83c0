// defines: mamba_stack (the struct behind the opaque handle), mamba_branch_params,
//          mamba_layer_params, mamba_layer_acts, mamba_scratch, mamba_mixer_forward,
//          mamba_mixer_backward, mamba_order_perm, mamba_run, mamba_run_dense, mamba_run_perm,
//          mamba_mixer_forward_run, mamba_mixer_backward_run, mamba_block_extended,
//          mamba_ffn_forward, mamba_ffn_backward, mamba_drop_site, mamba_drop_p, mamba_drop_rows,
//          mamba_prompt_order, mamba_prompt_extend, mamba_prompt_write, mamba_prompt_backward,
//          mamba_prompt_tokens_in, mamba_prompt_tokens_out
// Private to backbone/: the parameter indices, the activation pointers laid
// out by mamba_stack_plan, and the one-layer mixer that stack.c runs.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "backbone/mamba.h"

// Indices into the ssm_params table for one scan branch.
typedef struct {
    size_t conv_w;  // [E, 1, d_conv]
    size_t conv_b;  // [E]
    size_t xproj_w; // [R + 2N, E]
    size_t dt_w;    // [E, R]
    size_t dt_b;    // [E]
    size_t A_log;   // [E, N]
    size_t D;       // [E]
} mamba_branch_params;

typedef struct {
    size_t norm_w, norm_b; // [D]; norm_b only for LayerNorm (SIZE_MAX otherwise)
    size_t in_w;           // [2E, D]
    size_t out_w;          // [D, E]
    mamba_branch_params br[MAMBA_MAX_BRANCHES];
    // the feed-forward sublayer (cfg.ffn_dim = F > 0; SIZE_MAX otherwise), declared after
    // the norm so that the mixer's gradient span (gspan) is the same as without it
    size_t norm2_w, norm2_b;  // [D] (norm2_b only for LayerNorm)
    size_t fc1_w, fc1_b;      // [F, D], [F]
    size_t fc2_w, fc2_b;      // [D, F], [D]
} mamba_layer_params;

// A block other than the plain pre-norm one (ffn_dim > 0 or post-norm): stack.c and
// stack_cuda.c run it through backbone/block.c's passes (and their CUDA twins).
static inline int mamba_block_extended(const mamba_config *c) {
    return c->ffn_dim > 0 || c->norm_position == MAMBA_POST_NORM;
}

// What layer i keeps from the forward for the backward (sizes for B_max).
typedef struct {
    real *res;                          // [B, L, D] residual stream entering the norm
    real *normed;                       // [B, L, D] norm output = mixer input
    real *mean, *rstd;                  // [B * L] norm statistics (mean only for LayerNorm)
    real *xz;                           // [B, 2E, L] in_proj output, channel-first: x rows then z rows
    real *y;                            // [B, E, L] merged branch outputs at token positions (pre-gate)
    real *xdbl[MAMBA_MAX_BRANCHES];     // [B, R + 2N, L] x_proj output: dt rows, B rows, C rows
    real *cstates[MAMBA_MAX_BRANCHES];  // [B, E, n_chunks, N] scan checkpoints
    // extended blocks only (mamba_block_extended; NULL otherwise), backbone/block.c:
    real *sum1;                         // [B, L, D] x + mixer(.) (post: norm's input; pre: h)
    real *hn;                           // [B, L, D] the FFN's input (post: norm(sum1); pre:
                                        //           norm2(sum1)); ffn_dim > 0 only
    real *sum2;                         // [B, L, D] post + FFN: hn + ffn(hn), norm2's input
    real *mean2, *rstd2;                // [B * L] norm2's statistics (mean2 for LayerNorm)
    real *ffn_a, *ffn_g;                // [B * L, F] fc1's output and its GELU
} mamba_layer_acts;

// Scratch reused by every layer. The forward uses a prefix of it (A, xg, xc,
// delta, ys); the backward recomputes into the same prefix and uses the rest.
// The [B, ...] buffers are used per sample (slice b by the thread that owns b).
typedef struct {
    real *A;                     // [K, E, N] -exp(A_log) of every branch of the current layer
    real *xg, *xc, *delta;       // [B, E, L] gathered x, conv+SiLU out (= scan u), delta
    real *ys;                    // [B, E, L] scan output (forward) / its gradient dys (backward)
    real *dres, *dnormed;        // [B, L, D]
    real *dxz;                   // [B, 2E, L]
    real *dy;                    // [B, E, L] gradient of the merged y
    real *dxc, *ddelta;          // [B, E, L] in scan order
    real *dxdbl;                 // [B, R + 2N, L]
    real *gslots;                // [plan_threads, gslot]: per-thread gradient slots (see mixer.c)
    real *ws;                    // scan workspaces: plan_threads of ws_slot, or one for plan_threads
    real *dffn;                  // [B * L, F] the FFN's hidden gradient (ffn_dim > 0 only)
} mamba_scratch;

// The GPU plan (backbone/cuda/, mamba_stack_plan_cuda): device pointers into a device
// arena, sizes for cu_B_max. Layouts differ from the CPU's where the batched GPU passes want
// it (docs/backbone.md, "The backbone on GPU"): xz and y are token-major, and x_proj's output
// is three contiguous blocks (dt, B, C) so that the scan reads B and C as [B, 1, N, L].
typedef struct {
    real *res, *normed;                // [B, L, D] residual stream entering the norm, norm output
    real *mean, *rstd;                 // [B * L] (mean only for LayerNorm)
    real *xz;                          // [B, L, 2E] in_proj output, token-major: x cols, z cols
    real *y;                           // [B, L, E] merged branch outputs (pre-gate), token-major
    real *xdbl[MAMBA_MAX_BRANCHES];    // dt [B_max, R, L], then Bm [B_max, N, L], Cm [B_max, N, L]
    real *cstates[MAMBA_MAX_BRANCHES]; // [B, E, n_chunks, N] scan checkpoints
    // extended blocks only (backbone/cuda/block_cuda.c; as mamba_layer_acts, fp32 also in
    // the bf16 plan): sum1, hn, sum2 [B, L, D]; mean2, rstd2 [B * L]; ffn_a, ffn_g [B * L, F]
    real *sum1, *hn, *sum2, *mean2, *rstd2, *ffn_a, *ffn_g;
} mamba_cuda_layer_acts;

typedef struct {
    real *A;                    // [K, E, N] -exp(A_log) of the current layer's branches
    real *xg, *xc, *delta, *ys; // [B, E, L] channel-first, scan order (ys: dys, then dxg)
    real *mix;                  // [B, L, D] mixer output (forward) / dnormed (backward)
    real *g;                    // [B, L, E] gate output / dg / dy (backward, in place)
    real *dres;                 // [B, L, D] gradient of the residual stream
    real *dxz;                  // [B, L, 2E]
    real *dxc, *ddelta;         // [B, E, L]
    real *dxdbl;                // the xdbl block layout: ddt, dBm, dCm
    real *dA;                   // [E, N]
    real *wpart;                // [B, P*E + E*R] per-sample x_proj / dt_proj weight gradients
    real *ws;                   // scan backward workspace (ws_floats)
    size_t ws_floats;
    real *dffn;                 // [B * L, F] the FFN's hidden gradient (ffn_dim > 0 only)
} mamba_cuda_scratch;

// The bf16 plan (cfg.precision MAMBA_BF16; the table in docs/backbone.md, "bf16 mixed
// precision"). uint16_t is the storage of ssm_bf16 (kernels/cuda/common.h). Of the fp32 plan
// above only these stay: res, mean, rstd, cstates per layer (normed points at the shared
// normed32 for every layer); A, xg, xc, mix, dres, dxc, dA, wpart, ws of the scratch.
typedef struct {
    uint16_t *normed;                  // [B, L, D] bf16 norm output: in_proj's input (and dW_in's)
    uint16_t *xz;                      // [B, L, 2E]
    uint16_t *y;                       // [B, L, E]
    uint16_t *xdbl[MAMBA_MAX_BRANCHES]; // dt, Bm, Cm blocks, as in the fp32 plan
} mamba_bf16_layer_acts;

typedef struct {
    real *normed32;             // [B, L, D] a norm's fp32 output before its cast (any layer)
    real *dBC;                  // [2, B_max, N, L] fp32 dBm, dCm from the scan backward
    uint16_t *xc, *delta, *ys;  // [B, E, L] scan u (= SiLU(conv)), delta, scan out / dys
    uint16_t *g;                // [B, L, E] gate output / dg / dy
    uint16_t *dxz;              // [B, L, 2E]
    uint16_t *dxc, *ddelta;     // [B, E, L] the scan's du, ddelta
    uint16_t *dxdbl;            // the xdbl block layout: ddt, dBm, dCm
    uint16_t *dout;             // [B, L, D] the mixer's output gradient
} mamba_bf16_scratch;

struct mamba_stack {
    mamba_config cfg;            // resolved (dt_rank filled in)
    int64_t D, E, N, R, P, dc, K, n_layers; // P = R + 2N
    size_t gspan;                // elements from a layer's in_proj.weight to the end of its
                                 // out_proj.weight in the flat table (its mixer parameters)
    size_t gslot;                // gspan rounded up, then the private dA [K, E, N]
    size_t ws_slot;              // scan backward workspace of one sample on one thread
    size_t ws_elems;             // sc.ws in reals (what a packed row's scan backward may use)
    char prefix[64];
    mamba_layer_params *lp;      // [n_layers]
    size_t normf_w, normf_b;     // norm_f (normf_b SIZE_MAX unless LayerNorm)
    // plan
    int64_t B_max, L, n_chunks;
    int plan_threads;            // omp_get_max_threads() when planned (sizes the scan workspace)
    int planned;                 // a real (non-measuring) plan pass completed
    mamba_layer_acts *acts;      // [n_layers]
    real *res_out;               // [B, L, D] residual after the last layer (input of norm_f)
    real *mean_f, *rstd_f;       // [B * L]
    mamba_scratch sc;
    // GPU plan (zeroed until mamba_stack_plan_cuda; the CPU plan does not touch it)
    int64_t cu_B_max, cu_L;
    int cu_planned;                   // a real (non-measuring) CUDA plan pass completed
    mamba_cuda_layer_acts *cu_acts;   // [n_layers], host array of device pointers (freed by
                                      // mamba_stack_free; the memory is the caller's arena)
    real *cu_res_out, *cu_mean_f, *cu_rstd_f; // [B, L, D], [B * L], [B * L]
    mamba_cuda_scratch cu;
    mamba_bf16_layer_acts *bf_acts; // [n_layers] bf16 plan only (host array, device pointers)
    mamba_bf16_scratch bf;
    // dropout of the passes (mamba_stack_set_dropout; off until set)
    ssm_dropout_step drop;
    int64_t drop_seqs;           // sequences of a dense call per sample (>= 1)
    // order prompts (mamba.h; cfg.order_prompts = n_prompt > 0; zero / SIZE_MAX / NULL without).
    // The plans set L = n_prompt + L_tok: every run inside the stack is over the extended
    // sequences (the slots, then the caller's L_tok tokens); L_tok = L without prompts.
    int64_t n_prompt, L_tok;
    size_t prompt_w;             // order_prompt.weight [prompt_orders * n_prompt, D]
    int32_t *pr_perm;            // [prompt_orders, B_max, L] the caller's orders extended over
                                 // the slots (mamba_prompt_extend; CPU plan, host arena)
    int32_t *cu_pr_perm;         // the same in the CUDA plan's device arena
};

// The order whose prompts layer i's slots hold: the one its branch 0 scans.
static inline int64_t mamba_prompt_order(const mamba_stack *s, const mamba_orders *o,
                                         int64_t layer) {
    return o->schedule ? o->schedule[layer * s->K] : 0;
}

// backbone/prompts.c, the CPU side of the order prompts over a dense batch of B sequences
// (laid out [B, s->L, D] inside the stack, [B, s->L_tok, D] outside):
// ext [count, B, L] = each caller order o [count, B, L_tok] extended: step j < n_prompt reads
// slot j, step n_prompt + l reads n_prompt + o[l].
void mamba_prompt_extend(const mamba_stack *s, int32_t *ext, const mamba_orders *o, int64_t B);
// res's n_prompt slots of every sequence = the prompts of order `order`
void mamba_prompt_write(const mamba_stack *s, const ssm_params *p, real *res, int64_t order,
                        int64_t B);
// order_prompt's gradient rows of `order` += the slots' gradient in dres (summed over the B
// sequences), then those slots of dres = 0 (no gradient reaches what the
// layer before wrote there)
void mamba_prompt_backward(const mamba_stack *s, ssm_params *p, real *dres, int64_t order,
                           int64_t B);
// inner [B, L, D]'s token rows = outer [B, L_tok, D]
void mamba_prompt_tokens_in(const mamba_stack *s, real *inner, const real *outer, int64_t B);
// outer [B, L_tok, D] = inner's token rows (accumulate: +=)
void mamba_prompt_tokens_out(const mamba_stack *s, real *outer, const real *inner, int64_t B,
                             int accumulate);

// perm of branch k of layer i: [B, L]
static inline const int32_t *mamba_order_perm(const mamba_stack *s, const mamba_orders *o,
                                              int64_t layer, int k, int64_t B) {
    int64_t idx = o->schedule ? o->schedule[layer * s->K + k] : k;
    return o->perm + idx * B * s->L;
}

// One CPU pass: B samples of L tokens each. The dense calls run L = s->L (the plan's);
// a packed call runs one row (B = 1) of L = pk->total tokens, n_segs sequences starting
// at seg_offsets (pk->offsets, [n_segs + 1]), which the conv and the scan restart at.
// Every [B_max, .., L]-sized buffer of the plan is used as [B, .., L] with this L, so a
// run fits the plan while B * L <= B_max * s->L (mamba.c sizes the scan's workspace and
// checkpoints for that too).
typedef struct {
    int64_t B, L;
    const int64_t *seg_offsets; // NULL: every sample is one sequence
    int64_t n_segs;
} mamba_run;

static inline mamba_run mamba_run_dense(const mamba_stack *s, int64_t B) {
    return (mamba_run){.B = B, .L = s->L, .seg_offsets = NULL, .n_segs = 0};
}

// perm of branch k of layer i for a run: [B, L] with the run's B and L
static inline const int32_t *mamba_run_perm(const mamba_stack *s, const mamba_orders *o,
                                            int64_t layer, int k, const mamba_run *r) {
    int64_t idx = o->schedule ? o->schedule[layer * s->K + k] : k;
    return o->perm + idx * r->B * r->L;
}

// Dropout sites (mamba.h): the mixer's output, the FFN's hidden values, the FFN's output,
// of every layer; numbered from 1 (0 is the adapter's, kernels/dropout.h).
enum { MAMBA_DROP_MIXER = 0, MAMBA_DROP_FFN_HIDDEN, MAMBA_DROP_FFN_OUT, MAMBA_DROP_KINDS };
static inline uint32_t mamba_drop_site(int64_t layer, int kind) {
    return 1u + (uint32_t)(layer * MAMBA_DROP_KINDS + kind);
}
// The probability of a site in the passes now: 0 unless a training step set it.
static inline double mamba_drop_p(const mamba_stack *s, int kind) {
    if (!s->drop.train)
        return 0;
    return kind == MAMBA_DROP_MIXER ? s->cfg.mixer_dropout : s->cfg.dropout;
}
// The rows of a pass of B sequences of L tokens (dense: seg NULL), or of one packed row
// whose samples start at seg ([n_segs + 1]; host offsets on the CPU, device ones on a GPU).
static inline ssm_dropout_rows mamba_drop_rows(const mamba_stack *s, int64_t L,
                                               const int64_t *seg, int64_t n_segs) {
    if (seg)
        return (ssm_dropout_rows){.key = s->drop.key, .offsets = seg, .n = n_segs};
    return (ssm_dropout_rows){.key = s->drop.key, .rows_per_sample = s->drop_seqs * L};
}

// out [B, L, D] += mixer(in), in [B, L, D]: layer i's mixer (all branches,
// merge, gate, out_proj). Saves xz, xdbl, cstates, y in s->acts[layer].
void mamba_mixer_forward(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                         const real *in, const mamba_orders *o, int64_t B);

// din [B, L, D] += gradient w.r.t. the mixer input; parameter gradients +=.
// dout [B, L, D]; in [B, L, D] is the forward's mixer input.
void mamba_mixer_backward(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                          const real *dout, const real *in, const mamba_orders *o, int64_t B);

// The same for any run ([B, L, D] with the run's B and L); the two above are these
// with mamba_run_dense.
void mamba_mixer_forward_run(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                             const real *in, const mamba_orders *o, const mamba_run *r);
void mamba_mixer_backward_run(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                              const real *dout, const real *in, const mamba_orders *o,
                              const mamba_run *r);

// The feed-forward sublayer of layer i (ffn.c; cfg.ffn_dim > 0) over the run's rows =
// B * L tokens: out [rows, D] = drop(fc2(drop(GELU(fc1(in))))) (WRITTEN; drop: the
// dropout of a training pass, mamba.h), saving fc1's output and its (dropped) GELU in
// s->acts[layer]; the backward adds the input gradient into din [rows, D] (+=) and the
// parameter gradients (+=), dout [rows, D], in the forward's input. The backward uses the
// mixer's scratch sc.dxz (free until the layer's mixer backward runs).
void mamba_ffn_forward(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                       const real *in, const mamba_run *r);
void mamba_ffn_backward(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                        const real *dout, const real *in, const mamba_run *r);
