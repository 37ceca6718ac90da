/*
 * stmt.c: prepared statements with named parameters, the ways the store
 * files run them (once, once per row of a batch, or into an array of rows
 * read by row.h) and the small helpers they share (see db_internal.h).
 *
 * Values only ever reach SQL through sqlite3_bind_*: no statement text is
 * built from data, so a hostname or model name holding quotes is stored as
 * it is and cannot change what a statement does.
 */
#include "db_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"

/* DML__SQL_NOW: the time of this execution of the statement. */
static void bind_now(dml__q *q)
{
    if (q->now == 0)
        return;
    char now[DML_CLOCK_ISO8601_LEN];
    dml_clock_iso8601(now, sizeof now);
    int rc = sqlite3_bind_text(q->st, q->now, now, -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK && q->rc == SQLITE_OK) {
        q->rc = rc;
        q->bad = DML__SQL_NOW;
    }
}

dml_status dml__q_prepare(dml__q *q, dml_db *db, const char *sql,
                          const char *what, dml_error *err)
{
    q->db = db;
    q->st = NULL;
    q->what = what;
    q->rc = SQLITE_OK;
    q->bad = NULL;
    q->now = 0;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &q->st, NULL);
    if (rc != SQLITE_OK)
        return dml__db_fail(db, rc, what, err);
    q->now = sqlite3_bind_parameter_index(q->st, DML__SQL_NOW);
    bind_now(q);
    return DML_OK;
}

void dml__q_finish(dml__q *q)
{
    sqlite3_finalize(q->st);
    q->st = NULL;
}

/* Parameter index of name, recording a failure when the statement has no
 * such parameter (a bug in this folder, caught by the unit tests). */
static int param(dml__q *q, const char *name)
{
    if (q->rc != SQLITE_OK)
        return 0;
    int i = sqlite3_bind_parameter_index(q->st, name);
    if (i == 0) {
        q->rc = SQLITE_RANGE;
        q->bad = name;
    }
    return i;
}

static void note(dml__q *q, int rc, const char *name)
{
    if (rc != SQLITE_OK && q->rc == SQLITE_OK) {
        q->rc = rc;
        q->bad = name;
    }
}

void dml__q_text(dml__q *q, const char *name, const char *v)
{
    int i = param(q, name);
    if (i == 0)
        return;
    if (!v)
        note(q, sqlite3_bind_null(q->st, i), name);
    else
        note(q, sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT), name);
}

void dml__q_opt(dml__q *q, const char *name, const char *v)
{
    int i = param(q, name);
    if (i == 0)
        return;
    if (!v || !v[0])
        note(q, sqlite3_bind_null(q->st, i), name);
    else
        note(q, sqlite3_bind_text(q->st, i, v, -1, SQLITE_TRANSIENT), name);
}

void dml__q_i64(dml__q *q, const char *name, int64_t v)
{
    int i = param(q, name);
    if (i != 0)
        note(q, sqlite3_bind_int64(q->st, i, v), name);
}

void dml__q_f64(dml__q *q, const char *name, double v)
{
    int i = param(q, name);
    if (i == 0)
        return;
    if (!isfinite(v))
        note(q, sqlite3_bind_null(q->st, i), name);
    else
        note(q, sqlite3_bind_double(q->st, i, v), name);
}

void dml__q_id(dml__q *q, const char *name, int64_t v)
{
    int i = param(q, name);
    if (i == 0)
        return;
    if (v <= 0)
        note(q, sqlite3_bind_null(q->st, i), name);
    else
        note(q, sqlite3_bind_int64(q->st, i, v), name);
}

static dml_status bind_failed(dml__q *q, dml_error *err)
{
    int rc = q->rc;
    const char *bad = q->bad ? q->bad : "?";
    sqlite3_reset(q->st);
    sqlite3_clear_bindings(q->st);
    q->rc = SQLITE_OK;
    q->bad = NULL;
    bind_now(q);
    if (rc == SQLITE_NOMEM)
        return dml_error_msg(err, DML_ENOMEM, "%s: out of memory", q->what);
    return dml_error_set(err, DML_EDB, q->db->path, 0, 0, NULL,
                         "%s: cannot bind parameter %s (%s)", q->what, bad,
                         sqlite3_errstr(rc));
}

static void reuse(dml__q *q)
{
    sqlite3_reset(q->st);
    sqlite3_clear_bindings(q->st);
    bind_now(q);
}

dml_status dml__q_exec(dml__q *q, dml_error *err)
{
    if (q->rc != SQLITE_OK)
        return bind_failed(q, err);
    int rc = sqlite3_step(q->st);
    dml_status s = DML_OK;
    if (rc != SQLITE_DONE)
        s = dml__db_fail(q->db, rc, q->what, err);
    reuse(q);
    return s;
}

dml_status dml__q_step(dml__q *q, bool *row, dml_error *err)
{
    *row = false;
    if (q->rc != SQLITE_OK)
        return bind_failed(q, err);
    int rc = sqlite3_step(q->st);
    if (rc == SQLITE_ROW) {
        *row = true;
        return DML_OK;
    }
    if (rc == SQLITE_DONE)
        return DML_OK;
    return dml__db_fail(q->db, rc, q->what, err);
}

dml_status dml__q_once(dml__q *q, dml_error *err)
{
    dml_status s = dml__q_exec(q, err);
    dml__q_finish(q);
    return s;
}

dml_status dml__q_once_id(dml__q *q, int64_t *id, dml_error *err)
{
    bool row = false;
    int64_t v = 0;
    dml_status s = dml__q_step(q, &row, err);
    if (s == DML_OK && row) {
        v = sqlite3_column_int64(q->st, 0);
        /* RETURNING rows are only final once the statement runs to its
         * end; stopping early would leave the write unfinished. */
        int rc = sqlite3_step(q->st);
        if (rc != SQLITE_DONE)
            s = dml__db_fail(q->db, rc, q->what, err);
    } else if (s == DML_OK) {
        s = dml_error_set(err, DML_EDB, q->db->path, 0, 0, NULL,
                          "%s: no row id returned", q->what);
    }
    dml__q_finish(q);
    if (s == DML_OK && id)
        *id = v;
    return s;
}

dml_status dml__q_batch(dml_db *db, const char *sql, const char *what,
                        int64_t owner, const void *rows, size_t n,
                        size_t elem, dml__bind_fn bind, size_t *failed,
                        dml_error *err)
{
    if (failed)
        *failed = n;
    if (n == 0)
        return DML_OK;
    dml__tx tx;
    DML_CHECK(dml__tx_begin(db, &tx, err));
    dml__q q;
    dml_status s = dml__q_prepare(&q, db, sql, what, err);
    for (size_t i = 0; i < n && s == DML_OK; i++) {
        bind(&q, owner, (const char *)rows + i * elem);
        s = dml__q_exec(&q, err);
        if (s != DML_OK && failed)
            *failed = i;
    }
    dml__q_finish(&q);
    return dml__tx_end(&tx, s, err);
}

dml_status dml__q_rows(dml__q *q, const dml__row_def *def, void **rows,
                       size_t *n, dml_error *err)
{
    *rows = NULL;
    *n = 0;
    size_t cap = 0;
    dml_status s;
    for (;;) {
        bool row = false;
        s = dml__q_step(q, &row, err);
        if (s != DML_OK || !row)
            break;
        void *slot = dml__rows_push(rows, n, &cap, def->size);
        if (!slot) {
            s = dml_error_msg(err, DML_ENOMEM, "%s: out of memory", q->what);
            break;
        }
        s = dml__row_read(q->st, def, slot, q->what, err);
        if (s != DML_OK)
            break;
    }
    if (s != DML_OK) {
        dml__row_clear(def, *rows, *n);
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return s;
}

dml_status dml__db_read_text(dml_db *db, const char *sql, const char *noun,
                             int64_t id, char **out, dml_error *err)
{
    *out = NULL;
    dml__q q;
    DML_CHECK(dml__q_prepare(&q, db, sql, noun, err));
    dml__q_i64(&q, ":id", id);
    bool row = false;
    dml_status s = dml__q_step(&q, &row, err);
    if (s == DML_OK && !row)
        s = dml_error_msg(err, DML_ENOTFOUND, "no %s with id %lld", noun,
                          (long long)id);
    if (s == DML_OK && sqlite3_column_type(q.st, 0) != SQLITE_NULL) {
        *out = dml__col_text_dup(q.st, 0);
        if (!*out)
            s = dml_error_msg(err, DML_ENOMEM, "reading %s: out of memory",
                              noun);
    }
    dml__q_finish(&q);
    return s;
}

void dml__db_hash_hex(const char *text, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    for (const unsigned char *p = (const unsigned char *)(text ? text : "");
         *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull; /* FNV-1a 64 prime */
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}
