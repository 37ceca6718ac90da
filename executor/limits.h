/*
 * limits.h: refusing to start, with one line, under an address-space
 * limit that OpenBLAS or Open MPI cannot start in.
 *
 * OpenBLAS maps a 128 MiB GEMM buffer for each of its threads: the worker
 * threads it starts when the library is loaded map theirs at once, the
 * main thread at its first GEMM. When that mmap fails, OpenBLAS (0.3.21)
 * tries again, forever: under `ulimit -v 100000` a worker spins before
 * main() runs and MPI_Init's fork then waits for it (OpenBLAS's fork
 * handler joins its threads); with a few hundred MB the first GEMM spins.
 * Open MPI's start-up maps about 200 MB more and fails with a page of
 * text when it cannot. So dml-exec checks the room under RLIMIT_AS (and
 * RLIMIT_DATA) twice:
 *
 *   - in main(), before MPI_Init: room for MPI's start-up and the main
 *     thread's buffer (a worker started at load spins only under a limit
 *     far below that); otherwise one line and exit status 1, by _exit()
 *     because a normal exit would run OpenBLAS's destructor, which joins
 *     the spinning workers;
 *   - on every rank, first thing after MPI_Init, when the rank sets its
 *     BLAS threads: an mmap of the buffers OpenBLAS has yet to map (the
 *     main thread's, and one per worker thread it adds) must succeed; it
 *     is unmapped, the threads are set and a small GEMM lets OpenBLAS take
 *     the main thread's buffer at once, so that what is allocated after
 *     (data, model, optimizer state) fails cleanly with "out of memory"
 *     instead of leaving OpenBLAS nothing.
 *
 * Without a limit (the usual case) both are a getrlimit and nothing more.
 */
#ifndef DML_EXECUTOR_LIMITS_H
#define DML_EXECUTOR_LIMITS_H

#include "common/error.h"

/* OpenBLAS's buffer per thread (BUFFER_SIZE, 128 MiB on x86_64) and the
 * pages it adds, bytes. */
#define DML_LIMITS_BLAS_BUFFER_BYTES ((double)(130u << 20))
/* Address space Open MPI's start-up maps at least: 170 MB measured under
 * mpirun, 210 MB for a singleton (Open MPI 4.1). A limit that passes this
 * check but not MPI's real need makes MPI_Init fail with its own message;
 * it does not hang. */
#define DML_LIMITS_MPI_START_BYTES ((double)(160u << 20))

/* Before MPI_Init: DML_ERUNTIME with the sentence to print when the room
 * under the limits is less than MPI's start-up and OpenBLAS's main buffer
 * need (blas_threads, OpenBLAS's thread count, only shapes the advice). */
dml_status dml_limits_check_start(int blas_threads, dml_error *err);

/* Set OpenBLAS to blas_threads threads on this rank (after MPI_Init,
 * before any other allocation of size): DML_ERUNTIME when the buffers it
 * has yet to map cannot be mapped; else the threads are set and the main
 * thread's buffer is taken now. */
dml_status dml_limits_start_blas(int blas_threads, dml_error *err);

#endif
