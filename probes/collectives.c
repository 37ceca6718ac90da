/*
 * collectives.c: MPI collectives timed per level with nccl-tests
 * conventions, and what the NCCL probe shares with them: option checks,
 * result labels, the timing of one size, the fit, the rows and the table
 * (see collectives.h).
 */
#include "collectives.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/units.h"
#include "probes/table.h"

#define ELEM_BYTES sizeof(float)

dml_coll_options dml_coll_options_quick(void)
{
    /* Up to 16 MiB: the fit's busbw comes from the sizes within 8x of the
     * largest, and 4 MiB buffers still fit in a server's last-level
     * cache (32 MiB on the 2-core EPYC VM). */
    return (dml_coll_options){
        .sweep = {.min_bytes = 1 << 10, .max_bytes = 16 << 20,
                  .stride_log2 = 2},
        .budget = dml_probe_budget_quick(),
        .time_per_size_s = 0.03,
        .ops = 0,
        .max_op_s = 0.5,
        .min_stop_bytes = 1 << 20,
    };
}

dml_coll_options dml_coll_options_default(void)
{
    return (dml_coll_options){
        .sweep = {.min_bytes = 1 << 10, .max_bytes = 64 << 20,
                  .stride_log2 = 1},
        .budget = dml_probe_budget_default(),
        .time_per_size_s = 0.2,
        .ops = 0,
        .max_op_s = 1.0,
        .min_stop_bytes = 1 << 20,
    };
}

dml_status dml_coll_check_options(const dml_coll_options *o,
                                  const char *probe, double max_count,
                                  double *sizes, size_t *n, dml_error *err)
{
    *n = dml_comm_sweep_sizes(&o->sweep, sizes, DML_COMM_MAX_POINTS);
    if (*n == 0)
        return dml_error_msg(err, DML_EINPUT,
                             "%s: the size sweep %g..%g B (x2^%d) is empty "
                             "or longer than %d sizes",
                             probe, o->sweep.min_bytes, o->sweep.max_bytes,
                             o->sweep.stride_log2, DML_COMM_MAX_POINTS);
    if (sizes[*n - 1] / ELEM_BYTES > max_count)
        return dml_error_msg(err, DML_EINPUT,
                             "%s: size %g B exceeds a count (at most %.0f "
                             "elements)",
                             probe, sizes[*n - 1], max_count);
    if (o->budget.min_reps < 1 || o->budget.max_reps < o->budget.min_reps)
        return dml_error_msg(err, DML_EINPUT,
                             "%s: repetitions must satisfy 1 <= min_reps <= "
                             "max_reps",
                             probe);
    if (!(o->time_per_size_s > 0))
        return dml_error_msg(err, DML_EINPUT,
                             "%s: time_per_size_s must be positive", probe);
    if (o->ops >> DML_COLL_OP_COUNT)
        return dml_error_msg(err, DML_EINPUT,
                             "%s: op mask 0x%x names unknown ops", probe,
                             o->ops);
    return DML_OK;
}

dml_status dml_coll_check_room(size_t cap, const char *probe, dml_error *err)
{
    if (cap < (size_t)DML_COMM_LEVEL_COUNT * DML_COLL_OP_COUNT)
        return dml_error_msg(err, DML_EINPUT,
                             "%s: room for %zu results, need %d", probe, cap,
                             DML_COMM_LEVEL_COUNT * DML_COLL_OP_COUNT);
    return DML_OK;
}

void dml_coll_result_init(dml_coll_result *r, const char *kind,
                          const char *level, dml_coll_op op)
{
    memset(r, 0, sizeof *r);
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->level, sizeof r->level, "%s", level ? level : "");
    r->op = op;
}

dml_status dml_coll_time_size(const dml_coll_options *o, dml_probe_fn once,
                              void *ctx, dml_coll_op op, int ranks,
                              double bytes, size_t count, dml_coll_point *pt,
                              dml_error *err)
{
    int warm = o->budget.warmup > 0 ? o->budget.warmup : 1;
    double t_est = 0;
    for (int w = 0; w < warm; w++)
        DML_CHECK(once(ctx, &t_est, err));
    /* t_est is the same on every rank (it came out of MPI_MAX), so every
     * rank derives the same count. */
    double want = o->time_per_size_s / fmax(t_est, 1e-9);
    int reps = want < o->budget.min_reps   ? o->budget.min_reps
               : want > o->budget.max_reps ? o->budget.max_reps
                                           : (int)want;
    dml_probe_budget b = {.warmup = 0, .min_reps = reps, .max_reps = reps,
                          .max_time_s = 0};
    dml_probe_stats st;
    DML_CHECK(dml_probe_run(&b, once, ctx, &st, err));
    pt->bytes = bytes;
    pt->count = count;
    pt->time_s = st.min_s;
    pt->time_median_s = st.median_s;
    pt->time_mean_s = st.mean_s;
    pt->reps = st.reps;
    pt->wrong = -1;
    dml_coll_bandwidth(op, ranks, bytes, st.min_s, &pt->algbw_Bps,
                       &pt->busbw_Bps);
    dml_coll_bandwidth(op, ranks, bytes, st.mean_s, &pt->algbw_mean_Bps,
                       &pt->busbw_mean_Bps);
    return DML_OK;
}

dml_status dml_coll_check_agree(MPI_Comm comm, size_t mine,
                                const dml_coll_wrong *first, size_t elements,
                                dml_coll_point *pt, dml_error *err)
{
    long long counts[2] = {(long long)mine, (long long)elements}, sums[2];
    DML_CHECK(dml_comm_check(MPI_Allreduce(counts, sums, 2, MPI_LONG_LONG,
                                           MPI_SUM, comm),
                             "summing the wrong elements", err));
    pt->wrong = sums[0];
    if (sums[0] == 0)
        return DML_OK;
    /* The lowest rank that found one tells what it found. */
    int rank = 0, size = 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine_rank = mine ? rank : size, who = size;
    DML_CHECK(dml_comm_check(MPI_Allreduce(&mine_rank, &who, 1, MPI_INT,
                                           MPI_MIN, comm),
                             "finding a wrong element", err));
    double what[3] = {0, 0, 0};
    if (rank == who && first) {
        what[0] = (double)first->index;
        what[1] = first->got;
        what[2] = first->expected;
    }
    DML_CHECK(dml_comm_check(MPI_Bcast(what, 3, MPI_DOUBLE, who, comm),
                             "finding a wrong element", err));
    return dml_error_msg(err, DML_EVALIDATE,
                         "%lld of %lld result elements wrong at %.0f B "
                         "(rank %d, element %.0f: %g instead of %g): the "
                         "collective is broken",
                         sums[0], sums[1], pt->bytes, who, what[0], what[1],
                         what[2]);
}

typedef struct coll_run {
    MPI_Comm comm;
    dml_coll_op op;
    int rank;     /* mine in comm */
    int ranks;    /* in comm */
    float *sbuf;
    float *rbuf;
    int per_rank; /* MPI count argument (see dml_coll_count) */
} coll_run;

static int run_op(const coll_run *c)
{
    switch (c->op) {
    case DML_COLL_ALLREDUCE:
        return MPI_Allreduce(c->sbuf, c->rbuf, c->per_rank, MPI_FLOAT,
                             MPI_SUM, c->comm);
    case DML_COLL_ALLGATHER:
        return MPI_Allgather(c->sbuf, c->per_rank, MPI_FLOAT, c->rbuf,
                             c->per_rank, MPI_FLOAT, c->comm);
    case DML_COLL_REDUCESCATTER:
        return MPI_Reduce_scatter_block(c->sbuf, c->rbuf, c->per_rank,
                                        MPI_FLOAT, MPI_SUM, c->comm);
    case DML_COLL_ALLTOALL:
        return MPI_Alltoall(c->sbuf, c->per_rank, MPI_FLOAT, c->rbuf,
                            c->per_rank, MPI_FLOAT, c->comm);
    case DML_COLL_BROADCAST:
        return MPI_Bcast(c->sbuf, c->per_rank, MPI_FLOAT, 0, c->comm);
    default:
        return MPI_ERR_OP;
    }
}

/* One repetition: line the ranks up, time the op, keep the slowest rank's
 * time (the operation is done when the last rank is). */
static dml_status coll_once(void *ctx, double *elapsed_s, dml_error *err)
{
    const coll_run *c = ctx;
    DML_CHECK(dml_comm_check(MPI_Barrier(c->comm), "MPI_Barrier", err));
    double t0 = MPI_Wtime();
    int rc = run_op(c);
    double t = MPI_Wtime() - t0;
    DML_CHECK(dml_comm_check(rc, dml_coll_op_name(c->op), err));
    DML_CHECK(dml_comm_check(
        MPI_Allreduce(&t, elapsed_s, 1, MPI_DOUBLE, MPI_MAX, c->comm),
        "MPI_Allreduce of times", err));
    return DML_OK;
}

#ifdef DML_PROBE_TEST_HOOKS
/*
 * Test hook (tests/integration/probe/probe_wrong_result.sh), compiled only
 * with the test suite (probes/comm.cmake) and inert unless
 * DML_TEST_PROBE_CORRUPT names an op: the last rank changes one element of
 * that op's result before the check, as a transport that damages data
 * would.
 */
static void test_hook_corrupt(const coll_run *c)
{
    const char *v = getenv("DML_TEST_PROBE_CORRUPT");
    if (!v || strcmp(v, dml_coll_op_name(c->op)) != 0 ||
        c->rank != c->ranks - 1)
        return;
    float *result = c->op == DML_COLL_BROADCAST ? c->sbuf : c->rbuf;
    result[0] += 1.0f;
}
#else
static void test_hook_corrupt(const coll_run *c)
{
    (void)c;
}
#endif

/* nccl-tests' check after the timed loop: the pattern again, one more
 * run, the wrong elements counted over the ranks. */
static dml_status check_size(const coll_run *c, dml_coll_point *pt,
                             dml_error *err)
{
    size_t per_rank = (size_t)c->per_rank, send = 0, recv = 0;
    dml_coll_check_fill(c->op, c->rank, c->ranks, per_rank, c->sbuf,
                        c->rbuf);
    DML_CHECK(dml_comm_check(run_op(c), dml_coll_op_name(c->op), err));
    test_hook_corrupt(c);
    dml_coll_wrong first = {0};
    size_t mine = dml_coll_check_count(c->op, c->rank, c->ranks, per_rank,
                                       c->sbuf, c->rbuf, &first);
    dml_coll_check_lengths(c->op, c->ranks, per_rank, &send, &recv);
    return dml_coll_check_agree(c->comm, mine, &first,
                                c->op == DML_COLL_BROADCAST ? send : recv,
                                pt, err);
}

double dml_coll_floor(const dml_coll_result *results, size_t n)
{
    double best = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < results[i].npoints; k++) {
            double t = results[i].points[k].time_s;
            if (t > 0 && (best == 0 || t < best))
                best = t;
        }
    return best;
}

void dml_coll_result_fit(dml_coll_result *r)
{
    double x[DML_COMM_MAX_POINTS], t[DML_COMM_MAX_POINTS];
    for (size_t i = 0; i < r->npoints; i++) {
        x[i] = r->points[i].bytes;
        t[i] = r->points[i].time_s;
    }
    dml_error ferr;
    r->fit_status = dml_alphabeta_fit(x, t, r->npoints, &r->fit, &ferr);
    if (r->fit_status == DML_OK) {
        dml_alphabeta_set_busbw(&r->fit,
                                dml_collective_busbw_factor(r->op, r->ranks));
        if (dml_alphabeta_residual_large(&r->fit))
            dml_log_warn("%s %s %s: the alpha-beta fit misses the measured "
                         "times by %.0f%% RMS (over %.0f%%): its prices for "
                         "this collective are rough",
                         r->kind, dml_coll_op_name(r->op), r->level,
                         100 * r->fit.rms_rel_residual,
                         100 * DML_ALPHABETA_RESIDUAL_WARN);
    } else {
        char buf[1024];
        dml_log_warn("%s %s %s: %s", r->kind, dml_coll_op_name(r->op),
                     r->level, dml_error_format(&ferr, buf, sizeof buf));
    }
}

dml_status dml_coll_measure(MPI_Comm comm, dml_coll_op op, const char *level,
                            const dml_coll_options *o, dml_coll_result *out,
                            dml_error *err)
{
    dml_coll_result_init(out, "collective", level, op);
    if ((unsigned)op >= DML_COLL_OP_COUNT)
        return dml_error_msg(err, DML_EINPUT, "collectives: unknown op %d",
                             (int)op);
    int rank = 0, n = 0;
    DML_CHECK(dml_comm_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank",
                             err));
    DML_CHECK(dml_comm_check(MPI_Comm_size(comm, &n), "MPI_Comm_size", err));
    out->ranks = n;
    double sizes[DML_COMM_MAX_POINTS];
    size_t npts = 0;
    DML_CHECK(dml_coll_check_options(o, "collectives", INT_MAX, sizes, &npts,
                                     err));

    /* Rounding to whole elements per rank can raise a tiny size to n
     * elements: size the buffers from the counts actually used. */
    size_t count[DML_COMM_MAX_POINTS], per_rank[DML_COMM_MAX_POINTS];
    double actual[DML_COMM_MAX_POINTS], most = 0;
    for (size_t i = 0; i < npts; i++) {
        dml_coll_count(op, sizes[i], n, ELEM_BYTES, &count[i], &per_rank[i],
                       &actual[i]);
        most = fmax(most, actual[i]);
    }
    size_t elems = (size_t)(most / ELEM_BYTES);
    coll_run c = {.comm = comm, .op = op, .rank = rank, .ranks = n};
    c.sbuf = malloc(elems * ELEM_BYTES);
    c.rbuf = malloc(elems * ELEM_BYTES);
    dml_status s = DML_OK;
    if (!c.sbuf || !c.rbuf) {
        s = dml_error_msg(err, DML_ENOMEM,
                          "collectives: no memory for 2 x %zu bytes",
                          elems * ELEM_BYTES);
    } else {
        /* The check's pattern (small whole numbers keep sums exact and
         * normal); writing every page now keeps first-touch faults out of
         * the timings. */
        for (size_t i = 0; i < elems; i++) {
            c.sbuf[i] = dml_coll_check_value(rank, i);
            c.rbuf[i] = DML_COLL_CHECK_SENTINEL;
        }
    }
    s = dml_comm_agree(comm, s, err);

    /* Every rank holds the same (slowest rank's) times, so all stop the
     * sweep at the same size. */
    double step = (double)(1L << o->sweep.stride_log2);
    size_t done = 0;
    for (size_t i = 0; s == DML_OK && i < npts; i++) {
        c.per_rank = (int)per_rank[i];
        dml_coll_point *pt = &out->points[i];
        char what[64], b[32];
        snprintf(what, sizeof what, "%s %s", dml_coll_op_name(op),
                 dml_units_bytes_binary(actual[i], b, sizeof b));
        dml_progress_doing(o->progress, what);
        s = dml_coll_time_size(o, coll_once, &c, op, n, actual[i], count[i],
                               pt, err);
        if (s == DML_OK)
            s = check_size(&c, pt, err);
        if (s != DML_OK)
            break;
        dml_progress_advance(o->progress);
        done = i + 1;
        if (rank == 0)
            dml_log_debug("collective %s %s n=%d: %g B: %.3g s, busbw "
                          "%.3g B/s", dml_coll_op_name(op), out->level, n,
                          pt->bytes, pt->time_s, pt->busbw_Bps);
        if (o->max_op_s > 0 && done >= 2 && done < npts &&
            sizes[i] >= o->min_stop_bytes &&
            pt->time_s * step > o->max_op_s) {
            if (rank == 0)
                dml_log_info("collective %s %s: sweep stops at %g B: the "
                             "next size would take about %.3g s, over "
                             "%g s", dml_coll_op_name(op), out->level,
                             pt->bytes, pt->time_s * step, o->max_op_s);
            break;
        }
    }
    free(c.sbuf);
    free(c.rbuf);
    if (s != DML_OK) {
        dml_error_prefix(err, "%s: ", dml_coll_op_name(op));
        return s;
    }
    out->npoints = done;
    if (rank == 0)
        dml_coll_result_fit(out);
    return DML_OK;
}

dml_status dml_coll_measure_levels(const dml_comm_levels *lv,
                                   const dml_coll_options *o,
                                   dml_coll_result *out, size_t cap,
                                   size_t *nout, dml_error *err)
{
    *nout = 0;
    DML_CHECK(dml_coll_check_room(cap, "collectives", err));
    unsigned ops = o->ops ? o->ops : (1u << DML_COLL_OP_COUNT) - 1;
    size_t nops = 0;
    for (int op = 0; op < DML_COLL_OP_COUNT; op++)
        nops += (ops >> op) & 1u;
    double sizes[DML_COMM_MAX_POINTS];
    for (int l = 0; l < DML_COMM_LEVEL_COUNT; l++) {
        if (!dml_comm_levels_usable(lv, (dml_comm_level)l, "collectives"))
            continue;
        const char *name = dml_comm_level_name((dml_comm_level)l);
        MPI_Comm c = dml_comm_levels_comm(lv, (dml_comm_level)l);
        dml_status s = DML_OK;
        char phase[48];
        snprintf(phase, sizeof phase, "collectives %s", name);
        dml_progress_phase(o->progress, phase,
                           (long)(nops * dml_comm_sweep_sizes(
                                             &o->sweep, sizes,
                                             DML_COMM_MAX_POINTS)));
        for (int op = 0; op < DML_COLL_OP_COUNT; op++) {
            if (!(ops & (1u << op)))
                continue;
            dml_coll_result *r = &out[(*nout)++];
            dml_coll_result_init(r, "collective", name, (dml_coll_op)op);
            if (c == MPI_COMM_NULL || s != DML_OK)
                continue;
            s = dml_coll_measure(c, (dml_coll_op)op, name, o, r, err);
        }
        s = dml_comm_levels_done(lv, s, err);
        if (s != DML_OK) {
            dml_error_prefix(err, "collectives %s: ", name);
            return s;
        }
    }
    return DML_OK;
}

size_t dml_coll_to_measurements(const dml_coll_result *r,
                                dml_measurement *rows, size_t cap)
{
    for (size_t i = 0; i < r->npoints && i < cap; i++) {
        const dml_coll_point *pt = &r->points[i];
        dml_measurement *m = &rows[i];
        memset(m, 0, sizeof *m);
        snprintf(m->kind, sizeof m->kind, "%s", r->kind);
        snprintf(m->op, sizeof m->op, "%s", dml_coll_op_name(r->op));
        snprintf(m->level, sizeof m->level, "%s", r->level);
        m->ranks = r->ranks;
        m->threads = 1;
        m->bytes = pt->bytes;
        m->time_s = pt->time_s;
        m->time_median_s = pt->time_median_s;
        m->algbw_Bps = pt->algbw_Bps;
        m->busbw_Bps = pt->busbw_Bps;
        m->value = pt->busbw_Bps;
        snprintf(m->unit, sizeof m->unit, "B/s");
        snprintf(m->detail, sizeof m->detail,
                 "float sum count=%zu reps=%d mean_s=%.6g wrong=%lld",
                 pt->count, pt->reps, pt->time_mean_s, pt->wrong);
    }
    return r->npoints;
}

double dml_coll_avg_busbw(const dml_coll_result *r)
{
    double sum = 0;
    for (size_t i = 0; i < r->npoints; i++)
        sum += r->points[i].busbw_mean_Bps;
    return r->npoints ? sum / (double)r->npoints : 0;
}

long long dml_coll_wrong_total(const dml_coll_result *r)
{
    long long sum = 0;
    for (size_t i = 0; i < r->npoints; i++)
        if (r->points[i].wrong > 0)
            sum += r->points[i].wrong;
    return sum;
}

/* nccl-tests drops decimals as the time grows to keep 7 columns. */
static void time_text(double s, char *buf, size_t size)
{
    double us = s * 1e6;
    int prec = us >= 10000.0 ? 0 : us >= 100.0 ? 1 : 2;
    snprintf(buf, size, "%7.*f", prec, us);
}

size_t dml_coll_format_table(const dml_coll_result *r, char *buf,
                             size_t size)
{
    size_t len = 0;
    if (buf && size)
        buf[0] = '\0';
    bool reduces = dml_coll_kind_of(r->op) && dml_coll_kind_of(r->op)->reduces;
    dml__table_appendf(buf, size, &len,
                       "# %s %s, %s, %d ranks: nccl-tests conventions, "
                       "average and best of repetitions\n",
                       r->kind, dml_coll_op_name(r->op), r->level, r->ranks);
    /* Columns as nccl-tests src/common.cu prints them: "%12li  %12li  %8s
     * %6s  %6i", then per group "  %7s  %6.2f  %6.2f  %5s", decimal GB/s;
     * its out-of-place and in-place groups are our average and best. */
    dml__table_appendf(buf, size, &len, "#%58s%-32s%s\n", "",
                       "average of repetitions", "best repetition");
    dml__table_appendf(buf, size, &len,
                       "#%11s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s"
                       "  %7s  %6s  %6s %6s\n",
                       "size", "count", "type", "redop", "root", "time",
                       "algbw", "busbw", "#wrong", "time", "algbw", "busbw",
                       "#wrong");
    dml__table_appendf(buf, size, &len,
                       "#%11s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s"
                       "  %7s  %6s  %6s %6s\n",
                       "(B)", "(elements)", "", "", "", "(us)", "(GB/s)",
                       "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
    for (size_t i = 0; i < r->npoints; i++) {
        const dml_coll_point *pt = &r->points[i];
        char mean[32], best[32], wrong[32];
        time_text(pt->time_mean_s, mean, sizeof mean);
        time_text(pt->time_s, best, sizeof best);
        if (pt->wrong < 0)
            snprintf(wrong, sizeof wrong, "N/A");
        else
            snprintf(wrong, sizeof wrong, "%lld", pt->wrong);
        dml__table_appendf(buf, size, &len,
                           "%12.0f  %12zu  %8s  %6s  %6d  %7s  %6.2f  %6.2f"
                           "  %5s  %7s  %6.2f  %6.2f  %5s\n",
                           pt->bytes, pt->count, "float",
                           reduces ? "sum" : "none",
                           r->op == DML_COLL_BROADCAST ? 0 : -1, mean,
                           pt->algbw_mean_Bps / 1e9,
                           pt->busbw_mean_Bps / 1e9, wrong, best,
                           pt->algbw_Bps / 1e9, pt->busbw_Bps / 1e9, wrong);
    }
    long long bad = dml_coll_wrong_total(r);
    dml__table_appendf(buf, size, &len, "# Out of bounds values : %lld %s\n",
                       bad, bad ? "FAILED" : "OK");
    dml__table_appendf(buf, size, &len, "# Avg bus bandwidth    : %g \n",
                       dml_coll_avg_busbw(r) / 1e9);
    return len;
}

static size_t format_table(const void *r, char *buf, size_t size)
{
    return dml_coll_format_table(r, buf, size);
}

dml_status dml_coll_write_table(FILE *f, const dml_coll_result *r,
                                dml_error *err)
{
    return dml__table_write(f, format_table, r, "collective", err);
}
