// defines: mamba_block_forward_cuda, mamba_block_backward_cuda (see block_cuda.h)
// The steps of stack.c's extended block with device twins, x = s->cu_acts[i].res:
//   post:        mix = mixer(x); sum1 = x + mix, h = norm(sum1)        (one fused pass)
//                with the FFN: a = fc1(h), g = GELU(a), f = fc2(g);
//                              sum2 = h + f, x' = norm2(sum2)          (one fused pass)
//   pre + FFN:   normed = norm(x); mix = mixer(normed);
//                sum1 = x + mix, hn = norm2(sum1)                      (one fused pass)
//                x' = sum1 + fc2(GELU(fc1(hn)))
// The FFN's GEMMs run in fp32 in the bf16 plan too (the mixer runs mixer_bf16.c, which
// takes and gives fp32 and keeps its own bf16 copy of its input). Intermediates live in
// the extended block's buffers (mamba_cuda_layer_acts), s->cu.mix is the mixer's output
// (forward) and a gradient scratch (backward), s->cu.dffn the FFN's hidden gradient.
// The FFN's dropout (cfg.dropout in a training pass; backbone/ffn.c) runs the masks of
// kernels/cuda/dropout.h in place on GELU's output and fc2's; its backward takes dout
// through fc2's mask into s->cu.dxc (the mixer's scratch, free until the layer's mixer
// backward). The mixer's own dropout is inside the mixer (mixer_cuda.c, mixer_bf16.c).
#include "backbone/cuda/block_cuda.h"

#include "backbone/cuda/ffn_kernels.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/norm.h"

#define TRY(call)                                                                         \
    do {                                                                                  \
        ssm_code rc_ = (call);                                                            \
        if (rc_ != SSM_OK)                                                                \
            return rc_;                                                                   \
    } while (0)

static int layer_norm(const mamba_stack *s) { return s->cfg.norm == MAMBA_NORM_LAYER; }

// out = norm(inp) with the weights w (and bias b for LayerNorm)
static ssm_code norm_fwd(const mamba_stack *s, const ssm_params *p, real *out, real *mean,
                         real *rstd, const real *inp, size_t w, size_t b, int64_t rows) {
    const real eps = (real)s->cfg.norm_eps;
    if (layer_norm(s))
        return layernorm_forward_cuda(out, mean, rstd, inp, ssm_params_data(p, w),
                                      ssm_params_data(p, b), rows, s->D, eps);
    return rmsnorm_forward_cuda(out, rstd, inp, ssm_params_data(p, w), rows, s->D, eps);
}

// out = norm(sum), sum = inp + resid written to sum (one pass)
static ssm_code norm_add_fwd(const mamba_stack *s, const ssm_params *p, real *out, real *sum,
                             real *mean, real *rstd, const real *inp, const real *resid,
                             size_t w, size_t b, int64_t rows) {
    const real eps = (real)s->cfg.norm_eps;
    if (layer_norm(s))
        return layernorm_residual_forward_cuda(out, sum, mean, rstd, inp, resid,
                                               ssm_params_data(p, w), ssm_params_data(p, b),
                                               rows, s->D, eps);
    return rmsnorm_residual_forward_cuda(out, sum, rstd, inp, resid, ssm_params_data(p, w), rows,
                                         s->D, eps);
}

// dinp += norm'(dout) at the forward's input inp
static ssm_code norm_bwd(const mamba_stack *s, ssm_params *p, real *dinp, const real *dout,
                         const real *inp, const real *mean, const real *rstd, size_t w, size_t b,
                         int64_t rows) {
    if (layer_norm(s))
        return layernorm_backward_cuda(dinp, ssm_params_grad(p, w), ssm_params_grad(p, b), dout,
                                       inp, ssm_params_data(p, w), mean, rstd, rows, s->D);
    return rmsnorm_backward_cuda(dinp, ssm_params_grad(p, w), dout, inp, ssm_params_data(p, w),
                                 rstd, rows, s->D);
}

static ssm_code mixer_fwd(mamba_stack *s, const ssm_params *p, int64_t i, real *out,
                          const real *in, const mamba_orders *o, const mamba_cuda_call *cl) {
    if (s->cfg.precision == MAMBA_BF16)
        return mamba_mixer_forward_bf16(s, p, i, out, in, o, cl);
    return mamba_mixer_forward_cuda(s, p, i, out, in, o, cl);
}

// din = mixer'(dout) (WRITTEN); in is the forward's mixer input (fp32 path only)
static ssm_code mixer_bwd(mamba_stack *s, ssm_params *p, int64_t i, real *din, const real *dout,
                          const real *in, const mamba_orders *o, const mamba_cuda_call *cl) {
    if (s->cfg.precision == MAMBA_BF16)
        return mamba_mixer_backward_bf16(s, p, i, din, dout, o, cl);
    return mamba_mixer_backward_cuda(s, p, i, din, dout, in, o, cl);
}

// out [rows, D] = drop(fc2(drop(GELU(fc1(in))))) (WRITTEN)
static ssm_code ffn_fwd(mamba_stack *s, const ssm_params *p, int64_t i, real *out,
                        const real *in, const mamba_cuda_call *cl) {
    const mamba_layer_params *lp = &s->lp[i];
    const mamba_cuda_layer_acts *t = &s->cu_acts[i];
    const int64_t D = s->D, F = s->cfg.ffn_dim, rows = cl->B * cl->L;
    const double pd = mamba_drop_p(s, MAMBA_DROP_FFN_HIDDEN);
    const ssm_dropout_rows map = mamba_drop_rows(s, cl->L, cl->seg, cl->n_segs);
    TRY(linear_forward_cuda(t->ffn_a, in, ssm_params_data(p, lp->fc1_w),
                            ssm_params_data(p, lp->fc1_b), rows, D, F));
    TRY(gelu_forward_cuda(t->ffn_g, t->ffn_a, rows * F));
    if (pd > 0)
        TRY(dropout_apply_cuda(t->ffn_g, t->ffn_g, 0, rows, F, &map,
                               mamba_drop_site(i, MAMBA_DROP_FFN_HIDDEN), pd));
    TRY(linear_forward_cuda(out, t->ffn_g, ssm_params_data(p, lp->fc2_w),
                            ssm_params_data(p, lp->fc2_b), rows, F, D));
    if (pd > 0)
        TRY(dropout_apply_cuda(out, out, 0, rows, D, &map, mamba_drop_site(i, MAMBA_DROP_FFN_OUT),
                               pd));
    return SSM_OK;
}

// din += ffn'(dout) at the forward's input in; parameter gradients +=
static ssm_code ffn_bwd(mamba_stack *s, ssm_params *p, int64_t i, real *din, const real *dout,
                        const real *in, const mamba_cuda_call *cl) {
    const mamba_layer_params *lp = &s->lp[i];
    const mamba_cuda_layer_acts *t = &s->cu_acts[i];
    const int64_t D = s->D, F = s->cfg.ffn_dim, rows = cl->B * cl->L;
    const double pd = mamba_drop_p(s, MAMBA_DROP_FFN_HIDDEN);
    const ssm_dropout_rows map = mamba_drop_rows(s, cl->L, cl->seg, cl->n_segs);
    real *dh = s->cu.dffn;
    if (pd > 0) {
        TRY(dropout_apply_cuda(s->cu.dxc, dout, 0, rows, D, &map,
                               mamba_drop_site(i, MAMBA_DROP_FFN_OUT), pd));
        dout = s->cu.dxc;
    }
    CUDA_CHECK(cudaMemsetAsync(dh, 0, (size_t)(rows * F) * sizeof(real), ssm_cuda_stream()));
    TRY(linear_backward_cuda(dh, ssm_params_grad(p, lp->fc2_w), ssm_params_grad(p, lp->fc2_b),
                             dout, t->ffn_g, ssm_params_data(p, lp->fc2_w), rows, F, D));
    if (pd > 0)
        TRY(dropout_apply_cuda(dh, dh, 0, rows, F, &map,
                               mamba_drop_site(i, MAMBA_DROP_FFN_HIDDEN), pd));
    TRY(gelu_backward_cuda(dh, t->ffn_a, rows * F));
    return linear_backward_cuda(din, ssm_params_grad(p, lp->fc1_w), ssm_params_grad(p, lp->fc1_b),
                                dh, in, ssm_params_data(p, lp->fc1_w), rows, D, F);
}

ssm_code mamba_block_forward_cuda(mamba_stack *s, const ssm_params *p, int64_t i, real *next,
                                  const mamba_orders *o, const mamba_cuda_call *cl) {
    const int64_t rows = cl->B * cl->L, F = s->cfg.ffn_dim;
    mamba_cuda_layer_acts *t = &s->cu_acts[i];
    const mamba_layer_params *lp = &s->lp[i];
    real *mix = s->cu.mix;
    if (s->cfg.norm_position == MAMBA_POST_NORM) {
        TRY(mixer_fwd(s, p, i, mix, t->res, o, cl));
        real *h = F > 0 ? t->hn : next;
        TRY(norm_add_fwd(s, p, h, t->sum1, t->mean, t->rstd, mix, t->res, lp->norm_w, lp->norm_b,
                         rows));
        if (F == 0)
            return SSM_OK;
        TRY(ffn_fwd(s, p, i, mix, t->hn, cl));
        return norm_add_fwd(s, p, next, t->sum2, t->mean2, t->rstd2, mix, t->hn, lp->norm2_w,
                            lp->norm2_b, rows);
    }
    TRY(norm_fwd(s, p, t->normed, t->mean, t->rstd, t->res, lp->norm_w, lp->norm_b, rows));
    TRY(mixer_fwd(s, p, i, mix, t->normed, o, cl));
    TRY(norm_add_fwd(s, p, t->hn, t->sum1, t->mean2, t->rstd2, mix, t->res, lp->norm2_w,
                     lp->norm2_b, rows));
    TRY(ffn_fwd(s, p, i, next, t->hn, cl));
    return add_forward_cuda(next, next, t->sum1, rows * s->D);
}

ssm_code mamba_block_backward_cuda(mamba_stack *s, ssm_params *p, int64_t i, real *dres,
                                   const mamba_orders *o, const mamba_cuda_call *cl) {
    const int64_t rows = cl->B * cl->L, F = s->cfg.ffn_dim, n = rows * s->D;
    const size_t bytes = (size_t)n * sizeof(real);
    const mamba_cuda_layer_acts *t = &s->cu_acts[i];
    const mamba_layer_params *lp = &s->lp[i];
    real *dtmp = s->cu.mix;
    if (s->cfg.norm_position == MAMBA_POST_NORM) {
        if (F > 0) { // dres: d x' -> d hn = dsum2 + ffn'(dsum2)
            CUDA_CHECK(cudaMemsetAsync(dtmp, 0, bytes, ssm_cuda_stream()));
            TRY(norm_bwd(s, p, dtmp, dres, t->sum2, t->mean2, t->rstd2, lp->norm2_w, lp->norm2_b,
                         rows));
            CUDA_CHECK(cudaMemcpyAsync(dres, dtmp, bytes, cudaMemcpyDeviceToDevice, ssm_cuda_stream()));
            TRY(ffn_bwd(s, p, i, dres, dtmp, t->hn, cl));
        }
        CUDA_CHECK(cudaMemsetAsync(dtmp, 0, bytes, ssm_cuda_stream())); // dsum1
        TRY(norm_bwd(s, p, dtmp, dres, t->sum1, t->mean, t->rstd, lp->norm_w, lp->norm_b, rows));
        TRY(mixer_bwd(s, p, i, dres, dtmp, t->res, o, cl)); // d x = mixer'(dsum1) + dsum1
        return add_forward_cuda(dres, dres, dtmp, n);
    }
    CUDA_CHECK(cudaMemsetAsync(dtmp, 0, bytes, ssm_cuda_stream())); // d hn
    TRY(ffn_bwd(s, p, i, dtmp, dres, t->hn, cl));
    // dsum1 = d x' + norm2'(d hn)
    TRY(norm_bwd(s, p, dres, dtmp, t->sum1, t->mean2, t->rstd2, lp->norm2_w, lp->norm2_b, rows));
    TRY(mixer_bwd(s, p, i, dtmp, dres, t->normed, o, cl)); // d normed (WRITTEN)
    return norm_bwd(s, p, dres, dtmp, t->res, t->mean, t->rstd, lp->norm_w, lp->norm_b, rows);
}
