/*
 * calib_store.c: calibrations and the measured runs they are fitted to
 * (see calib_store.h).
 */
#include "db/calib_store.h"

#include <stdlib.h>
#include <string.h>

#include "db_internal.h"

dml_status dml_db_record_calibration(dml_db *db,
                                     const dml_db_calibration *cal,
                                     int64_t *calibration_id, dml_error *err)
{
    if (!cal->params_json || !cal->params_json[0])
        return dml_error_msg(err, DML_EINPUT,
                             "calibration: empty parameters JSON");
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO calibrations (cluster_fingerprint, created_at, n_runs,\n"
        "  params_json, mape_before, mape_after, loo_mape_before,\n"
        "  loo_mape_after, interval_pct)\n"
        "VALUES (:fp, coalesce(:created,\n"
        "  strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), :n, :params, :mb, :ma,\n"
        "  :lb, :la, :interval)\n"
        "RETURNING id",
        "recording calibration", err));
    dml__q_text(&q, ":fp", cal->cluster_fingerprint);
    dml__q_opt(&q, ":created", cal->created_at);
    dml__q_i64(&q, ":n", cal->n_runs);
    dml__q_text(&q, ":params", cal->params_json);
    dml__q_f64(&q, ":mb", cal->mape_before);
    dml__q_f64(&q, ":ma", cal->mape_after);
    dml__q_f64(&q, ":lb", cal->loo_mape_before);
    dml__q_f64(&q, ":la", cal->loo_mape_after);
    dml__q_f64(&q, ":interval", cal->interval_pct);
    int64_t id = 0;
    dml_status s = dml__q_exec_id(&q, &id, err);
    dml__q_finish(&q);
    if (s == DML_OK && calibration_id)
        *calibration_id = id;
    return s;
}

dml_status dml__col_calibration(sqlite3_stmt *st, dml_db_calibration *c,
                                dml_error *err)
{
    memset(c, 0, sizeof *c);
    c->id = dml__col_i64(st, 0);
    dml__col_text(st, 1, c->cluster_fingerprint, sizeof c->cluster_fingerprint);
    dml__col_text(st, 2, c->created_at, sizeof c->created_at);
    c->n_runs = (int)dml__col_i64(st, 3);
    c->params_json = dml__col_text_dup(st, 4);
    if (!c->params_json)
        return dml_error_msg(err, DML_ENOMEM,
                             "reading calibration: out of memory");
    c->mape_before = dml__col_f64(st, 5);
    c->mape_after = dml__col_f64(st, 6);
    c->loo_mape_before = dml__col_f64(st, 7);
    c->loo_mape_after = dml__col_f64(st, 8);
    c->interval_pct = dml__col_f64(st, 9);
    return DML_OK;
}

dml_status dml_db_latest_calibration(dml_db *db, const char *fingerprint,
                                     dml_db_calibration *out, bool *found,
                                     dml_error *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    dml__q q;
    /* By id, not created_at: times have one-second resolution and two
     * calibrations may share a second; ids only grow. */
    DML_CHECK(dml__q_prepare(&q, db,
                             "SELECT " DML__CALIBRATION_COLUMNS
                             " FROM calibrations\n"
                             "WHERE cluster_fingerprint = :fp\n"
                             "ORDER BY id DESC LIMIT 1",
                             "reading calibration", err));
    dml__q_text(&q, ":fp", fingerprint ? fingerprint : "");
    bool row = false;
    dml_status s = dml__q_step(&q, &row, err);
    if (s == DML_OK && row) {
        s = dml__col_calibration(q.st, out, err);
        *found = s == DML_OK;
    }
    dml__q_finish(&q);
    return s;
}

void dml_db_calibration_clear(dml_db_calibration *cal)
{
    if (!cal)
        return;
    free(cal->params_json);
    memset(cal, 0, sizeof *cal);
}

dml_status dml_db_list_measured_runs(dml_db *db, const char *fingerprint,
                                     dml_db_measured_run **runs, size_t *n,
                                     dml_error *err)
{
    *runs = NULL;
    *n = 0;
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "SELECT r.id, p.id, p.model_id, p.cluster_id, mo.name, r.ranks,\n"
        "  coalesce(r.predicted_step_s, p.predicted_step_s),\n"
        "  r.measured_step_s, p.calibration_id,\n"
        "  " DML__CONFIG_COLUMNS "\n"
        "FROM runs r\n"
        "  JOIN plans p ON p.id = r.plan_id\n"
        "  JOIN models mo ON mo.id = p.model_id\n"
        "  JOIN clusters c ON c.id = p.cluster_id\n"
        "WHERE c.fingerprint = :fp AND r.status = 'ok'\n"
        "  AND r.measured_step_s > 0\n"
        "ORDER BY r.id",
        "listing measured runs", err));
    dml__q_text(&q, ":fp", fingerprint ? fingerprint : "");
    void *buf = NULL;
    size_t cap = 0;
    dml_status s;
    for (;;) {
        bool row = false;
        s = dml__q_step(&q, &row, err);
        if (s != DML_OK || !row)
            break;
        dml_db_measured_run *m =
            dml__rows_push(&buf, n, &cap, sizeof **runs);
        if (!m) {
            s = dml_error_msg(err, DML_ENOMEM,
                              "listing measured runs: out of memory");
            break;
        }
        m->run_id = dml__col_i64(q.st, 0);
        m->plan_id = dml__col_i64(q.st, 1);
        m->model_id = dml__col_i64(q.st, 2);
        m->cluster_id = dml__col_i64(q.st, 3);
        dml__col_text(q.st, 4, m->model_name, sizeof m->model_name);
        m->ranks = (int)dml__col_i64(q.st, 5);
        m->predicted_step_s = dml__col_f64(q.st, 6);
        m->measured_step_s = dml__col_f64(q.st, 7);
        m->calibration_id = dml__col_i64(q.st, 8);
        dml__col_plan_config(q.st, 9, &m->config);
    }
    dml__q_finish(&q);
    *runs = buf;
    if (s != DML_OK) {
        free(*runs);
        *runs = NULL;
        *n = 0;
    }
    return s;
}
