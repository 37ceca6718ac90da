/*
 * report_target.c: what dml-plan says when it ranks by time to a target
 * (--target-accuracy, --target-loss; convergence.h): where each
 * strategy's steps come from, each plan's predicted steps and time to
 * the target, and why the winner's strategy wins against the dense
 * allreduce of the same layout ("sync=topk:0.01 wins: 40 x fewer bytes
 * between nodes on the 12.5 MB/s link, 6 % more steps to test accuracy
 * 84 %: 3.1 x less time to it"), as text and as JSON.
 */
#include "planner/report_target.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/units.h"

static const char *source_name(dml_convergence_source s)
{
    switch (s) {
    case DML_CONV_MEASURED: return "measured";
    case DML_CONV_ASSUMED: return "assumed";
    default: return "unknown";
    }
}

/* "allreduce 420 steps (3 runs), topk:0.01 445 (2), local:16 never (1)" */
static char *history_text(const dml_convergence *c, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->count && len < size; i++) {
        const dml_convergence_entry *e = &c->e[i];
        char t[48], st[32];
        if (isfinite(e->steps))
            snprintf(st, sizeof st, "%.0f%s", e->steps,
                     i == 0 || len == 0 ? " steps" : "");
        else
            snprintf(st, sizeof st, "never");
        len += (size_t)snprintf(buf + len, size - len, "%s%s %s (%d run%s)",
                                len ? ", " : "",
                                dml_sync_spec_format(&e->sync, t, sizeof t),
                                st, e->runs, e->runs == 1 ? "" : "s");
    }
    return buf;
}

/* The prediction of c's layout with the dense allreduce; false when
 * there is none to compare with. */
static bool dense_twin(const dml_planner *p, const dml_candidate *c,
                       dml_prediction *pred, dml_costmodel_detail *d)
{
    dml_error e;
    return dml_planner_dense_twin(p, c, pred, d, &e) == DML_OK;
}

/* Gossip against the ring allreduce of the same layout, per step (no
 * target: the steps each needs are not compared). */
static char *gossip_step_sentence(const dml_planned *w,
                                  const dml_prediction *dq,
                                  const dml_costmodel_detail *dd, char *buf,
                                  size_t size)
{
    const dml_costmodel_detail *g = &w->detail;
    char t[48], a[32], b[32], c[32], d[32], e[32], f[32], x[32], y[32],
        z[32];
    double mine = g->dp_bytes_intra + g->dp_bytes_inter;
    double dense = dd->dp_bytes_intra + dd->dp_bytes_inter;
    snprintf(buf, size,
             "sync=%s %s against the ring allreduce per step (%s vs %s): "
             "it sends %s a replica (%s between nodes) where the ring "
             "sends %s (%s); its mixing follows the update (%s exposed) "
             "where the allreduce overlaps the backward pass (%s exposed of "
             "%s); the steps to a target are not compared (give "
             "--target-accuracy with measured runs)",
             dml_sync_spec_format(&w->plan.par.sync, t, sizeof t),
             w->plan.pred.step_s <= dq->step_s ? "wins" : "loses",
             dml_units_seconds(w->plan.pred.step_s, a, sizeof a),
             dml_units_seconds(dq->step_s, b, sizeof b),
             dml_units_bytes(mine, c, sizeof c),
             dml_units_bytes(g->dp_bytes_inter, d, sizeof d),
             dml_units_bytes(dense, e, sizeof e),
             dml_units_bytes(dd->dp_bytes_inter, f, sizeof f),
             dml_units_seconds(g->dp_exposed_s, x, sizeof x),
             dml_units_seconds(dd->dp_exposed_s, y, sizeof y),
             dml_units_seconds(dd->dp_comm_s, z, sizeof z));
    return buf;
}

char *dml_planner_strategy_sentence(const dml_planner *p,
                                    const dml_planned *w, char *buf,
                                    size_t size)
{
    buf[0] = '\0';
    dml_prediction dq;
    dml_costmodel_detail dd;
    bool gossip = w->plan.par.sync.kind == DML_SYNC_GOSSIP;
    if ((p->req.target.kind == DML_TARGET_NONE && !gossip) ||
        !dense_twin(p, &w->cand, &dq, &dd))
        return buf;
    if (p->req.target.kind == DML_TARGET_NONE)
        return gossip_step_sentence(w, &dq, &dd, buf, size);
    char t[48], what[64], link[32], a[32], b[32];
    dml_sync_spec_format(&w->plan.par.sync, t, sizeof t);
    dml_target_format(&p->req.target, what, sizeof what);
    dml_units_bandwidth(p->splits[w->cand.split].ctx.inter.bw_Bps, link,
                        sizeof link);
    bool inter = dd.dp_bytes_inter > 0;
    double mine = inter ? w->detail.dp_bytes_inter : w->detail.dp_bytes_intra;
    double dense = inter ? dd.dp_bytes_inter : dd.dp_bytes_intra;
    dml_sync_spec ar;
    dml_sync_spec_init(&ar);
    dml_convergence_source src;
    double steps = dml_convergence_steps(&p->conv, &w->plan.par.sync, &src);
    double dsteps = dml_convergence_steps(&p->conv, &ar, NULL);
    double time = w->plan.pred.step_s * steps, dtime = dq.step_s * dsteps;
    int n = snprintf(buf, size, "sync=%s %s against allreduce: %.3g x %s "
                     "bytes %s (%s vs %s a replica per step)",
                     t, time <= dtime || !isfinite(dtime) ? "wins" : "loses",
                     mine > 0 ? dense / mine : INFINITY,
                     mine <= dense ? "fewer" : "more",
                     inter ? "between nodes" : "inside the node",
                     dml_units_bytes(mine, a, sizeof a),
                     dml_units_bytes(dense, b, sizeof b));
    if (inter && n > 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " on the %s link", link);
    if (n < 0 || (size_t)n >= size)
        return buf;
    if (src == DML_CONV_MEASURED && isfinite(steps) && isfinite(dsteps)) {
        double pct = 100.0 * (steps - dsteps) / dsteps;
        n += snprintf(buf + n, size - (size_t)n,
                      ", %s %.0f %% %s steps to %s (%.0f vs %.0f, "
                      "measured): %.2g x %s time to it",
                      pct >= 0 ? "costs" : "needs", fabs(pct),
                      pct >= 0 ? "more" : "fewer", what, steps, dsteps,
                      time <= dtime ? dtime / time : time / dtime,
                      time <= dtime ? "less" : "more");
    } else {
        snprintf(buf + n, size - (size_t)n,
                 ", step %s vs %s; its steps to %s are %s (no measured "
                 "runs)",
                 dml_units_seconds(w->plan.pred.step_s, a, sizeof a),
                 dml_units_seconds(dq.step_s, b, sizeof b), what,
                 src == DML_CONV_ASSUMED ? "assumed allreduce's"
                                         : "unknown");
    }
    return buf;
}

void dml_planner_print_target(FILE *out, const dml_planner *p)
{
    if (p->req.target.kind == DML_TARGET_NONE || p->count < 1)
        return;
    char what[64], hist[1024];
    dml_target_format(&p->req.target, what, sizeof what);
    fprintf(out, "Ranked by predicted time to %s: step time x the steps "
            "the plan's strategy needs", what);
    if (p->conv.count > 0)
        fprintf(out, " (measured at global batch %lld: %s)",
                (long long)p->req.global_batch,
                history_text(&p->conv, hist, sizeof hist));
    else
        fprintf(out, " (no measured runs: as many for every strategy)");
    fprintf(out, ".\n #  sync            steps  source    time to target\n");
    for (int i = 0; i < p->count; i++) {
        const dml_planned *pl = &p->plans[i];
        dml_convergence_source src;
        double steps = dml_planner_steps_to_target(p, &pl->cand, &src);
        char t[48], st[32], tt[32];
        snprintf(st, sizeof st, isfinite(steps) ? "%.0f" : "-", steps);
        if (isinf(steps))
            snprintf(st, sizeof st, "never");
        fprintf(out, "%2d  %-14s %6s  %-8s  %s\n", i + 1,
                dml_sync_spec_format(&pl->plan.par.sync, t, sizeof t), st,
                source_name(src),
                isfinite(steps) ? dml_units_seconds(pl->plan.pred.step_s *
                                                        steps,
                                                    tt, sizeof tt)
                                : "-");
    }
    char why[640];
    if (dml_planner_strategy_sentence(p, &p->plans[0], why, sizeof why)[0])
        fprintf(out, "Why #1's strategy: %s.\n", why);
    fprintf(out, "\n");
}

json_t *dml_planner_target_json(const dml_planner *p)
{
    if (p->req.target.kind == DML_TARGET_NONE)
        return NULL;
    json_t *hist = json_array();
    for (int i = 0; hist && i < p->conv.count; i++) {
        const dml_convergence_entry *e = &p->conv.e[i];
        char t[48];
        json_array_append_new(
            hist, json_pack("{s:s, s:i, s:i, s:o}", "sync",
                            dml_sync_spec_format(&e->sync, t, sizeof t),
                            "runs", e->runs, "reached", e->reached, "steps",
                            isfinite(e->steps) ? json_real(e->steps)
                                               : json_null()));
    }
    char why[640];
    dml_planner_strategy_sentence(p, &p->plans[0], why, sizeof why);
    return json_pack(
        "{s:s, s:f, s:I, s:o, s:s, s:s}", "kind",
        p->req.target.kind == DML_TARGET_ACCURACY ? "test_accuracy" : "loss",
        "value", p->req.target.value, "global_batch",
        (json_int_t)p->req.global_batch, "history", hist ? hist : json_array(),
        "warning", p->conv_warning, "winner_strategy", why);
}

json_t *dml_planner_plan_target_json(const dml_planner *p,
                                     const dml_planned *pl)
{
    if (p->req.target.kind == DML_TARGET_NONE)
        return NULL;
    dml_convergence_source src;
    double steps = dml_planner_steps_to_target(p, &pl->cand, &src);
    double t = pl->plan.pred.step_s * steps;
    return json_pack("{s:o, s:s, s:f, s:o}", "steps",
                     isfinite(steps) ? json_real(steps) : json_null(),
                     "source", source_name(src), "factor",
                     dml_convergence_factor(&p->conv, &pl->plan.par.sync),
                     "time_s", isfinite(t) ? json_real(t) : json_null());
}
