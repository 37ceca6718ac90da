/*
 * migrate.c: bringing a database forward to the schema this build knows.
 *
 * PRAGMA user_version is the number of the last migration applied.
 * Migrations only go forward, one transaction each, so a crash between two
 * leaves a database at a valid older version that the next open continues
 * from. The version is read again after BEGIN IMMEDIATE: two processes
 * opening a fresh file at once both see version 0, and only the first to
 * take the write lock may apply migration 1.
 *
 * Foreign keys are off while migrations run (a pragma that only takes
 * effect outside a transaction): a migration that rebuilds a table drops
 * the old one, which with foreign keys on would delete every child row by
 * ON DELETE CASCADE. Each migration checks the keys itself before it
 * commits (PRAGMA foreign_key_check), so a migration that broke one is
 * rolled back rather than committed.
 */
#include "db_internal.h"

#include <stdio.h>

#include "common/log.h"

/* Rows that break a foreign key: none, or DML_EDB before the commit. */
static dml_status check_foreign_keys(dml_db *db, int version, dml_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, "PRAGMA foreign_key_check", -1,
                                &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    dml_status s = DML_OK;
    if (rc == SQLITE_ROW)
        s = dml_error_set(err, DML_EDB, db->path, 0, 0, NULL,
                          "schema migration %d would leave a row of table "
                          "'%s' without its parent row",
                          version, (const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        s = dml__db_fail(db, rc, "checking foreign keys", err);
    sqlite3_finalize(st);
    return s;
}

/* One migration, under the write lock: re-check, apply, stamp. *applied
 * says whether this connection did it (another may have got there first). */
static dml_status step_once(dml_db *db, int target, bool *applied,
                            dml_error *err)
{
    *applied = false;
    dml__tx tx;
    DML_CHECK(dml__tx_begin(db, &tx, err));
    int v = 0;
    dml_status s = dml__db_user_version(db, &v, err);
    if (s == DML_OK && v > DML_DB_SCHEMA_VERSION)
        s = dml__db_refuse_newer(db, v, err);
    if (s == DML_OK && v < target) {
        char what[64];
        snprintf(what, sizeof what, "applying schema migration %d", v + 1);
        s = dml__db_exec(db, dml__db_migration_sql(v + 1), what, err);
        if (s == DML_OK) {
            /* A pragma takes no bound parameters; the number is ours. */
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
            s = dml__db_exec(db, sql, what, err);
        }
        if (s == DML_OK)
            s = check_foreign_keys(db, v + 1, err);
        *applied = s == DML_OK;
        if (*applied)
            dml_log_debug("%s: schema migrated to version %d", db->path,
                          v + 1);
    }
    return dml__tx_end(&tx, s, err);
}

dml_status dml__db_migrate_to(dml_db *db, int target, dml_error *err)
{
    if (target < 0 || target > DML_DB_SCHEMA_VERSION)
        return dml_error_msg(err, DML_ERANGE,
                             "schema version %d is not one this dml knows "
                             "(0 to %d)",
                             target, DML_DB_SCHEMA_VERSION);
    if (!sqlite3_get_autocommit(db->conn))
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: cannot migrate inside a transaction",
                             db->path);
    int v = 0;
    DML_CHECK(dml__db_user_version(db, &v, err));
    if (v >= target)
        return DML_OK;
    DML_CHECK(dml__db_exec(db, "PRAGMA foreign_keys=OFF",
                           "disabling foreign keys for a migration", err));
    dml_status s = DML_OK;
    while (s == DML_OK && v < target) {
        bool applied;
        s = step_once(db, target, &applied, err);
        if (s == DML_OK)
            s = dml__db_user_version(db, &v, err);
    }
    /* Back on whatever happened: the connection goes on being used. */
    dml_status on = dml__db_exec(db, "PRAGMA foreign_keys=ON",
                                 "enabling foreign keys",
                                 s == DML_OK ? err : NULL);
    return s != DML_OK ? s : on;
}
