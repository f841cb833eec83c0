// defines: vr, V_W, v_ld, v_st, v_set1, v_zero, v_add, v_mul, v_fma, v_exp, v_exp2, v_hsum,
//          v_tile_from_rows, v_rows_from_tile, V_ISA
// One vector of reals for the CPU kernels that vectorize across channels
// (kernels/scan.c; private to kernels/*.c). Written once per instruction set
// behind this small interface; which one a file gets is decided by the flags
// it is compiled with, and the Makefile compiles the hot kernels once per CPU
// variant (kernels/cpu_dispatch.h picks one at run time):
//   AVX-512 (float): __m512, 16 lanes, single instructions (roundscale, scalef)
//   AVX2+FMA (float): __m256, 8 lanes; 2^k built in the exponent bits
//   portable: a struct of V_W reals with per-lane loops the compiler unrolls
//     and vectorizes for whatever the target has (SSE2 on baseline x86-64,
//     NEON on aarch64: no intrinsics, so another ISA is a compile flag away);
//     also the double build, which the gradient checks use.
// All compute the same math per lane (the same polynomials), so the kernels
// have one algorithm and one set of tests; V_W differs (16, 8, 16), which
// changes only how channels are grouped, never what a lane computes.
#pragma once
#include <stdint.h>
#include <string.h>

#include "kernels/cpu_math.h"

#if defined(__AVX512F__) && !REAL_IS_DOUBLE
#include <immintrin.h>
#define V_AVX512 1
#define V_ISA "avx512"
#define V_W 16
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

#elif defined(__AVX2__) && defined(__FMA__) && !REAL_IS_DOUBLE
#include <immintrin.h>
#define V_AVX2 1
#define V_ISA "avx2"
#define V_W 8
typedef __m256 vr;
static inline vr v_ld(const real *p) { return _mm256_loadu_ps(p); }
static inline void v_st(real *p, vr a) { _mm256_storeu_ps(p, a); }
static inline vr v_set1(real a) { return _mm256_set1_ps(a); }
static inline vr v_zero(void) { return _mm256_setzero_ps(); }
static inline vr v_add(vr a, vr b) { return _mm256_add_ps(a, b); }
static inline vr v_mul(vr a, vr b) { return _mm256_mul_ps(a, b); }
static inline vr v_fma(vr a, vr b, vr c) { return _mm256_fmadd_ps(a, b, c); } // a*b + c
static inline real v_hsum(vr a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 2^k for integral k in [-127, 127] (as floats): the bits (k + 127) << 23;
// k = -127 gives +0, which is how results below 2^-126 flush to zero here.
static inline __m256 v_pow2i(__m256 k) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
}

// r_fexp of every lane, the same steps and constants as the scalar (so the
// same bits): k = round(x / ln2), Cody-Waite reduction, the degree-7
// polynomial, 2^k in the exponent bits; lanes below -87 give 0, NaN
// propagates (max/min return the second operand on NaN, so x goes second).
static inline vr v_exp(vr x) {
    __m256 xc = _mm256_max_ps(_mm256_set1_ps(-87.0f), x);
    xc = _mm256_min_ps(_mm256_set1_ps(88.0f), xc);
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 nk = _mm256_sub_ps(_mm256_setzero_ps(), k);
    const __m256 r = _mm256_fmadd_ps(nk, _mm256_set1_ps(1.428606765330187e-06f),
                                     _mm256_fmadd_ps(nk, _mm256_set1_ps(0.693145751953125f), xc));
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256 e = _mm256_mul_ps(p, v_pow2i(k));
    const __m256 low = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ); // NaN: not low
    return _mm256_andnot_ps(low, e);
}

// 2^x of every lane (the scan's base-2 exponents): the same degree-6
// polynomial as the AVX-512 version on r = x - round(x); x is clamped to
// [-127, 127] first, so arguments below -126 give 0 instead of a denormal
// (AVX-512's scalef keeps denormals: a difference below 1.2e-38 absolute).
static inline vr v_exp2(vr x) {
    __m256 xc = _mm256_max_ps(_mm256_set1_ps(-127.0f), x);
    xc = _mm256_min_ps(_mm256_set1_ps(127.0f), xc);
    const __m256 k = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 r = _mm256_sub_ps(xc, k);
    __m256 p = _mm256_set1_ps(1.546144469856913e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3400428177615838e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(9.618056678524637e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.550327226670302e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.24022650922288757f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.6931472067028326f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    return _mm256_mul_ps(p, v_pow2i(k));
}

// In-register transpose of an 8 x 8 block: r[i] lane j <-> r[j] lane i.
static inline void v_transpose8(__m256 r[8]) {
    __m256 t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4)
        for (int j = 0; j < 2; j++) {
            r[i + 2 * j] = _mm256_shuffle_ps(t[i + j], t[i + j + 2], _MM_SHUFFLE(1, 0, 1, 0));
            r[i + 2 * j + 1] = _mm256_shuffle_ps(t[i + j], t[i + j + 2], _MM_SHUFFLE(3, 2, 3, 2));
        }
    for (int j = 0; j < 4; j++) {
        t[j] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x20);
        t[j + 4] = _mm256_permute2f128_ps(r[j], r[j + 4], 0x31);
    }
    for (int j = 0; j < 8; j++)
        r[j] = t[j];
}

// tile[i*8 + w] = rows[w*ld + i] + add[w] for i, w < 8 (add may be NULL)
static inline void v_tile_from_rows(real *restrict tile, const real *restrict rows, int64_t ld,
                                    const real *add) {
    __m256 r[8];
    for (int w = 0; w < 8; w++)
        r[w] = _mm256_loadu_ps(rows + w * ld);
    v_transpose8(r);
    const __m256 a = add ? _mm256_loadu_ps(add) : _mm256_setzero_ps();
    for (int i = 0; i < 8; i++)
        _mm256_storeu_ps(tile + i * 8, add ? _mm256_add_ps(r[i], a) : r[i]);
}

// rows[w*ld + i] (+)= tile[i*8 + w] for i, w < 8
static inline void v_rows_from_tile(real *restrict rows, int64_t ld, const real *restrict tile,
                                    int accumulate) {
    __m256 r[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(tile + i * 8);
    v_transpose8(r);
    for (int w = 0; w < 8; w++)
        _mm256_storeu_ps(rows + w * ld,
                         accumulate ? _mm256_add_ps(_mm256_loadu_ps(rows + w * ld), r[w]) : r[w]);
}

#else // portable: V_W lanes in a struct, per-lane loops

#define V_ISA "portable"
#define V_W (64 / (int)sizeof(real))

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
