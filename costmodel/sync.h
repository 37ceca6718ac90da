/*
 * sync.h: data-parallel synchronisation strategies, priced.
 *
 * A strategy is how gradients (or weights) move between the data-parallel
 * replicas of a plan (costmodel/sync_spec.h names them): one
 * allreduce (with ZeRO's reduce-scatter and all-gather), node by node,
 * in 16 bits, top-k sparsified, PowerSGD, local SGD, stale-synchronous,
 * gossip. Each has two halves of the same name: a file in executor/sync/
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
 * Each pricer also says the bytes a replica sends per step to its own
 * node and to other nodes (dml_sync_cost), which the executor counts too,
 * so the two halves can be checked against each other and against the
 * emulated cluster's link counters.
 *
 * How to add a strategy: add its kind and knob text to sync_spec.h/.c
 * (with the ZeRO stages it can run with), write costmodel/sync_NAME.c with
 * one function of type dml_sync_price_fn and a `const dml_sync_pricer
 * dml_sync_NAME` descriptor, declare the descriptor below, add the file to
 * costmodel/CMakeLists.txt, return it from dml_sync_pricer_for() (sync.c),
 * and write its executor half in executor/sync/. Give it a unit test that
 * pins its bytes on the wire and its overlap against a hand computation.
 */
#ifndef DML_COSTMODEL_SYNC_H
#define DML_COSTMODEL_SYNC_H

#include <string.h>

#include "costmodel/step_internal.h"

/* One pipeline rank's part in the synchronisation. */
typedef struct dml_sync_rank {
    int r;            /* pipeline rank, 0..pp-1 */
    double params;    /* parameters it holds (its TP shard) */
    int64_t layers;   /* layers they belong to (>= 1) */
    int64_t first_layer; /* an MLP rank's first layer (0 for transformer
                            ranks, whose layers are all alike) */
    double t_fwd;     /* its forward per micro-batch, s */
    double t_bwd;     /* its backward per micro-batch, s */
} dml_sync_rank;

typedef struct dml_sync_cost {
    double raw_s;       /* the synchronisation alone, s */
    double exposed_s;   /* of which the step waits for, s */
    double deferred_s;  /* run behind the next step instead, s */
    dml_coll_algo algo; /* algorithm of its main collective */
    double bytes_intra; /* bytes one replica sends to replicas on its own
                           node per step (the executor counts the same) */
    double bytes_inter; /* and to replicas on other nodes */
} dml_sync_cost;

/* One exchange of a rank's gradients, whatever its timing: the reduction
 * and, where states are sharded (ZeRO), the gather of the updated
 * parameters that follows the optimizer. */
typedef struct dml_sync_exchange {
    double reduce_s;    /* the gradient reduction, s */
    double gather_s;    /* the parameter all-gather after it, s (0) */
    dml_coll_algo algo; /* algorithm of the reduction */
    double bytes_intra; /* bytes one replica sends inside its node */
    double bytes_inter; /* and to other nodes */
} dml_sync_exchange;

/* Bytes one replica sends in a ring collective of op over `bytes` (the
 * nccl-tests size) among n replicas, g to a node: the ring's node-crossing
 * hops are one in g, so that share crosses nodes. Adds to *intra and
 * *inter. */
void dml__ring_bytes(dml_coll_op op, double bytes, int n, int g,
                     double *intra, double *inter);

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
    dml_sync_price_fn price;       /* fills every field of out; NULL: one
                                      exchange a step, behind the last
                                      backward (dml__sync_once_per_step),
                                      or after the update */
    bool after_update;             /* with price NULL: the exchange runs
                                      after the update and the next step
                                      needs it, all of it exposed (local
                                      SGD's average, gossip's mixing) */
} dml_sync_pricer;

/* sync=allreduce: dense gradients (the plan's wire width), reduced by
 * allreduce without ZeRO, reduce-scatter + parameter all-gather with
 * ZeRO-1/2 (ZeRO-2 per micro-batch), per-micro-batch weight gathers with
 * ZeRO-3 (sync_dense.c). */
extern const dml_sync_pricer dml_sync_dense;
/* sync=hierarchical: node by node (sync_hierarchical.c). */
extern const dml_sync_pricer dml_sync_hierarchical;
/* sync=fp16 and bf16: dense in 16 bits (sync_half.c). */
extern const dml_sync_pricer dml_sync_half;
/* sync=topk:K and topk-noef:K: indices and values all-gathered, then
 * summed (sync_topk.c). */
extern const dml_sync_pricer dml_sync_topk;
/* sync=powersgd:R: two low-rank allreduces a step (sync_powersgd.c). */
extern const dml_sync_pricer dml_sync_powersgd;
/* sync=local:H: weights averaged every H steps (sync_local.c). */
extern const dml_sync_pricer dml_sync_local;
/* sync=ssp:S: the exchange behind the next steps (sync_ssp.c). */
extern const dml_sync_pricer dml_sync_ssp;
/* sync=gossip:G: each replica's weights to its neighbours on graph G
 * (sync_gossip.c). */
extern const dml_sync_pricer dml_sync_gossip;

/* The timing of an exchange that reduces once per step, behind the last
 * backward pass (dense without ZeRO or with ZeRO-1, top-k): for the
 * pricers' files. */
void dml__sync_once_per_step(const dml__step *st, const dml_sync_rank *rank,
                             const dml_sync_exchange *ex, dml_sync_cost *out);

/* Price one pipeline rank's synchronisation under pricer p (its price, or
 * its exchange once per step). */
void dml__sync_price(const dml_sync_pricer *p, const dml__step *st,
                     const dml_sync_rank *rank, dml_sync_cost *out);

/* For the pricers' files: the all-gather of the rank's updated parameters
 * over the replicas that ZeRO's sharded states need, into out->gather_s
 * and out's bytes. */
void dml__sync_zero_gather(const dml__step *st, const dml_sync_rank *rank,
                           dml_sync_exchange *out);

/* The pricer of a strategy (costmodel/sync_spec.h). */
const dml_sync_pricer *dml_sync_pricer_for(const dml_sync_spec *s);

#endif
