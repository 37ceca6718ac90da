/*
 * balance_run.c: balance=dynamic in a running dml-exec (see
 * balance_run.h).
 */
#include "executor/balance_run.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

dml_status dml_balance_run_init(dml_balance_run *b, const dml_plan *p,
                                int dp, int dp_i, int rank,
                                const dml_shares *s, dml_error *err)
{
    memset(b, 0, sizeof *b);
    b->dp_i = dp_i;
    b->rank = rank;
    if (p->par.balance != DML_BALANCE_DYNAMIC || dp < 2)
        return DML_OK;
    if (dp > DML_REBALANCE_REPLICAS_MAX)
        return dml_error_msg(err, DML_EINPUT,
                             "parallel.balance: dynamic balances at most %d "
                             "data-parallel replicas, the plan has %d",
                             DML_REBALANCE_REPLICAS_MAX, dp);
    b->on = true;
    dml_rebalance_params prm;
    dml_rebalance_params_default(&prm);
    dml_rebalance_init(&b->r, &prm, dp, dml_shares_full(s));
    if (rank == 0 && !(b->events = json_array()))
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    return DML_OK;
}

void dml_balance_run_free(dml_balance_run *b)
{
    json_decref(b->events);
    memset(b, 0, sizeof *b);
}

int dml_balance_run_replicas(const dml_balance_run *b)
{
    return b->on ? b->r.n : 0;
}

void dml_balance_run_figures(const dml_balance_run *b, double *max,
                             double compute_s, double exchange_s,
                             int64_t microbatches)
{
    if (!b->on)
        return;
    double *slot = max + DML_STEP_MAX_COUNT + 3 * b->dp_i;
    slot[0] = compute_s;
    slot[1] = exchange_s;
    slot[2] = (double)microbatches;
}

static const char *const kind_names[] = {"straggler", "recovered",
                                         "rebalance"};

static json_t *int_array(const int64_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer((json_int_t)v[i]));
    return a;
}

/* An event into the log, --json and the database (rank 0). */
static void record(dml_balance_run *b, const dml_rebalance_event *e,
                   dml_run_record *rec)
{
    char old_s[512], new_s[512], speeds[1024] = "";
    dml_rebalance_format(e->old_shares, e->n, old_s, sizeof old_s);
    dml_rebalance_format(e->new_shares, e->n, new_s, sizeof new_s);
    json_t *sp = json_array();
    for (int i = 0, at = 0; i < e->n; i++) {
        if (at < (int)sizeof speeds)
            at += snprintf(speeds + at, sizeof speeds - (size_t)at, "%s%.4g",
                           i ? "," : "", e->speed[i]);
        json_array_append_new(sp, json_real(e->speed[i]));
    }
    const char *kind = kind_names[e->kind];
    if (e->kind == DML_REBALANCE_SHARES)
        dml_log_info("balance: step %lld: shares %s -> %s%s (the slowest "
                     "replica %.2f x faster at the measured speeds)",
                     (long long)e->step, old_s, new_s,
                     e->to_equal ? ", the plan's own again" : "", e->ratio);
    else
        dml_log_info("balance: step %lld: replica %d %s (%s, %.2f x the "
                     "others' median)",
                     (long long)e->step, e->replica,
                     e->kind == DML_REBALANCE_STRAGGLER ? "is a straggler"
                                                        : "recovered",
                     e->cause, e->ratio);
    json_array_append_new(
        b->events,
        json_pack("{s:I, s:s, s:o, s:o, s:f, s:o, s:o, s:o}", "step",
                  (json_int_t)e->step, "kind", kind, "replica",
                  e->replica >= 0 ? json_integer(e->replica) : json_null(),
                  "cause", e->cause ? json_string(e->cause) : json_null(),
                  "ratio", e->ratio, "old_shares",
                  int_array(e->old_shares, e->n), "new_shares",
                  int_array(e->new_shares, e->n), "speeds", sp));
    dml_db_balance_event row = {
        .step = e->step,
        .kind = kind,
        .replica = e->replica,
        .cause = e->cause,
        .ratio = e->ratio,
        .old_shares = old_s,
        .new_shares = new_s,
        .speeds = speeds,
    };
    dml_run_record_balance(rec, &row);
}

void dml_balance_run_step(dml_balance_run *b, const dml_step_lag_entry *e,
                          dml_shares *s, dml_noise *noise,
                          dml_run_record *rec)
{
    if (!b->on)
        return;
    int n = b->r.n;
    double c[DML_REBALANCE_REPLICAS_MAX], x[DML_REBALANCE_REPLICAS_MAX];
    int64_t mb[DML_REBALANCE_REPLICAS_MAX];
    for (int i = 0; i < n; i++) {
        const double *slot = e->max + DML_STEP_MAX_COUNT + 3 * i;
        c[i] = slot[0];
        x[i] = slot[1];
        mb[i] = (int64_t)llround(slot[2]);
    }
    dml_rebalance_event ev[DML_REBALANCE_REPLICAS_MAX + 1];
    int k = dml_rebalance_observe(&b->r, e->step, c, x, mb, ev,
                                  DML_REBALANCE_REPLICAS_MAX + 1);
    for (int j = 0; j < k; j++) {
        if (ev[j].kind == DML_REBALANCE_SHARES) {
            dml_shares_set(s, ev[j].new_shares);
            noise->uneven = s->uneven;
        }
        if (b->rank == 0)
            record(b, &ev[j], rec);
    }
}

json_t *dml_balance_run_json(const dml_balance_run *b, const dml_plan *p,
                             const dml_shares *s)
{
    if (b->rank != 0)
        return NULL;
    return json_pack("{s:s, s:o, s:o}", "mode",
                     dml_balance_name(p->par.balance), "shares",
                     int_array(dml_shares_full(s), s->dp), "events",
                     b->events ? json_incref(b->events) : json_array());
}
