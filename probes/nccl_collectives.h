/*
 * nccl_collectives.h: NCCL collective bandwidth per link level, when every
 * rank has a GPU.
 *
 * The same five collectives, sizes, repetitions and nccl-tests reporting
 * as the MPI probe (collectives.h), on GPU buffers: one GPU per rank (the
 * rank's index among the ranks of its real machine picks the device), an
 * NCCL communicator per level built from the MPI one (ncclGetUniqueId on
 * rank 0, broadcast over MPI, ncclCommInitRank), and each repetition timed
 * with CUDA events around the operation on its stream, the slowest rank's
 * time kept. Results use kind "nccl".
 *
 * Without a GPU on some rank (cudaGetDeviceCount fails or returns 0; the
 * ranks agree with MPI_Allreduce), or with fewer GPUs on a machine than
 * ranks on it, the probe returns DML_ENODEV "no GPU ..." and does nothing
 * else. A build without CUDA/NCCL has the same functions, which return
 * DML_ENODEV at once, so callers need no #ifdef.
 */
#ifndef DML_PROBES_NCCL_COLLECTIVES_H
#define DML_PROBES_NCCL_COLLECTIVES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "probes/collectives.h"
#include "probes/comm_levels.h"

/* Whether this build has the NCCL probe (built with CUDA and NCCL). */
bool dml_nccl_compiled(void);

/* dml-probe --quick: 1 KiB .. 64 MiB every 4x. */
dml_coll_options dml_nccl_options_quick(void);
/* Default: 1 KiB .. 256 MiB at every power of two (NVLink needs large
 * messages to reach its bandwidth). */
dml_coll_options dml_nccl_options_default(void);

/*
 * Measure the selected ops with NCCL on every level lv has (collective
 * over lv->comm), like dml_coll_measure_levels: out[0 .. *nout), cap at
 * least DML_COMM_LEVEL_COUNT × DML_COLL_OP_COUNT, valid on rank 0 of
 * lv->comm. DML_ENODEV (the same on every rank) when GPUs are missing.
 */
dml_status dml_nccl_measure_levels(const dml_comm_levels *lv,
                                   const dml_coll_options *o,
                                   dml_coll_result *out, size_t cap,
                                   size_t *nout, dml_error *err);

#endif
