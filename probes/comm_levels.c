/*
 * comm_levels.c: communicator split by level, fake nodes, the levels a
 * job has, size sweeps and agreement between ranks (see comm_levels.h).
 */
#include "comm_levels.h"

#include <time.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/units.h"

const char *dml_comm_level_name(dml_comm_level level)
{
    switch (level) {
    case DML_COMM_INTRA_NODE:
        return "intra_node";
    case DML_COMM_INTER_NODE:
        return "inter_node";
    default:
        return "unknown";
    }
}

dml_status dml_comm_check(int mpi_rc, const char *what, dml_error *err)
{
    if (mpi_rc == MPI_SUCCESS)
        return DML_OK;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "MPI error %d", mpi_rc);
    return dml_error_msg(err, DML_EMPI, "%s: %s", what, msg);
}

dml_status dml_comm_agree(MPI_Comm comm, dml_status local, dml_error *err)
{
    if (comm == MPI_COMM_NULL)
        return local;
    int ok = local == DML_OK, all = 0;
    dml_error mine;
    dml_status s = dml_comm_check(
        MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, comm),
        "agreeing on success", local == DML_OK ? err : &mine);
    if (local != DML_OK)
        return local;
    if (s != DML_OK)
        return s;
    if (!all)
        return dml_error_msg(err, DML_ERUNTIME,
                             "another rank failed (its log says why)");
    return DML_OK;
}

dml_status dml_comm_wait_quietly(MPI_Comm comm, dml_error *err)
{
    MPI_Request req;
    DML_CHECK(dml_comm_check(MPI_Ibarrier(comm, &req), "waiting for the node "
                             "probes", err));
    const struct timespec nap = {0, 2000000}; /* 2 ms */
    for (;;) {
        int done = 0;
        DML_CHECK(dml_comm_check(MPI_Test(&req, &done, MPI_STATUS_IGNORE),
                                 "waiting for the node probes", err));
        if (done)
            return DML_OK;
        nanosleep(&nap, NULL);
    }
}

dml_status dml_comm_levels_done(const dml_comm_levels *lv, dml_status local,
                                dml_error *err)
{
    dml_error mine;
    dml_status w = dml_comm_wait_quietly(lv->comm,
                                         local == DML_OK ? err : &mine);
    return dml_comm_agree(lv->comm, local != DML_OK ? local : w, err);
}

int dml_comm_fake_node_of(int rank, int size, int nodes)
{
    if (size < 1 || nodes < 1 || nodes > size || rank < 0 || rank >= size)
        return -1;
    /* floor(rank·nodes/size) spreads any size over exactly `nodes` nodes
     * and equals rank / (size/nodes) when nodes divides size. */
    return (int)(((long long)rank * nodes) / size);
}

dml_status dml_comm_parse_fake_nodes(const char *text, int size, int *nodes,
                                     dml_error *err)
{
    long v = 0;
    if (!text || !dml_units_parse_long(text, 1, size > 0 ? size : 1, &v))
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0,
                             DML_PROBE_FAKE_NODES_ENV,
                             "'%s' is not a node count in 1..%d (the number "
                             "of ranks)", text ? text : "", size);
    *nodes = (int)v;
    return DML_OK;
}

dml_status dml_comm_levels_split(MPI_Comm comm, int fake_nodes,
                                 dml_comm_levels *out, dml_error *err)
{
    *out = (dml_comm_levels){.comm = comm, .intra = MPI_COMM_NULL,
                             .inter = MPI_COMM_NULL};
    DML_CHECK(dml_comm_check(MPI_Comm_rank(comm, &out->rank), "MPI_Comm_rank",
                             err));
    DML_CHECK(dml_comm_check(MPI_Comm_size(comm, &out->size), "MPI_Comm_size",
                             err));
    int fake = fake_nodes;
    if (fake < 0 || fake > out->size)
        return dml_error_msg(err, DML_EINPUT,
                             "fake node count %d is not in 1..%d", fake,
                             out->size);
    if (fake == 0) {
        /* Rank 0's environment decides, so that every rank agrees even
         * when a launcher does not forward the variable. */
        char text[64] = "";
        if (out->rank == 0) {
            const char *env = getenv(DML_PROBE_FAKE_NODES_ENV);
            if (env)
                snprintf(text, sizeof text, "%s", env);
        }
        DML_CHECK(dml_comm_check(
            MPI_Bcast(text, (int)sizeof text, MPI_CHAR, 0, comm),
            "broadcasting " DML_PROBE_FAKE_NODES_ENV, err));
        if (text[0])
            DML_CHECK(dml_comm_parse_fake_nodes(text, out->size, &fake, err));
    }

    int rc;
    if (fake > 0) {
        out->node = dml_comm_fake_node_of(out->rank, out->size, fake);
        rc = MPI_Comm_split(comm, out->node, out->rank, &out->intra);
    } else {
        rc = MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, out->rank,
                                 MPI_INFO_NULL, &out->intra);
    }
    DML_CHECK(dml_comm_check(rc, "splitting ranks by node", err));
    int intra_size = 0;
    MPI_Comm_rank(out->intra, &out->local_rank);
    MPI_Comm_size(out->intra, &intra_size);
    /* Key = rank keeps node order = order of the nodes' first ranks, so
     * rank 0 is rank 0 of the leaders too. */
    rc = MPI_Comm_split(comm, out->local_rank, out->rank, &out->inter);
    if (rc != MPI_SUCCESS) {
        dml_comm_levels_free(out);
        return dml_comm_check(rc, "splitting ranks by local rank", err);
    }
    if (fake == 0) {
        if (out->local_rank == 0)
            MPI_Comm_rank(out->inter, &out->node);
        rc = MPI_Bcast(&out->node, 1, MPI_INT, 0, out->intra);
        if (rc != MPI_SUCCESS) {
            dml_comm_levels_free(out);
            return dml_comm_check(rc, "numbering nodes", err);
        }
    }
    int mine[3] = {out->node, -intra_size, intra_size}, all[3];
    rc = MPI_Allreduce(mine, all, 3, MPI_INT, MPI_MAX, comm);
    if (rc != MPI_SUCCESS) {
        dml_comm_levels_free(out);
        return dml_comm_check(rc, "counting nodes", err);
    }
    out->nodes = all[0] + 1;
    out->ranks_per_node_min = -all[1];
    out->ranks_per_node_max = all[2];
    out->fake_nodes = fake;
    return DML_OK;
}

/* A zeroed struct holds handle 0, which is not MPI_COMM_NULL in Open MPI
 * (a pointer to a global) and is never a live communicator in any MPI. */
static bool live(MPI_Comm c)
{
    return c != MPI_COMM_NULL && c != (MPI_Comm)0;
}

void dml_comm_levels_free(dml_comm_levels *lv)
{
    if (live(lv->intra))
        MPI_Comm_free(&lv->intra);
    if (live(lv->inter))
        MPI_Comm_free(&lv->inter);
    lv->intra = lv->inter = MPI_COMM_NULL;
}

bool dml_comm_levels_has(const dml_comm_levels *lv, dml_comm_level level,
                         const char **why)
{
    const char *reason = NULL;
    if (level == DML_COMM_INTRA_NODE) {
        if (lv->ranks_per_node_min < 2)
            reason = "a node has only 1 rank: no intra_node level";
    } else if (level == DML_COMM_INTER_NODE) {
        if (lv->nodes < 2)
            reason = "1 node: no inter_node level";
    } else {
        reason = "unknown level";
    }
    if (why)
        *why = reason;
    return reason == NULL;
}

bool dml_comm_levels_usable(const dml_comm_levels *lv, dml_comm_level level,
                            const char *probe)
{
    const char *why = NULL;
    if (dml_comm_levels_has(lv, level, &why))
        return true;
    if (lv->rank == 0)
        dml_log_info("%s: skipping %s: %s", probe, dml_comm_level_name(level),
                     why);
    return false;
}

MPI_Comm dml_comm_levels_comm(const dml_comm_levels *lv, dml_comm_level level)
{
    /* Only node 0's numbers reach the report; the other nodes measuring
     * at the same time would only compete for the cores when the nodes
     * share a machine (scripts/emu-cluster, oversubscribed jobs). */
    if (level == DML_COMM_INTRA_NODE && lv->node == 0)
        return lv->intra;
    if (level == DML_COMM_INTER_NODE && lv->local_rank == 0)
        return lv->inter;
    return MPI_COMM_NULL;
}

char *dml_comm_levels_describe(const dml_comm_levels *lv, char *buf,
                               size_t size)
{
    char rpn[32];
    if (lv->ranks_per_node_min == lv->ranks_per_node_max)
        snprintf(rpn, sizeof rpn, "%d", lv->ranks_per_node_min);
    else
        snprintf(rpn, sizeof rpn, "%d-%d", lv->ranks_per_node_min,
                 lv->ranks_per_node_max);
    char fake[64] = "";
    if (lv->fake_nodes > 0)
        snprintf(fake, sizeof fake, " (faked by %s=%d)",
                 DML_PROBE_FAKE_NODES_ENV, lv->fake_nodes);
    snprintf(buf, size, "%d node%s x %s rank%s per node%s", lv->nodes,
             lv->nodes == 1 ? "" : "s", rpn,
             lv->ranks_per_node_max == 1 ? "" : "s", fake);
    return buf;
}

size_t dml_comm_sweep_sizes(const dml_comm_sweep *sw, double *out,
                            size_t cap)
{
    if (!(sw->min_bytes >= 1) || !(sw->max_bytes >= sw->min_bytes) ||
        sw->stride_log2 < 1 || sw->stride_log2 > 30)
        return 0;
    double step = (double)(1L << sw->stride_log2);
    size_t n = 0;
    /* Sizes are exact in binary, so a tiny slack only guards max_bytes
     * values that came from decimal text ("4.194304e6"). */
    for (double x = sw->min_bytes; x <= sw->max_bytes * (1 + 1e-12);
         x *= step) {
        if (n == cap)
            return 0;
        out[n++] = x;
    }
    return n;
}
