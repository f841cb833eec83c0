// defines: main (bench/points: the point-cloud classifier's speed, PointMamba's shape)
// Builds the model a point-cloud config describes (default configs/points/modelnet40.yaml:
// PointMamba's ModelNet40 shape, 1024 points, 64 groups of 32, d_model 384, 12 layers,
// two Hilbert orders) through the task API, on the config's run.device, and prints:
//   1. training clouds/s: whole steps (upload, FPS + kNN grouping, mini-PointNet, the
//      backbone, head, loss, backward, clipping, AdamW) at the config's batch size, in fp32
//      and (GPU) bf16 mixed precision, side by side;
//   2. inference clouds/s: the whole model's forward at batch -fwd-batch (128: the batch
//      PointNeXt reports its 2,040 clouds/s at, on a V100);
//   3. FPS and kNN alone at the config's shape, with the bytes they must read (a lower
//      bound: FPS rereads the cloud and its distance array once per centre) and that
//      rate over the device's copy bandwidth measured in the same run (GPU) — the
//      memory-bandwidth ceiling;
//   4. one cloud of -big points (default 100,000: scene scale) with -big-groups groups:
//      FPS + grouping + the model forward and one training step, time and memory.
// Times are medians of -iters steps after -warmup (each step ends in a device sync: the
// loss or the outputs come back). Clouds are random (a sphere shell with noise): speed
// does not depend on the content here except FPS's ties, which random data avoids.
//
// usage: points [-config FILE] [-batch N] [-fwd-batch 128] [-iters 10] [-warmup 2]
//               [-big 100000] [-big-groups 2048] [--set key=value]...
//   (--set run.device=cpu runs it on the CPU, e.g. with smaller shapes.)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/timing.h"
#include "core/config.h"
#include "core/device_select.h"
#include "core/rng.h"
#include "kernels/pointops.h"
#include "tasks/task_run.h"
#include "tasks/train_device.h"

#if SSM_HAVE_CUDA
#include "kernels/cuda/common.h"
#include "kernels/cuda/pointops.h"
#endif

#define MAX_SETS 32

typedef struct {
    const char *config;
    const char *sets[MAX_SETS + 8];
    int n_sets;
    int64_t batch, fwd_batch, big, big_groups;
    int iters, warmup;
} opts;

// B random clouds [B, N, C]: points on a unit sphere shell with noise (C > 3: zeros).
static real *random_clouds(int64_t B, int64_t N, int64_t C, uint64_t seed) {
    real *x = malloc((size_t)(B * N * C) * sizeof(real));
    ssm_rng r;
    ssm_error e;
    if (!x || ssm_rng_init(&r, seed, &e)) {
        free(x);
        return NULL;
    }
    for (int64_t i = 0; i < B * N; i++) {
        double v[3], n2 = 0;
        for (int j = 0; j < 3; j++) {
            v[j] = ssm_rng_normal(&r, 1.0);
            n2 += v[j] * v[j];
        }
        double s = (1.0 + 0.05 * ssm_rng_normal(&r, 1.0)) / sqrt(n2 + 1e-12);
        for (int64_t j = 0; j < C; j++)
            x[i * C + j] = j < 3 ? (real)(v[j] * s) : 0;
    }
    ssm_rng_free(&r);
    return x;
}

static ssm_code load_config(ssm_config *c, const opts *o, const char *const *extra, int n_extra,
                            ssm_error *err) {
    const char *sets[MAX_SETS + 8];
    int n = 0;
    for (int i = 0; i < o->n_sets; i++)
        sets[n++] = o->sets[i];
    for (int i = 0; i < n_extra; i++)
        sets[n++] = extra[i];
    return ssm_config_resolve_checked(c, o->config, sets, n, task_check_config, err);
}

static int is_cuda(const ssm_config *c) { return strncmp(c->run.device, "cuda", 4) == 0; }

static double device_used_mib(void) {
#if SSM_HAVE_CUDA
    size_t f, t;
    if (cudaMemGetInfo(&f, &t) == cudaSuccess)
        return (double)(t - f) / (1 << 20);
#endif
    return 0;
}

// Median seconds of `iters` training steps (train = 1) or forwards of batch B.
static ssm_code time_model(const ssm_config *c, int64_t N, int64_t B, int train, const opts *o,
                           double *sec, double *mib, ssm_error *err) {
    int64_t C = c->adapter.channels;
    task_data_info d = {.input = {2, {N, C}}, .num_classes = c->task.num_classes};
    ssm_task *t = NULL;
    SSM_TRY(task_create(&t, c, &d, B, err));
    ssm_batch b = {0};
    int64_t xs[2] = {N, C};
    ssm_code rc = ssm_batch_alloc(&b, B, 2, xs, 1, 0, NULL, 0, err);
    real *x = random_clouds(B, N, C, 7);
    if (!rc && !x)
        rc = ssm_fail(err, SSM_ENOMEM, "out of memory for %lld clouds", (long long)B);
    if (!rc) {
        memcpy(b.x, x, (size_t)(B * N * C) * sizeof(real));
        b.B = B;
        b.shape[0] = B;
        for (int64_t i = 0; i < B; i++)
            b.y[i] = (int32_t)(i % c->task.num_classes);
    }
    double *ts = malloc((size_t)o->iters * sizeof *ts);
    for (int r = -o->warmup; !rc && r < o->iters; r++) {
        double t0 = bench_now(), loss, gnorm;
        if (train) {
            rc = task_loss_and_grad(t, &b, &loss, err);
            if (!rc) rc = t->dev->clip(t->work, 1.0, &gnorm, err);
            if (!rc) rc = t->dev->adamw(t->work, &c->optim, 1e-4, r + o->warmup + 1, err);
        } else {
            const real *out;
            rc = model_predict(&t->model, x, B, &out, err);
        }
        if (r >= 0)
            ts[r] = bench_now() - t0;
    }
    if (!rc) {
        *sec = bench_median(ts, o->iters);
        *mib = device_used_mib();
    }
    free(ts);
    free(x);
    ssm_batch_free(&b);
    task_free(t);
    return rc;
}

static int model_rows(const opts *o, const char *label, const char *const *extra, int n_extra,
                      int64_t N_override) {
    ssm_error err = {0};
    ssm_config c;
    if (load_config(&c, o, extra, n_extra, &err)) {
        fprintf(stderr, "bench/points: %s\n", err.msg);
        return 1;
    }
    int64_t N = N_override ? N_override : c.data.num_points;
    int64_t B = N_override ? 1 : (o->batch ? o->batch : c.data.batch_size);
    int64_t Bf = N_override ? 1 : o->fwd_batch;
    int n_prec = is_cuda(&c) ? 2 : 1;
    for (int p = 0; p < n_prec; p++) {
        c.run.precision = p ? SSM_PREC_BF16 : SSM_PREC_FP32;
        double st = 0, sf = 0, mt = 0, mf = 0;
        ssm_code rc = time_model(&c, N, B, 1, o, &st, &mt, &err);
        if (!rc) rc = time_model(&c, N, Bf, 0, o, &sf, &mf, &err);
        if (rc) {
            fprintf(stderr, "bench/points: %s %s: %s\n", label, p ? "bf16" : "fp32", err.msg);
            return 1;
        }
        printf("| %s | %s | %s | %lld | %lld | %.1f | %.2f | %lld | %.1f | %.2f | %.0f |\n", label,
               c.run.device, p ? "bf16" : "fp32", (long long)N, (long long)B, B / st, st * 1e3,
               (long long)Bf, Bf / sf, sf * 1e3, mt > mf ? mt : mf);
        fflush(stdout);
    }
    ssm_config_free(&c);
    return 0;
}

// FPS and kNN alone on B clouds of N points: G centres, k neighbours each.
static void grouping_rows(const ssm_config *c, int64_t B, int64_t N, int64_t G, int64_t k,
                          const opts *o) {
    real *x = random_clouds(B, N, 3, 11);
    int32_t *idx = malloc((size_t)(B * G * k) * sizeof(int32_t));
    real *scratch = malloc((size_t)(B * N) * sizeof(real));
    real *cent = malloc((size_t)(B * G * 3) * sizeof(real));
    double tf[64], tk[64];
    int n = o->iters < 64 ? o->iters : 64;
    // bytes a pass must move at the least: FPS reads the cloud and reads + writes the
    // distances once per centre; kNN reads every cloud point once per query
    double fps_bytes = (double)B * G * N * (3 + 2) * sizeof(real);
    double knn_bytes = (double)B * G * N * 3 * sizeof(real);
    double bw = 0;
    const char *where = "cpu";
#if SSM_HAVE_CUDA
    if (is_cuda(c)) {
        where = "cuda";
        void *dx, *didx, *ds, *dc;
        size_t big = (size_t)1 << 30;
        void *a, *b2;
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&a, big, "bench"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&b2, big, "bench"));
        double tc[8];
        for (int r = -2; r < 8; r++) {
            double t0 = bench_now();
            CUDA_CHECK_ABORT(cudaMemcpy(b2, a, big, cudaMemcpyDeviceToDevice));
            CUDA_CHECK_ABORT(cudaDeviceSynchronize());
            if (r >= 0)
                tc[r] = bench_now() - t0;
        }
        bw = 2.0 * (double)big / bench_median(tc, 8); // read + write
        ssm_cuda_free(a);
        ssm_cuda_free(b2);
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&dx, (size_t)(B * N * 3) * sizeof(real), "bench"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&didx, (size_t)(B * G * k) * sizeof(int32_t), "bench"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&ds, (size_t)(B * N) * sizeof(real), "bench"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_alloc(&dc, (size_t)(B * G * 3) * sizeof(real), "bench"));
        SSM_CUDA_ABORT_ON_ERROR(ssm_cuda_upload(dx, x, (size_t)(B * N * 3) * sizeof(real)));
        for (int r = -o->warmup; r < n; r++) {
            double t0 = bench_now();
            SSM_CUDA_ABORT_ON_ERROR(fps_forward_cuda(didx, ds, dx, B, N, G, 3));
            CUDA_CHECK_ABORT(cudaDeviceSynchronize());
            double t1 = bench_now();
            // the queries: the first G points (the centres' values do not change the work)
            SSM_CUDA_ABORT_ON_ERROR(knn_forward_cuda(didx, NULL, dx, 3, dx, 3, B, G, N, k));
            CUDA_CHECK_ABORT(cudaDeviceSynchronize());
            if (r >= 0) {
                tf[r] = t1 - t0;
                tk[r] = bench_now() - t1;
            }
        }
        ssm_cuda_free(dx);
        ssm_cuda_free(didx);
        ssm_cuda_free(ds);
        ssm_cuda_free(dc);
    } else
#endif
    {
        for (int r = -o->warmup; r < n; r++) {
            double t0 = bench_now();
            fps_forward(idx, scratch, x, B, N, G, 3);
            double t1 = bench_now();
            knn_forward(idx, NULL, x, 3, x, 3, B, G, N, k);
            if (r >= 0) {
                tf[r] = t1 - t0;
                tk[r] = bench_now() - t1;
            }
        }
    }
    double f = bench_median(tf, n), kk = bench_median(tk, n);
    char pf[32] = "—", pk[32] = "—";
    if (bw > 0) {
        snprintf(pf, sizeof pf, "%.1f%%", 100.0 * fps_bytes / f / bw);
        snprintf(pk, sizeof pk, "%.1f%%", 100.0 * knn_bytes / kk / bw);
    }
    printf("| FPS | %s | %lld x %lld -> %lld | %.3f | %.1f | %s |\n", where, (long long)B,
           (long long)N, (long long)G, f * 1e3, fps_bytes / f / 1e9, pf);
    printf("| kNN (k %lld) | %s | %lld x %lld queries over %lld | %.3f | %.1f | %s |\n",
           (long long)k, where, (long long)B, (long long)G, (long long)N, kk * 1e3,
           knn_bytes / kk / 1e9, pk);
    if (bw > 0)
        printf("\ndevice copy bandwidth (1 GiB cudaMemcpy device to device, read + write): "
               "%.0f GB/s\n", bw / 1e9);
    free(x);
    free(idx);
    free(scratch);
    free(cent);
}

int main(int argc, char **argv) {
    opts o = {.config = "configs/points/modelnet40.yaml", .fwd_batch = 128, .iters = 10,
              .warmup = 2, .big = 100000, .big_groups = 2048};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "bench/points: %s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "-config")) o.config = v;
        else if (!strcmp(a, "-batch")) o.batch = atoll(v);
        else if (!strcmp(a, "-fwd-batch")) o.fwd_batch = atoll(v);
        else if (!strcmp(a, "-iters")) o.iters = atoi(v);
        else if (!strcmp(a, "-warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "-big")) o.big = atoll(v);
        else if (!strcmp(a, "-big-groups")) o.big_groups = atoll(v);
        else if (!strcmp(a, "--set") && o.n_sets < MAX_SETS) o.sets[o.n_sets++] = v;
        else {
            fprintf(stderr, "bench/points: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (o.iters < 1 || o.warmup < 0) {
        fprintf(stderr, "bench/points: -iters must be >= 1 and -warmup >= 0\n");
        return 2;
    }
    ssm_error err = {0};
    ssm_config c;
    // the data set is not read: the model is built for the config's shapes
    if (load_config(&c, &o, NULL, 0, &err)) {
        fprintf(stderr, "bench/points: %s\n", err.msg);
        return 1;
    }
    ssm_device dev;
    if (ssm_device_parse(&dev, c.run.device, &err) || ssm_device_open(&dev, &err)) {
        printf("bench/points: %s (try --set run.device=cpu)\n", err.msg);
        return 0;
    }
    printf("bench/points: %s, %lld points, groups per config, d_model %lld, %lld layers, "
           "%u orders, batch %lld\n\n", o.config, (long long)c.data.num_points,
           (long long)c.backbone.d_model, (long long)c.backbone.n_layers, c.adapter.orders_count,
           (long long)(o.batch ? o.batch : c.data.batch_size));
    printf("| cloud | device | precision | points | train batch | train clouds/s | ms/step | "
           "fwd batch | fwd clouds/s | ms/fwd | device MiB |\n");
    printf("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int rc = model_rows(&o, "config", NULL, 0, 0);
    if (o.big > 0) {
        char g[64];
        snprintf(g, sizeof g, "adapter.num_groups=%lld", (long long)o.big_groups);
        const char *extra[] = {g};
        char label[64];
        snprintf(label, sizeof label, "one cloud, %lld groups", (long long)o.big_groups);
        rc |= model_rows(&o, label, extra, 1, o.big);
    }
    int64_t N = c.data.num_points, B = o.batch ? o.batch : c.data.batch_size;
    // the adapter's defaults when the config leaves them 0 (adapters/point_groups.c)
    int64_t k = c.adapter.group_size ? c.adapter.group_size : 32;
    int64_t G = c.adapter.num_groups ? c.adapter.num_groups : N / (k / 2 > 0 ? k / 2 : 1);
    printf("\n| kernel | device | shape | ms | GB/s (lower bound of bytes moved) | of copy "
           "bandwidth |\n|---|---|---|---:|---:|---:|\n");
    grouping_rows(&c, B, N, G, k, &o);
    ssm_config_free(&c);
    return rc;
}
