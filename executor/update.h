/*
 * update.h: the optimizer state one rank keeps, and one update of the
 * parameters it owns.
 *
 * What a rank updates is decided by the gradient-exchange strategy
 * (sync/sync.h): every parameter of its replica (allreduce), or its 1/dp
 * shard of every bucket (ZeRO-1). The strategy lists those ranges with
 * the reduced gradient of each; this module cuts them at tensor
 * boundaries into optimizer slices (optim.h), keeps the state (momentum,
 * second moment) for exactly those values, and applies the rule. The
 * full-tensor norms of LAMB and LARS are summed over the ranks that hold
 * a part of each tensor: the data-parallel group when the strategy shards
 * (each rank owns a different part), the tensor-parallel group when the
 * layer is split (tensors replicated over TP counted once).
 */
#ifndef DML_EXECUTOR_UPDATE_H
#define DML_EXECUTOR_UPDATE_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "executor/optim.h"
#include "executor/stage.h"
#include "executor/sync/sync.h"

typedef struct dml_update {
    dml_optim_hparams hp;     /* the plan's rule and hyper-parameters */
    int state_slots;          /* state values per parameter (1 or 2) */
    size_t nstate;            /* parameters owned = state values per slot */
    float *state;             /* [state_slots x nstate] */
    dml_optim_slice *slices;  /* [nslices] tensor-major, then range */
    size_t nslices;
    double *norm_sq;          /* [2 x ntensors] LAMB/LARS sums of squares */
    const dml_stage *st;      /* the rank's layers (borrowed) */
    MPI_Comm dp_comm;         /* summed over for norms when sharded */
    bool sharded;             /* DP ranks own different parts */
    MPI_Comm tp_comm;         /* the tensor-parallel group (borrowed) */
    int tp, tp_i;             /* its size and this rank's place */
} dml_update;

/* The state for what sync says this rank owns (after dml_sync_open). */
dml_status dml_update_init(dml_update *u, const dml_train_schedule *sched,
                           dml_stage *st, const dml_sync *sync,
                           MPI_Comm tp_comm, dml_error *err);
void dml_update_free(dml_update *u);

/* Update the owned parameters at step (0-based) with rate lr; collective
 * over the groups that share tensors when the rule needs norms. */
void dml_update_step(dml_update *u, int64_t step, double lr);

/* Sum of squares of the reduced gradient this rank owns, counting a
 * tensor replicated over TP on TP rank 0 only (the gradient noise
 * estimate: a sum over the world then counts each owned value once per
 * DP rank that owns it). */
double dml_update_grad_sumsq(const dml_update *u);

/* Values of the optimizer state (state_slots x nstate). */
size_t dml_update_state_values(const dml_update *u);

#endif
