/*
 * sync.h: data-parallel synchronisation strategies, priced.
 *
 * A strategy is how gradients (or weights) move between the data-parallel
 * replicas of a plan: one allreduce, ZeRO's reduce-scatter and all-gather,
 * top-k sparsification, a one-step-stale asynchronous reduction, and what
 * later issues add (hierarchical, compressed, local and asynchronous SGD,
 * gossip). Each has two halves of the same name: a file in executor/sync/
 * that does it and a pricer here that says what it costs. A pricer sees
 * one pipeline rank at a time, with its parameters and its compute
 * windows, and answers three times:
 *
 *   raw_s      the synchronisation alone, as if nothing overlapped it;
 *   exposed_s  what the step waits for (raw minus what hides behind the
 *              backward pass, plus the contention the hidden part costs);
 *   deferred_s what runs behind the *next* step instead (asynchronous
 *              strategies): step_time hides the largest of the ranks'
 *              behind the pipeline and counts what does not fit.
 *
 * step_time takes the largest raw and exposed over the pipeline ranks
 * (the slowest replica sets the pace).
 *
 * How to add a strategy: write costmodel/sync_NAME.c with one function of
 * type dml_sync_price_fn and a `const dml_sync_pricer dml_sync_NAME`
 * descriptor, declare the descriptor below, add the file to
 * costmodel/CMakeLists.txt, and return it from dml_sync_pricer_for() for
 * the plans that ask for it (sync.c). Give it a unit test that pins its
 * bytes on the wire and its overlap against a hand computation.
 */
#ifndef DML_COSTMODEL_SYNC_H
#define DML_COSTMODEL_SYNC_H

#include "costmodel/step_internal.h"

/* One pipeline rank's part in the synchronisation. */
typedef struct dml_sync_rank {
    int r;            /* pipeline rank, 0..pp-1 */
    double params;    /* parameters it holds (its TP shard) */
    int64_t layers;   /* layers they belong to (>= 1) */
    double t_fwd;     /* its forward per micro-batch, s */
    double t_bwd;     /* its backward per micro-batch, s */
} dml_sync_rank;

typedef struct dml_sync_cost {
    double raw_s;       /* the synchronisation alone, s */
    double exposed_s;   /* of which the step waits for, s */
    double deferred_s;  /* run behind the next step instead, s */
    dml_coll_algo algo; /* algorithm of its main collective */
} dml_sync_cost;

/* One exchange of a rank's gradients, whatever its timing: the reduction
 * and, where states are sharded (ZeRO), the gather of the updated
 * parameters that follows the optimizer. */
typedef struct dml_sync_exchange {
    double reduce_s;    /* the gradient reduction, s */
    double gather_s;    /* the parameter all-gather after it, s (0) */
    dml_coll_algo algo; /* algorithm of the reduction */
} dml_sync_exchange;

typedef void (*dml_sync_exchange_fn)(const dml__step *st,
                                     const dml_sync_rank *rank,
                                     dml_sync_exchange *out);
typedef void (*dml_sync_price_fn)(const dml__step *st,
                                  const dml_sync_rank *rank,
                                  dml_sync_cost *out);

typedef struct dml_sync_pricer {
    const char *name;              /* as the plan spells the strategy */
    dml_sync_exchange_fn exchange; /* one exchange; NULL for a strategy
                                      that only re-times another's */
    dml_sync_price_fn price;       /* fills every field of out */
} dml_sync_pricer;

/* Dense gradients (the plan's wire width), reduced by allreduce without
 * ZeRO, reduce-scatter + parameter all-gather with ZeRO-1/2 (ZeRO-2 per
 * micro-batch), per-micro-batch weight gathers with ZeRO-3. */
extern const dml_sync_pricer dml_sync_dense;
/* Top-k sparsification: indices and values all-gathered, then summed. */
extern const dml_sync_pricer dml_sync_topk;
/* One-step-stale: the plan's exchange (dense or top-k) behind the next
 * step. */
extern const dml_sync_pricer dml_sync_async;

/* The timing of an exchange that reduces once per step, behind the last
 * backward pass (dense without ZeRO or with ZeRO-1, top-k): for the
 * pricers' files. */
void dml__sync_once_per_step(const dml__step *st, const dml_sync_rank *rank,
                             const dml_sync_exchange *ex, dml_sync_cost *out);

/* The pricer of a plan's strategy. */
const dml_sync_pricer *dml_sync_pricer_for(const dml_parallel_config *par);

/* The exchange a plan's strategy performs, whatever its timing (what
 * dml_sync_async defers). */
const dml_sync_pricer *dml_sync_exchange_for(const dml_parallel_config *par);

#endif
