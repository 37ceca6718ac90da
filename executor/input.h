/*
 * input.h: what a dml-exec run is asked to do (the plan, the model it
 * describes, the identity its checkpoints carry), judged on rank 0 and
 * shared with every rank.
 *
 * Rank 0 checks everything that can be wrong with the input before any
 * other MPI work: the options that go together, the plan file (its JSON,
 * then what the executor can run of it: rank count = dp x tp x pp, an
 * fp32 MLP, a 1F1B or GPipe schedule, ZeRO 0 or 1, no recompute,
 * compression or asynchronous updates, sizes a rank can hold), each
 * stage's TP split, the data directory and its IDX files, the weight
 * file, the checkpoint directory (writable, not in use by a live job).
 * The first refusal is the error, naming the file and field; nothing has
 * been written then. dml_input_share then sends the plan's bytes (and the
 * identity, which needs the data files) to every rank, which parses the
 * same text: only rank 0 needs the files.
 */
#ifndef DML_EXECUTOR_INPUT_H
#define DML_EXECUTOR_INPUT_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "executor/exec.h"
#include "executor/identity.h"
#include "executor/stage.h"
#include "executor/weights.h"

/* Rows of one test-set chunk at most (bounds the evaluation buffers). */
#define DML_INPUT_EVAL_ROWS_MAX 1024

typedef struct dml_input {
    char *plan_text;           /* the plan file, as read (rank 0) or
                                  received; NUL-terminated */
    size_t plan_len;           /* its bytes (a NUL inside is an error) */
    dml_plan plan;             /* parsed from plan_text */
    dml_identity *identity;    /* what the result depends on (identity.h),
                                  with --checkpoint-dir; else NULL */
    dml_mlp_shape shape;       /* the model's widths (weights.h) */
    dml_stage_model model;     /* the same for stage.h (widths point into
                                  shape) */
} dml_input;

void dml_input_init(dml_input *in);
void dml_input_free(dml_input *in);

/* Rank 0: judge the options and the plan for a job of world_size ranks
 * (see above). */
dml_status dml_input_check(dml_input *in, const dml_exec_options *o,
                           int world_size, dml_error *err);

/* Collective, after every rank has agreed that rank 0's check passed:
 * the plan text and identity to every rank, parsed there. */
dml_status dml_input_share(dml_input *in, const dml_exec_options *o,
                           MPI_Comm world, dml_error *err);

/* --data synthetic? */
bool dml_input_synthetic(const dml_exec_options *o);

/* The Fashion-MNIST directory of the options (the default when none). */
const char *dml_input_data_dir(const dml_exec_options *o);

#endif
