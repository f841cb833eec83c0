// Check suite: the multilabel and soft-label losses inside the one model on one GPU against
// the same model on the CPU (audio_patches -> backbone -> class head): one whole step with
// the binary cross-entropy on mixed multi-hot targets (multilabel with mixup), and with the
// soft-target cross-entropy (classify with mixup, label smoothing on): loss within 1e-5,
// every gradient by name within 1e-4 relative, outputs within 1e-5. The kernels one by one
// are tests/test_cuda_math.c's (bce_all, soft_ce_*). Built without CUDA=1 (or as the
// sanitized / double build), or without a GPU, it skips.
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
enum { BATCH = 6, T_ = 32, F_ = 16, K_ = 7 };

typedef struct {
    const char *name;
    loss_kind loss;
    double smoothing;
} ml_variant;

static const ml_variant VARIANTS[] = {
    {"BCE on mixed multi-hot targets", LOSS_BCE, 0},
    {"soft-target CE, smoothing 0.1", LOSS_CE, 0.1},
};

static void spec_of(ssm_model_spec *s, const ml_variant *v, ssm_device_kind kind) {
    memset(s, 0, sizeof *s);
    s->trunk.adapter = "audio_patches";
    ssm_adapter_options *o = &s->trunk.adapter_opt;
    ssm_adapter_options_defaults(o);
    o->patch_size = 8;
    o->n_orders = 2;
    snprintf(o->orders[0], SSM_ADAPTER_NAME_MAX, "time");
    snprintf(o->orders[1], SSM_ADAPTER_NAME_MAX, "time_reverse");
    s->trunk.input = (ssm_input_shape){2, {T_, F_}};
    mamba_config_defaults(&s->trunk.backbone);
    s->trunk.backbone.d_model = 16;
    s->trunk.backbone.n_layers = 2;
    s->trunk.backbone.d_state = 8;
    s->head = "class";
    s->head_opt.num_classes = K_;
    s->loss = (loss_spec){.kind = v->loss, .smoothing = v->smoothing};
    s->B_max = BATCH + 2;
    s->seed = 23;
    s->device.kind = kind;
}

// Targets as mixup makes them: lambda * one label set + (1 - lambda) * another (multi-hot
// for BCE; one class each, so a distribution, for CE).
static void mixed_targets(real *y, int multi, uint64_t *st) {
    for (int i = 0; i < BATCH; i++) {
        double lam = 0.2 + 0.6 * tu_uniform(st);
        unsigned set[2] = {0, 0}; // the two clips' classes, as bit masks
        for (int side = 0; side < 2; side++) {
            int n = multi ? 1 + (int)(3 * tu_uniform(st)) : 1;
            for (int j = 0; j < n; j++)
                set[side] |= 1u << ((int)(K_ * tu_uniform(st)) % K_);
        }
        for (int k = 0; k < K_; k++)
            y[i * K_ + k] = (real)(lam * (set[0] >> k & 1) + (1 - lam) * (set[1] >> k & 1));
    }
}

START_TEST(multilabel_step_matches_cpu) {
    const ml_variant *v = &VARIANTS[_i];
    ssm_model cpu, gpu;
    ssm_model_spec s;
    ssm_error e = {0};
    spec_of(&s, v, SSM_DEVICE_CPU);
    ck_assert_msg(model_build(&cpu, &s, &e) == SSM_OK, "%s", e.msg);
    spec_of(&s, v, SSM_DEVICE_CUDA);
    ck_assert_msg(model_build(&gpu, &s, &e) == SSM_OK, "%s", e.msg);
    size_t nx = (size_t)BATCH * T_ * F_, ny = (size_t)BATCH * K_;
    real *x = malloc(nx * sizeof(real)), *y = malloc(ny * sizeof(real));
    uint64_t st = 91 + (uint64_t)_i;
    tu_fill_uniform(x, nx, -2, 2, &st);
    mixed_targets(y, v->loss == LOSS_BCE, &st);
    ssm_targets th = {.values = y}, td;
    ck_assert_msg(loss_check_targets(&s.loss, &th, BATCH, K_, &e) == SSM_OK, "%s", e.msg);
    double lc, lg;
    twin_model_step(&cpu, &gpu, x, &th, BATCH, &lc, &lg, &td);
    ck_assert(td.cls == NULL && td.values != NULL);
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
    if (!tu_cuda_ready("test_cuda_multilabel:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_multilabel");
    TCase *tg = tcase_create("gpu");
    tcase_set_timeout(tg, 300);
    tcase_add_loop_test(tg, multilabel_step_matches_cpu, 0,
                        (int)(sizeof VARIANTS / sizeof VARIANTS[0]));
    suite_add_tcase(su, tg);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
