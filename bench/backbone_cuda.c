// defines: main (benchmark of the Mamba backbone on one GPU)
// Forward and forward+backward time of the stack (backbone/mamba_cuda.h, fp32) at the
// Vim-Tiny shape (B 128, L 197, d_model 192, 24 layers) and the Fashion-MNIST default job's
// shape (B 64, L 16, d_model 96, 4 layers), both bidirectional ({identity, reverse}, Vim's v2
// layout). Prints the median over repetitions after warm-up, timed with CUDA events, tokens/s,
// and the GEMMs' FLOPs over the measured time as GFLOP/s next to a cuBLAS fp32 GEMM
// (4096^3, default math: no TF32) measured in the same run.
//
// FLOPs counted (GEMMs only, per layer, forward): 2*B*L*(D*2E + K*E*(R+2N) + K*R*E + E*D).
// Forward+backward GEMMs: 3x the forward (input and weight gradients of each) plus the
// backward's recompute of dt_proj, 2*B*L*K*R*E. "GEMM floor" is those FLOPs at the cuBLAS
// rate: the time the stack would take if it were nothing but large GEMMs. The scan, conv,
// norms, gates and layout passes are not counted (they are memory-bound).
//
// Inputs and parameters are random (mamba_ssm's init), never zeros. Built only with CUDA=1.
// -parts also times each step of one layer at the Vim-Tiny shape alone (the same calls the
// mixer makes, on random buffers), times the layers, to show where the time goes.
//   build-cuda/bench/backbone_cuda [-reps R] [-warm W] [-only vim|fmnist] [-parts]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef SSM_CUDA
#include <cuda_runtime_api.h>

#include "backbone/cuda/mixer_kernels.h"
#include "backbone/mamba.h"
#include "backbone/mamba_cuda.h"
#include "core/cuda/device.h"
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/norm.h"
#include "kernels/cuda/scan.h"

#define CK(x) SSM_CUDA_ABORT_ON_ERROR(x)

static void die(const char *what, const ssm_error *e) {
    fprintf(stderr, "%s: %s\n", what, e->msg);
    exit(1);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

typedef void (*step_fn)(void *ctx);

// Median ms of f over reps, after warm calls; each repetition between two events.
static float median_ms(step_fn f, void *ctx, int warm, int reps) {
    for (int i = 0; i < warm; i++)
        f(ctx);
    cudaEvent_t a, b;
    CUDA_CHECK_ABORT(cudaEventCreate(&a));
    CUDA_CHECK_ABORT(cudaEventCreate(&b));
    float *t = malloc(sizeof(float) * (size_t)reps);
    for (int i = 0; i < reps; i++) {
        CUDA_CHECK_ABORT(cudaEventRecord(a, 0));
        f(ctx);
        CUDA_CHECK_ABORT(cudaEventRecord(b, 0));
        CUDA_CHECK_ABORT(cudaEventSynchronize(b));
        CUDA_CHECK_ABORT(cudaEventElapsedTime(&t[i], a, b));
    }
    qsort(t, (size_t)reps, sizeof(float), cmp_float);
    float m = t[reps / 2];
    free(t);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return m;
}

static real *dev_random(size_t n, unsigned seed) {
    real *h = malloc(sizeof(real) * n), *d;
    srand(seed);
    for (size_t i = 0; i < n; i++)
        h[i] = (real)(2.0 * rand() / RAND_MAX - 1.0);
    CK(ssm_cuda_alloc((void **)&d, sizeof(real) * n, "bench"));
    CK(ssm_cuda_upload(d, h, sizeof(real) * n));
    free(h);
    return d;
}

typedef struct {
    real *C, *A, *B;
    int64_t n;
} gemm_ctx;
static void gemm_step(void *p) {
    gemm_ctx *g = p;
    CK(gemm_cuda(g->C, g->A, g->B, g->n, g->n, g->n, 0, 0, 1, 0));
}

typedef struct {
    mamba_stack *s;
    ssm_params *dev;
    real *out, *in, *din, *dout;
    mamba_orders o;
    int64_t B;
} stack_ctx;
static void fwd_step(void *p) {
    stack_ctx *c = p;
    ssm_error e;
    if (mamba_stack_forward_cuda(c->s, c->dev, c->out, c->in, &c->o, c->B, &e) != SSM_OK)
        die("forward", &e);
}
static void fwd_bwd_step(void *p) {
    stack_ctx *c = p;
    ssm_error e;
    fwd_step(p);
    if (mamba_stack_backward_cuda(c->s, c->dev, c->din, c->dout, &c->o, c->B, &e) != SSM_OK)
        die("backward", &e);
}

typedef struct {
    const char *name;
    int64_t B, L, D, layers;
    int K;
} shape;

// Returns the median fwd+bwd ms.
static float run_shape(const shape *sh, int warm, int reps, double cublas_gflops) {
    ssm_error e = {0};
    mamba_config cfg;
    mamba_config_defaults(&cfg);
    cfg.d_model = sh->D;
    cfg.n_layers = sh->layers;
    cfg.n_branches = sh->K;
    ssm_params p;
    ssm_params_init(&p);
    mamba_stack *s;
    if (mamba_stack_declare(&s, &cfg, &p, "", &e) != SSM_OK || ssm_params_finalize(&p, &e))
        die("declare", &e);
    ssm_rng rng;
    if (ssm_rng_init(&rng, 1, &e) != SSM_OK)
        die("rng", &e);
    mamba_stack_init_params(s, &p, &rng);
    ssm_rng_free(&rng);
    ssm_params dev;
    if (ssm_params_cuda_mirror(&dev, &p, &e) != SSM_OK)
        die("mirror", &e);
    ssm_arena a;
    ssm_arena_init(&a);
    if (mamba_stack_plan_cuda(s, &a, sh->B, sh->L, &e) || ssm_arena_commit_cuda(&a, &e) ||
        mamba_stack_plan_cuda(s, &a, sh->B, sh->L, &e))
        die("plan", &e);

    const int64_t B = sh->B, L = sh->L, D = sh->D, n = B * L * D;
    const mamba_config *rc = mamba_stack_get_config(s);
    const int64_t E = rc->expand * D, N = rc->d_state, R = rc->dt_rank, K = sh->K;
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(2 * B * L)), *perm_d;
    mamba_order_identity(perm, B, L);
    mamba_order_reverse(perm + B * L, B, L);
    CK(ssm_cuda_alloc((void **)&perm_d, sizeof(int32_t) * (size_t)(2 * B * L), "bench"));
    CK(ssm_cuda_upload(perm_d, perm, sizeof(int32_t) * (size_t)(2 * B * L)));
    stack_ctx c = {.s = s, .dev = &dev, .in = dev_random((size_t)n, 3),
                   .dout = dev_random((size_t)n, 4), .din = dev_random((size_t)n, 5),
                   .o = {.count = 2, .perm = perm_d, .schedule = NULL}, .B = B};
    CK(ssm_cuda_alloc((void **)&c.out, sizeof(real) * (size_t)n, "bench"));

    const double tokens = (double)(B * L);
    const double fwd_flops = 2.0 * tokens * sh->layers *
                             (double)(D * 2 * E + K * E * (R + 2 * N) + K * R * E + E * D);
    const double fb_flops = 3 * fwd_flops + 2.0 * tokens * sh->layers * (double)(K * R * E);
    float t_f = median_ms(fwd_step, &c, warm, reps);
    float t_fb = median_ms(fwd_bwd_step, &c, warm, reps);
    struct {
        const char *pass;
        float ms;
        double flops;
    } rows[2] = {{"forward", t_f, fwd_flops}, {"fwd+bwd", t_fb, fb_flops}};
    for (int i = 0; i < 2; i++) {
        double gf = rows[i].flops / (rows[i].ms * 1e-3) / 1e9;
        printf("| %-14s | %3lld | %3lld | %3lld | %2lld | %-7s | %8.3f | %10.0f | %8.0f | %5.1f%% "
               "| %7.3f | %6.2f |\n",
               sh->name, (long long)B, (long long)L, (long long)D, (long long)sh->layers,
               rows[i].pass, rows[i].ms, tokens / (rows[i].ms * 1e-3), gf,
               100 * gf / cublas_gflops, rows[i].flops / (cublas_gflops * 1e9) * 1e3,
               a.capacity / 1073741824.0);
    }
    ssm_cuda_free(c.in), ssm_cuda_free(c.out), ssm_cuda_free(c.din), ssm_cuda_free(c.dout);
    ssm_cuda_free(perm_d);
    free(perm);
    ssm_arena_free_cuda(&a);
    ssm_params_cuda_free(&dev);
    mamba_stack_free(s);
    ssm_params_free(&p);
    return t_fb;
}

// --- -parts: one layer's steps, each timed alone -----------------------------------------
typedef struct {
    int64_t B, L, D, E, N, R, P, K, dc;
    real *normed, *xz, *xg, *xc, *delta, *ys, *y, *g, *mix, *res, *rstd, *dres, *dxz, *dxc,
        *ddelta, *dt, *Bm, *Cm, *ddt, *dBm, *dCm, *part, *cst, *ws;
    real *W_in, *W_out, *W_x, *W_dt, *cw, *cb, *A, *Dk, *dtb, *nw, *gW, *gw, *gb, *gA, *gD, *gdtb;
    int32_t *perm;
    scan_shape ss;
    int op;
} parts_ctx;

enum { F_INPROJ, F_TOK2CHAN, F_CONV, F_XPROJ, F_DTPROJ, F_SCAN, F_CHAN2TOK, F_GATE, F_OUTPROJ,
       F_NORM, B_OUTPROJ, B_GATE, B_ZERO, B_SCAN, B_DTPROJ, B_XPROJ, B_CONV, B_CHAN2TOK, B_INPROJ,
       B_NORM, N_OPS };
static const struct {
    const char *name;
    int per_branch, backward;
} op_info[N_OPS] = {
    {"in_proj GEMM", 0, 0},        {"tokens->channels (gather)", 1, 0}, {"conv1d+SiLU", 1, 0},
    {"x_proj (3 batched GEMMs)", 1, 0}, {"dt_proj (batched GEMM)", 1, 0}, {"scan", 1, 0},
    {"channels->tokens (scatter)", 1, 0}, {"gate", 0, 0},          {"out_proj GEMM", 0, 0},
    {"residual+RMSNorm", 0, 0},    {"out_proj dW + dX GEMMs", 0, 1},  {"gate bwd", 0, 1},
    {"zeroing (5 memsets)", 1, 1}, {"scan bwd", 1, 1},                {"dt_proj dW (+sum) + dX", 1, 1},
    {"x_proj dW (+sum) + dX (6 GEMMs)", 1, 1}, {"conv1d bwd", 1, 1},   {"channels->tokens (dx)", 1, 1},
    {"in_proj dW + dX GEMMs", 0, 1}, {"RMSNorm bwd", 0, 1},
};

static void zero_dev(real *p, size_t n) { CUDA_CHECK_ABORT(cudaMemsetAsync(p, 0, n * 4, 0)); }

static void parts_step(void *p) {
    parts_ctx *c = p;
    const int64_t B = c->B, L = c->L, D = c->D, E = c->E, N = c->N, R = c->R, P = c->P,
                  rows = B * L;
    switch (c->op) {
    case F_INPROJ: CK(linear_forward_cuda(c->xz, c->normed, c->W_in, NULL, rows, D, 2 * E)); break;
    case F_TOK2CHAN: CK(tokens_to_channels_cuda(c->xg, c->xz, c->perm, B, E, L, 2 * E, 1)); break;
    case F_CONV:
        CK(conv1d_causal_forward_cuda(c->xc, c->xg, c->cw, c->cb, B, E, L, c->dc, 1, NULL, 0));
        break;
    case F_XPROJ:
        CK(gemm_strided_batched_cuda(c->dt, c->W_x, c->xc, R, L, E, 0, 0, 1, 0, B, 0, E * L, R * L));
        CK(gemm_strided_batched_cuda(c->Bm, c->W_x + R * E, c->xc, N, L, E, 0, 0, 1, 0, B, 0,
                                     E * L, N * L));
        CK(gemm_strided_batched_cuda(c->Cm, c->W_x + (R + N) * E, c->xc, N, L, E, 0, 0, 1, 0, B,
                                     0, E * L, N * L));
        break;
    case F_DTPROJ:
        CK(gemm_strided_batched_cuda(c->delta, c->W_dt, c->dt, E, L, R, 0, 0, 1, 0, B, 0, R * L,
                                     E * L));
        break;
    case F_SCAN:
        CK(selective_scan_forward_cuda(c->ys, NULL, c->cst, c->xc, c->delta, c->A, c->Bm, c->Cm,
                                       c->Dk, NULL, c->dtb, &c->ss));
        break;
    case F_CHAN2TOK: CK(channels_to_tokens_cuda(c->y, c->ys, c->perm, B, E, L, E, 0.5f, 1)); break;
    case F_GATE: CK(gate_tokens_forward_cuda(c->g, c->y, c->xz, rows, E)); break;
    case F_OUTPROJ: CK(linear_forward_cuda(c->mix, c->g, c->W_out, NULL, rows, E, D)); break;
    case F_NORM:
        CK(rmsnorm_residual_forward_cuda(c->normed, c->res, c->rstd, c->mix, c->dres, c->nw, rows,
                                         D, 1e-5f));
        break;
    case B_OUTPROJ:
        CK(gemm_cuda(c->gW, c->mix, c->g, D, E, rows, 1, 0, 1, 1));
        CK(gemm_cuda(c->g, c->mix, c->W_out, rows, E, D, 0, 0, 1, 0));
        break;
    case B_GATE: CK(gate_tokens_backward_cuda(c->y, c->dxz, c->g, c->y, c->xz, rows, E)); break;
    case B_ZERO:
        zero_dev(c->dxc, (size_t)(B * E * L));
        zero_dev(c->ddelta, (size_t)(B * E * L));
        zero_dev(c->dBm, (size_t)(B * N * L));
        zero_dev(c->dCm, (size_t)(B * N * L));
        zero_dev(c->ys, (size_t)(B * E * L));
        break;
    case B_SCAN:
        CK(selective_scan_backward_cuda(c->dxc, c->ddelta, c->gA, c->dBm, c->dCm, c->gD, NULL,
                                        c->gdtb, c->y, c->cst, c->xc, c->delta, c->A, c->Bm,
                                        c->Cm, c->Dk, NULL, c->dtb, c->ws, &c->ss));
        break;
    case B_DTPROJ:
        CK(gemm_strided_batched_cuda(c->part, c->ddelta, c->dt, E, R, L, 0, 1, 1, 0, B, E * L,
                                     R * L, E * R));
        CK(batch_sum_add_cuda(c->gW, c->part, B, E * R));
        CK(gemm_strided_batched_cuda(c->ddt, c->W_dt, c->ddelta, R, L, E, 1, 0, 1, 0, B, 0, E * L,
                                     R * L));
        break;
    case B_XPROJ: {
        const real *blk[3] = {c->ddt, c->dBm, c->dCm};
        const int64_t r0[3] = {0, R, R + N}, nr[3] = {R, N, N};
        for (int j = 0; j < 3; j++) {
            CK(gemm_strided_batched_cuda(c->part + r0[j] * E, blk[j], c->xc, nr[j], E, L, 0, 1, 1,
                                         0, B, nr[j] * L, E * L, P * E));
            CK(gemm_strided_batched_cuda(c->dxc, c->W_x + r0[j] * E, blk[j], E, L, nr[j], 1, 0, 1,
                                         1, B, 0, nr[j] * L, E * L));
        }
        CK(batch_sum_add_cuda(c->gW, c->part, B, P * E));
        break;
    }
    case B_CONV:
        CK(conv1d_causal_backward_cuda(c->ys, c->gw, c->gb, c->dxc, c->xg, c->cw, c->cb, B, E, L,
                                       c->dc, 1, NULL, 0));
        break;
    case B_CHAN2TOK: CK(channels_to_tokens_cuda(c->dxz, c->ys, c->perm, B, E, L, 2 * E, 1, 1)); break;
    case B_INPROJ:
        CK(gemm_cuda(c->gW, c->dxz, c->normed, 2 * E, D, rows, 1, 0, 1, 1));
        CK(gemm_cuda(c->mix, c->dxz, c->W_in, rows, D, 2 * E, 0, 0, 1, 0));
        break;
    case B_NORM:
        CK(rmsnorm_backward_cuda(c->dres, c->gw, c->mix, c->res, c->nw, c->rstd, rows, D));
        break;
    }
}

static void run_parts(const shape *sh, int warm, int reps, float measured_fb_ms) {
    parts_ctx c = {.B = sh->B, .L = sh->L, .D = sh->D, .E = 2 * sh->D, .N = 16,
                   .R = (sh->D + 15) / 16, .K = sh->K, .dc = 4};
    c.P = c.R + 2 * c.N;
    const int64_t B = c.B, L = c.L, D = c.D, E = c.E, N = c.N, R = c.R, P = c.P;
    const size_t BLD = (size_t)(B * L * D), BEL = (size_t)(B * E * L);
    c.ss = (scan_shape){.B = B, .D = E, .L = L, .N = N, .G = 1, .chunk = 64, .delta_softplus = 1};
    unsigned sd = 100;
    real **big[] = {&c.xg, &c.xc, &c.ys, &c.y, &c.g, &c.dxc, &c.ddelta};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        *big[i] = dev_random(BEL, sd++);
    c.delta = dev_random(BEL, sd++); // delta + bias -> softplus: any sign is fine
    c.xz = dev_random(2 * BEL, sd++);
    c.dxz = dev_random(2 * BEL, sd++);
    real **tok[] = {&c.normed, &c.mix, &c.res, &c.dres};
    for (size_t i = 0; i < sizeof tok / sizeof *tok; i++)
        *tok[i] = dev_random(BLD, sd++);
    c.rstd = dev_random((size_t)(B * L), sd++);
    c.dt = dev_random((size_t)(B * R * L), sd++);
    c.Bm = dev_random((size_t)(B * N * L), sd++);
    c.Cm = dev_random((size_t)(B * N * L), sd++);
    c.ddt = dev_random((size_t)(B * R * L), sd++);
    c.dBm = dev_random((size_t)(B * N * L), sd++);
    c.dCm = dev_random((size_t)(B * N * L), sd++);
    c.part = dev_random((size_t)(B * (P * E + E * R)), sd++);
    c.cst = dev_random((size_t)(B * E * 4 * N), sd++);
    c.ws = dev_random(selective_scan_workspace_size_cuda(&c.ss), sd++);
    c.W_in = dev_random((size_t)(2 * E * D), sd++);
    c.W_out = dev_random((size_t)(D * E), sd++);
    c.W_x = dev_random((size_t)(P * E), sd++);
    c.W_dt = dev_random((size_t)(E * R), sd++);
    c.gW = dev_random((size_t)(2 * E * D), sd++);
    c.cw = dev_random((size_t)(E * 4), sd++);
    c.cb = dev_random((size_t)E, sd++);
    c.gw = dev_random((size_t)(E * 4), sd++);
    c.gb = dev_random((size_t)E, sd++);
    c.A = dev_random((size_t)(E * N), sd++);
    CK(neg_exp_cuda(c.A, c.A, E * N)); // A = -exp(.) < 0, as the mixer's
    c.gA = dev_random((size_t)(E * N), sd++);
    c.Dk = dev_random((size_t)E, sd++);
    c.gD = dev_random((size_t)E, sd++);
    c.dtb = dev_random((size_t)E, sd++);
    c.gdtb = dev_random((size_t)E, sd++);
    c.nw = dev_random((size_t)D, sd++);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(B * L));
    mamba_order_reverse(perm, B, L);
    CK(ssm_cuda_alloc((void **)&c.perm, sizeof(int32_t) * (size_t)(B * L), "bench"));
    CK(ssm_cuda_upload(c.perm, perm, sizeof(int32_t) * (size_t)(B * L)));
    free(perm);
    printf("\nOne layer of %s (B %lld, L %lld, D %lld, K %lld), each step alone, x%lld layers:\n\n"
           "| step | pass | per call ms | calls/layer | stack ms |\n|---|---|---|---|---|\n",
           sh->name, (long long)B, (long long)L, (long long)D, (long long)c.K,
           (long long)sh->layers);
    double total[2] = {0, 0};
    for (int op = 0; op < N_OPS; op++) {
        c.op = op;
        float ms = median_ms(parts_step, &c, warm, reps);
        int calls = op_info[op].per_branch ? (int)c.K : 1;
        // the backward also recomputes the branch inputs: gather, conv, dt_proj, and the dys
        // gather; and the gate
        if (op == F_TOK2CHAN)
            calls = 3 * (int)c.K; // forward x, backward x, backward dys
        if (op == F_CONV || op == F_DTPROJ)
            calls = 2 * (int)c.K;
        if (op == F_GATE)
            calls = 2;
        double stack = ms * calls * (double)sh->layers;
        total[op_info[op].backward] += stack;
        printf("| %s | %s | %.4f | %d | %.2f |\n", op_info[op].name,
               op_info[op].backward ? "bwd" : "fwd", ms, calls, stack);
    }
    printf("\nsum of the steps: %.1f ms (forward steps incl. the backward's recompute %.1f, "
           "backward-only steps %.1f); measured fwd+bwd %.1f ms\n",
           total[0] + total[1], total[0], total[1], measured_fb_ms);
}

int main(int argc, char **argv) {
    int reps = 20, warm = 3;
    const char *only = NULL;
    int parts = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-warm") && i + 1 < argc)
            warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "-parts"))
            parts = 1;
        else {
            fprintf(stderr, "usage: %s [-reps R] [-warm W] [-only vim|fmnist] [-parts]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 1)
        reps = 1;
    if (ssm_cuda_device_count() == 0) {
        printf("backbone_cuda: no CUDA device\n");
        return 0;
    }
    struct cudaDeviceProp prop;
    CUDA_CHECK_ABORT(cudaGetDeviceProperties(&prop, 0));
    // cuBLAS fp32 reference rate, on random operands
    gemm_ctx g = {.n = 4096};
    g.A = dev_random((size_t)(g.n * g.n), 1);
    g.B = dev_random((size_t)(g.n * g.n), 2);
    CK(ssm_cuda_alloc((void **)&g.C, sizeof(real) * (size_t)(g.n * g.n), "bench"));
    float t_gemm = median_ms(gemm_step, &g, 3, 20);
    double cublas_gflops = 2.0 * g.n * g.n * g.n / (t_gemm * 1e-3) / 1e9;
    ssm_cuda_free(g.A), ssm_cuda_free(g.B), ssm_cuda_free(g.C);
    printf("device: %s; cuBLAS fp32 GEMM 4096^3: %.3f ms = %.0f GFLOP/s; median of %d after %d "
           "warm-up\n\n",
           prop.name, t_gemm, cublas_gflops, reps, warm);
    printf("| shape | B | L | D | layers | pass | ms | tokens/s | GEMM GFLOP/s | of cuBLAS | "
           "GEMM floor ms | arena GiB |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    const shape shapes[2] = {{"Vim-Tiny", 128, 197, 192, 24, 2},
                             {"Fashion-MNIST", 64, 16, 96, 4, 2}};
    float fb_ms[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        if (only && strcmp(only, i == 0 ? "vim" : "fmnist"))
            continue;
        fb_ms[i] = run_shape(&shapes[i], warm, reps, cublas_gflops);
    }
    if (parts)
        run_parts(&shapes[0], warm, reps, fb_ms[0]);
    return 0;
}
#else
int main(void) {
    printf("backbone_cuda: built without CUDA (make CUDA=1)\n");
    return 0;
}
#endif
