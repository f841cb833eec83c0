// defines: tu_fd_check_params, tu_assert_doubled, tu_check_adapter_grads, tu_check_head_grads
// Gradient checks of the double-precision suites (tests/grad_*.c) on whole parameter tables:
// every tensor against central finite differences (testutil.h's tu_fd_check), the
// accumulation contract of a backward, and the whole check of one adapter or one head.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "adapters/adapter.h"
#include "core/params.h"
#include "tasks/head.h"
#include "tests/util/testutil.h"

// Every tensor of p whose name keep() accepts (all when keep is NULL): its gradient g
// (p's layout; p->grad when g is NULL) against central differences of loss (step h, floor
// as tu_fd_check's abs_floor, at most max_checks elements a tensor). Fails the test at the
// first tensor whose worst error is not below tol, naming `what`, the tensor and the
// element; GRAD_VERBOSE in the environment prints every tensor's worst error. Returns the
// worst error of all.
double tu_fd_check_params(ssm_params *p, const real *g, tu_loss_fn loss, void *ctx, double h,
                          double floor, size_t max_checks, double tol, int (*keep)(const char *),
                          const char *what);

// A backward accumulates: after a second identical call grad is twice g1, within rtol
// relative (1 + |g1| scaled). `what` names the case when it is not.
void tu_assert_doubled(const real *grad, const real *g1, size_t n, double rtol, const char *what);

// The whole check of an adapter a (declared into p, planned or not): plans it for B on a
// fresh arena, then its parameter gradients of the loss sum(tokens * R), R uniform in
// [-1, 1) from *st, against central differences for every element (h 1e-5, floor 1e-8,
// each below tol), then a second backward doubles them (to 1e-12). x is the batch [B, ...].
void tu_check_adapter_grads(ssm_adapter *a, ssm_params *p, const real *x, int64_t B,
                            uint64_t *st, double tol, const char *what);

// The whole check of a head h (declared into p, planned for B, its batch context set) on
// the features feats [nf]: R [B, out_numel] and a starting dfeats drawn from *st in that
// order (uniform in [-1, 1)); the parameter gradients and the features' gradient of
// sum(out * R), a backward after a forward of the same batch onto the non-zero dfeats (it
// must add to them), against central differences (h 1e-5, floor 1e-8, every element, each
// below tol); then a second backward doubles the parameter gradients (to 1e-12).
void tu_check_head_grads(ssm_head *h, ssm_params *p, real *feats, size_t nf, int64_t B,
                         uint64_t *st, double tol, const char *what);
