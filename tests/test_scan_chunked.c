// Check suite: a CPU model of the CUDA chunked selective scan (kernels/cuda/scan_chunked.cuh)
// against the sequential CPU scan (kernels/scan.c, scan_backward.c). The model runs the
// same three passes per direction on the same buffers: pass 1 writes each time chunk's end
// state (from zero) and its decay into the forward's chunk_states, at the checkpoints the
// GPU uses (the end of the chunk, and the one before it); pass 2 carries in place; pass 3
// re-runs each time chunk from its checkpoint and overwrites only its interior checkpoints.
// The backward carries the adjoint across time chunks through [K][B, D, N] buffers and sums
// dA, dD, ddelta_bias per (b, time chunk) in the GPU's order. Packed rows set the decay to 0
// at a sequence start. The time chunks of passes 1 and 3 run in scrambled order (they are
// parallel blocks on the GPU): the bits must not change, so no chunk reads what another
// chunk of the same pass writes. Not a library path: the CPU scan parallelises over channels
// and has no use for it.
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/scan.h"
#include "tests/util/testutil.h"

typedef struct {
    scan_shape s;
    real *u, *delta, *A, *Bm, *Cm, *Dskip, *z, *bias, *dout;
    int64_t *seg; // packed rows: offsets [n_segs + 1] or NULL
} problem;

enum { O_SOFTPLUS = 1, O_D = 2, O_Z = 4, O_BIAS = 8, O_ALL = 15 };

static real *fill(size_t n, double lo, double hi, uint64_t *st) {
    real *x = malloc(sizeof(real) * (n ? n : 1));
    tu_fill_uniform(x, n, lo, hi, st);
    return x;
}

static problem make(int64_t B, int64_t D, int64_t L, int64_t N, int64_t G, int64_t chunk,
                    int opts, uint64_t seed) {
    problem p = {.s = {.B = B, .D = D, .L = L, .N = N, .G = G, .chunk = chunk,
                       .delta_softplus = !!(opts & O_SOFTPLUS)}};
    uint64_t st = seed;
    const size_t BDL = (size_t)(B * D * L), BGNL = (size_t)(B * G * N * L);
    p.u = fill(BDL, -1, 1, &st);
    p.delta = opts & O_SOFTPLUS ? fill(BDL, -1.5, 1.0, &st) : fill(BDL, 0.05, 0.8, &st);
    // A log-uniform in [-2, -0.001]: the slow states carry over many time chunks (with only
    // fast ones a carry that went wrong would vanish in the decay)
    p.A = fill((size_t)(D * N), log(0.001), log(2.0), &st);
    for (int64_t i = 0; i < D * N; i++)
        p.A[i] = -expf(p.A[i]);
    p.Bm = fill(BGNL, -1, 1, &st);
    p.Cm = fill(BGNL, -1, 1, &st);
    p.Dskip = opts & O_D ? fill((size_t)D, -1, 1, &st) : NULL;
    p.z = opts & O_Z ? fill(BDL, -2, 2, &st) : NULL;
    p.bias = opts & O_BIAS ? fill((size_t)D, -0.5, 0.5, &st) : NULL;
    p.dout = fill(BDL, -1, 1, &st);
    return p;
}

static void set_segments(problem *p, const int64_t *offs, int64_t n_segs) {
    p->seg = malloc(sizeof(int64_t) * (size_t)(n_segs + 1));
    memcpy(p->seg, offs, sizeof(int64_t) * (size_t)(n_segs + 1));
    p->s.seg_offsets = p->seg;
    p->s.n_segs = n_segs;
}

static void release(problem *p) {
    free(p->u), free(p->delta), free(p->A), free(p->Bm), free(p->Cm), free(p->Dskip);
    free(p->z), free(p->bias), free(p->dout), free(p->seg);
}

// ---------------------------------------------------------------------------- the model
static real sp(real x) { return x <= 20 ? log1pf(expf(x)) : x; }
static real sigm(real x) { return 1 / (1 + expf(-x)); }

static real dt_at(const problem *p, int64_t b, int64_t d, int64_t t) {
    const scan_shape *s = &p->s;
    const real v = p->delta[(b * s->D + d) * s->L + t] + (p->bias ? p->bias[d] : 0);
    return s->delta_softplus ? sp(v) : v;
}

// 1 where step t starts a packed sequence (offsets 1 .. n_segs - 1: step 0 starts from zero
// anyway), as the GPU's scan_seg_starts.
static char *starts_of(const scan_shape *s) {
    char *m = calloc((size_t)s->L, 1);
    for (int64_t i = 1; s->seg_offsets && i < s->n_segs; i++)
        m[s->seg_offsets[i]] = 1;
    return m;
}

// The i-th time chunk a pass visits: in order, or scrambled (odd ones backwards, then even).
static int64_t visit(int64_t i, int64_t n, int scramble) {
    if (!scramble)
        return i;
    const int64_t odd = n / 2; // chunks 1, 3, 5, ...
    return i < odd ? 2 * (odd - 1 - i) + 1 : 2 * (i - odd);
}

// Forward, three passes. cs: [B, D, n_chunks, N] (also the carries' scratch).
static void model_forward(real *out, real *last, real *cs, const problem *p, int64_t tc,
                          int scramble) {
    const scan_shape *s = &p->s;
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, ch = s->chunk;
    const int64_t nc = scan_n_chunks(s), K = (L + tc - 1) / tc, R = tc / ch;
    char *st = starts_of(s);
    real *h = malloc(sizeof(real) * (size_t)N);
    // pass 1: time chunks 0 .. K-2 from zero; E_k at checkpoint (k+1)R, P_k at (k+1)R - 1
    for (int64_t i = 0; i < K - 1; i++) {
        const int64_t k = visit(i, K - 1, scramble), t0 = k * tc, t1 = t0 + tc;
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) {
                const int64_t g = d / (D / G);
                const real *Bg = p->Bm + (b * G + g) * N * L;
                real S = 0;
                int any = 0;
                memset(h, 0, sizeof(real) * (size_t)N);
                for (int64_t t = t0; t < t1; t++) {
                    const real dt = dt_at(p, b, d, t), x = dt * p->u[(b * D + d) * L + t];
                    S += dt;
                    any |= st[t];
                    for (int64_t n = 0; n < N; n++)
                        h[n] = (st[t] ? 0 : expf(dt * p->A[d * N + n])) * h[n] + x * Bg[n * L + t];
                }
                real *c = cs + (b * D + d) * nc * N;
                for (int64_t n = 0; n < N; n++) {
                    c[(k + 1) * R * N + n] = h[n];
                    c[((k + 1) * R - 1) * N + n] = any ? 0 : expf(p->A[d * N + n] * S);
                }
            }
    }
    // pass 2: H_{k+1} = P_k H_k + E_k in place of E_k
    for (int64_t bd = 0; bd < B * D; bd++)
        for (int64_t n = 0; n < N; n++) {
            real *c = cs + bd * nc * N + n, H = 0;
            for (int64_t k = 0; k < K - 1; k++) {
                H = c[((k + 1) * R - 1) * N] * H + c[(k + 1) * R * N];
                c[(k + 1) * R * N] = H;
            }
        }
    // pass 3: each time chunk from its entering state; interior checkpoints only
    for (int64_t i = 0; i < K; i++) {
        const int64_t k = visit(i, K, scramble), t0 = k * tc, t1 = t0 + tc < L ? t0 + tc : L;
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) {
                const int64_t g = d / (D / G), row = (b * D + d) * L;
                const real *Bg = p->Bm + (b * G + g) * N * L, *Cg = p->Cm + (b * G + g) * N * L;
                real *c = cs + (b * D + d) * nc * N;
                for (int64_t n = 0; n < N; n++) {
                    h[n] = k ? c[k * R * N + n] : 0;
                    if (!k)
                        c[n] = 0;
                }
                for (int64_t t = t0; t < t1; t++) {
                    const real dt = dt_at(p, b, d, t), uu = p->u[row + t];
                    real y = 0;
                    for (int64_t n = 0; n < N; n++) {
                        h[n] = (st[t] ? 0 : expf(dt * p->A[d * N + n])) * h[n] +
                               dt * uu * Bg[n * L + t];
                        y += Cg[n * L + t] * h[n];
                    }
                    if ((t + 1) % ch == 0 && t + 1 < t1)
                        memcpy(c + (t + 1) / ch * N, h, sizeof(real) * (size_t)N);
                    real o = y + (p->Dskip ? p->Dskip[d] : 0) * uu;
                    if (p->z)
                        o *= p->z[row + t] * sigm(p->z[row + t]);
                    out[row + t] = o;
                }
                if (t1 == L && last)
                    memcpy(last + (b * D + d) * N, h, sizeof(real) * (size_t)N);
            }
    }
    free(h), free(st);
}

// Backward, three passes; gradients accumulate (+=) as the library's do. cs: the forward's.
static void model_backward(real *du, real *ddelta, real *dA, real *dB, real *dC, real *dD,
                           real *dz, real *ddb, const real *cs, const problem *p, int64_t tc,
                           int scramble) {
    const scan_shape *s = &p->s;
    const int64_t B = s->B, D = s->D, L = s->L, N = s->N, G = s->G, ch = s->chunk;
    const int64_t nc = scan_n_chunks(s), K = (L + tc - 1) / tc, R = tc / ch, BDN = B * D * N;
    char *st = starts_of(s);
    real *E = calloc((size_t)(K * BDN), sizeof(real)), *Pr = calloc((size_t)(K * BDN), sizeof(real));
    real *pA = calloc((size_t)(K * BDN), sizeof(real)), *pD = calloc((size_t)(K * B * D), sizeof(real));
    real *pdb = calloc((size_t)(K * B * D), sizeof(real));
    real *Gn = malloc(sizeof(real) * (size_t)N), *hs = malloc(sizeof(real) * (size_t)((ch + 1) * N));
    real *at = malloc(sizeof(real) * (size_t)(ch * N));
    // pass 1: time chunks 1 .. K-1, the adjoint from zero at their end to their start
    for (int64_t i = 0; i < K - 1; i++) {
        const int64_t k = visit(i, K - 1, scramble) + 1, t0 = k * tc;
        const int64_t t1 = t0 + tc < L ? t0 + tc : L;
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) {
                const int64_t g = d / (D / G), row = (b * D + d) * L;
                const real *Cg = p->Cm + (b * G + g) * N * L;
                real S = 0;
                int any = 0;
                memset(Gn, 0, sizeof(real) * (size_t)N);
                for (int64_t t = t1 - 1; t >= t0; t--) {
                    const real dt = dt_at(p, b, d, t);
                    real dy = p->dout[row + t];
                    if (p->z)
                        dy = dy * p->z[row + t] * sigm(p->z[row + t]);
                    S += dt;
                    any |= st[t];
                    for (int64_t n = 0; n < N; n++)
                        Gn[n] = (st[t] ? 0 : expf(dt * p->A[d * N + n])) *
                                (Cg[n * L + t] * dy + Gn[n]);
                }
                for (int64_t n = 0; n < N; n++) {
                    E[k * BDN + (b * D + d) * N + n] = Gn[n];
                    Pr[k * BDN + (b * D + d) * N + n] = any ? 0 : expf(p->A[d * N + n] * S);
                }
            }
    }
    // pass 2: E[k] becomes the adjoint entering time chunk k from its right
    for (int64_t j = 0; j < BDN; j++) {
        real Gc = 0;
        for (int64_t k = K - 1; k >= 1; k--) {
            const real e = E[k * BDN + j];
            E[k * BDN + j] = Gc;
            Gc = Pr[k * BDN + j] * Gc + e;
        }
        E[j] = Gc;
    }
    // pass 3: each time chunk's checkpoint chunks, last first, from the carried adjoint
    for (int64_t i = 0; i < K; i++) {
        const int64_t k = visit(i, K, scramble);
        const int64_t c_end = (k + 1) * R < nc ? (k + 1) * R : nc;
        for (int64_t b = 0; b < B; b++)
            for (int64_t d = 0; d < D; d++) {
                const int64_t g = d / (D / G), row = (b * D + d) * L;
                const real *Bg = p->Bm + (b * G + g) * N * L, *Cg = p->Cm + (b * G + g) * N * L;
                real *dBg = dB + (b * G + g) * N * L, *dCg = dC + (b * G + g) * N * L;
                const real Dd = p->Dskip ? p->Dskip[d] : 0;
                memcpy(Gn, E + k * BDN + (b * D + d) * N, sizeof(real) * (size_t)N);
                real *pa = pA + ((b * K + k) * D + d) * N;
                for (int64_t c = c_end - 1; c >= k * R; c--) {
                    const int64_t ts0 = c * ch, tl = ts0 + ch < L ? ch : L - ts0;
                    memcpy(hs, cs + ((b * D + d) * nc + c) * N, sizeof(real) * (size_t)N);
                    for (int64_t q = 0; q < tl; q++) {
                        const int64_t t = ts0 + q;
                        const real dt = dt_at(p, b, d, t), x = dt * p->u[row + t];
                        for (int64_t n = 0; n < N; n++) {
                            at[q * N + n] = st[t] ? 0 : expf(dt * p->A[d * N + n]);
                            hs[(q + 1) * N + n] = at[q * N + n] * hs[q * N + n] + x * Bg[n * L + t];
                        }
                    }
                    for (int64_t q = tl - 1; q >= 0; q--) {
                        const int64_t t = ts0 + q;
                        const real dt = dt_at(p, b, d, t), uu = p->u[row + t], go = p->dout[row + t];
                        real y = Dd * uu;
                        for (int64_t n = 0; n < N; n++)
                            y += Cg[n * L + t] * hs[(q + 1) * N + n];
                        real dy = go;
                        if (p->z) {
                            const real zz = p->z[row + t], sg = sigm(zz);
                            if (dz)
                                dz[row + t] += go * y * sg * (1 + zz * (1 - sg));
                            dy = go * zz * sg;
                        }
                        pD[(b * K + k) * D + d] += dy * uu;
                        real dua = Dd * dy, ddt = 0;
                        for (int64_t n = 0; n < N; n++) {
                            const real gg = Cg[n * L + t] * dy + Gn[n], ga = gg * at[q * N + n];
                            const real hp = hs[q * N + n];
                            pa[n] += ga * hp * dt;
                            ddt += ga * hp * p->A[d * N + n] + gg * Bg[n * L + t] * uu;
                            dua += gg * dt * Bg[n * L + t];
                            dBg[n * L + t] += gg * dt * uu;
                            dCg[n * L + t] += dy * hs[(q + 1) * N + n];
                            Gn[n] = ga;
                        }
                        if (s->delta_softplus)
                            ddt *= sigm(p->delta[row + t] + (p->bias ? p->bias[d] : 0));
                        pdb[(b * K + k) * D + d] += ddt;
                        du[row + t] += dua;
                        ddelta[row + t] += ddt;
                    }
                }
            }
    }
    // the partials summed over (b, time chunk) rows in order, as scan_reduce_batch_kernel
    for (int64_t d = 0; d < D; d++) {
        real sd = 0, sb = 0;
        for (int64_t r = 0; r < B * K; r++)
            sd += pD[r * D + d], sb += pdb[r * D + d];
        if (dD)
            dD[d] += sd;
        if (ddb)
            ddb[d] += sb;
        for (int64_t n = 0; n < N; n++) {
            real sa = 0;
            for (int64_t r = 0; r < B * K; r++)
                sa += pA[(r * D + d) * N + n];
            dA[d * N + n] += sa;
        }
    }
    free(st), free(E), free(Pr), free(pA), free(pD), free(pdb), free(Gn), free(hs), free(at);
}

// ---------------------------------------------------------------------------- the checks
static void expect_close(const char *what, const real *got, const real *ref, size_t n,
                         double tol) {
    const double e = tu_rel_err(got, ref, n);
    fprintf(stderr, "  %-12s rel err %.2g\n", what, e);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
}

// The model (time chunks of tc steps) against the sequential scan, forward and backward;
// and the model with its chunks in scrambled order against itself, bit for bit.
static void check_case(problem *p, int64_t tc) {
    const scan_shape *s = &p->s;
    fprintf(stderr, "B=%lld D=%lld L=%lld N=%lld G=%lld chunk=%lld tchunk=%lld segs=%lld:\n",
            (long long)s->B, (long long)s->D, (long long)s->L, (long long)s->N, (long long)s->G,
            (long long)s->chunk, (long long)tc, (long long)(s->seg_offsets ? s->n_segs : 1));
    const size_t BDL = (size_t)(s->B * s->D * s->L), BGNL = (size_t)(s->B * s->G * s->N * s->L);
    const size_t BDN = (size_t)(s->B * s->D * s->N), DN = (size_t)(s->D * s->N), D = (size_t)s->D;
    const size_t ncs = selective_scan_chunk_states_size(s);
    ck_assert_int_eq(tc % s->chunk, 0);
    ck_assert(tc >= 2 * s->chunk && s->L > tc);
    real *out = malloc(sizeof(real) * BDL), *last = malloc(sizeof(real) * BDN);
    real *cs = malloc(sizeof(real) * ncs);
    selective_scan_forward(out, last, cs, p->u, p->delta, p->A, p->Bm, p->Cm, p->Dskip, p->z,
                           p->bias, s);
    real *m_out = malloc(sizeof(real) * BDL), *m_last = malloc(sizeof(real) * BDN);
    real *m_cs = malloc(sizeof(real) * ncs);
    for (size_t i = 0; i < ncs; i++)
        m_cs[i] = NAN; // every checkpoint must end written with its state
    for (size_t i = 0; i < BDL; i++)
        m_out[i] = NAN;
    model_forward(m_out, m_last, m_cs, p, tc, 0);
    expect_close("out", m_out, out, BDL, 2e-5);
    expect_close("last_state", m_last, last, BDN, 2e-5);
    // A checkpoint where a packed sequence starts holds, on the GPU and in the model, the
    // state before that step (the last one of the previous sequence, which the step's zero
    // decay discards), where the CPU stores the state after its reset (0). Both backwards
    // ignore it; compare the others, and require it finite.
    {
        char *st = starts_of(s);
        real *cmp = malloc(sizeof(real) * ncs);
        const int64_t nc = scan_n_chunks(s);
        for (size_t i = 0; i < ncs; i++) {
            const int at_start = st[(int64_t)(i / (size_t)s->N) % nc * s->chunk];
            ck_assert(isfinite(m_cs[i]));
            cmp[i] = at_start ? cs[i] : m_cs[i];
        }
        expect_close("chunk_states", cmp, cs, ncs, 2e-5);
        free(st), free(cmp);
    }
    // the same passes with the time chunks in another order: the same bits
    real *o2 = malloc(sizeof(real) * BDL), *l2 = malloc(sizeof(real) * BDN);
    real *c2 = malloc(sizeof(real) * ncs);
    model_forward(o2, l2, c2, p, tc, 1);
    ck_assert_msg(!memcmp(o2, m_out, sizeof(real) * BDL) && !memcmp(c2, m_cs, sizeof(real) * ncs) &&
                      !memcmp(l2, m_last, sizeof(real) * BDN),
                  "forward depends on the order of the time chunks");

    // backward from zero gradients, the reference from its own chunk states
    real *g[8], *m[8], *m2[8];
    const size_t sz[8] = {BDL, BDL, DN, BGNL, BGNL, D, BDL, D};
    for (int i = 0; i < 8; i++) {
        g[i] = calloc(sz[i], sizeof(real));
        m[i] = calloc(sz[i], sizeof(real));
        m2[i] = calloc(sz[i], sizeof(real));
    }
    real *ws = malloc(sizeof(real) * selective_scan_workspace_size(s, omp_get_max_threads()));
    selective_scan_backward(g[0], g[1], g[2], g[3], g[4], p->Dskip ? g[5] : NULL,
                            p->z ? g[6] : NULL, p->bias ? g[7] : NULL, p->dout, cs, p->u,
                            p->delta, p->A, p->Bm, p->Cm, p->Dskip, p->z, p->bias, ws, s);
    model_backward(m[0], m[1], m[2], m[3], m[4], m[5], p->z ? m[6] : NULL, m[7], m_cs, p, tc, 0);
    static const char *names[8] = {"du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias"};
    for (int i = 0; i < 8; i++) {
        if ((i == 5 && !p->Dskip) || (i == 6 && !p->z) || (i == 7 && !p->bias))
            continue;
        expect_close(names[i], m[i], g[i], sz[i], 5e-5);
    }
    model_backward(m2[0], m2[1], m2[2], m2[3], m2[4], m2[5], p->z ? m2[6] : NULL, m2[7], m_cs, p,
                   tc, 1);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(!memcmp(m2[i], m[i], sizeof(real) * sz[i]),
                      "%s depends on the order of the time chunks", names[i]);
    for (int i = 0; i < 8; i++)
        free(g[i]), free(m[i]), free(m2[i]);
    free(ws), free(out), free(last), free(cs), free(m_out), free(m_last), free(m_cs);
    free(o2), free(l2), free(c2);
}

// L far beyond one time chunk; tc not dividing L; the smallest tc (two checkpoint chunks);
// odd N, G = 2, every option.
START_TEST(model_matches_sequential_small_tc) {
    problem p = make(2, 6, 3001, 5, 2, 16, O_ALL, 101);
    check_case(&p, 32); // 94 time chunks, the last one 25 steps
    release(&p);
}
END_TEST

// tc dividing L, checkpoint chunk 64 (the GPU's), N = 16, no bias or D skip
START_TEST(model_matches_sequential_dividing) {
    problem p = make(1, 4, 4096, 16, 1, 64, O_SOFTPLUS | O_Z, 102);
    check_case(&p, 512);
    release(&p);
}
END_TEST

// a long row, 20 time chunks of 1024 and a partial one; no softplus (dt = delta)
START_TEST(model_matches_sequential_long) {
    problem p = make(1, 3, 20000, 8, 1, 64, O_D | O_Z | O_BIAS, 103);
    check_case(&p, 1024);
    release(&p);
}
END_TEST

// two time chunks, the second of one step
START_TEST(model_matches_sequential_one_step_tail) {
    problem p = make(1, 2, 129, 4, 1, 32, O_ALL, 104);
    check_case(&p, 128);
    release(&p);
}
END_TEST

// Packed rows: sequences starting at a time chunk's first step (64, 128, 4992), inside one
// (100), at a checkpoint inside one (80), one step long (1, 1000) and at the last step (4999);
// several time chunks without a start, and chunks with more than one.
START_TEST(model_matches_sequential_packed) {
    problem p = make(2, 4, 5000, 8, 2, 16, O_ALL, 105);
    const int64_t offs[] = {0, 1, 2, 63, 64, 80, 100, 128, 1000, 1001, 2500, 4992, 4999, 5000};
    set_segments(&p, offs, (int64_t)(sizeof offs / sizeof *offs) - 1);
    check_case(&p, 64);
    release(&p);
}
END_TEST

// Packed rows with long sequences (a start only every few time chunks) and a longer chunk:
// the carried state crosses chunks inside a sequence and stops at a start.
START_TEST(model_matches_sequential_packed_long) {
    problem p = make(1, 5, 12000, 16, 1, 64, O_SOFTPLUS | O_Z | O_D, 106);
    const int64_t offs[] = {0, 3000, 3001, 7168, 11999, 12000};
    set_segments(&p, offs, 5);
    check_case(&p, 1024);
    release(&p);
}
END_TEST

int main(void) {
    Suite *su = suite_create("scan_chunked");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, model_matches_sequential_small_tc);
    tcase_add_test(tc, model_matches_sequential_dividing);
    tcase_add_test(tc, model_matches_sequential_long);
    tcase_add_test(tc, model_matches_sequential_one_step_tail);
    tcase_add_test(tc, model_matches_sequential_packed);
    tcase_add_test(tc, model_matches_sequential_packed_long);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
