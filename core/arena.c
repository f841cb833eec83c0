// defines: the planned activation arena (see arena.h)
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

void ssm_arena_init(ssm_arena *a) { memset(a, 0, sizeof *a); }

void ssm_arena_free(ssm_arena *a) {
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *ssm_arena_take(ssm_arena *a, size_t bytes) {
    size_t size = (bytes + 63) & ~(size_t)63;
    size_t start = a->used;
    a->used += size;
    if (a->used > a->peak)
        a->peak = a->used;
    if (!a->base || a->used > a->capacity)
        return NULL;
    return a->base + start;
}

ssm_code ssm_arena_commit(ssm_arena *a, ssm_error *err) {
    free(a->base);
    size_t cap = a->peak ? a->peak : 64;
    a->base = aligned_alloc(64, cap);
    if (!a->base)
        return ssm_fail(err, SSM_ENOMEM, "cannot allocate %zu bytes of activations", cap);
    a->capacity = cap;
    a->used = 0;
    return SSM_OK;
}
