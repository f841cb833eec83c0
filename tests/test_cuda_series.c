// Check suite: the forecast and regress heads over the series adapters (RevIN with its
// affine; MSE and MAE) on one GPU against the same model on the CPU: one whole step
// (loss within 1e-5, every gradient by name within 1e-4 relative, outputs within 1e-5).
// Built without CUDA=1 (or as the sanitized / double build), or without a GPU, it skips.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/model.h"
#include "tests/util/suite.h"
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
enum { BATCH = 6 };


typedef struct {
    const char *name, *adapter, *head;
    int affine;
    loss_kind loss;
    int64_t out_vars;
} series_variant;

static const series_variant SERIES[] = {
    {"variate + RevIN affine -> forecast, MSE", "series_variate", "forecast", 1, LOSS_MSE, 3},
    {"patch + RevIN affine -> forecast, MAE (MS)", "series_patch", "forecast", 1, LOSS_MAE, 1},
    {"variate + RevIN -> regress, MSE", "series_variate", "regress", 0, LOSS_MSE, 1},
    {"patch + RevIN affine -> regress, MSE (M)", "series_patch", "regress", 1, LOSS_MSE, 3},
};
enum { ST_ = 24, SV_ = 3, SH_ = 6 };

static void series_spec(ssm_model_spec *s, const series_variant *v, ssm_device_kind kind) {
    memset(s, 0, sizeof *s);
    s->trunk.adapter = v->adapter;
    ssm_adapter_options *o = &s->trunk.adapter_opt;
    ssm_adapter_options_defaults(o);
    o->patch_size = 8;
    o->stride = 4;
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "revin");
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    if (v->affine) {
        snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "revin_affine");
        snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "1");
    }
    s->trunk.input = (ssm_input_shape){2, {ST_, SV_}};
    mamba_config_defaults(&s->trunk.backbone);
    s->trunk.backbone.d_model = 16;
    s->trunk.backbone.n_layers = 2;
    s->trunk.backbone.d_state = 8;
    s->trunk.backbone.scan_chunk = 4;
    s->head = v->head;
    s->head_opt.horizon = SH_;
    s->head_opt.out_vars = v->out_vars;
    s->head_opt.outputs = v->out_vars;
    s->loss.kind = v->loss;
    s->B_max = BATCH + 2;
    s->seed = 21;
    s->device.kind = kind;
}

START_TEST(series_step_matches_cpu) {
    const series_variant *v = &SERIES[_i];
    ssm_model cpu, gpu;
    ssm_model_spec s;
    ssm_error e = {0};
    series_spec(&s, v, SSM_DEVICE_CPU);
    ck_assert_msg(model_build(&cpu, &s, &e) == SSM_OK, "%s", e.msg);
    series_spec(&s, v, SSM_DEVICE_CUDA);
    ck_assert_msg(model_build(&gpu, &s, &e) == SSM_OK, "%s", e.msg);
    ck_assert(!memcmp(cpu.params.data, gpu.params.data, cpu.params.total * sizeof(real)));
    // RevIN's affine away from its init (1, 0), so that its gradients are not special
    ssm_params *hp[2] = {&cpu.params, &gpu.params};
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < hp[d]->count; i++)
            if (strstr(hp[d]->items[i].name, "revin.")) {
                uint64_t st = 5 + i;
                tu_fill_uniform(ssm_params_data(hp[d], i), hp[d]->items[i].numel, 0.6, 1.4, &st);
            }
    ck_assert(ssm_params_cuda_upload(&gpu.dparams, &gpu.params, &e) == SSM_OK);
    size_t nx = (size_t)BATCH * ST_ * SV_, ny = (size_t)BATCH * cpu.K;
    real *x = malloc(nx * sizeof(real)), *y = malloc(ny * sizeof(real));
    uint64_t st = 77 + (uint64_t)_i;
    tu_fill_uniform(x, nx, -2, 3, &st);
    tu_fill_uniform(y, ny, -1, 1, &st);
    ssm_targets th = {.values = y}, td;
    double lc, lg;
    twin_model_step(&cpu, &gpu, x, &th, BATCH, &lc, &lg, &td);
    twin_loss_agrees(v->name, lc, lg, 1e-5);
    twin_grads_agree(v->name, gpu.params.grad, &cpu.params, 1e-4, 0);
    twin_outputs_agree(v->name, &cpu, &gpu, x, BATCH, ny, 1e-5);
    free(x);
    free(y);
    model_free(&cpu);
    model_free(&gpu);
}
END_TEST

#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_series:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_series");
    TCase *tg = tcase_create("gpu");
    tcase_set_timeout(tg, 300);
    tcase_add_loop_test(tg, series_step_matches_cpu, 0, (int)(sizeof SERIES / sizeof SERIES[0]));
    suite_add_tcase(su, tg);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
