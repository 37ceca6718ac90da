/*
 * ckpt_job.h: checkpoints of the whole job: written by every rank
 * together, and the newest one every rank can verify resumed.
 *
 * ckpt.h writes and reads one rank's shard and the manifest; this module
 * runs that across the ranks and decides together: the step directory is
 * prepared by rank 0, every rank writes its shard (parameters, then the
 * optimizer state, then the gradient exchange's own state, sync.h), the
 * checksums are gathered, and rank 0 writes the manifest last, so a
 * checkpoint without its manifest is one whose writing did not finish.
 * Each step agrees on the status across ranks, so no rank goes on alone.
 *
 * A checkpoint that cannot be written stops the run (the error names it
 * and the newest complete one, which is intact). Resuming tries the
 * checkpoints newest first and takes the first that every rank accepts;
 * the rest are reported in a few lines and one event (executor/README.md,
 * "Checkpoints").
 */
#ifndef DML_EXECUTOR_CKPT_JOB_H
#define DML_EXECUTOR_CKPT_JOB_H

#include <mpi.h>
#include <stdint.h>

#include "common/error.h"
#include "executor/ckpt.h"
#include "executor/groups.h"
#include "executor/run_record.h"
#include "executor/stage.h"
#include "executor/sync/sync.h"
#include "executor/update.h"

typedef struct dml_ckpt_job {
    const char *root;         /* --checkpoint-dir (borrowed) */
    const dml_groups *g;      /* the job's ranks (borrowed) */
    dml_ckpt_meta meta;       /* what every checkpoint of this run says
                                 (step and position set per write) */
    dml_stage *st;            /* parameters (borrowed) */
    const dml_stage_model *model; /* the whole model's widths (borrowed):
                                     re-sharding another layout's
                                     checkpoint (ckpt_relayout.h) */
    dml_update *up;           /* optimizer state (borrowed) */
    dml_sync *sync;           /* the exchange's state (borrowed) */
    dml_run_record *rec;      /* events and checkpoint rows (borrowed) */
    int64_t last;             /* newest complete checkpoint, -1: none */
} dml_ckpt_job;

/* The checkpoints of a run of plan p (meta: layout, optimizer, seed,
 * shuffle, identity; identity may be NULL). */
void dml_ckpt_job_init(dml_ckpt_job *j, const char *root,
                       const dml_groups *g, const dml_plan *p,
                       const dml_identity *identity, uint64_t seed,
                       bool shuffle, const dml_stage_model *model,
                       dml_stage *st, dml_update *up, dml_sync *sync,
                       dml_run_record *rec);

/* Collective: checkpoint `step` (steps completed) at stream position
 * samples_seen. DML_EIO (or DML_ENOMEM) naming it on failure. */
dml_status dml_ckpt_job_write(dml_ckpt_job *j, int64_t step,
                              int64_t samples_seen, dml_error *err);

/* Collective: load the newest checkpoint at most steps_total that every
 * rank verifies, written by this layout or, re-sharded, by another one of
 * the same training (ckpt_relayout.h); *step and *samples_seen get its step and position (left
 * as they are when there is none: the run starts afresh, with a warning).
 * An error only when the checkpoints cannot be listed or memory runs
 * out. */
dml_status dml_ckpt_job_resume(dml_ckpt_job *j, int64_t steps_total,
                               int64_t *step, int64_t *samples_seen,
                               dml_error *err);

/* A run that ROOT/stop-at-checkpoint stopped after steps_done steps
 * (written: its checkpoint was written there): rank 0 removes the file,
 * so that the resumed run goes on, and records a "stopped" event; the
 * error (DML_ERUNTIME) says so. */
dml_status dml_ckpt_job_stopped(dml_ckpt_job *j, int64_t steps_done,
                                int64_t steps_total, bool written,
                                dml_error *err);

#endif
