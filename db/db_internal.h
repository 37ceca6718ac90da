/*
 * db_internal.h: what the files of db/ share and the unit tests reach into;
 * not part of the API other folders may use.
 *
 * Statements go through dml__q: prepare once, bind by parameter name
 * (":dp") so a column added later cannot shift the others, step, finish.
 * Bind helpers remember the first failure so a store function binds a
 * dozen fields and checks once, at the step.
 */
#ifndef DML_DB_INTERNAL_H
#define DML_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "calib_store.h"
#include "plan_store.h"

struct dml_db {
    sqlite3 *conn;   /* the one connection this handle owns */
    char *path;      /* as given to dml_db_open */
    bool explicit_tx; /* dml_db_begin() is in force */
};

/* ---- opening and migrations (db.c, migrate.c) ---- */

/* Open like dml_db_open but migrate only up to target_version (tests use
 * 1 to build an old database). create: may the file be created. */
dml_status dml__db_open_at(const char *path, bool create, int target_version,
                           dml_db **out, dml_error *err);

/* Apply migrations current+1 .. target, each in its own transaction. */
dml_status dml__db_migrate_to(dml_db *db, int target, dml_error *err);

/* Migration i (1-based) SQL text, or NULL beyond the last (schema.c). */
const char *dml__db_migration_sql(int version);

/* The connection, for tests that inspect the file with plain SQL. */
sqlite3 *dml__db_handle(dml_db *db);

/* Turn an SQLite failure into a dml status and message naming what was
 * being done ("recording probe run"). */
dml_status dml__db_fail(dml_db *db, int rc, const char *what, dml_error *err);

/* Run SQL without parameters (fixed text only, never user input). */
dml_status dml__db_exec(dml_db *db, const char *sql, const char *what,
                        dml_error *err);

/* ---- write scopes: a transaction, or a savepoint inside the caller's ---- */

typedef struct dml__tx {
    dml_db *db;
    bool savepoint; /* nested inside a transaction the caller opened */
} dml__tx;

dml_status dml__tx_begin(dml_db *db, dml__tx *tx, dml_error *err);
/* Commit when status is DML_OK, else roll back; returns the final status
 * (a failing commit turns DML_OK into an error). */
dml_status dml__tx_end(dml__tx *tx, dml_status status, dml_error *err);

/* ---- prepared statements ---- */

typedef struct dml__q {
    dml_db *db;
    sqlite3_stmt *st;
    const char *what; /* for error messages */
    int rc;           /* first bind failure, SQLITE_OK if none */
    const char *bad;  /* parameter name of that failure */
} dml__q;

dml_status dml__q_prepare(dml__q *q, dml_db *db, const char *sql,
                          const char *what, dml_error *err);
void dml__q_finish(dml__q *q);

/* Text as given; NULL binds SQL NULL. */
void dml__q_text(dml__q *q, const char *name, const char *v);
/* Optional text: NULL and "" both bind SQL NULL (absent, not empty). */
void dml__q_opt(dml__q *q, const char *name, const char *v);
void dml__q_i64(dml__q *q, const char *name, int64_t v);
/* Non-finite values (NAN for "unknown") bind SQL NULL. */
void dml__q_f64(dml__q *q, const char *name, double v);
/* A row id; v <= 0 means none and binds SQL NULL. */
void dml__q_id(dml__q *q, const char *name, int64_t v);

/* Step a statement that returns no row; resets it for reuse. */
dml_status dml__q_exec(dml__q *q, dml_error *err);
/* Step once: *row true with a row to read, false when done. */
dml_status dml__q_step(dml__q *q, bool *row, dml_error *err);
/* Step a statement expected to return exactly one row with an integer in
 * column 0 (INSERT ... RETURNING id); resets it. */
dml_status dml__q_exec_id(dml__q *q, int64_t *id, dml_error *err);

/* Column readers: SQL NULL reads as "" / 0 / NAN. */
void dml__col_text(sqlite3_stmt *st, int col, char *buf, size_t size);
char *dml__col_text_dup(sqlite3_stmt *st, int col); /* malloc'd or NULL */
int64_t dml__col_i64(sqlite3_stmt *st, int col);
double dml__col_f64(sqlite3_stmt *st, int col);

/* Read the one text column of `sql` (with an :id parameter) for id into a
 * malloc'd string; SQL NULL gives NULL with DML_OK, no row DML_ENOTFOUND
 * ("no <noun> with id N"). */
dml_status dml__db_read_text(dml_db *db, const char *sql, const char *noun,
                             int64_t id, char **out, dml_error *err);

/* The plan configuration columns of a table or view aliased p, in the
 * order dml__col_plan_config reads them. */
#define DML__CONFIG_COLUMNS                                                   \
    "p.dp, p.tp, p.pp, p.v, p.mbs, p.microbatches, p.global_batch, "        \
    "p.zero, p.recompute, p.sp, p.schedule, p.threads_per_rank"

/* Read DML__CONFIG_COLUMNS starting at column col; returns the column
 * after them. */
int dml__col_plan_config(sqlite3_stmt *st, int col, dml_db_plan_config *c);

/* The calibrations columns dml__col_calibration reads, in order. */
#define DML__CALIBRATION_COLUMNS                                              \
    "id, cluster_fingerprint, created_at, n_runs, params_json, "            \
    "mape_before, mape_after, loo_mape_before, loo_mape_after, "            \
    "interval_pct"

/* Read one calibrations row (DML__CALIBRATION_COLUMNS from column 0) into
 * c, params_json malloc'd. */
dml_status dml__col_calibration(sqlite3_stmt *st, dml_db_calibration *c,
                                dml_error *err);

/* FNV-1a 64-bit of text as 16 hex digits (a fingerprint, not security). */
void dml__db_hash_hex(const char *text, char out[17]);

/* Grow a row array by one (amortised doubling); returns the new slot,
 * zeroed, or NULL when out of memory. */
void *dml__rows_push(void **rows, size_t *n, size_t *cap, size_t elem);

#endif
