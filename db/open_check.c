/*
 * open_check.c: the read-only looks dml__db_open_at takes at a database
 * before anything writes to it, and the read-only way into one on
 * read-only media (see db_internal.h).
 *
 * Whose file it is: an SQLite file is dml's when it is empty (a new
 * database) or holds dml's tables under a schema version of dml's. Another
 * application's database must be refused before the WAL switch, which
 * rewrites the file header (bytes 18-19), and before migration 1, which
 * would add dml's tables to it.
 *
 * Whether it is intact: PRAGMA quick_check reads every page (O(size)), so
 * it runs only when the file is small enough for that to cost little;
 * beyond the bound, a corrupt page is reported when a statement meets it
 * (dml__db_fail words SQLITE_CORRUPT).
 *
 * Read-only media: a WAL database needs its -shm file to be read; on a
 * read-only mount without one SQLite cannot open it at all. Readers then
 * open it immutable (no locks, no -shm; what a WAL file holds that was
 * never checkpointed is not seen, and is said).
 */
#include "db_internal.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

/* How many of the tables every dml schema since migration 1 has (hosts,
 * probe_runs, plans, runs, events) the query of check_owner looks for. */
#define DML_CORE_TABLES 5

dml_status dml__db_check_owner(dml_db *db, int version, dml_error *err)
{
    int objects = 0, ours = 0;
    DML_CHECK(dml__db_query_int(db, "SELECT count(*) FROM sqlite_schema",
                                "reading the database", &objects, err));
    if (version == 0 && objects == 0)
        return DML_OK; /* empty: a new database */
    DML_CHECK(dml__db_query_int(db,
                                "SELECT count(*) FROM sqlite_schema WHERE "
                                "type = 'table' AND name IN ('hosts', "
                                "'probe_runs', 'plans', 'runs', 'events')",
                                "reading the database", &ours, err));
    if (version > 0 && ours == DML_CORE_TABLES)
        return DML_OK;
    return dml_error_set(err, DML_ENOTDB, db->path, 0, 0, NULL,
                         "not a dml database: an SQLite database with "
                         "tables of another application; left as it was");
}

dml_status dml__db_check_intact(dml_db *db, dml_error *err)
{
    struct stat st;
    if (stat(db->path, &st) != 0 || st.st_size > DML_DB_QUICK_CHECK_MAX_BYTES)
        return DML_OK;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db->conn, "PRAGMA quick_check(1)", -1, &q,
                                NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(q);
    dml_status s = DML_OK;
    if (rc == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(q, 0);
        if (!res || strcmp(res, "ok") != 0) {
            /* one line: SQLite's report may hold newlines */
            char line[200];
            snprintf(line, sizeof line, "%s", res ? res : "?");
            for (char *c = line; *c; c++)
                if (*c == '\n' || *c == '\r' || *c == '\t')
                    *c = ' ';
            s = dml_error_set(err, DML_EDB, db->path, 0, 0, NULL,
                              "database file is corrupt (PRAGMA "
                              "quick_check: %s)",
                              line);
        }
    } else {
        s = dml__db_fail(db, rc, "checking the database", err);
    }
    sqlite3_finalize(q);
    return s;
}

/* Is path's directory writable (the -shm file could be made there)? 0
 * or the errno of access(2) (EROFS on read-only media). */
static int dir_unwritable(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return 0;
    int e = access(dirname(copy), W_OK) == 0 ? 0 : errno;
    free(copy);
    return e;
}

dml_status dml__db_refuse_unwritable(dml_db *db, dml_error *err)
{
    int e = dir_unwritable(db->path);
    return dml_error_set(err, DML_EIO, db->path, 0, 0, NULL,
                         "cannot write to the database: its folder is not "
                         "writable (%s), and SQLite keeps its write-ahead "
                         "log beside it",
                         strerror(e ? e : EACCES));
}

bool dml__db_wants_immutable(dml_db *db)
{
    int code = sqlite3_errcode(db->conn) & 0xff;
    return code == SQLITE_CANTOPEN && dir_unwritable(db->path) != 0;
}

/* "file:" URI of an absolute path: '%', '?' and '#' (and anything not
 * printable ASCII) percent-encoded, as SQLite's URI parser expects. */
static bool file_uri(const char *abs, char *out, size_t size)
{
    size_t n = 0;
    int w = snprintf(out, size, "file:");
    if (w < 0 || (size_t)w >= size)
        return false;
    n = (size_t)w;
    for (const unsigned char *p = (const unsigned char *)abs; *p; p++) {
        bool plain = *p > 0x20 && *p < 0x7f && *p != '%' && *p != '?' &&
                     *p != '#';
        w = plain ? snprintf(out + n, size - n, "%c", *p)
                  : snprintf(out + n, size - n, "%%%02X", *p);
        if (w < 0 || (size_t)w >= size - n)
            return false;
        n += (size_t)w;
    }
    w = snprintf(out + n, size - n, "?immutable=1");
    return w >= 0 && (size_t)w < size - n;
}

dml_status dml__db_reopen_immutable(dml_db *db, dml_error *err)
{
    char abs[PATH_MAX], uri[3 * PATH_MAX + 32];
    if (!realpath(db->path, abs) || !file_uri(abs, uri, sizeof uri))
        return dml_error_set(err, DML_EIO, db->path, 0, 0, NULL,
                             "cannot open the database read-only: %s",
                             strerror(errno ? errno : ENAMETOOLONG));
    sqlite3_close_v2(db->conn);
    db->conn = NULL;
    int rc = sqlite3_open_v2(uri, &db->conn,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    if (rc != SQLITE_OK)
        return db->conn ? dml__db_fail(db, rc, "opening read-only", err)
                        : dml_error_msg(err, DML_ENOMEM, "out of memory");
    sqlite3_extended_result_codes(db->conn, 1);
    db->immutable = true;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", db->path);
    struct stat st;
    if (stat(wal, &st) == 0 && st.st_size > 0)
        dml_log_warn("%s: on a read-only file system without its -shm "
                     "file: read as it was last checkpointed (what %s "
                     "holds is not shown)",
                     db->path, wal);
    else
        dml_log_debug("%s: read-only file system, opened immutable",
                      db->path);
    return DML_OK;
}
