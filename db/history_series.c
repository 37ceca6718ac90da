/*
 * history_series.c: the queries behind dml-history's charts (see
 * history_series.h).
 */
#include "db/history_series.h"

#include <stdlib.h>

#include "db_internal.h"

#define F(m) DML__FIELD(dml_db_step_point, m)
static const dml__field step_fields[] = {F(step), F(loss)};
#undef F
static const dml__row_def step_row =
    DML__ROW_DEF(dml_db_step_point, step_fields);

dml_status dml_db_list_run_losses(dml_db *db, int64_t run_id,
                                  dml_db_step_point **rows, size_t *n,
                                  dml_error *err)
{
    *rows = NULL;
    *n = 0;
    dml__q q;
    DML_CHECK(dml__q_prepare(&q, db,
                             "SELECT step, loss FROM steps\n"
                             "WHERE run_id = :run ORDER BY step",
                             "listing the steps of a run", err));
    dml__q_i64(&q, ":run", run_id);
    void *buf = NULL;
    dml_status s = dml__q_rows(&q, &step_row, &buf, n, err);
    dml__q_finish(&q);
    *rows = buf;
    return s;
}

#define F(m) DML__FIELD(dml_db_comm_point, m)
static const dml__field comm_fields[] = {F(kind),  F(op),    F(level),
                                         F(ranks), F(bytes), F(time_s),
                                         F(bw_Bps)};
#undef F
static const dml__row_def comm_row =
    DML__ROW_DEF(dml_db_comm_point, comm_fields);

/* Rows a chart of bandwidth or latency against size can use. */
#define COMM_KINDS "kind IN ('p2p', 'collective', 'nccl')"

dml_status dml_db_list_comm_points(dml_db *db, int64_t probe_run_id,
                                   int64_t *used, dml_db_comm_point **rows,
                                   size_t *n, dml_error *err)
{
    *rows = NULL;
    *n = 0;
    *used = probe_run_id;
    if (probe_run_id <= 0) {
        /* 0 when no probe run measured communication */
        int newest = 0;
        DML_CHECK(dml__db_query_int(db,
                                    "SELECT coalesce(max(probe_run_id), 0) "
                                    "FROM measurements WHERE " COMM_KINDS,
                                    "finding the newest probe run",
                                    &newest, err));
        *used = newest;
        if (newest == 0)
            return DML_OK;
    }
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "SELECT kind, op, level, ranks, bytes, time_s,\n"
        "  CASE WHEN kind = 'p2p' AND op = 'bandwidth' THEN value\n"
        "       WHEN kind = 'p2p' THEN NULL ELSE busbw_Bps END\n"
        "FROM measurements\n"
        "WHERE probe_run_id = :probe AND " COMM_KINDS "\n"
        "ORDER BY kind, op, level, bytes",
        "listing a probe's communication measurements", err));
    dml__q_i64(&q, ":probe", *used);
    void *buf = NULL;
    dml_status s = dml__q_rows(&q, &comm_row, &buf, n, err);
    dml__q_finish(&q);
    *rows = buf;
    return s;
}
