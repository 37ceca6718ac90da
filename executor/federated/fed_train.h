/*
 * fed_train.h: the rounds of a federated run (parallel.mode federated,
 * docs/federated.md), called by exec.c in place of its steps.
 *
 * Every rank holds the global model, the shards' index (partition.h) and
 * the client sampler (sample.h), all drawn from the run's seed, so every
 * rank knows each round's clients without a message. The round's i-th
 * client is hosted by rank i mod world, one at a time in the model the
 * rank already holds (memory: one model, one client's optimizer state and
 * batch, and the sums of the round, whatever N is). A client trains from
 * the global weights with SGD (FedProx adds mu (w - w_global) to every
 * gradient), and returns its update u_c = w_c - w_global weighted by its
 * shard size n_c; rank 0, the server, sums the updates (plainly in
 * double, or masked in fixed point: secagg.h), and moves the global model
 * by sum n_c u_c / sum n_c (FedAvg), which it broadcasts. Stragglers
 * (a seeded round(stragglers m) of the m clients, drawn per round) are
 * dropped, or (straggler_work partial) return the update of a seeded
 * 1..S of their S local steps. Each round is recorded as a step (its
 * train loss, wall time, test accuracy) and in fed_rounds (clients
 * sampled and dropped, bytes down and up, by the definition of
 * docs/federated.md).
 */
#ifndef DML_EXECUTOR_FEDERATED_FED_TRAIN_H
#define DML_EXECUTOR_FEDERATED_FED_TRAIN_H

#include <mpi.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "executor/data.h"
#include "executor/pipeline.h"
#include "executor/run_record.h"
#include "executor/stage.h"

/* What a federated run borrows from the executor. */
typedef struct dml_fed_env {
    const dml_plan *plan;       /* mode federated */
    dml_stage *st;              /* the whole model (tp = pp = 1) */
    const dml_dataset *train;   /* features and labels */
    const dml_dataset *test;
    dml_pipeline *pipe;         /* its evaluation pass (every rank a
                                   share of the test set) */
    dml_run_record *rec;        /* steps, and the database on rank 0 */
    MPI_Comm world;
    int rank, size;
    uint64_t seed;              /* the run's --seed */
    bool progress;              /* show progress (rank 0, terminal) */
} dml_fed_env;

/* Run rounds first..rounds-1 (collective); *run: the rounds run. A
 * non-finite loss or weight stops the run: DML_ERUNTIME. */
dml_status dml_fed_train(const dml_fed_env *env, int64_t first,
                         int64_t rounds, int64_t *run, dml_error *err);

#endif
