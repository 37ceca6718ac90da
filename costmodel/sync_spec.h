/*
 * sync_spec.h: how the data-parallel replicas of a plan exchange
 * gradients or weights, as a plan names it.
 *
 * One value of the `sync` knob (--config sync=..., a plan file's
 * parallel.sync, the database's plans.sync): a kind and, for some kinds,
 * one number after a colon:
 *
 *   allreduce       dense gradients, one allreduce per step (under ZeRO a
 *                   reduce-scatter and an all-gather of the parameters)
 *   hierarchical    dense: reduce-scatter inside each node, allreduce of
 *                   the shards among the nodes' peers, all-gather inside
 *                   the node (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED))
 *   fp16, bf16      dense, sent in 16 bits, summed in fp32
 *   topk:K          the K fraction largest entries (0 < K <= 1) with
 *                   error feedback; topk-noef:K without it
 *   powersgd:R      PowerSGD of rank R (Vogels et al. 2019) with error
 *                   feedback and a warm-started Q
 *   local:H         local SGD: H steps apart, the replicas average their
 *                   weights; local:H:W post-local SGD (Lin et al. 2020):
 *                   the first W steps synchronous (dense allreduce of
 *                   the gradients), local from step W on
 *   ssp:S           stale-synchronous parallel (Ho et al. 2013): a replica
 *                   waits only when it is more than S steps ahead; ssp:0 is
 *                   synchronous SGD
 *   gossip:G        decentralised SGD (D-PSGD, Lian et al. 2017): no
 *                   gradient is summed; after its own step each replica
 *                   averages its weights with its neighbours' on graph G
 *                   (ring, torus, exp, onepeer-exp, random:D:
 *                   costmodel/gossip_graph.h); --config's mode=gossip and
 *                   graph=G say the same. gossip:G:topk:K is CHOCO-SGD
 *                   (Koloskova et al. 2019): the neighbours exchange the
 *                   top-K fraction of the change of a public copy of the
 *                   weights, mixed in with consensus step gamma = min(1,
 *                   2K) (K = 1: exactly D-PSGD)
 *
 * Each kind is priced by a pricer of costmodel/sync.h and run by a file of
 * executor/sync/. dml_sync_check says which kinds a configuration can use
 * (ZeRO shards the optimizer over the replicas, which a strategy that does
 * not exchange dense gradients every step cannot keep consistent).
 */
#ifndef DML_COSTMODEL_SYNC_SPEC_H
#define DML_COSTMODEL_SYNC_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "costmodel/gossip_graph.h"

typedef enum dml_sync_kind {
    DML_SYNC_ALLREDUCE = 0,
    DML_SYNC_HIERARCHICAL,
    DML_SYNC_FP16,
    DML_SYNC_BF16,
    DML_SYNC_TOPK,
    DML_SYNC_TOPK_NOEF,
    DML_SYNC_POWERSGD,
    DML_SYNC_LOCAL,
    DML_SYNC_SSP,
    DML_SYNC_GOSSIP,
    DML_SYNC_KIND_COUNT
} dml_sync_kind;

typedef struct dml_sync_spec {
    dml_sync_kind kind; /* see above */
    double param;       /* topk: fraction kept; powersgd: rank; local: H
                           steps; ssp: staleness bound; 0 for the rest */
    double warmup;      /* local: synchronous steps before the first
                           local one (local:H:W), 0: none; 0 for the
                           rest */
    dml_graph_spec graph; /* gossip: the graph (ring for the rest) */
    double compress;    /* gossip: CHOCO's top-K fraction, 0: dense
                           (D-PSGD); 0 for the rest */
} dml_sync_spec;

/* CHOCO-SGD's consensus step size for top-K: min(1, 2K). */
double dml_sync_choco_gamma(double k);

/* allreduce, no parameter. */
void dml_sync_spec_init(dml_sync_spec *s);

/* "allreduce", "topk", "topk-noef", "powersgd", ... */
const char *dml_sync_kind_name(dml_sync_kind k);

/* Does the kind take a number ("topk:0.01")? */
bool dml_sync_kind_has_param(dml_sync_kind k);

/* The knob text: "allreduce", "topk:0.01", "local:16", "local:16:200". */
char *dml_sync_spec_format(const dml_sync_spec *s, char *buf,
                               size_t size);

/*
 * Parse knob text. On failure false, with why (size bytes) saying what is
 * wrong in a phrase ("topk needs a fraction after ':' (topk:0.01)").
 */
bool dml_sync_spec_parse(const char *text, dml_sync_spec *out,
                             char *why, size_t size);

/* Two strategies are the same knob value. */
bool dml_sync_spec_equal(const dml_sync_spec *a,
                             const dml_sync_spec *b);

/*
 * DML_EUSAGE with one line when s cannot run with this ZeRO stage: only
 * the dense strategies (allreduce, hierarchical, fp16, bf16) keep ZeRO's
 * sharded optimizer consistent; the sparse, low-rank, local and stale ones
 * need every replica to hold the whole optimizer state (zero=0).
 */
dml_status dml_sync_spec_check(const dml_sync_spec *s, int zero,
                                   int dp, dml_error *err);

#endif
