// defines: mamba_cuda_call, mamba_cuda_perm, mamba_mixer_forward_cuda,
//          mamba_mixer_backward_cuda, mamba_mixer_forward_bf16, mamba_mixer_backward_bf16,
//          mamba_mixer_dropout_cuda
// One layer's mixer on GPU over the whole batch (private to backbone/cuda/; the stack in
// stack_cuda.c runs it). Failures are recorded in the per-thread CUDA error
// (ssm_cuda_take_error), as the kernels/cuda twins do.
#pragma once
#include <stdint.h>

#include "backbone/mamba_internal.h"
#include "kernels/cuda/dropout.h"

// The extent of one forward or backward call, which every step of it uses instead of the
// plan's: B rows of L tokens (a dense call: B <= B_max and the planned L; a packed call:
// B = 1, L = pk->total <= B_max * the planned L), and the packed sequences of each row
// (seg NULL: one sequence per row). The arena's buffers are sized for B_max * planned L
// tokens, so either fits; the xdbl blocks keep their planned offsets (mixer_cuda.c).
typedef struct {
    int64_t B, L;
    const int64_t *seg; // [n_segs + 1] device offsets (core/packing.h d_offsets), or NULL
    int64_t n_segs;
} mamba_cuda_call;

// perm of branch k of layer i for this call: [B, L] on the device (mamba_order_perm's
// stride is the planned L; a packed call's perm rows are pk->total long).
static inline const int32_t *mamba_cuda_perm(const mamba_stack *s, const mamba_orders *o,
                                             int64_t layer, int k, const mamba_cuda_call *cl) {
    int64_t idx = o->schedule ? o->schedule[layer * s->K + k] : k;
    return o->perm + idx * cl->B * cl->L;
}

// out [B*L, D] = in through layer's mixer-output dropout mask (mamba.h, mixer_dropout) for
// this call's rows: a copy (nothing when out == in) outside training passes.
static inline ssm_code mamba_mixer_dropout_cuda(const mamba_stack *s, int64_t layer, real *out,
                                                const real *in, const mamba_cuda_call *cl) {
    const ssm_dropout_rows map = mamba_drop_rows(s, cl->L, cl->seg, cl->n_segs);
    return dropout_apply_cuda(out, in, 0, cl->B * cl->L, s->D, &map,
                              mamba_drop_site(layer, MAMBA_DROP_MIXER),
                              mamba_drop_p(s, MAMBA_DROP_MIXER));
}

// out [B, L, D] = mixer(in) (WRITTEN, not +=: the stack adds the residual in its fused
// add + norm), in [B, L, D]. Saves xz, y, xdbl, cstates in s->cu_acts[layer].
ssm_code mamba_mixer_forward_cuda(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                                  const real *in, const mamba_orders *o,
                                  const mamba_cuda_call *cl);

// din [B, L, D] = gradient w.r.t. the mixer input (WRITTEN); parameter gradients +=.
// dout [B, L, D]; in [B, L, D] is the forward's mixer input.
ssm_code mamba_mixer_backward_cuda(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                                   const real *dout, const real *in, const mamba_orders *o,
                                   const mamba_cuda_call *cl);

// The mixed-precision twins (mixer_bf16.c; stack planned with precision MAMBA_BF16, p with a
// bf16 shadow): in [B, L, D] fp32 (cast to bf16 into s->bf_acts[layer].normed, which the
// backward reads), out [B, L, D] fp32 WRITTEN; din [B, L, D] fp32 WRITTEN; fp32 gradients +=.
ssm_code mamba_mixer_forward_bf16(mamba_stack *s, const ssm_params *p, int64_t layer, real *out,
                                  const real *in, const mamba_orders *o,
                                  const mamba_cuda_call *cl);
ssm_code mamba_mixer_backward_bf16(mamba_stack *s, ssm_params *p, int64_t layer, real *din,
                                   const real *dout, const mamba_orders *o,
                                   const mamba_cuda_call *cl);
