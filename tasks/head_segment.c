// defines: ssm_head_segment (the head "segment"), ssm_head_segment_set_categories,
//          seg_head_take, seg_head_check
// Part segmentation on point-group tokens, PointMamba's / Point-MAE's part-segmentation
// head with PointNet++'s feature propagation (one logit row per input point):
//   feats [B, G, D] (the tokens of G groups), their centres ctx.positions [B, G, 3] and the
//   points ctx.x [B, N, C] (tasks/head.h's context: x y z, then normals or other values)
//   -> propagation: each point's K = 3 nearest centres, inverse-distance weights
//      (kernels/pointops.h interp_weights), fi = the weighted tokens [B, N, D]
//   -> the point's own values: point_mlp  C -> 64, LayerNorm, ReLU        pa [B, N, 64]
//   -> per cloud: the max and the mean of the tokens, and the category (one-hot of
//      ShapeNetPart's 16, set by ssm_head_segment_set_categories) through label_conv
//      NC -> 64, LeakyReLU(0.2)                                         glob [B, 2D + 64]
//   -> convs1 on the concatenation [fi, pa, glob] -> H, bns1 (LayerNorm), ReLU,
//      convs2 H -> H/2, bns2, ReLU, convs3 H/2 -> P part logits        out [B, N, P]
// convs1's weight is kept as three tensors by input block: convs1.weight [H, D, 1] on fi,
// convs1_point.weight [H, 64, 1] on pa and convs1_global.weight [H, 2D + 64, 1] on glob
// (PointMamba's convs1 weight is their concatenation along the input), so the global block
// runs once per cloud instead of once per point. LayerNorm stands where PointMamba has
// BatchNorm (as in the point_groups adapter: one function in training and evaluation, no
// running statistics); PointMamba's dropout (0.5 before convs2) is left out (the head
// interface has no training switch). PointMamba also concatenates the features of layers
// 4, 8 and 12 of the backbone; here the head reads the last layer's (after the final norm).
// Gradients reach feats through the interpolation and the max and mean; the points, the
// centres and the category are data. out_rows = N: the loss is per point.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/pointops.h"
#include "tasks/head_segment.h"
#if SSM_HAVE_CUDA
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#endif

#define NAME "segment"
#define DEFAULT_DIM 256

extern const ssm_head_vtable ssm_head_segment;

static ssm_code add(ssm_params *p, const char *prefix, const char *what, int ndim,
                    const int64_t *shape, unsigned flags, size_t *idx, ssm_error *err) {
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s%s", prefix, what);
    return ssm_params_add(p, name, ndim, shape, flags, idx, err);
}

static ssm_code sh_create(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    const char *ad = in->adapter ? in->adapter : "?";
    if (opt->num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG, "head %s: %lld parts, expected at least 2 "
                        "(task.num_classes)", NAME, (long long)opt->num_classes);
    if (in->input.ndim != 2 || in->input.dims[1] < 3)
        return ssm_fail(err, SSM_ECONFIG, "head %s: the input is not a point cloud [points, C] "
                        "with x, y, z first", NAME);
    if (in->pos_dims != 3 || in->S != 1 || in->cls_index >= 0)
        return ssm_fail(err, SSM_ECONFIG, "head %s propagates tokens back to the points from "
                        "their 3-d places, but adapter %s gives none (use adapter.name: "
                        "point_groups, with cls_token: none)", NAME, ad);
    if (opt->seg_dim < 0 || opt->seg_dim == 1)
        return ssm_fail(err, SSM_ECONFIG, "head %s: width %lld, expected >= 2 (task.seg_dim)",
                        NAME, (long long)opt->seg_dim);
    seg_head *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    h->impl = c;
    c->N = in->input.dims[0];
    c->C = in->input.dims[1];
    c->G = in->L;
    c->D = in->D;
    c->P = opt->num_classes;
    c->NC = opt->categories > 1 ? opt->categories : 0;
    c->H = opt->seg_dim ? opt->seg_dim : DEFAULT_DIM;
    c->H2 = c->H / 2;
    c->K = c->G < SEG_KNN ? c->G : SEG_KNN;
    c->GW = 2 * c->D + (c->NC ? SEG_E : 0);
    h->out_numel = c->N * c->P;
    h->out_rows = c->N;
    const int64_t D = c->D, H = c->H, H2 = c->H2;
    const unsigned ND = SSM_PARAM_NO_DECAY;
    SSM_TRY(add(p, prefix, "point_mlp.0.weight", 3, (int64_t[]){SEG_PF, c->C, 1}, 0, &c->pw, err));
    SSM_TRY(add(p, prefix, "point_mlp.0.bias", 1, (int64_t[]){SEG_PF}, ND, &c->pb, err));
    SSM_TRY(add(p, prefix, "point_mlp.1.weight", 1, (int64_t[]){SEG_PF}, ND, &c->pg, err));
    SSM_TRY(add(p, prefix, "point_mlp.1.bias", 1, (int64_t[]){SEG_PF}, ND, &c->pbe, err));
    if (c->NC) {
        SSM_TRY(add(p, prefix, "label_conv.0.weight", 3, (int64_t[]){SEG_E, c->NC, 1}, 0, &c->ew,
                    err));
        SSM_TRY(add(p, prefix, "label_conv.0.bias", 1, (int64_t[]){SEG_E}, ND, &c->eb, err));
    }
    SSM_TRY(add(p, prefix, "convs1.weight", 3, (int64_t[]){H, D, 1}, 0, &c->w1, err));
    SSM_TRY(add(p, prefix, "convs1.bias", 1, (int64_t[]){H}, ND, &c->b1, err));
    SSM_TRY(add(p, prefix, "convs1_point.weight", 3, (int64_t[]){H, SEG_PF, 1}, 0, &c->w1p, err));
    SSM_TRY(add(p, prefix, "convs1_global.weight", 3, (int64_t[]){H, c->GW, 1}, 0, &c->w1g, err));
    SSM_TRY(add(p, prefix, "bns1.weight", 1, (int64_t[]){H}, ND, &c->g1, err));
    SSM_TRY(add(p, prefix, "bns1.bias", 1, (int64_t[]){H}, ND, &c->be1, err));
    SSM_TRY(add(p, prefix, "convs2.weight", 3, (int64_t[]){H2, H, 1}, 0, &c->w2, err));
    SSM_TRY(add(p, prefix, "convs2.bias", 1, (int64_t[]){H2}, ND, &c->b2, err));
    SSM_TRY(add(p, prefix, "bns2.weight", 1, (int64_t[]){H2}, ND, &c->g2, err));
    SSM_TRY(add(p, prefix, "bns2.bias", 1, (int64_t[]){H2}, ND, &c->be2, err));
    SSM_TRY(add(p, prefix, "convs3.weight", 3, (int64_t[]){c->P, H2, 1}, 0, &c->w3, err));
    return add(p, prefix, "convs3.bias", 1, (int64_t[]){c->P}, ND, &c->b3, err);
}

// PyTorch's Conv1d defaults: weight and bias U(+-1/sqrt(fan_in)); convs1's three blocks
// share the fan-in of the whole concatenation. Norms at 1 and 0.
static void uniform(ssm_params *p, size_t idx, double fan_in, ssm_rng *rng) {
    real *w = ssm_params_data(p, idx);
    double bound = 1 / sqrt(fan_in);
    for (size_t i = 0; i < p->items[idx].numel; i++)
        w[i] = (real)((2 * ssm_rng_uniform(rng) - 1) * bound);
}

static void fill(ssm_params *p, size_t idx, real v) {
    real *w = ssm_params_data(p, idx);
    for (size_t i = 0; i < p->items[idx].numel; i++)
        w[i] = v;
}

static void sh_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) {
    seg_head *c = h->impl;
    double fan1 = (double)(c->D + SEG_PF + c->GW);
    uniform(p, c->pw, (double)c->C, rng);
    uniform(p, c->pb, (double)c->C, rng);
    fill(p, c->pg, 1);
    fill(p, c->pbe, 0);
    if (c->NC) {
        uniform(p, c->ew, (double)c->NC, rng);
        uniform(p, c->eb, (double)c->NC, rng);
    }
    uniform(p, c->w1, fan1, rng);
    uniform(p, c->b1, fan1, rng);
    uniform(p, c->w1p, fan1, rng);
    uniform(p, c->w1g, fan1, rng);
    fill(p, c->g1, 1);
    fill(p, c->be1, 0);
    uniform(p, c->w2, (double)c->H, rng);
    uniform(p, c->b2, (double)c->H, rng);
    fill(p, c->g2, 1);
    fill(p, c->be2, 0);
    uniform(p, c->w3, (double)c->H2, rng);
    uniform(p, c->b3, (double)c->H2, rng);
}

#define TAKE(ptr, count) ((ptr) = ssm_arena_take(a, (size_t)(count) * sizeof *(ptr)))

void seg_head_take(seg_head *c, ssm_arena *a, int64_t B_max) {
    const int64_t R = B_max * c->N, H = c->H, H2 = c->H2, D = c->D;
    TAKE(c->idx, R * c->K);
    TAKE(c->dist, R * c->K);
    TAKE(c->w, R * c->K);
    TAKE(c->fi, R * D);
    TAKE(c->ph, R * SEG_PF);
    TAKE(c->pa, R * SEG_PF);
    TAKE(c->pmu, R);
    TAKE(c->prs, R);
    TAKE(c->onehot, B_max * (c->NC ? c->NC : 1));
    TAKE(c->eh, B_max * SEG_E);
    TAKE(c->glob, B_max * c->GW);
    TAKE(c->gam, B_max * D);
    TAKE(c->sb, B_max * H);
    TAKE(c->h1, R * H);
    TAKE(c->a1, R * H);
    TAKE(c->mu1, R);
    TAKE(c->rs1, R);
    TAKE(c->h2, R * H2);
    TAKE(c->a2, R * H2);
    TAKE(c->mu2, R);
    TAKE(c->rs2, R);
    TAKE(c->d2, R * H2);
    TAKE(c->dh2, R * H2);
    TAKE(c->d1, R * H);
    TAKE(c->dh1, R * H);
    TAKE(c->dfi, R * D);
    TAKE(c->dpa, R * SEG_PF);
    TAKE(c->dph, R * SEG_PF);
    TAKE(c->dsb, B_max * H);
    TAKE(c->dglob, B_max * c->GW);
    TAKE(c->deh, B_max * SEG_E);
}

static ssm_code plan_host(seg_head *c, int64_t B_max, ssm_error *err) {
    free(c->onehot_host);
    c->onehot_host = calloc((size_t)(B_max * (c->NC ? c->NC : 1)), sizeof(real));
    c->cats_B = 0;
    if (!c->onehot_host)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    return SSM_OK;
}

static ssm_code sh_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    seg_head *c = h->impl;
    c->on_cuda = 0;
    seg_head_take(c, a, B_max);
    return plan_host(c, B_max, err);
}

#if SSM_HAVE_CUDA
ssm_code seg_head_plan_cuda(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    seg_head *c = h->impl;
    c->on_cuda = 1;
    seg_head_take(c, a, B_max);
    return plan_host(c, B_max, err);
}
#endif

ssm_code ssm_head_segment_set_categories(ssm_head *h, const int32_t *cats, int64_t B,
                                         ssm_error *err) {
    if (!h || h->vt != &ssm_head_segment || !h->impl)
        return ssm_fail(err, SSM_EINVAL, "head %s: categories set on another head", NAME);
    seg_head *c = h->impl;
    if (B < 1 || B > h->B_max || !c->onehot_host)
        return ssm_fail(err, SSM_EINVAL, "head %s: categories of %lld clouds, planned for "
                        "1..%lld", NAME, (long long)B, (long long)h->B_max);
    if (!c->NC) {
        c->cats_B = B;
        return SSM_OK;
    }
    if (!cats)
        return ssm_fail(err, SSM_EDATA, "head %s: the batch has no categories (the head is "
                        "conditioned on %lld)", NAME, (long long)c->NC);
    memset(c->onehot_host, 0, (size_t)(B * c->NC) * sizeof(real));
    for (int64_t b = 0; b < B; b++) {
        if (cats[b] < 0 || cats[b] >= c->NC)
            return ssm_fail(err, SSM_EDATA, "head %s: cloud %lld of the batch has category %d, "
                            "expected 0..%lld", NAME, (long long)b, cats[b],
                            (long long)c->NC - 1);
        c->onehot_host[b * c->NC + cats[b]] = 1;
    }
    size_t bytes = (size_t)(B * c->NC) * sizeof(real);
#if SSM_HAVE_CUDA
    if (c->on_cuda)
        SSM_CUDA_TRY(ssm_cuda_upload(c->onehot, c->onehot_host, bytes), err);
    else
#endif
        memcpy(c->onehot, c->onehot_host, bytes);
    c->cats_B = B;
    return SSM_OK;
}

ssm_code seg_head_check(const ssm_head *h, int64_t B, ssm_error *err) {
    const seg_head *c = h->impl;
    if (!c->h1 || !c->onehot_host)
        return ssm_fail(err, SSM_EINVAL, "head %s: forward before the arena was committed", NAME);
    if (!h->ctx.x || !h->ctx.positions)
        return ssm_fail(err, SSM_EINVAL, "head %s: no input points or token positions in the "
                        "context (the model sets them before the forward)", NAME);
    if (c->cats_B != B)
        return ssm_fail(err, SSM_EINVAL, "head %s: the categories of this batch of %lld were "
                        "not set (ssm_head_segment_set_categories; last set: %lld)", NAME,
                        (long long)B, (long long)c->cats_B);
    return SSM_OK;
}

static void relu_inplace(real *x, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        x[i] = x[i] > 0 ? x[i] : 0;
}

static void relu_mask(real *d, const real *a, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        d[i] = a[i] > 0 ? d[i] : 0;
}

#define DATA(i) ssm_params_data(p, c->i)
#define GRAD(i) ssm_params_grad(p, c->i)

static ssm_code sh_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                           int64_t B, ssm_error *err) {
    seg_head *c = h->impl;
    SSM_TRY(seg_head_check(h, B, err));
    const int64_t N = c->N, C = c->C, G = c->G, D = c->D, H = c->H, H2 = c->H2, R = B * N;
    const real *x = h->ctx.x;
    // propagation: the K nearest centres of every point, inverse-distance weights
    knn_forward(c->idx, c->dist, x, C, h->ctx.positions, 3, B, N, G, c->K);
    interp_weights(c->w, c->dist, R, c->K);
    interp_forward(c->fi, feats, c->idx, c->w, B, N, G, D, c->K);
    // the point's own values
    linear_forward(c->ph, x, DATA(pw), DATA(pb), R, C, SEG_PF);
    layernorm_forward(c->pa, c->pmu, c->prs, c->ph, DATA(pg), DATA(pbe), R, SEG_PF, SEG_LN_EPS);
    relu_inplace(c->pa, R * SEG_PF);
    // per cloud: max and mean of the tokens (in double), the category
#pragma omp parallel for schedule(static)
    for (int64_t bd = 0; bd < B * D; bd++) {
        int64_t b = bd / D, d = bd % D;
        const real *f = feats + b * G * D + d;
        int64_t best = 0;
        double s = 0;
        for (int64_t g = 0; g < G; g++) {
            best = f[g * D] > f[best * D] ? g : best;
            s += f[g * D];
        }
        c->glob[b * c->GW + d] = f[best * D];
        c->glob[b * c->GW + D + d] = (real)(s / (double)G);
        c->gam[bd] = (int32_t)best;
    }
    if (c->NC) {
        linear_forward(c->eh, c->onehot, DATA(ew), DATA(eb), B, c->NC, SEG_E);
        for (int64_t b = 0; b < B; b++)
            for (int64_t e = 0; e < SEG_E; e++) {
                real v = c->eh[b * SEG_E + e];
                c->glob[b * c->GW + 2 * D + e] = v > 0 ? v : SEG_LEAK * v;
            }
    }
    linear_forward(c->sb, c->glob, DATA(w1g), DATA(b1), B, c->GW, H);
    // convs1 = W1 fi + W1p pa + the cloud's global part, bns1, ReLU
    linear_forward(c->h1, c->fi, DATA(w1), NULL, R, D, H);
    gemm(c->h1, c->pa, DATA(w1p), R, H, SEG_PF, 0, 1, 1, 1);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < H; j++)
            c->h1[r * H + j] += c->sb[r / N * H + j];
    layernorm_forward(c->a1, c->mu1, c->rs1, c->h1, DATA(g1), DATA(be1), R, H, SEG_LN_EPS);
    relu_inplace(c->a1, R * H);
    linear_forward(c->h2, c->a1, DATA(w2), DATA(b2), R, H, H2);
    layernorm_forward(c->a2, c->mu2, c->rs2, c->h2, DATA(g2), DATA(be2), R, H2, SEG_LN_EPS);
    relu_inplace(c->a2, R * H2);
    linear_forward(out, c->a2, DATA(w3), DATA(b3), R, H2, c->P);
    return SSM_OK;
}

static ssm_code sh_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                            const real *feats, int64_t B, ssm_error *err) {
    seg_head *c = h->impl;
    SSM_TRY(seg_head_check(h, B, err));
    const int64_t N = c->N, G = c->G, D = c->D, H = c->H, H2 = c->H2, R = B * N;
    memset(c->d2, 0, (size_t)(R * H2) * sizeof(real));
    linear_backward(c->d2, GRAD(w3), GRAD(b3), dout, c->a2, DATA(w3), R, H2, c->P);
    relu_mask(c->d2, c->a2, R * H2);
    memset(c->dh2, 0, (size_t)(R * H2) * sizeof(real));
    layernorm_backward(c->dh2, GRAD(g2), GRAD(be2), c->d2, c->h2, DATA(g2), c->mu2, c->rs2, R,
                       H2);
    memset(c->d1, 0, (size_t)(R * H) * sizeof(real));
    linear_backward(c->d1, GRAD(w2), GRAD(b2), c->dh2, c->a1, DATA(w2), R, H, H2);
    relu_mask(c->d1, c->a1, R * H);
    memset(c->dh1, 0, (size_t)(R * H) * sizeof(real));
    layernorm_backward(c->dh1, GRAD(g1), GRAD(be1), c->d1, c->h1, DATA(g1), c->mu1, c->rs1, R, H);
    // the cloud's global part: dsb = the sum of dh1 over its points
#pragma omp parallel for schedule(static)
    for (int64_t bj = 0; bj < B * H; bj++) {
        int64_t b = bj / H, j = bj % H;
        double s = 0;
        for (int64_t i = 0; i < N; i++)
            s += c->dh1[(b * N + i) * H + j];
        c->dsb[bj] = (real)s;
    }
    memset(c->dglob, 0, (size_t)(B * c->GW) * sizeof(real));
    linear_backward(c->dglob, GRAD(w1g), GRAD(b1), c->dsb, c->glob, DATA(w1g), B, c->GW, H);
    memset(c->dfi, 0, (size_t)(R * D) * sizeof(real));
    linear_backward(c->dfi, GRAD(w1), NULL, c->dh1, c->fi, DATA(w1), R, D, H);
    memset(c->dpa, 0, (size_t)(R * SEG_PF) * sizeof(real));
    linear_backward(c->dpa, GRAD(w1p), NULL, c->dh1, c->pa, DATA(w1p), R, SEG_PF, H);
    relu_mask(c->dpa, c->pa, R * SEG_PF);
    memset(c->dph, 0, (size_t)(R * SEG_PF) * sizeof(real));
    layernorm_backward(c->dph, GRAD(pg), GRAD(pbe), c->dpa, c->ph, DATA(pg), c->pmu, c->prs, R,
                       SEG_PF);
    linear_backward(NULL, GRAD(pw), GRAD(pb), c->dph, h->ctx.x, DATA(pw), R, c->C, SEG_PF);
    if (c->NC) {
        for (int64_t b = 0; b < B; b++)
            for (int64_t e = 0; e < SEG_E; e++)
                c->deh[b * SEG_E + e] = c->dglob[b * c->GW + 2 * D + e] *
                                        (c->eh[b * SEG_E + e] > 0 ? 1 : SEG_LEAK);
        linear_backward(NULL, GRAD(ew), GRAD(eb), c->deh, c->onehot, DATA(ew), B, c->NC, SEG_E);
    }
    // into the tokens: the interpolation, the max (to the first maximum) and the mean
    interp_backward(dfeats, c->dfi, c->idx, c->w, B, N, G, D, c->K);
#pragma omp parallel for schedule(static)
    for (int64_t bd = 0; bd < B * D; bd++) {
        int64_t b = bd / D, d = bd % D;
        real gmean = c->dglob[b * c->GW + D + d] / (real)G;
        real *df = dfeats + b * G * D + d;
        for (int64_t g = 0; g < G; g++)
            df[g * D] += gmean;
        df[c->gam[bd] * D] += c->dglob[b * c->GW + d];
    }
    return SSM_OK;
}

static void sh_free(ssm_head *h) {
    seg_head *c = h->impl;
    if (c)
        free(c->onehot_host);
    free(c);
    h->impl = NULL;
}

const ssm_head_vtable ssm_head_segment = {
    .name = NAME,
    .summary = "part segmentation (point_groups trunk): tokens propagated to every point "
               "(3-NN inverse-distance), with the point's values, the tokens' max and mean "
               "and the category -> per-point MLP -> part logits [N, P]",
    .create = sh_create,
    .init_params = sh_init_params,
    .plan = sh_plan,
    .forward = sh_forward,
    .backward = sh_backward,
    .free_impl = sh_free,
#if SSM_HAVE_CUDA
    .plan_cuda = seg_head_plan_cuda,
    .forward_cuda = seg_head_forward_cuda,
    .backward_cuda = seg_head_backward_cuda,
#endif
};
