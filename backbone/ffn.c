// defines: mamba_ffn_forward, mamba_ffn_backward
// The feed-forward sublayer of an extended block (mamba.h: cfg.ffn_dim = F > 0), per token:
//   a = fc1(in)            [rows, F]   Linear D -> F (S-Mamba's conv1, kernel size 1)
//   g = drop(GELU(a))      [rows, F]   the exact (erf) GELU, PyTorch's F.gelu default
//   out = drop(fc2(g))     [rows, D]   Linear F -> D (conv2)
// drop: cfg.dropout in a training pass (mamba_stack_set_dropout), the identity otherwise;
// S-Mamba's and iTransformer's EncoderLayer: dropout(act(conv1(y))), then dropout(conv2(y)).
// The stack adds the residual and applies the norm (stack.c). a and the dropped g are kept in
// the layer's activations for the backward (fc2's weight gradient reads the g it saw); the
// masks are recomputed there, not stored.
#include <math.h>

#include "backbone/mamba_internal.h"
#include "kernels/dropout.h"
#include "kernels/linear.h"

static inline double gelu(double v) { return 0.5 * v * (1 + erf(v * M_SQRT1_2)); }
// d/dv GELU(v) = Phi(v) + v phi(v)
static inline double gelu_grad(double v) {
    return 0.5 * (1 + erf(v * M_SQRT1_2)) + v * exp(-0.5 * v * v) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
}

void mamba_ffn_forward(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                       const real *in, const mamba_run *r) {
    const mamba_layer_params *lp = &s->lp[layer];
    const mamba_layer_acts *t = &s->acts[layer];
    const int64_t D = s->D, F = s->cfg.ffn_dim, rows = r->B * r->L, n = rows * F;
    const double pd = mamba_drop_p(s, MAMBA_DROP_FFN_HIDDEN);
    const ssm_dropout_rows map = mamba_drop_rows(s, r->L, r->seg_offsets, r->n_segs);
    linear_forward(t->ffn_a, in, ssm_params_data(p, lp->fc1_w), ssm_params_data(p, lp->fc1_b),
                   rows, D, F);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        t->ffn_g[i] = (real)gelu(t->ffn_a[i]);
    if (pd > 0)
        dropout_apply(t->ffn_g, t->ffn_g, 0, rows, F, &map,
                      mamba_drop_site(layer, MAMBA_DROP_FFN_HIDDEN), pd);
    linear_forward(out, t->ffn_g, ssm_params_data(p, lp->fc2_w), ssm_params_data(p, lp->fc2_b),
                   rows, F, D);
    if (pd > 0)
        dropout_apply(out, out, 0, rows, D, &map, mamba_drop_site(layer, MAMBA_DROP_FFN_OUT), pd);
}

void mamba_ffn_backward(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                        const real *dout, const real *in, const mamba_run *r) {
    const mamba_layer_params *lp = &s->lp[layer];
    const mamba_layer_acts *t = &s->acts[layer];
    const int64_t D = s->D, F = s->cfg.ffn_dim, rows = r->B * r->L, n = rows * F;
    const double pd = mamba_drop_p(s, MAMBA_DROP_FFN_HIDDEN);
    const ssm_dropout_rows map = mamba_drop_rows(s, r->L, r->seg_offsets, r->n_segs);
    real *dh = s->sc.dffn; // dg, then da in place
    if (pd > 0) { // the gradient of fc2's output: dout through the output's mask, into dxz
        dropout_apply(s->sc.dxz, dout, 0, rows, D, &map,
                      mamba_drop_site(layer, MAMBA_DROP_FFN_OUT), pd);
        dout = s->sc.dxz;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dh[i] = 0;
    linear_backward(dh, ssm_params_grad(p, lp->fc2_w), ssm_params_grad(p, lp->fc2_b), dout,
                    t->ffn_g, ssm_params_data(p, lp->fc2_w), rows, F, D);
    if (pd > 0)
        dropout_apply(dh, dh, 0, rows, F, &map, mamba_drop_site(layer, MAMBA_DROP_FFN_HIDDEN), pd);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        dh[i] = (real)(dh[i] * gelu_grad(t->ffn_a[i]));
    linear_backward(din, ssm_params_grad(p, lp->fc1_w), ssm_params_grad(p, lp->fc1_b), dh, in,
                    ssm_params_data(p, lp->fc1_w), rows, D, F);
}
