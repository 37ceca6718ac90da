/*
 * planner.c: inputs, device splits, the search and the plans it yields,
 * and --why-not (see planner.h).
 */
#include "planner/planner.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "common/log.h"
#include "costmodel/flops.h"
#include "common/units.h"
#include "costmodel/presets.h"
#include "db/cluster_query.h"
#include "db/db.h"
#include "planner/explain.h"

void dml_planner_request_init(dml_planner_request *r)
{
    memset(r, 0, sizeof *r);
    r->top_k = 5;
    r->optimizer = DML_OPT_ADAMW;
    r->framework = DML_FRAMEWORK_MEGATRON;
    dml_planner_config_init(&r->config);
}

/* "unknown model "x"; presets: a, b, c" for a name that is not a file. */
static dml_status unknown_preset(const char *what, const char *name,
                                 const char *data_dir, dml_error *err)
{
    char **names = NULL;
    size_t n = 0;
    dml_error e2;
    char list[768] = "";
    if (dml_costmodel_list_presets(data_dir, what, &names, &n, &e2) ==
        DML_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                     names[i]);
        }
        dml_costmodel_list_free(names, n);
    }
    return dml_error_msg(err, DML_ENOTFOUND, "unknown %s \"%.64s\"; presets: "
                         "%s (or give a .json file)", what, name,
                         list[0] ? list : "none found");
}

const char *dml_planner_probe_text(const dml_db_probe_origin *o, char *buf,
                                   size_t size)
{
    snprintf(buf, size, "probe run %lld (%d rank%s on %d node%s%s%s, %s)",
             (long long)o->probe_run_id, o->ranks, o->ranks == 1 ? "" : "s",
             o->nodes, o->nodes == 1 ? "" : "s", o->host[0] ? ", host " : "",
             o->host, o->finished_at[0] ? o->finished_at : "time unknown");
    return buf;
}

/* The spec of the probe --cluster this stands for (db/cluster_query.h),
 * and a warning when it measured no links or a newer probe that measured
 * none was passed over for it: which probe it is, the report says. */
static dml_status load_this_cluster(dml_planner *p, dml_error *err)
{
    dml_db *db = NULL;
    DML_CHECK(dml_db_once_read(p->db, &db, err));
    char *text = NULL;
    dml_status s = dml_db_this_cluster(db, &text, &p->this_probe,
                                       &p->this_passed, err);
    if (s != DML_OK)
        return s;
    p->cluster_db_id = p->this_probe.cluster_id;
    char a[160], b[160];
    if (p->this_passed.probe_run_id > 0)
        dml_log_warn("--cluster this: the newest probe, %s, measured no "
                     "communication between ranks; planning with %s, the "
                     "newest that did (probe under mpirun, a rank per "
                     "device, to replace it)",
                     dml_planner_probe_text(&p->this_passed, a, sizeof a),
                     dml_planner_probe_text(&p->this_probe, b, sizeof b));
    else if (p->this_probe.link_measurements == 0)
        dml_log_warn("--cluster this: %s measured no communication between "
                     "ranks; the links are the spec's assumptions, not "
                     "measurements (probe under mpirun, a rank per device)",
                     dml_planner_probe_text(&p->this_probe, a, sizeof a));
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    free(text);
    if (!j)
        return dml_error_msg(err, DML_EINPUT,
                             "the cluster spec recorded by dml-probe (clusters "
                             "row %lld) is not JSON: %s",
                             (long long)p->cluster_db_id, je.text);
    char name[64];
    snprintf(name, sizeof name, "<clusters row %lld>",
             (long long)p->cluster_db_id);
    s = dml_cluster_spec_from_json(j, name, &p->cluster, err);
    json_decref(j);
    return s;
}

static dml_status measured_noise_scale(dml_planner *p, dml_error *err)
{
    const char *path = p->db->path;
    const char *ask = "pass --noise-scale B (the gradient noise scale in "
                      "samples), or a fixed --global-batch, or measure one "
                      "with dml-exec";
    dml_db *db = NULL;
    dml_error e2;
    if (dml_db_once_read(p->db, &db, &e2) != DML_OK)
        return dml_error_msg(err, DML_EUSAGE,
                             "--global-batch auto needs a noise scale and "
                             "there is no database at %s: %s", path, ask);
    int64_t run = 0, n = 0;
    double b = 0;
    dml_status s = dml_db_latest_noise_scale(db, p->model.name, &b, &run, &n,
                                             &e2);
    if (s == DML_ENOTFOUND)
        return dml_error_msg(err, DML_EUSAGE,
                             "--global-batch auto needs a noise scale and "
                             "%s holds none for %s: %s", path, p->model.name,
                             ask);
    if (s != DML_OK) {
        *err = e2;
        return s;
    }
    p->noise_scale = b;
    snprintf(p->noise_source, sizeof p->noise_source,
             "measured by dml-exec (run %lld, median of %lld steps)",
             (long long)run, (long long)n);
    return DML_OK;
}

/* The fewest cores of any group's device (1 when none says): what a CPU
 * plan may give one rank's threads. */
static int min_cores(const dml_cluster_spec *c)
{
    int m = 0;
    for (int i = 0; i < c->group_count; i++)
        if (m == 0 || c->groups[i].device.cores < m)
            m = c->groups[i].device.cores;
    return m > 0 ? m : 1;
}

static bool all_cpu(const dml_cluster_spec *c)
{
    for (int i = 0; i < c->group_count; i++)
        if (c->groups[i].device.type != DML_DEVICE_CPU)
            return false;
    return c->group_count > 0;
}

/* The cost model for one split, with the calibration when there is one;
 * the calibration's memory headroom shrinks what a device offers. */
/* s's cost model for p's model on s's cluster, with calib (NULL: none)
 * and mem_extra_bytes of memory headroom kept free. */
static dml_status prepare_split(const dml_planner *p, dml_planner_split *s,
                                const dml_costmodel_calib *calib,
                                double mem_extra_bytes, dml_error *err)
{
    dml_costmodel_options opt;
    dml_costmodel_options_init(&opt);
    opt.optimizer = p->req.optimizer;
    if (calib)
        opt.calib = *calib;
    DML_CHECK(dml_costmodel_prepare(&p->model, &s->cluster, &opt, &s->ctx,
                                    err));
    if (mem_extra_bytes > 0 && mem_extra_bytes < s->ctx.mem_bytes)
        s->ctx.mem_bytes -= mem_extra_bytes;
    return DML_OK;
}

dml_status dml_planner_apply_calibration(dml_planner *p,
                                         const dml_costmodel_calib *calib,
                                         int64_t calibration_id,
                                         double mem_extra_bytes,
                                         dml_error *err)
{
    p->req.calib = calib;
    p->req.calibration_id = calibration_id;
    for (int i = 0; i < p->split_count; i++)
        DML_CHECK(prepare_split(p, &p->splits[i], calib, mem_extra_bytes,
                                err));
    if (p->split_count > 0)
        p->mem_capacity_bytes = p->splits[0].ctx.mem_bytes;
    return DML_OK;
}

static dml_status add_split(dml_planner *p, int k, int64_t devices,
                            dml_error *err)
{
    if (p->split_count >= DML_PLANNER_SPLITS_MAX)
        return DML_OK;
    dml_planner_split *s = &p->splits[p->split_count];
    dml_cluster_spec_cut_devices(&p->cluster, k, &s->cluster);
    DML_CHECK(prepare_split(p, s, p->req.calib, 0, err));
    s->devices = devices;
    s->threads_per_rank = all_cpu(&p->cluster)
                              ? s->cluster.groups[s->ctx.group].device.cores
                              : 1;
    int dpn = s->ctx.devices_per_node > 0 ? s->ctx.devices_per_node : 1;
    s->nodes = (devices + dpn - 1) / dpn;
    p->split_count++;
    return DML_OK;
}

static dml_status make_splits(dml_planner *p, dml_error *err)
{
    const dml_planner_request *r = &p->req;
    int64_t total = dml_cluster_spec_devices(&p->cluster);
    bool cpu = all_cpu(&p->cluster);
    bool fix_threads = dml_planner_config_has(&r->config, DML_KNOB_THREADS);
    p->splits = calloc(DML_PLANNER_SPLITS_MAX, sizeof *p->splits);
    if (!p->splits)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    if (!cpu) {
        if (fix_threads && r->config.par.threads_per_rank != 1)
            return dml_error_msg(err, DML_EUSAGE,
                                 "--config: threads applies to CPU clusters, "
                                 "%s has %s devices", p->cluster.name,
                                 p->cluster.groups[0].device.model);
        int64_t d = r->devices > 0 ? r->devices : total;
        if (d > total)
            return dml_error_msg(err, DML_EUSAGE,
                                 "--devices %lld: %s has %lld devices in "
                                 "%lld nodes (add --nodes)", (long long)d,
                                 p->cluster.name, (long long)total,
                                 (long long)dml_cluster_spec_nodes(
                                     &p->cluster));
        return add_split(p, 1, d, err);
    }
    int cores = min_cores(&p->cluster);
    if (fix_threads) {
        int t = r->config.par.threads_per_rank;
        if (t > cores || cores % t)
            return dml_error_msg(err, DML_EUSAGE,
                                 "--config: threads=%d must divide the %d "
                                 "cores of a device of %s", t, cores,
                                 p->cluster.name);
        int k = cores / t;
        int64_t d = r->devices > 0 ? r->devices : total * k;
        if (d > total * k)
            return dml_error_msg(err, DML_EUSAGE,
                                 "--devices %lld with threads=%d: %s has "
                                 "room for %lld such ranks", (long long)d, t,
                                 p->cluster.name, (long long)(total * k));
        return add_split(p, k, d, err);
    }
    if (r->devices > 0) {
        for (int k = 1; k <= cores; k++)
            if (cores % k == 0 && total * k >= r->devices)
                return add_split(p, k, r->devices, err);
        return dml_error_msg(err, DML_EUSAGE,
                             "--devices %lld: %s has %lld devices of %d "
                             "cores, room for at most %lld ranks",
                             (long long)r->devices, p->cluster.name,
                             (long long)total, cores,
                             (long long)(total * cores));
    }
    for (int k = 1; k <= cores; k++)
        if (cores % k == 0)
            DML_CHECK(add_split(p, k, total * k, err));
    return DML_OK;
}

dml_planner_space dml_planner_space_of(const dml_planner *p, int split)
{
    const dml_planner_split *s = &p->splits[split];
    dml_planner_space sp;
    memset(&sp, 0, sizeof sp);
    sp.model = &p->model;
    sp.devices = s->devices;
    sp.devices_per_node = s->ctx.devices_per_node;
    sp.allow_cross_node_tp = p->req.allow_cross_node_tp;
    sp.executor_only = p->model.type == DML_MODEL_MLP;
    sp.mem_capacity_bytes = s->ctx.mem_bytes;
    sp.framework = p->req.framework;
    return sp;
}

/* Powers of two and 1.5x them from B_noise/16 to 16 B_noise. */
static void batch_choices(dml_planner *p)
{
    double lo = p->noise_scale / 16, hi = p->noise_scale * 16;
    if (lo < 1)
        lo = 1;
    if (hi > 67108864.0)
        hi = 67108864.0;
    p->batch_count = 0;
    for (int64_t b = 1; (double)b <= hi && b > 0; b *= 2) {
        int64_t c[2] = {b, b + b / 2};
        for (int i = 0; i < 2; i++)
            if ((double)c[i] >= lo && (double)c[i] <= hi &&
                (i == 0 || c[1] != c[0]) &&
                p->batch_count < DML_PLANNER_BATCHES_MAX)
                p->batches[p->batch_count++] = c[i];
    }
}

static dml_status check_inputs(dml_planner *p, dml_error *err)
{
    const dml_planner_request *r = &p->req;
    if ((r->base_lr > 0) != (r->base_batch > 0))
        return dml_error_msg(err, DML_EUSAGE,
                             "--base-lr and --base-batch go together (the "
                             "learning rate tuned at that global batch)");
    if (r->top_k < 1 || r->top_k > DML_PLANNER_TOP_MAX)
        return dml_error_msg(err, DML_EUSAGE, "--top: %d is not in 1..%d",
                             r->top_k, DML_PLANNER_TOP_MAX);
    if (r->seq > 0) {
        if (p->model.type != DML_MODEL_TRANSFORMER)
            return dml_error_msg(err, DML_EUSAGE,
                                 "--seq: %s is an mlp, which has no sequence",
                                 p->model.name);
        p->model.seq_len = r->seq;
        dml_error e2;
        if (dml_model_spec_validate(&p->model, &e2) != DML_OK)
            return dml_error_msg(err, DML_EUSAGE, "--seq %lld: %s",
                                 (long long)r->seq, e2.msg);
    }
    if (r->global_batch > 0) {
        p->auto_batch = false;
    } else {
        p->auto_batch = true;
        if (r->noise_scale > 0) {
            p->noise_scale = r->noise_scale;
            snprintf(p->noise_source, sizeof p->noise_source,
                     "--noise-scale");
        } else {
            DML_CHECK(measured_noise_scale(p, err));
        }
        batch_choices(p);
    }
    if (r->noise_scale > 0 && !p->auto_batch) {
        p->noise_scale = r->noise_scale;
        snprintf(p->noise_source, sizeof p->noise_source, "--noise-scale");
    }
    dml_batch_inputs *b = &p->batch_in;
    memset(b, 0, sizeof *b);
    b->optimizer = r->optimizer;
    b->base_lr = r->base_lr;
    b->base_batch = r->base_batch;
    b->tokens = r->tokens;
    b->auto_batch = p->auto_batch;
    b->noise_scale = p->noise_scale;
    b->ramp_tokens = r->ramp_tokens;
    return DML_OK;
}

/*
 * With a target (--target-accuracy, --target-loss): the history of this
 * model at this batch (convergence.h), the strategies the search tries
 * and each one's convergence factor, and the one warning line when the
 * history does not say what a searched strategy costs. Steps to a target
 * are measured at one global batch, so the batch must be fixed.
 */
static dml_status prepare_convergence(dml_planner *p, dml_error *err)
{
    const dml_planner_request *r = &p->req;
    p->conv_warning[0] = '\0';
    if (r->target.kind == DML_TARGET_NONE)
        return DML_OK;
    if (p->auto_batch)
        return dml_error_msg(err, DML_EUSAGE,
                             "--target-%s needs a fixed --global-batch: "
                             "steps to a target are measured at one batch",
                             r->target.kind == DML_TARGET_LOSS ? "loss"
                                                               : "accuracy");
    DML_CHECK(dml_convergence_load(p->db, p->model.name,
                                   r->global_batch, &r->target, &p->conv,
                                   err));
    p->nsyncs = dml_convergence_strategies(&p->conv, p->syncs,
                                           DML_SEARCH_SYNC_MAX);
    for (int i = 0; i < p->nsyncs; i++)
        p->sync_factor[i] = dml_convergence_factor(&p->conv, &p->syncs[i]);
    bool fixed = dml_planner_config_has(&r->config, DML_KNOB_SYNC);
    if (!dml_convergence_warning(&p->conv, p->model.name, r->global_batch,
                                 fixed ? &r->config.par.sync : p->syncs,
                                 fixed ? 1 : p->nsyncs, p->conv_warning,
                                 sizeof p->conv_warning))
        p->conv_warning[0] = '\0';
    return DML_OK;
}

dml_status dml_planner_new(const dml_planner_request *req, dml_planner **out,
                           dml_error *err)
{
    *out = NULL;
    dml_planner *p = calloc(1, sizeof *p);
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    p->req = *req;
    dml_db_once_init(&p->own_db, dml_db_default_path(req->db_path));
    p->db = req->db ? req->db : &p->own_db;
    const char *data_dir = dml_costmodel_data_dir(req->data_dir);
    dml_status s = DML_OK;
    if (!req->model || !req->model[0])
        s = dml_error_msg(err, DML_EUSAGE, "--model is required (see "
                                           "--list-models)");
    else if (!req->cluster || !req->cluster[0])
        s = dml_error_msg(err, DML_EUSAGE, "--cluster is required (a "
                                           "preset, a spec file, or this)");
    if (s == DML_OK) {
        s = dml_model_spec_load(req->model, data_dir, &p->model, err);
        if (s == DML_ENOTFOUND && !dml_costmodel_is_path(req->model))
            s = unknown_preset("model", req->model, data_dir, err);
    }
    if (s == DML_OK && strcmp(req->cluster, "this") == 0) {
        s = load_this_cluster(p, err);
    } else if (s == DML_OK) {
        s = dml_cluster_spec_load(req->cluster, data_dir, &p->cluster, err);
        if (s == DML_ENOTFOUND && !dml_costmodel_is_path(req->cluster))
            s = unknown_preset("cluster", req->cluster, data_dir, err);
    }
    int64_t nodes = req->nodes;
    if (s == DML_OK && nodes <= 0 && req->devices > 0 &&
        !all_cpu(&p->cluster) && p->cluster.group_count == 1 &&
        req->devices > dml_cluster_spec_devices(&p->cluster)) {
        /* --devices alone asks for as many nodes as that takes */
        int dpn = p->cluster.groups[0].devices_per_node;
        nodes = (req->devices + dpn - 1) / dpn;
    }
    if (s == DML_OK && nodes > 0) {
        s = dml_cluster_spec_scale_nodes(&p->cluster, nodes, err);
        if (s != DML_OK)
            dml_error_prefix(err, "--nodes %lld: ", (long long)nodes);
    }
    if (s == DML_OK)
        s = check_inputs(p, err);
    if (s == DML_OK)
        s = prepare_convergence(p, err);
    if (s == DML_OK)
        s = make_splits(p, err);
    if (s == DML_OK) {
        p->mem_capacity_bytes = p->splits[0].ctx.mem_bytes;
        dml_planner_space sp = dml_planner_space_of(p, 0);
        char msg[DML_PLANNER_MSG_MAX];
        if (req->config.fixed &&
            dml_planner_check_fixed(&sp, &req->config, req->global_batch,
                                    msg, sizeof msg) != DML_REJECT_NONE)
            s = dml_error_msg(err, DML_EINPUT, "--config: %s", msg);
    }
    if (s != DML_OK) {
        dml_planner_free(p);
        return s;
    }
    *out = p;
    return DML_OK;
}

void dml_planner_free(dml_planner *p)
{
    if (!p)
        return;
    free(p->splits);
    free(p->plans);
    dml_search_result_free(&p->result);
    dml_db_once_close(&p->own_db);
    free(p);
}

/* Run the search of every split with fixed knobs c into r. */
static dml_status search_all(const dml_planner *p,
                             const dml_planner_config *c,
                             dml_search_result *r, dml_error *err)
{
    for (int i = 0; i < p->split_count; i++) {
        const dml_planner_split *s = &p->splits[i];
        dml_search_request q;
        memset(&q, 0, sizeof q);
        q.ctx = &s->ctx;
        q.space = dml_planner_space_of(p, i);
        q.fixed = *c;
        q.fixed.par.threads_per_rank = s->threads_per_rank;
        q.global_batch = p->auto_batch ? 0 : p->req.global_batch;
        q.batches = p->batches;
        q.batch_count = p->batch_count;
        q.noise_scale = p->noise_scale;
        double per_sample = dml_planner_sample_tokens(&p->model);
        q.s_min = p->req.tokens > 0 && p->noise_scale > 0
                      ? p->req.tokens / (per_sample * p->noise_scale)
                      : 1.0;
        q.split = i;
        q.prune = true;
        if (p->req.target.kind != DML_TARGET_NONE) {
            /* rank by time to the target: every strategy, each with the
             * steps it costs (prepare_convergence) */
            q.syncs = p->syncs;
            q.sync_factor = p->sync_factor;
            q.nsyncs = p->nsyncs;
            if (dml_planner_config_has(c, DML_KNOB_SYNC))
                q.fixed_factor = dml_convergence_factor(&p->conv,
                                                        &c->par.sync);
        }
        DML_CHECK(dml_planner_search(&q, r, err));
    }
    dml_search_result_finish(r);
    return DML_OK;
}

static char *describe(const dml_planner *p, const dml_candidate *c,
                      char *buf, size_t size)
{
    char cfg[256];
    snprintf(buf, size, "%s with %lld micro-batches",
             dml_planner_config_format(&c->par, p->model.type, cfg,
                                       sizeof cfg),
             (long long)c->par.microbatches);
    return buf;
}

static dml_status infeasible(const dml_planner *p, const dml_search_result *r,
                             dml_error *err)
{
    dml_reject main = dml_search_main_rejection(r);
    char cfg[384];
    if (main == DML_REJECT_MEMORY && r->have_smallest) {
        const dml_candidate *c = &r->smallest;
        return dml_error_msg(
            err, DML_EINFEASIBLE,
            "no plan fits in memory: %lld configuration%s priced, none fits; "
            "the leanest (%s) needs %.1f GB per device and the devices have "
            "%.1f GB (more devices: --nodes; or a smaller --seq or batch)",
            (long long)r->candidates, r->candidates == 1 ? "" : "s",
            describe(p, c, cfg, sizeof cfg),
            c->pred.mem_bytes_per_device / 1e9,
            p->splits[c->split].ctx.mem_bytes / 1e9);
    }
    if (main != DML_REJECT_NONE) {
        int64_t total = r->pruned;
        for (int i = 1; i < DML_REJECT_COUNT; i++)
            total += r->rejected[i];
        return dml_error_msg(err, DML_EINFEASIBLE,
                             "no feasible plan: of %lld configurations ruled "
                             "out, %lld were because %s",
                             (long long)total, (long long)r->rejected[main],
                             r->example[main]);
    }
    return dml_error_msg(err, DML_EINFEASIBLE,
                         "no feasible plan: no configuration to try");
}

/* On a cluster of unequal groups: the even and balanced steps, and under
 * balance=static or dynamic the balanced shares and boundaries into the
 * plan (before it is priced, so that its prediction is theirs). */
static dml_status balance_plan(const dml_costmodel_ctx *ctx, dml_plan *pl,
                               dml_balance_summary *sum, dml_error *err)
{
    memset(sum, 0, sizeof *sum);
    if (!ctx->hetero)
        return DML_OK;
    dml_costmodel_balance *b = malloc(sizeof *b);
    if (!b)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_status st = dml_costmodel_balance_of(ctx, &pl->par, NULL, 0, b, err);
    if (st == DML_OK) {
        *sum = b->sum;
        if (pl->par.balance != DML_BALANCE_EQUAL) {
            if (b->stages_balanced && pl->par.v == 1)
                memcpy(pl->stages, b->stages,
                       (size_t)pl->par.pp * sizeof pl->stages[0]);
            pl->share_count = b->share_count;
            memcpy(pl->shares, b->shares,
                   (size_t)b->share_count * sizeof pl->shares[0]);
        }
    }
    free(b);
    return st;
}

/* split: the candidate's split, or another with the same cluster cut and
 * a differently prepared cost model (dml_planner_repredict). */
static dml_status make_plan_in(const dml_planner *p,
                               const dml_planner_split *s,
                               const dml_candidate *c, dml_planned *out,
                               dml_error *err)
{
    memset(out, 0, sizeof *out);
    out->cand = *c;
    dml_plan *pl = &out->plan;
    dml_plan_init(pl);
    pl->model = p->model;
    snprintf(pl->cluster_name, sizeof pl->cluster_name, "%s",
             p->cluster.name);
    snprintf(pl->cluster_fingerprint, sizeof pl->cluster_fingerprint, "%s",
             p->cluster.fingerprint);
    pl->par = c->par;
    /* mode=federated: the search laid out a sync step of whole replicas
     * (config.c fixes tp, pp, zero and sync for it); the plan trains
     * clients in rounds with the request's federated knobs */
    if (p->req.config.par.mode == DML_MODE_FEDERATED &&
        dml_planner_config_has(&p->req.config, DML_KNOB_MODE)) {
        pl->par.mode = out->cand.par.mode = DML_MODE_FEDERATED;
        pl->fed = p->req.config.fed;
    }
    pl->devices = (int64_t)c->par.dp * c->par.tp * c->par.pp;
    DML_CHECK(dml_plan_split_stages(pl, err));
    DML_CHECK(balance_plan(&s->ctx, pl, &out->balance, err));
    double steps = dml_planner_train_steps(&p->model, &p->batch_in,
                                           c->global_batch);
    DML_CHECK(dml_planner_check_steps(&p->model, &p->batch_in,
                                      c->global_batch, steps, err));
    dml_planner_schedule(&p->model, &p->batch_in, &pl->par, c->global_batch,
                         steps, &pl->sched, &out->advice);
    DML_CHECK(dml_costmodel_predict_plan(&s->ctx, pl, &out->detail, err));
    dml_status st = dml_plan_validate(pl, err);
    if (st != DML_OK) {
        dml_error_prefix(err, "internal: the plan made is not valid: ");
        return DML_ERUNTIME;
    }
    int dpn = s->ctx.devices_per_node > 0 ? s->ctx.devices_per_node : 1;
    out->nodes = (pl->devices + dpn - 1) / dpn;
    if (pl->par.mode == DML_MODE_FEDERATED)
        dml_planner_fed_round(&s->ctx, pl, out->nodes, &out->fed_round);
    dml_planner_train_estimate(&p->model, &s->cluster, out->nodes,
                               &p->batch_in, c->global_batch,
                               pl->pred.step_s, &s->ctx.state, &out->train);
    return DML_OK;
}

static dml_status make_plan(const dml_planner *p, const dml_candidate *c,
                            dml_planned *out, dml_error *err)
{
    return make_plan_in(p, &p->splits[c->split], c, out, err);
}

dml_status dml_planner_repredict(const dml_planner *p, const dml_planned *in,
                                 const dml_costmodel_calib *calib,
                                 double mem_extra_bytes, dml_planned *out,
                                 dml_error *err)
{
    if (in->cand.split < 0 || in->cand.split >= p->split_count)
        return dml_error_msg(err, DML_ERUNTIME,
                             "internal: plan of split %d, the planner has %d",
                             in->cand.split, p->split_count);
    /* the split (its context is large): off the stack */
    dml_planner_split *s = malloc(sizeof *s);
    if (!s)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    *s = p->splits[in->cand.split];
    dml_status st = prepare_split(p, s, calib, mem_extra_bytes, err);
    if (st == DML_OK)
        st = make_plan_in(p, s, &in->cand, out, err);
    free(s);
    return st;
}

/* A malloc'd search result and what it holds. */
static void drop_result(dml_search_result *r)
{
    dml_search_result_free(r);
    free(r);
}

/*
 * p->config_rank: the search once more without the fixed knobs, counting
 * the feasible plans that rank ahead of plans[0] rather than keeping them
 * (memory stays that of one plan). The same search as without --config,
 * pruning included, so that its count is the "fit" a plain run reports
 * and its order that of --top all.
 */
static dml_status rank_config(dml_planner *p, dml_error *err)
{
    dml_config_rank *k = &p->config_rank;
    memset(k, 0, sizeof *k);
    dml_search_result *all = malloc(sizeof *all);
    if (!all)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_search_result_init(all, 1);
    all->rank.on = true;
    all->rank.target = p->plans[0].cand;
    dml_planner_config none;
    dml_planner_config_init(&none);
    dml_status s = search_all(p, &none, all, err);
    if (s == DML_OK) {
        const dml_candidate *t = &all->rank.target;
        k->known = true;
        k->proposed = all->rank.seen;
        k->rank = all->rank.before + 1;
        k->feasible = all->feasible + (k->proposed ? 0 : 1);
        k->best = all->count > 0 && dml_candidate_better(&all->top[0], t)
                      ? all->top[0]
                      : *t;
        k->slower_fraction =
            k->best.score_s > 0
                ? (t->score_s - k->best.score_s) / k->best.score_s
                : 0;
        k->elapsed_s = all->elapsed_s;
    }
    drop_result(all);
    return s;
}

dml_status dml_planner_run(dml_planner *p, dml_error *err)
{
    dml_search_result_free(&p->result);
    memset(&p->config_rank, 0, sizeof p->config_rank);
    dml_search_result_init(&p->result, p->req.top_k);
    DML_CHECK(search_all(p, &p->req.config, &p->result, err));
    if (p->result.count == 0)
        return infeasible(p, &p->result, err);
    free(p->plans);
    p->plans = calloc((size_t)p->result.count, sizeof *p->plans);
    if (!p->plans)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int i = 0; i < p->result.count; i++)
        DML_CHECK(make_plan(p, &p->result.top[i], &p->plans[i], err));
    p->count = p->result.count;
    if (p->req.config.fixed)
        DML_CHECK(rank_config(p, err));
    return DML_OK;
}

double dml_planner_steps_to_target(const dml_planner *p,
                                   const dml_candidate *c,
                                   dml_convergence_source *src)
{
    if (p->req.target.kind == DML_TARGET_NONE) {
        if (src)
            *src = DML_CONV_UNKNOWN;
        return NAN;
    }
    return dml_convergence_steps(&p->conv, &c->par.sync, src);
}

dml_status dml_planner_dense_twin(const dml_planner *p,
                                  const dml_candidate *c, dml_prediction *pred,
                                  dml_costmodel_detail *detail,
                                  dml_error *err)
{
    if (dml_convergence_same_math(&c->par.sync) || c->split < 0 ||
        c->split >= p->split_count)
        return dml_error_msg(err, DML_ENOTFOUND, "no dense twin");
    dml_parallel_config par = c->par;
    dml_sync_spec_init(&par.sync);
    DML_CHECK(dml_costmodel_step_time(&p->splits[c->split].ctx, &par, NULL,
                                      0, pred, detail, err));
    if (pred->mem_bytes_per_device > p->splits[c->split].ctx.mem_bytes)
        return dml_error_msg(err, DML_ENOTFOUND, "the dense twin does not "
                             "fit");
    return DML_OK;
}

/* ---- --why-not ------------------------------------------------------------ */

/* "mbs 2, recompute none, zero 1, sp 1": the knobs a relaxed search may
 * change. */
static char *options_text(const dml_parallel_config *c, char *buf,
                          size_t size)
{
    snprintf(buf, size, "mbs %lld, recompute %s, ZeRO %d%s", (long long)c->mbs,
             dml_recompute_name(c->recompute), c->zero,
             c->tp > 1 ? (c->sp ? ", sp 1" : ", sp 0") : "");
    return buf;
}

static void append_text(dml_why_not *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void append_text(dml_why_not *w, const char *fmt, ...)
{
    size_t n = strlen(w->text);
    if (n >= sizeof w->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text + n, sizeof w->text - n, fmt, ap);
    va_end(ap);
}

/*
 * The variants of best one step less frugal in a knob c leaves free (the
 * next larger micro-batch, one step less recomputation, one ZeRO stage
 * less, sequence parallelism off): of those faster than best, which
 * are over memory by construction, the one missing it by the least. What
 * a user weighing "would mbs 2 fit?" wants to hear.
 */
static bool near_miss(const dml_planner *p, const dml_planner_config *c,
                      const dml_candidate *best, dml_candidate *out)
{
    const dml_planner_split *sp = &p->splits[best->split];
    dml_planner_space space = dml_planner_space_of(p, best->split);
    dml_parallel_config v[4];
    int n = 0;
    const dml_parallel_config *b = &best->par;
    int64_t per_replica = best->global_batch / b->dp;
    if (!dml_planner_config_has(c, DML_KNOB_MBS))
        for (int64_t m = b->mbs + 1; m <= per_replica; m++)
            if (per_replica % m == 0) {
                v[n] = *b;
                v[n].mbs = m;
                v[n].microbatches = per_replica / m;
                n++;
                break;
            }
    if (!dml_planner_config_has(c, DML_KNOB_RECOMPUTE) &&
        b->recompute != DML_RECOMPUTE_NONE) {
        v[n] = *b;
        v[n].recompute = (dml_recompute)((int)b->recompute - 1);
        /* under flash selective prices as none: the step down is none */
        if (v[n].recompute == DML_RECOMPUTE_SELECTIVE &&
            b->attention == DML_ATTN_FLASH)
            v[n].recompute = DML_RECOMPUTE_NONE;
        n++;
    }
    if (!dml_planner_config_has(c, DML_KNOB_ZERO) && b->zero > 0) {
        v[n] = *b;
        v[n].zero = b->zero - 1;
        n++;
    }
    if (!dml_planner_config_has(c, DML_KNOB_SP) && b->sp) {
        v[n] = *b;
        v[n].sp = false;
        n++;
    }
    bool found = false;
    for (int i = 0; i < n; i++) {
        dml_candidate k = *best;
        k.par = v[i];
        dml_error e2;
        if (dml_planner_check(&space, &k.par, best->global_batch, NULL, 0) !=
                DML_REJECT_NONE ||
            dml_costmodel_step_time(&sp->ctx, &k.par, NULL, 0, &k.pred, NULL,
                                    &e2) != DML_OK)
            continue;
        if (k.pred.step_s >= best->pred.step_s ||
            k.pred.mem_bytes_per_device <= sp->ctx.mem_bytes)
            continue;
        if (!found || k.pred.mem_bytes_per_device <
                          out->pred.mem_bytes_per_device) {
            *out = k;
            found = true;
        }
    }
    return found;
}

static char *short_seconds(double s, char *buf, size_t size)
{
    return dml_units_seconds(s, buf, size);
}

/* Compare best with the winner, in words. */
static void versus_winner(const dml_planner *p, dml_why_not *w)
{
    const dml_candidate *win = &p->result.top[0];
    char bcfg[256], wcfg[256], diff[256], t[32];
    dml_planner_config_format(&w->best.par, p->model.type, bcfg, sizeof bcfg);
    dml_planner_config_format(&win->par, p->model.type, wcfg, sizeof wcfg);
    w->slower_fraction = win->score_s > 0
                             ? (w->best.score_s - win->score_s) / win->score_s
                             : 0;
    if (dml_candidate_same_plan(&w->best, win)) {
        w->is_winner = true;
        append_text(w, "%s is the winner.", bcfg);
        return;
    }
    if (w->best.global_batch != win->global_batch) {
        append_text(w, "%s at global batch %lld takes %.1f%% longer to "
                    "train than the winner (%s at global batch %lld).",
                    bcfg, (long long)w->best.global_batch,
                    100.0 * w->slower_fraction, wcfg,
                    (long long)win->global_batch);
        return;
    }
    if (w->slower_fraction < 0 && p->req.target.kind == DML_TARGET_NONE &&
        !dml_convergence_same_math(&w->best.par.sync)) {
        /* faster than the winner, so outside the search: a strategy of
         * other arithmetic, which a search without a target leaves out */
        char sync[64];
        dml_sync_spec_format(&w->best.par.sync, sync, sizeof sync);
        append_text(w, "%s takes %.1f%% less time per step than the winner (%s), "
                    "but sync=%s does not compute allreduce's sums: the "
                    "steps it needs are measured, not priced, so the search "
                    "tries it only with a target (--target-accuracy A or "
                    "--target-loss L: ranked by time to it from the "
                    "database's runs).",
                    bcfg, -100.0 * w->slower_fraction, wcfg, sync);
        return;
    }
    if (w->slower_fraction < 0) {
        /* outside the search --config held the winner to */
        append_text(w, "%s is %.1f%% faster than the winner (%s), which "
                    "--config held to its knobs.", bcfg,
                    -100.0 * w->slower_fraction, wcfg);
        return;
    }
    double d = 0;
    dml_part part = dml_planner_biggest_difference(&win->pred, &w->best.pred,
                                                   &d);
    dml_planner_config_diff(&w->best.par, &win->par, diff, sizeof diff);
    append_text(w, "%s is %.1f%% slower than the winner (%s)", bcfg,
                100.0 * w->slower_fraction, wcfg);
    if (d > 0)
        append_text(w, " because its %s is %s longer per step", 
                    dml_part_name(part), short_seconds(d, t, sizeof t));
    if (diff[0])
        append_text(w, " (%s)", diff);
    append_text(w, ".");
}

dml_status dml_planner_why_not(dml_planner *p, const dml_planner_config *c,
                               dml_why_not *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    if (p->count < 1)
        return dml_error_msg(err, DML_EINPUT,
                             "--why-not needs a winner to compare with");
    char given[256], msg[DML_PLANNER_MSG_MAX], opts[128], opts2[128];
    dml_planner_config_format_fixed(c, given, sizeof given);
    dml_planner_space sp = dml_planner_space_of(p, 0);
    int64_t gb = p->auto_batch ? 0 : p->req.global_batch;
    dml_reject r = dml_planner_check_fixed(&sp, c, gb, msg, sizeof msg);
    if (r != DML_REJECT_NONE) {
        out->verdict = r;
        snprintf(out->text, sizeof out->text, "%s is ruled out: %s.", given,
                 msg);
        return DML_OK;
    }
    dml_search_result *sub = malloc(sizeof *sub);
    if (!sub)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    dml_search_result_init(sub, 1);
    dml_status s = search_all(p, c, sub, err);
    if (s != DML_OK) {
        drop_result(sub);
        return s;
    }
    if (sub->count > 0) {
        out->verdict = DML_REJECT_NONE;
        out->have_best = true;
        out->best = sub->top[0];
        /* a less frugal variant would be faster, but does it fit? */
        dml_candidate miss;
        if (near_miss(p, c, &out->best, &miss)) {
            append_text(out, "At %s it would need %.1f GB per device, over "
                        "the %.1f GB there; it fits at %s. ",
                        options_text(&miss.par, opts, sizeof opts),
                        miss.pred.mem_bytes_per_device / 1e9,
                        p->splits[miss.split].ctx.mem_bytes / 1e9,
                        options_text(&out->best.par, opts2, sizeof opts2));
        }
        versus_winner(p, out);
        drop_result(sub);
        return DML_OK;
    }
    dml_reject main = dml_search_main_rejection(sub);
    if (main != DML_REJECT_MEMORY || !sub->have_smallest) {
        out->verdict = main;
        snprintf(out->text, sizeof out->text, "%s is ruled out: %s.", given,
                 main != DML_REJECT_NONE ? sub->example[main]
                                         : "no configuration matches it");
        drop_result(sub);
        return DML_OK;
    }
    out->verdict = DML_REJECT_MEMORY;
    const dml_candidate *lean = &sub->smallest;
    double cap = p->splits[lean->split].ctx.mem_bytes;
    append_text(out, "%s does not fit: %s at %s needs %.1f GB per device, "
                "%.1f GB over the %.1f GB there. ",
                given, lean->par.pp > 1 || lean->par.tp > 1 ? "its leanest "
                "variant" : "it", options_text(&lean->par, opts, sizeof opts),
                lean->pred.mem_bytes_per_device / 1e9,
                (lean->pred.mem_bytes_per_device - cap) / 1e9, cap / 1e9);
    /* Would a smaller micro-batch, recomputation, ZeRO or sp make it fit? */
    dml_planner_config relaxed = *c;
    relaxed.fixed &= ~((1u << DML_KNOB_MBS) | (1u << DML_KNOB_RECOMPUTE) |
                       (1u << DML_KNOB_ZERO) | (1u << DML_KNOB_SP));
    if (relaxed.fixed != c->fixed) {
        dml_search_result_free(sub);
        dml_search_result_init(sub, 1);
        s = search_all(p, &relaxed, sub, err);
        if (s != DML_OK) {
            drop_result(sub);
            return s;
        }
        if (sub->count > 0) {
            out->have_best = true;
            out->relaxed = true;
            out->best = sub->top[0];
            append_text(out, "It fits at %s. ",
                        options_text(&out->best.par, opts, sizeof opts));
            versus_winner(p, out);
        } else {
            append_text(out, "No micro-batch size, recomputation, ZeRO stage "
                        "or sequence parallelism makes it fit.");
        }
    } else {
        append_text(out, "No micro-batch size, recomputation, ZeRO stage or "
                    "sequence parallelism makes it fit.");
    }
    drop_result(sub);
    return DML_OK;
}

dml_status dml_planner_write_plan_file(const char *path, const dml_plan *plan,
                                       dml_error *err)
{
    json_t *j = dml_plan_to_json(plan);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
                   : NULL;
    json_decref(j);
    if (!text)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    size_t len = strlen(text);
    char *buf = realloc(text, len + 2);
    if (!buf) {
        free(text);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    buf[len] = '\n';
    buf[len + 1] = '\0';
    dml_status s = dml_file_write_atomic(path, buf, len + 1, err);
    free(buf);
    return s;
}
