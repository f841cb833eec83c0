// defines: ssm_log_level, ssm_log, ssm_log_set_level
// Logging to stderr with a level; SSMKIT_LOG=debug|info|warn|error sets the
// threshold (default info). The level is process-wide configuration, set once.
#pragma once

typedef enum { SSM_LOG_DEBUG = 0, SSM_LOG_INFO, SSM_LOG_WARN, SSM_LOG_ERROR } ssm_log_level;

void ssm_log_set_level(ssm_log_level level);
ssm_log_level ssm_log_get_level(void);
void ssm_log(ssm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ssm_debug(...) ssm_log(SSM_LOG_DEBUG, __VA_ARGS__)
#define ssm_info(...) ssm_log(SSM_LOG_INFO, __VA_ARGS__)
#define ssm_warn(...) ssm_log(SSM_LOG_WARN, __VA_ARGS__)
