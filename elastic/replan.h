/*
 * replan.h: the plan of a supervised job for the ranks it has now.
 *
 * When a job loses (or regains) hosts, the best layout changes with the
 * device count: the planner library searches dp, tp, pp, the micro-batch
 * split and ZeRO for that many devices of the job's cluster, keeping what
 * makes it the same training: the model, the global batch (the new
 * layout reaches it with its own micro-batch count: gradient
 * accumulation), the schedule (optimizer, learning rate and its
 * schedule, batch ramp: the original plan's, as they are), the
 * data-parallel strategy and the threads per rank. Only what dml-exec
 * runs is searched: no recomputation, the original plan's pipeline
 * schedule, ZeRO as the original plan has it (else 0; the planner
 * proposes no interleaving or sequence parallelism for an MLP). A checkpoint of
 * the old layout resumes on the new one (executor/ckpt_relayout.h).
 */
#ifndef DML_ELASTIC_REPLAN_H
#define DML_ELASTIC_REPLAN_H

#include <stddef.h>

#include "common/error.h"
#include "db/db.h"

/*
 * Plan the training of the plan file at plan_path for `ranks` ranks of
 * cluster (a preset or spec file; NULL: the plan's cluster name) and
 * write it to out_path; summary gets "dp=3 tp=1 pp=1 zero=1, 4 x 4
 * micro-batches" and the like. db, the supervisor's open database, is
 * what the planner reads (NULL: it opens $DML_DB or dml.db itself when
 * it needs to). DML_EINFEASIBLE when no layout of that many
 * ranks fits.
 */
dml_status dml_elastic_replan(const char *plan_path, const char *cluster,
                              dml_db *db, int ranks,
                              const char *out_path, char *summary,
                              size_t size, dml_error *err);

#endif
