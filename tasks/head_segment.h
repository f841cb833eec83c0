// defines: seg_head, ssm_head_segment_set_categories, SEG_PF, SEG_E, SEG_KNN, SEG_LN_EPS,
//          SEG_LEAK, seg_head_plan_cuda, seg_head_forward_cuda, seg_head_backward_cuda
// The part-segmentation head ("segment", tasks/head_segment.c; its CUDA path
// tasks/cuda/head_segment_cuda.c): what it shows beyond the head interface (the batch's
// categories), and its state, shared by the two files of the head.
#pragma once
#include <stdint.h>

#include "core/device_select.h"
#include "core/error.h"
#include "tasks/head.h"

#define SEG_PF 64        // width of the per-point MLP on the point's own values
#define SEG_E 64         // width of the category embedding (PointMamba's label_conv)
#define SEG_KNN 3        // group centres a point interpolates from (PointNet++'s three_nn)
#define SEG_LN_EPS 1e-5f
#define SEG_LEAK 0.2f    // LeakyReLU slope of the category embedding

// The object categories of the batch about to go through the head (ShapeNetPart's:
// cats [B] in [0, categories), host memory), before its forward; the backward reuses
// them. Copied (to the device on a GPU). A head without categories (options.categories
// <= 1) takes cats NULL. SSM_EDATA names a category out of range, SSM_EINVAL a head that
// is not a segment head or a batch above B_max.
ssm_code ssm_head_segment_set_categories(ssm_head *h, const int32_t *cats, int64_t B,
                                         ssm_error *err);

typedef struct {
    int64_t N, C, G, D;     // points and values per point of x; tokens (groups) and width
    int64_t P, NC, H, H2;   // parts (logits per point), categories (0: none), MLP widths
    int64_t K;              // centres per point (min(SEG_KNN, G))
    int64_t GW;             // per-sample global width: max and mean of the tokens, category
    // parameters (indices into the table)
    size_t pw, pb, pg, pbe;         // point_mlp.0.{weight,bias}, point_mlp.1.{weight,bias}
    size_t ew, eb;                  // label_conv.0.{weight,bias} (NC > 1)
    size_t w1, b1, w1p, w1g;        // convs1.{weight,bias}, convs1_point.weight, convs1_global.weight
    size_t g1, be1, w2, b2, g2, be2; // bns1, convs2, bns2
    size_t w3, b3;                  // convs3
    // scratch for B_max clouds (arena; host or device), R = B * N rows
    int32_t *idx;           // [R, K] the nearest centres of each point
    real *dist, *w;         // [R, K] squared distances, interpolation weights
    real *fi;               // [R, D] tokens interpolated onto the points
    real *ph, *pa, *pmu, *prs; // [R, PF] point MLP pre-norm, after LayerNorm + ReLU; [R] stats
    real *onehot;           // [B, NC] the batch's categories
    real *eh;               // [B, E] category embedding before the LeakyReLU
    real *glob;             // [B, GW] max, mean of the tokens, embedded category
    int32_t *gam;           // [B, D] which token gave the max (first on ties)
    real *sb;               // [B, H] the per-sample part of convs1 (global columns + bias)
    real *h1, *a1, *mu1, *rs1; // [R, H] convs1 sum, after bns1 + ReLU; [R]
    real *h2, *a2, *mu2, *rs2; // [R, H2]
    // backward
    real *d2, *dh2;         // [R, H2]
    real *d1, *dh1;         // [R, H]
    real *dfi;              // [R, D]
    real *dpa, *dph;        // [R, PF]
    real *dsb, *dglob, *deh; // [B, H], [B, GW], [B, E]
    real *onehot_host;      // [B_max, NC] host staging of the categories (malloc'd)
    int64_t cats_B;         // clouds of the last set_categories (0: none yet)
    int on_cuda;            // planned on a GPU
} seg_head;

#if SSM_HAVE_CUDA
ssm_code seg_head_plan_cuda(ssm_head *h, ssm_arena *dev_arena, int64_t B_max, ssm_error *err);
ssm_code seg_head_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                               int64_t B, ssm_error *err);
ssm_code seg_head_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                const real *feats, int64_t B, ssm_error *err);
#endif

// Shared by both paths (tasks/head_segment.c): the arena takes for B_max clouds (host or
// device arena alike), and the checks of a batch (categories set, the context present).
void seg_head_take(seg_head *c, ssm_arena *a, int64_t B_max);
ssm_code seg_head_check(const ssm_head *h, int64_t B, ssm_error *err);
