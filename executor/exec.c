/*
 * exec.c: the training loop of dml-exec (see exec.h).
 *
 * Reading order: the parts a run is made of (struct dml_exec, in
 * exec_internal.h), setting them up (dml_exec_open), one step (step_run:
 * next batch, forward and backward through the pipeline schedule, the
 * gradient exchange, the optimizer), the loop over the steps (train:
 * each step recorded and checkpointed), and what follows (run_end:
 * evaluation, the weight file, the run's end in the database). Each part
 * lives in its own file with its own struct; this file only calls them in
 * order (the --json summary and the accessors: exec_summary.c). The run's
 * life as a state diagram, with the function behind each transition:
 * run_state.h.
 */
#include "executor/exec.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/stats.h"
#include "costmodel/plan.h"
#include "db/db.h"
#include "executor/balance_run.h"
#include "executor/ckpt_job.h"
#include "executor/data.h"
#include "executor/federated/fed_train.h"
#include "executor/groups.h"
#include "executor/guard.h"
#include "executor/heartbeat.h"
#include "executor/input.h"
#include "executor/limits.h"
#include "executor/noise.h"
#include "executor/optim.h"
#include "executor/pipeline.h"
#include "executor/run_record.h"
#include "executor/shares.h"
#include "executor/stage.h"
#include "executor/step_lag.h"
#include "executor/sync/sync.h"
#include "executor/update.h"
#include "executor/weights.h"

#include "executor/exec_internal.h"

void dml_exec_options_init(dml_exec_options *o)
{
    memset(o, 0, sizeof *o);
    o->steps = -1;
    o->seed = 1;
}

void dml_exec_mpi_preinit(void)
{
    setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0);
}

/* ---- setting up ------------------------------------------------------------ */

static dml_status load_data(dml_exec *x, dml_error *err)
{
    bool imgs = x->st.is_first, lbls = x->st.is_last;
    const dml_mlp_shape *s = &x->in.shape;
    int classes = (int)s->widths[s->layers];
    if (dml_input_synthetic(&x->opt)) {
        DML_CHECK(dml_data_synthetic(0, DML_DATA_SYNTHETIC_TRAIN,
                                     s->widths[0], classes, imgs, lbls,
                                     &x->train, err));
        DML_CHECK(dml_data_synthetic(1, DML_DATA_SYNTHETIC_TEST,
                                     s->widths[0], classes, imgs, lbls,
                                     &x->test, err));
    } else {
        const char *dir = dml_input_data_dir(&x->opt);
        DML_CHECK(dml_data_load_idx(dir, "train", imgs, lbls, classes,
                                    &x->train, err));
        DML_CHECK(dml_data_load_idx(dir, "t10k", imgs, lbls, classes,
                                    &x->test, err));
    }
    return dml_data_order_init(&x->order, x->train.n, x->opt.shuffle,
                               x->opt.seed, err);
}

/* The first weights: --init-weights, or the seeded initialisation. */
static dml_status init_weights(dml_exec *x, dml_error *err)
{
    if (!x->opt.init_weights) {
        dml_stage_init_weights(&x->st, x->opt.seed);
        return DML_OK;
    }
    float *full = NULL;
    DML_CHECK(dml_weights_read(x->opt.init_weights, &x->in.shape, &full,
                               err));
    dml_stage_load_full(&x->st, &x->in.model, full);
    free(full);
    return DML_OK;
}

/* Every rank's parts, from the plan. Only dml_groups_split communicates,
 * and it comes first: a rank that fails later cannot leave the others
 * waiting in a collective (they all meet in the agreement after this). */
static dml_status setup(dml_exec *x, dml_error *err)
{
    const dml_plan *p = &x->in.plan;
    const dml_groups *g = &x->g;
    DML_CHECK(dml_groups_split(&x->g, p, err));
    int threads = x->opt.threads > 0 ? x->opt.threads
                                     : p->par.threads_per_rank;
    /* Before anything of size is allocated: OpenBLAS hangs instead of
     * failing when it cannot map its buffer (limits.h). */
    DML_CHECK(dml_limits_start_blas(threads > 0 ? threads : 1, err));
    const dml_stage_range *r = &p->stages[g->pp_i];
    DML_CHECK(dml_stage_init(&x->st, &x->in.model, (int)r->first_layer,
                             (int)r->last_layer, g->tp_size, g->tp_i, g->tp,
                             (size_t)g->dp_size, err));
    DML_CHECK(load_data(x, err));
    DML_CHECK(dml_sync_open(dml_sync_strategy_for(&p->par, g->dp_size),
                            &p->par.sync, x->opt.seed, &x->st, g->dp,
                            &g->dp_nodes,
                            x->opt.bucket_bytes ? x->opt.bucket_bytes
                                                : DML_EXEC_BUCKET_BYTES,
                            &x->sync, err));
    dml_sync_take_momentum(x->sync, &p->sched);
    DML_CHECK(dml_update_init(&x->up, &p->sched, &x->st, x->sync, g->tp,
                              err));
    DML_CHECK(dml_shares_init(&x->shares, p, err));
    DML_CHECK(dml_balance_run_init(&x->bal, p, g->dp_size, g->dp_i, g->rank,
                                   &x->shares, err));
    DML_CHECK(dml_step_lag_init(&x->lag, x->sync->lag,
                                dml_balance_run_replicas(&x->bal), g->world,
                                err));
    DML_CHECK(dml_noise_init(&x->noise, &x->st, g->dp_size,
                             x->shares.max_mb, err));
    /* replicas of unequal batches are not the small batches B/dp the
     * estimate compares */
    x->noise.uneven = x->shares.uneven;
    DML_CHECK(dml_pipeline_init(&x->pipe, &x->st, g->pp, p->par.schedule,
                                p->par.mbs, x->shares.max_mb,
                                DML_INPUT_EVAL_ROWS_MAX, x->sync, &x->noise,
                                err));
    if (x->opt.steps >= 0)
        x->steps_total = x->opt.steps;
    else if (p->sched.warmup_steps + p->sched.decay_steps > 0)
        x->steps_total = p->sched.warmup_steps + p->sched.decay_steps;
    else
        x->steps_total = 100;
    DML_CHECK(dml_run_record_history(&x->rec, x->steps_total, err));
    dml_ckpt_job_init(&x->ckpt, x->opt.checkpoint_dir, g, p, x->in.identity,
                      x->opt.seed, x->opt.shuffle, &x->in.model, &x->st,
                      &x->up, x->sync, &x->rec);
    return init_weights(x, err);
}

dml_status dml_exec_open(const dml_exec_options *o, MPI_Comm world,
                         dml_exec **out, dml_error *err)
{
    *out = NULL;
    dml_exec *x = calloc(1, sizeof *x);
    if (!x)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    x->opt = *o;
    dml_groups_init(&x->g, world);
    dml_run_record_init(&x->rec, x->g.rank, x->g.world_size);
    x->test_accuracy = NAN;
    x->median_step_s = NAN;
    x->eval_step = -1;
    x->max_staleness = -1;
    x->consensus = NAN;
    /* Past a file size limit (ulimit -f) a write should fail with EFBIG,
     * which the checkpoint and weight writers report, rather than the
     * process dying of SIGXFSZ with the job half written. */
    signal(SIGXFSZ, SIG_IGN);
    dml_input_init(&x->in);
    /* Rank 0 judges the input (and opens the database) before any other
     * MPI work; the verdict travels first. */
    dml_status s = DML_OK;
    if (x->g.rank == 0) {
        s = dml_input_check(&x->in, o, x->g.world_size, err);
        if (s == DML_OK)
            s = dml_db_open(dml_db_default_path(o->db_path), &x->rec.db,
                            err);
    }
    s = dml_groups_agree(world, s, err);
    if (s == DML_OK)
        s = dml_input_share(&x->in, o, world, err);
    if (s == DML_OK)
        s = setup(x, err);
    s = dml_groups_agree(world, s, err);
    if (s != DML_OK) {
        dml_exec_close(x);
        return s;
    }
    *out = x;
    return DML_OK;
}

void dml_exec_close(dml_exec *x)
{
    if (!x)
        return;
    dml_heartbeat_close(x->hb, x->first_step + x->nrun, "failed");
    dml_pipeline_free(&x->pipe);
    dml_noise_free(&x->noise);
    dml_shares_free(&x->shares);
    dml_balance_run_free(&x->bal);
    dml_update_free(&x->up);
    dml_step_lag_free(&x->lag);
    dml_sync_close(x->sync);
    dml_stage_free(&x->st);
    dml_dataset_free(&x->train);
    dml_dataset_free(&x->test);
    dml_data_order_free(&x->order);
    dml_run_record_free(&x->rec);
    dml_interrupt_restore();
    dml_groups_free(&x->g);
    dml_input_free(&x->in);
    free(x);
}

/* ---- one step ---------------------------------------------------------------- */

/* The step's batch: its size (the plan's batch ramp), this replica's
 * micro-batch count (its share, shares.h) and its slice of the training
 * stream, after the slices of the replicas before it. */
static dml_batch next_batch(dml_exec *x, int64_t step)
{
    const dml_plan *p = &x->in.plan;
    int64_t before = 0;
    int64_t m = dml_shares_at(&x->shares, p, step, x->g.dp_i, &before);
    return (dml_batch){
        .data = &x->train,
        .order = &x->order,
        .first = x->samples_seen + before * p->par.mbs,
        .global_batch = dml_plan_global_batch_at(p, step),
        .microbatches = (int)m,
    };
}

/* This rank's share of the step's statistics, before they are summed. */
static void step_stats(const dml_exec *x, double optimizer_s,
                       dml_step_stats *s)
{
    s->loss_sum = x->st.is_last && x->g.tp_i == 0 ? x->pipe.loss_sum : 0.0;
    s->compute_s = x->pipe.tm.compute_s;
    s->tp_comm_s = x->pipe.tm.tp_comm_s;
    s->pp_comm_s = x->pipe.pp_comm_s;
    s->idle_s = x->pipe.idle_s;
    s->dp_comm_s = x->sync->comm_s;
    s->optimizer_s = optimizer_s;
    /* Cheap next to the step's GEMMs: one pass over the parameters. */
    s->nonfinite =
        (double)dml_guard_count_nonfinite(x->st.params, x->st.nflat);
}

/* This rank's times of the step, and its GEMMs after the warm-up step. */
static void note_rank_times(dml_exec *x, int64_t step, double step_s,
                            const dml_step_stats *mine)
{
    dml_run_record_rank_step(&x->rec, step - x->first_step, step_s,
                             mine->compute_s,
                             mine->tp_comm_s + mine->pp_comm_s +
                                 mine->dp_comm_s,
                             mine->idle_s);
    dml_run_record_dp_bytes(&x->rec, x->sync->sent.intra_node,
                            x->sync->sent.inter_node);
    if (step == x->first_step)
        return;
    const dml_gemm_timer *t = &x->pipe.tm.gemm;
    x->gemm_prof.time_s += t->time_s;
    x->gemm_prof.flop += t->flop;
    x->gemm_prof.calls += t->calls;
    x->gemm_steps++;
    if (t->record_shapes) {
        x->gemm_prof.nshapes = t->nshapes;
        memcpy(x->gemm_prof.shapes, t->shapes, sizeof x->gemm_prof.shapes);
    }
}

/* The optimizer applies what the exchange hands it (sync.h,
 * next_update): the step's own reduced gradient, or (ssp:S) each earlier
 * step's whose sum has arrived, with that step's count and rate. drain:
 * everything in flight, so that the replicas hold one model. */
static void apply_updates(dml_exec *x, int64_t step, bool drain)
{
    int64_t u;
    while (dml_sync_next_update(x->sync, step, drain, &u))
        dml_update_step(&x->up, u, dml_optim_lr_at(&x->in.plan.sched, u));
}

/* One step; its statistics start their reduction over all ranks
 * (step_lag.h: summed at once, or read `lag` steps later, so that a
 * stale-synchronous exchange does not make every rank wait for the
 * slowest at every step; the signal any rank has received rides on the
 * same reduction, so every rank learns it at the same step and none is
 * left in a collective waiting for a rank that has left: executor/
 * README.md, "Stopping"). point: a checkpoint, evaluation or the last
 * step follows, where the exchange drains (and, after the last step,
 * finishes: local SGD's last average), inside the step's time. */
static void step_run(dml_exec *x, int64_t step, dml_batch *b, bool point,
                     bool last)
{
    x->pipe.tm.gemm.record_shapes = step == x->first_step + 1;
    double t0 = dml_clock_now_s();
    *b = next_batch(x, step);
    dml_noise_begin_step(&x->noise, b->global_batch, b->microbatches);
    dml_sync_begin_step(x->sync,
                        x->noise.measure ? dml_noise_pre_reduce : NULL,
                        &x->noise);

    memset(x->st.grads, 0, x->st.nflat * sizeof(float));  /* zero grad */
    dml_pipeline_run(&x->pipe, b);       /* forward, backward */
    dml_sync_reduce_finish(x->sync);     /* the gradient exchange */
    dml_pipeline_drain(&x->pipe);
    double t1 = dml_clock_now_s(), c1 = x->sync->comm_s;
    apply_updates(x, step, point);       /* the optimizer */
    double optimizer_s = dml_clock_now_s() - t1 - (x->sync->comm_s - c1);
    dml_sync_step_finish(x->sync);       /* ZeRO-1: gather the parameters */
    if (last)
        dml_sync_finish(x->sync);        /* local SGD: the last average */
    x->samples_seen += b->global_batch;

    /* ---- diagnostics: nothing below changes the model ---- */
    if (!x->sync->grad_summed) /* no replica saw the summed gradient */
        x->noise.measure = false;
    dml_step_stats mine;
    dml_noise_shares(&x->noise, &x->up, x->sync->replicas,
                     &mine.noise_small, &mine.noise_big);
    double step_s = dml_clock_now_s() - t0;
    step_stats(x, optimizer_s, &mine);
    double mx[DML_STEP_MAX_ALL] = {
        [DML_STEP_MAX_S] = step_s,
        [DML_STEP_MAX_SIGNAL] = (double)dml_interrupt_signal(),
        [DML_STEP_MAX_STALENESS] =
            isfinite(x->sync->staleness) ? x->sync->staleness : -1.0,
        [DML_STEP_MAX_CONSENSUS] =
            isfinite(x->sync->consensus) ? x->sync->consensus : -1.0,
        [DML_STEP_MAX_STOP_ASKED] = x->stop_asked ? 1.0 : 0.0};
    dml_balance_run_figures(&x->bal, mx, x->pipe.tm.compute_s,
                            x->sync->comm_s, b->microbatches);
    dml_step_lag_push(&x->lag, step, b->global_batch, &mine, mx);
    note_rank_times(x, step, step_s, &mine);
}

/* ---- the steps ---------------------------------------------------------------- */

/* What ended the steps early, when something did. */
typedef struct train_end {
    char failure[256];         /* why the numbers stopped the run, or "" */
    const char *failure_kind;  /* its event: "nan" or "diverged" */
    bool interrupted;          /* a signal stopped the steps (and nothing
                                  else failed): recorded as interrupted */
} train_end;

/* Test-set accuracy of the replicas as they are (collective). */
static double evaluate_now(dml_exec *x);

/* A step whose sums over the ranks have arrived: into the history and
 * the database (rank 0), its signal noted, its numbers checked; true
 * when they stop the run (the first failure is kept in end). */
static bool finish_step(dml_exec *x, const dml_step_lag_entry *e,
                        train_end *end, int *stop, dml_progress *prog)
{
    int64_t i = e->step - x->first_step;
    double loss = e->sum.loss_sum / (double)e->global_batch;
    if (i == 0)
        x->first_loss = loss;
    double stale = e->max[DML_STEP_MAX_STALENESS];
    if (stale > x->max_staleness)
        x->max_staleness = stale;
    double consensus = e->max[DML_STEP_MAX_CONSENSUS];
    if (consensus >= 0)
        x->consensus = consensus;
    if (x->g.rank == 0) {
        dml_run_record_step(
            &x->rec, i, e->step, loss,
            dml_optim_lr_at(&x->in.plan.sched, e->step), e->global_batch,
            &e->sum, e->max[DML_STEP_MAX_S],
            dml_noise_scale(&x->noise, e->sum.noise_small,
                            e->sum.noise_big),
            stale >= 0 ? stale : NAN,
            e->step == x->eval_step ? x->eval_accuracy : NAN,
            consensus >= 0 ? consensus : NAN);
        dml_progress_step(prog, (long)(i + 1), NULL);
    }
    dml_balance_run_step(&x->bal, e, &x->shares, &x->noise, &x->rec);
    if (!*stop)
        *stop = (int)e->max[DML_STEP_MAX_SIGNAL];
    if (!*stop && e->max[DML_STEP_MAX_STOP_ASKED] > 0)
        *stop = DML_EXEC_STOP_ASKED;
    if (end->failure[0])
        return true;
    return dml_guard_step_failed(e->step, loss, e->sum.nonfinite,
                                 x->first_loss, end->failure,
                                 sizeof end->failure, &end->failure_kind);
}

/* Every step whose sums are due (all: every step in flight); true when
 * the numbers of one of them stop the run. */
static bool finish_due(dml_exec *x, int64_t step, bool all, train_end *end,
                       int *stop, dml_progress *prog)
{
    bool failed = false;
    dml_step_lag_entry e;
    while (dml_step_lag_pop(&x->lag, step, all, &e))
        failed = finish_step(x, &e, end, stop, prog) || failed;
    return failed;
}

/* The steps of this invocation: each run, recorded and checked (as soon
 * as its sums over the ranks arrive: step_lag.h), evaluated and
 * checkpointed when due (and at a stop, so nothing is lost). A
 * checkpoint, an evaluation and the last step are collective points,
 * where the exchange drains and every step's sums are read. */
static dml_status train(dml_exec *x, train_end *end, dml_error *err)
{
    dml_status s = DML_OK;
    dml_progress prog;
    dml_progress_begin(&prog, "training",
                       (long)(x->steps_total - x->first_step),
                       x->g.rank == 0 && !x->opt.quiet_progress);
    int64_t every = x->opt.checkpoint_every, evals = x->opt.eval_every;
    for (int64_t step = x->first_step; step < x->steps_total; step++) {
        dml_batch b;
        int stop = 0;
        bool last = step + 1 == x->steps_total;
        bool ckpt_due = every > 0 && (step + 1) % every == 0;
        bool eval_due = evals > 0 && (step + 1) % evals == 0;
        bool point = last || ckpt_due || eval_due;
        /* a supervisor's request to stop: looked at only where a
         * checkpoint is due, so the run stops right after writing it */
        x->stop_asked = ckpt_due && !last && x->g.rank == 0 &&
                        dml_ckpt_stop_requested(x->ckpt.root);
        dml_heartbeat_step(x->hb, step, "running");
        step_run(x, step, &b, point, last);
        x->nrun++;
        x->rec.steps_done = x->first_step + x->nrun;
        if (eval_due) {
            x->eval_accuracy = evaluate_now(x);
            x->eval_step = step;
        }
        bool failed = finish_due(x, step, point, end, &stop, &prog);
        if ((stop || failed) && !point && x->lag.count > 0) {
            /* every rank learnt it from the same step's sums: stop here
             * together, with one model and every step read */
            apply_updates(x, step, true);
            failed = finish_due(x, step, true, end, &stop, &prog) || failed;
        }
        if (failed)
            break;
        x->stop_signal = stop;
        bool due = every > 0 && (stop || ckpt_due);
        if (due && x->ckpt.last != step + 1) {
            /* the checkpoint's steps are in the record first */
            dml_run_record_flush(&x->rec, false);
            dml_heartbeat_step(x->hb, step + 1, "ckpt");
            s = dml_ckpt_job_write(&x->ckpt, step + 1, x->samples_seen, err);
            x->stop_ckpt = stop && s == DML_OK;
        }
        if (stop || s != DML_OK)
            break;
    }
    dml_progress_end(&prog);
    return s;
}

/* After the steps: a signal after the last step boundary still stops the
 * run before its evaluation (one after this point is too late to
 * matter); a failure or a stop becomes the run's error and event. */
static dml_status steps_outcome(dml_exec *x, dml_status s, train_end *end,
                                dml_error *err)
{
    if (s == DML_OK && !end->failure[0] && !x->stop_signal) {
        int mine = dml_interrupt_signal();
        MPI_Allreduce(&mine, &x->stop_signal, 1, MPI_INT, MPI_MAX,
                      x->g.world);
    }
    dml_run_record_flush(&x->rec, false);
    if (end->failure[0]) {
        dml_run_record_event(&x->rec, end->failure_kind,
                             x->first_step + x->nrun - 1, end->failure);
        s = dml_error_msg(err, DML_ERUNTIME, "%s", end->failure);
    }
    end->interrupted = s == DML_OK && x->stop_signal != 0;
    if (!end->interrupted)
        return s;
    if (x->stop_signal == DML_EXEC_STOP_ASKED)
        return dml_ckpt_job_stopped(&x->ckpt, x->first_step + x->nrun,
                                    x->steps_total, x->stop_ckpt, err);
    char ck[96] = "";
    if (x->stop_ckpt)
        snprintf(ck, sizeof ck, "; checkpoint step %lld written, "
                 "--resume continues from it",
                 (long long)x->ckpt.last);
    s = dml_error_msg(err, DML_ERUNTIME,
                      "interrupted by %s after %lld of %lld steps%s",
                      dml_interrupt_name(x->stop_signal),
                      (long long)(x->first_step + x->nrun),
                      (long long)x->steps_total, ck);
    char msg[256];
    dml_run_record_event(&x->rec, "interrupted", x->first_step + x->nrun,
                         dml_error_format(err, msg, sizeof msg));
    return s;
}

/* ---- after the steps ------------------------------------------------------------ */

/* Test-set accuracy over every DP replica's chunks (collective): the
 * replicas hold one model, except local SGD's between its averages,
 * where each is evaluated on its own chunks. */
static double evaluate_now(dml_exec *x)
{
    long correct = dml_pipeline_evaluate(&x->pipe, &x->test, x->g.dp_size,
                                         x->g.dp_i);
    long total = 0;
    MPI_Allreduce(&correct, &total, 1, MPI_LONG, MPI_SUM, x->g.world);
    return x->test.n > 0 ? (double)total / (double)x->test.n : NAN;
}

static void evaluate(dml_exec *x)
{
    /* (--steps 0: no step, the initial weights are evaluated) */
    x->test_accuracy = x->nrun > 0 &&
                               x->eval_step == x->first_step + x->nrun - 1
                           ? x->eval_accuracy /* evaluated after the last */
                           : evaluate_now(x);
}

/* Rebuild the whole model on rank 0 (collective): replica 0 contributes
 * its shards, each value exactly once, and a sum puts them together. */
static dml_status save_weights(dml_exec *x, dml_error *err)
{
    const dml_groups *g = &x->g;
    size_t count = dml_weights_count(&x->in.shape);
    float *full = calloc(count, sizeof(float));
    float *sum = g->rank == 0 ? calloc(count, sizeof(float)) : NULL;
    dml_status s = full && (g->rank != 0 || sum)
                       ? DML_OK
                       : dml_error_msg(err, DML_ENOMEM, "out of memory");
    s = dml_groups_agree(g->world, s, err);
    if (s == DML_OK) {
        if (g->dp_i == 0)
            dml_stage_store_full(&x->st, &x->in.model, full, g->tp_i == 0);
        MPI_Reduce(full, sum, (int)count, MPI_FLOAT, MPI_SUM, 0, g->world);
        if (g->rank == 0)
            s = dml_weights_write(x->opt.save_weights,
                                  x->in.plan.model.name, &x->in.shape, sum,
                                  err);
        s = dml_groups_agree(g->world, s, err);
    }
    free(full);
    free(sum);
    return s;
}

/* Evaluation and the weight file (when the run trained to its end), the
 * timings, the run's end in the database, and the state files' last
 * word. */
static dml_status run_end(dml_exec *x, dml_status s, bool interrupted,
                          dml_error *err)
{
    if (s == DML_OK)
        evaluate(x);
    if (s == DML_OK && x->opt.save_weights)
        s = save_weights(x, err);
    double peak = dml_run_record_rank_timings(&x->rec, x->nrun, x->g.world);
    bool recorded = true;
    if (x->g.rank == 0) {
        size_t skip = x->nrun > 1 ? 1 : 0;
        x->median_step_s = dml_stats_median(x->rec.step_s + skip,
                                            (size_t)x->nrun - skip);
        dml_run_outcome o = {
            .status = s,
            .interrupted = interrupted,
            .steps = x->first_step + x->nrun,
            .median_step_s = x->median_step_s,
            .peak_rss_bytes = peak,
            .final_loss = x->nrun > 0 ? x->rec.loss[x->nrun - 1] : NAN,
            .test_accuracy = x->test_accuracy,
        };
        recorded = dml_run_record_end(&x->rec, &o, err);
        /* Training went well but its record did not: say what is missing
         * (a failure or interruption already has its line). */
        if (s == DML_OK &&
            (!recorded || dml_run_record_incomplete(&x->rec))) {
            char msg[DML_ERROR_MSG_MAX];
            s = dml_error_msg(err, DML_EDB, "%s",
                              dml_record_describe(&x->rec.rec, msg,
                                                  sizeof msg));
        }
    }
    s = dml_groups_agree(x->g.world, s, err);
    /* After the record: a job killed before this line is "running" in
     * its files but ended in the database, and is left alone. A run whose
     * end rank 0 could not record is left "stopped", so that the next
     * dml-exec on this checkpoint directory marks it failed. */
    dml_heartbeat_close(x->hb, x->first_step + x->nrun,
                        !recorded     ? "stopped"
                        : s == DML_OK ? "finished"
                                      : "failed");
    x->hb = NULL;
    dml_interrupt_restore();
    if (!interrupted)
        x->stop_signal = 0; /* a stop that ended as a failure exits 1 */
    return s;
}

/* Mode federated: rounds in place of steps (federated/fed_train.h). */
static dml_status federated(dml_exec *x, dml_error *err)
{
    dml_fed_env e = {&x->in.plan, &x->st, &x->train, &x->test, &x->pipe,
                     &x->rec, x->g.world, x->g.rank, x->g.world_size,
                     x->opt.seed, x->g.rank == 0 && !x->opt.quiet_progress};
    return dml_fed_train(&e, x->first_step, x->steps_total, &x->nrun, err);
}

/* ---- the run ---------------------------------------------------------------------- */

dml_status dml_exec_run(dml_exec *x, dml_error *err)
{
    /* SIGTERM and SIGINT are noted, and read at each step boundary; before
     * the heartbeat's handlers (heartbeat.h), which chain to these. */
    dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL);
    DML_CHECK(dml_run_record_begin(&x->rec, &x->in, x->opt.checkpoint_dir,
                                   x->g.world, err));
    /* The run is recorded as running from here: a failure goes on to the
     * end, where the run is closed with it. Every call agrees on s. */
    dml_status s = dml_run_record_heartbeat(&x->rec, x->opt.checkpoint_dir,
                                            x->g.world, &x->hb, err);
    if (s == DML_OK && x->opt.resume)
        s = dml_ckpt_job_resume(&x->ckpt, x->steps_total, &x->first_step,
                                &x->samples_seen, err);
    if (x->first_step == 0)
        x->samples_seen = 0;
    x->rec.steps_done = x->first_step;
    train_end end = {.failure = "", .failure_kind = "nan"};
    if (s == DML_OK && x->in.plan.par.mode == DML_MODE_FEDERATED)
        s = federated(x, err);
    else if (s == DML_OK)
        s = train(x, &end, err);
    s = steps_outcome(x, s, &end, err);
    return run_end(x, s, end.interrupted, err);
}

int dml_exec_stop_signal(const dml_exec *x)
{
    return x ? x->stop_signal : 0;
}

/* ---- results ------------------------------------------------------------------------ */

/* --eval-every's points: [{"steps": S, "test_accuracy": A}, ...], S the
 * number of steps done (a step's index + 1). */
