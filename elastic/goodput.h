/*
 * goodput.h: a supervised job against the planner's model of checkpoints
 * and failures (costmodel/schedule.h, as planner/batch.c prices a
 * training's time with failures).
 *
 * The model: with a checkpoint every tau seconds of work, each taking C
 * to write, a restart R (the planner takes the checkpoint's read back,
 * R = C) and a failure every M seconds, the time lost is the fraction
 * C/tau + (tau/2 + C + R)/M of the useful work: per failure, half an
 * interval of work on average, plus the checkpoint and the restart.
 * Young's optimal interval is sqrt(2 C M), Daly's its higher-order
 * correction. For a job, tau is --checkpoint-every x the mean step it
 * saw, C the cluster spec's write time for the checkpoint on disk, and M
 * the MTBF it saw (wall / failures; without failures the spec's, node
 * MTBF / nodes): so the expected figures are those of the failures that
 * happened, to set against the measured ones (lost, detect + restart,
 * wall, goodput).
 */
#ifndef DML_ELASTIC_GOODPUT_H
#define DML_ELASTIC_GOODPUT_H

#include <stdint.h>

#include "costmodel/cluster_spec.h"
#include "db/job_store.h"

typedef struct dml_elastic_seen {
    double wall_s, compute_s, lost_s; /* as the jobs row has them, s */
    int failures, grows;
    double replan_s;
    int64_t steps;            /* steps trained, those lost included */
    int64_t checkpoint_every; /* steps */
    int nodes;                /* of the first launch */
    double ckpt_bytes;        /* one checkpoint on disk, bytes; 0: none */
} dml_elastic_seen;

/* The model of the job (c may be NULL: the spec's figures are then NAN,
 * and so is what needs them). */
void dml_elastic_model(const dml_cluster_spec *c, const dml_elastic_seen *s,
                       dml_db_job_model *out);

#endif
