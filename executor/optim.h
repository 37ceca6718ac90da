/*
 * optim.h: the executor's optimizers and learning-rate schedule.
 *
 * SGD with momentum, Adam, AdamW, LAMB and LARS, applied to slices of parameter
 * tensors so that the same code serves a full replica, a tensor-parallel
 * shard and a ZeRO-1 shard of the optimizer state. LAMB and LARS scale each
 * tensor's update by a ratio of full-tensor norms; a slice only sees part of
 * its tensor, so an update is two calls: dml_optim_partial_norms sums the
 * squares this rank sees per tensor, the caller adds them over the ranks
 * that share the tensor (an allreduce), and dml_optim_apply uses the totals.
 *
 * Definitions (t is the 1-based update count, lr the scheduled rate, wd
 * the weight decay; every operation in float32 unless said otherwise,
 * executor/README.md "Reproducing a run" spells out the order):
 *   SGD (PyTorch torch.optim.SGD, dampening 0, L2 coupled, the rate
 *       outside the buffer): g' = g + wd w; buf = momentum buf + g';
 *       w -= lr buf.
 *   Adam (Kingma & Ba 2015 with L2, as torch.optim.Adam's weight_decay):
 *       g' = g + wd w; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
 *       w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 *   AdamW (Loshchilov & Hutter 2019, as torch.optim.AdamW): decoupled,
 *       w = w (1 - lr wd); then m, v from g (not g') and the same step.
 *   LAMB (You et al. 2020, Algorithm 2, phi = identity): m, v as AdamW;
 *       u = m_hat / (sqrt(v_hat) + eps) + wd w;
 *       w -= lr (|w| / |u|) u, the ratio 1 when |w| or |u| is 0.
 *   LARS (You, Gitman & Ginsburg 2017, Algorithm 1): local = eta |w| /
 *       (|g| + wd |w|), 1 when |w| or |g| is 0; buf = momentum buf +
 *       lr local (g + wd w) (the rate inside the buffer); w -= buf.
 *       eta = DML_OPTIM_LARS_ETA.
 * eps is added outside the square root, after the bias corrections (as
 * PyTorch). Norms |.| are over the whole tensor (all shards).
 *
 * Biases (and normalisation parameters, where a model has them) take no
 * weight decay under any rule, and LAMB and LARS do not scale them by a
 * trust ratio (ratio 1: LAMB's step is lr u, LARS's buffer momentum buf +
 * lr g): the practice of Megatron-LM (wd_mult 0 for biases and every 1-D
 * parameter), of LAMB as BERT is pre-trained with it (TensorFlow Addons'
 * exclude_from_weight_decay and exclude_from_layer_adaptation, bias and
 * LayerNorm) and of LARS in the MLPerf ResNet-50 references (bias and
 * batch-norm parameters skip both). A slice marks them with no_decay.
 */
#ifndef DML_EXECUTOR_OPTIM_H
#define DML_EXECUTOR_OPTIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "costmodel/plan.h"

/* LARS trust coefficient eta, the value of You et al. 2017. */
#define DML_OPTIM_LARS_ETA 0.001

typedef struct dml_optim_hparams {
    dml_optimizer kind;   /* the update rule (costmodel/plan.h) */
    double weight_decay;  /* wd, dimensionless per step scale (see above) */
    double momentum;      /* SGD and LARS momentum, dimensionless */
    double beta1;         /* Adam/AdamW/LAMB first-moment decay */
    double beta2;         /* Adam/AdamW/LAMB second-moment decay */
    double eps;           /* Adam/AdamW/LAMB denominator guard */
} dml_optim_hparams;

/* Optimizer state slots per parameter: 1 (SGD, LARS) or 2 (Adam, AdamW,
 * LAMB). */
int dml_optim_state_slots(dml_optimizer k);

/* Does the rule need full-tensor norms (LAMB, LARS)? */
int dml_optim_needs_norms(dml_optimizer k);

/* A contiguous slice of one parameter tensor owned by this rank. */
typedef struct dml_optim_slice {
    float *w;        /* parameters, n values */
    const float *g;  /* gradient of the loss, n values */
    float *m;        /* momentum / first moment, n values */
    float *v;        /* second moment, n values (NULL for SGD, LARS) */
    size_t n;        /* values in the slice */
    int tensor;      /* index of the whole tensor, for the norms */
    bool no_decay;   /* a bias or norm parameter: no weight decay, no
                        LAMB/LARS trust ratio (see above) */
} dml_optim_slice;

/*
 * Add this rank's partial sums of squares into sq[2*tensor] and
 * sq[2*tensor+1]: LARS |w|^2 and |g|^2, LAMB |w|^2 and |u|^2 (u computed
 * from the moments this update would produce, without storing them);
 * nothing for no_decay slices (they take no ratio) and nothing at all for
 * SGD, Adam and AdamW. sq must be zeroed by the caller.
 */
void dml_optim_partial_norms(const dml_optim_hparams *h,
                             const dml_optim_slice *s, size_t nslices,
                             long t, double *sq);

/* Update every slice; sq holds the full-tensor sums of squares (ignored by
 * SGD, Adam and AdamW, may be NULL for them). */
void dml_optim_apply(const dml_optim_hparams *h, const dml_optim_slice *s,
                     size_t nslices, long t, double lr, const double *sq);

/* The rate a plan's schedule gives at step (0-based), the cost model's
 * dml_schedule_lr_at: during warmup lr = peak (step+1)/warmup (a linear
 * ramp from 0 whose first step is not wasted at lr 0); then progress
 * p = (step - warmup) / decay_steps (decay_steps counts from the end of
 * warmup, docs/formats.md), cosine min + (peak-min)(1+cos(pi p))/2,
 * linear peak - (peak-min) p, min from p >= 1 on; constant peak, and
 * peak after warmup whenever decay_steps is 0 (no length to decay over).
 * In double; the update takes it rounded to float. */
double dml_optim_lr_at(const dml_train_schedule *s, int64_t step);

#endif
