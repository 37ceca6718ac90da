/*
 * limits.c: room under RLIMIT_AS and RLIMIT_DATA (see limits.h).
 */
#include "executor/limits.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

/* Bytes of address space and of data (private writable memory) this
 * process maps now, from /proc/self/statm (pages); false elsewhere. */
static bool in_use(double *vm, double *data)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return false;
    unsigned long size, rss, shared, text, lib, dat;
    int n = fscanf(f, "%lu %lu %lu %lu %lu %lu", &size, &rss, &shared, &text,
                   &lib, &dat);
    fclose(f);
    if (n != 6)
        return false;
    double page = (double)sysconf(_SC_PAGESIZE);
    *vm = (double)size * page;
    *data = (double)dat * page;
    return true;
}

/* The smaller room under the two limits, bytes, and which limit and its
 * value; false when neither is set. */
static bool room(double *left, double *limit, const char **which)
{
    struct rlimit as, ds;
    bool has_as = getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY;
    bool has_ds = getrlimit(RLIMIT_DATA, &ds) == 0 &&
                  ds.rlim_cur != RLIM_INFINITY;
    if (!has_as && !has_ds)
        return false;
    double vm = 0.0, data = 0.0;
    in_use(&vm, &data);
    double a = has_as ? (double)as.rlim_cur - vm : 1e300;
    double d = has_ds ? (double)ds.rlim_cur - data : 1e300;
    if (a <= d) {
        *left = a;
        *limit = (double)as.rlim_cur;
        *which = "address-space limit (ulimit -v)";
    } else {
        *left = d;
        *limit = (double)ds.rlim_cur;
        *which = "data-size limit (ulimit -d)";
    }
    return true;
}

dml_status dml_limits_check_start(int blas_threads, dml_error *err)
{
    double left, limit;
    const char *which;
    if (!room(&left, &limit, &which))
        return DML_OK;
    /* The main thread's buffer: the workers started at load have mapped
     * theirs by now (then it is in use already) or are spinning, which
     * only happens under a limit far below this one. Counting them again
     * would refuse limits that work, depending on whether a worker has
     * run yet. */
    double need = DML_LIMITS_MPI_START_BYTES + DML_LIMITS_BLAS_BUFFER_BYTES;
    if (left >= need)
        return DML_OK;
    return dml_error_msg(err, DML_ERUNTIME,
                         "the %s of %.0f MB leaves %.0f MB; MPI's start-up "
                         "and OpenBLAS (128 MiB a thread) need about %.0f "
                         "MB more: raise the limit%s",
                         which, limit / 1e6, left > 0 ? left / 1e6 : 0.0,
                         need / 1e6,
                         blas_threads > 1 ? " (OpenBLAS runs "
                                            "OPENBLAS_NUM_THREADS threads, "
                                            "one per core by default)"
                                          : "");
}

dml_status dml_limits_start_blas(int blas_threads, dml_error *err)
{
    int t = blas_threads > 0 ? blas_threads : 1;
    double left, limit;
    const char *which;
    if (room(&left, &limit, &which)) {
        /* The main thread's buffer, and one per worker thread added (the
         * ones started at load have mapped theirs, or main() refused). */
        int before = openblas_get_num_threads();
        int more = 1 + (t > before ? t - before : 0);
        size_t bytes = (size_t)(more * DML_LIMITS_BLAS_BUFFER_BYTES);
        void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return dml_error_msg(err, DML_ERUNTIME,
                                 "the %s of %.0f MB leaves %.0f MB after "
                                 "MPI's start-up; OpenBLAS needs %.0f MB "
                                 "more (128 MiB a thread): raise the limit",
                                 which, limit / 1e6,
                                 left > 0 ? left / 1e6 : 0.0,
                                 (double)bytes / 1e6);
        munmap(p, bytes);
    }
    openblas_set_num_threads(t);
    /* OpenBLAS maps its buffer at the first GEMM of any size: take it
     * now, while the room just measured is there. */
    enum { N = 64 };
    float *a = calloc(2 * N * N, sizeof *a);
    if (!a)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a,
                N, a, N, 0.0f, a + N * N, N);
    free(a);
    return DML_OK;
}
