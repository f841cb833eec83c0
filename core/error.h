// defines: ssm_code, ssm_error, ssm_fail, ssm_error_prefix, SSM_TRY
// Errors are values (DESIGN.md invariant 7): library code returns an ssm_code
// and fills an ssm_error with a message naming the file, line or sample and
// what was expected. Only cli/ prints and exits.
#pragma once
#include <stdarg.h>

typedef enum {
    SSM_OK = 0,
    SSM_EINVAL,    // bad argument or shape
    SSM_EIO,       // file could not be opened, read or written
    SSM_EFORMAT,   // file contents are not what the format says
    SSM_ENOMEM,    // allocation failed
    SSM_ECONFIG,   // config key unknown, wrong type, out of range
    SSM_EDEVICE,   // CUDA asked for and absent, or a device call failed
    SSM_ENOTFOUND, // a named thing (parameter, adapter, file) is missing
    SSM_EDATA,     // a value in the data is invalid (NaN, label out of range)
} ssm_code;

typedef struct {
    ssm_code code;
    char msg[1024];
} ssm_error;

// Fills *e (if non-NULL) with code and a printf-style message; returns code,
// so callers write `return ssm_fail(e, SSM_EIO, "%s: cannot open", path);`.
ssm_code ssm_fail(ssm_error *e, ssm_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Prepends context ("while loading X: ") to an existing message; returns e->code.
ssm_code ssm_error_prefix(ssm_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

const char *ssm_code_name(ssm_code code);

// Propagates a non-OK code from an expression.
#define SSM_TRY(expr)                       \
    do {                                    \
        ssm_code ssm_try_rc_ = (expr);      \
        if (ssm_try_rc_ != SSM_OK)          \
            return ssm_try_rc_;             \
    } while (0)
