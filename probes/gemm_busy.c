/*
 * gemm_busy.c: each rank's GEMM rate while every rank computes (see
 * gemm_busy.h).
 */
#include "probes/gemm_busy.h"

#include <cblas.h> /* openblas_set_num_threads */
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "probes/comm_levels.h"

/* One dtype on this rank: warm, check, wait for every rank, then calls
 * until the window has passed. */
static dml_status time_dtype(MPI_Comm comm, dml_gemm_dtype dt, int n,
                             double window_s, void *a, void *b, void *c,
                             dml_gemm_busy *out, dml_error *err)
{
    dml_gemm_call(dt, n, n, n, a, b, c);
    dml_status s = dml_gemm_check_element(dt, a, b, c, n, n, n, n / 2, n - 1,
                                          err);
    DML_CHECK(dml_comm_agree(comm, s, err));
    DML_CHECK(dml_comm_check(MPI_Barrier(comm), "busy GEMM start", err));
    double t0 = MPI_Wtime(), t = t0;
    int calls = 0;
    while (t - t0 < window_s) {
        dml_gemm_call(dt, n, n, n, a, b, c);
        calls++;
        t = MPI_Wtime();
    }
    out->calls[dt] = calls;
    out->flops[dt] = dml_gemm_flop_count(n, n, n) * calls / (t - t0);
    return DML_OK;
}

dml_status dml_gemm_busy_run(MPI_Comm comm, int n, int threads,
                             double window_s, dml_gemm_busy *out,
                             dml_error *err)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    out->threads = threads > 0 ? threads : 1;
    out->window_s = window_s;
    size_t count = (size_t)n * (size_t)n;
    /* Room for doubles serves both dtypes. */
    double *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b),
           *c = malloc(count * sizeof *c);
    dml_status s = a && b && c ? DML_OK
                               : dml_error_msg(err, DML_ENOMEM,
                                               "busy GEMM: out of memory for "
                                               "three %d x %d matrices",
                                               n, n);
    s = dml_comm_agree(comm, s, err);
    int threads_before = openblas_get_num_threads();
    openblas_set_num_threads(out->threads);
    dml_rng rng;
    dml_rng_seed(&rng, 0x6275737967656d6dULL); /* "busygemm" */
    for (int dt = 0; dt < DML_GEMM_DTYPES && s == DML_OK; dt++) {
        dml_gemm_fill_random((dml_gemm_dtype)dt, a, count, &rng);
        dml_gemm_fill_random((dml_gemm_dtype)dt, b, count, &rng);
        s = time_dtype(comm, (dml_gemm_dtype)dt, n, window_s, a, b, c, out,
                       err);
    }
    openblas_set_num_threads(threads_before);
    free(a);
    free(b);
    free(c);
    return s;
}
