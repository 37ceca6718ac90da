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
#include "rows/rows.h"

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
        dml_rows_model(&p->model, mtext, &m);
        s = dml_db_record_model(db, &m, model_id, err);
    }
    if (s == DML_OK && p->cluster_db_id > 0 && p->req.nodes <= 0) {
        /* --cluster this, unscaled: the row dml-probe wrote */
        *cluster_id = p->cluster_db_id;
    } else if (s == DML_OK) {
        dml_db_cluster c;
        dml_rows_cluster(p->cluster.name, p->cluster.fingerprint,
                         p->cluster.source, ctext, &c);
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
    dml_rows_plan_config(plan, &r.config);
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
