/*
 * history_csv.c: dml-history's tables as CSV (see history_csv.h).
 */
#include "report/history_csv.h"

#include "common/csv.h"
#include "common/quote.h"

/* Text from the database, safe for a terminal (as the tables write it). */
static void text(dml_csv *c, const char *s)
{
    char safe[1024];
    dml_quote_terminal(s ? s : "", safe, sizeof safe);
    dml_csv_text(c, safe);
}

/* The configuration columns both plans and runs have, in one order:
 * the knobs, then the whole in --config syntax (the views' config). */
#define CONFIG_HEADER                                                         \
    "dp", "tp", "pp", "v", "mbs", "microbatches", "zero", "recompute", "sp", \
        "schedule", "threads_per_rank", "framework", "attention",            \
        "global_batch", "sync", "config"

static void config(dml_csv *c, const dml_db_plan_config *k,
                   const char *spelled)
{
    dml_csv_i64(c, k->dp);
    dml_csv_i64(c, k->tp);
    dml_csv_i64(c, k->pp);
    dml_csv_i64(c, k->v);
    dml_csv_i64(c, k->mbs);
    dml_csv_i64(c, k->microbatches);
    dml_csv_i64(c, k->zero);
    text(c, k->recompute);
    dml_csv_i64(c, k->sp);
    text(c, k->schedule);
    dml_csv_i64(c, k->threads_per_rank);
    text(c, k->framework);
    text(c, k->attention);
    dml_csv_i64(c, k->global_batch);
    text(c, k->sync);
    text(c, spelled);
}

void dml_history_csv_probes(FILE *out, const dml_db_probe_row *rows, size_t n)
{
    static const char *const head[] = {
        "id", "started_at", "finished_at", "host", "ranks", "nodes",
        "quick", "status", "triad_Bps", "dgemm_flops_per_s",
        "sgemm_flops_per_s", "p2p_latency_s", "p2p_bandwidth_Bps",
        "measurements", NULL};
    dml_csv c;
    dml_csv_init(&c, out);
    dml_csv_header(&c, head);
    for (size_t i = 0; i < n; i++) {
        const dml_db_probe_row *p = &rows[i];
        dml_csv_i64(&c, p->id);
        text(&c, p->started_at);
        text(&c, p->finished_at);
        text(&c, p->hostname);
        dml_csv_i64(&c, p->ranks);
        dml_csv_i64(&c, p->nodes);
        dml_csv_i64(&c, p->quick);
        text(&c, p->status);
        dml_csv_num(&c, p->triad_Bps);
        dml_csv_num(&c, p->dgemm_flops_per_s);
        dml_csv_num(&c, p->sgemm_flops_per_s);
        dml_csv_num(&c, p->p2p_latency_s);
        dml_csv_num(&c, p->p2p_bw_Bps);
        dml_csv_i64(&c, p->n_measurements);
        dml_csv_end(&c);
    }
}

void dml_history_csv_plans(FILE *out, const dml_db_plan_row *rows, size_t n)
{
    static const char *const head[] = {
        "id", "created_at", "model", "cluster", CONFIG_HEADER,
        "predicted_step_s", "predicted_mem_bytes", "predicted_tokens_per_s",
        "mfu_fraction", "calibration_id", "runs", "best_measured_step_s",
        NULL};
    dml_csv c;
    dml_csv_init(&c, out);
    dml_csv_header(&c, head);
    for (size_t i = 0; i < n; i++) {
        const dml_db_plan_row *p = &rows[i];
        dml_csv_i64(&c, p->id);
        text(&c, p->created_at);
        text(&c, p->model);
        text(&c, p->cluster);
        config(&c, &p->config, p->config_text);
        dml_csv_num(&c, p->predicted_step_s);
        dml_csv_num(&c, p->predicted_mem_bytes);
        dml_csv_num(&c, p->predicted_tokens_per_s);
        dml_csv_num(&c, p->mfu);
        if (p->calibration_id > 0)
            dml_csv_i64(&c, p->calibration_id);
        else
            dml_csv_text(&c, NULL);
        dml_csv_i64(&c, p->n_runs);
        dml_csv_num(&c, p->best_measured_step_s);
        dml_csv_end(&c);
    }
}

void dml_history_csv_runs(FILE *out, const dml_db_run_row *rows, size_t n)
{
    static const char *const head[] = {
        "id", "plan_id", "started_at", "finished_at", "model", "cluster",
        CONFIG_HEADER, "status", "ranks", "steps", "predicted_step_s",
        "measured_step_s", "error_pct", "final_loss", "test_accuracy_fraction",
        "duration_s", "peak_rss_bytes", "error", NULL};
    dml_csv c;
    dml_csv_init(&c, out);
    dml_csv_header(&c, head);
    for (size_t i = 0; i < n; i++) {
        const dml_db_run_row *r = &rows[i];
        dml_csv_i64(&c, r->id);
        dml_csv_i64(&c, r->plan_id);
        text(&c, r->started_at);
        text(&c, r->finished_at);
        text(&c, r->model);
        text(&c, r->cluster);
        config(&c, &r->config, r->config_text);
        text(&c, r->status);
        dml_csv_i64(&c, r->ranks);
        dml_csv_i64(&c, r->steps);
        dml_csv_num(&c, r->predicted_step_s);
        dml_csv_num(&c, r->measured_step_s);
        dml_csv_num(&c, r->error_pct);
        dml_csv_num(&c, r->final_loss);
        dml_csv_num(&c, r->test_accuracy);
        dml_csv_num(&c, r->duration_s);
        dml_csv_num(&c, r->peak_rss_bytes);
        text(&c, r->error);
        dml_csv_end(&c);
    }
}

void dml_history_csv_calibrations(FILE *out, const dml_db_calibration *rows,
                                  size_t n)
{
    static const char *const head[] = {
        "id", "created_at", "cluster_fingerprint", "runs", "mape_before_pct",
        "mape_after_pct", "loo_mape_before_pct", "loo_mape_after_pct",
        "interval_pct", NULL};
    dml_csv c;
    dml_csv_init(&c, out);
    dml_csv_header(&c, head);
    for (size_t i = 0; i < n; i++) {
        const dml_db_calibration *k = &rows[i];
        dml_csv_i64(&c, k->id);
        text(&c, k->created_at);
        text(&c, k->cluster_fingerprint);
        dml_csv_i64(&c, k->n_runs);
        dml_csv_num(&c, k->mape_before);
        dml_csv_num(&c, k->mape_after);
        dml_csv_num(&c, k->loo_mape_before);
        dml_csv_num(&c, k->loo_mape_after);
        dml_csv_num(&c, k->interval_pct);
        dml_csv_end(&c);
    }
}
