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
        .flag_ratio = 2.0,
        .clear_ratio = 1.5,
        .link_floor = 0.25,
        .min_compute_s = 0.02,
        .gain_min = 1.3,
        .equal_tol = 1.1,
        .return_min = 1.05,
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
    if (r->p.flag_steps < 1)
        r->p.flag_steps = 1;
    if (r->p.flag_steps > DML_REBALANCE_WINDOW_MAX)
        r->p.flag_steps = DML_REBALANCE_WINDOW_MAX;
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

/* The median of replica i's last flag_steps figures of ring v. */
static double recent(const dml_rebalance *r,
                     double (*v)[DML_REBALANCE_REPLICAS_MAX], int i)
{
    double col[DML_REBALANCE_WINDOW_MAX];
    int k = r->steps < r->p.flag_steps ? (int)r->steps : r->p.flag_steps;
    for (int j = 0; j < k; j++)
        col[j] = v[j][i];
    return dml_stats_median_inplace(col, (size_t)k);
}

/* Replica i's straggler state after this step's figures (in the rings:
 * its compute ratio and link score); true (and *e filled) when its flag
 * starts or ends. */
static bool straggler_step(dml_rebalance *r, int i, int64_t step,
                           const double *per_mb, dml_rebalance_event *e)
{
    const dml_rebalance_params *p = &r->p;
    double ratio = recent(r, r->ratio, i), link = recent(r, r->link, i);
    bool over = ratio > p->flag_ratio;
    r->over[i] = over ? r->over[i] + 1 : 0;
    r->link_over[i] = !over && link > p->flag_ratio ? r->link_over[i] + 1
                                                    : 0;
    if (!r->flag[i]) {
        const char *cause = r->over[i] >= p->flag_steps        ? "compute"
                            : r->link_over[i] >= p->flag_steps ? "link"
                                                               : NULL;
        if (!cause)
            return false;
        r->flag[i] = cause;
        r->under[i] = 0;
        event_base(r, e, DML_REBALANCE_STRAGGLER, step);
        e->cause = cause;
    } else {
        bool under = (r->flag[i][0] == 'c' ? ratio : link) < p->clear_ratio;
        r->under[i] = under ? r->under[i] + 1 : 0;
        if (r->under[i] < p->flag_steps)
            return false;
        event_base(r, e, DML_REBALANCE_RECOVERED, step);
        e->cause = r->flag[i];
        r->flag[i] = NULL;
        r->over[i] = r->link_over[i] = 0;
    }
    e->ratio = e->cause[0] == 'c' ? ratio : link;
    e->replica = i;
    for (int k = 0; k < r->n; k++)
        e->speed[k] = per_mb[k] > 0 ? 1.0 / per_mb[k] : 0;
    return true;
}

/* This step's figures into the straggler rings: each replica's compute
 * per micro-batch over the others' median, and its link score, the
 * exchange time not explained by waiting for the slowest compute over
 * the others' median of the same, 0 when the excess is under link_floor
 * of the median compute (noise of a short exchange). */
static void ring_step(dml_rebalance *r, const double *compute_s,
                      const double *exchange_s, const double *per_mb)
{
    int n = r->n, at = (int)(r->steps % r->p.flag_steps);
    double excess[DML_REBALANCE_REPLICAS_MAX], cmax = 0;
    for (int i = 0; i < n; i++)
        cmax = fmax(cmax, compute_s[i]);
    for (int i = 0; i < n; i++)
        excess[i] = fmax(0.0, exchange_s[i] - (cmax - compute_s[i]));
    double floor = r->p.link_floor * median_others(compute_s, n, -1);
    for (int i = 0; i < n; i++) {
        double med = median_others(per_mb, n, i);
        r->ratio[at][i] = med > 0 ? per_mb[i] / med : 1.0;
        double lmed = median_others(excess, n, i);
        r->link[at][i] = excess[i] - lmed > floor
                             ? excess[i] / fmax(lmed, 1e-12)
                             : 0.0;
    }
    r->steps++;
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
    for (int i = 0; i < n; i++) {
        best[i] += up[i];
        /* a flagged replica given more work: its window says it is fast
         * at its small share while its flag says slow (a CPU quota lets
         * short bursts through): the figures disagree, hold */
        if (r->flag[i] && r->flag[i][0] == 'c' && best[i] > r->cur[i])
            return false;
    }
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

static bool compute_flagged(const dml_rebalance *r)
{
    for (int i = 0; i < r->n; i++)
        if (r->flag[i] && r->flag[i][0] == 'c')
            return true;
    return false;
}

/* The slowdown is over (no replica flagged for its compute): the plan's
 * shares again, at once. */
static void back_to_equal(dml_rebalance *r, int64_t step,
                          const double *per_mb, dml_rebalance_event *e)
{
    int n = r->n;
    event_base(r, e, DML_REBALANCE_SHARES, step);
    memcpy(e->new_shares, r->equal, (size_t)n * sizeof *r->equal);
    e->ratio = slowest(r->cur, per_mb, n) / slowest(r->equal, per_mb, n);
    e->to_equal = true;
    for (int i = 0; i < n; i++)
        e->speed[i] = per_mb[i] > 0 ? 1.0 / per_mb[i] : 0;
    memcpy(r->cur, r->equal, (size_t)n * sizeof *r->equal);
}

int dml_rebalance_observe(dml_rebalance *r, int64_t step,
                          const double *compute_s, const double *exchange_s,
                          const int64_t *mb, dml_rebalance_event *ev,
                          int max_ev)
{
    int n = r->n, count = 0;
    if (n < 2)
        return 0;
    if (!(median_others(compute_s, n, -1) >= r->p.min_compute_s))
        return 0; /* the scheduler's time slices, not the devices */
    double per_mb[DML_REBALANCE_REPLICAS_MAX];
    for (int i = 0; i < n; i++)
        per_mb[i] = compute_s[i] / (double)(mb[i] > 0 ? mb[i] : 1);
    ring_step(r, compute_s, exchange_s, per_mb);
    for (int i = 0; i < n; i++) {
        dml_rebalance_event e;
        if (straggler_step(r, i, step, per_mb, &e) &&
            count < max_ev)
            ev[count++] = e;
    }
    memcpy(r->win[r->seen % r->p.every], per_mb, (size_t)n * sizeof *per_mb);
    r->seen++;
    r->since_decision++;
    dml_rebalance_event e;
    bool flagged = compute_flagged(r), moved = false;
    if (!flagged &&
        memcmp(r->cur, r->equal, (size_t)n * sizeof *r->cur) != 0) {
        back_to_equal(r, step, per_mb, &e);
        moved = true;
    } else if (flagged && r->seen >= r->p.every &&
               r->since_decision >= r->p.every) {
        r->since_decision = 0;
        moved = shares_step(r, step, &e);
    }
    if (moved) {
        r->seen = r->since_decision = 0; /* the next decision sees only
                                            the new shares */
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
