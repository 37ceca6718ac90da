/*
 * error.c: filling and formatting the dml_error context.
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
 * terminal escape): write control characters as \n, \t, \r or \xHH, so
 * that an error stays one line and cannot drive the terminal. */
static void escape_controls(char *buf, size_t size)
{
    size_t i = 0;
    while (buf[i] && !((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f))
        i++;
    if (!buf[i])
        return;
    char tmp[DML_ERROR_FILE_MAX + DML_ERROR_FIELD_MAX + DML_ERROR_MSG_MAX];
    size_t n = 0;
    for (size_t j = i; buf[j] && n + 5 < sizeof tmp; j++) {
        unsigned char c = (unsigned char)buf[j];
        if (c == '\n' || c == '\t' || c == '\r') {
            tmp[n++] = '\\';
            tmp[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
        } else if (c < 0x20 || c == 0x7f) {
            n += (size_t)snprintf(tmp + n, sizeof tmp - n, "\\x%02x", c);
        } else {
            tmp[n++] = (char)c;
        }
    }
    tmp[n] = '\0';
    snprintf(buf + i, size - i, "%s", tmp);
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
