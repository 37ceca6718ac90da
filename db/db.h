/*
 * db.h: the dml database handle: opening, schema version, transactions.
 *
 * Everything dml learns (probe runs, plans, runs, steps, events,
 * calibrations) goes into one SQLite file: `--db PATH`, else $DML_DB, else
 * ./dml.db. Only db/ speaks SQL; the rest of the project calls the typed
 * functions of probe_store.h, plan_store.h, calib_store.h, run_store.h and
 * history.h, which take and return plain structs.
 *
 * Opening is careful because the file may be anything a user typed: a path
 * in a missing directory is refused before anything is created, a file that
 * is not SQLite is refused without a single byte written, and so are
 * another application's SQLite database (tables, and not dml's), a
 * database written by a newer dml (PRAGMA user_version above
 * DML_DB_SCHEMA_VERSION) and, when the file is at most
 * DML_DB_QUICK_CHECK_MAX_BYTES, a corrupt one (PRAGMA quick_check; a larger
 * one is reported corrupt when a statement meets the damage). Only then
 * does a connection switch to WAL and apply the forward-only migrations
 * (schema.md describes the result). A reader (dml_db_open_existing) of a
 * WAL database on read-only media, where SQLite cannot make the -shm file,
 * opens it immutable. A full disk is reported as "no space left on
 * device", naming the database.
 *
 * Every connection has foreign_keys=ON and a 10 s busy_timeout, so ranks
 * and tools writing at once wait for each other instead of failing. Each
 * store function that writes several rows does so in one transaction
 * (BEGIN IMMEDIATE), or in a savepoint when the caller already holds one
 * through dml_db_begin(), so a failure never leaves half a record.
 *
 * A dml_db is not shared between threads; open one per thread or process.
 */
#ifndef DML_DB_DB_H
#define DML_DB_DB_H

#include <stdint.h>

#include "common/error.h"

/* The newest schema this build knows; migrations 1..this exist. */
#define DML_DB_SCHEMA_VERSION 12

/* How long a connection waits for another writer before giving up, ms. */
#define DML_DB_BUSY_TIMEOUT_MS 10000

/* Largest file PRAGMA quick_check runs on at every open, bytes (a
 * check reads every page: well under a second at this size). */
#define DML_DB_QUICK_CHECK_MAX_BYTES (64 << 20)

/* Timestamps in the database: ISO 8601 UTC ("2026-11-25T17:19:41Z"). */
#define DML_DB_TIME_MAX 32

typedef struct dml_db dml_db;

/*
 * The database path a tool uses: cli_path when given and not empty, else
 * $DML_DB when set and not empty, else "dml.db". Returns cli_path, the
 * environment string or a literal; never NULL.
 */
const char *dml_db_default_path(const char *cli_path);

/*
 * Open path, creating the file when it does not exist, and migrate it to
 * DML_DB_SCHEMA_VERSION. Errors: DML_EINPUT (directory missing, not a
 * regular file), DML_ENOTDB (not an SQLite file; left unchanged),
 * DML_ESCHEMA (schema newer than this build; left unchanged), DML_EDB or
 * DML_EIO (SQLite failed). *out is NULL on failure.
 */
dml_status dml_db_open(const char *path, dml_db **out, dml_error *err);

/*
 * As dml_db_open, but for readers: a missing file is DML_ENOTFOUND ("no
 * database at PATH (run dml-probe first)") and nothing is created. An
 * existing database of an older schema is still migrated.
 */
dml_status dml_db_open_existing(const char *path, dml_db **out,
                                dml_error *err);

/* Close; rolls back a transaction still open. db may be NULL. */
void dml_db_close(dml_db *db);

/* The path the handle was opened with. */
const char *dml_db_path(const dml_db *db);

/* PRAGMA user_version of the open database (DML_DB_SCHEMA_VERSION once
 * opened through dml_db_open); -1 if it cannot be read. */
int dml_db_schema_version(dml_db *db);

/*
 * Explicit write transaction (BEGIN IMMEDIATE) grouping several store
 * calls; the store functions then nest inside it as savepoints. Not
 * reentrant: one dml_db_begin at a time per handle. dml_db_rollback is
 * safe to call when no transaction is open.
 */
dml_status dml_db_begin(dml_db *db, dml_error *err);
dml_status dml_db_commit(dml_db *db, dml_error *err);
void dml_db_rollback(dml_db *db);

#endif
