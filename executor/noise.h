/*
 * noise.h: the gradient noise scale of a step (McCandlish et al. 2018,
 * appendix A), measured while training.
 *
 * The estimate compares the squared norm of the mean gradient over small
 * batches with that over the whole batch. With dp > 1 the small batches
 * are the replicas' own gradients (B_small = B/dp), seen just before the
 * gradient exchange sums them (the dml_sync pre-reduce hook); with one
 * replica they are the two halves of the step's micro-batches (B_small =
 * B/2: a snapshot of the gradient after micro-batch m/2-1; not measured
 * when m is odd). Each rank computes shares whose sum over the world is
 * the two squared norms; then
 *   |G|^2 = (B_big |G_big|^2 - B_small |G_small|^2) / (B_big - B_small),
 *   tr(S) = (|G_small|^2 - |G_big|^2) / (1/B_small - 1/B_big),
 *   B_simple = tr(S) / |G|^2 (NAN when the |G|^2 estimate is not positive).
 */
#ifndef DML_EXECUTOR_NOISE_H
#define DML_EXECUTOR_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "executor/stage.h"
#include "executor/update.h"

typedef struct dml_noise {
    const dml_stage *st;  /* the rank's gradients (borrowed) */
    int dp;               /* data-parallel replicas */
    float *half;          /* dp = 1: [nflat] gradient after half of the
                             micro-batches, then the second half's */
    bool measure;         /* measured this step */
    double small_sq;      /* dp > 1: this replica's squared gradient norm
                             over the buckets reduced so far */
    int64_t batch;        /* this step's global batch B */
    bool uneven;          /* the replicas' batches differ (dp_shares):
                             theirs are not the small batches B/dp, and
                             with dp > 1 nothing is measured */
} dml_noise;

/* With one replica and up to max_microbatches >= 2, the snapshot. */
dml_status dml_noise_init(dml_noise *n, const dml_stage *st, int dp,
                          int64_t max_microbatches, dml_error *err);
void dml_noise_free(dml_noise *n);

/* A step of global batch `batch` in m micro-batches: is it measured? */
void dml_noise_begin_step(dml_noise *n, int64_t batch, int m);

/* The dml_sync_pre_reduce_fn (ctx: the dml_noise): this replica's share
 * of [lo, hi) before it is summed. */
void dml_noise_pre_reduce(void *ctx, const float *grads, size_t lo,
                          size_t hi);

/* After micro-batch j of m has added its gradient (one replica). */
void dml_noise_after_backward(dml_noise *n, int j, int m);

/* This rank's shares of |G_small|^2 and |G_big|^2 (0 when not measured),
 * after the exchange: u's owned reduced gradient, owned by `replicas` DP
 * ranks each (dml_sync.replicas). */
void dml_noise_shares(dml_noise *n, const dml_update *u, int replicas,
                      double *small, double *big);

/* B_simple from the world's summed shares (NAN when not measured). */
double dml_noise_scale(const dml_noise *n, double small, double big);

#endif
