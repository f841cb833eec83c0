// Check suite (double build): every CPU kernel backward against central finite
// differences, for every input and parameter, and the accumulation contract
// (two backward calls give twice the gradient).
//
// Each check uses the scalar loss L = sum(out * R) with a fixed random R, so
// the backward is called with dout = R.
//
// Tolerance. With h = 1e-5 in double the central difference has truncation
// error h^2/6 |f'''| ~ 2e-11 for the O(1) derivatives of these smooth kernels,
// and rounding error ~ eps |L| / h ~ 2e-16 * 10 / 1e-5 ~ 2e-10 (L sums at most
// a few hundred O(1) terms). The error measure is |fd - g| / max(|fd| + |g|,
// 1e-3): for O(1) gradients a correct kernel lands near 1e-9; near-zero
// gradients (SiLU at -30, say) are measured against the 1e-3 floor, and
// the observed worst of the whole suite is 2e-7 (SSM_TEST_VERBOSE=1 prints
// each). A wrong or missing term (the -x r^3/C part of RMSNorm, the factor 2
// of MSE, an off-by-one tap, a dropped smoothing term) gives 1e-3 to 1. Hence
// FD_TOL = 1e-6; the inputs are seeded, so the margin does not drift.
// Inputs of softplus keep a distance > h from its threshold at 20, where
// PyTorch's definition has a 2e-9 step that a difference across it would see.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/conv1d.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/permute.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define FD_H 1e-5
#define FD_FLOOR 1e-3
#define FD_TOL 1e-6

static uint64_t seed = 0xD1B54A32D192ED03ull;

static real *rnd(size_t n, double lo, double hi) { return tu_new_uniform(n, lo, hi, &seed); }

// L = sum(out * R) after running the kernel's forward on the current inputs
typedef struct {
    void (*fwd)(void *args);
    void *args;
    const real *out, *R;
    size_t n_out;
} fd_ctx;

static double fd_loss(void *c) {
    fd_ctx *f = c;
    f->fwd(f->args);
    return tu_dot(f->out, f->R, f->n_out);
}

static void expect_grad(const char *what, fd_ctx *f, real *x, const real *g, size_t n) {
    size_t worst = 0;
    double err = tu_fd_check(x, g, n, fd_loss, f, FD_H, FD_FLOOR, 100000, &worst);
    if (getenv("SSM_TEST_VERBOSE"))
        printf("  %-28s worst fd error %.2e\n", what, err);
    ck_assert_msg(err < FD_TOL, "%s: fd error %.3g at element %zu (analytic %.12g)", what, err,
                  worst, (double)g[worst]);
    double mag = 0;
    for (size_t i = 0; i < n; i++)
        mag += fabs((double)g[i]);
    ck_assert_msg(mag > 0, "%s: gradient is all zero, the check would be void", what);
}

// `twice` holds two backward calls' worth, `once` one: the backward adds.
static void expect_doubled(const char *what, const real *once, const real *twice, size_t n) {
    double scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)once[i]));
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs((double)twice[i] - 2 * (double)once[i]) <= 1e-12 * scale,
                      "%s: second backward did not accumulate at %zu", what, i);
}

// Runs bwd into zeroed G twice; returns a copy of G after the first call.
static real *backward_twice(const char *what, void (*bwd)(void *args, real *G), void *args,
                            real *G, size_t ng) {
    memset(G, 0, ng * sizeof *G);
    bwd(args, G);
    real *once = malloc(ng * sizeof *G);
    memcpy(once, G, ng * sizeof *G);
    bwd(args, G);
    expect_doubled(what, once, G, ng);
    return once;
}

// ---------------------------------------------------------------- linear
typedef struct {
    real *out, *x, *w, *b, *R;
    int64_t N, IC, OC;
} lin_args;
static void lin_fwd(void *p) {
    lin_args *a = p;
    linear_forward(a->out, a->x, a->w, a->b, a->N, a->IC, a->OC);
}
static void lin_bwd(void *p, real *G) {
    lin_args *a = p;
    int64_t nx = a->N * a->IC, nw = a->OC * a->IC;
    linear_backward(G, G + nx, G + nx + nw, a->R, a->x, a->w, a->N, a->IC, a->OC);
}

START_TEST(linear_grads) {
    lin_args a = {.N = 4, .IC = 5, .OC = 3};
    size_t nx = a.N * a.IC, nw = a.OC * a.IC, no = a.N * a.OC;
    a.x = rnd(nx, -1, 1), a.w = rnd(nw, -1, 1), a.b = rnd(a.OC, -1, 1);
    a.out = tu_new_zeros(no), a.R = rnd(no, -1, 1);
    real *G = tu_new_zeros(nx + nw + a.OC);
    real *g = backward_twice("linear", lin_bwd, &a, G, nx + nw + a.OC);
    fd_ctx f = {lin_fwd, &a, a.out, a.R, no};
    expect_grad("linear dinp", &f, a.x, g, nx);
    expect_grad("linear dweight", &f, a.w, g + nx, nw);
    expect_grad("linear dbias", &f, a.b, g + nx + nw, a.OC);
    free(a.x), free(a.w), free(a.b), free(a.out), free(a.R), free(G), free(g);
}
END_TEST

// ---------------------------------------------------------------- conv1d
typedef struct {
    real *out, *x, *w, *b, *R;
    int64_t B, C, L, K;
    int silu;
} conv_args;
static void conv_fwd(void *p) {
    conv_args *a = p;
    conv1d_causal_forward(a->out, a->x, a->w, a->b, a->B, a->C, a->L, a->K, a->silu, NULL, 0);
}
static void conv_bwd(void *p, real *G) {
    conv_args *a = p;
    int64_t nx = a->B * a->C * a->L, nw = a->C * a->K;
    conv1d_causal_backward(G, G + nx, a->b ? G + nx + nw : NULL, a->R, a->x, a->w, a->b, a->B,
                           a->C, a->L, a->K, a->silu, NULL, 0);
}

static void conv_case(int64_t B, int64_t C, int64_t L, int64_t K, int silu, int with_bias) {
    conv_args a = {.B = B, .C = C, .L = L, .K = K, .silu = silu};
    size_t nx = B * C * L, nw = C * K;
    a.x = rnd(nx, -1.5, 1.5), a.w = rnd(nw, -1, 1), a.b = with_bias ? rnd(C, -1, 1) : NULL;
    a.out = tu_new_zeros(nx), a.R = rnd(nx, -1, 1);
    size_t ng = nx + nw + (with_bias ? C : 0);
    real *G = tu_new_zeros(ng);
    char what[64];
    snprintf(what, sizeof what, "conv K=%d silu=%d bias=%d", (int)K, silu, with_bias);
    real *g = backward_twice(what, conv_bwd, &a, G, ng);
    fd_ctx f = {conv_fwd, &a, a.out, a.R, nx};
    expect_grad(what, &f, a.x, g, nx);
    expect_grad(what, &f, a.w, g + nx, nw);
    if (with_bias)
        expect_grad(what, &f, a.b, g + nx + nw, C);
    free(a.x), free(a.w), free(a.b), free(a.out), free(a.R), free(G), free(g);
}

START_TEST(conv1d_grads) {
    conv_case(2, 3, 7, 4, 0, 1);
    conv_case(2, 3, 7, 4, 1, 1);
    conv_case(2, 2, 6, 4, 1, 0);  // no bias: dbias NULL
    conv_case(1, 2, 2, 4, 1, 1);   // K = 4 path, L shorter than K
    conv_case(1, 1, 300, 4, 1, 1); // K = 4 path over two tiles of 256 steps
    conv_case(1, 2, 9, 3, 1, 1);   // generic path
    conv_case(1, 2, 24, 20, 1, 1); // K wider than one tap block (16): two passes
}
END_TEST

// ---------------------------------------------------------------- norms
typedef struct {
    real *out, *mean, *rstd, *x, *w, *b, *R;
    int64_t N, C;
    int layer;
} norm_args;
static void norm_fwd(void *p) {
    norm_args *a = p;
    if (a->layer)
        layernorm_forward(a->out, a->mean, a->rstd, a->x, a->w, a->b, a->N, a->C, 1e-5);
    else
        rmsnorm_forward(a->out, a->rstd, a->x, a->w, a->N, a->C, 1e-5);
}
static void norm_bwd(void *p, real *G) {
    norm_args *a = p;
    int64_t nx = a->N * a->C;
    norm_fwd(a); // statistics at the unperturbed point
    if (a->layer)
        layernorm_backward(G, G + nx, G + nx + a->C, a->R, a->x, a->w, a->mean, a->rstd, a->N,
                           a->C);
    else
        rmsnorm_backward(G, G + nx, a->R, a->x, a->w, a->rstd, a->N, a->C);
}

static void norm_case(int layer, int64_t N, int64_t C) {
    norm_args a = {.N = N, .C = C, .layer = layer};
    size_t nx = N * C;
    a.x = rnd(nx, -2, 2), a.w = rnd(C, 0.5, 1.5), a.b = rnd(C, -1, 1);
    a.out = tu_new_zeros(nx), a.mean = tu_new_zeros(N), a.rstd = tu_new_zeros(N),
    a.R = rnd(nx, -1, 1);
    size_t ng = nx + 2 * C;
    real *G = tu_new_zeros(ng);
    const char *what = layer ? "layernorm" : "rmsnorm";
    real *g = backward_twice(what, norm_bwd, &a, G, ng);
    fd_ctx f = {norm_fwd, &a, a.out, a.R, nx};
    expect_grad(what, &f, a.x, g, nx);
    expect_grad(what, &f, a.w, g + nx, C);
    if (layer)
        expect_grad(what, &f, a.b, g + nx + C, C);
    free(a.x), free(a.w), free(a.b), free(a.out), free(a.mean), free(a.rstd), free(a.R);
    free(G), free(g);
}

START_TEST(norm_grads) {
    norm_case(0, 3, 7);
    norm_case(0, 3, 70); // two column blocks of dweight
    norm_case(1, 3, 7);
    norm_case(1, 3, 70);
}
END_TEST

// ---------------------------------------------------------------- elementwise
typedef struct {
    real *out, *x, *z, *R;
    int64_t n;
    int op; // 0 silu, 1 softplus, 2 gate (y = x)
} ew_args;
static void ew_fwd(void *p) {
    ew_args *a = p;
    if (a->op == 0)
        silu_forward(a->out, a->x, a->n);
    else if (a->op == 1)
        softplus_forward(a->out, a->x, a->n);
    else
        gate_forward(a->out, a->x, a->z, a->n);
}
static void ew_bwd(void *p, real *G) {
    ew_args *a = p;
    if (a->op == 0)
        silu_backward(G, a->R, a->x, a->n);
    else if (a->op == 1)
        softplus_backward(G, a->R, a->x, a->n);
    else
        gate_backward(G, G + a->n, a->R, a->x, a->z, a->n);
}

START_TEST(elementwise_grads) {
    const char *names[] = {"silu", "softplus", "gate"};
    // values near and above softplus's threshold, and far tails, at distance > h from 20
    const real special[] = {-30, -5, 0.25, 19.5, 19.99, 20.01, 20.5, 25, 40};
    const int64_t n = 24, ns = sizeof special / sizeof special[0];
    for (int op = 0; op < 3; op++) {
        ew_args a = {.n = n, .op = op};
        a.x = rnd(n, -6, 6), a.z = rnd(n, -6, 6), a.out = tu_new_zeros(n), a.R = rnd(n, -1, 1);
        memcpy(a.x, special, sizeof special);
        memcpy(a.z + n - ns, special, sizeof special);
        real *G = tu_new_zeros(2 * n);
        real *g = backward_twice(names[op], ew_bwd, &a, G, op == 2 ? 2 * n : n);
        fd_ctx f = {ew_fwd, &a, a.out, a.R, n};
        expect_grad(names[op], &f, a.x, g, n);
        if (op == 2)
            expect_grad("gate dz", &f, a.z, g + n, n);
        free(a.x), free(a.z), free(a.out), free(a.R), free(G), free(g);
    }
}
END_TEST

// ---------------------------------------------------------------- permute
typedef struct {
    real *out, *x, *base, *R;
    int32_t *perm;
    int64_t B, C, L;
    int scatter, accumulate;
} perm_args;
static void perm_fwd(void *p) {
    perm_args *a = p;
    if (!a->scatter) {
        gather_tokens_forward(a->out, a->x, a->perm, a->B, a->C, a->L);
        return;
    }
    if (a->accumulate)
        memcpy(a->out, a->base, a->B * a->C * a->L * sizeof *a->out);
    scatter_tokens_forward(a->out, a->x, a->perm, a->B, a->C, a->L, 0.7, a->accumulate);
}
static void perm_bwd(void *p, real *G) {
    perm_args *a = p;
    if (a->scatter)
        scatter_tokens_backward(G, a->R, a->perm, a->B, a->C, a->L, 0.7);
    else
        gather_tokens_backward(G, a->R, a->perm, a->B, a->C, a->L);
}

START_TEST(permute_grads) {
    const int64_t B = 2, C = 3, L = 6;
    const size_t n = B * C * L;
    int32_t perm[2 * 6];
    for (int64_t b = 0; b < B; b++) // a shuffle per sample
        for (int64_t l = 0; l < L; l++)
            perm[b * L + l] = (int32_t)l;
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = L - 1; l > 0; l--) {
            int64_t j = (int64_t)(tu_uniform(&seed) * (double)(l + 1));
            int32_t t = perm[b * L + l];
            perm[b * L + l] = perm[b * L + j], perm[b * L + j] = t;
        }
    const char *names[] = {"gather", "scatter", "scatter accumulate"};
    for (int mode = 0; mode < 3; mode++) {
        perm_args a = {.B = B, .C = C, .L = L, .perm = perm, .scatter = mode > 0,
                       .accumulate = mode == 2};
        a.x = rnd(n, -1, 1), a.base = rnd(n, -1, 1), a.out = tu_new_zeros(n), a.R = rnd(n, -1, 1);
        real *G = tu_new_zeros(n);
        real *g = backward_twice(names[mode], perm_bwd, &a, G, n);
        fd_ctx f = {perm_fwd, &a, a.out, a.R, n};
        expect_grad(names[mode], &f, a.x, g, n);
        free(a.x), free(a.base), free(a.out), free(a.R), free(G), free(g);
    }
}
END_TEST

// ---------------------------------------------------------------- losses
typedef struct {
    real *losses, *probs, *logits, *R, *pred, *target;
    int32_t *targets;
    int64_t N, V;
    real smoothing;
} loss_args;
static void ce_fwd(void *p) {
    loss_args *a = p;
    cross_entropy_forward(a->losses, a->probs, a->logits, a->targets, a->N, a->V, a->smoothing);
}
static void ce_bwd(void *p, real *G) {
    loss_args *a = p;
    ce_fwd(a); // probs at the unperturbed point
    cross_entropy_backward(G, a->R, a->probs, a->targets, a->N, a->V, a->smoothing);
}
static void mse_fwd(void *p) {
    loss_args *a = p;
    mse_forward(a->losses, a->pred, a->target, a->N);
}
static void mse_bwd(void *p, real *G) {
    loss_args *a = p;
    mse_backward(G, a->R, a->pred, a->target, a->N);
}

START_TEST(loss_grads) {
    const int64_t N = 4, V = 5;
    int32_t targets[4] = {0, 4, 2, 2};
    for (int k = 0; k < 2; k++) {
        loss_args a = {.N = N, .V = V, .targets = targets, .smoothing = k ? 0.1 : 0};
        a.logits = rnd(N * V, -3, 3), a.probs = tu_new_zeros(N * V), a.losses = tu_new_zeros(N);
        a.R = rnd(N, 0.2, 1.5);
        real *G = tu_new_zeros(N * V);
        const char *what = k ? "cross-entropy eps=0.1" : "cross-entropy eps=0";
        real *g = backward_twice(what, ce_bwd, &a, G, N * V);
        fd_ctx f = {ce_fwd, &a, a.losses, a.R, N};
        expect_grad(what, &f, a.logits, g, N * V);
        free(a.logits), free(a.probs), free(a.losses), free(a.R), free(G), free(g);
    }
    loss_args m = {.N = 11};
    m.pred = rnd(11, -2, 2), m.target = rnd(11, -2, 2), m.losses = tu_new_zeros(11),
    m.R = rnd(11, -1, 1);
    real *G = tu_new_zeros(11);
    real *g = backward_twice("mse", mse_bwd, &m, G, 11);
    fd_ctx f = {mse_fwd, &m, m.losses, m.R, 11};
    expect_grad("mse", &f, m.pred, g, 11);
    free(m.pred), free(m.target), free(m.losses), free(m.R), free(G), free(g);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernel gradients (double)");
    TCase *tc = tcase_create("grad");
    tcase_add_test(tc, linear_grads);
    tcase_add_test(tc, conv1d_grads);
    tcase_add_test(tc, norm_grads);
    tcase_add_test(tc, elementwise_grads);
    tcase_add_test(tc, permute_grads);
    tcase_add_test(tc, loss_grads);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
