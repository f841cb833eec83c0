// Check suite: the CUDA twins of every adapter (image_patches, audio_patches; series_variate and
// series_patch with and without RevIN and its affine) and of every registered head (class,
// forecast with RevIN's inversion, regress) against their CPU versions, on fresh random
// inputs and parameters: tokens and scan orders of the forward, every parameter gradient of
// the backward (accumulated onto random values, so += is checked), the heads' outputs and
// their feature and parameter gradients; and the small kernels of the heads and losses.
// Device outputs are poisoned (NaN) before each call so that an unwritten element fails.
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
#include "adapters/revin.h"
#include "kernels/cuda/loss.h"
#include "tasks/cuda/head.h"
#include "tasks/head_registry.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#include "tests/util/cuda_bytes.h"
#include "tests/util/cuda_twin.h"

typedef struct {
    int64_t C, H, W, p, s;
    ssm_cls_position cls;
    const char *orders[3];
    int n_orders;
} ip_case;

static const ip_case IP_CASES[] = {
    {1, 28, 28, 4, 4, SSM_CLS_NONE, {"row", "reverse"}, 2},
    {3, 17, 13, 4, 3, SSM_CLS_MIDDLE, {"snake", "column_reverse", "column"}, 3},
    {2, 9, 12, 3, 2, SSM_CLS_HEAD, {"row", "snake_reverse"}, 2},
};

typedef struct {
    const char *adapter;
    ssm_adapter_options o;
    ssm_input_shape in;
} ad_case;

// extra option key=1 onto o (RevIN switches)
static void opt_on(ssm_adapter_options *o, const char *key) {
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "%s", key);
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
}

static void image_case(ad_case *ac, int i) {
    const ip_case *c = &IP_CASES[i];
    memset(ac, 0, sizeof *ac);
    ac->adapter = "image_patches";
    ssm_adapter_options_defaults(&ac->o);
    ac->o.patch_size = c->p;
    ac->o.stride = c->s;
    ac->o.cls_token = c->cls;
    ac->o.n_orders = c->n_orders;
    for (int k = 0; k < c->n_orders; k++)
        snprintf(ac->o.orders[k], SSM_ADAPTER_NAME_MAX, "%s", c->orders[k]);
    ac->in = (ssm_input_shape){3, {c->C, c->H, c->W}};
}

// The series adapters: with RevIN and its affine (both ends of its gradient), without,
// overlapping patches with end padding.
static void series_case(ad_case *ac, int i) {
    memset(ac, 0, sizeof *ac);
    ssm_adapter_options_defaults(&ac->o);
    ac->in = (ssm_input_shape){2, {30, 4}};
    ac->adapter = i % 2 ? "series_patch" : "series_variate";
    ac->o.patch_size = 8;
    ac->o.stride = 3; // (30 + 3 - 8) / 3 + 1 = 9 patches, the last one padded
    if (i < 2) {
        opt_on(&ac->o, "revin");
        opt_on(&ac->o, "revin_affine");
    }
}

// audio_patches: the shared patch code through the transposed [mel, frames] view, with
// per-axis strides (AST overlap on one axis) and both token orders.
static void audio_case(ad_case *ac, int i) {
    memset(ac, 0, sizeof *ac);
    ssm_adapter_options_defaults(&ac->o);
    ac->adapter = "audio_patches";
    ac->in = (ssm_input_shape){2, {37, 20}}; // frames, mel
    ac->o.patch_size = 6;
    ac->o.cls_token = i ? SSM_CLS_HEAD : SSM_CLS_MIDDLE;
    ac->o.n_orders = 2;
    snprintf(ac->o.orders[0], SSM_ADAPTER_NAME_MAX, "%s", i ? "time" : "freq");
    snprintf(ac->o.orders[1], SSM_ADAPTER_NAME_MAX, "%s", i ? "time_reverse" : "freq_reverse");
    snprintf(ac->o.extra[0].key, SSM_ADAPTER_NAME_MAX, "fstride");
    snprintf(ac->o.extra[0].value, SSM_ADAPTER_VALUE_MAX, "%d", i ? 6 : 4);
    snprintf(ac->o.extra[1].key, SSM_ADAPTER_NAME_MAX, "tstride");
    snprintf(ac->o.extra[1].value, SSM_ADAPTER_VALUE_MAX, "%d", i ? 3 : 5);
    ac->o.n_extra = 2;
}

static void check_adapter(const ad_case *c, uint64_t seed) {
    const int64_t D = 24, B = 5;
    ssm_params p;
    ssm_params_init(&p);
    ssm_adapter *a = NULL;
    ssm_error e = {0};
    ck_assert_msg(ssm_adapter_create(&a, c->adapter, &c->o, &c->in, D, &p, "", &e) == SSM_OK, "%s",
                  e.msg);
    ck_assert(ssm_adapter_has_cuda(a));
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    uint64_t st = seed;
    tu_fill_uniform(p.data, p.total, -0.5, 0.5, &st); // random, biases and cls included
    for (size_t i = 0; i < p.count; i++) // RevIN's affine weight near 1, as trained
        if (strstr(p.items[i].name, "revin.affine_weight"))
            tu_fill_uniform(ssm_params_data(&p, i), p.items[i].numel, 0.6, 1.4, &st);
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st); // backward must accumulate onto these
    ssm_params dp;
    twin_mirror(&dp, &p);
    ssm_adapter *ga = NULL; // a second instance for the device (its own scratch)
    ssm_params p2;
    ssm_params_init(&p2);
    ck_assert(ssm_adapter_create(&ga, c->adapter, &c->o, &c->in, D, &p2, "", &e) == SSM_OK);
    ssm_arena ha, da;
    twin_plan_adapters(a, &ha, ga, &da, B);

    int64_t nx = B;
    for (int d = 0; d < c->in.ndim; d++)
        nx *= c->in.dims[d];
    int64_t L = a->n_seqs * a->seq_len; // tokens per sample
    real *x = malloc((size_t)nx * sizeof(real));
    tu_fill_uniform(x, (size_t)nx, -1, 2, &st);
    real *tok = malloc((size_t)(B * L * D) * sizeof(real));
    int32_t *ord = malloc((size_t)(a->n_orders * B * L) * sizeof(int32_t));
    ck_assert(ssm_adapter_forward(a, &p, tok, ord, x, B, &e) == SSM_OK);
    real *dx = dev_copy(x, (size_t)nx * sizeof(real));
    real *dtok = dev_poison((size_t)(B * L * D) * sizeof(real));
    int32_t *dord = dev_poison((size_t)(a->n_orders * B * L) * sizeof(int32_t));
    ck_assert_msg(ssm_adapter_forward_cuda(ga, &dp, dtok, dord, dx, B, &e) == SSM_OK, "%s", e.msg);
    real *gtok = host_of(dtok, (size_t)(B * L * D) * sizeof(real));
    int32_t *gord = host_of(dord, (size_t)(a->n_orders * B * L) * sizeof(int32_t));
    double r = tu_rel_err(gtok, tok, (size_t)(B * L * D));
    ck_assert_msg(r < 1e-5, "%s: tokens: relative error %.3e", c->adapter, r);
    ck_assert(!memcmp(gord, ord, (size_t)(a->n_orders * B * L) * sizeof(int32_t)));

    // backward from random dtokens
    real *g = malloc((size_t)(B * L * D) * sizeof(real));
    tu_fill_uniform(g, (size_t)(B * L * D), -1, 1, &st);
    real *dg = dev_copy(g, (size_t)(B * L * D) * sizeof(real));
    ssm_adapter_backward(a, &p, g, x, B);
    ck_assert_msg(ssm_adapter_backward_cuda(ga, &dp, dg, dx, B, &e) == SSM_OK, "%s", e.msg);
    real *ggrad = host_of(dp.grad, p.total * sizeof(real));
    twin_grads_agree(c->adapter, ggrad, &p, 1e-5, 0);
    free(x), free(tok), free(ord), free(gtok), free(gord), free(g), free(ggrad);
    ssm_cuda_free(dx), ssm_cuda_free(dtok), ssm_cuda_free(dord), ssm_cuda_free(dg);
    ssm_adapter_free(a);
    ssm_adapter_free(ga);
    twin_free(&ha, &da, &dp, &p, &p2);
}

START_TEST(image_patches_matches_cpu) {
    ad_case c;
    image_case(&c, _i);
    check_adapter(&c, 1000 + (uint64_t)_i);
}
END_TEST

START_TEST(audio_patches_matches_cpu) {
    ad_case c;
    audio_case(&c, _i);
    check_adapter(&c, 1500 + (uint64_t)_i);
}
END_TEST

START_TEST(series_adapters_match_cpu) {
    ad_case c;
    series_case(&c, _i);
    check_adapter(&c, 2000 + (uint64_t)_i);
}
END_TEST

// ---- every registered head: forward_cuda / backward_cuda against forward / backward -----
typedef struct {
    const char *head;
    ssm_head_options opt;
    int64_t S, L, D, cls_index;
    int64_t T, G; // the series sample [T, G] (RevIN over G); images ignore it
    int revin;
} hd_case;

static const hd_case HD_CASES[] = {
    {"class", {.num_classes = 7, .pool = SSM_HEAD_POOL_MEAN}, 1, 9, 32, -1, 4, 4, 0},
    {"class", {.num_classes = 5, .pool = SSM_HEAD_POOL_CLS}, 1, 9, 32, 4, 4, 4, 0},
    {"class", {.num_classes = 3, .pool = SSM_HEAD_POOL_LAST}, 1, 9, 16, -1, 4, 4, 0},
    {"forecast", {.horizon = 12, .out_vars = 2}, 1, 5, 16, -1, 24, 5, 1},   // series_variate
    {"forecast", {.horizon = 8, .out_vars = 5}, 5, 3, 8, -1, 24, 5, 0},     // series_patch
    {"regress", {.outputs = 1, .pool = SSM_HEAD_POOL_MEAN}, 1, 5, 16, -1, 24, 5, 1},
    {"regress", {.outputs = 3, .pool = SSM_HEAD_POOL_MEAN}, 5, 3, 8, -1, 24, 5, 0},
};
#define N_HD (sizeof HD_CASES / sizeof HD_CASES[0])

START_TEST(every_head_matches_cpu) {
    const hd_case *c = &HD_CASES[_i];
    const int64_t B = 6;
    ssm_params p;
    ssm_params_init(&p);
    ssm_error e = {0};
    ssm_revin rv, grv; // the same parameters, statistics on the host and on the device
    if (c->revin) {
        ck_assert(ssm_revin_declare(&rv, &p, "", c->T, c->G, 1, &e) == SSM_OK);
        grv = rv;
    }
    ssm_head_input in = {.adapter = "test", .input = {2, {c->T, c->G}}, .S = c->S, .L = c->L,
                         .D = c->D, .cls_index = c->cls_index, .inorm = c->revin ? &rv : NULL};
    ssm_head *h, *gh;
    ck_assert_msg(ssm_head_create(&h, c->head, &c->opt, &in, &p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_head_has_cuda(h));
    ssm_params p2; // the same table layout (the revin's parameters first), so gh's indices
    ssm_params_init(&p2); // address the mirror of p as h's address p
    if (c->revin) {
        ssm_revin layout;
        ck_assert(ssm_revin_declare(&layout, &p2, "", c->T, c->G, 1, &e) == SSM_OK);
    }
    in.inorm = c->revin ? &grv : NULL;
    ck_assert(ssm_head_create(&gh, c->head, &c->opt, &in, &p2, "", &e) == SSM_OK);
    ck_assert_int_eq(ssm_params_finalize(&p, &e), SSM_OK);
    uint64_t st = 300 + (uint64_t)_i;
    tu_fill_uniform(p.data, p.total, -0.5, 0.5, &st);
    for (size_t i = 0; i < p.count; i++)
        if (strstr(p.items[i].name, "revin.affine_weight"))
            tu_fill_uniform(ssm_params_data(&p, i), p.items[i].numel, 0.6, 1.4, &st);
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st);
    ssm_params dp;
    twin_mirror(&dp, &p);
    ssm_arena ha, da;
    ssm_arena_init(&ha);
    ssm_arena_init(&da);
    for (int pass = 0; pass < 2; pass++) {
        if (c->revin) {
            ssm_revin_plan(&rv, &ha, B);
            ssm_revin_plan(&grv, &da, B);
        }
        ck_assert(ssm_head_plan(h, &ha, B, &e) == SSM_OK);
        ck_assert_msg(ssm_head_plan_cuda(gh, &da, B, &e) == SSM_OK, "%s", e.msg);
        if (pass == 0) {
            ck_assert(ssm_arena_commit(&ha, &e) == SSM_OK);
            ck_assert(ssm_arena_commit_cuda(&da, &e) == SSM_OK);
        }
    }
    if (c->revin) { // a window's statistics on both devices, as the adapter's forward leaves them
        size_t nx = (size_t)(B * c->T * c->G);
        real *x = malloc(nx * sizeof(real)), *xn = malloc(nx * sizeof(real));
        tu_fill_uniform(x, nx, -3, 5, &st);
        real *dx = dev_copy(x, nx * sizeof(real)), *dxn = dev_poison(nx * sizeof(real));
        ssm_revin_norm_forward(&rv, &p, xn, x, B);
        ck_assert(ssm_revin_norm_forward_cuda(&grv, &dp, dxn, dx, B, &e) == SSM_OK);
        real *gxn = host_of(dxn, nx * sizeof(real));
        ck_assert_msg(tu_rel_err(gxn, xn, nx) < 1e-5, "RevIN normalised input");
        real *gm = host_of(grv.mean, (size_t)(B * c->G) * sizeof(real));
        real *gs = host_of(grv.std, (size_t)(B * c->G) * sizeof(real));
        fprintf(stderr, "  %s: RevIN mean rel err %.2g, std %.2g\n", c->head,
                tu_rel_err(gm, rv.mean, (size_t)(B * c->G)), tu_rel_err(gs, rv.std, (size_t)(B * c->G)));
        free(gm), free(gs);
        free(x), free(xn), free(gxn);
        ssm_cuda_free(dx), ssm_cuda_free(dxn);
    }
    const int64_t nf = B * c->S * c->L * c->D, K = h->out_numel;
    real *f = malloc((size_t)nf * sizeof(real)), *df = malloc((size_t)nf * sizeof(real));
    real *out = malloc((size_t)(B * K) * sizeof(real)), *dout = malloc((size_t)(B * K) * sizeof(real));
    tu_fill_uniform(f, (size_t)nf, -1, 1, &st);
    tu_fill_uniform(df, (size_t)nf, -1, 1, &st); // dfeats non-zero: backward must add
    tu_fill_uniform(dout, (size_t)(B * K), -1, 1, &st);
    real *d_f = dev_copy(f, (size_t)nf * sizeof(real)), *d_df = dev_copy(df, (size_t)nf * sizeof(real));
    real *d_out = dev_poison((size_t)(B * K) * sizeof(real));
    real *d_dout = dev_copy(dout, (size_t)(B * K) * sizeof(real));
    ck_assert(ssm_head_forward(h, &p, out, f, B, &e) == SSM_OK);
    ck_assert_msg(ssm_head_forward_cuda(gh, &dp, d_out, d_f, B, &e) == SSM_OK, "%s", e.msg);
    real *g_out = host_of(d_out, (size_t)(B * K) * sizeof(real));
    ck_assert_msg(tu_rel_err(g_out, out, (size_t)(B * K)) < 1e-5, "head %s: outputs, relative "
                  "error %.3g (first %g vs %g)", c->head, tu_rel_err(g_out, out, (size_t)(B * K)),
                  (double)g_out[0], (double)out[0]);
    ck_assert(ssm_head_backward(h, &p, df, dout, f, B, &e) == SSM_OK);
    ck_assert_msg(ssm_head_backward_cuda(gh, &dp, d_df, d_dout, d_f, B, &e) == SSM_OK, "%s", e.msg);
    real *g_df = host_of(d_df, (size_t)nf * sizeof(real));
    real *g_grad = host_of(dp.grad, p.total * sizeof(real));
    ck_assert_msg(tu_rel_err(g_df, df, (size_t)nf) < 1e-5, "head %s: dfeats", c->head);
    char what[64];
    snprintf(what, sizeof what, "head %s", c->head);
    twin_grads_agree(what, g_grad, &p, 1e-5, 0);
    free(f), free(df), free(out), free(dout), free(g_out), free(g_df), free(g_grad);
    ssm_cuda_free(d_f), ssm_cuda_free(d_df), ssm_cuda_free(d_out), ssm_cuda_free(d_dout);
    ssm_head_free(h);
    ssm_head_free(gh);
    twin_free(&ha, &da, &dp, &p, &p2);
}
END_TEST

// The small helpers of the heads and losses (tasks/cuda/head.h).
START_TEST(head_helpers_match_cpu) {
    const int64_t B = 3, X = 5, Y = 4;
    real in[B * X * Y], want[B * X * Y];
    uint64_t st = 9;
    tu_fill_uniform(in, B * X * Y, -1, 1, &st);
    for (int64_t b = 0; b < B; b++)
        for (int64_t x = 0; x < X; x++)
            for (int64_t y = 0; y < Y; y++)
                want[(b * Y + y) * X + x] = in[(b * X + x) * Y + y];
    real *d_in = dev_copy(in, sizeof in), *d_out = dev_poison(sizeof in);
    ck_assert(swap_last2_cuda(d_out, d_in, B, X, Y) == SSM_OK);
    real *got = host_of(d_out, sizeof in);
    ck_assert(!memcmp(got, want, sizeof want));
    free(got);
    // MAE: |d| and its subgradient (0 at 0)
    real p[4] = {1, -2, 3, 0.5f}, t[4] = {0, -1, 3, 1}, dl[4] = {1, 1, 1, 2};
    real *dp_ = dev_copy(p, sizeof p), *dt = dev_copy(t, sizeof t), *ddl = dev_copy(dl, sizeof dl);
    real zero[4] = {0};
    real *dls = dev_poison(sizeof p), *dd = dev_copy(zero, sizeof zero);
    ck_assert(mae_forward_cuda(dls, dp_, dt, 4) == SSM_OK);
    ck_assert(mae_backward_cuda(dd, ddl, dp_, dt, 4) == SSM_OK);
    real *ls = host_of(dls, sizeof p), *d = host_of(dd, sizeof p);
    ck_assert(ls[0] == 1 && ls[1] == 1 && ls[2] == 0 && ls[3] == 0.5f);
    ck_assert(d[0] == 1 && d[1] == -1 && d[2] == 0 && d[3] == -2);
    ck_assert(fill_cuda(dd, 0.25f, 4) == SSM_OK);
    free(d);
    d = host_of(dd, sizeof p);
    for (int i = 0; i < 4; i++)
        ck_assert(d[i] == 0.25f);
    free(ls), free(d);
    ssm_cuda_free(d_in), ssm_cuda_free(d_out), ssm_cuda_free(dp_), ssm_cuda_free(dt);
    ssm_cuda_free(ddl), ssm_cuda_free(dls), ssm_cuda_free(dd);
}
END_TEST
#endif

int main(void) {
    if (!tu_cuda_ready("test_cuda_adapter:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_adapter");
    TCase *tc = tcase_create("adapter_head");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, image_patches_matches_cpu, 0, 3);
    tcase_add_loop_test(tc, audio_patches_matches_cpu, 0, 2);
    tcase_add_loop_test(tc, series_adapters_match_cpu, 0, 4);
    tcase_add_loop_test(tc, every_head_matches_cpu, 0, (int)N_HD);
    tcase_add_test(tc, head_helpers_match_cpu);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su);
#endif
}
