/*
 * link_share.c: every place of a node streaming to another node at once
 * (see link_share.h).
 */
#include "probes/link_share.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK (1 << 20) /* one message, B */
#define WINDOW 4        /* messages in flight (each its own buffer) */

/* One stream of msgs messages from rank 0 to rank last of c, windowed,
 * acknowledged at the end; *time_s on rank 0: from the first send to the
 * acknowledgement. */
static int stream(MPI_Comm c, int me, int last, char *buf, int msgs,
                  double *time_s)
{
    MPI_Request req[WINDOW];
    char ack = 0;
    int rc = MPI_SUCCESS;
    double t0 = MPI_Wtime();
    for (int sent = 0; sent < msgs && rc == MPI_SUCCESS;) {
        int w = msgs - sent < WINDOW ? msgs - sent : WINDOW;
        for (int i = 0; i < w; i++)
            rc = me == 0 ? MPI_Isend(buf + (size_t)i * CHUNK, CHUNK, MPI_CHAR,
                                     last, 1, c, &req[i])
                         : MPI_Irecv(buf + (size_t)i * CHUNK, CHUNK, MPI_CHAR,
                                     0, 1, c, &req[i]);
        if (rc == MPI_SUCCESS)
            rc = MPI_Waitall(w, req, MPI_STATUSES_IGNORE);
        sent += w;
    }
    if (rc == MPI_SUCCESS)
        rc = me == 0 ? MPI_Recv(&ack, 1, MPI_CHAR, last, 2, c,
                                MPI_STATUS_IGNORE)
                     : MPI_Send(&ack, 1, MPI_CHAR, 0, 2, c);
    *time_s = MPI_Wtime() - t0;
    return rc;
}

dml_status dml_link_share_measure(const dml_comm_levels *lv, double bytes,
                                  int reps, double *per_device_Bps,
                                  dml_error *err)
{
    *per_device_Bps = 0;
    if (!dml_comm_levels_has(lv, DML_COMM_INTER_NODE, NULL))
        return DML_OK;
    int me = 0, n = 1;
    MPI_Comm_rank(lv->inter, &me);
    MPI_Comm_size(lv->inter, &n);
    /* the first node's l-th rank and the last node's take part */
    bool pair = n >= 2 && (me == 0 || me == n - 1);
    int msgs = bytes > CHUNK ? (int)(bytes / CHUNK) : 1;
    char *buf = pair ? calloc(WINDOW, CHUNK) : NULL;
    dml_status s = dml_comm_agree(
        lv->comm,
        pair && !buf ? dml_error_msg(err, DML_ENOMEM, "out of memory for "
                                     "the link-share stream")
                     : DML_OK,
        err);
    if (s != DML_OK) {
        free(buf);
        return s;
    }
    double best = 0, t;
    int rc = MPI_SUCCESS;
    if (pair) /* a warm-up message: the connection exists before timing */
        rc = stream(lv->inter, me, n - 1, buf, 1, &t);
    for (int r = 0; r < reps && rc == MPI_SUCCESS; r++) {
        /* all pairs start together; the others sleep, not spin */
        s = dml_comm_wait_quietly(lv->comm, err);
        if (s != DML_OK)
            break;
        if (!pair)
            continue;
        rc = stream(lv->inter, me, n - 1, buf, msgs, &t);
        double rate = (double)msgs * CHUNK / t;
        if (me == 0 && rate > best)
            best = rate;
    }
    free(buf);
    if (s == DML_OK)
        s = dml_comm_check(rc, "streaming between nodes", err);
    s = dml_comm_levels_done(lv, s, err);
    if (s != DML_OK)
        return s;
    /* the slowest sender's best; receivers and idle ranks do not count */
    double mine = pair && me == 0 ? best : 1e300, least = 0;
    DML_CHECK(dml_comm_check(MPI_Allreduce(&mine, &least, 1, MPI_DOUBLE,
                                           MPI_MIN, lv->comm),
                             "gathering link shares", err));
    *per_device_Bps = least < 1e300 ? least : 0;
    return DML_OK;
}
