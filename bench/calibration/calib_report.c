/*
 * dml-calib-report: calibrate a cluster from the runs in a database and
 * print how well the cost model predicts them, before and after, for the
 * calibration benchmark (run_grid.sh, issue 5).
 *
 *   dml-calib-report --db DB --cluster cluster.json [--fingerprint F]
 *                    [--no-record] [--json]
 *
 * Per run: measured median step time, the uncalibrated prediction, the
 * calibrated one and the leave-one-out one. Then the MAPEs, the fitted
 * factors, the interval and memory headroom, and the plan each model would
 * pick among the distinct configurations measured, with how far its
 * measured time is from the fastest one.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/file.h"
#include "common/log.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/plan.h"
#include "costmodel/step_time.h"
#include "db/db.h"
#include "planner/calibrate.h"
/* dml_test_plan_predict: the uncalibrated price the tests use too */
#include "tests/support/test_support.h"

static const char usage_text[] =
    "usage: dml-calib-report --db DB --cluster SPEC.json [--fingerprint F]\n"
    "                        [--no-record] [--json]\n"
    "       dml-calib-report --cluster SPEC.json --predict PLAN.json...\n"
    "\n"
    "Calibrate the cluster from the measured runs in DB and report the\n"
    "prediction errors and the plan each model picks; or (--predict) write\n"
    "the uncalibrated cost model's prediction into plan files.\n";

/* Fill each plan file's prediction (uncalibrated) on cluster c. */
static dml_status predict_files(const dml_cluster_spec *c, char **files,
                                int n, dml_error *err)
{
    dml_plan *p = malloc(sizeof *p);
    dml_status s = p ? DML_OK : dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int i = 0; s == DML_OK && i < n; i++) {
        s = dml_plan_load(files[i], p, err);
        if (s == DML_OK)
            s = dml_test_plan_predict(c, p, NULL, err);
        json_t *j = s == DML_OK ? dml_plan_to_json(p) : NULL;
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                       : NULL;
        json_decref(j);
        if (s == DML_OK)
            s = text ? dml_file_write_atomic(files[i], text, strlen(text), err)
                     : dml_error_msg(err, DML_ENOMEM, "out of memory");
        free(text);
        if (s != DML_OK)
            dml_error_prefix(err, "%s", files[i]);
    }
    free(p);
    return s;
}

/* A distinct plan (calibration's plan_group): the mean over its runs. */
typedef struct config_row {
    int plan_group;
    dml_db_plan_config c;
    int ranks;
    int runs;
    double measured_s, uncal_s, cal_s, loo_s;
} config_row;

static void config_text(const dml_db_plan_config *c, char *buf, size_t n)
{
    snprintf(buf, n, "dp%d tp%d pp%d mbs%d m%d t%d", c->dp, c->tp, c->pp,
             c->mbs, c->microbatches, c->threads_per_rank);
}

/* Index of the configuration with the smallest value at offset. */
static size_t pick(const config_row *rows, size_t n, size_t offset)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (*(const double *)((const char *)&rows[i] + offset) <
            *(const double *)((const char *)&rows[best] + offset))
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    dml_log_init("dml-calib-report");
    const char *db_path = NULL, *cluster_path = NULL, *fingerprint = NULL;
    bool record = true, as_json = false, predict = false;
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"cluster", required_argument, NULL, 'c'},
        {"fingerprint", required_argument, NULL, 'f'},
        {"no-record", no_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"predict", no_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd': db_path = optarg; break;
        case 'c': cluster_path = optarg; break;
        case 'f': fingerprint = optarg; break;
        case 'n': record = false; break;
        case 'j': as_json = true; break;
        case 'p': predict = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (!cluster_path || (optind < argc) != predict) {
        fputs(usage_text, stderr);
        return 2;
    }
    dml_error err;
    dml_error_clear(&err);
    char line[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64];
    dml_cluster_spec *spec = malloc(sizeof *spec);
    if (!spec)
        return 1;
    dml_status s = dml_cluster_spec_read_file(cluster_path, spec, &err);
    if (s != DML_OK) {
        dml_log_error("%s", dml_error_format(&err, line, sizeof line));
        free(spec);
        return dml_status_exit_code(s);
    }
    if (predict) {
        s = predict_files(spec, argv + optind, argc - optind, &err);
        if (s != DML_OK)
            dml_log_error("%s", dml_error_format(&err, line, sizeof line));
        free(spec);
        return dml_status_exit_code(s);
    }
    char fp[DML_FINGERPRINT_MAX];
    if (fingerprint)
        snprintf(fp, sizeof fp, "%s", fingerprint);
    else if (spec->fingerprint[0])
        snprintf(fp, sizeof fp, "%s", spec->fingerprint);
    else
        dml_cluster_spec_fingerprint(spec, fp);

    dml_db *db = NULL;
    s = dml_db_open_existing(dml_db_default_path(db_path), &db, &err);
    dml_calibration_result r;
    memset(&r, 0, sizeof r);
    if (s == DML_OK) {
        dml_calibrate_options o;
        dml_calibrate_options_init(&o);
        o.cluster = spec;
        o.record = record;
        s = dml_calibrate_cluster(db, fp, &o, &r, &err);
    }
    if (s != DML_OK) {
        dml_log_error("%s", dml_error_format(&err, line, sizeof line));
        dml_db_close(db);
        free(spec);
        return dml_status_exit_code(s);
    }
    if (!r.fitted) {
        printf("not enough runs: %d measured run(s) of cluster %s, "
               "calibration needs %d\n", r.n_runs, fp,
               DML_CALIBRATION_MIN_RUNS);
        dml_calibration_result_free(&r);
        dml_db_close(db);
        free(spec);
        return 0;
    }

    config_row *rows = calloc(r.n_points, sizeof *rows);
    size_t nrows = 0;
    for (size_t i = 0; rows && i < r.n_points; i++) {
        const dml_calibration_point *p = &r.points[i];
        size_t j = 0;
        while (j < nrows && rows[j].plan_group != p->plan_group)
            j++;
        if (j == nrows) {
            rows[j].plan_group = p->plan_group;
            rows[j].c = p->config;
            rows[j].ranks = p->ranks;
            nrows++;
        }
        /* every run of a plan carries the plan's median and predictions */
        config_row *c = &rows[j];
        c->runs++;
        c->measured_s = p->plan_measured_s;
        c->uncal_s = p->uncalibrated_s;
        c->cal_s = p->calibrated_s;
        c->loo_s = p->loo_s;
    }
    size_t fastest = pick(rows, nrows, offsetof(config_row, measured_s));
    size_t p_uncal = pick(rows, nrows, offsetof(config_row, uncal_s));
    size_t p_cal = pick(rows, nrows, offsetof(config_row, cal_s));
    size_t p_loo = pick(rows, nrows, offsetof(config_row, loo_s));
    double best = rows[fastest].measured_s;
#define OFF(i) (100.0 * (rows[i].measured_s / best - 1.0))

    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "schema_version", json_integer(1));
        json_object_set_new(j, "fingerprint", json_string(fp));
        json_object_set_new(j, "n_runs", json_integer(r.n_runs));
        json_object_set_new(j, "n_plans", json_integer(r.n_plans));
        json_object_set_new(j, "mape_before_pct", json_real(r.mape_before_pct));
        json_object_set_new(j, "mape_after_pct", json_real(r.mape_after_pct));
        json_object_set_new(j, "loo_mape_before_pct",
                            json_real(r.loo_mape_before_pct));
        json_object_set_new(j, "loo_mape_after_pct",
                            json_real(r.loo_mape_after_pct));
        json_object_set_new(j, "interval_pct", json_real(r.interval_pct));
        json_object_set_new(j, "mem_extra_bytes",
                            json_real(r.mem_extra_bytes));
        json_object_set_new(j, "picked_uncalibrated_off_pct",
                            json_real(OFF(p_uncal)));
        json_object_set_new(j, "picked_calibrated_off_pct",
                            json_real(OFF(p_cal)));
        json_object_set_new(j, "picked_loo_off_pct", json_real(OFF(p_loo)));
        json_object_set_new(j, "calibration_id",
                            json_integer(r.calibration_id));
        json_t *f = json_object();
        for (int k = 0; k < DML_CALIB_FACTORS; k++)
            json_object_set_new(f, dml_calib_factor_name((dml_calib_factor)k),
                                json_real(dml_calib_factor_get(
                                    &r.calib, (dml_calib_factor)k)));
        json_object_set_new(j, "factors", f);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (text)
            puts(text);
        free(text);
        json_decref(j);
    } else {
        printf("cluster %s: %d measured runs (%d skipped) of %d plans\n"
               "measured = median over a plan's runs; LOO = predicted by a "
               "fit without that plan\n\n", fp, r.n_runs, r.n_skipped,
               r.n_plans);
        printf("  %-28s %5s %4s  %10s  %10s  %10s  %10s  %7s\n", "config",
               "ranks", "runs", "measured", "uncalib", "calib", "LOO",
               "LOO err");
        for (size_t j = 0; j < nrows; j++) {
            const config_row *c = &rows[j];
            char cfg[64];
            config_text(&c->c, cfg, sizeof cfg);
            printf("  %-28s %5d %4d  %7.2f ms  %7.2f ms  %7.2f ms  "
                   "%7.2f ms  %6.1f%%\n",
                   cfg, c->ranks, c->runs, 1e3 * c->measured_s,
                   1e3 * c->uncal_s, 1e3 * c->cal_s, 1e3 * c->loo_s,
                   100.0 * (c->loo_s - c->measured_s) / c->measured_s);
        }
        printf("\nruns (measured):");
        for (size_t i = 0; i < r.n_points; i++)
            printf("%s %lld:%.2f", i % 8 == 0 ? "\n " : "",
                   (long long)r.points[i].run_id,
                   1e3 * r.points[i].measured_s);
        printf(" ms\n");
        printf("\nfactors (* = fitted):");
        for (int k = 0; k < DML_CALIB_FACTORS; k++)
            printf(" %s%s=%.4g", dml_calib_factor_name((dml_calib_factor)k),
                   r.free_factor[k] ? "*" : "",
                   dml_calib_factor_get(&r.calib, (dml_calib_factor)k));
        printf("\n\n");
        printf("MAPE uncalibrated              %6.1f %%\n",
               r.mape_before_pct);
        printf("MAPE calibrated (in sample)    %6.1f %%\n", r.mape_after_pct);
        printf("MAPE leave-one-out calibrated  %6.1f %%\n",
               r.loo_mape_after_pct);
        printf("prediction interval (runs)     +- %.1f %%\n",
               r.interval_pct);
        printf("memory headroom                +%.1f MB (measured/predicted "
               "up to %.2fx)\n", r.mem_extra_bytes / 1e6, r.mem_ratio);
        char cfg[64];
        config_text(&rows[fastest].c, cfg, sizeof cfg);
        printf("\nfastest measured             %-28s %8.2f ms\n", cfg,
               1e3 * best);
        config_text(&rows[p_uncal].c, cfg, sizeof cfg);
        printf("uncalibrated model picks     %-28s %8.2f ms (+%.1f %%)\n",
               cfg, 1e3 * rows[p_uncal].measured_s, OFF(p_uncal));
        config_text(&rows[p_cal].c, cfg, sizeof cfg);
        printf("calibrated model picks       %-28s %8.2f ms (+%.1f %%)\n",
               cfg, 1e3 * rows[p_cal].measured_s, OFF(p_cal));
        config_text(&rows[p_loo].c, cfg, sizeof cfg);
        printf("leave-one-out model picks    %-28s %8.2f ms (+%.1f %%)\n",
               cfg, 1e3 * rows[p_loo].measured_s, OFF(p_loo));
        if (r.calibration_id > 0)
            printf("\nrecorded as calibration %lld\n",
                   (long long)r.calibration_id);
    }
#undef OFF
    free(rows);
    dml_calibration_result_free(&r);
    dml_db_close(db);
    free(spec);
    return 0;
}
