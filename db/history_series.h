/*
 * history_series.h: the rows behind dml-history's charts, for anyone who
 * wants them as structs: the loss of every step of a run, and the
 * point-to-point and collective measurements of a probe by message size.
 * (The predicted-against-measured chart reads dml_db_list_plans.)
 *
 * Arrays are malloc'd, released with free(); absent values are NAN.
 */
#ifndef DML_DB_HISTORY_SERIES_H
#define DML_DB_HISTORY_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

typedef struct dml_db_step_point {
    int64_t step;     /* optimizer step, 0-based */
    double loss;      /* training loss of the step, nats */
} dml_db_step_point;

/* The steps of run run_id in order (none: *n 0). */
dml_status dml_db_list_run_losses(dml_db *db, int64_t run_id,
                                  dml_db_step_point **rows, size_t *n,
                                  dml_error *err);

typedef struct dml_db_comm_point {
    char kind[16];    /* "p2p", "collective" (MPI) or "nccl" */
    char op[32];      /* p2p: "latency" or "bandwidth"; else the collective
                         ("allreduce", ...) */
    char level[16];   /* "intra_node" or "inter_node" */
    int ranks;        /* ranks that took part */
    double bytes;     /* message size, bytes */
    double time_s;    /* best time of one call (p2p: one-way), s */
    double bw_Bps;    /* collectives: busbw; p2p bandwidth rows: the
                         bandwidth; p2p latency rows: NAN; bytes/s */
} dml_db_comm_point;

/*
 * The communication measurements of probe run probe_run_id, or of the
 * newest probe run that has some when probe_run_id <= 0 (*used says which;
 * 0 when there is none), ordered by kind, op, level and size.
 */
dml_status dml_db_list_comm_points(dml_db *db, int64_t probe_run_id,
                                   int64_t *used, dml_db_comm_point **rows,
                                   size_t *n, dml_error *err);

#endif
