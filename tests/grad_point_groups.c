// Check suite (double build): gradients of the point_groups adapter (the mini-PointNet:
// convs, LayerNorms, ReLUs, the two max-pools, the split second_conv; the positional MLP
// with its GELU) against central finite differences, for every parameter tensor; and of
// the inverse-distance interpolation (feature propagation) with respect to the features.
//
// Loss: sum(tokens * R) with a fixed random R. The adapter is piecewise smooth: a ReLU
// input or a max-pool winner can change inside [theta - h, theta + h]. Such an element
// is detected exactly (the ReLU masks and the argmaxes at theta +- h are compared with
// those at theta) and skipped; the suite requires at most 5% skipped. Elsewhere the
// function is smooth (LayerNorm, GELU, products), the central difference has an O(h^2)
// truncation error: with h = 1e-6 and curvatures O(10), about 1e-11 absolute, plus
// rounding eps * |loss| / h ~ 1e-16 * 100 / 1e-6 = 1e-8 absolute on gradients of size
// ~0.1..100. A relative error of 1e-5 (floor 1e-6) is loose by ~100x yet catches a wrong
// index, a missing term or a wrong factor (O(1) errors).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/point_groups.h"
#include "core/arena.h"
#include "core/params.h"
#include "kernels/pointops.h"
#include "tests/util/testutil.h"

#if !REAL_IS_DOUBLE
#error "grad_point_groups must be built with -DSSM_DOUBLE"
#endif

#define TOL 1e-5
#define FD_H 1e-6
#define FLOOR 1e-6
#define CHECKS 24 // elements per parameter tensor

typedef struct {
    ssm_adapter *a;
    ssm_params *p;
    real *tokens, *x, *R;
    int64_t B;
} pg_ctx;

static double loss(pg_ctx *c) {
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(c->a, c->p, c->tokens, NULL, c->x, c->B, &e), SSM_OK);
    return tu_dot(c->tokens, c->R, (size_t)(c->B * c->a->seq_len * c->a->d_model));
}

// A hash of every kink decision of the last forward.
static uint64_t signature(const pg_ctx *c) {
    const point_groups *pg = c->a->impl;
    int64_t BG = c->B * pg->G, R = BG * pg->k, D = c->a->d_model;
    uint64_t h = 1469598103934665603ull;
#define MIX(v) (h = (h ^ (uint64_t)(v)) * 1099511628211ull)
    for (int64_t i = 0; i < R * PG_H1; i++)
        MIX(pg->a1[i] > 0);
    for (int64_t i = 0; i < R * PG_H3; i++)
        MIX(pg->a3[i] > 0);
    for (int64_t i = 0; i < BG * PG_H2; i++)
        MIX(pg->am2[i]);
    for (int64_t i = 0; i < BG * D; i++)
        MIX(pg->am4[i]);
#undef MIX
    return h;
}

static void check(int64_t N, int64_t C, int64_t k, int64_t G, int64_t B, uint64_t seed) {
    const int64_t D = 6;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.n_extra = 2;
    snprintf(o.extra[0].key, sizeof o.extra[0].key, "num_groups");
    snprintf(o.extra[0].value, sizeof o.extra[0].value, "%lld", (long long)G);
    snprintf(o.extra[1].key, sizeof o.extra[1].key, "group_size");
    snprintf(o.extra[1].value, sizeof o.extra[1].value, "%lld", (long long)k);
    ssm_input_shape in = {2, {N, C}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_adapter *a;
    ck_assert_int_eq(ssm_adapter_create(&a, "point_groups", &o, &in, D, &p, "", &e), SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_int_eq(a->seq_len, G);
    ssm_rng rng;
    ck_assert_int_eq(ssm_rng_init(&rng, seed, &e), SSM_OK);
    ssm_adapter_init_params(a, &p, &rng); // the real init, then every value perturbed
    uint64_t st = seed;
    for (size_t i = 0; i < p.total; i++)
        p.data[i] += (real)(0.2 * (tu_uniform(&st) - 0.5));
    ssm_arena ar;
    ssm_arena_init(&ar);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    size_t nt = (size_t)(B * G * D), nx = (size_t)(B * N * C);
    real *x = malloc(nx * sizeof *x), *R = malloc(nt * sizeof *R), *tokens = malloc(nt * sizeof *R);
    tu_fill_uniform(x, nx, -1, 1, &st);
    tu_fill_uniform(R, nt, -1, 1, &st);
    pg_ctx ctx = {a, &p, tokens, x, R, B};
    ssm_params_zero_grad(&p);
    ssm_adapter_backward(a, &p, R, x, B);
    int64_t checked = 0, skipped = 0;
    for (size_t t = 0; t < p.count; t++) {
        real *w = ssm_params_data(&p, t), *g = ssm_params_grad(&p, t);
        size_t n = p.items[t].numel, step = n > CHECKS ? n / CHECKS : 1;
        for (size_t i = (size_t)(tu_uniform(&st) * (double)step) % step; i < n; i += step) {
            real keep = w[i];
            loss(&ctx);
            uint64_t s0 = signature(&ctx);
            w[i] = keep + FD_H;
            double lp = loss(&ctx);
            uint64_t sp = signature(&ctx);
            w[i] = keep - FD_H;
            double lm = loss(&ctx);
            uint64_t sm = signature(&ctx);
            w[i] = keep;
            if (sp != s0 || sm != s0) {
                skipped++;
                continue;
            }
            double fd = (lp - lm) / (2 * FD_H);
            double rel = fabs(fd - g[i]) / fmax(fabs(fd) + fabs((double)g[i]), FLOOR);
            ck_assert_msg(rel < TOL, "%s[%zu]: analytic %.10g, finite difference %.10g (rel %.2g)",
                          p.items[t].name, i, (double)g[i], fd, rel);
            checked++;
        }
    }
    ck_assert_msg(skipped * 20 <= checked + skipped, "%lld of %lld elements crossed a kink",
                  (long long)skipped, (long long)(checked + skipped));
    ck_assert(checked > 200);
    free(x);
    free(R);
    free(tokens);
    ssm_rng_free(&rng);
    ssm_arena_free(&ar);
    ssm_adapter_free(a);
    ssm_params_free(&p);
}

START_TEST(grad_xyz) { check(20, 3, 5, 4, 2, 41); }
END_TEST

START_TEST(grad_normals) { check(16, 6, 4, 3, 1, 42); }
END_TEST

// interp_forward is linear in the features: the finite difference is exact up to rounding.
START_TEST(grad_interp) {
    uint64_t st = 9;
    int64_t B = 2, N = 11, M = 5, C = 3, k = 3;
    real q[2 * 11 * 3], s[2 * 5 * 3], d[2 * 11 * 3], w[2 * 11 * 3];
    int32_t idx[2 * 11 * 3];
    tu_fill_uniform(q, sizeof q / sizeof *q, -1, 1, &st);
    tu_fill_uniform(s, sizeof s / sizeof *s, -1, 1, &st);
    knn_forward(idx, d, q, 3, s, 3, B, N, M, k);
    interp_weights(w, d, B * N, k);
    real feat[2 * 5 * 3], out[2 * 11 * 3], Rr[2 * 11 * 3], g[2 * 5 * 3] = {0};
    tu_fill_uniform(feat, sizeof feat / sizeof *feat, -1, 1, &st);
    tu_fill_uniform(Rr, sizeof Rr / sizeof *Rr, -1, 1, &st);
    interp_backward(g, Rr, idx, w, B, N, M, C, k);
    for (size_t i = 0; i < sizeof feat / sizeof *feat; i++) {
        real keep = feat[i];
        feat[i] = keep + 1e-5;
        interp_forward(out, feat, idx, w, B, N, M, C, k);
        double lp = tu_dot(out, Rr, sizeof out / sizeof *out);
        feat[i] = keep - 1e-5;
        interp_forward(out, feat, idx, w, B, N, M, C, k);
        double lm = tu_dot(out, Rr, sizeof out / sizeof *out);
        feat[i] = keep;
        ck_assert(fabs((lp - lm) / 2e-5 - g[i]) < 1e-8);
    }
}
END_TEST

int main(void) {
    Suite *su = suite_create("grad_point_groups");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, grad_xyz);
    tcase_add_test(tc, grad_normals);
    tcase_add_test(tc, grad_interp);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
