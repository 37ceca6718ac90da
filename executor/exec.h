/*
 * exec.h: running a plan for real under MPI (dml-exec).
 *
 * dml_exec_open is collective over the world communicator. Rank 0 checks
 * everything that can be wrong with the input before any other MPI work
 * (plan file, rank count = dp x tp x pp, a model the executor can run,
 * data directory and IDX files, weight file, checkpoint and database
 * paths) and broadcasts the verdict, so every rank returns the same status
 * and only rank 0 has to print the one error line. Then each rank builds
 * its groups (MPI_Comm_split from the plan's rank coordinates: tp fastest,
 * then pp, then dp), its pipeline stage and TP shard (stage.h), its data
 * and its optimizer state.
 *
 * dml_exec_run trains: per step, micro-batches go through the stages in a
 * 1F1B (or GPipe) schedule with point-to-point sends; data-parallel
 * gradients are summed in buckets with non-blocking collectives started as
 * soon as backward has finished them (allreduce, or reduce-scatter plus
 * all-gather of the parameters with ZeRO-1); the optimizer updates; rank 0
 * records the step. Checkpoints, test accuracy, the weight file and the
 * run summary follow. The loss is the mean over the global batch and the
 * data order, initialisation and reductions are chosen so that every layout
 * computes the same model (executor/README.md, "The result does not
 * depend on the layout").
 *
 * The parts, each a file with its own struct (executor/README.md): input
 * (validation), groups (MPI), stage (layers), pipeline (schedule), sync/
 * (the gradient exchange strategies), update (optimizer), noise (the
 * gradient noise scale), run_record (history and database), ckpt_job
 * (checkpoints). A run's life as a state diagram, with the function
 * behind each transition and its invariants: run_state.h.
 */
#ifndef DML_EXECUTOR_EXEC_H
#define DML_EXECUTOR_EXEC_H

#include <jansson.h>
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "executor/layers.h"

/* Default size of a data-parallel gradient bucket, bytes. */
#define DML_EXEC_BUCKET_BYTES (1u << 20)

typedef struct dml_exec_options {
    const char *plan_path;       /* plan file (required) */
    int64_t steps;               /* optimizer steps in all (a resumed run
                                    counts the steps before it); < 0: the
                                    plan's warmup + decay steps, or 100 */
    const char *db_path;         /* database; NULL: dml_db_default_path */
    const char *data;            /* Fashion-MNIST directory or "synthetic";
                                    NULL: /usr/share/datasets/fashion-mnist */
    uint64_t seed;               /* initialisation and shuffle seed */
    bool shuffle;                /* --shuffle epoch (else none) */
    int threads;                 /* BLAS threads per rank, 0: the plan's */
    const char *checkpoint_dir;  /* NULL: no checkpoints */
    int64_t checkpoint_every;    /* steps between checkpoints, 0: none */
    bool resume;                 /* continue from the newest valid one */
    const char *init_weights;    /* weight file to start from, or NULL */
    const char *save_weights;    /* weight file to write at the end */
    size_t bucket_bytes;         /* DP bucket size, bytes; 0: default */
    int64_t eval_every;          /* test accuracy after every K-th step
                                    (recorded with the step), 0: only at
                                    the end */
    bool quiet_progress;         /* no per-step lines on stdout */
} dml_exec_options;

void dml_exec_options_init(dml_exec_options *o);

/*
 * Call before MPI_Init: MPI defaults the executor's speed depends on,
 * set only where the user has not set them. Open MPI's libnbc runs
 * MPI_Iallreduce with recursive doubling for the bucket sizes dml-exec
 * uses, about 1.5x slower on 2 ranks than its own blocking allreduce; the
 * ring algorithm (bandwidth-optimal for buckets of 100 kB and more) is as
 * fast. Other MPI libraries ignore the variable.
 */
void dml_exec_mpi_preinit(void);

typedef struct dml_exec dml_exec;

/* Collective; see above. On failure *out is NULL on every rank and err
 * holds rank 0's message on every rank. */
dml_status dml_exec_open(const dml_exec_options *o, MPI_Comm world,
                         dml_exec **out, dml_error *err);

/* Collective: train, evaluate, save, record. */
dml_status dml_exec_run(dml_exec *x, dml_error *err);

void dml_exec_close(dml_exec *x);

/* SIGTERM or SIGINT when one stopped the run (every rank agreed on it at
 * a step boundary, executor/README.md), else 0: dml-exec then exits with
 * 128 + that signal; DML_EXEC_STOP_ASKED when ROOT/stop-at-checkpoint
 * stopped it right after a checkpoint (executor/ckpt.h): dml-exec then
 * exits DML_CKPT_STOP_EXIT (ckpt.h). x may be NULL. */
int dml_exec_stop_signal(const dml_exec *x);

#define DML_EXEC_STOP_ASKED (-1)


/* The run summary of --json (rank 0 after dml_exec_run; NULL elsewhere):
 * schema_version, layout, losses of every step run, measured median and
 * predicted step time, test accuracy, database run id. New reference. */
json_t *dml_exec_summary(const dml_exec *x);

/* Per-step losses of this invocation (rank 0): *first the first step run,
 * *n how many. */
const double *dml_exec_losses(const dml_exec *x, int64_t *first, int64_t *n);

/* This rank's GEMM time over the steps run after the first (the warm-up),
 * the number of those steps, and the distinct shapes with call counts
 * (for the speed benchmark). */
const dml_gemm_timer *dml_exec_gemm_profile(const dml_exec *x,
                                            int64_t *steps);

/*
 * The executor's data-parallel gradient reduction on its own, reps times
 * (collective over the dp group): the bucketed non-blocking allreduce (or
 * reduce-scatter + all-gather with ZeRO-1) of the whole gradient buffer.
 * *median_s the median time of one reduction, *bytes the gradient bytes.
 */
dml_status dml_exec_bench_dp_sync(dml_exec *x, int reps, double *median_s,
                                  double *bytes, dml_error *err);

/* The data-parallel communicator of this rank (for the benchmark's bare
 * MPI_Allreduce baseline). */
MPI_Comm dml_exec_dp_comm(const dml_exec *x);

/* The gradient-exchange strategy the plan runs with ("allreduce",
 * "zero1": executor/sync/sync.h). */
const char *dml_exec_sync_name(const dml_exec *x);

/* Bytes this rank sent in the last gradient exchange (the last step, or
 * the last repetition of dml_exec_bench_dp_sync), to ranks on its node
 * and to ranks on other nodes. */
void dml_exec_sync_bytes(const dml_exec *x, double *intra_node,
                         double *inter_node);

#endif
