/*
 * convergence.c: a strategy's steps to a target from measured runs (see
 * convergence.h).
 */
#include "planner/convergence.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/stats.h"
#include "db/db.h"

bool dml_convergence_same_math(const dml_sync_spec *s)
{
    return s->kind == DML_SYNC_ALLREDUCE ||
           s->kind == DML_SYNC_HIERARCHICAL ||
           (s->kind == DML_SYNC_SSP && s->param == 0);
}

/* The strategy whose entry s's history goes to. */
static dml_sync_spec entry_key(const dml_sync_spec *s)
{
    dml_sync_spec k = *s;
    if (dml_convergence_same_math(s))
        dml_sync_spec_init(&k);
    return k;
}

/* Steps run pts[0..n) of one run took to reach t: INFINITY when they
 * never did, NAN when the run did not measure what t needs (no test
 * accuracy evaluated). */
static double run_steps(const dml_target *t, const dml_db_curve_point *pts,
                        size_t n)
{
    if (t->kind == DML_TARGET_ACCURACY) {
        bool measured = false;
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(pts[i].test_accuracy))
                continue;
            measured = true;
            if (pts[i].test_accuracy >= t->value)
                return (double)(pts[i].step + 1);
        }
        return measured ? INFINITY : NAN;
    }
    /* a loss target: the mean of the last few steps' losses, so that one
     * lucky batch does not count as reaching it */
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += pts[i].loss;
        if (i >= DML_CONVERGENCE_LOSS_WINDOW)
            sum -= pts[i - DML_CONVERGENCE_LOSS_WINDOW].loss;
        size_t w = i + 1 < DML_CONVERGENCE_LOSS_WINDOW
                       ? i + 1
                       : DML_CONVERGENCE_LOSS_WINDOW;
        if (isfinite(sum) && sum / (double)w <= t->value)
            return (double)(pts[i].step + 1);
    }
    return n > 0 ? INFINITY : NAN;
}

/* One run's result, before the runs of a strategy are put together. */
typedef struct run_result {
    dml_sync_spec key;
    double steps;
} run_result;

static int find_entry(const dml_convergence *c, const dml_sync_spec *key)
{
    for (int i = 0; i < c->count; i++)
        if (dml_sync_spec_equal(&c->e[i].sync, key))
            return i;
    return -1;
}

/* The median of each strategy's runs. */
static void summarise(dml_convergence *c, const run_result *runs,
                      size_t nruns, double *scratch)
{
    for (size_t i = 0; i < nruns; i++) {
        if (find_entry(c, &runs[i].key) >= 0 ||
            c->count == DML_CONVERGENCE_MAX)
            continue;
        dml_convergence_entry *e = &c->e[c->count++];
        memset(e, 0, sizeof *e);
        e->sync = runs[i].key;
        size_t k = 0;
        for (size_t j = i; j < nruns; j++)
            if (dml_sync_spec_equal(&runs[j].key, &e->sync)) {
                scratch[k++] = runs[j].steps;
                e->reached += isfinite(runs[j].steps);
            }
        e->runs = (int)k;
        e->steps = dml_stats_median_inplace(scratch, k);
    }
    dml_sync_spec dense;
    dml_sync_spec_init(&dense);
    c->dense = find_entry(c, &dense);
}

void dml_convergence_from_curves(const dml_target *t,
                                 const dml_db_curve_point *pts, size_t n,
                                 dml_convergence *out)
{
    memset(out, 0, sizeof *out);
    out->target = *t;
    out->dense = -1;
    out->points = (int64_t)n;
    if (t->kind == DML_TARGET_NONE || n == 0)
        return;
    run_result *runs = malloc(n * sizeof *runs);
    double *scratch = malloc(n * sizeof *scratch);
    size_t nruns = 0;
    for (size_t i = 0; runs && scratch && i < n;) {
        size_t j = i;
        while (j < n && pts[j].run_id == pts[i].run_id)
            j++;
        dml_sync_spec s;
        char why[160];
        double steps = run_steps(t, pts + i, j - i);
        if (!isnan(steps) &&
            dml_sync_spec_parse(pts[i].sync, &s, why, sizeof why))
            runs[nruns++] = (run_result){entry_key(&s), steps};
        i = j;
    }
    if (runs && scratch)
        summarise(out, runs, nruns, scratch);
    free(runs);
    free(scratch);
}

dml_status dml_convergence_load(dml_db_once *once, const char *model,
                                int64_t global_batch, const dml_target *t,
                                dml_convergence *out, dml_error *err)
{
    dml_convergence_from_curves(t, NULL, 0, out);
    if (t->kind == DML_TARGET_NONE)
        return DML_OK;
    dml_db *db = NULL;
    dml_error e2;
    /* no database yet: no history, which the warning says */
    if (dml_db_once_read(once, &db, &e2) != DML_OK)
        return DML_OK;
    dml_db_curve_point *pts = NULL;
    size_t n = 0;
    dml_status s = dml_db_list_curves(db, model, global_batch, &pts, &n, err);
    if (s == DML_OK)
        dml_convergence_from_curves(t, pts, n, out);
    free(pts);
    return s;
}

double dml_convergence_steps(const dml_convergence *c,
                             const dml_sync_spec *s,
                             dml_convergence_source *src)
{
    dml_sync_spec key = entry_key(s);
    int i = find_entry(c, &key);
    bool dense_known = c->dense >= 0 && isfinite(c->e[c->dense].steps);
    dml_convergence_source from = DML_CONV_MEASURED;
    double steps = NAN;
    if (i >= 0 && (i != c->dense || dense_known)) {
        steps = c->e[i].steps;
    } else if (dense_known) {
        from = DML_CONV_ASSUMED;
        steps = c->e[c->dense].steps;
    } else {
        from = DML_CONV_UNKNOWN;
    }
    if (src)
        *src = from;
    return steps;
}

double dml_convergence_factor(const dml_convergence *c,
                              const dml_sync_spec *s)
{
    dml_convergence_source src;
    double steps = dml_convergence_steps(c, s, &src);
    if (src != DML_CONV_MEASURED)
        return 1.0;
    return steps / c->e[c->dense].steps;
}

int dml_convergence_strategies(const dml_convergence *c, dml_sync_spec *out,
                               int max)
{
    /* one setting of each family: what the literature starts from
     * (1 % top-k, PowerSGD rank 2 as Vogels et al. recommend, H = 16 and
     * a staleness of 2 as in the acceptance) */
    static const dml_sync_spec menu[] = {
        {.kind = DML_SYNC_ALLREDUCE},
        {.kind = DML_SYNC_HIERARCHICAL},
        {.kind = DML_SYNC_FP16},
        {.kind = DML_SYNC_BF16},
        {.kind = DML_SYNC_TOPK, .param = 0.01},
        {.kind = DML_SYNC_POWERSGD, .param = 2},
        {.kind = DML_SYNC_LOCAL, .param = 16},
        {.kind = DML_SYNC_SSP, .param = 2},
        /* gossip (D-PSGD) on each graph that exists for every n */
        {.kind = DML_SYNC_GOSSIP, .graph = {DML_GRAPH_ONEPEER_EXP, 0}},
        {.kind = DML_SYNC_GOSSIP, .graph = {DML_GRAPH_EXP, 0}},
        {.kind = DML_SYNC_GOSSIP, .graph = {DML_GRAPH_RING, 0}},
        {.kind = DML_SYNC_GOSSIP, .graph = {DML_GRAPH_TORUS, 0}},
    };
    int n = 0;
    for (size_t i = 0; i < sizeof menu / sizeof menu[0] && n < max; i++)
        out[n++] = menu[i];
    for (int i = 0; c && i < c->count && n < max; i++) {
        bool have = dml_convergence_same_math(&c->e[i].sync);
        for (int j = 0; j < n && !have; j++)
            have = dml_sync_spec_equal(&out[j], &c->e[i].sync);
        if (!have)
            out[n++] = c->e[i].sync;
    }
    return n;
}

char *dml_target_format(const dml_target *t, char *buf, size_t size)
{
    if (t->kind == DML_TARGET_ACCURACY)
        snprintf(buf, size, "test accuracy %.4g %%", 100.0 * t->value);
    else if (t->kind == DML_TARGET_LOSS)
        snprintf(buf, size, "training loss %.4g", t->value);
    else
        snprintf(buf, size, "no target");
    return buf;
}

bool dml_convergence_warning(const dml_convergence *c, const char *model,
                             int64_t global_batch,
                             const dml_sync_spec *searched, int nsearched,
                             char *buf, size_t size)
{
    char what[64];
    dml_target_format(&c->target, what, sizeof what);
    if (c->target.kind == DML_TARGET_NONE)
        return false;
    if (c->dense < 0 || !isfinite(c->e[c->dense].steps)) {
        snprintf(buf, size,
                 "no measured run of %s at global batch %lld reaches %s "
                 "with sync=allreduce: assuming no strategy costs "
                 "convergence, ranking by step time (dml-exec%s measures "
                 "it)",
                 model, (long long)global_batch, what,
                 c->target.kind == DML_TARGET_ACCURACY ? " --eval-every K"
                                                       : "");
        return true;
    }
    size_t len = 0;
    int missing = 0;
    buf[0] = '\0';
    for (int i = 0; i < nsearched; i++) {
        dml_convergence_source src;
        dml_convergence_steps(c, &searched[i], &src);
        if (src != DML_CONV_ASSUMED || len >= size)
            continue;
        char t[48];
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                missing++ ? ", " : "sync=",
                                dml_sync_spec_format(&searched[i], t,
                                                     sizeof t));
    }
    if (!missing)
        return false;
    char list[512];
    snprintf(list, sizeof list, "%s", buf);
    snprintf(buf, size,
             "no measured runs of %s for %s at global batch %lld: assuming "
             "%s as many steps to %s as allreduce",
             list, model, (long long)global_batch,
             missing == 1 ? "it needs" : "they need", what);
    return true;
}
