/*
 * row.c: column readers and the table-driven row reader (see row.h).
 *
 * NULL handling lives here only: NULL is how the schema says "unknown", so
 * a REAL reads back as NAN (never 0, which would look measured) and text as
 * "" in a fixed buffer or NULL in a malloc'd one.
 */
#include "row.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dml__col_text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    snprintf(buf, size, "%s", t ? (const char *)t : "");
}

char *dml__col_text_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

int64_t dml__col_i64(sqlite3_stmt *st, int col)
{
    return sqlite3_column_int64(st, col);
}

double dml__col_f64(sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NAN;
    return sqlite3_column_double(st, col);
}

dml_status dml__row_read(sqlite3_stmt *st, const dml__row_def *def,
                         void *row, const char *what, dml_error *err)
{
    memset(row, 0, def->size);
    for (size_t i = 0; i < def->n; i++) {
        const dml__field *f = &def->fields[i];
        void *m = (char *)row + f->offset;
        int col = (int)i;
        switch (f->kind) {
        case DML__FIELD_I64:
            *(int64_t *)m = dml__col_i64(st, col);
            break;
        case DML__FIELD_INT:
            *(int *)m = (int)dml__col_i64(st, col);
            break;
        case DML__FIELD_BOOL:
            *(bool *)m = dml__col_i64(st, col) != 0;
            break;
        case DML__FIELD_F64:
            *(double *)m = dml__col_f64(st, col);
            break;
        case DML__FIELD_TEXT:
            dml__col_text(st, col, m, f->size);
            break;
        case DML__FIELD_DUP:
            /* The type is asked first: reading the text would not tell an
             * SQL NULL from a copy that failed. */
            if (sqlite3_column_type(st, col) == SQLITE_NULL)
                break;
            *(char **)m = dml__col_text_dup(st, col);
            if (!*(char **)m)
                return dml_error_msg(err, DML_ENOMEM, "%s: out of memory",
                                     what);
            break;
        }
    }
    return DML_OK;
}

void dml__row_clear(const dml__row_def *def, void *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t r = 0; r < n; r++) {
        char *row = (char *)rows + r * def->size;
        for (size_t i = 0; i < def->n; i++)
            if (def->fields[i].kind == DML__FIELD_DUP)
                free(*(char **)(row + def->fields[i].offset));
        memset(row, 0, def->size);
    }
}

void *dml__rows_push(void **rows, size_t *n, size_t *cap, size_t elem)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        void *nr = realloc(*rows, nc * elem);
        if (!nr)
            return NULL;
        *rows = nr;
        *cap = nc;
    }
    void *slot = (char *)*rows + *n * elem;
    memset(slot, 0, elem);
    (*n)++;
    return slot;
}
