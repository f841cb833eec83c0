// defines: main (bench/dist: data-parallel training steps on the CPU, ranks x threads)
// The default job's training step (configs/image/fashion_mnist.yaml's model, global batch 64,
// random inputs) on the CPU cores split two ways: 1 rank x T threads (OpenMP inside each
// kernel) against T ranks x 1 thread (mpirun, each rank a shard of 64 / T samples and one
// gradient all-reduce per step), and 1 rank x 1 thread for scale. Prints per configuration
// the global samples/s and the step's parts (median ms): forward + backward, the wait for the
// slowest rank (a barrier), the gradient all-reduce itself (median and fastest step: on a
// shared machine a rank descheduled inside the collective makes the other wait a time
// slice), clipping + AdamW; then the
// all-reduce of the whole flat gradient buffer as one call against 4 and 16 sequential buckets
// (what bucketing would cost before any overlap with the backward could pay it back), and
// the overlap itself at its most favourable: a non-blocking all-reduce of a copy of the
// buffer started before a whole forward + backward and waited for after it (the wait left
// is what overlap cannot hide: ~0 if MPI sums in the background, the whole all-reduce if
// it sums only inside the wait).
//   build/bench/dist [T]       run every configuration (T = 2 by default; needs mpirun and an
//                              MPI build for the ranks; run from the repository root)
//   mpirun -np N build/bench/dist --worker   one configuration, the table line on rank 0
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/timing.h"
#include "core/distributed.h"
#include "kernels/linear.h"
#include "tasks/task_registry.h"
#include "tasks/task_run.h"

#define WARMUP 5
#define STEPS 40
#define REPS 60
#define GLOBAL_B 64
#define OVERLAP_REPS 20

static void die(const ssm_dist *d, const char *what, const ssm_error *e) {
    char msg[1200];
    snprintf(msg, sizeof msg, "bench/dist: %s: %s", what, e->msg);
    ssm_dist_abort(d, 1, msg);
    exit(1);
}

// Median ms of an all-reduce of the n-float buffer in `buckets` sequential pieces.
static double allreduce_ms(const ssm_dist *d, real *buf, size_t n, int buckets) {
    double t[REPS];
    ssm_error e;
    for (int r = 0; r < REPS; r++) {
        if (ssm_dist_barrier(d, &e))
            die(d, "barrier", &e);
        double t0 = bench_now();
        for (int k = 0; k < buckets; k++) {
            size_t lo = n * k / buckets, hi = n * (k + 1) / buckets;
            if (ssm_dist_allreduce(d, buf + lo, hi - lo, SSM_DIST_REAL, &e))
                die(d, "all-reduce", &e);
        }
        t[r] = 1e3 * (bench_now() - t0);
    }
    return bench_median(t, REPS);
}

// A non-blocking all-reduce of copy [n] in flight while this rank works (compute: one
// forward + backward; else a 20 ms sleep, which leaves the core to MPI), then waited for:
// *work_ms the median work, *wait_ms the median and *wait_min the fastest wait after it.
static void overlap_ms(const ssm_dist *d, ssm_task *t, const ssm_batch *b, real *copy, size_t n,
                       int compute, double *work_ms, double *wait_ms, double *wait_min) {
    double wk[OVERLAP_REPS], w[OVERLAP_REPS];
    ssm_error e;
    for (int r = 0; r < OVERLAP_REPS; r++) {
        ssm_dist_request req;
        double loss;
        if (ssm_dist_barrier(d, &e))
            die(d, "barrier", &e);
        double t0 = bench_now();
        if (ssm_dist_iallreduce(d, copy, n, SSM_DIST_REAL, &req, &e))
            die(d, "non-blocking all-reduce", &e);
        if (compute && task_loss_and_grad(t, b, &loss, &e))
            die(d, "step", &e);
        if (!compute)
            usleep(20000);
        double t1 = bench_now();
        if (ssm_dist_wait(d, &req, &e))
            die(d, "wait", &e);
        wk[r] = 1e3 * (t1 - t0), w[r] = 1e3 * (bench_now() - t1);
    }
    *wait_min = w[0];
    for (int r = 1; r < OVERLAP_REPS; r++)
        *wait_min = fmin(*wait_min, w[r]);
    *work_ms = bench_median(wk, OVERLAP_REPS);
    *wait_ms = bench_median(w, OVERLAP_REPS);
}

static int worker(int argc, char **argv) {
    ssm_dist d;
    ssm_error e = {0};
    if (ssm_dist_init(&d, &argc, &argv, &e)) {
        fprintf(stderr, "bench/dist: %s\n", e.msg);
        return 1;
    }
    gemm_threads_init();
    const int threads = omp_get_max_threads();
    ssm_config cfg;
    if (ssm_config_resolve_checked(&cfg, "configs/image/fashion_mnist.yaml", NULL, 0,
                                   task_check_config, &e))
        die(&d, "the default job's config (run from the repository root)", &e);
    // this rank's shard of the global batch, as the batcher cuts it
    const int64_t B = GLOBAL_B / d.size + (d.rank < GLOBAL_B % d.size);
    task_data_info info = {.input = {.ndim = 3, .dims = {1, 28, 28}}, .num_classes = 10};
    ssm_task *t;
    if (task_create(&t, &cfg, &info, B, &e))
        die(&d, "task_create", &e);
    ssm_batch b;
    const int64_t shape[3] = {1, 28, 28};
    if (ssm_batch_alloc(&b, B, 3, shape, 1, 0, NULL, 0, &e))
        die(&d, "batch", &e);
    uint64_t st = 0x9e3779b97f4a7c15ull ^ (uint64_t)d.rank;
    for (int64_t i = 0; i < B * 784; i++) {
        st ^= st << 13, st ^= st >> 7, st ^= st << 17;
        b.x[i] = (real)((double)(st >> 11) / 9007199254740992.0 * 2 - 1);
    }
    for (int64_t i = 0; i < B; i++)
        b.y[i] = (int32_t)((i * 7 + d.rank) % 10);
    b.B = B;
    b.global_B = GLOBAL_B;
    b.shape[0] = B;
    ssm_params *p = t->work;
    const double share = (double)B / GLOBAL_B;
    double step[STEPS], fb[STEPS], wait[STEPS], ar[STEPS], opt[STEPS];
    for (int s = -WARMUP; s < STEPS; s++) {
        double loss, norm, t0 = bench_now();
        if (task_loss_and_grad(t, &b, &loss, &e))
            die(&d, "step", &e);
        double t1 = bench_now();
        if (ssm_dist_barrier(&d, &e))
            die(&d, "barrier", &e);
        double t2 = bench_now();
        if (ssm_dist_grad_average(&d, p->grad, p->total, share, 0, &e))
            die(&d, "gradient average", &e);
        double t3 = bench_now();
        if (t->dev->clip(p, 1.0, &norm, &e) || t->dev->adamw(p, &cfg.optim, 1e-4, s + WARMUP + 1, &e))
            die(&d, "optimizer", &e);
        double t4 = bench_now();
        if (s >= 0) {
            step[s] = 1e3 * (t4 - t0), fb[s] = 1e3 * (t1 - t0), wait[s] = 1e3 * (t2 - t1);
            ar[s] = 1e3 * (t3 - t2), opt[s] = 1e3 * (t4 - t3);
        }
    }
    // rank 0's medians: every step ends in the same collective, so the ranks' steps agree
    double ar_min = ar[0];
    for (int s = 1; s < STEPS; s++)
        ar_min = fmin(ar_min, ar[s]);
    double m[5] = {bench_median(step, STEPS), bench_median(fb, STEPS), bench_median(wait, STEPS),
                   bench_median(ar, STEPS), bench_median(opt, STEPS)};
    double a1 = 0, a4 = 0, a16 = 0, ov[2][3] = {{0}};
    if (d.active) {
        a1 = allreduce_ms(&d, p->grad, p->total, 1);
        a4 = allreduce_ms(&d, p->grad, p->total, 4);
        a16 = allreduce_ms(&d, p->grad, p->total, 16);
        real *copy = malloc(p->total * sizeof *copy);
        if (!copy) {
            ssm_fail(&e, SSM_ENOMEM, "cannot copy %zu gradients", p->total);
            die(&d, "overlap", &e);
        }
        memcpy(copy, p->grad, p->total * sizeof *copy);
        for (int k = 0; k < 2; k++)
            overlap_ms(&d, t, &b, copy, p->total, k, &ov[k][0], &ov[k][1], &ov[k][2]);
        free(copy);
    }
    if (!d.rank)
        printf("| %d x %d | %.0f | %.1f | %.1f | %.2f | %.3f / %.3f | %.2f |\n", d.size, threads,
               GLOBAL_B / (m[0] * 1e-3), m[0], m[1], m[2], m[3], ar_min, m[4]);
    if (!d.rank && d.active)
        printf("ALLREDUCE %zu %.3f %.3f %.3f %.2f %.3f %.3f %.2f %.3f %.3f\n", p->total, a1, a4,
               a16, ov[0][0], ov[0][1], ov[0][2], ov[1][0], ov[1][1], ov[1][2]);
    fflush(stdout);
    ssm_batch_free(&b);
    task_free(t);
    ssm_dist_finalize(&d);
    return 0;
}

static int driver(int T) {
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        fprintf(stderr, "bench/dist: cannot find its own binary\n");
        return 1;
    }
    self[n] = 0;
    int ranks_ok = !strcmp(ssm_dist_backend(), "mpi") && system("command -v mpirun >/dev/null 2>&1") == 0;
    char cores[32];
    snprintf(cores, sizeof cores, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    printf("bench/dist: the default job's training step (configs/image/fashion_mnist.yaml, "
           "global batch %d, random inputs), %s cores, median of %d steps\n\n", GLOBAL_B, cores,
           STEPS);
    printf("| ranks x threads | samples/s | step ms | fwd+bwd ms | wait ms | all-reduce ms "
           "(median / min) | clip+AdamW ms |\n|---|---|---|---|---|---|---|\n");
    fflush(stdout);
    const char *root = geteuid() == 0 ? "--allow-run-as-root " : "";
    char cmd[3][1400];
    // OpenMP threads wait passively, as in ssmkit (cli/main.c); the ranks get a core each
    snprintf(cmd[0], sizeof cmd[0], "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 %s --worker", self);
    snprintf(cmd[1], sizeof cmd[1], "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=%d %s --worker", T,
             self);
    snprintf(cmd[2], sizeof cmd[2], "OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1 mpirun %s"
             "--bind-to core -np %d %s --worker", root, T, self);
    char ar[512] = "";
    for (int i = 0; i < 3; i++) {
        if (i == 2 && !ranks_ok) {
            printf("| %d x 1 | (needs mpirun and an MPI build) |\n", T);
            continue;
        }
        FILE *f = popen(cmd[i], "r");
        if (!f)
            return 1;
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "ALLREDUCE", 9))
                snprintf(ar, sizeof ar, "%s", line);
            else if (line[0] == '|')
                fputs(line, stdout);
        }
        if (pclose(f) != 0)
            fprintf(stderr, "bench/dist: `%s` failed\n", cmd[i]);
        fflush(stdout);
    }
    size_t total;
    double a1, a4, a16, ov[2][3];
    if (sscanf(ar, "ALLREDUCE %zu %lf %lf %lf %lf %lf %lf %lf %lf %lf", &total, &a1, &a4, &a16,
               &ov[0][0], &ov[0][1], &ov[0][2], &ov[1][0], &ov[1][1], &ov[1][2]) == 10) {
        printf("\nall-reduce of the flat gradient buffer (%zu floats, %.2f MB) on %d ranks: one "
               "call %.3f ms, 4 buckets %.3f ms, 16 buckets %.3f ms\n", total,
               total * sizeof(real) / 1e6, T, a1, a4, a16);
        const char *what[2] = {"a sleep", "a forward + backward"};
        for (int k = 0; k < 2; k++)
            printf("overlap: a non-blocking all-reduce started before %s (%.1f ms): %.3f ms "
                   "(fastest %.3f ms) left to wait after it\n", what[k], ov[k][0], ov[k][1],
                   ov[k][2]);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--worker"))
        return worker(argc, argv);
    int T = argc > 1 ? atoi(argv[1]) : 2;
    return driver(T > 0 ? T : 2);
}
