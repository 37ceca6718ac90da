/*
 * test_db.c: the database layer: opening and refusing files, migrations,
 * pragmas, all-or-nothing probe records, runs and steps, the views and the
 * history and calibration queries.
 *
 * Each test gets its own temporary directory. Tests read the file back with
 * plain SQL through the internal handle, so they check what is really in
 * the database, not only what the API returns.
 */
#include "tests/support/unit.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/measurement.h"
#include "db/calib_store.h"
#include "db/cluster_query.h"
#include "db/db.h"
#include "db/db_internal.h"
#include "db/history.h"
#include "db/once.h"
#include "db/plan_store.h"
#include "db/probe_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"
#include "db_testing.h"

/* ---- helpers ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    fclose(fp);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static dml_measurement meas(const char *kind, const char *op,
                            const char *level, double bytes, double time_s,
                            double value, const char *unit)
{
    dml_measurement m;
    memset(&m, 0, sizeof m);
    snprintf(m.kind, sizeof m.kind, "%s", kind);
    snprintf(m.op, sizeof m.op, "%s", op);
    snprintf(m.level, sizeof m.level, "%s", level);
    m.ranks = 1;
    m.threads = 1;
    m.bytes = bytes;
    m.time_s = time_s;
    m.time_median_s = time_s * 1.1;
    m.value = value;
    snprintf(m.unit, sizeof m.unit, "%s", unit);
    snprintf(m.detail, sizeof m.detail, "%s %s", kind, op);
    return m;
}

/* A probe record with known numbers: the summary must pick triad 18e9,
 * dgemm 45e9, sgemm 90e9, latency 1.5e-6 and bandwidth 6e9 out of them. */
enum { N_MEAS = 10 };
static dml_measurement sample[N_MEAS];
static const char sample_xml[] = "<topology><object type=\"Machine\"/>"
                                 "</topology>";

static dml_db_probe_record sample_record(void)
{
    sample[0] = meas("membw", "triad", "", 3.2e8, 0.020, 15e9, "B/s");
    sample[1] = meas("membw", "triad", "", 3.2e8, 0.018, 18e9, "B/s");
    sample[2] = meas("membw", "copy", "", 2.1e8, 0.012, 19e9, "B/s");
    sample[3] = meas("gemm", "dgemm", "", 0, 0.10, 40e9, "FLOP/s");
    sample[4] = meas("gemm", "dgemm", "", 0, 0.09, 45e9, "FLOP/s");
    sample[5] = meas("gemm", "sgemm", "", 0, 0.05, 90e9, "FLOP/s");
    sample[6] = meas("p2p", "latency", "intra_node", 8, 2.0e-6, 2.0e-6, "s");
    sample[7] = meas("p2p", "latency", "intra_node", 8, 1.5e-6, 1.5e-6, "s");
    sample[8] = meas("p2p", "bandwidth", "intra_node", 4e6, 6.6e-4, 6e9,
                     "B/s");
    sample[9] = meas("collective", "allreduce", "intra_node", 1e6, 1e-3,
                     1e9, "B/s");
    sample[9].ranks = 2;
    sample[9].algbw_Bps = 1e9;
    sample[9].busbw_Bps = 1e9; /* 2(n-1)/n = 1 for n = 2 */

    dml_db_probe_record r;
    memset(&r, 0, sizeof r);
    snprintf(r.host.hostname, sizeof r.host.hostname, "node-a");
    snprintf(r.host.cpu_model, sizeof r.host.cpu_model, "Test CPU");
    r.host.packages = 1;
    r.host.numa_nodes = 1;
    r.host.cores = 2;
    r.host.pus = 2;
    r.host.mem_bytes = 24e9;
    r.host.mem_available_bytes = 20e9;
    r.host.hwloc_xml = sample_xml;
    snprintf(r.run.started_at, sizeof r.run.started_at,
             "2026-01-02T03:04:05Z");
    snprintf(r.run.finished_at, sizeof r.run.finished_at,
             "2026-01-02T03:04:35Z");
    r.run.ranks = 2;
    r.run.nodes = 1;
    r.run.quick = true;
    snprintf(r.run.dml_version, sizeof r.run.dml_version, "0.1.0");
    r.run.summary_json = "{\"ok\": true}";
    r.measurements = sample;
    r.n_measurements = N_MEAS;
    return r;
}

/* A model, a cluster and a plan predicting pred_s; returns the plan id. */
static int64_t make_plan(dml_db *db, const char *fingerprint, double pred_s,
                         int dp)
{
    dml_error err;
    dml_db_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "mlp-fmnist");
    snprintf(m.type, sizeof m.type, "mlp");
    m.spec_json = "{\"type\": \"mlp\", \"name\": \"mlp-fmnist\"}";
    int64_t model_id = 0;
    assert_int_equal(dml_db_record_model(db, &m, &model_id, &err), DML_OK);

    dml_db_cluster c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "this");
    snprintf(c.fingerprint, sizeof c.fingerprint, "%s", fingerprint);
    snprintf(c.source, sizeof c.source, "dml-probe");
    c.spec_json = "{\"name\": \"this\"}";
    int64_t cluster_id = 0;
    assert_int_equal(dml_db_record_cluster(db, &c, 0, &cluster_id, &err),
                     DML_OK);

    dml_db_plan p;
    memset(&p, 0, sizeof p);
    p.model_id = model_id;
    p.cluster_id = cluster_id;
    p.config = (dml_db_plan_config){.dp = dp, .tp = 1, .pp = 1, .v = 1,
                                    .mbs = 32, .microbatches = 4,
                                    .global_batch = dp * 32 * 4, .zero = 1,
                                    .recompute = "none", .sp = false,
                                    .schedule = "1f1b",
                                    .threads_per_rank = 1};
    p.predicted_step_s = pred_s;
    p.predicted_mem_bytes = 1.2e7;
    p.predicted_tokens_per_s = NAN;
    p.mfu = 0.25;
    p.plan_json = "{\"schema_version\": 1, \"kind\": \"plan\"}";
    int64_t plan_id = 0;
    if (dml_db_record_plan(db, &p, &plan_id, &err) != DML_OK)
        fail_msg("record_plan: %s", err.msg);
    return plan_id;
}

/* A run of plan_id that finished 'ok' measuring meas_s per step. */
static int64_t make_run(dml_db *db, int64_t plan_id, double pred_s,
                        double meas_s, const char *status)
{
    dml_error err;
    dml_db_run_start st;
    memset(&st, 0, sizeof st);
    st.plan_id = plan_id;
    snprintf(st.started_at, sizeof st.started_at, "2026-01-01T00:00:00Z");
    st.ranks = 2;
    st.layout = "[[0,0,0],[1,0,0]]";
    st.hosts = "[\"node-a\",\"node-a\"]";
    st.predicted_step_s = pred_s;
    int64_t run_id = 0;
    assert_int_equal(dml_db_run_begin(db, &st, &run_id, &err), DML_OK);

    dml_db_run_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "%s", status);
    snprintf(r.finished_at, sizeof r.finished_at, "2026-01-01T00:01:30Z");
    r.steps = 10;
    r.measured_step_s = meas_s;
    r.peak_rss_bytes = 5e7;
    r.final_loss = 0.42;
    r.test_accuracy = 0.85;
    r.error = strcmp(status, "failed") == 0 ? "rank 1 died" : NULL;
    if (dml_db_run_finish(db, run_id, &r, &err) != DML_OK)
        fail_msg("run_finish: %s", err.msg);
    return run_id;
}

/* ---- opening and migrations ---- */

static void default_path_prefers_cli_then_env(void **state)
{
    (void)state;
    setenv("DML_DB", "/env/x.db", 1);
    assert_string_equal(dml_db_default_path("cli.db"), "cli.db");
    assert_string_equal(dml_db_default_path(NULL), "/env/x.db");
    assert_string_equal(dml_db_default_path(""), "/env/x.db");
    setenv("DML_DB", "", 1);
    /* An empty $DML_DB is the same as none. */
    assert_string_equal(dml_db_default_path(NULL), "dml.db");
    unsetenv("DML_DB");
    assert_string_equal(dml_db_default_path(NULL), "dml.db");
}

static void fresh_database_is_latest_with_every_table_and_view(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    assert_int_equal(dml_db_schema_version(db), DML_DB_SCHEMA_VERSION);
    assert_int_equal(DML_DB_SCHEMA_VERSION, 12);
    static const char *const tables[] = {
        "hosts", "probe_runs", "measurements", "clusters", "models", "plans",
        "runs", "steps", "rank_timings", "checkpoints", "events",
        "calibrations", "balance_events", "fed_runs", "fed_rounds"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'table' "
                 "AND name = '%s'",
                 tables[i]);
        if (q_i64(db, sql) != 1)
            fail_msg("table %s missing from a fresh database", tables[i]);
    }
    static const char *const views[] = {"v_probe_summary", "v_tuning_history",
                                        "v_runs", "v_plans",
                                        "v_strategy_comparison",
                                        "v_accuracy_curve"};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'view' "
                 "AND name = '%s'",
                 views[i]);
        if (q_i64(db, sql) != 1)
            fail_msg("view %s missing from a fresh database", views[i]);
    }
    /* The views compile against the tables: selecting from each works. */
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_probe_summary"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_tuning_history"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_runs"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_plans"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_strategy_comparison"),
                     0);
    dml_db_close(db);
}

static void connection_pragmas_are_set(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    assert_int_equal(q_i64(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(q_i64(db, "PRAGMA busy_timeout"), DML_DB_BUSY_TIMEOUT_MS);
    char mode[32];
    q_text(db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal(mode, "wal");
    dml_db_close(db);
    /* The settings are per connection: a second open sets them again. */
    db = open_ok(f->path);
    assert_int_equal(q_i64(db, "PRAGMA foreign_keys"), 1);
    /* Foreign keys are enforced: a plan for a model that does not exist is
     * refused. */
    dml_db_plan p;
    memset(&p, 0, sizeof p);
    p.model_id = 999;
    p.cluster_id = 999;
    p.config = (dml_db_plan_config){.dp = 1, .tp = 1, .pp = 1, .v = 1,
                                    .mbs = 1, .microbatches = 1,
                                    .global_batch = 1, .threads_per_rank = 1};
    int64_t id = 0;
    dml_error err;
    assert_int_equal(dml_db_record_plan(db, &p, &id, &err), DML_EDB);
    assert_non_null(strstr(err.msg, "FOREIGN KEY"));
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), 0);
    dml_db_close(db);
}

static void upgrade_from_version_1_keeps_data(void **state)
{
    fixture *f = *state;
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml__db_open_at(f->path, true, 1, &db, &err), DML_OK);
    assert_int_equal(dml_db_schema_version(db), 1);
    /* Version 1 has the tables but not yet the views. */
    assert_int_equal(q_i64(db, "SELECT count(*) FROM sqlite_schema "
                               "WHERE type = 'view'"),
                     0);
    dml_db_probe_record rec = sample_record();
    int64_t run_id = 0;
    assert_int_equal(dml_db_record_probe(db, &rec, &run_id, NULL, &err),
                     DML_OK);
    dml_db_close(db);

    db = open_ok(f->path);
    assert_int_equal(dml_db_schema_version(db), DML_DB_SCHEMA_VERSION);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM measurements"), N_MEAS);
    /* The view added by migration 2 sees the rows written under version 1. */
    dml_db_probe_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_probe_runs(db, 0, &rows, &n, &err), DML_OK);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, run_id);
    assert_true(rows[0].triad_Bps == 18e9);
    free(rows);
    dml_db_close(db);
}

static int64_t make_plan(dml_db *db, const char *fingerprint, double pred_s,
                         int dp);
static int64_t make_run(dml_db *db, int64_t plan_id, double pred_s,
                        double meas_s, const char *status);

/* A model, a cluster and a plan (dp 2, predicting 12 ms) as a dml of
 * schema version 1 to 3 wrote them, without the columns migration 4
 * adds; returns the plan id. */
static int64_t make_old_plan(dml_db *db, const char *fingerprint)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "INSERT INTO models (name, type, spec_hash, spec_json,\n"
             "  created_at) VALUES ('mlp-fmnist', 'mlp', 'm-%s', '{}',\n"
             "  '2026-01-01T00:00:00Z');\n"
             "INSERT INTO clusters (name, fingerprint, spec_hash,\n"
             "  created_at) VALUES ('this', '%s', 'c-%s',\n"
             "  '2026-01-01T00:00:00Z');\n"
             "INSERT INTO plans (created_at, model_id, cluster_id, dp, tp,\n"
             "  pp, v, mbs, microbatches, global_batch, zero, recompute, sp,\n"
             "  schedule, threads_per_rank, predicted_step_s, plan_json)\n"
             "VALUES ('2026-01-01T00:00:00Z', (SELECT max(id) FROM models),\n"
             "  (SELECT max(id) FROM clusters), 2, 1, 1, 1, 32, 4, 256, 1,\n"
             "  'none', 0, '1f1b', 1, 0.012, '{}');",
             fingerprint, fingerprint, fingerprint);
    char *msg = NULL;
    if (sqlite3_exec(dml__db_handle(db), sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("old plan: %s", msg);
    return q_i64(db, "SELECT max(id) FROM plans");
}

/* Migration 3 rebuilds the runs table (to allow 'interrupted'): the runs of
 * a version-2 database keep their steps, checkpoints and events (dropping
 * the old table must not cascade), the views read the new table, and
 * foreign keys are enforced again afterwards. */
static void upgrade_from_version_2_keeps_runs_and_children(void **state)
{
    fixture *f = *state;
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml__db_open_at(f->path, true, 2, &db, &err), DML_OK);
    assert_int_equal(dml_db_schema_version(db), 2);
    int64_t plan = make_old_plan(db, "c0ffee");
    int64_t run = make_run(db, plan, NAN, 0.010, "ok");
    dml_db_step steps[3];
    for (int i = 0; i < 3; i++)
        steps[i] = (dml_db_step){.step = i, .loss = 1.0 - 0.1 * i,
                                 .lr = 1e-3, .global_batch = 256,
                                 .step_s = 0.01, .compute_s = NAN,
                                 .tp_comm_s = NAN, .pp_comm_s = NAN,
                                 .dp_comm_s = NAN, .pipeline_idle_s = NAN,
                                 .optimizer_s = NAN, .samples_per_s = NAN,
                                 .noise_scale = NAN, .staleness = NAN,
                                 .test_accuracy = NAN, .consensus = NAN};
    assert_int_equal(dml_db_record_steps(db, run, steps, 3, &err), DML_OK);
    assert_int_equal(dml_db_record_event(db, run, "fault", 1, 2, "x", &err),
                     DML_OK);
    /* Version 2 refuses the new status. */
    assert_int_not_equal(sqlite3_exec(dml__db_handle(db),
                                      "UPDATE runs SET status = "
                                      "'interrupted'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    dml_db_close(db);

    db = open_ok(f->path);
    assert_int_equal(dml_db_schema_version(db), DML_DB_SCHEMA_VERSION);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM runs"), 1);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM steps"), 3);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM events"), 1);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_runs"), 1);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_tuning_history"), 1);
    assert_int_equal(q_i64(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM pragma_foreign_key_check"),
                     0);
    /* The new status is accepted, and nothing else is. */
    dml_db_run_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "interrupted");
    r.steps = 3;
    r.measured_step_s = NAN;
    r.peak_rss_bytes = NAN;
    r.final_loss = NAN;
    r.test_accuracy = NAN;
    r.error = "interrupted by SIGTERM";
    assert_int_equal(dml_db_run_finish(db, run, &r, &err), DML_OK);
    char status[32];
    q_text(db, "SELECT status FROM v_runs", status, sizeof status);
    assert_string_equal(status, "interrupted");
    snprintf(r.status, sizeof r.status, "paused");
    assert_int_not_equal(dml_db_run_finish(db, run, &r, &err), DML_OK);
    /* Children still point at their run: deleting it cascades as before. */
    assert_int_equal(sqlite3_exec(dml__db_handle(db), "DELETE FROM runs",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM steps"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM events"), 0);
    dml_db_close(db);
}

/* Migration 4 adds plans.framework and plans.attention: the plans of a
 * version-3 database read as what they were priced for (Megatron-LM,
 * materialized attention), the views show both after every old column,
 * new plans keep what they are recorded with, and nothing else is
 * accepted. */
static void upgrade_from_version_3_adds_framework_and_attention(void **state)
{
    fixture *f = *state;
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml__db_open_at(f->path, true, 3, &db, &err), DML_OK);
    int64_t old = make_old_plan(db, "c0ffee");
    int64_t run = make_run(db, old, NAN, 0.010, "ok");
    /* the columns of version 3's views, in their order */
    char before[2][1024];
    const char *const views[2] = {"v_tuning_history", "v_runs"};
    for (int i = 0; i < 2; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT group_concat(name, ',') FROM pragma_table_info('%s')",
                 views[i]);
        q_text(db, sql, before[i], sizeof before[i]);
    }
    dml_db_close(db);

    /* migration 4 alone: the views gain exactly the two columns */
    assert_int_equal(dml__db_open_at(f->path, false, 4, &db, &err), DML_OK);
    assert_int_equal(dml_db_schema_version(db), 4);
    char text[1024];
    q_text(db, "SELECT framework || ' ' || attention FROM plans", text,
           sizeof text);
    assert_string_equal(text, "megatron materialized");
    for (int i = 0; i < 2; i++) {
        char sql[256], want[1100];
        snprintf(sql, sizeof sql,
                 "SELECT group_concat(name, ',') FROM pragma_table_info('%s')",
                 views[i]);
        q_text(db, sql, text, sizeof text);
        snprintf(want, sizeof want, "%s,framework,attention", before[i]);
        assert_string_equal(text, want);
    }
    dml_db_close(db);

    db = open_ok(f->path);
    assert_int_equal(dml_db_schema_version(db), DML_DB_SCHEMA_VERSION);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT framework || ' ' || attention FROM v_runs "
             "WHERE run_id = %lld",
             (long long)run);
    q_text(db, sql, text, sizeof text);
    assert_string_equal(text, "megatron materialized");

    /* A new plan keeps its runtime and kernel, in the rows dml-history
     * reads. */
    int64_t plan = make_plan(db, "c0ffee", 0.012, 2);
    snprintf(sql, sizeof sql,
             "UPDATE plans SET framework = 'deepspeed', attention = 'flash' "
             "WHERE id = %lld",
             (long long)plan);
    assert_int_equal(sqlite3_exec(dml__db_handle(db), sql, NULL, NULL, NULL),
                     SQLITE_OK);
    dml_db_plan p;
    memset(&p, 0, sizeof p);
    p.model_id = q_i64(db, "SELECT max(id) FROM models");
    p.cluster_id = q_i64(db, "SELECT max(id) FROM clusters");
    p.config = (dml_db_plan_config){.dp = 8, .tp = 8, .pp = 4, .v = 1,
                                    .mbs = 1, .microbatches = 8,
                                    .global_batch = 64, .zero = 1,
                                    .recompute = "full", .schedule = "1f1b",
                                    .threads_per_rank = 1,
                                    .framework = "deepspeed",
                                    .attention = "flash"};
    p.predicted_step_s = 1.5;
    int64_t id = 0;
    assert_int_equal(dml_db_record_plan(db, &p, &id, &err), DML_OK);
    make_run(db, id, NAN, 1.6, "ok");
    dml_db_plan_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_plans(db, 0, &rows, &n, &err), DML_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].id, id);
    assert_string_equal(rows[0].config.framework, "deepspeed");
    assert_string_equal(rows[0].config.attention, "flash");
    assert_string_equal(rows[2].config.framework, "megatron");
    assert_string_equal(rows[2].config.attention, "materialized");
    free(rows);
    dml_db_run_row *runs = NULL;
    assert_int_equal(dml_db_list_runs(db, 1, &runs, &n, &err), DML_OK);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].config.framework, "deepspeed");
    assert_string_equal(runs[0].config.attention, "flash");
    free(runs);
    /* Only the two runtimes and the two kernels. */
    assert_int_not_equal(sqlite3_exec(dml__db_handle(db),
                                      "UPDATE plans SET framework = 'jax'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(dml__db_handle(db),
                                      "UPDATE plans SET attention = 'sparse'",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    dml_db_close(db);
}

static void newer_schema_is_refused_and_left_alone(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    /* What a future dml would leave: a higher user_version. */
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d",
             DML_DB_SCHEMA_VERSION + 1);
    assert_int_equal(sqlite3_exec(dml__db_handle(db), pragma, NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    dml_db_close(db);
    size_t len0 = 0, len1 = 0;
    char *before = slurp(f->path, &len0);

    dml_error err;
    db = NULL;
    assert_int_equal(dml_db_open(f->path, &db, &err), DML_ESCHEMA);
    assert_null(db);
    char line[1024], want[1024];
    snprintf(want, sizeof want,
             "%s: database schema version %d is newer than this dml "
             "(supports up to %d); upgrade dml",
             f->path, DML_DB_SCHEMA_VERSION + 1, DML_DB_SCHEMA_VERSION);
    assert_string_equal(dml_error_format(&err, line, sizeof line), want);
    /* ESCHEMA is bad input to a tool: exit status 2. */
    assert_int_equal(dml_status_exit_code(err.status), 2);
    assert_int_equal(dml_db_open_existing(f->path, &db, &err), DML_ESCHEMA);

    char *after = slurp(f->path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    free(before);
    free(after);
}

static void text_file_is_refused_and_left_alone(void **state)
{
    fixture *f = *state;
    static const char text[] = "name,value\nthis is a spreadsheet,1\n";
    write_file(f->path, text, sizeof text - 1);
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml_db_open(f->path, &db, &err), DML_ENOTDB);
    assert_null(db);
    char line[1024], want[1024];
    snprintf(want, sizeof want, "%s: file is not a database (not SQLite)",
             f->path);
    assert_string_equal(dml_error_format(&err, line, sizeof line), want);
    size_t len = 0;
    char *after = slurp(f->path, &len);
    assert_int_equal(len, sizeof text - 1);
    assert_memory_equal(after, text, len);
    free(after);
    /* Nothing was created beside it either (no -wal, no -journal). */
    char side[256];
    snprintf(side, sizeof side, "%s-wal", f->path);
    assert_false(exists(side));
    snprintf(side, sizeof side, "%s-journal", f->path);
    assert_false(exists(side));

    /* The right magic followed by garbage gets past the header check and
     * must be refused by SQLite's own read, still without a write. */
    char junk[1024];
    memset(junk, 0xA5, sizeof junk);
    memcpy(junk, "SQLite format 3", 16);
    write_file(f->path, junk, sizeof junk);
    assert_int_equal(dml_db_open(f->path, &db, &err), DML_ENOTDB);
    after = slurp(f->path, &len);
    assert_int_equal(len, sizeof junk);
    assert_memory_equal(after, junk, len);
    free(after);
}

static void missing_directory_and_missing_file(void **state)
{
    fixture *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/no-such-dir/dml.db", f->dir);
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml_db_open(path, &db, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "does not exist"));
    assert_string_equal(err.file, path);
    snprintf(path, sizeof path, "%s/no-such-dir", f->dir);
    assert_false(exists(path));

    /* Readers do not create a database. */
    assert_int_equal(dml_db_open_existing(f->path, &db, &err), DML_ENOTFOUND);
    char want[256];
    snprintf(want, sizeof want, "no database at %s (run dml-probe first)",
             f->path);
    assert_string_equal(err.msg, want);
    assert_false(exists(f->path));

    /* A directory is not a database file. */
    assert_int_equal(dml_db_open(f->dir, &db, &err), DML_EINPUT);
}

/* A tool's reads and its write share one connection (db/once.h): reads
 * before the file exists create nothing, the write creates it, and every
 * later step gets the same connection. */
static void once_opens_one_connection_when_first_needed(void **state)
{
    fixture *f = *state;
    dml_db_once once;
    dml_db_once_init(&once, f->path);
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml_db_once_read(&once, &db, &err), DML_ENOTFOUND);
    assert_null(db);
    assert_int_equal(dml_db_once_read(&once, &db, &err), DML_ENOTFOUND);
    assert_false(exists(f->path));

    assert_int_equal(dml_db_once_write(&once, &db, &err), DML_OK);
    assert_true(exists(f->path));
    dml_db *again = NULL;
    assert_int_equal(dml_db_once_read(&once, &again, &err), DML_OK);
    assert_ptr_equal(again, db);
    assert_int_equal(dml_db_once_write(&once, &again, &err), DML_OK);
    assert_ptr_equal(again, db);
    assert_int_equal(dml_db_schema_version(db), DML_DB_SCHEMA_VERSION);
    dml_db_once_close(&once);
    assert_null(once.db);

    /* an existing file: the first read opens it, the write reuses it */
    dml_db_once_init(&once, f->path);
    assert_int_equal(dml_db_once_read(&once, &db, &err), DML_OK);
    assert_int_equal(dml_db_once_write(&once, &again, &err), DML_OK);
    assert_ptr_equal(again, db);
    dml_db_once_close(&once);
}

/* ---- probe records ---- */

static void record_probe_writes_every_row_and_the_summary(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_db_probe_record rec = sample_record();
    dml_db_cluster cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.name, sizeof cl.name, "node-a");
    snprintf(cl.fingerprint, sizeof cl.fingerprint, "f00d");
    snprintf(cl.source, sizeof cl.source, "dml-probe");
    cl.spec_json = "{\"name\": \"node-a\"}";
    rec.cluster = &cl;
    int64_t run_id = 0, cluster_id = 0;
    dml_error err;
    assert_int_equal(dml_db_record_probe(db, &rec, &run_id, &cluster_id, &err),
                     DML_OK);
    assert_true(run_id > 0);
    assert_true(cluster_id > 0);

    assert_int_equal(q_i64(db, "SELECT count(*) FROM measurements"), N_MEAS);
    /* Every field of a measurement survives the round trip. */
    char sql[512], text[256];
    assert_int_equal(q_i64(db, "SELECT ranks FROM measurements "
                               "WHERE op = 'allreduce'"),
                     2);
    assert_true(q_f64(db, "SELECT busbw_Bps FROM measurements "
                          "WHERE op = 'allreduce'") == 1e9);
    assert_true(q_f64(db, "SELECT bytes FROM measurements "
                          "WHERE op = 'bandwidth'") == 4e6);
    assert_true(q_f64(db, "SELECT time_median_s FROM measurements "
                          "WHERE op = 'bandwidth'") == 6.6e-4 * 1.1);
    q_text(db, "SELECT level || '|' || unit || '|' || detail FROM "
               "measurements WHERE op = 'bandwidth'",
           text, sizeof text);
    assert_string_equal(text, "intra_node|B/s|p2p bandwidth");
    snprintf(sql, sizeof sql,
             "SELECT probe_run_id FROM clusters WHERE id = %lld",
             (long long)cluster_id);
    assert_int_equal(q_i64(db, sql), run_id);
    q_text(db, "SELECT hwloc_xml FROM hosts", text, sizeof text);
    assert_string_equal(text, sample_xml);
    q_text(db, "SELECT summary_json FROM probe_runs", text, sizeof text);
    assert_string_equal(text, "{\"ok\": true}");

    /* v_probe_summary takes the best of each kind: max triad, max GEMM,
     * min latency, max bandwidth. */
    dml_db_probe_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_probe_runs(db, 0, &rows, &n, &err), DML_OK);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].hostname, "node-a");
    assert_string_equal(rows[0].started_at, "2026-01-02T03:04:05Z");
    assert_string_equal(rows[0].status, "ok");
    assert_true(rows[0].quick);
    assert_int_equal(rows[0].ranks, 2);
    assert_true(rows[0].triad_Bps == 18e9);
    assert_true(rows[0].dgemm_flops_per_s == 45e9);
    assert_true(rows[0].sgemm_flops_per_s == 90e9);
    assert_true(rows[0].p2p_latency_s == 1.5e-6);
    assert_true(rows[0].p2p_bw_Bps == 6e9);
    assert_int_equal(rows[0].n_measurements, N_MEAS);
    free(rows);

    /* The same machine probed again is the same host row, seen later; a
     * run without p2p measurements shows them as unknown. */
    rec.cluster = NULL;
    rec.n_measurements = 6;
    snprintf(rec.run.finished_at, sizeof rec.run.finished_at,
             "2026-02-01T00:00:00Z");
    int64_t run2 = 0;
    assert_int_equal(dml_db_record_probe(db, &rec, &run2, NULL, &err), DML_OK);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM hosts"), 1);
    q_text(db, "SELECT first_seen || ' ' || last_seen FROM hosts", text,
           sizeof text);
    assert_string_equal(text, "2026-01-02T03:04:35Z 2026-02-01T00:00:00Z");
    assert_int_equal(dml_db_list_probe_runs(db, 1, &rows, &n, &err), DML_OK);
    /* --limit 1 gives the newest only. */
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].id, run2);
    assert_true(isnan(rows[0].p2p_latency_s));
    assert_true(rows[0].triad_Bps == 18e9);
    free(rows);
    dml_db_close(db);
}

/* Record sample_record as a probe of `ranks` ranks (1: without the p2p
 * and collective rows, as dml-probe without mpirun) finishing at `at`,
 * with a cluster spec of its own; its probe run id. */
static int64_t record_probed(dml_db *db, int ranks, const char *at)
{
    dml_db_probe_record rec = sample_record();
    rec.run.ranks = ranks;
    if (ranks == 1)
        rec.n_measurements = 6; /* membw and gemm only */
    snprintf(rec.run.finished_at, sizeof rec.run.finished_at, "%s", at);
    char json[96];
    snprintf(json, sizeof json, "{\"name\": \"node-a\", \"at\": \"%s\"}",
             at);
    dml_db_cluster cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.name, sizeof cl.name, "node-a");
    snprintf(cl.fingerprint, sizeof cl.fingerprint, "f00d");
    snprintf(cl.source, sizeof cl.source, "dml-probe");
    cl.spec_json = json;
    rec.cluster = &cl;
    int64_t run = 0;
    dml_error err;
    assert_int_equal(dml_db_record_probe(db, &rec, &run, NULL, &err), DML_OK);
    return run;
}

/* --cluster this (issue 12): the newest probe that measured links; a
 * newer one that measured none is passed over and named, never taken
 * silently; with no probe that measured links, the newest. */
static void this_cluster_prefers_measured_links(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    char *spec = NULL;
    dml_db_probe_origin used, passed;
    dml_error err;
    assert_int_equal(dml_db_this_cluster(db, &spec, &used, &passed, &err),
                     DML_ENOTFOUND);
    assert_non_null(strstr(err.msg, "run `mpirun -np N dml-probe"));

    /* only a one-rank probe: it, saying it measured no links */
    int64_t alone = record_probed(db, 1, "2026-03-01T10:00:00.000Z");
    assert_int_equal(dml_db_this_cluster(db, &spec, &used, &passed, &err),
                     DML_OK);
    assert_int_equal(used.probe_run_id, alone);
    assert_int_equal(used.link_measurements, 0);
    assert_int_equal(passed.probe_run_id, 0);
    free(spec);

    /* a 2-rank probe that measured links, then a newer one-rank one */
    int64_t linked = record_probed(db, 2, "2026-03-02T10:00:00.000Z");
    int64_t newer = record_probed(db, 1, "2026-03-03T10:00:00.000Z");
    assert_int_equal(dml_db_this_cluster(db, &spec, &used, &passed, &err),
                     DML_OK);
    assert_non_null(strstr(spec, "2026-03-02T10:00:00.000Z"));
    assert_int_equal(used.probe_run_id, linked);
    assert_int_equal(used.link_measurements, 4); /* 3 p2p, 1 collective */
    assert_int_equal(used.ranks, 2);
    assert_int_equal(used.nodes, 1);
    assert_true(used.quick);
    assert_string_equal(used.host, "node-a");
    assert_string_equal(used.finished_at, "2026-03-02T10:00:00.000Z");
    assert_int_equal(passed.probe_run_id, newer);
    assert_int_equal(passed.ranks, 1);
    assert_int_equal(passed.link_measurements, 0);
    free(spec);

    /* a newer probe with links replaces it, nothing passed over */
    int64_t latest = record_probed(db, 2, "2026-03-04T10:00:00.000Z");
    assert_int_equal(dml_db_this_cluster(db, &spec, &used, &passed, &err),
                     DML_OK);
    assert_int_equal(used.probe_run_id, latest);
    assert_int_equal(passed.probe_run_id, 0);
    free(spec);
    dml_db_close(db);
}

static void failed_probe_record_leaves_no_rows(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_db_probe_record rec = sample_record();
    dml_db_cluster cl;
    memset(&cl, 0, sizeof cl);
    snprintf(cl.name, sizeof cl.name, "node-a");
    cl.spec_json = "{}";
    rec.cluster = &cl;
    /* Measurement 7 of 10 breaks the kind <> '' constraint: host, run and
     * six measurements are already written when it fails. */
    sample[7].kind[0] = '\0';
    int64_t run_id = -1;
    dml_error err;
    assert_int_equal(dml_db_record_probe(db, &rec, &run_id, NULL, &err),
                     DML_EDB);
    assert_int_equal(run_id, 0);
    assert_non_null(strstr(err.msg, "measurement 7"));
    assert_int_equal(q_i64(db, "SELECT count(*) FROM hosts"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM probe_runs"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM measurements"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM clusters"), 0);

    /* Inside a caller's transaction the failed record rolls back its own
     * rows only; what the caller wrote before survives the commit. */
    assert_int_equal(dml_db_begin(db, &err), DML_OK);
    assert_int_equal(dml_db_begin(db, &err), DML_EUSAGE);
    dml_db_model m = {.name = "m", .type = "mlp", .spec_json = "{\"a\":1}"};
    int64_t model_id = 0;
    assert_int_equal(dml_db_record_model(db, &m, &model_id, &err), DML_OK);
    assert_int_equal(dml_db_record_probe(db, &rec, &run_id, NULL, &err),
                     DML_EDB);
    assert_int_equal(dml_db_commit(db, &err), DML_OK);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM models"), 1);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM measurements"), 0);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM hosts"), 0);

    /* A rolled-back explicit transaction leaves nothing. */
    assert_int_equal(dml_db_begin(db, &err), DML_OK);
    sample[7].kind[0] = 'p';
    assert_int_equal(dml_db_record_probe(db, &rec, &run_id, NULL, &err),
                     DML_OK);
    dml_db_rollback(db);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM probe_runs"), 0);
    dml_db_close(db);
}

static void text_is_bound_not_spliced(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_db_probe_record rec = sample_record();
    /* A hostname built to break SQL made by concatenation. */
    snprintf(rec.host.hostname, sizeof rec.host.hostname,
             "o'brien'); DROP TABLE hosts; --");
    int64_t run_id = 0;
    dml_error err;
    assert_int_equal(dml_db_record_probe(db, &rec, &run_id, NULL, &err),
                     DML_OK);
    char text[256];
    q_text(db, "SELECT hostname FROM hosts", text, sizeof text);
    assert_string_equal(text, "o'brien'); DROP TABLE hosts; --");
    dml_db_close(db);
}

/* ---- specs, plans, runs ---- */

static void models_and_clusters_are_recorded_once(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_error err;
    dml_db_model m = {.name = "gpt3-175b", .type = "transformer",
                      .spec_json = "{\"layers\": 96}"};
    int64_t a = 0, b = 0, c = 0;
    assert_int_equal(dml_db_record_model(db, &m, &a, &err), DML_OK);
    assert_int_equal(dml_db_record_model(db, &m, &b, &err), DML_OK);
    /* Same spec, same row. */
    assert_int_equal(a, b);
    m.spec_json = "{\"layers\": 48}";
    assert_int_equal(dml_db_record_model(db, &m, &c, &err), DML_OK);
    assert_int_not_equal(a, c);
    char *spec = NULL;
    assert_int_equal(dml_db_model_spec(db, a, &spec, &err), DML_OK);
    assert_string_equal(spec, "{\"layers\": 96}");
    free(spec);
    assert_int_equal(dml_db_model_spec(db, 12345, &spec, &err),
                     DML_ENOTFOUND);

    dml_db_cluster cl = {.name = "dgx-a100-80g", .source = "preset",
                         .spec_json = "{\"nodes\": 1}"};
    assert_int_equal(dml_db_record_cluster(db, &cl, 0, &a, &err), DML_OK);
    assert_int_equal(dml_db_record_cluster(db, &cl, 0, &b, &err), DML_OK);
    assert_int_equal(a, b);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM clusters"), 1);
    /* A cluster named without a spec reads back as no spec. */
    dml_db_cluster bare = {.name = "from-plan-file", .fingerprint = "ab"};
    assert_int_equal(dml_db_record_cluster(db, &bare, 0, &c, &err), DML_OK);
    assert_int_equal(dml_db_cluster_spec(db, c, &spec, &err), DML_OK);
    assert_null(spec);
    dml_db_close(db);
}

static void runs_steps_and_prediction_error(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_error err;
    /* Predicted 12 ms, measured 10 ms: error +20 %. */
    int64_t plan = make_plan(db, "f00d", 0.012, 2);
    int64_t run1 = make_run(db, plan, NAN, 0.010, "ok");
    /* The run's own prediction (9 ms, recalibrated) wins over the plan's:
     * 100 (0.009 - 0.010) / 0.010 = -10 %. */
    int64_t run2 = make_run(db, plan, 0.009, 0.010, "ok");
    int64_t unrun = make_plan(db, "f00d", 0.020, 1);

    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT error_pct FROM v_tuning_history WHERE run_id = %lld",
             (long long)run1);
    assert_float_equal(q_f64(db, sql), 20.0, 1e-9);
    snprintf(sql, sizeof sql,
             "SELECT error_pct FROM v_tuning_history WHERE run_id = %lld",
             (long long)run2);
    assert_float_equal(q_f64(db, sql), -10.0, 1e-9);
    /* A plan never run is in the history once, without a measurement. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM v_tuning_history WHERE plan_id = %lld "
             "AND run_id IS NULL AND measured_step_s IS NULL",
             (long long)unrun);
    assert_int_equal(q_i64(db, sql), 1);
    char text[256];
    snprintf(sql, sizeof sql,
             "SELECT config FROM v_tuning_history WHERE run_id = %lld",
             (long long)run1);
    q_text(db, sql, text, sizeof text);
    /* in --config syntax (an MLP has no attn, threads=1 and
     * sync=allreduce go unsaid) */
    assert_string_equal(text, "dp=2,tp=1,pp=1,v=1,mbs=32,zero=1,"
                              "recompute=none,sp=0,schedule=1f1b");

    /* Steps: ten in one batch, then step 5 recorded again after a
     * restart replaces the first record. */
    dml_db_step steps[10];
    for (int i = 0; i < 10; i++) {
        steps[i] = (dml_db_step){.step = i, .loss = 2.0 - 0.1 * i,
                                 .lr = 1e-3, .global_batch = 256,
                                 .step_s = 0.010, .compute_s = 0.008,
                                 .tp_comm_s = 0, .pp_comm_s = 0,
                                 .dp_comm_s = 0.001, .pipeline_idle_s = 0,
                                 .optimizer_s = 0.001,
                                 .samples_per_s = 25600, .noise_scale = NAN,
                                 .staleness = NAN, .test_accuracy = NAN,
                                 .consensus = NAN};
    }
    assert_int_equal(dml_db_record_steps(db, run1, steps, 10, &err), DML_OK);
    steps[5].loss = 9.5;
    assert_int_equal(dml_db_record_steps(db, run1, &steps[5], 1, &err),
                     DML_OK);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM steps WHERE run_id = %lld",
             (long long)run1);
    assert_int_equal(q_i64(db, sql), 10);
    assert_float_equal(q_f64(db, "SELECT loss FROM steps WHERE step = 5"),
                       9.5, 0);
    /* NAN is stored as NULL (unknown), not as a number. */
    assert_int_equal(q_i64(db, "SELECT count(*) FROM steps "
                               "WHERE noise_scale IS NULL"),
                     10);
    /* Steps of a run that does not exist are refused, all of them. */
    assert_int_equal(dml_db_record_steps(db, 999, steps, 10, &err), DML_EDB);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM steps"), 10);

    dml_db_rank_timing rt[2] = {
        {.rank = 0, .host = "node-a", .step_median_s = 0.010,
         .compute_s = 0.008, .comm_s = 0.001, .idle_s = 0.001,
         .peak_rss_bytes = 4e7},
        {.rank = 1, .host = "node-a", .step_median_s = 0.011,
         .compute_s = 0.008, .comm_s = 0.002, .idle_s = 0.001,
         .peak_rss_bytes = 5e7}};
    assert_int_equal(dml_db_record_rank_timings(db, run1, rt, 2, &err),
                     DML_OK);
    assert_float_equal(q_f64(db, "SELECT max(peak_rss_bytes) FROM "
                                 "rank_timings"),
                       5e7, 0);

    dml_db_checkpoint ck = {.step = 8, .dir = "/tmp/ck/step-8",
                            .manifest_path = "/tmp/ck/step-8/manifest.json",
                            .bytes = 1.5e6, .sha256 = "abc123",
                            .valid = true};
    int64_t ck_id = 0;
    assert_int_equal(dml_db_record_checkpoint(db, run1, &ck, &ck_id, &err),
                     DML_OK);
    assert_true(ck_id > 0);
    assert_int_equal(dml_db_record_event(db, run1, "fault", 1, 7,
                                         "rank 1 killed", &err),
                     DML_OK);
    assert_int_equal(dml_db_record_event(db, 0, "note", -1, -1, NULL, &err),
                     DML_OK);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM events WHERE rank IS "
                               "NULL AND step IS NULL AND run_id IS NULL"),
                     1);

    dml_db_run_result r = {.status = "ok", .steps = 1};
    assert_int_equal(dml_db_run_finish(db, 4242, &r, &err), DML_ENOTFOUND);
    /* 'done' is not a run status. */
    snprintf(r.status, sizeof r.status, "done");
    assert_int_equal(dml_db_run_finish(db, run1, &r, &err), DML_EDB);

    /* v_runs through the history query: newest first, with duration
     * 00:00:00 -> 00:01:30 = 90 s. */
    int64_t run3 = make_run(db, unrun, NAN, 0.025, "failed");
    dml_db_run_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_runs(db, 0, &rows, &n, &err), DML_OK);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].id, run3);
    assert_string_equal(rows[0].status, "failed");
    assert_string_equal(rows[0].error, "rank 1 died");
    assert_int_equal(rows[0].config.dp, 1);
    assert_float_equal(rows[0].error_pct, 100.0 * (0.020 - 0.025) / 0.025,
                       1e-9);
    assert_int_equal(rows[2].id, run1);
    assert_float_equal(rows[2].duration_s, 90.0, 0);
    assert_float_equal(rows[2].error_pct, 20.0, 1e-9);
    assert_float_equal(rows[2].predicted_step_s, 0.012, 0);
    assert_float_equal(rows[2].test_accuracy, 0.85, 0);
    assert_string_equal(rows[2].model, "mlp-fmnist");
    assert_string_equal(rows[2].config.recompute, "none");
    assert_int_equal(rows[2].config.global_batch, 256);
    free(rows);

    dml_db_plan_row *plans = NULL;
    assert_int_equal(dml_db_list_plans(db, 0, &plans, &n, &err), DML_OK);
    assert_int_equal(n, 2);
    /* The plan run twice: two runs, best measured 10 ms. */
    assert_int_equal(plans[1].id, plan);
    assert_int_equal(plans[1].n_runs, 2);
    assert_float_equal(plans[1].best_measured_step_s, 0.010, 0);
    assert_true(isnan(plans[1].predicted_tokens_per_s));
    assert_float_equal(plans[1].mfu, 0.25, 0);
    /* The failed run does not count as a measurement of its plan. */
    assert_true(isnan(plans[0].best_measured_step_s));
    free(plans);

    char *json = NULL;
    assert_int_equal(dml_db_plan_json(db, plan, &json, &err), DML_OK);
    assert_string_equal(json, "{\"schema_version\": 1, \"kind\": \"plan\"}");
    free(json);
    dml_db_close(db);
}

static void calibrations_and_measured_runs(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_error err;
    int64_t p1 = make_plan(db, "aaaa", 0.012, 2);
    int64_t p2 = make_plan(db, "bbbb", 0.050, 1);
    int64_t r1 = make_run(db, p1, NAN, 0.010, "ok");
    make_run(db, p1, NAN, 0.011, "failed");
    int64_t r3 = make_run(db, p1, 0.0105, 0.011, "ok");
    make_run(db, p2, NAN, 0.040, "ok");
    /* A run still going has nothing to fit yet. */
    dml_db_run_start st = {.plan_id = p1, .ranks = 2,
                           .predicted_step_s = NAN};
    int64_t running = 0;
    assert_int_equal(dml_db_run_begin(db, &st, &running, &err), DML_OK);

    dml_db_measured_run *m = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_measured_runs(db, "aaaa", &m, &n, &err),
                     DML_OK);
    /* Only the two 'ok' runs on fingerprint aaaa, oldest first. */
    assert_int_equal(n, 2);
    assert_int_equal(m[0].run_id, r1);
    assert_int_equal(m[1].run_id, r3);
    assert_int_equal(m[0].plan_id, p1);
    assert_float_equal(m[0].predicted_step_s, 0.012, 0);
    assert_float_equal(m[1].predicted_step_s, 0.0105, 0);
    assert_float_equal(m[1].measured_step_s, 0.011, 0);
    assert_int_equal(m[0].config.dp, 2);
    assert_int_equal(m[0].config.mbs, 32);
    assert_int_equal(m[0].ranks, 2);
    assert_string_equal(m[0].model_name, "mlp-fmnist");
    free(m);
    assert_int_equal(dml_db_list_measured_runs(db, "none", &m, &n, &err),
                     DML_OK);
    assert_int_equal(n, 0);
    assert_null(m);

    dml_db_calibration c = {.cluster_fingerprint = "aaaa", .n_runs = 2,
                            .params_json = "{\"gemm\": 0.8}",
                            .mape_before = 14.0, .mape_after = 3.5,
                            .loo_mape_before = 15.0, .loo_mape_after = 5.0,
                            .interval_pct = 7.0};
    int64_t c1 = 0, c2 = 0, c3 = 0;
    assert_int_equal(dml_db_record_calibration(db, &c, &c1, &err), DML_OK);
    c.params_json = "{\"gemm\": 0.9}";
    c.mape_after = 2.5;
    assert_int_equal(dml_db_record_calibration(db, &c, &c2, &err), DML_OK);
    snprintf(c.cluster_fingerprint, sizeof c.cluster_fingerprint, "bbbb");
    c.params_json = "{\"gemm\": 0.5}";
    assert_int_equal(dml_db_record_calibration(db, &c, &c3, &err), DML_OK);

    dml_db_calibration got;
    bool found = false;
    assert_int_equal(dml_db_latest_calibration(db, "aaaa", &got, &found, &err),
                     DML_OK);
    /* The newest of aaaa's two, not bbbb's even newer one. */
    assert_true(found);
    assert_int_equal(got.id, c2);
    assert_string_equal(got.params_json, "{\"gemm\": 0.9}");
    assert_float_equal(got.mape_after, 2.5, 0);
    assert_float_equal(got.interval_pct, 7.0, 0);
    assert_int_equal(got.n_runs, 2);
    dml_db_calibration_clear(&got);
    assert_int_equal(dml_db_latest_calibration(db, "cccc", &got, &found, &err),
                     DML_OK);
    assert_false(found);

    dml_db_calibration *list = NULL;
    assert_int_equal(dml_db_list_calibrations(db, 2, &list, &n, &err),
                     DML_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].id, c3);
    assert_int_equal(list[1].id, c2);
    dml_db_calibrations_free(list, n);
    (void)c1;
    dml_db_close(db);
}

DML_TEST_MAIN(
    cmocka_unit_test(default_path_prefers_cli_then_env),
    cmocka_unit_test_setup_teardown(
        fresh_database_is_latest_with_every_table_and_view, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(connection_pragmas_are_set, make_dir,
                                    remove_dir),
    cmocka_unit_test_setup_teardown(upgrade_from_version_1_keeps_data,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(
        upgrade_from_version_2_keeps_runs_and_children, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(
        upgrade_from_version_3_adds_framework_and_attention, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(newer_schema_is_refused_and_left_alone,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(text_file_is_refused_and_left_alone,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(
        once_opens_one_connection_when_first_needed, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(missing_directory_and_missing_file,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(
        record_probe_writes_every_row_and_the_summary, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(failed_probe_record_leaves_no_rows,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(this_cluster_prefers_measured_links,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(text_is_bound_not_spliced, make_dir,
                                    remove_dir),
    cmocka_unit_test_setup_teardown(models_and_clusters_are_recorded_once,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(runs_steps_and_prediction_error,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(calibrations_and_measured_runs,
                                    make_dir, remove_dir))
