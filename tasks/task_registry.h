// defines: task_find, task_lookup, task_list, task_registry, task_check_config
// The registry of tasks (tasks/task.h): one line per task in tasks/task_registry.c.
#pragma once
#include <stddef.h>

#include "core/config.h"
#include "core/error.h"
#include "tasks/task.h"

// ---- registry (tasks/task_registry.c) -------------------------------------------------
const ssm_task_vtable *task_find(const char *name); // NULL when unknown
// SSM_ECONFIG "task.name: unknown task 'x'; known: classify, forecast, regress".
ssm_code task_lookup(const char *name, const ssm_task_vtable **out, ssm_error *err);
void task_list(char *buf, size_t n);
const ssm_task_vtable *const *task_registry(size_t *count);
// An ssm_config_check_fn (core/config.h): task.name is registered, and that task's own
// cross-key checks pass. The CLI resolves configs with it (file:line on failure).
ssm_code task_check_config(const ssm_config *c, const char **key, ssm_error *err);

