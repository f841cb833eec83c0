// Check suite: the UCR/UEA recipe's model (configs/series/ucr.yaml: packed patch tokens ->
// bag_features -> the packed bidirectional backbone -> the bag head's mean (or class-token)
// pooling -> cross-entropy with label smoothing, as the classify task builds it for
// data.pack) on one GPU against the same model on the CPU:
//   - one whole step on a packed batch of series of 1 to 33 tokens: loss within 1e-5,
//     every gradient by name within 1e-4 relative, logits within 1e-5;
//   - `ssmkit train configs/series/ucr.yaml --set run.device=cuda` (SSMKIT_BIN) on a
//     generated 3-class set of unequal lengths reaches a test accuracy of at least 0.9, as
//     the CPU run does in tests/test_ucr_recipe.c.
// Built without CUDA=1 (or as the sanitized / double build), or without a GPU, it skips.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/model.h"
#include "tests/util/cli_fixture.h"
#include "tests/util/files.h"
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
enum { B = 5, TOKEN = 6, K = 3 };
static const int64_t LENS[B] = {1, 7, 20, 3, 33};

static void spec_for(ssm_model_spec *s, int cls, int64_t max_tokens, ssm_device_kind kind) {
    memset(s, 0, sizeof *s);
    s->trunk.adapter = "bag_features";
    ssm_adapter_options *o = &s->trunk.adapter_opt;
    ssm_adapter_options_defaults(o);
    o->n_orders = 2;
    snprintf(o->orders[0], SSM_ADAPTER_NAME_MAX, "identity");
    snprintf(o->orders[1], SSM_ADAPTER_NAME_MAX, "reverse");
    o->cls_token = cls ? SSM_CLS_HEAD : SSM_CLS_NONE;
    snprintf(o->extra[o->n_extra].key, SSM_ADAPTER_NAME_MAX, "max_tokens");
    snprintf(o->extra[o->n_extra++].value, SSM_ADAPTER_VALUE_MAX, "%lld", (long long)max_tokens);
    s->trunk.input = (ssm_input_shape){1, {TOKEN}};
    mamba_config_defaults(&s->trunk.backbone);
    s->trunk.backbone.d_model = 16;
    s->trunk.backbone.n_layers = 2;
    s->trunk.backbone.d_state = 8;
    s->trunk.backbone.scan_chunk = 4;
    s->head = "bag";
    s->head_opt.num_classes = K;
    s->head_opt.bag_pool = cls ? SSM_BAG_POOL_CLS : SSM_BAG_POOL_MEAN;
    s->loss = (loss_spec){.kind = LOSS_CE, .smoothing = 0.1};
    s->B_max = B;
    s->seed = 9;
    s->device.kind = kind;
}

START_TEST(packed_step_matches_cpu) {
    const int cls = _i;
    int64_t off[B + 1] = {0};
    for (int b = 0; b < B; b++)
        off[b + 1] = off[b] + LENS[b];
    const int64_t total = off[B];
    ssm_model cpu, gpu;
    ssm_model_spec s;
    ssm_error e = {0};
    spec_for(&s, cls, total, SSM_DEVICE_CPU);
    ck_assert_msg(model_build(&cpu, &s, &e) == SSM_OK, "%s", e.msg);
    spec_for(&s, cls, total, SSM_DEVICE_CUDA);
    ck_assert_msg(model_build(&gpu, &s, &e) == SSM_OK, "%s", e.msg);
    ck_assert(!memcmp(cpu.params.data, gpu.params.data, cpu.params.total * sizeof(real)));
    real *x = malloc((size_t)total * TOKEN * sizeof(real));
    uint64_t st = 31 + (uint64_t)cls;
    tu_fill_uniform(x, (size_t)total * TOKEN, -2, 2, &st);
    int32_t y[B] = {0, 2, 1, 1, 0};
    ssm_targets th = {.cls = y}, td;
    ck_assert_msg(model_set_packing(&cpu, off, B, 77, &e) == SSM_OK, "%s", e.msg);
    ck_assert_msg(model_set_packing(&gpu, off, B, 77, &e) == SSM_OK, "%s", e.msg);
    double lc, lg;
    twin_model_step(&cpu, &gpu, x, &th, B, &lc, &lg, &td);
    const char *what = cls ? "cls pooling" : "mean pooling";
    twin_loss_agrees(what, lc, lg, 1e-5);
    twin_grads_agree(what, gpu.params.grad, &cpu.params, 1e-4, 0);
    twin_outputs_agree(what, &cpu, &gpu, x, B, (size_t)B * K, 1e-5);
    free(x);
    model_free(&cpu);
    model_free(&gpu);
}
END_TEST

static double unif(uint64_t *s) { // splitmix64
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

// 3 classes of 2-channel series, 40 to 80 steps: one event (a bump on channel 0, a dip on
// channel 0, a bump on channel 1) at a random time over noise (tests/test_ucr_recipe.c's set).
static void write_events(const char *path, int n, uint64_t seed) {
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "@problemName Events\n@timeStamps false\n@univariate false\n@dimensions 2\n"
               "@equalLength false\n@classLabel true bump dip other\n@data\n");
    for (int i = 0; i < n; i++) {
        int c3 = i % 3;
        int len = 40 + (int)(unif(&seed) * 41);
        double at = 8 + unif(&seed) * (len - 16);
        for (int ch = 0; ch < 2; ch++) {
            for (int t = 0; t < len; t++) {
                double ev = 2.5 * exp(-(t - at) * (t - at) / 8.0), v = unif(&seed) - 0.5;
                if ((c3 == 0 && ch == 0) || (c3 == 2 && ch == 1))
                    v += ev;
                else if (c3 == 1 && ch == 0)
                    v -= ev;
                fprintf(f, "%s%.4f", t ? "," : "", v);
            }
            fprintf(f, ":");
        }
        fprintf(f, "%s\n", c3 == 0 ? "bump" : c3 == 1 ? "dip" : "other");
    }
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(recipe_trains_on_the_gpu) {
    char dir[256], tr[300], te[300], args[2048];
    ck_assert_int_eq(tu_mkdtemp(dir, sizeof dir, "ssmkit_cuda_ucr"), 0);
    snprintf(tr, sizeof tr, "%s/Events_TRAIN.ts", dir);
    snprintf(te, sizeof te, "%s/Events_TEST.ts", dir);
    write_events(tr, 60, 11);
    write_events(te, 90, 12);
    snprintf(args, sizeof args, "train configs/series/ucr.yaml --set data.path=%s "
             "--set task.num_classes=3 --set train.min_steps=300 --set run.device=cuda "
             "--set run.dir=%s --set run.name=gpu --set run.progress=off", tr, dir);
    ck_assert_msg(cf_ssmkit(dir, NULL, args) == 0, "ssmkit %s failed", args);
    char *json = cf_output(dir, "out");
    double acc = cf_json_number(json, "test_accuracy");
    printf("recipe on the GPU, generated events set: test accuracy %.4f\n", acc);
    ck_assert_msg(acc >= 0.9, "test accuracy %g: %s", acc, json);
    free(json);
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_ucr:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_ucr");
    TCase *tg = tcase_create("gpu");
    tcase_set_timeout(tg, 300);
    tcase_add_loop_test(tg, packed_step_matches_cpu, 0, 2);
    tcase_add_test(tg, recipe_trains_on_the_gpu);
    suite_add_tcase(su, tg);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
