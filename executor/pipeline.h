/*
 * pipeline.h: the micro-batches of a step through this rank's pipeline
 * stage, in the plan's schedule, with the point-to-point messages between
 * neighbouring stages.
 *
 * 1F1B (Narayanan et al. 2021, PipeDream-Flush): pp - stage - 1 warm-up
 * forwards, then one forward and one backward alternately, then the
 * remaining backwards; GPipe (Huang et al. 2019): all forwards, then all
 * backwards. A micro-batch's activations stay in one of nslots slots
 * (1F1B keeps at most pp - stage in flight, GPipe all of them). Stage
 * outputs go forward and input gradients backward with MPI_Isend; a
 * receive first waits with MPI_Probe for the message to arrive, so that
 * the wait (the bubble: pipeline idle) is told apart from the transfer
 * (PP communication).
 *
 * The gradient exchange overlaps the last micro-batch's backward: after
 * each of its layers the exchange is told the layer is final
 * (dml_sync_grad_ready), and between passes MPI is let to progress both
 * the exchange and the sends.
 */
#ifndef DML_EXECUTOR_PIPELINE_H
#define DML_EXECUTOR_PIPELINE_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "executor/data.h"
#include "executor/noise.h"
#include "executor/stage.h"
#include "executor/sync/sync.h"

/* The activations and send state of one micro-batch in flight. */
typedef struct dml_pipeline_slot {
    dml_stage_acts acts;  /* stage activations */
    float *gsend;         /* [mbs x in_width] input gradient sent back */
    MPI_Request req_act;  /* send of the stage output (MPI_REQUEST_NULL) */
    MPI_Request req_grad; /* send of gsend */
} dml_pipeline_slot;

typedef struct dml_pipeline {
    dml_stage *st;             /* this rank's layers (borrowed) */
    MPI_Comm pp_comm;          /* the pipeline group (borrowed) */
    int pp, pp_i;              /* stages, and this rank's */
    bool gpipe;                /* GPipe, else 1F1B */
    int mbs;                   /* rows of a micro-batch */
    dml_sync *sync;            /* the gradient exchange (borrowed) */
    dml_noise *noise;          /* the noise estimate (borrowed) */
    int nslots;
    dml_pipeline_slot *slots;  /* [nslots] */
    float *gin;                /* [mbs x out_width] gradient received */
    float *scratch0, *scratch1; /* [mbs x widest layer] backward work */
    dml_stage_acts eval_acts;  /* activations of an evaluation chunk */
    int eval_rows;             /* rows of an evaluation chunk */
    /* this step */
    dml_stage_timers tm;       /* compute and TP time, GEMM profile */
    double pp_comm_s;          /* sends, receives, send waits, s */
    double idle_s;             /* waiting for a neighbour's message, s */
    double loss_sum;           /* summed loss of the micro-batches (last
                                  stage), nats */
} dml_pipeline;

/* Where a step's micro-batches come from: this rank's share of the step
 * (its DP rank's slice of the training stream). */
typedef struct dml_batch {
    const dml_dataset *data;   /* training set (this stage's part) */
    dml_data_order *order;     /* the order of the training stream */
    int64_t first;             /* stream position of micro-batch 0 */
    int64_t global_batch;      /* B: every gradient is scaled by 1/B */
    int microbatches;          /* m this step */
} dml_batch;

/* Slots for up to max_mb micro-batches in flight and the evaluation
 * buffers (chunks of up to eval_rows_max rows, at least mbs). */
dml_status dml_pipeline_init(dml_pipeline *p, dml_stage *st, MPI_Comm pp_comm,
                             dml_pp_schedule schedule, int64_t mbs,
                             int64_t max_mb, int eval_rows_max,
                             dml_sync *sync, dml_noise *noise,
                             dml_error *err);
void dml_pipeline_free(dml_pipeline *p);

/* Forward and backward of every micro-batch of b in the schedule: the
 * step's gradients accumulate in st->grads (zeroed by the caller); the
 * timers and loss start from zero. */
void dml_pipeline_run(dml_pipeline *p, const dml_batch *b);

/* Wait for the sends still in flight (after the exchange has finished). */
void dml_pipeline_drain(dml_pipeline *p);

/* Forward only, for the test set: DP replica dp_i of dp takes every dp-th
 * chunk through its pipeline. Returns the rows classified right on this
 * rank (the last stage's TP rank 0; 0 elsewhere). */
long dml_pipeline_evaluate(dml_pipeline *p, const dml_dataset *test, int dp,
                           int dp_i);

#endif
