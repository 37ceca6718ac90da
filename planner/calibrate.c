/*
 * calibrate.c: per-cluster efficiency factors from measured runs (see
 * calibrate.h).
 */
#include "calibrate.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "costmodel/fit.h"
#include "costmodel/plan.h"
#include "costmodel/presets.h"
#include "db/calib_store.h"
#include "db/history.h"
#include "db/spec_store.h"

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

void dml_calibrate_options_init(dml_calibrate_options *o)
{
    memset(o, 0, sizeof *o);
    o->record = true;
    o->prior_weight = DML_CALIBRATION_PRIOR_WEIGHT;
}

void dml_calibration_result_free(dml_calibration_result *r)
{
    if (!r)
        return;
    free(r->points);
    r->points = NULL;
    r->n_points = 0;
}

/* ---- the runs ----------------------------------------------------------------- */

typedef struct run_model {
    dml_costmodel_ctx *ctx;   /* prepared for the run's model, cluster and
                                 optimizer */
    dml_parallel_config par;  /* its configuration */
    dml_stage_range *stages;  /* its stages (stage_count of them) */
    int stage_count;
    double y;                 /* measured step time, s */
    char model[DML_MODEL_NAME_MAX]; /* model name */
    int group;                /* index of the first run of the same plan
                                 (the runs of a plan are fitted as one) */
} run_model;

/* Whether two runs ran the same plan (model, configuration, stages). */
static bool same_plan(const run_model *a, const run_model *b)
{
    const dml_parallel_config *x = &a->par, *y = &b->par;
    if (strcmp(a->model, b->model) != 0 ||
        a->ctx->model.layers != b->ctx->model.layers || x->dp != y->dp ||
        x->tp != y->tp || x->pp != y->pp || x->v != y->v ||
        x->mbs != y->mbs || x->microbatches != y->microbatches ||
        x->zero != y->zero || x->recompute != y->recompute ||
        x->sp != y->sp || x->schedule != y->schedule ||
        x->grad_compression != y->grad_compression || x->sync != y->sync ||
        x->threads_per_rank != y->threads_per_rank ||
        a->stage_count != b->stage_count)
        return false;
    for (int i = 0; i < a->stage_count; i++)
        if (a->stages[i].first_layer != b->stages[i].first_layer ||
            a->stages[i].last_layer != b->stages[i].last_layer)
            return false;
    return true;
}

/* Step time of run r under calibration c. */
static dml_status eval(run_model *r, const dml_costmodel_calib *c,
                       dml_prediction *pred, dml_error *err)
{
    dml_costmodel_set_calib(r->ctx, c);
    return dml_costmodel_step_time(r->ctx, &r->par, r->stages,
                                   r->stage_count, pred, NULL, err);
}

static dml_status eval_s(run_model *r, const dml_costmodel_calib *c,
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
static dml_status gradient(run_model *r, const dml_costmodel_calib *c,
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
    run_model *runs;
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
        double y = fp->runs[i].y;
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
        ymean += fp->runs[i].y / fp->n;
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
            double imp = g * u / fp->runs[i].y;
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

static double mape(const double *pred, const run_model *runs, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += fabs(pred[i] - runs[i].y) / runs[i].y;
    return n > 0 ? 100.0 * s / n : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- finding the cluster spec ------------------------------------------------- */

typedef struct spec_cache {
    int64_t cluster_id;     /* clusters.id it came from, 0 = preset */
    dml_cluster_spec *spec; /* NULL: none for that id */
} spec_cache;

static dml_cluster_spec *spec_for_run(dml_db *db, const char *fingerprint,
                                      const dml_calibrate_options *o,
                                      int64_t cluster_id,
                                      const char *cluster_name,
                                      spec_cache *cache, size_t *ncache)
{
    if (o->cluster)
        return (dml_cluster_spec *)o->cluster;
    for (size_t i = 0; i < *ncache; i++)
        if (cache[i].cluster_id == cluster_id)
            return cache[i].spec;
    dml_cluster_spec *spec = malloc(sizeof *spec);
    if (!spec)
        return NULL;
    dml_error e;
    dml_error_clear(&e);
    char *text = NULL;
    bool ok = false;
    if (dml_db_cluster_spec(db, cluster_id, &text, &e) == DML_OK && text) {
        json_error_t je;
        json_t *j = json_loads(text, 0, &je);
        ok = j && dml_cluster_spec_from_json(j, "database cluster spec", spec,
                                             &e) == DML_OK;
        json_decref(j);
    }
    free(text);
    if (!ok && cluster_name && cluster_name[0]) {
        char path[4096];
        const char *dir = dml_costmodel_data_dir(o->data_dir);
        ok = dml_costmodel_resolve(cluster_name, dir, "cluster", path,
                                   sizeof path, &e) == DML_OK &&
             dml_cluster_spec_read_file(path, spec, &e) == DML_OK;
    }
    if (ok) {
        char fp[DML_FINGERPRINT_MAX];
        if (spec->fingerprint[0])
            snprintf(fp, sizeof fp, "%s", spec->fingerprint);
        else
            dml_cluster_spec_fingerprint(spec, fp);
        ok = strcmp(fp, fingerprint) == 0;
    }
    if (!ok) {
        free(spec);
        spec = NULL;
    }
    cache[*ncache].cluster_id = cluster_id;
    cache[*ncache].spec = spec;
    (*ncache)++;
    return spec;
}

/* ---- calibrate ---------------------------------------------------------------- */

typedef struct work {
    dml_db_measured_run *mruns;
    size_t nm;
    dml_db_run_row *rows;
    size_t nrows;
    spec_cache *cache;
    size_t ncache;
    run_model *runs;
    int n;
    dml_plan *plan;
    fit_problem fp;
    run_model *plans;  /* one per distinct plan, y = median of its runs
                          (shares ctx and stages with runs) */
    double *pred;
    bool *use;
} work;

static void work_free(work *w, const dml_calibrate_options *o)
{
    free(w->mruns);
    free(w->rows);
    for (size_t i = 0; i < w->ncache; i++)
        if (w->cache[i].spec != o->cluster)
            free(w->cache[i].spec);
    free(w->cache);
    for (int i = 0; i < w->n; i++) {
        free(w->runs[i].ctx);
        free(w->runs[i].stages);
    }
    free(w->runs);
    free(w->plans);
    free(w->plan);
    free(w->fp.parts);
    free(w->fp.target);
    free(w->fp.grad);
    free(w->fp.t);
    free(w->pred);
    free(w->use);
}

static double rss_of(const work *w, int64_t run_id)
{
    for (size_t i = 0; i < w->nrows; i++)
        if (w->rows[i].id == run_id)
            return w->rows[i].peak_rss_bytes;
    return NAN;
}

/*
 * The spec a CPU plan was priced on. dml-plan cuts each CPU device of c
 * cores into k = c / threads_per_rank ranks (dml_cluster_spec_cut_devices: cores,
 * peak, memory and bandwidth divided by k) when it chooses ranks x
 * threads; a run of such a plan is priced on the same cut, or its ranks
 * would not even fit the devices of the spec as written. NULL when no cut
 * applies (GPUs, threads not dividing the cores); malloc'd otherwise.
 */
static dml_cluster_spec *cut_for_threads(const dml_cluster_spec *in,
                                         int threads)
{
    int cores = 0;
    for (int i = 0; i < in->group_count; i++) {
        if (in->groups[i].device.type != DML_DEVICE_CPU)
            return NULL;
        if (cores == 0 || in->groups[i].device.cores < cores)
            cores = in->groups[i].device.cores;
    }
    if (threads < 1 || cores <= threads || cores % threads != 0)
        return NULL;
    dml_cluster_spec *out = malloc(sizeof *out);
    if (out)
        dml_cluster_spec_cut_devices(in, cores / threads, out);
    return out;
}

/* Price run m; false (and a debug line) when its plan cannot be. */
static bool add_run(dml_db *db, const char *fingerprint,
                    const dml_calibrate_options *o, work *w,
                    const dml_db_measured_run *m, dml_calibration_point *pt)
{
    dml_error e;
    dml_error_clear(&e);
    char *text = NULL;
    if (dml_db_plan_json(db, m->plan_id, &text, &e) != DML_OK || !text) {
        dml_log_debug("calibration: run %lld: plan %lld has no plan file",
                      (long long)m->run_id, (long long)m->plan_id);
        free(text);
        return false;
    }
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    free(text);
    bool ok = j && dml_plan_from_json(j, "plan", w->plan, &e) == DML_OK;
    json_decref(j);
    if (!ok) {
        dml_log_debug("calibration: run %lld: plan unreadable: %s",
                      (long long)m->run_id, e.msg);
        return false;
    }
    dml_cluster_spec *spec = spec_for_run(db, fingerprint, o, m->cluster_id,
                                          w->plan->cluster_name, w->cache,
                                          &w->ncache);
    if (!spec) {
        dml_log_debug("calibration: run %lld: no cluster spec with "
                      "fingerprint %s", (long long)m->run_id, fingerprint);
        return false;
    }
    run_model *r = &w->runs[w->n];
    memset(r, 0, sizeof *r);
    r->ctx = malloc(sizeof *r->ctx);
    if (w->plan->stage_count > 0)
        r->stages = malloc(sizeof *r->stages * (size_t)w->plan->stage_count);
    if (!r->ctx || (w->plan->stage_count > 0 && !r->stages)) {
        free(r->ctx);
        free(r->stages);
        return false;
    }
    dml_costmodel_options opt;
    dml_costmodel_options_init(&opt);
    opt.optimizer = w->plan->sched.optimizer;
    r->par = w->plan->par;
    r->stage_count = w->plan->stage_count;
    if (r->stage_count > 0)
        memcpy(r->stages, w->plan->stages,
               sizeof *r->stages * (size_t)r->stage_count);
    r->y = m->measured_step_s;
    dml_prediction p;
    dml_cluster_spec *cut = cut_for_threads(spec,
                                            w->plan->par.threads_per_rank);
    ok = dml_costmodel_prepare(&w->plan->model, cut ? cut : spec, &opt,
                               r->ctx, &e) == DML_OK &&
         eval(r, &opt.calib, &p, &e) == DML_OK && p.step_s > 0 &&
         isfinite(p.step_s);
    free(cut);
    if (!ok) {
        dml_log_debug("calibration: run %lld: cannot be priced: %s",
                      (long long)m->run_id, e.msg);
        free(r->ctx);
        free(r->stages);
        return false;
    }
    snprintf(r->model, sizeof r->model, "%s", w->plan->model.name);
    r->group = w->n;
    for (int i = 0; i < w->n; i++)
        if (same_plan(&w->runs[i], r)) {
            r->group = w->runs[i].group;
            break;
        }
    memset(pt, 0, sizeof *pt);
    pt->run_id = m->run_id;
    pt->plan_id = m->plan_id;
    pt->config = m->config;
    pt->ranks = m->ranks;
    pt->measured_s = m->measured_step_s;
    pt->uncalibrated_s = p.step_s;
    pt->predicted_mem_bytes = p.mem_bytes_per_device;
    pt->peak_rss_bytes = rss_of(w, m->run_id);
    w->n++;
    return true;
}

static dml_status record(dml_db *db, const char *fingerprint,
                         const char *cluster_name,
                         dml_calibration_result *out, dml_error *err)
{
    dml_db_calibration cal;
    memset(&cal, 0, sizeof cal);
    snprintf(cal.cluster_fingerprint, sizeof cal.cluster_fingerprint, "%s",
             fingerprint);
    cal.n_runs = out->n_runs;
    cal.params_json = dml_calibration_params_json(out, cluster_name);
    if (!cal.params_json)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    cal.mape_before = out->mape_before_pct;
    cal.mape_after = out->mape_after_pct;
    cal.loo_mape_before = out->loo_mape_before_pct;
    cal.loo_mape_after = out->loo_mape_after_pct;
    cal.interval_pct = out->interval_pct;
    dml_status s = dml_db_record_calibration(db, &cal, &out->calibration_id,
                                             err);
    free(cal.params_json);
    return s;
}

/* Median of the measured times of the runs of group g. */
static double group_median(const run_model *runs, int n, int g, double *tmp)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (runs[i].group == g)
            tmp[m++] = runs[i].y;
    qsort(tmp, (size_t)m, sizeof *tmp, cmp_double);
    return m % 2 ? tmp[m / 2] : 0.5 * (tmp[m / 2 - 1] + tmp[m / 2]);
}

/*
 * The fit works on distinct plans, each measured by the median of its
 * runs: on a shared machine a slow spell is an outlier, not information,
 * and a plan run ten times must not outweigh ten plans run once. The
 * errors are over plans; the interval over runs, since a new run of a
 * plan scatters around its prediction as the old ones did.
 */
static dml_status fit_all(work *w, double prior, dml_calibration_result *out,
                          dml_error *err)
{
    int nr = w->n, n = 0;
    fit_problem *fp = &w->fp;
    double *tmp = malloc(sizeof(double) * (size_t)nr);
    int *plan_of = malloc(sizeof(int) * (size_t)nr);
    w->plans = malloc(sizeof *w->plans * (size_t)nr);
    if (!tmp || !plan_of || !w->plans) {
        free(tmp);
        free(plan_of);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    /* runs[i].group is the first run of i's plan, which comes first */
    for (int i = 0; i < nr; i++) {
        if (w->runs[i].group != i) {
            plan_of[i] = plan_of[w->runs[i].group];
            continue;
        }
        plan_of[i] = n;
        w->plans[n] = w->runs[i]; /* shares ctx and stages */
        w->plans[n].y = group_median(w->runs, nr, i, tmp);
        w->plans[n].group = n;
        n++;
    }
    for (int i = 0; i < n; i++)
        tmp[i] = w->plans[i].y;
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
    double ymed = tmp[n / 2]; /* a typical step, s */
    free(tmp);
    out->n_plans = n;
    fp->runs = w->plans;
    fp->n = n;
    fp->prior = prior;
    fp->parts = malloc(sizeof(double) * (size_t)(n + DML_CALIB_FACTORS) *
                       DML_CALIB_FACTORS);
    fp->target = malloc(sizeof(double) * (size_t)(n + DML_CALIB_FACTORS));
    fp->grad = malloc(sizeof(double) * (size_t)n * DML_CALIB_FACTORS);
    fp->t = malloc(sizeof(double) * (size_t)n);
    w->pred = malloc(sizeof(double) * (size_t)n);
    w->use = malloc(sizeof(bool) * (size_t)n);
    double *full = malloc(sizeof(double) * (size_t)n);
    double *rel = malloc(sizeof(double) * (size_t)nr);
    double *gsave = malloc(sizeof(double) * (size_t)n * DML_CALIB_FACTORS);
    double *tsave = malloc(sizeof(double) * (size_t)n);
    dml_status s = DML_OK;
    if (!fp->parts || !fp->target || !fp->grad || !fp->t || !w->pred ||
        !w->use || !full || !rel || !gsave || !tsave)
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    double ymin = INFINITY;
    for (int i = 0; i < n; i++)
        if (w->plans[i].y < ymin)
            ymin = w->plans[i].y;
    for (int kf = 0; kf < DML_CALIB_FACTORS; kf++) {
        fp->lo[kf] = factor_info[kf].lo;
        fp->hi[kf] = factor_info[kf].hi;
    }
    fp->hi[DML_CALIB_OVERHEAD] = ymin;
    fp->hi[DML_CALIB_MB_OVERHEAD] = ymin;
    for (int kf = 0; kf < DML_CALIB_FACTORS; kf++)
        fp->unit[kf] = 1.0;
    fp->unit[DML_CALIB_OVERHEAD] = ymed;
    fp->unit[DML_CALIB_MB_OVERHEAD] = 0.1 * ymed;

    dml_costmodel_calib c0, c;
    dml_costmodel_calib_init(&c0);
    if (s == DML_OK)
        s = take_gradients(fp, NULL, &c0, err);
    if (s == DML_OK) {
        out->mape_before_pct = mape(fp->t, w->plans, n);
        out->loo_mape_before_pct = out->mape_before_pct;
        choose_active(fp, &c0, n / 2 > 1 ? n / 2 : 1);
        c = c0;
        s = fit_iterate(fp, NULL, MAX_ITERATIONS, &c, &out->iterations, err);
    }
    for (int i = 0; s == DML_OK && i < n; i++)
        s = eval_s(&w->plans[i], &c, &full[i], err);
    if (s == DML_OK) {
        out->calib = c;
        for (int a = 0; a < fp->k; a++)
            out->free_factor[fp->active[a]] = true;
        out->mape_after_pct = mape(full, w->plans, n);
        /* Leave one out: refit without plan g from the full fit's
         * linearisation (iterated when there are few plans) and predict
         * it with the exact model. */
        s = take_gradients(fp, NULL, &c, err);
    }
    int loo_iter = n <= 64 ? 3 : 1;
    if (s == DML_OK) {
        memcpy(gsave, fp->grad,
               sizeof(double) * (size_t)n * DML_CALIB_FACTORS);
        memcpy(tsave, fp->t, sizeof(double) * (size_t)n);
    }
    for (int g = 0; g < n && s == DML_OK; g++) {
        for (int j = 0; j < n; j++)
            w->use[j] = j != g;
        memcpy(fp->grad, gsave,
               sizeof(double) * (size_t)n * DML_CALIB_FACTORS);
        memcpy(fp->t, tsave, sizeof(double) * (size_t)n);
        dml_costmodel_calib ci = c;
        s = solve_linearised(fp, w->use, &ci, err);
        if (s == DML_OK && loo_iter > 1)
            s = fit_iterate(fp, w->use, loo_iter - 1, &ci, NULL, err);
        if (s == DML_OK)
            s = eval_s(&w->plans[g], &ci, &w->pred[g], err);
    }
    if (s == DML_OK) {
        out->loo_mape_after_pct = mape(w->pred, w->plans, n);
        for (int i = 0; i < nr; i++) {
            double loo = w->pred[plan_of[i]];
            out->points[i].calibrated_s = full[plan_of[i]];
            out->points[i].loo_s = loo;
            out->points[i].plan_measured_s = w->plans[plan_of[i]].y;
            rel[i] = loo > 0 ? fabs(w->runs[i].y - loo) / loo : INFINITY;
        }
        qsort(rel, (size_t)nr, sizeof *rel, cmp_double);
        int idx = (int)ceil(0.9 * nr) - 1;
        out->interval_pct = 100.0 * rel[idx < 0 ? 0 : idx];
    }
    free(plan_of);
    free(full);
    free(rel);
    free(gsave);
    free(tsave);
    return s;
}

static void memory_headroom(dml_calibration_result *out)
{
    out->mem_ratio = NAN;
    out->mem_extra_bytes = 0;
    for (size_t i = 0; i < out->n_points; i++) {
        const dml_calibration_point *p = &out->points[i];
        if (!(p->peak_rss_bytes > 0) || !(p->predicted_mem_bytes > 0))
            continue;
        double ratio = p->peak_rss_bytes / p->predicted_mem_bytes;
        if (!(out->mem_ratio >= ratio))
            out->mem_ratio = ratio;
        double extra = p->peak_rss_bytes - p->predicted_mem_bytes;
        if (extra > out->mem_extra_bytes)
            out->mem_extra_bytes = extra;
    }
}

dml_status dml_calibrate_cluster(dml_db *db, const char *fingerprint,
                                 const dml_calibrate_options *opt,
                                 dml_calibration_result *out,
                                 dml_error *err)
{
    memset(out, 0, sizeof *out);
    dml_costmodel_calib_init(&out->calib);
    out->mem_ratio = NAN;
    dml_calibrate_options o;
    if (opt)
        o = *opt;
    else
        dml_calibrate_options_init(&o);
    if (o.min_runs <= 0)
        o.min_runs = DML_CALIBRATION_MIN_RUNS;
    if (o.min_runs < 2)
        o.min_runs = 2; /* leave-one-out needs two */
    if (o.max_runs <= 0)
        o.max_runs = DML_CALIBRATION_MAX_RUNS;
    if (!fingerprint || !fingerprint[0] ||
        strlen(fingerprint) >= DML_FINGERPRINT_MAX)
        return dml_error_msg(err, DML_EINPUT,
                             "calibration needs a cluster fingerprint (at "
                             "most %d characters)", DML_FINGERPRINT_MAX - 1);

    work w;
    memset(&w, 0, sizeof w);
    dml_status s = dml_db_list_measured_runs(db, fingerprint, &w.mruns,
                                             &w.nm, err);
    if (s == DML_OK)
        s = dml_db_list_runs(db, 0, &w.rows, &w.nrows, err);
    size_t first = w.nm > (size_t)o.max_runs ? w.nm - (size_t)o.max_runs : 0;
    size_t want = w.nm - first;
    if (s == DML_OK && want > 0) {
        w.cache = calloc(want, sizeof *w.cache);
        w.runs = calloc(want, sizeof *w.runs);
        w.plan = malloc(sizeof *w.plan);
        out->points = calloc(want, sizeof *out->points);
        if (!w.cache || !w.runs || !w.plan || !out->points)
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    for (size_t i = first; s == DML_OK && i < w.nm; i++) {
        if (!(w.mruns[i].measured_step_s > 0))
            continue;
        if (!add_run(db, fingerprint, &o, &w, &w.mruns[i],
                     &out->points[w.n]))
            out->n_skipped++;
    }
    out->n_runs = w.n;
    out->n_points = (size_t)w.n;
    if (s == DML_OK && w.n == 0 && out->n_skipped > 0) {
        bool any_spec = false;
        for (size_t i = 0; i < w.ncache; i++)
            any_spec = any_spec || w.cache[i].spec;
        if (!any_spec && !o.cluster)
            s = dml_error_msg(err, DML_ENOTFOUND,
                              "no cluster spec with fingerprint %s to price "
                              "its %d measured runs on (pass the cluster "
                              "spec dml-probe wrote)", fingerprint,
                              out->n_skipped);
    }
    int plans = 0;
    for (int i = 0; i < w.n; i++)
        plans += w.runs[i].group == i;
    out->n_plans = plans;
    if (s == DML_OK && plans >= o.min_runs) {
        s = fit_all(&w, o.prior_weight, out, err);
        if (s == DML_OK) {
            out->fitted = true;
            memory_headroom(out);
        }
    } else if (s == DML_OK) {
        memory_headroom(out);
    }
    /* A fit that predicts held-out plans worse than the spec alone would
     * make the next plans worse: keep it out of the database, so dml-plan
     * goes on with the previous calibration (or none). */
    out->kept = out->fitted &&
                out->loo_mape_after_pct < out->loo_mape_before_pct;
    if (s == DML_OK && out->kept && o.record) {
        const char *name = o.cluster ? o.cluster->name : "";
        for (size_t i = 0; !name[0] && i < w.ncache; i++)
            if (w.cache[i].spec)
                name = w.cache[i].spec->name;
        s = record(db, fingerprint, name, out, err);
    }
    work_free(&w, &o);
    if (s != DML_OK)
        dml_calibration_result_free(out);
    return s;
}

/* ---- stored form ---------------------------------------------------------------- */

char *dml_calibration_params_json(const dml_calibration_result *r,
                                  const char *cluster_name)
{
    json_t *factors = json_object();
    json_t *freed = json_array();
    json_t *runs = json_array();
    json_t *j = json_object();
    if (!factors || !freed || !runs || !j) {
        json_decref(factors);
        json_decref(freed);
        json_decref(runs);
        json_decref(j);
        return NULL;
    }
    for (int k = 0; k < DML_CALIB_FACTORS; k++) {
        json_object_set_new(factors, factor_info[k].name,
                            json_real(dml_calib_factor_get(
                                &r->calib, (dml_calib_factor)k)));
        if (r->free_factor[k])
            json_array_append_new(freed, json_string(factor_info[k].name));
    }
    for (size_t i = 0; i < r->n_points; i++)
        json_array_append_new(runs, json_integer(r->points[i].run_id));
    json_object_set_new(j, "schema_version", json_integer(1));
    json_object_set_new(j, "kind", json_string("calibration"));
    json_object_set_new(j, "cluster",
                        json_string(cluster_name ? cluster_name : ""));
    json_object_set_new(j, "factors", factors);
    json_object_set_new(j, "fitted", freed);
    json_object_set_new(j, "interval_pct", json_real(r->interval_pct));
    json_object_set_new(j, "loo_mape_pct", json_real(r->loo_mape_after_pct));
    json_object_set_new(j, "mem_extra_bytes", json_real(r->mem_extra_bytes));
    if (isfinite(r->mem_ratio))
        json_object_set_new(j, "mem_ratio", json_real(r->mem_ratio));
    json_object_set_new(j, "runs", runs);
    char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                   JSON_REAL_PRECISION(17));
    json_decref(j);
    return text;
}

static void applied_init(dml_calibration_applied *a)
{
    memset(a, 0, sizeof *a);
    dml_costmodel_calib_init(&a->calib);
    a->mem_ratio = NAN;
    a->loo_mape_pct = NAN;
}

dml_status dml_calibration_parse_params(const char *params_json,
                                        dml_calibration_applied *out,
                                        dml_error *err)
{
    applied_init(out);
    dml_json_doc *doc = NULL;
    DML_CHECK(dml_json_doc_load_text("calibrations.params_json",
                                     params_json ? params_json : "",
                                     params_json ? strlen(params_json) : 0,
                                     &doc, err));
    dml_json_obj root, f;
    dml_json_obj_root(doc, &root);
    bool present = false;
    dml_status s = dml_json_get_obj(&root, "factors", false, &f, &present,
                                    err);
    for (int k = 0; s == DML_OK && present && k < DML_CALIB_FACTORS; k++) {
        double v = dml_calib_factor_get(&out->calib, (dml_calib_factor)k);
        s = dml_json_get_f64(&f, factor_info[k].name, false,
                             factor_info[k].lo, factor_info[k].hi, &v, err);
        dml_calib_factor_set(&out->calib, (dml_calib_factor)k, v);
    }
    if (s == DML_OK)
        s = dml_json_get_f64(&root, "interval_pct", false, 0, 1e6,
                             &out->interval_pct, err);
    if (s == DML_OK)
        s = dml_json_get_f64(&root, "loo_mape_pct", false, 0, 1e6,
                             &out->loo_mape_pct, err);
    if (s == DML_OK)
        s = dml_json_get_f64(&root, "mem_extra_bytes", false, 0, 1e18,
                             &out->mem_extra_bytes, err);
    if (s == DML_OK)
        s = dml_json_get_f64(&root, "mem_ratio", false, 0, 1e9,
                             &out->mem_ratio, err);
    dml_json_doc_free(doc);
    return s;
}

dml_status dml_calibration_load(dml_db *db, const char *fingerprint,
                                dml_calibration_applied *out, bool *found,
                                dml_error *err)
{
    applied_init(out);
    *found = false;
    dml_db_calibration cal;
    bool have = false;
    DML_CHECK(dml_db_latest_calibration(db, fingerprint, &cal, &have, err));
    if (!have)
        return DML_OK;
    dml_status s = dml_calibration_parse_params(cal.params_json, out, err);
    if (s == DML_OK) {
        out->id = cal.id;
        out->n_runs = cal.n_runs;
        snprintf(out->created_at, sizeof out->created_at, "%s",
                 cal.created_at);
        /* the row's own interval is the one the planner reports */
        if (isfinite(cal.interval_pct))
            out->interval_pct = cal.interval_pct;
        if (isfinite(cal.loo_mape_after))
            out->loo_mape_pct = cal.loo_mape_after;
        *found = true;
    } else {
        dml_error_prefix(err, "calibration %lld", (long long)cal.id);
    }
    dml_db_calibration_clear(&cal);
    return s;
}

dml_status dml_calibration_load_latest(dml_db *db, const char *fingerprint,
                                       dml_costmodel_calib *calib,
                                       double *interval_pct, bool *found,
                                       dml_error *err)
{
    dml_calibration_applied a;
    DML_CHECK(dml_calibration_load(db, fingerprint, &a, found, err));
    *calib = a.calib;
    if (interval_pct)
        *interval_pct = *found ? a.interval_pct : NAN;
    return DML_OK;
}

double dml_calibration_mem_need(const dml_calibration_applied *cal,
                                double predicted_mem_bytes)
{
    if (!cal || !(cal->mem_extra_bytes > 0))
        return predicted_mem_bytes;
    return predicted_mem_bytes + cal->mem_extra_bytes;
}
