// Check suite: the point_groups adapter (adapters/point_groups.c) on the CPU.
//  - options: groups from the extras group_size / num_groups (adapter.group_size /
//    num_groups; defaults 1024 points -> 64 groups of 32, as Point-MAE; 2048 -> 128), the
//    older spelling adapter.patch_size / stride read only without them, refusals (a rank-1
//    input, fewer than 3 values per point, in_channels that differ from the data, k > N,
//    a class token, an unknown order)
//  - the parameter table: Point-MAE / PointMamba names and shapes
//  - tokens equal a plain reference written here with the concatenation [global, local]
//    of Point-MAE's Encoder (so the adapter's split second_conv is the same function),
//    the group of each centre its k nearest points (the centre first)
//  - the orders equal point_order_build on the FPS centres, per sample
//  - backward does not depend on the last forward (a forward on other clouds between)
//  - a non-finite coordinate is refused naming the cloud, the point and the value
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "adapters/point_groups.h"
#include "core/arena.h"
#include "core/params.h"
#include "kernels/pointops.h"
#include "tests/util/testutil.h"

static ssm_code make(ssm_adapter **a, ssm_params *p, int64_t N, int64_t C, int64_t patch,
                     int64_t stride, int64_t in_ch, ssm_cls_position cls, const char *order,
                     ssm_error *e) {
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = patch;
    o.stride = stride;
    o.in_channels = in_ch;
    o.cls_token = cls;
    if (order) {
        o.n_orders = 1;
        snprintf(o.orders[0], SSM_ADAPTER_NAME_MAX, "%s", order);
    }
    ssm_input_shape in = {2, {N, C}};
    ssm_params_init(p);
    return ssm_adapter_create(a, "point_groups", &o, &in, 16, p, "", e);
}

START_TEST(options) {
    ssm_adapter *a;
    ssm_params p;
    ssm_error e = {0};
    ck_assert_int_eq(make(&a, &p, 1024, 3, 0, 0, 3, SSM_CLS_DEFAULT, NULL, &e), SSM_OK);
    point_groups *pg = a->impl;
    ck_assert_int_eq(pg->k, 32);
    ck_assert_int_eq(a->seq_len, 64);
    ck_assert_int_eq(a->n_orders, 2);
    ck_assert_str_eq(a->order_names[1], "trans_hilbert");
    ck_assert_int_eq(a->cls_index, -1);
    const struct { const char *name; int ndim; int64_t shape[3]; } want[] = {
        {"encoder.first_conv.0.weight", 3, {128, 3, 1}}, {"encoder.first_conv.1.weight", 1, {128}},
        {"encoder.first_conv.3.weight", 3, {256, 128, 1}},
        {"encoder.second_conv.0.weight", 3, {512, 512, 1}},
        {"encoder.second_conv.3.weight", 3, {16, 512, 1}}, {"pos_embed.0.weight", 2, {128, 3}},
        {"pos_embed.2.weight", 2, {16, 128}}, {"pos_embed.2.bias", 1, {16}}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int64_t t = ssm_params_find(&p, want[i].name);
        ck_assert_msg(t >= 0, "no parameter %s", want[i].name);
        ck_assert_int_eq(p.items[t].ndim, want[i].ndim);
        for (int d = 0; d < want[i].ndim; d++)
            ck_assert_int_eq(p.items[t].shape[d], want[i].shape[d]);
    }
    ck_assert_int_eq(p.count, 16);
    ssm_adapter_free(a);
    ssm_params_free(&p);
    ck_assert_int_eq(make(&a, &p, 2048, 6, 32, 0, 6, SSM_CLS_NONE, "z", &e), SSM_OK);
    ck_assert_int_eq(a->seq_len, 128);
    ssm_adapter_free(a);
    ssm_params_free(&p);
    ck_assert_int_eq(make(&a, &p, 100, 3, 10, 25, 0, SSM_CLS_NONE, NULL, &e), SSM_OK);
    ck_assert_int_eq(a->seq_len, 4);
    ssm_adapter_free(a);
    ssm_params_free(&p);
    // the extras: either alone takes the other's default from it; patch_size / stride unread
    const struct { const char *gs, *ng; int64_t k, G; } ex[] = {
        {"16", NULL, 16, 12}, {NULL, "10", 32, 10}, {"8", "20", 8, 20}};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        ssm_adapter_options o;
        ssm_adapter_options_defaults(&o);
        o.patch_size = 4;
        o.stride = 50;
        const char *kv[2][2] = {{"group_size", ex[i].gs}, {"num_groups", ex[i].ng}};
        for (int j = 0; j < 2; j++)
            if (kv[j][1]) {
                snprintf(o.extra[o.n_extra].key, SSM_ADAPTER_NAME_MAX, "%s", kv[j][0]);
                snprintf(o.extra[o.n_extra].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[j][1]);
                o.n_extra++;
            }
        ssm_input_shape in = {2, {100, 3}};
        ssm_params_init(&p);
        ck_assert_int_eq(ssm_adapter_create(&a, "point_groups", &o, &in, 16, &p, "", &e), SSM_OK);
        ck_assert_int_eq(((point_groups *)a->impl)->k, ex[i].k);
        ck_assert_int_eq(a->seq_len, ex[i].G);
        ssm_adapter_free(a);
        ssm_params_free(&p);
    }
    const struct { int64_t N, C, patch, in_ch; ssm_cls_position cls; const char *order, *msg; } bad[] = {
        {64, 2, 8, 0, SSM_CLS_NONE, NULL, "C >= 3"},
        {64, 3, 8, 1, SSM_CLS_NONE, NULL, "in_channels = 1"},
        {64, 3, 65, 0, SSM_CLS_NONE, NULL, "points per group"},
        {64, 3, 8, 0, SSM_CLS_HEAD, NULL, "no class token"},
        {64, 3, 8, 0, SSM_CLS_NONE, "hilbertt", "unknown scan order 'hilbertt'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_ne(make(&a, &p, bad[i].N, bad[i].C, bad[i].patch, 0, bad[i].in_ch,
                              bad[i].cls, bad[i].order, &e), SSM_OK);
        ck_assert_msg(strstr(e.msg, bad[i].msg), "'%s' lacks '%s'", e.msg, bad[i].msg);
        ssm_params_free(&p);
    }
    ssm_input_shape in1 = {1, {64}};
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    ssm_params_init(&p);
    ck_assert_int_ne(ssm_adapter_create(&a, "point_groups", &o, &in1, 16, &p, "", &e), SSM_OK);
    ssm_params_free(&p);
}
END_TEST

static void layernorm_ref(double *v, int64_t n, const real *g, const real *b) {
    double mu = 0, var = 0;
    for (int64_t i = 0; i < n; i++)
        mu += v[i];
    mu /= (double)n;
    for (int64_t i = 0; i < n; i++)
        var += (v[i] - mu) * (v[i] - mu);
    double r = 1 / sqrt(var / (double)n + PG_LN_EPS);
    for (int64_t i = 0; i < n; i++)
        v[i] = (v[i] - mu) * r * g[i] + b[i];
}

// y [out] = W [out, in] x + b, W as PyTorch stores it
static void dense(double *y, const real *W, const real *b, const double *x, int64_t out, int64_t in) {
    for (int64_t o = 0; o < out; o++) {
        double s = b ? b[o] : 0;
        for (int64_t i = 0; i < in; i++)
            s += W[o * in + i] * x[i];
        y[o] = s;
    }
}

#define P_(name) ssm_params_data(&p, (size_t)ssm_params_find(&p, name))

START_TEST(tokens_match_reference) {
    const int64_t B = 2, N = 40, C = 6, k = 5, D = 16;
    ssm_adapter *a;
    ssm_params p;
    ssm_error e = {0};
    ck_assert_int_eq(make(&a, &p, N, C, k, 8, C, SSM_CLS_NONE, "snake_zxy", &e), SSM_OK);
    const int64_t G = a->seq_len;
    ck_assert_int_eq(G, 5);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    ssm_rng rng;
    ck_assert_int_eq(ssm_rng_init(&rng, 3, &e), SSM_OK);
    ssm_adapter_init_params(a, &p, &rng);
    uint64_t st = 17;
    for (size_t i = 0; i < p.total; i++) // LayerNorm and biases away from 1 and 0
        p.data[i] += (real)(0.1 * (tu_uniform(&st) - 0.5));
    ssm_arena ar;
    ssm_arena_init(&ar);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_arena_commit(&ar, &e), SSM_OK);
    ck_assert_int_eq(ssm_adapter_plan(a, &ar, B, &e), SSM_OK);
    real x[2 * 40 * 6], tokens[2 * 5 * 16];
    int32_t orders[2 * 5];
    tu_fill_uniform(x, sizeof x / sizeof *x, -1, 1, &st);
    ck_assert_int_eq(ssm_adapter_forward(a, &p, tokens, orders, x, B, &e), SSM_OK);
    int32_t cidx[2 * 5], nidx[2 * 5 * 5];
    real scratch[2 * 40], cent[2 * 5 * 3];
    fps_forward(cidx, scratch, x, B, N, G, C);
    for (int64_t bg = 0; bg < B * G; bg++)
        for (int j = 0; j < 3; j++)
            cent[bg * 3 + j] = x[(bg / G * N + cidx[bg]) * C + j];
    knn_forward(nidx, NULL, cent, 3, x, C, B, G, N, k);
    double maxerr = 0;
    for (int64_t bg = 0; bg < B * G; bg++) {
        ck_assert_int_eq(nidx[bg * k], cidx[bg]); // the centre is its own nearest point
        double f2[5][256], fg[256], tok[16];
        for (int64_t c = 0; c < 256; c++)
            fg[c] = -INFINITY;
        for (int64_t j = 0; j < k; j++) {
            const real *pt = x + (bg / G * N + nidx[bg * k + j]) * C;
            double in[6], h1[128];
            for (int64_t c = 0; c < C; c++)
                in[c] = c < 3 ? pt[c] - cent[bg * 3 + c] : pt[c];
            dense(h1, P_("encoder.first_conv.0.weight"), P_("encoder.first_conv.0.bias"), in, 128, C);
            layernorm_ref(h1, 128, P_("encoder.first_conv.1.weight"), P_("encoder.first_conv.1.bias"));
            for (int c = 0; c < 128; c++)
                h1[c] = fmax(h1[c], 0);
            dense(f2[j], P_("encoder.first_conv.3.weight"), P_("encoder.first_conv.3.bias"), h1, 256, 128);
            for (int c = 0; c < 256; c++)
                fg[c] = fmax(fg[c], f2[j][c]);
        }
        for (int c = 0; c < D; c++)
            tok[c] = -INFINITY;
        for (int64_t j = 0; j < k; j++) {
            double cat[512], h3[512], f4[16];
            memcpy(cat, fg, sizeof fg); // Point-MAE: [global, local]
            memcpy(cat + 256, f2[j], sizeof f2[j]);
            dense(h3, P_("encoder.second_conv.0.weight"), P_("encoder.second_conv.0.bias"), cat, 512, 512);
            layernorm_ref(h3, 512, P_("encoder.second_conv.1.weight"), P_("encoder.second_conv.1.bias"));
            for (int c = 0; c < 512; c++)
                h3[c] = fmax(h3[c], 0);
            dense(f4, P_("encoder.second_conv.3.weight"), P_("encoder.second_conv.3.bias"), h3, D, 512);
            for (int c = 0; c < D; c++)
                tok[c] = fmax(tok[c], f4[c]);
        }
        double c3[3] = {cent[bg * 3], cent[bg * 3 + 1], cent[bg * 3 + 2]}, hp[128], pe[16];
        dense(hp, P_("pos_embed.0.weight"), P_("pos_embed.0.bias"), c3, 128, 3);
        for (int c = 0; c < 128; c++)
            hp[c] = 0.5 * hp[c] * (1 + erf(hp[c] / sqrt(2)));
        dense(pe, P_("pos_embed.2.weight"), P_("pos_embed.2.bias"), hp, D, 128);
        for (int c = 0; c < D; c++)
            maxerr = fmax(maxerr, fabs(tokens[bg * D + c] - (tok[c] + pe[c])) / (1 + fabs(tok[c] + pe[c])));
    }
    ck_assert_msg(maxerr < 1e-4, "tokens differ from the reference by %g", maxerr);
    for (int64_t b = 0; b < B; b++) { // the orders: point_order_build on each sample's centres
        point_order o;
        point_order_item work[5];
        int32_t want[5];
        ck_assert_int_eq(point_order_parse("t", "snake_zxy", &o, &e), SSM_OK);
        point_order_build(want, &o, cent + b * G * 3, G, 3, POINT_ORDER_GRID, work);
        for (int64_t g = 0; g < G; g++)
            ck_assert_int_eq(orders[b * G + g], want[g]);
    }
    // backward from x alone: a forward on other clouds in between changes nothing
    real dt[2 * 5 * 16], other[2 * 40 * 6];
    tu_fill_uniform(dt, sizeof dt / sizeof *dt, -1, 1, &st);
    tu_fill_uniform(other, sizeof other / sizeof *other, -1, 1, &st);
    ssm_params_zero_grad(&p);
    ssm_adapter_backward(a, &p, dt, x, B);
    real *g1 = malloc(p.total * sizeof *g1);
    memcpy(g1, p.grad, p.total * sizeof *g1);
    ck_assert_int_eq(ssm_adapter_forward(a, &p, tokens, NULL, other, B, &e), SSM_OK);
    ssm_params_zero_grad(&p);
    ssm_adapter_backward(a, &p, dt, x, B);
    ck_assert(!memcmp(g1, p.grad, p.total * sizeof *g1));
    x[1 * 40 * 6 + 7 * 6 + 2] = NAN;
    ck_assert_int_eq(ssm_adapter_forward(a, &p, tokens, orders, x, B, &e), SSM_EDATA);
    ck_assert_msg(strstr(e.msg, "cloud 1") && strstr(e.msg, "point 7") && strstr(e.msg, "value 2"),
                  "%s", e.msg);
    free(g1);
    ssm_rng_free(&rng);
    ssm_arena_free(&ar);
    ssm_adapter_free(a);
    ssm_params_free(&p);
}
END_TEST

int main(void) {
    Suite *su = suite_create("pc_adapter");
    TCase *tc = tcase_create("point_groups");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, options);
    tcase_add_test(tc, tokens_match_reference);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
