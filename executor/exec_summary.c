/*
 * exec_summary.c: a dml-exec run read from outside the training loop: the
 * --json summary (docs/schemas/exec-run.schema.json) and the accessors
 * the tools and benchmarks use (exec.h).
 */
#include <math.h>
#include <stdlib.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/stats.h"
#include "costmodel/plan.h"
#include "executor/exec_internal.h"
#include "executor/optim.h"

static json_t *accuracy_curve(const dml_exec *x)
{
    json_t *a = json_array();
    for (int64_t i = 0; i < x->nrun; i++)
        if (isfinite(x->rec.accuracy[i]))
            json_array_append_new(
                a, json_pack("{s:I, s:f}", "steps",
                             (json_int_t)(x->first_step + i + 1),
                             "test_accuracy", x->rec.accuracy[i]));
    return a;
}

json_t *dml_exec_summary(const dml_exec *x)
{
    if (x->g.rank != 0)
        return NULL;
    const dml_plan *p = &x->in.plan;
    const dml_parallel_config *c = &p->par;
    json_t *losses = json_array();
    for (int64_t i = 0; i < x->nrun; i++)
        json_array_append_new(losses, json_real(x->rec.loss[i]));
    json_t *noise = json_array();
    for (int64_t i = 0; i < x->nrun; i++)
        json_array_append_new(noise, isfinite(x->rec.noise[i])
                                         ? json_real(x->rec.noise[i])
                                         : json_null());
    json_t *layout = json_pack(
        "{s:i, s:i, s:i, s:i, s:I, s:I, s:s, s:i, s:i}", "dp", c->dp, "tp",
        c->tp, "pp", c->pp, "zero", c->zero, "mbs", (json_int_t)c->mbs,
        "microbatches", (json_int_t)c->microbatches, "schedule",
        dml_pp_schedule_name(c->schedule), "threads_per_rank",
        x->opt.threads > 0 ? x->opt.threads : c->threads_per_rank, "ranks",
        x->g.world_size);
#define NUM(v) (isfinite(v) ? json_real(v) : json_null())
    json_t *j = json_pack(
        "{s:i, s:s, s:s, s:o, s:s, s:I, s:s, s:I, s:I, s:o, s:o, s:o, s:o, "
        "s:o, s:o}",
        "schema_version", 1, "kind", "dml-exec-run", "model", p->model.name,
        "layout", layout, "optimizer", dml_optimizer_name(x->up.hp.kind),
        "global_batch", (json_int_t)p->sched.global_batch, "shuffle",
        x->opt.shuffle ? "epoch" : "none", "first_step",
        (json_int_t)x->first_step, "steps",
        (json_int_t)(x->first_step + x->nrun), "losses", losses,
        "noise_scale", noise, "median_step_s", NUM(x->median_step_s),
        "predicted_step_s",
        p->pred.present ? json_real(p->pred.step_s) : json_null(),
        "test_accuracy", NUM(x->test_accuracy), "run_id",
        x->rec.run_id > 0 ? json_integer(x->rec.run_id) : json_null());
    if (j) {
        json_object_set_new(j, "seed", json_integer((json_int_t)x->opt.seed));
        json_object_set_new(j, "accuracy", accuracy_curve(x));
        json_object_set_new(j, "balance",
                            dml_balance_run_json(&x->bal, p, &x->shares));
        json_object_set_new(j, "max_staleness",
                            x->max_staleness >= 0
                                ? json_integer((json_int_t)x->max_staleness)
                                : json_null());
        /* gossip: the last consensus distance, and what its measures
         * sent (this rank; not in bytes_per_step) */
        if (isfinite(x->consensus))
            json_object_set_new(j, "consensus", json_real(x->consensus));
        if (x->sync && x->sync->strategy == &dml_sync_decentral)
            json_object_set_new(
                j, "consensus_bytes",
                json_real(dml_sync_gossip_consensus_bytes(x->sync)));
    }
    /* one definition with the runs row (run_record.h): per_replica is
     * runs.dp_bytes_*_per_step, the job's the same per-rank means summed */
    const dml_run_record *r = &x->rec;
    if (j)
        json_object_set_new(
            j, "bytes_per_step",
            json_pack("{s:o, s:o, s:{s:o, s:o}}", "intra_node",
                      NUM(r->dp_job_intra), "inter_node",
                      NUM(r->dp_job_inter), "per_replica", "intra_node",
                      NUM(r->dp_bytes_intra), "inter_node",
                      NUM(r->dp_bytes_inter)));
#undef NUM
    return j;
}

const double *dml_exec_losses(const dml_exec *x, int64_t *first, int64_t *n)
{
    *first = x->first_step;
    *n = x->nrun;
    return x->g.rank == 0 ? x->rec.loss : NULL;
}

const dml_gemm_timer *dml_exec_gemm_profile(const dml_exec *x,
                                            int64_t *steps)
{
    *steps = x->gemm_steps;
    return &x->gemm_prof;
}

MPI_Comm dml_exec_dp_comm(const dml_exec *x)
{
    return x->g.dp;
}

dml_status dml_exec_bench_dp_sync(dml_exec *x, int reps, double *median_s,
                                  double *bytes, dml_error *err)
{
    double *t = calloc((size_t)(reps > 0 ? reps : 1), sizeof(double));
    if (!t)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int r = 0; r < reps; r++) {
        dml_sync_begin_step(x->sync, NULL, NULL);
        MPI_Barrier(x->g.dp);
        double t0 = dml_clock_now_s();
        dml_sync_reduce_finish(x->sync);
        dml_sync_step_finish(x->sync);
        t[r] = dml_clock_now_s() - t0;
    }
    *median_s = dml_stats_median(t, (size_t)reps);
    *bytes = (double)x->st.nflat * sizeof(float);
    free(t);
    return DML_OK;
}

const char *dml_exec_sync_name(const dml_exec *x)
{
    return x->sync->strategy->name;
}

void dml_exec_sync_bytes(const dml_exec *x, double *intra_node,
                         double *inter_node)
{
    *intra_node = x->sync->sent.intra_node;
    *inter_node = x->sync->sent.inter_node;
}
