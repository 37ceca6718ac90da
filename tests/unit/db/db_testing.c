/*
 * db_testing.c: the database tests' shared helpers (see db_testing.h).
 */
#include "tests/support/unit.h"

#include "db_testing.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db_internal.h"
#include "tests/support/test_support.h"

int make_dir(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !dml_test_tmpdir("db", f->dir, sizeof f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/dml.db", f->dir);
    *state = f;
    return 0;
}

int remove_dir(void **state)
{
    fixture *f = *state;
    dml_test_rmtree(f->dir);
    free(f);
    return 0;
}

dml_db *open_ok(const char *path)
{
    dml_db *db = NULL;
    dml_error err;
    dml_status s = dml_db_open(path, &db, &err);
    if (s != DML_OK)
        fail_msg("opening %s failed: %s", path, err.msg);
    return db;
}

sqlite3_stmt *first_row(dml_db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(dml__db_handle(db), sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(dml__db_handle(db)));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    return st;
}

int64_t q_i64(dml_db *db, const char *sql)
{
    sqlite3_stmt *st = first_row(db, sql);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

double q_f64(dml_db *db, const char *sql)
{
    sqlite3_stmt *st = first_row(db, sql);
    double v = sqlite3_column_type(st, 0) == SQLITE_NULL
                   ? NAN
                   : sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

void q_text(dml_db *db, const char *sql, char *buf, size_t size)
{
    sqlite3_stmt *st = first_row(db, sql);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, size, "%s", t ? (const char *)t : "(null)");
    sqlite3_finalize(st);
}

void exec_ok(dml_db *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(dml__db_handle(db), sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
}
