// Check suite: every CPU kernel variant this machine supports against the
// generic one on the same inputs (kernels/cpu_kernels.def lists them), through
// the public names (so the dispatch is tested too), and the dispatch itself:
// a variant the CPU lacks is refused with the missing features named.
//
// Bars, relative to the largest magnitude of the generic result:
//   2e-6  elementwise kernels, conv1d, norms: FMA contraction (avx2/avx512) vs
//         a separate multiply and add (generic), and vector vs scalar order in
//         the norms' row sums: a few float roundings (measured 2.7e-7).
//   0     permutes and transposes: moves only, bit-identical.
//   1e-5  scan outputs and gradients: the same, plus exp(dt*A) through
//         different polynomials (generic: exp(x ln2); vector: 2^x directly,
//         both within 2 ulps) and, for dA/dB/dC/dD, sums over a different
//         number of lanes (8 or 16) and blocks, carried through L steps of the
//         recurrence (measured 1.1e-6 at these shapes).
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/conv1d.h"
#include "kernels/cpu_dispatch.h"
#include "kernels/norm.h"
#include "kernels/permute.h"
#include "kernels/scan.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define BAR_ELEM 2e-6
#define BAR_SCAN 1e-5
#define MAX_OUT 24 // output arrays one case compares

// One case: fills inputs from a seed, runs the kernel(s) under the selected
// variant and writes up to MAX_OUT named outputs (run twice: generic, then v).
typedef struct {
    int n_out;
    const char *name[MAX_OUT];
    real *out[MAX_OUT];
    size_t len[MAX_OUT];
} outputs;

static real *take(outputs *o, const char *name, size_t n) {
    real *x = calloc(n ? n : 1, sizeof(real));
    ck_assert_ptr_nonnull(x);
    o->name[o->n_out] = name;
    o->len[o->n_out] = n;
    o->out[o->n_out++] = x;
    return x;
}

static void free_outputs(outputs *o) {
    for (int i = 0; i < o->n_out; i++)
        free(o->out[i]);
    memset(o, 0, sizeof *o);
}

static real *input(size_t n, double lo, double hi, uint64_t seed) {
    real *x = malloc(sizeof(real) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    uint64_t st = seed;
    tu_fill_uniform(x, n, lo, hi, &st);
    return x;
}

// max |a - b| / max(max |b|, 1e-30) over one array
static double rel_max(const real *a, const real *b, size_t n) {
    double d = 0, m = 1e-30;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)a[i] - (double)b[i]);
        d = e > d || isnan(e) ? e : d;
        m = fabs((double)b[i]) > m ? fabs((double)b[i]) : m;
    }
    return d / m;
}

typedef void (*case_fn)(outputs *o, int variant_case);

// Runs fn under generic and under every other supported variant; compares.
static void compare_variants(const char *what, case_fn fn, int which, double bar) {
    ssm_error err = {0};
    ck_assert_int_eq(ssm_cpu_select(SSM_CPU_GENERIC, &err), SSM_OK);
    outputs ref = {0};
    fn(&ref, which);
    int compared = 0;
    for (int v = SSM_CPU_GENERIC + 1; v < SSM_CPU_N_VARIANTS; v++) {
        if (!ssm_cpu_supported((ssm_cpu_variant)v))
            continue;
        ck_assert_int_eq(ssm_cpu_select((ssm_cpu_variant)v, &err), SSM_OK);
        outputs got = {0};
        fn(&got, which);
        ck_assert_int_eq(got.n_out, ref.n_out);
        for (int i = 0; i < ref.n_out; i++) {
            const double e = rel_max(got.out[i], ref.out[i], ref.len[i]);
            ck_assert_msg(e <= bar, "%s case %d, %s vs generic: %s differs by %.3g (bar %.3g)",
                          what, which, ssm_cpu_variant_name((ssm_cpu_variant)v), ref.name[i], e,
                          bar);
        }
        free_outputs(&got);
        compared++;
    }
    free_outputs(&ref);
    ck_assert_int_eq(ssm_cpu_select(ssm_cpu_best(), &err), SSM_OK);
    if (!compared)
        fprintf(stderr, "test_cpu_variants: %s: this CPU runs only the generic variant\n", what);
}

// ---------------------------------------------------------------- elementwise

static void elementwise_case(outputs *o, int which) {
    const int64_t n = which ? 100003 : 37; // above and below the threading threshold
    real *x = input((size_t)n, -30, 30, 11), *y = input((size_t)n, -3, 3, 12);
    real *d = input((size_t)n, -1, 1, 13);
    silu_forward(take(o, "silu", (size_t)n), x, n);
    silu_backward(take(o, "dsilu", (size_t)n), d, x, n);
    softplus_forward(take(o, "softplus", (size_t)n), x, n);
    softplus_backward(take(o, "dsoftplus", (size_t)n), d, x, n);
    gate_forward(take(o, "gate", (size_t)n), y, x, n);
    real *dy = take(o, "dgate_y", (size_t)n), *dz = take(o, "dgate_z", (size_t)n);
    gate_backward(dy, dz, d, y, x, n);
    add_forward(take(o, "add", (size_t)n), x, y, n);
    real *s = take(o, "scale", (size_t)n);
    memcpy(s, x, sizeof(real) * (size_t)n);
    scale_inplace(s, (real)0.37, n);
    free(x), free(y), free(d);
}

START_TEST(elementwise_variants) {
    compare_variants("activations", elementwise_case, _i, BAR_ELEM);
}
END_TEST

// ---------------------------------------------------------------- conv1d, norms

static void conv_norm_case(outputs *o, int which) {
    const int64_t B = 3, C = which ? 37 : 64, L = which ? 19 : 50, K = 4, silu = which;
    const size_t n = (size_t)(B * C * L);
    real *x = input(n, -1, 1, 21), *w = input((size_t)(C * K), -0.5, 0.5, 22);
    real *bias = input((size_t)C, -0.2, 0.2, 23), *dout = input(n, -1, 1, 24);
    conv1d_causal_forward(take(o, "conv", n), x, w, bias, B, C, L, K, silu, NULL, 0);
    real *dx = take(o, "conv dx", n), *dw = take(o, "conv dw", (size_t)(C * K));
    conv1d_causal_backward(dx, dw, take(o, "conv dbias", (size_t)C), dout, x, w, bias, B, C, L, K,
                           silu, NULL, 0);
    // norms over rows of C: N = B * L rows
    const int64_t N = B * L;
    real *g = input((size_t)C, 0.5, 1.5, 25), *beta = input((size_t)C, -0.1, 0.1, 26);
    real *rstd = take(o, "rms rstd", (size_t)N);
    rmsnorm_forward(take(o, "rmsnorm", n), rstd, x, g, N, C, (real)1e-5);
    real *rdw = take(o, "rms dweight", (size_t)C);
    rmsnorm_backward(take(o, "rms dinp", n), rdw, dout, x, g, rstd, N, C);
    real *mean = take(o, "ln mean", (size_t)N), *lrstd = take(o, "ln rstd", (size_t)N);
    layernorm_forward(take(o, "layernorm", n), mean, lrstd, x, g, beta, N, C, (real)1e-5);
    real *ldw = take(o, "ln dweight", (size_t)C), *ldb = take(o, "ln dbias", (size_t)C);
    layernorm_backward(take(o, "ln dinp", n), ldw, ldb, dout, x, g, mean, lrstd, N, C);
    free(x), free(w), free(bias), free(dout), free(g), free(beta);
}

START_TEST(conv_norm_variants) {
    compare_variants("conv1d and norms", conv_norm_case, _i, BAR_ELEM);
}
END_TEST

// ---------------------------------------------------------------- permutes

static void permute_case(outputs *o, int which) {
    const int64_t B = 2, C = which ? 24 : 13, L = which ? 40 : 17;
    const size_t n = (size_t)(B * C * L);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)(B * L));
    uint64_t st = 31;
    for (int64_t b = 0; b < B; b++) { // reversed for b = 0 (Vim's second direction), shuffled else
        for (int64_t l = 0; l < L; l++)
            perm[b * L + l] = (int32_t)(b == 0 ? L - 1 - l : l);
        for (int64_t l = L - 1; b > 0 && l > 0; l--) {
            const int64_t j = (int64_t)(tu_uniform(&st) * (double)(l + 1)) % (l + 1);
            const int32_t t = perm[b * L + l];
            perm[b * L + l] = perm[b * L + j], perm[b * L + j] = t;
        }
    }
    real *x = input(n, -1, 1, 32), *d = input(n, -1, 1, 33);
    gather_tokens_forward(take(o, "gather", n), x, perm, B, C, L);
    gather_tokens_backward(take(o, "gather dinp", n), d, perm, B, C, L);
    scatter_tokens_forward(take(o, "scatter", n), x, perm, B, C, L, (real)0.5, 0);
    scatter_tokens_backward(take(o, "scatter dinp", n), d, perm, B, C, L, (real)0.5);
    transpose_forward(take(o, "transpose", n), x, B, C, L);
    free(perm), free(x), free(d);
}

START_TEST(permute_variants) {
    compare_variants("permutes", permute_case, _i, 0);
}
END_TEST

// ---------------------------------------------------------------- selective scan

typedef struct {
    int64_t B, D, L, N, G, chunk;
    int softplus, with_z, with_D;
} scan_case_spec;

static const scan_case_spec scan_cases[] = {
    {2, 48, 197, 16, 1, 64, 1, 1, 1}, // Vim-like: whole lane blocks, L not a chunk multiple
    {1, 37, 50, 5, 1, 16, 1, 0, 1},   // tails: D and N not lane / register-group multiples
    {3, 40, 33, 8, 2, 8, 0, 1, 0},    // two groups, no softplus, no D, B > 1 (K > 1 blocks)
    {1, 8, 7, 3, 1, 64, 1, 1, 1},     // shorter than one tile
};

static void scan_case(outputs *o, int which) {
    const scan_case_spec *c = &scan_cases[which];
    const scan_shape s = {c->B, c->D, c->L, c->N, c->G, c->chunk, c->softplus, NULL, 0};
    const size_t BDL = (size_t)(c->B * c->D * c->L), BGNL = (size_t)(c->B * c->G * c->N * c->L);
    const size_t DN = (size_t)(c->D * c->N), D = (size_t)c->D;
    real *u = input(BDL, -1, 1, 41), *A = input(DN, -2, -0.2, 43);
    real *delta = c->softplus ? input(BDL, -1.5, 1, 42) : input(BDL, 0.05, 0.8, 42);
    real *Bm = input(BGNL, -1, 1, 44), *Cm = input(BGNL, -1, 1, 45);
    real *Dk = c->with_D ? input(D, -1, 1, 46) : NULL, *z = c->with_z ? input(BDL, -2, 2, 47) : NULL;
    real *bias = input(D, -0.5, 0.5, 48), *dout = input(BDL, -1, 1, 49);
    real *cs = take(o, "chunk_states", selective_scan_chunk_states_size(&s));
    real *last = take(o, "last_state", (size_t)(c->B) * DN);
    selective_scan_forward(take(o, "out", BDL), last, cs, u, delta, A, Bm, Cm, Dk, z, bias, &s);
    real *ws = calloc(selective_scan_workspace_size(&s, omp_get_max_threads()), sizeof(real));
    real *du = take(o, "du", BDL), *dd = take(o, "ddelta", BDL), *dA = take(o, "dA", DN);
    real *dB = take(o, "dB", BGNL), *dC = take(o, "dC", BGNL);
    real *dD = c->with_D ? take(o, "dD", D) : NULL, *dz = z ? take(o, "dz", BDL) : NULL;
    real *dbias = take(o, "ddelta_bias", D);
    selective_scan_backward(du, dd, dA, dB, dC, dD, dz, dbias, dout, cs, u, delta, A, Bm, Cm, Dk, z,
                            bias, ws, &s);
    free(ws), free(u), free(delta), free(A), free(Bm), free(Cm), free(Dk), free(z), free(bias);
    free(dout);
}

START_TEST(scan_variants) {
    compare_variants("selective scan", scan_case, _i, BAR_SCAN);
}
END_TEST

// ---------------------------------------------------------------- dispatch

START_TEST(dispatch_refuses_missing_features) {
    ssm_error err = {0};
    ck_assert(ssm_cpu_supported(SSM_CPU_GENERIC));
    ck_assert_int_eq(ssm_cpu_select(ssm_cpu_best(), &err), SSM_OK);
    ck_assert_int_eq(ssm_cpu_active(), ssm_cpu_best());
    // a CPU without AVX-512: avx512 is refused with its features named, and the best is avx2
    ssm_cpu_set_feature_mask(1u << SSM_CPU_GENERIC | 1u << SSM_CPU_AVX2);
    ck_assert(!ssm_cpu_supported(SSM_CPU_AVX512));
    ck_assert_int_eq(ssm_cpu_select(SSM_CPU_AVX512, &err), SSM_EINVAL);
    if (ssm_cpu_compiled(SSM_CPU_AVX512))
        ck_assert_msg(strstr(err.msg, "avx512f") != NULL, "message: %s", err.msg);
    ck_assert_int_ne(ssm_cpu_active(), SSM_CPU_AVX512);
    // a CPU with nothing past the baseline: only generic runs
    ssm_cpu_set_feature_mask(1u << SSM_CPU_GENERIC);
    ck_assert_int_eq(ssm_cpu_best(), SSM_CPU_GENERIC);
    ck_assert_int_eq(ssm_cpu_active(), SSM_CPU_GENERIC);
    ck_assert_int_eq(ssm_cpu_select(SSM_CPU_AVX2, &err), SSM_EINVAL);
    if (ssm_cpu_compiled(SSM_CPU_AVX2))
        ck_assert_msg(strstr(err.msg, "avx2") != NULL && strstr(err.msg, "fma") != NULL,
                      "message: %s", err.msg);
    ssm_cpu_set_feature_mask(~0u);
    ck_assert_int_eq(ssm_cpu_active(), ssm_cpu_best());
    // names
    ssm_cpu_variant v;
    ck_assert_int_eq(ssm_cpu_variant_parse("avx2", &v, &err), SSM_OK);
    ck_assert_int_eq(v, SSM_CPU_AVX2);
    ck_assert_int_eq(ssm_cpu_variant_parse("auto", &v, &err), SSM_OK);
    ck_assert_int_eq(v, ssm_cpu_best());
    ck_assert_int_eq(ssm_cpu_variant_parse("sse9", &v, &err), SSM_EINVAL);
    ck_assert_msg(strstr(err.msg, "generic, avx2, avx512") != NULL, "message: %s", err.msg);
}
END_TEST

// The workspace size a caller plans must serve every variant the CPU runs.
START_TEST(scan_workspace_serves_every_variant) {
    const scan_shape s = {3, 40, 33, 8, 2, 8, 1, NULL, 0};
    const size_t planned = selective_scan_workspace_size(&s, 2);
    ssm_error err = {0};
    for (int v = 0; v < SSM_CPU_N_VARIANTS; v++)
        if (ssm_cpu_supported((ssm_cpu_variant)v)) {
            ck_assert_int_eq(ssm_cpu_select((ssm_cpu_variant)v, &err), SSM_OK);
            ck_assert_uint_ge(planned, selective_scan_variant_workspace_size(&s, 2));
        }
    ck_assert_int_eq(ssm_cpu_select(ssm_cpu_best(), &err), SSM_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("cpu_variants");
    TCase *tc = tcase_create("variants");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, elementwise_variants, 0, 2);
    tcase_add_loop_test(tc, conv_norm_variants, 0, 2);
    tcase_add_loop_test(tc, permute_variants, 0, 2);
    tcase_add_loop_test(tc, scan_variants, 0, (int)(sizeof scan_cases / sizeof scan_cases[0]));
    tcase_add_test(tc, dispatch_refuses_missing_features);
    tcase_add_test(tc, scan_workspace_serves_every_variant);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
