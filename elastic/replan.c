/*
 * replan.c: a supervised job's plan for the ranks it has (see replan.h).
 */
#include "elastic/replan.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "costmodel/plan.h"
#include "costmodel/sync_spec.h"
#include "db/once.h"
#include "planner/planner.h"

/* The plan's model as a spec file the planner reads. */
static dml_status write_model(const dml_plan *orig, const char *path,
                              dml_error *err)
{
    json_t *j = dml_plan_to_json(orig);
    json_t *m = j ? json_object_get(j, "model") : NULL;
    char *text = m ? json_dumps(m, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
                   : NULL;
    json_decref(j);
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = dml_file_write_atomic(path, text, strlen(text), err);
    free(text);
    return s;
}

/* Search for ranks devices with the knobs fixed as replan.h says. */
static dml_status plan_once(const dml_plan *orig, const char *model_path,
                            const char *cluster, dml_db *db,
                            int ranks, int zero, dml_planner **out,
                            dml_error *err)
{
    dml_planner_request req;
    dml_planner_request_init(&req);
    req.model = model_path;
    req.cluster = cluster ? cluster : orig->cluster_name;
    /* the supervisor's connection, not a second one of the planner's */
    dml_db_once once = {.path = dml_db_path(db), .db = db};
    if (db) {
        req.db_path = once.path;
        req.db = &once;
    }
    req.devices = ranks;
    req.global_batch = orig->sched.global_batch;
    req.top_k = 1;
    req.optimizer = orig->sched.optimizer;
    char sync[64], knobs[256];
    dml_sync_spec_format(&orig->par.sync, sync, sizeof sync);
    snprintf(knobs, sizeof knobs,
             "recompute=none,zero=%d,schedule=%s,threads=%d,"
             "sync=%s",
             zero, dml_pp_schedule_name(orig->par.schedule),
             orig->par.threads_per_rank > 0 ? orig->par.threads_per_rank : 1,
             sync);
    DML_CHECK(dml_planner_config_parse(knobs, "re-plan", &req.config, err));
    DML_CHECK(dml_planner_new(&req, out, err));
    dml_status s = dml_planner_run(*out, err);
    if (s != DML_OK) {
        dml_planner_free(*out);
        *out = NULL;
    }
    return s;
}

dml_status dml_elastic_replan(const char *plan_path, const char *cluster,
                              dml_db *db, int ranks,
                              const char *out_path, char *summary,
                              size_t size, dml_error *err)
{
    dml_plan *orig = malloc(sizeof *orig);
    if (!orig)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status s = dml_plan_load(plan_path, orig, err);
    char model_path[1100];
    snprintf(model_path, sizeof model_path, "%s.model.json", out_path);
    if (s == DML_OK)
        s = write_model(orig, model_path, err);
    dml_planner *p = NULL;
    if (s == DML_OK) {
        s = plan_once(orig, model_path, cluster, db, ranks,
                      orig->par.zero > 1 ? 1 : orig->par.zero, &p, err);
        /* ZeRO-1 needs dp > 1: a layout without data parallelism may be
         * all that fits, and it has nothing to shard */
        if (s == DML_EINFEASIBLE && orig->par.zero != 0)
            s = plan_once(orig, model_path, cluster, db, ranks, 0, &p,
                          err);
    }
    if (s == DML_OK) {
        dml_plan *np = &p->plans[0].plan;
        np->model = orig->model;
        np->sched = orig->sched;
        const dml_parallel_config *c = &np->par;
        snprintf(summary, size,
                 "dp=%d tp=%d pp=%d zero=%d, mbs %lld x %lld micro-batches "
                 "(global batch %lld)",
                 c->dp, c->tp, c->pp, c->zero, (long long)c->mbs,
                 (long long)c->microbatches,
                 (long long)np->sched.global_batch);
        s = dml_planner_write_plan_file(out_path, np, err);
    }
    dml_planner_free(p);
    free(orig);
    return s;
}
