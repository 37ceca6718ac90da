/*
 * guard.h: the numbers a run must not go on with: weights that are not
 * finite (read from a file, or made by training) and a loss that has
 * diverged.
 *
 * A loss that is NaN or infinite always stopped a run; these close the
 * other ways a run went on with nonsense: a NaN in a hidden unit that
 * ReLU turned into 0 before it reached the loss (layers.c now lets NaN
 * through, and the parameters are checked after every update), a NaN in
 * --init-weights or in a checkpoint whose checksum is valid, and a loss
 * that grew to 1e17 while staying finite.
 */
#ifndef DML_EXECUTOR_GUARD_H
#define DML_EXECUTOR_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A loss above this many times max(first loss, 1) has diverged. The
 * cross-entropy of an untrained classifier is ln(classes), 2.3 for 10
 * classes: 1000 times that is a loss no training that still learns
 * reaches (a logit 1000 off the mark). */
#define DML_GUARD_DIVERGE_FACTOR 1e3

/* Index of the first value of v[0..n) that is NaN or infinite; n when
 * every value is finite. Cheap when they all are: one pass that
 * vectorises, then a second only to find the culprit. */
size_t dml_guard_first_nonfinite(const float *v, size_t n);

/* How many values of v[0..n) are NaN or infinite. */
size_t dml_guard_count_nonfinite(const float *v, size_t n);

/* Has the loss diverged: not finite, or above DML_GUARD_DIVERGE_FACTOR x
 * max(first, 1) (first: the first loss of this invocation)? */
bool dml_guard_diverged(double loss, double first);

/* The bound dml_guard_diverged compares with. */
double dml_guard_diverge_bound(double first);

/*
 * Must the run stop after step? A loss that is not finite or has
 * diverged from first_loss, or parameters that are no longer finite
 * (nonfinite of them, summed over the ranks). Every rank computes the same
 * from the reduced numbers. When it must, why gets one sentence and *kind
 * the event's kind ("nan" or "diverged").
 */
bool dml_guard_step_failed(int64_t step, double loss, double nonfinite,
                           double first_loss, char *why, size_t size,
                           const char **kind);

#endif
