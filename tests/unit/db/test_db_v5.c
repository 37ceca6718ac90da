/*
 * test_db_v5.c: what schema version 5 adds (issue 12's database items and
 * the sync knob): a version-4 database brought forward with its rows and
 * columns kept; a plan recorded once however often it is recorded, by one
 * writer or by several processes at once; times with milliseconds; the
 * configuration in --config syntax in the views; v_tuning_history's
 * global batch, steps and throughput; the bytes a run's data-parallel
 * exchange sent per step; and v_strategy_comparison's medians.
 *
 * That the views' configuration text is, for every plan, what
 * dml_planner_config_format writes is checked where the planner can be
 * linked: tests/unit/planner/test_db_config.c.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "db/db.h"
#include "db/db_internal.h"
#include "db/history.h"
#include "db/plan_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"
#include "db_testing.h"

/* ---- helpers ---- */

/* A model row: type "mlp" or "transformer" (sequence length 2048). */
static int64_t model_row(dml_db *db, const char *type)
{
    dml_db_model m;
    memset(&m, 0, sizeof m);
    bool tf = strcmp(type, "transformer") == 0;
    snprintf(m.name, sizeof m.name, "%s", tf ? "gpt-test" : "mlp-fmnist");
    snprintf(m.type, sizeof m.type, "%s", type);
    m.spec_json = tf ? "{\"type\": \"transformer\", \"seq_len\": 2048}"
                     : "{\"type\": \"mlp\"}";
    int64_t id = 0;
    dml_error err;
    assert_int_equal(dml_db_record_model(db, &m, &id, &err), DML_OK);
    return id;
}

static int64_t cluster_row(dml_db *db, const char *fingerprint)
{
    dml_db_cluster c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "this");
    snprintf(c.fingerprint, sizeof c.fingerprint, "%s", fingerprint);
    c.spec_json = "{\"name\": \"this\"}";
    int64_t id = 0;
    dml_error err;
    assert_int_equal(dml_db_record_cluster(db, &c, 0, &id, &err), DML_OK);
    return id;
}

/* A plan of dp ranks with strategy sync, predicting pred_s. */
static dml_db_plan plan_of(int64_t model, int64_t cluster, int dp,
                           const char *sync, double pred_s)
{
    dml_db_plan p;
    memset(&p, 0, sizeof p);
    p.model_id = model;
    p.cluster_id = cluster;
    p.config = (dml_db_plan_config){.dp = dp, .tp = 1, .pp = 1, .v = 1,
                                    .mbs = 32, .microbatches = 4,
                                    .global_batch = dp * 32 * 4, .zero = 0,
                                    .recompute = "none", .schedule = "1f1b",
                                    .threads_per_rank = 1};
    snprintf(p.config.sync, sizeof p.config.sync, "%s", sync);
    p.predicted_step_s = pred_s;
    p.predicted_mem_bytes = 1.2e7;
    p.predicted_tokens_per_s = NAN;
    p.mfu = 0.25;
    p.plan_json = "{\"schema_version\": 1, \"kind\": \"plan\"}";
    return p;
}

static int64_t record(dml_db *db, const dml_db_plan *p)
{
    int64_t id = 0;
    dml_error err;
    if (dml_db_record_plan(db, p, &id, &err) != DML_OK)
        fail_msg("record_plan: %s", err.msg);
    return id;
}

/* A run of plan that ended with status, measured meas_s per step. */
static int64_t run_of(dml_db *db, int64_t plan, const char *status,
                      double meas_s, double loss, double acc)
{
    dml_error err;
    dml_db_run_start st;
    memset(&st, 0, sizeof st);
    st.plan_id = plan;
    st.ranks = 2;
    st.predicted_step_s = NAN;
    int64_t id = 0;
    assert_int_equal(dml_db_run_begin(db, &st, &id, &err), DML_OK);
    dml_db_run_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "%s", status);
    r.steps = 100;
    r.measured_step_s = meas_s;
    r.peak_rss_bytes = NAN;
    r.final_loss = loss;
    r.test_accuracy = acc;
    assert_int_equal(dml_db_run_finish(db, id, &r, &err), DML_OK);
    return id;
}

/* Does text look like "2026-12-06T12:48:16.123Z"? */
static bool has_milliseconds(const char *t)
{
    static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (strlen(t) != sizeof form - 1)
        return false;
    for (size_t i = 0; form[i]; i++)
        if (form[i] == 'd' ? t[i] < '0' || t[i] > '9' : t[i] != form[i])
            return false;
    return true;
}

/* The column names of a view or table, comma-separated. */
static void columns(dml_db *db, const char *name, char *buf, size_t size)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT group_concat(name, ',') FROM pragma_table_info('%s')",
             name);
    q_text(db, sql, buf, size);
}

/* ---- upgrade ---- */

/* Plans as dml of schema version 4 wrote them, in the plan files' names of
 * the time: fp16 and top-k compression, an asynchronous run, a strategy
 * in the sync knob's text, no plan file, an unreadable one, and one plan
 * recorded twice (the duplicates of issue 12). Returns the first id. */
static int64_t old_plans(dml_db *db)
{
    exec_ok(db,
            "INSERT INTO models (name, type, spec_hash, spec_json,\n"
            "  created_at) VALUES ('mlp-fmnist', 'mlp', 'm1',\n"
            "  '{\"type\": \"mlp\"}', '2026-01-01T00:00:00Z');\n"
            "INSERT INTO clusters (name, fingerprint, spec_hash,\n"
            "  created_at) VALUES ('this', 'c0ffee', 'c1',\n"
            "  '2026-01-01T00:00:00Z');\n");
    static const char *const files[] = {
        "'{\"parallel\": {\"grad_compression\": \"fp16\"}}'",
        "'{\"parallel\": {\"grad_compression\": \"topk\", "
        "\"topk_ratio\": 0.05}}'",
        "'{\"parallel\": {\"grad_compression\": \"topk\"}}'",
        "'{\"parallel\": {\"sync\": \"async\"}}'",
        "'{\"parallel\": {\"sync\": \"sync\", "
        "\"grad_compression\": \"none\"}}'",
        "'{\"parallel\": {\"sync\": \"hierarchical\"}}'",
        "NULL",
        "'not json'",
        "'{\"kind\": \"plan\", \"parallel\": {\"dp\": 2}}'",
        "'{\"kind\": \"plan\", \"parallel\": {\"dp\": 2}}'",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "INSERT INTO plans (created_at, model_id, cluster_id, dp,\n"
                 "  tp, pp, v, mbs, microbatches, global_batch, zero,\n"
                 "  recompute, sp, schedule, threads_per_rank,\n"
                 "  predicted_step_s, predicted_mem_bytes, mfu, plan_json)\n"
                 "VALUES ('2026-01-01T00:00:0%zuZ', 1, 1, 2, 1, 1, 1, 32, 4,\n"
                 "  256, 0, 'none', 0, '1f1b', 1, 0.012, 1.2e7, 0.25, %s)",
                 i % 10, files[i]);
        exec_ok(db, sql);
    }
    return q_i64(db, "SELECT min(id) FROM plans");
}

/* Version 4 to 5: every row kept (runs, their plans, probe rows), plans
 * read the strategy their plan file named, the oldest of the duplicated
 * plans is the row a new recording of it finds while the younger copy
 * keeps its run, the views keep every old column in its place with the
 * new ones after, and the new columns of runs are unknown. */
static void upgrade_from_version_4_keeps_rows_and_adds_columns(void **state)
{
    fixture *f = *state;
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml__db_open_at(f->path, true, 4, &db, &err), DML_OK);
    int64_t first = old_plans(db);
    exec_ok(db,
            "INSERT INTO runs (plan_id, started_at, finished_at, status,\n"
            "  ranks, steps, measured_step_s) VALUES\n"
            "  (9, '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'ok', 2,\n"
            "   10, 0.010),\n"
            "  (10, '2026-01-01T00:00:00Z', '2026-01-01T00:00:30Z', 'ok', 2,\n"
            "   10, 0.011);\n"
            "INSERT INTO probe_runs (started_at, ranks) VALUES\n"
            "  ('2026-01-01T00:00:00Z', 1);\n"
            "INSERT INTO measurements (probe_run_id, kind, op, value, unit)\n"
            "  VALUES (1, 'gemm', 'dgemm', 45e9, 'FLOP/s'),\n"
            "         (1, 'gemm', 'sgemm', 90e9, 'FLOP/s');\n");
    static const char *const views[] = {"v_probe_summary", "v_tuning_history",
                                        "v_runs"};
    char before[3][1024];
    for (int i = 0; i < 3; i++)
        columns(db, views[i], before[i], sizeof before[i]);
    int64_t n_plans = q_i64(db, "SELECT count(*) FROM plans");
    dml_db_close(db);

    db = open_ok(f->path);
    assert_int_equal(dml_db_schema_version(db), DML_DB_SCHEMA_VERSION);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), n_plans);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM measurements"), 2);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM pragma_foreign_key_check"),
                     0);

    /* the strategy each plan file named, as costmodel/plan.c reads it */
    static const char *const want_sync[] = {
        "fp16", "topk:0.05", "topk:0.01", "ssp:1", "allreduce",
        "hierarchical", "allreduce", "allreduce", "allreduce", "allreduce"};
    for (int i = 0; i < 10; i++) {
        char sql[128], text[64];
        snprintf(sql, sizeof sql, "SELECT sync FROM plans WHERE id = %lld",
                 (long long)(first + i));
        q_text(db, sql, text, sizeof text);
        if (strcmp(text, want_sync[i]) != 0)
            fail_msg("plan %d: sync '%s', expected '%s'", i, text,
                     want_sync[i]);
    }

    /* the old columns where they were, the new ones after them */
    for (int i = 0; i < 3; i++) {
        char now[2048];
        columns(db, views[i], now, sizeof now);
        if (strncmp(now, before[i], strlen(before[i])) != 0 ||
            now[strlen(before[i])] != ',')
            fail_msg("%s: columns '%s' do not begin with version 4's '%s'",
                     views[i], now, before[i]);
    }
    char text[2048];
    columns(db, "v_probe_summary", text, sizeof text);
    assert_non_null(strstr(text, ",dgemm_flops_per_s,sgemm_flops_per_s"));
    assert_true(q_f64(db, "SELECT dgemm_flops_per_s FROM v_probe_summary") ==
                45e9);
    assert_true(q_f64(db, "SELECT dgemm_flops FROM v_probe_summary") == 45e9);
    assert_true(q_f64(db, "SELECT sgemm_flops_per_s FROM v_probe_summary") ==
                90e9);
    columns(db, "v_tuning_history", text, sizeof text);
    assert_non_null(strstr(text, ",framework,attention,global_batch,steps,"
                                 "measured_samples_per_s,"
                                 "measured_tokens_per_s,sync"));
    columns(db, "v_runs", text, sizeof text);
    assert_non_null(strstr(text, ",framework,attention,sync,config,"
                                 "measured_samples_per_s,"
                                 "measured_tokens_per_s,"
                                 "dp_bytes_intra_per_step,"
                                 "dp_bytes_inter_per_step"));
    assert_int_equal(q_i64(db, "SELECT count(*) FROM runs WHERE "
                               "dp_bytes_intra_per_step IS NULL AND "
                               "dp_bytes_inter_per_step IS NULL"),
                     2);

    /* The duplicated plan: the older copy has the hash, the younger
     * keeps its run; recording the plan now finds the older one. */
    int64_t dup = first + 8;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM plans WHERE plan_hash IS NOT NULL AND "
             "id IN (%lld, %lld)",
             (long long)dup, (long long)(dup + 1));
    assert_int_equal(q_i64(db, sql), 1);
    snprintf(sql, sizeof sql, "SELECT plan_hash IS NOT NULL FROM plans "
                              "WHERE id = %lld",
             (long long)dup);
    assert_int_equal(q_i64(db, sql), 1);
    /* every plan that is not a younger copy has its hash */
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans "
                               "WHERE plan_hash IS NULL"),
                     1);
    dml_db_plan p = plan_of(1, 1, 2, "", 0.012);
    p.plan_json = "{\"kind\": \"plan\", \"parallel\": {\"dp\": 2}}";
    p.config.global_batch = 256;
    assert_int_equal(record(db, &p), dup);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), n_plans);
    /* the old runs, each with its own plan, in the history */
    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_tuning_history "
                               "WHERE run_id IS NOT NULL"),
                     2);
    assert_float_equal(q_f64(db, "SELECT duration_s FROM v_runs "
                                 "WHERE plan_id = 10"),
                       30.0, 0);
    dml_db_close(db);
}

/* ---- plans recorded once ---- */

static void plans_are_recorded_once(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    int64_t model = model_row(db, "mlp"), cluster = cluster_row(db, "f00d");
    dml_db_plan p = plan_of(model, cluster, 2, "", 0.012);
    int64_t a = record(db, &p);
    /* the same plan again (--export, --why-not): the same row */
    assert_int_equal(record(db, &p), a);
    /* "" and "allreduce" are the same strategy */
    snprintf(p.config.sync, sizeof p.config.sync, "allreduce");
    assert_int_equal(record(db, &p), a);
    /* the plan file as --out writes it, indented and naming its row, is
     * the same plan */
    dml_db_plan q = p;
    q.plan_json = "{\n  \"schema_version\": 1,\n  \"kind\": \"plan\",\n"
                  "  \"db_plan_id\": 42\n}";
    assert_int_equal(record(db, &q), a);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), 1);

    /* anything else that differs is another plan */
    q = p;
    q.predicted_step_s = 0.013;
    int64_t b = record(db, &q);
    q = p;
    snprintf(q.config.sync, sizeof q.config.sync, "fp16");
    int64_t c = record(db, &q);
    q = p;
    q.plan_json = "{\"schema_version\": 1, \"kind\": \"plan\", \"x\": 1}";
    int64_t d = record(db, &q);
    q = p;
    q.plan_json = NULL;
    int64_t e = record(db, &q);
    assert_int_equal(record(db, &q), e);
    q = p;
    q.cluster_id = cluster_row(db, "beef");
    int64_t g = record(db, &q);
    dml_error err;
    dml_db_calibration cal = {.cluster_fingerprint = "f00d", .n_runs = 1,
                              .params_json = "{}", .mape_before = NAN,
                              .mape_after = NAN, .loo_mape_before = NAN,
                              .loo_mape_after = NAN, .interval_pct = NAN};
    int64_t cal_id = 0;
    assert_int_equal(dml_db_record_calibration(db, &cal, &cal_id, &err),
                     DML_OK);
    q = p;
    q.calibration_id = cal_id;
    int64_t h = record(db, &q);
    assert_int_equal(record(db, &q), h);
    int64_t ids[] = {a, b, c, d, e, g, h};
    for (size_t i = 0; i < 7; i++)
        for (size_t j = i + 1; j < 7; j++)
            if (ids[i] == ids[j])
                fail_msg("plans %zu and %zu share row %lld", i, j,
                         (long long)ids[i]);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), 7);

    /* The index refuses a copy that goes around dml_db_record_plan. */
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO plans (created_at, model_id, cluster_id, dp, tp,\n"
             "  pp, mbs, microbatches, global_batch, plan_hash)\n"
             "SELECT created_at, model_id, cluster_id, dp, tp, pp, mbs,\n"
             "  microbatches, global_batch, plan_hash FROM plans\n"
             "WHERE id = %lld",
             (long long)a);
    assert_int_not_equal(sqlite3_exec(dml__db_handle(db), sql, NULL, NULL,
                                      NULL),
                         SQLITE_OK);
    /* Inside the caller's transaction (dml-plan records several plans in
     * one) the same plan twice is one row too. */
    assert_int_equal(dml_db_begin(db, &err), DML_OK);
    q = p;
    q.predicted_step_s = 0.5;
    int64_t i1 = record(db, &q);
    assert_int_equal(record(db, &q), i1);
    assert_int_equal(dml_db_commit(db, &err), DML_OK);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), 8);
    dml_db_close(db);
}

/* Several processes recording the same plans at once, each on its own
 * connection: one row per plan between them. */
static void concurrent_writers_record_a_plan_once(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    int64_t model = model_row(db, "mlp"), cluster = cluster_row(db, "f00d");
    dml_db_close(db);
    enum { WRITERS = 4, PLANS = 25 };
    pid_t pid[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pid[w] = fork();
        assert_true(pid[w] >= 0);
        if (pid[w] == 0) {
            dml_db *mine = NULL;
            dml_error err;
            if (dml_db_open(f->path, &mine, &err) != DML_OK)
                _exit(1);
            for (int i = 0; i < PLANS; i++) {
                dml_db_plan p = plan_of(model, cluster, 2, "", 0.001 * i);
                int64_t id = 0;
                if (dml_db_record_plan(mine, &p, &id, &err) != DML_OK) {
                    fprintf(stderr, "writer %d: %s\n", w, err.msg);
                    _exit(1);
                }
            }
            dml_db_close(mine);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int st = 0;
        assert_int_equal(waitpid(pid[w], &st, 0), pid[w]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    db = open_ok(f->path);
    assert_int_equal(q_i64(db, "SELECT count(*) FROM plans"), PLANS);
    dml_db_close(db);
}

/* ---- times ---- */

static void times_have_milliseconds(void **state)
{
    fixture *f = *state;
    char now[DML_CLOCK_ISO8601_LEN];
    dml_clock_iso8601(now, sizeof now);
    if (!has_milliseconds(now))
        fail_msg("dml_clock_iso8601 wrote '%s'", now);

    dml_db *db = open_ok(f->path);
    int64_t model = model_row(db, "mlp"), cluster = cluster_row(db, "f00d");
    dml_db_plan p = plan_of(model, cluster, 2, "", 0.012);
    int64_t plan = record(db, &p);
    /* a run whose times db/ writes itself ("" = now) */
    int64_t run = run_of(db, plan, "ok", 0.010, 0.5, 0.9);
    dml_error err;
    assert_int_equal(dml_db_record_event(db, run, "note", -1, -1, "x", &err),
                     DML_OK);
    static const char *const times[] = {
        "SELECT created_at FROM plans", "SELECT created_at FROM models",
        "SELECT created_at FROM clusters", "SELECT started_at FROM runs",
        "SELECT finished_at FROM runs", "SELECT at FROM events"};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        char text[64];
        q_text(db, times[i], text, sizeof text);
        if (!has_milliseconds(text))
            fail_msg("%s: '%s' has no milliseconds", times[i], text);
    }
    /* Both forms sort and parse: a run of 1.5 s, and one begun under
     * whole seconds (version 4) and ended under milliseconds. */
    dml_db_run_start st = {.plan_id = plan, .ranks = 1,
                           .started_at = "2026-12-06T12:48:16.250Z",
                           .predicted_step_s = NAN};
    int64_t r1 = 0, r2 = 0;
    assert_int_equal(dml_db_run_begin(db, &st, &r1, &err), DML_OK);
    snprintf(st.started_at, sizeof st.started_at, "2026-12-06T12:48:16Z");
    assert_int_equal(dml_db_run_begin(db, &st, &r2, &err), DML_OK);
    dml_db_run_result res = {.status = "ok",
                             .finished_at = "2026-12-06T12:48:17.750Z",
                             .steps = 1, .measured_step_s = NAN,
                             .peak_rss_bytes = NAN, .final_loss = NAN,
                             .test_accuracy = NAN};
    assert_int_equal(dml_db_run_finish(db, r1, &res, &err), DML_OK);
    snprintf(res.finished_at, sizeof res.finished_at,
             "2026-12-06T12:48:18.125Z");
    assert_int_equal(dml_db_run_finish(db, r2, &res, &err), DML_OK);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT duration_s FROM v_runs WHERE "
                              "run_id = %lld", (long long)r1);
    assert_float_equal(q_f64(db, sql), 1.5, 0);
    snprintf(sql, sizeof sql, "SELECT duration_s FROM v_runs WHERE "
                              "run_id = %lld", (long long)r2);
    assert_float_equal(q_f64(db, sql), 2.125, 0);
    dml_db_close(db);
}

/* ---- the views ---- */

/* The configuration as --config spells it, from the columns. */
static void views_spell_the_configuration_as_config_does(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    int64_t mlp = model_row(db, "mlp"), tf = model_row(db, "transformer");
    int64_t cluster = cluster_row(db, "f00d");
    dml_db_plan p = plan_of(mlp, cluster, 2, "", 0.012);
    int64_t a = record(db, &p);
    p = plan_of(tf, cluster, 16, "topk:0.01", 1.5);
    p.config.tp = 8;
    p.config.pp = 8;
    p.config.v = 3;
    p.config.mbs = 1;
    p.config.zero = 1;
    snprintf(p.config.recompute, sizeof p.config.recompute, "selective");
    p.config.sp = true;
    snprintf(p.config.schedule, sizeof p.config.schedule, "interleaved");
    snprintf(p.config.attention, sizeof p.config.attention, "flash");
    p.config.threads_per_rank = 4;
    int64_t b = record(db, &p);
    run_of(db, a, "ok", 0.010, 0.5, 0.9);

    static const char *const want_a =
        "dp=2,tp=1,pp=1,v=1,mbs=32,zero=0,recompute=none,sp=0,schedule=1f1b";
    static const char *const want_b =
        "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,recompute=selective,sp=1,"
        "schedule=interleaved,attn=flash,threads=4,sync=topk:0.01";
    static const char *const queries[] = {
        "SELECT config FROM v_plans WHERE plan_id = %lld",
        "SELECT config FROM v_tuning_history WHERE plan_id = %lld",
    };
    for (int i = 0; i < 2; i++) {
        char sql[128], text[256];
        snprintf(sql, sizeof sql, queries[i], (long long)a);
        q_text(db, sql, text, sizeof text);
        assert_string_equal(text, want_a);
        snprintf(sql, sizeof sql, queries[i], (long long)b);
        q_text(db, sql, text, sizeof text);
        assert_string_equal(text, want_b);
    }
    char text[256];
    q_text(db, "SELECT config FROM v_runs", text, sizeof text);
    assert_string_equal(text, want_a);

    /* dml-history reads the same text, and the strategy */
    dml_error err;
    dml_db_plan_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_plans(db, 0, &rows, &n, &err), DML_OK);
    assert_int_equal(n, 2);
    assert_string_equal(rows[0].config_text, want_b);
    assert_string_equal(rows[0].config.sync, "topk:0.01");
    assert_string_equal(rows[1].config_text, want_a);
    assert_string_equal(rows[1].config.sync, "allreduce");
    free(rows);
    dml_db_run_row *runs = NULL;
    assert_int_equal(dml_db_list_runs(db, 0, &runs, &n, &err), DML_OK);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].config_text, want_a);
    assert_string_equal(runs[0].config.sync, "allreduce");
    free(runs);
    dml_db_close(db);
}

/* Global batch, steps and measured throughput: samples/s = global batch
 * / median step; tokens/s = samples/s x sequence length (a transformer)
 * or samples/s (an MLP). */
static void tuning_history_has_batch_steps_and_throughput(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    int64_t mlp = model_row(db, "mlp"), tf = model_row(db, "transformer");
    int64_t cluster = cluster_row(db, "f00d");
    dml_db_plan p = plan_of(mlp, cluster, 2, "", 0.012);
    int64_t a = record(db, &p);
    p = plan_of(tf, cluster, 4, "fp16", 0.5);
    int64_t b = record(db, &p);
    int64_t ra = run_of(db, a, "ok", 0.016, 0.5, 0.9);
    int64_t rb = run_of(db, b, "ok", 0.256, 0.5, NAN);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT global_batch * 1000 + steps FROM v_tuning_history "
             "WHERE run_id = %lld",
             (long long)ra);
    assert_int_equal(q_i64(db, sql), 256 * 1000 + 100);
    snprintf(sql, sizeof sql,
             "SELECT measured_samples_per_s FROM v_tuning_history "
             "WHERE run_id = %lld",
             (long long)ra);
    assert_float_equal(q_f64(db, sql), 256 / 0.016, 1e-9);
    snprintf(sql, sizeof sql,
             "SELECT measured_tokens_per_s FROM v_tuning_history "
             "WHERE run_id = %lld",
             (long long)ra);
    assert_float_equal(q_f64(db, sql), 256 / 0.016, 1e-9);
    snprintf(sql, sizeof sql,
             "SELECT measured_tokens_per_s FROM v_runs WHERE run_id = %lld",
             (long long)rb);
    assert_float_equal(q_f64(db, sql), 512 / 0.256 * 2048, 1e-6);
    snprintf(sql, sizeof sql,
             "SELECT sync FROM v_tuning_history WHERE run_id = %lld",
             (long long)rb);
    char text[64];
    q_text(db, sql, text, sizeof text);
    assert_string_equal(text, "fp16");
    /* a plan never run: its batch, no steps and no throughput */
    p = plan_of(mlp, cluster, 1, "", 0.02);
    int64_t c = record(db, &p);
    snprintf(sql, sizeof sql,
             "SELECT global_batch || ' ' || coalesce(steps, '-') || ' ' ||\n"
             "  coalesce(measured_samples_per_s, '-') FROM v_tuning_history\n"
             "WHERE plan_id = %lld",
             (long long)c);
    q_text(db, sql, text, sizeof text);
    assert_string_equal(text, "128 - -");
    dml_db_close(db);
}

/* One row per model, cluster and strategy over the runs that ended ok,
 * with medians of an odd and an even count and the bytes per step. */
static void strategy_comparison_takes_medians(void **state)
{
    fixture *f = *state;
    dml_db *db = open_ok(f->path);
    dml_error err;
    int64_t model = model_row(db, "mlp"), cluster = cluster_row(db, "f00d");
    dml_db_plan p = plan_of(model, cluster, 2, "", 0.012);
    int64_t dense = record(db, &p);
    p = plan_of(model, cluster, 4, "", 0.020); /* allreduce too */
    int64_t dense4 = record(db, &p);
    p = plan_of(model, cluster, 2, "fp16", 0.009);
    int64_t half = record(db, &p);
    /* allreduce: 1, 3, 2 -> median 2 (loss 0.5, 0.7, 0.6 -> 0.6) */
    int64_t r = run_of(db, dense, "ok", 0.001, 0.5, 0.80);
    assert_int_equal(dml_db_run_dp_bytes(db, r, 100, 0, &err), DML_OK);
    r = run_of(db, dense, "ok", 0.003, 0.7, 0.90);
    assert_int_equal(dml_db_run_dp_bytes(db, r, 300, 0, &err), DML_OK);
    run_of(db, dense4, "ok", 0.002, 0.6, NAN);
    run_of(db, dense, "failed", 9.0, 9.0, 0.0); /* not counted */
    /* fp16: 1, 2, 3, 10 -> median 2.5 */
    for (int i = 0; i < 4; i++) {
        double t[] = {0.010, 0.001, 0.003, 0.002};
        r = run_of(db, half, "ok", t[i], 0.8, 0.85);
        assert_int_equal(dml_db_run_dp_bytes(db, r, 50, 25 * (i + 1), &err),
                         DML_OK);
    }
    assert_int_equal(dml_db_run_dp_bytes(db, 999, 1, 1, &err), DML_ENOTFOUND);

    assert_int_equal(q_i64(db, "SELECT count(*) FROM v_strategy_comparison"),
                     2);
    assert_int_equal(q_i64(db, "SELECT runs FROM v_strategy_comparison "
                               "WHERE sync = 'allreduce'"),
                     3);
    assert_float_equal(q_f64(db, "SELECT median_measured_step_s FROM "
                                 "v_strategy_comparison WHERE sync = "
                                 "'allreduce'"),
                       0.002, 1e-15);
    assert_float_equal(q_f64(db, "SELECT median_final_loss FROM "
                                 "v_strategy_comparison WHERE sync = "
                                 "'allreduce'"),
                       0.6, 1e-15);
    /* accuracy of two runs (one not evaluated): the mean of the two */
    assert_float_equal(q_f64(db, "SELECT median_test_accuracy FROM "
                                 "v_strategy_comparison WHERE sync = "
                                 "'allreduce'"),
                       0.85, 1e-15);
    assert_float_equal(q_f64(db, "SELECT median_predicted_step_s FROM "
                                 "v_strategy_comparison WHERE sync = "
                                 "'allreduce'"),
                       0.012, 1e-15);
    assert_float_equal(q_f64(db, "SELECT median_dp_bytes_intra_per_step FROM "
                                 "v_strategy_comparison WHERE sync = "
                                 "'allreduce'"),
                       200, 0);
    assert_int_equal(q_i64(db, "SELECT runs FROM v_strategy_comparison "
                               "WHERE sync = 'fp16'"),
                     4);
    assert_float_equal(q_f64(db, "SELECT median_measured_step_s FROM "
                                 "v_strategy_comparison WHERE sync = 'fp16'"),
                       0.0025, 1e-15);
    assert_float_equal(q_f64(db, "SELECT median_dp_bytes_inter_per_step FROM "
                                 "v_strategy_comparison WHERE sync = 'fp16'"),
                       62.5, 0);
    char text[128];
    q_text(db, "SELECT model || ' ' || cluster || ' ' || cluster_fingerprint "
               "FROM v_strategy_comparison WHERE sync = 'fp16'",
           text, sizeof text);
    assert_string_equal(text, "mlp-fmnist this f00d");
    /* the run rows dml-history reads carry the bytes */
    dml_db_run_row *runs = NULL;
    size_t n = 0;
    assert_int_equal(dml_db_list_runs(db, 1, &runs, &n, &err), DML_OK);
    assert_float_equal(runs[0].dp_bytes_intra_per_step, 50, 0);
    assert_float_equal(runs[0].dp_bytes_inter_per_step, 100, 0);
    free(runs);
    dml_db_close(db);
}

DML_TEST_MAIN(
    cmocka_unit_test_setup_teardown(
        upgrade_from_version_4_keeps_rows_and_adds_columns, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(plans_are_recorded_once, make_dir,
                                    remove_dir),
    cmocka_unit_test_setup_teardown(concurrent_writers_record_a_plan_once,
                                    make_dir, remove_dir),
    cmocka_unit_test_setup_teardown(times_have_milliseconds, make_dir,
                                    remove_dir),
    cmocka_unit_test_setup_teardown(
        views_spell_the_configuration_as_config_does, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(
        tuning_history_has_batch_steps_and_throughput, make_dir,
        remove_dir),
    cmocka_unit_test_setup_teardown(strategy_comparison_takes_medians,
                                    make_dir, remove_dir))
