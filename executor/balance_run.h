/*
 * balance_run.h: balance=dynamic in a running dml-exec (issue 16): each
 * rank's compute and exchange times of a step travel, per data-parallel
 * replica, on the step's reduction of largest values (step_lag.h), so
 * every rank holds every replica's figures at the same step and feeds the
 * same decisions (rebalance.h); new shares take effect from the next step
 * on every rank (shares.h), and rank 0 records each event in the database
 * (db/balance_store.h), the log and --json.
 *
 * A straggler is only visible before the exchange: the gradient exchange
 * makes every replica's step the slowest's. The figures a rank sends are
 * its forward and backward (the pipeline's layer arithmetic, the
 * exchange's waiting excluded), its exposed exchange time and the
 * micro-batches it ran; a replica's figure is the largest of its ranks'.
 * The shares a run starts with are the plan's (placement.dp_shares, or
 * the even split), and a resumed run starts from them again.
 */
#ifndef DML_EXECUTOR_BALANCE_RUN_H
#define DML_EXECUTOR_BALANCE_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "executor/noise.h"
#include "executor/rebalance.h"
#include "executor/run_record.h"
#include "executor/shares.h"
#include "executor/step_lag.h"

typedef struct dml_balance_run {
    bool on;            /* balance=dynamic with two replicas or more */
    int dp_i;           /* this rank's replica */
    int rank;           /* this rank (0 records) */
    dml_rebalance r;    /* the decisions (rebalance.h) */
    json_t *events;     /* rank 0: --json's balance.events */
} dml_balance_run;

/* Off unless the plan says balance=dynamic and dp >= 2; refused (one
 * line) past DML_REBALANCE_REPLICAS_MAX replicas. */
dml_status dml_balance_run_init(dml_balance_run *b, const dml_plan *p,
                                int dp, int dp_i, int rank,
                                const dml_shares *s, dml_error *err);
void dml_balance_run_free(dml_balance_run *b);

/* Replicas whose figures ride on the step's reduction (0: off). */
int dml_balance_run_replicas(const dml_balance_run *b);

/* This rank's figures of a step into its replica's slots of max
 * (DML_STEP_MAX_ALL long, the other slots left as they are: 0). */
void dml_balance_run_figures(const dml_balance_run *b, double *max,
                             double compute_s, double exchange_s,
                             int64_t microbatches);

/* A step whose reduced figures have arrived: its decisions; new shares
 * into s (and the noise estimate told whether the replicas' batches now
 * differ), each event recorded by rank 0. */
void dml_balance_run_step(dml_balance_run *b, const dml_step_lag_entry *e,
                          dml_shares *s, dml_noise *noise,
                          dml_run_record *rec);

/* --json's "balance": {"mode", "shares" (at the full batch, as at the
 * end), "events": [...]}; NULL on ranks other than 0. */
json_t *dml_balance_run_json(const dml_balance_run *b, const dml_plan *p,
                             const dml_shares *s);

#endif
