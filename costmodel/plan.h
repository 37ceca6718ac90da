/*
 * plan.h: one training plan, as the planner writes it and dml-exec runs it.
 *
 * A plan is the model spec, the cluster it was made for (name, fingerprint,
 * the number of devices = MPI ranks it runs on), the parallel configuration
 * (dp x tp x pp ranks, virtual stages, micro-batching, ZeRO, recompute,
 * sequence parallel, pipeline schedule, data-parallel strategy,
 * threads per rank), the placement (rank order tp fastest, then pp, then
 * dp; stage -> layer ranges), the batch and learning-rate schedule, and the
 * cost model's prediction. The struct mirrors the plan file of
 * docs/formats.md field for field; it is plain data of fixed size.
 *
 * Readers validate everything a runner relies on (see dml_plan_validate);
 * dml_plan_to_json serialises in memory only (the planner writes files).
 */
#ifndef DML_COSTMODEL_PLAN_H
#define DML_COSTMODEL_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/json.h"
#include "costmodel/balance.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/federated_spec.h"
#include "costmodel/model_spec.h"
#include "costmodel/sync_spec.h"

#define DML_PLAN_STAGES_MAX 1024     /* pp x v */
#define DML_PLAN_RAMP_MAX 32         /* batch ramp entries */
#define DML_PLAN_MAX_DEGREE 1000000  /* any of dp, tp, pp */

typedef enum dml_recompute {
    DML_RECOMPUTE_NONE = 0,      /* keep all activations */
    DML_RECOMPUTE_SELECTIVE = 1, /* recompute attention softmax/dropout
                                    (Korthikanti 2022) */
    DML_RECOMPUTE_FULL = 2,      /* keep layer inputs only, redo forward */
} dml_recompute;

typedef enum dml_pp_schedule {
    DML_PP_1F1B = 0,
    DML_PP_GPIPE = 1,
    DML_PP_INTERLEAVED = 2, /* 1F1B with v model chunks per device */
} dml_pp_schedule;

/* The training runtime a plan is priced for and exported to: what it
 * can run and how it moves data differ (costmodel/framework.h). */
typedef enum dml_framework {
    DML_FRAMEWORK_MEGATRON = 0,  /* Megatron-LM (Megatron-Core) */
    DML_FRAMEWORK_DEEPSPEED = 1, /* DeepSpeed (its pipeline engine and ZeRO
                                    with Megatron-DeepSpeed's layers) */
} dml_framework;

typedef enum dml_optimizer {
    DML_OPT_SGD = 0,   /* SGD with momentum, L2 in the gradient */
    DML_OPT_ADAMW = 1, /* Adam with decoupled weight decay */
    DML_OPT_LAMB = 2,
    DML_OPT_LARS = 3,
    DML_OPT_ADAM = 4,  /* Adam with L2 in the gradient (coupled) */
} dml_optimizer;

typedef enum dml_lr_decay {
    DML_DECAY_COSINE = 0,
    DML_DECAY_LINEAR = 1,
    DML_DECAY_CONSTANT = 2,
} dml_lr_decay;

typedef struct dml_parallel_config {
    int dp;                  /* data-parallel degree */
    int tp;                  /* tensor-parallel degree */
    int pp;                  /* pipeline stages (devices in a pipeline) */
    int v;                   /* model chunks per pipeline device (interleaved
                                schedule), 1 otherwise */
    int64_t mbs;             /* micro-batch size, samples */
    int64_t microbatches;    /* micro-batches per step per pipeline */
    int zero;                /* ZeRO stage 0..3 over the dp group */
    dml_recompute recompute; /* activation recomputation */
    bool sp;                 /* sequence parallel (needs tp > 1) */
    dml_pp_schedule schedule;            /* pipeline schedule */
    dml_sync_spec sync;      /* how the dp replicas exchange gradients
                                (sync_spec.h); allreduce by default */
    int threads_per_rank;    /* BLAS/compute threads per rank (CPU) */
    dml_attention_impl attention; /* attention kernel (transformers) */
    dml_framework framework; /* runtime that executes the plan */
    dml_balance balance;     /* how work is split over devices of unequal
                                speed (balance.h); equal by default */
    dml_run_mode mode;       /* sync (data parallel) or federated
                                (federated_spec.h); sync by default */
} dml_parallel_config;

typedef struct dml_stage_range {
    int64_t first_layer; /* first layer of the stage, 0-based */
    int64_t last_layer;  /* last layer, inclusive */
} dml_stage_range;

typedef struct dml_batch_ramp {
    int64_t until_step;   /* this batch holds for steps < until_step */
    int64_t global_batch; /* samples per step meanwhile */
} dml_batch_ramp;

typedef struct dml_train_schedule {
    int64_t global_batch;  /* samples per step = dp x mbs x microbatches */
    dml_optimizer optimizer;
    double peak_lr;        /* learning rate after warmup */
    double min_lr;         /* floor of the decay */
    int64_t warmup_steps;  /* linear warmup from 0 to peak_lr, steps */
    dml_lr_decay decay;    /* shape after warmup */
    int64_t decay_steps;   /* steps from the end of warmup to min_lr */
    double weight_decay;   /* decoupled (AdamW) or L2 (SGD), per step */
    double momentum;       /* SGD/LARS momentum */
    double beta1, beta2;   /* Adam/LAMB moments */
    double eps;            /* Adam/LAMB epsilon */
    int ramp_count;        /* entries used in ramp[] */
    dml_batch_ramp ramp[DML_PLAN_RAMP_MAX]; /* increasing until_step */
} dml_train_schedule;

typedef struct dml_time_breakdown {
    double compute_s;   /* forward + backward (+ recompute) on the critical
                           path, excluding bubbles, s */
    double tp_comm_s;   /* tensor-parallel collectives not hidden, s */
    double pp_comm_s;   /* pipeline send/recv not hidden, s */
    double dp_comm_s;   /* data-parallel gradient sync not hidden, s */
    double bubble_s;    /* pipeline fill and drain, s */
    double optimizer_s; /* optimizer step, s */
    double overhead_s;  /* fixed per-step cost (launches, data, host
                           sync) from calibration, s */
} dml_time_breakdown;

typedef struct dml_mem_breakdown {
    double params_bytes;      /* weights held by the device */
    double grads_bytes;       /* gradients */
    double optimizer_bytes;   /* optimizer states (and fp32 master copy) */
    double activations_bytes; /* stored activations, in-flight micro-batches */
    double buffers_bytes;     /* communication and workspace buffers */
} dml_mem_breakdown;

typedef struct dml_prediction {
    bool present;              /* the plan carries a prediction */
    double step_s;             /* one optimizer step, s */
    double mem_bytes_per_device; /* peak on the fullest device, bytes */
    dml_time_breakdown time;   /* parts of step_s */
    dml_mem_breakdown mem;     /* parts of mem_bytes_per_device */
    double tokens_per_s;       /* samples x seq_len per second (samples/s
                                  for an mlp) */
    double flops_per_device;   /* executed FLOP/s per device (recompute
                                  included) */
    double mfu;                /* model FLOPs / (step_s x devices x peak) */
} dml_prediction;

typedef struct dml_plan {
    dml_model_spec model;                  /* what is trained */
    char cluster_name[DML_CLUSTER_NAME_MAX]; /* cluster spec name */
    char cluster_fingerprint[DML_FINGERPRINT_MAX]; /* its fingerprint, or "" */
    int64_t devices;                       /* ranks it runs on = dp*tp*pp */
    dml_parallel_config par;               /* how the work is split */
    int stage_count;                       /* pp x v */
    dml_stage_range stages[DML_PLAN_STAGES_MAX]; /* virtual stage i runs on
                                              pipeline rank i % pp */
    int share_count;                       /* runs in shares[]; 0: every
                                              replica runs
                                              par.microbatches */
    dml_dp_share shares[DML_PLAN_SHARES_MAX]; /* placement.dp_shares: the
                                              replicas' micro-batches per
                                              step in replica order
                                              (balance.h), summing to
                                              dp x microbatches */
    dml_train_schedule sched;              /* batch and learning rate */
    dml_fed_spec fed;                      /* the federated section (mode
                                              federated; defaults else) */
    dml_prediction pred;                   /* what the cost model expects */
    int64_t db_plan_id;                    /* plans.id of the row dml-plan
                                              recorded it as; 0 = none */
} dml_plan;

/* Defaults: dp=tp=pp=v=1, mbs=1, microbatches=1, 1f1b, no recompute, sync,
 * 1 thread; adamw, lr 1e-3, cosine; stages empty; model zeroed. */
void dml_parallel_config_init(dml_parallel_config *p);

/*
 * Do a and b configure the same run? Every knob of the configuration,
 * the strategy included (dml_sync_spec_equal). The one plan-identity rule:
 * the search keeps one candidate per configuration and batch, calibration
 * groups the runs of one plan (with the model and the stages) by it.
 */
bool dml_parallel_config_equal(const dml_parallel_config *a,
                               const dml_parallel_config *b);
void dml_train_schedule_init(dml_train_schedule *s);
void dml_plan_init(dml_plan *plan);

/*
 * How pp x v model chunks share the layers when nobody says otherwise:
 *   DML_SPLIT_EVEN         as even as possible, earlier chunks taking the
 *                          extra layers (any layers >= pp x v)
 *   DML_SPLIT_EMBED_LOSS   interleaved (v > 1) only, when layers + 2
 *                          divide evenly over the chunks: the embedding
 *                          and the loss count as a layer each, so the
 *                          first and last chunks hold one layer fewer
 *                          (Llama 3 405B's 126 layers on pp 16; Megatron-
 *                          LM's --account-for-embedding-in-pipeline-split
 *                          and --account-for-loss-in-pipeline-split), at
 *                          least one layer each
 *   DML_SPLIT_NONE         interleaving whose layers fit neither: Megatron-
 *                          LM's interleaved schedule builds equal chunks
 */
typedef enum dml_stage_split {
    DML_SPLIT_NONE = 0,
    DML_SPLIT_EVEN,
    DML_SPLIT_EMBED_LOSS,
} dml_stage_split;

dml_stage_split dml_plan_stage_split(int64_t layers, int pp, int v);

/* Layers of model chunk i (0 <= i < pp x v) under dml_plan_stage_split;
 * chunk i runs on pipeline rank i % pp. The one rule the cost model, the
 * plan file and the executor follow. */
int64_t dml_plan_chunk_layers(int64_t layers, int pp, int v, int64_t i);

/*
 * Fill plan->stages with pp x v contiguous ranges over the model's layers
 * (dml_plan_chunk_layers). Needs layers >= pp x v and an interleaved
 * split that exists (DML_EINPUT otherwise).
 */
dml_status dml_plan_split_stages(dml_plan *plan, dml_error *err);

/* Every rule a runner relies on; errors name the field (no position). */
dml_status dml_plan_validate(const dml_plan *plan, dml_error *err);

/* Read a plan object with full validation; errors point into its document. */
dml_status dml_plan_parse(const dml_json_obj *o, dml_plan *out,
                          dml_error *err);
dml_status dml_plan_load(const char *path, dml_plan *out, dml_error *err);
dml_status dml_plan_from_json(const json_t *j, const char *name,
                              dml_plan *out, dml_error *err);

/* The plan in the file format; NULL only without memory. */
json_t *dml_plan_to_json(const dml_plan *plan);

/* Coordinates of a rank: rank = dp_i*pp*tp + pp_i*tp + tp_i. DML_ERANGE when
 * rank is not in [0, dp*tp*pp). Any output pointer may be NULL. */
dml_status dml_plan_rank_coords(const dml_plan *plan, int rank, int *dp_i,
                                int *pp_i, int *tp_i);

/* The rank at given coordinates (inverse of the above). */
int dml_plan_rank_of(const dml_plan *plan, int dp_i, int pp_i, int tp_i);

/* Virtual stage holding layer, or -1 when out of range. */
int dml_plan_stage_of_layer(const dml_plan *plan, int64_t layer);

/* Global batch at step (0-based), following the ramp. */
int64_t dml_plan_global_batch_at(const dml_plan *plan, int64_t step);

/*
 * Micro-batches each of the dp replicas runs at step (m[dp], caller's):
 * the plan's dp_shares at the full batch; under a batch ramp the step's
 * micro-batches apportioned in proportion to the shares (largest
 * remainder, at least one each); without shares the even split. Replica
 * i's samples follow those of replicas 0..i-1 in the step's stream, so
 * the step sees the same samples whatever the shares.
 */
bool dml_plan_replica_microbatches(const dml_plan *plan, int64_t step,
                                   int64_t *m); /* false: no memory */



const char *dml_recompute_name(dml_recompute r);
const char *dml_pp_schedule_name(dml_pp_schedule s);
const char *dml_attention_name(dml_attention_impl a);
const char *dml_framework_name(dml_framework f);
/* Parse a name of the tables above; false when it is none of them. */
bool dml_attention_parse(const char *name, dml_attention_impl *out);
bool dml_framework_parse(const char *name, dml_framework *out);

const char *dml_optimizer_name(dml_optimizer o);
const char *dml_lr_decay_name(dml_lr_decay d);

#endif
