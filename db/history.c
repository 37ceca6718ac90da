/*
 * history.c: the list queries behind dml-history (see history.h).
 *
 * One loop (list_rows) steps a query and hands each row to a small fill
 * function per struct, so each query reads as its SELECT plus the column
 * order it fills.
 */
#include "db/history.h"

#include <stdlib.h>

#include "db_internal.h"

typedef dml_status (*fill_fn)(sqlite3_stmt *st, void *row, dml_error *err);

/* Rows of sql (which has a :limit parameter) appended to *rows. On error
 * the rows read so far stay in *rows for the caller to release. */
static dml_status list_rows(dml_db *db, const char *sql, const char *what,
                            int limit, size_t elem, fill_fn fill, void **rows,
                            size_t *n, dml_error *err)
{
    *rows = NULL;
    *n = 0;
    dml__q q;
    DML_CHECK(dml__q_prepare(&q, db, sql, what, err));
    /* LIMIT -1 is SQLite's "no limit". */
    dml__q_i64(&q, ":limit", limit > 0 ? limit : -1);
    size_t cap = 0;
    dml_status s;
    for (;;) {
        bool row = false;
        s = dml__q_step(&q, &row, err);
        if (s != DML_OK || !row)
            break;
        void *slot = dml__rows_push(rows, n, &cap, elem);
        if (!slot) {
            s = dml_error_msg(err, DML_ENOMEM, "%s: out of memory", what);
            break;
        }
        s = fill(q.st, slot, err);
        if (s != DML_OK)
            break;
    }
    dml__q_finish(&q);
    return s;
}

static dml_status fill_probe(sqlite3_stmt *st, void *row, dml_error *err)
{
    (void)err;
    dml_db_probe_row *r = row;
    r->id = dml__col_i64(st, 0);
    dml__col_text(st, 1, r->started_at, sizeof r->started_at);
    dml__col_text(st, 2, r->finished_at, sizeof r->finished_at);
    dml__col_text(st, 3, r->hostname, sizeof r->hostname);
    r->ranks = (int)dml__col_i64(st, 4);
    r->nodes = (int)dml__col_i64(st, 5);
    r->quick = dml__col_i64(st, 6) != 0;
    dml__col_text(st, 7, r->status, sizeof r->status);
    dml__col_text(st, 8, r->dml_version, sizeof r->dml_version);
    r->triad_Bps = dml__col_f64(st, 9);
    r->dgemm_flops = dml__col_f64(st, 10);
    r->sgemm_flops = dml__col_f64(st, 11);
    r->p2p_latency_s = dml__col_f64(st, 12);
    r->p2p_bw_Bps = dml__col_f64(st, 13);
    r->n_measurements = dml__col_i64(st, 14);
    return DML_OK;
}

dml_status dml_db_list_probe_runs(dml_db *db, int limit,
                                  dml_db_probe_row **rows, size_t *n,
                                  dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT probe_run_id, started_at, finished_at, hostname, ranks,\n"
        "  nodes, quick, status, dml_version, triad_Bps, dgemm_flops,\n"
        "  sgemm_flops, p2p_latency_s, p2p_bw_Bps, n_measurements\n"
        "FROM v_probe_summary ORDER BY probe_run_id DESC LIMIT :limit",
        "listing probe runs", limit, sizeof **rows, fill_probe,
        &buf, n, err);
    *rows = buf;
    if (s != DML_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return s;
}

static dml_status fill_plan(sqlite3_stmt *st, void *row, dml_error *err)
{
    (void)err;
    dml_db_plan_row *r = row;
    r->id = dml__col_i64(st, 0);
    dml__col_text(st, 1, r->created_at, sizeof r->created_at);
    dml__col_text(st, 2, r->model, sizeof r->model);
    dml__col_text(st, 3, r->cluster, sizeof r->cluster);
    r->predicted_step_s = dml__col_f64(st, 4);
    r->predicted_mem_bytes = dml__col_f64(st, 5);
    r->predicted_tokens_per_s = dml__col_f64(st, 6);
    r->mfu = dml__col_f64(st, 7);
    r->calibration_id = dml__col_i64(st, 8);
    r->n_runs = dml__col_i64(st, 9);
    r->best_measured_step_s = dml__col_f64(st, 10);
    dml__col_plan_config(st, 11, &r->config);
    return DML_OK;
}

dml_status dml_db_list_plans(dml_db *db, int limit, dml_db_plan_row **rows,
                             size_t *n, dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT p.id, p.created_at, mo.name, c.name, p.predicted_step_s,\n"
        "  p.predicted_mem_bytes, p.predicted_tokens_per_s, p.mfu,\n"
        "  p.calibration_id,\n"
        "  (SELECT count(*) FROM runs r WHERE r.plan_id = p.id),\n"
        "  (SELECT min(r.measured_step_s) FROM runs r\n"
        "     WHERE r.plan_id = p.id AND r.status = 'ok'),\n"
        "  " DML__CONFIG_COLUMNS "\n"
        "FROM plans p\n"
        "  JOIN models mo ON mo.id = p.model_id\n"
        "  JOIN clusters c ON c.id = p.cluster_id\n"
        "ORDER BY p.id DESC LIMIT :limit",
        "listing plans", limit, sizeof **rows, fill_plan, &buf, n,
        err);
    *rows = buf;
    if (s != DML_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return s;
}

static dml_status fill_run(sqlite3_stmt *st, void *row, dml_error *err)
{
    (void)err;
    dml_db_run_row *r = row;
    r->id = dml__col_i64(st, 0);
    r->plan_id = dml__col_i64(st, 1);
    dml__col_text(st, 2, r->model, sizeof r->model);
    dml__col_text(st, 3, r->cluster, sizeof r->cluster);
    dml__col_text(st, 4, r->status, sizeof r->status);
    r->ranks = (int)dml__col_i64(st, 5);
    r->steps = dml__col_i64(st, 6);
    dml__col_text(st, 7, r->started_at, sizeof r->started_at);
    dml__col_text(st, 8, r->finished_at, sizeof r->finished_at);
    r->duration_s = dml__col_f64(st, 9);
    r->predicted_step_s = dml__col_f64(st, 10);
    r->measured_step_s = dml__col_f64(st, 11);
    r->error_pct = dml__col_f64(st, 12);
    r->final_loss = dml__col_f64(st, 13);
    r->test_accuracy = dml__col_f64(st, 14);
    r->peak_rss_bytes = dml__col_f64(st, 15);
    dml__col_text(st, 16, r->error, sizeof r->error);
    dml__col_plan_config(st, 17, &r->config);
    return DML_OK;
}

dml_status dml_db_list_runs(dml_db *db, int limit, dml_db_run_row **rows,
                            size_t *n, dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT p.run_id, p.plan_id, p.model, p.cluster, p.status, p.ranks,\n"
        "  p.steps, p.started_at, p.finished_at, p.duration_s,\n"
        "  p.predicted_step_s, p.measured_step_s, p.error_pct,\n"
        "  p.final_loss, p.test_accuracy, p.peak_rss_bytes, p.error,\n"
        "  " DML__CONFIG_COLUMNS "\n"
        "FROM v_runs p ORDER BY p.run_id DESC LIMIT :limit",
        "listing runs", limit, sizeof **rows, fill_run, &buf, n,
        err);
    *rows = buf;
    if (s != DML_OK) {
        free(*rows);
        *rows = NULL;
        *n = 0;
    }
    return s;
}

static dml_status fill_calibration(sqlite3_stmt *st, void *row,
                                   dml_error *err)
{
    return dml__col_calibration(st, row, err);
}

dml_status dml_db_list_calibrations(dml_db *db, int limit,
                                    dml_db_calibration **rows, size_t *n,
                                    dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(db,
                             "SELECT " DML__CALIBRATION_COLUMNS
                             " FROM calibrations\n"
                             "ORDER BY id DESC LIMIT :limit",
                             "listing calibrations", limit, sizeof **rows,
                             fill_calibration, &buf, n, err);
    *rows = buf;
    if (s != DML_OK) {
        dml_db_calibrations_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return s;
}

void dml_db_calibrations_free(dml_db_calibration *rows, size_t n)
{
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++)
        free(rows[i].params_json);
    free(rows);
}
