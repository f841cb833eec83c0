// defines: pool_tokens_forward, pool_tokens_backward, class_head, class_head_declare,
//          class_head_init_params, class_head_plan, class_head_forward, class_head_backward
// The classification head (Vim's): pool the backbone's output tokens [B, L, D]
// (already final-normed by the backbone) to one vector per sample — the class
// token's position when the adapter has one, else the mean over all L tokens —
// then a linear layer head.weight [num_classes, D], head.bias [num_classes]
// to logits [B, num_classes].
#pragma once
#include <stdint.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/params.h"
#include "core/real.h"
#include "core/rng.h"

// out[b, :] = cls_index >= 0 ? inp[b, cls_index, :] : mean_l inp[b, l, :]
// out [B, D], inp [B, L, D]
void pool_tokens_forward(real *out, const real *inp, int64_t cls_index, int64_t B, int64_t L,
                         int64_t D);
// dinp += the pooling's transpose applied to dout [B, D]; dinp [B, L, D]
void pool_tokens_backward(real *dinp, const real *dout, int64_t cls_index, int64_t B, int64_t L,
                          int64_t D);

typedef struct {
    int64_t d_model;     // D
    int64_t num_classes; // V
    int64_t cls_index;   // pooled position, -1 = mean pooling (adapter's cls_index)
    size_t w_idx, b_idx; // head.weight [V, D], head.bias [V]
    int64_t B_max;
    real *pooled;  // [B_max, D] (arena): recomputed in backward
    real *dpooled; // [B_max, D] (arena)
    // mixed precision on a GPU (run.precision: bf16; set before the plan): the linear layer
    // in bf16 from p->data_bf16, fp32 logits (tasks/cuda/head_cuda.c)
    int bf16;
    void *pooled_h;  // [B_max, D] bf16 (arena, bf16 only)
    void *dlogits_h; // [B_max, V] bf16 (arena, bf16 only)
} class_head;

// Declares <prefix>head.weight and <prefix>head.bias ("" prefix: Vim's names).
ssm_code class_head_declare(class_head *h, ssm_params *p, const char *prefix, int64_t d_model,
                            int64_t num_classes, int64_t cls_index, ssm_error *err);
// Vim's init: weight trunc_normal(std=.02), bias 0.
void class_head_init_params(class_head *h, ssm_params *p, ssm_rng *rng);
// Call in measure mode and again after ssm_arena_commit.
ssm_code class_head_plan(class_head *h, ssm_arena *a, int64_t B_max, ssm_error *err);

// logits [B, V], tokens [B, L, D]; B <= B_max (checked by the caller's plan).
void class_head_forward(class_head *h, const ssm_params *p, real *logits, const real *tokens,
                        int64_t B, int64_t L);
// dtokens [B, L, D] += gradient from dlogits [B, V]; head gradients += into p->grad.
// Recomputes the pooling from tokens (no state from the forward).
void class_head_backward(class_head *h, ssm_params *p, real *dtokens, const real *dlogits,
                         const real *tokens, int64_t B, int64_t L);
