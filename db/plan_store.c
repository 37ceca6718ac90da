/*
 * plan_store.c: inserting and reading plans (see plan_store.h).
 */
#include "db/plan_store.h"

#include "db_internal.h"

dml_status dml_db_record_plan(dml_db *db, const dml_db_plan *plan,
                              int64_t *plan_id, dml_error *err)
{
    const dml_db_plan_config *c = &plan->config;
    dml__q q;
    DML_CHECK(dml__q_prepare(
        &q, db,
        "INSERT INTO plans (created_at, model_id, cluster_id, dp, tp, pp, v,\n"
        "  mbs, microbatches, global_batch, zero, recompute, sp, schedule,\n"
        "  threads_per_rank, framework, attention, predicted_step_s,\n"
        "  predicted_mem_bytes, predicted_tokens_per_s, mfu, calibration_id,\n"
        "  plan_json)\n"
        "VALUES (" DML__SQL_NOW ", :model, :cluster,\n"
        "  :dp, :tp, :pp, :v, :mbs, :mb, :gb, :zero,\n"
        "  coalesce(:recompute, 'none'), :sp, coalesce(:schedule, '1f1b'),\n"
        "  :threads, coalesce(:framework, 'megatron'),\n"
        "  coalesce(:attention, 'materialized'),\n"
        "  :step, :mem, :tps, :mfu, :calib, :json)\n"
        "RETURNING id",
        "recording plan", err));
    dml__q_id(&q, ":model", plan->model_id);
    dml__q_id(&q, ":cluster", plan->cluster_id);
    dml__q_i64(&q, ":dp", c->dp);
    dml__q_i64(&q, ":tp", c->tp);
    dml__q_i64(&q, ":pp", c->pp);
    dml__q_i64(&q, ":v", c->v);
    dml__q_i64(&q, ":mbs", c->mbs);
    dml__q_i64(&q, ":mb", c->microbatches);
    dml__q_i64(&q, ":gb", c->global_batch);
    dml__q_i64(&q, ":zero", c->zero);
    dml__q_opt(&q, ":recompute", c->recompute);
    dml__q_i64(&q, ":sp", c->sp ? 1 : 0);
    dml__q_opt(&q, ":schedule", c->schedule);
    dml__q_i64(&q, ":threads", c->threads_per_rank);
    dml__q_opt(&q, ":framework", c->framework);
    dml__q_opt(&q, ":attention", c->attention);
    dml__q_f64(&q, ":step", plan->predicted_step_s);
    dml__q_f64(&q, ":mem", plan->predicted_mem_bytes);
    dml__q_f64(&q, ":tps", plan->predicted_tokens_per_s);
    dml__q_f64(&q, ":mfu", plan->mfu);
    dml__q_id(&q, ":calib", plan->calibration_id);
    dml__q_opt(&q, ":json", plan->plan_json);
    return dml__q_once_id(&q, plan_id, err);
}

dml_status dml_db_plan_json(dml_db *db, int64_t plan_id, char **plan_json,
                            dml_error *err)
{
    return dml__db_read_text(db, "SELECT plan_json FROM plans WHERE id = :id",
                             "plan", plan_id, plan_json, err);
}
