/*
 * groups.c: a rank's MPI groups (see groups.h).
 */
#include "executor/groups.h"

#include "common/log.h"

void dml_groups_init(dml_groups *g, MPI_Comm world)
{
    g->world = world;
    MPI_Comm_rank(world, &g->rank);
    MPI_Comm_size(world, &g->world_size);
    g->tp = g->pp = g->dp = MPI_COMM_NULL;
    g->tp_size = g->pp_size = g->dp_size = 1;
    g->tp_i = g->pp_i = g->dp_i = 0;
}

/* Does the next rank of comm (rank i + 1, wrapping) share this rank's
 * node? Each node is named by the index in comm of its lowest member. */
static bool next_on_same_node(MPI_Comm comm)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    MPI_Comm node;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
                        &node);
    int leader = rank;
    MPI_Bcast(&leader, 1, MPI_INT, 0, node);
    MPI_Comm_free(&node);
    int next = leader;
    /* Send my node to the previous rank, receive the next rank's. */
    MPI_Sendrecv(&leader, 1, MPI_INT, (rank + size - 1) % size, 0, &next, 1,
                 MPI_INT, (rank + 1) % size, 0, comm, MPI_STATUS_IGNORE);
    return next == leader;
}

dml_status dml_groups_split(dml_groups *g, const dml_plan *p, dml_error *err)
{
    (void)err;
    g->dp_size = p->par.dp;
    g->tp_size = p->par.tp;
    g->pp_size = p->par.pp;
    DML_CHECK(dml_plan_rank_coords(p, g->rank, &g->dp_i, &g->pp_i, &g->tp_i));
    /* Ranks sharing a color form one group, ordered by their index in it. */
    MPI_Comm_split(g->world, g->dp_i * g->pp_size + g->pp_i, g->tp_i, &g->tp);
    MPI_Comm_split(g->world, g->dp_i * g->tp_size + g->tp_i, g->pp_i, &g->pp);
    MPI_Comm_split(g->world, g->pp_i * g->tp_size + g->tp_i, g->dp_i, &g->dp);
    g->dp_next_same_node = next_on_same_node(g->dp);
    /* TP exchanges activations every layer pair: it should stay on a node
     * (consecutive ranks are, when mpirun fills nodes in order). */
    MPI_Comm node;
    MPI_Comm_split_type(g->tp, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int node_size, spans = 0, any = 0;
    MPI_Comm_size(node, &node_size);
    MPI_Comm_free(&node);
    spans = node_size < g->tp_size;
    MPI_Allreduce(&spans, &any, 1, MPI_INT, MPI_MAX, g->world);
    if (any && g->rank == 0)
        dml_log_warn("a tensor-parallel group spans nodes: its allreduces "
                     "cross the network (place ranks by slot)");
    return DML_OK;
}

void dml_groups_free(dml_groups *g)
{
    if (g->tp != MPI_COMM_NULL)
        MPI_Comm_free(&g->tp);
    if (g->pp != MPI_COMM_NULL)
        MPI_Comm_free(&g->pp);
    if (g->dp != MPI_COMM_NULL)
        MPI_Comm_free(&g->dp);
}

dml_status dml_groups_agree(MPI_Comm comm, dml_status s, dml_error *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = s == DML_OK ? size : rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size)
        return DML_OK;
    int code = (int)s;
    char msg[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64];
    msg[0] = '\0';
    if (rank == first && err)
        dml_error_format(err, msg, sizeof msg);
    MPI_Bcast(&code, 1, MPI_INT, first, comm);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, comm);
    if (rank != first)
        dml_error_msg(err, (dml_status)code, "%s", msg);
    return (dml_status)code;
}
