/*
 * test_calibrate.c: calibration from measured runs (planner/calibrate.h)
 * and the cost model's pricing of CPU ranks x threads it relies on.
 *
 * The runs are synthetic: plans of mlp-fmnist on a 2-core CPU node like
 * the one dml-probe writes for these machines (devices_per_node = cores,
 * one core per device), "measured" as the cost model itself predicts them
 * with known factors. A correct fit must then find those factors again
 * and predict every run, also the ones it left out, without error.
 */
#include "tests/support/unit.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "costmodel/step_time.h"
#include "db/calib_store.h"
#include "db/db.h"
#include "db/plan_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"
#include "planner/calibrate.h"
#include "rows/rows.h"
#include "tests/support/test_support.h"

#define REL(a, b) (fabs((a) - (b)) / fabs(b))
#define FP "feedc0de00000001"

/* ---- fixtures ---- */

/* A 2-core VM as dml-probe describes it: two 1-core devices, 30 GFLOP/s
 * fp32 per core, 10 GB/s memory, a 1 GB/s shared-memory "link" (slow
 * enough that communication is a visible part of the step). */
static void vm_cluster(dml_cluster_spec *c)
{
    dml_error err;
    assert_int_equal(dml_cluster_spec_load("cpu-node", NULL, c, &err),
                     DML_OK);
    snprintf(c->name, sizeof c->name, "test-vm");
    snprintf(c->fingerprint, sizeof c->fingerprint, FP);
    dml_node_group *g = &c->groups[0];
    g->devices_per_node = 2;
    g->device.cores = 1;
    g->device.peak_flops[DML_DTYPE_FP32] = 30e9;
    g->device.peak_flops[DML_DTYPE_FP64] = 15e9;
    g->device.mem_bw_Bps = 10e9;
    g->device.membound_efficiency = 1.0;
    g->device.mem_bytes = 12e9;
    g->links[DML_LINK_INTRA].bw_Bps = 1e9;
    g->links[DML_LINK_INTRA].efficiency = 1.0;
    g->links[DML_LINK_INTRA].latency_s = 1e-6;
}

static void mlp_plan(dml_plan *p, int dp, int tp, int pp, int mbs, int mb,
                     int threads)
{
    dml_error err;
    assert_int_equal(dml_test_plan_mlp(p, "test-vm", FP, dp, tp, pp, mbs, mb,
                                       threads, &err),
                     DML_OK);
    assert_int_equal(dml_plan_validate(p, &err), DML_OK);
}

/* Predicted step time of plan on cluster with calibration cal. */
static double predict(const dml_cluster_spec *c, dml_plan *p,
                      const dml_costmodel_calib *cal, double *mem)
{
    dml_error err;
    assert_int_equal(dml_test_plan_predict(c, p, cal, &err), DML_OK);
    if (mem)
        *mem = p->pred.mem_bytes_per_device;
    return p->pred.step_s;
}

static const int grid[][6] = {
    /* dp tp pp mbs microbatches threads */
    {1, 1, 1, 32, 4, 1},  {1, 1, 1, 64, 2, 1},  {1, 1, 1, 128, 1, 1},
    {1, 1, 1, 256, 1, 1}, {1, 1, 1, 64, 2, 2},  {1, 1, 1, 256, 1, 2},
    {2, 1, 1, 32, 2, 1},  {2, 1, 1, 128, 1, 1}, {1, 2, 1, 64, 2, 1},
    {1, 2, 1, 128, 2, 1}, {1, 1, 2, 32, 4, 1},  {1, 1, 2, 64, 4, 1},
    {2, 1, 1, 64, 1, 2},  {1, 1, 2, 128, 2, 2},
};
#define GRID_N ((int)(sizeof grid / sizeof grid[0]))

typedef struct fixture {
    char dir[64];
    char path[128];
    dml_db *db;
    dml_cluster_spec *cluster;
    dml_plan *plan;
    int64_t model_id, cluster_id;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || !dml_test_tmpdir("calib", f->dir, sizeof f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/dml.db", f->dir);
    dml_error err;
    if (dml_db_open(f->path, &f->db, &err) != DML_OK)
        return -1;
    f->cluster = malloc(sizeof *f->cluster);
    f->plan = malloc(sizeof *f->plan);
    if (!f->cluster || !f->plan)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    dml_db_close(f->db);
    dml_test_rmtree(f->dir);
    free(f->cluster);
    free(f->plan);
    free(f);
    return 0;
}

/* Record model and cluster rows; with_spec puts the cluster spec JSON in
 * the row (as dml-probe does), else only name and fingerprint (as
 * dml-exec does). */
static void record_specs(fixture *f, bool with_spec, const char *name)
{
    dml_error err;
    json_t *mj = dml_model_spec_to_json(&f->plan->model);
    char *mtext = json_dumps(mj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(mj);
    dml_db_model m;
    dml_rows_model(&f->plan->model, mtext, &m);
    assert_int_equal(dml_db_record_model(f->db, &m, &f->model_id, &err),
                     DML_OK);
    free(mtext);
    char *ctext = NULL;
    if (with_spec) {
        json_t *cj = dml_cluster_spec_to_json(f->cluster);
        ctext = json_dumps(cj, JSON_COMPACT);
        json_decref(cj);
    }
    dml_db_cluster c;
    dml_rows_cluster(name, FP, NULL, ctext, &c);
    assert_int_equal(dml_db_record_cluster(f->db, &c, 0, &f->cluster_id, &err),
                     DML_OK);
    free(ctext);
}

/* Record f->plan with a finished run measured at measured_s. */
static int64_t record_run(fixture *f, double measured_s, double rss)
{
    dml_error err;
    const dml_plan *p = f->plan;
    json_t *pj = dml_plan_to_json(p);
    char *ptext = json_dumps(pj, JSON_COMPACT);
    json_decref(pj);
    dml_db_plan dp;
    memset(&dp, 0, sizeof dp);
    dp.model_id = f->model_id;
    dp.cluster_id = f->cluster_id;
    dml_rows_plan_config(p, &dp.config);
    dp.predicted_step_s = NAN;
    dp.predicted_mem_bytes = NAN;
    dp.predicted_tokens_per_s = NAN;
    dp.mfu = NAN;
    dp.plan_json = ptext;
    int64_t plan_id, run_id;
    assert_int_equal(dml_db_record_plan(f->db, &dp, &plan_id, &err), DML_OK);
    free(ptext);
    dml_db_run_start rs;
    memset(&rs, 0, sizeof rs);
    rs.plan_id = plan_id;
    rs.ranks = (int)p->devices;
    rs.predicted_step_s = NAN;
    assert_int_equal(dml_db_run_begin(f->db, &rs, &run_id, &err), DML_OK);
    dml_db_run_result rr;
    memset(&rr, 0, sizeof rr);
    snprintf(rr.status, sizeof rr.status, "ok");
    rr.steps = 50;
    rr.measured_step_s = measured_s;
    rr.peak_rss_bytes = rss;
    rr.final_loss = 0.5;
    rr.test_accuracy = NAN;
    assert_int_equal(dml_db_run_finish(f->db, run_id, &rr, &err), DML_OK);
    return run_id;
}

static void truth_calib(dml_costmodel_calib *t)
{
    dml_costmodel_calib_init(t);
    t->compute = 1.25;
    t->comm_intra = 2.0;
    t->optimizer = 1.4;
    t->overhead_s = 1.5e-3;
    t->microbatch_overhead_s = 2e-4;
    t->cpu_thread_overhead = 0.6;
    t->cpu_rank_contention = 0.2;
}

/* The common start of a test: the VM cluster, a one-device plan whose
 * model is recorded, the cluster row (with_spec as in record_specs), and
 * the calibration the synthetic runs are measured with. */
static void start_vm(fixture *f, bool with_spec, const char *name,
                     dml_costmodel_calib *truth)
{
    vm_cluster(f->cluster);
    mlp_plan(f->plan, 1, 1, 1, 32, 1, 1);
    record_specs(f, with_spec, name);
    truth_calib(truth);
}

/* The grid measured exactly as the cost model predicts it with truth
 * (runs first..last-1); the memory of run 0 measured 50 MB above its
 * prediction, the others 10 MB below. */
static void record_grid(fixture *f, const dml_costmodel_calib *truth,
                        int first, int last, double *measured)
{
    for (int i = first; i < last; i++) {
        mlp_plan(f->plan, grid[i][0], grid[i][1], grid[i][2], grid[i][3],
                 grid[i][4], grid[i][5]);
        double mem = 0;
        double y = predict(f->cluster, f->plan, truth, &mem);
        if (measured)
            measured[i] = y;
        record_run(f, y, i == 0 ? mem + 50e6 : mem - 10e6);
    }
}

/* ---- tests ---- */

/* With exact measurements and no prior, the fit finds the factors that
 * made them, keeps the ones no run exercises, and predicts every run,
 * also left out, to within rounding. */
static void recovers_known_factors(void **state)
{
    fixture *f = *state;
    dml_costmodel_calib truth;
    start_vm(f, false, "test-vm", &truth);
    double y[GRID_N];
    record_grid(f, &truth, 0, GRID_N, y);

    dml_calibrate_options o;
    dml_calibrate_options_init(&o);
    o.cluster = f->cluster;
    o.prior_weight = 0;
    dml_calibration_result r;
    dml_error err;
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r, &err), DML_OK);
    assert_true(r.fitted);
    assert_int_equal(r.n_runs, GRID_N);
    assert_int_equal(r.n_skipped, 0);
    /* the parts that are a visible share of the steps are free and found */
    dml_calib_factor strong[] = {DML_CALIB_COMPUTE, DML_CALIB_OVERHEAD,
                                 DML_CALIB_MB_OVERHEAD,
                                 DML_CALIB_CPU_THREADS, DML_CALIB_CPU_RANKS,
                                 DML_CALIB_COMM_INTRA, DML_CALIB_OPTIMIZER};
    for (size_t i = 0; i < sizeof strong / sizeof strong[0]; i++) {
        dml_calib_factor k = strong[i];
        assert_true(r.free_factor[k]);
        double want = dml_calib_factor_get(&truth, k);
        double got = dml_calib_factor_get(&r.calib, k);
        if (fabs(want - got) > 1e-3 * fabs(want))
            fail_msg("factor %s: fitted %.6g, made with %.6g",
                     dml_calib_factor_name(k), got, want);
    }
    /* one node: nothing crosses nodes; microsecond latencies are not
     * exercised by millisecond steps: those keep 1 */
    assert_false(r.free_factor[DML_CALIB_COMM_INTER]);
    assert_false(r.free_factor[DML_CALIB_LATENCY_INTER]);
    assert_false(r.free_factor[DML_CALIB_LATENCY_INTRA]);
    assert_true(r.calib.comm_inter == 1.0);
    assert_true(r.calib.latency_intra == 1.0);
    /* the uncalibrated model is off by a lot, the fitted one not at all */
    assert_true(r.mape_before_pct > 10.0);
    assert_true(r.loo_mape_before_pct == r.mape_before_pct);
    assert_true(r.mape_after_pct < 0.01);
    assert_true(r.loo_mape_after_pct < 0.05);
    assert_true(r.interval_pct < 0.1);
    for (int i = 0; i < GRID_N; i++) {
        assert_true(REL(r.points[i].measured_s, y[i]) < 1e-12);
        assert_true(REL(r.points[i].calibrated_s, y[i]) < 1e-4);
        assert_true(REL(r.points[i].loo_s, y[i]) < 1e-3);
    }
    /* headroom: run 0 used 50 MB more than predicted */
    assert_true(fabs(r.mem_extra_bytes - 50e6) < 1.0);
    assert_true(r.mem_ratio > 1.0);
    assert_true(r.calibration_id > 0);

    /* the stored row reads back as what dml-plan applies */
    dml_calibration_applied a;
    bool found = false;
    assert_int_equal(dml_calibration_load(f->db, FP, &a, &found, &err),
                     DML_OK);
    assert_true(found);
    assert_int_equal(a.id, r.calibration_id);
    assert_int_equal(a.n_runs, GRID_N);
    for (int k = 0; k < DML_CALIB_FACTORS; k++)
        assert_true(fabs(dml_calib_factor_get(&a.calib, (dml_calib_factor)k) -
                         dml_calib_factor_get(&r.calib,
                                              (dml_calib_factor)k)) < 1e-12);
    assert_true(fabs(a.interval_pct - r.interval_pct) < 1e-9);
    assert_true(fabs(dml_calibration_mem_need(&a, 1e9) - (1e9 + 50e6)) < 1);
    assert_true(dml_calibration_mem_need(NULL, 1e9) == 1e9);
    dml_costmodel_calib c;
    double interval = 0;
    assert_int_equal(dml_calibration_load_latest(f->db, FP, &c, &interval,
                                                 &found, &err),
                     DML_OK);
    assert_true(found && c.compute == r.calib.compute &&
                interval == a.interval_pct);
    dml_db_calibration row;
    assert_int_equal(dml_db_latest_calibration(f->db, FP, &row, &found, &err),
                     DML_OK);
    assert_true(found);
    assert_int_equal(row.n_runs, GRID_N);
    assert_true(fabs(row.mape_before - r.mape_before_pct) < 1e-9);
    assert_true(fabs(row.loo_mape_after - r.loo_mape_after_pct) < 1e-9);
    dml_db_calibration_clear(&row);
    dml_calibration_result_free(&r);
}

/* The leave-one-out figure for run i is the prediction of a calibration
 * fitted on the other runs alone; the MAPE is the mean of those errors. */
static void leave_one_out_is_a_refit_without_the_run(void **state)
{
    fixture *f = *state;
    /* 13 plans, and 12 in each refit: 6 free factors either way, so the
     * refits solve the same problem as the folds */
    enum { N13 = GRID_N - 1 };
    dml_costmodel_calib truth;
    start_vm(f, false, "test-vm", &truth);
    /* a noisy machine: runs measured off the truth by a known pattern */
    double y[N13];
    for (int i = 0; i < N13; i++) {
        mlp_plan(f->plan, grid[i][0], grid[i][1], grid[i][2], grid[i][3],
                 grid[i][4], grid[i][5]);
        y[i] = predict(f->cluster, f->plan, &truth, NULL) *
               (1.0 + 0.08 * ((i * 7) % 5 - 2) / 2.0);
        record_run(f, y[i], NAN);
    }
    dml_calibrate_options o;
    dml_calibrate_options_init(&o);
    o.cluster = f->cluster;
    o.record = false;
    dml_calibration_result r;
    dml_error err;
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r, &err), DML_OK);
    assert_true(r.fitted);
    assert_int_equal(r.calibration_id, 0); /* record = false */
    double s = 0;
    for (int i = 0; i < N13; i++)
        s += fabs(r.points[i].loo_s - y[i]) / y[i];
    assert_true(fabs(100.0 * s / N13 - r.loo_mape_after_pct) < 1e-9);
    /* out of sample is never better than in sample here */
    assert_true(r.loo_mape_after_pct > r.mape_after_pct);
    /* the interval covers 90 % of the left-out runs */
    int inside = 0;
    for (int i = 0; i < N13; i++)
        if (fabs(y[i] - r.points[i].loo_s) / r.points[i].loo_s <=
            r.interval_pct / 100.0 + 1e-12)
            inside++;
    assert_true(inside >= (int)ceil(0.9 * N13));

    double loo0 = r.points[0].loo_s, mape_after = r.mape_after_pct;
    double cal0 = r.points[0].calibrated_s;
    /* Refit without runs 0, 6 and 12 in their own databases. */
    int leave[] = {0, 6, 12};
    for (size_t t = 0; t < sizeof leave / sizeof leave[0]; t++) {
        fixture g;
        memset(&g, 0, sizeof g);
        snprintf(g.dir, sizeof g.dir, "/tmp/dml-test-calib-XXXXXX");
        assert_non_null(mkdtemp(g.dir));
        snprintf(g.path, sizeof g.path, "%s/dml.db", g.dir);
        assert_int_equal(dml_db_open(g.path, &g.db, &err), DML_OK);
        g.cluster = f->cluster;
        g.plan = f->plan;
        record_specs(&g, false, "test-vm");
        for (int i = 0; i < N13; i++) {
            if (i == leave[t])
                continue;
            mlp_plan(g.plan, grid[i][0], grid[i][1], grid[i][2], grid[i][3],
                     grid[i][4], grid[i][5]);
            record_run(&g, y[i], NAN);
        }
        dml_calibration_result rg;
        assert_int_equal(dml_calibrate_cluster(g.db, FP, &o, &rg, &err),
                         DML_OK);
        int i = leave[t];
        mlp_plan(g.plan, grid[i][0], grid[i][1], grid[i][2], grid[i][3],
                 grid[i][4], grid[i][5]);
        double pred = predict(f->cluster, g.plan, &rg.calib, NULL);
        /* the prior's scale is the median step of the plans fitted, a
         * little different without plan i: agreement to 0.2 % */
        if (REL(pred, r.points[i].loo_s) > 2e-3)
            fail_msg("run %d left out: refit predicts %.6g s, "
                     "leave-one-out said %.6g s", i, pred,
                     r.points[i].loo_s);
        dml_calibration_result_free(&rg);
        dml_db_close(g.db);
        char p[256];
        const char *files[] = {"dml.db", "dml.db-wal", "dml.db-shm"};
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "%s/%s", g.dir, files[k]);
            unlink(p);
        }
        rmdir(g.dir);
    }
    dml_calibration_result_free(&r);

    /* A second run of plan 0, measured 40 % slower: the plan counts once,
     * measured by the median of its two runs, and it is left out as a
     * whole, so the repeat cannot stand in for run 0. */
    mlp_plan(f->plan, grid[0][0], grid[0][1], grid[0][2], grid[0][3],
             grid[0][4], grid[0][5]);
    record_run(f, 1.4 * y[0], NAN);
    dml_calibration_result r2;
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r2, &err),
                     DML_OK);
    assert_int_equal(r2.n_runs, N13 + 1);
    assert_int_equal(r2.n_plans, N13);
    assert_true(REL(r2.points[0].plan_measured_s, 1.2 * y[0]) < 1e-12);
    assert_true(r2.points[N13].plan_measured_s ==
                r2.points[0].plan_measured_s);
    assert_true(r2.points[1].plan_measured_s == y[1]);
    assert_true(REL(r2.points[N13].loo_s, r2.points[0].loo_s) < 1e-12);
    assert_true(REL(r2.points[0].loo_s, loo0) < 1e-4);
    /* in sample, plan 0 (now 20 % slower) pulls the fit */
    assert_true(r2.mape_after_pct > mape_after);
    assert_true(r2.points[0].calibrated_s > cal0);
    dml_calibration_result_free(&r2);
}

/* The default prior keeps the fit close to the truth when the data are
 * exact, and the cluster spec is found in the database when the caller
 * gives none. */
static void prior_and_spec_from_database(void **state)
{
    fixture *f = *state;
    dml_costmodel_calib truth;
    start_vm(f, true, "test-vm", &truth);
    record_grid(f, &truth, 0, GRID_N, NULL);
    dml_calibration_result r;
    dml_error err;
    assert_int_equal(dml_calibrate_cluster(f->db, FP, NULL, &r, &err),
                     DML_OK);
    assert_true(r.fitted);
    assert_int_equal(r.n_runs, GRID_N);
    assert_true(REL(r.calib.compute, truth.compute) < 0.03);
    assert_true(r.mape_after_pct < 2.0);
    assert_true(r.loo_mape_after_pct < 3.0);
    assert_true(r.calibration_id > 0);
    dml_calibration_result_free(&r);
}

/* Fewer than three plans: no fit, no row, a status the caller reports;
 * the third plan makes a fit. */
static void too_few_runs(void **state)
{
    fixture *f = *state;
    dml_costmodel_calib truth;
    start_vm(f, false, "test-vm", &truth);
    record_grid(f, &truth, 0, 2, NULL);
    dml_calibrate_options o;
    dml_calibrate_options_init(&o);
    o.cluster = f->cluster;
    dml_calibration_result r;
    dml_error err;
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r, &err), DML_OK);
    assert_false(r.fitted);
    assert_int_equal(r.n_runs, 2);
    assert_int_equal(r.calibration_id, 0);
    bool found = true;
    dml_calibration_applied a;
    assert_int_equal(dml_calibration_load(f->db, FP, &a, &found, &err),
                     DML_OK);
    assert_false(found);
    assert_true(a.calib.compute == 1.0 && a.calib.overhead_s == 0);
    dml_calibration_result_free(&r);
    /* more runs of a plan already measured add no plan */
    mlp_plan(f->plan, grid[1][0], grid[1][1], grid[1][2], grid[1][3],
             grid[1][4], grid[1][5]);
    record_run(f, 0.02, NAN);
    record_run(f, 0.021, NAN);
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r, &err), DML_OK);
    assert_false(r.fitted);
    assert_int_equal(r.n_runs, 4);
    assert_int_equal(r.n_plans, 2);
    dml_calibration_result_free(&r);
    /* a third plan: fitted */
    record_grid(f, &truth, 2, 3, NULL);
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r, &err), DML_OK);
    assert_true(r.fitted);
    assert_int_equal(r.n_plans, 3);
    assert_true(r.calibration_id > 0);
    dml_calibration_result_free(&r);
    /* no runs of another fingerprint either */
    assert_int_equal(dml_calibrate_cluster(f->db, "0123456789abcdef", &o, &r,
                                           &err),
                     DML_OK);
    assert_false(r.fitted);
    assert_int_equal(r.n_runs, 0);
    dml_calibration_result_free(&r);
    /* a fingerprint is required */
    assert_int_equal(dml_calibrate_cluster(f->db, "", &o, &r, &err),
                     DML_EINPUT);
}

/* Runs whose cluster row has no spec, with no spec given and no preset of
 * that name: nothing to price them on, said as such. */
static void no_cluster_spec(void **state)
{
    fixture *f = *state;
    dml_costmodel_calib truth;
    start_vm(f, false, "no-such-cluster-preset", &truth);
    record_grid(f, &truth, 0, 4, NULL);
    dml_calibration_result r;
    dml_error err;
    dml_error_clear(&err);
    assert_int_equal(dml_calibrate_cluster(f->db, FP, NULL, &r, &err),
                     DML_ENOTFOUND);
    assert_non_null(strstr(err.msg, "no cluster spec"));
}

/* A spec from dml-probe without mpirun: one device of both cores. Plans
 * of dml-plan cut it into ranks x threads (planner.c); calibration prices
 * their runs on the same cut, so 2 ranks x 1 thread fit. */
static void one_device_spec_is_cut_like_the_planner(void **state)
{
    fixture *f = *state;
    vm_cluster(f->cluster);
    dml_node_group *g = &f->cluster->groups[0];
    g->devices_per_node = 1;
    g->device.cores = 2;
    g->device.peak_flops[DML_DTYPE_FP32] *= 2;
    g->device.peak_flops[DML_DTYPE_FP64] *= 2;
    g->device.mem_bytes *= 2;
    g->device.mem_bw_Bps *= 2;
    g->links[DML_LINK_INTRA].present = false;
    /* the same node cut in two: what dml-plan prices 1-thread ranks on */
    dml_cluster_spec *cut = malloc(sizeof *cut);
    assert_non_null(cut);
    *cut = *f->cluster;
    cut->groups[0].devices_per_node = 2;
    cut->groups[0].device.cores = 1;
    cut->groups[0].device.peak_flops[DML_DTYPE_FP32] /= 2;
    cut->groups[0].device.peak_flops[DML_DTYPE_FP64] /= 2;
    cut->groups[0].device.mem_bytes /= 2;
    cut->groups[0].device.mem_bw_Bps /= 2;
    /* ranks of one node talk through shared memory: half the node's
     * memory bandwidth (a copy reads and writes) */
    cut->groups[0].links[DML_LINK_INTRA] = (dml_link_spec){
        .present = true, .latency_s = 1e-6,
        .bw_Bps = 0.5 * g->device.mem_bw_Bps, .efficiency = 1.0};

    mlp_plan(f->plan, 1, 1, 1, 32, 1, 1);
    record_specs(f, false, "test-vm");
    static const int cfg[][6] = {{1, 1, 1, 128, 2, 2}, {2, 1, 1, 64, 2, 1},
                                 {1, 1, 1, 128, 2, 1}, {1, 2, 1, 128, 2, 1}};
    double want[4];
    for (int i = 0; i < 4; i++) {
        mlp_plan(f->plan, cfg[i][0], cfg[i][1], cfg[i][2], cfg[i][3],
                 cfg[i][4], cfg[i][5]);
        want[i] = predict(cfg[i][5] == 2 ? f->cluster : cut, f->plan, NULL,
                          NULL);
        record_run(f, 1.3 * want[i], NAN);
    }
    /* as written, the spec has one device: no room for 2 ranks */
    mlp_plan(f->plan, 2, 1, 1, 64, 2, 1);
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    assert_non_null(ctx);
    dml_error err;
    assert_int_equal(dml_costmodel_prepare(&f->plan->model, f->cluster, NULL,
                                           ctx, &err),
                     DML_OK);
    assert_int_equal(dml_costmodel_predict_plan(ctx, f->plan, NULL, &err),
                     DML_EINPUT);
    free(ctx);

    dml_calibrate_options o;
    dml_calibrate_options_init(&o);
    o.cluster = f->cluster;
    dml_calibration_result r;
    assert_int_equal(dml_calibrate_cluster(f->db, FP, &o, &r, &err), DML_OK);
    assert_int_equal(r.n_skipped, 0);
    assert_int_equal(r.n_runs, 4);
    assert_true(r.fitted);
    for (int i = 0; i < 4; i++)
        assert_true(REL(r.points[i].uncalibrated_s, want[i]) < 1e-12);
    /* all 30 % slow: the GEMM factor takes most of it */
    assert_true(r.calib.compute > 1.1);
    assert_true(r.mape_after_pct < r.mape_before_pct);
    dml_calibration_result_free(&r);
    free(cut);
}

/* Stored parameters that are out of range are refused with the field. */
static void params_round_trip_and_bad_params(void **state)
{
    (void)state;
    dml_calibration_result r;
    memset(&r, 0, sizeof r);
    dml_costmodel_calib_init(&r.calib);
    r.calib.compute = 0.75;
    r.calib.cpu_thread_overhead = 0.9;
    r.free_factor[DML_CALIB_COMPUTE] = true;
    r.interval_pct = 7.5;
    r.mem_extra_bytes = 1e8;
    r.mem_ratio = 2.0;
    char *text = dml_calibration_params_json(&r, "vm");
    assert_non_null(text);
    dml_calibration_applied a;
    dml_error err;
    assert_int_equal(dml_calibration_parse_params(text, &a, &err), DML_OK);
    free(text);
    assert_true(a.calib.compute == 0.75 && a.calib.cpu_thread_overhead == 0.9);
    assert_true(a.calib.cpu_rank_contention == 0);
    assert_true(a.calib.comm_intra == 1.0 && a.calib.overhead_s == 0);
    assert_true(a.interval_pct == 7.5 && a.mem_extra_bytes == 1e8);
    assert_int_equal(dml_calibration_parse_params(
                         "{\"factors\": {\"compute\": -1}}", &a, &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.field, "compute"));
    assert_int_equal(dml_calibration_parse_params("not json", &a, &err),
                     DML_EINPUT);
}

/* Part 3 of issue 5: how the cost model prices ranks x threads on the
 * probed 2-core VM (two 1-core devices). */
static void cpu_ranks_times_threads(void **state)
{
    fixture *f = *state;
    dml_cluster_spec *c = f->cluster;
    vm_cluster(c);
    dml_plan *p = f->plan;
    dml_costmodel_calib cal;
    dml_costmodel_calib_init(&cal);

    mlp_plan(p, 1, 1, 1, 128, 2, 1);
    double t11 = predict(c, p, &cal, NULL);
    double comp11 = p->pred.time.compute_s;
    mlp_plan(p, 1, 1, 1, 128, 2, 2);
    double t12 = predict(c, p, &cal, NULL);
    double comp12 = p->pred.time.compute_s;
    mlp_plan(p, 2, 1, 1, 64, 2, 1);
    double t21 = predict(c, p, &cal, NULL);
    double comp21 = p->pred.time.compute_s;
    mlp_plan(p, 2, 1, 1, 64, 2, 2);
    double t22 = predict(c, p, &cal, NULL);
    mlp_plan(p, 1, 1, 1, 128, 2, 4);
    double t14 = predict(c, p, &cal, NULL);

    /* a second thread uses the second core: GEMMs twice as fast, the
     * memory-bound rest not, so between 1x and 2x faster overall */
    assert_true(t12 < t11 && t12 > 0.5 * t11);
    assert_true(comp12 < 0.6 * comp11);
    /* 2 ranks x 1 thread: each rank half the batch on one core; the same
     * compute as 1 x 2, plus the gradient allreduce */
    assert_true(REL(comp21, comp12) < 0.15);
    assert_true(t21 > t12);
    /* more threads than the node has cores buy nothing (what they cost
     * beyond that depends on the machine's load: calibration's thread
     * term) */
    assert_true(REL(t22, t21) < 1e-12);
    assert_true(REL(t14, t12) < 1e-12);

    /* a second thread that gains nothing (as on these VMs): 1 x 2 costs
     * what 1 x 1 does; the thread term does not touch one thread */
    cal.cpu_thread_overhead = 1.0;
    mlp_plan(p, 1, 1, 1, 128, 2, 2);
    assert_true(REL(predict(c, p, &cal, NULL), t11) < 1e-12);
    mlp_plan(p, 1, 1, 1, 128, 2, 1);
    assert_true(REL(predict(c, p, &cal, NULL), t11) < 1e-12);
    /* ... and leaves 2 ranks x 1 thread alone */
    mlp_plan(p, 2, 1, 1, 64, 2, 1);
    assert_true(REL(predict(c, p, &cal, NULL), t21) < 1e-12);
    /* a second rank that gains nothing: 2 x 1 computes as slowly as 1 x 1
     * and communicates besides */
    dml_costmodel_calib_init(&cal);
    cal.cpu_rank_contention = 1.0;
    mlp_plan(p, 2, 1, 1, 64, 2, 1);
    assert_true(predict(c, p, &cal, NULL) > t11);
    assert_true(REL(p->pred.time.compute_s, comp11) < 0.15);
    mlp_plan(p, 1, 1, 1, 128, 2, 2);
    assert_true(REL(predict(c, p, &cal, NULL), t12) < 1e-12);

    /* GPUs ignore threads per rank */
    dml_error err;
    assert_int_equal(dml_cluster_spec_load("dgx-a100-80g", NULL, c, &err),
                     DML_OK);
    dml_costmodel_calib_init(&cal);
    mlp_plan(p, 1, 1, 1, 128, 2, 1);
    double g1 = predict(c, p, &cal, NULL);
    mlp_plan(p, 1, 1, 1, 128, 2, 8);
    assert_true(REL(predict(c, p, &cal, NULL), g1) < 1e-12);
}

DML_TEST_MAIN(
    cmocka_unit_test_setup_teardown(recovers_known_factors, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(
        leave_one_out_is_a_refit_without_the_run, setup, teardown),
    cmocka_unit_test_setup_teardown(prior_and_spec_from_database, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(too_few_runs, setup, teardown),
    cmocka_unit_test_setup_teardown(no_cluster_spec, setup, teardown),
    cmocka_unit_test_setup_teardown(
        one_device_spec_is_cut_like_the_planner, setup, teardown),
    cmocka_unit_test(params_round_trip_and_bad_params),
    cmocka_unit_test_setup_teardown(cpu_ranks_times_threads, setup,
                                    teardown))
