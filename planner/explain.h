/*
 * explain.h: saying in one line why one plan beats another.
 *
 * A step's time splits into parts (compute, exposed TP / PP / DP
 * communication, pipeline bubble, optimizer, fixed overhead; plan.h). Two
 * plans are compared part by part; the part with the largest difference
 * is the reason, and the knobs that differ between the two are named next
 * to it, so "its pipeline bubble is 0.41 s shorter per step (v 3 vs 1)"
 * reads as a cause, not just a number.
 */
#ifndef DML_PLANNER_EXPLAIN_H
#define DML_PLANNER_EXPLAIN_H

#include <stddef.h>

#include "costmodel/plan.h"
#include "planner/search.h"

typedef enum dml_part {
    DML_PART_COMPUTE = 0,
    DML_PART_TP,
    DML_PART_PP,
    DML_PART_DP,
    DML_PART_BUBBLE,
    DML_PART_OPTIMIZER,
    DML_PART_OVERHEAD,
    DML_PART_COUNT
} dml_part;

/* "compute", "exposed TP communication", ..., "pipeline bubble". */
const char *dml_part_name(dml_part p);

/* Seconds of part p in a breakdown. */
double dml_part_seconds(const dml_time_breakdown *t, dml_part p);

/* The part where `slow` spends the most time beyond `fast`; *delta_s gets
 * that difference (slow - fast, s). */
dml_part dml_planner_biggest_difference(const dml_prediction *fast,
                                        const dml_prediction *slow,
                                        double *delta_s);

/* The knobs that differ, as "pp 8 vs 16, v 3 vs 1, attention flash vs
 * materialized" (a's value first); "" when none does. */
char *dml_planner_config_diff(const dml_parallel_config *a,
                              const dml_parallel_config *b, char *buf,
                              size_t size);

/*
 * One sentence: why `win` ranks above `other`, e.g. "3.2% faster than
 * dp=8,tp=8,pp=16,...: its pipeline bubble is 0.41 s shorter per step
 * (pp 8 vs 16, v 3 vs 1)". With different global batches (automatic
 * batch) the comparison is of time to train. type: the model's, for the
 * knobs named (dml_planner_config_format).
 */
char *dml_planner_why_better(const dml_candidate *win,
                             const dml_candidate *other, dml_model_type type,
                             char *buf, size_t size);

#endif
