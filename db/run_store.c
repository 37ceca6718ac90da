/*
 * run_store.c: runs, steps, rank timings, checkpoints and events (see
 * run_store.h).
 *
 * The batch functions go through dml__q_batch, which prepares the INSERT
 * once and rebinds it per row inside one transaction: a few hundred steps
 * cost one fsync, not one each, which matters when rank 0 records while the
 * other ranks wait.
 */
#include "db/run_store.h"

#include <math.h>

#include "db_internal.h"

dml_status dml_db_run_begin(dml_db *db, const dml_db_run_start *start,
                            int64_t *run_id, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO runs (plan_id, started_at, status, ranks, layout,\n"
        "  hosts, predicted_step_s)\n"
        "VALUES (:plan, coalesce(:started, " DML__SQL_NOW "), 'running',\n"
        "  :ranks, :layout, :hosts, :predicted)\n"
        "RETURNING id",
        "starting run", err));
    dml__q_id(&q, ":plan", start->plan_id);
    dml__q_opt(&q, ":started", start->started_at);
    dml__q_i64(&q, ":ranks", start->ranks);
    dml__q_opt(&q, ":layout", start->layout);
    dml__q_opt(&q, ":hosts", start->hosts);
    dml__q_f64(&q, ":predicted", start->predicted_step_s);
    return dml__q_once_id(&q, run_id, err);
}

dml_status dml_db_run_finish(dml_db *db, int64_t run_id,
                             const dml_db_run_result *r, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "UPDATE runs SET status = :status,\n"
        "  finished_at = coalesce(:finished, " DML__SQL_NOW "),\n"
        "  steps = :steps, measured_step_s = :measured,\n"
        "  peak_rss_bytes = :rss, final_loss = :loss,\n"
        "  test_accuracy = :acc, error = :error\n"
        "WHERE id = :id",
        "finishing run", err));
    dml__q_text(&q, ":status", r->status);
    dml__q_opt(&q, ":finished", r->finished_at);
    dml__q_i64(&q, ":steps", r->steps);
    dml__q_f64(&q, ":measured", r->measured_step_s);
    dml__q_f64(&q, ":rss", r->peak_rss_bytes);
    dml__q_f64(&q, ":loss", r->final_loss);
    dml__q_f64(&q, ":acc", r->test_accuracy);
    dml__q_opt(&q, ":error", r->error);
    dml__q_i64(&q, ":id", run_id);
    dml_status s = dml__q_once(&q, err);
    if (s == DML_OK && sqlite3_changes(db->conn) == 0)
        s = dml_error_msg(err, DML_ENOTFOUND, "no run with id %lld",
                          (long long)run_id);
    return s;
}

dml_status dml_db_run_dp_bytes(dml_db *db, int64_t run_id, double intra,
                               double inter, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "UPDATE runs SET dp_bytes_intra_per_step = :intra,\n"
        "  dp_bytes_inter_per_step = :inter\n"
        "WHERE id = :id",
        "recording bytes per step", err));
    dml__q_f64(&q, ":intra", intra);
    dml__q_f64(&q, ":inter", inter);
    dml__q_i64(&q, ":id", run_id);
    dml_status s = dml__q_once(&q, err);
    if (s == DML_OK && sqlite3_changes(db->conn) == 0)
        s = dml_error_msg(err, DML_ENOTFOUND, "no run with id %lld",
                          (long long)run_id);
    return s;
}

static void bind_step(dml__q *q, int64_t run_id, const void *row)
{
    const dml_db_step *p = row;
    dml__q_i64(q, ":run", run_id);
    dml__q_i64(q, ":step", p->step);
    dml__q_f64(q, ":loss", p->loss);
    dml__q_f64(q, ":lr", p->lr);
    dml__q_i64(q, ":gb", p->global_batch);
    dml__q_f64(q, ":step_s", p->step_s);
    dml__q_f64(q, ":compute", p->compute_s);
    dml__q_f64(q, ":tp", p->tp_comm_s);
    dml__q_f64(q, ":pp", p->pp_comm_s);
    dml__q_f64(q, ":dp", p->dp_comm_s);
    dml__q_f64(q, ":idle", p->pipeline_idle_s);
    dml__q_f64(q, ":opt", p->optimizer_s);
    dml__q_f64(q, ":sps", p->samples_per_s);
    dml__q_f64(q, ":noise", p->noise_scale);
}

static void bind_step_v6(dml__q *q, int64_t run_id, const void *row)
{
    const dml_db_step *p = row;
    bind_step(q, run_id, row);
    dml__q_f64(q, ":stale", p->staleness);
    dml__q_f64(q, ":acc", p->test_accuracy);
}

static void bind_step_v9(dml__q *q, int64_t run_id, const void *row)
{
    const dml_db_step *p = row;
    bind_step_v6(q, run_id, row);
    dml__q_f64(q, ":cons", p->consensus);
}

/* The columns of schema 6 (and 9) are named only when a step of the
 * batch has a value for one, so that a batch without (every strategy but
 * ssp and gossip, no evaluation) is the statement schemas 1-5 took. */
dml_status dml_db_record_steps(dml_db *db, int64_t run_id,
                               const dml_db_step *steps, size_t n,
                               dml_error *err)
{
    bool v6 = false, v9 = false;
    for (size_t i = 0; i < n; i++) {
        v6 = v6 || isfinite(steps[i].staleness) ||
             isfinite(steps[i].test_accuracy);
        v9 = v9 || isfinite(steps[i].consensus);
    }
    return dml__q_batch(
        db,
        v9 ? "INSERT OR REPLACE INTO steps (run_id, step, loss, lr,\n"
             "  global_batch, step_s, compute_s, tp_comm_s, pp_comm_s,\n"
             "  dp_comm_s, pipeline_idle_s, optimizer_s, samples_per_s,\n"
             "  noise_scale, staleness, test_accuracy, consensus)\n"
             "VALUES (:run, :step, :loss, :lr, :gb, :step_s, :compute, :tp,\n"
             "  :pp, :dp, :idle, :opt, :sps, :noise, :stale, :acc, :cons)"
        : v6 ? "INSERT OR REPLACE INTO steps (run_id, step, loss, lr,\n"
             "  global_batch, step_s, compute_s, tp_comm_s, pp_comm_s,\n"
             "  dp_comm_s, pipeline_idle_s, optimizer_s, samples_per_s,\n"
             "  noise_scale, staleness, test_accuracy)\n"
             "VALUES (:run, :step, :loss, :lr, :gb, :step_s, :compute, :tp,\n"
             "  :pp, :dp, :idle, :opt, :sps, :noise, :stale, :acc)"
           : "INSERT OR REPLACE INTO steps (run_id, step, loss, lr,\n"
             "  global_batch, step_s, compute_s, tp_comm_s, pp_comm_s,\n"
             "  dp_comm_s, pipeline_idle_s, optimizer_s, samples_per_s,\n"
             "  noise_scale)\n"
             "VALUES (:run, :step, :loss, :lr, :gb, :step_s, :compute, :tp,\n"
             "  :pp, :dp, :idle, :opt, :sps, :noise)",
        "recording steps", run_id, steps, n, sizeof *steps,
        v9 ? bind_step_v9 : v6 ? bind_step_v6 : bind_step, NULL, err);
}

static void bind_rank_timing(dml__q *q, int64_t run_id, const void *row)
{
    const dml_db_rank_timing *t = row;
    dml__q_i64(q, ":run", run_id);
    dml__q_i64(q, ":rank", t->rank);
    dml__q_opt(q, ":host", t->host);
    dml__q_f64(q, ":step", t->step_median_s);
    dml__q_f64(q, ":compute", t->compute_s);
    dml__q_f64(q, ":comm", t->comm_s);
    dml__q_f64(q, ":idle", t->idle_s);
    dml__q_f64(q, ":rss", t->peak_rss_bytes);
}

dml_status dml_db_record_rank_timings(dml_db *db, int64_t run_id,
                                      const dml_db_rank_timing *t, size_t n,
                                      dml_error *err)
{
    return dml__q_batch(
        db,
        "INSERT OR REPLACE INTO rank_timings (run_id, rank, host,\n"
        "  step_median_s, compute_s, comm_s, idle_s, peak_rss_bytes)\n"
        "VALUES (:run, :rank, :host, :step, :compute, :comm, :idle, :rss)",
        "recording rank timings", run_id, t, n, sizeof *t, bind_rank_timing,
        NULL, err);
}

dml_status dml_db_record_checkpoint(dml_db *db, int64_t run_id,
                                    const dml_db_checkpoint *c,
                                    int64_t *checkpoint_id, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO checkpoints (run_id, step, dir, manifest_path, bytes,\n"
        "  sha256, created_at, valid)\n"
        "VALUES (:run, :step, :dir, :manifest, :bytes, :sha,\n"
        "  coalesce(:created, " DML__SQL_NOW "), :valid)\n"
        "RETURNING id",
        "recording checkpoint", err));
    dml__q_id(&q, ":run", run_id);
    dml__q_i64(&q, ":step", c->step);
    dml__q_text(&q, ":dir", c->dir);
    dml__q_opt(&q, ":manifest", c->manifest_path);
    dml__q_f64(&q, ":bytes", c->bytes);
    dml__q_opt(&q, ":sha", c->sha256);
    dml__q_opt(&q, ":created", c->created_at);
    dml__q_i64(&q, ":valid", c->valid ? 1 : 0);
    return dml__q_once_id(&q, checkpoint_id, err);
}

dml_status dml_db_record_event(dml_db *db, int64_t run_id, const char *kind,
                               int rank, int64_t step, const char *message,
                               dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO events (run_id, at, kind, rank, step, message)\n"
        "VALUES (:run, " DML__SQL_NOW ", :kind, :rank, :step, :message)",
        "recording event", err));
    dml__q_id(&q, ":run", run_id);
    dml__q_text(&q, ":kind", kind);
    if (rank >= 0)
        dml__q_i64(&q, ":rank", rank);
    if (step >= 0)
        dml__q_i64(&q, ":step", step);
    dml__q_opt(&q, ":message", message);
    return dml__q_once(&q, err);
}

dml_status dml_db_run_mark_dead(dml_db *db, int64_t run_id,
                                const char *started_at,
                                const char *finished_at, int rank,
                                int64_t step, const char *message,
                                bool *recorded, dml_error *err)
{
    *recorded = false;
    dml__tx tx;
    DML_CHECK(dml__tx_begin(db, &tx, err));
    dml__q q;
    dml_status s = dml__q_prepare(
        &q, db,
        "UPDATE runs SET status = 'failed',\n"
        "  finished_at = coalesce(:finished, " DML__SQL_NOW "),\n"
        "  steps = :steps, error = :error\n"
        "WHERE id = :id AND status = 'running'\n"
        "  AND (:started IS NULL OR started_at = :started)",
        "marking a dead run failed", err);
    if (s == DML_OK) {
        dml__q_opt(&q, ":finished", finished_at);
        dml__q_i64(&q, ":steps", step);
        dml__q_opt(&q, ":error", message);
        dml__q_i64(&q, ":id", run_id);
        dml__q_opt(&q, ":started", started_at);
        s = dml__q_once(&q, err);
        *recorded = s == DML_OK && sqlite3_changes(db->conn) == 1;
    }
    if (s == DML_OK && *recorded)
        s = dml_db_record_event(db, run_id, "fault", rank, step, message,
                                err);
    if (s != DML_OK)
        *recorded = false;
    return dml__tx_end(&tx, s, err);
}
