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

static void random_perm(int32_t *row, int64_t L, uint64_t *st) {
    for (int64_t l = 0; l < L; l++)
        row[l] = (int32_t)l;
    for (int64_t l = L - 1; l > 0; l--) {
        int64_t j = (int64_t)(tu_uniform(st) * (double)(l + 1));
        int32_t t = row[l];
        row[l] = row[j];
        row[j] = t;
    }
}

static void fx_init(fx *f, mamba_config cfg, int order_kind, int mixer_only, int64_t B) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->B = B;
    f->L = 7;
    f->D = cfg.d_model;
    f->mixer_only = mixer_only;
    ssm_error e = {0};
    ssm_params_init(&f->p);
    ck_assert_msg(mamba_stack_declare(&f->s, &cfg, &f->p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(&f->p, &e) == SSM_OK, "%s", e.msg);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, 7, &e) == SSM_OK);
    mamba_stack_init_params(f->s, &f->p, &rng);
    ssm_rng_free(&rng);
    // Move away from the init's special values so that every term matters:
    // dt around 0.3..2 (the init's dt <= 0.1 barely uses the state), norm
    // weights and D away from 1, nonzero norm biases.
    uint64_t st = 12345;
    for (size_t i = 0; i < f->p.count; i++) {
        ssm_param_info *it = &f->p.items[i];
        real *x = f->p.data + it->offset;
        if (strstr(it->name, "dt_proj") && strstr(it->name, ".bias"))
            tu_fill_uniform(x, it->numel, -1.0, 1.0, &st);
        else if (strstr(it->name, "norm") || strstr(it->name, ".D"))
            for (size_t j = 0; j < it->numel; j++)
                x[j] += (real)(0.5 * (tu_uniform(&st) - 0.5));
        else if (strstr(it->name, "A") && strstr(it->name, "_log"))
            for (size_t j = 0; j < it->numel; j++)
                x[j] += (real)(0.3 * (tu_uniform(&st) - 0.5));
    }
    ssm_arena_init(&f->a);
    ck_assert_msg(mamba_stack_plan(f->s, &f->a, f->B, f->L, &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_arena_commit(&f->a, &e) == SSM_OK);
    ck_assert_msg(mamba_stack_plan(f->s, &f->a, f->B, f->L, &e) == SSM_OK, "%s", e.msg);

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
    for (size_t i = 0; i < f->p.total; i++)
        ck_assert_msg(fabs(f->p.grad[i] - 2 * g1[i]) <= 1e-12 * (1 + fabs(g1[i])),
                      "%s: gradient %zu does not accumulate", label, i);
    memcpy(f->p.grad, g1, f->p.total * sizeof(real));
    for (size_t i = 0; i < n; i++)
        f->din[i] *= 0.5;
    free(g1);

    double worst_all = 0;
    for (size_t t = 0; t < f->p.count; t++) {
        const ssm_param_info *it = &f->p.items[t];
        if (f->mixer_only && (strstr(it->name, "norm") || strncmp(it->name, "layers.0.", 9) != 0))
            continue; // not used by the mixer alone
        size_t worst;
        double err = tu_fd_check(f->p.data + it->offset, f->p.grad + it->offset, it->numel, fx_loss,
                                 f, FD_H, FD_FLOOR, FD_MAX_CHECKS, &worst);
        ck_assert_msg(err < FD_TOL, "%s: %s[%zu]: analytic %.10g vs finite differences, rel err %.3g",
                      label, it->name, worst, (double)f->p.grad[it->offset + worst], err);
        if (err > worst_all)
            worst_all = err;
        if (getenv("GRAD_VERBOSE"))
            printf("    %-40s %.2e at %zu (g %.3e)\n", it->name, err, worst,
                   (double)f->p.grad[it->offset + worst]);
    }
    size_t worst;
    double err = tu_fd_check(f->in, f->din, n, fx_loss, f, FD_H, FD_FLOOR, 4 * FD_MAX_CHECKS, &worst);
    ck_assert_msg(err < FD_TOL, "%s: input[%zu]: analytic %.10g, rel err %.3g", label, worst,
                  (double)f->din[worst], err);
    if (err > worst_all)
        worst_all = err;
    printf("  %-34s worst rel err %.2e over %zu tensors + input\n", label, worst_all, f->p.count);
}

static mamba_config small_cfg(int K, int64_t n_layers) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 8;
    c.d_state = 4;
    c.n_layers = n_layers;
    c.n_branches = K;
    c.scan_chunk = 3; // L = 7 gives chunks of 3, 3, 1: the checkpoint recompute path runs
    return c;
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

START_TEST(mixer_k1) { run_case(small_cfg(1, 1), ORD_FIXED, 1, "mixer K=1"); }
END_TEST
START_TEST(mixer_k2_bidirectional) { run_case(small_cfg(2, 1), ORD_FIXED, 1, "mixer K=2 {id, rev}"); }
END_TEST
START_TEST(mixer_k4_random_perms) { run_case(small_cfg(4, 1), ORD_RANDOM, 1, "mixer K=4 random"); }
END_TEST
START_TEST(mixer_one_sample) { run_case_b(small_cfg(2, 1), ORD_RANDOM, 1, 1, "mixer K=2 B=1"); }
END_TEST
START_TEST(block_k2) { run_case(small_cfg(2, 1), ORD_FIXED, 0, "block K=2"); }
END_TEST
START_TEST(stack4_bidirectional) { run_case(small_cfg(2, 4), ORD_FIXED, 0, "stack 4 layers K=2"); }
END_TEST
START_TEST(stack_layernorm) {
    mamba_config c = small_cfg(2, 2);
    c.norm = MAMBA_NORM_LAYER;
    run_case(c, ORD_FIXED, 0, "stack 2 layers LayerNorm");
}
END_TEST
START_TEST(stack_merge_sum) {
    mamba_config c = small_cfg(2, 2);
    c.merge = MAMBA_MERGE_SUM;
    run_case(c, ORD_RANDOM, 0, "stack 2 layers merge=sum");
}
END_TEST
START_TEST(stack_schedule) {
    run_case(small_cfg(2, 4), ORD_SCHEDULE, 0, "stack 4 layers scheduled orders");
}
END_TEST
START_TEST(stack_no_final_norm) {
    mamba_config c = small_cfg(1, 2);
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
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
