// Check suite: packed rows (core/packing.h) in the CUDA conv1d and selective scan
// (kernels/cuda/conv1d.h, kernels/cuda/scan.h with seg_offsets on the device). A row of
// sequences packed back to back must give, for every sequence, what that sequence gives run
// alone as its own row through the same kernels without offsets: outputs and the per-step
// gradients (du, ddelta, dz, dB, dC, dx) position by position, the summed ones (dA, dD,
// ddelta_bias, dw, dbias) as the sum over the sequences run alone. So a state, a conv tap or
// a gradient that crossed a boundary would show at once (the inputs are random: a leak is an
// O(1) error on the short sequences).
// Bars, norm-wise relative ||packed - alone|| / ||alone||: 1e-5 for fp32 outputs and
// per-step gradients. The packed run is not bit-identical to the alone one: a sequence
// starts at another step of a tile, so the lanes' products and the tile carries associate in
// another order (fp32 rounding, a few ulps a step; each case prints its errors). 5e-5 for
// the sums over steps (dA, dD, ddelta_bias, dw, dbias), which add the same
// terms in another order (as tests/test_cuda_backbone.c). bf16: 1e-2 (one bf16 rounding
// that flips by an ulp is 2^-8 relative). Lengths 1 and 2 (shorter than the conv window),
// starts on and off the 16-step lane segments and the checkpoint chunks, B = 2 rows with
// the same offsets, and the lane counts the host picks. A packed call with one sequence
// equals the dense call (no offsets) to 1e-6 (the same arithmetic; printed whether the
// bits are identical). Built without CUDA=1, sanitized, double, or with no GPU: skips.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "kernels/cuda/common.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/scan.h"
#include "tests/util/cuda_compare.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#define TOL_SUM 5e-5

static int64_t *offsets_of(const int64_t *lens, int64_t n) {
    int64_t *o = malloc(sizeof(int64_t) * (size_t)(n + 1));
    o[0] = 0;
    for (int64_t i = 0; i < n; i++)
        o[i + 1] = o[i] + lens[i];
    return o;
}

static double rel(const char *what, const real *a, const real *ref, size_t n, double tol) {
    double e = tu_rel_err(a, ref, n);
    for (size_t i = 0; i < n; i++)
        if (isnan(a[i]))
            e = INFINITY;
    fprintf(stderr, "    %-14s rel err %.2g\n", what, e);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    return e;
}

// rows of `rows` x [L] -> the same rows cut to [t0, t0 + n)
static real *cut(const real *x, int64_t rows, int64_t L, int64_t t0, int64_t n) {
    real *y = malloc(sizeof(real) * (size_t)(rows * n));
    for (int64_t r = 0; r < rows; r++)
        memcpy(y + r * n, x + r * L + t0, sizeof(real) * (size_t)n);
    return y;
}
static void paste(real *x, const real *y, int64_t rows, int64_t L, int64_t t0, int64_t n) {
    for (int64_t r = 0; r < rows; r++)
        memcpy(x + r * L + t0, y + r * n, sizeof(real) * (size_t)n);
}
static void add_to(double *acc, const real *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        acc[i] += x[i];
}
static real *from_double(const double *x, size_t n) {
    real *y = malloc(sizeof(real) * n);
    for (size_t i = 0; i < n; i++)
        y[i] = (real)x[i];
    return y;
}

// --- selective scan -----------------------------------------------------------------------
typedef struct {
    int64_t B, D, L, N, G;
    real *u, *delta, *A, *Bm, *Cm, *Dk, *z, *bias, *dout; // host; Dk, z, bias optional
} scan_in;

typedef struct {
    real *out, *du, *ddelta, *dz, *dA, *dB, *dC, *dD, *ddb; // host
} scan_res;

static void *dup(const real *h, size_t n, int bf16) { return h ? dev(h, n, bf16) : NULL; }
static void *zeros(size_t n, int bf16) {
    void *d;
    OK(ssm_cuda_alloc(&d, (bf16 ? 2 : 4) * (n ? n : 1), "test"));
    CUDA_CHECK_ABORT(cudaMemset(d, 0, (bf16 ? 2 : 4) * n));
    return d;
}

// Forward (out poisoned first) and backward from zeroed gradients; seg: host offsets or NULL.
static scan_res scan_run(const scan_in *in, int64_t chunk, const int64_t *seg, int64_t n_segs,
                         int bf16) {
    int64_t *seg_d = NULL;
    if (seg) {
        OK(ssm_cuda_alloc((void **)&seg_d, sizeof(int64_t) * (size_t)(n_segs + 1), "test"));
        OK(ssm_cuda_upload(seg_d, seg, sizeof(int64_t) * (size_t)(n_segs + 1)));
    }
    scan_shape s = {.B = in->B, .D = in->D, .L = in->L, .N = in->N, .G = in->G, .chunk = chunk,
                    .delta_softplus = 1, .seg_offsets = seg_d, .n_segs = seg ? n_segs : 0};
    const size_t BDL = (size_t)(in->B * in->D * in->L), BGNL = (size_t)(in->B * in->G * in->N * in->L);
    const size_t DN = (size_t)(in->D * in->N), D = (size_t)in->D;
    void *u = dup(in->u, BDL, bf16), *delta = dup(in->delta, BDL, bf16);
    void *Bm = dup(in->Bm, BGNL, bf16), *Cm = dup(in->Cm, BGNL, bf16);
    void *z = dup(in->z, BDL, bf16), *dout = dup(in->dout, BDL, bf16);
    real *A = dup(in->A, DN, 0), *Dk = dup(in->Dk, D, 0), *bias = dup(in->bias, D, 0);
    void *out = poisoned(BDL, bf16);
    real *cs = poisoned(selective_scan_chunk_states_size(&s), 0);
    if (bf16)
        OK(selective_scan_forward_bf16(out, NULL, cs, u, delta, A, Bm, Cm, Dk, z, bias, &s));
    else
        OK(selective_scan_forward_cuda(out, NULL, cs, u, delta, A, Bm, Cm, Dk, z, bias, &s));
    void *g_du = zeros(BDL, bf16), *g_ddelta = zeros(BDL, bf16), *g_dz = zeros(BDL, bf16);
    real *g_dA = zeros(DN, 0), *g_dB = zeros(BGNL, 0), *g_dC = zeros(BGNL, 0);
    real *g_dD = zeros(D, 0), *g_db = zeros(D, 0);
    real *ws = poisoned(selective_scan_workspace_size_cuda(&s), 0);
    if (bf16)
        OK(selective_scan_backward_bf16(g_du, g_ddelta, g_dA, g_dB, g_dC, Dk ? g_dD : NULL,
                                        z ? g_dz : NULL, bias ? g_db : NULL, dout, cs, u, delta,
                                        A, Bm, Cm, Dk, z, bias, ws, &s));
    else
        OK(selective_scan_backward_cuda(g_du, g_ddelta, g_dA, g_dB, g_dC, Dk ? g_dD : NULL,
                                        z ? g_dz : NULL, bias ? g_db : NULL, dout, cs, u, delta,
                                        A, Bm, Cm, Dk, z, bias, ws, &s));
    scan_res r = {host(out, BDL, bf16), host(g_du, BDL, bf16), host(g_ddelta, BDL, bf16),
                  host(g_dz, BDL, bf16), host(g_dA, DN, 0), host(g_dB, BGNL, 0),
                  host(g_dC, BGNL, 0), host(g_dD, D, 0), host(g_db, D, 0)};
    void *ds[] = {seg_d, u, delta, Bm, Cm, z, dout, A, Dk, bias, out, cs, g_du, g_ddelta, g_dz,
                  g_dA, g_dB, g_dC, g_dD, g_db, ws};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        if (ds[i])
            ssm_cuda_free(ds[i]);
    return r;
}

static void scan_res_free(scan_res *r) {
    real *hs[] = {r->out, r->du, r->ddelta, r->dz, r->dA, r->dB, r->dC, r->dD, r->ddb};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}

// One packed scan against its sequences run alone. with_z: the gate (and dz) on.
static void scan_packed_case(int64_t B, int64_t D, int64_t N, int64_t G, int64_t chunk,
                             const int64_t *lens, int64_t n, int with_z, int bf16, uint64_t seed) {
    int64_t *off = offsets_of(lens, n);
    const int64_t L = off[n];
    uint64_t st = seed;
    const size_t BDL = (size_t)(B * D * L), BGNL = (size_t)(B * G * N * L);
    scan_in in = {B,
                  D,
                  L,
                  N,
                  G,
                  tu_new_uniform(BDL, -1, 1, &st),
                  tu_new_uniform(BDL, -1.5, 1.0, &st),
                  tu_new_uniform((size_t)(D * N), -2.0, -0.2, &st),
                  tu_new_uniform(BGNL, -1, 1, &st),
                  tu_new_uniform(BGNL, -1, 1, &st),
                  tu_new_uniform((size_t)D, -1, 1, &st),
                  with_z ? tu_new_uniform(BDL, -2, 2, &st) : NULL,
                  tu_new_uniform((size_t)D, -0.5, 0.5, &st),
                  tu_new_uniform(BDL, -1, 1, &st)};
    if (bf16) { // both runs read the same bf16 values; keep the host copies equal to them
        round_bf16(in.u, BDL), round_bf16(in.delta, BDL), round_bf16(in.Bm, BGNL);
        round_bf16(in.Cm, BGNL), round_bf16(in.dout, BDL);
        if (in.z)
            round_bf16(in.z, BDL);
    }
    fprintf(stderr, "scan %s packed B=%lld D=%lld N=%lld G=%lld chunk=%lld, %lld sequences in "
                    "L=%lld:\n",
            bf16 ? "bf16" : "fp32", (long long)B, (long long)D, (long long)N, (long long)G,
            (long long)chunk, (long long)n, (long long)L);
    scan_res p = scan_run(&in, chunk, off, n, bf16);
    // each sequence alone, pasted back / summed
    real *out = malloc(sizeof(real) * BDL), *du = malloc(sizeof(real) * BDL);
    real *ddelta = malloc(sizeof(real) * BDL), *dz = malloc(sizeof(real) * BDL);
    real *dB = malloc(sizeof(real) * BGNL), *dC = malloc(sizeof(real) * BGNL);
    double *dA = calloc((size_t)(D * N), sizeof(double)), *dD = calloc((size_t)D, sizeof(double));
    double *ddb = calloc((size_t)D, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        const int64_t t0 = off[i], m = lens[i];
        scan_in a = in;
        a.L = m;
        a.u = cut(in.u, B * D, L, t0, m), a.delta = cut(in.delta, B * D, L, t0, m);
        a.Bm = cut(in.Bm, B * G * N, L, t0, m), a.Cm = cut(in.Cm, B * G * N, L, t0, m);
        a.z = in.z ? cut(in.z, B * D, L, t0, m) : NULL;
        a.dout = cut(in.dout, B * D, L, t0, m);
        scan_res r = scan_run(&a, chunk, NULL, 0, bf16);
        paste(out, r.out, B * D, L, t0, m), paste(du, r.du, B * D, L, t0, m);
        paste(ddelta, r.ddelta, B * D, L, t0, m), paste(dz, r.dz, B * D, L, t0, m);
        paste(dB, r.dB, B * G * N, L, t0, m), paste(dC, r.dC, B * G * N, L, t0, m);
        add_to(dA, r.dA, (size_t)(D * N)), add_to(dD, r.dD, (size_t)D);
        add_to(ddb, r.ddb, (size_t)D);
        scan_res_free(&r);
        free(a.u), free(a.delta), free(a.Bm), free(a.Cm), free(a.z), free(a.dout);
    }
    const double t = bf16 ? TOL16 : TOL32, ts = bf16 ? TOL16 : TOL_SUM;
    rel("out", p.out, out, BDL, t);
    rel("du", p.du, du, BDL, t);
    rel("ddelta", p.ddelta, ddelta, BDL, t);
    if (with_z)
        rel("dz", p.dz, dz, BDL, t);
    rel("dB", p.dB, dB, BGNL, t);
    rel("dC", p.dC, dC, BGNL, t);
    real *s_dA = from_double(dA, (size_t)(D * N)), *s_dD = from_double(dD, (size_t)D);
    real *s_ddb = from_double(ddb, (size_t)D);
    rel("dA", p.dA, s_dA, (size_t)(D * N), ts);
    rel("dD", p.dD, s_dD, (size_t)D, ts);
    rel("ddelta_bias", p.ddb, s_ddb, (size_t)D, ts);
    scan_res_free(&p);
    real *hs[] = {in.u, in.delta, in.A, in.Bm, in.Cm, in.Dk, in.z, in.bias, in.dout, out, du,
                  ddelta, dz, dB, dC, s_dA, s_dD, s_ddb};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
    free(dA), free(dD), free(ddb), free(off);
}

static const int64_t LENS_MIX[] = {1, 2, 7, 64, 65, 130, 31}; // 300 steps
// starts on lane segments (16) and chunk ends (16, 32), and off them
static const int64_t LENS_TILES[] = {16, 16, 32, 5, 11, 64, 1, 47};

// chunk 5: checkpoints inside lane segments (the CKMID forward), backward with one lane;
// forward lanes P = 32 (few channels), the gate on.
START_TEST(scan_fp32_mixed_lengths) { scan_packed_case(2, 8, 8, 1, 5, LENS_MIX, 7, 1, 0, 31); }
END_TEST
// chunk 64 (backward P = 4, checkpoints on segment ends), groups, no gate, one long sequence
START_TEST(scan_fp32_long_groups) {
    const int64_t lens[] = {1000, 1, 17, 300};
    scan_packed_case(1, 64, 16, 2, 64, lens, 4, 0, 0, 32);
}
END_TEST
// chunk 16 (backward P = 1), starts exactly on tile and chunk boundaries; 32 (backward P = 2)
START_TEST(scan_fp32_tile_boundaries) {
    scan_packed_case(2, 12, 4, 1, 16, LENS_TILES, 8, 1, 0, 33);
    scan_packed_case(1, 24, 16, 1, 32, LENS_TILES, 8, 1, 0, 34);
}
END_TEST
START_TEST(scan_bf16_mixed_lengths) { scan_packed_case(2, 16, 16, 1, 16, LENS_MIX, 7, 1, 1, 35); }
END_TEST

// One sequence over the whole row: the SEG kernels against the dense ones.
START_TEST(scan_one_sequence_equals_dense) {
    uint64_t st = 36;
    const int64_t B = 2, D = 16, N = 16, L = 203, off[2] = {0, L};
    const size_t BDL = (size_t)(B * D * L), BNL = (size_t)(B * N * L);
    scan_in in = {B,
                  D,
                  L,
                  N,
                  1,
                  tu_new_uniform(BDL, -1, 1, &st),
                  tu_new_uniform(BDL, -1.5, 1.0, &st),
                  tu_new_uniform((size_t)(D * N), -2.0, -0.2, &st),
                  tu_new_uniform(BNL, -1, 1, &st),
                  tu_new_uniform(BNL, -1, 1, &st),
                  tu_new_uniform((size_t)D, -1, 1, &st),
                  tu_new_uniform(BDL, -2, 2, &st),
                  tu_new_uniform((size_t)D, -0.5, 0.5, &st),
                  tu_new_uniform(BDL, -1, 1, &st)};
    fprintf(stderr, "scan fp32 one packed sequence vs dense, B=%lld D=%lld L=%lld:\n",
            (long long)B, (long long)D, (long long)L);
    scan_res p = scan_run(&in, 16, off, 1, 0), d = scan_run(&in, 16, NULL, 0, 0);
    rel("out", p.out, d.out, BDL, 1e-6);
    rel("du", p.du, d.du, BDL, 1e-6);
    rel("dA", p.dA, d.dA, (size_t)(D * N), 1e-6);
    fprintf(stderr, "    bit-identical out: %s, du: %s\n",
            memcmp(p.out, d.out, sizeof(real) * BDL) ? "no" : "yes",
            memcmp(p.du, d.du, sizeof(real) * BDL) ? "no" : "yes");
    scan_res_free(&p), scan_res_free(&d);
    real *hs[] = {in.u, in.delta, in.A, in.Bm, in.Cm, in.Dk, in.z, in.bias, in.dout};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}
END_TEST

// --- conv1d ---------------------------------------------------------------------------------
typedef struct {
    real *out, *dx, *dw, *db;
} conv_res;

static conv_res conv_run(const real *x, const real *w, const real *b, const real *dout, int64_t B,
                         int64_t C, int64_t L, int64_t K, int silu, const int64_t *seg,
                         int64_t n_segs) {
    int64_t *seg_d = NULL;
    if (seg) {
        OK(ssm_cuda_alloc((void **)&seg_d, sizeof(int64_t) * (size_t)(n_segs + 1), "test"));
        OK(ssm_cuda_upload(seg_d, seg, sizeof(int64_t) * (size_t)(n_segs + 1)));
    }
    const size_t n = (size_t)(B * C * L);
    real *gx = dev(x, n, 0), *gw = dev(w, (size_t)(C * K), 0), *gb = dev(b, (size_t)C, 0);
    real *gd = dev(dout, n, 0), *out = poisoned(n, 0);
    real *dx = zeros(n, 0), *dw = zeros((size_t)(C * K), 0), *db = zeros((size_t)C, 0);
    OK(conv1d_causal_forward_cuda(out, gx, gw, gb, B, C, L, K, silu, seg_d, n_segs));
    OK(conv1d_causal_backward_cuda(dx, dw, db, gd, gx, gw, gb, B, C, L, K, silu, seg_d, n_segs));
    conv_res r = {host(out, n, 0), host(dx, n, 0), host(dw, (size_t)(C * K), 0),
                  host(db, (size_t)C, 0)};
    void *ds[] = {seg_d, gx, gw, gb, gd, out, dx, dw, db};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        if (ds[i])
            ssm_cuda_free(ds[i]);
    return r;
}

static void conv_packed_case(int64_t B, int64_t C, int64_t K, int silu, const int64_t *lens,
                             int64_t n, uint64_t seed) {
    int64_t *off = offsets_of(lens, n);
    const int64_t L = off[n];
    const size_t BCL = (size_t)(B * C * L), CK = (size_t)(C * K);
    uint64_t st = seed;
    real *x = tu_new_uniform(BCL, -2, 2, &st), *w = tu_new_uniform(CK, -1, 1, &st);
    real *b = tu_new_uniform((size_t)C, -0.5, 0.5, &st), *dout = tu_new_uniform(BCL, -1, 1, &st);
    fprintf(stderr, "conv1d packed B=%lld C=%lld K=%lld silu=%d, %lld sequences in L=%lld:\n",
            (long long)B, (long long)C, (long long)K, silu, (long long)n, (long long)L);
    conv_res p = conv_run(x, w, b, dout, B, C, L, K, silu, off, n);
    real *out = malloc(sizeof(real) * BCL), *dx = malloc(sizeof(real) * BCL);
    double *dw = calloc(CK, sizeof(double)), *db = calloc((size_t)C, sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        const int64_t t0 = off[i], m = lens[i];
        real *xs = cut(x, B * C, L, t0, m), *ds = cut(dout, B * C, L, t0, m);
        conv_res r = conv_run(xs, w, b, ds, B, C, m, K, silu, NULL, 0);
        paste(out, r.out, B * C, L, t0, m), paste(dx, r.dx, B * C, L, t0, m);
        add_to(dw, r.dw, CK), add_to(db, r.db, (size_t)C);
        free(r.out), free(r.dx), free(r.dw), free(r.db), free(xs), free(ds);
    }
    real *s_dw = from_double(dw, CK), *s_db = from_double(db, (size_t)C);
    rel("out", p.out, out, BCL, TOL32);
    rel("dx", p.dx, dx, BCL, TOL32);
    rel("dw", p.dw, s_dw, CK, TOL_SUM);
    rel("dbias", p.db, s_db, (size_t)C, TOL_SUM);
    real *hs[] = {x, w, b, dout, out, dx, s_dw, s_db, p.out, p.dx, p.dw, p.db};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
    free(dw), free(db), free(off);
}

// K = 4 (the compiled-width kernels) and K = 6 (generic); a packed row longer than one
// 1024-step block chunk, so sequences straddle the blocks' chunks and halos.
START_TEST(conv1d_packed_k4) {
    conv_packed_case(2, 5, 4, 1, LENS_MIX, 7, 41);
    const int64_t lens[] = {1500, 2, 3, 700, 1};
    conv_packed_case(1, 3, 4, 0, lens, 5, 42);
}
END_TEST
START_TEST(conv1d_packed_generic_k) { conv_packed_case(2, 4, 6, 1, LENS_TILES, 8, 43); }
END_TEST

START_TEST(packed_shape_refused) {
    real *p = (real *)16;
    const int64_t *seg = (const int64_t *)16;
    ssm_error e = {0};
    ck_assert_int_eq(conv1d_causal_forward_cuda(p, p, p, NULL, 1, 2, 8, 4, 1, seg, 0),
                     SSM_EINVAL);
    ssm_cuda_take_error(&e);
    ck_assert_msg(strstr(e.msg, "packed sequences"), "%s", e.msg);
    scan_shape s = {.B = 1, .D = 4, .L = 8, .N = 4, .G = 1, .chunk = 4, .seg_offsets = seg,
                    .n_segs = 9};
    ck_assert_int_eq(selective_scan_forward_cuda(p, NULL, p, p, p, p, p, p, NULL, NULL, NULL, &s),
                     SSM_EINVAL);
    ssm_cuda_take_error(&e);
    ck_assert_msg(strstr(e.msg, "9 packed sequences"), "%s", e.msg);
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
    if (!tu_cuda_ready("test_cuda_packed_kernels:"))
        return 0;
#if HAVE_CUDA
    Suite *su = suite_create("cuda_packed_kernels");
    TCase *tc = tcase_create("packed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, packed_shape_refused);
    tcase_add_test(tc, conv1d_packed_k4);
    tcase_add_test(tc, conv1d_packed_generic_k);
    tcase_add_test(tc, scan_one_sequence_equals_dense);
    tcase_add_test(tc, scan_fp32_mixed_lengths);
    tcase_add_test(tc, scan_fp32_long_groups);
    tcase_add_test(tc, scan_fp32_tile_boundaries);
    tcase_add_test(tc, scan_bf16_mixed_lengths);
    suite_add_tcase(su, tc);
    return tu_run_suite_nofork(su); // one CUDA context for the whole suite
#endif
}
