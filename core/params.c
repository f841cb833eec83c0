// defines: the flat parameter table (see params.h)
#include "core/params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ssm_params_init(ssm_params *p) { memset(p, 0, sizeof *p); }

void ssm_params_free(ssm_params *p) {
    free(p->items);
    free(p->data);
    free(p->grad);
    free(p->m);
    free(p->v);
    memset(p, 0, sizeof *p);
}

ssm_code ssm_params_add(ssm_params *p, const char *name, int ndim, const int64_t *shape,
                        unsigned flags, size_t *index, ssm_error *err) {
    if (p->data)
        return ssm_fail(err, SSM_EINVAL, "parameter %s declared after the table was finalized", name);
    if (ndim < 1 || ndim > SSM_PARAM_MAX_DIMS)
        return ssm_fail(err, SSM_EINVAL, "parameter %s: %d dimensions, expected 1..%d", name, ndim,
                        SSM_PARAM_MAX_DIMS);
    if (strlen(name) >= SSM_PARAM_NAME_MAX)
        return ssm_fail(err, SSM_EINVAL, "parameter name too long: %s", name);
    if (ssm_params_find(p, name) >= 0)
        return ssm_fail(err, SSM_EINVAL, "parameter %s declared twice", name);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return ssm_fail(err, SSM_EINVAL, "parameter %s: dimension %d is %lld, expected > 0", name,
                            i, (long long)shape[i]);
        numel *= (size_t)shape[i];
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        ssm_param_info *items = realloc(p->items, cap * sizeof *items);
        if (!items)
            return ssm_fail(err, SSM_ENOMEM, "out of memory declaring parameter %s", name);
        p->items = items;
        p->cap = cap;
    }
    ssm_param_info *it = &p->items[p->count];
    memset(it, 0, sizeof *it);
    snprintf(it->name, sizeof it->name, "%s", name);
    it->ndim = ndim;
    memcpy(it->shape, shape, (size_t)ndim * sizeof *shape);
    it->numel = numel;
    // Keep every tensor 16-element aligned so vector loads never straddle.
    it->offset = p->total;
    p->total += (numel + 15) & ~(size_t)15;
    it->flags = flags;
    if (index)
        *index = p->count;
    p->count++;
    return SSM_OK;
}

static real *alloc_zeroed(size_t n) {
    size_t bytes = ((n * sizeof(real)) + 63) & ~(size_t)63;
    if (bytes == 0)
        bytes = 64;
    real *x = aligned_alloc(64, bytes);
    if (x)
        memset(x, 0, bytes);
    return x;
}

ssm_code ssm_params_finalize(ssm_params *p, ssm_error *err) {
    p->data = alloc_zeroed(p->total);
    p->grad = alloc_zeroed(p->total);
    p->m = alloc_zeroed(p->total);
    p->v = alloc_zeroed(p->total);
    if (!p->data || !p->grad || !p->m || !p->v)
        return ssm_fail(err, SSM_ENOMEM, "out of memory allocating %zu parameters (x4 buffers)",
                        p->total);
    return SSM_OK;
}

int64_t ssm_params_find(const ssm_params *p, const char *name) {
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->items[i].name, name) == 0)
            return (int64_t)i;
    return -1;
}

void ssm_params_zero_grad(ssm_params *p) {
    if (p->grad)
        memset(p->grad, 0, p->total * sizeof(real));
}

void ssm_shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t used = 0;
    used += (size_t)snprintf(buf + used, n - used, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
}
