/*
 * report_balance.h: what dml-plan says about balancing on a cluster of
 * unequal node groups (issue 16): the straggler cost of the uniform split
 * ("uniform split: 2.1 x slower; node 3 is 4.0 x slower than nodes
 * 0-1"), and the plan's micro-batch shares and stage boundaries. Nothing
 * on a cluster whose devices are alike. Used by report.c.
 */
#ifndef DML_PLANNER_REPORT_BALANCE_H
#define DML_PLANNER_REPORT_BALANCE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "planner/planner.h"

/* "uniform split: 2.1 x slower than balanced (63.0 ms vs 29.1 ms a step);
 * node 3 is 4.0 x slower than nodes 0-1"; "" on alike devices. */
char *dml_planner_balance_sentence(const dml_planned *w, char *buf,
                                   size_t size);

/* --explain's lines on balance (nothing on alike devices). */
void dml_planner_print_balance(FILE *out, const dml_planned *w);

/* A plan's "balance" object for --json: the knob, the steps under each
 * split, its shares and stage layer counts; NULL on alike devices. */
json_t *dml_planner_balance_json(const dml_planned *w);

#endif
