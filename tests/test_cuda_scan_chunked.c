// Check suite: the chunked CUDA selective scan (kernels/cuda/scan_chunked.cuh: time chunks
// run in parallel, states and adjoints carried across them) against the CPU scan, forward
// and backward, fp32 and bf16, and against the other CUDA path on the same inputs. Forced
// small time chunks (SSMKIT_SCAN_TCHUNK) put hundreds of chunk boundaries in a short row;
// L = 2^20 with 16 channels runs the automatic choice. Every output is poisoned (NaN) first;
// gradients start from random values and the increments are compared. The decays A are
// log-uniform down to -0.02, so some states remember a few hundred steps and a carried state
// or adjoint that went wrong shows as an O(1) error. Bars (norm-wise relative): 1e-5 fp32
// (5e-5 for dA, dD, ddelta_bias, sums over the whole row in another order), 1e-2 bf16 against
// the CPU run on the bf16-rounded inputs; at L = 2^20 1e-4 for the fp32 sums, which the CPU
// adds in one fp32 accumulator per channel over the whole row (2e-5 from the exact sum, seen
// with the CPU model of tests/test_scan_chunked.c). The fp32 backward is run twice:
// bit-identical.
// A checkpoint where a packed sequence starts is not compared: the GPU keeps the state before
// that step, the CPU the state after its reset (both backwards ignore it).
// Built without CUDA=1, sanitized or double, or run without a GPU: skips.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util/testutil.h"

#if defined(SSM_CUDA) && !defined(__SANITIZE_ADDRESS__) && !REAL_IS_DOUBLE
#define HAVE_CUDA 1
#include "kernels/cuda/scan.h"
#include "kernels/scan.h"
#include "tests/util/cuda_compare.h"
#else
#define HAVE_CUDA 0
#endif

#if HAVE_CUDA
#define TOL_SUM 5e-5
enum { O_SOFTPLUS = 1, O_D = 2, O_Z = 4, O_BIAS = 8, O_ALL = 15 };

typedef struct {
    scan_shape s; // seg_offsets: host offsets or NULL
    real *u, *delta, *A, *Bm, *Cm, *Dk, *z, *bias, *dout;
    real *i_du, *i_ddelta, *i_dz, *i_dA, *i_dB, *i_dC, *i_dD, *i_db; // starting gradients
} prob;

// outputs and gradients, host copies
typedef struct {
    real *out, *last, *cs, *du, *ddelta, *dz, *dA, *dB, *dC, *dD, *db;
} res;

static size_t n_bdl(const scan_shape *s) { return (size_t)(s->B * s->D * s->L); }
static size_t n_bgnl(const scan_shape *s) { return (size_t)(s->B * s->G * s->N * s->L); }

static prob make(int64_t B, int64_t D, int64_t L, int64_t N, int64_t G, int64_t chunk, int opts,
                 int bf16, uint64_t seed) {
    prob p = {.s = {.B = B, .D = D, .L = L, .N = N, .G = G, .chunk = chunk,
                    .delta_softplus = !!(opts & O_SOFTPLUS)}};
    uint64_t st = seed;
    const size_t BDL = n_bdl(&p.s), BGNL = n_bgnl(&p.s), DN = (size_t)(D * N);
    p.u = hfill(BDL, -1, 1, &st);
    p.delta = opts & O_SOFTPLUS ? hfill(BDL, -1.5, 1.0, &st) : hfill(BDL, 0.05, 0.8, &st);
    p.A = hfill(DN, log(0.02), log(2.0), &st);
    for (size_t i = 0; i < DN; i++)
        p.A[i] = -expf(p.A[i]);
    p.Bm = hfill(BGNL, -1, 1, &st), p.Cm = hfill(BGNL, -1, 1, &st);
    p.Dk = opts & O_D ? hfill((size_t)D, -1, 1, &st) : NULL;
    p.z = opts & O_Z ? hfill(BDL, -2, 2, &st) : NULL;
    p.bias = opts & O_BIAS ? hfill((size_t)D, -0.5, 0.5, &st) : NULL;
    p.dout = hfill(BDL, -1, 1, &st);
    p.i_du = hfill(BDL, -0.5, 0.5, &st), p.i_ddelta = hfill(BDL, -0.5, 0.5, &st);
    p.i_dz = hfill(BDL, -0.5, 0.5, &st), p.i_dA = hfill(DN, -0.5, 0.5, &st);
    p.i_dB = hfill(BGNL, -0.5, 0.5, &st), p.i_dC = hfill(BGNL, -0.5, 0.5, &st);
    p.i_dD = hfill((size_t)D, -0.5, 0.5, &st), p.i_db = hfill((size_t)D, -0.5, 0.5, &st);
    if (bf16) { // the CPU sees exactly the values the GPU reads
        round_bf16(p.u, BDL), round_bf16(p.delta, BDL), round_bf16(p.Bm, BGNL);
        round_bf16(p.Cm, BGNL), round_bf16(p.dout, BDL);
        round_bf16(p.i_du, BDL), round_bf16(p.i_ddelta, BDL), round_bf16(p.i_dz, BDL);
        if (p.z)
            round_bf16(p.z, BDL);
    }
    return p;
}

static void prob_free(prob *p) {
    real *hs[] = {p->u, p->delta, p->A, p->Bm, p->Cm, p->Dk, p->z, p->bias, p->dout,
                  p->i_du, p->i_ddelta, p->i_dz, p->i_dA, p->i_dB, p->i_dC, p->i_dD, p->i_db};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}

static void res_free(res *r) {
    real *hs[] = {r->out, r->last, r->cs, r->du, r->ddelta, r->dz, r->dA, r->dB, r->dC,
                  r->dD, r->db};
    for (size_t i = 0; i < sizeof hs / sizeof *hs; i++)
        free(hs[i]);
}

static res cpu_run(const prob *p) {
    const scan_shape *s = &p->s;
    const size_t BDL = n_bdl(s), BGNL = n_bgnl(s), DN = (size_t)(s->D * s->N);
    res r = {malloc(sizeof(real) * BDL), malloc(sizeof(real) * (size_t)(s->B * s->D * s->N)),
             malloc(sizeof(real) * selective_scan_chunk_states_size(s)),
             hcopy(p->i_du, BDL), hcopy(p->i_ddelta, BDL), hcopy(p->i_dz, BDL),
             hcopy(p->i_dA, DN), hcopy(p->i_dB, BGNL), hcopy(p->i_dC, BGNL),
             hcopy(p->i_dD, (size_t)s->D), hcopy(p->i_db, (size_t)s->D)};
    selective_scan_forward(r.out, r.last, r.cs, p->u, p->delta, p->A, p->Bm, p->Cm, p->Dk, p->z,
                           p->bias, s);
    real *ws = malloc(sizeof(real) * selective_scan_workspace_size(s, omp_get_max_threads()));
    selective_scan_backward(r.du, r.ddelta, r.dA, r.dB, r.dC, p->Dk ? r.dD : NULL,
                            p->z ? r.dz : NULL, p->bias ? r.db : NULL, p->dout, r.cs, p->u,
                            p->delta, p->A, p->Bm, p->Cm, p->Dk, p->z, p->bias, ws, s);
    free(ws);
    return r;
}

// SSMKIT_SCAN_CHUNKED (NULL: unset, the rule) and SSMKIT_SCAN_TCHUNK (NULL: unset)
static void set_path(const char *mode, const char *tchunk) {
    if (mode)
        setenv("SSMKIT_SCAN_CHUNKED", mode, 1);
    else
        unsetenv("SSMKIT_SCAN_CHUNKED");
    if (tchunk)
        setenv("SSMKIT_SCAN_TCHUNK", tchunk, 1);
    else
        unsetenv("SSMKIT_SCAN_TCHUNK");
}

// Forward and backward on the GPU under the path set_path chose (the caller sets it first).
// with_states = 0: the forward without chunk_states (then the backward is skipped).
static res gpu_run(const prob *p, int bf16, int with_states) {
    scan_shape s = p->s;
    const size_t BDL = n_bdl(&s), BGNL = n_bgnl(&s), DN = (size_t)(s.D * s.N), D = (size_t)s.D;
    const size_t BDN = (size_t)(s.B * s.D * s.N), ncs = selective_scan_chunk_states_size(&s);
    int64_t *seg_d = NULL;
    if (s.seg_offsets) {
        const size_t bytes = sizeof(int64_t) * (size_t)(s.n_segs + 1);
        OK(ssm_cuda_alloc((void **)&seg_d, bytes, "test"));
        OK(ssm_cuda_upload(seg_d, s.seg_offsets, bytes));
        s.seg_offsets = seg_d;
    }
    void *u = dev(p->u, BDL, bf16), *delta = dev(p->delta, BDL, bf16);
    void *Bm = dev(p->Bm, BGNL, bf16), *Cm = dev(p->Cm, BGNL, bf16);
    void *z = p->z ? dev(p->z, BDL, bf16) : NULL, *dout = dev(p->dout, BDL, bf16);
    real *A = dev(p->A, DN, 0), *Dk = p->Dk ? dev(p->Dk, D, 0) : NULL;
    real *bias = p->bias ? dev(p->bias, D, 0) : NULL;
    void *out = poisoned(BDL, bf16);
    real *last = poisoned(BDN, 0), *cs = with_states ? poisoned(ncs, 0) : NULL;
    if (bf16)
        OK(selective_scan_forward_bf16(out, last, cs, u, delta, A, Bm, Cm, Dk, z, bias, &s));
    else
        OK(selective_scan_forward_cuda(out, last, cs, u, delta, A, Bm, Cm, Dk, z, bias, &s));
    res r = {.out = host(out, BDL, bf16), .last = host(last, BDN, 0),
             .cs = cs ? host(cs, ncs, 0) : NULL};
    void *g_du = NULL, *g_ddelta = NULL, *g_dz = NULL;
    real *g_dA = NULL, *g_dB = NULL, *g_dC = NULL, *g_dD = NULL, *g_db = NULL, *ws = NULL;
    if (with_states) {
        g_du = dev(p->i_du, BDL, bf16), g_ddelta = dev(p->i_ddelta, BDL, bf16);
        g_dz = dev(p->i_dz, BDL, bf16), g_dA = dev(p->i_dA, DN, 0);
        g_dB = dev(p->i_dB, BGNL, 0), g_dC = dev(p->i_dC, BGNL, 0);
        g_dD = dev(p->i_dD, D, 0), g_db = dev(p->i_db, D, 0);
        const size_t nws = selective_scan_workspace_size_cuda(&s);
        ws = poisoned(nws, 0); // every partial must be written before it is read
        for (int rep = 0; rep < (bf16 ? 1 : 2); rep++) {
            if (rep) { // fp32: again from the same starting values, for the bits
                OK(ssm_cuda_upload(g_du, p->i_du, sizeof(real) * BDL));
                OK(ssm_cuda_upload(g_ddelta, p->i_ddelta, sizeof(real) * BDL));
                OK(ssm_cuda_upload(g_dA, p->i_dA, sizeof(real) * DN));
                OK(ssm_cuda_upload(g_dB, p->i_dB, sizeof(real) * BGNL));
                OK(ssm_cuda_upload(g_dC, p->i_dC, sizeof(real) * BGNL));
                repoison(ws, nws, 0);
            }
            if (bf16)
                OK(selective_scan_backward_bf16(g_du, g_ddelta, g_dA, g_dB, g_dC,
                                                Dk ? g_dD : NULL, z ? g_dz : NULL,
                                                bias ? g_db : NULL, dout, cs, u, delta, A, Bm,
                                                Cm, Dk, z, bias, ws, &s));
            else
                OK(selective_scan_backward_cuda(g_du, g_ddelta, g_dA, g_dB, g_dC,
                                                rep || !Dk ? NULL : g_dD,
                                                rep || !z ? NULL : g_dz,
                                                rep || !bias ? NULL : g_db, dout, cs, u, delta,
                                                A, Bm, Cm, Dk, z, bias, ws, &s));
            if (rep) {
                same_bits("du (second backward)", g_du, r.du, BDL);
                same_bits("dA (second backward)", g_dA, r.dA, DN);
                same_bits("dB (second backward)", g_dB, r.dB, BGNL);
                same_bits("dC (second backward)", g_dC, r.dC, BGNL);
            } else {
                r.du = host(g_du, BDL, bf16), r.ddelta = host(g_ddelta, BDL, bf16);
                r.dz = host(g_dz, BDL, bf16), r.dA = host(g_dA, DN, 0);
                r.dB = host(g_dB, BGNL, 0), r.dC = host(g_dC, BGNL, 0);
                r.dD = host(g_dD, D, 0), r.db = host(g_db, D, 0);
            }
        }
    }
    void *ds[] = {seg_d, u, delta, Bm, Cm, z, dout, A, Dk, bias, out, last, cs, g_du,
                  g_ddelta, g_dz, g_dA, g_dB, g_dC, g_dD, g_db, ws};
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        if (ds[i])
            ssm_cuda_free(ds[i]);
    return r;
}

// got against ref (both runs from p's inputs); tol: outputs and per-step gradients, tol_sum:
// dA, dD, ddelta_bias. Checkpoints at packed sequence starts are skipped (see the top).
static void compare(const res *got, const res *ref, const prob *p, double tol, double tol_sum) {
    const scan_shape *s = &p->s;
    const size_t BDL = n_bdl(s), BGNL = n_bgnl(s), DN = (size_t)(s->D * s->N), D = (size_t)s->D;
    const size_t BDN = (size_t)(s->B * s->D * s->N);
    ck_assert_msg(tu_rel_err(got->out, ref->out, BDL) < tol, "out: rel err %g",
                  tu_rel_err(got->out, ref->out, BDL));
    fprintf(stderr, "  out %.2g last %.2g", tu_rel_err(got->out, ref->out, BDL),
            tu_rel_err(got->last, ref->last, BDN));
    ck_assert_msg(tu_rel_err(got->last, ref->last, BDN) < tol, "last_state: rel err %g",
                  tu_rel_err(got->last, ref->last, BDN));
    if (got->cs && ref->cs) {
        const size_t ncs = selective_scan_chunk_states_size(s);
        const int64_t nc = scan_n_chunks(s);
        real *cmpv = hcopy(got->cs, ncs);
        for (size_t i = 0; i < ncs; i++) {
            const int64_t t = (int64_t)(i / (size_t)s->N) % nc * s->chunk;
            int at_start = 0;
            for (int64_t j = 1; s->seg_offsets && j < s->n_segs; j++)
                at_start |= s->seg_offsets[j] == t;
            if (at_start)
                cmpv[i] = isfinite(cmpv[i]) ? ref->cs[i] : NAN;
        }
        const double e = tu_rel_err(cmpv, ref->cs, ncs);
        fprintf(stderr, " states %.2g", e);
        ck_assert_msg(e < tol, "chunk_states: rel err %g", e);
        free(cmpv);
    }
    fprintf(stderr, "\n");
    if (!got->du || !ref->du)
        return;
    const real *i_g[] = {p->i_du, p->i_ddelta, p->i_dz, p->i_dA, p->i_dB, p->i_dC, p->i_dD,
                         p->i_db};
    const real *gg[] = {got->du, got->ddelta, got->dz, got->dA, got->dB, got->dC, got->dD,
                        got->db};
    const real *rr[] = {ref->du, ref->ddelta, ref->dz, ref->dA, ref->dB, ref->dC, ref->dD,
                        ref->db};
    const size_t nn[] = {BDL, BDL, BDL, DN, BGNL, BGNL, D, D};
    static const char *names[] = {"du", "ddelta", "dz", "dA", "dB", "dC", "dD", "ddelta_bias"};
    for (int k = 0; k < 8; k++) {
        if ((k == 2 && !p->z) || (k == 6 && !p->Dk) || (k == 7 && !p->bias))
            continue;
        double num = 0, den = 0;
        for (size_t i = 0; i < nn[k]; i++) {
            const double dr = (double)rr[k][i] - i_g[k][i], dg = (double)gg[k][i] - i_g[k][i];
            num += (dg - dr) * (dg - dr);
            den += dr * dr;
        }
        const double e = isnan(num) ? INFINITY : sqrt(num) / fmax(sqrt(den), 1e-30);
        const double bar = k == 3 || k >= 6 ? tol_sum : tol;
        fprintf(stderr, "  %-12s rel err %.2g (increment)\n", names[k], e);
        ck_assert_msg(e < bar, "%s: rel err %g >= %g", names[k], e, bar);
    }
}

// The chunked path (forced, time chunks of tchunk steps) against the CPU.
static void chunked_case(prob *p, int bf16, const char *tchunk) {
    const scan_shape *s = &p->s;
    set_path("1", tchunk);
    const int64_t tc = selective_scan_cuda_tchunk(s);
    fprintf(stderr, "scan %s chunked B=%lld D=%lld L=%lld N=%lld G=%lld chunk=%lld tchunk=%lld "
                    "segs=%lld:\n",
            bf16 ? "bf16" : "fp32", (long long)s->B, (long long)s->D, (long long)s->L,
            (long long)s->N, (long long)s->G, (long long)s->chunk, (long long)tc,
            (long long)(s->seg_offsets ? s->n_segs : 1));
    ck_assert_msg(tc > 0 && s->L > tc, "the shape should take the chunked path");
    res ref = cpu_run(p), got = gpu_run(p, bf16, 1);
    compare(&got, &ref, p, bf16 ? TOL16 : TOL32, bf16 ? TOL16 : TOL_SUM);
    res_free(&ref), res_free(&got);
    set_path(NULL, NULL);
}

// 40 channels in groups of 20 (12 idle lanes a block), L = 3001 (not a multiple of the time
// chunk, of 16 or of 8: the unaligned loads), 24 time chunks of 128 steps (two checkpoints
// each, the fewest the forward's carries need), every option.
START_TEST(chunked_fp32_small_chunks) {
    prob p = make(2, 40, 3001, 16, 2, 64, O_ALL, 0, 31);
    chunked_case(&p, 0, "128");
    prob_free(&p);
}
END_TEST
START_TEST(chunked_bf16_small_chunks) {
    prob p = make(2, 40, 3001, 16, 2, 64, O_ALL, 1, 32);
    chunked_case(&p, 1, "128");
    prob_free(&p);
}
END_TEST
// the other lane counts: N = 8 (P = 2), N = 32 (P = 8); checkpoint chunk 32; aligned L
START_TEST(chunked_fp32_n8) {
    prob p = make(1, 96, 2048, 8, 1, 32, O_SOFTPLUS | O_Z | O_D, 0, 33);
    chunked_case(&p, 0, "256");
    prob_free(&p);
}
END_TEST
START_TEST(chunked_bf16_n32) {
    prob p = make(1, 24, 2000, 32, 1, 16, O_ALL, 1, 34);
    chunked_case(&p, 1, "96");
    prob_free(&p);
}
END_TEST
START_TEST(chunked_fp32_n32_no_z) {
    prob p = make(2, 16, 1500, 32, 2, 48, O_SOFTPLUS | O_BIAS, 0, 35);
    chunked_case(&p, 0, "200"); // rounded up to 240: 5 checkpoint chunks of 48
    prob_free(&p);
}
END_TEST

// Packed rows (two rows, the same offsets): sequences starting at a time chunk's first step
// (256, 512, 9984), at a checkpoint inside one (320), inside a 16-step tile (700), one step
// long (1, 5000), at the last step, and a sequence across many time chunks.
static const int64_t pack_offs[] = {0, 1, 2, 255, 256, 320, 512, 700, 5000, 5001, 9984, 9999,
                                    10000};
START_TEST(chunked_fp32_packed) {
    prob p = make(2, 64, 10000, 16, 1, 64, O_ALL, 0, 36);
    p.s.seg_offsets = pack_offs;
    p.s.n_segs = (int64_t)(sizeof pack_offs / sizeof *pack_offs) - 1;
    chunked_case(&p, 0, "256");
    prob_free(&p);
}
END_TEST
START_TEST(chunked_bf16_packed) {
    prob p = make(2, 64, 10000, 16, 1, 64, O_SOFTPLUS | O_Z | O_D, 1, 37);
    p.s.seg_offsets = pack_offs;
    p.s.n_segs = (int64_t)(sizeof pack_offs / sizeof *pack_offs) - 1;
    chunked_case(&p, 1, "256");
    prob_free(&p);
}
END_TEST

// L = 2^20, 16 channels, chunk 64: the automatic choice takes the chunked path (its own time
// chunks), fp32 and bf16.
static void long_case(int bf16, uint64_t seed) {
    prob p = make(1, 16, (int64_t)1 << 20, 16, 1, 64, O_ALL, bf16, seed);
    set_path(NULL, NULL);
    const int64_t tc = selective_scan_cuda_tchunk(&p.s);
    fprintf(stderr, "scan %s B=1 D=16 L=2^20 N=16 (automatic: tchunk %lld):\n",
            bf16 ? "bf16" : "fp32", (long long)tc);
    ck_assert_msg(tc > 0, "the rule should take the chunked path at L = 2^20, 16 channels");
    res ref = cpu_run(&p), got = gpu_run(&p, bf16, 1);
    compare(&got, &ref, &p, bf16 ? TOL16 : TOL32, bf16 ? TOL16 : 1e-4);
    res_free(&ref), res_free(&got);
    prob_free(&p);
}
START_TEST(chunked_fp32_long) { long_case(0, 38); }
END_TEST
START_TEST(chunked_bf16_long) { long_case(1, 39); }
END_TEST

// The chunked path against the other CUDA path on the same inputs (SSMKIT_SCAN_CHUNKED=1 vs
// 0): B = 1, D = 256, L = 8192 (the rule's shape: 256 channels, a long row). Also the
// forward without chunk_states, which takes the other kernels.
static void vs_default_case(int bf16, uint64_t seed) {
    prob p = make(1, 256, 8192, 16, 1, 64, O_ALL, bf16, seed);
    set_path(NULL, NULL);
    ck_assert_msg(selective_scan_cuda_tchunk(&p.s) > 0, "the rule should take the chunked path");
    fprintf(stderr, "scan %s B=1 D=256 L=8192: chunked vs the other CUDA kernels\n",
            bf16 ? "bf16" : "fp32");
    res a = gpu_run(&p, bf16, 1);
    set_path("0", NULL);
    ck_assert_int_eq(selective_scan_cuda_tchunk(&p.s), 0);
    res b = gpu_run(&p, bf16, 1);
    compare(&a, &b, &p, bf16 ? TOL16 : TOL32, bf16 ? TOL16 : TOL_SUM);
    set_path("1", NULL);
    res c = gpu_run(&p, bf16, 0); // no chunk_states: the other kernels, same outputs
    compare(&c, &b, &p, bf16 ? TOL16 : TOL32, TOL_SUM);
    res_free(&a), res_free(&b), res_free(&c);
    set_path(NULL, NULL);
    prob_free(&p);
}
START_TEST(chunked_vs_default_fp32) { vs_default_case(0, 40); }
END_TEST
START_TEST(chunked_vs_default_bf16) { vs_default_case(1, 41); }
END_TEST

// The rule at the shapes (an H100's 132 multiprocessors or more: B*D*N/4 < 256 per
// multiprocessor) and the shapes it cannot take.
START_TEST(chunked_rule) {
    set_path(NULL, NULL);
    const int64_t shapes[][5] = {
        // B, D, L, N, chunked?
        {1, 2048, 16384, 16, 1}, {1, 2048, 65536, 16, 1}, {1, 256, 100000, 16, 1},
        {1, 512, 1048576, 16, 1}, {8, 1536, 1024, 16, 0},  {8, 1536, 4096, 16, 0},
        {128, 384, 197, 16, 0},   {1, 2048, 2048, 16, 0},  {1, 2048, 65536, 5, 0},
        {1, 2048, 65536, 64, 0},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        scan_shape s = {.B = shapes[i][0], .D = shapes[i][1], .L = shapes[i][2],
                        .N = shapes[i][3], .G = 1, .chunk = 64, .delta_softplus = 1};
        const int64_t tc = selective_scan_cuda_tchunk(&s);
        fprintf(stderr, "  B=%lld D=%lld L=%lld N=%lld: tchunk %lld\n", (long long)s.B,
                (long long)s.D, (long long)s.L, (long long)s.N, (long long)tc);
        ck_assert_msg((tc > 0) == (shapes[i][4] != 0), "shape %zu: tchunk %lld", i,
                      (long long)tc);
        if (tc) {
            ck_assert_int_eq(tc % s.chunk, 0);
            ck_assert(tc >= 512 && tc < s.L);
        }
    }
    scan_shape odd = {.B = 1, .D = 2048, .L = 65536, .N = 16, .G = 1, .chunk = 37,
                      .delta_softplus = 1}; // chunk not a multiple of 16
    ck_assert_int_eq(selective_scan_cuda_tchunk(&odd), 0);
    set_path("0", NULL);
    scan_shape s = {.B = 1, .D = 2048, .L = 65536, .N = 16, .G = 1, .chunk = 64,
                    .delta_softplus = 1};
    ck_assert_int_eq(selective_scan_cuda_tchunk(&s), 0);
    set_path("1", "100"); // rounded up to whole chunks, two at least
    ck_assert_int_eq(selective_scan_cuda_tchunk(&s), 128);
    set_path(NULL, NULL);
}
END_TEST
#endif // HAVE_CUDA

int main(void) {
#if !HAVE_CUDA
    printf("test_cuda_scan_chunked: skipped (built without CUDA=1, or a sanitizer/double build, "
           "which links no CUDA code)\n");
    return 0;
#else
    if (ssm_cuda_device_count() == 0) {
        printf("test_cuda_scan_chunked: skipped (no CUDA device)\n");
        return 0;
    }
    Suite *su = suite_create("cuda_scan_chunked");
    TCase *tc = tcase_create("chunked");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, chunked_rule);
    tcase_add_test(tc, chunked_fp32_small_chunks);
    tcase_add_test(tc, chunked_bf16_small_chunks);
    tcase_add_test(tc, chunked_fp32_n8);
    tcase_add_test(tc, chunked_bf16_n32);
    tcase_add_test(tc, chunked_fp32_n32_no_z);
    tcase_add_test(tc, chunked_fp32_packed);
    tcase_add_test(tc, chunked_bf16_packed);
    tcase_add_test(tc, chunked_vs_default_fp32);
    tcase_add_test(tc, chunked_vs_default_bf16);
    tcase_add_test(tc, chunked_fp32_long);
    tcase_add_test(tc, chunked_bf16_long);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_set_fork_status(sr, CK_NOFORK); // one CUDA context for the whole suite
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
#endif
}
