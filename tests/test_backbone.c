// Check suite: the Mamba backbone's math in float. A naive double-precision
// reference of the whole stack written from the definitions; the
// bidirectional block against forward-only blocks run on the reversed
// sequence; gather/scan/scatter against permuting by hand; determinism;
// B < B_max (the mixer's per-sample and sequential paths agree).
// Construction (init, names, validation) is in test_backbone_setup.c.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backbone/mamba.h"
#include "tests/backbone_fixture.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

static double silu_d(double x) { return x / (1 + exp(-x)); }
static double softplus_d(double x) { return x > 20 ? x : log1p(exp(x)); }

static void naive_norm(double *out, const double *x, const real *w, const real *bias, int64_t rows,
                       int64_t D, int layer, double eps) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * D;
        double mean = 0, ms = 0;
        if (layer)
            for (int64_t d = 0; d < D; d++)
                mean += xr[d] / D;
        for (int64_t d = 0; d < D; d++)
            ms += (xr[d] - mean) * (xr[d] - mean) / D;
        double rstd = 1 / sqrt(ms + eps);
        for (int64_t d = 0; d < D; d++)
            out[r * D + d] = (xr[d] - mean) * rstd * w[d] + (layer ? bias[d] : 0);
    }
}

// The whole stack in double, from the definitions in mamba_ssm / Vim, reading
// the parameters by name. perm [count, B, L]; schedule [n_layers, K] or NULL.
static void naive_stack(double *out, const real *in, const net *n, const int32_t *perm,
                        const int32_t *sched, int64_t B) {
    const mamba_config *c = mamba_stack_get_config(n->s);
    const int64_t D = c->d_model, E = c->expand * D, N = c->d_state, R = c->dt_rank, L = n->L;
    const int64_t dc = c->d_conv, K = c->n_branches;
    const int ln = c->norm == MAMBA_NORM_LAYER;
    const double alpha = c->merge == MAMBA_MERGE_MEAN ? 1.0 / K : 1.0;
    double *res = malloc(sizeof(double) * B * L * D), *hn = malloc(sizeof(double) * B * L * D);
    double *x = malloc(sizeof(double) * E * L), *z = malloc(sizeof(double) * E * L);
    double *y = malloc(sizeof(double) * E * L), *u = malloc(sizeof(double) * E * L);
    double *xd = malloc(sizeof(double) * (R + 2 * N) * L), *dl = malloc(sizeof(double) * E * L);
    double *h = malloc(sizeof(double) * N);
    for (int64_t i = 0; i < B * L * D; i++)
        res[i] = in[i];
    static const char *sfx[] = {"", "_b", "_c2", "_c3", "_c4", "_c5", "_c6", "_c7"};
    for (long long li = 0; li < c->n_layers; li++) {
        naive_norm(hn, res, P(n, "layers.%lld.norm.weight%s", li, ""),
                   ln ? P(n, "layers.%lld.norm.bias%s", li, "") : NULL, B * L, D, ln, c->norm_eps);
        const real *Win = P(n, "layers.%lld.mixer.in_proj.weight%s", li, "");
        const real *Wout = P(n, "layers.%lld.mixer.out_proj.weight%s", li, "");
        for (int64_t b = 0; b < B; b++) {
            for (int64_t e = 0; e < 2 * E; e++)
                for (int64_t l = 0; l < L; l++) {
                    double acc = 0;
                    for (int64_t d = 0; d < D; d++)
                        acc += Win[e * D + d] * hn[(b * L + l) * D + d];
                    (e < E ? x : z)[(e % E) * L + l] = acc;
                }
            memset(y, 0, sizeof(double) * E * L);
            for (int64_t k = 0; k < K; k++) {
                const char *sf = sfx[k];
                const real *cw = P(n, "layers.%lld.mixer.conv1d%s.weight", li, sf);
                const real *cb = P(n, "layers.%lld.mixer.conv1d%s.bias", li, sf);
                const real *Wx = P(n, "layers.%lld.mixer.x_proj%s.weight", li, sf);
                const real *Wdt = P(n, "layers.%lld.mixer.dt_proj%s.weight", li, sf);
                const real *bdt = P(n, "layers.%lld.mixer.dt_proj%s.bias", li, sf);
                char an[64];
                snprintf(an, sizeof an, "layers.%%lld.mixer.A%s_log%%s", sf);
                const real *Alog = P(n, an, li, "");
                const real *Dk = P(n, "layers.%lld.mixer.D%s", li, sf);
                int64_t o = sched ? sched[li * K + k] : k;
                const int32_t *pr = perm + (o * B + b) * L;
                for (int64_t e = 0; e < E; e++)
                    for (int64_t l = 0; l < L; l++) {
                        double acc = cb[e];
                        for (int64_t j = 0; j < dc; j++) {
                            int64_t t = l - (dc - 1) + j;
                            if (t >= 0)
                                acc += cw[e * dc + j] * x[e * L + pr[t]];
                        }
                        u[e * L + l] = silu_d(acc);
                    }
                for (int64_t r = 0; r < R + 2 * N; r++)
                    for (int64_t l = 0; l < L; l++) {
                        double acc = 0;
                        for (int64_t e = 0; e < E; e++)
                            acc += Wx[r * E + e] * u[e * L + l];
                        xd[r * L + l] = acc;
                    }
                for (int64_t e = 0; e < E; e++)
                    for (int64_t l = 0; l < L; l++) {
                        double acc = bdt[e];
                        for (int64_t r = 0; r < R; r++)
                            acc += Wdt[e * R + r] * xd[r * L + l];
                        dl[e * L + l] = softplus_d(acc);
                    }
                for (int64_t e = 0; e < E; e++) {
                    for (int64_t s = 0; s < N; s++)
                        h[s] = 0;
                    for (int64_t l = 0; l < L; l++) {
                        double dt = dl[e * L + l], ys = Dk[e] * u[e * L + l];
                        for (int64_t s = 0; s < N; s++) {
                            double A = -exp((double)Alog[e * N + s]);
                            h[s] = exp(dt * A) * h[s] + dt * xd[(R + s) * L + l] * u[e * L + l];
                            ys += xd[(R + N + s) * L + l] * h[s];
                        }
                        y[e * L + pr[l]] += alpha * ys;
                    }
                }
            }
            for (int64_t l = 0; l < L; l++)
                for (int64_t d = 0; d < D; d++) {
                    double acc = 0;
                    for (int64_t e = 0; e < E; e++)
                        acc += Wout[d * E + e] * y[e * L + l] * silu_d(z[e * L + l]);
                    res[(b * L + l) * D + d] += acc;
                }
        }
    }
    if (c->final_norm)
        naive_norm(out, res, P(n, "norm_f.weight%.0lld%s", 0, ""),
                   ln ? P(n, "norm_f.bias%.0lld%s", 0, "") : NULL,
                   B * L, D, ln, c->norm_eps);
    else
        memcpy(out, res, sizeof(double) * B * L * D);
    free(res), free(hn), free(x), free(z), free(y), free(u), free(xd), free(dl), free(h);
}

static double rel_err_d(const real *a, const double *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return isnan(num) ? INFINITY : sqrt(num) / fmax(sqrt(den), 1e-30);
}

// Float against the double reference: ~1e-6 expected from rounding alone.
static void check_against_naive(mamba_config c, int random_orders, int use_sched) {
    const int64_t B = 2, L = 13, D = c.d_model, K = c.n_branches;
    net n;
    net_init(&n, c, B, L, 3);
    perturb(&n, 99);
    uint64_t st = 5;
    const int64_t count = use_sched ? 3 : K;
    int32_t *perm = malloc(sizeof(int32_t) * count * B * L);
    for (int64_t o = 0; o < count; o++) {
        if (!random_orders && o == 0)
            mamba_order_identity(perm, B, L);
        else if (!random_orders && o == 1)
            mamba_order_reverse(perm + B * L, B, L);
        else
            for (int64_t b = 0; b < B; b++)
                random_perm(perm + (o * B + b) * L, L, &st);
    }
    int32_t *sched = NULL;
    if (use_sched) {
        sched = malloc(sizeof(int32_t) * c.n_layers * K);
        for (int64_t i = 0; i < c.n_layers * K; i++)
            sched[i] = (int32_t)((i * 2 + i / K) % 3);
    }
    mamba_orders o = {.count = count, .perm = perm, .schedule = sched};
    ssm_error e;
    ck_assert_msg(mamba_orders_check(n.s, &o, B, &e) == SSM_OK, "%s", e.msg);
    real *in = malloc(sizeof(real) * B * L * D), *out = malloc(sizeof(real) * B * L * D);
    double *ref = malloc(sizeof(double) * B * L * D);
    tu_fill_uniform(in, B * L * D, -1, 1, &st);
    mamba_stack_forward(n.s, &n.p, out, in, &o, B);
    naive_stack(ref, in, &n, perm, sched, B);
    double err = rel_err_d(out, ref, B * L * D);
    ck_assert_msg(err < 2e-5, "stack vs naive reference: rel err %g", err);
    free(in), free(out), free(ref), free(perm), free(sched);
    net_free(&n);
}

START_TEST(naive_reference_bidirectional) { check_against_naive(cfg_small(2, 2), 0, 0); }
END_TEST

START_TEST(naive_reference_layernorm_sum_schedule) {
    mamba_config c = cfg_small(3, 3);
    c.norm = MAMBA_NORM_LAYER;
    c.merge = MAMBA_MERGE_SUM;
    c.final_norm = 0;
    check_against_naive(c, 1, 1);
}
END_TEST


// Copies tensor `from` of net a into tensor `to` of net b (same shape).
static void copy_param(net *dst, const char *to, const net *src, const char *from) {
    int64_t i = ssm_params_find(&src->p, from), j = ssm_params_find(&dst->p, to);
    ck_assert_msg(i >= 0 && j >= 0, "copy %s -> %s: missing", from, to);
    ck_assert_uint_eq(src->p.items[i].numel, dst->p.items[j].numel);
    memcpy(ssm_params_data(&dst->p, j), ssm_params_data(&src->p, i),
           src->p.items[i].numel * sizeof(real));
}

static void reverse_tokens(real *out, const real *in, int64_t B, int64_t L, int64_t D) {
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            memcpy(out + (b * L + L - 1 - l) * D, in + (b * L + l) * D, sizeof(real) * D);
}

// A {identity, reverse} block (merge = sum, no norm_f) against two forward-only
// blocks, one per branch: branch 0's parameters on the sequence, branch 1's
// ("_b") parameters on the reversed sequence, its output reversed back. The
// gate and out_proj are linear in y, so the block's mixer output is the sum of
// the two branch blocks' mixer outputs.
START_TEST(bidirectional_branch_by_branch) {
    const int64_t B = 2, L = 11, D = 16, n = B * L * D;
    mamba_config c2 = cfg_small(2, 1), c1 = cfg_small(1, 1);
    c2.merge = MAMBA_MERGE_SUM;
    c2.final_norm = c1.final_norm = 0;
    net bi, fw;
    net_init(&bi, c2, B, L, 11);
    perturb(&bi, 1);
    net_init(&fw, c1, B, L, 12);
    const char *shared[] = {"layers.0.norm.weight", "layers.0.mixer.in_proj.weight",
                            "layers.0.mixer.out_proj.weight"};
    for (int i = 0; i < 3; i++)
        copy_param(&fw, shared[i], &bi, shared[i]);
    const char *branch[][2] = {{"conv1d%s.weight", "conv1d%s.bias"},
                               {"x_proj%s.weight", "dt_proj%s.weight"},
                               {"dt_proj%s.bias", "D%s"}};
    int32_t *perm2 = malloc(sizeof(int32_t) * 2 * B * L), *perm1 = malloc(sizeof(int32_t) * B * L);
    mamba_order_identity(perm2, B, L);
    mamba_order_reverse(perm2 + B * L, B, L);
    mamba_order_identity(perm1, B, L);
    mamba_orders o2 = {.count = 2, .perm = perm2}, o1 = {.count = 1, .perm = perm1};
    real *in = malloc(sizeof(real) * n), *in_r = malloc(sizeof(real) * n);
    real *out2 = malloc(sizeof(real) * n), *out_f = malloc(sizeof(real) * n);
    real *out_r = malloc(sizeof(real) * n), *out_b = malloc(sizeof(real) * n);
    uint64_t st = 77;
    tu_fill_uniform(in, n, -1, 1, &st);
    reverse_tokens(in_r, in, B, L, D);
    mamba_stack_forward(bi.s, &bi.p, out2, in, &o2, B);
    real *branch_out[2] = {out_f, out_b};
    for (int k = 0; k < 2; k++) {
        const char *sf = k ? "_b" : "";
        char from[128], to[128], tail[64];
        for (int r = 0; r < 3; r++)
            for (int q = 0; q < 2; q++) {
                snprintf(tail, sizeof tail, branch[r][q], sf);
                snprintf(from, sizeof from, "layers.0.mixer.%s", tail);
                snprintf(tail, sizeof tail, branch[r][q], "");
                snprintf(to, sizeof to, "layers.0.mixer.%s", tail);
                copy_param(&fw, to, &bi, from);
            }
        snprintf(from, sizeof from, "layers.0.mixer.A%s_log", sf);
        copy_param(&fw, "layers.0.mixer.A_log", &bi, from);
        if (k == 0) {
            mamba_stack_forward(fw.s, &fw.p, out_f, in, &o1, B);
        } else {
            mamba_stack_forward(fw.s, &fw.p, out_r, in_r, &o1, B);
            reverse_tokens(out_b, out_r, B, L, D);
        }
    }
    // Each branch must contribute: its mixer output is far from zero.
    for (int k = 0; k < 2; k++) {
        double m = 0;
        for (int64_t i = 0; i < n; i++)
            m = fmax(m, fabs(branch_out[k][i] - in[i]));
        ck_assert_msg(m > 1e-3, "branch %d contributes nothing (%g)", k, m);
    }
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double want = (out_f[i] - in[i]) + (out_b[i] - in[i]);
        double got = out2[i] - in[i];
        num += (got - want) * (got - want);
        den += want * want;
    }
    ck_assert_msg(sqrt(num / den) < 1e-5, "bidirectional block != sum of branch blocks: %g",
                  sqrt(num / den));
    // And the reverse branch is not the forward one: dropping it changes the output.
    double diff = 0;
    for (int64_t i = 0; i < n; i++)
        diff = fmax(diff, fabs(out_b[i] - out_f[i]));
    ck_assert(diff > 1e-3);
    free(perm1), free(perm2), free(in), free(in_r), free(out2), free(out_f), free(out_r), free(out_b);
    net_free(&bi);
    net_free(&fw);
}
END_TEST

// gather -> scan -> scatter with a random per-sample permutation equals
// permuting the tokens by hand, running the identity order, and un-permuting.
START_TEST(permuted_order_equals_permuted_input) {
    const int64_t B = 3, L = 10, D = 16, n = B * L * D;
    mamba_config c = cfg_small(1, 2);
    net a;
    net_init(&a, c, B, L, 21);
    perturb(&a, 2);
    uint64_t st = 8;
    int32_t *perm = malloc(sizeof(int32_t) * B * L), *id = malloc(sizeof(int32_t) * B * L);
    for (int64_t b = 0; b < B; b++)
        random_perm(perm + b * L, L, &st);
    mamba_order_identity(id, B, L);
    mamba_orders op = {.count = 1, .perm = perm}, oi = {.count = 1, .perm = id};
    real *in = malloc(sizeof(real) * n), *in_p = malloc(sizeof(real) * n);
    real *out = malloc(sizeof(real) * n), *out_p = malloc(sizeof(real) * n);
    tu_fill_uniform(in, n, -1, 1, &st);
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            memcpy(in_p + (b * L + l) * D, in + (b * L + perm[b * L + l]) * D, sizeof(real) * D);
    mamba_stack_forward(a.s, &a.p, out, in, &op, B);
    mamba_stack_forward(a.s, &a.p, out_p, in_p, &oi, B);
    double worst = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++)
            for (int64_t d = 0; d < D; d++)
                worst = fmax(worst, fabs(out[(b * L + perm[b * L + l]) * D + d] -
                                         out_p[(b * L + l) * D + d]));
    ck_assert_msg(worst < 1e-5, "permuted order vs permuted input: max diff %g", worst);
    // The order matters at all (else the test proves nothing).
    mamba_stack_forward(a.s, &a.p, out_p, in, &oi, B);
    ck_assert(tu_max_abs_diff(out, out_p, n) > 1e-3);
    free(perm), free(id), free(in), free(in_p), free(out), free(out_p);
    net_free(&a);
}
END_TEST

// Forward + backward with dout = w; returns out, din and gradients.
static void fwd_bwd(net *n, real *out, real *din, const real *in, const real *w,
                    const mamba_orders *o, int64_t B) {
    ssm_params_zero_grad(&n->p);
    memset(din, 0, sizeof(real) * B * n->L * n->cfg.d_model);
    mamba_stack_forward(n->s, &n->p, out, in, o, B);
    mamba_stack_backward(n->s, &n->p, din, w, o, B);
}

START_TEST(deterministic_runs) {
    const int64_t B = 3, L = 40, D = 16, n = B * L * D;
    mamba_config c = cfg_small(2, 2);
    net a, b;
    net_init(&a, c, B, L, 31);
    net_init(&b, c, B, L, 31);
    ck_assert(memcmp(a.p.data, b.p.data, a.p.total * sizeof(real)) == 0); // same seed, same init
    int32_t *perm = malloc(sizeof(int32_t) * 2 * B * L);
    mamba_order_identity(perm, B, L);
    mamba_order_reverse(perm + B * L, B, L);
    mamba_orders o = {.count = 2, .perm = perm};
    real *in = malloc(sizeof(real) * n), *w = malloc(sizeof(real) * n);
    real *o1 = malloc(sizeof(real) * n), *o2 = malloc(sizeof(real) * n);
    real *d1 = malloc(sizeof(real) * n), *d2 = malloc(sizeof(real) * n);
    uint64_t st = 3;
    tu_fill_uniform(in, n, -1, 1, &st);
    tu_fill_uniform(w, n, -1, 1, &st);
    fwd_bwd(&a, o1, d1, in, w, &o, B);
    fwd_bwd(&b, o2, d2, in, w, &o, B);
    ck_assert(memcmp(o1, o2, sizeof(real) * n) == 0);
    ck_assert(memcmp(d1, d2, sizeof(real) * n) == 0);
    ck_assert(memcmp(a.p.grad, b.p.grad, sizeof(real) * a.p.total) == 0);
    // Same net again: the arena holds no state that leaks between steps.
    fwd_bwd(&a, o2, d2, in, w, &o, B);
    ck_assert(memcmp(o1, o2, sizeof(real) * n) == 0);
    ck_assert(memcmp(d1, d2, sizeof(real) * n) == 0);
    ck_assert(memcmp(a.p.grad, b.p.grad, sizeof(real) * a.p.total) == 0);
    free(perm), free(in), free(w), free(o1), free(o2), free(d1), free(d2);
    net_free(&a);
    net_free(&b);
}
END_TEST

// A batch smaller than planned works, and samples are independent: a batch
// of 2 gives what two batches of 1 give (outputs equal, gradients add).
START_TEST(smaller_batch_than_planned) {
    const int64_t Bmax = 4, B = 2, L = 9, D = 16, n = B * L * D, m = L * D;
    mamba_config c = cfg_small(2, 2);
    net a;
    net_init(&a, c, Bmax, L, 41);
    perturb(&a, 4);
    uint64_t st = 4;
    int32_t perm[2 * 2 * 9], perm1[2][2 * 9];
    for (int64_t i = 0; i < 2 * B; i++)
        random_perm(perm + i * L, L, &st);
    for (int b = 0; b < 2; b++) // the same orders, split per sample: [count=2, B=1, L]
        for (int k = 0; k < 2; k++)
            memcpy(perm1[b] + k * L, perm + (k * B + b) * L, sizeof(int32_t) * L);
    mamba_orders o = {.count = 2, .perm = perm};
    real *in = malloc(sizeof(real) * n), *w = malloc(sizeof(real) * n);
    real *out = malloc(sizeof(real) * n), *din = malloc(sizeof(real) * n);
    real *out1 = malloc(sizeof(real) * n), *din1 = malloc(sizeof(real) * n);
    real *g = malloc(sizeof(real) * a.p.total), *g1 = calloc(a.p.total, sizeof(real));
    tu_fill_uniform(in, n, -1, 1, &st);
    tu_fill_uniform(w, n, -1, 1, &st);
    fwd_bwd(&a, out, din, in, w, &o, B);
    memcpy(g, a.p.grad, sizeof(real) * a.p.total);
    for (int b = 0; b < 2; b++) {
        mamba_orders ob = {.count = 2, .perm = perm1[b]};
        fwd_bwd(&a, out1 + b * m, din1 + b * m, in + b * m, w + b * m, &ob, 1);
        for (size_t i = 0; i < a.p.total; i++)
            g1[i] += a.p.grad[i];
    }
    ck_assert_msg(tu_rel_err(out1, out, n) < 1e-6, "outputs %g", tu_rel_err(out1, out, n));
    ck_assert_msg(tu_rel_err(din1, din, n) < 1e-5, "din %g", tu_rel_err(din1, din, n));
    ck_assert_msg(tu_rel_err(g1, g, a.p.total) < 1e-5, "grads %g", tu_rel_err(g1, g, a.p.total));
    free(in), free(w), free(out), free(din), free(out1), free(din1), free(g), free(g1);
    net_free(&a);
}
END_TEST

int main(void) {
    Suite *s = suite_create("backbone");
    TCase *tc = tcase_create("backbone");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, naive_reference_bidirectional);
    tcase_add_test(tc, naive_reference_layernorm_sum_schedule);
    tcase_add_test(tc, bidirectional_branch_by_branch);
    tcase_add_test(tc, permuted_order_equals_permuted_input);
    tcase_add_test(tc, deterministic_runs);
    tcase_add_test(tc, smaller_batch_than_planned);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
