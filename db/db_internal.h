/*
 * db_internal.h: what the files of db/ share and the unit tests reach into;
 * not part of the API other folders may use.
 *
 * Statements go through dml__q: prepare once, bind by parameter name
 * (":dp") so a column added later cannot shift the others, step, finish.
 * Bind helpers remember the first failure so a store function binds a
 * dozen fields and checks once, at the step. Result rows are read into
 * structs through the tables of row.h.
 */
#ifndef DML_DB_INTERNAL_H
#define DML_DB_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "row.h"

struct dml_db {
    sqlite3 *conn;   /* the one connection this handle owns */
    char *path;      /* as given to dml_db_open */
    bool explicit_tx; /* dml_db_begin() is in force */
    bool immutable;  /* reopened read-only on read-only media */
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

/* The first column of the first row of fixed SQL (a count, a pragma) as
 * an int. */
dml_status dml__db_query_int(dml_db *db, const char *sql, const char *what,
                             int *out, dml_error *err);

/* PRAGMA user_version into *version (the last migration applied). */
dml_status dml__db_user_version(dml_db *db, int *version, dml_error *err);
/* DML_ESCHEMA: the file's schema version is newer than this build's. */
dml_status dml__db_refuse_newer(dml_db *db, int version, dml_error *err);

/* ---- looks before writing, read-only media (open_check.c) ---- */

/* DML_ENOTDB unless the file is empty or holds dml's tables under a schema
 * version of dml's (another application's SQLite database). Reads only. */
dml_status dml__db_check_owner(dml_db *db, int version, dml_error *err);

/* PRAGMA quick_check when the file is at most DML_DB_QUICK_CHECK_MAX_BYTES:
 * DML_EDB "database file is corrupt (...)" when it finds damage. */
dml_status dml__db_check_intact(dml_db *db, dml_error *err);

/* After a failed first read: was it SQLite unable to open a WAL
 * database's -shm in a directory it cannot write (read-only media)? */
bool dml__db_wants_immutable(dml_db *db);

/* DML_EIO for a writer in that case: the folder is not writable. */
dml_status dml__db_refuse_unwritable(dml_db *db, dml_error *err);

/* Replace the connection by a read-only, immutable one (warns when a
 * non-empty -wal file is thereby not read). */
dml_status dml__db_reopen_immutable(dml_db *db, dml_error *err);

/* The time now as the schema stores times (ISO 8601 UTC with
 * milliseconds, "2026-12-06T12:48:16.123Z"), in SQL: a parameter that
 * stmt.c binds to dml_clock_iso8601 (common/clock.h) before each
 * execution of a statement that has it, so that the times db/ writes
 * itself and the times the tools pass in come from one helper in one
 * form. (SQLite's strftime('%f') would give milliseconds too, from
 * another clock reading and another formatter.) */
#define DML__SQL_NOW ":now"

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
    int now;          /* index of DML__SQL_NOW's parameter, 0 if none */
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
/* Step a statement that returns no row, then finish it. */
dml_status dml__q_once(dml__q *q, dml_error *err);
/* Step a statement expected to return exactly one row with an integer in
 * column 0 (INSERT ... RETURNING id), then finish it; *id (may be NULL)
 * is set on success only. */
dml_status dml__q_once_id(dml__q *q, int64_t *id, dml_error *err);

/* Binds the parameters of one row of a batch; owner is the id of what the
 * rows belong to (a run, a probe run). */
typedef void (*dml__bind_fn)(dml__q *q, int64_t owner, const void *row);

/* Run sql (an INSERT without RETURNING) once for each of the n elements
 * (elem bytes each) at rows, binding each with bind, inside one write
 * scope: every row or none. Prepared once, so a batch costs one parse and
 * one commit, not one per row. Stops at the first failing row, whose index
 * goes to *failed (may be NULL; n when no row failed). n == 0 does
 * nothing. */
dml_status dml__q_batch(dml_db *db, const char *sql, const char *what,
                        int64_t owner, const void *rows, size_t n,
                        size_t elem, dml__bind_fn bind, size_t *failed,
                        dml_error *err);

/* Step q to its end, reading each row by def into a new element of a
 * malloc'd array *rows (*n elements). On error the array and the strings
 * in it are freed and *rows is NULL. q stays the caller's to finish. */
dml_status dml__q_rows(dml__q *q, const dml__row_def *def, void **rows,
                       size_t *n, dml_error *err);

/* Read the one text column of `sql` (with an :id parameter) for id into a
 * malloc'd string; SQL NULL gives NULL with DML_OK, no row DML_ENOTFOUND
 * ("no <noun> with id N"). */
dml_status dml__db_read_text(dml_db *db, const char *sql, const char *noun,
                             int64_t id, char **out, dml_error *err);

/* The calibrations columns dml__calibration_row reads, in order. */
#define DML__CALIBRATION_COLUMNS                                              \
    "id, cluster_fingerprint, created_at, n_runs, params_json, "            \
    "mape_before, mape_after, loo_mape_before, loo_mape_after, "            \
    "interval_pct"

/* dml_db_calibration as read by DML__CALIBRATION_COLUMNS (calib_store.c);
 * params_json is malloc'd. */
extern const dml__row_def dml__calibration_row;

/* FNV-1a 64-bit of text as 16 hex digits (a fingerprint, not security). */
void dml__db_hash_hex(const char *text, char out[17]);

/* ---- a plan's content (plan_store.c; schema.c's migration 5) ---- */

/*
 * The text that says what a plans row (or any row source x with the same
 * column names) holds apart from its id, its time, its model, cluster and
 * calibration (which the UNIQUE index plans_by_content keys separately):
 * its configuration, prediction and plan file, the file without its
 * db_plan_id (which names the row, not the plan) and minified by SQLite's
 * JSON functions (so that --out's indented copy of a file reads the same
 * as the compact text dml-plan records). As a JSON array, so that no two
 * different rows give the same text. Migration 5 hashed the rows already
 * there with it: a change to it is a new migration that hashes them again.
 */
#define DML__PLAN_KEY(x)                                                      \
    "json_array(" x ".dp, " x ".tp, " x ".pp, " x ".v, " x ".mbs, "          \
    x ".microbatches, " x ".global_batch, " x ".zero, " x ".recompute, "    \
    x ".sp, " x ".schedule, " x ".threads_per_rank, " x ".framework, "      \
    x ".attention, " x ".sync, " x ".predicted_step_s, "                    \
    x ".predicted_mem_bytes, " x ".predicted_tokens_per_s, " x ".mfu, "     \
    "CASE WHEN json_valid(" x ".plan_json) THEN json_remove(" x              \
    ".plan_json, '$.db_plan_id') ELSE " x ".plan_json END)"

/* Register dml_plan_hash(text) on conn: dml__db_hash_hex of its argument
 * (NULL for NULL), the plan_hash of DML__PLAN_KEY's text. SQLITE_OK or an
 * SQLite error code. */
int dml__plan_hash_register(sqlite3 *conn);

#endif
