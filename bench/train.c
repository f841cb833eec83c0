// defines: main (bench/train: a classification training step on one GPU)
// Prints, per model shape: samples/s of a whole training step (upload of the batch,
// forward, loss, backward, clipping, AdamW), eager and as a CUDA graph side by side
// (train.cuda_graph, tasks/cuda/step_graph.h), the device memory the model holds,
// the model's matmul FLOPs per sample (forward + backward = 3x the forward's), the
// achieved FLOP rate, and its fraction of a cuBLAS fp32 GEMM rate measured in the same
// run (a 4096^3 product, and the shape of the model's widest GEMM, in_proj). Every shape runs
// twice, run.precision fp32 and bf16 (mixed precision: docs/backbone.md), side by side; the
// % columns are the model's FLOP rate over the 4096^3 cuBLAS fp32 and bf16 (fp32
// accumulation, cublasGemmEx) rates of the same run.
//   fmnist_gpu: configs/image/fashion_mnist_gpu.yaml's shape
//   vim_tiny:   Vim-Tiny, 224x224x3 inputs, 16x16 patches + class token, d_model 192,
//               24 bidirectional layers, batch 128
//   aum_small:  Audio Mamba's AuM-Small, 1024x128 spectrogram, 16x16 patches + class token,
//               d_model 384, 24 bidirectional layers, batch 32
// Times: host clock around N steps after a warm-up; every step synchronizes once (the
// loss comes down), so the per-step median is a true wall time. Memory: cudaMemGetInfo
// before the model is built and after the steps (everything is allocated at build
// time: parameters and their gradient / moments, the activation arena, cuBLAS and scan
// workspaces), so "held" is also the peak; the --csv line's peak is the lowest free
// memory seen after any step (warm-up included) against the same baseline, which would
// catch a buffer that grows during the steps. Needs CUDA=1 and a GPU; prints why otherwise.
//   bench/train [steps] [--shape NAME] [--prec fp32|bf16] [--csv]
//     --shape, --prec: only that shape / precision (default: all of both)
//     --csv: one line per run, for bench/compare_vim_step.sh (no cuBLAS rates):
//       shape,prec,batch,L,layers,params,samples_per_s,ms_per_step,peak_mib,held_mib,arena_mib
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/timing.h"
#include "core/device_select.h"
#include "tasks/classify_model.h"
#include "tasks/train_device.h"

#if SSM_HAVE_CUDA
#include "kernels/cuda/common.h"
#include "kernels/cuda/linear.h"

typedef struct {
    const char *name;
    int64_t C, H, W, patch, d_model, n_layers, batch, classes;
    ssm_cls_position cls;
    int mean_pool;
} shape;

static const shape SHAPES[] = {
    {"fmnist_gpu", 1, 28, 28, 4, 192, 8, 256, 10, SSM_CLS_NONE, 1},
    {"vim_tiny", 3, 224, 224, 16, 192, 24, 128, 1000, SSM_CLS_MIDDLE, 0},
    // AuM-Small (issue 12): a 1024-frame x 128-mel spectrogram in 16x16 patches (512 + the
    // class token), d 384, 24 layers, AudioSet's 527 classes; image_patches over a one-channel
    // 1024x128 input makes the same tokens as audio_patches without overlap
    {"aum_small", 1, 1024, 128, 16, 384, 24, 32, 527, SSM_CLS_MIDDLE, 0},
};

// Forward matmul FLOPs of one sample (2 per multiply-add): patch embedding, per layer
// in_proj, out_proj and per branch x_proj, dt_proj, then the head.
static double forward_flops(const shape *s, const mamba_config *bc, int64_t L, int64_t P, int K) {
    double D = (double)s->d_model, E = (double)(bc->expand * s->d_model), N = (double)bc->d_state;
    double R = (double)(bc->dt_rank ? bc->dt_rank : (s->d_model + 15) / 16);
    double patch = 2.0 * P * (double)(s->C * s->patch * s->patch) * D;
    double layer = 2.0 * L * D * 2 * E + 2.0 * L * E * D + K * (2.0 * L * E * (R + 2 * N) + 2.0 * L * R * E);
    return patch + (double)s->n_layers * layer + 2.0 * D * (double)s->classes;
}

// Median time of a GEMM C[M,N] = A[M,K] B[K,N] (cuBLAS; fp32, or bf16 in and out with fp32
// accumulation), in seconds.
static double gemm_seconds(int64_t M, int64_t N, int64_t K, int bf16) {
    const size_t el = bf16 ? 2 : 4;
    void *A, *B, *C;
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&A, (size_t)(M * K) * el, "bench"));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&B, (size_t)(K * N) * el, "bench"));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&C, (size_t)(M * N) * el, "bench"));
    int64_t nh = M * K > K * N ? M * K : K * N;
    float *h = malloc((size_t)nh * 4);
    ssm_bf16 *hb = malloc((size_t)nh * 2);
    for (int64_t i = 0; i < nh; i++) {
        h[i] = (float)((i * 2654435761u) % 1000) / 1000.f - 0.5f; // not zeros
        hb[i] = ssm_bf16_from_float(h[i]);
    }
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(A, bf16 ? (void *)hb : (void *)h, (size_t)(M * K) * el));
    SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(B, bf16 ? (void *)hb : (void *)h, (size_t)(K * N) * el));
    free(h);
    free(hb);
    cudaEvent_t e0, e1;
    CUDA_CHECK_ABORT(cudaEventCreate(&e0));
    CUDA_CHECK_ABORT(cudaEventCreate(&e1));
    double t[15];
    for (int r = -3; r < 15; r++) {
        CUDA_CHECK_ABORT(cudaEventRecord(e0, 0));
        if (bf16)
            SSM_CUDA_ABORT_ON_ERROR(gemm_bf16_cuda(C, 0, A, B, M, N, K, 0, 0, 1.f, 0.f));
        else
            SSM_CUDA_ABORT_ON_ERROR(gemm_cuda(C, A, B, M, N, K, 0, 0, 1.f, 0.f));
        CUDA_CHECK_ABORT(cudaEventRecord(e1, 0));
        CUDA_CHECK_ABORT(cudaEventSynchronize(e1));
        float ms;
        CUDA_CHECK_ABORT(cudaEventElapsedTime(&ms, e0, e1));
        if (r >= 0)
            t[r] = ms * 1e-3;
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    ssm_cuda_free(A);
    ssm_cuda_free(B);
    ssm_cuda_free(C);
    return bench_median(t, 15);
}

// 3 warm-up steps then `steps` timed ones (t[i], seconds): batch upload, then the eager
// step (loss and gradient, clipping, AdamW: bench/train's step as it was) or, with graph, the
// same step as a CUDA graph (tasks/model.h model_train_step_graph: the warm-ups run it eagerly
// once, capture it, replay it). *done counts AdamW's steps across calls; *free_min, the
// lowest free device memory seen after a step.
static int time_steps(classify_model *m, const shape *s, const real *x, const int32_t *y,
                      const ssm_optim_config *oc, int graph, int steps, double *t, int64_t *done,
                      double *loss, double *gnorm, size_t *free_min) {
    const train_device *dev = train_device_get(&m->device);
    ssm_error err = {0};
    for (int r = -3; r < steps; r++) {
        double t0 = bench_now();
        const real *dx;
        const int32_t *dy;
        const int64_t k = ++*done;
        ssm_code rc = classify_model_batch_in(m, x, y, s->batch, &dx, &dy, &err);
        if (!rc && graph) {
            ssm_targets tg = {.cls = dy};
            model_step_opts so = {.oc = oc, .max_norm = 1.0, .lr = oc->lr, .t = k};
            rc = model_train_step_graph(m, dx, &tg, s->batch, &so, loss, gnorm, &err);
        } else if (!rc) {
            rc = classify_model_loss_and_grad(m, dx, dy, s->batch, loss, &err);
            if (!rc) rc = dev->clip(&m->dparams, 1.0, gnorm, &err);
            if (!rc) rc = dev->adamw(&m->dparams, oc, oc->lr, k, &err);
        }
        if (rc) {
            fprintf(stderr, "%s (%s): %s\n", s->name, graph ? "graph" : "eager", err.msg);
            return 1;
        }
        if (r >= 0)
            t[r] = bench_now() - t0;
        size_t fr, total;
        CUDA_CHECK_ABORT(cudaMemGetInfo(&fr, &total));
        if (fr < *free_min)
            *free_min = fr;
    }
    return 0;
}

static int run_shape(const shape *s, int bf16, double rate32, double rate16, int steps, int csv) {
    classify_model_spec spec = {0};
    spec.adapter = "image_patches";
    ssm_adapter_options_defaults(&spec.adapter_opt);
    spec.adapter_opt.patch_size = s->patch;
    spec.adapter_opt.cls_token = s->cls;
    spec.input = (ssm_input_shape){3, {s->C, s->H, s->W}};
    mamba_config_defaults(&spec.backbone);
    spec.backbone.d_model = s->d_model;
    spec.backbone.n_layers = s->n_layers;
    // both shapes are bidirectional (Vim's {row, reverse}, one branch each, as the configs'
    // n_branches 0 gives); mamba_config_defaults alone would give one branch
    spec.backbone.n_branches = 2;
    spec.backbone.precision = bf16 ? MAMBA_BF16 : MAMBA_FP32;
    spec.num_classes = s->classes;
    spec.mean_pool = s->mean_pool;
    spec.B_max = s->batch;
    spec.label_smoothing = 0.1;
    spec.seed = 1;
    spec.device.kind = SSM_DEVICE_CUDA;
    size_t free0, free1, total;
    CUDA_CHECK_ABORT(cudaMemGetInfo(&free0, &total));
    classify_model m;
    ssm_error err = {0};
    if (classify_model_build(&m, &spec, &err)) {
        fprintf(stderr, "%s: %s\n", s->name, err.msg);
        return 1;
    }
    int64_t n_in = s->batch * s->C * s->H * s->W;
    real *x = malloc((size_t)n_in * sizeof(real));
    int32_t *y = malloc((size_t)s->batch * sizeof(int32_t));
    for (int64_t i = 0; i < n_in; i++)
        x[i] = (real)((i * 2654435761u) % 2000) / 1000.f - 1.f;
    for (int64_t i = 0; i < s->batch; i++)
        y[i] = (int32_t)(i % s->classes);
    ssm_optim_config oc = {.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.05};
    double *t = malloc((size_t)steps * sizeof *t), loss = 0, gnorm = 0;
    size_t free_min = free0;
    int64_t done = 0; // AdamW's step count runs on from the eager steps into the graph's
    if (time_steps(&m, s, x, y, &oc, 0, steps, t, &done, &loss, &gnorm, &free_min))
        return 1;
    CUDA_CHECK_ABORT(cudaDeviceSynchronize());
    CUDA_CHECK_ABORT(cudaMemGetInfo(&free1, &total));
    double step = bench_median(t, steps);
    // the same steps replayed as a CUDA graph (train.cuda_graph): warm-up, capture, replays
    size_t gfree_min = free0; // not the eager peak: that is what the comparisons read
    if (time_steps(&m, s, x, y, &oc, 1, steps, t, &done, &loss, &gnorm, &gfree_min))
        return 1;
    double gstep = bench_median(t, steps);
    int64_t P = m.adapter->seq_len - (m.adapter->cls_index >= 0);
    double f = 3.0 * forward_flops(s, mamba_stack_get_config(m.stack), m.adapter->seq_len, P,
                                   m.n_branches);
    double rate = f * (double)s->batch / step;
    if (free1 < free_min)
        free_min = free1;
    if (csv) // the graph columns last: readers of the first 11 fields are unaffected
        printf("%s,%s,%lld,%lld,%lld,%zu,%.2f,%.3f,%.1f,%.1f,%.1f,%.2f,%.3f\n", s->name,
               bf16 ? "bf16" : "fp32", (long long)s->batch, (long long)m.adapter->seq_len,
               (long long)s->n_layers, m.params.total, (double)s->batch / step, step * 1e3,
               (double)(free0 - free_min) / (1 << 20), (double)(free0 - free1) / (1 << 20),
               (double)m.darena.capacity / (1 << 20), (double)s->batch / gstep, gstep * 1e3);
    else
        printf("| %-10s | %-4s | %4lld | %3lld | %5lld | %9.1f | %7.2f | %9.1f | %7.2f | %5.2fx | "
           "%9.0f | %6.2f | %5.1f%% | %5.1f%% | %7.0f | %7.0f |\n",
           s->name, bf16 ? "bf16" : "fp32", (long long)s->batch, (long long)m.adapter->seq_len,
           (long long)s->n_layers, (double)s->batch / step, step * 1e3, (double)s->batch / gstep,
           gstep * 1e3, step / gstep,
           (double)(free0 - free1) / (1 << 20), f / 1e9, 100.0 * rate / rate32,
           100.0 * rate / rate16,
           (double)m.params.total * (4 * 4 + (bf16 ? 2 : 0)) / (1 << 20),
           (double)m.darena.capacity / (1 << 20));
    model_graph_stats gs = model_graph_stats_of(&m);
    fprintf(stderr, "%s: loss %.4f grad norm %.4f after %lld steps (graph: %lld eager, %lld "
            "captured, %lld replayed)\n", s->name, loss, gnorm, (long long)done,
            (long long)gs.eager, (long long)gs.captured, (long long)gs.replayed);
    free(t);
    free(x);
    free(y);
    classify_model_free(&m);
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: bench/train [steps] [--shape NAME] [--prec fp32|bf16] [--csv]\n");
    return 2;
}

int main(int argc, char **argv) {
    int steps = 20, csv = 0, prec = -1; // prec -1: both
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else if (!strcmp(argv[i], "--shape") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--prec") && i + 1 < argc) {
            i++;
            if (!strcmp(argv[i], "fp32"))
                prec = 0;
            else if (!strcmp(argv[i], "bf16"))
                prec = 1;
            else
                return usage();
        } else if (argv[i][0] != '-' && atoi(argv[i]) > 0)
            steps = atoi(argv[i]);
        else
            return usage();
    }
    size_t n_shapes = sizeof SHAPES / sizeof SHAPES[0], found = 0;
    for (size_t i = 0; i < n_shapes; i++)
        found += !only || !strcmp(only, SHAPES[i].name);
    if (!found) {
        fprintf(stderr, "bench/train: no shape named %s (fmnist_gpu, vim_tiny, aum_small)\n",
                only);
        return 2;
    }
    ssm_device d = {SSM_DEVICE_CUDA, 0};
    ssm_error err = {0};
    if (ssm_device_open(&d, &err)) {
        printf("bench/train: %s\n", err.msg);
        return 0;
    }
    double rate[2] = {0, 0};
    if (csv) {
        // the cuBLAS handle (and its workspace) before the first build, as the GEMM rates
        // below create it in the table mode: no run's memory counts it
        cublasHandle_t h;
        SSM_CUDA_ABORT_ON_ERROR(ssm_cublas_handle(&h));
        printf("shape,prec,batch,L,layers,params,samples_per_s,ms_per_step,peak_mib,held_mib,"
               "arena_mib\n");
    } else {
        for (int bf = 0; bf < 2; bf++) {
            double big = 2.0 * 4096 * 4096 * 4096 / gemm_seconds(4096, 4096, 4096, bf);
            // The in_proj of vim_tiny: [128*197, 192] x [192, 768]
            double inproj = 2.0 * 128 * 197 * 768 * 192 / gemm_seconds(128 * 197, 768, 192, bf);
            printf("cuBLAS %s GEMM: 4096^3 %.1f TFLOP/s; in_proj shape (25216 x 768 x 192) %.1f "
                   "TFLOP/s\n", bf ? "bf16 (fp32 accumulation)" : "fp32", big / 1e12,
                   inproj / 1e12);
            rate[bf] = big;
        }
        printf("model GFLOP/sample = matmul FLOPs of forward + backward (3x forward); %% fp32 / "
               "%% bf16 GEMM = achieved model FLOP/s over the 4096^3 cuBLAS fp32 / bf16 rate\n\n");
        printf("samples/s, ms/step: the eager step; graph: the same step replayed as a CUDA graph "
               "(train.cuda_graph), timed on the same model right after; x = eager / graph "
               "time\n\n");
        printf("| shape      | prec | batch |   L | layers | samples/s | ms/step | graph samples/s | graph ms/step | speedup | held MiB | GFLOP/sample | %% fp32 GEMM | %% bf16 GEMM | params MiB | arena MiB |\n");
        printf("|------------|------|------:|----:|-------:|----------:|--------:|----------:|--------:|------:|---------:|-------------:|-------:|-------:|--------:|--------:|\n");
    }
    int rc = 0;
    for (size_t i = 0; i < n_shapes; i++) {
        if (only && strcmp(only, SHAPES[i].name))
            continue;
        for (int bf = 0; bf < 2; bf++)
            if (prec < 0 || prec == bf)
                rc |= run_shape(&SHAPES[i], bf, rate[0], rate[1], steps, csv);
    }
    return rc;
}
#else
int main(void) {
    printf("bench/train: needs a CUDA build (make CUDA=1 B=build-cuda bench)\n");
    return 0;
}
#endif
