// defines: r_exp, r_log, r_log1p, r_sqrt, r_sigmoid, r_silu, r_silu_grad, r_softplus,
//          r_softplus_grad, R_PAR_MIN
// Scalar helpers shared by the CPU kernels (private to kernels/*.c): libm in
// the precision of `real`, and the numerically stable sigmoid family.
#pragma once
#include <math.h>

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

// Elementwise loops below this many elements run on one thread: forking a
// team costs more than the work. Results do not depend on it (no reductions).
#define R_PAR_MIN 16384

// exp of a non-positive argument only, so neither branch overflows.
static inline real r_sigmoid(real x) {
    if (x >= 0)
        return (real)1 / ((real)1 + r_exp(-x));
    real e = r_exp(x);
    return e / ((real)1 + e);
}

static inline real r_silu(real x) { return x * r_sigmoid(x); }

// d/dx [x s(x)] = s + x s (1 - s)
static inline real r_silu_grad(real x) {
    real s = r_sigmoid(x);
    return s * ((real)1 + x * ((real)1 - s));
}

// PyTorch's softplus (beta 1, threshold 20): the identity above 20, where
// log1p(exp(x)) equals x to within 2e-9 and exp would soon overflow.
static inline real r_softplus(real x) { return x > (real)20 ? x : r_log1p(r_exp(x)); }
static inline real r_softplus_grad(real x) { return x > (real)20 ? (real)1 : r_sigmoid(x); }
