/*
 * membw.c: STREAM copy/scale/add/triad with a pthread team (see membw.h).
 */
#include "membw.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "probes/node_report.h"

#define MiB (1024.0 * 1024.0)

const char *dml_membw_kernel_name(dml_membw_kernel k)
{
    static const char *names[DML_MEMBW_KERNELS] = {"copy", "scale", "add",
                                                   "triad"};
    return (k >= 0 && k < DML_MEMBW_KERNELS) ? names[k] : "unknown";
}

double dml_membw_kernel_bytes(dml_membw_kernel k, size_t n)
{
    int arrays = (k == DML_MEMBW_COPY || k == DML_MEMBW_SCALE) ? 2 : 3;
    return (double)arrays * (double)sizeof(double) * (double)n;
}

size_t dml_membw_array_elems(const dml_topology_summary *s, bool quick)
{
    double llc = (s && s->llc_total_bytes > 0) ? s->llc_total_bytes
                                               : 32 * MiB;
    double bytes = 4 * llc;
    if (bytes < 8 * MiB)
        bytes = 8 * MiB;
    double cap = quick ? 128 * MiB : 1024 * MiB;
    if (s && s->mem_available_bytes > 0 && cap > s->mem_available_bytes / 8)
        cap = s->mem_available_bytes / 8;
    if (bytes > cap) {
        dml_log_info("membw: arrays capped at %.0f MiB, below 4x the "
                     "last-level cache (%.0f MiB): caches may inflate the "
                     "figures",
                     cap / MiB, llc / MiB);
        bytes = cap;
    }
    /* Whole cache lines per array, and slices that stay line-aligned. */
    size_t n = (size_t)(bytes / sizeof(double));
    return n - n % 1024;
}

dml_membw_config dml_membw_config_default(bool quick)
{
    dml_membw_config c = {
        .elems = 0,
        .threads = 0,
        .bind = true,
        .quick = quick,
        .budget = quick ? dml_probe_budget_quick() : dml_probe_budget_default(),
    };
    c.triad_budget = c.budget;
    if (quick) {
        /* The quick probe's time goes where its answer is read: 0.15 s
         * each for copy, scale and add, 0.8 s for triad (about as long as
         * the 1.2 s all four had). The best of 15 triads in 0.3 s read
         * 0.65-0.97 of HPCC's on a noisy VM. */
        c.budget.max_time_s = 0.15;
        c.triad_budget.max_time_s = 0.8;
        c.triad_budget.max_reps = 100;
    }
    return c;
}

/* ---- kernels: restrict and unit stride so that the compiler vectorises.
 * Kept out of line so that restrict still holds where they are called
 * (inlined, GCC adds run-time alias checks and turns copy into memmove,
 * whose non-temporal stores are not what STREAM measures). */
#define KERNEL static __attribute__((noinline)) void

KERNEL kernel_copy(double *restrict c, const double *restrict a,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        c[i] = a[i];
}

KERNEL kernel_scale(double *restrict b, const double *restrict c,
                         double s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = s * c[i];
}

KERNEL kernel_add(double *restrict c, const double *restrict a,
                       const double *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        c[i] = a[i] + b[i];
}

KERNEL kernel_triad(double *restrict a, const double *restrict b,
                         const double *restrict c, double s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
}

KERNEL kernel_init(double *restrict a, double *restrict b,
                        double *restrict c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        a[i] = 2.0;
        b[i] = 2.0;
        c[i] = 0.0;
    }
}

/* ---- the thread team */

enum { OP_INIT = -1, OP_QUIT = -2 };

/* A counting barrier whose size can shrink while threads wait on it,
 * which pthread_barrier_t cannot: a team that failed to start all its
 * threads must still release the ones that did. */
typedef struct team_barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count;          /* threads that must arrive */
    int waiting;        /* threads arrived in this generation */
    unsigned long gen;  /* generation, bumped at each release */
    double released_s;  /* monotonic time of the last release, s */
} team_barrier;

static void tb_init(team_barrier *b, int count)
{
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    b->count = count;
    b->waiting = 0;
    b->gen = 0;
    b->released_s = 0;
}

static void tb_destroy(team_barrier *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

static void tb_release_locked(team_barrier *b)
{
    b->released_s = dml_clock_now_s();
    b->waiting = 0;
    b->gen++;
    pthread_cond_broadcast(&b->cv);
}

static void tb_wait(team_barrier *b)
{
    pthread_mutex_lock(&b->mu);
    unsigned long g = b->gen;
    if (++b->waiting >= b->count)
        tb_release_locked(b);
    else
        while (g == b->gen)
            pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

static void tb_resize(team_barrier *b, int count)
{
    pthread_mutex_lock(&b->mu);
    b->count = count;
    if (b->waiting >= b->count)
        tb_release_locked(b);
    pthread_mutex_unlock(&b->mu);
}

typedef struct team team;

typedef struct worker {
    team *t;
    int id;
    pthread_t thread;
    bool bound;
} worker;

struct team {
    int n;                  /* threads running, the caller being thread 0 */
    double *a, *b, *c;      /* the arrays */
    size_t elems;           /* per array */
    int op;                 /* dml_membw_kernel, OP_INIT or OP_QUIT */
    team_barrier start;     /* all threads begin an op together */
    team_barrier done;      /* ... and the op ends when the last one is */
    hwloc_topology_t hw;    /* for binding, or NULL */
    worker *w;              /* n of them; w[0] is the caller */
};

static void slice(const team *t, int id, size_t *lo, size_t *len)
{
    /* Slices of whole 8-element (64-byte) groups: no false sharing. */
    size_t groups = t->elems / 8, rest = t->elems % 8;
    size_t per = groups / (size_t)t->n, extra = groups % (size_t)t->n;
    size_t uid = (size_t)id;
    size_t first = uid * per + (uid < extra ? uid : extra);
    size_t count = per + (uid < extra ? 1 : 0);
    *lo = first * 8;
    *len = count * 8 + (id == t->n - 1 ? rest : 0);
}

static void run_op(team *t, int id)
{
    size_t lo, n;
    slice(t, id, &lo, &n);
    double *a = t->a + lo, *b = t->b + lo, *c = t->c + lo;
    switch (t->op) {
    case OP_INIT:
        kernel_init(a, b, c, n);
        break;
    case DML_MEMBW_COPY:
        kernel_copy(c, a, n);
        break;
    case DML_MEMBW_SCALE:
        kernel_scale(b, c, DML_MEMBW_SCALAR, n);
        break;
    case DML_MEMBW_ADD:
        kernel_add(c, a, b, n);
        break;
    case DML_MEMBW_TRIAD:
        kernel_triad(a, b, c, DML_MEMBW_SCALAR, n);
        break;
    default:
        break;
    }
}

static bool bind_self(hwloc_topology_t hw, int id)
{
    if (!hw)
        return false;
    hwloc_obj_type_t type = HWLOC_OBJ_CORE;
    int cores = hwloc_get_nbobjs_by_type(hw, type);
    if (cores <= 0) {
        type = HWLOC_OBJ_PU;
        cores = hwloc_get_nbobjs_by_type(hw, type);
    }
    if (cores <= 0)
        return false;
    hwloc_obj_t o = hwloc_get_obj_by_type(hw, type, (unsigned)(id % cores));
    if (!o || hwloc_set_cpubind(hw, o->cpuset, HWLOC_CPUBIND_THREAD) != 0) {
        dml_log_debug("membw: cannot bind thread %d: %s", id,
                      strerror(errno));
        return false;
    }
    return true;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    team *t = w->t;
    w->bound = bind_self(t->hw, w->id);
    for (;;) {
        tb_wait(&t->start);
        if (t->op == OP_QUIT)
            break;
        run_op(t, w->id);
        tb_wait(&t->done);
    }
    return NULL;
}

/* Run one op on every thread; returns the seconds from the release of
 * the start barrier to the arrival of the last thread at the end one.
 * Both instants are taken by the releasing thread, whichever it is: a
 * worker released first may start before thread 0 is scheduled again. */
static double team_run(team *t, int op)
{
    t->op = op;
    tb_wait(&t->start);
    double t0 = t->start.released_s;
    run_op(t, 0);
    tb_wait(&t->done);
    return t->done.released_s - t0;
}

/* Start threads 1..n-1 (the caller is thread 0 and binds itself). */
static dml_status team_start(team *t, dml_error *err)
{
    int n = t->n;
    tb_init(&t->start, n);
    tb_init(&t->done, n);
    t->op = OP_INIT;
    t->w[0] = (worker){.t = t, .id = 0};
    t->w[0].bound = bind_self(t->hw, 0);
    for (int i = 1; i < n; i++) {
        t->w[i] = (worker){.t = t, .id = i};
        int rc = pthread_create(&t->w[i].thread, NULL, worker_main, &t->w[i]);
        if (rc != 0) {
            /* Release the i threads that did start (with the caller). */
            t->n = i;
            tb_resize(&t->done, i);
            t->op = OP_QUIT;
            tb_resize(&t->start, i);
            tb_wait(&t->start);
            for (int j = 1; j < i; j++)
                pthread_join(t->w[j].thread, NULL);
            tb_destroy(&t->start);
            tb_destroy(&t->done);
            return dml_error_msg(err, DML_ERUNTIME,
                                 "membw: cannot start thread %d of %d: %s",
                                 i + 1, n, strerror(rc));
        }
    }
    return DML_OK;
}

static void team_stop(team *t)
{
    t->op = OP_QUIT;
    tb_wait(&t->start);
    for (int i = 1; i < t->n; i++)
        pthread_join(t->w[i].thread, NULL);
    tb_destroy(&t->start);
    tb_destroy(&t->done);
}

typedef struct kernel_ctx {
    team *t;
    int op;
} kernel_ctx;

static dml_status time_kernel(void *ctx, double *elapsed_s, dml_error *err)
{
    (void)err;
    kernel_ctx *k = ctx;
    *elapsed_s = team_run(k->t, k->op);
    return DML_OK;
}

dml_status dml_membw_validate(const double *a, const double *b,
                              const double *c, size_t n, dml_error *err)
{
    /* Replay the sequence on scalars, as STREAM's checkSTREAMresults. */
    const double s = DML_MEMBW_SCALAR;
    double aj = 2.0, bj = 2.0, cj = 0.0;
    cj = aj;
    bj = s * cj;
    cj = aj + bj;
    aj = bj + s * cj;
    const double *arr[3] = {a, b, c};
    const double expect[3] = {aj, bj, cj};
    const char *names[3] = {"a", "b", "c"};
    if (n == 0)
        return dml_error_msg(err, DML_EVALIDATE, "STREAM check: empty arrays");
    for (int k = 0; k < 3; k++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += fabs(arr[k][i] - expect[k]);
        double avg = sum / (double)n;
        if (!(avg / fabs(expect[k]) <= 1e-13))
            return dml_error_msg(err, DML_EVALIDATE,
                                 "STREAM check: array %s: average error "
                                 "%.3e from the expected %g (relative "
                                 "%.3e > 1e-13)",
                                 names[k], avg, expect[k],
                                 avg / fabs(expect[k]));
    }
    return DML_OK;
}

static void *alloc_array(size_t elems)
{
    const size_t page = 4096;
    size_t bytes = (elems * sizeof(double) + page - 1) / page * page;
    return aligned_alloc(page, bytes);
}

static dml_status run_kernels(team *t, const dml_membw_config *cfg,
                              dml_membw_result *out, dml_error *err)
{
    /* First touch by the thread that will use each slice. */
    team_run(t, OP_INIT);
    for (int k = 0; k < DML_MEMBW_KERNELS; k++) {
        kernel_ctx kc = {.t = t, .op = k};
        dml_probe_stats ps;
        const dml_probe_budget *b =
            k == DML_MEMBW_TRIAD ? &cfg->triad_budget : &cfg->budget;
        DML_CHECK(dml_probe_run(b, time_kernel, &kc, &ps, err));
        dml_membw_kernel_result *r = &out->kernel[k];
        r->bytes = dml_membw_kernel_bytes((dml_membw_kernel)k, t->elems);
        r->time_s = ps.min_s;
        r->time_median_s = ps.median_s;
        r->best_Bps = ps.min_s > 0 ? r->bytes / ps.min_s : 0;
        r->median_Bps = ps.median_s > 0 ? r->bytes / ps.median_s : 0;
        r->reps = ps.reps;
    }
    return DML_OK;
}

dml_status dml_membw_run(const dml_topology *topo,
                         const dml_membw_config *cfg, dml_membw_result *out,
                         dml_error *err)
{
    memset(out, 0, sizeof *out);
    const dml_topology_summary *s =
        topo ? dml_topology_get_summary(topo) : NULL;
    int n = cfg->threads;
    if (n <= 0)
        n = s ? s->cores : dml_topology_online_cpus();
    if (n <= 0)
        n = 1;
    size_t elems = cfg->elems ? cfg->elems
                              : dml_membw_array_elems(s, cfg->quick);
    if (elems < (size_t)n * 8)
        return dml_error_msg(err, DML_ERANGE,
                             "membw: %zu elements per array is too few for "
                             "%d threads",
                             elems, n);

    team t = {.n = n, .elems = elems};
    t.hw = (cfg->bind && topo && dml_topology_is_live(topo))
               ? dml_topology_hwloc(topo)
               : NULL;
    t.a = alloc_array(elems);
    t.b = alloc_array(elems);
    t.c = alloc_array(elems);
    t.w = calloc((size_t)n, sizeof *t.w);
    hwloc_cpuset_t saved = NULL;
    dml_status st = DML_OK;
    if (!t.a || !t.b || !t.c || !t.w) {
        st = dml_error_msg(err, DML_ENOMEM,
                           "membw: cannot allocate 3 arrays of %zu bytes",
                           elems * sizeof(double));
        goto done;
    }
    /* Thread 0 is the caller: remember its binding to give it back. */
    if (t.hw && (saved = hwloc_bitmap_alloc()) &&
        hwloc_get_cpubind(t.hw, saved, HWLOC_CPUBIND_THREAD) != 0) {
        hwloc_bitmap_free(saved);
        saved = NULL;
    }
    st = team_start(&t, err);
    if (st != DML_OK)
        goto done;
    out->threads = n;
    out->elems = elems;
    out->array_bytes = (double)elems * sizeof(double);
    st = run_kernels(&t, cfg, out, err);
    team_stop(&t);
    out->bound = t.hw != NULL;
    for (int i = 0; i < n; i++)
        out->bound = out->bound && t.w[i].bound;
    if (st == DML_OK) {
        st = dml_membw_validate(t.a, t.b, t.c, elems, err);
        out->validated = st == DML_OK;
    }

done:
    if (saved) {
        hwloc_set_cpubind(t.hw, saved, HWLOC_CPUBIND_THREAD);
        hwloc_bitmap_free(saved);
    }
    free(t.a);
    free(t.b);
    free(t.c);
    free(t.w);
    return st;
}

dml_status dml_membw_to_measurements(const dml_membw_result *r,
                                     dml_measurement **rows, int *count,
                                     dml_error *err)
{
    for (int k = 0; k < DML_MEMBW_KERNELS; k++) {
        const dml_membw_kernel_result *kr = &r->kernel[k];
        dml_measurement m = {.ranks = 1, .threads = r->threads};
        snprintf(m.kind, sizeof m.kind, "membw");
        snprintf(m.op, sizeof m.op, "%s",
                 dml_membw_kernel_name((dml_membw_kernel)k));
        m.bytes = kr->bytes;
        m.time_s = kr->time_s;
        m.time_median_s = kr->time_median_s;
        m.value = kr->best_Bps;
        snprintf(m.unit, sizeof m.unit, "B/s");
        snprintf(m.detail, sizeof m.detail,
                 "elems=%zu array_bytes=%.0f reps=%d bound=%d", r->elems,
                 r->array_bytes, kr->reps, r->bound ? 1 : 0);
        DML_CHECK(dml_node_report_append_row(rows, count, &m, err));
    }
    return DML_OK;
}
