// Check suite: the counter-based dropout (kernels/dropout.h) and its sites (the backbone's
// FFN and mixer output, backbone/mamba.h; the series adapters' tokens; the model's training
// step, tasks/model.h). The gradients with dropout at a fixed mask are the double build's
// (tests/grad_backbone_block.c, tests/grad_series.c); the CUDA twin's masks and gradients
// tests/test_cuda_dropout.c.
//
// What is asserted:
//   - the dropped fraction is p within 5 standard deviations of a Bernoulli(p) count over
//     2^20 elements (sigma = sqrt(p (1 - p) / n): 2.9e-4 at p = 0.1, so |frac - p| < 1.5e-3;
//     a mask off by a constant factor or a biased hash misses it by far), and every kept
//     value is exactly x * ssm_dropout_scale(p);
//   - p = 0 is a copy, bit for bit, and leaves an in-place buffer untouched;
//   - the mask is a pure function of (key, site, sample, element): the same call gives the
//     same bits, another site or key another mask, a slice of rows (row0) the slice of the
//     whole, the samples 2..3 of a batch keyed k the samples 0..1 of a batch keyed
//     k + 2 * SSM_DROP_KEY_STEP (a data-parallel rank's slice, a resumed batch), and a
//     packed row the dense rows of the same samples;
//   - a stack with dropout configured but not training, or training with p = 0, gives the
//     bits of a stack without dropout (same weights); training twice with one key gives the
//     same bits, another key other outputs;
//   - a model's evaluation after a training step with dropout (model_forward,
//     model_predict) gives the bits of the same model without dropout; its training loss
//     with dropout differs, is the same for the same key, and a sample's outputs do not
//     depend on the batch around it when the key follows its position.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "kernels/dropout.h"
#include "tasks/model.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

// ---- the kernel ----------------------------------------------------------------

static ssm_dropout_rows dense(uint64_t key, int64_t rows_per_sample) {
    return (ssm_dropout_rows){.key = key, .rows_per_sample = rows_per_sample};
}

static void check_fraction(double p) {
    const int64_t rows = 1024, W = 1024;
    const size_t n = (size_t)(rows * W);
    uint64_t st = 5;
    real *x = tu_new_uniform(n, 0.5, 1.5, &st), *y = malloc(n * sizeof(real));
    ssm_dropout_rows m = dense(0x1234, 16);
    dropout_apply(y, x, 0, rows, W, &m, 3, p);
    const real scale = ssm_dropout_scale(p);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] == 0)
            zeros++;
        else
            ck_assert_msg(y[i] == x[i] * scale, "p %g: kept element %zu is %.9g, not x * scale",
                          p, i, (double)y[i]);
    }
    const double frac = (double)zeros / (double)n, sigma = sqrt(p * (1 - p) / (double)n);
    ck_assert_msg(fabs(frac - p) < 5 * sigma, "p %g: dropped fraction %.6f (bar %.2e)", p, frac,
                  5 * sigma);
    free(x);
    free(y);
}

START_TEST(kernel_fraction) {
    check_fraction(0.1);
    check_fraction(0.5);
    check_fraction(0.9);
    ck_assert_uint_eq(ssm_dropout_threshold(0), 0);
    ck_assert_uint_eq(ssm_dropout_threshold(0.25), 1u << 30);
}
END_TEST

START_TEST(kernel_p0_is_identity) {
    uint64_t st = 9;
    const int64_t rows = 37, W = 13;
    const size_t n = (size_t)(rows * W);
    real *x = tu_new_uniform(n, -2, 2, &st), *y = tu_new_zeros(n), *z = malloc(n * sizeof(real));
    memcpy(z, x, n * sizeof(real));
    ssm_dropout_rows m = dense(77, 5);
    dropout_apply(y, x, 0, rows, W, &m, 1, 0);
    ck_assert(!memcmp(y, x, n * sizeof(real)));
    dropout_apply(z, z, 0, rows, W, &m, 1, 0);
    ck_assert(!memcmp(z, x, n * sizeof(real)));
    free(x);
    free(y);
    free(z);
}
END_TEST

static int differs(const real *a, const real *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += (a[i] == 0) != (b[i] == 0);
    return d > n / 20; // two independent masks at p = 0.3 disagree on 42% of the elements
}

START_TEST(kernel_pure_function) {
    const int64_t B = 4, R = 6, W = 10, rows = B * R; // 4 samples of 6 rows
    const size_t n = (size_t)(rows * W);
    const uint64_t key = 0xabcdef;
    real *one = malloc(n * sizeof(real)), *a = malloc(n * sizeof(real));
    real *b = malloc(n * sizeof(real));
    for (size_t i = 0; i < n; i++)
        one[i] = 1;
    ssm_dropout_rows m = dense(key, R);
    dropout_apply(a, one, 0, rows, W, &m, 2, 0.3);
    dropout_apply(b, one, 0, rows, W, &m, 2, 0.3);
    ck_assert(!memcmp(a, b, n * sizeof(real)));
    dropout_apply(b, one, 0, rows, W, &m, 5, 0.3);
    ck_assert_msg(differs(a, b, n), "another site gave the same mask");
    ssm_dropout_rows m2 = dense(key + 1, R);
    dropout_apply(b, one, 0, rows, W, &m2, 2, 0.3);
    ck_assert_msg(differs(a, b, n), "another key gave the same mask");
    // a slice of rows (row0 = 7, across a sample boundary) is the slice of the whole
    dropout_apply(b, one, 7, 9, W, &m, 2, 0.3);
    ck_assert(!memcmp(b, a + 7 * W, (size_t)(9 * W) * sizeof(real)));
    // samples 2..3 keyed k are samples 0..1 of a batch keyed k + 2 steps
    ssm_dropout_rows shifted = dense(key + 2 * SSM_DROP_KEY_STEP, R);
    dropout_apply(b, one, 0, 2 * R, W, &shifted, 2, 0.3);
    ck_assert(!memcmp(b, a + 2 * R * W, (size_t)(2 * R * W) * sizeof(real)));
    // packed rows of equal lengths are the dense rows; ragged ones keep each sample's mask
    int64_t off[5] = {0, R, 2 * R, 3 * R, 4 * R};
    ssm_dropout_rows pk = {.key = key, .offsets = off, .n = B};
    dropout_apply(b, one, 0, rows, W, &pk, 2, 0.3);
    ck_assert(!memcmp(b, a, n * sizeof(real)));
    int64_t rag[3] = {0, 2, 2 + R}; // sample 1 of this row is 6 rows long: sample 1 of the dense
    ssm_dropout_rows pr = {.key = key, .offsets = rag, .n = 2};
    dropout_apply(b, one, 0, 2 + R, W, &pr, 2, 0.3);
    ck_assert(!memcmp(b + 2 * W, a + R * W, (size_t)(R * W) * sizeof(real)));
    free(one);
    free(a);
    free(b);
}
END_TEST

// ---- the backbone's sites ------------------------------------------------------------

static mamba_config smamba_cfg(double drop, double mixer_drop) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = 16;
    c.n_layers = 2;
    c.d_state = 2;
    c.d_conv = 2;
    c.expand = 1;
    c.n_branches = 2;
    c.merge = MAMBA_MERGE_SUM;
    c.norm = MAMBA_NORM_LAYER;
    c.norm_position = MAMBA_POST_NORM;
    c.ffn_dim = 24;
    c.dropout = drop;
    c.mixer_dropout = mixer_drop;
    return c;
}

typedef struct {
    mamba_stack *s;
    ssm_params p;
    ssm_arena a;
} stack_fx;

enum { SB = 3, SL = 5, SD = 16 };

static void stack_init(stack_fx *f, mamba_config c) {
    ssm_error e = {0};
    ssm_params_init(&f->p);
    ck_assert_msg(mamba_stack_declare(&f->s, &c, &f->p, "", &e) == SSM_OK, "%s", e.msg);
    ck_assert(ssm_params_finalize(&f->p, &e) == SSM_OK);
    ssm_rng rng;
    ck_assert(ssm_rng_init(&rng, 21, &e) == SSM_OK);
    mamba_stack_init_params(f->s, &f->p, &rng);
    ssm_rng_free(&rng);
    ssm_arena_init(&f->a);
    ck_assert(mamba_stack_plan(f->s, &f->a, SB, SL, &e) == SSM_OK);
    ck_assert(ssm_arena_commit(&f->a, &e) == SSM_OK);
    ck_assert(mamba_stack_plan(f->s, &f->a, SB, SL, &e) == SSM_OK);
}

static void stack_free(stack_fx *f) {
    mamba_stack_free(f->s);
    ssm_params_free(&f->p);
    ssm_arena_free(&f->a);
}

// out and, when din is not NULL, din and the parameter gradients (into g) of sum(out * w)
static void stack_run(stack_fx *f, const real *in, const real *w, real *out, real *din, real *g) {
    int32_t perm[2 * SB * SL];
    mamba_order_identity(perm, SB, SL);
    mamba_order_reverse(perm + SB * SL, SB, SL);
    mamba_orders o = {.count = 2, .perm = perm};
    mamba_stack_forward(f->s, &f->p, out, in, &o, SB);
    if (!din)
        return;
    ssm_params_zero_grad(&f->p);
    memset(din, 0, (size_t)(SB * SL * SD) * sizeof(real));
    mamba_stack_backward(f->s, &f->p, din, w, &o, SB);
    memcpy(g, f->p.grad, f->p.total * sizeof(real));
}

START_TEST(stack_eval_and_p0_unaffected) {
    const size_t n = (size_t)(SB * SL * SD);
    uint64_t st = 3;
    real *in = tu_new_uniform(n, -1, 1, &st), *w = tu_new_uniform(n, -1, 1, &st);
    stack_fx plain, drop, zero;
    stack_init(&plain, smamba_cfg(0, 0));
    stack_init(&drop, smamba_cfg(0.3, 0.2));
    stack_init(&zero, smamba_cfg(0, 0));
    ck_assert_uint_eq(plain.p.total, drop.p.total); // dropout adds no parameter
    ck_assert(!memcmp(plain.p.data, drop.p.data, plain.p.total * sizeof(real)));
    real *o0 = malloc(n * sizeof(real)), *o1 = malloc(n * sizeof(real));
    real *d0 = malloc(n * sizeof(real)), *d1 = malloc(n * sizeof(real));
    real *g0 = malloc(plain.p.total * sizeof(real)), *g1 = malloc(plain.p.total * sizeof(real));
    stack_run(&plain, in, w, o0, d0, g0);
    // not training (the default, and set back after a training pass): no dropout anywhere
    stack_run(&drop, in, w, o1, d1, g1);
    ck_assert(!memcmp(o0, o1, n * sizeof(real)) && !memcmp(d0, d1, n * sizeof(real)));
    ck_assert(!memcmp(g0, g1, plain.p.total * sizeof(real)));
    mamba_stack_set_dropout(drop.s, (ssm_dropout_step){.train = 1, .key = 8}, 1);
    stack_run(&drop, in, w, o1, d1, g1);
    ck_assert_msg(tu_max_abs_diff(o0, o1, n) > 1e-3, "training with dropout changed nothing");
    mamba_stack_set_dropout(drop.s, (ssm_dropout_step){0}, 1);
    stack_run(&drop, in, w, o1, d1, g1);
    ck_assert(!memcmp(o0, o1, n * sizeof(real)) && !memcmp(g0, g1, plain.p.total * sizeof(real)));
    // training with p = 0: the bits of no dropout
    mamba_stack_set_dropout(zero.s, (ssm_dropout_step){.train = 1, .key = 8}, 1);
    stack_run(&zero, in, w, o1, d1, g1);
    ck_assert(!memcmp(o0, o1, n * sizeof(real)) && !memcmp(d0, d1, n * sizeof(real)));
    ck_assert(!memcmp(g0, g1, plain.p.total * sizeof(real)));
    stack_free(&plain);
    stack_free(&drop);
    stack_free(&zero);
    free(in), free(w), free(o0), free(o1), free(d0), free(d1), free(g0), free(g1);
}
END_TEST

START_TEST(stack_training_deterministic) {
    const size_t n = (size_t)(SB * SL * SD);
    uint64_t st = 4;
    real *in = tu_new_uniform(n, -1, 1, &st), *w = tu_new_uniform(n, -1, 1, &st);
    stack_fx f;
    stack_init(&f, smamba_cfg(0.1, 0.1));
    real *o0 = malloc(n * sizeof(real)), *o1 = malloc(n * sizeof(real));
    real *d0 = malloc(n * sizeof(real)), *d1 = malloc(n * sizeof(real));
    real *g0 = malloc(f.p.total * sizeof(real)), *g1 = malloc(f.p.total * sizeof(real));
    mamba_stack_set_dropout(f.s, (ssm_dropout_step){.train = 1, .key = 99}, 1);
    stack_run(&f, in, w, o0, d0, g0);
    stack_run(&f, in, w, o1, d1, g1);
    ck_assert(!memcmp(o0, o1, n * sizeof(real)) && !memcmp(d0, d1, n * sizeof(real)));
    ck_assert(!memcmp(g0, g1, f.p.total * sizeof(real)));
    mamba_stack_set_dropout(f.s, (ssm_dropout_step){.train = 1, .key = 100}, 1);
    stack_run(&f, in, w, o1, d1, g1);
    ck_assert_msg(tu_max_abs_diff(o0, o1, n) > 1e-3, "another key, the same outputs");
    stack_free(&f);
    free(in), free(w), free(o0), free(o1), free(d0), free(d1), free(g0), free(g1);
}
END_TEST

// ---- the model: series_variate + S-Mamba's block + forecast head ------------------------

enum { MT = 12, MV = 3, MH = 4, MB = 4 };

static void model_init(ssm_model *m, double drop) {
    ssm_model_spec s;
    memset(&s, 0, sizeof s);
    s.head = "forecast";
    s.trunk.adapter = "series_variate";
    ssm_adapter_options *o = &s.trunk.adapter_opt;
    ssm_adapter_options_defaults(o);
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "revin");
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    if (drop > 0) {
        snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "dropout");
        snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "%g", drop);
    }
    s.trunk.input = (ssm_input_shape){2, {MT, MV}};
    s.trunk.backbone = smamba_cfg(drop, drop);
    s.head_opt.horizon = MH;
    s.head_opt.out_vars = MV;
    s.loss.kind = LOSS_MSE;
    s.B_max = MB;
    s.seed = 3;
    ssm_error e = {0};
    ck_assert_msg(model_build(m, &s, &e) == SSM_OK, "%s", e.msg);
}

static double step(ssm_model *m, const real *x, const real *y, int64_t B, uint64_t key) {
    ssm_targets t = {.values = y};
    ssm_error e = {0};
    double loss;
    model_set_step_key(m, key);
    ck_assert_msg(model_loss_and_grad(m, x, &t, B, &loss, &e) == SSM_OK, "%s", e.msg);
    return loss;
}

START_TEST(model_eval_off_training_on) {
    ssm_model plain, drop;
    model_init(&plain, 0);
    model_init(&drop, 0.3);
    ck_assert(!memcmp(plain.params.data, drop.params.data, plain.params.total * sizeof(real)));
    uint64_t st = 12;
    real x[MB * MT * MV], y[MB * MH * MV];
    tu_fill_uniform(x, sizeof x / sizeof *x, -1, 2, &st);
    tu_fill_uniform(y, sizeof y / sizeof *y, -1, 1, &st);
    const size_t no = (size_t)(MB * plain.K);
    const double l0 = step(&plain, x, y, MB, 5), l1 = step(&drop, x, y, MB, 5);
    ck_assert_msg(fabs(l0 - l1) > 1e-4, "training loss with dropout %g = without %g", l1, l0);
    ck_assert(step(&drop, x, y, MB, 5) == l1);
    ck_assert(step(&drop, x, y, MB, 6) != l1);
    ssm_error e = {0};
    const real *p0, *p1;
    ck_assert(model_predict(&plain, x, MB, &p0, &e) == SSM_OK);
    real *keep = malloc(no * sizeof(real));
    memcpy(keep, p0, no * sizeof(real));
    ck_assert(model_predict(&drop, x, MB, &p1, &e) == SSM_OK);
    ck_assert_msg(!memcmp(keep, p1, no * sizeof(real)), "evaluation after a training step drops");
    free(keep);
    model_free(&plain);
    model_free(&drop);
}
END_TEST

START_TEST(model_sample_masks_follow_position) {
    ssm_model m;
    model_init(&m, 0.3);
    uint64_t st = 13;
    real x[MB * MT * MV], y[MB * MH * MV];
    tu_fill_uniform(x, sizeof x / sizeof *x, -1, 2, &st);
    tu_fill_uniform(y, sizeof y / sizeof *y, -1, 1, &st);
    const uint64_t key = 0x5151;
    const int64_t K = m.K;
    step(&m, x, y, MB, key);
    real whole[MB * MH * MV];
    memcpy(whole, m.out, (size_t)(MB * K) * sizeof(real));
    // samples 2, 3 alone, keyed as their position: what a second rank computes for them
    step(&m, x + 2 * MT * MV, y + 2 * MH * MV, 2, key + 2 * SSM_DROP_KEY_STEP);
    const double d = tu_max_abs_diff(whole + 2 * K, m.out, (size_t)(2 * K));
    ck_assert_msg(d < 1e-5, "samples 2, 3 differ by %g alone", d);
    // keyed as the first two instead: other masks
    step(&m, x + 2 * MT * MV, y + 2 * MH * MV, 2, key);
    ck_assert(tu_max_abs_diff(whole + 2 * K, m.out, (size_t)(2 * K)) > 1e-4);
    model_free(&m);
}
END_TEST

START_TEST(bad_probability_refused) {
    mamba_config c = smamba_cfg(1.0, 0);
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s;
    ssm_error e = {0};
    ck_assert(mamba_stack_declare(&s, &c, &p, "", &e) != SSM_OK);
    ck_assert_msg(strstr(e.msg, "dropout 1"), "%s", e.msg);
    c = smamba_cfg(0.1, 0);
    c.ffn_dim = 0;
    ck_assert(mamba_stack_declare(&s, &c, &p, "", &e) != SSM_OK);
    ck_assert_msg(strstr(e.msg, "ffn_dim is 0"), "%s", e.msg);
    ssm_params_free(&p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("dropout");
    TCase *tc = tcase_create("dropout");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kernel_fraction);
    tcase_add_test(tc, kernel_p0_is_identity);
    tcase_add_test(tc, kernel_pure_function);
    tcase_add_test(tc, stack_eval_and_p0_unaffected);
    tcase_add_test(tc, stack_training_deterministic);
    tcase_add_test(tc, model_eval_off_training_on);
    tcase_add_test(tc, model_sample_masks_follow_position);
    tcase_add_test(tc, bad_probability_refused);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
