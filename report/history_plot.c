/*
 * history_plot.c: dml-history's charts (see history_plot.h). Each chart is
 * a function that turns rows of db/ into a dml_plot; common/plot.c draws.
 */
#include "report/history_plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/plot.h"
#include "common/quote.h"
#include "db/history.h"
#include "db/history_series.h"

static const char *const kind_names[] = {"predicted", "loss", "bandwidth",
                                         "latency"};

bool dml_history_plot_parse(const char *name, dml_history_plot_kind *out)
{
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (dml_history_plot_kind)i;
            return true;
        }
    return false;
}

/* The series titled title, added when p has none yet. */
static dml_status series_for(dml_plot *p, const char *title,
                             dml_plot_style style, dml_plot_series **out,
                             dml_error *err)
{
    for (size_t i = 0; i < p->n_series; i++)
        if (strcmp(p->series[i].title, title) == 0) {
            *out = &p->series[i];
            return DML_OK;
        }
    return dml_plot_add_series(p, title, style, out, err);
}

static dml_status chart_predicted(dml_db *db, int limit, dml_plot *p,
                                  dml_error *err)
{
    snprintf(p->title, sizeof p->title,
             "Predicted against measured step time, per plan");
    snprintf(p->xlabel, sizeof p->xlabel, "predicted step time (s)");
    snprintf(p->ylabel, sizeof p->ylabel,
             "measured step time, fastest run's median (s)");
    p->logx = p->logy = true;
    p->diagonal = true;
    p->square = true;
    dml_db_plan_row *rows = NULL;
    size_t n = 0;
    DML_CHECK(dml_db_list_plans(db, 0, &rows, &n, err));
    dml_status s = DML_OK;
    int used = 0;
    for (size_t i = 0; s == DML_OK && i < n; i++) {
        const dml_db_plan_row *r = &rows[i];
        if (!isfinite(r->predicted_step_s) ||
            !isfinite(r->best_measured_step_s))
            continue;
        if (limit > 0 && used >= limit)
            break;
        used++;
        char title[160], name[128];
        dml_quote_terminal(r->cluster, name, sizeof name);
        snprintf(title, sizeof title, "cluster %s", name);
        dml_plot_series *se = NULL;
        s = series_for(p, title, DML_PLOT_POINTS, &se, err);
        if (s == DML_OK)
            s = dml_plot_push(se, r->predicted_step_s,
                              r->best_measured_step_s, err);
    }
    free(rows);
    return s;
}

static dml_status loss_of_run(dml_db *db, const dml_db_run_row *r,
                              dml_plot *p, dml_error *err)
{
    dml_db_step_point *pts = NULL;
    size_t n = 0;
    DML_CHECK(dml_db_list_run_losses(db, r->id, &pts, &n, err));
    char title[128], model[64];
    dml_quote_terminal(r->model, model, sizeof model);
    snprintf(title, sizeof title, "run %lld: %s dp%d tp%d pp%d (%s)",
             (long long)r->id, model, r->config.dp, r->config.tp,
             r->config.pp, r->status[0] ? r->status : "?");
    dml_plot_series *se = NULL;
    dml_status s = n ? dml_plot_add_series(p, title, DML_PLOT_LINES, &se, err)
                     : DML_OK;
    for (size_t i = 0; s == DML_OK && i < n; i++)
        s = dml_plot_push(se, (double)pts[i].step, pts[i].loss, err);
    free(pts);
    return s;
}

static dml_status chart_loss(dml_db *db, int limit, int64_t run_id,
                             dml_plot *p, dml_error *err)
{
    snprintf(p->title, sizeof p->title, "Training loss");
    snprintf(p->xlabel, sizeof p->xlabel, "step");
    snprintf(p->ylabel, sizeof p->ylabel, "loss (nats)");
    dml_db_run_row *rows = NULL;
    size_t n = 0;
    DML_CHECK(dml_db_list_runs(db, run_id > 0 ? 0 : limit, &rows, &n, err));
    dml_status s = DML_OK;
    bool found = false;
    for (size_t i = 0; s == DML_OK && i < n; i++) {
        if (run_id > 0 && rows[i].id != run_id)
            continue;
        found = true;
        s = loss_of_run(db, &rows[i], p, err);
    }
    free(rows);
    if (s == DML_OK && run_id > 0 && !found)
        return dml_error_msg(err, DML_ENOTFOUND, "--run: no run %lld in the "
                             "database", (long long)run_id);
    return s;
}

static dml_status chart_comm(dml_db *db, bool bandwidth, int64_t probe_id,
                             dml_plot *p, dml_error *err)
{
    dml_db_comm_point *rows = NULL;
    size_t n = 0;
    int64_t used = 0;
    DML_CHECK(dml_db_list_comm_points(db, probe_id, &used, &rows, &n, err));
    if (probe_id > 0 && n == 0) {
        free(rows);
        return dml_error_msg(err, DML_ENOTFOUND,
                             "--probe: probe run %lld measured no "
                             "communication (or there is none)",
                             (long long)probe_id);
    }
    snprintf(p->title, sizeof p->title, "%s of probe run %lld",
             bandwidth ? "Bandwidth against message size"
                       : "Time per call against message size",
             (long long)used);
    snprintf(p->xlabel, sizeof p->xlabel, "message size (bytes)");
    snprintf(p->ylabel, sizeof p->ylabel, "%s",
             bandwidth ? "busbw; point-to-point: bandwidth (GB/s)"
                       : "time of one call; point-to-point: one way (us)");
    p->logx = p->logy = true;
    dml_status s = DML_OK;
    for (size_t i = 0; s == DML_OK && i < n; i++) {
        const dml_db_comm_point *r = &rows[i];
        bool is_bw = strcmp(r->op, "bandwidth") == 0;
        if (bandwidth ? !isfinite(r->bw_Bps) : is_bw)
            continue;
        /* p2p has a latency and a bandwidth row per size: one line. */
        const char *op = strcmp(r->kind, "p2p") == 0 ? "p2p" : r->op;
        char title[128];
        snprintf(title, sizeof title, "%s%s %s (%d ranks)",
                 strcmp(r->kind, "nccl") == 0 ? "nccl " : "", op, r->level,
                 r->ranks);
        dml_plot_series *se = NULL;
        s = series_for(p, title, DML_PLOT_LINESPOINTS, &se, err);
        if (s == DML_OK)
            s = dml_plot_push(se, r->bytes,
                              bandwidth ? r->bw_Bps / 1e9 : r->time_s * 1e6,
                              err);
    }
    free(rows);
    return s;
}

dml_status dml_history_plot(dml_db *db, const dml_history_plot_request *rq,
                            const char *out_path, dml_error *err)
{
    dml_plot p;
    dml_plot_init(&p);
    dml_status s = DML_OK;
    const char *what = NULL;
    switch (rq->kind) {
    case DML_HISTORY_PLOT_PREDICTED:
        s = chart_predicted(db, rq->limit, &p, err);
        what = "no plan with a successful run (dml-exec records runs)";
        break;
    case DML_HISTORY_PLOT_LOSS:
        s = chart_loss(db, rq->limit, rq->run_id, &p, err);
        what = "no run with recorded steps (dml-exec records them)";
        break;
    case DML_HISTORY_PLOT_BANDWIDTH:
    case DML_HISTORY_PLOT_LATENCY:
        s = chart_comm(db, rq->kind == DML_HISTORY_PLOT_BANDWIDTH,
                       rq->probe_id, &p, err);
        what = "no probe run measured communication (run dml-probe under "
               "mpirun -np 2 or more)";
        break;
    }
    if (s == DML_OK)
        s = dml_plot_write(&p, out_path, what, err);
    dml_plot_free(&p);
    return s;
}
