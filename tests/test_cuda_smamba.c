// Check suite: the S-Mamba layout on one GPU against the same model on the CPU (one whole
// training step of tasks/model.h): calendar tokens in series_variate (adapter option
// time_features: the first columns kept out of RevIN, their statistics 0 and 1 on the
// device too), the extended blocks of the backbone (backbone/cuda/block_cuda.c: post-norm
// with and without the FFN, pre-norm with it, LayerNorm and RMSNorm, mean and sum merge),
// and the forecast head.
//   fp32: the loss within 1e-5, every parameter gradient by name within 1e-4 relative (the
//   CUDA scan's exp is ex2.approx: tests/test_cuda_backbone.c measures ~1e-5 on the
//   backbone's small gradients), the outputs within 1e-5; the GPU gradients of two steps
//   are bit-identical (no atomics in the block's passes), and the parameter gradients start
//   from NaN on the GPU (a gradient the step forgets to write fails).
//   bf16 (run.precision: bf16; the FFN's GEMMs stay fp32): the loss and outputs within
//   1e-2, the gradients within 3e-2, tests/test_cuda_bf16.c's bars and reasons.
// Built without CUDA=1 (or as the sanitized / double build), or without a GPU, it skips.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/model.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "tests/util/cuda_twin.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
enum { BATCH = 5, T_ = 24, F_ = 4, V_ = 3, H_ = 6 };

typedef struct {
    const char *name;
    int64_t ffn, time_features;
    mamba_norm_position pos;
    mamba_norm_kind norm;
    mamba_merge_kind merge;
    int bf16;
} variant;

static const variant VARIANTS[] = {
    {"S-Mamba: calendar tokens, post + FFN, LayerNorm, sum", 24, F_, MAMBA_POST_NORM,
     MAMBA_NORM_LAYER, MAMBA_MERGE_SUM, 0},
    {"post, no FFN, LayerNorm, no calendar", 0, 0, MAMBA_POST_NORM, MAMBA_NORM_LAYER,
     MAMBA_MERGE_MEAN, 0},
    {"pre + FFN, RMSNorm, calendar tokens", 16, F_, MAMBA_PRE_NORM, MAMBA_NORM_RMS,
     MAMBA_MERGE_MEAN, 0},
    {"bf16: calendar tokens, post + FFN, LayerNorm, sum", 24, F_, MAMBA_POST_NORM,
     MAMBA_NORM_LAYER, MAMBA_MERGE_SUM, 1},
};

static void add_opt(ssm_adapter_options *o, const char *k, const char *v) {
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "%s", k);
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "%s", v);
}

static void spec_of(ssm_model_spec *s, const variant *v, ssm_device_kind kind) {
    memset(s, 0, sizeof *s);
    s->trunk.adapter = "series_variate";
    ssm_adapter_options *o = &s->trunk.adapter_opt;
    ssm_adapter_options_defaults(o);
    add_opt(o, "revin", "1");
    char f[16];
    snprintf(f, sizeof f, "%lld", (long long)v->time_features);
    if (v->time_features)
        add_opt(o, "time_features", f);
    s->trunk.input = (ssm_input_shape){2, {T_, v->time_features + V_}};
    mamba_config *b = &s->trunk.backbone;
    mamba_config_defaults(b);
    b->d_model = 16;
    b->n_layers = 2;
    b->d_state = 2;
    b->d_conv = 2;
    b->expand = 1;
    b->scan_chunk = 4;
    b->ffn_dim = v->ffn;
    b->norm_position = v->pos;
    b->norm = v->norm;
    b->merge = v->merge;
    b->n_branches = 2;
    if (kind == SSM_DEVICE_CUDA && v->bf16)
        b->precision = MAMBA_BF16;
    s->head = "forecast";
    s->head_opt.horizon = H_;
    s->head_opt.out_vars = V_;
    s->loss.kind = LOSS_MSE;
    s->B_max = BATCH + 2;
    s->seed = 33;
    s->device.kind = kind;
}

START_TEST(step_matches_cpu) {
    const variant *v = &VARIANTS[_i];
    const double tol_loss = v->bf16 ? 1e-2 : 1e-5, tol_grad = v->bf16 ? 3e-2 : 1e-4;
    ssm_model cpu, gpu;
    ssm_model_spec s;
    ssm_error e = {0};
    spec_of(&s, v, SSM_DEVICE_CPU);
    ck_assert_msg(model_build(&cpu, &s, &e) == SSM_OK, "%s", e.msg);
    spec_of(&s, v, SSM_DEVICE_CUDA);
    ck_assert_msg(model_build(&gpu, &s, &e) == SSM_OK, "%s", e.msg);
    ck_assert(!memcmp(cpu.params.data, gpu.params.data, cpu.params.total * sizeof(real)));
    const int64_t X = v->time_features + V_;
    const size_t nx = (size_t)BATCH * T_ * X, ny = (size_t)BATCH * cpu.K;
    real *x = malloc(nx * sizeof(real)), *y = malloc(ny * sizeof(real));
    uint64_t st = 91 + (uint64_t)_i;
    tu_fill_uniform(x, nx, -2, 3, &st);
    tu_fill_uniform(y, ny, -1, 1, &st);
    for (int64_t r = 0; r < BATCH * T_; r++) // calendar columns: in [-0.5, 0.5], hour cycling
        for (int64_t c = 0; c < v->time_features; c++)
            x[r * X + c] = (real)(c == 0 ? (r % 24) / 23.0 - 0.5 : 0.4 * sin(r * 0.1 + c));
    ssm_targets th = {.values = y};
    double lc, lg;
    double worst;
    const char *wn;
    twin_model_step_deterministic(&cpu, &gpu, x, &th, BATCH, tol_loss, tol_grad, v->name, &lc, &lg,
                                  &worst, &wn);
    const real *og;
    ck_assert_msg(model_predict(&gpu, x, BATCH, &og, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(model_forward(&cpu, x, BATCH, &e) == SSM_OK, "%s", e.msg);
    double r = tu_rel_err(og, cpu.out, ny);
    printf("[%s] loss cpu %.7f gpu %.7f, outputs %.2e, worst gradient %.2e (%s)\n", v->name, lc,
           lg, r, worst, wn);
    ck_assert_msg(r < tol_loss, "[%s] outputs: relative error %.3e", v->name, r);
    free(x);
    free(y);
    model_free(&cpu);
    model_free(&gpu);
}
END_TEST

#endif // HAVE_CUDA

int main(void) {
#if HAVE_CUDA
    if (ssm_cuda_device_count() == 0) {
        printf("test_cuda_smamba: skipped (no CUDA device)\n");
        return 0;
    }
    Suite *su = suite_create("cuda_smamba");
    TCase *tg = tcase_create("gpu");
    tcase_set_timeout(tg, 300);
    tcase_add_loop_test(tg, step_matches_cpu, 0, (int)(sizeof VARIANTS / sizeof VARIANTS[0]));
    suite_add_tcase(su, tg);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK); // one CUDA context for the whole suite
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
#else
    printf("test_cuda_smamba: skipped (built without CUDA=1, or a sanitizer/double build)\n");
    return 0;
#endif
}
