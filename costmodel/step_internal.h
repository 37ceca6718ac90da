/*
 * step_internal.h: the phases of dml_costmodel_step_time and what they
 * share; not part of the cost model's API (tests and the files of
 * costmodel/ only).
 *
 * One call of step_time prices one configuration in phases, each its own
 * function, so that a reader follows t = t_pipe + t_dp_exposed + t_opt
 * from the top function down:
 *
 *   check        dml__step_check      (step_time.c)  is the config possible
 *   set-up       dml__step_setup      (step_time.c)  groups, peak, wire
 *   layer cost   dml__transformer_layer, dml__mlp_layer, dml__embed_time,
 *                dml__head_time       (layer_cost.c) one layer, one
 *                                                    micro-batch
 *   stage cost   dml__stage_cost      (stage_cost.c) one pipeline rank:
 *                                                    time, params, activations
 *   stage memory dml__stage_memory    (stage_cost.c) its bytes by kind
 *   pipeline p2p dml__p2p_time        (step_time.c)  sends per micro-batch
 *   DP sync      dml_sync_pricer      (sync.h)       one file per strategy
 *   optimizer    dml__optimizer_time  (step_time.c)  the update's sweep
 *
 * Everything lives in the caller's stack: no phase allocates, so the
 * planner can price a million configurations a second.
 */
#ifndef DML_COSTMODEL_STEP_INTERNAL_H
#define DML_COSTMODEL_STEP_INTERNAL_H

#include <stdbool.h>

#include "costmodel/framework.h"
#include "costmodel/step_time.h"
#include "costmodel/sync_spec.h"

/* What one call of step_time derives from its configuration, before any
 * rank is priced. */
typedef struct dml__step {
    const dml_costmodel_ctx *ctx;
    const dml_parallel_config *par;
    const dml_stage_range *stages; /* explicit stage ranges or NULL */
    int stage_count;
    bool transformer;       /* the model is a transformer (else an MLP) */
    int v;                  /* model chunks per device (1 unless
                               interleaved) */
    double microbatches;    /* per step per pipeline */
    int64_t world;          /* dp x tp x pp devices */
    int ep;                 /* expert-parallel degree (MoE), else 1 */
    dml_coll_group tp;      /* the TP group */
    dml_coll_group dpg;     /* the DP group (gradient synchronisation) */
    dml_coll_group dp_intra; /* its members on one node */
    dml_coll_group dp_inter; /* one member per node (the node's peers) */
    dml_coll_group epg;     /* the expert-parallel group (inside dp) */
    double contention;      /* options.overlap_contention */
    double peak;            /* FLOP/s a rank reaches (CPU: its threads) */
    double wire;            /* gradient bytes per element on the wire */
    double act_layer;       /* a transformer layer's stored activations,
                               one micro-batch, under the plan's
                               recomputation, bytes */
    double act_layer_full;  /* the same without recomputation (the layer
                               being recomputed), bytes */
    double opt_bytes_per_param; /* the optimizer step's memory traffic */
    dml_framework_traits fw; /* how the plan's runtime moves data */
    dml_sync_spec sync;  /* how its replicas exchange gradients */
} dml__step;

/* One layer, one micro-batch, on one TP rank. */
typedef struct dml__layer_cost {
    double gemm_f, gemm_b;  /* GEMMs, s */
    double mem_f, mem_b;    /* memory-bound kernels, s */
    double tp_f, tp_b;      /* exposed TP (and MoE all-to-all) comm, s */
    double recompute;       /* extra inside backward, s */
    double fwd, bwd;        /* totals, s */
} dml__layer_cost;

/* One pipeline rank (all its virtual stages), per micro-batch. */
typedef struct dml__stage {
    double t_fwd;           /* forward, s */
    double t_bwd;           /* backward incl. recomputation, s */
    double t_tp;            /* of which TP communication, s */
    double params;          /* parameters it holds (its TP shard) */
    int64_t layers;         /* layers it holds (0: embedding/head only) */
    int64_t first_layer;    /* an MLP rank's first layer (its layers are
                               first_layer .. first_layer + layers - 1) */
    double act_bytes;       /* activations stored at its peak, bytes */
    double inflight;        /* micro-batches in flight on it */
} dml__stage;

/* ---- step_time.c ---- */

/* Point ctx's per-group fields (peak, bandwidth, links, GEMM curve, devices
 * per node) at group, computing in dtype t. */
void dml__ctx_set_group(dml_costmodel_ctx *ctx, int group, dml_dtype t);
/* The dtype group's devices compute the model's dtype in. */
bool dml__group_dtype(const dml_costmodel_ctx *ctx, int group, dml_dtype *t);
/* What a step of par derives before any rank is priced. */
void dml__step_setup(const dml_costmodel_ctx *ctx,
                     const dml_parallel_config *par,
                     const dml_stage_range *stages, int stage_count,
                     dml__step *st);
/* Pipeline transfers of one device per micro-batch. */
double dml__p2p_time(const dml__step *st);

/* A collective group on the context's slowest links with its calibrated
 * scales: ranks members, ranks_per_node of them on each node. */
void dml__comm_group(const dml_costmodel_ctx *ctx, int ranks,
                     int ranks_per_node, dml_coll_group *g);

/* DML_EINPUT with the reason when the configuration cannot run. */
dml_status dml__step_check(const dml_costmodel_ctx *ctx,
                           const dml_parallel_config *par,
                           int stage_count, bool have_stages,
                           dml_error *err);

/* Exposed part of communication c overlapped with a compute window w:
 * what does not fit, plus the contention the hidden part causes. */
double dml__exposed(double c, double w, double contention);

/* Memory-bound time of `bytes` (calibrated). */
double dml__mem_time(const dml_costmodel_ctx *ctx, double bytes);

/* GEMM time of batch x (m x k)(k x n) at the step's peak. */
double dml__gemm_time(const dml__step *st, double batch, double m, double n,
                      double k);

/* ---- layer_cost.c ---- */

void dml__transformer_layer(const dml__step *st, dml__layer_cost *lc,
                            dml_coll_algo *tp_algo);
/* MLP layer `layer` of the stage first..last, split as the executor splits
 * it; *act_bytes gets what it stores per micro-batch. */
void dml__mlp_layer(const dml__step *st, int layer, int64_t first,
                    int64_t last, dml__layer_cost *lc, double *act_bytes);
/* Embedding forward + backward on the first device, per micro-batch. */
double dml__embed_time(const dml__step *st);
/* Final norm, logits, loss forward + backward on the last device. */
double dml__head_time(const dml__step *st);

/* ---- stage_cost.c ---- */

/* Pipeline rank r: its layers (lc: the transformer layer, priced once),
 * the embedding on rank 0 and head on the last (t_embed, t_head). */
void dml__stage_cost(const dml__step *st, const dml__layer_cost *lc,
                     double t_embed, double t_head, int r, dml__stage *out);

/* Model states, activations and buffers of pipeline rank r. */
void dml__stage_memory(const dml__step *st, const dml__stage *s,
                       dml_mem_breakdown *out);

/* ---- hetero.c ---- */

/* step_time on a cluster of unequal groups; bal (may be NULL) gets the
 * balanced split. */
dml_status dml__step_hetero(const dml_costmodel_ctx *ctx,
                            const dml_parallel_config *par,
                            const dml_stage_range *stages, int stage_count,
                            dml_prediction *out, dml_costmodel_detail *detail,
                            dml_costmodel_balance *bal, dml_error *err);

#endif
