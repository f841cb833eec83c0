// defines: ssm_head_find, ssm_head_lookup, ssm_head_list, ssm_head_registry,
//          ssm_head_create, ssm_head_init_params, ssm_head_plan, ssm_head_forward,
//          ssm_head_backward, ssm_head_free, ssm_head_has_cuda, ssm_head_plan_cuda,
//          ssm_head_forward_cuda, ssm_head_backward_cuda
// The registry of heads (tasks/head.h) and the calls on a head, with the checks every
// head shares (batch size, planned, a CUDA path present); tasks/model.c calls a head
// only through these.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "tasks/head.h"

// ---- registry (tasks/head_registry.c) ----------------------------------------
const ssm_head_vtable *ssm_head_find(const char *name); // NULL when unknown
// SSM_ENOTFOUND "unknown head 'x'; known: class, forecast, regress" when unknown.
ssm_code ssm_head_lookup(const char *name, const ssm_head_vtable **out, ssm_error *err);
void ssm_head_list(char *buf, size_t n);
const ssm_head_vtable *const *ssm_head_registry(size_t *count);

// ---- calling a head -------------------------------------------------------------
ssm_code ssm_head_create(ssm_head **out, const char *name, const ssm_head_options *opt,
                         const ssm_head_input *in, ssm_params *p, const char *prefix,
                         ssm_error *err);
void ssm_head_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng);
ssm_code ssm_head_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err);
// Check 1 <= B <= B_max, then dispatch.
ssm_code ssm_head_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                          int64_t B, ssm_error *err);
ssm_code ssm_head_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                           const real *feats, int64_t B, ssm_error *err);
void ssm_head_free(ssm_head *h);

int ssm_head_has_cuda(const ssm_head *h); // all three CUDA entries present
// SSM_EDEVICE "head X has no CUDA path ..." when the head has none.
ssm_code ssm_head_plan_cuda(ssm_head *h, ssm_arena *dev_arena, int64_t B_max, ssm_error *err);
ssm_code ssm_head_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                               int64_t B, ssm_error *err);
ssm_code ssm_head_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                const real *feats, int64_t B, ssm_error *err);
