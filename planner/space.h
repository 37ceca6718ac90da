/*
 * space.h: which parallel configurations a model and a cluster admit, and
 * why a configuration is ruled out.
 *
 * The rules (each a dml_reject reason with a one-line message):
 * - dp x tp x pp = the devices planned for;
 * - tp divides the heads, the FFN width and (one way or the other) the
 *   key/value heads of a transformer, or every hidden width of an MLP;
 * - a TP group stays inside a node (tp divides the devices per node)
 *   unless cross-node TP is allowed;
 * - pp x v stages each get at least one layer; v > 1 (the interleaved
 *   schedule) needs pp > 1 and, as Megatron-LM, layers divisible by pp x v;
 * - sequence parallelism needs tp > 1 and tp dividing the sequence;
 *   ZeRO needs dp > 1;
 * - the global batch is dp x mbs x microbatches; interleaving needs the
 *   micro-batch count to be a multiple of pp;
 * - an MLP plan stays runnable by dml-exec (ZeRO 0-1, no recompute, no
 *   sequence parallelism, no interleaving);
 * - flash attention is for transformers (an MLP has no attention);
 * - the data-parallel strategy (sync) runs with the ZeRO stage;
 * - the runtime the plans are for can run it (costmodel/framework.h:
 *   DeepSpeed has neither the interleaved nor the GPipe schedule, and no
 *   ZeRO-2/3 with pipeline parallelism);
 * - and, priced by the cost model, the memory per device fits.
 *
 * recompute=selective with attn=flash is admissible: the cost model prices
 * it as recompute=none (flash keeps no s x s scores, so selective
 * recomputation has nothing to drop or redo). The search does not propose
 * it, as it would duplicate recompute=none; a user who fixes both gets
 * that price.
 */
#ifndef DML_PLANNER_SPACE_H
#define DML_PLANNER_SPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "planner/config.h"

typedef enum dml_reject {
    DML_REJECT_NONE = 0,
    DML_REJECT_DEVICES,      /* dp x tp x pp is not the device count */
    DML_REJECT_TP_MODEL,     /* tp does not divide the model's widths */
    DML_REJECT_TP_NODE,      /* a TP group would span nodes */
    DML_REJECT_PP_LAYERS,    /* more stages than layers */
    DML_REJECT_V,            /* interleaving rule broken */
    DML_REJECT_SP,           /* sequence-parallel rule broken */
    DML_REJECT_ZERO,         /* ZeRO without data parallelism */
    DML_REJECT_BATCH,        /* global batch not a multiple of dp x mbs */
    DML_REJECT_MICROBATCHES, /* interleaving: micro-batches % pp != 0 */
    DML_REJECT_EXECUTOR,     /* dml-exec cannot run it (MLP plans) */
    DML_REJECT_ATTENTION,    /* flash attention for a model without any */
    DML_REJECT_FRAMEWORK,    /* the runtime cannot run it */
    DML_REJECT_COSTMODEL,    /* the cost model refused it */
    DML_REJECT_MEMORY,       /* does not fit in device memory */
    DML_REJECT_COUNT
} dml_reject;

/* Short name: "devices", "tp-model", "tp-node", ..., "memory". */
const char *dml_reject_name(dml_reject r);

typedef struct dml_planner_space {
    const dml_model_spec *model; /* borrowed; seq_len as planned */
    int64_t devices;             /* ranks the plan runs on: dp x tp x pp */
    int devices_per_node;        /* devices (ranks) per node */
    bool allow_cross_node_tp;    /* TP groups may span nodes */
    bool executor_only;          /* keep to what dml-exec runs (MLPs) */
    double mem_capacity_bytes;   /* memory per device, bytes */
    dml_framework framework;     /* runtime the plans are for: what it
                                    cannot run is ruled out */
} dml_planner_space;

/* The rules on tp alone. */
dml_reject dml_planner_check_tp(const dml_planner_space *s, int tp, char *msg,
                                size_t size);

/* The rules on pp, v and the schedule. */
dml_reject dml_planner_check_pipeline(const dml_planner_space *s, int pp,
                                      int v, dml_pp_schedule schedule,
                                      char *msg, size_t size);

/* What s->framework cannot run of p (its schedule, ZeRO with pp); the
 * message is the runtime's own (dml_framework_check). */
dml_reject dml_planner_check_framework(const dml_planner_space *s,
                                       const dml_parallel_config *p,
                                       char *msg, size_t size);

/* Sequence parallelism, ZeRO, recompute, attention and what dml-exec
 * runs. */
dml_reject dml_planner_check_options(const dml_planner_space *s,
                                     const dml_parallel_config *p, char *msg,
                                     size_t size);

/* The data-parallel strategy against the ZeRO stage (costmodel/
 * sync_spec.h: only the dense strategies keep ZeRO's shards consistent):
 * DML_REJECT_ZERO with the strategy's own line; for dml-exec
 * (executor_only) sync=ssp:S with tp > 1, DML_REJECT_EXECUTOR. */
dml_reject dml_planner_check_sync(const dml_planner_space *s,
                                  const dml_parallel_config *p, char *msg,
                                  size_t size);

/* Whether sync=hierarchical differs from the flat ring for dp x tp x pp
 * on s: the DP group spans nodes and has more than one replica on each
 * (placed as the cost model places ranks: TP groups fill a node first,
 * then pipeline stages). Otherwise node by node is the flat ring (all on
 * one node, or one replica to a node), and the search does not propose
 * it. */
bool dml_planner_sync_spans_nodes(const dml_planner_space *s, int dp, int tp,
                                  int pp);

/* Global batch against dp, mbs, microbatches and the schedule. */
dml_reject dml_planner_check_batch(const dml_planner_space *s,
                                   const dml_parallel_config *p,
                                   int64_t global_batch, char *msg,
                                   size_t size);

/* Every structural rule above, in that order (the framework's after the
 * pipeline's), plus dp x tp x pp = devices.
 * DML_REJECT_NONE when the configuration is admissible (memory is priced
 * separately). */
dml_reject dml_planner_check(const dml_planner_space *s,
                             const dml_parallel_config *p,
                             int64_t global_batch, char *msg, size_t size);

/*
 * The rules that the fixed knobs of c break on their own, whatever the
 * search picks for the rest (tp=5 with 96 heads, dp x tp x pp fixed to
 * another device count, v=2 with pp=1, zero=1 with dp=1 implied,
 * schedule=interleaved for DeepSpeed, attn=flash for an MLP, ...).
 * global_batch 0 = chosen by the search. What the tool reports as an
 * impossible --config (exit 2).
 */
dml_reject dml_planner_check_fixed(const dml_planner_space *s,
                                   const dml_planner_config *c,
                                   int64_t global_batch, char *msg,
                                   size_t size);

#endif
