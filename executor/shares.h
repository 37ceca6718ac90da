/*
 * shares.h: how many micro-batches each data-parallel replica runs at each
 * step of a plan, and where in the step's samples its own begin (issue 16:
 * placement.dp_shares, the balanced split of a cluster whose devices
 * differ in speed).
 *
 * A step's samples are the same whoever runs them: replica i takes the
 * micro-batches after those of replicas 0..i-1, and every sample's
 * gradient is weighted 1/global_batch before the replicas' gradients are
 * summed, so uneven shares give the even split's gradient (to the
 * rounding of the sums' order). The counts are tabulated once per batch
 * size of the plan (the full batch and each batch-ramp entry, costmodel/
 * plan.h dml_plan_replica_microbatches), so a step looks them up without
 * allocating.
 */
#ifndef DML_EXECUTOR_SHARES_H
#define DML_EXECUTOR_SHARES_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"

typedef struct dml_shares {
    int dp;                  /* replicas */
    int rows;                /* batch sizes tabulated */
    int64_t batch[DML_PLAN_RAMP_MAX + 1]; /* global batch of each row */
    int64_t *m;              /* [rows][dp] micro-batches per replica */
    int64_t *base;           /* [rows][dp] the plan's own (m changes
                                under balance=dynamic) */
    int full;                /* the row of the full batch */
    int64_t max_mb;          /* most any replica runs in a step (under
                                balance=dynamic: may ever run, the full
                                batch less one micro-batch per other
                                replica) */
    bool uneven;             /* some replica runs more than another */
} dml_shares;

dml_status dml_shares_init(dml_shares *s, const dml_plan *p, dml_error *err);
void dml_shares_free(dml_shares *s);

/* Replica dp_i's micro-batches at step; *before gets the micro-batches of
 * the replicas before it (its samples start mbs x *before into the
 * step's). */
int64_t dml_shares_at(const dml_shares *s, const dml_plan *p, int64_t step,
                      int dp_i, int64_t *before);

/* The replicas' micro-batches at the full batch, as now in force. */
const int64_t *dml_shares_full(const dml_shares *s);

/* New shares (balance=dynamic, executor/rebalance.h): full[i] at the full
 * batch (summing to its micro-batches, each >= 1), each ramp batch's
 * apportioned in proportion to them; the plan's own again when full is
 * its own full-batch row. */
void dml_shares_set(dml_shares *s, const int64_t *full);

#endif
