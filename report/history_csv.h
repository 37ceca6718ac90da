/*
 * history_csv.h: dml-history's tables as CSV (RFC 4180, common/csv.h).
 *
 * The rows are those of the tables (db/history.h, newest first); the
 * columns are the tables' with each quantity in its own column as a plain
 * number in SI units, the unit in the column's name (predicted_step_s,
 * triad_Bps, mfu_fraction), and a plan's configuration split into its
 * knobs. Text from the database is written with control characters
 * escaped (\n, \xNN), as the tables do. One section per document, so that
 * the file has one header.
 */
#ifndef DML_REPORT_HISTORY_CSV_H
#define DML_REPORT_HISTORY_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "db/calib_store.h"
#include "db/history.h"

void dml_history_csv_probes(FILE *out, const dml_db_probe_row *rows,
                            size_t n);
void dml_history_csv_plans(FILE *out, const dml_db_plan_row *rows, size_t n);
void dml_history_csv_runs(FILE *out, const dml_db_run_row *rows, size_t n);
void dml_history_csv_calibrations(FILE *out, const dml_db_calibration *rows,
                                  size_t n);

#endif
