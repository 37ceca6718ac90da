/*
 * busbw.h: the collective operations the probes measure and the
 * nccl-tests arithmetic that turns one timing into algbw and busbw.
 *
 * nccl-tests (src/ and doc/PERFORMANCE.md) reports, for every size, the
 * "size" in bytes, the "count" in elements, the time, the algorithm
 * bandwidth algbw = size / time and the bus bandwidth busbw = algbw × a
 * factor that depends on the collective and the number of ranks n, chosen
 * so that busbw is comparable with the link's hardware bandwidth whatever
 * n is. The size convention matters and is easy to get wrong:
 *   allreduce, broadcast: size = the buffer (send = receive);
 *   allgather:            size = the whole gathered receive buffer;
 *   reducescatter:        size = the whole send buffer (receive = size/n);
 *   alltoall:             size = the whole send buffer of one rank.
 * Everything here is pure arithmetic, shared by the MPI and NCCL probes.
 */
#ifndef DML_PROBES_BUSBW_H
#define DML_PROBES_BUSBW_H

#include <stdbool.h>
#include <stddef.h>

/* The kinds (dml_coll_op, their names, dml_coll_op_parse and the bus
 * bandwidth factor dml_collective_busbw_factor) are the cost model's
 * table, so measured fits land in the cluster spec under the same names
 * and are priced with the same factors. */
#include "costmodel/collective.h"

/*
 * The element count that a requested size becomes for op on n ranks with
 * elements of elem_bytes: allreduce and broadcast use bytes / elem_bytes
 * elements; the other three need a whole number of elements per rank, so
 * the size is rounded down to a multiple of n·elem_bytes (at least one
 * element per rank). *count is the nccl-tests "count" column (elements in
 * the size), *per_rank the count passed to MPI/NCCL (elements per peer for
 * allgather, reducescatter and alltoall; the whole buffer otherwise), and
 * *bytes the size actually measured. false when an argument is < 1.
 */
bool dml_coll_count(dml_coll_op op, double bytes, int n, size_t elem_bytes,
                    size_t *count, size_t *per_rank, double *actual_bytes);

/* algbw = bytes / time_s, busbw = algbw ×
 * dml_collective_busbw_factor(op, n), B/s;
 * both 0 when time_s is not positive. */
void dml_coll_bandwidth(dml_coll_op op, int n, double bytes, double time_s,
                        double *algbw_Bps, double *busbw_Bps);

#endif
