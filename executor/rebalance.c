/*
 * rebalance.c: balance=dynamic's straggler flags and share decisions from
 * each step's per-replica compute and exchange times (see rebalance.h).
 * Pure: arithmetic on the caller's figures, the same on every rank.
 */
#include "executor/rebalance.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/stats.h"
#include "costmodel/balance.h"

void dml_rebalance_params_default(dml_rebalance_params *p)
{
    *p = (dml_rebalance_params){
        .every = 10,
        .flag_steps = 5,
        .flag_ratio = 1.5,
        .clear_ratio = 1.25,
        .link_floor = 0.1,
        .gain_min = 1.3,
        .equal_tol = 1.1,
        .return_min = 1.1,
    };
}

void dml_rebalance_init(dml_rebalance *r, const dml_rebalance_params *p,
                        int n, const int64_t *shares)
{
    memset(r, 0, sizeof *r);
    r->p = *p;
    if (r->p.every < 1)
        r->p.every = 1;
    if (r->p.every > DML_REBALANCE_WINDOW_MAX)
        r->p.every = DML_REBALANCE_WINDOW_MAX;
    r->n = n < 1 ? 1 : n > DML_REBALANCE_REPLICAS_MAX
                           ? DML_REBALANCE_REPLICAS_MAX
                           : n;
    for (int i = 0; i < r->n; i++) {
        r->equal[i] = r->cur[i] = shares[i];
        r->total += shares[i];
    }
}

/* Median of v without v[skip] (skip < 0: all of it). */
static double median_others(const double *v, int n, int skip)
{
    double tmp[DML_REBALANCE_REPLICAS_MAX];
    int k = 0;
    for (int i = 0; i < n; i++)
        if (i != skip)
            tmp[k++] = v[i];
    return dml_stats_median_inplace(tmp, (size_t)k);
}

/* The slowest replica's compute with shares m at per-micro-batch times t. */
static double slowest(const int64_t *m, const double *t, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++)
        worst = fmax(worst, (double)m[i] * t[i]);
    return worst;
}

static void event_base(const dml_rebalance *r, dml_rebalance_event *e,
                       dml_rebalance_kind kind, int64_t step)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->step = step;
    e->replica = -1;
    e->n = r->n;
    memcpy(e->old_shares, r->cur, (size_t)r->n * sizeof *r->cur);
    memcpy(e->new_shares, r->cur, (size_t)r->n * sizeof *r->cur);
}

/* Replica i's straggler state after this step's figures; true (and *e
 * filled) when its flag starts or ends. */
static bool straggler_step(dml_rebalance *r, int i, int64_t step,
                           const double *per_mb, const double *excess,
                           double compute_med, dml_rebalance_event *e)
{
    const dml_rebalance_params *p = &r->p;
    double med = median_others(per_mb, r->n, i);
    double ratio = med > 0 ? per_mb[i] / med : 1.0;
    double lmed = median_others(excess, r->n, i);
    double lratio = excess[i] / fmax(lmed, 1e-12);
    bool link = excess[i] > p->flag_ratio * lmed &&
                excess[i] - lmed > p->link_floor * compute_med &&
                ratio < p->flag_ratio;
    r->over[i] = ratio > p->flag_ratio ? r->over[i] + 1 : 0;
    r->link_over[i] = link ? r->link_over[i] + 1 : 0;
    if (!r->flag[i]) {
        const char *cause = r->over[i] >= p->flag_steps        ? "compute"
                            : r->link_over[i] >= p->flag_steps ? "link"
                                                               : NULL;
        if (!cause)
            return false;
        r->flag[i] = cause;
        r->under[i] = 0;
        event_base(r, e, DML_REBALANCE_STRAGGLER, step);
        e->ratio = cause[0] == 'c' ? ratio : lratio;
    } else {
        bool under = r->flag[i][0] == 'c'
                         ? ratio < p->clear_ratio
                         : !(excess[i] > p->clear_ratio * lmed &&
                             excess[i] - lmed > p->link_floor * compute_med);
        r->under[i] = under ? r->under[i] + 1 : 0;
        if (r->under[i] < p->flag_steps)
            return false;
        event_base(r, e, DML_REBALANCE_RECOVERED, step);
        e->ratio = r->flag[i][0] == 'c' ? ratio : lratio;
        e->cause = r->flag[i];
        r->flag[i] = NULL;
        r->over[i] = r->link_over[i] = 0;
    }
    e->replica = i;
    if (e->kind == DML_REBALANCE_STRAGGLER)
        e->cause = r->flag[i];
    for (int k = 0; k < r->n; k++)
        e->speed[k] = per_mb[k] > 0 ? 1.0 / per_mb[k] : 0;
    return true;
}

/* The shares decision over the window; true (and *e filled, r->cur
 * changed) when the shares move. */
static bool shares_step(dml_rebalance *r, int64_t step,
                        dml_rebalance_event *e)
{
    const dml_rebalance_params *p = &r->p;
    int n = r->n, w = r->p.every;
    double t[DML_REBALANCE_REPLICAS_MAX], col[DML_REBALANCE_WINDOW_MAX];
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < w; k++)
            col[k] = r->win[k][i];
        t[i] = dml_stats_median_inplace(col, (size_t)w);
        if (!(t[i] > 0))
            return false; /* nothing measured: no basis for a move */
    }
    int64_t best[DML_REBALANCE_REPLICAS_MAX], up[DML_REBALANCE_REPLICAS_MAX];
    int64_t one[DML_REBALANCE_REPLICAS_MAX];
    for (int i = 0; i < n; i++)
        one[i] = 1;
    dml_balance_shares(n, one, t, t, r->total, best, up);
    for (int i = 0; i < n; i++)
        best[i] += up[i];
    double cur_t = slowest(r->cur, t, n), eq_t = slowest(r->equal, t, n);
    double best_t = slowest(best, t, n);
    bool to_equal = eq_t <= best_t * p->equal_tol;
    const int64_t *target = to_equal ? r->equal : best;
    double target_t = to_equal ? eq_t : best_t;
    if (memcmp(target, r->cur, (size_t)n * sizeof *target) == 0)
        return false;
    if (cur_t < target_t * (to_equal ? p->return_min : p->gain_min))
        return false;
    event_base(r, e, DML_REBALANCE_SHARES, step);
    memcpy(e->new_shares, target, (size_t)n * sizeof *target);
    memcpy(r->cur, target, (size_t)n * sizeof *target);
    e->ratio = cur_t / target_t;
    e->to_equal = to_equal;
    for (int i = 0; i < n; i++)
        e->speed[i] = 1.0 / t[i];
    return true;
}

int dml_rebalance_observe(dml_rebalance *r, int64_t step,
                          const double *compute_s, const double *exchange_s,
                          const int64_t *mb, dml_rebalance_event *ev,
                          int max_ev)
{
    int n = r->n, count = 0;
    if (n < 2)
        return 0;
    double per_mb[DML_REBALANCE_REPLICAS_MAX];
    double excess[DML_REBALANCE_REPLICAS_MAX];
    double cmax = 0;
    for (int i = 0; i < n; i++) {
        per_mb[i] = compute_s[i] / (double)(mb[i] > 0 ? mb[i] : 1);
        cmax = fmax(cmax, compute_s[i]);
    }
    /* the exchange time not explained by waiting for the slowest compute */
    for (int i = 0; i < n; i++)
        excess[i] = fmax(0.0, exchange_s[i] - (cmax - compute_s[i]));
    double compute_med = median_others(compute_s, n, -1);
    for (int i = 0; i < n; i++) {
        dml_rebalance_event e;
        if (straggler_step(r, i, step, per_mb, excess, compute_med, &e) &&
            count < max_ev)
            ev[count++] = e;
    }
    memcpy(r->win[r->seen % r->p.every], per_mb, (size_t)n * sizeof *per_mb);
    r->seen++;
    r->since_decision++;
    if (r->seen < r->p.every || r->since_decision < r->p.every)
        return count;
    r->since_decision = 0;
    dml_rebalance_event e;
    if (shares_step(r, step, &e)) {
        r->seen = 0; /* the next decision sees only the new shares */
        if (count < max_ev)
            ev[count++] = e;
    }
    return count;
}

char *dml_rebalance_format(const int64_t *shares, int n, char *buf, int cap)
{
    int at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at < cap; i++)
        at += snprintf(buf + at, (size_t)(cap - at), "%s%lld", i ? "," : "",
                       (long long)shares[i]);
    return buf;
}
