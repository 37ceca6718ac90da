/*
 * row.h: reading result columns into C values and whole rows into structs
 * (internal to db/, like db_internal.h).
 *
 * A query that fills a struct names the struct's members in a table
 * (dml__row_def), in the order of its SELECT columns; one reader
 * (dml__row_read) walks the table. The column index is the position in the
 * table and the conversion follows from the member's C type, so there are
 * no hand-counted indices to keep in step and no per-struct reading code.
 * SQL NULL reads as "" / 0 / NAN, or NULL for a malloc'd string.
 */
#ifndef DML_DB_ROW_H
#define DML_DB_ROW_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/status.h"

/* ---- single columns ---- */

void dml__col_text(sqlite3_stmt *st, int col, char *buf, size_t size);
char *dml__col_text_dup(sqlite3_stmt *st, int col); /* malloc'd or NULL */
int64_t dml__col_i64(sqlite3_stmt *st, int col);
double dml__col_f64(sqlite3_stmt *st, int col);

/* ---- whole rows ---- */

typedef enum dml__field_kind {
    DML__FIELD_I64,  /* int64_t */
    DML__FIELD_INT,  /* int */
    DML__FIELD_BOOL, /* bool, from an integer column (nonzero is true) */
    DML__FIELD_F64,  /* double */
    DML__FIELD_TEXT, /* char[size], truncated to fit */
    DML__FIELD_DUP,  /* char *, malloc'd copy (dml__row_clear frees) */
} dml__field_kind;

typedef struct dml__field {
    dml__field_kind kind;
    size_t offset; /* of the member in its struct, bytes */
    size_t size;   /* of the member, bytes */
} dml__field;

/* One struct member, its kind taken from its type: a member of a type not
 * listed here (or a typo) fails to compile rather than reading garbage.
 * The address, not the member, is matched so that a char array is told
 * apart from a char pointer. member may be nested ("config.dp"). */
#define DML__FIELD(type, member)                                              \
    {_Generic(&((type *)0)->member,                                           \
         int64_t *: DML__FIELD_I64,                                           \
         int *: DML__FIELD_INT,                                               \
         bool *: DML__FIELD_BOOL,                                             \
         double *: DML__FIELD_F64,                                            \
         char **: DML__FIELD_DUP,                                             \
         char(*)[sizeof((type *)0)->member]: DML__FIELD_TEXT),               \
     offsetof(type, member), sizeof((type *)0)->member}

/* A struct's members in the order of its query's columns. */
typedef struct dml__row_def {
    const dml__field *fields;
    size_t n;    /* fields, one per column from column 0 */
    size_t size; /* of the struct, bytes */
} dml__row_def;

#define DML__ROW_DEF(type, fields)                                            \
    {(fields), sizeof(fields) / sizeof(fields)[0], sizeof(type)}

/* The plan configuration columns of a table or view aliased p, and the
 * members of a dml_db_plan_config member m of type they fill, in the same
 * order: a query lists both at the same place. */
#define DML__CONFIG_COLUMNS                                                   \
    "p.dp, p.tp, p.pp, p.v, p.mbs, p.microbatches, p.global_batch, "        \
    "p.zero, p.recompute, p.sp, p.schedule, p.threads_per_rank, "           \
    "p.framework, p.attention, p.sync"
#define DML__CONFIG_FIELDS(type, m)                                           \
    DML__FIELD(type, m.dp), DML__FIELD(type, m.tp), DML__FIELD(type, m.pp),   \
        DML__FIELD(type, m.v), DML__FIELD(type, m.mbs),                       \
        DML__FIELD(type, m.microbatches), DML__FIELD(type, m.global_batch),   \
        DML__FIELD(type, m.zero), DML__FIELD(type, m.recompute),              \
        DML__FIELD(type, m.sp), DML__FIELD(type, m.schedule),                 \
        DML__FIELD(type, m.threads_per_rank), DML__FIELD(type, m.framework),  \
        DML__FIELD(type, m.attention), DML__FIELD(type, m.sync)

/* Zero *row, then read the current row of st into it. A failed copy of a
 * malloc'd string gives DML_ENOMEM ("<what>: out of memory") with the
 * strings read so far left in *row for dml__row_clear. */
dml_status dml__row_read(sqlite3_stmt *st, const dml__row_def *def,
                         void *row, const char *what, dml_error *err);

/* Free the malloc'd strings of n rows of def at rows (NULL is fine) and
 * zero the rows; the array itself stays the caller's. */
void dml__row_clear(const dml__row_def *def, void *rows, size_t n);

/* Grow a row array by one (amortised doubling); returns the new slot,
 * zeroed, or NULL when out of memory. */
void *dml__rows_push(void **rows, size_t *n, size_t *cap, size_t elem);

#endif
