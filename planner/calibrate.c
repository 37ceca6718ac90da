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
#include "common/name.h"
#include "costmodel/calib_fit.h"
#include "costmodel/plan.h"
#include "costmodel/presets.h"
#include "db/calib_store.h"
#include "db/history.h"
#include "db/spec_store.h"

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

dml_status dml_calibrate_refit(dml_db *db, const dml_cluster_spec *cluster,
                               const char *data_dir,
                               dml_calibration_result *out, dml_error *err)
{
    dml_calibrate_options co;
    dml_calibrate_options_init(&co);
    co.cluster = cluster;
    co.data_dir = data_dir;
    co.record = true;
    return dml_calibrate_cluster(db, cluster->fingerprint, &co, out, err);
}

void dml_calibration_print(FILE *f, dml_status status, const char *msg,
                           const dml_calibration_result *r)
{
    if (status != DML_OK)
        fprintf(f, "Calibration: not refitted: %s\n", msg);
    else if (!r->fitted)
        fprintf(f, "Calibration: not enough runs yet (%d distinct plans "
                   "measured, %d needed).\n",
                r->n_plans, DML_CALIBRATION_MIN_RUNS);
    else if (!r->kept)
        fprintf(f, "Calibration: a refit from %d runs of %d plans predicts "
                   "held-out plans no better than the spec alone "
                   "(leave-one-out MAPE %.1f%% vs %.1f%%): not stored; "
                   "measure more plans.\n",
                r->n_runs, r->n_plans, r->loo_mape_after_pct,
                r->loo_mape_before_pct);
    else
        fprintf(f, "Calibration #%lld from %d runs of %d plans: MAPE %.1f%% "
                   "-> %.1f%%, leave-one-out %.1f%% -> %.1f%%, predictions "
                   "now +-%.0f%%.\n",
                (long long)r->calibration_id, r->n_runs, r->n_plans,
                r->mape_before_pct, r->mape_after_pct,
                r->loo_mape_before_pct, r->loo_mape_after_pct,
                r->interval_pct);
}

/* ---- the runs ----------------------------------------------------------------- */

typedef char model_name[DML_MODEL_NAME_MAX];

/* Whether two runs ran the same plan (model, configuration, stages). */
static bool same_plan(const dml_calib_run *a, const char *a_model,
                      const dml_calib_run *b, const char *b_model)
{
    if (strcmp(a_model, b_model) != 0 ||
        a->ctx->model.layers != b->ctx->model.layers ||
        !dml_parallel_config_equal(&a->par, &b->par) ||
        a->stage_count != b->stage_count)
        return false;
    for (int i = 0; i < a->stage_count; i++)
        if (a->stages[i].first_layer != b->stages[i].first_layer ||
            a->stages[i].last_layer != b->stages[i].last_layer)
            return false;
    return true;
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
    /* The name a database holds is looked up as a preset only: an older
     * database may hold any text, and resolving "a/b" or "x.json" would
     * read that file as a cluster spec. */
    if (!ok && cluster_name && dml_name_valid(cluster_name, NULL, 0) &&
        !dml_costmodel_is_path(cluster_name)) {
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
    dml_calib_run *runs; /* the runs priced (ctx and stages owned here) */
    model_name *model;   /* their models' names */
    int n;
    dml_plan *plan;
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
        free((dml_stage_range *)w->runs[i].stages);
    }
    free(w->runs);
    free(w->model);
    free(w->plan);
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
    dml_calib_run *r = &w->runs[w->n];
    memset(r, 0, sizeof *r);
    r->ctx = malloc(sizeof *r->ctx);
    dml_stage_range *stages = NULL;
    if (w->plan->stage_count > 0)
        stages = malloc(sizeof *stages * (size_t)w->plan->stage_count);
    if (!r->ctx || (w->plan->stage_count > 0 && !stages)) {
        free(r->ctx);
        free(stages);
        return false;
    }
    dml_costmodel_options opt;
    dml_costmodel_options_init(&opt);
    opt.optimizer = w->plan->sched.optimizer;
    r->par = w->plan->par;
    r->stage_count = w->plan->stage_count;
    if (r->stage_count > 0)
        memcpy(stages, w->plan->stages,
               sizeof *stages * (size_t)r->stage_count);
    r->stages = stages;
    r->measured_s = m->measured_step_s;
    dml_prediction p;
    dml_cluster_spec *cut = cut_for_threads(spec,
                                            w->plan->par.threads_per_rank);
    ok = dml_costmodel_prepare(&w->plan->model, cut ? cut : spec, &opt,
                               r->ctx, &e) == DML_OK &&
         dml_calib_run_predict(r, &opt.calib, &p, &e) == DML_OK &&
         p.step_s > 0 &&
         isfinite(p.step_s);
    free(cut);
    if (!ok) {
        dml_log_debug("calibration: run %lld: cannot be priced: %s",
                      (long long)m->run_id, e.msg);
        free(r->ctx);
        free(stages);
        return false;
    }
    snprintf(w->model[w->n], sizeof w->model[w->n], "%s",
             w->plan->model.name);
    r->group = w->n;
    for (int i = 0; i < w->n; i++)
        if (same_plan(&w->runs[i], w->model[i], r, w->model[w->n])) {
            r->group = w->runs[i].group;
            break;
        }
    memset(pt, 0, sizeof *pt);
    pt->run_id = m->run_id;
    pt->plan_id = m->plan_id;
    pt->config = m->config;
    pt->plan_group = r->group;
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

/* The fit of costmodel/calib_fit.h, its figures into out. */
static dml_status fit_runs(work *w, double prior, dml_calibration_result *out,
                           dml_error *err)
{
    dml_calib_run_fit *per = malloc(sizeof *per * (size_t)w->n);
    if (!per)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_calib_fit_result f;
    dml_status s = dml_calib_fit(w->runs, w->n, prior, &f, per, err);
    if (s == DML_OK) {
        out->calib = f.calib;
        memcpy(out->free_factor, f.free_factor, sizeof out->free_factor);
        out->iterations = f.iterations;
        out->n_plans = f.n_plans;
        out->mape_before_pct = f.mape_before_pct;
        out->mape_after_pct = f.mape_after_pct;
        out->loo_mape_before_pct = f.loo_mape_before_pct;
        out->loo_mape_after_pct = f.loo_mape_after_pct;
        out->interval_pct = f.interval_pct;
        for (int i = 0; i < w->n; i++) {
            out->points[i].calibrated_s = per[i].calibrated_s;
            out->points[i].loo_s = per[i].loo_s;
            out->points[i].plan_measured_s = per[i].plan_measured_s;
        }
    }
    free(per);
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
        w.model = calloc(want, sizeof *w.model);
        w.plan = malloc(sizeof *w.plan);
        out->points = calloc(want, sizeof *out->points);
        if (!w.cache || !w.runs || !w.model || !w.plan || !out->points)
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
        s = fit_runs(&w, o.prior_weight, out, err);
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
        json_object_set_new(factors, dml_calib_factor_name((dml_calib_factor)k),
                            json_real(dml_calib_factor_get(
                                &r->calib, (dml_calib_factor)k)));
        if (r->free_factor[k])
            json_array_append_new(
                freed, json_string(dml_calib_factor_name((dml_calib_factor)k)));
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
        double lo, hi;
        dml_calib_factor_bounds((dml_calib_factor)k, &lo, &hi);
        s = dml_json_get_f64(&f, dml_calib_factor_name((dml_calib_factor)k),
                             false, lo, hi, &v, err);
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
