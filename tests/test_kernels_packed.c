// Check suite: the CPU kernels on packed rows (scan_shape.seg_offsets, conv1d's seg_offsets),
// float, under the active CPU variant (make test reruns it under every other supported one).
// The bar: a segmented row equals each segment run alone as its own row, bit for bit, for
// every per-token result (scan out, last_state, the checkpoints, du, ddelta, dz, dB, dC;
// conv out and dx), compared by value. The per-channel sums over the row (scan dA, dD,
// ddelta_bias; conv dw, dbias) add the segments in another order than separate runs do,
// so they are held to 1e-5 relative (float rounding of a sum over a few hundred steps).
// Both rows of a batch are split at the same offsets; lengths cover 1, below d_conv,
// chunk boundaries (starts on and beside multiples of the chunk) and a K4 tile (256).
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/conv1d.h"
#include "kernels/scan.h"
#include "tests/scan_fixture.h"
#include "tests/util/suite.h"
#include "tests/util/testutil.h"

#define SUM_TOL 1e-5


// offsets [n + 1] of segments with the given lengths; returns the total
static int64_t make_offsets(int64_t *off, const int64_t *len, int n) {
    off[0] = 0;
    for (int i = 0; i < n; i++)
        off[i + 1] = off[i] + len[i];
    return off[n];
}

// dst [R, n] = columns [t0, t0 + n) of src [R, T] (R rows of length T)
static void cut(real *dst, const real *src, int64_t R, int64_t T, int64_t t0, int64_t n) {
    for (int64_t r = 0; r < R; r++)
        memcpy(dst + r * n, src + r * T + t0, sizeof(real) * (size_t)n);
}

// value equality of columns [t0, t0 + n) of a [R, T] against b [R, n]; returns the first
// mismatching flat index of a, or -1
static int64_t cols_differ(const real *a, const real *b, int64_t R, int64_t T, int64_t t0,
                           int64_t n) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < n; i++)
            if (!(a[r * T + t0 + i] == b[r * n + i]))
                return r * T + t0 + i;
    return -1;
}

// ---------------------------------------------------------------- scan

typedef struct {
    real *out, *last, *cs;                     // forward
    real *du, *ddelta, *dz, *dA, *dB, *dC, *dD, *dbias; // backward (zero-initialised)
} scan_result;

static void scan_run(scan_result *r, const scan_problem *p) {
    const scan_shape *s = &p->s;
    const size_t BDL = (size_t)(s->B * s->D * s->L), BGNL = (size_t)(s->B * s->G * s->N * s->L);
    r->out = tu_new_zeros(BDL);
    r->last = tu_new_zeros((size_t)(s->B * s->D * s->N));
    r->cs = tu_new_zeros(selective_scan_chunk_states_size(s));
    r->du = tu_new_zeros(BDL), r->ddelta = tu_new_zeros(BDL), r->dz = tu_new_zeros(BDL);
    r->dA = tu_new_zeros((size_t)(s->D * s->N));
    r->dB = tu_new_zeros(BGNL), r->dC = tu_new_zeros(BGNL);
    r->dD = tu_new_zeros((size_t)s->D), r->dbias = tu_new_zeros((size_t)s->D);
    selective_scan_forward(r->out, r->last, r->cs, p->u, p->delta, p->A, p->Bm, p->Cm, p->Dskip,
                           p->z, p->bias, s);
    const size_t ws_n = selective_scan_workspace_size(s, omp_get_max_threads());
    real *ws = malloc(sizeof(real) * ws_n);
    for (size_t i = 0; i < ws_n; i++)
        ws[i] = NAN; // nothing may read scratch it did not write
    selective_scan_backward(r->du, r->ddelta, r->dA, r->dB, r->dC, p->Dskip ? r->dD : NULL,
                            p->z ? r->dz : NULL, p->bias ? r->dbias : NULL, p->dout, r->cs, p->u,
                            p->delta, p->A, p->Bm, p->Cm, p->Dskip, p->z, p->bias, ws, s);
    free(ws);
}

static void scan_result_free(scan_result *r) {
    free(r->out), free(r->last), free(r->cs), free(r->du), free(r->ddelta), free(r->dz);
    free(r->dA), free(r->dB), free(r->dC), free(r->dD), free(r->dbias);
}

// segment [t0, t0 + n) of the packed problem as a problem of its own (same B, D, N, G)
static scan_problem scan_cut(const scan_problem *p, int64_t t0, int64_t n, int64_t chunk) {
    const scan_shape *s = &p->s;
    scan_problem q = *p;
    q.s.L = n;
    q.s.chunk = chunk;
    q.s.seg_offsets = NULL;
    q.s.n_segs = 0;
    const int64_t BD = s->B * s->D, BGN = s->B * s->G * s->N;
    q.u = malloc(sizeof(real) * (size_t)(BD * n)), cut(q.u, p->u, BD, s->L, t0, n);
    q.delta = malloc(sizeof(real) * (size_t)(BD * n)), cut(q.delta, p->delta, BD, s->L, t0, n);
    q.dout = malloc(sizeof(real) * (size_t)(BD * n)), cut(q.dout, p->dout, BD, s->L, t0, n);
    q.z = NULL;
    if (p->z)
        q.z = malloc(sizeof(real) * (size_t)(BD * n)), cut(q.z, p->z, BD, s->L, t0, n);
    q.Bm = malloc(sizeof(real) * (size_t)(BGN * n)), cut(q.Bm, p->Bm, BGN, s->L, t0, n);
    q.Cm = malloc(sizeof(real) * (size_t)(BGN * n)), cut(q.Cm, p->Cm, BGN, s->L, t0, n);
    return q;
}

static void scan_cut_free(scan_problem *q) {
    free(q->u), free(q->delta), free(q->dout), free(q->z), free(q->Bm), free(q->Cm);
}

static double rel_err(const real *a, const real *b, size_t n) { return tu_rel_err(a, b, n); }

// The packed row against every segment alone: see the suite's header for the bar.
static void scan_case(int64_t B, int64_t D, int64_t N, int64_t G, int64_t chunk, int opts,
                      const int64_t *len, int n_segs, uint64_t seed) {
    int64_t off[64];
    const int64_t T = make_offsets(off, len, n_segs);
    const scan_shape s = {.B = B, .D = D, .L = T, .N = N, .G = G, .chunk = chunk,
                          .delta_softplus = !!(opts & OPT_SOFTPLUS), .seg_offsets = off,
                          .n_segs = n_segs};
    uint64_t st = seed;
    scan_problem p = scan_problem_draw(s, opts, 1, &st);

    scan_result pk;
    scan_run(&pk, &p);
    const int64_t BD = B * D, BGN = B * G * N, nc = scan_n_chunks(&p.s);
    real *sumA = tu_new_zeros((size_t)(D * N)), *sumD = tu_new_zeros((size_t)D);
    real *sumb = tu_new_zeros((size_t)D);
    char what[160];
    snprintf(what, sizeof what, "B=%ld D=%ld N=%ld G=%ld chunk=%ld opts=%d segs=%d threads=%d",
             (long)B, (long)D, (long)N, (long)G, (long)chunk, opts, n_segs, omp_get_max_threads());
    for (int i = 0; i < n_segs; i++) {
        const int64_t t0 = off[i], n = len[i];
        scan_problem q = scan_cut(&p, t0, n, chunk);
        scan_result al;
        scan_run(&al, &q);
        int64_t bad;
#define SAME(name, a, b, R)                                                                    \
    bad = cols_differ(a, b, R, T, t0, n);                                                      \
    ck_assert_msg(bad < 0, "%s: segment %d [%ld, %ld): %s at %ld differs from the segment "   \
                  "alone (%.9g vs %.9g)",                                                      \
                  what, i, (long)t0, (long)(t0 + n), name, (long)bad, (double)(a)[bad],       \
                  (double)(b)[(bad / T) * n + bad % T - t0])
        SAME("out", pk.out, al.out, BD);
        SAME("du", pk.du, al.du, BD);
        SAME("ddelta", pk.ddelta, al.ddelta, BD);
        if (p.z)
            SAME("dz", pk.dz, al.dz, BD);
        SAME("dB", pk.dB, al.dB, BGN);
        SAME("dC", pk.dC, al.dC, BGN);
#undef SAME
        // the checkpoints that fall in this segment: h before step t of the row is h before
        // step t - t0 of the segment alone, which a run with chunk 1 checkpoints at every step
        scan_problem q1 = scan_cut(&p, t0, n, 1);
        real *cs1 = tu_new_zeros(selective_scan_chunk_states_size(&q1.s));
        real *o1 = tu_new_zeros((size_t)(BD * n));
        selective_scan_forward(o1, NULL, cs1, q1.u, q1.delta, q1.A, q1.Bm, q1.Cm, q1.Dskip, q1.z,
                               q1.bias, &q1.s);
        for (int64_t c = (t0 + chunk - 1) / chunk; c * chunk < t0 + n; c++)
            for (int64_t r = 0; r < BD; r++)
                for (int64_t k = 0; k < N; k++) {
                    const real a = pk.cs[(r * nc + c) * N + k], b = cs1[(r * n + c * chunk - t0) * N + k];
                    ck_assert_msg(a == b, "%s: checkpoint %ld (step %ld), row %ld, state %ld: %.9g vs "
                                  "%.9g alone", what, (long)c, (long)(c * chunk), (long)r, (long)k,
                                  (double)a, (double)b);
                }
        free(cs1), free(o1);
        scan_cut_free(&q1);
        if (i == n_segs - 1) // h after the row's last step is the last segment's
            for (int64_t j = 0; j < BD * N; j++)
                ck_assert_msg(pk.last[j] == al.last[j], "%s: last_state[%ld] %.9g vs %.9g", what,
                              (long)j, (double)pk.last[j], (double)al.last[j]);
        for (int64_t j = 0; j < D * N; j++)
            sumA[j] += al.dA[j];
        for (int64_t j = 0; j < D; j++)
            sumD[j] += al.dD[j], sumb[j] += al.dbias[j];
        scan_result_free(&al);
        scan_cut_free(&q);
    }
    double e = rel_err(pk.dA, sumA, (size_t)(D * N));
    ck_assert_msg(e < SUM_TOL, "%s: dA vs the sum over segments alone: rel err %g", what, e);
    if (p.Dskip) {
        e = rel_err(pk.dD, sumD, (size_t)D);
        ck_assert_msg(e < SUM_TOL, "%s: dD: rel err %g", what, e);
    }
    if (p.bias) {
        e = rel_err(pk.dbias, sumb, (size_t)D);
        ck_assert_msg(e < SUM_TOL, "%s: ddelta_bias: rel err %g", what, e);
    }
    free(sumA), free(sumD), free(sumb);
    scan_result_free(&pk);
    scan_problem_free(&p);
}

static const int64_t LENS_MAIN[] = {1, 2, 7, 64, 65, 130}; // starts 0 1 3 10 74 139, T 269
static const int64_t LENS_ON_CHUNKS[] = {64, 64, 1, 63, 2, 3}; // starts 0 64 128 129 192 194
static const int64_t LENS_ONES[] = {1, 1, 1, 1, 1, 1, 1, 1, 3, 1};

START_TEST(scan_segments_equal_segments_alone) {
    const int saved = omp_get_max_threads();
    for (int nt = 1; nt <= 2; nt++) { // one or several channel blocks per group (dB/dC partials)
        omp_set_num_threads(nt);
        const int opt_sets[] = {OPT_ALL, OPT_SOFTPLUS | OPT_D | OPT_BIAS, 0, OPT_SOFTPLUS | OPT_Z};
        for (int o = 0; o < 4; o++) {
            // chunk 5: starts on (10) and beside multiples; 64: the forward tile; 1: every step
            const int64_t chunks[] = {5, 64, 1};
            for (int c = 0; c < 3; c++)
                scan_case(2, 40, 6, 1, chunks[c], opt_sets[o], LENS_MAIN, 6, 100 + (uint64_t)o);
            scan_case(2, 40, 16, 2, 64, opt_sets[o], LENS_ON_CHUNKS, 6, 200 + (uint64_t)o);
            scan_case(1, 20, 19, 1, 3, opt_sets[o], LENS_ONES, 10, 300 + (uint64_t)o);
        }
        scan_case(1, 16, 16, 1, 64, OPT_ALL, LENS_MAIN + 5, 1, 400); // one segment
    }
    omp_set_num_threads(saved);
}
END_TEST

START_TEST(scan_one_segment_equals_unsegmented) {
    // seg_offsets {0, L} is the plain row: every result bit for bit
    const int64_t L = 150, off[2] = {0, L};
    uint64_t st = 9;
    const scan_shape sh = {.B = 2, .D = 24, .L = L, .N = 16, .G = 1, .chunk = 64,
                           .delta_softplus = 1};
    scan_problem p = scan_problem_draw(sh, OPT_ALL, 1, &st);
    const size_t BDL = (size_t)(2 * 24 * L), BGNL = (size_t)(2 * 16 * L);
    scan_result a, b;
    scan_run(&a, &p);
    p.s.seg_offsets = off;
    p.s.n_segs = 1;
    scan_run(&b, &p);
    ck_assert(!memcmp(a.out, b.out, sizeof(real) * BDL));
    ck_assert(!memcmp(a.du, b.du, sizeof(real) * BDL));
    ck_assert(!memcmp(a.ddelta, b.ddelta, sizeof(real) * BDL));
    ck_assert(!memcmp(a.dz, b.dz, sizeof(real) * BDL));
    ck_assert(!memcmp(a.dA, b.dA, sizeof(real) * 24 * 16));
    ck_assert(!memcmp(a.dB, b.dB, sizeof(real) * BGNL));
    ck_assert(!memcmp(a.dC, b.dC, sizeof(real) * BGNL));
    ck_assert(!memcmp(a.dD, b.dD, sizeof(real) * 24));
    ck_assert(!memcmp(a.dbias, b.dbias, sizeof(real) * 24));
    scan_result_free(&a), scan_result_free(&b);
    scan_problem_free(&p);
}
END_TEST

// ---------------------------------------------------------------- conv1d

static void conv_case(int64_t B, int64_t C, int64_t K, int silu, int with_bias, const int64_t *len,
                      int n_segs, uint64_t seed) {
    int64_t off[64];
    const int64_t T = make_offsets(off, len, n_segs), R = B * C;
    uint64_t st = seed;
    real *x = tu_new_uniform((size_t)(R * T), -1, 1, &st),
         *dout = tu_new_uniform((size_t)(R * T), -1, 1, &st);
    real *w = tu_new_uniform((size_t)(C * K), -0.5, 0.5, &st);
    real *bias = with_bias ? tu_new_uniform((size_t)C, -0.2, 0.2, &st) : NULL;
    real *out = tu_new_zeros((size_t)(R * T)), *dx = tu_new_uniform((size_t)(R * T), -1, 1, &st);
    real *dw = tu_new_zeros((size_t)(C * K)), *db = tu_new_zeros((size_t)C);
    real *dx0 = malloc(sizeof(real) * (size_t)(R * T));
    memcpy(dx0, dx, sizeof(real) * (size_t)(R * T)); // dx accumulates onto a nonzero start
    conv1d_causal_forward(out, x, w, bias, B, C, T, K, silu, off, n_segs);
    conv1d_causal_backward(dx, dw, db, dout, x, w, bias, B, C, T, K, silu, off, n_segs);
    real *sw = tu_new_zeros((size_t)(C * K)), *sb = tu_new_zeros((size_t)C);
    char what[96];
    snprintf(what, sizeof what, "conv B=%ld C=%ld K=%ld silu=%d bias=%d segs=%d", (long)B, (long)C,
             (long)K, silu, with_bias, n_segs);
    for (int i = 0; i < n_segs; i++) {
        const int64_t t0 = off[i], n = len[i];
        real *xs = malloc(sizeof(real) * (size_t)(R * n)), *ds = malloc(sizeof(real) * (size_t)(R * n));
        real *os = tu_new_zeros((size_t)(R * n)), *dxs = malloc(sizeof(real) * (size_t)(R * n));
        cut(xs, x, R, T, t0, n), cut(ds, dout, R, T, t0, n), cut(dxs, dx0, R, T, t0, n);
        conv1d_causal_forward(os, xs, w, bias, B, C, n, K, silu, NULL, 0);
        conv1d_causal_backward(dxs, sw, with_bias ? sb : NULL, ds, xs, w, bias, B, C, n, K, silu,
                               NULL, 0);
        int64_t bad = cols_differ(out, os, R, T, t0, n);
        ck_assert_msg(bad < 0, "%s: segment %d: out at %ld differs from the segment alone", what, i,
                      (long)bad);
        bad = cols_differ(dx, dxs, R, T, t0, n);
        ck_assert_msg(bad < 0, "%s: segment %d: dx at %ld differs from the segment alone", what, i,
                      (long)bad);
        free(xs), free(ds), free(os), free(dxs);
    }
    double e = tu_rel_err(dw, sw, (size_t)(C * K));
    ck_assert_msg(e < SUM_TOL, "%s: dw vs the sum over segments alone: rel err %g", what, e);
    if (with_bias) {
        e = tu_rel_err(db, sb, (size_t)C);
        ck_assert_msg(e < SUM_TOL, "%s: dbias: rel err %g", what, e);
    }
    free(x), free(dout), free(w), free(bias), free(out), free(dx), free(dw), free(db), free(dx0);
    free(sw), free(sb);
}

START_TEST(conv_segments_equal_segments_alone) {
    static const int64_t LENS_TILE[] = {3, 300, 2, 257}; // across the K=4 tile (256)
    const int saved = omp_get_max_threads();
    for (int nt = 1; nt <= 2; nt++) {
        omp_set_num_threads(nt);
        for (int silu = 0; silu <= 1; silu++)
            for (int bias = 0; bias <= 1; bias++) {
                const int64_t Ks[] = {4, 3, 6, 1}; // Mamba's width, the generic path, K > 4, K = 1
                for (int k = 0; k < 4; k++) {
                    conv_case(2, 5, Ks[k], silu, bias, LENS_MAIN, 6, 10 + (uint64_t)k);
                    conv_case(1, 3, Ks[k], silu, bias, LENS_ONES, 10, 20 + (uint64_t)k);
                }
                conv_case(2, 4, 4, silu, bias, LENS_TILE, 4, 30);
                conv_case(1, 40, 4, silu, bias, LENS_ON_CHUNKS, 6, 31); // > R_PAR_MIN: threaded
            }
    }
    omp_set_num_threads(saved);
}
END_TEST

START_TEST(conv_one_segment_equals_unsegmented) {
    const int64_t T = 300, off[2] = {0, T}, B = 2, C = 6, K = 4, n = B * C * T;
    uint64_t st = 77;
    real *x = tu_new_uniform((size_t)n, -1, 1, &st), *dout = tu_new_uniform((size_t)n, -1, 1, &st);
    real *w = tu_new_uniform((size_t)(C * K), -0.5, 0.5, &st),
         *bias = tu_new_uniform((size_t)C, -0.2, 0.2, &st);
    real *o1 = tu_new_zeros((size_t)n), *o2 = tu_new_zeros((size_t)n);
    real *g1 = tu_new_zeros((size_t)(n + C * K + C)), *g2 = tu_new_zeros((size_t)(n + C * K + C));
    conv1d_causal_forward(o1, x, w, bias, B, C, T, K, 1, NULL, 0);
    conv1d_causal_forward(o2, x, w, bias, B, C, T, K, 1, off, 1);
    conv1d_causal_backward(g1, g1 + n, g1 + n + C * K, dout, x, w, bias, B, C, T, K, 1, NULL, 0);
    conv1d_causal_backward(g2, g2 + n, g2 + n + C * K, dout, x, w, bias, B, C, T, K, 1, off, 1);
    ck_assert(!memcmp(o1, o2, sizeof(real) * (size_t)n));
    ck_assert(!memcmp(g1, g2, sizeof(real) * (size_t)(n + C * K + C)));
    free(x), free(dout), free(w), free(bias), free(o1), free(o2), free(g1), free(g2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("kernels_packed");
    TCase *tc = tcase_create("kernels_packed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, scan_segments_equal_segments_alone);
    tcase_add_test(tc, scan_one_segment_equals_unsegmented);
    tcase_add_test(tc, conv_segments_equal_segments_alone);
    tcase_add_test(tc, conv_one_segment_equals_unsegmented);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
