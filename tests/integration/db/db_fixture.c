/*
 * db_fixture.c: writes a dml database with known contents for the
 * dml-history integration test, through the same db/ API the tools use.
 *
 *   db_fixture PATH          one probe run, two plans, two runs, one
 *                            calibration (numbers below)
 *   db_fixture --empty PATH  a fresh database with no rows
 *
 * The numbers are chosen so the test can check them in the output:
 * best triad 18 GB/s, best DGEMM 45 GFLOP/s, p2p latency 1.5 us; a plan
 * predicting 12 ms measured at 10 ms (error +20 %), its run sending
 * 4 MB per step inside its node; a second plan (calibrated) with fp16
 * gradients whose run failed.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "db/calib_store.h"
#include "db/db.h"
#include "db/plan_store.h"
#include "db/probe_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"

static dml_measurement meas(const char *kind, const char *op, double time_s,
                            double value, const char *unit)
{
    dml_measurement m;
    memset(&m, 0, sizeof m);
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    snprintf(m.op, sizeof m.op, "%s", op);
    m.ranks = 1;
    m.threads = 1;
    m.time_s = time_s;
    m.time_median_s = time_s;
    m.value = value;
    snprintf(m.unit, sizeof m.unit, "%s", unit);
    return m;
}

static dml_status fill(dml_db *db, dml_error *err)
{
    dml_measurement m[] = {
        meas("membw", "triad", 0.02, 15e9, "B/s"),
        meas("membw", "triad", 0.02, 18e9, "B/s"),
        meas("gemm", "dgemm", 0.1, 45e9, "FLOP/s"),
        meas("gemm", "sgemm", 0.1, 90e9, "FLOP/s"),
        meas("p2p", "latency", 1.5e-6, 1.5e-6, "s"),
        meas("p2p", "bandwidth", 1e-3, 6e9, "B/s"),
    };
    dml_db_probe_record rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.host.hostname, sizeof rec.host.hostname, "fixture-host");
    rec.host.cores = 2;
    rec.host.pus = 2;
    rec.host.mem_bytes = 24e9;
    rec.run.ranks = 2;
    rec.run.nodes = 1;
    snprintf(rec.run.dml_version, sizeof rec.run.dml_version, "test");
    rec.measurements = m;
    rec.n_measurements = sizeof m / sizeof m[0];
    dml_db_cluster cl = {.name = "fixture-host", .fingerprint = "feedbeef",
                         .source = "dml-probe", .spec_json = "{}"};
    rec.cluster = &cl;
    int64_t probe_id = 0, cluster_id = 0;
    DML_CHECK(dml_db_record_probe(db, &rec, &probe_id, &cluster_id, err));

    dml_db_model model = {.name = "mlp-fmnist", .type = "mlp",
                          .spec_json = "{\"type\": \"mlp\"}"};
    int64_t model_id = 0;
    DML_CHECK(dml_db_record_model(db, &model, &model_id, err));

    dml_db_calibration cal = {.cluster_fingerprint = "feedbeef", .n_runs = 1,
                              .params_json = "{\"gemm\": 0.9}",
                              .mape_before = 20, .mape_after = 4,
                              .loo_mape_before = NAN, .loo_mape_after = NAN,
                              .interval_pct = 6};
    int64_t cal_id = 0;
    DML_CHECK(dml_db_record_calibration(db, &cal, &cal_id, err));

    for (int i = 0; i < 2; i++) {
        dml_db_plan plan = {
            .model_id = model_id, .cluster_id = cluster_id,
            .config = {.dp = 2, .tp = 1, .pp = 1, .v = 1, .mbs = 32,
                       .microbatches = 4, .global_batch = 256,
                       .recompute = "none", .schedule = "1f1b",
                       .threads_per_rank = 1},
            .predicted_step_s = i == 0 ? 0.012 : 0.030,
            .predicted_mem_bytes = 1.2e7, .predicted_tokens_per_s = NAN,
            .mfu = 0.3, .calibration_id = i == 0 ? 0 : cal_id,
            .plan_json = "{}"};
        /* the second plan compresses its gradients to 16 bits */
        if (i == 1)
            snprintf(plan.config.sync, sizeof plan.config.sync, "fp16");
        int64_t plan_id = 0;
        DML_CHECK(dml_db_record_plan(db, &plan, &plan_id, err));
        dml_db_run_start st = {.plan_id = plan_id,
                               .started_at = "2026-01-01T00:00:00Z",
                               .ranks = 2, .predicted_step_s = NAN};
        int64_t run_id = 0;
        DML_CHECK(dml_db_run_begin(db, &st, &run_id, err));
        dml_db_run_result r = {.status = "ok",
                               .finished_at = "2026-01-01T00:01:00Z",
                               .steps = 100,
                               .measured_step_s = i == 0 ? 0.010 : 0.025,
                               .peak_rss_bytes = 5e7, .final_loss = 0.4,
                               .test_accuracy = 0.85};
        if (i == 1) {
            /* The second run failed half-way. */
            snprintf(r.status, sizeof r.status, "failed");
            r.measured_step_s = NAN;
            r.test_accuracy = NAN;
            r.error = "rank 1 exited";
        }
        DML_CHECK(dml_db_run_finish(db, run_id, &r, err));
        /* the first run counted what its exchange sent: 4 MB per step,
         * all inside the node */
        if (i == 0)
            DML_CHECK(dml_db_run_dp_bytes(db, run_id, 4e6, 0, err));
    }
    return DML_OK;
}

int main(int argc, char **argv)
{
    int empty = argc == 3 && strcmp(argv[1], "--empty") == 0;
    if (argc != 2 && !empty) {
        fprintf(stderr, "usage: db_fixture [--empty] PATH\n");
        return 2;
    }
    dml_error err;
    dml_db *db = NULL;
    dml_status s = dml_db_open(argv[argc - 1], &db, &err);
    if (s == DML_OK && !empty)
        s = fill(db, &err);
    dml_db_close(db);
    if (s != DML_OK) {
        char line[2048];
        fprintf(stderr, "db_fixture: %s\n",
                dml_error_format(&err, line, sizeof line));
        return dml_status_exit_code(s);
    }
    return 0;
}
