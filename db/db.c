/*
 * db.c: opening and closing the database, connection pragmas, explicit
 * transactions and the write scopes the store functions use (see db.h).
 *
 * The order of dml__db_open_at is the point of this file: every check that
 * can refuse a file (missing directory, not a regular file, not SQLite,
 * another application's SQLite database, schema too new, corrupt:
 * open_check.c) runs on a read-only look at it, and only after all of them
 * pass does anything write (WAL switch, migrations). A refused file is
 * therefore left byte-for-byte as it was.
 */
#include "db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "common/log.h"

/* The first 16 bytes of every SQLite 3 database file (fileformat2.html). */
static const char sqlite_magic[16] = "SQLite format 3";

const char *dml_db_default_path(const char *cli_path)
{
    if (cli_path && cli_path[0])
        return cli_path;
    const char *env = getenv("DML_DB");
    if (env && env[0])
        return env;
    return "dml.db";
}

/* SQLite opens the database's journal, WAL and shared-memory files itself,
 * and reads a journal it finds: one that is a FIFO would hang it, so
 * anything there that is not a regular file is refused first. */
static dml_status check_side_files(const char *path, dml_error *err)
{
    static const char *const suffix[] = {"-journal", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char side[4200];
        snprintf(side, sizeof side, "%s%s", path, suffix[i]);
        if (dml_file_exists(side))
            DML_CHECK(dml_file_check_regular(side, err));
    }
    return DML_OK;
}

/* Does path exist as a regular file, and is its directory there? Refuses
 * anything that is not a plain file or whose first bytes are not SQLite's,
 * reading only. */
static dml_status check_path(const char *path, bool create, bool *exists,
                             dml_error *err)
{
    *exists = false;
    if (!path || !path[0])
        return dml_error_msg(err, DML_EINPUT, "empty database path");
    DML_CHECK(check_side_files(path, err));
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "cannot access database: %s",
                                 strerror(errno));
        if (!create)
            return dml_error_msg(err, DML_ENOTFOUND,
                                 "no database at %s (run dml-probe first)",
                                 path);
        char *copy = strdup(path);
        if (!copy)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        const char *dir = dirname(copy);
        struct stat dst;
        dml_status s = DML_OK;
        if (stat(dir, &dst) != 0 || !S_ISDIR(dst.st_mode))
            s = dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                              "directory '%s' does not exist", dir);
        free(copy);
        return s;
    }
    if (S_ISDIR(st.st_mode))
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "is a directory, not a database file");
    if (!S_ISREG(st.st_mode))
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "not a regular file");
    *exists = true;
    /* SQLite itself takes an empty file for an empty database. */
    if (st.st_size == 0)
        return DML_OK;
    /* common/file opens only a regular file, should the path have been
     * swapped for a FIFO since the stat above. */
    int fd;
    DML_CHECK(dml_file_open_regular(path, &fd, err));
    char head[16];
    ssize_t n = read(fd, head, sizeof head);
    close(fd);
    if (n != (ssize_t)sizeof head || memcmp(head, sqlite_magic, 16) != 0)
        return dml_error_set(err, DML_ENOTDB, path, 0, 0, NULL,
                             "file is not a database (not SQLite)");
    return DML_OK;
}

dml_status dml__db_query_int(dml_db *db, const char *sql, const char *what,
                             int *out, dml_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    dml_status s = DML_OK;
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(st, 0);
    else
        s = dml__db_fail(db, rc, what, err);
    sqlite3_finalize(st);
    return s;
}

dml_status dml__db_user_version(dml_db *db, int *version, dml_error *err)
{
    return dml__db_query_int(db, "PRAGMA user_version",
                             "reading schema version", version, err);
}

int dml_db_schema_version(dml_db *db)
{
    int v = -1;
    if (!db || dml__db_user_version(db, &v, NULL) != DML_OK)
        return -1;
    return v;
}

dml_status dml__db_refuse_newer(dml_db *db, int version, dml_error *err)
{
    return dml_error_set(err, DML_ESCHEMA, db->path, 0, 0, NULL,
                         "database schema version %d is newer than this dml "
                         "(supports up to %d); upgrade dml",
                         version, DML_DB_SCHEMA_VERSION);
}

/* The read-only part of opening: is it SQLite, and a schema we know? */
static dml_status probe_file(dml_db *db, int *version, dml_error *err)
{
    /* A read forces SQLite to parse the header and schema; garbage after
     * a valid magic string fails here as SQLITE_NOTADB or SQLITE_CORRUPT. */
    DML_CHECK(dml__db_exec(db, "SELECT count(*) FROM sqlite_schema",
                           "reading the database", err));
    DML_CHECK(dml__db_user_version(db, version, err));
    /* another application's file first: its user_version is not ours to
     * read as "newer" */
    DML_CHECK(dml__db_check_owner(db, *version, err));
    if (*version > DML_DB_SCHEMA_VERSION)
        return dml__db_refuse_newer(db, *version, err);
    return dml__db_check_intact(db, err);
}

static dml_status set_pragmas(dml_db *db, dml_error *err)
{
    DML_CHECK(dml__db_exec(db, "PRAGMA foreign_keys=ON",
                           "enabling foreign keys", err));
    if (sqlite3_db_readonly(db->conn, "main") == 1) {
        dml_log_debug("%s: read-only database, journal mode left as is",
                      db->path);
        return DML_OK;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->conn, "PRAGMA journal_mode=WAL", -1, &st,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        dml_status s = dml__db_fail(db, rc, "switching to WAL mode", err);
        sqlite3_finalize(st);
        return s;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    /* Some file systems (network mounts) cannot hold the WAL index; the
     * database still works in rollback-journal mode, only with less
     * concurrency between readers and the writer. */
    if (!mode || strcmp(mode, "wal") != 0)
        dml_log_warn("%s: WAL mode not available, journal mode is %s",
                     db->path, mode ? mode : "unknown");
    sqlite3_finalize(st);
    /* NORMAL is durable across application crashes in WAL mode and spares
     * an fsync per step record. */
    return dml__db_exec(db, "PRAGMA synchronous=NORMAL",
                        "setting synchronous mode", err);
}

dml_status dml__db_open_at(const char *path, bool create, int target_version,
                           dml_db **out, dml_error *err)
{
    *out = NULL;
    dml_error_clear(err);
    bool exists = false;
    DML_CHECK(check_path(path, create, &exists, err));

    dml_db *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    int flags = SQLITE_OPEN_READWRITE | (exists ? 0 : SQLITE_OPEN_CREATE);
    int rc = sqlite3_open_v2(path, &db->conn, flags, NULL);
    dml_status s = DML_OK;
    if (rc != SQLITE_OK) {
        s = db->conn ? dml__db_fail(db, rc, "opening", err)
                     : dml_error_msg(err, DML_ENOMEM, "out of memory");
        dml_db_close(db);
        return s;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, DML_DB_BUSY_TIMEOUT_MS);
    /* before the migrations, the fifth of which calls it */
    rc = dml__plan_hash_register(db->conn);
    if (rc != SQLITE_OK) {
        s = dml__db_fail(db, rc, "opening", err);
        dml_db_close(db);
        return s;
    }

    int version = 0;
    s = probe_file(db, &version, err);
    if (s != DML_OK && dml__db_wants_immutable(db)) {
        /* read-only media: a reader reads it as it is, a writer is told */
        dml_error_clear(err);
        s = create ? dml__db_refuse_unwritable(db, err)
                   : dml__db_reopen_immutable(db, err);
        if (s == DML_OK)
            s = probe_file(db, &version, err);
    }
    if (s == DML_OK && version < target_version &&
        sqlite3_db_readonly(db->conn, "main") == 1)
        s = dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                          "database is read-only and needs a schema upgrade "
                          "from version %d to %d",
                          version, target_version);
    if (s == DML_OK)
        s = set_pragmas(db, err);
    if (s == DML_OK)
        s = dml__db_migrate_to(db, target_version, err);
    if (s != DML_OK) {
        dml_db_close(db);
        return s;
    }
    *out = db;
    return DML_OK;
}

dml_status dml_db_open(const char *path, dml_db **out, dml_error *err)
{
    return dml__db_open_at(path, true, DML_DB_SCHEMA_VERSION, out, err);
}

dml_status dml_db_open_existing(const char *path, dml_db **out,
                                dml_error *err)
{
    return dml__db_open_at(path, false, DML_DB_SCHEMA_VERSION, out, err);
}

void dml_db_close(dml_db *db)
{
    if (!db)
        return;
    if (db->conn) {
        if (!sqlite3_get_autocommit(db->conn))
            sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        /* sqlite3_close_v2 defers until statements are finalized; every
         * function here finalizes its own, so this closes at once. */
        sqlite3_close_v2(db->conn);
    }
    free(db->path);
    free(db);
}

const char *dml_db_path(const dml_db *db) { return db ? db->path : ""; }

sqlite3 *dml__db_handle(dml_db *db) { return db->conn; }

dml_status dml__db_fail(dml_db *db, int rc, const char *what, dml_error *err)
{
    const char *msg = db && db->conn ? sqlite3_errmsg(db->conn)
                                     : sqlite3_errstr(rc);
    const char *path = db ? db->path : NULL;
    /* SQLite words a full disk "database or disk is full", or "disk I/O
     * error" when the write that failed was the WAL's or the -shm's. */
    int sys = db && db->conn ? sqlite3_system_errno(db->conn) : 0;
    if ((rc & 0xff) == SQLITE_FULL ||
        ((rc & 0xff) == SQLITE_IOERR && (sys == ENOSPC || sys == EDQUOT)))
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL, "%s: %s", what,
                             sys == EDQUOT ? "disk quota exceeded"
                                           : "no space left on device");
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
        return dml_error_set(err, DML_EDB, path, 0, 0, NULL,
                             "%s: database file is corrupt (%s)", what, msg);
    case SQLITE_NOTADB:
        return dml_error_set(err, DML_ENOTDB, path, 0, 0, NULL,
                             "file is not a database (not SQLite)");
    case SQLITE_NOMEM:
        return dml_error_set(err, DML_ENOMEM, path, 0, 0, NULL,
                             "%s: out of memory", what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return dml_error_set(err, DML_EDB, path, 0, 0, NULL,
                             "%s: database is locked by another process "
                             "(waited %d s)",
                             what, DML_DB_BUSY_TIMEOUT_MS / 1000);
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL, "%s: %s", what,
                             msg);
    default:
        return dml_error_set(err, DML_EDB, path, 0, 0, NULL, "%s: %s", what,
                             msg);
    }
}

dml_status dml__db_exec(dml_db *db, const char *sql, const char *what,
                        dml_error *err)
{
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return dml__db_fail(db, rc, what, err);
    return DML_OK;
}

/* ---- transactions ---- */

dml_status dml_db_begin(dml_db *db, dml_error *err)
{
    if (db->explicit_tx || !sqlite3_get_autocommit(db->conn))
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: a transaction is already open", db->path);
    DML_CHECK(dml__db_exec(db, "BEGIN IMMEDIATE", "starting a transaction",
                           err));
    db->explicit_tx = true;
    return DML_OK;
}

dml_status dml_db_commit(dml_db *db, dml_error *err)
{
    if (!db->explicit_tx)
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: commit without a transaction", db->path);
    db->explicit_tx = false;
    dml_status s = dml__db_exec(db, "COMMIT", "committing", err);
    if (s != DML_OK && !sqlite3_get_autocommit(db->conn))
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    return s;
}

void dml_db_rollback(dml_db *db)
{
    if (!db)
        return;
    db->explicit_tx = false;
    if (!sqlite3_get_autocommit(db->conn))
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
}

dml_status dml__tx_begin(dml_db *db, dml__tx *tx, dml_error *err)
{
    tx->db = db;
    tx->savepoint = !sqlite3_get_autocommit(db->conn);
    return dml__db_exec(db, tx->savepoint ? "SAVEPOINT dml_w"
                                          : "BEGIN IMMEDIATE",
                        "starting a transaction", err);
}

dml_status dml__tx_end(dml__tx *tx, dml_status status, dml_error *err)
{
    sqlite3 *c = tx->db->conn;
    if (status == DML_OK) {
        status = dml__db_exec(tx->db, tx->savepoint ? "RELEASE dml_w"
                                                    : "COMMIT",
                              "committing", err);
        if (status == DML_OK)
            return DML_OK;
    }
    /* Errors here are ignored: SQLite may already have rolled back (after
     * SQLITE_FULL or SQLITE_NOMEM), and the first error is the one to
     * report. */
    if (tx->savepoint)
        sqlite3_exec(c, "ROLLBACK TO dml_w; RELEASE dml_w", NULL, NULL, NULL);
    else if (!sqlite3_get_autocommit(c))
        sqlite3_exec(c, "ROLLBACK", NULL, NULL, NULL);
    return status;
}
