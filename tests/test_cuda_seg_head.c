// Check suite: the CUDA twins of part segmentation against their CPU versions:
//  - the inverse-distance interpolation (kernels/cuda/pointops.h): the weights, the
//    forward, and the backward's gather (onto random values, so += is checked; the same
//    bits on a second run: no atomics), on clouds with more tokens than one backward block
//    holds and a feature width above the block's threads;
//  - the segment head (tasks/head_segment.c): logits, dfeats and every parameter gradient,
//    with categories and normals (C = 6) and without categories (two tokens: K = G = 2);
//  - a whole training step of the model (point_groups trunk + segment head + a per-point
//    cross-entropy, tasks/model.h): the loss and every gradient by name, GPU against CPU
//    from the same seed (the token positions reach the head on the device, the per-point
//    targets are uploaded whole).
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
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/pointops.h"
#include "kernels/pointops.h"
#include "tasks/head_registry.h"
#include "tasks/head_segment.h"
#include "tasks/model.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#include "tests/util/cuda_bytes.h"
#include "tests/util/cuda_twin.h"

START_TEST(interp_matches_cpu) {
    const int64_t B = 3, N = 700, M = 40, C = 300, k = 3;
    uint64_t st = 61;
    real *q = malloc((size_t)(B * N * 6) * sizeof(real)), *s = malloc((size_t)(B * M * 3) * sizeof(real));
    tu_fill_uniform(q, (size_t)(B * N * 6), -1, 1, &st);
    tu_fill_uniform(s, (size_t)(B * M * 3), -1, 1, &st);
    int32_t *idx = malloc((size_t)(B * N * k) * sizeof(int32_t));
    real *d = malloc((size_t)(B * N * k) * sizeof(real)), *w = malloc((size_t)(B * N * k) * sizeof(real));
    knn_forward(idx, d, q, 6, s, 3, B, N, M, k);
    interp_weights(w, d, B * N, k);
    real *d_d = dev_copy(d, (size_t)(B * N * k) * sizeof(real));
    real *d_w = dev_poison((size_t)(B * N * k) * sizeof(real));
    SSM_CUDA_ABORT_ON_ERROR(interp_weights_cuda(d_w, d_d, B * N, k));
    real *g_w = host_of(d_w, (size_t)(B * N * k) * sizeof(real));
    double r = tu_rel_err(g_w, w, (size_t)(B * N * k));
    ck_assert_msg(r < 1e-6, "weights: relative error %g", r);
    size_t nf = (size_t)(B * M * C), no = (size_t)(B * N * C);
    real *feat = malloc(nf * sizeof(real)), *out = malloc(no * sizeof(real));
    real *dout = malloc(no * sizeof(real)), *df = malloc(nf * sizeof(real)), *df0 = malloc(nf * sizeof(real));
    tu_fill_uniform(feat, nf, -1, 1, &st);
    tu_fill_uniform(dout, no, -1, 1, &st);
    tu_fill_uniform(df0, nf, -1, 1, &st);
    memcpy(df, df0, nf * sizeof(real));
    interp_forward(out, feat, idx, w, B, N, M, C, k);
    interp_backward(df, dout, idx, w, B, N, M, C, k);
    int32_t *d_idx = dev_copy(idx, (size_t)(B * N * k) * sizeof(int32_t));
    real *d_feat = dev_copy(feat, nf * sizeof(real)), *d_out = dev_poison(no * sizeof(real));
    real *d_dout = dev_copy(dout, no * sizeof(real)), *d_df = dev_copy(df0, nf * sizeof(real));
    SSM_CUDA_ABORT_ON_ERROR(interp_forward_cuda(d_out, d_feat, d_idx, d_w, B, N, M, C, k));
    SSM_CUDA_ABORT_ON_ERROR(interp_backward_cuda(d_df, d_dout, d_idx, d_w, B, N, M, C, k));
    real *g_out = host_of(d_out, no * sizeof(real)), *g_df = host_of(d_df, nf * sizeof(real));
    r = tu_rel_err(g_out, out, no);
    ck_assert_msg(r < 1e-6, "forward: relative error %g", r);
    double rb = tu_rel_err(g_df, df, nf);
    fprintf(stderr, "  interpolation: forward rel err %.2g, backward %.2g\n", r, rb);
    ck_assert_msg(rb < 1e-6, "backward: relative error %g", rb);
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d_df, df0, nf * sizeof(real)));
    SSM_CUDA_ABORT_ON_ERROR(interp_backward_cuda(d_df, d_dout, d_idx, d_w, B, N, M, C, k));
    real *g_df2 = host_of(d_df, nf * sizeof(real));
    ck_assert(memcmp(g_df2, g_df, nf * sizeof(real)) == 0);
    free(q), free(s), free(idx), free(d), free(w), free(g_w), free(feat), free(out), free(dout);
    free(df), free(df0), free(g_out), free(g_df), free(g_df2);
    ssm_cuda_free(d_d), ssm_cuda_free(d_w), ssm_cuda_free(d_idx), ssm_cuda_free(d_feat);
    ssm_cuda_free(d_out), ssm_cuda_free(d_dout), ssm_cuda_free(d_df);
}
END_TEST

typedef struct {
    int64_t N, C, G, D, P, NC, H, B;
} head_case;

static const head_case HC[] = {{300, 6, 24, 48, 7, 3, 64, 3}, {50, 3, 2, 20, 4, 0, 16, 2}};

START_TEST(head_matches_cpu) {
    const head_case *hc = &HC[_i];
    const int64_t N = hc->N, C = hc->C, G = hc->G, D = hc->D, P = hc->P, B = hc->B;
    ssm_head_options opt = {.num_classes = P, .categories = hc->NC, .seg_dim = hc->H};
    ssm_head_input in = {.adapter = "point_groups", .input = {2, {N, C}}, .S = 1, .L = G, .D = D,
                         .cls_index = -1, .pos_dims = 3};
    ssm_params p, p2;
    ssm_head *h, *gh;
    twin_heads(&h, &p, &gh, &p2, "segment", &opt, &in);
    ssm_error e = {0};
    uint64_t st = 800 + (uint64_t)_i;
    tu_fill_uniform(p.data, p.total, -0.3, 0.3, &st);
    tu_fill_uniform(p.grad, p.total, -0.1, 0.1, &st);
    ssm_params dp;
    twin_mirror(&dp, &p);
    ssm_arena ha, da;
    twin_plan_heads(h, &ha, gh, &da, B);
    size_t nx = (size_t)(B * N * C), nf = (size_t)(B * G * D), no = (size_t)(B * N * P);
    real *x = malloc(nx * sizeof(real)), *pos = malloc((size_t)(B * G * 3) * sizeof(real));
    real *f = malloc(nf * sizeof(real)), *df = malloc(nf * sizeof(real)), *df0 = malloc(nf * sizeof(real));
    real *out = malloc(no * sizeof(real)), *dout = malloc(no * sizeof(real));
    tu_fill_uniform(x, nx, -1, 1, &st);
    for (int64_t b = 0; b < B; b++)
        for (int64_t g = 0; g < G; g++)
            memcpy(pos + (b * G + g) * 3, x + (b * N + g * (N / G)) * C, 3 * sizeof(real));
    tu_fill_uniform(f, nf, -1, 1, &st);
    tu_fill_uniform(df0, nf, -1, 1, &st);
    tu_fill_uniform(dout, no, -1, 1, &st);
    memcpy(df, df0, nf * sizeof(real));
    int32_t cats[3] = {2, 0, 1};
    ck_assert(ssm_head_segment_set_categories(h, hc->NC ? cats : NULL, B, &e) == SSM_OK);
    ck_assert_msg(ssm_head_segment_set_categories(gh, hc->NC ? cats : NULL, B, &e) == SSM_OK,
                  "%s", e.msg);
    real *d_x = dev_copy(x, nx * sizeof(real)), *d_pos = dev_copy(pos, (size_t)(B * G * 3) * sizeof(real));
    real *d_f = dev_copy(f, nf * sizeof(real)), *d_df = dev_copy(df0, nf * sizeof(real));
    real *d_out = dev_poison(no * sizeof(real)), *d_dout = dev_copy(dout, no * sizeof(real));
    h->ctx = (ssm_head_context){.x = x, .positions = pos};
    gh->ctx = (ssm_head_context){.x = d_x, .positions = d_pos};
    ck_assert(ssm_head_forward(h, &p, out, f, B, &e) == SSM_OK);
    ck_assert_msg(ssm_head_forward_cuda(gh, &dp, d_out, d_f, B, &e) == SSM_OK, "%s", e.msg);
    real *g_out = host_of(d_out, no * sizeof(real));
    double r = tu_rel_err(g_out, out, no);
    fprintf(stderr, "  segment head (case %d): logits rel err %.2g\n", _i, r);
    ck_assert_msg(r < 1e-5, "logits relative error %g", r);
    ck_assert(ssm_head_backward(h, &p, df, dout, f, B, &e) == SSM_OK);
    ck_assert_msg(ssm_head_backward_cuda(gh, &dp, d_df, d_dout, d_f, B, &e) == SSM_OK, "%s", e.msg);
    real *g_df = host_of(d_df, nf * sizeof(real)), *g_grad = host_of(dp.grad, p.total * sizeof(real));
    r = tu_rel_err(g_df, df, nf);
    ck_assert_msg(r < 1e-5, "dfeats relative error %g", r);
    twin_grads_agree("", g_grad, &p, 1e-4, 0);
    // the same bits again from the same state
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(d_df, df0, nf * sizeof(real)));
    ck_assert(ssm_head_forward_cuda(gh, &dp, d_out, d_f, B, &e) == SSM_OK);
    ck_assert(ssm_head_backward_cuda(gh, &dp, d_df, d_dout, d_f, B, &e) == SSM_OK);
    real *g_df2 = host_of(d_df, nf * sizeof(real)), *g_out2 = host_of(d_out, no * sizeof(real));
    ck_assert(memcmp(g_df2, g_df, nf * sizeof(real)) == 0);
    ck_assert(memcmp(g_out2, g_out, no * sizeof(real)) == 0);
    free(x), free(pos), free(f), free(df), free(df0), free(out), free(dout), free(g_out);
    free(g_df), free(g_grad), free(g_df2), free(g_out2);
    ssm_cuda_free(d_x), ssm_cuda_free(d_pos), ssm_cuda_free(d_f), ssm_cuda_free(d_df);
    ssm_cuda_free(d_out), ssm_cuda_free(d_dout);
    ssm_head_free(h);
    ssm_head_free(gh);
    twin_free(&ha, &da, &dp, &p, &p2);
}
END_TEST

#define MB 3
#define MN 256
#define MP 6

static void spec_of(ssm_model_spec *s, ssm_device_kind kind) {
    memset(s, 0, sizeof *s);
    s->trunk.adapter = "point_groups";
    ssm_adapter_options_defaults(&s->trunk.adapter_opt);
    ssm_adapter_options *o = &s->trunk.adapter_opt;
    const char *kv[2][2] = {{"group_size", "16"}, {"num_groups", "32"}};
    for (int i = 0; i < 2; i++) {
        snprintf(o->extra[i].key, SSM_ADAPTER_NAME_MAX, "%s", kv[i][0]);
        snprintf(o->extra[i].value, SSM_ADAPTER_VALUE_MAX, "%s", kv[i][1]);
    }
    o->n_extra = 2;
    s->trunk.input = (ssm_input_shape){2, {MN, 3}};
    mamba_config_defaults(&s->trunk.backbone);
    s->trunk.backbone.d_model = 32;
    s->trunk.backbone.n_layers = 2;
    s->trunk.backbone.d_state = 8;
    s->head = "segment";
    s->head_opt = (ssm_head_options){.num_classes = MP, .categories = 2, .seg_dim = 32};
    s->loss = (loss_spec){.kind = LOSS_CE, .smoothing = 0.1};
    s->B_max = MB;
    s->seed = 5;
    s->device.kind = kind;
}

START_TEST(model_step_matches_cpu) {
    ssm_model cpu, gpu;
    ssm_model_spec s;
    ssm_error e = {0};
    spec_of(&s, SSM_DEVICE_CPU);
    ck_assert_msg(model_build(&cpu, &s, &e) == SSM_OK, "%s", e.msg);
    spec_of(&s, SSM_DEVICE_CUDA);
    ck_assert_msg(model_build(&gpu, &s, &e) == SSM_OK, "%s", e.msg);
    ck_assert_int_eq(cpu.rows, MN);
    uint64_t st = 9;
    real *x = malloc((size_t)(MB * MN * 3) * sizeof(real));
    tu_fill_uniform(x, (size_t)(MB * MN * 3), -1, 1, &st);
    int32_t y[MB * MN], cats[MB] = {1, 0, 1};
    for (int i = 0; i < MB * MN; i++) // parts 0..2 for category 0, 3..5 for category 1
        y[i] = cats[i / MN] * 3 + (x[i * 3 + 1] > 0) + (x[i * 3] > 0.5f);
    ssm_targets t = {.cls = y}, td;
    ck_assert(ssm_head_segment_set_categories(cpu.head, cats, MB, &e) == SSM_OK);
    ck_assert(ssm_head_segment_set_categories(gpu.head, cats, MB, &e) == SSM_OK);
    double lc, lg;
    twin_model_step(&cpu, &gpu, x, &t, MB, &lc, &lg, &td);
    double lerr = fabs(lg - lc) / fabs(lc);
    fprintf(stderr, "  segment model step: loss cpu %.7f gpu %.7f rel %.2e\n", lc, lg, lerr);
    ck_assert_msg(lerr < 1e-5, "loss: cpu %.8f gpu %.8f", lc, lg);
    double worst = twin_grads_agree("", gpu.params.grad, &cpu.params, 1e-3, 0);
    fprintf(stderr, "  segment model step: worst gradient rel err %.2g\n", worst);
    free(x);
    model_free(&cpu);
    model_free(&gpu);
}
END_TEST
#endif

int main(void) {
    if (!tu_cuda_ready("test_cuda_seg_head:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_seg_head");
    TCase *tc = tcase_create("segment");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, interp_matches_cpu);
    tcase_add_loop_test(tc, head_matches_cpu, 0, 2);
    tcase_add_test(tc, model_step_matches_cpu);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su);
#endif
}
