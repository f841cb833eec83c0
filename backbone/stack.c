// defines: mamba_stack_forward, mamba_stack_backward, mamba_stack_forward_packed,
//          mamba_stack_backward_packed
// The residual stack, with mamba_ssm's Block semantics (fused add + norm,
// pre-norm, residual kept in `real`):
//   res_0 = in
//   layer i: normed_i = norm_i(res_i); res_{i+1} = res_i + mixer_i(normed_i)
//   out = norm_f(res_n)   (or res_n when final_norm is off)
// which is Block's "residual = hidden + residual; hidden = mixer(norm(residual))"
// with the addition written one layer later.
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

// The passes for any run (mamba_internal.h): rows = B * L tokens.
static void stack_forward(mamba_stack *s, const ssm_params *p, real *out, const real *in,
                          const mamba_orders *orders, const mamba_run *r) {
    const int64_t rows = r->B * r->L;
    const size_t bld = (size_t)(rows * s->D) * sizeof(real);
    memcpy(s->acts[0].res, in, bld);
    for (int64_t i = 0; i < s->n_layers; i++) {
        mamba_layer_acts *t = &s->acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        norm_fwd(s, t->normed, t->mean, t->rstd, t->res, p, lp->norm_w, lp->norm_b, rows);
        real *next = i + 1 < s->n_layers ? s->acts[i + 1].res : s->res_out;
        memcpy(next, t->res, bld); // the mixer adds onto the residual
        mamba_mixer_forward_run(s, p, i, next, t->normed, orders, r);
    }
    if (s->cfg.final_norm)
        norm_fwd(s, out, s->mean_f, s->rstd_f, s->res_out, p, s->normf_w, s->normf_b, rows);
    else
        memcpy(out, s->res_out, bld);
}

static void stack_backward(mamba_stack *s, ssm_params *p, real *din, const real *dout,
                           const mamba_orders *orders, const mamba_run *r) {
    const int64_t rows = r->B * r->L;
    const size_t n = (size_t)(rows * s->D);
    real *dres = s->sc.dres, *dnormed = s->sc.dnormed; // [B, L, D]
    if (s->cfg.final_norm) {
        memset(dres, 0, n * sizeof(real));
        norm_bwd(s, dres, dout, s->res_out, s->mean_f, s->rstd_f, p, s->normf_w, s->normf_b, rows);
    } else {
        memcpy(dres, dout, n * sizeof(real));
    }
    for (int64_t i = s->n_layers - 1; i >= 0; i--) {
        const mamba_layer_acts *t = &s->acts[i];
        const mamba_layer_params *lp = &s->lp[i];
        // res_{i+1} = res_i + mixer(norm(res_i)): the gradient reaches res_i
        // directly (dres unchanged) and through the mixer and the norm.
        memset(dnormed, 0, n * sizeof(real));
        mamba_mixer_backward_run(s, p, i, dnormed, dres, t->normed, orders, r);
        norm_bwd(s, dres, dnormed, t->res, t->mean, t->rstd, p, lp->norm_w, lp->norm_b, rows);
    }
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
