/*
 * log.h: diagnostics on stderr.
 *
 * Nothing below main() writes to stderr except through here, so that
 * `--quiet` and DML_LOG_LEVEL (error|warn|info|debug) govern all of it and
 * stdout carries only data.
 */
#ifndef DML_LOG_H
#define DML_LOG_H

typedef enum dml_log_level {
    DML_LOG_ERROR = 0,
    DML_LOG_WARN = 1,
    DML_LOG_INFO = 2,
    DML_LOG_DEBUG = 3,
} dml_log_level;

/* Read DML_LOG_LEVEL from the environment; the default is warn. */
void dml_log_init(const char *program);
void dml_log_set_level(dml_log_level level);
dml_log_level dml_log_get_level(void);

/* "program: level: message\n" on stderr when level is enabled. */
void dml_log(dml_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define dml_log_error(...) dml_log(DML_LOG_ERROR, __VA_ARGS__)
#define dml_log_warn(...) dml_log(DML_LOG_WARN, __VA_ARGS__)
#define dml_log_info(...) dml_log(DML_LOG_INFO, __VA_ARGS__)
#define dml_log_debug(...) dml_log(DML_LOG_DEBUG, __VA_ARGS__)

#endif
