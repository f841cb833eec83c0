// defines: the test helpers (see testutil.h)
#include "tests/util/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t tu_next(uint64_t *s) {
    // xorshift64*: quality is plenty for test inputs, and it needs no library
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

double tu_uniform(uint64_t *s) { return (double)(tu_next(s) >> 11) * 0x1.0p-53; }

void tu_fill_uniform(real *x, size_t n, double lo, double hi, uint64_t *state) {
    for (size_t i = 0; i < n; i++)
        x[i] = (real)(lo + (hi - lo) * tu_uniform(state));
}

real *tu_new_uniform(size_t n, double lo, double hi, uint64_t *state) {
    real *x = malloc(sizeof(real) * (n ? n : 1));
    if (!x) {
        fprintf(stderr, "tu_new_uniform: out of memory for %zu values\n", n);
        abort();
    }
    tu_fill_uniform(x, n, lo, hi, state);
    return x;
}

real *tu_new_zeros(size_t n) {
    real *x = calloc(n ? n : 1, sizeof(real));
    if (!x) {
        fprintf(stderr, "tu_new_zeros: out of memory for %zu values\n", n);
        abort();
    }
    return x;
}

double tu_rel_err(const real *a, const real *b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    if (isnan(num))
        return INFINITY;
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}

double tu_max_abs_diff(const real *a, const real *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; // also catches NaN
    }
    return m;
}

double tu_dot(const real *a, const real *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

double tu_fd_check(real *x, const real *g, size_t n, tu_loss_fn loss, void *ctx, double h,
                   double abs_floor, size_t max_checks, size_t *worst) {
    size_t step = n <= max_checks ? 1 : (n + max_checks - 1) / max_checks;
    double worst_err = 0;
    size_t worst_i = 0;
    for (size_t i = 0; i < n; i += step) {
        real saved = x[i];
        x[i] = (real)(saved + h);
        double lp = loss(ctx);
        x[i] = (real)(saved - h);
        double lm = loss(ctx);
        x[i] = saved;
        double fd = (lp - lm) / (2 * h);
        double err = fabs(fd - (double)g[i]) / fmax(fabs(fd) + fabs((double)g[i]), abs_floor);
        if (!(err <= worst_err)) {
            worst_err = err;
            worst_i = i;
        }
    }
    if (worst)
        *worst = worst_i;
    return worst_err;
}
