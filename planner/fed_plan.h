/*
 * fed_plan.h: a federated plan's round (mode=federated, issue 18): its
 * price from the plan's cost model (costmodel/fed_round.h: the server's
 * link, the busiest, and the compute of the slowest rank's clients), and
 * how dml-plan's --json and --explain show it.
 *
 * The cost model's inputs, all from what the sync step was priced with:
 *  - a rank's speed: the forward and backward FLOPs of the plan's step on
 *    one replica over the step's predicted compute time (calibration
 *    included), so a client's local step costs what a training step of
 *    its batch would;
 *  - masking: a PRG value added to each of P 32-bit values, one mask
 *    stream per other client, bound by memory (read and write, 8 bytes a
 *    value, at the device's memory-bound bandwidth);
 *  - the server's link: inside a node when the plan's ranks share one,
 *    else the slowest link between nodes;
 *  - the training set: Fashion-MNIST's 60,000 images, what dml-exec's
 *    clients share (executor/federated/partition.c).
 */
#ifndef DML_PLANNER_FED_PLAN_H
#define DML_PLANNER_FED_PLAN_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "costmodel/fed_round.h"
#include "costmodel/plan.h"
#include "costmodel/step_time.h"

#define DML_FED_TRAIN_SAMPLES 60000.0

/* The round of federated plan pl (priced step in pl->pred) on nodes
 * nodes of ctx's cluster. */
void dml_planner_fed_round(const dml_costmodel_ctx *ctx, const dml_plan *pl,
                           int64_t nodes, dml_fed_round_price *out);

/* The plan's federated knobs and its round: {"clients": ..., ...,
 * "round_s", "clients_per_round", ...} (docs/schemas/plan-report). */
json_t *dml_planner_fed_json(const dml_plan *pl,
                             const dml_fed_round_price *r);

/* --explain's lines on the round: its parts and the server's link. */
void dml_planner_fed_explain(FILE *out, const dml_plan *pl, int64_t nodes,
                             const dml_fed_round_price *r);

#endif
