/*
 * explain.c: part-by-part comparison of two plans (see explain.h).
 */
#include "planner/explain.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/units.h"
#include "planner/config.h"

static const char *const part_names[DML_PART_COUNT] = {
    "compute", "exposed TP communication", "exposed PP communication",
    "exposed DP communication", "pipeline bubble", "optimizer step",
    "fixed overhead"};

const char *dml_part_name(dml_part p)
{
    return p >= 0 && p < DML_PART_COUNT ? part_names[p] : "?";
}

double dml_part_seconds(const dml_time_breakdown *t, dml_part p)
{
    switch (p) {
    case DML_PART_COMPUTE: return t->compute_s;
    case DML_PART_TP: return t->tp_comm_s;
    case DML_PART_PP: return t->pp_comm_s;
    case DML_PART_DP: return t->dp_comm_s;
    case DML_PART_BUBBLE: return t->bubble_s;
    case DML_PART_OPTIMIZER: return t->optimizer_s;
    case DML_PART_OVERHEAD: return t->overhead_s;
    default: return 0;
    }
}

dml_part dml_planner_biggest_difference(const dml_prediction *fast,
                                        const dml_prediction *slow,
                                        double *delta_s)
{
    dml_part best = DML_PART_COMPUTE;
    double most = -INFINITY;
    for (int i = 0; i < DML_PART_COUNT; i++) {
        double d = dml_part_seconds(&slow->time, (dml_part)i) -
                   dml_part_seconds(&fast->time, (dml_part)i);
        if (d > most) {
            most = d;
            best = (dml_part)i;
        }
    }
    if (delta_s)
        *delta_s = most;
    return best;
}

static void append(char *buf, size_t size, const char *fmt, long long a,
                   long long b, const char *name)
{
    size_t n = strlen(buf);
    if (n >= size)
        return;
    snprintf(buf + n, size - n, "%s", n ? ", " : "");
    n = strlen(buf);
    snprintf(buf + n, size - n, fmt, name, a, b);
}

/* ", name a vs b" (no comma first) after what buf holds. */
static void append_names(char *buf, size_t size, const char *name,
                         const char *a, const char *b)
{
    size_t n = strlen(buf);
    if (n < size)
        snprintf(buf + n, size - n, "%s%s %s vs %s", n ? ", " : "", name, a,
                 b);
}

char *dml_planner_config_diff(const dml_parallel_config *a,
                              const dml_parallel_config *b, char *buf,
                              size_t size)
{
    if (size)
        buf[0] = '\0';
    const char *f = "%s %lld vs %lld";
    if (a->dp != b->dp) append(buf, size, f, a->dp, b->dp, "dp");
    if (a->tp != b->tp) append(buf, size, f, a->tp, b->tp, "tp");
    if (a->pp != b->pp) append(buf, size, f, a->pp, b->pp, "pp");
    if (a->v != b->v) append(buf, size, f, a->v, b->v, "v");
    if (a->mbs != b->mbs)
        append(buf, size, f, (long long)a->mbs, (long long)b->mbs, "mbs");
    if (a->microbatches != b->microbatches)
        append(buf, size, f, (long long)a->microbatches,
               (long long)b->microbatches, "micro-batches");
    if (a->zero != b->zero) append(buf, size, f, a->zero, b->zero, "ZeRO");
    if (a->sp != b->sp) append(buf, size, f, a->sp, b->sp, "sp");
    if (a->threads_per_rank != b->threads_per_rank)
        append(buf, size, f, a->threads_per_rank, b->threads_per_rank,
               "threads");
    if (a->recompute != b->recompute)
        append_names(buf, size, "recompute",
                     dml_recompute_name(a->recompute),
                     dml_recompute_name(b->recompute));
    if (a->attention != b->attention)
        append_names(buf, size, "attention",
                     dml_attention_name(a->attention),
                     dml_attention_name(b->attention));
    if (!dml_sync_spec_equal(&a->sync, &b->sync)) {
        char x[48], y[48];
        append_names(buf, size, "sync",
                     dml_sync_spec_format(&a->sync, x, sizeof x),
                     dml_sync_spec_format(&b->sync, y, sizeof y));
    }
    if (a->schedule != b->schedule && a->v == b->v)
        append_names(buf, size, "schedule", dml_pp_schedule_name(a->schedule),
                     dml_pp_schedule_name(b->schedule));
    if (a->balance != b->balance)
        append_names(buf, size, "balance", dml_balance_name(a->balance),
                     dml_balance_name(b->balance));
    return buf;
}

char *dml_planner_why_better(const dml_candidate *win,
                             const dml_candidate *other, dml_model_type type,
                             char *buf, size_t size)
{
    char cfg[256], diff[256];
    dml_planner_config_format(&other->par, type, cfg, sizeof cfg);
    dml_planner_config_diff(&win->par, &other->par, diff, sizeof diff);
    double pct = win->score_s > 0
                     ? 100.0 * (other->score_s - win->score_s) / win->score_s
                     : 0;
    if (win->global_batch != other->global_batch) {
        char a[32], b[32];
        double sw = win->pred.step_s > 0 ? win->score_s / win->pred.step_s
                                         : 0;
        double so = other->pred.step_s > 0
                        ? other->score_s / other->pred.step_s
                        : 0;
        snprintf(a, sizeof a, "%.3g s", win->pred.step_s);
        snprintf(b, sizeof b, "%.3g s", other->pred.step_s);
        snprintf(buf, size,
                 "%.1f%% less time to train than %s: global batch %lld vs "
                 "%lld, %.3g vs %.3g steps of %s vs %s",
                 pct, cfg, (long long)win->global_batch,
                 (long long)other->global_batch, sw, so, a, b);
        return buf;
    }
    double d = 0;
    dml_part p = dml_planner_biggest_difference(&win->pred, &other->pred, &d);
    char shown[32];
    dml_units_seconds(d, shown, sizeof shown);
    if (d <= 0) {
        snprintf(buf, size, "%.2f%% faster than %s: equal in every part",
                 pct, cfg);
        return buf;
    }
    snprintf(buf, size, "%.1f%% faster than %s: its %s is %s shorter "
             "per step%s%s%s", pct, cfg, dml_part_name(p), shown,
             diff[0] ? " (" : "", diff, diff[0] ? ")" : "");
    return buf;
}
