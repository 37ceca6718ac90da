/*
 * once.c: a tool's one connection to its database (see once.h).
 */
#include "db/once.h"

#include "db_internal.h"

void dml_db_once_init(dml_db_once *o, const char *path)
{
    o->path = path;
    o->db = NULL;
}

dml_status dml_db_once_read(dml_db_once *o, dml_db **db, dml_error *err)
{
    *db = NULL;
    if (!o->db)
        DML_CHECK(dml_db_open_existing(o->path, &o->db, err));
    *db = o->db;
    return DML_OK;
}

dml_status dml_db_once_write(dml_db_once *o, dml_db **db, dml_error *err)
{
    *db = NULL;
    if (!o->db)
        DML_CHECK(dml_db_open(o->path, &o->db, err));
    else if (o->db->immutable)
        return dml__db_refuse_unwritable(o->db, err);
    *db = o->db;
    return DML_OK;
}

void dml_db_once_close(dml_db_once *o)
{
    dml_db_close(o->db);
    o->db = NULL;
}
