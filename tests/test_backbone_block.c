// Check suite: the extended blocks of the backbone (backbone/mamba.h: ffn_dim, norm_position)
// in the float build:
//   - the forward of a one-layer stack against the block written out by hand from its parts
//     (mamba_mixer_forward, the norms and linear layers of kernels/, GELU in double): post-norm
//     with and without the FFN (S-Mamba's layer), pre-norm with it, final norm on and off;
//   - the parameter table: the FFN and norm2 come after each layer's norm, with their shapes
//     and nn.Linear's init bounds; post-norm without an FFN adds nothing; the mixer's
//     out_proj is not rescaled by 1/sqrt(n_layers) in post-norm stacks;
//   - packed rows: each sequence's result equals that sequence run alone (B = 1);
//   - bad block options are refused by name.
// The gradients are checked against finite differences in tests/grad_backbone_block.c.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "backbone/mamba_internal.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "tests/backbone_fixture.h"

static mamba_config block_cfg(int64_t layers, int64_t ffn, mamba_norm_position pos,
                              mamba_norm_kind norm) {
    mamba_config c = cfg_small(2, layers);
    c.ffn_dim = ffn;
    c.norm_position = pos;
    c.norm = norm;
    c.merge = MAMBA_MERGE_SUM;
    return c;
}

static void ln(const net *n, real *out, const real *in, const char *name, int64_t rows) {
    char w[64], b[64];
    snprintf(w, sizeof w, "%s.weight", name);
    snprintf(b, sizeof b, "%s.bias", name);
    const int64_t D = n->cfg.d_model;
    real *mean = malloc(sizeof(real) * rows), *rstd = malloc(sizeof(real) * rows);
    const real *wt = ssm_params_data(&n->p, (size_t)ssm_params_find(&n->p, w));
    if (n->cfg.norm == MAMBA_NORM_LAYER)
        layernorm_forward(out, mean, rstd, in, wt,
                          ssm_params_data(&n->p, (size_t)ssm_params_find(&n->p, b)), rows, D,
                          (real)n->cfg.norm_eps);
    else
        rmsnorm_forward(out, rstd, in, wt, rows, D, (real)n->cfg.norm_eps);
    free(mean);
    free(rstd);
}

// out = fc2(GELU(fc1(in))) of layer 0, by hand
static void ffn_ref(const net *n, real *out, const real *in, int64_t rows) {
    const int64_t D = n->cfg.d_model, F = n->cfg.ffn_dim;
    const real *w1 = P(n, "layers.%lld.ffn.fc1.weight%s", 0, ""),
               *b1 = P(n, "layers.%lld.ffn.fc1.bias%s", 0, ""),
               *w2 = P(n, "layers.%lld.ffn.fc2.weight%s", 0, ""),
               *b2 = P(n, "layers.%lld.ffn.fc2.bias%s", 0, "");
    for (int64_t r = 0; r < rows; r++)
        for (int64_t d = 0; d < D; d++) {
            double acc = b2[d];
            for (int64_t f = 0; f < F; f++) {
                double a = b1[f];
                for (int64_t k = 0; k < D; k++)
                    a += (double)in[r * D + k] * w1[f * D + k];
                acc += 0.5 * a * (1 + erf(a / sqrt(2.0))) * w2[d * F + f];
            }
            out[r * D + d] = (real)acc;
        }
}

static void forward_vs_hand(mamba_config c, const char *label) {
    const int64_t B = 3, L = 9, D = c.d_model, rows = B * L;
    const size_t nb = (size_t)(rows * D);
    net n;
    net_init(&n, c, B, L, 21);
    perturb(&n, 5);
    uint64_t st = 99;
    real *in = malloc(sizeof(real) * nb), *out = malloc(sizeof(real) * nb);
    real *a = calloc(nb, sizeof(real)), *h = malloc(sizeof(real) * nb),
         *f = malloc(sizeof(real) * nb), *want = malloc(sizeof(real) * nb);
    tu_fill_uniform(in, nb, -1, 1, &st);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(2 * rows));
    mamba_order_identity(perm, B, L);
    mamba_order_reverse(perm + rows, B, L);
    mamba_orders o = {.count = 2, .perm = perm};
    mamba_stack_forward(n.s, &n.p, out, in, &o, B);
    if (c.norm_position == MAMBA_POST_NORM) {
        memcpy(a, in, sizeof(real) * nb); // a = x + mixer(x)
        mamba_mixer_forward(n.s, &n.p, 0, a, in, &o, B);
        ln(&n, h, a, "layers.0.norm", rows);
        if (c.ffn_dim > 0) {
            ffn_ref(&n, f, h, rows);
            for (size_t i = 0; i < nb; i++)
                f[i] += h[i];
            ln(&n, h, f, "layers.0.norm2", rows);
        }
    } else {
        ln(&n, h, in, "layers.0.norm", rows); // a = x + mixer(norm(x))
        memcpy(a, in, sizeof(real) * nb);
        mamba_mixer_forward(n.s, &n.p, 0, a, h, &o, B);
        ln(&n, h, a, "layers.0.norm2", rows);
        ffn_ref(&n, f, h, rows);
        for (size_t i = 0; i < nb; i++)
            h[i] = a[i] + f[i];
    }
    if (c.final_norm)
        ln(&n, want, h, "norm_f", rows);
    else
        memcpy(want, h, sizeof(real) * nb);
    const double err = tu_rel_err(out, want, nb);
    printf("  %-36s rel err %.2e\n", label, err);
    ck_assert_msg(err < 2e-6, "%s: stack vs the block by hand: rel err %.3g", label, err);
    free(in), free(out), free(a), free(h), free(f), free(want), free(perm);
    net_free(&n);
}

START_TEST(forward_by_hand) {
    forward_vs_hand(block_cfg(1, 24, MAMBA_POST_NORM, MAMBA_NORM_LAYER), "post + FFN (S-Mamba)");
    forward_vs_hand(block_cfg(1, 0, MAMBA_POST_NORM, MAMBA_NORM_LAYER), "post, no FFN");
    forward_vs_hand(block_cfg(1, 12, MAMBA_POST_NORM, MAMBA_NORM_RMS), "post + FFN, RMSNorm");
    forward_vs_hand(block_cfg(1, 20, MAMBA_PRE_NORM, MAMBA_NORM_RMS), "pre + FFN");
    mamba_config c = block_cfg(1, 8, MAMBA_PRE_NORM, MAMBA_NORM_LAYER);
    c.final_norm = 0;
    forward_vs_hand(c, "pre + FFN, LayerNorm, no norm_f");
}
END_TEST

START_TEST(parameter_table) {
    const int64_t D = 16, F = 40;
    net plain, post, ffn;
    net_init(&plain, block_cfg(2, 0, MAMBA_PRE_NORM, MAMBA_NORM_LAYER), 2, 5, 3);
    net_init(&post, block_cfg(2, 0, MAMBA_POST_NORM, MAMBA_NORM_LAYER), 2, 5, 3);
    net_init(&ffn, block_cfg(2, F, MAMBA_POST_NORM, MAMBA_NORM_LAYER), 2, 5, 3);
    // post-norm alone: the same tensors, names, shapes
    ck_assert_int_eq(post.p.count, plain.p.count);
    for (size_t i = 0; i < plain.p.count; i++)
        ck_assert_str_eq(post.p.items[i].name, plain.p.items[i].name);
    // the FFN: 6 tensors per layer (fc1, fc2 weight and bias, norm2 weight and bias), each
    // layer's right after its norm
    ck_assert_int_eq(ffn.p.count, plain.p.count + 2 * 6);
    static const char *const tail[] = {"norm.weight", "norm.bias", "ffn.fc1.weight",
                                       "ffn.fc1.bias", "ffn.fc2.weight", "ffn.fc2.bias",
                                       "norm2.weight", "norm2.bias"};
    int64_t at = ssm_params_find(&ffn.p, "layers.0.norm.weight");
    ck_assert_int_ge(at, 0);
    for (int k = 0; k < 8; k++) {
        char want[64];
        snprintf(want, sizeof want, "layers.0.%s", tail[k]);
        ck_assert_str_eq(ffn.p.items[at + k].name, want);
    }
    ck_assert_str_eq(ffn.p.items[at + 8].name, "layers.1.mixer.in_proj.weight");
    const ssm_param_info *w1 = &ffn.p.items[ssm_params_find(&ffn.p, "layers.1.ffn.fc1.weight")];
    const ssm_param_info *w2 = &ffn.p.items[ssm_params_find(&ffn.p, "layers.1.ffn.fc2.weight")];
    ck_assert(w1->ndim == 2 && w1->shape[0] == F && w1->shape[1] == D);
    ck_assert(w2->ndim == 2 && w2->shape[0] == D && w2->shape[1] == F);
    // nn.Linear's init: uniform within +-1/sqrt(fan_in), and using it (max near the bound)
    const real *v1 = ffn.p.data + w1->offset, *v2 = ffn.p.data + w2->offset;
    double m1 = 0, m2 = 0;
    for (size_t i = 0; i < w1->numel; i++)
        m1 = fmax(m1, fabs(v1[i]));
    for (size_t i = 0; i < w2->numel; i++)
        m2 = fmax(m2, fabs(v2[i]));
    ck_assert(m1 <= 1 / sqrt((double)D) && m1 > 0.9 / sqrt((double)D));
    ck_assert(m2 <= 1 / sqrt((double)F) && m2 > 0.9 / sqrt((double)F));
    const real *n2 = P(&ffn, "layers.%lld.norm2.weight%s", 1, "");
    for (int64_t d = 0; d < D; d++)
        ck_assert(n2[d] == 1);
    // out_proj: rescaled by 1/sqrt(2 layers) in the pre-norm stack only
    const int64_t E = 2 * D;
    const ssm_param_info *op = &plain.p.items[ssm_params_find(&plain.p, "layers.0.mixer.out_proj.weight")];
    double mp = 0, mq = 0;
    for (size_t i = 0; i < op->numel; i++) {
        mp = fmax(mp, fabs(plain.p.data[op->offset + i]));
        mq = fmax(mq, fabs(post.p.data[op->offset + i]));
    }
    ck_assert(mp <= 1 / sqrt((double)E) / sqrt(2.0));
    ck_assert(mq > 0.9 / sqrt((double)E) && mq <= 1 / sqrt((double)E));
    net_free(&plain);
    net_free(&post);
    net_free(&ffn);
}
END_TEST

// A packed row of three sequences against each run alone.
START_TEST(packed_equals_alone) {
    mamba_config c = block_cfg(2, 16, MAMBA_POST_NORM, MAMBA_NORM_LAYER);
    const int64_t lens[3] = {5, 2, 7}, total = 14, D = c.d_model;
    net big;
    net_init(&big, c, 1, total, 8);
    perturb(&big, 4);
    uint64_t st = 17;
    real *in = malloc(sizeof(real) * (size_t)(total * D)), *out = malloc(sizeof(real) * (size_t)(total * D));
    tu_fill_uniform(in, (size_t)(total * D), -1, 1, &st);
    int64_t off[4] = {0, 5, 7, 14};
    ssm_packing pk = {.n = 3, .total = total, .offsets = off};
    int32_t perm[2 * 14];
    mamba_order_identity_packed(perm, &pk);
    mamba_order_reverse_packed(perm + total, &pk);
    mamba_orders o = {.count = 2, .perm = perm};
    ssm_error e = {0};
    ck_assert_msg(mamba_orders_check_packed(big.s, &o, &pk, &e) == SSM_OK, "%s", e.msg);
    mamba_stack_forward_packed(big.s, &big.p, out, in, &o, &pk);
    for (int q = 0; q < 3; q++) {
        net one;
        net_init(&one, c, 1, lens[q], 8);
        memcpy(one.p.data, big.p.data, sizeof(real) * big.p.total);
        int32_t pq[2 * 7];
        mamba_order_identity(pq, 1, lens[q]);
        mamba_order_reverse(pq + lens[q], 1, lens[q]);
        mamba_orders oq = {.count = 2, .perm = pq};
        real alone[7 * 16];
        mamba_stack_forward(one.s, &one.p, alone, in + off[q] * D, &oq, 1);
        const double err = tu_rel_err(out + off[q] * D, alone, (size_t)(lens[q] * D));
        ck_assert_msg(err < 1e-5, "sequence %d: packed vs alone rel err %.3g", q, err);
        net_free(&one);
    }
    free(in);
    free(out);
    net_free(&big);
}
END_TEST

START_TEST(bad_options_refused) {
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s = NULL;
    ssm_error e = {0};
    mamba_config c = block_cfg(1, -3, MAMBA_POST_NORM, MAMBA_NORM_LAYER);
    ck_assert_int_eq(mamba_stack_declare(&s, &c, &p, "", &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "ffn_dim -3"));
    c = block_cfg(1, 8, (mamba_norm_position)7, MAMBA_NORM_LAYER);
    ck_assert_int_eq(mamba_stack_declare(&s, &c, &p, "", &e), SSM_EINVAL);
    ck_assert_ptr_nonnull(strstr(e.msg, "norm position 7"));
    ck_assert_ptr_null(s);
    ssm_params_free(&p);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backbone_block");
    TCase *tc = tcase_create("backbone_block");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, forward_by_hand);
    tcase_add_test(tc, parameter_table);
    tcase_add_test(tc, packed_equals_alone);
    tcase_add_test(tc, bad_options_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
