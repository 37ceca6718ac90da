/*
 * report_target.h: dml-plan's report when it ranks by time to a target
 * (--target-accuracy, --target-loss): the history the strategies' steps
 * come from, each plan's predicted steps and time to the target, and a
 * sentence on the winner's strategy against the dense allreduce of the
 * same layout (bytes, steps, time to the target). Nothing when the
 * planner has no target. Used by report.c.
 */
#ifndef DML_PLANNER_REPORT_TARGET_H
#define DML_PLANNER_REPORT_TARGET_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "planner/planner.h"

/* "sync=topk:0.01 wins against allreduce: 40 x fewer bytes between nodes
 * (26.9 kB vs 1.08 MB a replica per step) on the 12.5 MB/s link, costs
 * 6 % more steps to test accuracy 84 % (445 vs 420, measured): 3.1 x
 * less time to it"; "" when w is dense or there is no target. */
char *dml_planner_strategy_sentence(const dml_planner *p,
                                    const dml_planned *w, char *buf,
                                    size_t size);

/* The section after the plans' table. */
void dml_planner_print_target(FILE *out, const dml_planner *p);

/* The document's "target" object (NULL without a target). */
json_t *dml_planner_target_json(const dml_planner *p);

/* A plan's "time_to_target" object: steps, source, factor, time_s (NULL
 * without a target). */
json_t *dml_planner_plan_target_json(const dml_planner *p,
                                     const dml_planned *pl);

#endif
