// defines: ssm_head_bag (the head "bag"), ssm_head_bag_attention, ssm_bag_pool_name,
//          ssm_bag_pool_parse
// Bag classification (MIL) over a ragged trunk: the backbone's tokens of each bag (packed,
// feats [pack->total, D], bag b = tokens pack->offsets[b] .. offsets[b+1]) pooled to one
// vector z_b [D], then classifier.weight [V, D], classifier.bias [V] -> logits [B, V].
// Poolings (options.bag_pool):
//   attention  ABMIL (Ilse et al. 2018): a_t = softmax over the bag of w^T tanh(V h_t + c),
//              z = sum_t a_t h_t. attention_V.0.weight [Ha, D], .bias [Ha],
//              attention_weights.weight [1, Ha] (Ha = options.attn_dim, 128 by default).
//              The reference's attention_weights.bias is left out: a softmax does not see a
//              constant added to every score, so it would never get a gradient.
//   gated      ABMIL gated: w^T (tanh(V h + c) * sigmoid(U h + e)); attention_U.0.weight
//              [Ha, D], .bias [Ha] besides.
//   mean       the mean of the bag's tokens; max: the maximum per feature (the gradient goes
//              to the first token that holds it); cls: the bag's first token, the adapter's
//              class token (cls_index = 0; refused without one).
// The softmax subtracts each bag's maximum score and sums in double (CPU), so bags of 1 or
// of 100,000+ tokens are both exact to rounding. The attention weights of the last forward
// stay readable (ssm_head_bag_attention) for `predict`.
// Scratch is planned for in.L tokens (the trunk's token budget) and B_max bags.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/linear.h"
#include "tasks/head.h"
#include "tasks/head_bag.h"
#include "core/device_select.h" // SSM_HAVE_CUDA
#if SSM_HAVE_CUDA
#include "core/cuda/device.h"
#include "core/cuda/try.h"
#include "kernels/cuda/linear.h"
#include "tasks/cuda/head_bag.h"
#endif

#define NAME "bag"
#define DEFAULT_ATTN_DIM 128

static const char *const POOL_NAMES[] = {"attention", "gated", "mean", "max", "cls"};
#define N_POOLS 5

typedef struct {
    int64_t D, V, Ha, Lmax; // width, classes, attention hidden size, tokens planned
    ssm_bag_pool pool;
    int use_attn, gated;    // the pooling has attention weights / a gate
    size_t w_idx, b_idx;    // classifier.weight [V, D], classifier.bias [V]
    size_t vw, vb, uw, ub, aw; // attention_V.0.{weight,bias}, attention_U.0.*, attention_weights
    real *pooled, *dpooled; // [B_max, D]
    real *A, *G;            // [Lmax, Ha] tanh / sigmoid of the attention's layers; backward
                            // overwrites them with their pre-activations' gradients
    real *score, *attn;     // [Lmax] scores (their gradients in backward), weights
    int64_t *argmax;        // [B_max, D] (max)
    real *partial;          // CUDA: the segment sums' chunks
    int64_t *chunk_start;   // CUDA: [B_max + 1]
    int64_t max_chunks;
    int have_attn;          // a forward filled attn
} bag_head;

const char *ssm_bag_pool_name(ssm_bag_pool p) {
    return (unsigned)p < N_POOLS ? POOL_NAMES[p] : "?";
}

ssm_code ssm_bag_pool_parse(const char *name, ssm_bag_pool *out, ssm_error *err) {
    for (int i = 0; i < N_POOLS; i++)
        if (name && !strcmp(name, POOL_NAMES[i])) {
            *out = (ssm_bag_pool)i;
            return SSM_OK;
        }
    return ssm_fail(err, SSM_ECONFIG, "bag pooling '%s'; known: attention, gated, mean, max, cls",
                    name ? name : "(null)");
}

const real *ssm_head_bag_attention(const ssm_head *h) {
    extern const ssm_head_vtable ssm_head_bag;
    if (!h || h->vt != &ssm_head_bag || !h->impl)
        return NULL;
    const bag_head *c = h->impl;
    return c->attn && c->have_attn ? c->attn : NULL;
}

static ssm_code add(ssm_params *p, const char *prefix, const char *what, int ndim,
                    const int64_t *shape, unsigned flags, size_t *idx, ssm_error *err) {
    char name[SSM_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%s%s", prefix, what);
    return ssm_params_add(p, name, ndim, shape, flags, idx, err);
}

static ssm_code bh_create(ssm_head *h, const ssm_head_options *opt, const ssm_head_input *in,
                          ssm_params *p, const char *prefix, ssm_error *err) {
    if (opt->num_classes < 2)
        return ssm_fail(err, SSM_ECONFIG, "head %s: %lld classes, expected at least 2", NAME,
                        (long long)opt->num_classes);
    if ((unsigned)opt->bag_pool >= N_POOLS)
        return ssm_fail(err, SSM_ECONFIG, "head %s: bag pooling %d; known: attention, gated, "
                        "mean, max, cls", NAME, (int)opt->bag_pool);
    if (in->S != 1)
        return ssm_fail(err, SSM_ECONFIG, "head %s: adapter %s gives %lld sequences per sample; "
                        "a bag is one packed sequence (a ragged adapter such as bag_features)",
                        NAME, in->adapter ? in->adapter : "?", (long long)in->S);
    if (opt->bag_pool == SSM_BAG_POOL_CLS && in->cls_index != 0)
        return ssm_fail(err, SSM_ECONFIG, "head %s: pooling cls reads each bag's class token, "
                        "but adapter %s puts none first: set its cls_token: head, or pick "
                        "attention, gated, mean or max", NAME, in->adapter ? in->adapter : "?");
    if (opt->attn_dim < 0)
        return ssm_fail(err, SSM_ECONFIG, "head %s: attention size %lld, expected >= 1", NAME,
                        (long long)opt->attn_dim);
    bag_head *c = calloc(1, sizeof *c);
    if (!c)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", NAME);
    h->impl = c;
    c->D = in->D;
    c->V = opt->num_classes;
    c->Lmax = in->L;
    c->pool = opt->bag_pool;
    c->use_attn = c->pool == SSM_BAG_POOL_ATTENTION || c->pool == SSM_BAG_POOL_GATED;
    c->gated = c->pool == SSM_BAG_POOL_GATED;
    c->Ha = opt->attn_dim ? opt->attn_dim : DEFAULT_ATTN_DIM;
    h->out_numel = c->V;
    int64_t D = c->D, Ha = c->Ha;
    if (c->use_attn) {
        SSM_TRY(add(p, prefix, "attention_V.0.weight", 2, (int64_t[]){Ha, D}, 0, &c->vw, err));
        SSM_TRY(add(p, prefix, "attention_V.0.bias", 1, (int64_t[]){Ha}, SSM_PARAM_NO_DECAY,
                    &c->vb, err));
        if (c->gated) {
            SSM_TRY(add(p, prefix, "attention_U.0.weight", 2, (int64_t[]){Ha, D}, 0, &c->uw, err));
            SSM_TRY(add(p, prefix, "attention_U.0.bias", 1, (int64_t[]){Ha}, SSM_PARAM_NO_DECAY,
                        &c->ub, err));
        }
        SSM_TRY(add(p, prefix, "attention_weights.weight", 2, (int64_t[]){1, Ha}, 0, &c->aw,
                    err));
    }
    SSM_TRY(add(p, prefix, "classifier.weight", 2, (int64_t[]){c->V, D}, 0, &c->w_idx, err));
    return add(p, prefix, "classifier.bias", 1, (int64_t[]){c->V}, SSM_PARAM_NO_DECAY, &c->b_idx,
               err);
}

// MambaMIL's / CLAM's initialize_weights: xavier_normal_ weights, zero biases.
static void xavier(ssm_params *p, size_t idx, ssm_rng *rng) {
    const ssm_param_info *it = &p->items[idx];
    double std = sqrt(2.0 / (double)(it->shape[0] + it->shape[1]));
    real *w = ssm_params_data(p, idx);
    for (size_t i = 0; i < it->numel; i++)
        w[i] = (real)ssm_rng_normal(rng, std);
}

static void bh_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) {
    bag_head *c = h->impl;
    if (c->use_attn) {
        xavier(p, c->vw, rng);
        memset(ssm_params_data(p, c->vb), 0, (size_t)c->Ha * sizeof(real));
        if (c->gated) {
            xavier(p, c->uw, rng);
            memset(ssm_params_data(p, c->ub), 0, (size_t)c->Ha * sizeof(real));
        }
        xavier(p, c->aw, rng);
    }
    xavier(p, c->w_idx, rng);
    memset(ssm_params_data(p, c->b_idx), 0, (size_t)c->V * sizeof(real));
}

// The same takes on both devices (the arena decides where they live); the segment sums'
// chunks only where they run (cuda = 1).
static ssm_code plan_takes(ssm_head *h, ssm_arena *a, int64_t B_max, int cuda) {
    bag_head *c = h->impl;
    size_t L = (size_t)c->Lmax, Ha = (size_t)c->Ha;
    c->pooled = ssm_arena_take(a, (size_t)(B_max * c->D) * sizeof(real));
    c->dpooled = ssm_arena_take(a, (size_t)(B_max * c->D) * sizeof(real));
    c->A = c->use_attn ? ssm_arena_take(a, L * Ha * sizeof(real)) : NULL;
    c->G = c->gated ? ssm_arena_take(a, L * Ha * sizeof(real)) : NULL;
    c->score = c->use_attn ? ssm_arena_take(a, L * sizeof(real)) : NULL;
    c->attn = c->use_attn ? ssm_arena_take(a, L * sizeof(real)) : NULL;
    c->argmax = c->pool == SSM_BAG_POOL_MAX
                    ? ssm_arena_take(a, (size_t)(B_max * c->D) * sizeof(int64_t)) : NULL;
    c->partial = NULL;
    c->chunk_start = NULL;
    c->max_chunks = 0;
#if SSM_HAVE_CUDA
    if (cuda) {
        c->max_chunks = bag_segsum_scratch(c->Lmax, B_max);
        size_t C = (size_t)(c->D > c->Ha ? c->D : c->Ha);
        c->partial = ssm_arena_take(a, (size_t)c->max_chunks * C * sizeof(real));
        c->chunk_start = ssm_arena_take(a, (size_t)(B_max + 1) * sizeof(int64_t));
    }
#endif
    c->have_attn = 0;
    return SSM_OK;
}

static ssm_code bh_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    return plan_takes(h, a, B_max, 0);
}

static ssm_code check_batch(const ssm_head *h, int64_t B, int cuda, ssm_error *err) {
    const bag_head *c = h->impl;
    const ssm_packing *pk = h->pack;
    if (!pk)
        return ssm_fail(err, SSM_EINVAL, "head %s reads packed bags, but no packing was set "
                        "(the trunk's adapter %s is not ragged?)", NAME,
                        h->in.adapter ? h->in.adapter : "?");
    if (pk->n != B)
        return ssm_fail(err, SSM_EINVAL, "head %s: batch of %lld bags, the packing has %lld",
                        NAME, (long long)B, (long long)pk->n);
    ssm_code rc = ssm_packing_check(pk, c->Lmax, err);
    if (rc != SSM_OK)
        return ssm_error_prefix(err, "head %s: ", NAME);
    if (cuda && !pk->d_offsets)
        return ssm_fail(err, SSM_EINVAL, "head %s: the CUDA path needs the packing's offsets on "
                        "the device (d_offsets)", NAME);
    if (!c->pooled || (c->use_attn && !c->attn))
        return ssm_fail(err, SSM_EINVAL, "head %s: forward before the arena was committed", NAME);
    return SSM_OK;
}

static inline real sigmoid_r(real x) {
    if (x >= 0)
        return (real)(1 / (1 + exp(-(double)x)));
    double e = exp((double)x);
    return (real)(e / (1 + e));
}

// A, G, score and attn of the batch's tokens (attention poolings).
static void attention_forward(bag_head *c, const ssm_params *p, const real *feats,
                              const ssm_packing *pk) {
    int64_t T = pk->total, Ha = c->Ha;
    linear_forward(c->A, feats, ssm_params_data(p, c->vw), ssm_params_data(p, c->vb), T, c->D, Ha);
    if (c->gated)
        linear_forward(c->G, feats, ssm_params_data(p, c->uw), ssm_params_data(p, c->ub), T,
                       c->D, Ha);
    const real *w = ssm_params_data(p, c->aw);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++) {
        real *a = c->A + t * Ha, *g = c->gated ? c->G + t * Ha : NULL;
        double s = 0;
        for (int64_t j = 0; j < Ha; j++) {
            a[j] = (real)tanh((double)a[j]);
            if (g)
                g[j] = sigmoid_r(g[j]);
            s += (double)w[j] * a[j] * (g ? g[j] : 1);
        }
        c->score[t] = (real)s;
    }
    const int64_t *off = pk->offsets;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < pk->n; b++) { // the softmax of each bag, its maximum subtracted
        real m = c->score[off[b]];
        for (int64_t t = off[b] + 1; t < off[b + 1]; t++)
            m = c->score[t] > m ? c->score[t] : m;
        double sum = 0;
        for (int64_t t = off[b]; t < off[b + 1]; t++)
            sum += exp((double)c->score[t] - m);
        for (int64_t t = off[b]; t < off[b + 1]; t++)
            c->attn[t] = (real)(exp((double)c->score[t] - m) / sum);
    }
}

// pooled [B, D] from feats [total, D].
static void pool_forward(bag_head *c, const real *feats, const ssm_packing *pk) {
    const int64_t *off = pk->offsets, D = c->D;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < pk->n; b++) {
        real *z = c->pooled + b * D;
        int64_t n = off[b + 1] - off[b];
        for (int64_t d = 0; d < D; d++) {
            if (c->pool == SSM_BAG_POOL_CLS) {
                z[d] = feats[off[b] * D + d];
            } else if (c->pool == SSM_BAG_POOL_MAX) {
                int64_t best = off[b];
                for (int64_t t = off[b] + 1; t < off[b + 1]; t++)
                    best = feats[t * D + d] > feats[best * D + d] ? t : best;
                z[d] = feats[best * D + d];
                c->argmax[b * D + d] = best;
            } else {
                double s = 0;
                for (int64_t t = off[b]; t < off[b + 1]; t++)
                    s += (double)(c->use_attn ? c->attn[t] : 1) * feats[t * D + d];
                z[d] = (real)(c->use_attn ? s : s / (double)n);
            }
        }
    }
}

static ssm_code bh_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                           int64_t B, ssm_error *err) {
    bag_head *c = h->impl;
    SSM_TRY(check_batch(h, B, 0, err));
    if (c->use_attn)
        attention_forward(c, p, feats, h->pack);
    c->have_attn = c->use_attn;
    pool_forward(c, feats, h->pack);
    linear_forward(out, c->pooled, ssm_params_data(p, c->w_idx), ssm_params_data(p, c->b_idx), B,
                   c->D, c->V);
    return SSM_OK;
}

// The attention's backward from dz = dpooled: dfeats through the weighted sum and through
// the scores; the attention layers' parameter gradients. Reads A, G, attn of the forward
// and overwrites A, G and score with gradients.
static void attention_backward(bag_head *c, ssm_params *p, real *dfeats, const real *feats,
                               const ssm_packing *pk) {
    const int64_t *off = pk->offsets, D = c->D, Ha = c->Ha, T = pk->total;
    real *ds = c->score;
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < pk->n; b++) {
        const real *dz = c->dpooled + b * D;
        double S = 0;
        for (int64_t t = off[b]; t < off[b + 1]; t++) {
            double da = 0;
            for (int64_t d = 0; d < D; d++)
                da += (double)feats[t * D + d] * dz[d];
            ds[t] = (real)da;
            S += (double)c->attn[t] * da;
        }
        for (int64_t t = off[b]; t < off[b + 1]; t++) {
            real a = c->attn[t];
            ds[t] = (real)(a * ((double)ds[t] - S));
            for (int64_t d = 0; d < D; d++)
                dfeats[t * D + d] += a * dz[d];
        }
    }
    const real *w = ssm_params_data(p, c->aw);
    real *dw = ssm_params_grad(p, c->aw);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < Ha; j++) { // dw_j = sum_t ds_t P_tj, in token order
        double s = 0;
        for (int64_t t = 0; t < T; t++)
            s += (double)ds[t] * c->A[t * Ha + j] * (c->gated ? c->G[t * Ha + j] : 1);
        dw[j] += (real)s;
    }
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < T; t++)
        for (int64_t j = 0; j < Ha; j++) {
            real a = c->A[t * Ha + j], g = c->gated ? c->G[t * Ha + j] : 1, dP = ds[t] * w[j];
            c->A[t * Ha + j] = dP * g * (1 - a * a);
            if (c->gated)
                c->G[t * Ha + j] = dP * a * g * (1 - g);
        }
    linear_backward(dfeats, ssm_params_grad(p, c->vw), ssm_params_grad(p, c->vb), c->A, feats,
                    ssm_params_data(p, c->vw), T, D, Ha);
    if (c->gated)
        linear_backward(dfeats, ssm_params_grad(p, c->uw), ssm_params_grad(p, c->ub), c->G, feats,
                        ssm_params_data(p, c->uw), T, D, Ha);
}

static ssm_code bh_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                            const real *feats, int64_t B, ssm_error *err) {
    bag_head *c = h->impl;
    SSM_TRY(check_batch(h, B, 0, err));
    const ssm_packing *pk = h->pack;
    const int64_t *off = pk->offsets, D = c->D;
    memset(c->dpooled, 0, (size_t)(B * D) * sizeof(real));
    linear_backward(c->dpooled, ssm_params_grad(p, c->w_idx), ssm_params_grad(p, c->b_idx), dout,
                    c->pooled, ssm_params_data(p, c->w_idx), B, D, c->V);
    if (c->use_attn) {
        attention_backward(c, p, dfeats, feats, pk);
        return SSM_OK;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t b = 0; b < B; b++) {
        const real *dz = c->dpooled + b * D;
        if (c->pool == SSM_BAG_POOL_CLS) {
            for (int64_t d = 0; d < D; d++)
                dfeats[off[b] * D + d] += dz[d];
        } else if (c->pool == SSM_BAG_POOL_MAX) {
            for (int64_t d = 0; d < D; d++)
                dfeats[c->argmax[b * D + d] * D + d] += dz[d];
        } else {
            real inv = (real)(1.0 / (double)(off[b + 1] - off[b]));
            for (int64_t t = off[b]; t < off[b + 1]; t++)
                for (int64_t d = 0; d < D; d++)
                    dfeats[t * D + d] += dz[d] * inv;
        }
    }
    return SSM_OK;
}

static void bh_free(ssm_head *h) {
    free(h->impl);
    h->impl = NULL;
}

#if SSM_HAVE_CUDA
// The CUDA path: the same steps on device arrays, fp32 (also in mixed precision: the head
// is small beside the backbone). The packing's d_offsets give the bags.
static ssm_code bh_plan_cuda(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    return plan_takes(h, a, B_max, 1);
}

static ssm_code bh_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                                int64_t B, ssm_error *err) {
    bag_head *c = h->impl;
    SSM_TRY(check_batch(h, B, 1, err));
    const ssm_packing *pk = h->pack;
    const int64_t T = pk->total, D = c->D, Ha = c->Ha, *off = pk->d_offsets;
    if (c->use_attn) {
        SSM_CUDA_TRY(linear_forward_cuda(c->A, feats, ssm_params_data(p, c->vw),
                                         ssm_params_data(p, c->vb), T, D, Ha), err);
        if (c->gated)
            SSM_CUDA_TRY(linear_forward_cuda(c->G, feats, ssm_params_data(p, c->uw),
                                             ssm_params_data(p, c->ub), T, D, Ha), err);
        SSM_CUDA_TRY(bag_tanh_sigmoid_cuda(c->A, c->gated ? c->G : NULL, T * Ha), err);
        SSM_CUDA_TRY(bag_attn_score_cuda(c->score, c->A, c->gated ? c->G : NULL,
                                         ssm_params_data(p, c->aw), T, Ha), err);
        SSM_CUDA_TRY(bag_softmax_cuda(c->attn, c->score, off, B), err);
    }
    c->have_attn = c->use_attn;
    if (c->pool == SSM_BAG_POOL_MAX)
        SSM_CUDA_TRY(bag_max_pool_cuda(c->pooled, c->argmax, feats, off, B, D), err);
    else if (c->pool == SSM_BAG_POOL_CLS)
        SSM_CUDA_TRY(bag_cls_pool_cuda(c->pooled, feats, off, B, D), err);
    else
        SSM_CUDA_TRY(bag_segsum_cuda(c->pooled, feats, NULL, c->use_attn ? c->attn : NULL, off, B,
                                     T, D, 0, c->partial, c->chunk_start, c->max_chunks), err);
    SSM_CUDA_TRY(linear_forward_cuda(out, c->pooled, ssm_params_data(p, c->w_idx),
                                     ssm_params_data(p, c->b_idx), B, D, c->V), err);
    return SSM_OK;
}

static ssm_code bh_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                 const real *feats, int64_t B, ssm_error *err) {
    bag_head *c = h->impl;
    SSM_TRY(check_batch(h, B, 1, err));
    const ssm_packing *pk = h->pack;
    const int64_t T = pk->total, D = c->D, Ha = c->Ha, *off = pk->d_offsets;
    SSM_CUDA_TRY(ssm_cuda_zero(c->dpooled, (size_t)(B * D) * sizeof(real)), err);
    SSM_CUDA_TRY(linear_backward_cuda(c->dpooled, ssm_params_grad(p, c->w_idx),
                                      ssm_params_grad(p, c->b_idx), dout, c->pooled,
                                      ssm_params_data(p, c->w_idx), B, D, c->V), err);
    int mode = c->use_attn ? 0 : c->pool == SSM_BAG_POOL_MEAN ? 1
             : c->pool == SSM_BAG_POOL_CLS ? 2 : 3;
    SSM_CUDA_TRY(bag_pool_backward_cuda(dfeats, c->dpooled, c->attn, c->argmax, off, B, T, D,
                                        mode), err);
    if (!c->use_attn)
        return SSM_OK;
    real *G = c->gated ? c->G : NULL;
    SSM_CUDA_TRY(bag_attn_dscore_cuda(c->score, c->attn, feats, c->dpooled, off, B, D), err);
    SSM_CUDA_TRY(bag_segsum_cuda(ssm_params_grad(p, c->aw), c->A, G, c->score, NULL, 1, T, Ha, 1,
                                 c->partial, c->chunk_start, c->max_chunks), err);
    SSM_CUDA_TRY(bag_attn_dpre_cuda(c->A, G, c->score, ssm_params_data(p, c->aw), T, Ha), err);
    SSM_CUDA_TRY(linear_backward_cuda(dfeats, ssm_params_grad(p, c->vw), ssm_params_grad(p, c->vb),
                                      c->A, feats, ssm_params_data(p, c->vw), T, D, Ha), err);
    if (c->gated)
        SSM_CUDA_TRY(linear_backward_cuda(dfeats, ssm_params_grad(p, c->uw),
                                          ssm_params_grad(p, c->ub), G, feats,
                                          ssm_params_data(p, c->uw), T, D, Ha), err);
    return SSM_OK;
}
#endif

const ssm_head_vtable ssm_head_bag = {
    .name = NAME,
    .summary = "MIL bags (ragged trunk): pool each bag's tokens (ABMIL attention or gated "
               "attention, mean, max, class token) -> linear -> logits [V]",
    .create = bh_create,
    .init_params = bh_init_params,
    .plan = bh_plan,
    .forward = bh_forward,
    .backward = bh_backward,
    .free_impl = bh_free,
#if SSM_HAVE_CUDA
    .plan_cuda = bh_plan_cuda,
    .forward_cuda = bh_forward_cuda,
    .backward_cuda = bh_backward_cuda,
#endif
    .ragged = 1,
};
