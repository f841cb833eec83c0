// defines: tu_next, tu_uniform, tu_fill_uniform, tu_new_uniform, tu_new_zeros, tu_rel_err,
//          tu_max_abs_diff, tu_fd_check, tu_dot
// Helpers shared by the Check suites: seeded random inputs, error measures,
// and a central finite-difference gradient check.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/real.h"

// Deterministic uniform values in [lo, hi) from a small xorshift state.
void tu_fill_uniform(real *x, size_t n, double lo, double hi, uint64_t *state);
double tu_uniform(uint64_t *state);
// The raw 64-bit step of the same generator (tu_uniform is its top 53 bits).
uint64_t tu_next(uint64_t *state);
// n fresh values uniform in [lo, hi) from *state; malloc'd, never NULL (aborts without memory).
real *tu_new_uniform(size_t n, double lo, double hi, uint64_t *state);
// n fresh zeros; calloc'd, never NULL.
real *tu_new_zeros(size_t n);

// ||a - b|| / max(||b||, tiny)
double tu_rel_err(const real *a, const real *b, size_t n);
double tu_max_abs_diff(const real *a, const real *b, size_t n);
double tu_dot(const real *a, const real *b, size_t n);

// Central finite differences of a scalar loss with respect to x[0..n), compared
// with the analytic gradient g. `loss` recomputes the loss from scratch (it
// reads x). Checks every element when n <= max_checks, else max_checks
// elements chosen evenly. Returns the worst error
//   |fd - g| / max(|fd| + |g|, abs_floor)
// and writes the index of the worst element into *worst (if non-NULL).
typedef double (*tu_loss_fn)(void *ctx);
double tu_fd_check(real *x, const real *g, size_t n, tu_loss_fn loss, void *ctx, double h,
                   double abs_floor, size_t max_checks, size_t *worst);
