/*
 * batch.h: the batch size, learning-rate schedule and time to train that
 * go with a plan.
 *
 * - Peak LR: scaled from a reference (--base-lr at --base-batch, else a
 *   default for the model) by the optimizer's rule, linear for SGD and
 *   LARS, square root for Adam and LAMB (costmodel/schedule.h). The
 *   transformer default interpolates GPT-3's table of learning rates and
 *   batch sizes by model size (Brown et al. 2020, Table 2.1); MLPs start
 *   from 0.1 at 256 for SGD (Goyal et al. 2017) and 1e-3 at 256 for Adam
 *   (Kingma and Ba 2015).
 * - Warmup: GPT-3's 375M tokens for Adam-type optimizers (at most a tenth
 *   of training), Goyal's 5 of 90 epochs for SGD-type ones when the length
 *   is known. Decay to a tenth of the peak: cosine for Adam and SGD,
 *   linear for LAMB and LARS (You et al. 2019, 2017).
 * - Optimizer advice for very large batches: LARS beyond the 8k images
 *   where Goyal's linear scaling stopped working, LAMB beyond 16M tokens
 *   or 32k samples (You et al. trained BERT at 64k with it), Adam-type
 *   for transformers.
 * - Time to train: --tokens T over the plan's throughput, or with an
 *   automatic batch and a noise scale S(B) = S_min (1 + B_noise/B) steps,
 *   S_min = T / (seq x B_noise) (T read as the tokens the target needs in
 *   the small-batch limit, E_min of McCandlish et al. 2018). With a node
 *   MTBF in the cluster spec, checkpoints every Daly interval
 *   (sqrt(2 C M) corrected, C the write time of the model states at the
 *   spec's storage bandwidth, M the job's MTBF) and the expected time lost
 *   to writing them and to failures are added.
 */
#ifndef DML_PLANNER_BATCH_H
#define DML_PLANNER_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/memory.h"
#include "costmodel/model_spec.h"
#include "costmodel/plan.h"
#include "common/error.h"

typedef struct dml_batch_inputs {
    dml_optimizer optimizer; /* what the plan trains with */
    double base_lr;          /* reference learning rate; 0 = default */
    double base_batch;       /* global batch base_lr was tuned at, samples */
    double tokens;           /* training length, tokens (samples for an
                                MLP); 0 = unknown */
    bool auto_batch;         /* the batch was searched (steps from S(B)) */
    double noise_scale;      /* B_noise, samples; 0 = unknown */
    double ramp_tokens;      /* ramp the batch up over this many tokens
                                (samples for an MLP); 0 = no ramp */
} dml_batch_inputs;

typedef struct dml_batch_advice {
    double base_lr;           /* the reference actually used */
    double base_batch;        /* at this global batch, samples */
    char base_source[160];    /* where the reference comes from */
    const char *rule;         /* "linear" or "square-root" */
    dml_optimizer recommended; /* the optimizer advised for this batch */
    char why[256];            /* the reason when it differs, else "" */
} dml_batch_advice;

typedef struct dml_train_estimate {
    bool known;               /* the training length is known */
    double tokens;            /* tokens processed (samples for an MLP) */
    double steps;             /* optimizer steps */
    double compute_s;         /* steps x step time, s */
    double job_mtbf_s;        /* MTBF of the job's nodes, s; 0 = unknown */
    double ckpt_bytes;        /* one checkpoint (weights + optimizer
                                 states), bytes */
    double ckpt_write_s;      /* time to write it, s; 0 = unknown */
    double ckpt_interval_s;   /* work between checkpoints (Daly), s; 0 =
                                 no advice */
    double ckpt_interval_steps; /* the same in steps */
    double overhead_fraction; /* expected time lost to checkpoints and
                                 failures, relative to compute_s */
    double total_s;           /* compute_s x (1 + overhead_fraction), s */
} dml_train_estimate;

/* Tokens (samples for an MLP) in one sample: seq_len or 1. */
double dml_planner_sample_tokens(const dml_model_spec *m);

/*
 * Steps to train at global_batch: tokens / (batch x seq), or with an
 * automatic batch S_min (1 + B_noise / B). 0 when the length is unknown.
 */
double dml_planner_train_steps(const dml_model_spec *m,
                               const dml_batch_inputs *in,
                               int64_t global_batch);

/* The most steps a plan holds in its schedule (warmup, decay, the batch
 * ramp's steps): what the plan reader accepts (costmodel/plan.c). */
#define DML_PLANNER_STEPS_MAX 1e12

/*
 * Whether a plan at global_batch can hold the schedule the inputs ask
 * for: total_steps (dml_planner_train_steps) and the steps of the batch
 * ramp at most DML_PLANNER_STEPS_MAX. DML_EUSAGE naming --tokens or
 * --batch-ramp otherwise (the user's numbers, not the planner, are out of
 * range), before anything converts them to integers.
 */
dml_status dml_planner_check_steps(const dml_model_spec *m,
                                   const dml_batch_inputs *in,
                                   int64_t global_batch, double total_steps,
                                   dml_error *err);

/*
 * The schedule of a plan with configuration par at global_batch, training
 * total_steps (0 = unknown: no decay, warmup from the token rule only).
 * advice (may be NULL) says where the numbers come from.
 */
void dml_planner_schedule(const dml_model_spec *m, const dml_batch_inputs *in,
                          const dml_parallel_config *par,
                          int64_t global_batch, double total_steps,
                          dml_train_schedule *out, dml_batch_advice *advice);

/*
 * Time to train with checkpoint overhead. nodes = nodes the job uses; sb
 * the bytes per parameter of model states (the cost model's); step_s the
 * plan's step time.
 */
void dml_planner_train_estimate(const dml_model_spec *m,
                                const dml_cluster_spec *c, int64_t nodes,
                                const dml_batch_inputs *in,
                                int64_t global_batch, double step_s,
                                const dml_state_bytes *sb,
                                dml_train_estimate *out);

#endif
