// defines: task_find, task_lookup, task_list, task_registry, task_check_config (see task_registry.h)
#include <stdio.h>
#include <string.h>

#include "tasks/task_registry.h"
#include "core/registry.h"
#include "adapters/adapter.h"

// ---- the registry: ONE line per task ------------------------------------------------
// X(name) expects `const ssm_task_vtable ssm_task_<name>` defined in tasks/task_<name>.c.
// The order is the order listings and error messages show.
#define SSM_TASKS(X) \
    X(classify) \
    X(forecast) \
    X(regress) \
    X(segment) \
    X(mil) \
    X(multilabel)

#define SSM_TASK_DECLARE(n) extern const ssm_task_vtable ssm_task_##n;
#define SSM_TASK_ENTRY(n) &ssm_task_##n,
SSM_TASKS(SSM_TASK_DECLARE)
static const ssm_task_vtable *const registry[] = {SSM_TASKS(SSM_TASK_ENTRY)};
#define N_REGISTRY (sizeof registry / sizeof registry[0])

const ssm_task_vtable *const *task_registry(size_t *count) {
    *count = N_REGISTRY;
    return registry;
}

const ssm_task_vtable *task_find(const char *name) {
    return ssm_registry_find((const void *const *)registry, N_REGISTRY, name);
}

void task_list(char *buf, size_t n) {
    ssm_registry_list((const void *const *)registry, N_REGISTRY, buf, n);
}

ssm_code task_lookup(const char *name, const ssm_task_vtable **out, ssm_error *err) {
    *out = task_find(name);
    if (*out)
        return SSM_OK;
    char known[256];
    task_list(known, sizeof known);
    return ssm_fail(err, SSM_ECONFIG, "task.name: unknown task '%s'; known: %s",
                    name ? name : "(null)", known);
}

ssm_code task_check_config(const ssm_config *c, const char **key, ssm_error *err) {
    const ssm_task_vtable *vt;
    *key = "task.name";
    SSM_TRY(task_lookup(c->task.name, &vt, err));
    // the adapter too, so that a misspelt name is blamed on its line of the config file
    const ssm_adapter_vtable *avt;
    *key = "adapter.name";
    SSM_TRY(ssm_adapter_lookup(c->adapter.name, &avt, err));
    *key = NULL;
    return vt->check_config ? vt->check_config(c, key, err) : SSM_OK;
}
