/*
 * step_time.h: the cost model's answer for one parallel configuration:
 * time per optimizer step with its breakdown, throughput, MFU, and memory
 * per device with its breakdown.
 *
 *   t = t_pipeline + t_dp_exposed + t_optimizer (+ calibrated overhead)
 *
 * t_pipeline follows pipeline.h from each device's time per micro-batch:
 * its layers' forward and backward (each layer: the tensor-parallel rank's
 * GEMMs priced by shape with gemm_eff.h, memory-bound kernels at
 * mem_bw x membound_efficiency, TP collectives from collective.h: two
 * allreduces forward and two backward without sequence parallelism,
 * all-gathers and reduce-scatters with it; backward collectives that
 * Megatron overlaps with weight-gradient GEMMs are hidden up to those
 * GEMMs' time, at a contention cost), the recomputation (full: the forward
 * again; selective: the attention core), the embedding on the first device
 * and the logits and loss on the last, and the pipeline send/receive.
 * t_dp_exposed is the gradient reduction (allreduce; reduce-scatter +
 * all-gather under ZeRO; per micro-batch for ZeRO-2/3) not hidden behind
 * the backward pass; t_optimizer is the optimizer's memory-bound sweep.
 *
 * dml_costmodel_prepare does the per-(model, cluster) work once; then
 * dml_costmodel_step_time is allocation-free and takes about a microsecond,
 * so a planner can call it for every candidate.
 *
 * Heterogeneous clusters (node groups of unequal device speed) are
 * priced rank by rank (hetero.c): ranks fill the nodes in the order of
 * the groups, each pipeline rank is priced on its own group's devices,
 * and a step runs at the pace of its slowest replica. Under
 * balance=equal every replica runs the same micro-batches on the even
 * layer split; under static (and dynamic) the replicas' micro-batch
 * shares and, where a pipeline spans groups, its stage boundaries are
 * balanced (balance.h). Links are the slowest of any group and memory the
 * smallest, as for one group.
 */
#ifndef DML_COSTMODEL_STEP_TIME_H
#define DML_COSTMODEL_STEP_TIME_H

#include <stdbool.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/collective.h"
#include "costmodel/gemm_eff.h"
#include "costmodel/memory.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"

/* Per-cluster efficiency factors that calibration fits (calib_fit.h). The
 * first seven multiply the time of their part (1 = the spec as written);
 * overhead_s and microbatch_overhead_s add seconds, and the two CPU terms
 * are slopes of a slowdown per extra thread or rank (0 = none). */
typedef struct dml_costmodel_calib {
    double compute;    /* GEMM time */
    double membound;   /* memory-bound kernel time */
    double comm_intra; /* collectives and sends inside a node */
    double comm_inter; /* collectives and sends that cross nodes */
    double optimizer;  /* optimizer step */
    double overhead_s; /* fixed cost added to every step, s */
    double microbatch_overhead_s; /* fixed cost of each micro-batch on each
                             pipeline device (forward + backward: library
                             calls, sends posted, buffers), s (0) */
    double latency_intra; /* latency (alpha) terms of intra-node transfers,
                             on top of comm_intra (1) */
    double latency_inter; /* the same across nodes, on top of comm_inter */
    double cpu_thread_overhead; /* CPU: cost of each further BLAS
                              thread of a rank (synchronisation, small
                              GEMMs split too finely); GEMM time x
                              (1 + this x (threads_per_rank - 1)); 0 =
                              threads scale perfectly (0) */
    double cpu_rank_contention; /* CPU: cost of each further rank busy on
                              the node (shared caches, memory, other
                              load); GEMM time x (1 + this x (ranks on
                              the node - 1)); 0 = none (0) */
} dml_costmodel_calib;

typedef struct dml_costmodel_options {
    dml_optimizer optimizer;      /* sets optimizer memory and step cost */
    double grad_bytes;            /* gradient bytes kept per parameter;
                                     0 = auto (memory.h) */
    double grad_reduce_bytes;     /* gradient bytes per element sent in the
                                     DP reduction; 0 = as kept (grad_bytes:
                                     fp32 for 16-bit dtypes, as Megatron) */
    double overlap_contention;    /* fraction of a hidden collective still
                                     paid in slowed compute (0.3) */
    double workspace_bytes;       /* fixed per-device memory (context,
                                     library workspaces); < 0 = 1 GiB on a
                                     GPU, 64 MiB on a CPU */
    dml_costmodel_calib calib;    /* efficiency factors (all 1) */
} dml_costmodel_options;

/* Everything step_time needs that does not depend on the configuration. */
typedef struct dml_costmodel_ctx {
    dml_model_spec model;          /* copy */
    dml_cluster_spec cluster;      /* copy */
    dml_costmodel_options opt;     /* copy */
    int group;                     /* node group that sets compute speed */
    bool hetero;                   /* the groups' devices differ in speed:
                                      ranks are priced group by group */
    dml_dtype compute_dtype;       /* dtype whose peak is used */
    double peak_flops;             /* FLOP/s per device at compute_dtype */
    double membound_Bps;           /* mem_bw x membound_efficiency, B/s */
    double mem_bytes;              /* smallest device memory, bytes */
    double elem_bytes;             /* activation element width, bytes */
    int devices_per_node;          /* of the compute group */
    int64_t devices;               /* in the whole cluster */
    dml_link_spec intra;           /* intra-node link of the compute group
                                      (the group whose devices are slowest,
                                      where every rank waits) */
    dml_link_spec inter;           /* slowest inter-node link of any group */
    dml_gemm_curve curve;          /* GEMM efficiency at compute_dtype */
    dml_state_bytes state;         /* bytes per parameter of model states */
    double layer_params;           /* one transformer layer, all TP ranks */
    double expert_params;          /* its FFN/expert part */
    double embed_params;           /* token (+position) embedding */
    double head_params;            /* final norm + untied output layer */
} dml_costmodel_ctx;

/* Detail behind a prediction, for explanations and tests; all per step
 * unless marked per micro-batch (pmb). */
typedef struct dml_costmodel_detail {
    double layer_fwd_s;          /* one layer forward, pmb, s */
    double layer_bwd_s;          /* one layer backward incl. recompute, pmb */
    double layer_gemm_fwd_s;     /* its GEMMs, forward, pmb */
    double layer_gemm_bwd_s;     /* its GEMMs, backward, pmb */
    double layer_membound_fwd_s; /* its memory-bound kernels, forward, pmb */
    double layer_membound_bwd_s; /* backward, pmb */
    double layer_tp_fwd_s;       /* exposed TP communication, forward, pmb */
    double layer_tp_bwd_s;       /* exposed TP communication, backward */
    double layer_recompute_s;    /* recomputation inside backward, pmb */
    double embed_s;              /* embedding fwd + bwd on device 0, pmb */
    double head_s;               /* final norm, logits, loss fwd + bwd, pmb */
    double p2p_s;                /* pipeline sends of one device, pmb */
    double stage_max_s;          /* slowest device per micro-batch */
    double stage_sum_s;          /* sum over pipeline devices */
    int slowest_rank;            /* pipeline rank of the slowest device */
    double pipeline_s;           /* t_pipeline */
    double dp_comm_s;            /* gradient sync before overlap */
    double dp_exposed_s;         /* of which not hidden */
    double dp_bytes_intra;       /* bytes a replica's DP sync sends per
                                    step to its own node (the busiest
                                    pipeline rank's) */
    double dp_bytes_inter;       /* and to other nodes */
    double bubble_fraction;      /* bubble / ideal pipeline time */
    dml_coll_algo tp_algo;       /* TP allreduce/all-gather algorithm */
    dml_coll_algo dp_algo;       /* DP gradient collective algorithm */
    double model_flops;          /* per step (3 x forward) */
    double executed_flops;       /* per step incl. recomputation */
    double params_per_device;    /* on the fullest device */
    int mem_rank;                /* pipeline rank of the fullest device */
    dml_mem_breakdown mem_first; /* pipeline rank 0 */
    dml_mem_breakdown mem_last;  /* pipeline rank pp-1 */
    double layer_activation_bytes; /* one layer, one micro-batch */
    double inflight_first;       /* micro-batches in flight on rank 0 */
    bool fits;                   /* mem_bytes_per_device <= device memory */
} dml_costmodel_detail;

/* What balancing does for one configuration on a heterogeneous cluster:
 * the step under each split and each group's speed, for explanations. */
typedef struct dml_balance_summary {
    bool hetero;              /* the configuration's ranks sit on devices
                                 of unequal speed */
    double equal_step_s;      /* a step with even shares and boundaries, s */
    double balanced_step_s;   /* with the balanced ones, s */
    int group_count;          /* the cluster's groups */
    bool group_used[DML_CLUSTER_GROUPS_MAX];  /* some rank is on it */
    double group_mb_s[DML_CLUSTER_GROUPS_MAX]; /* a replica wholly on the
                                 group: its slowest stage per
                                 micro-batch, s (0: not priced) */
    int64_t group_first_node[DML_CLUSTER_GROUPS_MAX]; /* its first node */
    int64_t group_nodes[DML_CLUSTER_GROUPS_MAX]; /* its nodes */
} dml_balance_summary;

/* The balanced split itself (dml_costmodel_balance_of). */
typedef struct dml_costmodel_balance {
    dml_balance_summary sum;  /* steps and speeds */
    int share_count;          /* runs in shares (0: even shares) */
    dml_dp_share shares[DML_PLAN_SHARES_MAX]; /* balanced micro-batches
                                 per replica, in replica order */
    bool stages_balanced;     /* stages differ from the even split */
    int stage_count;          /* pp (entries in stages) */
    dml_stage_range stages[DML_PLAN_STAGES_MAX]; /* balanced boundaries */
} dml_costmodel_balance;

/* Defaults as documented above. */
void dml_costmodel_options_init(dml_costmodel_options *opt);
void dml_costmodel_calib_init(dml_costmodel_calib *calib);

/* Derive everything per (model, cluster, options). opt may be NULL for the
 * defaults. DML_EINPUT when the cluster cannot run the model's dtype at
 * all or the specs are inconsistent. */
dml_status dml_costmodel_prepare(const dml_model_spec *model,
                                 const dml_cluster_spec *cluster,
                                 const dml_costmodel_options *opt,
                                 dml_costmodel_ctx *ctx, dml_error *err);

/* Replace the calibration factors of a prepared context (they enter only
 * step_time, so no new prepare is needed; calibration fitting evaluates
 * many factor sets this way). */
void dml_costmodel_set_calib(dml_costmodel_ctx *ctx,
                             const dml_costmodel_calib *calib);

/*
 * Predict one step of configuration par. stages/stage_count give the
 * layer ranges of the pp·v virtual stages (virtual stage i on pipeline
 * rank i % pp) or NULL/0 for the even split of dml_plan_split_stages.
 * Fills out (present = true) and, when non-NULL, detail. DML_EINPUT for a
 * configuration the model or cluster cannot take (more devices than the
 * cluster has, tp not dividing heads, ...), with the reason.
 */
dml_status dml_costmodel_step_time(const dml_costmodel_ctx *ctx,
                                   const dml_parallel_config *par,
                                   const dml_stage_range *stages,
                                   int stage_count, dml_prediction *out,
                                   dml_costmodel_detail *detail,
                                   dml_error *err);

/*
 * The balanced split of configuration par (stages as for step_time, NULL
 * for the even split; given stages are kept): shares and boundaries, and
 * the step under the even split and under the balanced one. On a
 * homogeneous cluster hetero is false and both steps are step_time's.
 */
dml_status dml_costmodel_balance_of(const dml_costmodel_ctx *ctx,
                                    const dml_parallel_config *par,
                                    const dml_stage_range *stages,
                                    int stage_count,
                                    dml_costmodel_balance *out,
                                    dml_error *err);

/* The same for a plan (its parallel config, stages and optimizer); fills
 * plan->pred. */
dml_status dml_costmodel_predict_plan(const dml_costmodel_ctx *ctx,
                                      dml_plan *plan,
                                      dml_costmodel_detail *detail,
                                      dml_error *err);

#endif
