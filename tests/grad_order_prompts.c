// Check suite (double build): gradients of the backbone with Point Cloud Mamba's order
// prompts (backbone/mamba.h "Order prompts", backbone/prompts.c) against central finite
// differences, for every parameter tensor, order_prompt.weight included, and the input:
//  - K = 1 over a per-layer schedule of per-sample random orders where one order comes back
//    (layers 0 and 2 write the same prompt rows: their gradient is the sum of the two);
//  - K = 2 (bidirectional: each layer an order and its reverse), LayerNorm, no final norm;
//  - the extended blocks (FFN, post-norm), whose residual the slots also live in;
//  - B = 1 (the mixer's sequential path) and B = 2 (per-sample path).
// Rows of order_prompt that no layer's branch 0 reads get exactly zero gradient, and the
// backward accumulates (a second pass doubles every gradient).
//
// The loss is sum(out * W) for a fixed random W. Error measure and bar as
// tests/grad_backbone.c (|fd - g| / max(|fd| + |g|, 1e-4) < 1e-5 at h = 1e-4; the
// extended blocks at h = 2e-5, as tests/grad_backbone_block.c argues). A prompt gradient
// that forgot the tail slots, or one layer of two, is off by ~1e-1.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/backbone_fixture.h"
#include "tests/util/grad_check.h"
#include "tests/util/testutil.h"

#define FD_FLOOR 1e-4
#define FD_TOL 1e-5
#define FD_MAX_CHECKS 40

typedef struct {
    mamba_config cfg;
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
    int64_t B, L, D, O;
    real *in, *out, *w, *din;
    int32_t *perm, *sched;
    mamba_orders o;
} fx;

// O orders of random per-sample permutations (reverse: odd orders are the reversal of the
// order before them); sched [n_layers, K]
static void fx_init(fx *f, mamba_config cfg, int64_t B, int64_t O, const int32_t *sched,
                    int reverse_pairs) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->B = B;
    f->L = 5;
    f->D = cfg.d_model;
    f->O = O;
    bb_declare(&f->s, &f->p, &cfg, 5);
    uint64_t st = 777;
    perturb_params(&f->p, &st, -1.0, 0.3);
    bb_plan(f->s, &f->a, B, f->L);
    const size_t n = (size_t)(B * f->L * f->D);
    f->in = tu_new_uniform(n, -1.5, 1.5, &st);
    f->w = tu_new_uniform(n, -1, 1, &st);
    f->out = malloc(n * sizeof(real));
    f->din = malloc(n * sizeof(real));
    f->perm = malloc((size_t)(O * B * f->L) * sizeof(int32_t));
    for (int64_t r = 0; r < O * B; r++) {
        int32_t *row = f->perm + r * f->L;
        if (reverse_pairs && (r / B) % 2 == 1)
            for (int64_t l = 0; l < f->L; l++)
                row[l] = row[-B * f->L + f->L - 1 - l];
        else
            random_perm(row, f->L, &st);
    }
    const size_t ns = (size_t)(cfg.n_layers * cfg.n_branches);
    f->sched = malloc(ns * sizeof(int32_t));
    memcpy(f->sched, sched, ns * sizeof(int32_t));
    f->o = (mamba_orders){.count = O, .perm = f->perm, .schedule = f->sched};
    ssm_error e = {0};
    ck_assert_msg(mamba_orders_check(f->s, &f->o, B, &e) == SSM_OK, "%s", e.msg);
}

static void fx_free(fx *f) {
    mamba_stack_free(f->s);
    ssm_params_free(&f->p);
    ssm_arena_free(&f->a);
    free(f->in);
    free(f->out);
    free(f->w);
    free(f->din);
    free(f->perm);
    free(f->sched);
}

static double fx_loss(void *ctx) {
    fx *f = ctx;
    mamba_stack_forward(f->s, &f->p, f->out, f->in, &f->o, f->B);
    return tu_dot(f->out, f->w, (size_t)(f->B * f->L * f->D));
}

static void check_case(mamba_config cfg, int64_t B, int64_t O, const int32_t *sched,
                       int reverse_pairs, double h, const char *label) {
    fx f;
    fx_init(&f, cfg, B, O, sched, reverse_pairs);
    const size_t n = (size_t)(B * f.L * f.D);
    ssm_params_zero_grad(&f.p);
    memset(f.din, 0, n * sizeof(real));
    fx_loss(&f);
    mamba_stack_backward(f.s, &f.p, f.din, f.w, &f.o, B);
    real *g1 = malloc(f.p.total * sizeof(real)), *d1 = malloc(n * sizeof(real));
    memcpy(g1, f.p.grad, f.p.total * sizeof(real));
    memcpy(d1, f.din, n * sizeof(real));
    fx_loss(&f);
    mamba_stack_backward(f.s, &f.p, f.din, f.w, &f.o, B);
    tu_assert_doubled(f.p.grad, g1, f.p.total, 1e-12, label);
    tu_assert_doubled(f.din, d1, n, 1e-12, label);
    memcpy(f.p.grad, g1, f.p.total * sizeof(real));
    memcpy(f.din, d1, n * sizeof(real));

    // the prompt table: [O * P, D]; rows of orders no layer's branch 0 reads stay at zero
    const int64_t idx = ssm_params_find(&f.p, "order_prompt.weight");
    ck_assert_msg(idx >= 0, "%s: order_prompt.weight missing", label);
    const ssm_param_info *it = &f.p.items[idx];
    const int64_t P = cfg.order_prompts, D = f.D, K = cfg.n_branches;
    ck_assert(it->ndim == 2 && it->shape[0] == O * P && it->shape[1] == D);
    for (int64_t o = 0; o < O; o++) {
        int used = 0;
        for (int64_t i = 0; i < cfg.n_layers; i++)
            used |= sched[i * K] == o;
        double mag = 0;
        for (int64_t j = 0; j < P * D; j++)
            mag += fabs(f.p.grad[it->offset + o * P * D + j]);
        if (used)
            ck_assert_msg(mag > 1e-6, "%s: order %lld's prompts get no gradient", label,
                          (long long)o);
        else
            ck_assert_msg(mag == 0, "%s: order %lld is read by no layer, yet its prompts have "
                          "gradient %g", label, (long long)o, mag);
    }
    double worst = tu_fd_check_params(&f.p, NULL, fx_loss, &f, h, FD_FLOOR, FD_MAX_CHECKS, FD_TOL,
                                      NULL, label);
    size_t wi;
    double err = tu_fd_check(f.in, f.din, n, fx_loss, &f, h, FD_FLOOR, 4 * FD_MAX_CHECKS, &wi);
    ck_assert_msg(err < FD_TOL, "%s: input[%zu]: analytic %.10g, rel err %.3g", label, wi,
                  (double)f.din[wi], err);
    printf("  %-48s worst rel err %.2e over %zu tensors + input\n", label, fmax(worst, err),
           f.p.count);
    free(g1);
    free(d1);
    fx_free(&f);
}

static mamba_config cfg_of(int K, int64_t layers, int64_t P, int64_t O) {
    mamba_config c = cfg_tiny(K, layers);
    c.order_prompts = P;
    c.prompt_orders = O;
    return c;
}

START_TEST(one_branch_schedule) { // PCM: one order a layer; order 0 comes back at layer 2
    static const int32_t sched[] = {0, 1, 0};
    check_case(cfg_of(1, 3, 2, 3), 2, 3, sched, 0, 1e-4, "K 1, 3 layers, P 2, orders 0 1 0");
    check_case(cfg_of(1, 3, 1, 3), 1, 3, sched, 0, 1e-4, "K 1, 3 layers, P 1, B 1");
}
END_TEST

START_TEST(bidirectional) { // each layer an order and its reverse (PCM's bimamba v2)
    static const int32_t sched[] = {0, 1, 2, 3};
    mamba_config c = cfg_of(2, 2, 2, 4);
    c.norm = MAMBA_NORM_LAYER;
    c.final_norm = 0;
    check_case(c, 2, 4, sched, 1, 1e-4, "K 2 (order, reverse), LayerNorm, no norm_f");
}
END_TEST

START_TEST(extended_blocks) {
    static const int32_t sched[] = {1, 0};
    mamba_config c = cfg_of(1, 2, 2, 2);
    c.ffn_dim = 6;
    check_case(c, 2, 2, sched, 0, 2e-5, "pre + FFN, P 2");
    c.norm_position = MAMBA_POST_NORM;
    c.norm = MAMBA_NORM_LAYER;
    check_case(c, 2, 2, sched, 0, 2e-5, "post + FFN, LayerNorm, P 2");
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_order_prompts");
    TCase *tc = tcase_create("grad_order_prompts");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, one_branch_schedule);
    tcase_add_test(tc, bidirectional);
    tcase_add_test(tc, extended_blocks);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
