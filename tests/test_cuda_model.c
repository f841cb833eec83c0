// Check suite: the one model (tasks/model.h) on one GPU against the same model on the CPU.
//  * one whole training step (loss and the gradient of every parameter, by name) on the GPU
//    equals the CPU step within relative error 1e-4, for class-token and mean pooling, head /
//    middle / no class token, RMSNorm and LayerNorm, overlapping patches;
//  * a few AdamW steps (clipping, weight decay, no-decay tensors) on both devices stay close;
//  * `ssmkit train --set run.device=cuda` on a generated IDX set reaches the accuracy the CPU
//    run reaches, and eval / predict follow run.device;
//  * run.device: cuda is refused with a clear message where it cannot run (a CPU-only build,
//    no GPU), as are adapters and heads without a CUDA path;
//  * `ssmkit train` of a forecast config on the GPU reaches the CPU run's test MSE
//    (tests/test_cuda_series.c: one whole forecast / regress step, GPU vs CPU;
//    tests/test_cuda_adapter.c: the adapters' and heads' twins one by one).
// Built without CUDA=1 (or as the sanitized / double build) the GPU cases are skipped and the
// refusals are checked; on a CUDA build without a GPU, the "no CUDA device" refusal.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/device_select.h"
#include "tasks/classify_model.h"
#include "tasks/head_registry.h"
#include "tasks/task_run.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#else
#define HAVE_CUDA 0
#endif

// ---- shared: the ssmkit binary on a generated IDX set (tests/util/cli_fixture.h) ----------
static char g_dir[256];

static void make_fixture(int with_data) {
    cf_idx_fixture(g_dir, sizeof g_dir, "ssmkit_cudam", with_data, NULL);
}

static void drop_fixture(void) { ck_assert_int_eq(tu_rmtree(g_dir), 0); }

// Runs `ssmkit <args>`; stdout / stderr into g_dir/out.txt, err.txt; returns the exit code.
static int ssmkit(const char *args) { return cf_ssmkit(g_dir, NULL, args); }

static char *output(const char *which) { return cf_output(g_dir, which); }

// ---- refusals (every build) ----------------------------------------------------------------

// What run.device: cuda must say where it cannot run in this build / on this machine.
static const char *expected_refusal(void) {
#if !HAVE_CUDA
    return "run.device: cuda, but this ssmkit was built without CUDA (make CUDA=1)";
#else
    return ssm_cuda_device_count() == 0 ? "run.device: cuda, but no CUDA device was found" : NULL;
#endif
}

START_TEST(device_refused_where_unavailable) {
    const char *want = expected_refusal();
    if (!want) {
        printf("device_refused_where_unavailable: a GPU is present, nothing to refuse\n");
        return;
    }
    ssm_device d;
    ssm_error e = {0};
    ck_assert_int_eq(ssm_device_parse(&d, "cuda", &e), SSM_OK);
    ck_assert_int_eq(ssm_device_open(&d, &e), SSM_EDEVICE);
    ck_assert_str_eq(e.msg, want);
    ck_assert_int_eq(ssm_device_parse(&d, "cuda:x", &e), SSM_ECONFIG);
    ck_assert_int_eq(ssm_device_parse(&d, "cpu", &e), SSM_OK);
    ck_assert_int_eq(ssm_device_open(&d, &e), SSM_OK);
    // The model refuses too, with the same words.
    ssm_device_parse(&d, "cuda:0", &e);
    classify_model m;
    classify_model_spec s = {.adapter = "image_patches", .input = {3, {1, 8, 8}}, .num_classes = 3,
                             .B_max = 2, .seed = 1, .device = d};
    ssm_adapter_options_defaults(&s.adapter_opt);
    s.adapter_opt.patch_size = 4;
    mamba_config_defaults(&s.backbone);
    s.backbone.d_model = 8;
    s.backbone.n_layers = 1;
    ck_assert_int_eq(classify_model_build(&m, &s, &e), SSM_EDEVICE);
    ck_assert_str_eq(e.msg, want);
    classify_model_free(&m);
}
END_TEST

// The ssmkit binary of this build says it before reading any data.
START_TEST(cli_refuses_cuda_where_unavailable) {
#if defined(SSM_CUDA) && !HAVE_CUDA
    printf("cli_refuses_cuda_where_unavailable: skipped (a sanitized test of a CUDA build: the "
           "binary has CUDA, this test's library has not)\n");
    return;
#endif
    const char *want = expected_refusal();
    if (!want) {
        printf("cli_refuses_cuda_where_unavailable: a GPU is present, nothing to refuse\n");
        return;
    }
    make_fixture(0);
    char args[1024];
    snprintf(args, sizeof args, "train %s/cfg.yaml --set run.device=cuda", g_dir);
    int rc = ssmkit(args);
    char *err = output("err");
    ck_assert_msg(rc == 1 && strstr(err, want), "exit %d, stderr: %s", rc, err);
    free(err);
    snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt none --set run.device=cuda:3", g_dir);
    rc = ssmkit(args);
    err = output("err");
    ck_assert_msg(rc == 1 && strstr(err, "run.device: cuda"), "exit %d, stderr: %s", rc, err);
    free(err);
    drop_fixture();
}
END_TEST

// Every task runs on a GPU through the one model (tasks/model.h): forecast is no longer
// refused as a task. Without a GPU (or a CUDA build) the device is what is refused.
START_TEST(forecast_not_refused_as_a_task_on_cuda) {
    ssm_config c;
    ssm_config_defaults(&c);
    ssm_error e = {0};
    ck_assert_int_eq(ssm_config_set(&c, "task.name=forecast", &e), SSM_OK);
    ck_assert_int_eq(ssm_config_set(&c, "adapter.name=series_patch", &e), SSM_OK);
    ck_assert_int_eq(ssm_config_set(&c, "run.device=cuda", &e), SSM_OK);
    task_data_info info = {.input = {2, {48, 2}}, .horizon = 12, .out_vars = 2};
    ssm_task *t = NULL;
    ssm_code rc = task_create(&t, &c, &info, 4, &e);
    ck_assert_msg(rc == SSM_OK || rc == SSM_EDEVICE, "%d: %s", rc, e.msg);
    ck_assert_msg(rc == SSM_OK || !strstr(e.msg, "task"), "%s", e.msg);
    task_free(t);
}
END_TEST

// An adapter or a head without a CUDA path is refused by name (the registered ones all
// have one in a CUDA build: a stand-in without twins plays the missing one).
static ssm_code no_plan(ssm_head *h, ssm_arena *a, int64_t B, ssm_error *err) { return SSM_OK; }
START_TEST(adapter_or_head_without_cuda_refused) {
    ssm_error e = {0};
    ssm_arena ar;
    ssm_arena_init(&ar);
    ssm_adapter_vtable avt = *ssm_adapter_find("series_variate");
    avt.name = "cpu_only";
    avt.plan_cuda = NULL;
    ssm_adapter a = {.vt = &avt};
    ck_assert_int_eq(ssm_adapter_has_cuda(&a), 0);
    ck_assert_int_eq(ssm_adapter_plan_cuda(&a, &ar, 4, &e), SSM_EDEVICE);
    ck_assert_msg(strstr(e.msg, "adapter cpu_only has no CUDA path"), "%s", e.msg);
    ssm_head_vtable hvt = {.name = "cpu_only_head", .plan = no_plan};
    ssm_head h = {.vt = &hvt};
    ck_assert_int_eq(ssm_head_has_cuda(&h), 0);
    ck_assert_int_eq(ssm_head_plan_cuda(&h, &ar, 4, &e), SSM_EDEVICE);
    ck_assert_msg(strstr(e.msg, "head cpu_only_head has no CUDA path"), "%s", e.msg);
    // every registered adapter and head has twins exactly where this library links device code
    size_t n;
    const ssm_adapter_vtable *const *ar_ = ssm_adapter_registry(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((ar_[i]->forward_cuda != NULL) == HAVE_CUDA, "adapter %s", ar_[i]->name);
    const ssm_head_vtable *const *hr = ssm_head_registry(&n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((hr[i]->forward_cuda != NULL) == HAVE_CUDA, "head %s", hr[i]->name);
}
END_TEST

#if HAVE_CUDA
// ---- the model on the GPU against the CPU --------------------------------------------------
typedef struct {
    const char *name;
    ssm_cls_position cls;
    int mean_pool;
    mamba_norm_kind norm;
    mamba_merge_kind merge;
    int64_t patch, stride;
    const char *orders[2];
} variant;

static const variant VARIANTS[] = {
    {"cls middle, cls pool, rms", SSM_CLS_MIDDLE, 0, MAMBA_NORM_RMS, MAMBA_MERGE_MEAN, 4, 4,
     {"row", "reverse"}},
    {"cls head, mean pool, layernorm, sum", SSM_CLS_HEAD, 1, MAMBA_NORM_LAYER, MAMBA_MERGE_SUM, 4, 3,
     {"snake", "column_reverse"}},
    {"no cls, mean pool, overlapping", SSM_CLS_NONE, 1, MAMBA_NORM_RMS, MAMBA_MERGE_MEAN, 5, 3,
     {"column", "reverse"}},
};
#define N_VARIANTS (sizeof VARIANTS / sizeof VARIANTS[0])

enum { C_ = 2, H_ = 13, W_ = 11, V_ = 5, BATCH = 6 };

static void spec_of(classify_model_spec *s, const variant *v, ssm_device_kind kind) {
    memset(s, 0, sizeof *s);
    s->adapter = "image_patches";
    ssm_adapter_options_defaults(&s->adapter_opt);
    s->adapter_opt.patch_size = v->patch;
    s->adapter_opt.stride = v->stride;
    s->adapter_opt.cls_token = v->cls;
    s->adapter_opt.n_orders = 2;
    for (int i = 0; i < 2; i++)
        snprintf(s->adapter_opt.orders[i], SSM_ADAPTER_NAME_MAX, "%s", v->orders[i]);
    s->input = (ssm_input_shape){3, {C_, H_, W_}};
    mamba_config_defaults(&s->backbone);
    s->backbone.d_model = 16;
    s->backbone.n_layers = 2;
    s->backbone.d_state = 8;
    s->backbone.norm = v->norm;
    s->backbone.merge = v->merge;
    s->backbone.scan_chunk = 4; // several chunks: the scan backward's checkpoints are exercised
    s->num_classes = V_;
    s->mean_pool = v->mean_pool;
    s->B_max = BATCH + 2;
    s->label_smoothing = 0.1;
    s->seed = 11;
    s->device.kind = kind;
}

typedef struct {
    classify_model cpu, gpu;
    real *x;
    int32_t *y;
} pair;

static void pair_build(pair *pr, const variant *v, uint64_t seed) {
    classify_model_spec s;
    ssm_error e = {0};
    spec_of(&s, v, SSM_DEVICE_CPU);
    ck_assert_msg(classify_model_build(&pr->cpu, &s, &e) == SSM_OK, "%s", e.msg);
    spec_of(&s, v, SSM_DEVICE_CUDA);
    ck_assert_msg(classify_model_build(&pr->gpu, &s, &e) == SSM_OK, "%s", e.msg);
    // Same seed, same initial weights (the host tables are built the same way).
    ck_assert_int_eq(pr->cpu.params.total, pr->gpu.params.total);
    ck_assert(!memcmp(pr->cpu.params.data, pr->gpu.params.data,
                      pr->cpu.params.total * sizeof(real)));
    size_t n = (size_t)BATCH * C_ * H_ * W_;
    pr->x = malloc(n * sizeof(real));
    pr->y = malloc(BATCH * sizeof(int32_t));
    uint64_t st = seed;
    tu_fill_uniform(pr->x, n, -1, 1, &st);
    for (int i = 0; i < BATCH; i++)
        pr->y[i] = (int32_t)(tu_uniform(&st) * V_) % V_;
}

static void pair_free(pair *pr) {
    classify_model_free(&pr->cpu);
    classify_model_free(&pr->gpu);
    free(pr->x);
    free(pr->y);
}

// One step on each device; the GPU's loss into *lg, the CPU's into *lc.
static void pair_step(pair *pr, double *lc, double *lg) {
    ssm_error e = {0};
    ck_assert_msg(classify_model_loss_and_grad(&pr->cpu, pr->x, pr->y, BATCH, lc, &e) == SSM_OK,
                  "%s", e.msg);
    const real *x;
    const int32_t *y;
    ck_assert_msg(classify_model_batch_in(&pr->gpu, pr->x, pr->y, BATCH, &x, &y, &e) == SSM_OK, "%s",
                  e.msg);
    ck_assert_msg(x != pr->x && y != pr->y, "the GPU model must hand out device copies");
    ck_assert_msg(classify_model_loss_and_grad(&pr->gpu, x, y, BATCH, lg, &e) == SSM_OK, "%s",
                  e.msg);
}

static double rel(const real *a, const real *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

START_TEST(training_step_matches_cpu) {
    const variant *v = &VARIANTS[_i];
    pair pr;
    pair_build(&pr, v, 100 + (uint64_t)_i);
    // Poison the device gradients: the step must zero them itself.
    CUDA_CHECK_ABORT(cudaMemset(pr.gpu.dparams.grad, 0xFF, pr.gpu.dparams.total * sizeof(real)));
    double lc, lg;
    pair_step(&pr, &lc, &lg);
    ssm_error e = {0};
    ck_assert_msg(ssm_params_cuda_download(&pr.gpu.params, &pr.gpu.dparams, 1, &e) == SSM_OK, "%s",
                  e.msg);
    double lerr = fabs(lg - lc) / fabs(lc);
    printf("[%s] loss cpu %.7f gpu %.7f rel %.2e\n", v->name, lc, lg, lerr);
    ck_assert_msg(lerr < 1e-5, "loss: cpu %.8f gpu %.8f", lc, lg);
    double worst = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < pr.cpu.params.count; i++) {
        const ssm_param_info *it = &pr.cpu.params.items[i];
        double r = rel(pr.gpu.params.grad + it->offset, pr.cpu.params.grad + it->offset, it->numel);
        if (!(r <= worst)) {
            worst = r;
            worst_name = it->name;
        }
        ck_assert_msg(r < 1e-4, "[%s] gradient of %s: relative error %.3e", v->name, it->name, r);
    }
    printf("[%s] %zu gradients, worst relative error %.2e (%s)\n", v->name, pr.cpu.params.count,
           worst, worst_name);
    // The logits of a forward through the host-in/host-out call agree too.
    const real *lgpu;
    ck_assert_msg(model_predict(&pr.gpu, pr.x, BATCH, &lgpu, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(model_forward(&pr.cpu, pr.x, BATCH, &e) == SSM_OK, "%s", e.msg);
    double r = rel(lgpu, pr.cpu.out, (size_t)BATCH * V_);
    ck_assert_msg(r < 1e-5, "logits: relative error %.3e", r);
    pair_free(&pr);
}
END_TEST

// Three steps of clipping + AdamW on both devices (weight decay on, so the no-decay flags
// matter): the losses and the parameters stay close.
START_TEST(adamw_steps_match_cpu) {
    pair pr;
    pair_build(&pr, &VARIANTS[0], 7);
    ssm_optim_config oc = {0};
    oc.lr = 1e-3;
    oc.beta1 = 0.9;
    oc.beta2 = 0.999;
    oc.eps = 1e-8;
    oc.weight_decay = 0.05;
    const train_device *dc = train_device_get(&pr.cpu.device), *dg = train_device_get(&pr.gpu.device);
    ck_assert_str_eq(dc->name, "cpu");
    ck_assert_str_eq(dg->name, "cuda");
    ssm_error e = {0};
    for (int t = 1; t <= 3; t++) {
        double lc, lg, nc, ng;
        pair_step(&pr, &lc, &lg);
        ck_assert_msg(dc->clip(&pr.cpu.params, 0.5, &nc, &e) == SSM_OK, "%s", e.msg);
        ck_assert_msg(dg->clip(&pr.gpu.dparams, 0.5, &ng, &e) == SSM_OK, "%s", e.msg);
        ck_assert_msg(dc->adamw(&pr.cpu.params, &oc, oc.lr, t, &e) == SSM_OK, "%s", e.msg);
        ck_assert_msg(dg->adamw(&pr.gpu.dparams, &oc, oc.lr, t, &e) == SSM_OK, "%s", e.msg);
        printf("adamw step %d: loss cpu %.7f gpu %.7f, grad norm cpu %.6f gpu %.6f\n", t, lc, lg, nc,
               ng);
        ck_assert_msg(fabs(lg - lc) < 1e-4 * fabs(lc), "step %d loss: cpu %.8f gpu %.8f", t, lc, lg);
        ck_assert_msg(fabs(ng - nc) < 1e-4 * nc, "step %d grad norm: cpu %.8f gpu %.8f", t, nc, ng);
    }
    ck_assert_msg(dg->to_host(&pr.gpu.params, &pr.gpu.dparams, &e) == SSM_OK, "%s", e.msg);
    double worst = 0;
    for (size_t i = 0; i < pr.cpu.params.count; i++) {
        const ssm_param_info *it = &pr.cpu.params.items[i];
        double r = rel(pr.gpu.params.data + it->offset, pr.cpu.params.data + it->offset, it->numel);
        worst = fmax(worst, r);
        ck_assert_msg(r < 1e-3, "parameter %s after 3 steps: relative error %.3e", it->name, r);
        r = rel(pr.gpu.params.m + it->offset, pr.cpu.params.m + it->offset, it->numel);
        ck_assert_msg(r < 1e-3, "first moment of %s after 3 steps: relative error %.3e", it->name, r);
    }
    printf("adamw: worst parameter relative error after 3 steps %.2e\n", worst);
    pair_free(&pr);
}
END_TEST

// `ssmkit train` of the forecast recipe on a generated series, on the GPU and on the CPU:
// the same test MSE within 5% (different summation orders, a few hundred steps).
START_TEST(cli_gpu_forecast_matches_cpu) {
    make_fixture(0);
    char path[600];
    snprintf(path, sizeof path, "%s/s.csv", g_dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "date,a,b,OT\n");
    for (int t = 0; t < 400; t++)
        fprintf(f, "d%d,%.5f,%.5f,%.5f\n", t, sin(t / 4.0), cos(t / 7.0) + t / 400.0,
                sin(t / 3.0) * cos(t / 11.0));
    fclose(f);
    double mse[2];
    char args[1600];
    for (int dev = 0; dev < 2; dev++) {
        snprintf(args, sizeof args, "train configs/series/etth1_96.yaml --set data.name=csv "
                 "--set data.path=%s --set data.lookback=24 --set data.horizon=8 "
                 "--set backbone.d_model=16 --set backbone.n_layers=1 --set train.epochs=4 "
                 "--set optim.lr=3e-3 --set data.num_workers=0 --set run.dir=%s/runs "
                 "--set run.name=%s --set run.device=%s", path, g_dir, dev ? "gpu" : "cpu",
                 dev ? "cuda" : "cpu");
        int rc = ssmkit(args);
        char *out = output("out"), *err = output("err");
        ck_assert_msg(rc == 0, "forecast train on %s exited %d: %s", dev ? "cuda" : "cpu", rc, err);
        mse[dev] = cf_json_number(out, "test_mse");
        printf("ssmkit train (forecast) on %s: %s", dev ? "cuda" : "cpu", out);
        free(out);
        free(err);
    }
    ck_assert_msg(fabs(mse[1] - mse[0]) <= 0.05 * mse[0], "test MSE cpu %.5f gpu %.5f", mse[0],
                  mse[1]);
    drop_fixture();
}
END_TEST

// The ssmkit command on a generated IDX set: the GPU run reaches the CPU run's accuracy;
// eval and predict follow run.device.
START_TEST(cli_gpu_training_reaches_cpu_accuracy) {
    make_fixture(1);
    char args[1024];
    double acc[2];
    for (int dev = 0; dev < 2; dev++) {
        snprintf(args, sizeof args, "train %s/cfg.yaml --set run.name=%s --set run.device=%s", g_dir,
                 dev ? "gpu" : "cpu", dev ? "cuda" : "cpu");
        int rc = ssmkit(args);
        char *out = output("out"), *err = output("err");
        ck_assert_msg(rc == 0, "train on %s exited %d: %s", dev ? "cuda" : "cpu", rc, err);
        acc[dev] = cf_json_number(out, "test_accuracy");
        printf("ssmkit train on %s: %s", dev ? "cuda" : "cpu", out);
        free(out);
        free(err);
    }
    ck_assert_msg(acc[1] >= acc[0] - 0.02 && acc[1] > 0.8, "GPU test accuracy %.4f, CPU %.4f",
                  acc[1], acc[0]);
    // eval of the GPU run's best checkpoint on the GPU and on the CPU: the same accuracy.
    double ev[2];
    for (int dev = 0; dev < 2; dev++) {
        snprintf(args, sizeof args, "eval %s/cfg.yaml --ckpt %s/runs/gpu/best.safetensors --set "
                 "run.device=%s", g_dir, g_dir, dev ? "cuda" : "cpu");
        int rc = ssmkit(args);
        char *out = output("out");
        ck_assert_msg(rc == 0, "eval exited %d", rc);
        ev[dev] = cf_json_number(out, "accuracy");
        free(out);
    }
    ck_assert_msg(fabs(ev[0] - ev[1]) <= 2.0 / 300 + 1e-9, "eval cpu %.4f cuda %.4f", ev[0], ev[1]);
    ck_assert_msg(fabs(ev[1] - acc[1]) < 1e-9, "eval %.4f, training's test %.4f", ev[1], acc[1]);
    drop_fixture();
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    Suite *su = suite_create("cuda_model");
    TCase *tc = tcase_create("refusals");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, device_refused_where_unavailable);
    tcase_add_test(tc, cli_refuses_cuda_where_unavailable);
    tcase_add_test(tc, forecast_not_refused_as_a_task_on_cuda);
    tcase_add_test(tc, adapter_or_head_without_cuda_refused);
    suite_add_tcase(su, tc);
    if (tu_cuda_ready("test_cuda_model: GPU cases")) {
#if HAVE_CUDA
        TCase *tg = tcase_create("gpu");
        tcase_set_timeout(tg, 600);
        tcase_add_loop_test(tg, training_step_matches_cpu, 0, (int)N_VARIANTS);
        tcase_add_test(tg, adamw_steps_match_cpu);
        tcase_add_test(tg, cli_gpu_training_reaches_cpu_accuracy);
        tcase_add_test(tg, cli_gpu_forecast_matches_cpu);
        suite_add_tcase(su, tg);
#endif
    }
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
}
