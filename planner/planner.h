/*
 * planner.h: dml-plan's library: from a model and a cluster to the best
 * plans, with their schedules, time to train and explanations.
 *
 * Life cycle: dml_planner_new reads and checks every input (model and
 * cluster specs, --nodes/--devices, the fixed --config knobs, the batch or
 * the noise scale for an automatic one) and prepares the cost model, so
 * that every mistake in the input is reported (DML_EINPUT/EUSAGE/
 * ENOTFOUND, exit 2) before anything is searched or written.
 * dml_planner_run searches and turns the best K candidates into complete
 * plans (stages, schedule, prediction with detail, time to train);
 * DML_EINFEASIBLE (exit 3) when nothing fits, with the commonest reason.
 * dml_planner_why_not answers `--why-not` after a run. Recording in the
 * database is record.h; output is report.h and export.h.
 *
 * On a CPU cluster a device is an MPI rank with its cores. Without
 * --devices the planner also chooses how many ranks share a spec device
 * (ranks x threads per node, each split priced with its share of the
 * cores, memory and bandwidth); with --devices N each rank gets as many
 * cores as N ranks leave it.
 */
#ifndef DML_PLANNER_PLANNER_H
#define DML_PLANNER_PLANNER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/step_time.h"
#include "db/cluster_query.h"
#include "db/once.h"
#include "planner/batch.h"
#include "planner/config.h"
#include "planner/convergence.h"
#include "planner/fed_plan.h"
#include "planner/search.h"
#include "planner/space.h"

#define DML_PLANNER_SPLITS_MAX 16   /* CPU ranks-per-device choices */
#define DML_PLANNER_BATCHES_MAX 64  /* automatic global-batch choices */

typedef struct dml_planner_request {
    const char *model;          /* --model: preset name or file */
    const char *cluster;        /* --cluster: preset, file, or "this" */
    const char *data_dir;       /* preset folder; NULL = compiled-in */
    const char *db_path;        /* database read for "this" and a measured
                                   noise scale */
    dml_db_once *db;            /* the tool's connection to db_path, opened
                                   when first needed (db/once.h); NULL =
                                   the planner's own */
    int64_t nodes;              /* --nodes; 0 = as the spec says */
    int64_t devices;            /* --devices; 0 = every device */
    int64_t global_batch;       /* samples per step; 0 = automatic */
    int64_t seq;                /* --seq, tokens; 0 = the model's */
    int top_k;                  /* plans kept, 1..DML_PLANNER_TOP_MAX */
    dml_planner_config config;  /* --config: fixed knobs */
    dml_framework framework;    /* --framework: the runtime every plan is
                                   for (megatron by default) */
    bool allow_cross_node_tp;   /* TP groups may span nodes */
    dml_optimizer optimizer;    /* --optimizer (adamw by default) */
    double base_lr;             /* --base-lr; 0 = default reference */
    double base_batch;          /* --base-batch, samples */
    double tokens;              /* --tokens; 0 = unknown */
    double noise_scale;         /* --noise-scale, samples; 0 = from the
                                   database when the batch is automatic */
    double ramp_tokens;         /* --batch-ramp, tokens; 0 = none */
    const dml_costmodel_calib *calib; /* fitted efficiency factors of this
                                   cluster (calibration), NULL = the spec
                                   as written */
    int64_t calibration_id;     /* calibrations row of calib, recorded with
                                   the plans; 0 = none */
    dml_target target;          /* --target-accuracy / --target-loss: rank
                                   by predicted time to it, the strategy
                                   searched (convergence.h); kind NONE:
                                   by step time */
} dml_planner_request;

/* Defaults: top 5, adamw, megatron, nothing fixed, everything else
 * 0/NULL. */
void dml_planner_request_init(dml_planner_request *r);

/* One way of cutting the cluster into devices (ranks). */
typedef struct dml_planner_split {
    dml_cluster_spec cluster;   /* the cluster with devices so cut */
    dml_costmodel_ctx ctx;      /* the cost model prepared for it */
    int threads_per_rank;       /* cores of each rank (CPU), else 1 */
    int64_t devices;            /* ranks planned for */
    int64_t nodes;              /* nodes those ranks occupy */
} dml_planner_split;

/* One recommended plan. */
typedef struct dml_planned {
    dml_plan plan;                 /* what --out writes */
    dml_candidate cand;            /* the search's record of it */
    dml_costmodel_detail detail;   /* behind the prediction */
    dml_batch_advice advice;       /* where the schedule comes from */
    dml_train_estimate train;      /* time to train, checkpoints */
    int64_t nodes;                 /* nodes the plan occupies */
    dml_balance_summary balance;   /* the even and balanced splits on a
                                      cluster of unequal groups */
    dml_fed_round_price fed_round; /* mode federated: its round
                                      (planner/fed_plan.h); zero else */
} dml_planned;

/*
 * Where the best plan of --config (plans[0]) falls among the feasible
 * plans of the search without the fixed knobs (same model, cluster,
 * batch or batch choices, framework): the plans a plain run counts as
 * fitting and --top all lists, in their order. Issue 11: "#654 of 2,145
 * feasible; #1 is 35 % faster: ...".
 */
typedef struct dml_config_rank {
    bool known;              /* --config was given and computed */
    int64_t rank;            /* 1-based place of plans[0] */
    int64_t feasible;        /* plans ranked: the full search's feasible
                                ones, plus plans[0] if it is not among
                                them */
    bool proposed;           /* the full search proposes plans[0]'s
                                configuration (it does not propose gpipe,
                                selective recomputation with flash, nor
                                more recomputation than the plan needs to
                                fit: dominated, search.h) */
    dml_candidate best;      /* #1 of that ranking */
    double slower_fraction;  /* (plans[0] - #1) / #1 by ranking score
                                (step time, or time to train with an
                                automatic batch): 0.35 = #1 is 35 %
                                faster */
    double elapsed_s;        /* wall time of the full search, s */
} dml_config_rank;

typedef struct dml_planner {
    dml_planner_request req;    /* as given (strings borrowed) */
    dml_model_spec model;       /* seq_len as planned */
    dml_cluster_spec cluster;   /* as loaded and scaled by --nodes */
    int64_t cluster_db_id;      /* "this": the clusters row read, else 0 */
    dml_db_probe_origin this_probe;  /* "this": the probe behind it */
    dml_db_probe_origin this_passed; /* "this": a newer probe without
                                        links passed over (id 0: none) */
    double mem_capacity_bytes;  /* per device (of split 0) */
    int split_count;            /* ways of cutting devices */
    dml_planner_split *splits;  /* split_count of them */
    bool auto_batch;            /* the global batch is searched */
    double noise_scale;         /* B_noise, samples; 0 = none */
    char noise_source[160];     /* where it comes from */
    int batch_count;            /* automatic: choices in batches */
    int64_t batches[DML_PLANNER_BATCHES_MAX];
    dml_batch_inputs batch_in;  /* schedule inputs */
    dml_search_result result;   /* the whole search */
    int count;                  /* plans made */
    dml_planned *plans;         /* best first, count of them */
    dml_config_rank config_rank; /* with --config: where plans[0] ranks */
    dml_convergence conv;       /* with a target: steps to it, measured */
    int nsyncs;                 /* with a target: strategies searched */
    dml_sync_spec syncs[DML_SEARCH_SYNC_MAX]; /* allreduce first */
    double sync_factor[DML_SEARCH_SYNC_MAX];  /* their steps to the
                                   target over dense's */
    char conv_warning[768];     /* the one line the tool warns, "" none */
    dml_db_once own_db;         /* db_path, when the request brings none */
    dml_db_once *db;            /* req.db, else &own_db: every read of the
                                   database goes through it */
} dml_planner;

/* A probe run as the report and warnings name it: "probe run 3 (2 ranks
 * on 1 node, host vm, 2026-12-06T15:04:35.491Z)". */
const char *dml_planner_probe_text(const dml_db_probe_origin *o, char *buf,
                                   size_t size);

/* Read and check the inputs; *out is NULL on failure. */
dml_status dml_planner_new(const dml_planner_request *req, dml_planner **out,
                           dml_error *err);

/*
 * Price every plan with a calibration of this cluster (planner/calibrate.h:
 * the newest one dml-plan found for the cluster's fingerprint): the fitted
 * efficiency factors replace the spec's defaults, and mem_extra_bytes (the
 * memory headroom runs measured beyond their prediction) is kept free on
 * every device. calib must outlive the planner. Before dml_planner_run.
 */
dml_status dml_planner_apply_calibration(dml_planner *p,
                                         const dml_costmodel_calib *calib,
                                         int64_t calibration_id,
                                         double mem_extra_bytes,
                                         dml_error *err);

/* Search and make the plans; DML_EINFEASIBLE when none fits. With fixed
 * knobs (--config), also config_rank (one more search, without them).
 * With a target, every plan's score is its step time times its
 * strategy's steps to the target over dense's: the ranking of predicted
 * time to the target (convergence.h). */
dml_status dml_planner_run(dml_planner *p, dml_error *err);

void dml_planner_free(dml_planner *p);

/* The search space of split i (rules, devices, capacity). */
/*
 * in (one of p's plans) priced again with calib and the memory headroom
 * mem_extra_bytes, into out; p is left as it is (its table, ranking and
 * calibration unchanged). dml-plan --tune uses it to write the measured
 * winner with the prediction of the calibration its trials produced.
 */
dml_status dml_planner_repredict(const dml_planner *p, const dml_planned *in,
                                 const dml_costmodel_calib *calib,
                                 double mem_extra_bytes, dml_planned *out,
                                 dml_error *err);

dml_planner_space dml_planner_space_of(const dml_planner *p, int split);

/* With a target: the predicted steps to it of plan c's strategy (NAN:
 * unknown) and where they come from. */
double dml_planner_steps_to_target(const dml_planner *p,
                                   const dml_candidate *c,
                                   dml_convergence_source *src);

/* c's configuration with sync=allreduce, priced on c's split (the plan a
 * compressed, local or stale strategy is compared with); DML_ENOTFOUND
 * when c is dense already or allreduce does not fit (ZeRO-3 excepted). */
dml_status dml_planner_dense_twin(const dml_planner *p,
                                  const dml_candidate *c, dml_prediction *pred,
                                  dml_costmodel_detail *detail,
                                  dml_error *err);

/* plan as a plan file at path (indented JSON, written atomically): what
 * dml-plan --out and the --tune trials hand to dml-exec. */
dml_status dml_planner_write_plan_file(const char *path, const dml_plan *plan,
                                       dml_error *err);

/* The answer to --why-not. */
typedef struct dml_why_not {
    dml_reject verdict;      /* NONE: feasible; MEMORY: over memory; else
                                the rule that rules it out */
    bool have_best;          /* a feasible plan within the configuration,
                                or close to it (relaxed) */
    bool relaxed;            /* best needed other mbs/recompute/ZeRO/sp */
    dml_candidate best;      /* that plan */
    bool is_winner;          /* best is the overall winner */
    double slower_fraction;  /* best vs the winner (score) */
    char text[2048];         /* the answer in a few sentences */
} dml_why_not;

/* Evaluate configuration c (any subset of knobs; the rest searched)
 * against the winner of the last dml_planner_run. */
dml_status dml_planner_why_not(dml_planner *p, const dml_planner_config *c,
                               dml_why_not *out, dml_error *err);

#endif
