/*
 * record.c: one transaction for model, cluster and plans (see record.h).
 */
#include "planner/record.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/plan_store.h"
#include "db/spec_store.h"

/* Specs compact and sorted: the text the executor records for the same
 * model, so both find one models row. */
static char *dumps(json_t *j)
{
    char *t = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    return t;
}

/* A plan in file order, as --out writes it. */
static char *dumps_plan(json_t *j)
{
    char *t = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return t;
}

static dml_status record_specs(dml_db *db, const dml_planner *p,
                               int64_t *model_id, int64_t *cluster_id,
                               dml_error *err)
{
    char *mtext = dumps(dml_model_spec_to_json(&p->model));
    char *ctext = dumps(dml_cluster_spec_to_json(&p->cluster));
    dml_status s = DML_OK;
    if (!mtext || !ctext)
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (s == DML_OK) {
        dml_db_model m;
        memset(&m, 0, sizeof m);
        snprintf(m.name, sizeof m.name, "%s", p->model.name);
        snprintf(m.type, sizeof m.type, "%s",
                 p->model.type == DML_MODEL_MLP ? "mlp" : "transformer");
        m.spec_json = mtext;
        s = dml_db_record_model(db, &m, model_id, err);
    }
    if (s == DML_OK && p->cluster_db_id > 0 && p->req.nodes <= 0) {
        /* --cluster this, unscaled: the row dml-probe wrote */
        *cluster_id = p->cluster_db_id;
    } else if (s == DML_OK) {
        dml_db_cluster c;
        memset(&c, 0, sizeof c);
        snprintf(c.name, sizeof c.name, "%s", p->cluster.name);
        snprintf(c.fingerprint, sizeof c.fingerprint, "%s",
                 p->cluster.fingerprint);
        snprintf(c.source, sizeof c.source, "%s",
                 p->cluster.source[0] ? p->cluster.source : "user");
        c.spec_json = ctext;
        s = dml_db_record_cluster(db, &c, 0, cluster_id, err);
    }
    free(mtext);
    free(ctext);
    return s;
}

static dml_status record_plan(dml_db *db, int64_t model_id,
                              int64_t cluster_id, int64_t calibration_id,
                              dml_planned *pl, dml_error *err)
{
    const dml_plan *plan = &pl->plan;
    char *text = dumps_plan(dml_plan_to_json(plan));
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_db_plan r;
    memset(&r, 0, sizeof r);
    r.model_id = model_id;
    r.cluster_id = cluster_id;
    dml_db_plan_config *c = &r.config;
    c->dp = plan->par.dp;
    c->tp = plan->par.tp;
    c->pp = plan->par.pp;
    c->v = plan->par.v;
    c->mbs = (int)plan->par.mbs;
    c->microbatches = (int)plan->par.microbatches;
    c->global_batch = plan->sched.global_batch;
    c->zero = plan->par.zero;
    snprintf(c->recompute, sizeof c->recompute, "%s",
             dml_recompute_name(plan->par.recompute));
    c->sp = plan->par.sp;
    snprintf(c->schedule, sizeof c->schedule, "%s",
             dml_pp_schedule_name(plan->par.schedule));
    c->threads_per_rank = plan->par.threads_per_rank;
    snprintf(c->framework, sizeof c->framework, "%s",
             dml_framework_name(plan->par.framework));
    snprintf(c->attention, sizeof c->attention, "%s",
             dml_attention_name(plan->par.attention));
    dml_sync_spec_format(&plan->par.sync, c->sync, sizeof c->sync);
    snprintf(c->balance, sizeof c->balance, "%s",
             dml_balance_name(plan->par.balance));
    r.predicted_step_s = plan->pred.step_s;
    r.predicted_mem_bytes = plan->pred.mem_bytes_per_device;
    r.predicted_tokens_per_s = plan->pred.tokens_per_s;
    r.mfu = plan->pred.mfu;
    r.calibration_id = calibration_id;
    r.plan_json = text;
    int64_t id = 0;
    dml_status s = dml_db_record_plan(db, &r, &id, err);
    free(text);
    if (s == DML_OK)
        pl->plan.db_plan_id = id;
    return s;
}

dml_status dml_planner_record_one(dml_db *db, const dml_planner *p,
                                  dml_planned *pl, int64_t calibration_id,
                                  dml_error *err)
{
    DML_CHECK(dml_db_begin(db, err));
    int64_t model_id = 0, cluster_id = 0;
    dml_status s = record_specs(db, p, &model_id, &cluster_id, err);
    if (s == DML_OK)
        s = record_plan(db, model_id, cluster_id, calibration_id, pl, err);
    if (s == DML_OK)
        s = dml_db_commit(db, err);
    if (s != DML_OK) {
        dml_db_rollback(db);
        pl->plan.db_plan_id = 0;
    }
    return s;
}

dml_status dml_planner_record(dml_db *db, dml_planner *p, dml_error *err)
{
    DML_CHECK(dml_db_begin(db, err));
    int64_t model_id = 0, cluster_id = 0;
    dml_status s = record_specs(db, p, &model_id, &cluster_id, err);
    for (int i = 0; s == DML_OK && i < p->count; i++)
        s = record_plan(db, model_id, cluster_id, p->req.calibration_id,
                        &p->plans[i], err);
    if (s == DML_OK)
        s = dml_db_commit(db, err);
    if (s != DML_OK) {
        dml_db_rollback(db);
        for (int i = 0; i < p->count; i++)
            p->plans[i].plan.db_plan_id = 0;
    }
    return s;
}
