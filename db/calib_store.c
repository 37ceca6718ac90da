/*
 * calib_store.c: calibrations and the measured runs they are fitted to
 * (see calib_store.h).
 */
#include "db/calib_store.h"

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
        "  " DML__SQL_NOW "), :n, :params, :mb, :ma,\n"
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
    return dml__q_once_id(&q, calibration_id, err);
}

#define F(m) DML__FIELD(dml_db_calibration, m)
static const dml__field calibration_fields[] = {
    F(id), F(cluster_fingerprint), F(created_at), F(n_runs), F(params_json),
    F(mape_before), F(mape_after), F(loo_mape_before), F(loo_mape_after),
    F(interval_pct)};
#undef F
const dml__row_def dml__calibration_row =
    DML__ROW_DEF(dml_db_calibration, calibration_fields);

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
        s = dml__row_read(q.st, &dml__calibration_row, out, q.what, err);
        *found = s == DML_OK;
    }
    dml__q_finish(&q);
    return s;
}

void dml_db_calibration_clear(dml_db_calibration *cal)
{
    dml__row_clear(&dml__calibration_row, cal, 1);
}

#define F(m) DML__FIELD(dml_db_measured_run, m)
static const dml__field measured_fields[] = {
    F(run_id), F(plan_id), F(model_id), F(cluster_id), F(model_name),
    F(ranks), F(predicted_step_s), F(measured_step_s), F(calibration_id),
    DML__CONFIG_FIELDS(dml_db_measured_run, config)};
#undef F
static const dml__row_def measured_row =
    DML__ROW_DEF(dml_db_measured_run, measured_fields);

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
    dml_status s = dml__q_rows(&q, &measured_row, &buf, n, err);
    dml__q_finish(&q);
    *runs = buf;
    return s;
}
