// Check suite (double build): gradients of the extended blocks (backbone/mamba.h: the
// feed-forward sublayer, post-norm; backbone/stack.c block_forward / block_backward,
// backbone/ffn.c) against central finite differences, for every parameter tensor and the
// input, through stacks of 1 to 3 layers, RMSNorm and LayerNorm, mean and sum merge,
// identity/reverse and random per-sample orders, B = 1 and 2 (the mixer's sequential and
// per-sample paths), dense and packed rows (packed: each sequence's conv and scan restart).
//
// The scalar loss is sum(out * W) for a fixed random W, so the analytic gradient is the
// backward of dout = W. Error measure and tolerance as tests/grad_backbone.c,
// |fd - g| / max(|fd| + |g|, 1e-4) < 1e-5, but with h = 2e-5: stacked post-norm LayerNorms
// curve more than the pre-norm stack (their third derivatives), and at h = 1e-4 the central
// difference's truncation error reached 1.3e-9 absolute (1.3e-5 on this measure) on a
// 2e-5 gradient of fc1; at 2e-5 it is 25x smaller, and the rounding error, ~eps |loss| / h
// ~ 2e-16 * 10 / 2e-5 = 1e-10, stays far below the bar (every case measures <= 2.3e-6). A
// wrong term shows at 1e-2 or worse; GELU's derivative without its v phi(v) term, say, gives
// ~1e-1 on the fc1 weights.
// The backward must also accumulate (a second pass doubles every gradient).
// With dropout configured (cfg.dropout: the FFN's two sites, cfg.mixer_dropout: the mixer's
// output) the stack runs as a training pass of a fixed key: every loss evaluation of the
// finite differences draws the same masks (kernels/dropout.h), so the masked, rescaled
// function is differentiated; a backward that ignored a mask or its scale is off by O(1).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/util/testutil.h"

#define FD_H 2e-5
#define FD_FLOOR 1e-4
#define FD_TOL 1e-5
#define FD_MAX_CHECKS 40

typedef struct {
    mamba_config cfg;
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
    int64_t B, L, D, T; // T: tokens of one call (B * L dense, the packed row's total)
    real *in, *out, *w, *din;
    int32_t *perm;
    mamba_orders o;
    ssm_packing pk;
    int64_t offsets[4];
    int packed;
} fx;

static void shuffle(int32_t *row, int64_t L, uint64_t *st) {
    for (int64_t l = L - 1; l > 0; l--) {
        int64_t j = (int64_t)(tu_uniform(st) * (double)(l + 1));
        int32_t t = row[l];
        row[l] = row[j];
        row[j] = t;
    }
}

// random_orders: K random per-sample permutations; else identity and reverse. packed: one
// row of three sequences of 3, 1 and 4 tokens (plan B_max = 1, L = 8).
static void fx_init(fx *f, mamba_config cfg, int64_t B, int random_orders, int packed) {
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->packed = packed;
    f->B = packed ? 1 : B;
    f->L = packed ? 8 : 6;
    f->D = cfg.d_model;
    f->T = f->B * f->L;
    ssm_error e = {0};
    ssm_params_init(&f->p);
    ck_assert_msg(mamba_stack_declare(&f->s, &cfg, &f->p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(ssm_params_finalize(&f->p, &e) == SSM_OK, "%s", e.msg);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, 11, &e) == SSM_OK);
    mamba_stack_init_params(f->s, &f->p, &rng);
    ssm_rng_free(&rng);
    uint64_t st = 4242;
    // every term must matter: dt well inside the state's range, norm weights and biases and
    // D away from their init, FFN biases of both signs (GELU's curved part)
    for (size_t i = 0; i < f->p.count; i++) {
        ssm_param_info *it = &f->p.items[i];
        real *x = f->p.data + it->offset;
        if (strstr(it->name, "dt_proj") && strstr(it->name, ".bias"))
            tu_fill_uniform(x, it->numel, -1.0, 1.0, &st);
        else if (strstr(it->name, "norm") || strstr(it->name, ".D"))
            for (size_t j = 0; j < it->numel; j++)
                x[j] += (real)(0.5 * (tu_uniform(&st) - 0.5));
        else if (strstr(it->name, "ffn") && strstr(it->name, ".bias"))
            tu_fill_uniform(x, it->numel, -0.8, 0.8, &st);
    }
    ssm_arena_init(&f->a);
    for (int pass = 0; pass < 2; pass++) {
        ck_assert_msg(mamba_stack_plan(f->s, &f->a, f->B, f->L, &e) == SSM_OK, "%s", e.msg);
        if (pass == 0)
            ck_assert(ssm_arena_commit(&f->a, &e) == SSM_OK);
    }
    const size_t n = (size_t)(f->T * f->D);
    f->in = malloc(n * sizeof(real));
    f->out = malloc(n * sizeof(real));
    f->w = malloc(n * sizeof(real));
    f->din = malloc(n * sizeof(real));
    tu_fill_uniform(f->in, n, -1.5, 1.5, &st);
    tu_fill_uniform(f->w, n, -1, 1, &st);
    const int64_t K = cfg.n_branches;
    f->perm = malloc((size_t)(K * f->T) * sizeof(int32_t));
    if (packed) {
        f->offsets[0] = 0, f->offsets[1] = 3, f->offsets[2] = 4, f->offsets[3] = 8;
        f->pk = (ssm_packing){.n = 3, .total = 8, .offsets = f->offsets};
        mamba_order_identity_packed(f->perm, &f->pk);
        if (K > 1)
            mamba_order_reverse_packed(f->perm + f->T, &f->pk);
    } else {
        for (int64_t k = 0; k < K; k++) {
            int32_t *pk = f->perm + k * f->T;
            if (random_orders || k >= 2) {
                mamba_order_identity(pk, f->B, f->L);
                for (int64_t b = 0; b < f->B; b++)
                    shuffle(pk + b * f->L, f->L, &st);
            } else if (k == 0) {
                mamba_order_identity(pk, f->B, f->L);
            } else {
                mamba_order_reverse(pk, f->B, f->L);
            }
        }
    }
    f->o = (mamba_orders){.count = K, .perm = f->perm, .schedule = NULL};
    if (cfg.dropout > 0 || cfg.mixer_dropout > 0) // 2 sequences a sample when dense
        mamba_stack_set_dropout(f->s, (ssm_dropout_step){.train = 1, .key = 0x5eed}, 2);
    if (packed)
        ck_assert_msg(mamba_orders_check_packed(f->s, &f->o, &f->pk, &e) == SSM_OK, "%s", e.msg);
    else
        ck_assert_msg(mamba_orders_check(f->s, &f->o, f->B, &e) == SSM_OK, "%s", e.msg);
}

static void fx_free(fx *f) {
    mamba_stack_free(f->s);
    ssm_params_free(&f->p);
    ssm_arena_free(&f->a);
    free(f->in);
    free(f->out);
    free(f->w);
    free(f->din);
    free(f->perm);
}

static void fx_forward(fx *f) {
    if (f->packed)
        mamba_stack_forward_packed(f->s, &f->p, f->out, f->in, &f->o, &f->pk);
    else
        mamba_stack_forward(f->s, &f->p, f->out, f->in, &f->o, f->B);
}

static void fx_backward(fx *f) {
    if (f->packed)
        mamba_stack_backward_packed(f->s, &f->p, f->din, f->w, &f->o, &f->pk);
    else
        mamba_stack_backward(f->s, &f->p, f->din, f->w, &f->o, f->B);
}

static double fx_loss(void *ctx) {
    fx *f = ctx;
    fx_forward(f);
    return tu_dot(f->out, f->w, (size_t)(f->T * f->D));
}

static void check_case(mamba_config cfg, int64_t B, int random_orders, int packed,
                       const char *label) {
    fx f;
    fx_init(&f, cfg, B, random_orders, packed);
    const size_t n = (size_t)(f.T * f.D);
    ssm_params_zero_grad(&f.p);
    memset(f.din, 0, n * sizeof(real));
    fx_forward(&f);
    fx_backward(&f);
    real *g1 = malloc(f.p.total * sizeof(real)), *d1 = malloc(n * sizeof(real));
    memcpy(g1, f.p.grad, f.p.total * sizeof(real));
    memcpy(d1, f.din, n * sizeof(real));
    fx_forward(&f);
    fx_backward(&f);
    for (size_t i = 0; i < f.p.total; i++)
        ck_assert_msg(fabs(f.p.grad[i] - 2 * g1[i]) <= 1e-12 * (1 + fabs(g1[i])),
                      "%s: gradient %zu does not accumulate", label, i);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(f.din[i] - 2 * d1[i]) <= 1e-12 * (1 + fabs(d1[i])),
                      "%s: din[%zu] does not accumulate", label, i);
    memcpy(f.p.grad, g1, f.p.total * sizeof(real));
    memcpy(f.din, d1, n * sizeof(real));
    free(g1);
    free(d1);

    double worst_all = 0;
    int ffn_seen = 0;
    for (size_t t = 0; t < f.p.count; t++) {
        const ssm_param_info *it = &f.p.items[t];
        ffn_seen |= strstr(it->name, "ffn.fc1.weight") != NULL;
        size_t worst;
        double err = tu_fd_check(f.p.data + it->offset, f.p.grad + it->offset, it->numel, fx_loss,
                                 &f, FD_H, FD_FLOOR, FD_MAX_CHECKS, &worst);
        ck_assert_msg(err < FD_TOL, "%s: %s[%zu]: analytic %.10g vs finite differences, rel err %.3g",
                      label, it->name, worst, (double)f.p.grad[it->offset + worst], err);
        if (err > worst_all)
            worst_all = err;
    }
    ck_assert_msg(ffn_seen == (cfg.ffn_dim > 0), "%s: the FFN's parameters %s", label,
                  cfg.ffn_dim > 0 ? "are missing" : "exist without ffn_dim");
    size_t worst;
    double err = tu_fd_check(f.in, f.din, n, fx_loss, &f, FD_H, FD_FLOOR, 4 * FD_MAX_CHECKS, &worst);
    ck_assert_msg(err < FD_TOL, "%s: input[%zu]: analytic %.10g, rel err %.3g", label, worst,
                  (double)f.din[worst], err);
    if (err > worst_all)
        worst_all = err;
    printf("  %-44s worst rel err %.2e over %zu tensors + input\n", label, worst_all, f.p.count);
    fx_free(&f);
}

static mamba_config cfg_of(int64_t layers, int64_t ffn, mamba_norm_position pos,
                           mamba_norm_kind norm) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 8;
    c.d_state = 3;
    c.d_conv = 2;
    c.expand = 1;
    c.n_layers = layers;
    c.n_branches = 2;
    c.scan_chunk = 4; // L = 6: chunks of 4 and 2, the checkpoint recompute runs
    c.ffn_dim = ffn;
    c.norm_position = pos;
    c.norm = norm;
    return c;
}

START_TEST(post_norm_ffn_layernorm) { // S-Mamba's encoder layer
    mamba_config c = cfg_of(2, 12, MAMBA_POST_NORM, MAMBA_NORM_LAYER);
    c.merge = MAMBA_MERGE_SUM;
    check_case(c, 2, 0, 0, "post + FFN, LayerNorm, 2 layers, sum");
}
END_TEST

START_TEST(post_norm_no_ffn) {
    check_case(cfg_of(2, 0, MAMBA_POST_NORM, MAMBA_NORM_LAYER), 2, 1, 0,
               "post, no FFN, LayerNorm, random orders");
}
END_TEST

START_TEST(post_norm_ffn_rms_one_sample) {
    check_case(cfg_of(1, 6, MAMBA_POST_NORM, MAMBA_NORM_RMS), 1, 1, 0,
               "post + FFN, RMSNorm, B = 1");
}
END_TEST

START_TEST(pre_norm_ffn) {
    check_case(cfg_of(3, 10, MAMBA_PRE_NORM, MAMBA_NORM_RMS), 2, 0, 0, "pre + FFN, RMSNorm, 3 layers");
}
END_TEST

START_TEST(pre_norm_ffn_layernorm_no_final_norm) {
    mamba_config c = cfg_of(2, 5, MAMBA_PRE_NORM, MAMBA_NORM_LAYER);
    c.final_norm = 0;
    check_case(c, 2, 1, 0, "pre + FFN, LayerNorm, no norm_f");
}
END_TEST

START_TEST(packed_rows) {
    check_case(cfg_of(2, 7, MAMBA_POST_NORM, MAMBA_NORM_LAYER), 1, 0, 1, "post + FFN, packed row");
    check_case(cfg_of(1, 7, MAMBA_PRE_NORM, MAMBA_NORM_RMS), 1, 0, 1, "pre + FFN, packed row");
}
END_TEST

START_TEST(dropout_fixed_mask) {
    mamba_config c = cfg_of(2, 12, MAMBA_POST_NORM, MAMBA_NORM_LAYER);
    c.merge = MAMBA_MERGE_SUM;
    c.dropout = 0.3;
    c.mixer_dropout = 0.2;
    check_case(c, 2, 0, 0, "post + FFN, dropout 0.3, mixer 0.2");
    c = cfg_of(2, 5, MAMBA_PRE_NORM, MAMBA_NORM_RMS);
    c.dropout = 0.25;
    check_case(c, 2, 1, 0, "pre + FFN, dropout 0.25");
    c = cfg_of(2, 0, MAMBA_PRE_NORM, MAMBA_NORM_RMS);
    c.mixer_dropout = 0.3;
    check_case(c, 2, 1, 0, "plain pre-norm, mixer dropout 0.3");
    c = cfg_of(2, 7, MAMBA_POST_NORM, MAMBA_NORM_LAYER);
    c.dropout = c.mixer_dropout = 0.3;
    check_case(c, 1, 0, 1, "post + FFN, packed row, dropout 0.3");
}
END_TEST

int main(void) {
    Suite *s = suite_create("grad_backbone_block");
    TCase *tc = tcase_create("grad_backbone_block");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, post_norm_ffn_layernorm);
    tcase_add_test(tc, post_norm_no_ffn);
    tcase_add_test(tc, post_norm_ffn_rms_one_sample);
    tcase_add_test(tc, pre_norm_ffn);
    tcase_add_test(tc, pre_norm_ffn_layernorm_no_final_norm);
    tcase_add_test(tc, packed_rows);
    tcase_add_test(tc, dropout_fixed_mask);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
