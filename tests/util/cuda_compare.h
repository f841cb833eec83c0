// defines: hfill, hcopy, round_bf16, dev, poisoned, repoison, host, inc_err, check_rel,
//          check_inc, cmp, cmp_inc, same_bits, TOL32, TOL16, OK
// Helpers of the CUDA-vs-CPU Check suites (tests/test_cuda_*.c): device copies of host arrays
// (fp32 or bf16), NaN-poisoned device outputs, and comparisons by relative error that fail on
// any NaN (an element a kernel forgot to write): of host copies (check_rel, check_inc, which
// speak only on failure) or straight from the device (cmp, cmp_inc, which print each error).
// Include only where HAVE_CUDA is 1.
#pragma once
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/common.h"
#include "tests/util/testutil.h"

#define TOL32 1e-5
#define TOL16 1e-2
#define OK(expr) SSM_CUDA_ABORT_ON_ERROR(expr)

// testutil.h's tu_new_uniform, under the name tests/test_cuda_nccl.c calls it by
static inline real *hfill(size_t n, double lo, double hi, uint64_t *st) {
    return tu_new_uniform(n, lo, hi, st);
}
static inline real *hcopy(const real *x, size_t n) {
    real *y = malloc(sizeof(real) * (n ? n : 1));
    memcpy(y, x, sizeof(real) * n);
    return y;
}
static inline void round_bf16(real *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = ssm_bf16_to_float(ssm_bf16_from_float(x[i]));
}
// Device copy of n host floats (as fp32, or as bf16 when bf16 is set); NULL stays NULL.
static inline void *dev(const void *h, size_t n, int bf16) {
    if (!h)
        return NULL;
    void *d;
    if (bf16) {
        const real *hf = h;
        ssm_bf16 *tmp = malloc(2 * (n ? n : 1));
        for (size_t i = 0; i < n; i++)
            tmp[i] = ssm_bf16_from_float(hf[i]);
        OK(ssm_cuda_alloc(&d, 2 * n, "test"));
        OK(ssm_cuda_upload(d, tmp, 2 * n));
        free(tmp);
    } else {
        OK(ssm_cuda_alloc(&d, 4 * n, "test"));
        OK(ssm_cuda_upload(d, h, 4 * n));
    }
    return d;
}
// Device buffer of n elements filled with NaN bytes (0xFF.. is a NaN in fp32 and in bf16).
static inline void *poisoned(size_t n, int bf16) {
    void *d;
    size_t bytes = (bf16 ? 2 : 4) * n;
    OK(ssm_cuda_alloc(&d, bytes, "test"));
    CUDA_CHECK_ABORT(cudaMemset(d, 0xFF, bytes));
    return d;
}
static inline void repoison(void *d, size_t n, int bf16) {
    CUDA_CHECK_ABORT(cudaMemset(d, 0xFF, (bf16 ? 2 : 4) * n));
}
// Host floats of n device elements (fp32 or bf16), malloc'd.
static inline real *host(const void *d, size_t n, int bf16) {
    real *h = malloc(sizeof(real) * (n ? n : 1));
    if (bf16) {
        ssm_bf16 *tmp = malloc(2 * (n ? n : 1));
        OK(ssm_cuda_download(tmp, d, 2 * n));
        for (size_t i = 0; i < n; i++)
            h[i] = ssm_bf16_to_float(tmp[i]);
        free(tmp);
    } else {
        OK(ssm_cuda_download(h, d, 4 * n));
    }
    return h;
}
// ||(gpu - init) - (cpu - init)|| / ||cpu - init||, the error of an accumulated increment
// (INFINITY on any NaN).
static inline double inc_err(const real *gpu, const real *cpu, const real *init, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double dc = (double)cpu[i] - init[i], dg = (double)gpu[i] - init[i];
        num += (dg - dc) * (dg - dc);
        den += dc * dc;
    }
    if (isnan(num))
        return INFINITY;
    return sqrt(num) / fmax(sqrt(den), 1e-30);
}
// host copies: gpu against cpu, relative error below tol (said on stderr only when not)
static inline double check_rel(const char *what, const real *gpu, const real *cpu, size_t n,
                               double tol) {
    double e = tu_rel_err(gpu, cpu, n);
    if (!(e < tol))
        fprintf(stderr, "  %s: rel err %.3g (tol %.1g)\n", what, e, tol);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    return e;
}
static inline double check_inc(const char *what, const real *gpu, const real *cpu,
                               const real *init, size_t n, double tol) {
    double e = inc_err(gpu, cpu, init, n);
    if (!(e < tol))
        fprintf(stderr, "  %s: rel err %.3g (tol %.1g)\n", what, e, tol);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    return e;
}
// gpu buffer d against cpu values; frees the host copy
static inline double cmp(const char *what, const void *d, const real *cpu, size_t n, int bf16,
                         double tol) {
    real *g = host(d, n, bf16);
    double e = tu_rel_err(g, cpu, n);
    for (size_t i = 0; i < n; i++)
        if (isnan(g[i]))
            e = INFINITY;
    fprintf(stderr, "  %-28s rel err %.2g\n", what, e);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    free(g);
    return e;
}
// increments: (gpu - init) against (cpu - init)
static inline double cmp_inc(const char *what, const void *d, const real *cpu, const real *init,
                             size_t n, int bf16, double tol) {
    real *g = host(d, n, bf16);
    double e = inc_err(g, cpu, init, n);
    fprintf(stderr, "  %-28s rel err %.2g (increment)\n", what, e);
    ck_assert_msg(e < tol, "%s: rel err %g >= %g", what, e, tol);
    free(g);
    return e;
}
static inline void same_bits(const char *what, const void *d, const real *prev, size_t n) {
    real *g = host(d, n, 0);
    ck_assert_msg(memcmp(g, prev, sizeof(real) * n) == 0, "%s: not bit-identical across runs",
                  what);
    free(g);
}
