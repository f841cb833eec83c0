// Check suite (double build): gradients of the bag_features adapter and of the bag head on
// packed batches (bags of 1, 4 and 3 instances) against central finite differences, every
// element of every parameter (and, for the head, of the features):
//  - adapter: act gelu, relu and none, with and without a class token, with coordinates in
//    the rows (never embedded: no gradient path, and the orders still built);
//  - head: every pooling (attention, gated, mean, max, cls), backward onto non-zero dfeats
//    (it must add), and a second backward doubling the parameter gradients.
// Loss = sum(out * R) for a fixed random R. The adapter with act none, and the head with
// mean / max / cls, are affine in each parameter (no truncation error: 1e-7 relative is
// loose); gelu, tanh, sigmoid and the softmax are smooth, and with h = 1e-5 the truncation
// error is O(h^2) ~ 1e-10 relative: 1e-6 still catches any wrong index or factor (O(1)).
// relu's kink is not crossed: pre-activations are random, none within h of 0 here.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tasks/head_bag.h"
#include "tasks/head_registry.h"
#include "tests/util/grad_check.h"
#include "tests/util/rig.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define TOL 1e-6
#define FD_H 1e-5
#define FLOOR 1e-8

#if !REAL_IS_DOUBLE
#error "grad_bag must be built with -DSSM_DOUBLE"
#endif

static const int64_t OFF[] = {0, 1, 5, 8};
#define NB 3
#define TOTAL 8

// ---- adapter ---------------------------------------------------------------------------

typedef struct {
    ssm_adapter *a;
    ssm_params *p;
    real *tokens;
    int32_t *orders;
    const real *x, *R;
    int64_t nt;
} adapter_ctx;

static double adapter_loss(void *vctx) {
    adapter_ctx *c = vctx;
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(c->a, c->p, c->tokens, c->orders, c->x, NB, &e), SSM_OK);
    return tu_dot(c->tokens, c->R, (size_t)c->nt);
}

static void check_adapter(const char *act, ssm_cls_position cls, int coords) {
    const int64_t F = 3, D = 4, row = F + 2 * coords;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    const char *kv[][2] = {{"act", act}, {"max_tokens", "10"}, {"coords", coords ? "true" : "false"}};
    for (int i = 0; i < 3; i++) {
        snprintf(o.extra[i].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i][0]);
        snprintf(o.extra[i].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i][1]);
    }
    o.n_extra = 3;
    o.cls_token = cls;
    const char *orders[] = {"shuffle", coords ? "coords_hilbert" : "sr:2"};
    o.n_orders = 2;
    for (int i = 0; i < 2; i++)
        snprintf(o.orders[i], SSM_ADAPTER_NAME_MAX, "%s", orders[i]);
    ssm_input_shape in = {1, {row}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_adapter *a;
    ck_assert_msg(ssm_adapter_create(&a, "bag_features", &o, &in, D, &p, "", &e) == SSM_OK, "%s",
                  e.msg);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    uint64_t st = 1234 + (uint64_t)cls * 7 + (uint64_t)act[0];
    tu_fill_uniform(p.data, p.total, -1, 1, &st);
    ssm_arena ar;
    tu_plan_adapter(a, &ar, NB);
    ssm_packing pk = {.n = NB, .total = TOTAL, .offsets = OFF, .key = 5};
    a->pack = &pk;
    int64_t T = TOTAL + NB * a->ragged_extra, nt = T * D;
    real x[TOTAL * 5], R[11 * 4], tokens[11 * 4];
    int32_t ord[2 * 11];
    tu_fill_uniform(x, (size_t)(TOTAL * row), -2, 2, &st);
    for (int64_t i = 0; coords && i < TOTAL; i++) // integer coordinates
        x[i * row + F] = (real)(i % 3), x[i * row + F + 1] = (real)(i / 3);
    tu_fill_uniform(R, (size_t)nt, -1, 1, &st);
    adapter_ctx ctx = {a, &p, tokens, ord, x, R, nt};
    adapter_loss(&ctx);
    ssm_params_zero_grad(&p);
    ssm_adapter_backward(a, &p, R, x, NB);
    real *g = malloc(p.total * sizeof(real));
    memcpy(g, p.grad, p.total * sizeof(real));
    char what[96];
    snprintf(what, sizeof what, "bag_features (act %s, cls %d, coords %d)", act, (int)cls, coords);
    tu_fd_check_params(&p, g, adapter_loss, &ctx, FD_H, FLOOR, 100000, TOL, NULL, what);
    ssm_adapter_backward(a, &p, R, x, NB); // backward accumulates
    tu_assert_doubled(p.grad, g, p.total, 1e-12, what);
    free(g);
    a->pack = NULL;
    ssm_adapter_free(a);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(adapter_matches_finite_differences) {
    const char *acts[] = {"gelu", "relu", "none"};
    for (int i = 0; i < 3; i++) {
        check_adapter(acts[i], SSM_CLS_NONE, 0);
        check_adapter(acts[i], SSM_CLS_HEAD, 1);
    }
    check_adapter("gelu", SSM_CLS_HEAD, 0);
}
END_TEST

// ---- head ------------------------------------------------------------------------------

static void check_head(ssm_bag_pool pool) {
    const int64_t D = 5, V = 3, T = TOTAL;
    ssm_head_options o = {.num_classes = V, .bag_pool = pool, .attn_dim = 6};
    ssm_head_input in = {.adapter = "bag_features", .input = {1, {7}}, .S = 1, .L = 12, .D = D,
                         .cls_index = 0};
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_head *h;
    ck_assert_msg(ssm_head_create(&h, "bag", &o, &in, &p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    uint64_t st = 17 + pool;
    tu_fill_uniform(p.data, p.total, -1, 1, &st);
    ssm_arena ar;
    tu_plan_head(h, &ar, NB);
    ssm_packing pk = {.n = NB, .total = T, .offsets = OFF};
    h->pack = &pk;
    real feats[TOTAL * 5];
    tu_fill_uniform(feats, (size_t)(T * D), -1, 1, &st);
    char what[64];
    snprintf(what, sizeof what, "bag head (%s)", ssm_bag_pool_name(pool));
    tu_check_head_grads(h, &p, feats, (size_t)(T * D), NB, &st, TOL, what);
    h->pack = NULL;
    ssm_head_free(h);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(head_matches_finite_differences) {
    for (int pool = 0; pool < 5; pool++)
        check_head((ssm_bag_pool)pool);
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_bag");
    TCase *tc = tcase_create("grad_bag");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, adapter_matches_finite_differences);
    tcase_add_test(tc, head_matches_finite_differences);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
