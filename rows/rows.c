/*
 * rows.c: plans, models and clusters as database rows (see rows.h).
 */
#include "rows/rows.h"

#include <stdio.h>
#include <string.h>

void dml_rows_plan_config(const dml_plan *plan, dml_db_plan_config *c)
{
    const dml_parallel_config *par = &plan->par;
    memset(c, 0, sizeof *c);
    c->dp = par->dp;
    c->tp = par->tp;
    c->pp = par->pp;
    c->v = par->v;
    c->mbs = (int)par->mbs;
    c->microbatches = (int)par->microbatches;
    c->global_batch = plan->sched.global_batch;
    c->zero = par->zero;
    snprintf(c->recompute, sizeof c->recompute, "%s",
             dml_recompute_name(par->recompute));
    c->sp = par->sp;
    snprintf(c->schedule, sizeof c->schedule, "%s",
             dml_pp_schedule_name(par->schedule));
    c->threads_per_rank = par->threads_per_rank;
    /* what the plan says, not the columns' defaults: the runtime it was
     * priced for, its kernel and its strategy */
    snprintf(c->framework, sizeof c->framework, "%s",
             dml_framework_name(par->framework));
    snprintf(c->attention, sizeof c->attention, "%s",
             dml_attention_name(par->attention));
    dml_sync_spec_format(&par->sync, c->sync, sizeof c->sync);
    snprintf(c->balance, sizeof c->balance, "%s",
             dml_balance_name(par->balance));
}

void dml_rows_model(const dml_model_spec *m, const char *spec_json,
                    dml_db_model *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", m->name);
    snprintf(out->type, sizeof out->type, "%s",
             m->type == DML_MODEL_MLP ? "mlp" : "transformer");
    out->spec_json = spec_json;
}

void dml_rows_cluster(const char *name, const char *fingerprint,
                      const char *source, const char *spec_json,
                      dml_db_cluster *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    snprintf(out->fingerprint, sizeof out->fingerprint, "%s", fingerprint);
    snprintf(out->source, sizeof out->source, "%s",
             source && source[0] ? source : "user");
    out->spec_json = spec_json;
}
