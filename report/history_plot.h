/*
 * history_plot.h: dml-history's charts, drawn from the database with
 * gnuplot (common/plot.h), as SVG or PNG.
 *
 *   predicted  predicted against measured step time, one point per plan
 *              that has a successful run (its fastest measured median),
 *              one colour per cluster, log-log, with the line y = x;
 *   loss       the training loss of every step of the newest runs (or of
 *              one run), one line per run;
 *   bandwidth  bus bandwidth (collectives) and bandwidth (point-to-point)
 *              against message size, one line per operation and link
 *              level, log-log, of the newest probe run that measured
 *              communication (or of one probe run);
 *   latency    time of one call against message size, the same lines.
 */
#ifndef DML_REPORT_HISTORY_PLOT_H
#define DML_REPORT_HISTORY_PLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "db/db.h"

typedef enum dml_history_plot_kind {
    DML_HISTORY_PLOT_PREDICTED,
    DML_HISTORY_PLOT_LOSS,
    DML_HISTORY_PLOT_BANDWIDTH,
    DML_HISTORY_PLOT_LATENCY,
} dml_history_plot_kind;

/* "predicted", "loss", "bandwidth", "latency"; false for anything else. */
bool dml_history_plot_parse(const char *name, dml_history_plot_kind *out);

typedef struct dml_history_plot_request {
    dml_history_plot_kind kind;
    int limit;          /* predicted: newest plans with runs; loss: newest
                           runs; <= 0: all */
    int64_t run_id;     /* loss: this run only; 0: the newest */
    int64_t probe_id;   /* bandwidth, latency: this probe run; 0: newest */
} dml_history_plot_request;

/*
 * Draw the chart rq asks for from db into out_path (SVG, or PNG when it
 * ends in .png). No rows to draw is DML_ENOTFOUND, naming what is missing;
 * gnuplot's failures are DML_ERUNTIME (common/plot.h).
 */
dml_status dml_history_plot(dml_db *db, const dml_history_plot_request *rq,
                            const char *out_path, dml_error *err);

#endif
