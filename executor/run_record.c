/*
 * run_record.c: a run's history and database rows (see run_record.h).
 */
#include "executor/run_record.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>

#include "common/stats.h"
#include "common/clock.h"
#include "common/log.h"
#include "db/plan_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"
#include "executor/ckpt.h"
#include "executor/groups.h"
#include "rows/rows.h"

void dml_run_record_init(dml_run_record *r, int rank, int world_size)
{
    memset(r, 0, sizeof *r);
    r->rank = rank;
    r->world_size = world_size;
    r->dp_bytes_intra = r->dp_bytes_inter = NAN;
    r->dp_job_intra = r->dp_job_inter = NAN;
}

/* The history's arrays, for allocating and freeing them alike. */
#define HISTORY_ARRAYS 10
static void history(dml_run_record *r, double **a[HISTORY_ARRAYS])
{
    a[0] = &r->loss;
    a[1] = &r->lr;
    a[2] = &r->step_s;
    a[3] = &r->noise;
    a[4] = &r->r_step;
    a[5] = &r->r_compute;
    a[6] = &r->r_comm;
    a[7] = &r->r_idle;
    a[8] = &r->accuracy;
    a[9] = &r->staleness;
}

dml_status dml_run_record_history(dml_run_record *r, int64_t steps,
                                  dml_error *err)
{
    r->cap = steps > 0 ? steps : 1;
    double **a[HISTORY_ARRAYS];
    history(r, a);
    for (int i = 0; i < HISTORY_ARRAYS; i++) {
        *a[i] = calloc((size_t)r->cap, sizeof(double));
        if (!*a[i])
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    return DML_OK;
}

void dml_run_record_free(dml_run_record *r)
{
    double **a[HISTORY_ARRAYS];
    history(r, a);
    for (int i = 0; i < HISTORY_ARRAYS; i++)
        free(*a[i]);
    if (r->rec_open)
        dml_record_free(&r->rec);
    dml_db_close(r->db);
    memset(r, 0, sizeof *r);
}

/* ---- rows while the database may fail (record.h) -------------------------- */

/* The writer of record.h: this run's steps in one transaction. */
static dml_status write_steps(void *ctx, const dml_db_step *steps, size_t n,
                              dml_error *err)
{
    dml_run_record *r = ctx;
    return dml_db_record_steps(r->db, r->run_id, steps, n, err);
}

/* Say what a write to the database did, when that is news: the first
 * failure of an outage, and the end of one (also as a "database" event,
 * so that the record shows the gap it had). */
static void db_outcome(dml_run_record *r, dml_record_flush f)
{
    if (f == DML_RECORD_OUTAGE) {
        dml_log_warn("recording to the database failed (%s); training goes "
                     "on, steps are kept and written when it takes writes "
                     "again",
                     r->rec.reason);
    } else if (f == DML_RECORD_RECOVERED) {
        char msg[700];
        snprintf(msg, sizeof msg, "the database refused writes from step "
                 "%lld to step %lld (%.500s); the steps kept meanwhile are "
                 "recorded",
                 (long long)r->rec.outage_step, (long long)r->steps_done,
                 r->rec.reason);
        dml_log_warn("%s", msg);
        dml_run_record_event(r, "database", r->steps_done, msg);
    }
}

void dml_run_record_flush(dml_run_record *r, bool force)
{
    if (r->rank != 0 || !r->rec_open)
        return;
    db_outcome(r, dml_record_flush_steps(&r->rec, dml_clock_now_s(), force));
}

/* Whether another row may be written now (rank 0, run begun, database
 * not failing or due for a retry); when not, the row is counted as lost. */
static bool row_begin(dml_run_record *r)
{
    return r->rank == 0 && r->rec_open && r->run_id > 0 &&
           dml_record_may_write(&r->rec, dml_clock_now_s());
}

static void row_end(dml_run_record *r, dml_status s, const dml_error *err)
{
    db_outcome(r, dml_record_note(&r->rec, s, err));
}

void dml_run_record_event(dml_run_record *r, const char *kind, int64_t step,
                          const char *msg)
{
    if (!row_begin(r))
        return;
    dml_error err;
    dml_error_clear(&err);
    row_end(r, dml_db_record_event(r->db, r->run_id, kind, -1, step, msg,
                                   &err),
            &err);
}

void dml_run_record_balance(dml_run_record *r,
                            const dml_db_balance_event *e)
{
    if (!row_begin(r))
        return;
    dml_error err;
    dml_error_clear(&err);
    row_end(r, dml_db_balance_event_add(r->db, r->run_id, e, &err), &err);
}

void dml_run_record_checkpoint(dml_run_record *r, const char *root,
                               int64_t step, double bytes,
                               const char *manifest_sha)
{
    if (!row_begin(r))
        return;
    char dir[1024], man[1100];
    dml_ckpt_dir(root, step, dir, sizeof dir);
    snprintf(man, sizeof man, "%s/manifest.json", dir);
    dml_db_checkpoint c;
    memset(&c, 0, sizeof c);
    c.step = step;
    c.dir = dir;
    c.manifest_path = man;
    c.bytes = bytes;
    snprintf(c.sha256, sizeof c.sha256, "%s", manifest_sha);
    c.valid = true;
    dml_error e;
    dml_error_clear(&e);
    row_end(r, dml_db_record_checkpoint(r->db, r->run_id, &c, NULL, &e), &e);
}

/* ---- the run's start ---------------------------------------------------------- */

/* JSON text of the layout: each rank's coordinates and layers. */
static char *layout_json(const dml_plan *p, int world_size)
{
    const dml_parallel_config *c = &p->par;
    json_t *ranks = json_array();
    for (int r = 0; r < world_size; r++) {
        int d, q, t;
        dml_plan_rank_coords(p, r, &d, &q, &t);
        json_array_append_new(
            ranks, json_pack("{s:i, s:i, s:i, s:i, s:I, s:I}", "rank", r,
                             "dp", d, "pp", q, "tp", t, "first_layer",
                             (json_int_t)p->stages[q].first_layer,
                             "last_layer",
                             (json_int_t)p->stages[q].last_layer));
    }
    json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:s, s:o}", "dp",
                          c->dp, "tp", c->tp, "pp", c->pp, "zero", c->zero,
                          "mbs", (json_int_t)c->mbs, "microbatches",
                          (json_int_t)c->microbatches, "schedule",
                          dml_pp_schedule_name(c->schedule), "ranks", ranks);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

/* Every rank's host name, gathered to rank 0 as a JSON array (collective). */
static char *hosts_json(MPI_Comm world, int rank, int world_size)
{
    char name[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(name, &len);
    char *all = rank == 0 ? calloc((size_t)world_size, MPI_MAX_PROCESSOR_NAME)
                          : NULL;
    MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all,
               MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, world);
    if (rank != 0 || !all)
        return NULL;
    json_t *a = json_array();
    for (int r = 0; r < world_size; r++)
        json_array_append_new(a, json_string(all + (size_t)r *
                                                       MPI_MAX_PROCESSOR_NAME));
    free(all);
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/*
 * A previous job on this checkpoint directory that died without recording
 * its end (its ranks' state files say so, heartbeat.h): mark its run
 * failed with a "fault" event naming the rank and step, when it is in this
 * database, and say so on stderr either way. Then remove its files, which
 * this run's ranks replace. Rank 0, before this run is recorded.
 */
static void recover_dead_run(dml_run_record *r, const char *dir)
{
    if (!dir || !r->db)
        return;
    dml_heartbeat_report rep;
    dml_error e;
    dml_error_clear(&e);
    if (dml_heartbeat_scan(dir, &rep, &e) != DML_OK)
        return;
    int rank;
    int64_t step;
    char msg[700];
    if (dml_heartbeat_report_died(&rep, &rank, &step, msg, sizeof msg)) {
        char here[PATH_MAX];
        const char *db = dml_db_path(r->db);
        bool same = realpath(db, here) && strcmp(here, rep.run.db) == 0;
        bool recorded = false;
        if (same && rep.run.run_id > 0 &&
            dml_db_run_mark_dead(r->db, rep.run.run_id,
                                 strcmp(rep.run.started_at, "-") == 0
                                     ? NULL
                                     : rep.run.started_at,
                                 rep.last_seen_at, rank, step, msg,
                                 &recorded, &e) != DML_OK) {
            char buf[1400];
            dml_log_warn("could not mark run %lld failed: %s",
                         (long long)rep.run.run_id,
                         dml_error_format(&e, buf, sizeof buf));
        }
        dml_log_warn("run %lld (%s) ended without recording it: %s%s",
                     (long long)rep.run.run_id, rep.run.db, msg,
                     recorded ? "; marked failed in the database" : "");
    }
    dml_heartbeat_report_free(&rep);
    if (dml_heartbeat_clear(dir, &e) != DML_OK) {
        char buf[1400];
        dml_log_warn("%s", dml_error_format(&e, buf, sizeof buf));
    }
}

/* The plans row the plan file came from (its db_plan_id), when this
 * database holds that row and it is this very plan; 0 otherwise (a plan
 * file from another database, or edited since), and the run gets a plans
 * row of its own. Runs of a plan dml-plan recorded then line up with its
 * prediction and calibration in v_tuning_history. */
static int64_t planned_row(dml_run_record *r, const dml_input *in)
{
    if (in->plan.db_plan_id <= 0 || !in->plan_text)
        return 0;
    char *stored = NULL;
    dml_error e;
    if (dml_db_plan_json(r->db, in->plan.db_plan_id, &stored, &e) !=
            DML_OK ||
        !stored)
        return 0;
    json_t *a = json_loads(stored, 0, NULL);
    json_t *b = json_loads(in->plan_text, 0, NULL);
    free(stored);
    if (b)
        json_object_del(b, "db_plan_id");
    int64_t id = a && b && json_equal(a, b) ? in->plan.db_plan_id : 0;
    json_decref(a);
    json_decref(b);
    return id;
}

/* A plans row of the plan file's own. */
static dml_status plan_row(dml_run_record *r, const dml_input *in,
                           int64_t model_id, int64_t cluster_id,
                           int64_t *plan_id, dml_error *err)
{
    const dml_plan *p = &in->plan;
    dml_db_plan dp;
    memset(&dp, 0, sizeof dp);
    dp.model_id = model_id;
    dp.cluster_id = cluster_id;
    dml_rows_plan_config(p, &dp.config);
    dp.predicted_step_s = p->pred.present ? p->pred.step_s : NAN;
    dp.predicted_mem_bytes =
        p->pred.present ? p->pred.mem_bytes_per_device : NAN;
    dp.predicted_tokens_per_s =
        p->pred.present && p->pred.tokens_per_s > 0 ? p->pred.tokens_per_s
                                                    : NAN;
    dp.mfu = p->pred.present && p->pred.mfu > 0 ? p->pred.mfu : NAN;
    dp.plan_json = in->plan_text;
    return dml_db_record_plan(r->db, &dp, plan_id, err);
}

/* Model, cluster, plan and the run's start, in one transaction. */
static dml_status run_rows(dml_run_record *r, const dml_input *in,
                           const char *mtext, const char *layout,
                           const char *hosts, dml_error *err)
{
    const dml_plan *p = &in->plan;
    int64_t model_id = 0, cluster_id = 0, plan_id = 0;
    dml_db_model m;
    dml_rows_model(&p->model, mtext, &m);
    DML_CHECK(dml_db_record_model(r->db, &m, &model_id, err));
    dml_db_cluster c;
    dml_rows_cluster(p->cluster_name, p->cluster_fingerprint, NULL, NULL, &c);
    DML_CHECK(dml_db_record_cluster(r->db, &c, 0, &cluster_id, err));
    plan_id = planned_row(r, in);
    if (plan_id == 0)
        DML_CHECK(plan_row(r, in, model_id, cluster_id, &plan_id, err));
    dml_db_run_start rs;
    memset(&rs, 0, sizeof rs);
    rs.plan_id = plan_id;
    rs.ranks = r->world_size;
    rs.layout = layout;
    rs.hosts = hosts;
    rs.predicted_step_s = p->pred.present ? p->pred.step_s : NAN;
    snprintf(rs.started_at, sizeof rs.started_at, "%s", r->started_at);
    return dml_db_run_begin(r->db, &rs, &r->run_id, err);
}

/* Record model, cluster, plan and the run's start (rank 0). */
static dml_status db_begin(dml_run_record *r, const dml_input *in,
                           const char *hosts, dml_error *err)
{
    dml_clock_iso8601(r->started_at, sizeof r->started_at);
    json_t *mj = dml_model_spec_to_json(&in->plan.model);
    char *mtext = mj ? json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(mj);
    char *layout = layout_json(&in->plan, r->world_size);
    if (!mtext || !layout) {
        free(mtext);
        free(layout);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    dml_status s = dml_db_begin(r->db, err);
    if (s == DML_OK)
        s = run_rows(r, in, mtext, layout, hosts, err);
    if (s == DML_OK)
        s = dml_db_commit(r->db, err);
    else
        dml_db_rollback(r->db);
    free(mtext);
    free(layout);
    return s;
}

dml_status dml_run_record_begin(dml_run_record *r, const dml_input *in,
                                const char *checkpoint_dir, MPI_Comm world,
                                dml_error *err)
{
    r->dp_groups = in->plan.par.tp * in->plan.par.pp;
    char *hosts = hosts_json(world, r->rank, r->world_size);
    dml_status s = DML_OK;
    if (r->rank == 0) {
        s = dml_record_init(&r->rec, write_steps, r, dml_clock_now_s,
                            DML_RECORD_KEEP_MAX, err);
        r->rec_open = s == DML_OK;
        if (s == DML_OK) {
            recover_dead_run(r, checkpoint_dir);
            s = db_begin(r, in, hosts, err);
        }
    }
    free(hosts);
    return dml_groups_agree(world, s, err);
}

dml_status dml_run_record_heartbeat(dml_run_record *r,
                                    const char *checkpoint_dir,
                                    MPI_Comm world, dml_heartbeat **hb,
                                    dml_error *err)
{
    *hb = NULL;
    if (!checkpoint_dir)
        return DML_OK;
    dml_heartbeat_run run;
    memset(&run, 0, sizeof run);
    if (r->rank == 0) {
        run.run_id = r->run_id;
        snprintf(run.started_at, sizeof run.started_at, "%s", r->started_at);
        char abs[PATH_MAX];
        const char *db = r->db ? dml_db_path(r->db) : "";
        snprintf(run.db, sizeof run.db, "%s", realpath(db, abs) ? abs : db);
    }
    run.world = r->world_size;
    MPI_Bcast(&run, (int)sizeof run, MPI_BYTE, 0, world);
    snprintf(r->started_at, sizeof r->started_at, "%s", run.started_at);
    dml_status s = dml_heartbeat_open(checkpoint_dir, r->rank, &run, hb, err);
    return dml_groups_agree(world, s, err);
}

/* ---- steps -------------------------------------------------------------------- */

void dml_run_record_rank_step(dml_run_record *r, int64_t i, double step_s,
                              double compute_s, double comm_s, double idle_s)
{
    r->r_step[i] = step_s;
    r->r_compute[i] = compute_s;
    r->r_comm[i] = comm_s;
    r->r_idle[i] = idle_s;
}

/* Keep the step for the database, and write the kept steps when a batch
 * is due: a job killed between writes loses at most a batch, or a
 * second's worth, from its record. */
void dml_run_record_step(dml_run_record *r, int64_t i, int64_t step,
                         double loss, double lr, int64_t global_batch,
                         const dml_step_stats *sum, double step_max_s,
                         double noise_scale, double staleness,
                         double test_accuracy, double consensus)
{
    r->loss[i] = loss;
    r->lr[i] = lr;
    r->step_s[i] = step_max_s;
    r->noise[i] = noise_scale;
    r->staleness[i] = staleness;
    r->accuracy[i] = test_accuracy;
    if (!r->rec_open)
        return;
    double nr = (double)r->world_size;
    dml_db_step d = {
        .step = step,
        .loss = loss,
        .lr = lr,
        .global_batch = global_batch,
        .step_s = step_max_s,
        .compute_s = sum->compute_s / nr,
        .tp_comm_s = sum->tp_comm_s / nr,
        .pp_comm_s = sum->pp_comm_s / nr,
        .dp_comm_s = sum->dp_comm_s / nr,
        .pipeline_idle_s = sum->idle_s / nr,
        .optimizer_s = sum->optimizer_s / nr,
        .samples_per_s = (double)global_batch / step_max_s,
        .noise_scale = noise_scale,
        .staleness = staleness,
        .test_accuracy = test_accuracy,
        .consensus = consensus,
    };
    if (dml_record_add(&r->rec, &d, dml_clock_now_s()))
        dml_run_record_flush(r, false);
}

/* ---- the run's end -------------------------------------------------------------- */

static double peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return NAN;
    return (double)ru.ru_maxrss * 1024.0; /* Linux reports kilobytes */
}

void dml_run_record_dp_bytes(dml_run_record *r, double intra_node,
                             double inter_node)
{
    r->dp_sent_intra += intra_node;
    r->dp_sent_inter += inter_node;
    r->dp_sent_steps++;
}

/* What each rank sends per rank_timings: its four medians, its peak
 * memory and its two counts of bytes sent. */
#define RANK_VALUES 7

/* A replica's bytes per step, of the gathered values (rank 0): the mean
 * over each data-parallel group's ranks, of the group that sent most;
 * and the job's, their sum over every rank. */
static void replica_bytes(dml_run_record *r, const double *all)
{
    int groups = r->dp_groups > 0 ? r->dp_groups : 1;
    double most = -1;
    r->dp_job_intra = r->dp_job_inter = 0;
    for (int k = 0; k < r->world_size; k++) {
        r->dp_job_intra += all[RANK_VALUES * k + 5];
        r->dp_job_inter += all[RANK_VALUES * k + 6];
    }
    for (int g = 0; g < groups; g++) {
        double intra = 0, inter = 0;
        int n = 0;
        for (int k = g; k < r->world_size; k += groups) {
            intra += all[RANK_VALUES * k + 5];
            inter += all[RANK_VALUES * k + 6];
            n++;
        }
        if (n == 0 || !isfinite(intra) || !isfinite(inter) ||
            (intra + inter) / n <= most)
            continue;
        most = (intra + inter) / n;
        r->dp_bytes_intra = intra / n;
        r->dp_bytes_inter = inter / n;
    }
}

/* The gathered timings of every rank as rows (rank 0); the largest peak. */
static double rank_rows(dml_run_record *r, const double *all,
                        const char *hosts, double peak)
{
    dml_db_rank_timing *t = calloc((size_t)r->world_size, sizeof *t);
    for (int k = 0; t && k < r->world_size; k++) {
        const double *v = all + (size_t)RANK_VALUES * (size_t)k;
        t[k].rank = k;
        snprintf(t[k].host, sizeof t[k].host, "%s",
                 hosts + (size_t)k * MPI_MAX_PROCESSOR_NAME);
        t[k].step_median_s = v[0];
        t[k].compute_s = v[1];
        t[k].comm_s = v[2];
        t[k].idle_s = v[3];
        t[k].peak_rss_bytes = v[4];
        if (v[4] > peak)
            peak = v[4];
    }
    if (t && row_begin(r)) {
        dml_error err;
        dml_error_clear(&err);
        row_end(r, dml_db_record_rank_timings(r->db, r->run_id, t,
                                              (size_t)r->world_size, &err),
                &err);
    }
    free(t);
    return peak;
}

double dml_run_record_rank_timings(dml_run_record *r, int64_t nrun,
                                   MPI_Comm world)
{
    /* Medians after the first step of this invocation (the warm-up). */
    size_t skip = nrun > 1 ? 1 : 0, n = (size_t)nrun - skip;
    /* mean per step; without a step counted, unknown rather than zero */
    double counted = r->dp_sent_steps > 0 ? (double)r->dp_sent_steps : NAN;
    double mine[RANK_VALUES] = {dml_stats_median(r->r_step + skip, n),
                                dml_stats_median(r->r_compute + skip, n),
                                dml_stats_median(r->r_comm + skip, n),
                                dml_stats_median(r->r_idle + skip, n),
                                peak_rss_bytes(),
                                r->dp_sent_intra / counted,
                                r->dp_sent_inter / counted};
    char host[MPI_MAX_PROCESSOR_NAME] = "";
    int len = 0;
    MPI_Get_processor_name(host, &len);
    bool root = r->rank == 0;
    double *all = root ? calloc((size_t)r->world_size * RANK_VALUES,
                                sizeof(double))
                       : NULL;
    char *hosts = root ? calloc((size_t)r->world_size, MPI_MAX_PROCESSOR_NAME)
                       : NULL;
    MPI_Gather(mine, RANK_VALUES, MPI_DOUBLE, all, RANK_VALUES, MPI_DOUBLE, 0,
               world);
    MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts,
               MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, world);
    double peak = mine[4];
    if (root && all)
        replica_bytes(r, all);
    if (root && all && hosts)
        peak = rank_rows(r, all, hosts, peak);
    free(all);
    free(hosts);
    return peak;
}

bool dml_run_record_end(dml_run_record *r, const dml_run_outcome *o,
                        const dml_error *err)
{
    if (!r->rec_open || r->run_id == 0)
        return false;
    dml_run_record_flush(r, true); /* the last chance for the kept steps */
    if (r->rec.failing && r->rec.n > 0)
        return false;
    bool incomplete = dml_record_incomplete(&r->rec);
    char msg[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64];
    dml_db_run_result res;
    memset(&res, 0, sizeof res);
    snprintf(res.status, sizeof res.status, "%s",
             o->status != DML_OK ? (o->interrupted ? "interrupted" : "failed")
             : incomplete        ? "failed"
                                 : "ok");
    res.steps = o->steps;
    res.measured_step_s = o->median_step_s;
    res.peak_rss_bytes = o->peak_rss_bytes;
    res.final_loss = o->final_loss;
    res.test_accuracy = o->test_accuracy;
    res.error = o->status != DML_OK
                    ? dml_error_format(err, msg, sizeof msg)
                : incomplete ? dml_record_describe(&r->rec, msg, sizeof msg)
                             : NULL;
    dml_error e;
    dml_error_clear(&e);
    /* bytes per step first: a row that cannot take them is no reason
     * to leave the run unfinished */
    if ((isfinite(r->dp_bytes_intra) || isfinite(r->dp_bytes_inter)) &&
        row_begin(r))
        row_end(r, dml_db_run_dp_bytes(r->db, r->run_id, r->dp_bytes_intra,
                                       r->dp_bytes_inter, &e),
                &e);
    dml_error_clear(&e);
    dml_status f = dml_db_run_finish(r->db, r->run_id, &res, &e);
    row_end(r, f, &e);
    return f == DML_OK;
}

bool dml_run_record_incomplete(const dml_run_record *r)
{
    return r->rec_open && dml_record_incomplete(&r->rec);
}
