// defines: ssm_log, ssm_log_set_level, ssm_log_get_level
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_level = -1; // -1: not yet read from SSMKIT_LOG

static int level_from_env(void) {
    const char *s = getenv("SSMKIT_LOG");
    if (!s)
        return SSM_LOG_INFO;
    if (!strcmp(s, "debug")) return SSM_LOG_DEBUG;
    if (!strcmp(s, "warn")) return SSM_LOG_WARN;
    if (!strcmp(s, "error")) return SSM_LOG_ERROR;
    return SSM_LOG_INFO;
}

void ssm_log_set_level(ssm_log_level level) { g_level = (int)level; }

ssm_log_level ssm_log_get_level(void) {
    if (g_level < 0)
        g_level = level_from_env();
    return (ssm_log_level)g_level;
}

void ssm_log(ssm_log_level level, const char *fmt, ...) {
    if ((int)level < (int)ssm_log_get_level())
        return;
    static const char *names[] = {"debug", "info", "warn", "error"};
    fprintf(stderr, "[ssmkit %s] ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
