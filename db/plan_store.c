/*
 * plan_store.c: recording and reading plans (see plan_store.h).
 *
 * A plan is recorded once. The row's content (DML__PLAN_KEY: its
 * configuration, prediction and plan file less db_plan_id) is hashed into
 * plan_hash by dml_plan_hash(), a function registered on every connection,
 * and a UNIQUE index on (model, cluster, calibration, plan_hash) refuses
 * a second copy. Recording looks for the row first, comparing the whole
 * content and not only the hash, so that two plans whose hashes collide
 * (64 bits: not expected in a database's lifetime) make an error rather
 * than one silently standing for the other; look-up and insert share one
 * write transaction, so two processes recording the same plan at once
 * find one row between them.
 */
#include "db/plan_store.h"

#include "db_internal.h"

/* The values of the new row, as a one-row table n with the column names
 * of plans, defaults applied: DML__PLAN_KEY("n") is then the text the
 * stored row gives as DML__PLAN_KEY("p"). */
#define NEW_PLAN                                                              \
    "WITH n(model_id, cluster_id, calibration_id, dp, tp, pp, v, mbs,\n"    \
    "  microbatches, global_batch, zero, recompute, sp, schedule,\n"        \
    "  threads_per_rank, framework, attention, sync, predicted_step_s,\n"   \
    "  predicted_mem_bytes, predicted_tokens_per_s, mfu, plan_json,\n"     \
    "  balance) AS (\n"                                                     \
    "  VALUES (:model, :cluster, :calib, :dp, :tp, :pp, :v, :mbs, :mb,\n"   \
    "    :gb, :zero, coalesce(:recompute, 'none'), :sp,\n"                  \
    "    coalesce(:schedule, '1f1b'), :threads,\n"                          \
    "    coalesce(:framework, 'megatron'),\n"                               \
    "    coalesce(:attention, 'materialized'),\n"                           \
    "    coalesce(:sync, 'allreduce'), :step, :mem, :tps, :mfu, :json,\n"   \
    "    coalesce(:balance, 'equal')))\n"

static void bind_plan(dml__q *q, const dml_db_plan *plan)
{
    const dml_db_plan_config *c = &plan->config;
    dml__q_id(q, ":model", plan->model_id);
    dml__q_id(q, ":cluster", plan->cluster_id);
    dml__q_id(q, ":calib", plan->calibration_id);
    dml__q_i64(q, ":dp", c->dp);
    dml__q_i64(q, ":tp", c->tp);
    dml__q_i64(q, ":pp", c->pp);
    dml__q_i64(q, ":v", c->v);
    dml__q_i64(q, ":mbs", c->mbs);
    dml__q_i64(q, ":mb", c->microbatches);
    dml__q_i64(q, ":gb", c->global_batch);
    dml__q_i64(q, ":zero", c->zero);
    dml__q_opt(q, ":recompute", c->recompute);
    dml__q_i64(q, ":sp", c->sp ? 1 : 0);
    dml__q_opt(q, ":schedule", c->schedule);
    dml__q_i64(q, ":threads", c->threads_per_rank);
    dml__q_opt(q, ":framework", c->framework);
    dml__q_opt(q, ":attention", c->attention);
    dml__q_opt(q, ":sync", c->sync);
    dml__q_f64(q, ":step", plan->predicted_step_s);
    dml__q_f64(q, ":mem", plan->predicted_mem_bytes);
    dml__q_f64(q, ":tps", plan->predicted_tokens_per_s);
    dml__q_f64(q, ":mfu", plan->mfu);
    dml__q_opt(q, ":json", plan->plan_json);
    dml__q_opt(q, ":balance", c->balance);
}

/* The id of the row that holds this very plan, 0 if none. */
static dml_status find_plan(dml_db *db, const dml_db_plan *plan, int64_t *id,
                            dml_error *err)
{
    *id = 0;
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        NEW_PLAN
        "SELECT p.id FROM plans p, n\n"
        "WHERE p.model_id = n.model_id AND p.cluster_id = n.cluster_id\n"
        "  AND coalesce(p.calibration_id, 0) = coalesce(n.calibration_id, 0)\n"
        "  AND p.plan_hash = dml_plan_hash(" DML__PLAN_KEY("n") ")\n"
        "  AND " DML__PLAN_KEY("p") " = " DML__PLAN_KEY("n") "\n"
        "ORDER BY p.id LIMIT 1",
        "looking up plan", err));
    bind_plan(&q, plan);
    bool row = false;
    dml_status s = dml__q_step(&q, &row, err);
    if (s == DML_OK && row)
        *id = sqlite3_column_int64(q.st, 0);
    dml__q_finish(&q);
    return s;
}

static dml_status insert_plan(dml_db *db, const dml_db_plan *plan,
                              int64_t *id, dml_error *err)
{
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        NEW_PLAN
        "INSERT INTO plans (created_at, model_id, cluster_id, dp, tp, pp, v,\n"
        "  mbs, microbatches, global_batch, zero, recompute, sp, schedule,\n"
        "  threads_per_rank, framework, attention, sync, predicted_step_s,\n"
        "  predicted_mem_bytes, predicted_tokens_per_s, mfu, calibration_id,\n"
        "  plan_json, plan_hash, balance)\n"
        "SELECT " DML__SQL_NOW ", model_id, cluster_id, dp, tp, pp, v, mbs,\n"
        "  microbatches, global_batch, zero, recompute, sp, schedule,\n"
        "  threads_per_rank, framework, attention, sync, predicted_step_s,\n"
        "  predicted_mem_bytes, predicted_tokens_per_s, mfu, calibration_id,\n"
        "  plan_json, dml_plan_hash(" DML__PLAN_KEY("n") "), balance\n"
        "FROM n\n"
        "RETURNING id",
        "recording plan", err));
    bind_plan(&q, plan);
    return dml__q_once_id(&q, id, err);
}

dml_status dml_db_record_plan(dml_db *db, const dml_db_plan *plan,
                              int64_t *plan_id, dml_error *err)
{
    dml__tx tx;
    DML_CHECK(dml__tx_begin(db, &tx, err));
    int64_t id = 0;
    dml_status s = find_plan(db, plan, &id, err);
    if (s == DML_OK && id == 0)
        s = insert_plan(db, plan, &id, err);
    s = dml__tx_end(&tx, s, err);
    if (s == DML_OK && plan_id)
        *plan_id = id;
    return s;
}

dml_status dml_db_plan_json(dml_db *db, int64_t plan_id, char **plan_json,
                            dml_error *err)
{
    return dml__db_read_text(db, "SELECT plan_json FROM plans WHERE id = :id",
                             "plan", plan_id, plan_json, err);
}

/* dml_plan_hash(text): see dml__plan_hash_register. */
static void plan_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const unsigned char *text = sqlite3_value_text(argv[0]);
    if (!text) {
        if (sqlite3_value_type(argv[0]) != SQLITE_NULL)
            sqlite3_result_error_nomem(ctx);
        else
            sqlite3_result_null(ctx);
        return;
    }
    char hex[17];
    dml__db_hash_hex((const char *)text, hex);
    sqlite3_result_text(ctx, hex, 16, SQLITE_TRANSIENT);
}

int dml__plan_hash_register(sqlite3 *conn)
{
    return sqlite3_create_function_v2(conn, "dml_plan_hash", 1,
                                      SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                                      NULL, plan_hash, NULL, NULL, NULL);
}
