// defines: mamba_mixer_forward_cuda, mamba_mixer_backward_cuda
// The mixer of backbone/mixer.c (same math; read its header comment first) on one GPU, each
// step one kernel or one GEMM over the whole batch (the CPU runs one sample per thread for
// its caches; a GPU wants every launch to cover the batch). Layouts:
//   token-major [B, L, .]: in, xz (x cols then z cols), y, the gate output g, out. in_proj
//     and out_proj are then one GEMM over B*L rows each, forward and backward, and their
//     weight gradients one GEMM with K = B*L (a fixed cuBLAS reduction, no atomics).
//   channel-first [B, E, L] in scan order: xg, xc (= u), delta, ys, as the conv and the scan
//     want them. tokens_to_channels / channels_to_tokens (mixer_kernels.cu) change layout
//     and apply the scan order in the same pass, so there is no separate gather or scatter,
//     and no need to detect identity orders (the transpose is needed anyway).
//   x_proj's output as three contiguous blocks dt [B, R, L], Bm [B, N, L], Cm [B, N, L]
//     (block offsets for B_max, so they do not move with B): the scan reads B and C as
//     [B, 1, N, L]. The rows of W_x are contiguous sub-matrices, so each block is one
//     strided-batched GEMM with the weight shared (stride 0).
// The per-branch projections contract over L inside each sample, so their weight gradients
// are per-sample products ([B, P, E] and [B, E, R], one strided-batched GEMM each) summed over
// the batch in ascending order (batch_sum_add_cuda): deterministic, no atomics.
//
// Everything runs on the library stream in order; nothing synchronizes or copies to the host.
//
// Dropout on the output (cfg.mixer_dropout in a training pass, mixer.c): the forward masks
// out in place after out_proj (the stack then adds the residual); the backward takes dout
// through the same mask into dxc (free until the branches' backward zeroes it) and runs
// out_proj's backward from there.
//
// Every step reads its extent from the call (mamba_cuda_call: B rows of L tokens), not from
// the plan. A packed call (B = 1, L = pk->total, the offsets in cl->seg) runs exactly the
// dense steps on that one row: the projections, the gate and the layout kernels are per
// token, and the per-sample GEMMs see one sample; only the conv and the scan look across
// tokens, and they take the offsets (the window and the state restart at each).
#include "backbone/cuda/mixer_cuda.h"

#include "backbone/cuda/mixer_kernels.h"
#include "kernels/cuda/activation.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/scan.h"

#define TRY(call)                                                                         \
    do {                                                                                  \
        ssm_code rc_ = (call);                                                            \
        if (rc_ != SSM_OK)                                                                \
            return rc_;                                                                   \
    } while (0)

static ssm_code zero(real *x, size_t n) {
    cudaError_t e = cudaMemsetAsync(x, 0, n * sizeof(real), ssm_cuda_stream());
    return e == cudaSuccess ? SSM_OK : ssm_cuda_fail(__FILE__, __LINE__, "cudaMemsetAsync", e);
}

static real merge_alpha(const mamba_stack *s) {
    return s->cfg.merge == MAMBA_MERGE_MEAN ? (real)1 / (real)s->K : (real)1;
}

// A branch's scan-input blocks (see the header): dt, Bm, Cm of xdbl (or of dxdbl).
typedef struct {
    real *dt, *Bm, *Cm;
} xdbl_blocks;

static xdbl_blocks blocks(const mamba_stack *s, real *base) {
    const int64_t Bx = s->cu_B_max, L = s->cu_L; // planned sizes: any call's blocks fit
    return (xdbl_blocks){base, base + Bx * s->R * L, base + Bx * (s->R + s->N) * L};
}

// Branch k's recomputable inputs: A_k, xg = x in scan order, xc = SiLU(conv(xg)) = u, and
// delta = W_dt @ dt from the stored x_proj output (which, when store_xdbl, is computed here
// first). The backward calls it with store_xdbl = 0: xc is reproduced bit for bit (same
// kernels, same inputs), so the stored dt, B, C still match it.
static ssm_code branch_inputs(mamba_stack *s, const ssm_params *p, int64_t layer, int k,
                              const int32_t *perm, const mamba_cuda_call *cl, int store_xdbl) {
    const int64_t E = s->E, B = cl->B, L = cl->L, N = s->N, R = s->R;
    const mamba_branch_params *bp = &s->lp[layer].br[k];
    const mamba_cuda_scratch *c = &s->cu;
    xdbl_blocks xd = blocks(s, s->cu_acts[layer].xdbl[k]);
    TRY(neg_exp_cuda(c->A + k * E * N, ssm_params_data(p, bp->A_log), E * N));
    TRY(tokens_to_channels_cuda(c->xg, s->cu_acts[layer].xz, perm, B, E, L, 2 * E, 1));
    TRY(conv1d_causal_forward_cuda(c->xc, c->xg, ssm_params_data(p, bp->conv_w),
                                   ssm_params_data(p, bp->conv_b), B, E, L, s->dc, 1, cl->seg,
                                   cl->n_segs));
    if (store_xdbl) {
        // dt [R, L], Bm [N, L], Cm [N, L] = rows of W_x [P, E] @ u [E, L], per sample
        const real *W_x = ssm_params_data(p, bp->xproj_w);
        TRY(gemm_strided_batched_cuda(xd.dt, W_x, c->xc, R, L, E, 0, 0, 1, 0, B, 0, E * L,
                                      R * L));
        TRY(gemm_strided_batched_cuda(xd.Bm, W_x + R * E, c->xc, N, L, E, 0, 0, 1, 0, B, 0,
                                      E * L, N * L));
        TRY(gemm_strided_batched_cuda(xd.Cm, W_x + (R + N) * E, c->xc, N, L, E, 0, 0, 1, 0, B,
                                      0, E * L, N * L));
    }
    // delta [E, L] = W_dt [E, R] @ dt [R, L]; the bias goes in as the scan's delta_bias
    return gemm_strided_batched_cuda(c->delta, ssm_params_data(p, bp->dt_w), xd.dt, E, L, R, 0,
                                     0, 1, 0, B, 0, R * L, E * L);
}

static scan_shape shape(const mamba_stack *s, const mamba_cuda_call *cl) {
    return (scan_shape){.B = cl->B, .D = s->E, .L = cl->L, .N = s->N, .G = 1,
                        .chunk = s->cfg.scan_chunk, .delta_softplus = 1,
                        .seg_offsets = cl->seg, .n_segs = cl->n_segs};
}

ssm_code mamba_mixer_forward_cuda(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                                  const real *in, const mamba_orders *o,
                                  const mamba_cuda_call *cl) {
    const int64_t D = s->D, E = s->E, B = cl->B, L = cl->L, N = s->N, rows = B * L;
    const mamba_cuda_layer_acts *t = &s->cu_acts[layer];
    const mamba_cuda_scratch *c = &s->cu;
    const scan_shape ss = shape(s, cl);
    // xz [B*L, 2E] = in [B*L, D] @ W_in^T
    TRY(linear_forward_cuda(t->xz, in, ssm_params_data(p, s->lp[layer].in_w), NULL, rows, D,
                            2 * E));
    for (int k = 0; k < s->K; k++) {
        const mamba_branch_params *bp = &s->lp[layer].br[k];
        const int32_t *perm = mamba_cuda_perm(s, o, layer, k, cl);
        TRY(branch_inputs(s, p, layer, k, perm, cl, 1));
        xdbl_blocks xd = blocks(s, t->xdbl[k]);
        TRY(selective_scan_forward_cuda(c->ys, NULL, t->cstates[k], c->xc, c->delta,
                                        c->A + k * E * N, xd.Bm, xd.Cm,
                                        ssm_params_data(p, bp->D), NULL,
                                        ssm_params_data(p, bp->dt_b), &ss));
        // y [B, L, E] (+)= alpha * ys scattered back to token positions
        TRY(channels_to_tokens_cuda(t->y, c->ys, perm, B, E, L, E, merge_alpha(s), k > 0));
    }
    // gating once after the merge (mixer.c says why that equals Vim's per-branch gate)
    TRY(gate_tokens_forward_cuda(c->g, t->y, t->xz, rows, E));
    // out [B*L, D] = g [B*L, E] @ W_out^T
    TRY(linear_forward_cuda(out, c->g, ssm_params_data(p, s->lp[layer].out_w), NULL, rows, E,
                            D));
    return mamba_mixer_dropout_cuda(s, layer, out, out, cl);
}

// Branch k's backward from dy (token-major, in s->cu.g): recompute the branch inputs, run the
// scan backward, the x_proj / dt_proj / conv backward, and put dx into the x columns of dxz
// (written by branch 0, added by the others: no zeroing pass).
static ssm_code branch_backward(mamba_stack *s, ssm_params *p, int64_t layer, int k,
                                const int32_t *perm, const mamba_cuda_call *cl) {
    const int64_t E = s->E, B = cl->B, L = cl->L, N = s->N, R = s->R, P = s->P;
    const size_t EL = (size_t)(B * E * L);
    const mamba_branch_params *bp = &s->lp[layer].br[k];
    const mamba_cuda_layer_acts *t = &s->cu_acts[layer];
    const mamba_cuda_scratch *c = &s->cu;
    const scan_shape ss = shape(s, cl);
    const xdbl_blocks xd = blocks(s, t->xdbl[k]), dxd = blocks(s, c->dxdbl);
    const real *W_x = ssm_params_data(p, bp->xproj_w), *W_dt = ssm_params_data(p, bp->dt_w);
    const real *A = c->A + k * E * N;
    real *dys = c->ys;
    // dys [B, E, L] = alpha * dy at this order's positions (scatter_tokens_backward)
    TRY(tokens_to_channels_cuda(dys, c->g, perm, B, E, L, E, merge_alpha(s)));
    TRY(branch_inputs(s, p, layer, k, perm, cl, 0));
    // the scan backward adds (+=) into all of these
    TRY(zero(c->dxc, EL));
    TRY(zero(c->ddelta, EL));
    TRY(zero(dxd.Bm, (size_t)(B * N * L)));
    TRY(zero(dxd.Cm, (size_t)(B * N * L)));
    TRY(zero(c->dA, (size_t)(E * N)));
    TRY(selective_scan_backward_cuda(c->dxc, c->ddelta, c->dA, dxd.Bm, dxd.Cm,
                                     ssm_params_grad(p, bp->D), NULL, ssm_params_grad(p, bp->dt_b),
                                     dys, t->cstates[k], c->xc, c->delta, A, xd.Bm, xd.Cm,
                                     ssm_params_data(p, bp->D), NULL, ssm_params_data(p, bp->dt_b),
                                     c->ws, &ss));
    // A = -exp(A_log): dA_log = dA * A
    TRY(mul_add_cuda(ssm_params_grad(p, bp->A_log), c->dA, A, E * N));
    // dt_proj: per-sample dW_dt [E, R] = ddelta [E, L] @ dt^T, summed over the batch;
    // ddt [R, L] = W_dt^T @ ddelta
    real *part_x = c->wpart, *part_dt = c->wpart + B * P * E; // [B, P, E], [B, E, R]
    TRY(gemm_strided_batched_cuda(part_dt, c->ddelta, xd.dt, E, R, L, 0, 1, 1, 0, B, E * L,
                                  R * L, E * R));
    TRY(batch_sum_add_cuda(ssm_params_grad(p, bp->dt_w), part_dt, B, E * R));
    TRY(gemm_strided_batched_cuda(dxd.dt, W_dt, c->ddelta, R, L, E, 1, 0, 1, 0, B, 0, E * L,
                                  R * L));
    // x_proj, block by block: dW_x rows [P, E] += dxdbl [P, L] @ u^T (per sample, then summed);
    // du += W_x^T @ dxdbl
    const real *dblk[3] = {dxd.dt, dxd.Bm, dxd.Cm};
    const int64_t row0[3] = {0, R, R + N}, nrow[3] = {R, N, N};
    for (int j = 0; j < 3; j++) {
        TRY(gemm_strided_batched_cuda(part_x + row0[j] * E, dblk[j], c->xc, nrow[j], E, L, 0, 1,
                                      1, 0, B, nrow[j] * L, E * L, P * E));
        TRY(gemm_strided_batched_cuda(c->dxc, W_x + row0[j] * E, dblk[j], E, L, nrow[j], 1, 0, 1,
                                      1, B, 0, nrow[j] * L, E * L));
    }
    TRY(batch_sum_add_cuda(ssm_params_grad(p, bp->xproj_w), part_x, B, P * E));
    // conv (+ SiLU) backward into dxg (the ys buffer, consumed), then back to token positions
    real *dxg = c->ys;
    TRY(zero(dxg, EL));
    TRY(conv1d_causal_backward_cuda(dxg, ssm_params_grad(p, bp->conv_w),
                                    ssm_params_grad(p, bp->conv_b), c->dxc, c->xg,
                                    ssm_params_data(p, bp->conv_w), ssm_params_data(p, bp->conv_b),
                                    B, E, L, s->dc, 1, cl->seg, cl->n_segs));
    return channels_to_tokens_cuda(c->dxz, dxg, perm, B, E, L, 2 * E, 1, k > 0);
}

ssm_code mamba_mixer_backward_cuda(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                                   const real *dout, const real *in, const mamba_orders *o,
                                   const mamba_cuda_call *cl) {
    const int64_t D = s->D, E = s->E, rows = cl->B * cl->L;
    const mamba_layer_params *lp = &s->lp[layer];
    const mamba_cuda_layer_acts *t = &s->cu_acts[layer];
    const mamba_cuda_scratch *c = &s->cu;
    if (mamba_drop_p(s, MAMBA_DROP_MIXER) > 0) { // dout through the output's mask
        TRY(mamba_mixer_dropout_cuda(s, layer, c->dxc, dout, cl));
        dout = c->dxc;
    }
    // out_proj and gate; g is recomputed (one elementwise pass) rather than stored
    TRY(gate_tokens_forward_cuda(c->g, t->y, t->xz, rows, E));
    // dW_out [D, E] += dout^T [D, B*L] @ g [B*L, E]
    TRY(gemm_cuda(ssm_params_grad(p, lp->out_w), dout, c->g, D, E, rows, 1, 0, 1, 1));
    // dg [B*L, E] = dout @ W_out (into g: the GEMM above read it first, in stream order)
    TRY(gemm_cuda(c->g, dout, ssm_params_data(p, lp->out_w), rows, E, D, 0, 0, 1, 0));
    // dy (in place of dg) and dz (the z columns of dxz)
    TRY(gate_tokens_backward_cuda(c->g, c->dxz, c->g, t->y, t->xz, rows, E));
    for (int k = 0; k < s->K; k++)
        TRY(branch_backward(s, p, layer, k, mamba_cuda_perm(s, o, layer, k, cl), cl));
    // in_proj: dW_in [2E, D] += dxz^T @ in; din [B*L, D] = dxz @ W_in
    TRY(gemm_cuda(ssm_params_grad(p, lp->in_w), c->dxz, in, 2 * E, D, rows, 1, 0, 1, 1));
    return gemm_cuda(din, c->dxz, ssm_params_data(p, lp->in_w), rows, D, 2 * E, 0, 0, 1, 0);
}
