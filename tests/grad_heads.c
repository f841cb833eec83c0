// Check suite (double precision): every head in the registry (tasks/head.h) against
// central finite differences, and the losses (tasks/loss.h) the tasks pick.
//  - For each registered head (a case below must exist for it, or the suite fails):
//    random parameters (so biases are not zero), loss = sum(out * R) for a fixed random
//    R, backward with dout = R onto a non-zero dfeats (backward must add), and every
//    element of every parameter's gradient and of dfeats against tu_fd_check.
//  - Each loss: d loss / d out from loss_backward against finite differences of
//    loss_forward.
// The heads are affine in each parameter and in the features (pool + linear; the
// RevIN inversion of the forecast and regress heads is affine in its input too), so a central difference
// has no truncation error: 1e-7 relative is generous. The MAE's kink at 0 is avoided
// (random values, h = 1e-5).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/revin.h"
#include "core/arena.h"
#include "core/params.h"
#include "tasks/head_registry.h"
#include "tasks/loss.h"
#include "tests/util/grad_check.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define TOL 1e-7
#define FD_H 1e-5
#define FLOOR 1e-8

// One way to build each head: the options and the trunk it sits on.
typedef struct {
    const char *head;
    ssm_head_options opt;
    int64_t S, L, D, cls_index;
    ssm_input_shape input;
    int revin; // the adapter normalised each sample (affine RevIN over input.dims[1])
} head_case;

static const head_case CASES[] = {
    {"class", {.num_classes = 3, .pool = SSM_HEAD_POOL_MEAN}, 1, 5, 4, -1, {3, {1, 4, 4}}, 0},
    {"class", {.num_classes = 3, .pool = SSM_HEAD_POOL_CLS}, 1, 5, 4, 2, {3, {1, 4, 4}}, 0},
    {"class", {.num_classes = 4, .pool = SSM_HEAD_POOL_LAST}, 1, 5, 4, -1, {3, {1, 4, 4}}, 0},
    {"class", {.num_classes = 2, .pool = SSM_HEAD_POOL_MEAN}, 3, 2, 4, -1, {2, {8, 3}}, 0},
    // series_variate's layout: a token per variate; series_patch's: S = variates
    {"forecast", {.horizon = 4, .out_vars = 2}, 1, 3, 5, -1, {2, {6, 3}}, 1},
    {"forecast", {.horizon = 3, .out_vars = 3}, 3, 2, 2, -1, {2, {6, 3}}, 0},
    {"regress", {.outputs = 2, .pool = SSM_HEAD_POOL_MEAN}, 1, 3, 4, -1, {2, {6, 3}}, 0},
    {"regress", {.outputs = 1, .pool = SSM_HEAD_POOL_LAST}, 1, 3, 4, -1, {2, {6, 3}}, 1},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

static void check_case(const head_case *hc, uint64_t seed) {
    const int64_t B = 3;
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_revin rv;
    if (hc->revin)
        ck_assert_int_eq(ssm_revin_declare(&rv, &p, "", hc->input.dims[0], hc->input.dims[1], 1, &e),
                         SSM_OK);
    ssm_head_input in = {.adapter = "test", .input = hc->input, .S = hc->S, .L = hc->L,
                         .D = hc->D, .cls_index = hc->cls_index, .inorm = hc->revin ? &rv : NULL};
    ssm_head *h;
    ck_assert_msg(ssm_head_create(&h, hc->head, &hc->opt, &in, &p, "", &e) == SSM_OK, "%s: %s",
                  hc->head, e.msg);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert(ssm_params_find(&p, "head.weight") >= 0); // the reference name
    uint64_t st = seed;
    tu_fill_uniform(p.data, p.total, -1, 1, &st);
    ssm_arena ar;
    ssm_arena_init(&ar);
    for (int pass = 0; pass < 2; pass++) { // measure, then hand out
        if (hc->revin)
            ssm_revin_plan(&rv, &ar, B);
        ck_assert_int_eq(ssm_head_plan(h, &ar, B, &e), SSM_OK);
        if (pass == 0)
            ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
    }
    const size_t nf = (size_t)(B * hc->S * hc->L * hc->D);
    if (hc->revin) { // some windows' statistics, as the adapter's forward leaves them
        int64_t nx = B * hc->input.dims[0] * hc->input.dims[1];
        real *x = malloc((size_t)nx * sizeof(real)), *xn = malloc((size_t)nx * sizeof(real));
        tu_fill_uniform(x, (size_t)nx, -3, 5, &st);
        real *w = ssm_params_data(&p, rv.w_idx); // away from the affine's eps^2 guard
        for (int64_t v = 0; v < rv.V; v++)
            w[v] = (real)(0.7 + 0.2 * v);
        ssm_revin_norm_forward(&rv, &p, xn, x, B);
        free(x);
        free(xn);
    }
    real *feats = malloc(nf * sizeof(real));
    tu_fill_uniform(feats, nf, -1, 1, &st);
    char what[64];
    snprintf(what, sizeof what, "head %s", hc->head);
    tu_check_head_grads(h, &p, feats, nf, B, &st, TOL, what);
    free(feats);
    ssm_head_free(h);
    ssm_arena_free(&ar);
    ssm_params_free(&p);
}

START_TEST(every_registered_head) {
    size_t n;
    const ssm_head_vtable *const *reg = ssm_head_registry(&n);
    ck_assert(n >= 3);
    for (size_t r = 0; r < n; r++) {
        int cases = 0;
        ck_assert_ptr_eq(ssm_head_find(reg[r]->name), reg[r]);
        ck_assert(reg[r]->create && reg[r]->init_params && reg[r]->plan && reg[r]->forward &&
                  reg[r]->backward && reg[r]->free_impl && reg[r]->summary);
        if (reg[r]->ragged) // heads over packed bags: tests/grad_bag.c
            continue;
        if (!strcmp(reg[r]->name, "segment")) // reads points and centres: tests/grad_seg_head.c
            continue;
        for (size_t c = 0; c < N_CASES; c++)
            if (!strcmp(CASES[c].head, reg[r]->name)) {
                check_case(&CASES[c], 17 + c);
                cases++;
            }
        ck_assert_msg(cases > 0, "head %s has no gradient check: add a case to tests/grad_heads.c",
                      reg[r]->name);
    }
}
END_TEST

START_TEST(unknown_head_lists_the_known) {
    ssm_error e = {0};
    const ssm_head_vtable *vt;
    ck_assert_int_eq(ssm_head_lookup("segmentation", &vt, &e), SSM_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(e.msg, "known: class, forecast, regress"));
}
END_TEST

// ---- losses ----------------------------------------------------------------------

typedef struct {
    loss_spec l;
    real *out, *losses, *probs;
    const ssm_targets *t;
    int64_t B, K;
} loss_ctx;

static double loss_value(void *vctx) {
    loss_ctx *c = vctx;
    double v;
    loss_forward(&c->l, &v, c->losses, c->probs, c->out, c->t, c->B, c->K);
    return v;
}

// soft: CE against soft labels (rows of vals made distributions, no class indices); BCE's
// targets are in [0, 1] (multi-hot rows mixed as mixup mixes them).
static void check_loss_targets(loss_kind kind, double smoothing, int soft) {
    enum { B = 4, K = 5 };
    real out[B * K], losses[B * K], probs[B * K], dout[B * K], dloss[B * K], vals[B * K];
    int32_t cls[B] = {0, 4, 2, 1};
    uint64_t st = 3 + kind + 10 * (uint64_t)soft;
    tu_fill_uniform(out, B * K, -2, 2, &st);
    tu_fill_uniform(vals, B * K, kind == LOSS_BCE || soft ? 0 : -2, kind == LOSS_BCE ? 1 : 2, &st);
    for (int64_t i = 0; soft && i < B; i++) { // a distribution per row
        double s = 0;
        for (int64_t j = 0; j < K; j++)
            s += vals[i * K + j];
        for (int64_t j = 0; j < K; j++)
            vals[i * K + j] = (real)(vals[i * K + j] / s);
    }
    if (kind == LOSS_BCE) { // some exact 0 / 1 targets, as multi-hot labels have
        vals[0] = 0, vals[1] = 1, vals[7] = 1;
        out[7] = 9; // far in the saturated tail: the stable form must keep its slope
    }
    ssm_targets t = {.cls = soft ? NULL : cls, .values = vals};
    loss_ctx c = {{kind, smoothing}, out, losses, probs, &t, B, K};
    ssm_error e;
    ck_assert_int_eq(loss_check_targets(&c.l, &t, B, K, &e), SSM_OK);
    loss_value(&c);
    memset(dout, 0, sizeof dout);
    loss_backward(&c.l, dout, dloss, probs, out, &t, B, K);
    size_t worst;
    double err = tu_fd_check(out, dout, (size_t)(B * K), loss_value, &c, FD_H, FLOOR, 1000, &worst);
    ck_assert_msg(err < 1e-6, "loss %s%s: out[%zu] relative error %g", loss_kind_name(kind),
                  soft ? " (soft labels)" : "", worst, err);
    cls[1] = 5; // outside [0, K)
    if (kind == LOSS_CE && !soft)
        ck_assert_int_eq(loss_check_targets(&c.l, &t, B, K, &e), SSM_EDATA);
    if (soft) { // a row that is not a distribution
        vals[K] += (real)0.5;
        ck_assert_int_eq(loss_check_targets(&c.l, &t, B, K, &e), SSM_EDATA);
        ck_assert_ptr_nonnull(strstr(e.msg, "batch sample 1 sum to"));
    }
    if (kind == LOSS_BCE) { // a target outside [0, 1]
        vals[2 * K + 3] = (real)1.5;
        ck_assert_int_eq(loss_check_targets(&c.l, &t, B, K, &e), SSM_EDATA);
        ck_assert_ptr_nonnull(strstr(e.msg, "batch sample 2, class 3"));
    }
    ssm_targets none = {0};
    ck_assert_int_eq(loss_check_targets(&c.l, &none, B, K, &e), SSM_EDATA);
}

static void check_loss(loss_kind kind, double smoothing) { check_loss_targets(kind, smoothing, 0); }

START_TEST(losses_match_finite_differences) {
    check_loss(LOSS_CE, 0);
    check_loss(LOSS_CE, 0.1);
    check_loss(LOSS_MSE, 0);
    check_loss(LOSS_MAE, 0);
    check_loss(LOSS_BCE, 0);
    check_loss_targets(LOSS_CE, 0, 1);   // soft labels (mixup)
    check_loss_targets(LOSS_CE, 0.1, 1); // soft labels with label smoothing
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_heads");
    TCase *tc = tcase_create("grad_heads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_registered_head);
    tcase_add_test(tc, unknown_head_lists_the_known);
    tcase_add_test(tc, losses_match_finite_differences);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
