/*
 * tune_trials: the tuning loop end to end with real processes (issue 5):
 * four small mlp-fmnist plans on a 2-core VM cluster spec run through the
 * trial runner (mpirun + dml-exec, synthetic data), a fifth that cannot
 * finish in time is killed at its timeout and recorded as failed, and the
 * four measured runs are calibrated.
 *
 *   tune_trials CLUSTER.json WORKDIR
 *
 * dml-exec is found through $DML_BIN, mpirun through $MPIEXEC. Prints one
 * line per trial; exits 1 with "FAIL: ..." when something is wrong.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/log.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "costmodel/step_time.h"
#include "db/db.h"
#include "db/history.h"
#include "planner/calibrate.h"
#include "planner/tune_runner.h"
#include "tests/support/test_support.h"

static int failures = 0;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            printf("FAIL: " __VA_ARGS__);                                     \
            printf("\n");                                                     \
            failures++;                                                       \
        }                                                                     \
    } while (0)

/* Write a plan of mlp-fmnist with its prediction on cluster to path. */
static dml_status write_plan(const dml_cluster_spec *c, const char *path,
                             int dp, int tp, int pp, int mbs, int mb,
                             int threads, dml_error *err)
{
    dml_plan *p = malloc(sizeof *p);
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = dml_test_plan_mlp(p, c->name, c->fingerprint, dp, tp, pp,
                                     mbs, mb, threads, err);
    p->sched.peak_lr = 1e-3;
    if (s == DML_OK)
        s = dml_test_plan_predict(c, p, NULL, err);
    if (s == DML_OK)
        s = dml_plan_validate(p, err);
    if (s == DML_OK) {
        json_t *j = dml_plan_to_json(p);
        char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        s = text ? dml_file_write_atomic(path, text, strlen(text), err)
                 : dml_error_msg(err, DML_ENOMEM, "out of memory");
        free(text);
    }
    free(p);
    return s;
}

int main(int argc, char **argv)
{
    dml_log_init("tune_trials");
    if (argc != 3) {
        fprintf(stderr, "usage: tune_trials CLUSTER.json WORKDIR\n");
        return 2;
    }
    const char *dir = argv[2];
    dml_error err;
    dml_error_clear(&err);
    dml_cluster_spec *c = malloc(sizeof *c);
    if (!c)
        return 1;
    if (dml_cluster_spec_read_file(argv[1], c, &err) != DML_OK) {
        printf("FAIL: cluster spec: %s\n", err.msg);
        return 1;
    }
    char db_path[512];
    snprintf(db_path, sizeof db_path, "%s/dml.db", dir);
    dml_db *db = NULL;
    if (dml_db_open(db_path, &db, &err) != DML_OK) {
        printf("FAIL: database: %s\n", err.msg);
        return 1;
    }
    static const int plans[][6] = {
        /* dp tp pp mbs microbatches threads */
        {1, 1, 1, 64, 2, 1},
        {1, 1, 1, 64, 2, 2},
        {2, 1, 1, 32, 2, 1},
        {1, 2, 1, 64, 2, 1},
    };
    int nplans = (int)(sizeof plans / sizeof plans[0]);
    dml_tune_trial_result res[4];
    dml_tune_trial_spec specs[4];
    char paths[4][512];
    for (int i = 0; i < nplans; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/plan-%d.json", dir, i);
        const int *q = plans[i];
        if (write_plan(c, paths[i], q[0], q[1], q[2], q[3], q[4], q[5],
                       &err) != DML_OK) {
            printf("FAIL: plan %d: %s\n", i, err.msg);
            return 1;
        }
        dml_tune_trial_spec *s = &specs[i];
        dml_tune_trial_spec_init(s);
        s->plan_path = paths[i]; /* ranks and threads read from it */
        s->steps = 12;
        s->db_path = db_path;
        s->data = "synthetic";
        s->timeout_s = 60;
        s->db = db;
    }
    size_t order[4];
    if (dml_tune_run_all(specs, (size_t)nplans, false, res, order, &err) !=
        DML_OK) {
        printf("FAIL: trials could not start: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < nplans; i++) {
        const int *q = plans[i];
        dml_tune_trial_result *r = &res[i];
        printf("trial %d: dp%d tp%d pp%d mbs%d m%d threads %d: %s, measured "
               "%.2f ms, predicted %.2f ms, run %lld, %.1f s\n", i, q[0],
               q[1], q[2], q[3], q[4], q[5],
               dml_tune_outcome_name(r->outcome), 1e3 * r->measured_step_s,
               1e3 * r->predicted_step_s, (long long)r->run_id, r->wall_s);
        CHECK(r->outcome == DML_TUNE_OK, "trial %d: %s (%s)", i, r->reason,
              r->stderr_tail);
        CHECK(r->measured_step_s > 0 && r->measured_step_s < 5,
              "trial %d: median step %g s", i, r->measured_step_s);
        CHECK(r->predicted_step_s > 0, "trial %d: no prediction", i);
        CHECK(r->run_id > 0, "trial %d: no run id", i);
        CHECK(isfinite(r->final_loss), "trial %d: no final loss", i);
    }
    for (int i = 1; i < nplans; i++)
        CHECK(res[order[i - 1]].measured_step_s <=
                  res[order[i]].measured_step_s,
              "ranking: trial %zu before %zu", order[i - 1], order[i]);

    /* A trial that cannot finish in time: killed at the timeout, its run
     * recorded as failed with the reason. */
    char path[512];
    snprintf(path, sizeof path, "%s/plan-slow.json", dir);
    if (write_plan(c, path, 1, 1, 1, 256, 4, 1, &err) != DML_OK) {
        printf("FAIL: slow plan: %s\n", err.msg);
        return 1;
    }
    dml_tune_trial_spec s;
    dml_tune_trial_spec_init(&s);
    s.plan_path = path;
    s.steps = 1000000;
    s.db_path = db_path;
    s.data = "synthetic";
    s.timeout_s = 3;
    s.db = db;
    dml_tune_trial_result slow;
    if (dml_tune_trial_run(&s, &slow, &err) != DML_OK) {
        printf("FAIL: slow trial could not start: %s\n", err.msg);
        return 1;
    }
    printf("slow trial: %s: %s, %.1f s\n", dml_tune_outcome_name(slow.outcome),
           slow.reason, slow.wall_s);
    CHECK(slow.outcome == DML_TUNE_TIMEOUT, "slow trial: %s",
          dml_tune_outcome_name(slow.outcome));
    CHECK(slow.wall_s < 3 + 5 + 3, "slow trial took %.1f s to stop",
          slow.wall_s);
    dml_db_run_row *rows = NULL;
    size_t n = 0;
    if (dml_db_list_runs(db, 1, &rows, &n, &err) == DML_OK && n == 1) {
        /* dml-exec opened the run before training; it must not stay
         * 'running' */
        CHECK(strcmp(rows[0].status, "failed") == 0,
              "timed-out run %lld has status %s", (long long)rows[0].id,
              rows[0].status);
        CHECK(strstr(rows[0].error, "timed out") != NULL,
              "timed-out run's error is '%s'", rows[0].error);
        CHECK(slow.run_id == rows[0].id, "slow trial names run %lld, newest "
              "is %lld", (long long)slow.run_id, (long long)rows[0].id);
    } else {
        CHECK(false, "no runs listed: %s", err.msg);
    }
    free(rows);

    /* Calibrate on the four measured runs. */
    dml_calibrate_options o;
    dml_calibrate_options_init(&o);
    o.cluster = c;
    dml_calibration_result cal;
    if (dml_calibrate_cluster(db, c->fingerprint, &o, &cal, &err) != DML_OK) {
        printf("FAIL: calibration: %s\n", err.msg);
        return 1;
    }
    printf("calibration: %d runs, MAPE %.1f %% -> %.1f %%, leave-one-out "
           "%.1f %%, +- %.1f %%, compute x%.3g, thread overhead %.3g, rank "
           "contention %.3g\n",
           cal.n_runs, cal.mape_before_pct, cal.mape_after_pct,
           cal.loo_mape_after_pct, cal.interval_pct, cal.calib.compute,
           cal.calib.cpu_thread_overhead, cal.calib.cpu_rank_contention);
    CHECK(cal.fitted, "calibration not fitted");
    CHECK(cal.n_runs == nplans, "calibration used %d runs, %d measured",
          cal.n_runs, nplans);
    CHECK(isfinite(cal.loo_mape_after_pct) && cal.interval_pct >= 0,
          "leave-one-out MAPE %g, interval %g", cal.loo_mape_after_pct,
          cal.interval_pct);
    /* Only a fit that predicts held-out plans better than the spec alone
     * is stored (on a noisy machine a few trials may not give one). */
    CHECK(cal.kept == (cal.loo_mape_after_pct < cal.loo_mape_before_pct),
          "kept %d with leave-one-out %g vs %g", cal.kept,
          cal.loo_mape_after_pct, cal.loo_mape_before_pct);
    CHECK(cal.kept == (cal.calibration_id > 0),
          "recorded (id %lld) exactly when kept (%d)",
          (long long)cal.calibration_id, cal.kept);
    for (int i = 0; i < nplans; i++) {
        const dml_calibration_point *p = &cal.points[i];
        CHECK(p->run_id == res[i].run_id, "point %d is run %lld, trial ran "
              "%lld", i, (long long)p->run_id, (long long)res[i].run_id);
        CHECK(fabs(p->measured_s - res[i].measured_step_s) <
                  1e-9 * res[i].measured_step_s,
              "run %lld: database says %g s, dml-exec printed %g s",
              (long long)p->run_id, p->measured_s, res[i].measured_step_s);
        CHECK(p->peak_rss_bytes > 1e6, "run %lld: peak RSS %g",
              (long long)p->run_id, p->peak_rss_bytes);
    }
    dml_calibration_applied a;
    bool found = false;
    CHECK(dml_calibration_load(db, c->fingerprint, &a, &found, &err) ==
                  DML_OK &&
              found == cal.kept && (!found || a.id == cal.calibration_id),
          "newest calibration (found %d) is the one kept: %s", found,
          err.msg);
    dml_calibration_result_free(&cal);
    dml_db_close(db);
    free(c);
    if (failures == 0)
        printf("ok\n");
    return failures ? 1 : 0;
}
