/*
 * schedule.h: batch size, learning rate and checkpoint planning math.
 *
 * - Learning-rate scaling with the global batch: linear for SGD and LARS
 *   (Goyal et al. 2017: eta = 0.1·B/256 on ImageNet with 5 epochs of
 *   gradual warmup), square root for Adam and LAMB.
 * - The schedule itself: linear warmup to the peak, then cosine, linear or
 *   constant decay to the floor; an optional batch ramp.
 * - Gradient noise scale (McCandlish et al. 2018): B_simple = tr(Sigma) /
 *   |G|^2, estimated from gradient norms at two batch sizes; steps to a
 *   target S(B) = S_min (1 + B_noise / B), examples E(B) = E_min (1 +
 *   B / B_noise); time to target = S(B) x t_step(B).
 * - Checkpoints: Young's interval sqrt(2 C M) and Daly's higher-order
 *   correction, the expected fraction of time lost to checkpoints and
 *   failures, from the node MTBF of a cluster spec.
 */
#ifndef DML_COSTMODEL_SCHEDULE_H
#define DML_COSTMODEL_SCHEDULE_H

#include <stdint.h>

#include "costmodel/cluster_spec.h"
#include "costmodel/plan.h"

/* Peak LR for batch, from base_lr tuned at base_batch: linear for SGD and
 * LARS, square root for Adam, AdamW and LAMB. */
double dml_schedule_scale_lr(dml_optimizer opt, double base_lr,
                             double base_batch, double batch);

/* Learning rate at step (0-based): peak·(step+1)/warmup_steps during
 * warmup, then decay over decay_steps to min_lr and min_lr after (constant
 * decay, or decay_steps 0, stays at peak). dml-exec trains with it. */
double dml_schedule_lr_at(const dml_train_schedule *s, int64_t step);

/* McCandlish et al. 2018 Appendix A: unbiased |G|^2 and tr(Sigma) from the
 * squared gradient norms measured at two batch sizes b_small < b_big;
 * returns B_simple = tr(Sigma)/|G|^2 (0 when either estimate is not
 * positive: too noisy to tell). Either output
 * pointer may be NULL. */
double dml_schedule_noise_scale(double b_small, double g2_small, double b_big,
                                double g2_big, double *g2, double *trace);

/* S(B) = S_min (1 + B_noise / B). */
double dml_schedule_steps_to_target(double s_min, double b_noise,
                                    double batch);

/* E(B) = E_min (1 + B / B_noise). */
double dml_schedule_examples_to_target(double e_min, double b_noise,
                                       double batch);

/* S(B) x step_s: wall time to the target at batch B, s. */
double dml_schedule_time_to_target(double s_min, double b_noise,
                                   double batch, double step_s);

/* Young 1974: checkpoint every sqrt(2·C·M) seconds of work, C the time
 * to write a checkpoint, M the mean time between failures of the job. */
double dml_schedule_young_interval(double ckpt_s, double mtbf_s);

/* Daly 2006: sqrt(2CM)·[1 + (1/3)·sqrt(C/2M) + (1/9)·(C/2M)] - C for
 * C < 2M, else M. */
double dml_schedule_daly_interval(double ckpt_s, double mtbf_s);

/* Expected fraction of wall time lost with checkpoints every interval_s of
 * work: C/tau for writing, and per failure (every M) half an interval of
 * lost work plus the checkpoint in progress and the restart:
 * C/tau + (tau/2 + C + restart_s)/M. */
double dml_schedule_checkpoint_overhead(double interval_s, double ckpt_s,
                                        double restart_s, double mtbf_s);

/* MTBF of a job on `nodes` nodes of cluster c (node MTBF / nodes, using
 * the first group that states one); 0 when the spec states none. */
double dml_schedule_job_mtbf(const dml_cluster_spec *c, int64_t nodes);

/* Time to write `bytes` of checkpoint spread over `nodes` nodes at the
 * cluster's storage_write_Bps per node; 0 when unknown. */
double dml_schedule_checkpoint_time(const dml_cluster_spec *c, int64_t nodes,
                                    double bytes);

/*
 * A batch ramp from start_batch to the final batch in `count` equal steps
 * spread over ramp_steps optimizer steps, each batch rounded down to a
 * multiple of unit (dp x mbs, at least unit). Writes at most max entries
 * into out and returns how many (0 when no ramp is needed).
 */
int dml_schedule_make_ramp(int64_t start_batch, int64_t final_batch,
                           int64_t ramp_steps, int64_t unit, int count,
                           dml_batch_ramp *out, int max);

#endif
