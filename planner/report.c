/*
 * report.c: the human report and the JSON document (see report.h).
 */
#include "planner/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/quote.h"
#include "common/units.h"
#include "costmodel/flops.h"
#include "costmodel/presets.h"
#include "planner/explain.h"
#include "planner/report_balance.h"
#include "planner/report_target.h"

/* Text from specs, databases and the command line (names, device models,
 * paths) as it may reach a terminal: control characters escaped. */
typedef struct safe_text {
    char s[4 * DML_CLUSTER_DESC_MAX];
} safe_text;

static const char *safe(const char *s, safe_text *t)
{
    dml_quote_terminal(s ? s : "", t->s, sizeof t->s);
    return t->s;
}

/* 159 k, 1.23 M: counts at a glance. */
static char *count_text(double x, char *buf, size_t size)
{
    static const char *const u[] = {"", " k", " M", " G", " T"};
    int i = 0;
    while (fabs(x) >= 1000 && i < 4) {
        x /= 1000;
        i++;
    }
    snprintf(buf, size, i == 0 ? "%.0f%s" : "%.3g%s", x, u[i]);
    return buf;
}

/* 175 B parameters, 2 T tokens: billions and trillions, as people say
 * them about models and data. */
static char *params_text(double x, char *buf, size_t size)
{
    if (x >= 1e12)
        snprintf(buf, size, "%.3g T", x / 1e12);
    else if (x >= 1e9)
        snprintf(buf, size, "%.3g B", x / 1e9);
    else if (x >= 1e6)
        snprintf(buf, size, "%.3g M", x / 1e6);
    else if (x >= 1e3)
        snprintf(buf, size, "%.3g k", x / 1e3);
    else
        snprintf(buf, size, "%.0f", x);
    return buf;
}

/* Durations people plan with: 9.0 min, 4.3 h, 22.7 d. */
static char *duration(double s, char *buf, size_t size)
{
    if (s >= 60 && s < 3600)
        snprintf(buf, size, "%.1f min", s / 60);
    else
        dml_units_seconds(s, buf, size);
    return buf;
}

/* 1,234,567 */
static char *grouped(double x, char *buf, size_t size)
{
    char t[32];
    snprintf(t, sizeof t, "%.0f", x);
    size_t n = strlen(t), o = 0;
    for (size_t i = 0; i < n && o + 2 < size; i++) {
        buf[o++] = t[i];
        size_t left = n - 1 - i;
        if (left > 0 && left % 3 == 0 && t[i] != '-' && o + 2 < size)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

static double exposed_comm(const dml_prediction *q)
{
    return q->time.tp_comm_s + q->time.pp_comm_s + q->time.dp_comm_s;
}

static const char *unit_name(const dml_planner *p)
{
    return p->model.type == DML_MODEL_TRANSFORMER ? "tokens" : "samples";
}

/* The attention kernels the plans may use, into k (room for 2), and what
 * decided it: "--config", "model spec" or "searched" (the spec names
 * none). 0 for an MLP, which has no attention. */
static int attention_kernels(const dml_planner *p, dml_attention_impl k[2],
                             const char **source)
{
    const dml_model_spec *m = &p->model;
    if (m->type != DML_MODEL_TRANSFORMER)
        return 0;
    if (dml_planner_config_has(&p->req.config, DML_KNOB_ATTN)) {
        *source = "--config";
        k[0] = p->req.config.par.attention;
        return 1;
    }
    if (m->attention_set) {
        *source = "model spec";
        k[0] = m->attention;
        return 1;
    }
    *source = "searched";
    k[0] = DML_ATTN_MATERIALIZED;
    k[1] = DML_ATTN_FLASH;
    return 2;
}

/* "flash (model spec)", "materialized and flash (searched)"; false for an
 * MLP. */
static bool attention_source(const dml_planner *p, char *buf, size_t size)
{
    dml_attention_impl k[2];
    const char *source = "";
    int n = attention_kernels(p, k, &source);
    if (n == 0)
        return false;
    snprintf(buf, size, "%s%s%s (%s)", dml_attention_name(k[0]),
             n > 1 ? " and " : "", n > 1 ? dml_attention_name(k[1]) : "",
             source);
    return true;
}

/* The attention column of the table: "flash" or "mat". */
static const char *attention_cell(const dml_parallel_config *c)
{
    return c->attention == DML_ATTN_FLASH ? "flash" : "mat";
}

/* What --cluster this stood for: the probe run, and one passed over. */
static void print_this_probe(FILE *out, const dml_planner *p)
{
    const dml_db_probe_origin *o = &p->this_probe;
    if (o->cluster_id <= 0)
        return;
    char a[160], b[160];
    fprintf(out, "Cluster this: %s%s, links %s",
            dml_planner_probe_text(o, a, sizeof a),
            o->quick ? ", --quick" : "",
            o->link_measurements > 0 ? "measured"
                                     : "not measured (one rank: assumed)");
    if (p->this_passed.probe_run_id > 0)
        fprintf(out, "; the newer %s measured no links and was passed over",
                dml_planner_probe_text(&p->this_passed, b, sizeof b));
    fprintf(out, ".\n");
}

/* One probe run (--cluster this) as JSON. */
static json_t *probe_origin_json(const dml_db_probe_origin *o)
{
    return json_pack("{s:I, s:I, s:s, s:s, s:i, s:i, s:b, s:I}",
                     "probe_run_id", (json_int_t)o->probe_run_id,
                     "clusters_row", (json_int_t)o->cluster_id, "finished_at",
                     o->finished_at, "host", o->host, "ranks", o->ranks,
                     "nodes", o->nodes, "quick", o->quick,
                     "link_measurements", (json_int_t)o->link_measurements);
}

static json_t *this_probe_json(const dml_planner *p)
{
    json_t *j = probe_origin_json(&p->this_probe);
    if (j)
        json_object_set_new(j, "passed_over",
                            p->this_passed.probe_run_id > 0
                                ? probe_origin_json(&p->this_passed)
                                : json_null());
    return j;
}

static void print_header(FILE *out, const dml_planner *p)
{
    const dml_planner_split *s = &p->splits[p->plans[0].cand.split];
    const dml_device_spec *d = &s->cluster.groups[s->ctx.group].device;
    char params[32], b1[32], b2[32];
    safe_text t1, t2;
    double psi = dml_flops_total_params(&p->model);
    fprintf(out, "%s (%s parameters, %s", safe(p->model.name, &t1),
            params_text(psi, params, sizeof params),
            dml_dtype_name(p->model.dtype));
    if (p->model.type == DML_MODEL_TRANSFORMER)
        fprintf(out, ", sequence %lld", (long long)p->model.seq_len);
    int64_t nodes = dml_cluster_spec_nodes(&p->cluster);
    fprintf(out, ") on %s: %lld node%s x %d %s (%s each)\n",
            safe(p->cluster.name, &t1), (long long)nodes, nodes == 1 ? "" : "s",
            p->cluster.groups[0].devices_per_node, safe(d->model, &t2),
            dml_units_bytes(s->ctx.mem_bytes, b1, sizeof b1));
    print_this_probe(out, p);
    const dml_search_result *r = &p->result;
    char c1[32], c2[32], c3[32], c4[32];
    fprintf(out, "Searched %s configurations in %s (%s/s): %s fit, %s over "
            "memory, %s pruned",
            grouped((double)r->candidates, c1, sizeof c1),
            dml_units_seconds(r->elapsed_s, b1, sizeof b1),
            count_text(r->elapsed_s > 0 ? (double)r->candidates / r->elapsed_s
                                        : 0, b2, sizeof b2),
            grouped((double)r->feasible, c2, sizeof c2),
            grouped((double)r->rejected[DML_REJECT_MEMORY], c3, sizeof c3),
            grouped((double)r->pruned, c4, sizeof c4));
    if (p->auto_batch)
        fprintf(out, "; global batch searched with noise scale %.4g (%s)",
                p->noise_scale, p->noise_source);
    fprintf(out, ".\n");
    char attn[96];
    fprintf(out, "Framework %s", dml_framework_name(p->req.framework));
    if (attention_source(p, attn, sizeof attn))
        fprintf(out, "; attention %s", attn);
    if (r->feasible > p->count && p->req.top_k >= DML_PLANNER_TOP_MAX)
        fprintf(out, "; showing the best %d (at most %d plans are kept)",
                p->count, DML_PLANNER_TOP_MAX);
    fprintf(out, ".\n\n");
}

/* Plans whose calibrated interval overlaps the winner's: their order is
 * within what the calibration can tell apart. */
static void print_ties(FILE *out, const dml_planner *p, double interval_pct)
{
    if (interval_pct <= 0 || p->count < 2)
        return;
    double e = interval_pct / 100.0;
    double best_high = p->plans[0].plan.pred.step_s * (1 + e);
    int tied = 1;
    while (tied < p->count &&
           p->plans[tied].plan.pred.step_s * (1 - e) <= best_high)
        tied++;
    char a[32], b[32];
    fprintf(out, "Step times are +-%.0f%% (calibrated): #1 is %s to %s",
            interval_pct,
            dml_units_seconds(p->plans[0].plan.pred.step_s * (1 - e), a,
                              sizeof a),
            dml_units_seconds(best_high, b, sizeof b));
    if (tied > 1)
        fprintf(out, "; #1 to #%d overlap within it, so their order is not "
                     "certain (dml-plan --tune measures them).\n\n",
                tied);
    else
        fprintf(out, "; it is ahead of #2 beyond that uncertainty.\n\n");
}

static void print_table(FILE *out, const dml_planner *p)
{
    bool cpu = p->splits[0].threads_per_rank > 1 || p->split_count > 1;
    bool transformer = p->model.type == DML_MODEL_TRANSFORMER;
    /* the strategy's column where a plan does not use the flat allreduce */
    bool sync = false;
    for (int i = 0; i < p->count; i++)
        sync = sync || p->plans[i].plan.par.sync.kind != DML_SYNC_ALLREDUCE;
    fprintf(out, " #    dp  tp  pp   v  mbs    mb ZeRO recompute sp %s%s%s"
            "  batch       step   %s/s  TFLOP/s   MFU  memory/device     "
            "bubble  exp.comm\n",
            sync ? "sync         " : "", transformer ? "attn  " : "",
            cpu ? "threads " : "", transformer ? "tokens" : "sampl.");
    for (int i = 0; i < p->count; i++) {
        const dml_planned *pl = &p->plans[i];
        const dml_parallel_config *c = &pl->plan.par;
        const dml_prediction *q = &pl->plan.pred;
        char st[32], tps[32], mem[32], cap[32];
        double capacity = p->splits[pl->cand.split].ctx.mem_bytes;
        fprintf(out, "%2d %5d %3d %3d %3d %4lld %5lld %4d %-9s %2d ", i + 1,
                c->dp, c->tp, c->pp, c->v, (long long)c->mbs,
                (long long)c->microbatches, c->zero,
                dml_recompute_name(c->recompute), c->sp ? 1 : 0);
        if (sync) {
            char t[48];
            fprintf(out, "%-12s ",
                    dml_sync_spec_format(&c->sync, t, sizeof t));
        }
        if (transformer)
            fprintf(out, "%-5s ", attention_cell(c));
        if (cpu)
            fprintf(out, "%7d ", c->threads_per_rank);
        snprintf(mem, sizeof mem, "%.1f", q->mem_bytes_per_device / 1e9);
        snprintf(cap, sizeof cap, "%.0f GB", capacity / 1e9);
        if (capacity < 10e9)
            snprintf(cap, sizeof cap, "%.1f GB", capacity / 1e9);
        char memcol[48];
        snprintf(memcol, sizeof memcol, "%s / %s", mem, cap);
        double tf = q->flops_per_device / 1e12;
        fprintf(out, tf >= 1 ? "%6lld %10s %9s %8.1f %5.1f%% %-17s %5.1f%% "
                               "%7.1f%%\n"
                             : "%6lld %10s %9s %8.3g %5.1f%% %-17s %5.1f%% "
                               "%7.1f%%\n",
                (long long)pl->plan.sched.global_batch,
                dml_units_seconds(q->step_s, st, sizeof st),
                count_text(q->tokens_per_s, tps, sizeof tps), tf,
                100.0 * q->mfu, memcol,
                q->step_s > 0 ? 100.0 * q->time.bubble_s / q->step_s : 0,
                q->step_s > 0 ? 100.0 * exposed_comm(q) / q->step_s : 0);
    }
    fprintf(out, "\n");
}

static void print_schedule(FILE *out, const dml_planner *p)
{
    const dml_planned *w = &p->plans[0];
    const dml_train_schedule *s = &w->plan.sched;
    const dml_batch_advice *a = &w->advice;
    char b1[32], b2[32], b3[32];
    double per = dml_planner_sample_tokens(&p->model);
    fprintf(out, "Schedule of #1: global batch %lld", (long long)s->global_batch);
    if (p->model.type == DML_MODEL_TRANSFORMER)
        fprintf(out, " (%s tokens)", params_text((double)s->global_batch * per,
                                                 b1, sizeof b1));
    bool held = s->decay == DML_DECAY_CONSTANT || s->decay_steps <= 0;
    fprintf(out, ", %s, peak LR %.3g (%s rule from %s)",
            dml_optimizer_name(s->optimizer), s->peak_lr, a->rule,
            a->base_source);
    /* Without a length the rate is held after warmup (batch.c): say so
     * rather than name a decay and a floor it never reaches. */
    if (held)
        fprintf(out, "; warmup %lld steps, then held (no training length: "
                "--tokens T for a decay)", (long long)s->warmup_steps);
    else
        fprintf(out, ", min %.3g; warmup %lld steps, %s decay", s->min_lr,
                (long long)s->warmup_steps, dml_lr_decay_name(s->decay));
    if (!held && s->decay_steps > 0)
        fprintf(out, " over %s steps", grouped((double)s->decay_steps, b1,
                                               sizeof b1));
    if (s->ramp_count > 0)
        fprintf(out, "; batch ramp from %lld over %lld steps",
                (long long)s->ramp[0].global_batch,
                (long long)s->ramp[s->ramp_count - 1].until_step);
    fprintf(out, ".\n");
    if (a->why[0])
        fprintf(out, "Optimizer: consider %s: %s.\n",
                dml_optimizer_name(a->recommended), a->why);

    const dml_train_estimate *t = &w->train;
    if (t->known) {
        char b4[32];
        fprintf(out, "Time to train: %s %s in %s steps x %s = %s of compute",
                params_text(t->tokens, b1, sizeof b1), unit_name(p),
                grouped(t->steps, b2, sizeof b2),
                dml_units_seconds(w->plan.pred.step_s, b3, sizeof b3),
                duration(t->compute_s, b4, sizeof b4));
        if (t->ckpt_interval_s > 0) {
            char tot[32];
            fprintf(out, "; with checkpoints %s (%.3g%% expected overhead) "
                    "%s in all", t->overhead_fraction < 0.001 ? "cheap" :
                    "and failures", 100.0 * t->overhead_fraction,
                    duration(t->total_s, tot, sizeof tot));
        }
        fprintf(out, ".\n");
    } else {
        fprintf(out, "Time to train: give --tokens T for the days to "
                "train.\n");
    }
    if (t->ckpt_interval_s > 0) {
        char i1[32], i2[32], i3[32], i4[32];
        fprintf(out, "Checkpoints: every %s (%s steps; Daly's interval for "
                "a %s job MTBF on %lld nodes), %s each, written in %s.\n",
                duration(t->ckpt_interval_s, i1, sizeof i1),
                grouped(t->ckpt_interval_steps, i2, sizeof i2),
                duration(t->job_mtbf_s, i3, sizeof i3),
                (long long)w->nodes,
                dml_units_bytes(t->ckpt_bytes, i4, sizeof i4),
                duration(t->ckpt_write_s, b1, sizeof b1));
    }
}

static void print_explain(FILE *out, const dml_planner *p)
{
    const dml_planned *w = &p->plans[0];
    const dml_prediction *q = &w->plan.pred;
    const dml_costmodel_detail *d = &w->detail;
    const dml_parallel_config *c = &w->plan.par;
    char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32], b7[32], cfg[256];
    fprintf(out, "\n#1 in detail (%s, for %s), %s per step:\n",
            dml_planner_config_format(c, p->model.type, cfg, sizeof cfg),
            dml_framework_name(c->framework),
            dml_units_seconds(q->step_s, b1, sizeof b1));
    for (int i = 0; i < DML_PART_COUNT; i++) {
        double v = dml_part_seconds(&q->time, (dml_part)i);
        if (i == DML_PART_OVERHEAD && v == 0)
            continue;
        fprintf(out, "  %-26s %10s %6.1f%%\n", dml_part_name((dml_part)i),
                dml_units_seconds(v, b1, sizeof b1),
                q->step_s > 0 ? 100.0 * v / q->step_s : 0);
    }
    if (p->model.type == DML_MODEL_TRANSFORMER) {
        fprintf(out, "  one layer, one micro-batch: forward %s (GEMMs %s, "
                "memory-bound %s, TP %s), backward %s",
                dml_units_seconds(d->layer_fwd_s, b1, sizeof b1),
                dml_units_seconds(d->layer_gemm_fwd_s, b2, sizeof b2),
                dml_units_seconds(d->layer_membound_fwd_s, b3, sizeof b3),
                dml_units_seconds(d->layer_tp_fwd_s, b4, sizeof b4),
                dml_units_seconds(d->layer_bwd_s, b5, sizeof b5));
        fprintf(out, " (GEMMs %s, TP %s, recompute %s)\n",
                dml_units_seconds(d->layer_gemm_bwd_s, b1, sizeof b1),
                dml_units_seconds(d->layer_tp_bwd_s, b2, sizeof b2),
                dml_units_seconds(d->layer_recompute_s, b3, sizeof b3));
        fprintf(out, "  embedding %s and logits + loss %s per micro-batch; "
                "pipeline sends %s per micro-batch; bubble %.1f%% of the "
                "ideal pipeline\n",
                dml_units_seconds(d->embed_s, b1, sizeof b1),
                dml_units_seconds(d->head_s, b2, sizeof b2),
                dml_units_seconds(d->p2p_s, b3, sizeof b3),
                100.0 * d->bubble_fraction);
    }
    int dpn = p->splits[w->cand.split].ctx.devices_per_node;
    fprintf(out, "  collectives: ");
    if (c->tp > 1)
        fprintf(out, "TP %s over %d ranks %s; ", dml_coll_algo_name(d->tp_algo),
                c->tp, c->tp <= dpn ? "inside a node" : "across nodes");
    if (c->dp > 1 && c->sync.kind != DML_SYNC_ALLREDUCE) {
        char t[48];
        fprintf(out, "DP sync=%s over %d ranks (%s raw, %s exposed; "
                "%s to the node, %s to other nodes per replica)",
                dml_sync_spec_format(&c->sync, t, sizeof t), c->dp,
                dml_units_seconds(d->dp_comm_s, b1, sizeof b1),
                dml_units_seconds(d->dp_exposed_s, b2, sizeof b2),
                dml_units_bytes(d->dp_bytes_intra, b3, sizeof b3),
                dml_units_bytes(d->dp_bytes_inter, b4, sizeof b4));
    } else if (c->dp > 1)
        fprintf(out, "DP %s %s over %d ranks (%s raw, %s exposed)",
                c->zero ? "reduce-scatter + all-gather" : "allreduce",
                dml_coll_algo_name(d->dp_algo), c->dp,
                dml_units_seconds(d->dp_comm_s, b1, sizeof b1),
                dml_units_seconds(d->dp_exposed_s, b2, sizeof b2));
    else
        fprintf(out, "no data parallelism");
    fprintf(out, "\n");
    const dml_mem_breakdown *m = &q->mem;
    fprintf(out, "  memory of the fullest device (pipeline rank %d): params "
            "%s, gradients %s, optimizer %s, activations %s, buffers %s = "
            "%s of %s\n", d->mem_rank,
            dml_units_bytes(m->params_bytes, b1, sizeof b1),
            dml_units_bytes(m->grads_bytes, b2, sizeof b2),
            dml_units_bytes(m->optimizer_bytes, b3, sizeof b3),
            dml_units_bytes(m->activations_bytes, b4, sizeof b4),
            dml_units_bytes(m->buffers_bytes, b5, sizeof b5),
            dml_units_bytes(q->mem_bytes_per_device, b6, sizeof b6),
            dml_units_bytes(p->splits[w->cand.split].ctx.mem_bytes, b7,
                            sizeof b7));
    dml_planner_print_balance(out, w);
    if (c->mode == DML_MODE_FEDERATED)
        dml_planner_fed_explain(out, &w->plan, w->nodes, &w->fed_round);
    char strategy[640];
    if (dml_planner_strategy_sentence(p, w, strategy, sizeof strategy)[0])
        fprintf(out, "  strategy: %s\n", strategy);
    fprintf(out, "  work per step: %.4g model FLOPs (MFU %.1f%%), %.4g "
            "executed with recomputation (%.1f TFLOP/s per device)\n",
            d->model_flops, 100.0 * q->mfu, d->executed_flops,
            q->flops_per_device / 1e12);
}

/* "Where --config tp=4,pp=8 ranks: its best plan (#1 above) is #654 of
 * 2,145 feasible plans of the search without it (...); #1 is 35.0 %
 * faster: dp=...". */
static void print_config_rank(FILE *out, const dml_planner *p)
{
    const dml_config_rank *k = &p->config_rank;
    char given[256], best[256], n1[32], n2[32];
    dml_planner_config_format_fixed(&p->req.config, given, sizeof given);
    dml_planner_config_format(&k->best.par, p->model.type, best, sizeof best);
    fprintf(out, "\nWhere --config %s ranks: its best plan (#1 above) is #%s "
            "of %s feasible plans of the search without it (same model, "
            "cluster, %s and framework, %s)",
            given, grouped((double)k->rank, n1, sizeof n1),
            grouped((double)k->feasible, n2, sizeof n2),
            p->auto_batch ? "batch choices" : "batch",
            dml_framework_name(p->req.framework));
    if (!k->proposed)
        fprintf(out, ", placed among them (that search does not propose "
                "it: gpipe, selective recomputation with flash, or more "
                "recomputation than it needs to fit)");
    if (k->rank <= 1) {
        fprintf(out, "; no plan is faster.\n");
        return;
    }
    fprintf(out, "; #1 %s %.1f %% faster: %s", p->auto_batch ? "trains" : "is",
            100.0 * k->slower_fraction, best);
    if (k->best.global_batch != p->plans[0].cand.global_batch)
        fprintf(out, " at global batch %lld",
                (long long)k->best.global_batch);
    fprintf(out, ".\n");
}

void dml_planner_print(FILE *out, const dml_planner *p,
                       const dml_report_extras *x)
{
    if (p->count < 1)
        return;
    print_header(out, p);
    print_table(out, p);
    dml_planner_print_target(out, p);
    print_ties(out, p, x ? x->interval_pct : 0);
    print_schedule(out, p);
    const dml_planned *w = &p->plans[0];
    if (w->plan.par.mode == DML_MODE_FEDERATED) {
        char knobs[160], rs[32];
        fprintf(out, "Federated (%s): #1's round %s, %d clients a round "
                "(a step of dml-exec is a round).\n",
                dml_planner_fed_format(&w->plan.fed, knobs, sizeof knobs),
                dml_units_seconds(w->fed_round.round_s, rs, sizeof rs),
                w->fed_round.clients);
    }
    char why[1024];
    if (p->count > 1)
        fprintf(out, "Why #1: %s.\n",
                dml_planner_why_better(&p->plans[0].cand, &p->plans[1].cand,
                                       p->model.type, why, sizeof why));
    if (x && x->explain) {
        print_explain(out, p);
        if (p->count > 1)
            fprintf(out, "  the runner-up lost: #1 is %s.\n",
                    dml_planner_why_better(&p->plans[0].cand,
                                           &p->plans[1].cand, p->model.type,
                                           why, sizeof why));
    }
    if (p->config_rank.known)
        print_config_rank(out, p);
    safe_text t1, t2;
    if (x && x->why_not)
        fprintf(out, "\nWhy not %s? %s\n", safe(x->why_not_config, &t1),
                safe(x->why_not->text, &t2));
    if (x && (x->db_path || x->plan_file)) {
        fprintf(out, "\n");
        if (x->db_path && p->plans[0].plan.db_plan_id > 0)
            fprintf(out, "Recorded as plans %lld-%lld in %s",
                    (long long)p->plans[0].plan.db_plan_id,
                    (long long)p->plans[p->count - 1].plan.db_plan_id,
                    safe(x->db_path, &t1));
        if (x->plan_file)
            fprintf(out, "%s#1 written to %s", x->db_path ? "; " : "",
                    safe(x->plan_file, &t2));
        fprintf(out, ".\n");
    }
}

/* ---- JSON ---------------------------------------------------------------- */

/* A plan's knobs; the attention kernel for a transformer (the framework
 * is the document's, once). */
static json_t *parallel_json(const dml_parallel_config *c,
                             dml_model_type type)
{
    json_t *j = json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:i, s:s, s:b, "
                          "s:s, s:i}",
                          "dp", c->dp, "tp", c->tp, "pp", c->pp, "v", c->v,
                          "mbs", (json_int_t)c->mbs, "microbatches",
                          (json_int_t)c->microbatches, "zero", c->zero,
                          "recompute", dml_recompute_name(c->recompute),
                          "sp", (int)c->sp, "schedule",
                          dml_pp_schedule_name(c->schedule),
                          "threads_per_rank", c->threads_per_rank);
    if (j && type == DML_MODEL_TRANSFORMER)
        json_object_set_new(j, "attention",
                            json_string(dml_attention_name(c->attention)));
    char sync[48];
    if (j)
        json_object_set_new(j, "sync",
                            json_string(dml_sync_spec_format(
                                &c->sync, sync, sizeof sync)));
    if (j)
        json_object_set_new(j, "balance",
                            json_string(dml_balance_name(c->balance)));
    /* mode (sync, federated, gossip); gossip's graph apart from its knob
     * text; federated's knobs in the plan's "federated" */
    if (j)
        json_object_set_new(j, "mode",
                            json_string(dml_run_mode_name(c->mode)));
    if (j && c->sync.kind == DML_SYNC_GOSSIP) {
        char g[32];
        json_object_set_new(j, "graph",
                            json_string(dml_graph_spec_format(
                                &c->sync.graph, g, sizeof g)));
    }
    return j;
}

static json_t *prediction_json(const dml_planner *p, const dml_planned *pl)
{
    const dml_prediction *q = &pl->plan.pred;
    const dml_time_breakdown *t = &q->time;
    const dml_mem_breakdown *m = &q->mem;
    return json_pack(
        "{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, "
        "s:{s:f, s:f, s:f, s:f, s:f, s:f, s:f}, "
        "s:{s:f, s:f, s:f, s:f, s:f}, s:s, s:s}",
        "step_s", q->step_s, "tokens_per_s", q->tokens_per_s,
        "tflops_per_device", q->flops_per_device / 1e12, "mfu", q->mfu,
        "mem_bytes_per_device", q->mem_bytes_per_device,
        "mem_capacity_bytes", p->splits[pl->cand.split].ctx.mem_bytes,
        "bubble_fraction", q->step_s > 0 ? t->bubble_s / q->step_s : 0,
        "exposed_comm_fraction",
        q->step_s > 0 ? exposed_comm(q) / q->step_s : 0, "breakdown",
        "compute_s", t->compute_s, "tp_comm_s", t->tp_comm_s, "pp_comm_s",
        t->pp_comm_s, "dp_comm_s", t->dp_comm_s, "bubble_s", t->bubble_s,
        "optimizer_s", t->optimizer_s, "overhead_s", t->overhead_s,
        "memory", "params_bytes", m->params_bytes, "grads_bytes",
        m->grads_bytes, "optimizer_bytes", m->optimizer_bytes,
        "activations_bytes", m->activations_bytes, "buffers_bytes",
        m->buffers_bytes, "tp_algorithm",
        dml_coll_algo_name(pl->detail.tp_algo), "dp_algorithm",
        dml_coll_algo_name(pl->detail.dp_algo));
}

json_t *dml_planner_schedule_json(const dml_planner *p, const dml_planned *pl)
{
    (void)p;
    const dml_train_schedule *s = &pl->plan.sched;
    const dml_batch_advice *a = &pl->advice;
    const dml_train_estimate *t = &pl->train;
    json_t *ramp = json_array();
    for (int i = 0; ramp && i < s->ramp_count; i++)
        json_array_append_new(ramp, json_pack("{s:I, s:I}", "until_step",
                                              (json_int_t)s->ramp[i].until_step,
                                              "global_batch",
                                              (json_int_t)s->ramp[i]
                                                  .global_batch));
    json_t *j = json_pack(
        "{s:I, s:s, s:f, s:f, s:I, s:s, s:I, s:f, s:f, s:f, s:f, s:o, "
        "s:s, s:{s:f, s:f, s:s}, s:s, s:s}",
        "global_batch", (json_int_t)s->global_batch, "optimizer",
        dml_optimizer_name(s->optimizer), "peak_lr", s->peak_lr, "min_lr",
        s->min_lr, "warmup_steps", (json_int_t)s->warmup_steps, "decay",
        dml_lr_decay_name(s->decay), "decay_steps",
        (json_int_t)s->decay_steps, "weight_decay", s->weight_decay,
        "momentum", s->momentum, "beta1", s->beta1, "beta2", s->beta2,
        "batch_ramp", ramp ? ramp : json_array(), "lr_rule", a->rule,
        "lr_reference", "lr", a->base_lr, "batch", a->base_batch, "source",
        a->base_source, "recommended_optimizer",
        dml_optimizer_name(a->recommended), "advice", a->why);
    if (!j)
        return NULL;
    if (t->known) {
        json_object_set_new(j, "steps", json_real(t->steps));
        json_object_set_new(j, "tokens", json_real(t->tokens));
        json_object_set_new(j, "compute_s", json_real(t->compute_s));
        json_object_set_new(j, "time_to_train_s", json_real(t->total_s));
    }
    if (t->ckpt_interval_s > 0)
        json_object_set_new(
            j, "checkpoint",
            json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "interval_s",
                      t->ckpt_interval_s, "interval_steps",
                      t->ckpt_interval_steps, "bytes", t->ckpt_bytes,
                      "write_s", t->ckpt_write_s, "job_mtbf_s", t->job_mtbf_s,
                      "overhead_fraction", t->overhead_fraction));
    return j;
}

/* {"kernels": [...], "source": "--config" | "model spec" | "searched"}:
 * the attention kernels the plans may use and what decided it. */
static json_t *attention_json(const dml_planner *p)
{
    dml_attention_impl k[2];
    const char *source = "";
    int n = attention_kernels(p, k, &source);
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(dml_attention_name(k[i])));
    return json_pack("{s:o, s:s}", "kernels", a ? a : json_array(), "source",
                     source);
}

static json_t *config_rank_json(const dml_planner *p)
{
    const dml_config_rank *k = &p->config_rank;
    char given[256], best[256];
    dml_planner_config_format_fixed(&p->req.config, given, sizeof given);
    dml_planner_config_format(&k->best.par, p->model.type, best, sizeof best);
    return json_pack("{s:s, s:I, s:I, s:b, s:f, s:f, s:{s:s, s:I, s:f, "
                     "s:f}}",
                     "config", given, "rank", (json_int_t)k->rank,
                     "feasible", (json_int_t)k->feasible, "proposed",
                     (int)k->proposed, "slower_fraction", k->slower_fraction,
                     "elapsed_s", k->elapsed_s, "best", "config", best,
                     "global_batch", (json_int_t)k->best.global_batch,
                     "step_s", k->best.pred.step_s, "score_s",
                     k->best.score_s);
}

json_t *dml_planner_to_json(const dml_planner *p, const dml_report_extras *x)
{
    const dml_search_result *r = &p->result;
    json_t *rejected = json_object();
    for (int i = 1; rejected && i < DML_REJECT_COUNT; i++)
        if (r->rejected[i])
            json_object_set_new(rejected, dml_reject_name((dml_reject)i),
                                json_integer((json_int_t)r->rejected[i]));
    const dml_planner_split *s0 = &p->splits[0];
    json_t *doc = json_pack(
        "{s:i, s:{s:s, s:s, s:f, s:s, s:I}, s:{s:s, s:I, s:I, s:s, s:f}, "
        "s:{s:I, s:I, s:I, s:f, s:o}}",
        "schema_version", 1, "model", "name", p->model.name, "type",
        p->model.type == DML_MODEL_TRANSFORMER ? "transformer" : "mlp",
        "params", dml_flops_total_params(&p->model), "dtype",
        dml_dtype_name(p->model.dtype), "seq_len",
        (json_int_t)p->model.seq_len, "cluster", "name", p->cluster.name,
        "nodes", (json_int_t)dml_cluster_spec_nodes(&p->cluster), "devices",
        (json_int_t)dml_cluster_spec_devices(&p->cluster), "device",
        s0->cluster.groups[s0->ctx.group].device.model, "mem_bytes_per_device",
        s0->ctx.mem_bytes, "search", "candidates",
        (json_int_t)r->candidates, "feasible", (json_int_t)r->feasible,
        "pruned", (json_int_t)r->pruned, "elapsed_s", r->elapsed_s,
        "rejected", rejected ? rejected : json_object());
    if (!doc)
        return NULL;
    if (p->this_probe.cluster_id > 0)
        json_object_set_new(json_object_get(doc, "cluster"), "probe",
                            this_probe_json(p));
    json_object_set_new(doc, "framework",
                        json_string(dml_framework_name(p->req.framework)));
    if (p->model.type == DML_MODEL_TRANSFORMER)
        json_object_set_new(doc, "attention", attention_json(p));
    json_t *plans = json_array();
    for (int i = 0; plans && i < p->count; i++) {
        const dml_planned *pl = &p->plans[i];
        json_t *e = json_pack("{s:i, s:I, s:I, s:o, s:o, s:o}", "rank", i + 1,
                              "devices", (json_int_t)pl->plan.devices,
                              "nodes", (json_int_t)pl->nodes, "parallel",
                              parallel_json(&pl->plan.par, p->model.type),
                              "prediction",
                              prediction_json(p, pl), "schedule",
                              dml_planner_schedule_json(p, pl));
        if (e && pl->plan.db_plan_id > 0)
            json_object_set_new(e, "db_plan_id",
                                json_integer((json_int_t)pl->plan.db_plan_id));
        json_t *bj = dml_planner_balance_json(pl);
        if (e && bj)
            json_object_set_new(e, "balance", bj);
        if (e && pl->plan.par.mode == DML_MODE_FEDERATED)
            json_object_set_new(e, "federated",
                                dml_planner_fed_json(&pl->plan,
                                                     &pl->fed_round));
        json_t *tt = dml_planner_plan_target_json(p, pl);
        if (e && tt)
            json_object_set_new(e, "time_to_target", tt);
        if (!e || json_array_append_new(plans, e)) {
            json_decref(plans);
            json_decref(doc);
            return NULL;
        }
    }
    json_object_set_new(doc, "plans", plans ? plans : json_array());
    json_object_set_new(
        doc, "global_batch",
        json_pack("{s:b, s:f, s:s}", "auto", (int)p->auto_batch,
                  "noise_scale", p->noise_scale, "noise_source",
                  p->noise_source));
    if (p->count > 1) {
        char why[1024];
        json_object_set_new(doc, "winner_reason",
                            json_string(dml_planner_why_better(
                                &p->plans[0].cand, &p->plans[1].cand,
                                p->model.type, why, sizeof why)));
    }
    if (x && x->why_not) {
        const dml_why_not *w = x->why_not;
        char cfg[256] = "";
        if (w->have_best)
            dml_planner_config_format(&w->best.par, p->model.type, cfg,
                                      sizeof cfg);
        json_object_set_new(
            doc, "why_not",
            json_pack("{s:s, s:s, s:b, s:b, s:b, s:s, s:f, s:s}", "config",
                      x->why_not_config ? x->why_not_config : "", "verdict",
                      dml_reject_name(w->verdict),
                      "feasible", (int)(w->verdict == DML_REJECT_NONE),
                      "relaxed", (int)w->relaxed, "winner",
                      (int)w->is_winner, "best", cfg, "slower_fraction",
                      w->slower_fraction, "text", w->text));
    }
    if (p->config_rank.known)
        json_object_set_new(doc, "config_rank", config_rank_json(p));
    json_t *target = dml_planner_target_json(p);
    if (target)
        json_object_set_new(doc, "target", target);
    if (x && x->plan_file)
        json_object_set_new(doc, "plan_file", json_string(x->plan_file));
    if (x && x->db_path)
        json_object_set_new(doc, "db", json_string(x->db_path));
    return doc;
}

/* ---- preset lists ---------------------------------------------------------- */

static json_t *model_entry(const dml_model_spec *m)
{
    return json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:s}", "name",
                     m->name, "type",
                     m->type == DML_MODEL_TRANSFORMER ? "transformer" : "mlp",
                     "params", dml_flops_total_params(m), "layers",
                     (json_int_t)m->layers, "hidden", (json_int_t)m->hidden,
                     "heads", (json_int_t)m->heads, "seq_len",
                     (json_int_t)m->seq_len, "dtype", dml_dtype_name(m->dtype));
}

static json_t *cluster_entry(const dml_cluster_spec *c)
{
    const dml_node_group *g = &c->groups[0];
    return json_pack("{s:s, s:I, s:i, s:s, s:s, s:f}", "name", c->name,
                     "nodes", (json_int_t)dml_cluster_spec_nodes(c),
                     "devices_per_node", g->devices_per_node, "device",
                     g->device.model, "type",
                     g->device.type == DML_DEVICE_GPU ? "gpu" : "cpu",
                     "mem_bytes", g->device.mem_bytes);
}

dml_status dml_planner_list_presets(FILE *out, const char *data_dir,
                                    bool models, bool json, dml_error *err)
{
    char **names = NULL;
    size_t n = 0;
    const char *what = models ? "model" : "cluster";
    DML_CHECK(dml_costmodel_list_presets(data_dir, what, &names, &n, err));
    json_t *arr = json ? json_array() : NULL;
    dml_cluster_spec *c = models ? NULL : malloc(sizeof *c);
    dml_status s = DML_OK;
    if ((json && !arr) || (!models && !c))
        s = dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (s == DML_OK && !json && models)
        fprintf(out, "%-14s %-11s %10s %7s %7s %6s %7s  %s\n", "name",
                "type", "params", "layers", "hidden", "heads", "seq",
                "dtype");
    else if (s == DML_OK && !json)
        fprintf(out, "%-14s %5s %8s  %-28s %10s\n", "name", "nodes",
                "devices", "device", "memory");
    for (size_t i = 0; s == DML_OK && i < n; i++) {
        char b[32];
        safe_text t1, t2;
        if (models) {
            dml_model_spec m;
            s = dml_model_spec_load(names[i], data_dir, &m, err);
            if (s != DML_OK)
                break;
            if (json) {
                json_array_append_new(arr, model_entry(&m));
                continue;
            }
            fprintf(out, "%-14s %-11s %10s %7lld %7lld %6lld %7lld  %s\n",
                    safe(m.name, &t1),
                    m.type == DML_MODEL_TRANSFORMER ? "transformer" : "mlp",
                    count_text(dml_flops_total_params(&m), b, sizeof b),
                    (long long)m.layers, (long long)m.hidden,
                    (long long)m.heads, (long long)m.seq_len,
                    dml_dtype_name(m.dtype));
        } else {
            s = dml_cluster_spec_load(names[i], data_dir, c, err);
            if (s != DML_OK)
                break;
            if (json) {
                json_array_append_new(arr, cluster_entry(c));
                continue;
            }
            fprintf(out, "%-14s %5lld %8d  %-28s %10s\n", safe(c->name, &t1),
                    (long long)dml_cluster_spec_nodes(c),
                    c->groups[0].devices_per_node,
                    safe(c->groups[0].device.model, &t2),
                    dml_units_bytes(c->groups[0].device.mem_bytes, b,
                                    sizeof b));
        }
    }
    if (s == DML_OK && json) {
        json_t *doc = json_pack("{s:i, s:o}", "schema_version", 1,
                                models ? "models" : "clusters", arr);
        arr = NULL;
        if (!doc || json_dumpf(doc, out, JSON_INDENT(2) |
                                             JSON_PRESERVE_ORDER))
            s = dml_error_msg(err, DML_ENOMEM, "out of memory");
        else
            fputc('\n', out);
        json_decref(doc);
    }
    json_decref(arr);
    free(c);
    dml_costmodel_list_free(names, n);
    return s;
}
