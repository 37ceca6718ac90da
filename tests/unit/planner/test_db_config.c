/*
 * test_db_config.c: one spelling of a configuration everywhere (issue 12).
 * The database's views build the configuration text from the plans
 * row's columns in SQL (db/schema.c, migration 5), while dml-plan writes
 * it with dml_planner_config_format; db/ cannot call the planner, so the
 * two are compared here, where both link: for every plan of several
 * searches (GPT, Llama and MLP plans; every pipeline schedule, attention
 * kernels, thread counts and data-parallel strategies), recorded as
 * dml-plan records them, and for plans of a version-4 database whose
 * plan files name the strategy as files did before the sync knob, the
 * view's text is what the planner writes for the plan file stored with
 * the row, and --config reads it back as the same knobs.
 */
#include "tests/support/unit.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/db_internal.h"
#include "db/plan_store.h"
#include "planner/config.h"
#include "planner/planner.h"
#include "planner/record.h"
#include "tests/support/planner_support.h"
#include "tests/support/test_support.h"

/* Searches whose plans between them set every knob the text has. */
static const struct {
    const char *model, *cluster;
    int64_t nodes, batch;
    const char *config; /* --config, NULL: none */
} searches[] = {
    {"gpt3-1.3b", "dgx-a100-80g", 2, 64, NULL},
    {"gpt3-1.3b", "dgx-a100-80g", 2, 64, "sync=fp16,zero=1"},
    {"gpt3-175b", "dgx-a100-80g", 128, 1536,
     "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,recompute=selective,sp=1,"
     "schedule=interleaved"},
    {"llama3-8b", "dgx-h100", 1, 64, "attn=materialized,sync=topk:0.01,zero=0"},
    {"llama3-8b", "dgx-h100", 2, 128, "sync=hierarchical,schedule=gpipe,zero=1"},
    {"mlp-fmnist", "cpu-node", 1, 256, NULL},
    {"mlp-fmnist", "cpu-node", 1, 256, "dp=1,threads=2"},
};

static void record_search(dml_db *db, size_t i)
{
    dml_planner_request r;
    dml_error err;
    if (dml_test_planner_request(&r, searches[i].model, searches[i].cluster,
                                 searches[i].nodes, searches[i].batch,
                                 searches[i].config, &err))
        fail_msg("search %zu: %s", i, err.msg);
    dml_planner *p = NULL;
    if (dml_planner_new(&r, &p, &err) || dml_planner_run(p, &err))
        fail_msg("search %zu (%s): %s", i, searches[i].model, err.msg);
    if (dml_planner_record(db, p, &err))
        fail_msg("recording search %zu: %s", i, err.msg);
    dml_planner_free(p);
}

/* Every row of sql (plan_id, config, plan_json): the text equals the
 * planner's for the plan file and parses back to its knobs. Returns the
 * rows checked. */
static int check_rows(dml_db *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(dml__db_handle(db), sql, -1, &st,
                                        NULL),
                     SQLITE_OK);
    int n = 0;
    dml_plan *plan = malloc(sizeof *plan);
    assert_non_null(plan);
    while (sqlite3_step(st) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(st, 0);
        const char *view = (const char *)sqlite3_column_text(st, 1);
        const char *file = (const char *)sqlite3_column_text(st, 2);
        assert_non_null(view);
        assert_non_null(file);
        dml_error err;
        json_t *j = json_loads(file, 0, NULL);
        assert_non_null(j);
        if (dml_plan_from_json(j, "plan_json", plan, &err) != DML_OK)
            fail_msg("plan %lld: %s", id, err.msg);
        json_decref(j);
        char want[DML_DB_CONFIG_MAX];
        dml_planner_config_format(&plan->par, plan->model.type, want,
                                  sizeof want);
        if (strcmp(view, want) != 0)
            fail_msg("plan %lld: the view says\n  %s\nthe planner\n  %s", id,
                     view, want);
        /* the text --config accepts, knob for knob */
        dml_planner_config c;
        if (dml_planner_config_parse(view, "--config", &c, &err) != DML_OK)
            fail_msg("plan %lld: --config refuses '%s': %s", id, view,
                     err.msg);
        char again[DML_DB_CONFIG_MAX];
        dml_planner_config_format_fixed(&c, again, sizeof again);
        assert_string_equal(again, view);
        assert_int_equal(c.par.dp, plan->par.dp);
        assert_int_equal(c.par.pp, plan->par.pp);
        assert_true(dml_sync_spec_equal(&c.par.sync, &plan->par.sync));
        n++;
    }
    sqlite3_finalize(st);
    free(plan);
    return n;
}

static void views_spell_every_plan_as_the_planner_does(void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-test-db-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/dml.db", dir);
    dml_db *db = NULL;
    dml_error err;
    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);
    size_t n_searches = sizeof searches / sizeof searches[0];
    for (size_t i = 0; i < n_searches; i++)
        record_search(db, i);

    int n = check_rows(db, "SELECT plan_id, config, (SELECT plan_json FROM "
                           "plans WHERE id = plan_id) FROM v_plans");
    assert_true(n >= (int)n_searches);
    assert_int_equal(check_rows(db, "SELECT h.plan_id, h.config, p.plan_json "
                                    "FROM v_tuning_history h JOIN plans p "
                                    "ON p.id = h.plan_id"),
                     n);
    /* between them, the plans have every kind of knob the text has */
    static const char *const knobs[] = {
        "%,attn=flash%", "%,attn=materialized%", "%,threads=2%",
        "%,sync=fp16", "%,sync=topk:0.01", "%,sync=hierarchical",
        "%,schedule=interleaved%", "%,schedule=gpipe%", "%,sp=1,%",
        "%,recompute=selective,%"};
    for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM v_plans WHERE config LIKE '%s'",
                 knobs[i]);
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(dml__db_handle(db), sql, -1, &st,
                                            NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_int64(st, 0) == 0)
            fail_msg("no plan has %s", knobs[i]);
        sqlite3_finalize(st);
    }
    /* an MLP's text has no attention knob */
    char sql[] = "SELECT count(*) FROM v_plans WHERE model_type = 'mlp' "
                 "AND config LIKE '%attn=%'";
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(dml__db_handle(db), sql, -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(st, 0), 0);
    sqlite3_finalize(st);
    dml_db_close(db);
    dml_test_remove_db(path);
    rmdir(dir);
}

/* A plan file of the time before the sync knob: "sync" is "sync" or
 * "async" and compression its own field. */
static char *old_plan_file(const char *file, const char *sync,
                           const char *compression, double ratio)
{
    json_t *j = json_loads(file, 0, NULL);
    assert_non_null(j);
    json_t *par = json_object_get(j, "parallel");
    json_object_set_new(par, "sync", json_string(sync));
    if (compression)
        json_object_set_new(par, "grad_compression",
                            json_string(compression));
    if (ratio > 0)
        json_object_set_new(par, "topk_ratio", json_real(ratio));
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return text;
}

/* Migration 5 reads the strategy of a version-4 plan out of its plan
 * file as the planner's parser does: the text is the same for it too. */
static void migrated_plans_read_their_strategy_as_the_planner_does(
    void **state)
{
    (void)state;
    char dir[] = "/tmp/dml-test-db-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/dml.db", dir);
    /* a plan file as dml-plan writes it today, to make old ones of */
    dml_planner_request r;
    dml_error err;
    dml_planner *p = NULL;
    if (dml_test_planner_request(&r, "mlp-fmnist", "cpu-node", 1, 256, NULL,
                                 &err) ||
        dml_planner_new(&r, &p, &err) || dml_planner_run(p, &err))
        fail_msg("%s", err.msg);
    json_t *pj = dml_plan_to_json(&p->plans[0].plan);
    char *file = json_dumps(pj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(pj);
    const dml_parallel_config *c = &p->plans[0].plan.par;

    dml_db *db = NULL;
    assert_int_equal(dml__db_open_at(path, true, 4, &db, &err), DML_OK);
    sqlite3 *h = dml__db_handle(db);
    assert_int_equal(sqlite3_exec(h,
                                  "INSERT INTO models (name, type, spec_hash,"
                                  " spec_json, created_at) VALUES ('mlp', "
                                  "'mlp', 'm', '{}', '2026-01-01T00:00:00Z');"
                                  "INSERT INTO clusters (name, spec_hash, "
                                  "created_at) VALUES ('cpu', 'c', "
                                  "'2026-01-01T00:00:00Z')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    char *files[] = {old_plan_file(file, "sync", "fp16", 0),
                     old_plan_file(file, "sync", "topk", 0.05),
                     old_plan_file(file, "sync", "topk", 0),
                     old_plan_file(file, "async", NULL, 0),
                     old_plan_file(file, "sync", "none", 0), strdup(file)};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(
            sqlite3_prepare_v2(h,
                               "INSERT INTO plans (created_at, model_id, "
                               "cluster_id, dp, tp, pp, v, mbs, microbatches,"
                               " global_batch, zero, recompute, sp, schedule,"
                               " threads_per_rank, plan_json) VALUES "
                               "('2026-01-01T00:00:00Z', 1, 1, ?, ?, ?, ?, ?,"
                               " ?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &st, NULL),
            SQLITE_OK);
        sqlite3_bind_int(st, 1, c->dp);
        sqlite3_bind_int(st, 2, c->tp);
        sqlite3_bind_int(st, 3, c->pp);
        sqlite3_bind_int(st, 4, c->v);
        sqlite3_bind_int64(st, 5, c->mbs);
        sqlite3_bind_int64(st, 6, c->microbatches);
        sqlite3_bind_int64(st, 7, p->plans[0].plan.sched.global_batch);
        sqlite3_bind_int(st, 8, c->zero);
        sqlite3_bind_text(st, 9, dml_recompute_name(c->recompute), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int(st, 10, c->sp ? 1 : 0);
        sqlite3_bind_text(st, 11, dml_pp_schedule_name(c->schedule), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int(st, 12, c->threads_per_rank);
        sqlite3_bind_text(st, 13, files[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        free(files[i]);
    }
    dml_db_close(db);
    free(file);
    dml_planner_free(p);

    assert_int_equal(dml_db_open(path, &db, &err), DML_OK);
    assert_int_equal(check_rows(db, "SELECT plan_id, config, (SELECT "
                                    "plan_json FROM plans WHERE id = "
                                    "plan_id) FROM v_plans"),
                     6);
    dml_db_close(db);
    dml_test_remove_db(path);
    rmdir(dir);
}

DML_TEST_MAIN(
    cmocka_unit_test(views_spell_every_plan_as_the_planner_does),
    cmocka_unit_test(
        migrated_plans_read_their_strategy_as_the_planner_does))
