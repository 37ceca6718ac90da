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
    g->dp_nodes = (dml_dp_nodes){.node = MPI_COMM_NULL,
                                 .node_late = MPI_COMM_NULL,
                                 .cross = MPI_COMM_NULL,
                                 .per_node_min = 1,
                                 .per_node_max = 1,
                                 .next_same_node = true};
    g->tp_size = g->pp_size = g->dp_size = 1;
    g->tp_i = g->pp_i = g->dp_i = 0;
}

/* The DP group node by node (groups.h). Each node is named by the index
 * in comm of its lowest member; the next rank of comm (i + 1, wrapping)
 * shares this rank's node when its name is the same. */
static void dp_nodes_split(MPI_Comm comm, dml_dp_nodes *n)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
                        &n->node);
    MPI_Comm_dup(n->node, &n->node_late);
    int local, here;
    MPI_Comm_rank(n->node, &local);
    MPI_Comm_size(n->node, &here);
    MPI_Comm_split(comm, local, rank, &n->cross);
    int least[2] = {here, -here}; /* fewest and most, in one reduction */
    MPI_Allreduce(MPI_IN_PLACE, least, 2, MPI_INT, MPI_MIN, comm);
    n->per_node_min = least[0];
    n->per_node_max = -least[1];
    int leader = rank;
    MPI_Bcast(&leader, 1, MPI_INT, 0, n->node);
    int next = leader;
    /* Send my node to the previous rank, receive the next rank's. */
    MPI_Sendrecv(&leader, 1, MPI_INT, (rank + size - 1) % size, 0, &next, 1,
                 MPI_INT, (rank + 1) % size, 0, comm, MPI_STATUS_IGNORE);
    n->next_same_node = next == leader;
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
    dp_nodes_split(g->dp, &g->dp_nodes);
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
    MPI_Comm *own[] = {&g->dp_nodes.node, &g->dp_nodes.node_late,
                       &g->dp_nodes.cross};
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
        if (*own[i] != MPI_COMM_NULL)
            MPI_Comm_free(own[i]);
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
