/*
 * history.c: the list queries behind dml-history (see history.h).
 *
 * One function (list_rows) runs a query with its :limit and reads every
 * row into an array by the struct's field table (row.h), so each query
 * reads as its SELECT plus the members its columns fill, in the same order.
 */
#include "db/history.h"

#include <stdlib.h>

#include "db_internal.h"

/* Rows of sql (which has a :limit parameter) into a malloc'd array *rows;
 * on error *rows is NULL and *n 0. */
static dml_status list_rows(dml_db *db, const char *sql, const char *what,
                            int limit, const dml__row_def *def, void **rows,
                            size_t *n, dml_error *err)
{
    *rows = NULL;
    *n = 0;
    dml__q q;
    DML_CHECK(dml__q_prepare(&q, db, sql, what, err));
    /* LIMIT -1 is SQLite's "no limit". */
    dml__q_i64(&q, ":limit", limit > 0 ? limit : -1);
    dml_status s = dml__q_rows(&q, def, rows, n, err);
    dml__q_finish(&q);
    return s;
}

#define F(m) DML__FIELD(dml_db_probe_row, m)
static const dml__field probe_fields[] = {
    F(id), F(started_at), F(finished_at), F(hostname), F(ranks),
    F(nodes), F(quick), F(status), F(dml_version), F(triad_Bps),
    F(dgemm_flops_per_s), F(sgemm_flops_per_s), F(p2p_latency_s),
    F(p2p_bw_Bps), F(n_measurements)};
#undef F
static const dml__row_def probe_row =
    DML__ROW_DEF(dml_db_probe_row, probe_fields);

dml_status dml_db_list_probe_runs(dml_db *db, int limit,
                                  dml_db_probe_row **rows, size_t *n,
                                  dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT probe_run_id, started_at, finished_at, hostname, ranks,\n"
        "  nodes, quick, status, dml_version, triad_Bps, dgemm_flops_per_s,\n"
        "  sgemm_flops_per_s, p2p_latency_s, p2p_bw_Bps, n_measurements\n"
        "FROM v_probe_summary ORDER BY probe_run_id DESC LIMIT :limit",
        "listing probe runs", limit, &probe_row, &buf, n, err);
    *rows = buf;
    return s;
}

#define F(m) DML__FIELD(dml_db_plan_row, m)
static const dml__field plan_fields[] = {
    F(id), F(created_at), F(model), F(cluster), F(predicted_step_s),
    F(predicted_mem_bytes), F(predicted_tokens_per_s), F(mfu),
    F(calibration_id),
    F(n_runs),
    F(best_measured_step_s),
    F(config_text),
    DML__CONFIG_FIELDS(dml_db_plan_row, config)};
#undef F
static const dml__row_def plan_row =
    DML__ROW_DEF(dml_db_plan_row, plan_fields);

dml_status dml_db_list_plans(dml_db *db, int limit, dml_db_plan_row **rows,
                             size_t *n, dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT p.plan_id, p.created_at, p.model, p.cluster,\n"
        "  p.predicted_step_s, p.predicted_mem_bytes,\n"
        "  p.predicted_tokens_per_s, p.mfu, p.calibration_id, p.runs,\n"
        "  p.best_measured_step_s, p.config,\n"
        "  " DML__CONFIG_COLUMNS "\n"
        "FROM v_plans p ORDER BY p.plan_id DESC LIMIT :limit",
        "listing plans", limit, &plan_row, &buf, n, err);
    *rows = buf;
    return s;
}

#define F(m) DML__FIELD(dml_db_run_row, m)
static const dml__field run_fields[] = {
    F(id), F(plan_id), F(model), F(cluster), F(status), F(ranks),
    F(steps), F(started_at), F(finished_at), F(duration_s),
    F(predicted_step_s), F(measured_step_s), F(error_pct),
    F(final_loss), F(test_accuracy), F(peak_rss_bytes), F(error),
    F(config_text), F(measured_samples_per_s), F(measured_tokens_per_s),
    F(dp_bytes_intra_per_step), F(dp_bytes_inter_per_step),
    DML__CONFIG_FIELDS(dml_db_run_row, config)};
#undef F
static const dml__row_def run_row = DML__ROW_DEF(dml_db_run_row, run_fields);

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
        "  p.config, p.measured_samples_per_s, p.measured_tokens_per_s,\n"
        "  p.dp_bytes_intra_per_step, p.dp_bytes_inter_per_step,\n"
        "  " DML__CONFIG_COLUMNS "\n"
        "FROM v_runs p ORDER BY p.run_id DESC LIMIT :limit",
        "listing runs", limit, &run_row, &buf, n, err);
    *rows = buf;
    return s;
}

#define F(m) DML__FIELD(dml_db_job_row, m)
static const dml__field job_fields[] = {
    F(id), F(started_at), F(finished_at), F(status), F(ranks),
    F(last_ranks), F(restarts), F(wall_s), F(compute_s), F(lost_s),
    F(detect_s), F(restart_s), F(goodput), F(reason), F(model.failures),
    F(model.grows), F(model.replan_s), F(model.step_s),
    F(model.ckpt_interval_s), F(model.ckpt_write_s), F(model.mtbf_plan_s),
    F(model.mtbf_seen_s), F(model.young_s), F(model.daly_s),
    F(model.expected_lost_s), F(model.expected_restart_s),
    F(model.expected_wall_s), F(model.expected_goodput)};
#undef F
static const dml__row_def job_row = DML__ROW_DEF(dml_db_job_row, job_fields);

dml_status dml_db_list_jobs(dml_db *db, int limit, dml_db_job_row **rows,
                            size_t *n, dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT j.id, j.started_at, j.finished_at, j.status, j.ranks,\n"
        "  (SELECT e.ranks FROM job_events e WHERE e.job_id = j.id\n"
        "    AND e.kind = 'plan' ORDER BY e.id DESC LIMIT 1),\n"
        "  j.restarts, j.wall_s, j.compute_s, j.lost_s, j.detect_s,\n"
        "  j.restart_s,\n"
        "  CASE WHEN j.wall_s > 0\n"
        "    THEN (j.compute_s - coalesce(j.lost_s, 0)) / j.wall_s END,\n"
        "  j.reason, j.failures, j.grows, j.replan_s, j.step_s,\n"
        "  j.ckpt_interval_s, j.ckpt_write_s, j.mtbf_plan_s, j.mtbf_seen_s,\n"
        "  j.young_s, j.daly_s, j.expected_lost_s, j.expected_restart_s,\n"
        "  j.expected_wall_s, j.expected_goodput\n"
        "FROM jobs j ORDER BY j.id DESC LIMIT :limit",
        "listing jobs", limit, &job_row, &buf, n, err);
    *rows = buf;
    return s;
}

#define F(m) DML__FIELD(dml_db_balance_row, m)
static const dml__field balance_fields[] = {
    F(id), F(run_id), F(at), F(step), F(kind), F(replica), F(cause),
    F(ratio), F(old_shares), F(new_shares)};
#undef F
static const dml__row_def balance_row =
    DML__ROW_DEF(dml_db_balance_row, balance_fields);

dml_status dml_db_list_balance_events(dml_db *db, int limit,
                                      dml_db_balance_row **rows, size_t *n,
                                      dml_error *err)
{
    void *buf = NULL;
    dml_status s = list_rows(
        db,
        "SELECT id, run_id, at, step, kind, coalesce(replica, -1), cause,\n"
        "  ratio, old_shares, new_shares\n"
        "FROM balance_events ORDER BY id DESC LIMIT :limit",
        "listing balance events", limit, &balance_row, &buf, n, err);
    *rows = buf;
    return s;
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
                             "listing calibrations", limit,
                             &dml__calibration_row, &buf, n, err);
    *rows = buf;
    return s;
}

void dml_db_calibrations_free(dml_db_calibration *rows, size_t n)
{
    dml__row_clear(&dml__calibration_row, rows, n);
    free(rows);
}
