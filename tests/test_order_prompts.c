// Check suite: Point Cloud Mamba's order prompts in the backbone (backbone/mamba.h "Order
// prompts", backbone/prompts.c, the trunk's wiring in tasks/trunk.c), CPU:
//  - the parameter table gains order_prompt.weight [O * P, D] last (no weight decay, drawn
//    N(0, 1) after every other tensor): without prompts the table and its initial values
//    are unchanged, and with them every other tensor starts at the same values;
//  - PCM's concatenate-and-cut by hand: layer by layer, one-layer stacks (no final norm)
//    run on [prompts of the layer's order, tokens] with the orders extended by hand, the
//    prompt rows cut after each layer, then norm_f by hand; the stack with prompts gives
//    the same tokens (1e-5), and they differ from the same stack without prompts;
//  - equivariance: relabelling the token positions (orders composed with the relabelling)
//    relabels the output the same way, the prompts in place;
//  - refusals: more orders than prompt sets, packed rows, a config without prompt_orders;
//    in the trunk: the concat layout and a ragged (bag) adapter, naming
//    backbone.order_prompts; and the trunk gives PCM's nine orders (past the old limit of
//    8) one prompt set each, 18 with the reverses on two branches;
//  - the config key: backbone.order_prompts parses and is bounded, and
//    configs/points/modelnet40_pcm.yaml resolves.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "core/config.h"
#include "tasks/task_registry.h"
#include "tasks/trunk.h"
#include "tests/backbone_fixture.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define NT 6 // tokens a sequence
#define PR 2 // prompt tokens per order

static mamba_config cfg_of(int K, int64_t layers, int64_t P, int64_t O) {
    mamba_config c = cfg_small(K, layers);
    c.order_prompts = P;
    c.prompt_orders = O;
    return c;
}

START_TEST(parameter_table) {
    ssm_params p0, p1;
    mamba_stack *s0, *s1;
    mamba_config c = cfg_of(2, 3, PR, 3);
    mamba_config c0 = c;
    c0.order_prompts = 0;
    bb_declare(&s0, &p0, &c0, 9);
    bb_declare(&s1, &p1, &c, 9);
    ck_assert_int_eq(p1.count, p0.count + 1);
    for (size_t i = 0; i < p0.count; i++)
        ck_assert_str_eq(p0.items[i].name, p1.items[i].name);
    ck_assert_msg(memcmp(p0.data, p1.data, p0.total * sizeof(real)) == 0,
                  "the prompts changed the other tensors' initial values");
    const ssm_param_info *it = &p1.items[p0.count];
    ck_assert_str_eq(it->name, "order_prompt.weight");
    ck_assert(it->ndim == 2 && it->shape[0] == 3 * PR && it->shape[1] == c.d_model);
    ck_assert(it->flags & SSM_PARAM_NO_DECAY);
    double m = 0, v = 0;
    const real *w = p1.data + it->offset;
    for (size_t i = 0; i < it->numel; i++)
        m += w[i];
    m /= (double)it->numel;
    for (size_t i = 0; i < it->numel; i++)
        v += (w[i] - m) * (w[i] - m);
    v /= (double)it->numel;
    // 96 draws of N(0, 1): the mean within 4 / sqrt(96), the variance within 0.5 of 1
    ck_assert_msg(fabs(m) < 0.41 && fabs(v - 1) < 0.5, "prompt init: mean %g, variance %g", m, v);
    mamba_stack_free(s0);
    mamba_stack_free(s1);
    ssm_params_free(&p0);
    ssm_params_free(&p1);
}
END_TEST

// Copies layer i's tensors of the full table into the one-layer table one (layers.0.*).
static void copy_layer(ssm_params *one, const ssm_params *full, int64_t i) {
    for (size_t t = 0; t < one->count; t++) {
        const ssm_param_info *it = &one->items[t];
        if (strncmp(it->name, "layers.0.", 9))
            continue;
        char name[SSM_PARAM_NAME_MAX + 16];
        snprintf(name, sizeof name, "layers.%lld.%s", (long long)i, it->name + 9);
        int64_t j = ssm_params_find(full, name);
        ck_assert_msg(j >= 0, "%s missing", name);
        memcpy(one->data + it->offset, full->data + full->items[j].offset,
               it->numel * sizeof(real));
    }
}

START_TEST(concatenate_and_cut_by_hand) {
    enum { B = 2, K = 2, NL = 3, O = 4 };
    const mamba_config c = cfg_of(K, NL, PR, O);
    const int64_t D = c.d_model, Le = PR + NT;
    static const int32_t sched[NL * K] = {0, 1, 2, 3, 1, 0}; // layer 2: order 1 on branch 0
    net n;
    net_init(&n, c, B, NT, 21);
    perturb(&n, 22);
    uint64_t st = 5;
    int32_t *perm = malloc(sizeof(int32_t) * O * B * NT);
    for (int64_t r = 0; r < O * B; r++)
        random_perm(perm + r * NT, NT, &st);
    mamba_orders o = {.count = O, .perm = perm, .schedule = sched};
    ssm_error e = {0};
    ck_assert_msg(mamba_orders_check(n.s, &o, B, &e) == SSM_OK, "%s", e.msg);
    real *in = tu_new_uniform((size_t)(B * NT * D), -1, 1, &st);
    real *out = malloc(sizeof(real) * B * NT * D);
    mamba_stack_forward(n.s, &n.p, out, in, &o, B);

    // the reference: one-layer stacks over [prompts, tokens], cut after each layer
    mamba_config c1 = cfg_small(K, 1);
    c1.final_norm = 0;
    net one;
    net_init(&one, c1, B, Le, 1);
    const real *pw = ssm_params_data(&n.p, (size_t)ssm_params_find(&n.p, "order_prompt.weight"));
    real *x = malloc(sizeof(real) * B * NT * D), *seq = malloc(sizeof(real) * B * Le * D);
    real *y = malloc(sizeof(real) * B * Le * D);
    int32_t *ext = malloc(sizeof(int32_t) * K * B * Le);
    memcpy(x, in, sizeof(real) * B * NT * D);
    for (int64_t i = 0; i < NL; i++) {
        copy_layer(&one.p, &n.p, i);
        for (int64_t k = 0; k < K; k++) // branch k: the prompt steps, then its order
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < Le; j++)
                    ext[(k * B + b) * Le + j] =
                        j < PR ? (int32_t)j
                               : PR + perm[((int64_t)sched[i * K + k] * B + b) * NT + j - PR];
        for (int64_t b = 0; b < B; b++) {
            memcpy(seq + b * Le * D, pw + sched[i * K] * PR * D, sizeof(real) * PR * D);
            memcpy(seq + (b * Le + PR) * D, x + b * NT * D, sizeof(real) * NT * D);
        }
        mamba_orders o1 = {.count = K, .perm = ext, .schedule = NULL};
        ck_assert_msg(mamba_orders_check(one.s, &o1, B, &e) == SSM_OK, "%s", e.msg);
        mamba_stack_forward(one.s, &one.p, y, seq, &o1, B);
        for (int64_t b = 0; b < B; b++) // cut
            memcpy(x + b * NT * D, y + (b * Le + PR) * D, sizeof(real) * NT * D);
    }
    const real *nf = ssm_params_data(&n.p, (size_t)ssm_params_find(&n.p, "norm_f.weight"));
    real *ref = malloc(sizeof(real) * B * NT * D);
    for (int64_t r = 0; r < B * NT; r++) { // RMSNorm
        double ss = 0;
        for (int64_t d = 0; d < D; d++)
            ss += (double)x[r * D + d] * x[r * D + d];
        const double rs = 1 / sqrt(ss / (double)D + c.norm_eps);
        for (int64_t d = 0; d < D; d++)
            ref[r * D + d] = (real)(x[r * D + d] * rs * nf[d]);
    }
    double err = tu_rel_err(out, ref, (size_t)(B * NT * D));
    ck_assert_msg(err < 1e-5, "the stack with prompts vs PCM's concatenate-and-cut: %g", err);

    // without prompts (the same other tensors) the tokens come out different
    mamba_config c0 = c;
    c0.order_prompts = 0;
    net n0;
    net_init(&n0, c0, B, NT, 21);
    memcpy(n0.p.data, n.p.data, n0.p.total * sizeof(real));
    real *out0 = malloc(sizeof(real) * B * NT * D);
    mamba_stack_forward(n0.s, &n0.p, out0, in, &o, B);
    double diff = tu_rel_err(out, out0, (size_t)(B * NT * D));
    ck_assert_msg(diff > 1e-3, "the prompts change the tokens' output by only %g", diff);
    printf("  concatenate-and-cut by hand: rel err %.2e; without prompts differs by %.2e\n", err,
           diff);
    free(out0);
    net_free(&n0);
    free(ref);
    free(ext);
    free(x);
    free(seq);
    free(y);
    net_free(&one);
    free(in);
    free(out);
    free(perm);
    net_free(&n);
}
END_TEST

START_TEST(relabelling_equivariance) {
    enum { B = 2, K = 1, NL = 2, O = 2 };
    mamba_config c = cfg_of(K, NL, PR, O);
    c.norm = MAMBA_NORM_LAYER;
    c.ffn_dim = 12;
    const int64_t D = c.d_model;
    static const int32_t sched[NL * K] = {1, 0};
    net n;
    net_init(&n, c, B, NT, 31);
    perturb(&n, 32);
    uint64_t st = 8;
    int32_t *perm = malloc(sizeof(int32_t) * O * B * NT), *perm2 = malloc(sizeof(int32_t) * O * B * NT);
    int32_t pi[B][NT], inv[B][NT];
    for (int64_t r = 0; r < O * B; r++)
        random_perm(perm + r * NT, NT, &st);
    for (int64_t b = 0; b < B; b++) {
        random_perm(pi[b], NT, &st);
        for (int64_t l = 0; l < NT; l++)
            inv[b][pi[b][l]] = (int32_t)l;
    }
    real *in = tu_new_uniform((size_t)(B * NT * D), -1, 1, &st);
    real *in2 = malloc(sizeof(real) * B * NT * D), *out = malloc(sizeof(real) * B * NT * D);
    real *out2 = malloc(sizeof(real) * B * NT * D), *want = malloc(sizeof(real) * B * NT * D);
    // new position l holds old token pi[l]; an order's step reads the old token's new place
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < NT; l++)
            memcpy(in2 + (b * NT + l) * D, in + (b * NT + pi[b][l]) * D, sizeof(real) * D);
    for (int64_t r = 0; r < O * B; r++)
        for (int64_t l = 0; l < NT; l++)
            perm2[r * NT + l] = inv[r % B][perm[r * NT + l]];
    mamba_orders o = {.count = O, .perm = perm, .schedule = sched};
    mamba_orders o2 = {.count = O, .perm = perm2, .schedule = sched};
    mamba_stack_forward(n.s, &n.p, out, in, &o, B);
    mamba_stack_forward(n.s, &n.p, out2, in2, &o2, B);
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < NT; l++)
            memcpy(want + (b * NT + l) * D, out + (b * NT + pi[b][l]) * D, sizeof(real) * D);
    double err = tu_rel_err(out2, want, (size_t)(B * NT * D));
    ck_assert_msg(err < 1e-6, "relabelled tokens: the output is not relabelled alike (%g)", err);
    free(in);
    free(in2);
    free(out);
    free(out2);
    free(want);
    free(perm);
    free(perm2);
    net_free(&n);
}
END_TEST

START_TEST(stack_refusals) {
    ssm_error e = {0};
    mamba_stack *s = NULL;
    ssm_params p;
    ssm_params_init(&p);
    mamba_config c = cfg_of(1, 1, PR, 0);
    ck_assert_int_eq(mamba_stack_declare(&s, &c, &p, "", &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "prompt_orders"), "%s", e.msg);
    c = cfg_of(1, 1, -1, 2);
    ck_assert_int_eq(mamba_stack_declare(&s, &c, &p, "", &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "order_prompts -1"), "%s", e.msg);
    ssm_params_free(&p);

    net n;
    net_init(&n, cfg_of(1, 2, PR, 2), 1, NT, 3);
    int32_t perm[3 * NT];
    mamba_order_identity(perm, 3, NT);
    mamba_orders o = {.count = 3, .perm = perm, .schedule = NULL};
    ck_assert_int_eq(mamba_orders_check(n.s, &o, 1, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "declared for 2"), "%s", e.msg);
    int64_t off[3] = {0, 2, NT};
    ssm_packing pk = {.n = 2, .total = NT, .offsets = off};
    o.count = 1;
    ck_assert_int_eq(mamba_orders_check_packed(n.s, &o, &pk, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "packed (ragged) rows are not supported"), "%s", e.msg);
    net_free(&n);
}
END_TEST

// A point_groups trunk (48 points, 8 groups of 6) with the given orders and prompts.
static ssm_code point_trunk(ssm_trunk *t, ssm_params *p, trunk_order_layout layout,
                            const char *const *orders, int n_orders, int branches, int layers,
                            ssm_error *e) {
    ssm_trunk_spec s;
    memset(&s, 0, sizeof s);
    s.adapter = "point_groups";
    ssm_adapter_options_defaults(&s.adapter_opt);
    s.adapter_opt.n_orders = n_orders;
    for (int i = 0; i < n_orders; i++)
        snprintf(s.adapter_opt.orders[i], SSM_ADAPTER_NAME_MAX, "%s", orders[i]);
    s.adapter_opt.n_extra = 2;
    snprintf(s.adapter_opt.extra[0].key, SSM_ADAPTER_NAME_MAX, "num_groups");
    snprintf(s.adapter_opt.extra[0].value, SSM_ADAPTER_VALUE_MAX, "8");
    snprintf(s.adapter_opt.extra[1].key, SSM_ADAPTER_NAME_MAX, "group_size");
    snprintf(s.adapter_opt.extra[1].value, SSM_ADAPTER_VALUE_MAX, "6");
    s.input = (ssm_input_shape){2, {48, 3}};
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = 8;
    s.backbone.n_layers = layers;
    s.backbone.d_state = 4;
    s.backbone.n_branches = branches;
    s.backbone.order_prompts = PR;
    s.order_layout = layout;
    ssm_params_init(p);
    return trunk_declare(t, &s, 2, p, e);
}

static const char *const pcm_orders[9] = {"snake_xyz", "snake_xzy", "snake_yxz",
                                          "snake_yzx", "snake_zxy", "snake_zyx",
                                          "hilbert",   "z",         "trans_z"};

START_TEST(trunk_wiring) {
    ssm_trunk t;
    ssm_params p;
    ssm_error e = {0};
    // PCM's nine orders, one a layer: nine prompt sets
    ck_assert_msg(point_trunk(&t, &p, TRUNK_ORDERS_BRANCHES, pcm_orders, 9, 1, 9, &e) == SSM_OK,
                  "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(&p, &e) == SSM_OK, "%s", e.msg);
    int64_t idx = ssm_params_find(&p, "order_prompt.weight");
    ck_assert(idx >= 0 && p.items[idx].shape[0] == 9 * PR && p.items[idx].shape[1] == 8);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, 4, &e) == SSM_OK);
    trunk_init_params(&t, &p, &rng);
    ssm_rng_free(&rng);
    ssm_arena a;
    ssm_arena_init(&a);
    ck_assert_msg(trunk_plan(&t, &a, &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_arena_commit(&a, &e) == SSM_OK);
    ck_assert_msg(trunk_plan(&t, &a, &e) == SSM_OK, "%s", e.msg);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(t.schedule[i], i);
    uint64_t st = 2;
    real *x = tu_new_uniform(2 * 48 * 3, -1, 1, &st);
    ck_assert_msg(trunk_forward(&t, &p, x, 2, &e) == SSM_OK, "%s", e.msg);
    for (int64_t i = 0; i < 2 * 8 * 8; i++)
        ck_assert(isfinite(t.feats[i]));
    free(x);
    trunk_free(&t);
    ssm_params_free(&p);
    ssm_arena_free(&a);

    // with their reverses on two branches (PCM's bidirectional scan): 18 orders
    const char *o18[18];
    char names[18][40];
    for (int i = 0; i < 9; i++) {
        o18[2 * i] = pcm_orders[i];
        snprintf(names[i], sizeof names[i], "%s_reverse", pcm_orders[i]);
        o18[2 * i + 1] = names[i];
    }
    ck_assert_msg(point_trunk(&t, &p, TRUNK_ORDERS_BRANCHES, o18, 18, 2, 9, &e) == SSM_OK, "%s",
                  e.msg);
    idx = ssm_params_find(&p, "order_prompt.weight");
    ck_assert(idx >= 0 && p.items[idx].shape[0] == 18 * PR);
    trunk_free(&t);
    ssm_params_free(&p);

    ck_assert_int_eq(point_trunk(&t, &p, TRUNK_ORDERS_CONCAT, pcm_orders, 2, 1, 2, &e),
                     SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "backbone.order_prompts") && strstr(e.msg, "order_layout"), "%s",
                  e.msg);
    trunk_free(&t);
    ssm_params_free(&p);

    ssm_trunk_spec s; // a ragged adapter: bags of any length are packed
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
    s.backbone.order_prompts = 1;
    ssm_params_init(&p);
    ck_assert_int_eq(trunk_declare(&t, &s, 2, &p, &e), SSM_ECONFIG);
    ck_assert_msg(strstr(e.msg, "backbone.order_prompts") && strstr(e.msg, "variable-length"),
                  "%s", e.msg);
    trunk_free(&t);
    ssm_params_free(&p);
}
END_TEST

START_TEST(config_key) {
    ssm_config c;
    ssm_error e = {0};
    const char *ok[] = {"backbone.order_prompts=6"};
    ck_assert_msg(ssm_config_resolve_checked(&c, "configs/points/shapes.yaml", ok, 1,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.backbone.order_prompts, 6);
    const char *bad[] = {"backbone.order_prompts=1025"};
    ck_assert(ssm_config_resolve_checked(&c, "configs/points/shapes.yaml", bad, 1,
                                         task_check_config, &e) != SSM_OK);
    ck_assert_msg(strstr(e.msg, "order_prompts"), "%s", e.msg);
    ck_assert_msg(ssm_config_resolve_checked(&c, "configs/points/modelnet40_pcm.yaml", NULL, 0,
                                             task_check_config, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(c.backbone.order_prompts, 6);
    ck_assert_int_eq(c.adapter.orders_count, 18);
    ck_assert_int_eq(c.adapter.order_layout, SSM_ORDERS_BRANCHES);
}
END_TEST

int main(void) {
    Suite *su = suite_create("order_prompts");
    TCase *tc = tcase_create("order_prompts");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parameter_table);
    tcase_add_test(tc, concatenate_and_cut_by_hand);
    tcase_add_test(tc, relabelling_equivariance);
    tcase_add_test(tc, stack_refusals);
    tcase_add_test(tc, trunk_wiring);
    tcase_add_test(tc, config_key);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
