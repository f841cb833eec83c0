// Check suite (double build): gradients of the backbone on a packed batch
// (mamba_stack_forward_packed / _backward_packed) against central finite differences, for
// every parameter tensor and the input, as tests/grad_backbone.c does for dense batches.
//
// The packed row holds sequences of lengths {1, 3, 5, 2} (one below d_conv, one across a
// chunk boundary at chunk 3: starts 0, 1, 4, 9; chunk multiples 3, 6, 9) so that the conv
// and scan restarts, the recompute from checkpoints and a start that falls on a checkpoint
// all take part. The loss is sum(out * W) for a fixed random W. Tolerance and error
// measure as in grad_backbone.c: |fd - g| / max(|fd| + |g|, 1e-4) < 1e-5 with h = 1e-4 in
// double (correct code measures <= 1e-6; a missing or leaking term shows at 1e-2).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/backbone_fixture.h"
#include "tests/util/grad_check.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define FD_H 1e-4
#define FD_FLOOR 1e-4
#define FD_TOL 1e-5
#define FD_MAX_CHECKS 48

static const int64_t LENS[] = {1, 3, 5, 2};
#define N_SEQS 4

typedef struct {
    mamba_config cfg;
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
    int64_t T, D, off[N_SEQS + 1];
    ssm_packing pk;
    real *in, *out, *w, *din; // [T, D]
    int32_t *perm, *sched;
    mamba_orders o;
} fx;

static void fx_init(fx *f, mamba_config cfg, int64_t count, int scheduled, int64_t B_max,
                    int64_t L) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->D = cfg.d_model;
    f->off[0] = 0;
    for (int i = 0; i < N_SEQS; i++)
        f->off[i + 1] = f->off[i] + LENS[i];
    f->T = f->off[N_SEQS];
    f->pk = (ssm_packing){.n = N_SEQS, .total = f->T, .offsets = f->off};
    ssm_error e = {0};
    bb_declare(&f->s, &f->p, &cfg, 17);
    uint64_t st = 4321; // away from the init's special values, as grad_backbone.c does
    perturb_params(&f->p, &st, -1.0, 0.3);
    bb_plan(f->s, &f->a, B_max, L);

    const size_t n = (size_t)(f->T * f->D);
    f->in = malloc(n * sizeof(real));
    f->out = malloc(n * sizeof(real));
    f->w = malloc(n * sizeof(real));
    f->din = malloc(n * sizeof(real));
    tu_fill_uniform(f->in, n, -1, 1, &st);
    tu_fill_uniform(f->w, n, -1, 1, &st);
    f->perm = malloc(sizeof(int32_t) * (size_t)(count * f->T));
    mamba_order_identity_packed(f->perm, &f->pk);
    if (count > 1)
        mamba_order_reverse_packed(f->perm + f->T, &f->pk);
    for (int64_t c = 2; c < count; c++) // random within each sequence
        for (int i = 0; i < N_SEQS; i++) {
            int32_t *row = f->perm + c * f->T + f->off[i];
            for (int64_t l = 0; l < LENS[i]; l++)
                row[l] = (int32_t)(f->off[i] + l);
            for (int64_t l = LENS[i] - 1; l > 0; l--) {
                int64_t j = (int64_t)(tu_uniform(&st) * (double)(l + 1));
                int32_t t = row[l];
                row[l] = row[j];
                row[j] = t;
            }
        }
    f->o = (mamba_orders){.count = count, .perm = f->perm};
    if (scheduled) {
        const int64_t K = cfg.n_branches;
        f->sched = malloc(sizeof(int32_t) * (size_t)(cfg.n_layers * K));
        for (int64_t i = 0; i < cfg.n_layers; i++)
            for (int64_t k = 0; k < K; k++)
                f->sched[i * K + k] = (int32_t)((i + 2 * k + 1) % count);
        f->o.schedule = f->sched;
    }
    ck_assert_msg(mamba_orders_check_packed(f->s, &f->o, &f->pk, &e) == SSM_OK, "%s", e.msg);
}

static void fx_free(fx *f) {
    mamba_stack_free(f->s);
    ssm_params_free(&f->p);
    ssm_arena_free(&f->a);
    free(f->in), free(f->out), free(f->w), free(f->din), free(f->perm), free(f->sched);
}

static double fx_loss(void *ctx) {
    fx *f = ctx;
    mamba_stack_forward_packed(f->s, &f->p, f->out, f->in, &f->o, &f->pk);
    return tu_dot(f->out, f->w, (size_t)(f->T * f->D));
}

static void fx_check_all(fx *f, const char *label) {
    const size_t n = (size_t)(f->T * f->D);
    ssm_params_zero_grad(&f->p);
    memset(f->din, 0, n * sizeof(real));
    mamba_stack_forward_packed(f->s, &f->p, f->out, f->in, &f->o, &f->pk);
    mamba_stack_backward_packed(f->s, &f->p, f->din, f->w, &f->o, &f->pk);
    double worst_all = tu_fd_check_params(&f->p, NULL, fx_loss, f, FD_H, FD_FLOOR, FD_MAX_CHECKS,
                                          FD_TOL, NULL, label);
    size_t worst;
    double err = tu_fd_check(f->in, f->din, n, fx_loss, f, FD_H, FD_FLOOR, 4 * FD_MAX_CHECKS, &worst);
    ck_assert_msg(err < FD_TOL, "%s: input[%zu] (token %zu): analytic %.10g, rel err %.3g", label,
                  worst, worst / (size_t)f->D, (double)f->din[worst], err);
    if (err > worst_all)
        worst_all = err;
    printf("  %-40s worst rel err %.2e over %zu tensors + input\n", label, worst_all, f->p.count);
}

START_TEST(packed_stack_bidirectional) {
    fx f;
    fx_init(&f, cfg_tiny(2, 2), 2, 0, 1, 11);
    fx_check_all(&f, "packed 2 layers {id, rev}");
    fx_free(&f);
}
END_TEST

START_TEST(packed_stack_scheduled_orders) {
    fx f;
    fx_init(&f, cfg_tiny(2, 2), 4, 1, 1, 11);
    fx_check_all(&f, "packed 2 layers, 4 orders scheduled");
    fx_free(&f);
}
END_TEST

START_TEST(packed_on_dense_plan_layernorm) {
    // planned (B_max 2, L 6): 12 tokens of budget for the 11 packed ones
    mamba_config c = cfg_tiny(2, 2);
    c.norm = MAMBA_NORM_LAYER;
    c.merge = MAMBA_MERGE_SUM;
    fx f;
    fx_init(&f, c, 3, 1, 2, 6);
    fx_check_all(&f, "packed on plan (2, 6), LayerNorm, sum");
    fx_free(&f);
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_backbone_packed");
    TCase *tc = tcase_create("grad_backbone_packed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, packed_stack_bidirectional);
    tcase_add_test(tc, packed_stack_scheduled_orders);
    tcase_add_test(tc, packed_on_dense_plan_layernorm);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
