/*
 * job_store.c: jobs and their events (see job_store.h).
 */
#include "db/job_store.h"

#include "db_internal.h"

dml_status dml_db_job_begin(dml_db *db, const char *command,
                            const char *checkpoint_dir, int ranks,
                            int64_t *job_id, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO jobs (started_at, status, command, checkpoint_dir,\n"
        "  ranks)\n"
        "VALUES (" DML__SQL_NOW ", 'running', :command, :dir, :ranks)\n"
        "RETURNING id",
        "starting job", err));
    dml__q_opt(&q, ":command", command);
    dml__q_opt(&q, ":dir", checkpoint_dir);
    dml__q_i64(&q, ":ranks", ranks);
    return dml__q_once_id(&q, job_id, err);
}

dml_status dml_db_job_event(dml_db *db, int64_t job_id, const char *kind,
                            int64_t step, int ranks, double seconds,
                            const char *message, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO job_events (job_id, at, kind, step, ranks, seconds,\n"
        "  message)\n"
        "VALUES (:job, " DML__SQL_NOW ", :kind, :step, :ranks, :seconds,\n"
        "  :message)",
        "recording job event", err));
    dml__q_i64(&q, ":job", job_id);
    dml__q_text(&q, ":kind", kind);
    if (step >= 0)
        dml__q_i64(&q, ":step", step);
    else
        dml__q_id(&q, ":step", 0); /* NULL */
    dml__q_id(&q, ":ranks", ranks);
    dml__q_f64(&q, ":seconds", seconds);
    dml__q_opt(&q, ":message", message);
    return dml__q_once(&q, err);
}

dml_status dml_db_job_finish(dml_db *db, int64_t job_id,
                             const dml_db_job_result *r, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "UPDATE jobs SET status = :status, finished_at = " DML__SQL_NOW ",\n"
        "  restarts = :restarts, wall_s = :wall, compute_s = :compute,\n"
        "  lost_s = :lost, detect_s = :detect, restart_s = :restart,\n"
        "  reason = :reason, failures = :failures, grows = :grows,\n"
        "  replan_s = :replan, step_s = :step, ckpt_interval_s = :interval,\n"
        "  ckpt_write_s = :write, mtbf_plan_s = :mtbf_plan,\n"
        "  mtbf_seen_s = :mtbf_seen, young_s = :young, daly_s = :daly,\n"
        "  expected_lost_s = :e_lost, expected_restart_s = :e_restart,\n"
        "  expected_wall_s = :e_wall, expected_goodput = :e_goodput\n"
        "WHERE id = :id",
        "finishing job", err));
    dml__q_text(&q, ":status", r->status);
    dml__q_i64(&q, ":restarts", r->restarts);
    dml__q_f64(&q, ":wall", r->wall_s);
    dml__q_f64(&q, ":compute", r->compute_s);
    dml__q_f64(&q, ":lost", r->lost_s);
    dml__q_f64(&q, ":detect", r->detect_s);
    dml__q_f64(&q, ":restart", r->restart_s);
    dml__q_opt(&q, ":reason", r->reason);
    const dml_db_job_model *m = &r->model;
    dml__q_i64(&q, ":failures", m->failures);
    dml__q_i64(&q, ":grows", m->grows);
    dml__q_f64(&q, ":replan", m->replan_s);
    dml__q_f64(&q, ":step", m->step_s);
    dml__q_f64(&q, ":interval", m->ckpt_interval_s);
    dml__q_f64(&q, ":write", m->ckpt_write_s);
    dml__q_f64(&q, ":mtbf_plan", m->mtbf_plan_s);
    dml__q_f64(&q, ":mtbf_seen", m->mtbf_seen_s);
    dml__q_f64(&q, ":young", m->young_s);
    dml__q_f64(&q, ":daly", m->daly_s);
    dml__q_f64(&q, ":e_lost", m->expected_lost_s);
    dml__q_f64(&q, ":e_restart", m->expected_restart_s);
    dml__q_f64(&q, ":e_wall", m->expected_wall_s);
    dml__q_f64(&q, ":e_goodput", m->expected_goodput);
    dml__q_i64(&q, ":id", job_id);
    return dml__q_once(&q, err);
}
