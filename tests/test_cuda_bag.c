// Check suite: the CUDA twins of the bag_features adapter and of the bag head against their
// CPU versions on packed batches (bags of 1 to 3000 instances):
//  - adapter: tokens (act gelu / relu / none, with and without a class token, with and
//    without coordinates), every order (identity, reverse, sr:R, shuffle, coords_snake,
//    coords_hilbert) equal to the host's permutation element for element (the same keys,
//    adapters/bag_common.h), and the weight, bias and class token gradients of the backward
//    (accumulated onto random values, so += is checked);
//  - head: every pooling's logits, the attention weights, dfeats (onto random values) and
//    every parameter gradient; and the same bits on a second run (no atomics).
// Device outputs are poisoned (NaN) first so that an unwritten element fails.
// Skips (and passes) without CUDA=1, in the sanitized / double builds, or without a GPU.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "adapters/adapter.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "tasks/head_bag.h"
#include "tasks/head_registry.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#include "tests/util/cuda_bytes.h"
#include "tests/util/cuda_twin.h"

static const int64_t LEN[] = {1, 300, 17, 3000, 2, 64};
#define NB 6
#define MAX_TOKENS 4000

static void offsets(int64_t *off) {
    off[0] = 0;
    for (int b = 0; b < NB; b++)
        off[b + 1] = off[b] + LEN[b];
}

typedef struct {
    const char *act;
    ssm_cls_position cls;
    int coords;
} ad_case;

static const ad_case AD[] = {
    {"gelu", SSM_CLS_NONE, 1}, {"relu", SSM_CLS_HEAD, 1}, {"none", SSM_CLS_NONE, 0},
    {"gelu", SSM_CLS_HEAD, 0}};

static void ad_options(ssm_adapter_options *o, const ad_case *c) {
    ssm_adapter_options_defaults(o);
    const char *kv[][2] = {{"act", c->act}, {"max_tokens", "4000"},
                           {"coords", c->coords ? "true" : "false"}};
    for (int i = 0; i < 3; i++) {
        snprintf(o->extra[i].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i][0]);
        snprintf(o->extra[i].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i][1]);
    }
    o->n_extra = 3;
    o->cls_token = c->cls;
    const char *with[] = {"identity", "reverse", "sr:3", "shuffle", "coords_snake",
                          "coords_hilbert", "shuffle"};
    const char *without[] = {"identity", "sr:5", "shuffle", "reverse", "sr:64", "shuffle"};
    o->n_orders = c->coords ? 7 : 6;
    for (int i = 0; i < o->n_orders; i++)
        snprintf(o->orders[i], SSM_ADAPTER_NAME_MAX, "%s", c->coords ? with[i] : without[i]);
}

START_TEST(adapter_matches_cpu) {
    const ad_case *c = &AD[_i];
    const int64_t F = 24, D = 32, row = F + 2 * c->coords;
    ssm_adapter_options o;
    ad_options(&o, c);
    ssm_input_shape in = {1, {row}};
    ssm_params p, p2;
    ssm_adapter *a, *ga;
    twin_adapters(&a, &p, &ga, &p2, "bag_features", &o, &in, D);
    ssm_error e = {0};
    uint64_t st = 40 + (uint64_t)_i;
    tu_fill_uniform(p.data, p.total, -0.5, 0.5, &st);
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st);
    ssm_params dp;
    twin_mirror(&dp, &p);
    ssm_arena ha, da;
    twin_plan_adapters(a, &ha, ga, &da, NB);
    int64_t off[NB + 1];
    offsets(off);
    const int64_t total = off[NB], extra = a->ragged_extra, T = total + NB * extra;
    real *x = malloc((size_t)(total * row) * sizeof(real));
    tu_fill_uniform(x, (size_t)(total * row), -2, 2, &st);
    for (int64_t i = 0; c->coords && i < total; i++) { // a patch grid with gaps and repeats
        x[i * row + F] = (real)(10000 + 256 * (int)(tu_uniform(&st) * 60));
        x[i * row + F + 1] = (real)(512 * (int)(tu_uniform(&st) * 60));
    }
    int64_t *d_off = dev_copy(off, sizeof off);
    ssm_packing pk = {.n = NB, .total = total, .offsets = off, .d_offsets = d_off, .key = 99};
    a->pack = ga->pack = &pk;
    size_t nt = (size_t)(T * D), no = (size_t)(a->n_orders * T);
    real *tok = malloc(nt * sizeof(real));
    int32_t *ord = malloc(no * sizeof(int32_t));
    real *d_x = dev_copy(x, (size_t)(total * row) * sizeof(real));
    real *d_tok = dev_poison(nt * sizeof(real));
    int32_t *d_ord = dev_poison(no * sizeof(int32_t));
    ck_assert(ssm_adapter_forward(a, &p, tok, ord, x, NB, &e) == SSM_OK);
    ck_assert_msg(ssm_adapter_forward_cuda(ga, &dp, d_tok, d_ord, d_x, NB, &e) == SSM_OK, "%s",
                  e.msg);
    real *g_tok = host_of(d_tok, nt * sizeof(real));
    int32_t *g_ord = host_of(d_ord, no * sizeof(int32_t));
    double r = tu_rel_err(g_tok, tok, nt);
    fprintf(stderr, "  bag_features %s cls %d coords %d: tokens rel err %.2g\n", c->act,
            (int)c->cls, c->coords, r);
    ck_assert_msg(r < 1e-5, "tokens: relative error %g", r);
    for (int o_ = 0; o_ < a->n_orders; o_++)
        for (int64_t q = 0; q < T; q++)
            ck_assert_msg(g_ord[o_ * T + q] == ord[o_ * T + q], "order %s: step %lld reads %d "
                          "on the GPU, %d on the CPU", a->order_names[o_], (long long)q,
                          g_ord[o_ * T + q], ord[o_ * T + q]);
    real *dtok = malloc(nt * sizeof(real));
    tu_fill_uniform(dtok, nt, -1, 1, &st);
    real *d_dtok = dev_copy(dtok, nt * sizeof(real));
    ssm_adapter_backward(a, &p, dtok, x, NB);
    ck_assert_msg(ssm_adapter_backward_cuda(ga, &dp, d_dtok, d_x, NB, &e) == SSM_OK, "%s", e.msg);
    real *g_grad = host_of(dp.grad, p.total * sizeof(real));
    twin_grads_agree("", g_grad, &p, 1e-5, 1);
    free(x), free(tok), free(ord), free(g_tok), free(g_ord), free(dtok), free(g_grad);
    ssm_cuda_free(d_off), ssm_cuda_free(d_x), ssm_cuda_free(d_tok), ssm_cuda_free(d_ord);
    ssm_cuda_free(d_dtok);
    a->pack = ga->pack = NULL;
    ssm_adapter_free(a);
    ssm_adapter_free(ga);
    twin_free(&ha, &da, &dp, &p, &p2);
}
END_TEST

START_TEST(head_matches_cpu) {
    const ssm_bag_pool pool = (ssm_bag_pool)_i;
    const int64_t D = 48, V = 3, L = MAX_TOKENS + NB;
    ssm_head_options opt = {.num_classes = V, .bag_pool = pool, .attn_dim = 40};
    ssm_head_input in = {.adapter = "bag_features", .input = {1, {10}}, .S = 1, .L = L, .D = D,
                         .cls_index = 0};
    ssm_params p, p2;
    ssm_head *h, *gh;
    twin_heads(&h, &p, &gh, &p2, "bag", &opt, &in);
    ssm_error e = {0};
    uint64_t st = 700 + (uint64_t)pool;
    tu_fill_uniform(p.data, p.total, -0.5, 0.5, &st);
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st);
    ssm_params dp;
    twin_mirror(&dp, &p);
    ssm_arena ha, da;
    twin_plan_heads(h, &ha, gh, &da, NB);
    int64_t off[NB + 1];
    offsets(off);
    const int64_t T = off[NB];
    int64_t *d_off = dev_copy(off, sizeof off);
    ssm_packing pk = {.n = NB, .total = T, .offsets = off, .d_offsets = d_off};
    h->pack = gh->pack = &pk;
    size_t nf = (size_t)(T * D);
    real *f = malloc(nf * sizeof(real)), *df = malloc(nf * sizeof(real));
    real out[NB * 3], dout[NB * 3];
    tu_fill_uniform(f, nf, -1, 1, &st);
    tu_fill_uniform(df, nf, -1, 1, &st);
    tu_fill_uniform(dout, NB * V, -1, 1, &st);
    real *d_f = dev_copy(f, nf * sizeof(real)), *d_df = dev_copy(df, nf * sizeof(real));
    real *df0 = malloc(nf * sizeof(real)); // the dfeats both backwards add to
    memcpy(df0, df, nf * sizeof(real));
    real *d_out = dev_poison(sizeof out), *d_dout = dev_copy(dout, sizeof dout);
    const char *name = ssm_bag_pool_name(pool);
    ck_assert(ssm_head_forward(h, &p, out, f, NB, &e) == SSM_OK);
    ck_assert_msg(ssm_head_forward_cuda(gh, &dp, d_out, d_f, NB, &e) == SSM_OK, "%s", e.msg);
    real *g_out = host_of(d_out, sizeof out);
    double r = tu_rel_err(g_out, out, NB * V);
    fprintf(stderr, "  bag head %-9s logits rel err %.2g\n", name, r);
    ck_assert_msg(r < 1e-5, "%s: logits relative error %g", name, r);
    if (pool <= SSM_BAG_POOL_GATED) {
        real *g_a = host_of(ssm_head_bag_attention(gh), (size_t)T * sizeof(real));
        r = tu_rel_err(g_a, ssm_head_bag_attention(h), (size_t)T);
        ck_assert_msg(r < 1e-5, "%s: attention relative error %g", name, r);
        free(g_a);
    } else {
        ck_assert_ptr_null(ssm_head_bag_attention(gh));
    }
    ck_assert(ssm_head_backward(h, &p, df, dout, f, NB, &e) == SSM_OK);
    ck_assert_msg(ssm_head_backward_cuda(gh, &dp, d_df, d_dout, d_f, NB, &e) == SSM_OK, "%s",
                  e.msg);
    real *g_df = host_of(d_df, nf * sizeof(real));
    real *g_grad = host_of(dp.grad, p.total * sizeof(real));
    r = tu_rel_err(g_df, df, nf);
    ck_assert_msg(r < 1e-5, "%s: dfeats relative error %g", name, r);
    twin_grads_agree(name, g_grad, &p, 1e-5, 1);
    // the same bits again: a second forward + backward from the same state
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d_df, df0, nf * sizeof(real)));
    ck_assert(ssm_head_forward_cuda(gh, &dp, d_out, d_f, NB, &e) == SSM_OK);
    real *g_out2 = host_of(d_out, sizeof out);
    ck_assert(memcmp(g_out2, g_out, sizeof out) == 0);
    ck_assert(ssm_head_backward_cuda(gh, &dp, d_df, d_dout, d_f, NB, &e) == SSM_OK);
    real *g_df2 = host_of(d_df, nf * sizeof(real));
    ck_assert(memcmp(g_df2, g_df, nf * sizeof(real)) == 0);
    free(f), free(df), free(df0), free(g_out), free(g_out2), free(g_df), free(g_df2), free(g_grad);
    ssm_cuda_free(d_off), ssm_cuda_free(d_f), ssm_cuda_free(d_df), ssm_cuda_free(d_out);
    ssm_cuda_free(d_dout);
    h->pack = gh->pack = NULL;
    ssm_head_free(h);
    ssm_head_free(gh);
    twin_free(&ha, &da, &dp, &p, &p2);
}
END_TEST
#endif

int main(void) {
    if (!tu_cuda_ready("test_cuda_bag:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_bag");
    TCase *tc = tcase_create("bag");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, adapter_matches_cpu, 0, 4);
    tcase_add_loop_test(tc, head_matches_cpu, 0, 5);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su);
#endif
}
