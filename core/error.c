// defines: ssm_fail, ssm_error_prefix, ssm_code_name
#include "core/error.h"

#include <stdio.h>
#include <string.h>

ssm_code ssm_fail(ssm_error *e, ssm_code code, const char *fmt, ...) {
    if (e) {
        e->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

ssm_code ssm_error_prefix(ssm_error *e, const char *fmt, ...) {
    if (!e)
        return SSM_EINVAL;
    char prefix[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof e->msg)
        n = sizeof e->msg - 1;
    memcpy(e->msg, prefix, n);
    size_t rest = sizeof e->msg - 1 - n;
    size_t m = strnlen(old, rest);
    memcpy(e->msg + n, old, m);
    e->msg[n + m] = 0;
    return e->code;
}

const char *ssm_code_name(ssm_code code) {
    switch (code) {
    case SSM_OK: return "ok";
    case SSM_EINVAL: return "invalid argument";
    case SSM_EIO: return "I/O error";
    case SSM_EFORMAT: return "format error";
    case SSM_ENOMEM: return "out of memory";
    case SSM_ECONFIG: return "config error";
    case SSM_EDEVICE: return "device error";
    case SSM_ENOTFOUND: return "not found";
    case SSM_EDATA: return "data error";
    }
    return "unknown error";
}
