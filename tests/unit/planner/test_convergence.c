/*
 * test_convergence.c: ranking by time to a target (issue 15), without
 * MPI: a strategy's steps to a target from a synthetic history (medians,
 * runs that never reach it, runs that did not measure it, strategies of
 * the same mathematics pooled, loss targets averaged over a window), and
 * the planner's ranking with a history written into a database: the
 * strategy of the least step time x steps wins, a strategy with no runs
 * is assumed to cost none and the warning names it, and without any
 * history the planner ranks by step time with one warning.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "planner/convergence.h"
#include "planner/planner.h"
#include "tests/support/planner_support.h"
#include "tests/support/test_support.h"

/* A run of `sync` evaluated every 10 steps for `steps` steps, its
 * accuracy reaching `acc_at` at step reach - 1 (reach 0: never; acc_at
 * < 0: never evaluated), its loss falling as 2 / (1 + step / 10). */
static size_t add_run(dml_db_curve_point *p, size_t n, int64_t run,
                      const char *sync, int64_t steps, int64_t reach)
{
    for (int64_t s = 0; s < steps; s++) {
        dml_db_curve_point *q = &p[n++];
        memset(q, 0, sizeof *q);
        q->run_id = run;
        snprintf(q->sync, sizeof q->sync, "%s", sync);
        q->step = s;
        q->loss = 2.0 / (1.0 + (double)s / 10.0);
        q->step_s = 0.01;
        q->test_accuracy = NAN;
        if (reach >= 0 && (s + 1) % 10 == 0)
            q->test_accuracy = reach > 0 && s + 1 >= reach ? 0.85 : 0.70;
    }
    return n;
}

static void steps_from_a_synthetic_history(void **state)
{
    (void)state;
    dml_db_curve_point *p = calloc(4000, sizeof *p);
    size_t n = 0;
    n = add_run(p, n, 1, "allreduce", 200, 100);
    n = add_run(p, n, 2, "allreduce", 200, 120);
    n = add_run(p, n, 3, "hierarchical", 200, 110); /* dense's math */
    n = add_run(p, n, 4, "ssp:0", 200, 130);        /* dense's too */
    n = add_run(p, n, 5, "topk:0.01", 200, 130);
    n = add_run(p, n, 6, "topk-noef:0.01", 200, 0); /* never */
    n = add_run(p, n, 7, "local:16", 200, 160);
    n = add_run(p, n, 8, "local:16", 200, 0);       /* one of two never */
    n = add_run(p, n, 9, "powersgd:2", 200, -1);    /* not evaluated */
    dml_target t = {DML_TARGET_ACCURACY, 0.84};
    dml_convergence c;
    dml_convergence_from_curves(&t, p, n, &c);
    dml_sync_spec s;
    char why[160];
    dml_convergence_source src;
    /* dense: the median of 100, 110, 120, 130 over four runs */
    assert_true(dml_sync_spec_parse("hierarchical", &s, why, sizeof why));
    assert_true(dml_convergence_steps(&c, &s, &src) == 115.0);
    assert_int_equal(src, DML_CONV_MEASURED);
    assert_int_equal(c.e[c.dense].runs, 4);
    assert_true(dml_sync_spec_parse("topk:0.01", &s, why, sizeof why));
    assert_true(fabs(dml_convergence_factor(&c, &s) - 130.0 / 115.0) < 1e-12);
    /* never reached: infinitely many steps, as is a median with half of
     * the runs never reaching it */
    assert_true(dml_sync_spec_parse("topk-noef:0.01", &s, why, sizeof why));
    assert_true(isinf(dml_convergence_steps(&c, &s, &src)));
    assert_true(dml_sync_spec_parse("local:16", &s, why, sizeof why));
    assert_true(isinf(dml_convergence_steps(&c, &s, &src)));
    /* a run without evaluations says nothing about an accuracy: PowerSGD
     * (and fp16, which has no runs) is assumed to cost none */
    assert_true(dml_sync_spec_parse("powersgd:2", &s, why, sizeof why));
    assert_true(dml_convergence_steps(&c, &s, &src) == 115.0);
    assert_int_equal(src, DML_CONV_ASSUMED);
    assert_true(dml_convergence_factor(&c, &s) == 1.0);
    char line[768];
    dml_sync_spec searched[2];
    assert_true(dml_sync_spec_parse("fp16", &searched[0], why, sizeof why));
    searched[1] = s;
    assert_true(dml_convergence_warning(&c, "m", 256, searched, 2, line,
                                        sizeof line));
    assert_non_null(strstr(line, "sync=fp16, powersgd:2"));
    assert_non_null(strstr(line, "as many steps to test accuracy 84 %"));
    /* the menu: every family once, and the measured variants after */
    dml_sync_spec menu[DML_CONVERGENCE_MAX];
    int m = dml_convergence_strategies(&c, menu, DML_CONVERGENCE_MAX);
    assert_int_equal(menu[0].kind, DML_SYNC_ALLREDUCE);
    assert_true(dml_sync_spec_parse("topk-noef:0.01", &s, why, sizeof why));
    assert_true(dml_sync_spec_equal(&menu[m - 1], &s));
    /* a loss target: the mean of the last 10 losses at or below 0.5,
     * 2 / (1 + s/10) <= 0.5 from s = 30 alone, the mean from step 35 */
    dml_target lt = {DML_TARGET_LOSS, 0.5};
    dml_convergence_from_curves(&lt, p, n, &c);
    dml_sync_spec_init(&s);
    double steps = dml_convergence_steps(&c, &s, &src);
    assert_true(steps > 31 && steps < 40);
    free(p);
}

static void no_history_warns_and_ranks_by_step_time(void **state)
{
    (void)state;
    dml_planner_request r;
    dml_error err;
    assert_int_equal(dml_test_planner_request(&r, "mlp-fmnist", "cpu-node",
                                              4, 256, NULL, &err),
                     DML_OK);
    r.db_path = "/nonexistent-dir/none.db";
    r.target = (dml_target){DML_TARGET_ACCURACY, 0.84};
    r.top_k = 20;
    dml_planner *p = NULL;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_non_null(strstr(p->conv_warning, "assuming no strategy costs "
                                            "convergence, ranking by step "
                                            "time"));
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    bool other = false;
    for (int i = 0; i < p->count; i++) {
        assert_true(p->plans[i].cand.score_s == p->plans[i].plan.pred.step_s);
        if (i > 0)
            assert_true(p->plans[i - 1].cand.score_s <=
                        p->plans[i].cand.score_s);
        other = other || p->plans[i].plan.par.sync.kind != DML_SYNC_ALLREDUCE;
    }
    assert_true(other); /* every strategy was searched */
    dml_planner_free(p);
    /* an automatic batch has no measured steps to a target */
    r.global_batch = 0;
    r.noise_scale = 1000;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_EUSAGE);
    assert_non_null(strstr(err.msg, "needs a fixed --global-batch"));
}

/* A database with runs of mlp-fmnist at batch 256 reaching 84 % after
 * the given steps, one run per strategy (steps 0: never). */
static void write_history(const char *path, const char *const *syncs,
                          const int *reach, int n)
{
    dml_db *db = NULL;
    dml_error err;
    unlink(path);
    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);
    dml_db_close(db);
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    char sql[1024];
    assert_int_equal(
        sqlite3_exec(s,
                     "INSERT INTO models (id, name, type, spec_hash, "
                     "spec_json, created_at) VALUES (1, 'mlp-fmnist', "
                     "'mlp', 'h', '{}', 'now');"
                     "INSERT INTO clusters (id, name, spec_hash, spec_json, "
                     "created_at) VALUES (1, 'c', 'h', '{}', 'now');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql,
                 "INSERT INTO plans (id, created_at, model_id, cluster_id, "
                 "dp, tp, pp, mbs, microbatches, global_batch, sync, "
                 "attention, plan_json) VALUES (%d, 'now', 1, 1, 4, 1, 1, "
                 "64, 1, 256, '%s', 'materialized', '{}');"
                 "INSERT INTO runs (id, plan_id, started_at, status, ranks, "
                 "steps) VALUES (%d, %d, 'now', 'ok', 4, 400);",
                 i + 1, syncs[i], i + 1, i + 1);
        assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
        for (int k = 0; k < 400; k++) {
            double acc = (k + 1) % 20 ? -1
                         : reach[i] > 0 && k + 1 >= reach[i] ? 0.85
                                                             : 0.8;
            snprintf(sql, sizeof sql,
                     "INSERT INTO steps (run_id, step, loss, step_s, "
                     "test_accuracy) VALUES (%d, %d, 1.0, 0.01, %s);",
                     i + 1, k, acc < 0 ? "NULL" : acc > 0.84 ? "0.85" : "0.8");
            assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL),
                             SQLITE_OK);
        }
    }
    sqlite3_close(s);
}

/* The winner's strategy with history in path, sync searched. */
static dml_sync_kind winner(const char *path, char *warning, size_t size)
{
    dml_planner_request r;
    dml_error err;
    assert_int_equal(dml_test_planner_request(&r, "mlp-fmnist", "cpu-node",
                                              4, 256, "tp=1,pp=1", &err),
                     DML_OK);
    r.db_path = path;
    r.target = (dml_target){DML_TARGET_ACCURACY, 0.84};
    dml_planner *p = NULL;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    snprintf(warning, size, "%s", p->conv_warning);
    /* the score is the time to the target up to dense's steps */
    for (int i = 0; i < p->count; i++) {
        double f = dml_convergence_factor(&p->conv,
                                          &p->plans[i].plan.par.sync);
        assert_true(fabs(p->plans[i].cand.score_s -
                         p->plans[i].plan.pred.step_s * f) <=
                    1e-12 * p->plans[i].cand.score_s);
    }
    dml_sync_kind k = p->plans[0].plan.par.sync.kind;
    dml_planner_free(p);
    return k;
}

static void history_decides_the_strategy(void **state)
{
    (void)state;
    char path[] = "/tmp/dml-test-convergence-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    static const char *const syncs[] = {
        "allreduce", "topk:0.01", "local:16", "fp16", "bf16", "powersgd:2",
        "ssp:2", "gossip:onepeer-exp", "gossip:exp", "gossip:ring",
        "gossip:torus"};
    char warning[768];
    /* local SGD's cheap steps cost 4x the steps: another strategy wins */
    int slow_local[] = {100, 100, 400, 100, 100, 100, 100, 100, 100, 100,
                        100};
    write_history(path, syncs, slow_local, 11);
    assert_int_not_equal(winner(path, warning, sizeof warning),
                         DML_SYNC_LOCAL);
    assert_string_equal(warning, "");
    /* as many steps: its cheaper step wins (without history it does too:
     * the step time alone) */
    int same[] = {100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100};
    write_history(path, syncs, same, 11);
    dml_sync_kind w = winner(path, warning, sizeof warning);
    assert_int_equal(w, DML_SYNC_LOCAL);
    /* only allreduce measured: the rest assumed, and the warning says so
     * in one line */
    write_history(path, syncs, same, 1);
    winner(path, warning, sizeof warning);
    assert_non_null(strstr(warning, "no measured runs of sync="));
    assert_non_null(strstr(warning, "local:16"));
    assert_null(strchr(warning, '\n'));
    /* local:16's only run failed: stopped for a diverged loss it counts
     * as never reaching the target, and the cheap step no longer wins;
     * failed otherwise (a node lost) it says nothing */
    write_history(path, syncs, same, 11);
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(s,
                     "UPDATE runs SET status = 'failed' WHERE id = 3;"
                     "DELETE FROM steps WHERE run_id = 3 AND step >= 30;"
                     "INSERT INTO events (run_id, at, kind, step, message) "
                     "VALUES (3, 'now', 'diverged', 29, 'the loss "
                     "diverged');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_not_equal(winner(path, warning, sizeof warning),
                         DML_SYNC_LOCAL);
    assert_string_equal(warning, "");
    assert_int_equal(sqlite3_exec(s, "UPDATE events SET kind = 'node-lost';",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    winner(path, warning, sizeof warning);
    assert_non_null(strstr(warning, "no measured runs of sync=local:16"));
    sqlite3_close(s);
    dml_test_remove_db(path);
}

/* Without a target the search keeps to the strategies of allreduce's
 * arithmetic (a cheaper step of another one says nothing of the time to
 * train), and --why-not of one of the others says why it was not
 * proposed, where it is faster per step than the winner. */
static void without_target_dense_only_and_why_not_says_so(void **state)
{
    (void)state;
    dml_planner_request r;
    dml_error err;
    assert_int_equal(dml_test_planner_request(&r, "mlp-fmnist", "cpu-node",
                                              4, 256, "tp=1,pp=1", &err),
                     DML_OK);
    r.db_path = "/nonexistent-dir/none.db";
    r.top_k = 50;
    dml_planner *p = NULL;
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    assert_true(p->count > 1);
    for (int i = 0; i < p->count; i++)
        assert_true(dml_convergence_same_math(&p->plans[i].plan.par.sync));
    dml_planner_config c;
    assert_int_equal(dml_planner_config_parse("tp=1,pp=1,sync=local:16",
                                              "--why-not", &c, &err),
                     DML_OK);
    dml_why_not w;
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_int_equal(w.verdict, DML_REJECT_NONE);
    assert_int_equal(w.best.par.sync.kind, DML_SYNC_LOCAL);
    /* a sixteenth of the bytes over the node's link: faster per step */
    assert_true(w.slower_fraction < 0);
    assert_non_null(strstr(w.text, "less time per step than the winner"));
    assert_non_null(strstr(w.text, "only with a target"));
    assert_null(strstr(w.text, "slower"));
    dml_planner_free(p);
    /* with one, it is searched, and the answer compares times to it */
    r.target = (dml_target){DML_TARGET_ACCURACY, 0.84};
    assert_int_equal(dml_planner_new(&r, &p, &err), DML_OK);
    assert_int_equal(dml_planner_run(p, &err), DML_OK);
    assert_int_equal(dml_planner_why_not(p, &c, &w, &err), DML_OK);
    assert_true(w.slower_fraction >= 0);
    assert_null(strstr(w.text, "only with a target"));
    dml_planner_free(p);
}

DML_TEST_MAIN(
    cmocka_unit_test(steps_from_a_synthetic_history),
    cmocka_unit_test(no_history_warns_and_ranks_by_step_time),
    cmocka_unit_test(history_decides_the_strategy),
    cmocka_unit_test(without_target_dense_only_and_why_not_says_so))
