// Check suite (double build): gradients of the trunk's concat layout (PointMamba's
// concatenated orders, tasks/trunk_concat.h) on the point_groups adapter, against central
// finite differences: the order indicators order_scale.gamma / .beta, every backbone tensor
// over the long sequence, and the adapter's positional MLP (pos_embed.*, whose gradient
// reaches it only through the gather's backward: dtokens = sum over orders of the copies'
// gradients times gamma, at the inverse positions). The backbone scans the concatenation
// forward (1 branch) and both ways (2); the clouds have 2 and 3 orders.
//
// Loss: sum(feats * R), feats [B, G, D] after the merge (the mean of each token's copies).
// The mini-PointNet's ReLUs and max-pools are the only kinks of the trunk and the tensors
// checked here do not move them (encoder.* is grad_point_groups' business), so the loss
// is smooth in every element checked. With h = 1e-4 in double (as grad_backbone) the
// central difference's truncation error is ~h^2 |f'''| / 6 ~ 1e-9 and its rounding
// ~eps |loss| / h ~ 1e-11; the error |fd - g| / max(|fd| + |g|, 1e-4) is held to 1e-5.
// Measured: 1.3e-7 and 9.4e-7 at worst; leaving out the merge's 1/O gives 0.33, a wrong
// index or a missing factor gamma shows the same way.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/trunk.h"
#include "tests/util/testutil.h"

#if !REAL_IS_DOUBLE
#error "grad_point_concat must be built with -DSSM_DOUBLE"
#endif

#define FD_H 1e-4
#define FD_FLOOR 1e-4
#define FD_TOL 1e-5
#define CHECKS 12 // elements per tensor

typedef struct {
    ssm_trunk t;
    ssm_params p;
    ssm_arena a;
    real *x, *R;
    int64_t B;
} cc;

static double loss(void *vctx) {
    cc *c = vctx;
    ssm_error e = {0};
    ck_assert_msg(trunk_forward(&c->t, &c->p, c->x, c->B, &e) == SSM_OK, "%s", e.msg);
    return tu_dot(c->t.feats, c->R, (size_t)(c->B * c->t.L * c->t.D));
}

static void check(const char *const *orders, int n_orders, int branches, uint64_t seed) {
    const int64_t N = 24, G = 6, k = 4, D = 8, B = 2;
    cc c;
    memset(&c, 0, sizeof c);
    c.B = B;
    ssm_trunk_spec s;
    memset(&s, 0, sizeof s);
    s.adapter = "point_groups";
    ssm_adapter_options_defaults(&s.adapter_opt);
    s.adapter_opt.n_orders = n_orders;
    for (int o = 0; o < n_orders; o++)
        snprintf(s.adapter_opt.orders[o], SSM_ADAPTER_NAME_MAX, "%s", orders[o]);
    s.adapter_opt.n_extra = 2;
    snprintf(s.adapter_opt.extra[0].key, SSM_ADAPTER_NAME_MAX, "num_groups");
    snprintf(s.adapter_opt.extra[0].value, SSM_ADAPTER_VALUE_MAX, "%lld", (long long)G);
    snprintf(s.adapter_opt.extra[1].key, SSM_ADAPTER_NAME_MAX, "group_size");
    snprintf(s.adapter_opt.extra[1].value, SSM_ADAPTER_VALUE_MAX, "%lld", (long long)k);
    s.input = (ssm_input_shape){2, {N, 3}};
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = D;
    s.backbone.n_layers = 2;
    s.backbone.d_state = 4;
    s.backbone.n_branches = branches;
    s.order_layout = TRUNK_ORDERS_CONCAT;
    ssm_error e = {0};
    ssm_params_init(&c.p);
    ck_assert_msg(trunk_declare(&c.t, &s, B, &c.p, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(&c.p, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.t.Lc, n_orders * G);
    ck_assert_int_eq(c.t.n_branches, branches ? branches : 1);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, seed, &e) == SSM_OK);
    trunk_init_params(&c.t, &c.p, &rng);
    ssm_rng_free(&rng);
    // away from the init's special values: dt of order 1 (the state matters), the order
    // indicators away from 1 and 0 and apart from each other
    uint64_t st = seed * 7 + 1;
    for (size_t i = 0; i < c.p.count; i++) {
        ssm_param_info *it = &c.p.items[i];
        real *w = c.p.data + it->offset;
        if (strstr(it->name, "dt_proj") && strstr(it->name, ".bias"))
            tu_fill_uniform(w, it->numel, -1.0, 1.0, &st);
        else
            for (size_t j = 0; j < it->numel; j++)
                w[j] += (real)(0.4 * (tu_uniform(&st) - 0.5));
    }
    ssm_arena_init(&c.a);
    ck_assert_msg(trunk_plan(&c.t, &c.a, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_arena_commit(&c.a, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(trunk_plan(&c.t, &c.a, &e) == SSM_OK, "%s", e.msg);
    size_t nf = (size_t)(B * G * D), nx = (size_t)(B * N * 3);
    c.x = malloc(nx * sizeof *c.x);
    c.R = malloc(nf * sizeof *c.R);
    tu_fill_uniform(c.x, nx, -1, 1, &st);
    tu_fill_uniform(c.R, nf, -1, 1, &st);
    loss(&c);
    ssm_params_zero_grad(&c.p);
    memcpy(c.t.dfeats, c.R, nf * sizeof *c.R);
    trunk_backward(&c.t, &c.p, c.x, B);
    int checked = 0;
    double worst = 0;
    for (size_t t = 0; t < c.p.count; t++) {
        const ssm_param_info *it = &c.p.items[t];
        if (!strncmp(it->name, "encoder.", 8))
            continue;
        size_t wi = 0;
        double err = tu_fd_check(c.p.data + it->offset, c.p.grad + it->offset, it->numel, loss,
                                 &c, FD_H, FD_FLOOR, CHECKS, &wi);
        ck_assert_msg(err < FD_TOL, "%s[%zu]: error %.3g (orders %d, branches %d)", it->name,
                      wi, err, n_orders, branches);
        worst = fmax(worst, err);
        checked++;
    }
    ck_assert_int_ge(checked, 12);
    fprintf(stderr, "  concat of %d orders, %d branch(es): %d tensors, worst error %.2g\n",
            n_orders, branches ? branches : 1, checked, worst);
    free(c.x);
    free(c.R);
    trunk_free(&c.t);
    ssm_arena_free(&c.a);
    ssm_params_free(&c.p);
}

START_TEST(concat_two_orders_forward) {
    static const char *const o[] = {"hilbert", "trans_hilbert"};
    check(o, 2, 0, 51);
}
END_TEST

START_TEST(concat_three_orders_both_ways) {
    static const char *const o[] = {"z", "snake_yxz", "fps_reverse"};
    check(o, 3, 2, 52);
}
END_TEST

int main(void) {
    Suite *su = suite_create("grad_point_concat");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, concat_two_orders_forward);
    tcase_add_test(tc, concat_three_orders_both_ways);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
