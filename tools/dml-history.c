/*
 * dml-history: the tuning history in the dml database, as tables, JSON or
 * CSV, or as a chart drawn by gnuplot.
 *
 * A thin main(): parse options, open the database read-side (a missing
 * file is reported, never created), fetch the rows through db/history.h and
 * format them (CSV and charts: report/). Everything it shows is also in the
 * views of the database (db/schema.md) for people who prefer sqlite3.
 */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "common/quote.h"
#include "common/units.h"
#include "common/version.h"
#include "db/db.h"
#include "db/history.h"
#include "report/history_csv.h"
#include "report/history_plot.h"

static const char usage_text[] =
    "usage: dml-history [--db PATH] [--probes] [--plans] [--runs]\n"
    "                   [--calibrations] [--jobs] [--balance] [--limit N]\n"
    "                   [--json | --csv]\n"
    "       dml-history [--db PATH] --plot KIND --out FILE [--limit N]\n"
    "                   [--run ID] [--probe ID]\n"
    "\n"
    "Show the tuning history kept in the dml database: probe runs (memory\n"
    "bandwidth, GEMM peaks, point-to-point latency and bandwidth), plans\n"
    "(configuration and prediction), runs (predicted vs measured step time)\n"
    "and calibrations. Without a section option every section is shown.\n"
    "Or draw a chart of it with gnuplot (Debian: gnuplot-nox).\n"
    "\n"
    "  --db PATH        database file (default: $DML_DB, else ./dml.db);\n"
    "                   never created by this tool\n"
    "  --probes         probe runs\n"
    "  --plans          plans\n"
    "  --runs           runs\n"
    "  --calibrations   calibrations\n"
    "  --jobs           jobs dml-run supervised, with their goodput: time\n"
    "                   training, lost to failures (steps done again),\n"
    "                   detecting failures and restarting, grows when\n"
    "                   hosts returned, and against the planner's\n"
    "                   Young/Daly model at the failures seen: Daly's\n"
    "                   interval, the time lost and the goodput it\n"
    "                   expects (only when asked for; not with --csv)\n"
    "  --balance        balance=dynamic's events: stragglers flagged (with\n"
    "                   the cause, compute or link) and recovered, and each\n"
    "                   change of the data-parallel shares, old and new\n"
    "                   (only when asked for; not with --csv)\n"
    "  --limit N        newest N rows per section (default 20, 0 = all)\n"
    "  --json           one JSON document on stdout instead of tables\n"
    "  --csv            one section's rows as CSV (RFC 4180) on stdout,\n"
    "                   units in the column names; give one section\n"
    "  --plot KIND      draw a chart into --out: predicted (predicted vs\n"
    "                   measured step time per plan), loss (loss curves of\n"
    "                   the newest --limit runs), bandwidth or latency\n"
    "                   (against message size, per operation and level, of\n"
    "                   the newest probe that measured communication)\n"
    "  --out FILE       the chart: PNG if FILE ends in .png, else SVG\n"
    "  --run ID         --plot loss: this run only\n"
    "  --probe ID       --plot bandwidth|latency: this probe run\n"
    "  --help           this text\n"
    "  --version        print the version\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (gnuplot missing or\n"
    "failing included), 2 bad usage, a file that is not a dml database of\n"
    "a version this dml knows, or nothing to plot.\n";

typedef struct options {
    dml_cli cli;         /* --help, --version */
    const char *db_path; /* --db, NULL if not given */
    bool probes, plans, runs, calibrations;
    bool jobs;           /* --jobs */
    bool balance;        /* --balance */
    long limit;          /* rows per section, 0 = all */
    bool json;
    bool csv;            /* --csv */
    bool plot;           /* --plot given */
    dml_history_plot_kind plot_kind;
    const char *out;     /* --out */
    long run_id;         /* --run, 0 if not given */
    long probe_id;       /* --probe, 0 if not given */
} options;

typedef struct history {
    dml_db_probe_row *probes;
    size_t n_probes;
    dml_db_plan_row *plans;
    size_t n_plans;
    dml_db_run_row *runs;
    size_t n_runs;
    dml_db_calibration *calibrations;
    size_t n_calibrations;
    dml_db_job_row *jobs;
    size_t n_jobs;
    dml_db_balance_row *balance;
    size_t n_balance;
} history;

enum { OPT_DB = DML_CLI_OPT_FIRST, OPT_PROBES, OPT_PLANS, OPT_RUNS,
       OPT_CALIB, OPT_LIMIT, OPT_JSON, OPT_CSV, OPT_PLOT, OPT_OUT, OPT_RUN,
       OPT_PROBE, OPT_JOBS, OPT_BALANCE };

static const struct option longopts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"probes", no_argument, NULL, OPT_PROBES},
    {"plans", no_argument, NULL, OPT_PLANS},
    {"runs", no_argument, NULL, OPT_RUNS},
    {"calibrations", no_argument, NULL, OPT_CALIB},
    {"jobs", no_argument, NULL, OPT_JOBS},
    {"balance", no_argument, NULL, OPT_BALANCE},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"json", no_argument, NULL, OPT_JSON},
    {"csv", no_argument, NULL, OPT_CSV},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"out", required_argument, NULL, OPT_OUT},
    {"run", required_argument, NULL, OPT_RUN},
    {"probe", required_argument, NULL, OPT_PROBE},
    DML_CLI_OPTIONS_END,
};

static dml_status on_option(void *ctx, int id, const char *arg,
                            dml_error *err)
{
    options *o = ctx;
    switch (id) {
    case OPT_DB: return dml_cli_parse_path("--db", arg, &o->db_path, err);
    case OPT_PROBES: o->probes = true; break;
    case OPT_PLANS: o->plans = true; break;
    case OPT_RUNS: o->runs = true; break;
    case OPT_CALIB: o->calibrations = true; break;
    case OPT_JOBS: o->jobs = true; break;
    case OPT_BALANCE: o->balance = true; break;
    case OPT_LIMIT:
        return dml_cli_parse_long(o->cli.style, "--limit", arg, 0,
                                  1000000000L, &o->limit, err);
    case OPT_JSON: o->json = true; break;
    case OPT_CSV: o->csv = true; break;
    case OPT_PLOT:
        if (!dml_history_plot_parse(arg, &o->plot_kind))
            return dml_error_msg(err, DML_EUSAGE, "--plot: '%s' is not "
                                 "predicted, loss, bandwidth or latency",
                                 arg);
        o->plot = true;
        break;
    case OPT_OUT: return dml_cli_parse_path("--out", arg, &o->out, err);
    case OPT_RUN:
        return dml_cli_parse_long(o->cli.style, "--run", arg, 1, LONG_MAX,
                                  &o->run_id, err);
    case OPT_PROBE:
        return dml_cli_parse_long(o->cli.style, "--probe", arg, 1, LONG_MAX,
                                  &o->probe_id, err);
    }
    return DML_OK;
}

/* The combinations that mean nothing, refused rather than ignored. */
static dml_status check_combinations(const options *o, int sections,
                                     dml_error *err)
{
    if (o->json && o->csv)
        return dml_error_msg(err, DML_EUSAGE, "--json and --csv both "
                             "write standard output: choose one");
    if (o->jobs && (o->csv || o->plot))
        return dml_error_msg(err, DML_EUSAGE, "--jobs is a table or JSON: "
                             "not with --csv or --plot");
    if (o->balance && (o->csv || o->plot))
        return dml_error_msg(err, DML_EUSAGE, "--balance is a table or "
                             "JSON: not with --csv or --plot");
    if (o->csv && sections != 1)
        return dml_error_msg(err, DML_EUSAGE, "--csv writes one table: "
                             "add one of --probes, --plans, --runs, "
                             "--calibrations");
    if (o->plot && (o->json || o->csv || sections))
        return dml_error_msg(err, DML_EUSAGE, "--plot draws one chart into "
                             "--out; it takes no section, --json or --csv");
    if (o->plot && !o->out)
        return dml_error_msg(err, DML_EUSAGE, "--plot needs --out FILE "
                             "(.svg or .png)");
    if (o->out && !o->plot)
        return dml_error_msg(err, DML_EUSAGE, "--out is where --plot "
                             "draws: add --plot KIND");
    if (o->run_id && !(o->plot && o->plot_kind == DML_HISTORY_PLOT_LOSS))
        return dml_error_msg(err, DML_EUSAGE, "--run goes with --plot loss");
    if (o->probe_id &&
        !(o->plot && (o->plot_kind == DML_HISTORY_PLOT_BANDWIDTH ||
                      o->plot_kind == DML_HISTORY_PLOT_LATENCY)))
        return dml_error_msg(err, DML_EUSAGE, "--probe goes with --plot "
                             "bandwidth or --plot latency");
    return DML_OK;
}

static dml_status parse_options(int argc, char **argv, options *o,
                                dml_error *err)
{
    memset(o, 0, sizeof *o);
    o->cli.style = DML_CLI_QUOTED;
    o->limit = 20;
    DML_CHECK(dml_cli_parse(&o->cli, argc, argv, longopts, on_option, o,
                            err));
    if (o->cli.help || o->cli.version)
        return DML_OK;
    DML_CHECK(check_combinations(o, o->probes + o->plans + o->runs +
                                        o->calibrations,
                                 err));
    if (!o->probes && !o->plans && !o->runs && !o->calibrations && !o->jobs &&
        !o->balance)
        o->probes = o->plans = o->runs = o->calibrations = true;
    return DML_OK;
}

static dml_status load_history(dml_db *db, const options *o, history *h,
                               dml_error *err)
{
    int limit = (int)o->limit;
    if (o->probes)
        DML_CHECK(dml_db_list_probe_runs(db, limit, &h->probes, &h->n_probes,
                                         err));
    if (o->plans)
        DML_CHECK(dml_db_list_plans(db, limit, &h->plans, &h->n_plans, err));
    if (o->runs)
        DML_CHECK(dml_db_list_runs(db, limit, &h->runs, &h->n_runs, err));
    if (o->calibrations)
        DML_CHECK(dml_db_list_calibrations(db, limit, &h->calibrations,
                                           &h->n_calibrations, err));
    if (o->jobs)
        DML_CHECK(dml_db_list_jobs(db, limit, &h->jobs, &h->n_jobs, err));
    if (o->balance)
        DML_CHECK(dml_db_list_balance_events(db, limit, &h->balance,
                                             &h->n_balance, err));
    return DML_OK;
}

static void free_history(history *h)
{
    free(h->probes);
    free(h->plans);
    free(h->runs);
    dml_db_calibrations_free(h->calibrations, h->n_calibrations);
    free(h->jobs);
    free(h->balance);
}

/* ---- human tables ---- */

/* A cell holds a configuration in --config syntax (DML_DB_CONFIG_MAX)
 * whole. */
#define CELL DML_DB_CONFIG_MAX
#define MAX_COLS 16

/* A table is filled cell by cell, then printed with each column as wide as
 * its widest cell; 'r' columns (numbers) align right. */
typedef struct table {
    int ncols;
    const char *align;          /* one 'l' or 'r' per column */
    char (*cells)[CELL];        /* (rows + 1) * ncols, header first */
    size_t rows;                /* data rows */
    size_t cap;                 /* rows the buffer holds, header included */
    bool oom;
} table;

static void table_init(table *t, const char *align,
                       const char *const headers[])
{
    memset(t, 0, sizeof *t);
    t->ncols = (int)strlen(align);
    t->align = align;
    t->cap = 8;
    t->cells = calloc(t->cap * (size_t)t->ncols, CELL);
    if (!t->cells) {
        t->oom = true;
        return;
    }
    for (int c = 0; c < t->ncols; c++)
        snprintf(t->cells[c], CELL, "%s", headers[c]);
}

/* The cell row r (0-based data row), column c; NULL when out of memory. */
static char *table_cell(table *t, size_t r, int c)
{
    if (t->oom)
        return NULL;
    while (r + 2 > t->cap) {
        void *n = realloc(t->cells, t->cap * 2 * (size_t)t->ncols * CELL);
        if (!n) {
            t->oom = true;
            return NULL;
        }
        t->cells = n;
        t->cap *= 2;
    }
    if (r + 1 > t->rows)
        t->rows = r + 1;
    return t->cells[(r + 1) * (size_t)t->ncols + (size_t)c];
}

static void table_print(const table *t, const char *title, FILE *out)
{
    fprintf(out, "%s\n", title);
    if (t->rows == 0) {
        fprintf(out, "  (none)\n\n");
        return;
    }
    int width[MAX_COLS] = {0};
    for (size_t r = 0; r <= t->rows; r++)
        for (int c = 0; c < t->ncols; c++) {
            int w = (int)strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r <= t->rows; r++) {
        fputs(" ", out);
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            bool last = c == t->ncols - 1;
            if (t->align[c] == 'r')
                fprintf(out, " %*s", width[c], s);
            else if (last)
                fprintf(out, " %s", s);
            else
                fprintf(out, " %-*s", width[c], s);
        }
        fputs("\n", out);
    }
    fputs("\n", out);
}

typedef char *(*unit_fn)(double, char *, size_t);

/* A quantity with its unit, or "-" when it was not measured. */
static void put_unit(char *cell, double v, unit_fn fn)
{
    if (!cell)
        return;
    if (!isfinite(v))
        snprintf(cell, CELL, "-");
    else
        fn(v, cell, CELL);
}

static void put_fmt(char *cell, const char *fmt, double v)
{
    if (!cell)
        return;
    if (!isfinite(v))
        snprintf(cell, CELL, "-");
    else
        snprintf(cell, CELL, fmt, v);
}

/* Text from the database: names, host names, fingerprints, statuses.
 * Databases written by older versions may hold control characters in
 * them, which must not reach the terminal. */
static void put_str(char *cell, const char *s)
{
    if (cell)
        dml_quote_terminal(s && s[0] ? s : "-", cell, CELL);
}

static void put_i64(char *cell, long long v)
{
    if (cell)
        snprintf(cell, CELL, "%lld", v);
}

static char *flops_unit(double v, char *buf, size_t size)
{
    return dml_units_flops(v, buf, size);
}

static bool print_probes(const history *h, FILE *out)
{
    static const char *const head[] = {
        "id", "started (UTC)", "host", "ranks", "quick", "triad",
        "dgemm", "sgemm", "p2p latency", "p2p bandwidth", "rows"};
    table t;
    table_init(&t, "rllrlrrrrrr", head);
    for (size_t i = 0; i < h->n_probes; i++) {
        const dml_db_probe_row *p = &h->probes[i];
        put_i64(table_cell(&t, i, 0), p->id);
        put_str(table_cell(&t, i, 1), p->started_at);
        put_str(table_cell(&t, i, 2), p->hostname);
        put_i64(table_cell(&t, i, 3), p->ranks);
        put_str(table_cell(&t, i, 4), p->quick ? "yes" : "no");
        put_unit(table_cell(&t, i, 5), p->triad_Bps, dml_units_bandwidth);
        put_unit(table_cell(&t, i, 6), p->dgemm_flops_per_s, flops_unit);
        put_unit(table_cell(&t, i, 7), p->sgemm_flops_per_s, flops_unit);
        put_unit(table_cell(&t, i, 8), p->p2p_latency_s, dml_units_seconds);
        put_unit(table_cell(&t, i, 9), p->p2p_bw_Bps, dml_units_bandwidth);
        put_i64(table_cell(&t, i, 10), p->n_measurements);
    }
    bool ok = !t.oom;
    if (ok)
        table_print(&t, "Probe runs", out);
    free(t.cells);
    return ok;
}

static bool print_plans(const history *h, FILE *out)
{
    static const char *const head[] = {
        "id", "created (UTC)", "model", "cluster", "config", "framework",
        "attention", "sync", "global batch", "predicted step",
        "memory/device", "MFU", "calibration", "runs", "best measured"};
    table t;
    table_init(&t, "rllllllrrrrrrrr", head);
    for (size_t i = 0; i < h->n_plans; i++) {
        const dml_db_plan_row *p = &h->plans[i];
        put_i64(table_cell(&t, i, 0), p->id);
        put_str(table_cell(&t, i, 1), p->created_at);
        put_str(table_cell(&t, i, 2), p->model);
        put_str(table_cell(&t, i, 3), p->cluster);
        put_str(table_cell(&t, i, 4), p->config_text);
        put_str(table_cell(&t, i, 5), p->config.framework);
        put_str(table_cell(&t, i, 6), p->config.attention);
        put_str(table_cell(&t, i, 7), p->config.sync);
        put_i64(table_cell(&t, i, 8), p->config.global_batch);
        put_unit(table_cell(&t, i, 9), p->predicted_step_s,
                 dml_units_seconds);
        put_unit(table_cell(&t, i, 10), p->predicted_mem_bytes,
                 dml_units_bytes);
        put_fmt(table_cell(&t, i, 11), "%.1f %%", p->mfu * 100.0);
        if (p->calibration_id > 0)
            put_i64(table_cell(&t, i, 12), p->calibration_id);
        else
            put_str(table_cell(&t, i, 12), "-");
        put_i64(table_cell(&t, i, 13), p->n_runs);
        put_unit(table_cell(&t, i, 14), p->best_measured_step_s,
                 dml_units_seconds);
    }
    bool ok = !t.oom;
    if (ok)
        table_print(&t, "Plans", out);
    free(t.cells);
    return ok;
}

static bool print_runs(const history *h, FILE *out)
{
    static const char *const head[] = {
        "id", "plan", "started (UTC)", "model", "config", "framework",
        "attention", "sync", "status", "ranks", "steps", "predicted step",
        "measured step", "error", "accuracy", "duration"};
    table t;
    table_init(&t, "rrllllllrrrrrrrr", head);
    for (size_t i = 0; i < h->n_runs; i++) {
        const dml_db_run_row *r = &h->runs[i];
        put_i64(table_cell(&t, i, 0), r->id);
        put_i64(table_cell(&t, i, 1), r->plan_id);
        put_str(table_cell(&t, i, 2), r->started_at);
        put_str(table_cell(&t, i, 3), r->model);
        put_str(table_cell(&t, i, 4), r->config_text);
        put_str(table_cell(&t, i, 5), r->config.framework);
        put_str(table_cell(&t, i, 6), r->config.attention);
        put_str(table_cell(&t, i, 7), r->config.sync);
        put_str(table_cell(&t, i, 8), r->status);
        put_i64(table_cell(&t, i, 9), r->ranks);
        put_i64(table_cell(&t, i, 10), r->steps);
        put_unit(table_cell(&t, i, 11), r->predicted_step_s,
                 dml_units_seconds);
        put_unit(table_cell(&t, i, 12), r->measured_step_s,
                 dml_units_seconds);
        put_fmt(table_cell(&t, i, 13), "%+.1f %%", r->error_pct);
        put_fmt(table_cell(&t, i, 14), "%.2f %%", r->test_accuracy * 100.0);
        put_unit(table_cell(&t, i, 15), r->duration_s, dml_units_seconds);
    }
    bool ok = !t.oom;
    if (ok)
        table_print(&t, "Runs", out);
    free(t.cells);
    return ok;
}

static bool print_calibrations(const history *h, FILE *out)
{
    static const char *const head[] = {
        "id", "created (UTC)", "fingerprint", "runs", "MAPE before",
        "MAPE after", "LOO before", "LOO after", "interval"};
    table t;
    table_init(&t, "rllrrrrrr", head);
    for (size_t i = 0; i < h->n_calibrations; i++) {
        const dml_db_calibration *c = &h->calibrations[i];
        put_i64(table_cell(&t, i, 0), c->id);
        put_str(table_cell(&t, i, 1), c->created_at);
        put_str(table_cell(&t, i, 2), c->cluster_fingerprint);
        put_i64(table_cell(&t, i, 3), c->n_runs);
        put_fmt(table_cell(&t, i, 4), "%.1f %%", c->mape_before);
        put_fmt(table_cell(&t, i, 5), "%.1f %%", c->mape_after);
        put_fmt(table_cell(&t, i, 6), "%.1f %%", c->loo_mape_before);
        put_fmt(table_cell(&t, i, 7), "%.1f %%", c->loo_mape_after);
        put_fmt(table_cell(&t, i, 8), "+/-%.1f %%", c->interval_pct);
    }
    bool ok = !t.oom;
    if (ok)
        table_print(&t, "Calibrations", out);
    free(t.cells);
    return ok;
}

static bool print_jobs(const history *h, FILE *out)
{
    static const char *const head[] = {
        "id", "started (UTC)", "status", "ranks", "restarts", "now",
        "wall", "training", "lost", "detecting", "restarting", "goodput",
        "grows", "interval", "Daly", "lost exp.", "goodput exp.", "reason"};
    table t;
    table_init(&t, "rllrrrrrrrrrrrrrrl", head);
    for (size_t i = 0; i < h->n_jobs; i++) {
        const dml_db_job_row *j = &h->jobs[i];
        put_i64(table_cell(&t, i, 0), j->id);
        put_str(table_cell(&t, i, 1), j->started_at);
        put_str(table_cell(&t, i, 2), j->status);
        put_i64(table_cell(&t, i, 3), j->ranks);
        put_i64(table_cell(&t, i, 4), j->restarts);
        put_i64(table_cell(&t, i, 5), j->last_ranks ? j->last_ranks
                                                     : j->ranks);
        put_unit(table_cell(&t, i, 6), j->wall_s, dml_units_seconds);
        put_unit(table_cell(&t, i, 7), j->compute_s, dml_units_seconds);
        put_unit(table_cell(&t, i, 8), j->lost_s, dml_units_seconds);
        put_unit(table_cell(&t, i, 9), j->detect_s, dml_units_seconds);
        put_unit(table_cell(&t, i, 10), j->restart_s, dml_units_seconds);
        put_fmt(table_cell(&t, i, 11), "%.1f %%", j->goodput * 100.0);
        const dml_db_job_model *m = &j->model;
        put_i64(table_cell(&t, i, 12), m->grows);
        put_unit(table_cell(&t, i, 13), m->ckpt_interval_s,
                 dml_units_seconds);
        put_unit(table_cell(&t, i, 14), m->daly_s, dml_units_seconds);
        put_unit(table_cell(&t, i, 15), m->expected_lost_s,
                 dml_units_seconds);
        put_fmt(table_cell(&t, i, 16), "%.1f %%",
                m->expected_goodput * 100.0);
        put_str(table_cell(&t, i, 17), j->reason);
    }
    bool ok = !t.oom;
    if (ok)
        table_print(&t, "Jobs (dml-run)", out);
    free(t.cells);
    return ok;
}

static bool print_balance(const history *h, FILE *out)
{
    static const char *const head[] = {"id", "run", "at (UTC)", "step",
                                       "event", "replica", "cause", "ratio",
                                       "shares before", "shares after"};
    table t;
    table_init(&t, "rrlrlrlrll", head);
    for (size_t i = 0; i < h->n_balance; i++) {
        const dml_db_balance_row *b = &h->balance[i];
        put_i64(table_cell(&t, i, 0), b->id);
        put_i64(table_cell(&t, i, 1), b->run_id);
        put_str(table_cell(&t, i, 2), b->at);
        put_i64(table_cell(&t, i, 3), b->step);
        put_str(table_cell(&t, i, 4), b->kind);
        if (b->replica >= 0)
            put_i64(table_cell(&t, i, 5), b->replica);
        put_str(table_cell(&t, i, 6), b->cause);
        put_fmt(table_cell(&t, i, 7), "%.2f x", b->ratio);
        put_str(table_cell(&t, i, 8), b->old_shares);
        put_str(table_cell(&t, i, 9), b->new_shares);
    }
    bool ok = !t.oom;
    if (ok)
        table_print(&t, "Balance events (balance=dynamic)", out);
    free(t.cells);
    return ok;
}

static dml_status print_tables(const options *o, const history *h,
                               dml_error *err)
{
    bool ok = true;
    if (o->probes)
        ok = ok && print_probes(h, stdout);
    if (o->plans)
        ok = ok && print_plans(h, stdout);
    if (o->runs)
        ok = ok && print_runs(h, stdout);
    if (o->calibrations)
        ok = ok && print_calibrations(h, stdout);
    if (o->jobs)
        ok = ok && print_jobs(h, stdout);
    if (o->balance)
        ok = ok && print_balance(h, stdout);
    if (!ok)
        return dml_error_msg(err, DML_ENOMEM, "out of memory formatting");
    return DML_OK;
}

/* ---- CSV (report/history_csv.h): the one section asked for ---- */

static void print_csv(const options *o, const history *h)
{
    if (o->probes)
        dml_history_csv_probes(stdout, h->probes, h->n_probes);
    else if (o->plans)
        dml_history_csv_plans(stdout, h->plans, h->n_plans);
    else if (o->runs)
        dml_history_csv_runs(stdout, h->runs, h->n_runs);
    else
        dml_history_csv_calibrations(stdout, h->calibrations,
                                     h->n_calibrations);
}

/* ---- JSON ---- */

/* jansson has no NaN; an unmeasured value is null. */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jstr(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

static json_t *jconfig(const dml_db_plan_config *c)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:i, s:s, s:b, "
                     "s:s, s:i, s:s, s:s, s:s}",
                     "dp", c->dp, "tp", c->tp, "pp", c->pp, "v", c->v,
                     "mbs", c->mbs, "microbatches", c->microbatches,
                     "global_batch", (json_int_t)c->global_batch, "zero",
                     c->zero, "recompute", c->recompute, "sp", (int)c->sp,
                     "schedule", c->schedule, "threads_per_rank",
                     c->threads_per_rank, "framework", c->framework,
                     "attention", c->attention, "sync", c->sync);
}

static json_t *json_probes(const history *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n_probes; i++) {
        const dml_db_probe_row *p = &h->probes[i];
        /* dgemm_flops and sgemm_flops: the names of version 1 of this
         * document, kept beside the ones that say the unit */
        json_t *o = json_pack(
            "{s:I, s:o, s:o, s:o, s:i, s:i, s:b, s:o, s:o, s:o, "
            "s:o, s:o, s:o, s:o, s:I}",
            "id", (json_int_t)p->id, "started_at", jstr(p->started_at),
            "finished_at", jstr(p->finished_at), "hostname", jstr(p->hostname),
            "ranks", p->ranks, "nodes", p->nodes, "quick", (int)p->quick,
            "status", jstr(p->status), "dml_version", jstr(p->dml_version),
            "triad_Bps", jnum(p->triad_Bps), "dgemm_flops",
            jnum(p->dgemm_flops_per_s), "sgemm_flops",
            jnum(p->sgemm_flops_per_s), "p2p_latency_s",
            jnum(p->p2p_latency_s), "p2p_bw_Bps", jnum(p->p2p_bw_Bps),
            "measurements", (json_int_t)p->n_measurements);
        if (o) {
            json_object_set_new(o, "dgemm_flops_per_s",
                                jnum(p->dgemm_flops_per_s));
            json_object_set_new(o, "sgemm_flops_per_s",
                                jnum(p->sgemm_flops_per_s));
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *json_plans(const history *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n_plans; i++) {
        const dml_db_plan_row *p = &h->plans[i];
        json_t *o = json_pack(
            "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
            "s:I, s:o}",
            "id", (json_int_t)p->id, "created_at", jstr(p->created_at),
            "model", jstr(p->model), "cluster", jstr(p->cluster), "parallel",
            jconfig(&p->config), "predicted_step_s", jnum(p->predicted_step_s),
            "predicted_mem_bytes", jnum(p->predicted_mem_bytes),
            "predicted_tokens_per_s", jnum(p->predicted_tokens_per_s), "mfu",
            jnum(p->mfu), "calibration_id",
            p->calibration_id > 0 ? json_integer(p->calibration_id)
                                  : json_null(),
            "runs", (json_int_t)p->n_runs, "best_measured_step_s",
            jnum(p->best_measured_step_s));
        if (o)
            json_object_set_new(o, "config", jstr(p->config_text));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *json_runs(const history *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n_runs; i++) {
        const dml_db_run_row *r = &h->runs[i];
        json_t *o = json_pack(
            "{s:I, s:I, s:o, s:o, s:o, s:o, s:i, s:I, s:o, s:o, "
            "s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
            "id", (json_int_t)r->id, "plan_id", (json_int_t)r->plan_id,
            "model", jstr(r->model), "cluster", jstr(r->cluster), "parallel",
            jconfig(&r->config), "status", jstr(r->status), "ranks", r->ranks,
            "steps", (json_int_t)r->steps, "started_at", jstr(r->started_at),
            "finished_at", jstr(r->finished_at), "duration_s",
            jnum(r->duration_s), "predicted_step_s", jnum(r->predicted_step_s),
            "measured_step_s", jnum(r->measured_step_s), "error_pct",
            jnum(r->error_pct), "final_loss", jnum(r->final_loss),
            "test_accuracy", jnum(r->test_accuracy), "peak_rss_bytes",
            jnum(r->peak_rss_bytes), "error", jstr(r->error));
        if (o) {
            json_object_set_new(o, "config", jstr(r->config_text));
            json_object_set_new(o, "measured_samples_per_s",
                                jnum(r->measured_samples_per_s));
            json_object_set_new(o, "measured_tokens_per_s",
                                jnum(r->measured_tokens_per_s));
            json_object_set_new(o, "dp_bytes_intra_per_step",
                                jnum(r->dp_bytes_intra_per_step));
            json_object_set_new(o, "dp_bytes_inter_per_step",
                                jnum(r->dp_bytes_inter_per_step));
        }
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *json_calibrations(const history *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n_calibrations; i++) {
        const dml_db_calibration *c = &h->calibrations[i];
        /* The parameters are JSON the calibration wrote; embed them as a
         * value, or as the raw text if they no longer parse. */
        json_t *params = json_loads(c->params_json ? c->params_json : "",
                                    JSON_DECODE_ANY, NULL);
        if (!params)
            params = jstr(c->params_json);
        json_array_append_new(
            a, json_pack("{s:I, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, "
                         "s:o}",
                         "id", (json_int_t)c->id, "created_at",
                         jstr(c->created_at), "cluster_fingerprint",
                         jstr(c->cluster_fingerprint), "runs", c->n_runs,
                         "params", params, "mape_before_pct",
                         jnum(c->mape_before), "mape_after_pct",
                         jnum(c->mape_after), "loo_mape_before_pct",
                         jnum(c->loo_mape_before), "loo_mape_after_pct",
                         jnum(c->loo_mape_after), "interval_pct",
                         jnum(c->interval_pct)));
    }
    return a;
}

/* A job's Young/Daly model (job_store.h). */
static json_t *json_job_model(const dml_db_job_model *m)
{
    return json_pack("{s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
                     "s:o, s:o, s:o, s:o}",
                     "failures", m->failures, "grows", m->grows, "replan_s",
                     jnum(m->replan_s), "step_s", jnum(m->step_s),
                     "ckpt_interval_s", jnum(m->ckpt_interval_s),
                     "ckpt_write_s", jnum(m->ckpt_write_s), "mtbf_plan_s",
                     jnum(m->mtbf_plan_s), "mtbf_seen_s",
                     jnum(m->mtbf_seen_s), "young_s", jnum(m->young_s),
                     "daly_s", jnum(m->daly_s), "expected_lost_s",
                     jnum(m->expected_lost_s), "expected_restart_s",
                     jnum(m->expected_restart_s), "expected_wall_s",
                     jnum(m->expected_wall_s), "expected_goodput",
                     jnum(m->expected_goodput));
}

static json_t *json_jobs(const history *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n_jobs; i++) {
        const dml_db_job_row *j = &h->jobs[i];
        json_array_append_new(
            a, json_pack("{s:I, s:o, s:o, s:o, s:i, s:i, s:i, s:o, s:o, "
                         "s:o, s:o, s:o, s:o, s:o, s:o}",
                         "id", (json_int_t)j->id, "started_at",
                         jstr(j->started_at), "finished_at",
                         jstr(j->finished_at), "status", jstr(j->status),
                         "ranks", j->ranks, "last_ranks", j->last_ranks,
                         "restarts", j->restarts, "wall_s", jnum(j->wall_s),
                         "compute_s", jnum(j->compute_s), "lost_s",
                         jnum(j->lost_s), "detect_s", jnum(j->detect_s),
                         "restart_s", jnum(j->restart_s), "goodput",
                         jnum(j->goodput), "reason", jstr(j->reason),
                         "young_daly", json_job_model(&j->model)));
    }
    return a;
}

static json_t *json_balance(const history *h)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < h->n_balance; i++) {
        const dml_db_balance_row *b = &h->balance[i];
        json_array_append_new(
            a, json_pack("{s:I, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, "
                         "s:o}",
                         "id", (json_int_t)b->id, "run_id",
                         (json_int_t)b->run_id, "at", jstr(b->at), "step",
                         (json_int_t)b->step, "kind", jstr(b->kind),
                         "replica",
                         b->replica >= 0 ? json_integer(b->replica)
                                         : json_null(),
                         "cause", jstr(b->cause), "ratio", jnum(b->ratio),
                         "old_shares", jstr(b->old_shares), "new_shares",
                         jstr(b->new_shares)));
    }
    return a;
}

static dml_status print_json(const options *o, const history *h, int schema,
                             dml_error *err)
{
    json_t *root = json_pack("{s:i, s:i}", "schema_version",
                             DML_JSON_SCHEMA_VERSION, "db_schema_version",
                             schema);
    if (root && o->probes)
        json_object_set_new(root, "probe_runs", json_probes(h));
    if (root && o->plans)
        json_object_set_new(root, "plans", json_plans(h));
    if (root && o->runs)
        json_object_set_new(root, "runs", json_runs(h));
    if (root && o->calibrations)
        json_object_set_new(root, "calibrations", json_calibrations(h));
    if (root && o->jobs)
        json_object_set_new(root, "jobs", json_jobs(h));
    if (root && o->balance)
        json_object_set_new(root, "balance_events", json_balance(h));
    if (!root)
        return dml_error_msg(err, DML_ENOMEM, "out of memory building JSON");
    /* ASCII only: text an older database holds may carry C1 controls,
     * which JSON would otherwise pass to the terminal as they are. */
    int rc = json_dumpf(root, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(9) |
                                          JSON_ENSURE_ASCII);
    json_decref(root);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return dml_error_msg(err, DML_EIO, "cannot write to stdout");
    return DML_OK;
}

int main(int argc, char **argv)
{
    dml_log_init("dml-history");
    dml_error err;
    dml_error_clear(&err);
    options o;
    dml_status s = parse_options(argc, argv, &o, &err);
    if (s != DML_OK)
        return dml_cli_fail(stderr, "dml-history", s, &err);
    if (dml_cli_print_help_version(&o.cli, "dml-history", usage_text, stdout))
        return 0;

    dml_db *db = NULL;
    history h;
    memset(&h, 0, sizeof h);
    /* An --out that cannot be written fails before any query. */
    if (o.plot)
        s = dml_file_check_writable(o.out, &err);
    if (s == DML_OK)
        s = dml_db_open_existing(dml_db_default_path(o.db_path), &db, &err);
    if (s == DML_OK && o.plot) {
        dml_history_plot_request rq = {.kind = o.plot_kind,
                                       .limit = (int)o.limit,
                                       .run_id = o.run_id,
                                       .probe_id = o.probe_id};
        s = dml_history_plot(db, &rq, o.out, &err);
    } else if (s == DML_OK) {
        s = load_history(db, &o, &h, &err);
        if (s == DML_OK && o.csv)
            print_csv(&o, &h);
        else if (s == DML_OK)
            s = o.json ? print_json(&o, &h, dml_db_schema_version(db), &err)
                       : print_tables(&o, &h, &err);
    }
    dml_db_close(db);
    free_history(&h);
    if (s == DML_OK && (fflush(stdout) != 0 || ferror(stdout)))
        s = dml_error_msg(&err, DML_EIO, "cannot write to stdout");
    if (s != DML_OK)
        return dml_cli_fail(stderr, "dml-history", s, &err);
    return 0;
}
