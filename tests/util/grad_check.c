// defines: the gradient checks on parameter tables (see grad_check.h)
#include "tests/util/grad_check.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "tasks/head_registry.h"
#include "tests/util/rig.h"

double tu_fd_check_params(ssm_params *p, const real *g, tu_loss_fn loss, void *ctx, double h,
                          double floor, size_t max_checks, double tol, int (*keep)(const char *),
                          const char *what) {
    const real *grad = g ? g : p->grad;
    const int verbose = getenv("GRAD_VERBOSE") != NULL;
    double worst_all = 0;
    for (size_t t = 0; t < p->count; t++) {
        const ssm_param_info *it = &p->items[t];
        if (keep && !keep(it->name))
            continue;
        size_t worst;
        double err = tu_fd_check(p->data + it->offset, grad + it->offset, it->numel, loss, ctx,
                                 h, floor, max_checks, &worst);
        ck_assert_msg(err < tol, "%s: %s[%zu]: analytic %.10g vs finite differences, rel err %.3g",
                      what, it->name, worst, (double)grad[it->offset + worst], err);
        if (err > worst_all)
            worst_all = err;
        if (verbose)
            printf("    %-40s %.2e at %zu (g %.3e)\n", it->name, err, worst,
                   (double)grad[it->offset + worst]);
    }
    return worst_all;
}

void tu_assert_doubled(const real *grad, const real *g1, size_t n, double rtol, const char *what) {
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(grad[i] - 2 * g1[i]) <= rtol * (1 + fabs(g1[i])),
                      "%s: gradient %zu does not accumulate (%.10g after %.10g)", what, i,
                      (double)grad[i], (double)g1[i]);
}

typedef struct {
    ssm_adapter *a;
    ssm_params *p;
    real *tokens;
    const real *x, *R;
    int64_t B;
    size_t nt;
} adapter_ctx;

static double adapter_loss(void *vctx) {
    adapter_ctx *c = vctx;
    ssm_error e;
    ck_assert_int_eq(ssm_adapter_forward(c->a, c->p, c->tokens, NULL, c->x, c->B, &e), SSM_OK);
    return tu_dot(c->tokens, c->R, c->nt);
}

void tu_check_adapter_grads(ssm_adapter *a, ssm_params *p, const real *x, int64_t B,
                            uint64_t *st, double tol, const char *what) {
    ssm_arena ar;
    tu_plan_adapter(a, &ar, B);
    const size_t nt = (size_t)(B * a->n_seqs * a->seq_len * a->d_model);
    real *R = malloc(nt * sizeof(real)), *tokens = malloc(nt * sizeof(real));
    tu_fill_uniform(R, nt, -1, 1, st);
    adapter_ctx ctx = {a, p, tokens, x, R, B, nt};
    ssm_params_zero_grad(p);
    ssm_adapter_backward(a, p, R, x, B);
    tu_fd_check_params(p, NULL, adapter_loss, &ctx, 1e-5, 1e-8, 100000, tol, NULL, what);
    real *g1 = malloc(p->total * sizeof(real));
    memcpy(g1, p->grad, p->total * sizeof(real));
    ssm_adapter_backward(a, p, R, x, B);
    tu_assert_doubled(p->grad, g1, p->total, 1e-12, what);
    free(g1);
    free(R);
    free(tokens);
    ssm_arena_free(&ar);
}

typedef struct {
    ssm_head *h;
    ssm_params *p;
    real *out;
    const real *feats, *R;
    int64_t B;
} head_ctx;

static double head_loss(void *vctx) {
    head_ctx *c = vctx;
    ssm_error e;
    ck_assert_int_eq(ssm_head_forward(c->h, c->p, c->out, c->feats, c->B, &e), SSM_OK);
    return tu_dot(c->out, c->R, (size_t)(c->B * c->h->out_numel));
}

void tu_check_head_grads(ssm_head *h, ssm_params *p, real *feats, size_t nf, int64_t B,
                         uint64_t *st, double tol, const char *what) {
    ssm_error e = {0};
    const size_t no = (size_t)(B * h->out_numel);
    real *R = malloc(no * sizeof(real)), *out = malloc(no * sizeof(real));
    real *pre = malloc(nf * sizeof(real)), *dfeats = malloc(nf * sizeof(real));
    tu_fill_uniform(R, no, -1, 1, st);
    tu_fill_uniform(pre, nf, -1, 1, st);
    memcpy(dfeats, pre, nf * sizeof(real));
    head_ctx ctx = {h, p, out, feats, R, B};
    head_loss(&ctx); // backward follows a forward of the same batch
    ssm_params_zero_grad(p);
    ck_assert_int_eq(ssm_head_backward(h, p, dfeats, R, feats, B, &e), SSM_OK);
    for (size_t i = 0; i < nf; i++) // the features' gradient alone
        dfeats[i] -= pre[i];
    real *g = malloc(p->total * sizeof(real));
    memcpy(g, p->grad, p->total * sizeof(real));
    tu_fd_check_params(p, g, head_loss, &ctx, 1e-5, 1e-8, 100000, tol, NULL, what);
    size_t worst;
    double err = tu_fd_check(feats, dfeats, nf, head_loss, &ctx, 1e-5, 1e-8, 100000, &worst);
    ck_assert_msg(err < tol, "%s: feats[%zu] relative error %g", what, worst, err);
    head_loss(&ctx);
    ck_assert_int_eq(ssm_head_backward(h, p, dfeats, R, feats, B, &e), SSM_OK);
    tu_assert_doubled(p->grad, g, p->total, 1e-12, what);
    free(g);
    free(R);
    free(out);
    free(pre);
    free(dfeats);
}
