/*
 * error.c: filling and formatting the dml_error context.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "quote.h"

static void copy_str(char *dst, size_t size, const char *src)
{
    if (!src)
        src = "";
    snprintf(dst, size, "%s", src);
}

void dml_error_clear(dml_error *err)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->status = DML_OK;
}

dml_status dml_error_set(dml_error *err, dml_status status, const char *file,
                         int line, int col, const char *field,
                         const char *fmt, ...)
{
    if (!err)
        return status;
    err->status = status;
    copy_str(err->file, sizeof err->file, file);
    err->line = line;
    err->col = col;
    copy_str(err->field, sizeof err->field, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

dml_status dml_error_msg(dml_error *err, dml_status status, const char *fmt,
                         ...)
{
    if (!err)
        return status;
    dml_error_clear(err);
    err->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return status;
}

void dml_error_why(char *why, size_t size, const char *fmt, ...)
{
    if (!why || !size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
}

void dml_error_prefix(dml_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[DML_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[DML_ERROR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s%s", prefix, old);
}

/* Messages quote what people typed (a JSON string may hold a newline or a
 * terminal escape) and what older databases hold: the formatted line goes
 * out through dml_quote_terminal, so that it stays one line and cannot
 * drive the terminal. */
static void escape_controls(char *buf, size_t size)
{
    char tmp[DML_ERROR_FILE_MAX + DML_ERROR_FIELD_MAX + DML_ERROR_MSG_MAX +
             64];
    snprintf(tmp, sizeof tmp, "%s", buf);
    dml_quote_terminal(tmp, buf, size);
}

char *dml_error_format(const dml_error *err, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!err)
        return buf;
    size_t n = 0;
#define DML__APPEND(...)                                                      \
    do {                                                                      \
        if (n < size) {                                                       \
            int w = snprintf(buf + n, size - n, __VA_ARGS__);                 \
            if (w > 0)                                                        \
                n += (size_t)w;                                               \
        }                                                                     \
    } while (0)
    if (err->file[0]) {
        DML__APPEND("%s:", err->file);
        if (err->line > 0) {
            DML__APPEND("%d:", err->line);
            if (err->col > 0)
                DML__APPEND("%d:", err->col);
        }
        DML__APPEND(" ");
    }
    if (err->field[0])
        DML__APPEND("%s: ", err->field);
    DML__APPEND("%s", err->msg[0] ? err->msg : dml_strerror(err->status));
#undef DML__APPEND
    escape_controls(buf, size);
    return buf;
}
