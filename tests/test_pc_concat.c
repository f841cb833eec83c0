// Check suite: the trunk's concat layout (adapter.order_layout: concat, PointMamba's
// concatenated orders; tasks/trunk.h, tasks/trunk_concat.h) on point clouds, CPU:
//  - the long sequence is PointMamba's, checked element by element by hand: copy o of
//    cloud n holds the adapter's tokens read in order o, times gamma_o plus beta_o; and each
//    token's features are the mean of its O outputs (found by searching the orders), so the
//    mean over a cloud's tokens is the mean over all O*G backbone outputs (PointMamba's
//    mean pooling);
//  - one order concatenated with gamma = 1, beta = 0 is the same function as that order on
//    one branch (the branches layout): the features and every shared parameter's gradient
//    agree, the order indicators have the gradient of sum(dseq * token), sum(dseq);
//  - the parameter table gains order_scale.gamma / .beta [O, D] (no weight decay), gamma
//    drawn near 1 and beta near 0;
//  - refusals: more than 2 branches over the concatenation, a ragged (bag) adapter; and the
//    config key: adapter.order_layout parses concat / branches and refuses anything else
//    naming the key.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "tasks/task_registry.h"
#include "tasks/trunk.h"
#include "tests/util/testutil.h"

#define N_PTS 96
#define G 12
#define D 16
#define B 3

typedef struct {
    ssm_trunk t;
    ssm_params p;
    ssm_arena a;
} tk;

static ssm_code make(tk *k, trunk_order_layout layout, const char *const *orders, int n_orders,
                     int branches, ssm_error *e) {
    memset(k, 0, sizeof *k);
    ssm_trunk_spec s;
    memset(&s, 0, sizeof s);
    s.adapter = "point_groups";
    ssm_adapter_options_defaults(&s.adapter_opt);
    s.adapter_opt.n_orders = n_orders;
    for (int o = 0; o < n_orders; o++)
        snprintf(s.adapter_opt.orders[o], SSM_ADAPTER_NAME_MAX, "%s", orders[o]);
    s.adapter_opt.n_extra = 2;
    snprintf(s.adapter_opt.extra[0].key, SSM_ADAPTER_NAME_MAX, "num_groups");
    snprintf(s.adapter_opt.extra[0].value, SSM_ADAPTER_VALUE_MAX, "%d", G);
    snprintf(s.adapter_opt.extra[1].key, SSM_ADAPTER_NAME_MAX, "group_size");
    snprintf(s.adapter_opt.extra[1].value, SSM_ADAPTER_VALUE_MAX, "8");
    s.input = (ssm_input_shape){2, {N_PTS, 3}};
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = D;
    s.backbone.n_layers = 2;
    s.backbone.d_state = 4;
    s.backbone.n_branches = branches;
    s.order_layout = layout;
    ssm_params_init(&k->p);
    SSM_TRY(trunk_declare(&k->t, &s, B, &k->p, e));
    SSM_TRY(ssm_params_finalize(&k->p, e));
    ssm_rng rng;
    SSM_TRY(ssm_rng_init(&rng, 17, e));
    trunk_init_params(&k->t, &k->p, &rng);
    ssm_rng_free(&rng);
    ssm_arena_init(&k->a);
    SSM_TRY(trunk_plan(&k->t, &k->a, e));
    SSM_TRY(ssm_arena_commit(&k->a, e));
    return trunk_plan(&k->t, &k->a, e);
}

static void drop(tk *k) {
    trunk_free(&k->t);
    ssm_arena_free(&k->a);
    ssm_params_free(&k->p);
}

static real *clouds(uint64_t seed) {
    real *x = malloc((size_t)(B * N_PTS * 3) * sizeof *x);
    tu_fill_uniform(x, (size_t)(B * N_PTS * 3), -1, 1, &seed);
    return x;
}

START_TEST(pointmamba_sequence) {
    static const char *const orders[] = {"hilbert", "trans_hilbert"};
    tk k;
    ssm_error e = {0};
    ck_assert_msg(make(&k, TRUNK_ORDERS_CONCAT, orders, 2, 0, &e) == SSM_OK, "%s", e.msg);
    const ssm_trunk *t = &k.t;
    ck_assert_int_eq(t->n_branches, 1);
    ck_assert_int_eq(t->L, G);
    ck_assert_int_eq(t->Lc, 2 * G);
    const ssm_param_info *gi = &k.p.items[t->cat_gamma], *bi = &k.p.items[t->cat_beta];
    ck_assert_str_eq(gi->name, "order_scale.gamma");
    ck_assert_str_eq(bi->name, "order_scale.beta");
    ck_assert(gi->ndim == 2 && gi->shape[0] == 2 && gi->shape[1] == D);
    ck_assert(gi->flags & SSM_PARAM_NO_DECAY);
    ck_assert(bi->flags & SSM_PARAM_NO_DECAY);
    const real *gam = ssm_params_data(&k.p, t->cat_gamma), *bet = ssm_params_data(&k.p, t->cat_beta);
    for (int i = 0; i < 2 * D; i++) { // N(1, 0.02^2), N(0, 0.02^2)
        ck_assert(fabs(gam[i] - 1) < 0.1 && gam[i] != 1);
        ck_assert(fabs(bet[i]) < 0.1 && bet[i] != 0);
    }
    real *x = clouds(3);
    ck_assert_msg(trunk_forward(&k.t, &k.p, x, B, &e) == SSM_OK, "%s", e.msg);
    double pool_err = 0;
    for (int64_t n = 0; n < B; n++) {
        for (int o = 0; o < 2; o++)
            for (int64_t l = 0; l < G; l++) {
                int32_t g = t->orders[(o * B + n) * G + l];
                for (int64_t d = 0; d < D; d++) {
                    real want = t->tokens[(n * G + g) * D + d] * gam[o * D + d] + bet[o * D + d];
                    ck_assert(t->cat_in[(n * 2 * G + o * G + l) * D + d] == want);
                }
            }
        for (int64_t g = 0; g < G; g++) // token g: where each order reads it
            for (int64_t d = 0; d < D; d++) {
                double s = 0;
                for (int o = 0; o < 2; o++) {
                    int64_t at = -1;
                    for (int64_t l = 0; l < G; l++)
                        at = t->orders[(o * B + n) * G + l] == g ? l : at;
                    ck_assert(at >= 0);
                    s += t->cat_out[(n * 2 * G + o * G + at) * D + d];
                }
                ck_assert(fabs(t->feats[(n * G + g) * D + d] - s / 2) < 1e-6);
            }
        for (int64_t d = 0; d < D; d++) {
            double mf = 0, mo = 0;
            for (int64_t g = 0; g < G; g++)
                mf += t->feats[(n * G + g) * D + d];
            for (int64_t l = 0; l < 2 * G; l++)
                mo += t->cat_out[(n * 2 * G + l) * D + d];
            pool_err = fmax(pool_err, fabs(mf / G - mo / (2 * G)));
        }
    }
    ck_assert_msg(pool_err < 1e-6, "mean pooling: %g", pool_err);
    free(x);
    drop(&k);
}
END_TEST

START_TEST(one_order_is_one_branch) {
    static const char *const orders[] = {"snake_zxy"};
    tk br, cc;
    ssm_error e = {0};
    ck_assert_msg(make(&br, TRUNK_ORDERS_BRANCHES, orders, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(make(&cc, TRUNK_ORDERS_CONCAT, orders, 1, 1, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(cc.p.count, br.p.count + 2);
    for (size_t i = 0; i < cc.p.count; i++) { // the branch model's weights, by name
        const ssm_param_info *it = &cc.p.items[i];
        real *w = ssm_params_data(&cc.p, i);
        if (!strncmp(it->name, "order_scale.", 12)) {
            real v = !strcmp(it->name, "order_scale.gamma");
            for (size_t j = 0; j < it->numel; j++)
                w[j] = v;
            continue;
        }
        size_t j = 0;
        while (j < br.p.count && strcmp(br.p.items[j].name, it->name))
            j++;
        ck_assert_msg(j < br.p.count, "%s", it->name);
        memcpy(w, ssm_params_data(&br.p, j), it->numel * sizeof *w);
    }
    real *x = clouds(5);
    ck_assert(trunk_forward(&br.t, &br.p, x, B, &e) == SSM_OK);
    ck_assert(trunk_forward(&cc.t, &cc.p, x, B, &e) == SSM_OK);
    size_t nf = (size_t)(B * G * D);
    double r = tu_rel_err(cc.t.feats, br.t.feats, nf);
    ck_assert_msg(r < 1e-6, "features: relative error %g", r);
    uint64_t st = 8;
    tu_fill_uniform(br.t.dfeats, nf, -1, 1, &st);
    memcpy(cc.t.dfeats, br.t.dfeats, nf * sizeof(real));
    ssm_params_zero_grad(&br.p);
    ssm_params_zero_grad(&cc.p);
    trunk_backward(&br.t, &br.p, x, B);
    trunk_backward(&cc.t, &cc.p, x, B);
    for (size_t i = 0; i < br.p.count; i++) {
        const ssm_param_info *it = &br.p.items[i];
        size_t j = 0;
        while (strcmp(cc.p.items[j].name, it->name))
            j++;
        double ri = tu_rel_err(ssm_params_grad(&cc.p, j), ssm_params_grad(&br.p, i), it->numel);
        ck_assert_msg(ri < 1e-5, "gradient of %s: relative error %g", it->name, ri);
    }
    // dbeta = the sum of the backbone input's gradient over the cloud's copies, per channel;
    // with gamma = 1 the branch trunk's dtokens is that gradient (read in the concat's order)
    const real *db = ssm_params_grad(&cc.p, cc.t.cat_beta);
    for (int64_t d = 0; d < D; d++) {
        double s = 0;
        for (int64_t i = 0; i < B * G; i++)
            s += br.t.dtokens[i * D + d];
        ck_assert_msg(fabs(db[d] - s) < 1e-4 * fmax(1, fabs(s)), "dbeta[%lld] %g, want %g",
                      (long long)d, (double)db[d], s);
    }
    free(x);
    drop(&br);
    drop(&cc);
}
END_TEST

START_TEST(refusals) {
    static const char *const orders[] = {"hilbert", "trans_hilbert", "z"};
    tk k;
    ssm_error e = {0};
    ck_assert_int_eq(make(&k, TRUNK_ORDERS_CONCAT, orders, 3, 3, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "forward (backbone.n_branches: 1) or both ways (2)"), "%s", e.msg);
    drop(&k);
    // a ragged adapter: bags of any length have no fixed-length concatenation
    ssm_trunk_spec s;
    memset(&s, 0, sizeof s);
    s.adapter = "bag_features";
    ssm_adapter_options_defaults(&s.adapter_opt);
    s.adapter_opt.n_extra = 1;
    snprintf(s.adapter_opt.extra[0].key, SSM_ADAPTER_NAME_MAX, "max_tokens");
    snprintf(s.adapter_opt.extra[0].value, SSM_ADAPTER_VALUE_MAX, "64");
    s.input = (ssm_input_shape){1, {10}};
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = 8;
    s.backbone.n_layers = 1;
    s.order_layout = TRUNK_ORDERS_CONCAT;
    ssm_trunk t;
    ssm_params p;
    ssm_params_init(&p);
    ck_assert_int_eq(trunk_declare(&t, &s, 2, &p, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "variable-length samples"), "%s", e.msg);
    trunk_free(&t);
    ssm_params_free(&p);
}
END_TEST

START_TEST(config_key) {
    ssm_config c;
    ssm_error e = {0};
    const char *ok[] = {"adapter.order_layout=concat"};
    ck_assert_msg(ssm_config_resolve_checked(&c, "configs/points/shapes.yaml", ok, 1,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.adapter.order_layout, SSM_ORDERS_CONCAT);
    const char *br[] = {"adapter.order_layout=branches"};
    ck_assert(ssm_config_resolve_checked(&c, "configs/points/shapes.yaml", br, 1,
                                         task_check_config, &e) == SSM_OK);
    ck_assert_int_eq(c.adapter.order_layout, SSM_ORDERS_BRANCHES);
    const char *bad[] = {"adapter.order_layout=interleave"};
    ck_assert(ssm_config_resolve_checked(&c, "configs/points/shapes.yaml", bad, 1,
                                         task_check_config, &e) != SSM_OK);
    ck_assert_msg(strstr(e.msg, "order_layout"), "%s", e.msg);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_concat");
    TCase *tc = tcase_create("concat");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, pointmamba_sequence);
    tcase_add_test(tc, one_order_is_one_branch);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, config_key);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
