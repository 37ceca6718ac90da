/*
 * report.h: what dml-plan shows: the ranked table with the schedule, time
 * to train and the reason the winner won (a screenful), the winner's
 * breakdown (--explain), the --why-not answer, and the same as one JSON
 * document (--json).
 *
 * Output goes to the FILE given (stdout in the tool); nothing here writes
 * diagnostics.
 */
#ifndef DML_PLANNER_REPORT_H
#define DML_PLANNER_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "planner/planner.h"

/* What else the report mentions. */
typedef struct dml_report_extras {
    bool explain;                /* --explain: break the winner down */
    const dml_why_not *why_not;  /* --why-not answer, or NULL */
    const char *why_not_config;  /* the text asked about */
    const char *db_path;         /* where the plans were recorded, or NULL */
    const char *plan_file;       /* --out, or NULL */
    double interval_pct;         /* the calibration's +-x % around each
                                    prediction; 0 = not calibrated */
} dml_report_extras;

/* The human report. */
void dml_planner_print(FILE *out, const dml_planner *p,
                       const dml_report_extras *x);

/* The --json document:
 * {"schema_version", "model", "cluster", "search": {"candidates",
 *  "feasible", "pruned", "elapsed_s", "rejected"}, "framework",
 *  "attention": {"kernels", "source"} (transformers), "plans": [{"rank",
 *  "db_plan_id", "parallel" (with "attention" for a transformer),
 *  "prediction": {"step_s", "tokens_per_s", "tflops_per_device", "mfu",
 *  "mem_bytes_per_device", "breakdown", ...}, "schedule": {...}}],
 *  "winner_reason", "config_rank" (with --config: where its best plan
 *  ranks), "why_not", "plan_file"}.
 * NULL only without memory. */
json_t *dml_planner_to_json(const dml_planner *p, const dml_report_extras *x);

/* The schedule part of a plan's JSON (shared with the tests). */
json_t *dml_planner_schedule_json(const dml_planner *p,
                                  const dml_planned *pl);

/* --list-models / --list-clusters: the presets in data_dir with their key
 * figures, as a table or (json) one JSON document. */
dml_status dml_planner_list_presets(FILE *out, const char *data_dir,
                                    bool models, bool json, dml_error *err);

#endif
