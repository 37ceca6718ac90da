/*
 * nccl_collectives.c: NCCL collectives timed per level (see
 * nccl_collectives.h). comm.cmake builds this file in both cases: with
 * DML_HAVE_CUDA it holds the probe, without it the DML_ENODEV fallback.
 * The option checks, the timing of each size and the fit are the MPI
 * probe's (collectives.h); what is here is the GPU, NCCL and CUDA part.
 */
#include "nccl_collectives.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/units.h"

dml_coll_options dml_nccl_options_quick(void)
{
    dml_coll_options o = dml_coll_options_quick();
    o.sweep.max_bytes = 64 << 20;
    return o;
}

dml_coll_options dml_nccl_options_default(void)
{
    dml_coll_options o = dml_coll_options_default();
    o.sweep.max_bytes = 256 << 20;
    return o;
}

#ifndef DML_HAVE_CUDA

bool dml_nccl_compiled(void)
{
    return false;
}

dml_status dml_nccl_measure_levels(const dml_comm_levels *lv,
                                   const dml_coll_options *o,
                                   dml_coll_result *out, size_t cap,
                                   size_t *nout, dml_error *err)
{
    (void)lv;
    (void)o;
    (void)out;
    (void)cap;
    *nout = 0;
    return dml_error_msg(err, DML_ENODEV,
                         "no GPU: dml was built without CUDA and NCCL");
}

#else /* DML_HAVE_CUDA */

#include <cuda_runtime.h>
#include <nccl.h>

#define ELEM_BYTES sizeof(float)

bool dml_nccl_compiled(void)
{
    return true;
}

static dml_status cuda_check(cudaError_t e, const char *what, dml_error *err)
{
    if (e == cudaSuccess)
        return DML_OK;
    return dml_error_msg(err, DML_ERUNTIME, "%s: %s", what,
                         cudaGetErrorString(e));
}

static dml_status nccl_check(ncclResult_t r, const char *what, dml_error *err)
{
    if (r == ncclSuccess)
        return DML_OK;
    return dml_error_msg(err, DML_ERUNTIME, "%s: %s", what,
                         ncclGetErrorString(r));
}

/*
 * Pick this rank's GPU, or agree with every rank that there is none. The
 * device index is the rank's place among the ranks of its real machine
 * (not the faked node), so that fake nodes on one machine still give
 * every rank its own GPU.
 */
static dml_status pick_gpu(MPI_Comm comm, dml_error *err)
{
    int ndev = 0;
    cudaError_t ce = cudaGetDeviceCount(&ndev);
    if (ce != cudaSuccess) {
        dml_log_debug("nccl: cudaGetDeviceCount: %s", cudaGetErrorString(ce));
        (void)cudaGetLastError();
        ndev = 0;
    }
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm host = MPI_COMM_NULL;
    DML_CHECK(dml_comm_check(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED,
                                                 rank, MPI_INFO_NULL, &host),
                             "splitting ranks by machine", err));
    int local = 0, on_host = 0;
    MPI_Comm_rank(host, &local);
    MPI_Comm_size(host, &on_host);
    MPI_Comm_free(&host);
    /* The fewest GPUs any rank sees, and the fewest spare GPUs on any
     * machine (negative when a machine has more ranks than GPUs). */
    int mine[2] = {ndev, ndev - on_host}, least[2];
    DML_CHECK(dml_comm_check(
        MPI_Allreduce(mine, least, 2, MPI_INT, MPI_MIN, comm),
        "agreeing on GPUs", err));
    if (least[0] <= 0)
        return dml_error_msg(err, DML_ENODEV,
                             "no GPU (on at least one rank, "
                             "cudaGetDeviceCount found none)");
    if (least[1] < 0)
        return dml_error_msg(err, DML_ENODEV,
                             "no GPU for every rank: a machine has more "
                             "ranks than GPUs (NCCL needs one GPU per rank)");
    dml_status s = cuda_check(cudaSetDevice(local), "cudaSetDevice", err);
    return dml_comm_agree(comm, s, err);
}

typedef struct nccl_run {
    MPI_Comm mpi;
    ncclComm_t comm;
    cudaStream_t stream;
    cudaEvent_t start, stop;
    dml_coll_op op;
    int rank;
    int nranks;
    float *sbuf;    /* device */
    float *rbuf;    /* device */
    float *hsend;   /* host: the check's send pattern */
    float *hresult; /* host: the result copied back for the check */
    size_t per_rank; /* count argument (see dml_coll_count) */
} nccl_run;

static ncclResult_t launch(const nccl_run *c)
{
    switch (c->op) {
    case DML_COLL_ALLREDUCE:
        return ncclAllReduce(c->sbuf, c->rbuf, c->per_rank, ncclFloat,
                             ncclSum, c->comm, c->stream);
    case DML_COLL_ALLGATHER:
        return ncclAllGather(c->sbuf, c->rbuf, c->per_rank, ncclFloat,
                             c->comm, c->stream);
    case DML_COLL_REDUCESCATTER:
        return ncclReduceScatter(c->sbuf, c->rbuf, c->per_rank, ncclFloat,
                                 ncclSum, c->comm, c->stream);
    case DML_COLL_ALLTOALL: {
        /* As nccl-tests does: one send and one receive per peer in a
         * group (works with every NCCL since 2.7). */
        ncclResult_t r = ncclGroupStart();
        for (int p = 0; r == ncclSuccess && p < c->nranks; p++) {
            size_t off = (size_t)p * c->per_rank;
            r = ncclSend(c->sbuf + off, c->per_rank, ncclFloat, p, c->comm,
                         c->stream);
            if (r == ncclSuccess)
                r = ncclRecv(c->rbuf + off, c->per_rank, ncclFloat, p,
                             c->comm, c->stream);
        }
        ncclResult_t e = ncclGroupEnd();
        return r != ncclSuccess ? r : e;
    }
    case DML_COLL_BROADCAST:
        return ncclBroadcast(c->sbuf, c->sbuf, c->per_rank, ncclFloat, 0,
                             c->comm, c->stream);
    default:
        return ncclInvalidArgument;
    }
}

/* One repetition: line the ranks up (the stream is idle: each repetition
 * waits for its stop event), time the operation on the GPU, keep the
 * slowest rank's time. */
static dml_status nccl_once(void *ctx, double *elapsed_s, dml_error *err)
{
    const nccl_run *c = ctx;
    DML_CHECK(dml_comm_check(MPI_Barrier(c->mpi), "MPI_Barrier", err));
    DML_CHECK(cuda_check(cudaEventRecord(c->start, c->stream),
                         "cudaEventRecord", err));
    DML_CHECK(nccl_check(launch(c), dml_coll_op_name(c->op), err));
    DML_CHECK(cuda_check(cudaEventRecord(c->stop, c->stream),
                         "cudaEventRecord", err));
    DML_CHECK(cuda_check(cudaEventSynchronize(c->stop),
                         "cudaEventSynchronize", err));
    float ms = 0;
    DML_CHECK(cuda_check(cudaEventElapsedTime(&ms, c->start, c->stop),
                         "cudaEventElapsedTime", err));
    double t = ms * 1e-3;
    DML_CHECK(dml_comm_check(
        MPI_Allreduce(&t, elapsed_s, 1, MPI_DOUBLE, MPI_MAX, c->mpi),
        "MPI_Allreduce of times", err));
    return DML_OK;
}

/* nccl-tests' check after the timed loop (coll_check.h): the pattern
 * copied in, one more run, the result copied back and counted. */
static dml_status check_size(nccl_run *c, dml_coll_point *pt, dml_error *err)
{
    size_t send = 0, recv = 0;
    dml_coll_check_lengths(c->op, c->nranks, c->per_rank, &send, &recv);
    dml_coll_check_fill(c->op, c->rank, c->nranks, c->per_rank, c->hsend,
                        c->hresult);
    dml_status s = cuda_check(cudaMemcpy(c->sbuf, c->hsend,
                                         send * ELEM_BYTES,
                                         cudaMemcpyHostToDevice),
                              "cudaMemcpy", err);
    if (s == DML_OK && recv)
        s = cuda_check(cudaMemcpy(c->rbuf, c->hresult, recv * ELEM_BYTES,
                                  cudaMemcpyHostToDevice),
                       "cudaMemcpy", err);
    s = dml_comm_agree(c->mpi, s, err);
    if (s != DML_OK)
        return s;
    DML_CHECK(nccl_check(launch(c), dml_coll_op_name(c->op), err));
    bool in_place = c->op == DML_COLL_BROADCAST;
    size_t len = in_place ? send : recv;
    s = cuda_check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize",
                   err);
    if (s == DML_OK)
        s = cuda_check(cudaMemcpy(c->hresult, in_place ? c->sbuf : c->rbuf,
                                  len * ELEM_BYTES, cudaMemcpyDeviceToHost),
                       "cudaMemcpy", err);
    s = dml_comm_agree(c->mpi, s, err);
    if (s != DML_OK)
        return s;
    dml_coll_wrong first = {0};
    /* The result is in hresult whichever buffer it came from. */
    size_t mine = dml_coll_check_count(c->op, c->rank, c->nranks,
                                       c->per_rank, c->hresult, c->hresult,
                                       &first);
    return dml_coll_check_agree(c->mpi, mine, &first, len, pt, err);
}

static dml_status measure_op(nccl_run *c, const dml_coll_options *o,
                             const double *sizes, size_t npts,
                             dml_coll_result *out, dml_error *err)
{
    for (size_t i = 0; i < npts; i++) {
        size_t count = 0, per_rank = 0;
        double actual = 0;
        dml_coll_count(c->op, sizes[i], c->nranks, ELEM_BYTES, &count,
                       &per_rank, &actual);
        c->per_rank = per_rank;
        char what[64], b[32];
        snprintf(what, sizeof what, "nccl %s %s", dml_coll_op_name(c->op),
                 dml_units_bytes_binary(actual, b, sizeof b));
        dml_progress_doing(o->progress, what);
        DML_CHECK(dml_coll_time_size(o, nccl_once, c, c->op, c->nranks,
                                     actual, count, &out->points[i], err));
        DML_CHECK(check_size(c, &out->points[i], err));
        dml_progress_advance(o->progress);
    }
    out->npoints = npts;
    return DML_OK;
}

/* All selected ops at o's sizes (sizes[0 .. npts)) on one level's
 * communicator. */
static dml_status measure_level(MPI_Comm mpi, const char *level,
                                const dml_coll_options *o,
                                const double *sizes, size_t npts,
                                unsigned ops, dml_coll_result *out,
                                dml_error *err)
{
    nccl_run c = {.mpi = mpi};
    int rank = 0;
    MPI_Comm_rank(mpi, &rank);
    MPI_Comm_size(mpi, &c.nranks);
    c.rank = rank;

    size_t most = 0;
    for (int op = 0; op < DML_COLL_OP_COUNT; op++) {
        for (size_t i = 0; i < npts; i++) {
            size_t count = 0, per_rank = 0;
            double actual = 0;
            dml_coll_count((dml_coll_op)op, sizes[i], c.nranks, ELEM_BYTES,
                           &count, &per_rank, &actual);
            most = count > most ? count : most;
        }
    }
    size_t bytes = most * ELEM_BYTES;

    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    dml_status s = DML_OK;
    if (rank == 0)
        s = nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId", err);
    DML_CHECK(dml_comm_agree(mpi, s, err));
    DML_CHECK(dml_comm_check(MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, mpi),
                             "broadcasting the NCCL id", err));

    /* Everything is created before the agreement so that one rank's
     * failure stops all of them before the first collective. */
    s = cuda_check(cudaStreamCreate(&c.stream), "cudaStreamCreate", err);
    if (s == DML_OK)
        s = cuda_check(cudaEventCreate(&c.start), "cudaEventCreate", err);
    if (s == DML_OK)
        s = cuda_check(cudaEventCreate(&c.stop), "cudaEventCreate", err);
    if (s == DML_OK)
        s = cuda_check(cudaMalloc((void **)&c.sbuf, bytes), "cudaMalloc",
                       err);
    if (s == DML_OK)
        s = cuda_check(cudaMalloc((void **)&c.rbuf, bytes), "cudaMalloc",
                       err);
    if (s == DML_OK) {
        c.hsend = malloc(bytes);
        c.hresult = malloc(bytes);
        if (!c.hsend || !c.hresult)
            s = dml_error_msg(err, DML_ENOMEM,
                              "nccl: no memory for 2 x %zu bytes", bytes);
    }
    if (s == DML_OK)
        s = cuda_check(cudaMemset(c.sbuf, 0, bytes), "cudaMemset", err);
    if (s == DML_OK)
        s = cuda_check(cudaMemset(c.rbuf, 0, bytes), "cudaMemset", err);
    if (s == DML_OK)
        s = cuda_check(cudaDeviceSynchronize(), "cudaDeviceSynchronize",
                       err);
    s = dml_comm_agree(mpi, s, err);
    int have_comm = 0;
    if (s == DML_OK) {
        s = nccl_check(ncclCommInitRank(&c.comm, c.nranks, id, rank),
                       "ncclCommInitRank", err);
        have_comm = s == DML_OK;
        s = dml_comm_agree(mpi, s, err);
    }
    for (int op = 0; s == DML_OK && op < DML_COLL_OP_COUNT; op++) {
        if (!(ops & (1u << op)))
            continue;
        dml_coll_result *r = out++;
        c.op = (dml_coll_op)op;
        r->ranks = c.nranks;
        s = measure_op(&c, o, sizes, npts, r, err);
        if (s == DML_OK && rank == 0)
            dml_coll_result_fit(r);
        if (s != DML_OK)
            dml_error_prefix(err, "nccl %s %s: ", dml_coll_op_name(c.op),
                             level);
    }
    if (have_comm)
        ncclCommDestroy(c.comm);
    if (c.sbuf)
        cudaFree(c.sbuf);
    if (c.rbuf)
        cudaFree(c.rbuf);
    if (c.start)
        cudaEventDestroy(c.start);
    if (c.stop)
        cudaEventDestroy(c.stop);
    if (c.stream)
        cudaStreamDestroy(c.stream);
    free(c.hsend);
    free(c.hresult);
    return s;
}

dml_status dml_nccl_measure_levels(const dml_comm_levels *lv,
                                   const dml_coll_options *o,
                                   dml_coll_result *out, size_t cap,
                                   size_t *nout, dml_error *err)
{
    *nout = 0;
    DML_CHECK(dml_coll_check_room(cap, "nccl", err));
    double sizes[DML_COMM_MAX_POINTS];
    size_t npts = 0;
    /* NCCL takes size_t counts. */
    DML_CHECK(dml_coll_check_options(o, "nccl", (double)SIZE_MAX, sizes, &npts,
                                     err));
    DML_CHECK(pick_gpu(lv->comm, err));

    unsigned ops = o->ops ? o->ops : (1u << DML_COLL_OP_COUNT) - 1;
    for (int l = 0; l < DML_COMM_LEVEL_COUNT; l++) {
        if (!dml_comm_levels_usable(lv, (dml_comm_level)l, "nccl"))
            continue;
        const char *name = dml_comm_level_name((dml_comm_level)l);
        dml_coll_result *first = &out[*nout];
        for (int op = 0; op < DML_COLL_OP_COUNT; op++)
            if (ops & (1u << op))
                dml_coll_result_init(&out[(*nout)++], "nccl", name,
                                     (dml_coll_op)op);
        MPI_Comm c = dml_comm_levels_comm(lv, (dml_comm_level)l);
        if (c == MPI_COMM_NULL)
            continue;
        char phase[48];
        snprintf(phase, sizeof phase, "NCCL %s", name);
        size_t nops = 0;
        for (int op = 0; op < DML_COLL_OP_COUNT; op++)
            nops += (ops >> op) & 1u;
        dml_progress_phase(o->progress, phase, (long)(npts * nops));
        DML_CHECK(measure_level(c, name, o, sizes, npts, ops, first, err));
    }
    return DML_OK;
}

#endif /* DML_HAVE_CUDA */
