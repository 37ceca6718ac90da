/*
 * tune.c: the tuning loop of dml-plan --tune (see tune.h).
 */
#include "tune.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#include "common/units.h"

static dml_status make_workdir(const dml_tune_request *rq, dml_tune_report *out,
                               bool *made, dml_error *err)
{
    *made = false;
    if (rq->workdir) {
        snprintf(out->workdir, sizeof out->workdir, "%s", rq->workdir);
        return DML_OK;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(out->workdir, sizeof out->workdir, "%s/dml-tune-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(out->workdir))
        return dml_error_msg(err, DML_EIO, "cannot create a folder for the "
                             "trial plans under %s", tmp ? tmp : "/tmp");
    *made = true;
    return DML_OK;
}

/* Remove the plan files of the first n trials, and the folder when we
 * made it (only what we wrote: a folder the caller named keeps whatever
 * else is in it). Failures are warnings: the tuning itself is done. */
static void remove_trials(dml_tune_report *out, char paths[][300], size_t n,
                          bool made)
{
    for (size_t t = 0; t < n; t++)
        if (unlink(paths[t]) != 0 && errno != ENOENT)
            dml_log_warn("cannot remove %s: %s", paths[t], strerror(errno));
    if (made && rmdir(out->workdir) != 0)
        dml_log_warn("cannot remove %s: %s", out->workdir, strerror(errno));
    out->kept = false;
}

dml_status dml_planner_tune(const dml_planner *p, dml_db *db,
                            const dml_tune_request *rq, dml_tune_report *out,
                            dml_error *err)
{
    memset(out, 0, sizeof *out);
    out->cal_status = DML_OK;
    if (p->count == 0)
        return dml_error_msg(err, DML_EINFEASIBLE, "no plan to tune");
    bool made = false;
    DML_CHECK(make_workdir(rq, out, &made, err));
    out->kept = true;

    /* every plan shown (--top may keep thousands): off the stack */
    dml_tune_candidate *cands = malloc((size_t)p->count * sizeof *cands);
    if (!cands) {
        if (made)
            rmdir(out->workdir);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    size_t nc = 0;
    for (int i = 0; i < p->count; i++) {
        cands[nc].par = p->plans[i].plan.par;
        cands[nc].predicted_s = p->plans[i].plan.pred.step_s;
        nc++;
    }
    size_t idx[DML_TUNE_MAX_TRIALS];
    size_t n = dml_tune_select_trials(cands, nc, rq->top_k, -1, idx,
                                      DML_TUNE_MAX_TRIALS);
    free(cands);

    dml_tune_trial_spec specs[DML_TUNE_MAX_TRIALS];
    char paths[DML_TUNE_MAX_TRIALS][300];
    for (size_t t = 0; t < n; t++) {
        const dml_planned *pl = &p->plans[idx[t]];
        snprintf(paths[t], sizeof paths[t], "%s/trial-%zu.json", out->workdir,
                 t + 1);
        dml_status ws = dml_planner_write_plan_file(paths[t], &pl->plan, err);
        if (ws != DML_OK) {
            if (!rq->keep_trials)
                remove_trials(out, paths, t, made);
            return ws;
        }
        dml_tune_trial_spec_init(&specs[t]);
        specs[t].plan_path = paths[t];
        specs[t].steps = rq->steps;
        specs[t].db_path = rq->db_path;
        specs[t].data = rq->data;
        specs[t].db = db;
        /* Generous: start-up, data loading, and a noisy machine. */
        specs[t].timeout_s =
            rq->timeout_s > 0
                ? rq->timeout_s
                : 60.0 + 20.0 * pl->plan.pred.step_s * (double)rq->steps;
        out->plan_index[t] = idx[t];
    }
    out->n = n;
    dml_status rs = dml_tune_run_all(specs, n, rq->progress, out->result,
                                     out->order, err);
    if (!rq->keep_trials)
        remove_trials(out, paths, n, made);
    DML_CHECK(rs);
    if (n > 0 && out->result[out->order[0]].outcome == DML_TUNE_OK) {
        out->have_winner = true;
        out->winner = out->plan_index[out->order[0]];
    }

    dml_error cerr;
    dml_error_clear(&cerr);
    out->cal_status = dml_calibrate_refit(db, &p->cluster, p->req.data_dir,
                                          &out->cal, &cerr);
    if (out->cal_status != DML_OK)
        dml_error_format(&cerr, out->cal_msg, sizeof out->cal_msg);
    return DML_OK;
}

void dml_tune_report_free(dml_tune_report *r)
{
    if (r)
        dml_calibration_result_free(&r->cal);
}

void dml_tune_report_print(FILE *f, const dml_planner *p,
                           const dml_tune_report *r)
{
    char a[32], b[32];
    if (r->kept)
        fprintf(f, "\nTuning: %zu trials (plan files kept in %s)\n", r->n,
                r->workdir);
    else
        fprintf(f, "\nTuning: %zu trials\n", r->n);
    fprintf(f, " %-4s %-44s %12s %12s %8s  %s\n", "plan", "config",
            "predicted", "measured", "error", "run");
    for (size_t k = 0; k < r->n; k++) {
        size_t t = r->order[k];
        const dml_tune_trial_result *res = &r->result[t];
        const dml_planned *pl = &p->plans[r->plan_index[t]];
        char cfg[128];
        snprintf(cfg, sizeof cfg, "dp=%d,tp=%d,pp=%d,mbs=%lld,threads=%d",
                 pl->plan.par.dp, pl->plan.par.tp, pl->plan.par.pp,
                 (long long)pl->plan.par.mbs, pl->plan.par.threads_per_rank);
        double pred = pl->plan.pred.step_s;
        if (res->outcome == DML_TUNE_OK) {
            fprintf(f, " #%-3zu %-44s %12s %12s %+7.1f%%  %lld\n",
                    r->plan_index[t] + 1, cfg,
                    dml_units_seconds(pred, a, sizeof a),
                    dml_units_seconds(res->measured_step_s, b, sizeof b),
                    100.0 * (pred - res->measured_step_s) /
                        res->measured_step_s,
                    (long long)res->run_id);
        } else {
            fprintf(f, " #%-3zu %-44s %12s %12s %8s  failed (%s): %s\n",
                    r->plan_index[t] + 1, cfg,
                    dml_units_seconds(pred, a, sizeof a), "-", "-",
                    dml_tune_outcome_name(res->outcome), res->reason);
        }
    }
    if (r->have_winner)
        fprintf(f, "Measured winner: plan #%zu.\n", r->winner + 1);
    else
        fprintf(f, "No trial succeeded.\n");
    dml_calibration_print(f, r->cal_status, r->cal_msg, &r->cal);
}
