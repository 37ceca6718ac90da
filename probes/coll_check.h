/*
 * coll_check.h: the data check of the collective probes, nccl-tests'
 * `#wrong` column.
 *
 * A probe that times a broken collective (a transport that drops or
 * misplaces data, a library bug) must not hand its times to the planner.
 * As nccl-tests does after its timed loop, the probe fills the buffers
 * again, runs the operation once more and counts the elements of the
 * result that differ from what they must be. Each rank's send buffer
 * holds a pattern of its rank and the element's index, so that the
 * correct result of every collective is known in closed form: whole
 * numbers 1 .. DML_COLL_CHECK_PERIOD, whose sums over any order of up to
 * 2^24 / DML_COLL_CHECK_PERIOD ranks are exact in float, so a correct
 * reduction matches to the bit. The receive buffer is filled with a value
 * the pattern never takes, so an element never written counts as wrong.
 *
 * Pure functions, no MPI: the MPI probe (collectives.c) and the NCCL probe
 * (nccl_collectives.c, through host copies) share them, and the unit tests
 * call them on corrupted buffers.
 *
 * Buffers, in elements, for count argument per_rank (dml_coll_count) on n
 * ranks, and where the result lies:
 *   allreduce      send per_rank,   result in recv[0 .. per_rank)
 *   allgather      send per_rank,   result in recv[0 .. n·per_rank)
 *   reducescatter  send n·per_rank, result in recv[0 .. per_rank)
 *   alltoall       send n·per_rank, result in recv[0 .. n·per_rank)
 *   broadcast      send per_rank,   result in send (in place, root 0)
 */
#ifndef DML_PROBES_COLL_CHECK_H
#define DML_PROBES_COLL_CHECK_H

#include <stddef.h>

#include "probes/busbw.h"

/* Pattern values run 1 .. this (a prime, so that ranks and offsets that
 * differ by less than it never give the same sequence). */
#define DML_COLL_CHECK_PERIOD 251

/* What the receive buffer holds before the check run: no pattern value. */
#define DML_COLL_CHECK_SENTINEL (-1.0f)

/* The value rank puts at element i of its send buffer. */
float dml_coll_check_value(int rank, size_t i);

/* Elements of the send and receive buffers op needs (table above). */
void dml_coll_check_lengths(dml_coll_op op, int n, size_t per_rank,
                            size_t *send_elems, size_t *recv_elems);

/* Fill send with rank's pattern and recv (may be NULL for broadcast) with
 * the sentinel, over the lengths dml_coll_check_lengths gives. */
void dml_coll_check_fill(dml_coll_op op, int rank, int n, size_t per_rank,
                         float *send, float *recv);

/* The correct element i of rank's result (table above). */
float dml_coll_check_expected(dml_coll_op op, int rank, int n,
                              size_t per_rank, size_t i);

/* The first wrong element a rank found. */
typedef struct dml_coll_wrong {
    size_t index;   /* element of the result */
    float got;      /* what the result held */
    float expected; /* what it must hold */
} dml_coll_wrong;

/*
 * Count the elements of rank's result (in recv, or in send for broadcast)
 * that differ from dml_coll_check_expected; *first (may be NULL) gets the
 * first of them when there is one.
 */
size_t dml_coll_check_count(dml_coll_op op, int rank, int n, size_t per_rank,
                            const float *send, const float *recv,
                            dml_coll_wrong *first);

#endif
