// defines: ssm_metadata, ssm_metadata_init, ssm_metadata_free, ssm_metadata_set,
//          ssm_metadata_set_int, ssm_metadata_set_double, ssm_metadata_set_hex,
//          ssm_metadata_get, ssm_metadata_get_int, ssm_metadata_get_double,
//          ssm_metadata_get_hex, SSM_META_* (the keys a training run writes)
// String -> string metadata, as safetensors' "__metadata__" holds it: the
// resolved config, the step, the best metric... Insertion order is kept (and so
// is the order in the file). Numbers are written so that they read back
// exactly (integers in decimal, doubles with 17 digits, bytes in hex).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

// Keys written by the train loop (and read back on resume); any other key may be added.
#define SSM_META_FORMAT "format"          // "pt": what PyTorch-side safetensors loaders expect
#define SSM_META_CONFIG "config"          // the resolved config YAML (ssm_config_to_yaml_string)
#define SSM_META_STEP "step"              // optimizer steps taken
#define SSM_META_EPOCH "epoch"            // epochs completed
#define SSM_META_BEST_METRIC "best_metric" // best validation metric so far
#define SSM_META_BEST_STEP "best_step"
#define SSM_META_VERSION "ssmkit_version"

typedef struct {
    char *key, *value;
} ssm_meta_entry;

typedef struct {
    ssm_meta_entry *items;
    size_t count, cap;
} ssm_metadata;

void ssm_metadata_init(ssm_metadata *m);
void ssm_metadata_free(ssm_metadata *m);

// Adds key=value, or replaces the value of an existing key. Both are copied.
ssm_code ssm_metadata_set(ssm_metadata *m, const char *key, const char *value, ssm_error *err);
ssm_code ssm_metadata_set_int(ssm_metadata *m, const char *key, int64_t v, ssm_error *err);
ssm_code ssm_metadata_set_double(ssm_metadata *m, const char *key, double v, ssm_error *err);
ssm_code ssm_metadata_set_hex(ssm_metadata *m, const char *key, const void *bytes, size_t n,
                              ssm_error *err);

// The value of key, or NULL.
const char *ssm_metadata_get(const ssm_metadata *m, const char *key);
// Typed reads: SSM_ENOTFOUND if absent, SSM_EFORMAT if the text is not of the type
// (get_hex: not exactly n bytes of hex).
ssm_code ssm_metadata_get_int(const ssm_metadata *m, const char *key, int64_t *out, ssm_error *err);
ssm_code ssm_metadata_get_double(const ssm_metadata *m, const char *key, double *out, ssm_error *err);
ssm_code ssm_metadata_get_hex(const ssm_metadata *m, const char *key, void *bytes, size_t n,
                              ssm_error *err);
