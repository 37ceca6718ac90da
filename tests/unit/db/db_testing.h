/*
 * db_testing.h: what the database tests share: a temporary directory per
 * test (cmocka set-up and tear-down), opening a database that must open,
 * and reading a value back with plain SQL through the internal handle,
 * so that a test checks what is in the file, not only what the API
 * returns. Each helper fails the test (cmocka) when its SQL fails.
 */
#ifndef DML_TESTS_DB_TESTING_H
#define DML_TESTS_DB_TESTING_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

typedef struct fixture {
    char dir[64];
    char path[128]; /* dir/dml.db */
} fixture;

/* cmocka set-up: a fresh directory under /tmp (*state: its fixture). */
int make_dir(void **state);
/* cmocka tear-down: the directory and every file in it. */
int remove_dir(void **state);

/* dml_db_open(path), failing the test when it fails. */
dml_db *open_ok(const char *path);

/* sql prepared and stepped to its first row, which must exist. */
sqlite3_stmt *first_row(dml_db *db, const char *sql);
/* The integer in the first column of the first row of sql. */
int64_t q_i64(dml_db *db, const char *sql);
/* The real in the first column of the first row, NAN when NULL. */
double q_f64(dml_db *db, const char *sql);
/* The text of the first column of the first row ("(null)" for NULL). */
void q_text(dml_db *db, const char *sql, char *buf, size_t size);
/* Run fixed SQL, failing the test when it fails. */
void exec_ok(dml_db *db, const char *sql);

#endif
