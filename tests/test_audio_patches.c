// Check suite: the audio_patches adapter (AST/AuM tokenisation of a [frames, mel]
// spectrogram): tokens against a naive Conv2d over the transposed [mel, frames] image with
// per-axis strides and every class-token place; the tokens are bit for bit image_patches'
// on the explicitly transposed image with the same weights (one shared code path); scan
// orders freq / time / freq_snake and their reverses on a 2 x 3 grid by hand; parameter
// names and shapes (AuM's [D, 1, p, p] weight); the refusals, each naming what was wrong.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/adapter.h"
#include "core/arena.h"
#include "core/params.h"
#include "tests/util/rig.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

typedef tu_rig rig; // tests/util/rig.h

static void rig_make(rig *r, const char *name, const ssm_adapter_options *o,
                     const ssm_input_shape *in, int64_t D, int64_t B_max) {
    ssm_error e = {0};
    ck_assert_msg(tu_rig_make(r, name, o, in, D, B_max, &e) == SSM_OK, "%s", e.msg);
}

static const real *param(const rig *r, const char *name) { return tu_param(&r->p, name); }

static void set_extra(ssm_adapter_options *o, const char *key, const char *value) {
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "%s", key);
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "%s", value);
}

// ---- tokens against a naive convolution of the [mel, frames] image -----------------

static void check_tokens(ssm_cls_position cls) {
    // 23 frames x 11 mel bins, p = 4, fstride 3, tstride 5: gf = (11-4)/3+1 = 3 bands,
    // gt = (23-4)/5+1 = 4 steps; bins 10 and frames 19..22 are past the last patch.
    const int64_t B = 2, T = 23, F = 11, p = 4, fs = 3, ts = 5, D = 6, gf = 3, gt = 4, P = 12;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = p;
    o.stride = 7; // overridden on both axes by the extras
    o.cls_token = cls;
    set_extra(&o, "fstride", "3");
    set_extra(&o, "tstride", "5");
    ssm_input_shape in = {2, {T, F}};
    rig r;
    rig_make(&r, "audio_patches", &o, &in, D, B);
    int64_t L = r.a->seq_len, c = r.a->cls_index;
    ck_assert_int_eq(L, P + (cls != SSM_CLS_NONE));
    ck_assert_int_eq(c, cls == SSM_CLS_HEAD ? 0 : cls == SSM_CLS_NONE ? -1 : P / 2);
    uint64_t st = 11 + (uint64_t)cls;
    tu_fill_uniform(r.p.data, r.p.total, -1, 1, &st);
    real x[B * T * F], tok[B * (P + 1) * D];
    tu_fill_uniform(x, B * T * F, -1, 1, &st);
    ssm_error e = {0};
    ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, NULL, x, B, &e), SSM_OK);
    const real *w = param(&r, "patch_embed.proj.weight"), *bias = param(&r, "patch_embed.proj.bias"),
               *pos = param(&r, "pos_embed"), *cls_tok = c >= 0 ? param(&r, "cls_token") : NULL;
    for (int64_t b = 0; b < B; b++) {
        int64_t l = 0;
        for (int64_t i = 0; i < gf; i++) // frequency-band-major layout
            for (int64_t j = 0; j < gt; j++, l++) {
                if (l == c) {
                    for (int64_t d = 0; d < D; d++)
                        ck_assert(fabs(tok[(b * L + c) * D + d] - (cls_tok[d] + pos[c * D + d])) < 1e-6);
                    l++;
                }
                for (int64_t d = 0; d < D; d++) {
                    // AST: x.unsqueeze(1).transpose(2, 3) -> image[f][t] = x[t][f]
                    double acc = bias[d] + pos[l * D + d];
                    for (int64_t u = 0; u < p; u++)     // mel offset
                        for (int64_t v = 0; v < p; v++) // frame offset
                            acc += (double)w[(d * p + u) * p + v] *
                                   x[(b * T + j * ts + v) * F + i * fs + u];
                    ck_assert_msg(fabs(tok[(b * L + l) * D + d] - acc) < 1e-5,
                                  "cls %d b %lld band %lld step %lld d %lld: %g vs %g", cls,
                                  (long long)b, (long long)i, (long long)j, (long long)d,
                                  (double)tok[(b * L + l) * D + d], acc);
                }
            }
        ck_assert_int_eq(l, L);
    }
    tu_rig_free(&r);
}

START_TEST(tokens_match_naive_conv) {
    check_tokens(SSM_CLS_HEAD);
    check_tokens(SSM_CLS_MIDDLE);
    check_tokens(SSM_CLS_NONE);
    check_tokens(SSM_CLS_DEFAULT); // AuM's middle
}
END_TEST

// ---- the same code as image_patches: identical bits on the transposed image -----------

START_TEST(same_bits_as_image_patches_on_the_transpose) {
    const int64_t B = 3, T = 40, F = 16, D = 8;
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.patch_size = 8;
    o.stride = 4;
    o.cls_token = SSM_CLS_MIDDLE;
    ssm_input_shape ain = {2, {T, F}}, iin = {3, {1, F, T}};
    rig ra, ri;
    rig_make(&ra, "audio_patches", &o, &ain, D, B);
    rig_make(&ri, "image_patches", &o, &iin, D, B);
    ck_assert_uint_eq(ra.p.total, ri.p.total);
    ck_assert_uint_eq(ra.p.count, ri.p.count);
    for (size_t i = 0; i < ra.p.count; i++)
        ck_assert_str_eq(ra.p.items[i].name, ri.p.items[i].name);
    uint64_t st = 99;
    tu_fill_uniform(ra.p.data, ra.p.total, -1, 1, &st);
    memcpy(ri.p.data, ra.p.data, ra.p.total * sizeof(real));
    real *x = malloc((size_t)(B * T * F) * sizeof(real)), *xt = malloc((size_t)(B * T * F) * sizeof(real));
    tu_fill_uniform(x, (size_t)(B * T * F), -2, 2, &st);
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t f = 0; f < F; f++)
                xt[(b * F + f) * T + t] = x[(b * T + t) * F + f];
    int64_t L = ra.a->seq_len;
    ck_assert_int_eq(L, ri.a->seq_len);
    real *ta = malloc((size_t)(B * L * D) * sizeof(real)), *ti = malloc((size_t)(B * L * D) * sizeof(real));
    ssm_error e = {0};
    ck_assert_int_eq(ssm_adapter_forward(ra.a, &ra.p, ta, NULL, x, B, &e), SSM_OK);
    ck_assert_int_eq(ssm_adapter_forward(ri.a, &ri.p, ti, NULL, xt, B, &e), SSM_OK);
    ck_assert(memcmp(ta, ti, (size_t)(B * L * D) * sizeof(real)) == 0);
    // and the backward: the same gradients, bit for bit
    tu_fill_uniform(ta, (size_t)(B * L * D), -1, 1, &st);
    ssm_params_zero_grad(&ra.p);
    ssm_params_zero_grad(&ri.p);
    ssm_adapter_backward(ra.a, &ra.p, ta, x, B);
    ssm_adapter_backward(ri.a, &ri.p, ta, xt, B);
    ck_assert(memcmp(ra.p.grad, ri.p.grad, ra.p.total * sizeof(real)) == 0);
    free(x), free(xt), free(ta), free(ti);
    tu_rig_free(&ra);
    tu_rig_free(&ri);
}
END_TEST

// ---- orders on a 2 x 3 grid by hand --------------------------------------------

START_TEST(orders_by_hand) {
    // 2 bands x 3 time steps (F = 4, T = 6, p = 2): patch k = band * 3 + step
    //   band 0: 0 1 2
    //   band 1: 3 4 5
    // freq = 0 1 2 3 4 5; time = 0 3 1 4 2 5; freq_snake = 0 1 2 5 4 3.
    // With a middle class token (c = 3): patch k sits at k + (k >= 3).
    static const char *const names[] = {"freq", "time", "freq_snake", "freq_reverse",
                                        "time_reverse", "freq_snake_reverse", "row", "column",
                                        "reverse", "column_reverse"};
    static const int32_t none[3][6] = {{0, 1, 2, 3, 4, 5}, {0, 3, 1, 4, 2, 5}, {0, 1, 2, 5, 4, 3}};
    static const int32_t mid[3][7] = {
        {0, 1, 2, 3, 4, 5, 6}, {0, 4, 1, /*cls*/ 3, 5, 2, 6}, {0, 1, 2, 3, 6, 5, 4}};
    // names[i] walks base[i % 3] for i < 6; the image aliases: row, column, reverse, column_reverse
    static const int base_of[] = {0, 1, 2, 0, 1, 2, 0, 1, 0, 1};
    static const int rev_of[] = {0, 0, 0, 1, 1, 1, 0, 0, 1, 1};
    for (int withcls = 0; withcls < 2; withcls++) {
        ssm_adapter_options o;
        ssm_adapter_options_defaults(&o);
        o.patch_size = 2;
        o.cls_token = withcls ? SSM_CLS_MIDDLE : SSM_CLS_NONE;
        o.n_orders = 8;
        for (int k = 0; k < 8; k++)
            strcpy(o.orders[k], names[k]);
        ssm_input_shape in = {2, {6, 4}};
        rig r;
        const int64_t B = 2;
        rig_make(&r, "audio_patches", &o, &in, 3, B);
        int64_t L = r.a->seq_len;
        ck_assert_int_eq(L, 6 + withcls);
        real x[2 * 24] = {0}, tok[2 * 7 * 3];
        int32_t ord[8 * 2 * 7];
        ssm_error e = {0};
        ck_assert_int_eq(ssm_adapter_forward(r.a, &r.p, tok, ord, x, B, &e), SSM_OK);
        for (int k = 0; k < 8; k++) {
            ck_assert_str_eq(r.a->order_names[k], names[k]);
            const int32_t *want = withcls ? mid[base_of[k]] : none[base_of[k]];
            for (int64_t b = 0; b < B; b++)
                for (int64_t l = 0; l < L; l++) {
                    int32_t w = rev_of[k] ? want[L - 1 - l] : want[l];
                    ck_assert_msg(ord[(k * B + b) * L + l] == w, "%s cls %d step %lld: %d want %d",
                                  names[k], withcls, (long long)l, ord[(k * B + b) * L + l], w);
                }
        }
        tu_rig_free(&r);
    }
    // the default orders: AuM's Fo-Bi pair
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    ssm_input_shape in = {2, {128, 128}};
    rig r;
    rig_make(&r, "audio_patches", &o, &in, 4, 1);
    ck_assert_int_eq(r.a->n_orders, 2);
    ck_assert_str_eq(r.a->order_names[0], "freq");
    ck_assert_str_eq(r.a->order_names[1], "freq_reverse");
    ck_assert_int_eq(r.a->seq_len, 8 * 8 + 1); // 16 x 16 patches, middle class token
    ck_assert_int_eq(r.a->cls_index, 32);
    tu_rig_free(&r);
}
END_TEST

// ---- parameters and refusals ---------------------------------------------------------

START_TEST(params_and_refusals) {
    ssm_adapter_options o;
    ssm_adapter_options_defaults(&o);
    o.stride = 10; // AST's overlap on AuM's 16 x 16 patches: 12 x 9 grid on 128 x 98
    o.cls_token = SSM_CLS_HEAD;
    ssm_input_shape in = {2, {98, 128}};
    rig r;
    rig_make(&r, "audio_patches", &o, &in, 12, 1);
    ck_assert_int_eq(r.a->seq_len, 12 * 9 + 1);
    struct {
        const char *name;
        int ndim;
        int64_t shape[4];
    } want[] = {{"patch_embed.proj.weight", 4, {12, 1, 16, 16}},
                {"patch_embed.proj.bias", 1, {12}},
                {"cls_token", 3, {1, 1, 12}},
                {"pos_embed", 3, {1, 109, 12}}};
    ck_assert_uint_eq(r.p.count, 4);
    for (int i = 0; i < 4; i++) {
        int64_t k = ssm_params_find(&r.p, want[i].name);
        ck_assert_msg(k >= 0, "%s", want[i].name);
        for (int d = 0; d < want[i].ndim; d++)
            ck_assert_int_eq(r.p.items[k].shape[d], want[i].shape[d]);
    }
    tu_rig_free(&r);

    struct {
        int ndim;
        int64_t T, F, p, in_channels;
        const char *order, *key, *value, *want;
    } bad[] = {
        {3, 98, 128, 16, 0, NULL, NULL, NULL, "audio_patches: input sample shape [98, 128, 1], expected [frames, mel]"},
        {2, 10, 128, 16, 0, NULL, NULL, NULL,
         "audio_patches: patch_size 16 does not fit in a 128x10 spectrogram (mel x frames)"},
        {2, 98, 128, 16, 3, NULL, NULL, NULL, "in_channels = 3 but a spectrogram has 1 channel"},
        {2, 98, 128, 16, 0, "diagonal", NULL, NULL,
         "audio_patches: unknown scan order 'diagonal'; known: freq, time, freq_snake, freq_reverse"},
        {2, 98, 128, 16, 0, NULL, "n_mels", "128",
         "audio_patches: unknown option 'n_mels'; known: fstride, tstride"},
        {2, 98, 128, 16, 0, NULL, "tstride", "ten", "option tstride = 'ten' is not an integer"},
        {2, 98, 128, 16, 0, NULL, "fstride", "0",
         "patch_size = 16, strides = 0 (rows), 16 (columns), expected >= 1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssm_adapter_options_defaults(&o);
        o.patch_size = bad[i].p;
        o.in_channels = bad[i].in_channels;
        if (bad[i].order) {
            o.n_orders = 2;
            strcpy(o.orders[0], "freq");
            strcpy(o.orders[1], bad[i].order);
        }
        if (bad[i].key)
            set_extra(&o, bad[i].key, bad[i].value);
        ssm_input_shape bin = {bad[i].ndim, {bad[i].T, bad[i].F, 1}};
        ssm_params p;
        ssm_params_init(&p);
        ssm_adapter *a;
        ssm_error e = {0};
        ck_assert_int_ne(ssm_adapter_create(&a, "audio_patches", &o, &bin, 8, &p, "", &e), SSM_OK);
        ck_assert_msg(strstr(e.msg, bad[i].want), "case %zu: got \"%s\"", i, e.msg);
        ck_assert_ptr_null(a);
        ssm_params_free(&p);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("audio_patches");
    TCase *tc = tcase_create("audio_patches");
    tcase_add_test(tc, tokens_match_naive_conv);
    tcase_add_test(tc, same_bits_as_image_patches_on_the_transpose);
    tcase_add_test(tc, orders_by_hand);
    tcase_add_test(tc, params_and_refusals);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
