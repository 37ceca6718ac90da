/*
 * exec_internal.h: the parts of a dml-exec run (struct dml_exec), shared
 * by the training loop (exec.c) and what reads a run from outside it: the
 * --json summary and the accessors tools and benchmarks use
 * (exec_summary.c). Nothing outside executor/ includes it.
 */
#ifndef DML_EXECUTOR_EXEC_INTERNAL_H
#define DML_EXECUTOR_EXEC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "executor/balance_run.h"
#include "executor/ckpt_job.h"
#include "executor/data.h"
#include "executor/exec.h"
#include "executor/groups.h"
#include "executor/heartbeat.h"
#include "executor/input.h"
#include "executor/noise.h"
#include "executor/pipeline.h"
#include "executor/run_record.h"
#include "executor/shares.h"
#include "executor/stage.h"
#include "executor/step_lag.h"
#include "executor/sync/sync.h"
#include "executor/update.h"

/* A run: handles to its parts, and where the loop stands. */
struct dml_exec {
    dml_exec_options opt;      /* the options, as given */
    dml_input in;              /* the plan and its model (input.h) */
    dml_groups g;              /* MPI groups (groups.h) */
    dml_stage st;              /* this rank's layers and flat buffers */
    dml_dataset train, test;   /* this stage's part of the data */
    dml_data_order order;      /* the order of the training stream */
    dml_sync *sync;            /* gradient exchange (sync/sync.h) */
    dml_step_lag lag;          /* the steps' sums over the ranks, read
                                  as late as the exchange lets the ranks
                                  run apart (step_lag.h) */
    dml_update up;             /* optimizer state (update.h) */
    dml_noise noise;           /* gradient noise scale (noise.h) */
    dml_shares shares;         /* replicas' micro-batches (shares.h) */
    dml_balance_run bal;       /* balance=dynamic (balance_run.h) */
    dml_pipeline pipe;         /* the schedule (pipeline.h) */
    dml_run_record rec;        /* history and database (run_record.h) */
    dml_ckpt_job ckpt;         /* checkpoints (ckpt_job.h) */
    dml_heartbeat *hb;         /* this rank's state file, or NULL */
    int64_t steps_total;       /* steps in all, a resumed run's included */
    int64_t first_step;        /* the first step of this invocation */
    int64_t nrun;              /* steps run by this invocation */
    int64_t samples_seen;      /* training-stream position */
    int stop_signal;           /* SIGTERM/SIGINT all ranks agreed on, 0,
                                  or DML_EXEC_STOP_ASKED (exec.h) */
    bool stop_asked;           /* rank 0 found ROOT/stop-at-checkpoint at
                                  this step, a checkpoint's */
    bool stop_ckpt;            /* a checkpoint was written at the stop */
    double first_loss;         /* loss of this invocation's first step */
    double test_accuracy;      /* fraction right (NAN: not evaluated) */
    double median_step_s;      /* after the first step (rank 0), s */
    dml_gemm_timer gemm_prof;  /* GEMMs of the steps after the first */
    int64_t gemm_steps;        /* steps in gemm_prof */
    int64_t eval_step;         /* step of the newest --eval-every
                                  evaluation, -1: none */
    double eval_accuracy;      /* its test accuracy, 0-1 */
    double consensus;          /* gossip's last consensus distance
                                  measured (NAN: none) */
    double max_staleness;      /* largest staleness of any step's
                                  gradients (ssp:S), steps; -1: none */
};

#endif
