/*
 * p2p.c: OSU-style ping-pong latency and windowed bandwidth (see p2p.h).
 */
#include "p2p.h"

#include <limits.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/units.h"
#include "probes/table.h"

enum { TAG_LAT = 101, TAG_BW = 102, TAG_ACK = 103, TAG_CTL = 104 };

/* A batch of round trips that long fits in well under a scheduler tick on
 * a quiet core, and is long enough for the timer and loop overhead to
 * vanish. */
#define MAX_ITERS 10000

dml_p2p_options dml_p2p_options_default(void)
{
    return (dml_p2p_options){
        .sweep = {.min_bytes = 1, .max_bytes = 4 << 20, .stride_log2 = 1},
        .budget = dml_probe_budget_default(),
        .time_per_size_s = 0.2,
        .headline_time_s = 0.2,
        .settle_s = 0.1,
        .rep_time_s = 0.005,
        .window = 64,
        .window_max_bytes = 16 << 20,
    };
}

/* The default's settling and windows, on a sparser and shorter sweep with
 * less time a size and the headline sizes sampled longer. */
dml_p2p_options dml_p2p_options_quick(void)
{
    dml_p2p_options o = dml_p2p_options_default();
    o.sweep.max_bytes = 2 << 20;
    o.sweep.stride_log2 = 3;
    o.budget = dml_probe_budget_quick();
    /* Room for the headline sizes' samples of 2 ms each. */
    o.budget.max_reps = 200;
    o.time_per_size_s = 0.05;
    o.headline_time_s = 0.25;
    o.rep_time_s = 0.002;
    return o;
}

static int window_for(const dml_p2p_options *o, double bytes)
{
    double fit = floor(o->window_max_bytes / bytes);
    if (fit < 1)
        fit = 1;
    return fit < o->window ? (int)fit : o->window;
}

static dml_status check_options(const dml_p2p_options *o, double *sizes,
                                 size_t *n, dml_error *err)
{
    *n = dml_comm_sweep_sizes(&o->sweep, sizes, DML_COMM_MAX_POINTS);
    if (*n == 0)
        return dml_error_msg(err, DML_EINPUT,
                             "p2p: the size sweep %g..%g B (x2^%d) is empty "
                             "or longer than %d sizes", o->sweep.min_bytes,
                             o->sweep.max_bytes, o->sweep.stride_log2,
                             DML_COMM_MAX_POINTS);
    if (sizes[*n - 1] > INT_MAX)
        return dml_error_msg(err, DML_EINPUT,
                             "p2p: message size %g B exceeds an MPI count",
                             sizes[*n - 1]);
    if (o->budget.min_reps < 1 || o->budget.max_reps < o->budget.min_reps ||
        o->budget.warmup < 0)
        return dml_error_msg(err, DML_EINPUT,
                             "p2p: repetitions must satisfy 1 <= min_reps "
                             "<= max_reps and warmup >= 0");
    if (!(o->time_per_size_s > 0) || !(o->rep_time_s > 0) ||
        !(o->headline_time_s >= 0) || !(o->settle_s >= 0) || o->window < 1 ||
        !(o->window_max_bytes >= 1))
        return dml_error_msg(err, DML_EINPUT,
                             "p2p: times, window and window_max_bytes must "
                             "be positive");
    return DML_OK;
}

/* Round trips (initiator: send then receive). The message bounces: each
 * side sends back the buffer it received into, as a ping-pong does (and
 * as HPCC's does); a separate send buffer would add the cache misses of a
 * second copy to every round trip once messages reach the LLC's size. */
static int pingpong(MPI_Comm comm, int peer, int initiator, char *buf,
                    int bytes, int iters)
{
    int rc = MPI_SUCCESS;
    for (int i = 0; i < iters && rc == MPI_SUCCESS; i++) {
        if (initiator) {
            rc = MPI_Send(buf, bytes, MPI_BYTE, peer, TAG_LAT, comm);
            if (rc == MPI_SUCCESS)
                rc = MPI_Recv(buf, bytes, MPI_BYTE, peer, TAG_LAT, comm,
                              MPI_STATUS_IGNORE);
        } else {
            rc = MPI_Recv(buf, bytes, MPI_BYTE, peer, TAG_LAT, comm,
                          MPI_STATUS_IGNORE);
            if (rc == MPI_SUCCESS)
                rc = MPI_Send(buf, bytes, MPI_BYTE, peer, TAG_LAT, comm);
        }
    }
    return rc;
}

/* Windows of `window` messages, each acknowledged (osu_bw). The sender
 * reuses one buffer (legal for sends since MPI-3); the receiver gets a
 * buffer per message in flight, since overlapping receives are not. */
static int windows(MPI_Comm comm, int peer, int sender, char *sbuf,
                   char *rbuf, int bytes, int window, int iters,
                   MPI_Request *req)
{
    int rc = MPI_SUCCESS;
    char ack = 0;
    for (int i = 0; i < iters && rc == MPI_SUCCESS; i++) {
        for (int j = 0; j < window && rc == MPI_SUCCESS; j++) {
            if (sender)
                rc = MPI_Isend(sbuf, bytes, MPI_BYTE, peer, TAG_BW, comm,
                               &req[j]);
            else
                rc = MPI_Irecv(rbuf + (size_t)j * (size_t)bytes, bytes,
                               MPI_BYTE, peer, TAG_BW, comm, &req[j]);
        }
        if (rc == MPI_SUCCESS)
            rc = MPI_Waitall(window, req, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS)
            break;
        if (sender)
            rc = MPI_Recv(&ack, 1, MPI_BYTE, peer, TAG_ACK, comm,
                          MPI_STATUS_IGNORE);
        else
            rc = MPI_Send(&ack, 1, MPI_BYTE, peer, TAG_ACK, comm);
    }
    return rc;
}

/* How many iterations per repetition and how many repetitions, from the
 * time of one iteration: decided by the initiator, sent to the peer. */
static void plan_reps(const dml_p2p_options *o, double t_iter,
                      double budget_s, int plan[2])
{
    double it = t_iter > 0 ? o->rep_time_s / t_iter : MAX_ITERS;
    plan[0] = it < 1 ? 1 : it > MAX_ITERS ? MAX_ITERS : (int)it;
    double reps = budget_s / (plan[0] * fmax(t_iter, 1e-9));
    plan[1] = reps < o->budget.min_reps   ? o->budget.min_reps
              : reps > o->budget.max_reps ? o->budget.max_reps
                                          : (int)reps;
}

typedef struct p2p_run {
    MPI_Comm comm;
    int peer;       /* the other rank */
    int initiator;  /* 1 on peer_a */
    char *sbuf;
    char *rbuf;
    MPI_Request *req;
    double *samples; /* max_reps */
} p2p_run;

/* The batches of a size: the initiator sizes them from its estimate of
 * one (plan_reps) and tells its peer, which takes them. */
static dml_status share_plan(const p2p_run *p, const dml_p2p_options *o,
                             double estimate_s, double budget_s, int plan[2],
                             dml_error *err)
{
    if (p->initiator) {
        plan_reps(o, estimate_s, budget_s, plan);
        return dml_comm_check(MPI_Send(plan, 2, MPI_INT, p->peer, TAG_CTL,
                                       p->comm),
                              "p2p plan", err);
    }
    return dml_comm_check(MPI_Recv(plan, 2, MPI_INT, p->peer, TAG_CTL,
                                   p->comm, MPI_STATUS_IGNORE),
                          "p2p plan", err);
}

/* Ping-pong small messages for settle_s before anything is timed, in
 * batches after each of which the initiator says whether to go on. */
static dml_status settle(p2p_run *p, double settle_s, dml_error *err)
{
    double t0 = MPI_Wtime();
    int more = settle_s > 0;
    while (more) {
        DML_CHECK(dml_comm_check(pingpong(p->comm, p->peer, p->initiator,
                                          p->rbuf, 1, 256),
                                 "p2p settling", err));
        if (p->initiator) {
            more = MPI_Wtime() - t0 < settle_s;
            DML_CHECK(dml_comm_check(MPI_Send(&more, 1, MPI_INT, p->peer,
                                              TAG_CTL, p->comm),
                                     "p2p settling", err));
        } else {
            DML_CHECK(dml_comm_check(MPI_Recv(&more, 1, MPI_INT, p->peer,
                                              TAG_CTL, p->comm,
                                              MPI_STATUS_IGNORE),
                                     "p2p settling", err));
        }
    }
    return DML_OK;
}

static dml_status latency_at(p2p_run *p, const dml_p2p_options *o, int bytes,
                             double budget_s, dml_p2p_point *pt,
                             dml_error *err)
{
    int warm = o->budget.warmup > 0 ? o->budget.warmup : 1;
    DML_CHECK(dml_comm_check(pingpong(p->comm, p->peer, p->initiator,
                                      p->rbuf, bytes, warm),
                             "p2p latency warm-up", err));
    int plan[2];
    /* Time a few round trips to size the batches. */
    double t0 = MPI_Wtime();
    DML_CHECK(dml_comm_check(pingpong(p->comm, p->peer, p->initiator,
                                      p->rbuf, bytes, 4),
                             "p2p latency estimate", err));
    DML_CHECK(share_plan(p, o, (MPI_Wtime() - t0) / 4, budget_s, plan, err));
    for (int r = 0; r < plan[1]; r++) {
        double t1 = MPI_Wtime();
        DML_CHECK(dml_comm_check(pingpong(p->comm, p->peer, p->initiator,
                                          p->rbuf, bytes, plan[0]),
                                 "p2p ping-pong", err));
        p->samples[r] = (MPI_Wtime() - t1) / (2.0 * plan[0]);
    }
    dml_probe_stats st;
    dml_probe_stats_from(p->samples, plan[1], &st);
    pt->latency_s = st.min_s;
    pt->latency_median_s = st.median_s;
    pt->latency_mean_s = st.mean_s;
    pt->latency_iters = plan[0];
    pt->latency_reps = plan[1];
    return DML_OK;
}

static dml_status bandwidth_at(p2p_run *p, const dml_p2p_options *o,
                               int bytes, double budget_s, dml_p2p_point *pt,
                               dml_error *err)
{
    int window = window_for(o, bytes);
    int warm = o->budget.warmup > 0 ? o->budget.warmup : 1;
    DML_CHECK(dml_comm_check(windows(p->comm, p->peer, p->initiator, p->sbuf,
                                     p->rbuf, bytes, window, warm, p->req),
                             "p2p bandwidth warm-up", err));
    int plan[2];
    double t0 = MPI_Wtime();
    DML_CHECK(dml_comm_check(windows(p->comm, p->peer, p->initiator, p->sbuf,
                                     p->rbuf, bytes, window, 1, p->req),
                             "p2p bandwidth estimate", err));
    DML_CHECK(share_plan(p, o, MPI_Wtime() - t0, budget_s, plan, err));
    for (int r = 0; r < plan[1]; r++) {
        double t1 = MPI_Wtime();
        DML_CHECK(dml_comm_check(windows(p->comm, p->peer, p->initiator,
                                         p->sbuf, p->rbuf, bytes, window,
                                         plan[0], p->req),
                                 "p2p windowed send", err));
        p->samples[r] = (MPI_Wtime() - t1) / ((double)plan[0] * window);
    }
    dml_probe_stats st;
    dml_probe_stats_from(p->samples, plan[1], &st);
    pt->bw_time_s = st.min_s;
    pt->bw_time_median_s = st.median_s;
    pt->bw_time_mean_s = st.mean_s;
    pt->bandwidth_Bps = st.min_s > 0 ? bytes / st.min_s : 0;
    pt->bandwidth_median_Bps = st.median_s > 0 ? bytes / st.median_s : 0;
    pt->bandwidth_mean_Bps = st.mean_s > 0 ? bytes / st.mean_s : 0;
    pt->window = window;
    pt->bw_iters = plan[0];
    pt->bw_reps = plan[1];
    return DML_OK;
}

/* The headline bandwidth is the largest size's: what large transfers
 * (gradients) reach. A middle size can read faster than the link
 * sustains: a token-bucket link (scripts/emu-cluster at 1 Gbit/s) lets a
 * whole 32 KiB window pass in its burst, and a shared-memory message that
 * fits in the cache never reaches memory. */
void dml_p2p_summarise(dml_p2p_result *r)
{
    double small = INFINITY, largest = 0, large_bw = 0;
    for (size_t i = 0; i < r->npoints; i++) {
        const dml_p2p_point *pt = &r->points[i];
        if (pt->bytes <= 8)
            small = fmin(small, pt->latency_s);
        if (pt->bytes > largest) {
            largest = pt->bytes;
            large_bw = pt->bandwidth_Bps;
        }
    }
    if (!isfinite(small) && r->npoints > 0)
        small = r->points[0].latency_s;
    r->latency_s = isfinite(small) ? small : 0;
    r->bandwidth_Bps = large_bw;

    double x[DML_COMM_MAX_POINTS], t[DML_COMM_MAX_POINTS];
    for (size_t i = 0; i < r->npoints; i++) {
        x[i] = r->points[i].bytes;
        t[i] = r->points[i].latency_s;
    }
    dml_error ferr;
    r->fit_status = dml_alphabeta_fit(x, t, r->npoints, &r->fit, &ferr);
    if (r->fit_status != DML_OK) {
        char buf[1024];
        dml_log_warn("p2p %s: %s", r->level,
                     dml_error_format(&ferr, buf, sizeof buf));
    } else if (dml_alphabeta_residual_large(&r->fit)) {
        dml_log_warn("p2p %s: the alpha-beta fit misses the measured "
                     "latencies by %.0f%% RMS (over %.0f%%): its prices "
                     "for messages of middle sizes are rough",
                     r->level, 100 * r->fit.rms_rel_residual,
                     100 * DML_ALPHABETA_RESIDUAL_WARN);
    }
}

dml_status dml_p2p_measure(MPI_Comm comm, int peer_a, int peer_b,
                           const char *level, const dml_p2p_options *o,
                           dml_p2p_result *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->level, sizeof out->level, "%s", level ? level : "");
    int rank = 0, size = 0;
    DML_CHECK(dml_comm_check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank",
                             err));
    DML_CHECK(dml_comm_check(MPI_Comm_size(comm, &size), "MPI_Comm_size",
                             err));
    out->ranks = size;
    out->peer_a = peer_a;
    out->peer_b = peer_b;
    if (peer_a < 0 || peer_b < 0 || peer_a >= size || peer_b >= size ||
        peer_a == peer_b)
        return dml_error_msg(err, DML_EINPUT,
                             "p2p: peers %d and %d are not two distinct "
                             "ranks of a communicator of %d", peer_a, peer_b,
                             size);
    double sizes[DML_COMM_MAX_POINTS];
    size_t n = 0;
    DML_CHECK(check_options(o, sizes, &n, err));

    int me = rank == peer_a ? 1 : rank == peer_b ? 2 : 0;
    p2p_run p = {.comm = comm, .peer = me == 1 ? peer_b : peer_a,
                 .initiator = me == 1};
    dml_status s = DML_OK;
    if (me) {
        size_t rbytes = 0, maxw = 1;
        for (size_t i = 0; i < n; i++) {
            size_t w = (size_t)window_for(o, sizes[i]);
            size_t need = (me == 2 ? w : 1) * (size_t)sizes[i];
            rbytes = need > rbytes ? need : rbytes;
            maxw = w > maxw ? w : maxw;
        }
        p.sbuf = malloc((size_t)sizes[n - 1]);
        p.rbuf = malloc(rbytes);
        p.req = malloc(maxw * sizeof *p.req);
        p.samples = malloc((size_t)o->budget.max_reps * sizeof *p.samples);
        if (!p.sbuf || !p.rbuf || !p.req || !p.samples) {
            s = dml_error_msg(err, DML_ENOMEM,
                              "p2p: no memory for %zu-byte buffers", rbytes);
        } else {
            /* Touch every page now so that first-touch faults are not
             * timed. */
            memset(p.sbuf, 'a', (size_t)sizes[n - 1]);
            memset(p.rbuf, 0, rbytes);
        }
    }
    s = dml_comm_agree(comm, s, err);
    char phase[48];
    snprintf(phase, sizeof phase, "point-to-point %s", out->level);
    dml_progress_phase(o->progress, phase, (long)n);
    if (s == DML_OK && me)
        s = settle(&p, o->settle_s, err);
    for (size_t i = 0; s == DML_OK && me && i < n; i++) {
        dml_p2p_point *pt = &out->points[i];
        char what[32];
        dml_progress_doing(o->progress,
                           dml_units_bytes_binary(sizes[i], what,
                                                  sizeof what));
        pt->bytes = sizes[i];
        bool largest = i == n - 1;
        double head = fmax(o->time_per_size_s, o->headline_time_s);
        s = latency_at(&p, o, (int)sizes[i],
                       sizes[i] <= 8 || largest ? head : o->time_per_size_s,
                       pt, err);
        if (s == DML_OK)
            s = bandwidth_at(&p, o, (int)sizes[i],
                             largest ? head : o->time_per_size_s, pt, err);
        dml_progress_advance(o->progress);
        if (s == DML_OK && me == 1)
            dml_log_debug("p2p %s: %g B: latency %.3g s, bandwidth %.3g B/s",
                          out->level, pt->bytes, pt->latency_s,
                          pt->bandwidth_Bps);
    }
    free(p.sbuf);
    free(p.rbuf);
    free(p.req);
    free(p.samples);
    if (s != DML_OK)
        return s;
    if (me == 1) {
        out->npoints = n;
        dml_p2p_summarise(out);
    }
    return DML_OK;
}

dml_status dml_p2p_measure_levels(const dml_comm_levels *lv,
                                  const dml_p2p_options *o,
                                  dml_p2p_result out[DML_COMM_LEVEL_COUNT],
                                  size_t *nout, dml_error *err)
{
    *nout = 0;
    for (int l = 0; l < DML_COMM_LEVEL_COUNT; l++) {
        if (!dml_comm_levels_usable(lv, (dml_comm_level)l, "p2p"))
            continue;
        const char *name = dml_comm_level_name((dml_comm_level)l);
        dml_p2p_result *r = &out[(*nout)++];
        memset(r, 0, sizeof *r);
        snprintf(r->level, sizeof r->level, "%s", name);
        MPI_Comm c = dml_comm_levels_comm(lv, (dml_comm_level)l);
        dml_status s = DML_OK;
        if (c != MPI_COMM_NULL) {
            int size = 0;
            MPI_Comm_size(c, &size);
            s = dml_p2p_measure(c, 0, size - 1, name, o, r, err);
        }
        s = dml_comm_levels_done(lv, s, err);
        if (s != DML_OK) {
            dml_error_prefix(err, "p2p %s: ", name);
            return s;
        }
    }
    return DML_OK;
}

/* One measurement row's figure: op, best and median times, value, unit. */
static void figure(dml_measurement *m, const char *op, double time_s,
                   double time_median_s, double value, const char *unit)
{
    snprintf(m->op, sizeof m->op, "%s", op);
    m->time_s = time_s;
    m->time_median_s = time_median_s;
    m->value = value;
    snprintf(m->unit, sizeof m->unit, "%s", unit);
}

size_t dml_p2p_to_measurements(const dml_p2p_result *r,
                               dml_measurement *rows, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < r->npoints; i++) {
        const dml_p2p_point *pt = &r->points[i];
        for (int which = 0; which < 2; which++, k++) {
            if (k >= cap)
                continue;
            dml_measurement *m = &rows[k];
            memset(m, 0, sizeof *m);
            snprintf(m->kind, sizeof m->kind, "p2p");
            snprintf(m->level, sizeof m->level, "%s", r->level);
            m->ranks = 2;
            m->threads = 1;
            m->bytes = pt->bytes;
            if (which == 0) {
                figure(m, "latency", pt->latency_s, pt->latency_median_s,
                       pt->latency_s, "s");
                snprintf(m->detail, sizeof m->detail,
                         "ranks %d-%d of %d, %d round trips x %d reps, "
                         "mean_s=%.6g",
                         r->peer_a, r->peer_b, r->ranks, pt->latency_iters,
                         pt->latency_reps, pt->latency_mean_s);
            } else {
                figure(m, "bandwidth", pt->bw_time_s, pt->bw_time_median_s,
                       pt->bandwidth_Bps, "B/s");
                snprintf(m->detail, sizeof m->detail,
                         "ranks %d-%d of %d, window %d, %d windows x %d "
                         "reps, mean_s=%.6g",
                         r->peer_a, r->peer_b, r->ranks, pt->window,
                         pt->bw_iters, pt->bw_reps, pt->bw_time_mean_s);
            }
        }
    }
    return k;
}

size_t dml_p2p_format_table(const dml_p2p_result *r, dml_p2p_table which,
                            char *buf, size_t size)
{
    size_t len = 0;
    if (buf && size)
        buf[0] = '\0';
    bool lat = which == DML_P2P_TABLE_LATENCY;
    dml__table_appendf(buf, size, &len,
                       "# %s, %s: ranks %d and %d of %d, average and best "
                       "of repetitions\n",
                       lat ? "MPI latency (osu_latency method)"
                           : "MPI bandwidth (osu_bw method)",
                       r->level, r->peer_a, r->peer_b, r->ranks);
    /* osu_util.c: "%-*s%*s" with 10 and FIELD_WIDTH 20, then
     * "%-*d%*.*f" with FLOAT_PRECISION 2; OSU's own figure (the average)
     * first, so that a script reading OSU's column reads the same. */
    dml__table_appendf(buf, size, &len, "%-*s%*s%*s\n", 10, "# Size", 20,
                       lat ? "Avg Latency(us)" : "Bandwidth (MB/s)", 24,
                       lat ? "Best Latency(us)" : "Best Bandwidth (MB/s)");
    for (size_t i = 0; i < r->npoints; i++) {
        const dml_p2p_point *pt = &r->points[i];
        double avg = lat ? pt->latency_mean_s * 1e6
                         : pt->bandwidth_mean_Bps / 1e6;
        double best = lat ? pt->latency_s * 1e6 : pt->bandwidth_Bps / 1e6;
        dml__table_appendf(buf, size, &len, "%-*.0f%*.*f%*.*f\n", 10,
                           pt->bytes, 20, 2, avg, 24, 2, best);
    }
    return len;
}

/* The table dml_p2p_write_table formats. */
typedef struct p2p_table {
    const dml_p2p_result *r;
    dml_p2p_table which;
} p2p_table;

static size_t format_table(const void *table, char *buf, size_t size)
{
    const p2p_table *t = table;
    return dml_p2p_format_table(t->r, t->which, buf, size);
}

dml_status dml_p2p_write_table(FILE *f, const dml_p2p_result *r,
                               dml_p2p_table which, dml_error *err)
{
    p2p_table t = {.r = r, .which = which};
    return dml__table_write(f, format_table, &t, "p2p", err);
}
