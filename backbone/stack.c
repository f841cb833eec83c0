// defines: mamba_stack_forward, mamba_stack_backward, mamba_stack_forward_packed,
//          mamba_stack_backward_packed
// The residual stack, with mamba_ssm's Block semantics (fused add + norm,
// pre-norm, residual kept in `real`):
//   res_0 = in
//   layer i: normed_i = norm_i(res_i); res_{i+1} = res_i + mixer_i(normed_i)
//   out = norm_f(res_n)   (or res_n when final_norm is off)
// which is Block's "residual = hidden + residual; hidden = mixer(norm(residual))"
// with the addition written one layer later.
//
// Extended blocks (mamba.h: an FFN, or post-norm) run block_forward / block_backward
// below instead, layer by layer from x_i = res_i to x_{i+1}:
//   pre + FFN:   sum1 = x + mixer(norm(x)); hn = norm2(sum1); x' = sum1 + ffn(hn)
//   post:        sum1 = x + mixer(x);       x' = norm(sum1)
//   post + FFN:  sum1 = x + mixer(x);       hn = norm(sum1); sum2 = hn + ffn(hn);
//                x' = norm2(sum2)
//
// Order prompts (mamba.h; backbone/prompts.c): the runs are over sequences of L = P + L_tok,
// the caller's tokens copied after the P slots; before each layer the slots of its input
// res_i are overwritten with the layer's prompts, and after its backward their gradient goes
// to order_prompt and stops there. norm_f and the output take the token rows only.
#include <string.h>

#include "backbone/mamba_internal.h"
#include "kernels/activation.h"
#include "kernels/norm.h"

static void norm_fwd(const mamba_stack *s, real *out, real *mean, real *rstd, const real *inp,
                     const ssm_params *p, size_t w, size_t bias, int64_t rows) {
    const real eps = (real)s->cfg.norm_eps;
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        layernorm_forward(out, mean, rstd, inp, ssm_params_data(p, w), ssm_params_data(p, bias),
                          rows, s->D, eps);
    else
        rmsnorm_forward(out, rstd, inp, ssm_params_data(p, w), rows, s->D, eps);
}

static void norm_bwd(const mamba_stack *s, real *dinp, const real *dout, const real *inp,
                     const real *mean, const real *rstd, ssm_params *p, size_t w, size_t bias,
                     int64_t rows) {
    if (s->cfg.norm == MAMBA_NORM_LAYER)
        layernorm_backward(dinp, ssm_params_grad(p, w), ssm_params_grad(p, bias), dout, inp,
                           ssm_params_data(p, w), mean, rstd, rows, s->D);
    else
        rmsnorm_backward(dinp, ssm_params_grad(p, w), dout, inp, ssm_params_data(p, w), rstd, rows,
                         s->D);
}

// One extended block, x = s->acts[i].res -> next (mamba_block_extended).
static void block_forward(mamba_stack *s, const ssm_params *p, int64_t i, real *next,
                          const mamba_orders *orders, const mamba_run *r) {
    const int64_t rows = r->B * r->L, F = s->cfg.ffn_dim, n = rows * s->D;
    const size_t bld = (size_t)n * sizeof(real);
    mamba_layer_acts *t = &s->acts[i];
    const mamba_layer_params *lp = &s->lp[i];
    if (s->cfg.norm_position == MAMBA_POST_NORM) {
        memcpy(t->sum1, t->res, bld); // the mixer adds onto its own input
        mamba_mixer_forward_run(s, p, i, t->sum1, t->res, orders, r);
        real *h = F > 0 ? t->hn : next;
        norm_fwd(s, h, t->mean, t->rstd, t->sum1, p, lp->norm_w, lp->norm_b, rows);
        if (F > 0) {
            mamba_ffn_forward(s, p, i, t->sum2, t->hn, r);
            add_forward(t->sum2, t->sum2, t->hn, n);
            norm_fwd(s, next, t->mean2, t->rstd2, t->sum2, p, lp->norm2_w, lp->norm2_b, rows);
        }
        return;
    }
    norm_fwd(s, t->normed, t->mean, t->rstd, t->res, p, lp->norm_w, lp->norm_b, rows);
    memcpy(t->sum1, t->res, bld);
    mamba_mixer_forward_run(s, p, i, t->sum1, t->normed, orders, r);
    norm_fwd(s, t->hn, t->mean2, t->rstd2, t->sum1, p, lp->norm2_w, lp->norm2_b, rows);
    mamba_ffn_forward(s, p, i, next, t->hn, r);
    add_forward(next, next, t->sum1, n);
}

// dres: in, the gradient w.r.t. the block's output; out, w.r.t. its input x. The stack's
// dnormed scratch holds the intermediate gradients (the mixer does not use it).
static void block_backward(mamba_stack *s, ssm_params *p, int64_t i, real *dres,
                           const mamba_orders *orders, const mamba_run *r) {
    const int64_t rows = r->B * r->L, F = s->cfg.ffn_dim;
    const size_t bld = (size_t)(rows * s->D) * sizeof(real);
    const mamba_layer_acts *t = &s->acts[i];
    const mamba_layer_params *lp = &s->lp[i];
    real *dtmp = s->sc.dnormed;
    if (s->cfg.norm_position == MAMBA_POST_NORM) {
        if (F > 0) { // dres: d x' -> d hn = dsum2 + ffn'(dsum2)
            memset(dtmp, 0, bld);
            norm_bwd(s, dtmp, dres, t->sum2, t->mean2, t->rstd2, p, lp->norm2_w, lp->norm2_b,
                     rows);
            memcpy(dres, dtmp, bld);
            mamba_ffn_backward(s, p, i, dres, dtmp, t->hn, r);
        }
        memset(dtmp, 0, bld); // dsum1
        norm_bwd(s, dtmp, dres, t->sum1, t->mean, t->rstd, p, lp->norm_w, lp->norm_b, rows);
        memcpy(dres, dtmp, bld); // d x = dsum1 + mixer'(dsum1)
        mamba_mixer_backward_run(s, p, i, dres, dtmp, t->res, orders, r);
        return;
    }
    memset(dtmp, 0, bld); // d hn
    mamba_ffn_backward(s, p, i, dtmp, dres, t->hn, r);
    // dsum1 = d x' + norm2'(d hn)
    norm_bwd(s, dres, dtmp, t->sum1, t->mean2, t->rstd2, p, lp->norm2_w, lp->norm2_b, rows);
    memset(dtmp, 0, bld); // d normed
    mamba_mixer_backward_run(s, p, i, dtmp, dres, t->normed, orders, r);
    norm_bwd(s, dres, dtmp, t->res, t->mean, t->rstd, p, lp->norm_w, lp->norm_b, rows);
}

// Order prompts (mamba.h, backbone/prompts.c): the caller's orders extended over the slots.
static const mamba_orders *prompt_orders(mamba_stack *s, const mamba_orders *o, int64_t B,
                                         mamba_orders *ext) {
    mamba_prompt_extend(s, s->pr_perm, o, B);
    *ext = (mamba_orders){.count = o->count, .perm = s->pr_perm, .schedule = o->schedule};
    return ext;
}

// With prompts, norm_f runs over each sequence's token rows only (the slots are dropped).
static void prompt_final_forward(const mamba_stack *s, const ssm_params *p, real *out, int64_t B) {
    const int64_t P = s->n_prompt, L = s->L, Lt = s->L_tok, D = s->D;
    if (!s->cfg.final_norm) {
        mamba_prompt_tokens_out(s, out, s->res_out, B, 0);
        return;
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t row = b * L + P;
        norm_fwd(s, out + b * Lt * D, s->mean_f ? s->mean_f + row : NULL, s->rstd_f + row,
                 s->res_out + row * D, p, s->normf_w, s->normf_b, Lt);
    }
}

// dres [B, L, D] = the gradient w.r.t. res_out: zero in the slots
static void prompt_final_backward(const mamba_stack *s, ssm_params *p, real *dres,
                                  const real *dout, int64_t B) {
    const int64_t P = s->n_prompt, L = s->L, Lt = s->L_tok, D = s->D;
    memset(dres, 0, (size_t)(B * L * D) * sizeof(real));
    if (!s->cfg.final_norm) {
        mamba_prompt_tokens_in(s, dres, dout, B);
        return;
    }
    for (int64_t b = 0; b < B; b++) {
        const int64_t row = b * L + P;
        norm_bwd(s, dres + row * D, dout + b * Lt * D, s->res_out + row * D,
                 s->mean_f ? s->mean_f + row : NULL, s->rstd_f + row, p, s->normf_w, s->normf_b,
                 Lt);
    }
}

// The passes for any run (mamba_internal.h): rows = B * L tokens.
static void stack_forward(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                          const mamba_orders *orders, const mamba_run *r) {
    const int64_t rows = r->B * r->L;
    const size_t bld = (size_t)(rows * s->D) * sizeof(real);
    mamba_orders ext;
    if (s->n_prompt) {
        orders = prompt_orders(s, orders, r->B, &ext);
        mamba_prompt_tokens_in(s, s->acts[0].res, in, r->B);
    } else {
        memcpy(s->acts[0].res, in, bld);
    }
    for (int64_t i = 0; i < s->n_layers; i++) {
        mamba_layer_acts *t = &s->acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        real *next = i + 1 < s->n_layers ? s->acts[i + 1].res : s->res_out;
        if (s->n_prompt) // overwrites what the layer before left in the slots
            mamba_prompt_write(s, p, t->res, mamba_prompt_order(s, orders, i), r->B);
        if (mamba_block_extended(&s->cfg)) {
            block_forward(s, p, i, next, orders, r);
            continue;
        }
        norm_fwd(s, t->normed, t->mean, t->rstd, t->res, p, lp->norm_w, lp->norm_b, rows);
        memcpy(next, t->res, bld); // the mixer adds onto the residual
        mamba_mixer_forward_run(s, p, i, next, t->normed, orders, r);
    }
    if (s->n_prompt)
        prompt_final_forward(s, p, out, r->B);
    else if (s->cfg.final_norm)
        norm_fwd(s, out, s->mean_f, s->rstd_f, s->res_out, p, s->normf_w, s->normf_b, rows);
    else
        memcpy(out, s->res_out, bld);
}

static void stack_backward(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                           const mamba_orders *orders, const mamba_run *r) {
    const int64_t rows = r->B * r->L;
    const size_t n = (size_t)(rows * s->D);
    real *dres = s->sc.dres, *dnormed = s->sc.dnormed; // [B, L, D]
    mamba_orders ext;
    if (s->n_prompt) {
        orders = prompt_orders(s, orders, r->B, &ext);
        prompt_final_backward(s, p, dres, dout, r->B);
    } else if (s->cfg.final_norm) {
        memset(dres, 0, n * sizeof(real));
        norm_bwd(s, dres, dout, s->res_out, s->mean_f, s->rstd_f, p, s->normf_w, s->normf_b, rows);
    } else {
        memcpy(dres, dout, n * sizeof(real));
    }
    for (int64_t i = s->n_layers - 1; i >= 0; i--) {
        const mamba_layer_acts *t = &s->acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        if (mamba_block_extended(&s->cfg)) {
            block_backward(s, p, i, dres, orders, r);
        } else {
            // res_{i+1} = res_i + mixer(norm(res_i)): the gradient reaches res_i
            // directly (dres unchanged) and through the mixer and the norm.
            memset(dnormed, 0, n * sizeof(real));
            mamba_mixer_backward_run(s, p, i, dnormed, dres, t->normed, orders, r);
            norm_bwd(s, dres, dnormed, t->res, t->mean, t->rstd, p, lp->norm_w, lp->norm_b,
                     rows);
        }
        if (s->n_prompt) // the slots of res_i held layer i's prompts
            mamba_prompt_backward(s, p, dres, mamba_prompt_order(s, orders, i), r->B);
    }
    if (s->n_prompt)
        mamba_prompt_tokens_out(s, din, dres, r->B, 1);
    else
        add_forward(din, din, dres, (int64_t)n);
}

void mamba_stack_forward(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                         const mamba_orders *orders, int64_t B) {
    const mamba_run r = mamba_run_dense(s, B);
    stack_forward(s, p, out, in, orders, &r);
}

void mamba_stack_backward(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                          const mamba_orders *orders, int64_t B) {
    const mamba_run r = mamba_run_dense(s, B);
    stack_backward(s, p, din, dout, orders, &r);
}

// A packed row is one sample of pk->total tokens whose sequences the conv and the
// scan restart at; the norms, projections and gate are per token already.
static mamba_run packed_run(const ssm_packing *pk) {
    return (mamba_run){.B = 1, .L = pk->total, .seg_offsets = pk->offsets, .n_segs = pk->n};
}

void mamba_stack_forward_packed(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                                const mamba_orders *orders, const ssm_packing *pk) {
    const mamba_run r = packed_run(pk);
    stack_forward(s, p, out, in, orders, &r);
}

void mamba_stack_backward_packed(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                                 const mamba_orders *orders, const ssm_packing *pk) {
    const mamba_run r = packed_run(pk);
    stack_backward(s, p, din, dout, orders, &r);
}
