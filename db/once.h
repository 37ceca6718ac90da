/*
 * once.h: a tool's one connection to its database, opened when first
 * needed and then passed down.
 *
 * A tool may read the database several times before it writes (dml-plan:
 * the probe behind --cluster this, a measured noise scale, the convergence
 * history, the calibration, and last the plans it records). Each step asks
 * this handle instead of opening the file itself, so a process opens the
 * database at most once. A reader never creates the file: while there is
 * none, a read is DML_ENOTFOUND as dml_db_open_existing says it, and a
 * later write creates it as dml_db_open does. A failed open leaves no
 * connection, so the next step tries again and meets the same error, as
 * it would opening the file itself.
 */
#ifndef DML_DB_ONCE_H
#define DML_DB_ONCE_H

#include "db/db.h"

typedef struct dml_db_once {
    const char *path; /* the database (dml_db_default_path); borrowed */
    dml_db *db;       /* the connection once opened, else NULL; owned by
                         whoever set path (dml_db_once_close) */
} dml_db_once;

/* A handle on path with nothing opened yet. */
void dml_db_once_init(dml_db_once *o, const char *path);

/* The connection for reading: the open one, else path opened as
 * dml_db_open_existing opens it (DML_ENOTFOUND when there is no file). */
dml_status dml_db_once_read(dml_db_once *o, dml_db **db, dml_error *err);

/* The connection for writing: the open one, else path opened (created)
 * as dml_db_open opens it. One a reader opened read-only (immutable, on
 * read-only media) is refused as dml_db_open refuses the file. */
dml_status dml_db_once_write(dml_db_once *o, dml_db **db, dml_error *err);

/* Close the connection, if one was opened. */
void dml_db_once_close(dml_db_once *o);

#endif
