// defines: ssm_config_key (one row of the key table), ssm_config_keys, ssm_config_nkeys,
//          ssm_config_key_find, ssm_config_key_suggest, ssm_config_parse_value,
//          ssm_config_format_value, ssm_config_value_equal, ssm_config_expand_vars,
//          ssm_config_cyaml_schema, ssm_config_schema_check
// Internal to core/config*.c and tests: the table of every config key (path,
// type, place in ssm_config, range or allowed names, default, meaning). One
// table drives the line-aware checks of a file, --set, the defaults, writing
// and the reference in docs/config.md; core/config_schema.c holds the libcyaml
// schema, and ssm_config_schema_check proves the two agree.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"

typedef enum {
    SSM_KEY_INT,    // int64_t
    SSM_KEY_FLOAT,  // double, always finite
    SSM_KEY_BOOL,   // bool
    SSM_KEY_ENUM,   // int-sized enum, value = index into names
    SSM_KEY_STRING, // char[size]
    SSM_KEY_LIST,   // char[SSM_CFG_MAX_ORDERS][SSM_CFG_ORDER_MAX] + uint32_t count
} ssm_key_kind;

enum {
    SSM_KEY_EXPAND = 1 << 0,   // STRING: ${VAR} expanded, $$ is a literal $
    SSM_KEY_MIN_OPEN = 1 << 1, // FLOAT: min itself is excluded
    SSM_KEY_MAX_OPEN = 1 << 2, // FLOAT: max itself is excluded
};

// An extra check on a string (or each list entry); fills why and returns false when refused.
typedef bool (*ssm_key_check_fn)(const char *s, char *why, size_t n);

typedef struct {
    const char *path;          // "backbone.d_model"
    ssm_key_kind kind;
    size_t offset, size;       // of the value in ssm_config
    size_t count_offset;       // LIST: of the uint32_t entry count
    int64_t imin, imax;        // INT range, inclusive
    double fmin, fmax;         // FLOAT range (see *_OPEN flags)
    const char *const *names;  // ENUM: allowed names, NULL-terminated
    unsigned flags;            // SSM_KEY_*
    ssm_key_check_fn check;    // STRING / LIST entries, or NULL
    const char *allowed;       // STRING / LIST: words for the reference ("cpu, cuda, cuda:N")
    const char *def;           // default, as the text a user would write
    const char *doc;           // meaning, one sentence or two
} ssm_config_key;

extern const ssm_config_key ssm_config_keys[];
extern const size_t ssm_config_nkeys;

// The key with this exact path, or NULL.
const ssm_config_key *ssm_config_key_find(const char *path);

// Fills buf with the closest known key path to `path` (edit distance <= 3), or "" if none.
void ssm_config_key_suggest(const char *path, char *buf, size_t n);

// Parses the text of one value (a scalar; for LIST, entries[0..n_entries)) into
// the key's field of *c after type, range, enum and extra checks. On error fills
// err with "key.path: <what>, expected <allowed>" (the caller adds file:line or
// "--set") and leaves *c unchanged.
ssm_code ssm_config_parse_value(ssm_config *c, const ssm_config_key *k, const char *const *entries,
                                size_t n_entries, ssm_error *err);

// Writes the key's value of *c as YAML flow text (strings double-quoted, floats
// with 17 significant digits so a reload gives the same bits).
void ssm_config_format_value(const ssm_config *c, const ssm_config_key *k, char *buf, size_t n);

bool ssm_config_value_equal(const ssm_config *a, const ssm_config *b, const ssm_config_key *k);

// Expands ${VAR} (unset SSMKIT_DATA = ../shared/data; any other unset variable
// is an error naming it) and $$ into out.
ssm_code ssm_config_expand_vars(const char *in, char *out, size_t n, ssm_error *err);

// The libcyaml schema of the whole file (top-level value, pointer to ssm_config).
const void *ssm_config_cyaml_schema(void);

// true when every key of the table has a libcyaml field with the same offset,
// size, type and enum names, and the schema has no key the table lacks.
bool ssm_config_schema_check(char *why, size_t n);
