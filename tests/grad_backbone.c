// Check suite (double build): gradients of the Mamba mixer, a block and
// stacks, checked end to end against central finite differences for every
// parameter tensor and the input.
//
// The scalar loss is sum(out * W) for a fixed random W, so the analytic
// gradient is the backward of dout = W. Tolerance: in double with h = 1e-4,
// the central difference has truncation error ~h^2 |f'''| / 6 ~ 1e-9 |f'''|
// and rounding error ~eps |loss| / h ~ 2e-16 * 10 / 1e-4 = 2e-11 absolute.
// The error measure is |fd - g| / max(|fd| + |g|, 1e-4): gradients above 1e-4
// are held to 1e-5 relative, tiny ones (deep layers' A_log, dt_proj: 1e-9 to
// 1e-6) to 1e-9 absolute. Correct code measures <= 1e-6 here (printed per
// case); a wrong term shows up at 1e-2 or worse.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "backbone/mamba_internal.h"
#include "tests/backbone_fixture.h"
#include "tests/util/grad_check.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define FD_H 1e-4
#define FD_FLOOR 1e-4
#define FD_TOL 1e-5
#define FD_MAX_CHECKS 48

enum { ORD_FIXED, ORD_RANDOM, ORD_SCHEDULE };

typedef struct {
    mamba_config cfg;
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
    int64_t B, L, D;
    real *in, *out, *w, *din; // [B, L, D]
    int32_t *perm, *sched;
    mamba_orders o;
    int mixer_only; // run layer 0's mixer alone (no norm, no residual)
} fx;

static void fx_init(fx *f, mamba_config cfg, int order_kind, int mixer_only, int64_t B) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->B = B;
    f->L = 7;
    f->D = cfg.d_model;
    f->mixer_only = mixer_only;
    ssm_error e = {0};
    bb_declare(&f->s, &f->p, &cfg, 7);
    // Move away from the init's special values so that every term matters:
    // dt around 0.3..2 (the init's dt <= 0.1 barely uses the state), norm
    // weights and D away from 1, A_log shifted.
    uint64_t st = 12345;
    perturb_params(&f->p, &st, -1.0, 0.3);
    bb_plan(f->s, &f->a, f->B, f->L);

    const int64_t n = f->B * f->L * f->D, K = cfg.n_branches, BL = f->B * f->L;
    f->in = malloc((size_t)n * sizeof(real));
    f->out = malloc((size_t)n * sizeof(real));
    f->w = malloc((size_t)n * sizeof(real));
    f->din = malloc((size_t)n * sizeof(real));
    tu_fill_uniform(f->in, (size_t)n, -1, 1, &st);
    tu_fill_uniform(f->w, (size_t)n, -1, 1, &st);
    int64_t count = order_kind == ORD_SCHEDULE ? 3 : K;
    f->perm = malloc((size_t)(count * BL) * sizeof(int32_t));
    for (int64_t c = 0; c < count; c++) {
        int32_t *pc = f->perm + c * BL;
        if (order_kind == ORD_RANDOM || c >= 2)
            for (int64_t b = 0; b < f->B; b++)
                random_perm(pc + b * f->L, f->L, &st);
        else if (c == 0)
            mamba_order_identity(pc, f->B, f->L);
        else
            mamba_order_reverse(pc, f->B, f->L);
    }
    f->o = (mamba_orders){.count = count, .perm = f->perm, .schedule = NULL};
    if (order_kind == ORD_SCHEDULE) {
        // Orders change from layer to layer (PCM-like cycling).
        f->sched = malloc((size_t)(cfg.n_layers * K) * sizeof(int32_t));
        for (int64_t i = 0; i < cfg.n_layers; i++)
            for (int64_t k = 0; k < K; k++)
                f->sched[i * K + k] = (int32_t)((i + 2 * k) % 3);
        f->o.schedule = f->sched;
    }
    ck_assert_msg(mamba_orders_check(f->s, &f->o, f->B, &e) == SSM_OK, "%s", e.msg);
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

static void fx_forward(fx *f) {
    if (f->mixer_only) {
        memset(f->out, 0, (size_t)(f->B * f->L * f->D) * sizeof(real));
        mamba_mixer_forward(f->s, &f->p, 0, f->out, f->in, &f->o, f->B);
    } else {
        mamba_stack_forward(f->s, &f->p, f->out, f->in, &f->o, f->B);
    }
}

static double fx_loss(void *ctx) {
    fx *f = ctx;
    fx_forward(f);
    return tu_dot(f->out, f->w, (size_t)(f->B * f->L * f->D));
}

// The tensors layer 0's mixer alone uses (no norm, no other layer).
static int mixer_param(const char *name) {
    return !strstr(name, "norm") && strncmp(name, "layers.0.", 9) == 0;
}

// Forward + backward, then every parameter tensor and the input against FD.
static void fx_check_all(fx *f, const char *label) {
    const size_t n = (size_t)(f->B * f->L * f->D);
    ssm_params_zero_grad(&f->p);
    memset(f->din, 0, n * sizeof(real));
    fx_forward(f);
    if (f->mixer_only)
        mamba_mixer_backward(f->s, &f->p, 0, f->din, f->w, f->in, &f->o, f->B);
    else
        mamba_stack_backward(f->s, &f->p, f->din, f->w, &f->o, f->B);
    // The backward accumulates: a second pass must double every gradient.
    real *g1 = malloc(f->p.total * sizeof(real));
    memcpy(g1, f->p.grad, f->p.total * sizeof(real));
    fx_forward(f);
    if (f->mixer_only)
        mamba_mixer_backward(f->s, &f->p, 0, f->din, f->w, f->in, &f->o, f->B);
    else
        mamba_stack_backward(f->s, &f->p, f->din, f->w, &f->o, f->B);
    tu_assert_doubled(f->p.grad, g1, f->p.total, 1e-12, label);
    memcpy(f->p.grad, g1, f->p.total * sizeof(real));
    for (size_t i = 0; i < n; i++)
        f->din[i] *= 0.5;
    free(g1);

    double worst_all = tu_fd_check_params(&f->p, NULL, fx_loss, f, FD_H, FD_FLOOR, FD_MAX_CHECKS,
                                          FD_TOL, f->mixer_only ? mixer_param : NULL, label);
    size_t worst;
    double err = tu_fd_check(f->in, f->din, n, fx_loss, f, FD_H, FD_FLOOR, 4 * FD_MAX_CHECKS, &worst);
    ck_assert_msg(err < FD_TOL, "%s: input[%zu]: analytic %.10g, rel err %.3g", label, worst,
                  (double)f->din[worst], err);
    if (err > worst_all)
        worst_all = err;
    printf("  %-34s worst rel err %.2e over %zu tensors + input\n", label, worst_all, f->p.count);
}

// B = 2 on 2+ threads runs the mixer's per-sample parallel path; B = 1 (fewer
// samples than threads) its sequential path with the kernels threaded inside.
static void run_case_b(mamba_config c, int order_kind, int mixer_only, int64_t B,
                       const char *label) {
    fx f;
    fx_init(&f, c, order_kind, mixer_only, B);
    fx_check_all(&f, label);
    fx_free(&f);
}

static void run_case(mamba_config c, int order_kind, int mixer_only, const char *label) {
    run_case_b(c, order_kind, mixer_only, 2, label);
}

START_TEST(mixer_k1) { run_case(cfg_tiny(1, 1), ORD_FIXED, 1, "mixer K=1"); }
END_TEST
START_TEST(mixer_k2_bidirectional) {
    run_case(cfg_tiny(2, 1), ORD_FIXED, 1, "mixer K=2 {id, rev}");
}
END_TEST
START_TEST(mixer_k4_random_perms) { run_case(cfg_tiny(4, 1), ORD_RANDOM, 1, "mixer K=4 random"); }
END_TEST
START_TEST(mixer_one_sample) { run_case_b(cfg_tiny(2, 1), ORD_RANDOM, 1, 1, "mixer K=2 B=1"); }
END_TEST
START_TEST(block_k2) { run_case(cfg_tiny(2, 1), ORD_FIXED, 0, "block K=2"); }
END_TEST
START_TEST(stack4_bidirectional) { run_case(cfg_tiny(2, 4), ORD_FIXED, 0, "stack 4 layers K=2"); }
END_TEST
START_TEST(stack_layernorm) {
    mamba_config c = cfg_tiny(2, 2);
    c.norm = MAMBA_NORM_LAYER;
    run_case(c, ORD_FIXED, 0, "stack 2 layers LayerNorm");
}
END_TEST
START_TEST(stack_merge_sum) {
    mamba_config c = cfg_tiny(2, 2);
    c.merge = MAMBA_MERGE_SUM;
    run_case(c, ORD_RANDOM, 0, "stack 2 layers merge=sum");
}
END_TEST
START_TEST(stack_schedule) {
    run_case(cfg_tiny(2, 4), ORD_SCHEDULE, 0, "stack 4 layers scheduled orders");
}
END_TEST
START_TEST(stack_no_final_norm) {
    mamba_config c = cfg_tiny(1, 2);
    c.final_norm = 0;
    c.scan_chunk = 64; // one chunk
    run_case(c, ORD_FIXED, 0, "stack no norm_f, one chunk");
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_backbone");
    TCase *tc = tcase_create("grad_backbone");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, mixer_k1);
    tcase_add_test(tc, mixer_k2_bidirectional);
    tcase_add_test(tc, mixer_k4_random_perms);
    tcase_add_test(tc, mixer_one_sample);
    tcase_add_test(tc, block_k2);
    tcase_add_test(tc, stack4_bidirectional);
    tcase_add_test(tc, stack_layernorm);
    tcase_add_test(tc, stack_merge_sum);
    tcase_add_test(tc, stack_schedule);
    tcase_add_test(tc, stack_no_final_norm);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
