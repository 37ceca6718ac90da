/*
 * emu_transfer.c: how an MPI job sees the emulated cluster, and timed
 * streams between its first and last rank.
 *
 *   mpirun -np N emu_transfer [BYTES [STREAMS]]
 *
 * Every rank reports its hostname; the job counts its nodes the way the
 * probes do (MPI_Comm_split_type(SHARED): Open MPI calls ranks local by
 * hostname). Then rank 0 sends STREAMS (default 3) streams of BYTES
 * (default 8 MB) to the last rank, each in 1 MiB messages with eight in
 * flight (osu_bw's windows), acknowledged at the end and timed on rank 0.
 * A 1 MiB warm-up message goes first, outside the timing, so that the TCP
 * connection exists. One line of JSON on stdout from rank 0: ranks, nodes,
 * the hostnames in rank order, the bytes of one stream, the number of
 * streams, the best stream's time and rate, and every stream's rate. The
 * best of a few is what a busy machine lets through; the link counters
 * see all of them (STREAMS x BYTES + 1 MiB of payload).
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1 << 20)
#define WINDOW 8
#define NAME 64
#define MAX_STREAMS 100

/* One stream of `total` bytes from rank 0 to rank `last`; the time on
 * rank 0 (0 elsewhere). */
static double stream(char *buf, double total, int rank, int last)
{
    char ack = 0;
    double left = total, t0 = MPI_Wtime();
    MPI_Request req[WINDOW];
    while (left > 0) {
        int k = 0;
        for (; k < WINDOW && left > 0; k++) {
            int n = left < CHUNK ? (int)left : CHUNK;
            if (rank == 0)
                MPI_Isend(buf, n, MPI_BYTE, last, 2, MPI_COMM_WORLD, &req[k]);
            else
                MPI_Irecv(buf + (size_t)k * CHUNK, n, MPI_BYTE, 0, 2,
                          MPI_COMM_WORLD, &req[k]);
            left -= n;
        }
        MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
    }
    if (rank == 0)
        MPI_Recv(&ack, 1, MPI_BYTE, last, 3, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
    else
        MPI_Send(&ack, 1, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
    return rank == 0 ? MPI_Wtime() - t0 : 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0, size = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double total = argc > 1 ? atof(argv[1]) : 8e6;
    int streams = argc > 2 ? atoi(argv[2]) : 3;
    if (!(total >= 1) || streams < 1 || streams > MAX_STREAMS) {
        if (rank == 0)
            fprintf(stderr, "emu_transfer: want BYTES >= 1 and STREAMS in "
                    "1..%d\n", MAX_STREAMS);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    char name[NAME] = "";
    gethostname(name, sizeof name - 1);
    char *names = rank == 0 ? calloc((size_t)size, NAME) : NULL;
    MPI_Gather(name, NAME, MPI_CHAR, names, NAME, MPI_CHAR, 0,
               MPI_COMM_WORLD);

    /* Nodes as the probes count them: leaders of the shared-memory split. */
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank,
                        MPI_INFO_NULL, &node);
    int local = 0, leader = 0, nodes = 0;
    MPI_Comm_rank(node, &local);
    leader = local == 0;
    MPI_Allreduce(&leader, &nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

    char *buf = malloc((size_t)WINDOW * CHUNK);
    if (!buf)
        MPI_Abort(MPI_COMM_WORLD, 1);
    memset(buf, 'x', (size_t)WINDOW * CHUNK);
    int last = size - 1;
    double t[MAX_STREAMS] = {0}, best = 0;
    if (size > 1 && (rank == 0 || rank == last)) {
        if (rank == 0)
            MPI_Send(buf, CHUNK, MPI_BYTE, last, 1, MPI_COMM_WORLD);
        else
            MPI_Recv(buf, CHUNK, MPI_BYTE, 0, 1, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        for (int s = 0; s < streams; s++) {
            t[s] = stream(buf, total, rank, last);
            if (s == 0 || t[s] < best)
                best = t[s];
        }
    }

    if (rank == 0) {
        printf("{\"ranks\": %d, \"nodes\": %d, \"hostnames\": [", size, nodes);
        for (int r = 0; r < size; r++)
            printf("%s\"%s\"", r ? ", " : "", names + (size_t)r * NAME);
        printf("], \"bytes\": %.0f, \"streams\": %d, \"seconds\": %.6f, "
               "\"rate_Bps\": %.0f, \"rates_Bps\": [",
               size > 1 ? total : 0, size > 1 ? streams : 0, best,
               best > 0 ? total / best : 0);
        for (int s = 0; size > 1 && s < streams; s++)
            printf("%s%.0f", s ? ", " : "", t[s] > 0 ? total / t[s] : 0);
        printf("]}\n");
    }
    free(buf);
    free(names);
    MPI_Comm_free(&node);
    MPI_Finalize();
    return 0;
}
