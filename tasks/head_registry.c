// defines: the head registry and the calls on a head (see head_registry.h)
#include "tasks/head_registry.h"
#include "core/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- the registry: ONE line per head ----------------------------------------------
// X(name) expects `const ssm_head_vtable ssm_head_<name>` defined in tasks/head_<name>.c.
#define SSM_HEADS(X) \
    X(class) \
    X(forecast) \
    X(regress) \
    X(segment) \
    X(bag)

#define SSM_HEAD_DECLARE(n) extern const ssm_head_vtable ssm_head_##n;
#define SSM_HEAD_ENTRY(n) &ssm_head_##n,
SSM_HEADS(SSM_HEAD_DECLARE)
static const ssm_head_vtable *const registry[] = {SSM_HEADS(SSM_HEAD_ENTRY)};
#define N_REGISTRY (sizeof registry / sizeof registry[0])

const ssm_head_vtable *const *ssm_head_registry(size_t *count) {
    *count = N_REGISTRY;
    return registry;
}

const ssm_head_vtable *ssm_head_find(const char *name) {
    return ssm_registry_find((const void *const *)registry, N_REGISTRY, name);
}

void ssm_head_list(char *buf, size_t n) {
    ssm_registry_list((const void *const *)registry, N_REGISTRY, buf, n);
}

ssm_code ssm_head_lookup(const char *name, const ssm_head_vtable **out, ssm_error *err) {
    *out = ssm_head_find(name);
    if (*out)
        return SSM_OK;
    char known[256];
    ssm_head_list(known, sizeof known);
    return ssm_fail(err, SSM_ENOTFOUND, "unknown head '%s'; known: %s", name ? name : "(null)",
                    known);
}

// ---- calling wrappers ----------------------------------------------------------------

ssm_code ssm_head_create(ssm_head **out, const char *name, const ssm_head_options *opt,
                         const ssm_head_input *in, ssm_params *p, const char *prefix,
                         ssm_error *err) {
    *out = NULL;
    const ssm_head_vtable *vt;
    SSM_TRY(ssm_head_lookup(name, &vt, err));
    if (in->S < 1 || in->L < 1 || in->D < 1)
        return ssm_fail(err, SSM_EINVAL, "head %s: trunk of %lld x %lld tokens of %lld", name,
                        (long long)in->S, (long long)in->L, (long long)in->D);
    ssm_head *h = calloc(1, sizeof *h);
    if (!h)
        return ssm_fail(err, SSM_ENOMEM, "head %s: out of memory", name);
    h->vt = vt;
    h->in = *in;
    ssm_code rc = vt->create(h, opt, in, p, prefix ? prefix : "", err);
    if (rc == SSM_OK && h->out_numel < 1)
        rc = ssm_fail(err, SSM_EINVAL, "head %s: create left out_numel = %lld (expected >= 1)",
                      name, (long long)h->out_numel);
    if (rc == SSM_OK && h->out_rows == 0)
        h->out_rows = 1;
    if (rc == SSM_OK && (h->out_rows < 1 || h->out_numel % h->out_rows))
        rc = ssm_fail(err, SSM_EINVAL, "head %s: %lld outputs in %lld rows per sample", name,
                      (long long)h->out_numel, (long long)h->out_rows);
    if (rc != SSM_OK) {
        ssm_head_free(h);
        return rc;
    }
    *out = h;
    return SSM_OK;
}

void ssm_head_init_params(ssm_head *h, ssm_params *p, ssm_rng *rng) { h->vt->init_params(h, p, rng); }

ssm_code ssm_head_plan(ssm_head *h, ssm_arena *a, int64_t B_max, ssm_error *err) {
    if (B_max <= 0)
        return ssm_fail(err, SSM_EINVAL, "head %s: planned batch size %lld, expected > 0",
                        h->vt->name, (long long)B_max);
    h->B_max = B_max;
    return h->vt->plan(h, a, B_max, err);
}

static ssm_code check_batch(const ssm_head *h, int64_t B, ssm_error *err) {
    if (B < 1 || B > h->B_max)
        return ssm_fail(err, SSM_EINVAL, "head %s: batch of %lld, planned for 1..%lld", h->vt->name,
                        (long long)B, (long long)h->B_max);
    return SSM_OK;
}

ssm_code ssm_head_forward(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                          int64_t B, ssm_error *err) {
    SSM_TRY(check_batch(h, B, err));
    return h->vt->forward(h, p, out, feats, B, err);
}

ssm_code ssm_head_backward(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                           const real *feats, int64_t B, ssm_error *err) {
    SSM_TRY(check_batch(h, B, err));
    return h->vt->backward(h, p, dfeats, dout, feats, B, err);
}

void ssm_head_free(ssm_head *h) {
    if (!h)
        return;
    if (h->vt && h->vt->free_impl)
        h->vt->free_impl(h);
    free(h);
}

int ssm_head_has_cuda(const ssm_head *h) {
    return h->vt->plan_cuda && h->vt->forward_cuda && h->vt->backward_cuda;
}

static ssm_code no_cuda(const ssm_head *h, ssm_error *err) {
    return ssm_fail(err, SSM_EDEVICE,
                    "head %s has no CUDA path (run.device: cuda): set run.device: cpu", h->vt->name);
}

ssm_code ssm_head_plan_cuda(ssm_head *h, ssm_arena *dev_arena, int64_t B_max, ssm_error *err) {
    if (!ssm_head_has_cuda(h))
        return no_cuda(h, err);
    if (B_max <= 0)
        return ssm_fail(err, SSM_EINVAL, "head %s: planned batch size %lld, expected > 0",
                        h->vt->name, (long long)B_max);
    h->B_max = B_max;
    return h->vt->plan_cuda(h, dev_arena, B_max, err);
}

ssm_code ssm_head_forward_cuda(ssm_head *h, const ssm_params *p, real *out, const real *feats,
                               int64_t B, ssm_error *err) {
    if (!ssm_head_has_cuda(h))
        return no_cuda(h, err);
    SSM_TRY(check_batch(h, B, err));
    return h->vt->forward_cuda(h, p, out, feats, B, err);
}

ssm_code ssm_head_backward_cuda(ssm_head *h, ssm_params *p, real *dfeats, const real *dout,
                                const real *feats, int64_t B, ssm_error *err) {
    if (!ssm_head_has_cuda(h))
        return no_cuda(h, err);
    SSM_TRY(check_batch(h, B, err));
    return h->vt->backward_cuda(h, p, dfeats, dout, feats, B, err);
}
