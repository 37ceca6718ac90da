/*
 * table.c: text tables of the communication probes (see table.h).
 */
#include "table.h"

#include <stdarg.h>
#include <stdlib.h>

void dml__table_appendf(char *buf, size_t size, size_t *len, const char *fmt,
                        ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = (buf && *len < size) ? buf + *len : NULL;
    size_t room = at ? size - *len : 0;
    int w = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (w > 0)
        *len += (size_t)w;
}

dml_status dml__table_write(FILE *f, dml__table_format_fn format,
                            const void *table, const char *what,
                            dml_error *err)
{
    size_t len = format(table, NULL, 0);
    char *buf = malloc(len + 1);
    if (!buf)
        return dml_error_msg(err, DML_ENOMEM, "no memory for a %s table",
                             what);
    format(table, buf, len + 1);
    int bad = fputs(buf, f) == EOF;
    free(buf);
    if (bad)
        return dml_error_msg(err, DML_EIO, "writing the %s table failed",
                             what);
    return DML_OK;
}
