/*
 * calib_fit.c: the calibration fit (see calib_fit.h).
 */
#include "costmodel/calib_fit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "costmodel/fit.h"

/* A factor whose part is below this fraction of every run's time is not
 * exercised by the runs and keeps its value. */
#define EXERCISED_FRACTION 0.01
#define MAX_ITERATIONS 25


/* ---- factors ---------------------------------------------------------------- */

static const struct {
    const char *name;
    bool multiplicative; /* a time multiplier with prior 1 */
    double lo, hi;       /* bounds of the fit */
} factor_info[DML_CALIB_FACTORS] = {
    [DML_CALIB_COMPUTE] = {"compute", true, 0.2, 5.0},
    [DML_CALIB_MEMBOUND] = {"membound", true, 0.2, 5.0},
    [DML_CALIB_COMM_INTRA] = {"comm_intra", true, 0.2, 10.0},
    [DML_CALIB_COMM_INTER] = {"comm_inter", true, 0.2, 10.0},
    [DML_CALIB_LATENCY_INTRA] = {"latency_intra", true, 0.1, 100.0},
    [DML_CALIB_LATENCY_INTER] = {"latency_inter", true, 0.1, 100.0},
    [DML_CALIB_OPTIMIZER] = {"optimizer", true, 0.2, 5.0},
    /* upper bound set from the runs: no more than the fastest step */
    [DML_CALIB_OVERHEAD] = {"overhead_s", false, 0.0, 1.0},
    [DML_CALIB_MB_OVERHEAD] = {"microbatch_overhead_s", false, 0.0, 1.0},
    /* 0: perfect scaling; 1: a second thread (rank) gains nothing; 4: it
     * makes the GEMMs five times slower (a heavily shared machine) */
    [DML_CALIB_CPU_THREADS] = {"cpu_thread_overhead", false, 0.0, 4.0},
    [DML_CALIB_CPU_RANKS] = {"cpu_rank_contention", false, 0.0, 4.0},
};

const char *dml_calib_factor_name(dml_calib_factor f)
{
    return (int)f >= 0 && (int)f < DML_CALIB_FACTORS ? factor_info[f].name
                                                     : "?";
}

void dml_calib_factor_bounds(dml_calib_factor f, double *lo, double *hi)
{
    bool ok = (int)f >= 0 && (int)f < DML_CALIB_FACTORS;
    *lo = ok ? factor_info[f].lo : NAN;
    *hi = ok ? factor_info[f].hi : NAN;
}

static double *factor_ptr(dml_costmodel_calib *c, dml_calib_factor f)
{
    switch (f) {
    case DML_CALIB_COMPUTE: return &c->compute;
    case DML_CALIB_MEMBOUND: return &c->membound;
    case DML_CALIB_COMM_INTRA: return &c->comm_intra;
    case DML_CALIB_COMM_INTER: return &c->comm_inter;
    case DML_CALIB_LATENCY_INTRA: return &c->latency_intra;
    case DML_CALIB_LATENCY_INTER: return &c->latency_inter;
    case DML_CALIB_OPTIMIZER: return &c->optimizer;
    case DML_CALIB_OVERHEAD: return &c->overhead_s;
    case DML_CALIB_MB_OVERHEAD: return &c->microbatch_overhead_s;
    case DML_CALIB_CPU_THREADS: return &c->cpu_thread_overhead;
    case DML_CALIB_CPU_RANKS: return &c->cpu_rank_contention;
    case DML_CALIB_FACTORS: break;
    }
    return NULL;
}

double dml_calib_factor_get(const dml_costmodel_calib *c, dml_calib_factor f)
{
    double *p = factor_ptr((dml_costmodel_calib *)c, f);
    return p ? *p : NAN;
}

void dml_calib_factor_set(dml_costmodel_calib *c, dml_calib_factor f,
                          double value)
{
    double *p = factor_ptr(c, f);
    if (p)
        *p = value;
}

/* Step time of run r under calibration c. */
static dml_status eval(dml_calib_run *r, const dml_costmodel_calib *c,
                       dml_prediction *pred, dml_error *err)
{
    dml_costmodel_set_calib(r->ctx, c);
    return dml_costmodel_step_time(r->ctx, &r->par, r->stages,
                                   r->stage_count, pred, NULL, err);
}

static dml_status eval_s(dml_calib_run *r, const dml_costmodel_calib *c,
                         double *t, dml_error *err)
{
    dml_prediction p;
    DML_CHECK(eval(r, c, &p, err));
    *t = p.step_s;
    return DML_OK;
}

/* Step time and its derivative by every factor at c (central
 * differences: the time is piecewise linear, so this is exact away from
 * kinks and the mean slope at one). */
static dml_status gradient(dml_calib_run *r, const dml_costmodel_calib *c,
                           double *t, double g[DML_CALIB_FACTORS],
                           dml_error *err)
{
    DML_CHECK(eval_s(r, c, t, err));
    for (int k = 0; k < DML_CALIB_FACTORS; k++) {
        double v = dml_calib_factor_get(c, (dml_calib_factor)k);
        double unit = k == DML_CALIB_OVERHEAD || k == DML_CALIB_MB_OVERHEAD
                          ? 1e-3
                          : 1.0;
        double h = 1e-4 * (fabs(v) > unit ? fabs(v) : unit);
        dml_costmodel_calib cp = *c, cm = *c;
        dml_calib_factor_set(&cp, (dml_calib_factor)k, v + h);
        dml_calib_factor_set(&cm, (dml_calib_factor)k, v - h);
        double tp, tm;
        DML_CHECK(eval_s(r, &cp, &tp, err));
        DML_CHECK(eval_s(r, &cm, &tm, err));
        g[k] = (tp - tm) / (2.0 * h);
    }
    return DML_OK;
}

/* ---- the fit ------------------------------------------------------------------ */

typedef struct fit_problem {
    dml_calib_run *runs;
    int n;
    int active[DML_CALIB_FACTORS]; /* factor index of each free column */
    int k;                         /* free columns */
    double prior;                  /* weight of the prior rows */
    double unit[DML_CALIB_FACTORS]; /* plausible size of each factor
                                      (1; the overhead: a step) */
    double lo[DML_CALIB_FACTORS];  /* bounds per factor */
    double hi[DML_CALIB_FACTORS];
    /* scratch */
    double *parts;                 /* (n + k) x k */
    double *target;                /* n + k */
    double *grad;                  /* n x DML_CALIB_FACTORS */
    double *t;                     /* n */
} fit_problem;

/*
 * One linearised bounded least-squares solve on the runs with use[i]
 * (NULL: all) from gradients grad/t taken at c; writes the new factors
 * into *c.
 */
static dml_status solve_linearised(fit_problem *fp, const bool *use,
                                   dml_costmodel_calib *c, dml_error *err)
{
    int rows = 0, k = fp->k;
    for (int i = 0; i < fp->n; i++) {
        if (use && !use[i])
            continue;
        const double *g = fp->grad + (size_t)i * DML_CALIB_FACTORS;
        double y = fp->runs[i].measured_s;
        /* what the free columns do not explain at c: frozen factors and
         * the curvature of products such as compute x contention */
        double rest = fp->t[i];
        for (int a = 0; a < k; a++)
            rest -= g[fp->active[a]] *
                    dml_calib_factor_get(c, (dml_calib_factor)fp->active[a]);
        for (int a = 0; a < k; a++)
            fp->parts[(size_t)rows * k + a] = g[fp->active[a]] / y;
        double want = (y - rest) / y;
        /* fit.h needs positive targets; a run the frozen parts alone
         * over-predict pulls the free ones to their lower bounds anyway */
        fp->target[rows] = want > 1e-9 ? want : 1e-9;
        rows++;
    }
    /* A prior row per factor: weak next to a handful of plans, but it
     * settles factors the plans cannot tell apart (the overhead and the
     * GEMM time of plans that all train one batch). Multipliers are
     * pulled towards 1, the additive terms towards 0, each deviation of
     * a tenth (of a step, for the overhead) weighing like a residual of
     * prior / 10 on one plan. */
    for (int a = 0; a < k && fp->prior > 0; a++) {
        int f = fp->active[a];
        bool mult = factor_info[f].multiplicative;
        double part = mult ? fp->prior : fp->prior / fp->unit[f];
        for (int b = 0; b < k; b++)
            fp->parts[(size_t)rows * k + b] = a == b ? part : 0;
        /* fit.h wants positive targets: "0" is a vanishing one */
        fp->target[rows] = mult ? fp->prior : 1e-300;
        rows++;
    }
    double lo[DML_CALIB_FACTORS], hi[DML_CALIB_FACTORS], x[DML_CALIB_FACTORS];
    for (int a = 0; a < k; a++) {
        lo[a] = fp->lo[fp->active[a]];
        hi[a] = fp->hi[fp->active[a]];
    }
    DML_CHECK(dml_fit_scales(fp->parts, fp->target, rows, k, lo, hi, false,
                             x, NULL, err));
    for (int a = 0; a < k; a++)
        dml_calib_factor_set(c, (dml_calib_factor)fp->active[a], x[a]);
    return DML_OK;
}

static dml_status take_gradients(fit_problem *fp, const bool *use,
                                 const dml_costmodel_calib *c, dml_error *err)
{
    for (int i = 0; i < fp->n; i++) {
        if (use && !use[i])
            continue;
        DML_CHECK(gradient(&fp->runs[i], c,
                           &fp->t[i], fp->grad + (size_t)i * DML_CALIB_FACTORS,
                           err));
    }
    return DML_OK;
}

/* Gauss-Newton from *c until the free factors settle; *iters the rounds. */
static dml_status fit_iterate(fit_problem *fp, const bool *use, int max_iter,
                              dml_costmodel_calib *c, int *iters,
                              dml_error *err)
{
    int it = 0;
    for (; it < max_iter; it++) {
        DML_CHECK(take_gradients(fp, use, c, err));
        dml_costmodel_calib before = *c;
        DML_CHECK(solve_linearised(fp, use, c, err));
        double change = 0;
        for (int a = 0; a < fp->k; a++) {
            dml_calib_factor f = (dml_calib_factor)fp->active[a];
            double o = dml_calib_factor_get(&before, f);
            double v = dml_calib_factor_get(c, f);
            double scale = f == DML_CALIB_OVERHEAD ||
                                   f == DML_CALIB_MB_OVERHEAD
                               ? fp->hi[f]
                               : 1.0;
            double d = fabs(v - o) / (fabs(o) > scale ? fabs(o) : scale);
            if (d > change)
                change = d;
        }
        if (change < 1e-7) {
            it++;
            break;
        }
    }
    if (iters)
        *iters = it;
    return DML_OK;
}

/* Choose the free factors from gradients at the defaults: exercised
 * ones, most important first, at most max_free. */
static void choose_active(fit_problem *fp, const dml_costmodel_calib *c,
                          int max_free)
{
    double importance[DML_CALIB_FACTORS] = {0};
    double ymean = 0;
    for (int i = 0; i < fp->n; i++)
        ymean += fp->runs[i].measured_s / fp->n;
    for (int kf = 0; kf < DML_CALIB_FACTORS; kf++) {
        double v = fabs(dml_calib_factor_get(c, (dml_calib_factor)kf));
        /* how much the time would move with the factor at a plausible
         * value: its current one, 1 for the CPU scaling terms, a tenth
         * of a step for the overhead, a hundredth per micro-batch */
        double unit = kf == DML_CALIB_OVERHEAD      ? 0.1 * ymean
                      : kf == DML_CALIB_MB_OVERHEAD ? 0.01 * ymean
                                                    : 1.0;
        double u = v > unit ? v : unit;
        for (int i = 0; i < fp->n; i++) {
            double g = fabs(fp->grad[(size_t)i * DML_CALIB_FACTORS + kf]);
            double imp = g * u / fp->runs[i].measured_s;
            if (imp > importance[kf])
                importance[kf] = imp;
        }
    }
    fp->k = 0;
    bool taken[DML_CALIB_FACTORS] = {false};
    if (max_free > DML_FIT_MAX_PARTS)
        max_free = DML_FIT_MAX_PARTS;
    while (fp->k < max_free) {
        int best = -1;
        for (int kf = 0; kf < DML_CALIB_FACTORS; kf++)
            if (!taken[kf] && importance[kf] >= EXERCISED_FRACTION &&
                (best < 0 || importance[kf] > importance[best]))
                best = kf;
        if (best < 0)
            break;
        taken[best] = true;
        fp->active[fp->k++] = best;
    }
}

static double mape(const double *pred, const dml_calib_run *runs, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs(pred[i] - runs[i].measured_s) / runs[i].measured_s;
    return n > 0 ? 100.0 * s / n : NAN;
}


/* Median of the measured times of the runs of group g. */
static double group_median(const dml_calib_run *runs, int n, int g, double *tmp)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (runs[i].group == g)
            tmp[m++] = runs[i].measured_s;
    qsort(tmp, (size_t)m, sizeof *tmp, dml_stats_cmp_double);
    return m % 2 ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
}

/*
 * The fit works on distinct plans, each measured by the median of its
 * runs: on a shared machine a slow spell is an outlier, not information,
 * and a plan run ten times must not outweigh ten plans run once. The
 * errors are over plans; the interval over runs, since a new run of a
 * plan scatters around its prediction as the old ones did.
 */
typedef struct fit_work {
    fit_problem fp;
    dml_calib_run *plans; /* one per distinct plan, measured_s = median of
                             its runs (shares ctx and stages with runs) */
    int *plan_of;         /* run -> its plan */
    double *pred;         /* leave-one-out prediction per plan */
    bool *use;
    double *full;         /* fitted prediction per plan */
    double *rel;          /* per run */
    double *gsave, *tsave;
} fit_work;

static void fit_work_free(fit_work *w)
{
    free(w->fp.parts);
    free(w->fp.target);
    free(w->fp.grad);
    free(w->fp.t);
    free(w->plans);
    free(w->plan_of);
    free(w->pred);
    free(w->use);
    free(w->full);
    free(w->rel);
    free(w->gsave);
    free(w->tsave);
}

static dml_status fit_work_alloc(fit_work *w, int nr, dml_error *err)
{
    size_t n = (size_t)nr, kf = DML_CALIB_FACTORS;
    memset(w, 0, sizeof *w);
    w->plans = malloc(sizeof *w->plans * n);
    w->plan_of = malloc(sizeof *w->plan_of * n);
    w->fp.parts = malloc(sizeof(double) * (n + kf) * kf);
    w->fp.target = malloc(sizeof(double) * (n + kf));
    w->fp.grad = malloc(sizeof(double) * n * kf);
    w->fp.t = malloc(sizeof(double) * n);
    w->pred = malloc(sizeof(double) * n);
    w->use = malloc(sizeof(bool) * n);
    w->full = malloc(sizeof(double) * n);
    w->rel = malloc(sizeof(double) * n);
    w->gsave = malloc(sizeof(double) * n * kf);
    w->tsave = malloc(sizeof(double) * n);
    if (!w->plans || !w->plan_of || !w->fp.parts || !w->fp.target ||
        !w->fp.grad || !w->fp.t || !w->pred || !w->use || !w->full ||
        !w->rel || !w->gsave || !w->tsave) {
        fit_work_free(w);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    return DML_OK;
}

/* One point per plan (runs[i].group is the first run of i's plan, which
 * comes first), measured by the median of its runs; returns the plans. */
static int group_plans(dml_calib_run *runs, int nr, fit_work *w)
{
    int n = 0;
    for (int i = 0; i < nr; i++) {
        if (runs[i].group != i) {
            w->plan_of[i] = w->plan_of[runs[i].group];
            continue;
        }
        w->plan_of[i] = n;
        w->plans[n] = runs[i];
        w->plans[n].measured_s = group_median(runs, nr, i, w->rel);
        w->plans[n].group = n;
        n++;
    }
    return n;
}

/* Bounds and plausible sizes of the factors for plans whose typical step
 * is ymed and fastest ymin. */
static void set_bounds(fit_problem *fp, double ymin, double ymed)
{
    for (int kf = 0; kf < DML_CALIB_FACTORS; kf++) {
        fp->lo[kf] = factor_info[kf].lo;
        fp->hi[kf] = factor_info[kf].hi;
        fp->unit[kf] = 1.0;
    }
    fp->hi[DML_CALIB_OVERHEAD] = ymin;
    fp->hi[DML_CALIB_MB_OVERHEAD] = ymin;
    fp->unit[DML_CALIB_OVERHEAD] = ymed;
    fp->unit[DML_CALIB_MB_OVERHEAD] = 0.1 * ymed;
}

/* Leave one out: refit without each plan from the full fit's
 * linearisation at c (iterated when there are few plans) and predict it
 * with the exact model. */
static dml_status leave_one_out(fit_work *w, const dml_costmodel_calib *c,
                                dml_error *err)
{
    fit_problem *fp = &w->fp;
    int n = fp->n;
    size_t gbytes = sizeof(double) * (size_t)n * DML_CALIB_FACTORS;
    DML_CHECK(take_gradients(fp, NULL, c, err));
    memcpy(w->gsave, fp->grad, gbytes);
    memcpy(w->tsave, fp->t, sizeof(double) * (size_t)n);
    int loo_iter = n <= 64 ? 3 : 1;
    for (int g = 0; g < n; g++) {
        for (int j = 0; j < n; j++)
            w->use[j] = j != g;
        memcpy(fp->grad, w->gsave, gbytes);
        memcpy(fp->t, w->tsave, sizeof(double) * (size_t)n);
        dml_costmodel_calib ci = *c;
        DML_CHECK(solve_linearised(fp, w->use, &ci, err));
        if (loo_iter > 1)
            DML_CHECK(fit_iterate(fp, w->use, loo_iter - 1, &ci, NULL, err));
        DML_CHECK(eval_s(&w->plans[g], &ci, &w->pred[g], err));
    }
    return DML_OK;
}

static dml_status fit_plans(fit_work *w, dml_calib_run *runs, int nr,
                            dml_calib_fit_result *out,
                            dml_calib_run_fit *per_run, dml_error *err)
{
    fit_problem *fp = &w->fp;
    int n = fp->n;
    dml_costmodel_calib c0, c;
    dml_costmodel_calib_init(&c0);
    DML_CHECK(take_gradients(fp, NULL, &c0, err));
    out->mape_before_pct = mape(fp->t, w->plans, n);
    out->loo_mape_before_pct = out->mape_before_pct;
    choose_active(fp, &c0, n / 2 > 1 ? n / 2 : 1);
    c = c0;
    DML_CHECK(fit_iterate(fp, NULL, MAX_ITERATIONS, &c, &out->iterations,
                          err));
    for (int i = 0; i < n; i++)
        DML_CHECK(eval_s(&w->plans[i], &c, &w->full[i], err));
    out->calib = c;
    for (int a = 0; a < fp->k; a++)
        out->free_factor[fp->active[a]] = true;
    out->mape_after_pct = mape(w->full, w->plans, n);
    DML_CHECK(leave_one_out(w, &c, err));
    out->loo_mape_after_pct = mape(w->pred, w->plans, n);
    for (int i = 0; i < nr; i++) {
        double loo = w->pred[w->plan_of[i]];
        if (per_run) {
            per_run[i].calibrated_s = w->full[w->plan_of[i]];
            per_run[i].loo_s = loo;
            per_run[i].plan_measured_s = w->plans[w->plan_of[i]].measured_s;
        }
        w->rel[i] = loo > 0 ? fabs(runs[i].measured_s - loo) / loo
                            : INFINITY;
    }
    qsort(w->rel, (size_t)nr, sizeof *w->rel, dml_stats_cmp_double);
    int idx = (int)ceil(0.9 * nr) - 1;
    out->interval_pct = 100.0 * w->rel[idx < 0 ? 0 : idx];
    return DML_OK;
}

dml_status dml_calib_run_predict(dml_calib_run *r,
                                 const dml_costmodel_calib *c,
                                 dml_prediction *pred, dml_error *err)
{
    return eval(r, c, pred, err);
}

dml_status dml_calib_fit(dml_calib_run *runs, int nr, double prior,
                         dml_calib_fit_result *out,
                         dml_calib_run_fit *per_run, dml_error *err)
{
    memset(out, 0, sizeof *out);
    dml_costmodel_calib_init(&out->calib);
    if (nr < 1)
        return dml_error_msg(err, DML_EINPUT, "calibration needs a run");
    fit_work w;
    DML_CHECK(fit_work_alloc(&w, nr, err));
    int n = group_plans(runs, nr, &w);
    for (int i = 0; i < n; i++)
        w.rel[i] = w.plans[i].measured_s;
    qsort(w.rel, (size_t)n, sizeof *w.rel, dml_stats_cmp_double);
    double ymed = w.rel[n / 2]; /* a typical step, s */
    out->n_plans = n;
    w.fp.runs = w.plans;
    w.fp.n = n;
    w.fp.prior = prior;
    set_bounds(&w.fp, w.rel[0], ymed);
    dml_status s = fit_plans(&w, runs, nr, out, per_run, err);
    fit_work_free(&w);
    return s;
}
