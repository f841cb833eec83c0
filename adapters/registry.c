// defines: the adapter registry and the calling wrappers (see adapter.h)
#include "adapters/adapter.h"
#include "core/registry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- the registry: ONE line per adapter ------------------------------------
// X(name) expects `const ssm_adapter_vtable ssm_adapter_<name>` defined in
// adapters/<name>.c. Keep the list in the order --help should show it.
#define SSM_ADAPTERS(X) \
    X(image_patches) \
    X(audio_patches) \
    X(series_variate) \
    X(series_patch) \
    X(bag_features) \
    X(point_groups)

#define SSM_ADAPTER_DECLARE(n) extern const ssm_adapter_vtable ssm_adapter_##n;
#define SSM_ADAPTER_ENTRY(n) &ssm_adapter_##n,
SSM_ADAPTERS(SSM_ADAPTER_DECLARE)
static const ssm_adapter_vtable *const registry[] = {SSM_ADAPTERS(SSM_ADAPTER_ENTRY)};
#define N_REGISTRY (sizeof registry / sizeof registry[0])

const ssm_adapter_vtable *const *ssm_adapter_registry(size_t *count) {
    *count = N_REGISTRY;
    return registry;
}

const ssm_adapter_vtable *ssm_adapter_find(const char *name) {
    return ssm_registry_find((const void *const *)registry, N_REGISTRY, name);
}

void ssm_adapter_list(char *buf, size_t n) {
    ssm_registry_list((const void *const *)registry, N_REGISTRY, buf, n);
}

ssm_code ssm_adapter_lookup(const char *name, const ssm_adapter_vtable **out, ssm_error *err) {
    *out = ssm_adapter_find(name);
    if (*out)
        return SSM_OK;
    char known[512];
    ssm_adapter_list(known, sizeof known);
    return ssm_fail(err, SSM_ENOTFOUND, "unknown adapter '%s'; known: %s", name ? name : "(null)",
                    known);
}

// ---- options -----------------------------------------------------------------

const char *ssm_cls_position_name(ssm_cls_position c) {
    switch (c) {
    case SSM_CLS_DEFAULT: return "default";
    case SSM_CLS_HEAD: return "head";
    case SSM_CLS_MIDDLE: return "middle";
    case SSM_CLS_NONE: return "none";
    }
    return "?";
}

void ssm_adapter_options_defaults(ssm_adapter_options *o) {
    memset(o, 0, sizeof *o); // every field 0: the adapter's default
}

static const ssm_adapter_kv *find_kv(const ssm_adapter_options *o, const char *key) {
    for (int i = 0; i < o->n_extra && i < SSM_ADAPTER_MAX_EXTRA; i++)
        if (strcmp(o->extra[i].key, key) == 0)
            return &o->extra[i];
    return NULL;
}

const char *ssm_adapter_option_str(const ssm_adapter_options *o, const char *key, const char *def) {
    const ssm_adapter_kv *kv = find_kv(o, key);
    return kv ? kv->value : def;
}

ssm_code ssm_adapter_option_int(const ssm_adapter_options *o, const char *adapter, const char *key,
                                int64_t def, int64_t *out, ssm_error *err) {
    const ssm_adapter_kv *kv = find_kv(o, key);
    if (!kv) {
        *out = def;
        return SSM_OK;
    }
    char *end;
    errno = 0;
    long long v = strtoll(kv->value, &end, 10);
    if (errno || end == kv->value || *end != 0)
        return ssm_fail(err, SSM_ECONFIG, "%s: option %s = '%s' is not an integer", adapter, key,
                        kv->value);
    *out = (int64_t)v;
    return SSM_OK;
}

ssm_code ssm_adapter_option_double(const ssm_adapter_options *o, const char *adapter,
                                   const char *key, double def, double *out, ssm_error *err) {
    const ssm_adapter_kv *kv = find_kv(o, key);
    if (!kv) {
        *out = def;
        return SSM_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(kv->value, &end);
    if (errno || end == kv->value || *end != 0 || !isfinite(v))
        return ssm_fail(err, SSM_ECONFIG, "%s: option %s = '%s' is not a finite number", adapter,
                        key, kv->value);
    *out = v;
    return SSM_OK;
}

ssm_code ssm_adapter_check_options(const ssm_adapter_options *o, const char *adapter,
                                   const char *const *known, ssm_error *err) {
    if (o->n_extra < 0 || o->n_extra > SSM_ADAPTER_MAX_EXTRA)
        return ssm_fail(err, SSM_ECONFIG, "%s: %d extra options, at most %d", adapter, o->n_extra,
                        SSM_ADAPTER_MAX_EXTRA);
    for (int i = 0; i < o->n_extra; i++) {
        int ok = 0;
        for (const char *const *k = known; k && *k; k++)
            ok |= strcmp(*k, o->extra[i].key) == 0;
        if (ok)
            continue;
        char list[512] = "(none)";
        size_t used = 0;
        for (const char *const *k = known; k && *k && used < sizeof list; k++)
            used += (size_t)snprintf(list + used, sizeof list - used, k == known ? "%s" : ", %s", *k);
        return ssm_fail(err, SSM_ECONFIG, "%s: unknown option '%s'; known: %s", adapter,
                        o->extra[i].key, list);
    }
    return SSM_OK;
}

// ---- calling wrappers ----------------------------------------------------------

ssm_code ssm_adapter_create(ssm_adapter **out, const char *name, const ssm_adapter_options *opt,
                            const ssm_input_shape *in, int64_t d_model, ssm_params *p,
                            const char *prefix, ssm_error *err) {
    *out = NULL;
    const ssm_adapter_vtable *vt;
    SSM_TRY(ssm_adapter_lookup(name, &vt, err));
    if (d_model <= 0)
        return ssm_fail(err, SSM_ECONFIG, "%s: d_model = %lld, expected > 0", name,
                        (long long)d_model);
    if (opt->n_orders < 0 || opt->n_orders > SSM_ADAPTER_MAX_ORDERS)
        return ssm_fail(err, SSM_ECONFIG, "%s: %d scan orders, expected 0..%d", name, opt->n_orders,
                        SSM_ADAPTER_MAX_ORDERS);
    if (in->ndim < 1 || in->ndim > SSM_INPUT_MAX_DIMS)
        return ssm_fail(err, SSM_EINVAL, "%s: input has %d dimensions, expected 1..%d", name,
                        in->ndim, SSM_INPUT_MAX_DIMS);
    ssm_adapter *a = calloc(1, sizeof *a);
    if (!a)
        return ssm_fail(err, SSM_ENOMEM, "%s: out of memory", name);
    a->vt = vt;
    a->d_model = d_model;
    a->cls_index = -1;
    a->n_seqs = 1;
    ssm_code rc = vt->create(a, opt, in, p, prefix ? prefix : "", err);
    if (rc == SSM_OK && (a->n_seqs < 1 || a->seq_len < 1))
        rc = ssm_fail(err, SSM_EINVAL, "%s: create left n_seqs = %lld, seq_len = %lld (expected >= 1)",
                      name, (long long)a->n_seqs, (long long)a->seq_len);
    if (rc != SSM_OK) {
        ssm_adapter_free(a);
        return rc;
    }
    *out = a;
    return SSM_OK;
}

void ssm_adapter_init_params(ssm_adapter *a, ssm_params *p, ssm_rng *rng) {
    a->vt->init_params(a, p, rng);
}

ssm_code ssm_adapter_plan(ssm_adapter *a, ssm_arena *arena, int64_t B_max, ssm_error *err) {
    if (B_max <= 0)
        return ssm_fail(err, SSM_EINVAL, "%s: planned batch size %lld, expected > 0", a->vt->name,
                        (long long)B_max);
    a->B_max = B_max;
    SSM_TRY(a->vt->plan(a, arena, B_max, err));
    return SSM_OK;
}

ssm_code ssm_adapter_forward(ssm_adapter *a, const ssm_params *p, real *tokens, int32_t *orders,
                             const real *x, int64_t B, ssm_error *err) {
    if (B < 1 || B > a->B_max)
        return ssm_fail(err, SSM_EINVAL, "%s: batch of %lld, planned for 1..%lld", a->vt->name,
                        (long long)B, (long long)a->B_max);
    return a->vt->forward(a, p, tokens, orders, x, B, err);
}

void ssm_adapter_backward(ssm_adapter *a, ssm_params *p, const real *dtokens, const real *x,
                          int64_t B) {
    a->vt->backward(a, p, dtokens, x, B);
}

int ssm_adapter_has_cuda(const ssm_adapter *a) {
    return a->vt->plan_cuda && a->vt->forward_cuda && a->vt->backward_cuda;
}

static ssm_code no_cuda(const ssm_adapter *a, ssm_error *err) {
    return ssm_fail(err, SSM_EDEVICE,
                    "adapter %s has no CUDA path (run.device: cuda): set run.device: cpu",
                    a->vt->name);
}

ssm_code ssm_adapter_plan_cuda(ssm_adapter *a, ssm_arena *dev_arena, int64_t B_max, ssm_error *err) {
    if (!ssm_adapter_has_cuda(a))
        return no_cuda(a, err);
    if (B_max <= 0)
        return ssm_fail(err, SSM_EINVAL, "%s: planned batch size %lld, expected > 0", a->vt->name,
                        (long long)B_max);
    a->B_max = B_max;
    return a->vt->plan_cuda(a, dev_arena, B_max, err);
}

ssm_code ssm_adapter_forward_cuda(ssm_adapter *a, const ssm_params *p, real *tokens,
                                  int32_t *orders, const real *x, int64_t B, ssm_error *err) {
    if (!ssm_adapter_has_cuda(a))
        return no_cuda(a, err);
    if (B < 1 || B > a->B_max)
        return ssm_fail(err, SSM_EINVAL, "%s: batch of %lld, planned for 1..%lld", a->vt->name,
                        (long long)B, (long long)a->B_max);
    return a->vt->forward_cuda(a, p, tokens, orders, x, B, err);
}

ssm_code ssm_adapter_backward_cuda(ssm_adapter *a, ssm_params *p, const real *dtokens,
                                   const real *x, int64_t B, ssm_error *err) {
    if (!ssm_adapter_has_cuda(a))
        return no_cuda(a, err);
    return a->vt->backward_cuda(a, p, dtokens, x, B, err);
}

void ssm_adapter_free(ssm_adapter *a) {
    if (!a)
        return;
    if (a->vt && a->vt->free_impl)
        a->vt->free_impl(a);
    free(a);
}

// ---- helpers -----------------------------------------------------------------

void ssm_init_trunc_normal(real *x, size_t n, ssm_rng *rng, double std, double lo, double hi) {
    if (!(std > 0) || !(lo <= 0 && hi >= 0 && hi > lo)) { // degenerate: rejection would never end
        for (size_t i = 0; i < n; i++)
            x[i] = (real)(lo > 0 ? lo : hi < 0 ? hi : 0);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double v;
        do
            v = ssm_rng_normal(rng, std);
        while (v < lo || v > hi);
        x[i] = (real)v;
    }
}

void ssm_adapter_broadcast_orders(int32_t *orders, const int32_t *base, int n_orders, int64_t B,
                                  int64_t L) {
    for (int o = 0; o < n_orders; o++)
        for (int64_t b = 0; b < B; b++)
            memcpy(orders + ((size_t)o * B + b) * L, base + (size_t)o * L, (size_t)L * sizeof *orders);
}
