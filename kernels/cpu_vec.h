// defines: vr, V_W, v_ld, v_st, v_set1, v_zero, v_add, v_mul, v_fma, v_exp, v_exp2, v_hsum,
//          v_tile_from_rows, v_rows_from_tile
// One 64-byte vector of reals (16 float or 8 double) for the CPU kernels
// that vectorize across channels (kernels/scan.c; private to kernels/*.c).
// With AVX-512 in the float build it is a __m512 and the operations are
// single instructions; otherwise a struct of V_W reals with loops the
// compiler unrolls (the double build, which the gradient checks use, and
// machines without AVX-512). Both compute the same math per lane, so the
// kernels have one algorithm and one set of tests.
#pragma once
#include <stdint.h>
#include <string.h>

#include "kernels/cpu_math.h"

#define V_W (64 / (int)sizeof(real))

#if defined(__AVX512F__) && !REAL_IS_DOUBLE
#include <immintrin.h>
#define V_AVX512 1
typedef __m512 vr;
static inline vr v_ld(const real *p) { return _mm512_loadu_ps(p); }
static inline void v_st(real *p, vr a) { _mm512_storeu_ps(p, a); }
static inline vr v_set1(real a) { return _mm512_set1_ps(a); }
static inline vr v_zero(void) { return _mm512_setzero_ps(); }
static inline vr v_add(vr a, vr b) { return _mm512_add_ps(a, b); }
static inline vr v_mul(vr a, vr b) { return _mm512_mul_ps(a, b); }
static inline vr v_fma(vr a, vr b, vr c) { return _mm512_fmadd_ps(a, b, c); } // a*b + c
static inline real v_hsum(vr a) { return _mm512_reduce_add_ps(a); }

// r_fexp of every lane, with the same steps (so the same bits where the
// result is a normal float): k = round(x / ln2) by roundscale, Cody-Waite
// reduction, the degree-7 polynomial, and 2^k applied by scalef; lanes
// below -87 give 0 (masked), NaN propagates (max/min return the second
// operand on NaN, and the unordered compare keeps the lane).
static inline vr v_exp(vr x) {
    __m512 xc = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
    xc = _mm512_min_ps(_mm512_set1_ps(88.0f), xc);
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 nk = _mm512_sub_ps(_mm512_setzero_ps(), k);
    const __m512 r = _mm512_fmadd_ps(nk, _mm512_set1_ps(1.428606765330187e-06f),
                                     _mm512_fmadd_ps(nk, _mm512_set1_ps(0.693145751953125f), xc));
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    const __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_NLT_UQ);
    return _mm512_maskz_scalef_ps(keep, p, k);
}

// 2^x of every lane, for arguments already in base 2 (the scan scales A by
// log2(e) once, which saves the multiply and the two-constant reduction of
// v_exp): k = round(x), r = x - k (exact), 2^r by a degree-6 polynomial
// (Chebyshev fit on [-1/2, 1/2], relative error 2.5e-9, below float
// rounding), 2^k by scalef, which also takes any large negative x to 0 with
// no clamp (x = -inf gives NaN). The float result is within 2 ulps of 2^x.
static inline vr v_exp2(vr x) {
    const __m512 k = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 r = _mm512_sub_ps(x, k);
    __m512 p = _mm512_set1_ps(1.546144469856913e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3400428177615838e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(9.618056678524637e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.550327226670302e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.24022650922288757f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.6931472067028326f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

// In-register transpose of a 16 x 16 block: r[i] lane j <-> r[j] lane i.
static inline void v_transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4)
        for (int j = 0; j < 2; j++) {
            const __m512d a = _mm512_castps_pd(t[i + j]), b = _mm512_castps_pd(t[i + j + 2]);
            r[i + 2 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
            r[i + 2 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        }
    for (int i = 0; i < 16; i += 8)
        for (int j = 0; j < 4; j++) {
            t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
            t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
    }
}

// tile[i*16 + w] = rows[w*ld + i] + add[w] for i, w < 16 (add may be NULL)
static inline void v_tile_from_rows(real *restrict tile, const real *restrict rows, int64_t ld,
                                    const real *add) {
    __m512 r[16];
    for (int w = 0; w < 16; w++)
        r[w] = _mm512_loadu_ps(rows + w * ld);
    v_transpose16(r);
    const __m512 a = add ? _mm512_loadu_ps(add) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i++)
        _mm512_storeu_ps(tile + i * 16, add ? _mm512_add_ps(r[i], a) : r[i]);
}

// rows[w*ld + i] (+)= tile[i*16 + w] for i, w < 16
static inline void v_rows_from_tile(real *restrict rows, int64_t ld, const real *restrict tile,
                                    int accumulate) {
    __m512 r[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(tile + i * 16);
    v_transpose16(r);
    for (int w = 0; w < 16; w++)
        _mm512_storeu_ps(rows + w * ld,
                         accumulate ? _mm512_add_ps(_mm512_loadu_ps(rows + w * ld), r[w]) : r[w]);
}

#else // portable: V_W lanes in a struct, per-lane loops

typedef struct {
    real v[V_W];
} vr;
static inline vr v_ld(const real *p) {
    vr r;
    memcpy(r.v, p, sizeof r.v);
    return r;
}
static inline void v_st(real *p, vr a) { memcpy(p, a.v, sizeof a.v); }
static inline vr v_set1(real a) {
    vr r;
    for (int i = 0; i < V_W; i++)
        r.v[i] = a;
    return r;
}
static inline vr v_zero(void) { return v_set1(0); }
static inline vr v_add(vr a, vr b) {
    for (int i = 0; i < V_W; i++)
        a.v[i] += b.v[i];
    return a;
}
static inline vr v_mul(vr a, vr b) {
    for (int i = 0; i < V_W; i++)
        a.v[i] *= b.v[i];
    return a;
}
static inline vr v_fma(vr a, vr b, vr c) {
    for (int i = 0; i < V_W; i++)
        c.v[i] = r_fma(a.v[i], b.v[i], c.v[i]);
    return c;
}
static inline real v_hsum(vr a) {
    real s = 0;
    for (int i = 0; i < V_W; i++)
        s += a.v[i];
    return s;
}
static inline vr v_exp(vr x) {
    for (int i = 0; i < V_W; i++)
        x.v[i] = r_fexp(x.v[i]);
    return x;
}
static inline vr v_exp2(vr x) {
    for (int i = 0; i < V_W; i++)
#if REAL_IS_DOUBLE
        x.v[i] = exp2(x.v[i]);
#else
        x.v[i] = r_fexp(x.v[i] * 0.693147180559945309f);
#endif
    return x;
}
static inline void v_tile_from_rows(real *restrict tile, const real *restrict rows, int64_t ld,
                                    const real *add) {
    for (int w = 0; w < V_W; w++)
        for (int i = 0; i < V_W; i++)
            tile[i * V_W + w] = rows[w * ld + i] + (add ? add[w] : 0);
}
static inline void v_rows_from_tile(real *restrict rows, int64_t ld, const real *restrict tile,
                                    int accumulate) {
    for (int w = 0; w < V_W; w++)
        for (int i = 0; i < V_W; i++)
            rows[w * ld + i] = accumulate ? rows[w * ld + i] + tile[i * V_W + w] : tile[i * V_W + w];
}
#endif
