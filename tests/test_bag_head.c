// Check suite: the bag head (tasks/head_bag.c) on packed bags:
//  - every pooling (attention, gated, mean, max, cls) against naive double math, on bags of
//    1, 5 and 3 tokens, and the attention weights it exposes (each bag's sum to 1; NULL for
//    poolings without attention);
//  - a bag of 100,000 tokens beside a bag of 1, with scores of a few hundred (a softmax that
//    did not subtract the maximum would overflow in float): finite, each bag's weights sum
//    to 1, the logits equal the naive double computation;
//  - the pooling names; refusals at create (a trunk that is not one packed sequence, cls
//    without a class token, fewer than 2 classes, a bad pooling) and at forward (no packing,
//    a packing of another batch size, more tokens than planned), each naming the problem.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/params.h"
#include "tasks/head_bag.h"
#include "tasks/head_registry.h"
#include "tests/util/rig.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

typedef struct {
    ssm_head *h;
    ssm_params p;
    ssm_arena ar;
} rig;

static ssm_code make(rig *r, ssm_bag_pool pool, int64_t V, int64_t Ha, int64_t L, int64_t D,
                     int64_t cls_index, int64_t S, int64_t B_max, ssm_error *e) {
    memset(r, 0, sizeof *r);
    ssm_params_init(&r->p);
    ssm_head_options o = {.num_classes = V, .bag_pool = pool, .attn_dim = Ha};
    ssm_head_input in = {.adapter = "bag_features", .input = {1, {7}}, .S = S, .L = L, .D = D,
                         .cls_index = cls_index};
    ssm_code rc = ssm_head_create(&r->h, "bag", &o, &in, &r->p, "", e);
    if (rc != SSM_OK) {
        ssm_params_free(&r->p);
        return rc;
    }
    ck_assert_int_eq(ssm_params_finalize(&r->p, e), SSM_OK);
    uint64_t st = 31 + pool;
    tu_fill_uniform(r->p.data, r->p.total, -1, 1, &st);
    tu_plan_head(r->h, &r->ar, B_max);
    return SSM_OK;
}

static void unmake(rig *r) {
    ssm_head_free(r->h);
    ssm_arena_free(&r->ar);
    ssm_params_free(&r->p);
}

static const real *param(const rig *r, const char *name) {
    int64_t i = ssm_params_find(&r->p, name);
    return i < 0 ? NULL : ssm_params_data(&r->p, (size_t)i);
}

// logits [n, V] and (attention poolings) weights [total] by naive double math.
static void naive(const rig *r, ssm_bag_pool pool, const real *feats, const int64_t *off,
                  int64_t n, int64_t D, int64_t V, int64_t Ha, double *logits, double *attn) {
    const real *Vw = param(r, "attention_V.0.weight"), *Vb = param(r, "attention_V.0.bias");
    const real *Uw = param(r, "attention_U.0.weight"), *Ub = param(r, "attention_U.0.bias");
    const real *w = param(r, "attention_weights.weight");
    const real *W = param(r, "classifier.weight"), *bias = param(r, "classifier.bias");
    double *z = calloc((size_t)D, sizeof *z);
    for (int64_t b = 0; b < n; b++) {
        int64_t len = off[b + 1] - off[b];
        if (pool == SSM_BAG_POOL_ATTENTION || pool == SSM_BAG_POOL_GATED) {
            double m = -INFINITY, sum = 0;
            for (int64_t t = off[b]; t < off[b + 1]; t++) {
                double s = 0;
                for (int64_t j = 0; j < Ha; j++) {
                    double a = Vb[j], g = pool == SSM_BAG_POOL_GATED ? Ub[j] : 0;
                    for (int64_t d = 0; d < D; d++) {
                        a += (double)Vw[j * D + d] * feats[t * D + d];
                        if (pool == SSM_BAG_POOL_GATED)
                            g += (double)Uw[j * D + d] * feats[t * D + d];
                    }
                    s += w[j] * tanh(a) * (pool == SSM_BAG_POOL_GATED ? 1 / (1 + exp(-g)) : 1);
                }
                attn[t] = s;
                m = s > m ? s : m;
            }
            for (int64_t t = off[b]; t < off[b + 1]; t++)
                sum += exp(attn[t] - m);
            for (int64_t t = off[b]; t < off[b + 1]; t++)
                attn[t] = exp(attn[t] - m) / sum;
        }
        for (int64_t d = 0; d < D; d++) {
            double v = pool == SSM_BAG_POOL_MAX ? -INFINITY : 0;
            for (int64_t t = off[b]; t < off[b + 1]; t++) {
                double f = feats[t * D + d];
                if (pool == SSM_BAG_POOL_MAX)
                    v = f > v ? f : v;
                else if (pool == SSM_BAG_POOL_MEAN)
                    v += f / (double)len;
                else if (pool == SSM_BAG_POOL_CLS)
                    v = t == off[b] ? f : v;
                else
                    v += attn[t] * f;
            }
            z[d] = v;
        }
        for (int64_t k = 0; k < V; k++) {
            double s = bias[k];
            for (int64_t d = 0; d < D; d++)
                s += (double)W[k * D + d] * z[d];
            logits[b * V + k] = s;
        }
    }
    free(z);
}

START_TEST(every_pooling_matches_naive_math) {
    const int64_t D = 4, V = 3, Ha = 6, n = 3, off[] = {0, 1, 6, 9}, T = 9;
    for (int pool = 0; pool < 5; pool++) {
        rig r;
        ssm_error e = {0};
        ck_assert_msg(make(&r, (ssm_bag_pool)pool, V, Ha, 12, D, 0, 1, 4, &e) == SSM_OK, "%s",
                      e.msg);
        ck_assert_int_eq(r.h->out_numel, V);
        ck_assert(r.h->vt->ragged);
        int attn = pool <= SSM_BAG_POOL_GATED;
        ck_assert((param(&r, "attention_V.0.weight") != NULL) == attn);
        ck_assert((param(&r, "attention_U.0.weight") != NULL) == (pool == SSM_BAG_POOL_GATED));
        ck_assert_ptr_nonnull(param(&r, "classifier.weight"));
        ck_assert_ptr_null(ssm_head_bag_attention(r.h)); // no forward yet
        real feats[9 * 4], out[3 * 3];
        uint64_t st = 8 + pool;
        tu_fill_uniform(feats, T * D, -2, 2, &st);
        ssm_packing pk = {.n = n, .total = T, .offsets = off};
        r.h->pack = &pk;
        ck_assert_msg(ssm_head_forward(r.h, &r.p, out, feats, n, &e) == SSM_OK, "%s", e.msg);
        double want[9], aw[9];
        naive(&r, (ssm_bag_pool)pool, feats, off, n, D, V, Ha, want, aw);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(fabs(out[i] - want[i]) < 1e-5, "pool %s: logit %d %g, expected %g",
                          ssm_bag_pool_name((ssm_bag_pool)pool), i, (double)out[i], want[i]);
        const real *a = ssm_head_bag_attention(r.h);
        if (attn) {
            ck_assert_ptr_nonnull(a);
            ck_assert_double_eq(a[0], 1); // a bag of one
            for (int t = 0; t < T; t++)
                ck_assert_double_eq_tol(a[t], aw[t], 1e-6);
            for (int64_t b = 0; b < n; b++) {
                double s = 0;
                for (int64_t t = off[b]; t < off[b + 1]; t++)
                    s += a[t];
                ck_assert_double_eq_tol(s, 1, 1e-6);
            }
        } else {
            ck_assert_ptr_null(a);
        }
        r.h->pack = NULL;
        unmake(&r);
    }
}
END_TEST

START_TEST(a_bag_of_100000_beside_a_bag_of_1) {
    const int64_t D = 8, V = 2, Ha = 16, n = 2, T = 100001, off[] = {0, 100000, 100001};
    for (int pool = SSM_BAG_POOL_ATTENTION; pool <= SSM_BAG_POOL_MEAN; pool++) {
        rig r;
        ssm_error e = {0};
        ck_assert_int_eq(make(&r, (ssm_bag_pool)pool, V, Ha, T, D, -1, 1, 2, &e), SSM_OK);
        if (pool != SSM_BAG_POOL_MEAN) { // scores of a few hundred: exp overflows in float
            real *w = ssm_params_data(&r.p, (size_t)ssm_params_find(&r.p,
                                                                    "attention_weights.weight"));
            for (int j = 0; j < Ha; j++)
                w[j] *= 60;
        }
        real *feats = malloc((size_t)(T * D) * sizeof(real)), out[4];
        uint64_t st = 77;
        tu_fill_uniform(feats, (size_t)(T * D), -3, 3, &st);
        ssm_packing pk = {.n = n, .total = T, .offsets = off};
        r.h->pack = &pk;
        ck_assert_int_eq(ssm_head_forward(r.h, &r.p, out, feats, n, &e), SSM_OK);
        double want[4], *aw = malloc((size_t)T * sizeof(double));
        naive(&r, (ssm_bag_pool)pool, feats, off, n, D, V, Ha, want, aw);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(isfinite(out[i]) && fabs(out[i] - want[i]) < 1e-4 * (1 + fabs(want[i])),
                          "pool %d: logit %d %g, expected %g", pool, i, (double)out[i], want[i]);
        const real *a = ssm_head_bag_attention(r.h);
        if (pool != SSM_BAG_POOL_MEAN) {
            double s = 0, top = 0;
            for (int64_t t = 0; t < 100000; t++) {
                ck_assert(isfinite(a[t]));
                s += a[t];
                top = a[t] > top ? a[t] : top;
            }
            ck_assert_double_eq_tol(s, 1, 1e-4);
            ck_assert_double_gt(top, 1e-3); // peaked, as such scores make it
            ck_assert_double_eq(a[100000], 1);
        }
        // the backward runs at this size too, and stays finite
        real *dfeats = calloc((size_t)(T * D), sizeof(real)), dout[4] = {1, -1, .5, .25};
        ssm_params_zero_grad(&r.p);
        ck_assert_int_eq(ssm_head_backward(r.h, &r.p, dfeats, dout, feats, n, &e), SSM_OK);
        for (size_t i = 0; i < r.p.total; i++)
            ck_assert(isfinite(r.p.grad[i]));
        for (int64_t i = 0; i < T * D; i += 997)
            ck_assert(isfinite(dfeats[i]));
        free(dfeats);
        free(aw);
        free(feats);
        r.h->pack = NULL;
        unmake(&r);
    }
}
END_TEST

START_TEST(pooling_names) {
    ssm_bag_pool p;
    ssm_error e = {0};
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(ssm_bag_pool_parse(ssm_bag_pool_name((ssm_bag_pool)i), &p, &e), SSM_OK);
        ck_assert_int_eq(p, i);
    }
    ck_assert_str_eq(ssm_bag_pool_name(SSM_BAG_POOL_GATED), "gated");
    ck_assert_int_eq(ssm_bag_pool_parse("sum", &p, &e), SSM_ECONFIG);
    ck_assert_str_eq(e.msg, "bag pooling 'sum'; known: attention, gated, mean, max, cls");
    ck_assert_ptr_eq(ssm_head_find("bag"), ssm_head_find("bag"));
    ck_assert_ptr_null(ssm_head_bag_attention(NULL));
}
END_TEST

START_TEST(refusals_name_the_problem) {
    rig r;
    ssm_error e = {0};
    ck_assert_int_eq(make(&r, SSM_BAG_POOL_MEAN, 2, 0, 10, 4, -1, 3, 2, &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "gives 3 sequences per sample; a bag is one packed"));
    ck_assert_int_eq(make(&r, SSM_BAG_POOL_CLS, 2, 0, 10, 4, -1, 1, 2, &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "pooling cls reads each bag's class token, but adapter "
                                        "bag_features puts none first"));
    ck_assert_int_eq(make(&r, SSM_BAG_POOL_MEAN, 1, 0, 10, 4, -1, 1, 2, &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "1 classes, expected at least 2"));
    ck_assert_int_eq(make(&r, (ssm_bag_pool)9, 2, 0, 10, 4, -1, 1, 2, &e), SSM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(e.msg, "bag pooling 9"));
    ck_assert_int_eq(make(&r, SSM_BAG_POOL_GATED, 2, 0, 10, 4, -1, 1, 2, &e), SSM_OK);
    ck_assert_int_eq(r.p.items[ssm_params_find(&r.p, "attention_V.0.weight")].shape[0], 128);
    real feats[12 * 4] = {0}, out[4];
    ck_assert_int_eq(ssm_head_forward(r.h, &r.p, out, feats, 2, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "head bag reads packed bags, but no packing was set"));
    int64_t off[] = {0, 3, 5};
    ssm_packing pk = {.n = 2, .total = 5, .offsets = off};
    r.h->pack = &pk;
    ck_assert_int_eq(ssm_head_forward(r.h, &r.p, out, feats, 1, &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "batch of 1 bags, the packing has 2"));
    int64_t big[] = {0, 3, 12};
    ssm_packing pk2 = {.n = 2, .total = 12, .offsets = big};
    r.h->pack = &pk2;
    ck_assert_int_eq(ssm_head_forward(r.h, &r.p, out, feats, 2, &e), SSM_EINVAL);
    ck_assert_msg(strstr(e.msg, "head bag: packed batch of 12 tokens, the plan holds 10"), "%s",
                  e.msg);
    r.h->pack = &pk;
    ck_assert_int_eq(ssm_head_forward(r.h, &r.p, out, feats, 2, &e), SSM_OK);
    r.h->pack = NULL;
    unmake(&r);
}
END_TEST

int main(void) {
    Suite *su = suite_create("bag_head");
    TCase *tc = tcase_create("bag_head");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_pooling_matches_naive_math);
    tcase_add_test(tc, a_bag_of_100000_beside_a_bag_of_1);
    tcase_add_test(tc, pooling_names);
    tcase_add_test(tc, refusals_name_the_problem);
    suite_add_tcase(su, tc);
    return tu_run_suite(su);
}
