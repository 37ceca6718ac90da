/*
 * groups.h: the MPI groups of one rank of a plan, in one small struct
 * (llm.c's MultiGpuConfig): the world, and the tensor-, pipeline- and
 * data-parallel groups the plan's rank coordinates give it.
 *
 * Ranks are numbered rank = dp_i*pp*tp + pp_i*tp + tp_i (tp fastest, then
 * pp, then dp: dml_plan_rank_coords), so consecutive ranks, which mpirun
 * places on one node first, form the TP groups that exchange activations
 * every layer pair.
 */
#ifndef DML_EXECUTOR_GROUPS_H
#define DML_EXECUTOR_GROUPS_H

#include <mpi.h>
#include <stdbool.h>

#include "common/error.h"
#include "costmodel/plan.h"

/* The data-parallel group seen node by node, for strategies that reduce
 * inside each node first (sync/hierarchical.c) and for counting which
 * link a ring's bytes take. Nodes are MPI_Comm_split_type(SHARED)'s; every
 * communicator orders its ranks as the DP group does. */
typedef struct dml_dp_nodes {
    MPI_Comm node;           /* the DP group's ranks on this rank's node
                                (owned by dml_groups; borrowed elsewhere) */
    MPI_Comm node_late;      /* a second handle on the same ranks, for the
                                collectives a strategy starts while others
                                are in flight on `node` in another order */
    MPI_Comm cross;          /* the DP group's ranks that hold this rank's
                                place in their node, one per node */
    int per_node_min;        /* fewest DP ranks on one node */
    int per_node_max;        /* most DP ranks on one node */
    bool next_same_node;     /* the next rank of the DP group (a ring's
                                successor) shares this rank's node */
} dml_dp_nodes;

typedef struct dml_groups {
    MPI_Comm world;          /* every rank of the job (borrowed) */
    int rank, world_size;    /* this rank and the job's ranks */
    MPI_Comm tp, pp, dp;     /* the groups (owned; MPI_COMM_NULL before
                                dml_groups_split) */
    int tp_size, pp_size, dp_size; /* the plan's tp, pp, dp */
    int tp_i, pp_i, dp_i;    /* this rank's place in each */
    dml_dp_nodes dp_nodes;   /* the DP group node by node (owned) */
} dml_groups;

/* The world only (before the plan is known); groups MPI_COMM_NULL. */
void dml_groups_init(dml_groups *g, MPI_Comm world);

/* Collective over the world: split it by the plan's coordinates, split
 * the DP group by node (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED) and
 * by place in the node (dml_dp_nodes), and warn (rank 0) when a TP group
 * spans nodes. */
dml_status dml_groups_split(dml_groups *g, const dml_plan *p,
                            dml_error *err);

void dml_groups_free(dml_groups *g);

/*
 * Collective over comm: every rank passes its status and all return the
 * status (and message) of the lowest failing rank, so that they stop
 * together and the one line printed is the same on every rank.
 */
dml_status dml_groups_agree(MPI_Comm comm, dml_status s, dml_error *err);

#endif
