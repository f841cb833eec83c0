// defines: r_exp, r_log, r_log1p, r_sqrt, r_fma, r_fexp, r_log1p_01, r_sigmoid, r_silu, r_silu_grad,
//          r_softplus, r_softplus_grad, R_FEXP_REL_ERR, R_PAR_MIN
// Scalar helpers shared by the CPU kernels (private to kernels/*.c): libm in
// the precision of `real`, a polynomial exp and log1p that loops vectorize
// (float build), and the numerically stable sigmoid family built on them.
#pragma once
#include <math.h>
#include <stdint.h>

#include "core/real.h"

#if REAL_IS_DOUBLE
#define r_exp exp
#define r_log log
#define r_log1p log1p
#define r_sqrt sqrt
#else
#define r_exp expf
#define r_log logf
#define r_log1p log1pf
#define r_sqrt sqrtf
#endif

// a*b + c in one rounding where the CPU has FMA (one instruction, and loops
// over it vectorize); a*b + c otherwise. Explicit because the build's
// -std=c11 turns off GCC's automatic contraction (-ffp-contract=off).
#if defined(__FMA__)
#if REAL_IS_DOUBLE
#define r_fma(a, b, c) __builtin_fma((a), (b), (c))
#else
#define r_fma(a, b, c) __builtin_fmaf((a), (b), (c))
#endif
#else
#define r_fma(a, b, c) ((a) * (b) + (c))
#endif

// exp and log1p without libm calls in the float build, so that loops over
// them vectorize (a call to expf stops GCC from vectorizing the loop, and
// libm's scalar expf was ~9% of a training step). The double build (gradient
// checks) keeps libm: accuracy matters more there than speed.
#if REAL_IS_DOUBLE
#define R_FEXP_REL_ERR 1e-15
static inline real r_fexp(real x) { return exp(x); }
static inline real r_log1p_01(real x) { return log1p(x); }
#else
// Bound on the relative error of r_fexp against exp in double over [-87, 88]
// (measured 1.0e-7, i.e. < 2 float ulps; tests/test_kernels.c checks it).
// r_sigmoid and r_softplus built on it measured 1.8e-7 and 2.3e-7.
#define R_FEXP_REL_ERR 2e-7
typedef union {
    float f;
    uint32_t u;
} r_f32_bits;
// exp(x) = 2^k * exp(r), k = round(x / ln2), |r| <= ln2/2; exp(r) by its
// degree-7 Taylor polynomial (truncation < 1e-8 relative, below float
// rounding). Arguments below -87 give 0 (exp is < 2e-38 there); above 88 are
// clamped to exp(88) (~1.7e38, finite): callers use it on arguments <= 0 or
// where a huge value saturates harmlessly (sigmoid). NaN propagates.
static inline float r_fexp(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    xc = xc > 88.0f ? 88.0f : xc;
    r_f32_bits t;
    t.f = xc * 1.44269504f + 12582912.0f; // 1.5 * 2^23: round to integer in the low bits
    float k = t.f - 12582912.0f;
    uint32_t kb = t.u - 0x4B400000u; // k, two's complement
    float r = r_fma(-k, 1.428606765330187e-06f, r_fma(-k, 0.693145751953125f, xc)); // Cody-Waite
    float p = 1.0f / 5040.0f;
    p = r_fma(p, r, 1.0f / 720.0f);
    p = r_fma(p, r, 1.0f / 120.0f);
    p = r_fma(p, r, 1.0f / 24.0f);
    p = r_fma(p, r, 1.0f / 6.0f);
    p = r_fma(p, r, 0.5f);
    p = r_fma(p, r, 1.0f);
    p = r_fma(p, r, 1.0f);
    r_f32_bits s;
    s.u = (kb + 127u) << 23;
    float e = p * s.f;
    return x < -87.0f ? 0.0f : e;
}
// log1p(x) for x in [0, 1] as 2 atanh(s), s = x / (2 + x) <= 1/3: the odd
// series to s^15 has truncation < 2e-9 relative, and no cancellation for
// small x.
static inline float r_log1p_01(float x) {
    float s = x / (2.0f + x), s2 = s * s;
    float p = 1.0f / 15.0f;
    p = r_fma(p, s2, 1.0f / 13.0f);
    p = r_fma(p, s2, 1.0f / 11.0f);
    p = r_fma(p, s2, 1.0f / 9.0f);
    p = r_fma(p, s2, 1.0f / 7.0f);
    p = r_fma(p, s2, 1.0f / 5.0f);
    p = r_fma(p, s2, 1.0f / 3.0f);
    p = r_fma(p, s2, 1.0f);
    return 2.0f * s * p;
}
#endif

// Elementwise loops below this many elements run on one thread: forking a
// team costs more than the work. Results do not depend on it (no reductions).
#define R_PAR_MIN 16384

// exp of a non-positive argument only, so nothing overflows; branch-free
// (a select), so loops over it vectorize.
static inline real r_sigmoid(real x) {
    const real e = r_fexp(x < 0 ? x : -x); // exp(-|x|) in (0, 1]
    const real s = (real)1 / ((real)1 + e);
    return x >= 0 ? s : e * s;
}

static inline real r_silu(real x) { return x * r_sigmoid(x); }

// d/dx [x s(x)] = s + x s (1 - s)
static inline real r_silu_grad(real x) {
    real s = r_sigmoid(x);
    return s * ((real)1 + x * ((real)1 - s));
}

// PyTorch's softplus (beta 1, threshold 20): the identity above 20, where
// log1p(exp(x)) equals x to within 2e-9 and exp would soon overflow. Below,
// max(x, 0) + log1p(exp(-|x|)), which keeps full relative precision for very
// negative x.
static inline real r_softplus(real x) {
    const real lin = x > 0 ? x : 0;
    return x > (real)20 ? x : lin + r_log1p_01(r_fexp(x < 0 ? x : -x));
}
static inline real r_softplus_grad(real x) { return x > (real)20 ? (real)1 : r_sigmoid(x); }
