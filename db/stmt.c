/*
 * stmt.c: prepared statements with named parameters, column readers and
 * the small helpers the store files share (see db_internal.h).
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
#include <string.h>

dml_status dml__q_prepare(dml__q *q, dml_db *db, const char *sql,
                          const char *what, dml_error *err)
{
    q->db = db;
    q->st = NULL;
    q->what = what;
    q->rc = SQLITE_OK;
    q->bad = NULL;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &q->st, NULL);
    if (rc != SQLITE_OK)
        return dml__db_fail(db, rc, what, err);
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

dml_status dml__q_exec_id(dml__q *q, int64_t *id, dml_error *err)
{
    bool row = false;
    dml_status s = dml__q_step(q, &row, err);
    if (s == DML_OK && row) {
        *id = sqlite3_column_int64(q->st, 0);
        /* RETURNING rows are only final once the statement runs to its
         * end; stopping early would leave the write unfinished. */
        int rc = sqlite3_step(q->st);
        if (rc != SQLITE_DONE)
            s = dml__db_fail(q->db, rc, q->what, err);
    } else if (s == DML_OK) {
        s = dml_error_set(err, DML_EDB, q->db->path, 0, 0, NULL,
                          "%s: no row id returned", q->what);
    }
    reuse(q);
    return s;
}

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

int dml__col_plan_config(sqlite3_stmt *st, int col, dml_db_plan_config *c)
{
    c->dp = (int)dml__col_i64(st, col++);
    c->tp = (int)dml__col_i64(st, col++);
    c->pp = (int)dml__col_i64(st, col++);
    c->v = (int)dml__col_i64(st, col++);
    c->mbs = (int)dml__col_i64(st, col++);
    c->microbatches = (int)dml__col_i64(st, col++);
    c->global_batch = dml__col_i64(st, col++);
    c->zero = (int)dml__col_i64(st, col++);
    dml__col_text(st, col++, c->recompute, sizeof c->recompute);
    c->sp = dml__col_i64(st, col++) != 0;
    dml__col_text(st, col++, c->schedule, sizeof c->schedule);
    c->threads_per_rank = (int)dml__col_i64(st, col++);
    return col;
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
