// defines: seg_head_forward_cuda, seg_head_backward_cuda
// (see tasks/head_segment.h)
// The segment head on one GPU: tasks/head_segment.c's forward and backward, step for step,
// on device arrays (the same arena layout), fp32 (also in mixed precision: the head is small
// beside the backbone). The kNN and the interpolation are kernels/cuda/pointops.h's; the
// reductions over points and tokens run in a fixed order, so a step gives the same bits on
// every run.
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/pointops.h"
#include "tasks/cuda/head_segment.h"
#include "tasks/head_segment.h"

#define DATA(i) ssm_params_data(p, c->i)
#define GRAD(i) ssm_params_grad(p, c->i)
#define ZERO(ptr, count) SSM_CUDA_TRY(ssm_cuda_zero((ptr), (size_t)(count) * sizeof(real)), err)

ssm_code seg_head_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                               int64_t B, ssm_error *err) {
    seg_head *c = h->impl;
    SSM_TRY(seg_head_check(h, B, err));
    if (c->K > KNN_CUDA_MAX_K)
        return ssm_fail(err, SSM_EINVAL, "head segment: %lld neighbours on the GPU",
                        (long long)c->K);
    const int64_t N = c->N, C = c->C, G = c->G, D = c->D, H = c->H, H2 = c->H2, R = B * N;
    const real *x = h->ctx.x;
    SSM_CUDA_TRY(knn_forward_cuda(c->idx, c->dist, x, C, h->ctx.positions, 3, B, N, G, c->K), err);
    SSM_CUDA_TRY(interp_weights_cuda(c->w, c->dist, R, c->K), err);
    SSM_CUDA_TRY(interp_forward_cuda(c->fi, feats, c->idx, c->w, B, N, G, D, c->K), err);
    SSM_CUDA_TRY(linear_forward_cuda(c->ph, x, DATA(pw), DATA(pb), R, C, SEG_PF), err);
    SSM_CUDA_TRY(layernorm_forward_cuda(c->pa, c->pmu, c->prs, c->ph, DATA(pg), DATA(pbe), R,
                                        SEG_PF, SEG_LN_EPS), err);
    SSM_CUDA_TRY(seg_relu_cuda(c->pa, R * SEG_PF), err);
    SSM_CUDA_TRY(seg_global_forward_cuda(c->glob, c->gam, feats, B, G, D, c->GW), err);
    if (c->NC) {
        SSM_CUDA_TRY(linear_forward_cuda(c->eh, c->onehot, DATA(ew), DATA(eb), B, c->NC, SEG_E),
                     err);
        SSM_CUDA_TRY(seg_leaky_forward_cuda(c->glob, c->eh, B, SEG_E, c->GW, 2 * D, SEG_LEAK),
                     err);
    }
    SSM_CUDA_TRY(linear_forward_cuda(c->sb, c->glob, DATA(w1g), DATA(b1), B, c->GW, H), err);
    SSM_CUDA_TRY(linear_forward_cuda(c->h1, c->fi, DATA(w1), NULL, R, D, H), err);
    SSM_CUDA_TRY(gemm_cuda(c->h1, c->pa, DATA(w1p), R, H, SEG_PF, 0, 1, 1, 1), err);
    SSM_CUDA_TRY(seg_add_rows_cuda(c->h1, c->sb, R, N, H), err);
    SSM_CUDA_TRY(layernorm_forward_cuda(c->a1, c->mu1, c->rs1, c->h1, DATA(g1), DATA(be1), R, H,
                                        SEG_LN_EPS), err);
    SSM_CUDA_TRY(seg_relu_cuda(c->a1, R * H), err);
    SSM_CUDA_TRY(linear_forward_cuda(c->h2, c->a1, DATA(w2), DATA(b2), R, H, H2), err);
    SSM_CUDA_TRY(layernorm_forward_cuda(c->a2, c->mu2, c->rs2, c->h2, DATA(g2), DATA(be2), R, H2,
                                        SEG_LN_EPS), err);
    SSM_CUDA_TRY(seg_relu_cuda(c->a2, R * H2), err);
    SSM_CUDA_TRY(linear_forward_cuda(out, c->a2, DATA(w3), DATA(b3), R, H2, c->P), err);
    return SSM_OK;
}

ssm_code seg_head_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                const real *feats, int64_t B, ssm_error *err) {
    seg_head *c = h->impl;
    SSM_TRY(seg_head_check(h, B, err));
    const int64_t N = c->N, G = c->G, D = c->D, H = c->H, H2 = c->H2, R = B * N;
    ZERO(c->d2, R * H2);
    SSM_CUDA_TRY(linear_backward_cuda(c->d2, GRAD(w3), GRAD(b3), dout, c->a2, DATA(w3), R, H2,
                                      c->P), err);
    SSM_CUDA_TRY(seg_relu_mask_cuda(c->d2, c->a2, R * H2), err);
    ZERO(c->dh2, R * H2);
    SSM_CUDA_TRY(layernorm_backward_cuda(c->dh2, GRAD(g2), GRAD(be2), c->d2, c->h2, DATA(g2),
                                         c->mu2, c->rs2, R, H2), err);
    ZERO(c->d1, R * H);
    SSM_CUDA_TRY(linear_backward_cuda(c->d1, GRAD(w2), GRAD(b2), c->dh2, c->a1, DATA(w2), R, H,
                                      H2), err);
    SSM_CUDA_TRY(seg_relu_mask_cuda(c->d1, c->a1, R * H), err);
    ZERO(c->dh1, R * H);
    SSM_CUDA_TRY(layernorm_backward_cuda(c->dh1, GRAD(g1), GRAD(be1), c->d1, c->h1, DATA(g1),
                                         c->mu1, c->rs1, R, H), err);
    SSM_CUDA_TRY(seg_rowsum_cuda(c->dsb, c->dh1, B, N, H), err);
    ZERO(c->dglob, B * c->GW);
    SSM_CUDA_TRY(linear_backward_cuda(c->dglob, GRAD(w1g), GRAD(b1), c->dsb, c->glob, DATA(w1g),
                                      B, c->GW, H), err);
    ZERO(c->dfi, R * D);
    SSM_CUDA_TRY(linear_backward_cuda(c->dfi, GRAD(w1), NULL, c->dh1, c->fi, DATA(w1), R, D, H),
                 err);
    ZERO(c->dpa, R * SEG_PF);
    SSM_CUDA_TRY(linear_backward_cuda(c->dpa, GRAD(w1p), NULL, c->dh1, c->pa, DATA(w1p), R,
                                      SEG_PF, H), err);
    SSM_CUDA_TRY(seg_relu_mask_cuda(c->dpa, c->pa, R * SEG_PF), err);
    ZERO(c->dph, R * SEG_PF);
    SSM_CUDA_TRY(layernorm_backward_cuda(c->dph, GRAD(pg), GRAD(pbe), c->dpa, c->ph, DATA(pg),
                                         c->pmu, c->prs, R, SEG_PF), err);
    SSM_CUDA_TRY(linear_backward_cuda(NULL, GRAD(pw), GRAD(pb), c->dph, h->ctx.x, DATA(pw), R,
                                      c->C, SEG_PF), err);
    if (c->NC) {
        SSM_CUDA_TRY(seg_leaky_backward_cuda(c->deh, c->dglob, c->eh, B, SEG_E, c->GW, 2 * D,
                                             SEG_LEAK), err);
        SSM_CUDA_TRY(linear_backward_cuda(NULL, GRAD(ew), GRAD(eb), c->deh, c->onehot, DATA(ew),
                                          B, c->NC, SEG_E), err);
    }
    SSM_CUDA_TRY(interp_backward_cuda(dfeats, c->dfi, c->idx, c->w, B, N, G, D, c->K), err);
    SSM_CUDA_TRY(seg_global_backward_cuda(dfeats, c->dglob, c->gam, B, G, D, c->GW), err);
    return SSM_OK;
}
