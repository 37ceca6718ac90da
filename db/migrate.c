/*
 * migrate.c: bringing a database forward to the schema this build knows.
 *
 * PRAGMA user_version is the number of the last migration applied.
 * Migrations only go forward, one transaction each, so a crash between two
 * leaves a database at a valid older version that the next open continues
 * from. The version is read again after BEGIN IMMEDIATE: two processes
 * opening a fresh file at once both see version 0, and only the first to
 * take the write lock may apply migration 1.
 */
#include "db_internal.h"

#include <stdio.h>

#include "common/log.h"

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
    for (;;) {
        int v = 0;
        DML_CHECK(dml__db_user_version(db, &v, err));
        if (v >= target)
            return DML_OK;
        bool applied;
        DML_CHECK(step_once(db, target, &applied, err));
    }
}
