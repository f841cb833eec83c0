// defines: main (benchmark of the CPU Mamba backbone)
// Forward and forward+backward time of one block and of a stack, bidirectional
// ({identity, reverse}, Vim's v2 layout), at batch B. Prints tokens/s, achieved
// GFLOP/s, that rate as a fraction of the OpenBLAS SGEMM rate measured in the
// same run (1024^3), and the peak arena bytes.
//
// FLOPs counted (per layer, forward): the GEMMs, 2*B*L*(D*2E + K*E*(R+2N) +
// K*R*E + E*D), plus the scan's ~9*B*E*L*N per branch (exp, two multiplies
// and an add for the state, a multiply-add for the output, per state element).
// Norms, conv, gates, gathers are not counted. Forward+backward counts 3x the
// forward (the usual "backward = 2 forwards" convention; the scan's real
// backward work, recompute plus reverse sweep, is more than that).
//
// usage: backbone [-B 8] [-L 196,784,4096] [-d 192,384] [-N 16] [-layers 4] [-reps R]
//                 [-no-stack] [-no-block] [-no-job] [-job-only]
//                 [-step [-warmup 3] [-iters 10] [-dump PREFIX]]
// The first rows are the default job's shape (configs/image/fashion_mnist.yaml:
// B 64, L 16 = 7x7 patches of a 28x28 image, d_model 96, 4 layers) at N 8 and
// 16, then the grid (each d_model x L x N, one block and a stack).
// Repetitions default to about 1.5 s of work per measurement (at least 1);
// every figure is the best repetition (SGEMM too: best of 1 s of calls).
// "cpu ms" is the process CPU time per forward+backward averaged over the
// repetitions: on a machine shared with other jobs the wall time of a
// repetition depends on them, its CPU time much less (nothing here spins:
// the OpenMP wait policy is passive and OpenBLAS runs single-threaded).
// "cpu of SGEMM" is the training step's GFLOP per CPU-second over SGEMM's
// GFLOP per CPU-second: the load-robust form of "of SGEMM".
//
// -step: the comparison mode of bench/compare_torch_cpu.sh (against PyTorch +
// mambapy, bench/torch_mamba_cpu.py, which prints the same line): for each
// d_model x L x N of the grid, the stack only (-layers, final norm included), no
// SGEMM and no forward-only timing; `warmup` training steps (forward +
// backward with d input, no optimizer), then `iters` steps timed one by one;
// prints one "step ..." line with the parameter count, the min and median
// step time (samples/s from the median) and the process CPU time per timed step
// (all threads; the figure that other jobs on the machine disturb least). -dump PREFIX (one shape) first writes
// the initial parameters (PREFIX.safetensors), one step's output and d input
// (PREFIX.out.f32, PREFIX.din.f32: raw float32 [B, L, D]) and its parameter
// gradients (PREFIX.grad.safetensors), for torch_mamba_cpu.py -check PREFIX.
//
// Threads: the kernels use OpenMP and GEMM uses OpenBLAS's own pthread pool
// (Debian's default libopenblas0-pthread). With libgomp's default (active)
// wait policy, idle OpenMP workers spin through every GEMM and steal its cores
// (and OpenBLAS workers yield through every OpenMP region): on 2 cores the
// training step ran 2-4x slower. So unless OMP_WAIT_POLICY is set, the bench
// re-executes itself with OMP_WAIT_POLICY=passive (libgomp reads it at load
// time, so setenv alone is too late).
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backbone/mamba.h"
#include "bench/timing.h"
#include "core/checkpoint.h"

static int parse_list(const char *s, int64_t *out, int max) {
    int n = 0;
    while (*s && n < max) {
        out[n++] = strtoll(s, (char **)&s, 10);
        if (*s == ',')
            s++;
        else
            break;
    }
    return n;
}

// Best-call wall rate of a 1024^3 SGEMM (OpenBLAS threads), and in *per_cpu
// its rate per second of process CPU time over all the calls: the second is
// what "cpu of SGEMM" compares against, and depends much less on other jobs.
static double sgemm_gflops(double *per_cpu) {
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++)
        a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double best = 1e30, start = omp_get_wtime(), c0 = bench_cpu_seconds();
    int calls = 0;
    while (omp_get_wtime() - start < 1.0) {
        double t0 = omp_get_wtime();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
        double t = omp_get_wtime() - t0;
        best = t < best ? t : best;
        calls++;
    }
    *per_cpu = 2.0 * n * n * n * calls / (bench_cpu_seconds() - c0) * 1e-9;
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best * 1e-9;
}

static double fwd_flops(const mamba_config *c, int64_t B, int64_t L) {
    double D = c->d_model, E = c->expand * D, N = c->d_state, R = c->dt_rank, K = c->n_branches;
    double gemm = 2.0 * B * L * (D * 2 * E + K * E * (R + 2 * N) + K * R * E + E * D);
    double scan = K * 9.0 * B * E * L * N;
    return c->n_layers * (gemm + scan);
}

typedef struct {
    double fwd_s, train_s; // seconds per call (best repetition)
    double step_min_s, step_med_s; // -step: min and median of the timed steps
    double step_cpu_s;             // -step: process CPU seconds per timed step (mean)
    size_t n_params;               // elements over all parameter tensors (no padding)
    double train_cpu_s;    // process CPU seconds per forward+backward (mean)
    size_t arena_bytes;
} result;

static int write_f32(const char *prefix, const char *ext, const real *x, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", prefix, ext);
    FILE *f = fopen(path, "wb");
    int ok = f != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const float v = (float)x[i];
        ok = fwrite(&v, sizeof v, 1, f) == 1;
    }
    if (f)
        ok = !fclose(f) && ok;
    if (!ok)
        fprintf(stderr, "bench: cannot write %s\n", path);
    return !ok;
}

// -dump: parameters, then one step (fresh zero gradients) and its results.
static int dump_step(const char *prefix, mamba_stack *s, ssm_params *p, real *out, real *din,
                     const real *in, const real *dout, const mamba_orders *o, int64_t B, size_t n) {
    char path[1024];
    ssm_error e = {0};
    snprintf(path, sizeof path, "%s.safetensors", prefix);
    if (ssm_checkpoint_save(path, p, 0, NULL, &e))
        return fprintf(stderr, "bench: %s\n", e.msg), 1;
    memset(din, 0, n * sizeof(real));
    mamba_stack_forward(s, p, out, in, o, B);
    mamba_stack_backward(s, p, din, dout, o, B);
    if (write_f32(prefix, ".out.f32", out, n) || write_f32(prefix, ".din.f32", din, n))
        return 1;
    real *t = p->data; // the gradients saved under the parameters' names
    p->data = p->grad;
    snprintf(path, sizeof path, "%s.grad.safetensors", prefix);
    ssm_code c = ssm_checkpoint_save(path, p, 0, NULL, &e);
    p->data = t;
    if (c)
        return fprintf(stderr, "bench: %s\n", e.msg), 1;
    return 0;
}

// step_iters > 0: the -step mode (step_warmup untimed steps, then step_iters
// timed ones into r->step_*); otherwise the table's measurements.
static int run(result *r, int64_t d_model, int64_t n_layers, int64_t B, int64_t L, int64_t N,
               int reps_arg, double *flops, int step_warmup, int step_iters, const char *dump) {
    mamba_config c;
    mamba_config_defaults(&c);
    c.d_model = d_model;
    c.d_state = N;
    c.n_layers = n_layers;
    c.n_branches = 2;
    ssm_error e = {0};
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s;
    ssm_arena a;
    ssm_arena_init(&a);
    ssm_rng rng;
    if (mamba_stack_declare(&s, &c, &p, "", &e) || ssm_params_finalize(&p, &e) ||
        ssm_rng_init(&rng, 1, &e) || mamba_stack_plan(s, &a, B, L, &e) ||
        ssm_arena_commit(&a, &e) || mamba_stack_plan(s, &a, B, L, &e)) {
        fprintf(stderr, "bench: %s\n", e.msg);
        return 1;
    }
    mamba_stack_init_params(s, &p, &rng);
    ssm_rng_free(&rng);
    r->n_params = 0;
    for (size_t i = 0; i < p.count; i++)
        r->n_params += p.items[i].numel;
    *flops = fwd_flops(mamba_stack_get_config(s), B, L);
    const size_t n = (size_t)(B * L * d_model);
    real *in = malloc(n * sizeof(real)), *out = malloc(n * sizeof(real));
    real *din = malloc(n * sizeof(real)), *dout = malloc(n * sizeof(real));
    int32_t *perm = malloc(sizeof(int32_t) * 2 * B * L);
    for (size_t i = 0; i < n; i++)
        in[i] = (real)((double)(i % 97) / 97 - 0.5), dout[i] = (real)((double)(i % 89) / 89 - 0.5);
    mamba_order_identity(perm, B, L);
    mamba_order_reverse(perm + B * L, B, L);
    mamba_orders o = {.count = 2, .perm = perm};
    if (step_iters > 0) {
        if (dump && dump_step(dump, s, &p, out, din, in, dout, &o, B, n))
            return 1;
        double *ts = malloc(sizeof(double) * step_iters), c0 = 0;
        for (int i = 0; i < step_warmup + step_iters; i++) {
            if (i == step_warmup)
                c0 = bench_cpu_seconds();
            double t0 = omp_get_wtime();
            mamba_stack_forward(s, &p, out, in, &o, B);
            mamba_stack_backward(s, &p, din, dout, &o, B);
            if (i >= step_warmup)
                ts[i - step_warmup] = omp_get_wtime() - t0;
        }
        r->step_cpu_s = (bench_cpu_seconds() - c0) / step_iters;
        qsort(ts, step_iters, sizeof(double), bench_cmp_double);
        r->step_min_s = ts[0];
        r->step_med_s = step_iters % 2 ? ts[step_iters / 2]
                                       : 0.5 * (ts[step_iters / 2 - 1] + ts[step_iters / 2]);
        free(ts);
        goto done;
    }
    // warm-up (also sizes the repetitions)
    double t0 = omp_get_wtime();
    mamba_stack_forward(s, &p, out, in, &o, B);
    mamba_stack_backward(s, &p, din, dout, &o, B);
    double one = omp_get_wtime() - t0;
    int reps = reps_arg > 0 ? reps_arg : (int)(1.5 / one) + 1;
    if (reps > 50)
        reps = 50;
    // Best of the repetitions: the machine this runs on is often shared, and
    // the fastest repetition is the least disturbed one.
    r->fwd_s = r->train_s = 1e30;
    for (int i = 0; i < reps; i++) {
        t0 = omp_get_wtime();
        mamba_stack_forward(s, &p, out, in, &o, B);
        double t = omp_get_wtime() - t0;
        r->fwd_s = t < r->fwd_s ? t : r->fwd_s;
    }
    const double c0 = bench_cpu_seconds();
    for (int i = 0; i < reps; i++) {
        t0 = omp_get_wtime();
        mamba_stack_forward(s, &p, out, in, &o, B);
        mamba_stack_backward(s, &p, din, dout, &o, B);
        double t = omp_get_wtime() - t0;
        r->train_s = t < r->train_s ? t : r->train_s;
    }
    r->train_cpu_s = (bench_cpu_seconds() - c0) / reps;
done:
    r->arena_bytes = a.peak;
    free(in), free(out), free(din), free(dout), free(perm);
    mamba_stack_free(s);
    ssm_params_free(&p);
    ssm_arena_free(&a);
    return 0;
}

int main(int argc, char **argv) {
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv); // returns only on failure: run with the default policy
    }
    int64_t Ls[8] = {196, 784, 4096}, ds[8] = {192, 384}, Ns[8] = {16};
    int nL = 3, nd = 2, nN = 1, reps = 0, do_block = 1, do_stack = 1, do_job = 1, do_grid = 1;
    int do_step = 0, warmup = 3, iters = 10;
    const char *dump = NULL;
    int64_t B = 8, layers = 4;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-L") && i + 1 < argc)
            nL = parse_list(argv[++i], Ls, 8);
        else if (!strcmp(argv[i], "-d") && i + 1 < argc)
            nd = parse_list(argv[++i], ds, 8);
        else if (!strcmp(argv[i], "-N") && i + 1 < argc)
            nN = parse_list(argv[++i], Ns, 8);
        else if (!strcmp(argv[i], "-B") && i + 1 < argc)
            B = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-layers") && i + 1 < argc)
            layers = strtoll(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-no-stack"))
            do_stack = 0;
        else if (!strcmp(argv[i], "-no-block"))
            do_block = 0;
        else if (!strcmp(argv[i], "-no-job"))
            do_job = 0;
        else if (!strcmp(argv[i], "-job-only"))
            do_grid = 0;
        else if (!strcmp(argv[i], "-step"))
            do_step = 1;
        else if (!strcmp(argv[i], "-warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-dump") && i + 1 < argc)
            dump = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-B 8] [-L 196,784,4096] [-d 192,384] [-N 16] [-layers 4] "
                            "[-reps R] [-no-stack] [-no-block] [-no-job] [-job-only] "
                            "[-step [-warmup 3] [-iters 10] [-dump PREFIX]]\n", argv[0]);
            return 2;
        }
    }
    if (do_step) {
        if (iters < 1 || warmup < 0) {
            fprintf(stderr, "backbone: -iters %d, -warmup %d: need iters >= 1, warmup >= 0\n", iters,
                    warmup);
            return 2;
        }
        for (int di = 0; di < nd; di++)
            for (int li = 0; li < nL; li++)
                for (int ni = 0; ni < nN; ni++) {
                    result r;
                    double f;
                    if (run(&r, ds[di], layers, B, Ls[li], Ns[ni], 0, &f, warmup, iters, dump))
                        return 1;
                    printf("step impl=ssmkit B=%lld d=%lld L=%lld N=%lld layers=%lld K=2 threads=%d "
                           "params=%zu warmup=%d iters=%d min_ms=%.1f median_ms=%.1f "
                           "samples_per_s=%.1f cpu_ms=%.1f\n",
                           (long long)B, (long long)ds[di], (long long)Ls[li], (long long)Ns[ni],
                           (long long)layers, omp_get_max_threads(), r.n_params, warmup, iters,
                           r.step_min_s * 1e3, r.step_med_s * 1e3, (double)B / r.step_med_s, r.step_cpu_s * 1e3);
                    fflush(stdout);
                }
        return 0;
    }
    double peak_cpu, peak = sgemm_gflops(&peak_cpu);
    printf("CPU backbone, %d threads (OMP_WAIT_POLICY=%s), bidirectional (K=2), expand 2, "
           "d_conv 4\n",
           omp_get_max_threads(), getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "default");
    printf("OpenBLAS SGEMM 1024^3: %.1f GFLOP/s (best call), %.1f GFLOP per CPU-second\n\n", peak,
           peak_cpu);
    printf("| B | d_model | L | N | layers | fwd ms | fwd tok/s | fwd GFLOP/s | fwd+bwd ms | cpu ms "
           "| train samples/s | train tok/s | train GFLOP/s | of SGEMM | cpu of SGEMM | arena MiB |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    // the default job first (B 64, d_model 96, L 16, 4 layers; N 8 and 16), then the grid
    typedef struct {
        int64_t B, d, L, N, layers;
    } shape;
    shape cases[2 + 8 * 8 * 8 * 2];
    int nc = 0;
    if (do_job) {
        cases[nc++] = (shape){64, 96, 16, 8, 4};
        cases[nc++] = (shape){64, 96, 16, 16, 4};
    }
    for (int di = 0; do_grid && di < nd; di++)
        for (int li = 0; li < nL; li++)
            for (int ni = 0; ni < nN; ni++)
                for (int which = 0; which < 2; which++)
                    if ((which == 0 && do_block) || (which == 1 && do_stack))
                        cases[nc++] = (shape){B, ds[di], Ls[li], Ns[ni], which == 0 ? 1 : layers};
    for (int ci = 0; ci < nc; ci++) {
        const shape *c = &cases[ci];
        result r;
        double f;
        if (run(&r, c->d, c->layers, c->B, c->L, c->N, reps, &f, 0, 0, NULL))
            return 1;
        double tok = (double)(c->B * c->L);
        double g_f = f / r.fwd_s * 1e-9, g_t = 3 * f / r.train_s * 1e-9;
        printf("| %lld | %lld | %lld | %lld | %lld | %.1f | %.0f | %.1f | %.1f | %.1f | %.0f | %.0f | "
               "%.1f | %.0f%% | %.0f%% | %.0f |\n",
               (long long)c->B, (long long)c->d, (long long)c->L, (long long)c->N,
               (long long)c->layers,
               r.fwd_s * 1e3, tok / r.fwd_s, g_f, r.train_s * 1e3, r.train_cpu_s * 1e3,
               (double)c->B / r.train_s, tok / r.train_s, g_t, 100 * g_t / peak,
               100 * (3 * f / r.train_cpu_s * 1e-9) / peak_cpu,
               r.arena_bytes / 1048576.0);
        fflush(stdout);
    }
    return 0;
}
