// Check suite (double build): the segment head (tasks/head_segment.c) against central
// finite differences: every parameter tensor (the point MLP and its LayerNorm, the
// category embedding with its LeakyReLU, convs1's three blocks, the two LayerNorms, convs2,
// convs3) and the features, whose gradient comes through the 3-NN inverse-distance
// interpolation onto the points, the max and the mean over the tokens.
//
// Loss: sum(out * R) with a fixed random R; backward with dout = R onto a non-zero dfeats
// (it must add). The head is piecewise smooth: a ReLU input, the LeakyReLU's sign or a
// max-pool winner can change inside [theta - h, theta + h]; such an element is detected
// exactly (those decisions at theta +- h against theta) and skipped, at most 5% of them.
// Elsewhere the function is smooth (LayerNorm, products): with h = 1e-6 the central
// difference is off by O(h^2 * curvature) ~ 1e-11 plus rounding ~1e-16 * |loss| / h ~ 1e-9,
// on gradients of size ~0.01..10: a relative 1e-5 (floor 1e-6) is loose by ~100x and still
// catches a wrong index, a missing term or a wrong factor. Two shapes: with categories and
// normals (C = 6), and without categories, with fewer tokens than SEG_KNN (K = G = 2).
// Also: the head refuses a trunk without token positions, and a forward without the
// batch's categories.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/params.h"
#include "tasks/head_registry.h"
#include "tasks/head_segment.h"
#include "tests/util/grad_check.h"
#include "tests/util/rig.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if !REAL_IS_DOUBLE
#error "grad_seg_head must be built with -DSSM_DOUBLE"
#endif

#define TOL 1e-5
#define FD_H 1e-6
#define FLOOR 1e-6
#define CHECKS 24 // elements per tensor

typedef struct {
    ssm_head *h;
    ssm_params *p;
    real *out, *feats;
    const real *R;
    int64_t B;
} sctx;

static double loss(sctx *c) {
    ssm_error e;
    ck_assert_int_eq(ssm_head_forward(c->h, c->p, c->out, c->feats, c->B, &e), SSM_OK);
    return tu_dot(c->out, c->R, (size_t)(c->B * c->h->out_numel));
}

// A hash of every kink decision of the last forward.
static uint64_t signature(const sctx *c) {
    const seg_head *s = c->h->impl;
    int64_t R = c->B * s->N;
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    for (int64_t i = 0; i < R * SEG_PF; i++)
        MIX(s->pa[i] > 0);
    for (int64_t i = 0; i < R * s->H; i++)
        MIX(s->a1[i] > 0);
    for (int64_t i = 0; i < R * s->H2; i++)
        MIX(s->a2[i] > 0);
    for (int64_t i = 0; i < c->B * s->D; i++)
        MIX(s->gam[i]);
    for (int64_t i = 0; s->NC && i < c->B * SEG_E; i++)
        MIX(s->eh[i] > 0);
#undef MIX
    return h;
}

static ssm_head *make(ssm_params *p, int64_t N, int64_t C, int64_t G, int64_t D, int64_t P,
                      int64_t NC, int64_t H, ssm_error *e) {
    ssm_head_options o = {.num_classes = P, .categories = NC, .seg_dim = H};
    ssm_head_input in = {.adapter = "point_groups", .input = {2, {N, C}}, .S = 1, .L = G,
                         .D = D, .cls_index = -1, .pos_dims = 3};
    ssm_head *h = NULL;
    ssm_params_init(p);
    if (ssm_head_create(&h, "segment", &o, &in, p, "", e) != SSM_OK)
        return NULL;
    return h;
}

// FD of loss w.r.t. x[0..n) at CHECKS evenly spaced elements, kink-crossing ones skipped.
static void fd(sctx *c, real *x, const real *g, size_t n, const char *what, uint64_t *st,
               int64_t *checked, int64_t *skipped) {
    size_t step = n > CHECKS ? n / CHECKS : 1;
    for (size_t i = (size_t)(tu_uniform(st) * (double)step) % step; i < n; i += step) {
        real keep = x[i];
        loss(c);
        uint64_t s0 = signature(c);
        x[i] = keep + FD_H;
        double lp = loss(c);
        uint64_t sp = signature(c);
        x[i] = keep - FD_H;
        double lm = loss(c);
        uint64_t sm = signature(c);
        x[i] = keep;
        if (sp != s0 || sm != s0) {
            (*skipped)++;
            continue;
        }
        double f = (lp - lm) / (2 * FD_H);
        double rel = fabs(f - g[i]) / fmax(fabs(f) + fabs((double)g[i]), FLOOR);
        ck_assert_msg(rel < TOL, "%s[%zu]: analytic %.10g, finite difference %.10g (rel %.2g)",
                      what, i, (double)g[i], f, rel);
        (*checked)++;
    }
}

static void check(int64_t N, int64_t C, int64_t G, int64_t D, int64_t P, int64_t NC, int64_t H,
                  int64_t B, uint64_t seed) {
    ssm_params p;
    ssm_error e = {0};
    ssm_head *h = make(&p, N, C, G, D, P, NC, H, &e);
    ck_assert_msg(h != NULL, "%s", e.msg);
    ck_assert_int_eq(h->out_rows, N);
    ck_assert_int_eq(h->out_numel, N * P);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ssm_rng rng;
    ck_assert_int_eq(ssm_rng_init(&rng, seed, &e), SSM_OK);
    ssm_head_init_params(h, &p, &rng);
    uint64_t st = seed;
    for (size_t i = 0; i < p.total; i++)
        p.data[i] += (real)(0.2 * (tu_uniform(&st) - 0.5));
    ssm_arena ar;
    tu_plan_head(h, &ar, B);
    size_t nx = (size_t)(B * N * C), nf = (size_t)(B * G * D), no = (size_t)(B * N * P);
    real *x = malloc(nx * sizeof *x), *pos = malloc((size_t)(B * G * 3) * sizeof *pos);
    real *feats = malloc(nf * sizeof *feats), *dfeats = malloc(nf * sizeof *dfeats);
    real *pre = malloc(nf * sizeof *pre), *R = malloc(no * sizeof *R), *out = malloc(no * sizeof *out);
    tu_fill_uniform(x, nx, -1, 1, &st);
    for (int64_t b = 0; b < B; b++) // the centres: some of the cloud's points, as FPS picks
        for (int64_t g = 0; g < G; g++)
            memcpy(pos + (b * G + g) * 3, x + (b * N + g * (N / G)) * C, 3 * sizeof *pos);
    tu_fill_uniform(feats, nf, -1, 1, &st);
    tu_fill_uniform(pre, nf, -1, 1, &st);
    tu_fill_uniform(R, no, -1, 1, &st);
    memcpy(dfeats, pre, nf * sizeof *dfeats);
    int32_t cats[4] = {2, 0, 1, 2};
    h->ctx = (ssm_head_context){.x = x, .positions = pos};
    ck_assert_int_eq(ssm_head_segment_set_categories(h, NC ? cats : NULL, B, &e), SSM_OK);
    sctx c = {h, &p, out, feats, R, B};
    loss(&c);
    ssm_params_zero_grad(&p);
    ck_assert_int_eq(ssm_head_backward(h, &p, dfeats, R, feats, B, &e), SSM_OK);
    for (size_t i = 0; i < nf; i++) // the feature gradient alone
        dfeats[i] -= pre[i];
    real *g = malloc(p.total * sizeof *g);
    memcpy(g, p.grad, p.total * sizeof *g);
    int64_t checked = 0, skipped = 0;
    for (size_t t = 0; t < p.count; t++)
        fd(&c, ssm_params_data(&p, t), g + p.items[t].offset, p.items[t].numel, p.items[t].name,
           &st, &checked, &skipped);
    fd(&c, feats, dfeats, nf, "feats", &st, &checked, &skipped);
    ck_assert_msg(skipped * 20 <= checked + skipped, "%lld of %lld elements crossed a kink",
                  (long long)skipped, (long long)(checked + skipped));
    ck_assert(checked > 200);
    // backward accumulates: a second call doubles the parameter gradients
    loss(&c);
    ck_assert_int_eq(ssm_head_backward(h, &p, dfeats, R, feats, B, &e), SSM_OK);
    tu_assert_doubled(p.grad, g, p.total, 1e-10, "segment head");
    free(g);
    free(x);
    free(pos);
    free(feats);
    free(dfeats);
    free(pre);
    free(R);
    free(out);
    ssm_rng_free(&rng);
    ssm_head_free(h);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(grad_categories_normals) { check(24, 6, 6, 5, 4, 3, 8, 2, 51); }
END_TEST

START_TEST(grad_plain_two_tokens) { check(10, 3, 2, 4, 3, 0, 6, 3, 52); }
END_TEST

START_TEST(refusals) {
    ssm_params p;
    ssm_error e = {0};
    ssm_head_options o = {.num_classes = 4, .categories = 2};
    ssm_head_input in = {.adapter = "image_patches", .input = {3, {1, 8, 8}}, .S = 1, .L = 4,
                         .D = 4, .cls_index = -1};
    ssm_head *h;
    ssm_params_init(&p);
    ck_assert_int_ne(ssm_head_create(&h, "segment", &o, &in, &p, "", &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, "point cloud"), "%s", e.msg);
    ssm_params_free(&p);
    in.input = (ssm_input_shape){2, {16, 3}};
    ssm_params_init(&p);
    ck_assert_int_ne(ssm_head_create(&h, "segment", &o, &in, &p, "", &e), SSM_OK);
    ck_assert_msg(strstr(e.msg, "image_patches") && strstr(e.msg, "point_groups"), "%s", e.msg);
    ssm_params_free(&p);
    h = make(&p, 16, 3, 4, 4, 4, 2, 8, &e);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ssm_arena ar;
    tu_plan_head(h, &ar, 2);
    real x[2 * 16 * 3] = {0}, pos[2 * 4 * 3] = {0}, feats[2 * 4 * 4] = {0}, out[2 * 16 * 4];
    h->ctx = (ssm_head_context){.x = x, .positions = pos};
    ck_assert_int_eq(ssm_head_forward(h, &p, out, feats, 2, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "categories"), "%s", e.msg);
    int32_t bad[2] = {1, 2};
    ck_assert_int_eq(ssm_head_segment_set_categories(h, bad, 2, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "cloud 1") && strstr(e.msg, "category 2"), "%s", e.msg);
    ssm_head_free(h);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}
END_TEST

int main(void) {
    Suite *su = suite_create("grad_seg_head");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, grad_categories_normals);
    tcase_add_test(tc, grad_plain_two_tokens);
    tcase_add_test(tc, refusals);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
