// defines: mamba_mixer_forward_bf16, mamba_mixer_backward_bf16
// The mixer of mixer_cuda.c in mixed precision (read its header first: the same layouts and
// the same steps), the way PyTorch autocast + mamba_ssm run it: every GEMM (in_proj, x_proj,
// dt_proj, out_proj) reads bf16 activations and the bf16 shadow of the weights
// (p->data_bf16) and accumulates in fp32; the scan runs in bf16 (u, delta, B, C, out; states,
// A, D, delta_bias fp32); the conv reads and writes bf16 activations (x, its output, dx) with
// fp32 weights and fp32 sums (conv1d_causal_*_bf16); A = -exp(A_log) and every parameter
// gradient stay fp32. Which tensor is stored how, and why: docs/backbone.md, "bf16 mixed
// precision".
//
// Where an fp32 op meets a bf16 one a cast pass sits between them (normed -> bf16 before
// in_proj, the stack's fp32 dout -> bf16, the scan's fp32 dB/dC -> bf16 before the x_proj
// backward, the scan's bf16 du -> fp32, where x_proj's part is added to it in fp32 and the
// conv backward reads it). Outputs that feed fp32 consumers are written in fp32 straight from
// the fp32 accumulator: out_proj's output (the residual stream), the mixer's input gradient,
// and the weight gradients. The conv's bf16 input xg lives in the first half of the fp32
// scratch c->xg (this path keeps no fp32 copy of it). The extent of every step is the call's
// (mamba_cuda_call), packed rows included, as in mixer_cuda.c. The output's dropout
// (mixer_dropout) too: the forward masks the fp32 out, the backward casts dout through the
// mask (staged in the fp32 dxc).
#include "backbone/cuda/mixer_cuda.h"

#include "backbone/cuda/mixer_kernels.h"
#include "backbone/cuda/mixer_kernels_bf16.h"
#include "core/cuda/device.h"
#include "kernels/cuda/cast.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/scan.h"

#define TRY(call)                                                                         \
    do {                                                                                  \
        ssm_code rc_ = (call);                                                            \
        if (rc_ != SSM_OK)                                                                \
            return rc_;                                                                   \
    } while (0)

static ssm_code zero(void *x, size_t bytes) {
    cudaError_t e = cudaMemsetAsync(x, 0, bytes, ssm_cuda_stream());
    return e == cudaSuccess ? SSM_OK : ssm_cuda_fail(__FILE__, __LINE__, "cudaMemsetAsync", e);
}

static float merge_alpha(const mamba_stack *s) {
    return s->cfg.merge == MAMBA_MERGE_MEAN ? 1.f / (float)s->K : 1.f;
}

typedef struct {
    ssm_bf16 *dt, *Bm, *Cm;
} xdbl_h;

// The blocks of a bf16 xdbl (or dxdbl): offsets for B_max, as in the fp32 plan.
static xdbl_h blocks(const mamba_stack *s, uint16_t *base) {
    const int64_t Bx = s->cu_B_max, L = s->cu_L;
    return (xdbl_h){base, base + Bx * s->R * L, base + Bx * (s->R + s->N) * L};
}

static const ssm_bf16 *W(const ssm_params *p, size_t idx) { return ssm_params_data_bf16(p, idx); }

// As branch_inputs of mixer_cuda.c: A_k (fp32), xg (bf16, the conv's input, in c->xg),
// xc = SiLU(conv) in bf16 (the scan's u and x_proj's input), delta (bf16) = W_dt @ dt.
static ssm_code branch_inputs(mamba_stack *s, const ssm_params *p, int64_t layer, int k,
                              const int32_t *perm, const mamba_cuda_call *cl, int store_xdbl) {
    const int64_t E = s->E, B = cl->B, L = cl->L, N = s->N, R = s->R;
    const mamba_branch_params *bp = &s->lp[layer].br[k];
    const mamba_cuda_scratch *c = &s->cu;
    const mamba_bf16_scratch *h = &s->bf;
    xdbl_h xd = blocks(s, s->bf_acts[layer].xdbl[k]);
    TRY(neg_exp_cuda(c->A + k * E * N, ssm_params_data(p, bp->A_log), E * N));
    ssm_bf16 *xg = (ssm_bf16 *)c->xg;
    TRY(tokens_to_channels_bf16_cuda(xg, 0, s->bf_acts[layer].xz, perm, B, E, L, 2 * E, 1.f));
    TRY(conv1d_causal_forward_bf16(h->xc, xg, ssm_params_data(p, bp->conv_w),
                                   ssm_params_data(p, bp->conv_b), B, E, L, s->dc, 1, cl->seg,
                                   cl->n_segs));
    if (store_xdbl) {
        const ssm_bf16 *W_x = W(p, bp->xproj_w);
        TRY(gemm_strided_batched_bf16_cuda(xd.dt, 0, W_x, h->xc, R, L, E, 0, 0, 1.f, 0.f, B, 0,
                                           E * L, R * L));
        TRY(gemm_strided_batched_bf16_cuda(xd.Bm, 0, W_x + R * E, h->xc, N, L, E, 0, 0, 1.f, 0.f,
                                           B, 0, E * L, N * L));
        TRY(gemm_strided_batched_bf16_cuda(xd.Cm, 0, W_x + (R + N) * E, h->xc, N, L, E, 0, 0, 1.f,
                                           0.f, B, 0, E * L, N * L));
    }
    return gemm_strided_batched_bf16_cuda(h->delta, 0, W(p, bp->dt_w), xd.dt, E, L, R, 0, 0, 1.f,
                                          0.f, B, 0, R * L, E * L);
}

static scan_shape shape(const mamba_stack *s, const mamba_cuda_call *cl) {
    return (scan_shape){.B = cl->B, .D = s->E, .L = cl->L, .N = s->N, .G = 1,
                        .chunk = s->cfg.scan_chunk, .delta_softplus = 1,
                        .seg_offsets = cl->seg, .n_segs = cl->n_segs};
}

ssm_code mamba_mixer_forward_bf16(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                                  const real *in, const mamba_orders *o,
                                  const mamba_cuda_call *cl) {
    const int64_t D = s->D, E = s->E, B = cl->B, L = cl->L, N = s->N, rows = B * L;
    const mamba_bf16_layer_acts *th = &s->bf_acts[layer];
    const mamba_cuda_layer_acts *t = &s->cu_acts[layer];
    const mamba_cuda_scratch *c = &s->cu;
    const mamba_bf16_scratch *h = &s->bf;
    const scan_shape ss = shape(s, cl);
    // xz [B*L, 2E] bf16 = bf16(in) [B*L, D] @ W_in^T
    TRY(cast_f32_to_bf16_cuda(th->normed, in, rows * D));
    TRY(linear_forward_bf16(th->xz, th->normed, W(p, s->lp[layer].in_w), NULL, rows, D, 2 * E));
    for (int k = 0; k < s->K; k++) {
        const mamba_branch_params *bp = &s->lp[layer].br[k];
        const int32_t *perm = mamba_cuda_perm(s, o, layer, k, cl);
        TRY(branch_inputs(s, p, layer, k, perm, cl, 1));
        xdbl_h xd = blocks(s, th->xdbl[k]);
        TRY(selective_scan_forward_bf16(h->ys, NULL, t->cstates[k], h->xc, h->delta,
                                        c->A + k * E * N, xd.Bm, xd.Cm, ssm_params_data(p, bp->D),
                                        NULL, ssm_params_data(p, bp->dt_b), &ss));
        TRY(channels_to_tokens_bf16_cuda(th->y, h->ys, 0, perm, B, E, L, E, merge_alpha(s),
                                         k > 0));
    }
    TRY(gate_tokens_forward_bf16_cuda(h->g, th->y, th->xz, rows, E));
    // out [B*L, D] fp32 (the residual stream) = g [B*L, E] @ W_out^T
    TRY(gemm_bf16_cuda(out, 1, h->g, W(p, s->lp[layer].out_w), rows, D, E, 0, 1, 1.f, 0.f));
    return mamba_mixer_dropout_cuda(s, layer, out, out, cl);
}

// As branch_backward of mixer_cuda.c, from dy (bf16, token-major, in h->g).
static ssm_code branch_backward(mamba_stack *s, ssm_params *p, int64_t layer, int k,
                                const int32_t *perm, const mamba_cuda_call *cl) {
    const int64_t E = s->E, B = cl->B, L = cl->L, N = s->N, R = s->R, P = s->P;
    const size_t EL = (size_t)(B * E * L), NL = (size_t)(B * N * L);
    const mamba_branch_params *bp = &s->lp[layer].br[k];
    const mamba_cuda_layer_acts *t = &s->cu_acts[layer];
    const mamba_cuda_scratch *c = &s->cu;
    const mamba_bf16_scratch *h = &s->bf;
    const scan_shape ss = shape(s, cl);
    const xdbl_h xd = blocks(s, s->bf_acts[layer].xdbl[k]), dxd = blocks(s, h->dxdbl);
    const ssm_bf16 *W_x = W(p, bp->xproj_w), *W_dt = W(p, bp->dt_w);
    const real *A = c->A + k * E * N;
    real *dBm = h->dBC, *dCm = h->dBC + NL;
    ssm_bf16 *dys = h->ys;
    TRY(tokens_to_channels_bf16_cuda(dys, 0, h->g, perm, B, E, L, E, merge_alpha(s)));
    TRY(branch_inputs(s, p, layer, k, perm, cl, 0));
    TRY(zero(h->dxc, EL * sizeof(ssm_bf16)));
    TRY(zero(h->ddelta, EL * sizeof(ssm_bf16)));
    TRY(zero(h->dBC, 2 * NL * sizeof(real)));
    TRY(zero(c->dA, (size_t)(E * N) * sizeof(real)));
    TRY(selective_scan_backward_bf16(h->dxc, h->ddelta, c->dA, dBm, dCm,
                                     ssm_params_grad(p, bp->D), NULL, ssm_params_grad(p, bp->dt_b),
                                     dys, t->cstates[k], h->xc, h->delta, A, xd.Bm, xd.Cm,
                                     ssm_params_data(p, bp->D), NULL, ssm_params_data(p, bp->dt_b),
                                     c->ws, &ss));
    TRY(mul_add_cuda(ssm_params_grad(p, bp->A_log), c->dA, A, E * N));
    // dt_proj: per-sample dW_dt [E, R] (fp32) = ddelta [E, L] @ dt^T; ddt [R, L] = W_dt^T ddelta
    real *part_x = c->wpart, *part_dt = c->wpart + B * P * E; // [B, P, E], [B, E, R]
    TRY(gemm_strided_batched_bf16_cuda(part_dt, 1, h->ddelta, xd.dt, E, R, L, 0, 1, 1.f, 0.f, B,
                                       E * L, R * L, E * R));
    TRY(batch_sum_add_cuda(ssm_params_grad(p, bp->dt_w), part_dt, B, E * R));
    TRY(gemm_strided_batched_bf16_cuda(dxd.dt, 0, W_dt, h->ddelta, R, L, E, 1, 0, 1.f, 0.f, B, 0,
                                       E * L, R * L));
    TRY(cast_f32_to_bf16_cuda(dxd.Bm, dBm, (int64_t)NL));
    TRY(cast_f32_to_bf16_cuda(dxd.Cm, dCm, (int64_t)NL));
    // du in fp32 (the conv backward's input): the scan's part, then += W_x^T @ dxdbl
    TRY(cast_bf16_to_f32_cuda(c->dxc, h->dxc, (int64_t)EL));
    const ssm_bf16 *dblk[3] = {dxd.dt, dxd.Bm, dxd.Cm};
    const int64_t row0[3] = {0, R, R + N}, nrow[3] = {R, N, N};
    for (int j = 0; j < 3; j++) {
        TRY(gemm_strided_batched_bf16_cuda(part_x + row0[j] * E, 1, dblk[j], h->xc, nrow[j], E, L,
                                           0, 1, 1.f, 0.f, B, nrow[j] * L, E * L, P * E));
        TRY(gemm_strided_batched_bf16_cuda(c->dxc, 1, W_x + row0[j] * E, dblk[j], E, L, nrow[j],
                                           1, 0, 1.f, 1.f, B, 0, nrow[j] * L, E * L));
    }
    TRY(batch_sum_add_cuda(ssm_params_grad(p, bp->xproj_w), part_x, B, P * E));
    // dxg (bf16) into h->dxc, free since the cast above; du (fp32) and xg (bf16) as read
    TRY(zero(h->dxc, EL * sizeof(ssm_bf16)));
    TRY(conv1d_causal_backward_bf16(h->dxc, ssm_params_grad(p, bp->conv_w),
                                    ssm_params_grad(p, bp->conv_b), c->dxc, 1,
                                    (const ssm_bf16 *)c->xg, ssm_params_data(p, bp->conv_w),
                                    ssm_params_data(p, bp->conv_b), B, E, L, s->dc, 1, cl->seg,
                                    cl->n_segs));
    return channels_to_tokens_bf16_cuda(h->dxz, h->dxc, 0, perm, B, E, L, 2 * E, 1.f, k > 0);
}

ssm_code mamba_mixer_backward_bf16(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                                   const real *dout, const mamba_orders *o,
                                   const mamba_cuda_call *cl) {
    const int64_t D = s->D, E = s->E, rows = cl->B * cl->L;
    const mamba_layer_params *lp = &s->lp[layer];
    const mamba_bf16_layer_acts *th = &s->bf_acts[layer];
    const mamba_bf16_scratch *h = &s->bf;
    const ssm_bf16 *W_out = W(p, lp->out_w), *W_in = W(p, lp->in_w);
    if (mamba_drop_p(s, MAMBA_DROP_MIXER) > 0) { // dxc: fp32, free until the branches' backward
        TRY(mamba_mixer_dropout_cuda(s, layer, s->cu.dxc, dout, cl));
        dout = s->cu.dxc;
    }
    TRY(cast_f32_to_bf16_cuda(h->dout, dout, rows * D));
    TRY(gate_tokens_forward_bf16_cuda(h->g, th->y, th->xz, rows, E));
    // dW_out [D, E] += dout^T @ g (fp32); dg [B*L, E] = dout @ W_out (bf16, into g)
    TRY(gemm_bf16_cuda(ssm_params_grad(p, lp->out_w), 1, h->dout, h->g, D, E, rows, 1, 0, 1.f,
                       1.f));
    TRY(gemm_bf16_cuda(h->g, 0, h->dout, W_out, rows, E, D, 0, 0, 1.f, 0.f));
    TRY(gate_tokens_backward_bf16_cuda(h->g, h->dxz, h->g, th->y, th->xz, rows, E));
    for (int k = 0; k < s->K; k++)
        TRY(branch_backward(s, p, layer, k, mamba_cuda_perm(s, o, layer, k, cl), cl));
    // in_proj: dW_in [2E, D] += dxz^T @ normed (fp32); din [B*L, D] = dxz @ W_in (fp32)
    TRY(gemm_bf16_cuda(ssm_params_grad(p, lp->in_w), 1, h->dxz, th->normed, 2 * E, D, rows, 1, 0,
                       1.f, 1.f));
    return gemm_bf16_cuda(din, 1, h->dxz, W_in, rows, D, 2 * E, 0, 0, 1.f, 0.f);
}
