// defines: ssm_registry_find, ssm_registry_list
// The name lookups the three registries share (adapters/registry.c, tasks/head_registry.c,
// tasks/task_registry.c). A registry is an array of pointers to vtables whose FIRST member
// is `const char *name` (ssm_adapter_vtable, ssm_head_vtable, ssm_task_vtable), so one
// lookup serves them all without knowing their types.
#pragma once
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static inline const char *ssm_registry_name_(const void *entry) {
    return *(const char *const *)entry;
}

// The entry registered under name, or NULL.
static inline const void *ssm_registry_find(const void *const *reg, size_t n, const char *name) {
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(ssm_registry_name_(reg[i]), name) == 0)
            return reg[i];
    return NULL;
}

// The names, comma-separated, into buf (truncated to size).
static inline void ssm_registry_list(const void *const *reg, size_t n, char *buf, size_t size) {
    if (size == 0)
        return;
    buf[0] = 0;
    size_t used = 0;
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %s" : "%s",
                                 ssm_registry_name_(reg[i]));
}
