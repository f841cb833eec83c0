// Check suite (double build): gradients of the time-series adapters
// (series_variate, series_patch, with and without RevIN and its affine) and
// whole forecast models (the forecast head alone: tests/grad_heads.c)
// (adapter -> Mamba -> head -> RevIN -> MSE), against central finite
// differences, for every element of every adapter/head parameter. The dropout cases run
// a training pass of a fixed key (the adapter's ssm_adapter.drop; a whole model's
// model_loss_and_grad with its step key): the masks are the same at every evaluation, so the
// masked function is differentiated (kernels/dropout.h).
//
// Tolerances: the adapters and the head are affine in each single parameter
// except RevIN's affine weight in the de-normalisation ((yn - c) / (w + eps^2)
// is a hyperbola in w), so for the adapter and head checks the central
// difference has no truncation error (or, for w near 1 and h = 1e-5, a relative
// truncation error of ~h^2 = 1e-10); rounding gives ~eps*|loss|/h ~ 1e-10
// absolute. 1e-7 relative catches any wrong index or factor (O(1) errors).
// The whole model adds the Mamba backbone's smooth nonlinearities (SiLU,
// softplus, exp, RMSNorm, the squared error), and many of its gradients are
// tiny (1e-8 and below: deep x_proj / conv entries at init), where the
// rounding of a loss ~1 (~1e-16 / h) dominates any relative measure. As
// tests/grad_backbone.c: h = 1e-4, relative error 1e-5 with a floor of 1e-4,
// i.e. gradients below 1e-4 must agree to 1e-9 absolute — a missing term or
// a wrong index is off by orders of magnitude more.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/revin.h"
#include "core/arena.h"
#include "core/params.h"
#include "tasks/model.h"
#include "tests/util/grad_check.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if !REAL_IS_DOUBLE
#error "grad_series must be built with -DSSM_DOUBLE"
#endif


// ---- adapters ----------------------------------------------------------------

static void check_adapter(const char *name, int revin, int affine, double drop) {
    const int64_t B = 2, T = 11, V = 3, D = 4;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 4; // series_patch: stride 3, padded to 14: 4 patches, the last reading the pad
    o.stride = 3;
    if (revin) {
        snprintf(o.extra[o.n_extra].key, SSM_ADAPTER_NAME_MAX, "revin");
        snprintf(o.extra[o.n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    }
    if (affine) {
        snprintf(o.extra[o.n_extra].key, SSM_ADAPTER_NAME_MAX, "revin_affine");
        snprintf(o.extra[o.n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    }
    if (drop > 0) {
        snprintf(o.extra[o.n_extra].key, SSM_ADAPTER_NAME_MAX, "dropout");
        snprintf(o.extra[o.n_extra++].value, SSM_ADAPTER_VALUE_MAX, "%g", drop);
    }
    ssm_input_shape in = {2, {T, V}};
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_adapter *a;
    ck_assert_msg(ssm_adapter_create(&a, name, &o, &in, D, &p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ck_assert_int_eq(p.count, 2 + (!strcmp(name, "series_patch")) + 2 * affine);
    ck_assert((a->inorm != NULL) == revin);
    uint64_t st = 77 + 10 * (uint64_t)revin + (uint64_t)affine;
    tu_fill_uniform(p.data, p.total, -1, 1, &st);
    if (affine) { // keep the scale away from 0, as a trained one is
        real *w = ssm_params_data(&p, (size_t)ssm_params_find(&p, "revin.affine_weight"));
        for (int64_t v = 0; v < V; v++)
            w[v] = (real)(0.5 + 0.3 * v);
    }
    real *x = malloc((size_t)(B * T * V) * sizeof(real));
    tu_fill_uniform(x, (size_t)(B * T * V), -2, 3, &st);
    char what[96];
    snprintf(what, sizeof what, "%s revin %d affine %d dropout %g", name, revin, affine, drop);
    a->drop = (ssm_dropout_step){.train = drop > 0, .key = 0xd00d};
    tu_check_adapter_grads(a, &p, x, B, &st, 1e-7, what);
    free(x);
    ssm_adapter_free(a);
    ssm_params_free(&p);
}

START_TEST(variate_grad) { check_adapter("series_variate", 0, 0, 0); }
END_TEST
START_TEST(variate_grad_revin) { check_adapter("series_variate", 1, 0, 0); }
END_TEST
START_TEST(variate_grad_revin_affine) { check_adapter("series_variate", 1, 1, 0); }
END_TEST
START_TEST(patch_grad) { check_adapter("series_patch", 0, 0, 0); }
END_TEST
START_TEST(patch_grad_revin_affine) { check_adapter("series_patch", 1, 1, 0); }
END_TEST
START_TEST(adapters_grad_dropout) {
    check_adapter("series_variate", 1, 1, 0.3);
    check_adapter("series_patch", 1, 0, 0.3);
}
END_TEST

// ---- whole forecast models -------------------------------------------------------

typedef struct {
    ssm_model *m;
    const real *x;
    ssm_targets y;
    int64_t B;
} model_ctx;

static double model_loss(void *vctx) {
    model_ctx *c = vctx;
    ssm_error e;
    double loss;
    ck_assert_int_eq(model_loss_and_grad(c->m, c->x, &c->y, c->B, &loss, &e), SSM_OK);
    return loss;
}

// drop > 0: S-Mamba's layout (post-norm, FFN) with dropout drop on the tokens, in the FFN and
// on the mixer's output, run as a training step of a fixed key.
static void check_model(const char *adapter, int affine, int64_t out_vars, double drop) {
    const int64_t B = 2, T = 12, V = 3, H = 5;
    ssm_model_spec s;
    memset(&s, 0, sizeof s);
    s.head = "forecast";
    s.trunk.adapter = adapter;
    ssm_adapter_options_defaults(&s.trunk.adapter_opt);
    s.trunk.adapter_opt.patch_size = 4;
    s.trunk.adapter_opt.stride = 4;
    ssm_adapter_options *o = &s.trunk.adapter_opt;
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "revin");
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    if (affine) {
        snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "revin_affine");
        snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    }
    s.trunk.input = (ssm_input_shape){2, {T, V}};
    mamba_config_defaults(&s.trunk.backbone);
    s.trunk.backbone.d_model = 6;
    s.trunk.backbone.n_layers = 1;
    s.trunk.backbone.d_state = 3;
    if (drop > 0) {
        snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "dropout");
        snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "%g", drop);
        s.trunk.backbone.n_layers = 2;
        s.trunk.backbone.ffn_dim = 8;
        s.trunk.backbone.norm_position = MAMBA_POST_NORM;
        s.trunk.backbone.norm = MAMBA_NORM_LAYER;
        s.trunk.backbone.dropout = s.trunk.backbone.mixer_dropout = drop;
    }
    s.head_opt.horizon = H;
    s.head_opt.out_vars = out_vars;
    s.loss.kind = LOSS_MSE;
    s.B_max = B;
    s.seed = 3;
    ssm_model m;
    ssm_error e = {0};
    ck_assert_msg(model_build(&m, &s, &e) == SSM_OK, "%s", e.msg);
    model_set_step_key(&m, 0xfeed);
    uint64_t st = 11;
    real x[B * T * V], y[B * H * V];
    tu_fill_uniform(x, (size_t)(B * T * V), -1, 2, &st);
    tu_fill_uniform(y, (size_t)(B * H * out_vars), -1, 1, &st);
    model_ctx ctx = {&m, x, {.values = y}, B};
    model_loss(&ctx);
    real *g = malloc(m.params.total * sizeof(real));
    memcpy(g, m.params.grad, m.params.total * sizeof(real));
    char what[96];
    snprintf(what, sizeof what, "%s affine %d dropout %g", adapter, affine, drop);
    tu_fd_check_params(&m.params, g, model_loss, &ctx, 1e-4, 1e-4, 24, 1e-5, NULL, what);
    free(g);
    model_free(&m);
}

START_TEST(model_variate_grad) { check_model("series_variate", 1, 3, 0); }
END_TEST
START_TEST(model_variate_grad_ms) { check_model("series_variate", 0, 1, 0); } // MS: last column only
END_TEST
START_TEST(model_patch_grad) { check_model("series_patch", 1, 3, 0); }
END_TEST
START_TEST(model_grad_dropout) {
    check_model("series_variate", 0, 3, 0.2);
    check_model("series_patch", 0, 3, 0.2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_series");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, variate_grad);
    tcase_add_test(tc, variate_grad_revin);
    tcase_add_test(tc, variate_grad_revin_affine);
    tcase_add_test(tc, patch_grad);
    tcase_add_test(tc, patch_grad_revin_affine);
    tcase_add_test(tc, model_variate_grad);
    tcase_add_test(tc, model_variate_grad_ms);
    tcase_add_test(tc, model_patch_grad);
    tcase_add_test(tc, adapters_grad_dropout);
    tcase_add_test(tc, model_grad_dropout);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
