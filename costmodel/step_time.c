/*
 * step_time.c: time and memory of one training step (see step_time.h):
 * preparing a (model, cluster) once, then, per configuration, the phases
 * of step_internal.h put together as t = t_pipe + t_dp_exposed + t_opt.
 * The layers' costs are in layer_cost.c, a pipeline rank's in
 * stage_cost.c, the data-parallel strategies' in sync_*.c.
 */
#include "step_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/flops.h"
#include "costmodel/framework.h"
#include "costmodel/pipeline.h"
#include "costmodel/step_internal.h"
#include "costmodel/sync.h"

void dml_costmodel_calib_init(dml_costmodel_calib *c)
{
    c->compute = c->membound = c->comm_intra = c->comm_inter = 1.0;
    c->optimizer = 1.0;
    c->overhead_s = 0;
    c->latency_intra = c->latency_inter = 1.0;
    c->microbatch_overhead_s = 0;
    c->cpu_thread_overhead = 0;
    c->cpu_rank_contention = 0;
}

void dml_costmodel_options_init(dml_costmodel_options *o)
{
    memset(o, 0, sizeof *o);
    o->optimizer = DML_OPT_ADAMW;
    o->overlap_contention = 0.3;
    o->workspace_bytes = -1;
    dml_costmodel_calib_init(&o->calib);
}

/* The dtype a device actually computes a model's dtype in. */
static bool pick_dtype(const dml_device_spec *d, dml_dtype want,
                       dml_dtype *got)
{
    static const dml_dtype half_chain[] = {DML_DTYPE_BF16, DML_DTYPE_FP16,
                                           DML_DTYPE_TF32, DML_DTYPE_FP32,
                                           DML_DTYPE_FP64};
    static const dml_dtype full_chain[] = {DML_DTYPE_FP32, DML_DTYPE_TF32,
                                           DML_DTYPE_FP64};
    if (d->peak_flops[want] > 0) {
        *got = want;
        return true;
    }
    bool half = want == DML_DTYPE_BF16 || want == DML_DTYPE_FP16 ||
                want == DML_DTYPE_FP8;
    const dml_dtype *chain = half ? half_chain : full_chain;
    size_t n = half ? 5 : 3;
    for (size_t i = 0; i < n; i++)
        if (d->peak_flops[chain[i]] > 0) {
            *got = chain[i];
            return true;
        }
    return false;
}

/* A device prices GEMMs only from its own measured curve for the unit
 * they run on (dtype.h): a guessed curve would make the same run differ
 * by its dtype's label (fp16 and bf16 on one tensor core). */
static dml_status check_curve(const dml_cluster_spec *c, int group,
                              dml_dtype t, dml_error *err)
{
    const dml_device_spec *d = &c->groups[group].device;
    dml_precision want = dml_dtype_precision(t);
    for (int i = 0; i < d->gemm_count; i++)
        if (dml_dtype_precision(d->gemm[i].dtype) == want)
            return DML_OK;
    char field[64];
    snprintf(field, sizeof field, "node_groups[%d].device.gemm_efficiency",
             group);
    return dml_error_set(err, DML_EINPUT, c->name, 0, 0, field,
                         "no points for %s GEMMs, the unit %s runs on "
                         "(measure them with dml-probe on the machine, or "
                         "add them to the spec)",
                         dml_precision_name(want), dml_dtype_name(t));
}

dml_status dml_costmodel_prepare(const dml_model_spec *model,
                                 const dml_cluster_spec *cluster,
                                 const dml_costmodel_options *opt,
                                 dml_costmodel_ctx *ctx, dml_error *err)
{
    DML_CHECK(dml_model_spec_validate(model, err));
    DML_CHECK(dml_cluster_spec_validate(cluster, err));
    memset(ctx, 0, sizeof *ctx);
    ctx->model = *model;
    ctx->cluster = *cluster;
    if (opt)
        ctx->opt = *opt;
    else
        dml_costmodel_options_init(&ctx->opt);

    /* The slowest group sets compute speed (synchronous training waits
     * for it); the smallest memory and slowest links bound everything. */
    double slowest = INFINITY;
    ctx->mem_bytes = INFINITY;
    for (int i = 0; i < cluster->group_count; i++) {
        const dml_device_spec *d = &cluster->groups[i].device;
        dml_dtype t;
        if (!pick_dtype(d, model->dtype, &t))
            return dml_error_msg(err, DML_EINPUT,
                                 "cluster %s: node group %d has no peak "
                                 "FLOP/s usable for %s", cluster->name, i,
                                 dml_dtype_name(model->dtype));
        DML_CHECK(check_curve(cluster, i, t, err));
        if (d->peak_flops[t] < slowest) {
            slowest = d->peak_flops[t];
            ctx->group = i;
            ctx->compute_dtype = t;
        }
        if (d->mem_bytes < ctx->mem_bytes)
            ctx->mem_bytes = d->mem_bytes;
    }
    dml__ctx_set_group(ctx, ctx->group, ctx->compute_dtype);
    /* groups of unequal speed: step_time prices each rank on its own
     * group's devices (hetero.c) */
    for (int i = 0; i < cluster->group_count; i++) {
        const dml_device_spec *o = &cluster->groups[i].device;
        dml_dtype t = ctx->compute_dtype;
        pick_dtype(o, model->dtype, &t);
        if (o->peak_flops[t] != ctx->peak_flops ||
            o->mem_bw_Bps * o->membound_efficiency != ctx->membound_Bps ||
            o->cores != cluster->groups[ctx->group].device.cores)
            ctx->hetero = true;
    }
    const dml_device_spec *d = &cluster->groups[ctx->group].device;
    dml_memory_state_bytes(model->dtype, ctx->opt.optimizer,
                           ctx->opt.grad_bytes, &ctx->state);
    if (ctx->opt.workspace_bytes < 0)
        ctx->opt.workspace_bytes =
            d->type == DML_DEVICE_GPU ? 1073741824.0 : 67108864.0;
    if (model->type == DML_MODEL_TRANSFORMER) {
        ctx->layer_params = dml_flops_layer_params(model, 0);
        ctx->expert_params = dml_flops_layer_expert_params(model);
        double h = (double)model->hidden;
        ctx->embed_params = (double)model->vocab * h +
                            (model->position == DML_POS_LEARNED
                                 ? (double)model->seq_len * h
                                 : 0);
        ctx->head_params = dml_flops_embedding_params(model) -
                           ctx->embed_params;
    }
    return DML_OK;
}

void dml__ctx_set_group(dml_costmodel_ctx *ctx, int group, dml_dtype t)
{
    const dml_node_group *g = &ctx->cluster.groups[group];
    const dml_device_spec *d = &g->device;
    ctx->group = group;
    ctx->compute_dtype = t;
    ctx->peak_flops = d->peak_flops[t];
    ctx->membound_Bps = d->mem_bw_Bps * d->membound_efficiency;
    ctx->elem_bytes = dml_dtype_bytes(ctx->model.dtype);
    ctx->devices_per_node = g->devices_per_node;
    ctx->devices = dml_cluster_spec_devices(&ctx->cluster);
    dml_coll_group tmp;
    dml_coll_group_init(&tmp, g, 2, 1);
    ctx->intra = tmp.intra;
    ctx->inter = tmp.inter;
    for (int i = 0; i < ctx->cluster.group_count; i++) {
        const dml_link_spec *l = &ctx->cluster.groups[i].links[DML_LINK_INTER];
        if (l->present && l->bw_Bps * l->efficiency <
                              ctx->inter.bw_Bps * ctx->inter.efficiency)
            ctx->inter = *l;
    }
    dml_gemm_curve_init(&ctx->curve, d, t);
}

bool dml__group_dtype(const dml_costmodel_ctx *ctx, int group, dml_dtype *t)
{
    return pick_dtype(&ctx->cluster.groups[group].device, ctx->model.dtype,
                      t);
}

void dml_costmodel_set_calib(dml_costmodel_ctx *ctx,
                             const dml_costmodel_calib *calib)
{
    ctx->opt.calib = *calib;
}

/* ---- shared by the phases ------------------------------------------------ */

double dml__exposed(double c, double w, double contention)
{
    if (c <= 0)
        return 0;
    if (w <= 0)
        return c;
    double hidden = c < w ? c : w;
    return (c - hidden) + contention * hidden;
}

double dml__mem_time(const dml_costmodel_ctx *ctx, double bytes)
{
    return bytes / ctx->membound_Bps * ctx->opt.calib.membound;
}

double dml__gemm_time(const dml__step *st, double batch, double m, double n,
                      double k)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    return dml_gemm_time(&ctx->curve, st->peak, ctx->membound_Bps,
                         ctx->elem_bytes, batch, m, n, k);
}

/* ---- check and set-up ---------------------------------------------------- */

dml_status dml__step_check(const dml_costmodel_ctx *ctx,
                           const dml_parallel_config *par, int stage_count,
                           bool have_stages, dml_error *err)
{
    const dml_model_spec *m = &ctx->model;
    int p = par->pp, tp = par->tp, dp = par->dp;
    int v = par->schedule == DML_PP_INTERLEAVED && par->v > 1 ? par->v : 1;
    if (dp < 1 || tp < 1 || p < 1 || par->mbs < 1 || par->microbatches < 1)
        return dml_error_msg(err, DML_EINPUT,
                             "dp, tp, pp, mbs and microbatches must be >= 1");
    int64_t world = (int64_t)dp * tp * p;
    if (world > ctx->devices)
        return dml_error_msg(err, DML_EINPUT,
                             "dp x tp x pp = %lld devices, the cluster has "
                             "%lld", (long long)world,
                             (long long)ctx->devices);
    if ((int64_t)p * v > m->layers)
        return dml_error_msg(err, DML_EINPUT,
                             "pp x v = %d stages for %lld layers", p * v,
                             (long long)m->layers);
    if (m->type == DML_MODEL_TRANSFORMER &&
        (m->heads % tp != 0 || m->ffn_hidden % tp != 0))
        return dml_error_msg(err, DML_EINPUT,
                             "tp %d does not divide heads %lld and "
                             "ffn_hidden %lld", tp, (long long)m->heads,
                             (long long)m->ffn_hidden);
    if (have_stages && stage_count != p * v)
        return dml_error_msg(err, DML_EINPUT,
                             "%d stage ranges given for pp x v = %d",
                             stage_count, p * v);
    return DML_OK;
}

static int gcd_int(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* A collective group on the context's slowest links, with the calibrated
 * time and latency scales of each level. */
void dml__comm_group(const dml_costmodel_ctx *ctx, int ranks,
                     int ranks_per_node, dml_coll_group *g)
{
    const dml_costmodel_calib *cal = &ctx->opt.calib;
    dml_coll_group_init(g, &ctx->cluster.groups[ctx->group], ranks,
                        ranks_per_node);
    g->intra = ctx->intra;
    g->inter = ctx->inter;
    g->scale_intra = cal->comm_intra;
    g->scale_inter = cal->comm_inter;
    g->latency_scale_intra = cal->latency_intra;
    g->latency_scale_inter = cal->latency_inter;
}

/*
 * FLOP/s one rank reaches. A CPU rank computes with threads_per_rank cores
 * at the per-core peak, as far as the node has cores for all its ranks'
 * threads (ranks fill a node before the next: min(world, devices_per_node)
 * of them share its devices_per_node x cores cores; oversubscribed threads
 * share what is there). Calibration prices what the ideal leaves out:
 * extra threads of a rank and extra ranks on a node do not scale perfectly
 * (and not alike: on small VMs a second BLAS thread may gain less than a
 * second rank).
 */
static double rank_peak(const dml_costmodel_ctx *ctx,
                        const dml_parallel_config *par, int64_t world)
{
    const dml_costmodel_calib *cal = &ctx->opt.calib;
    const dml_device_spec *dev = &ctx->cluster.groups[ctx->group].device;
    if (dev->type != DML_DEVICE_CPU)
        return ctx->peak_flops;
    int dpn = ctx->devices_per_node;
    double cores = dev->cores > 0 ? (double)dev->cores : 1.0;
    double threads = par->threads_per_rank > 0 ? par->threads_per_rank : 1.0;
    double ranks_here = (double)(world < dpn ? world : dpn);
    double busy = ranks_here * threads;
    if (busy > (double)dpn * cores)
        busy = (double)dpn * cores;
    double peak = ctx->peak_flops / cores * (busy / ranks_here);
    peak /= (1.0 + cal->cpu_thread_overhead * (threads - 1.0)) *
            (1.0 + cal->cpu_rank_contention * (ranks_here - 1.0));
    return peak;
}

/*
 * Bytes the optimizer step moves per parameter (Megatron's sequence): the
 * gradient norm reads the gradients, clipping scales them in place, the
 * update reads them, moves the states (K bytes each way) and, in mixed
 * precision, reads the fp32 master and writes the working copy; the
 * gradient buffer is zeroed. 50 bytes for mixed-precision Adam.
 */
static double optimizer_bytes_per_param(const dml_costmodel_ctx *ctx)
{
    const dml_state_bytes *sb = &ctx->state;
    dml_dtype t = ctx->model.dtype;
    bool mixed = t == DML_DTYPE_BF16 || t == DML_DTYPE_FP16 ||
                 t == DML_DTYPE_FP8;
    double b = 5.0 * sb->grad + 2.0 * sb->optim +
               (mixed ? 4.0 + sb->param : 2.0 * sb->param);
    if (ctx->opt.optimizer == DML_OPT_LAMB ||
        ctx->opt.optimizer == DML_OPT_LARS)
        b += 8.0; /* trust ratio: norms of weights and update */
    return b;
}

void dml__step_setup(const dml_costmodel_ctx *ctx,
                       const dml_parallel_config *par,
                       const dml_stage_range *stages, int stage_count,
                       dml__step *st)
{
    const dml_model_spec *m = &ctx->model;
    const dml_costmodel_options *o = &ctx->opt;
    int p = par->pp, tp = par->tp, dp = par->dp;
    int dpn = ctx->devices_per_node;
    st->ctx = ctx;
    st->par = par;
    st->stages = stages;
    st->stage_count = stage_count;
    st->transformer = m->type == DML_MODEL_TRANSFORMER;
    st->v = par->schedule == DML_PP_INTERLEAVED && par->v > 1 ? par->v : 1;
    st->microbatches = (double)par->microbatches;
    st->world = (int64_t)dp * tp * p;
    st->contention = o->overlap_contention;
    st->peak = rank_peak(ctx, par, st->world);

    /* TP groups fill a node first, then pipeline stages; the DP peers
     * left on a node share it. */
    dml__comm_group(ctx, tp, tp < dpn ? tp : dpn, &st->tp);
    int tpp = tp * p;
    int dp_per_node = tpp >= dpn ? 1 : dpn / tpp;
    if (dp_per_node > dp)
        dp_per_node = dp;
    dml__comm_group(ctx, dp, dp_per_node, &st->dpg);
    /* the DP group by level, for strategies that reduce node by node */
    dml__comm_group(ctx, dp_per_node, dp_per_node, &st->dp_intra);
    dml__comm_group(ctx, (dp + dp_per_node - 1) / dp_per_node, 1,
                    &st->dp_inter);
    st->ep = st->transformer && m->moe_experts > 0
                 ? gcd_int(dp, (int)m->moe_experts)
                 : 1;
    dml__comm_group(ctx, st->ep, st->ep < dp_per_node ? st->ep : dp_per_node,
                    &st->epg);

    /* Gradient bytes on the wire per element. */
    st->wire = o->grad_reduce_bytes > 0 ? o->grad_reduce_bytes
                                        : ctx->state.grad;
    st->act_layer = 0;
    st->act_layer_full = 0;
    if (st->transformer) {
        st->act_layer = dml_memory_layer_activations(
            m, 0, (double)par->mbs, tp, par->sp, par->recompute,
            par->attention);
        st->act_layer_full = dml_memory_layer_activations(
            m, 0, (double)par->mbs, tp, par->sp, DML_RECOMPUTE_NONE,
            par->attention);
    }
    st->opt_bytes_per_param = optimizer_bytes_per_param(ctx);
    dml_framework_traits_of(par->framework, par, m, &st->fw);
    /* A CPU rank computes and communicates on the same core: MPI moves a
     * non-blocking collective only inside MPI calls (no progress thread),
     * and the TCP stack's copies would take that core anyway, so none of
     * the data-parallel exchange hides behind the backward pass whatever
     * the framework does on GPUs (measured: bench/emu/README.md). */
    if (ctx->cluster.groups[ctx->group].device.type == DML_DEVICE_CPU)
        st->fw.dp_overlap = false;
    st->sync = par->sync;
}

/* ---- pipeline p2p, optimizer, tied embeddings ---------------------------- */

/* Pipeline transfers of one device per micro-batch. */
double dml__p2p_time(const dml__step *st)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_costmodel_options *o = &ctx->opt;
    const dml_model_spec *m = &ctx->model;
    const dml_parallel_config *par = st->par;
    int p = par->pp, tp = par->tp;
    if (p <= 1)
        return 0;
    double act;
    if (st->transformer) {
        act = (double)par->mbs * (double)m->seq_len * (double)m->hidden *
              ctx->elem_bytes;
    } else {
        int64_t widest = m->input;
        for (int i = 0; i < m->hidden_count; i++)
            if (m->hidden_sizes[i] > widest)
                widest = m->hidden_sizes[i];
        act = (double)par->mbs * (double)widest * ctx->elem_bytes;
    }
    bool split = tp > 1 && (par->sp || st->fw.p2p_scatter_gather);
    double msg = split ? act / tp : act;
    bool spans = (int64_t)tp * p > ctx->devices_per_node;
    dml_link_spec link = spans ? ctx->inter : ctx->intra;
    link.latency_s *= spans ? o->calib.latency_inter
                            : o->calib.latency_intra;
    double one = dml_p2p_time(&link, msg) *
                 (spans ? o->calib.comm_inter : o->calib.comm_intra);
    if (split && !par->sp)
        one += dml_collective_time(&st->tp, DML_COLL_ALLGATHER, act, NULL);
    /* per chunk: forward and backward phase; unbatched, each phase is a
     * blocking receive and a blocking send */
    return (st->fw.p2p_batched ? 2.0 : 4.0) * st->v * one;
}

/* The optimizer's memory-bound sweep over a rank's (sharded) states. */
static double optimizer_time(const dml__step *st, double params)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    double opt_params = params / (st->par->zero >= 1 ? st->par->dp : 1);
    return opt_params * st->opt_bytes_per_param / ctx->membound_Bps *
           ctx->opt.calib.optimizer;
}

/* Tied embeddings split over the first and last stage sum their
 * gradients once per step. */
static double tied_embedding_time(const dml__step *st)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_model_spec *m = &ctx->model;
    int p = st->par->pp, tp = st->par->tp;
    if (!st->transformer || !m->tied_embeddings || p <= 1)
        return 0;
    bool spans = (int64_t)tp * p > ctx->devices_per_node;
    dml_coll_group pair;
    dml__comm_group(ctx, 2, spans ? 1 : 2, &pair);
    return dml_collective_time(&pair, DML_COLL_ALLREDUCE,
                               ctx->embed_params / tp * st->wire, NULL);
}

/* ---- the pipeline ranks -------------------------------------------------- */

/* What the step keeps of its pipeline ranks: the slowest sets the pace,
 * the fullest the memory, the slowest replica's sync the exposed DP time. */
typedef struct rank_totals {
    double t_max;            /* slowest rank per micro-batch, s */
    double t_sum;            /* sum over ranks, s */
    int slowest;             /* its pipeline rank */
    double tp_slowest;       /* its TP communication per micro-batch, s */
    double params_max;       /* parameters on the fullest rank */
    double mem_max;          /* bytes on the fullest rank (-1: none yet) */
    int mem_rank;            /* its pipeline rank */
    dml_mem_breakdown mem_worst, mem_first, mem_last;
    double inflight_first;   /* micro-batches in flight on rank 0 */
    double dp_raw;           /* largest DP sync before overlap, s */
    double dp_exposed;       /* largest exposed DP sync, s */
    double dp_deferred;      /* largest sync behind the next step, s */
    dml_coll_algo dp_algo;   /* algorithm of the largest raw sync */
    double dp_bytes_intra;   /* bytes the busiest rank's sync sends in its
                                node per step */
    double dp_bytes_inter;   /* and across nodes */
    double opt_s;            /* slowest optimizer step, s */
} rank_totals;

static void price_rank(const dml__step *st, const dml__layer_cost *lc,
                       double t_embed, double t_head, double t_p2p,
                       const dml_sync_pricer *sync, int r, rank_totals *tot)
{
    const dml_costmodel_calib *cal = &st->ctx->opt.calib;
    dml__stage s;
    dml__stage_cost(st, lc, t_embed, t_head, r, &s);
    if (r == 0)
        tot->inflight_first = s.inflight;
    double t_r = s.t_fwd + s.t_bwd + t_p2p + cal->microbatch_overhead_s;
    tot->t_sum += t_r;
    if (t_r > tot->t_max) {
        tot->t_max = t_r;
        tot->slowest = r;
        tot->tp_slowest = s.t_tp;
    }
    if (s.params > tot->params_max)
        tot->params_max = s.params;

    dml_mem_breakdown mem;
    dml__stage_memory(st, &s, &mem);
    double total = mem.params_bytes + mem.grads_bytes + mem.optimizer_bytes +
                   mem.activations_bytes + mem.buffers_bytes;
    if (r == 0)
        tot->mem_first = mem;
    if (r == st->par->pp - 1)
        tot->mem_last = mem;
    if (total > tot->mem_max) {
        tot->mem_max = total;
        tot->mem_worst = mem;
        tot->mem_rank = r;
    }

    if (st->par->dp > 1) {
        dml_sync_rank in = {.r = r, .params = s.params,
                            .layers = s.layers > 0 ? s.layers : 1,
                            .t_fwd = s.t_fwd, .t_bwd = s.t_bwd};
        dml_sync_cost c;
        dml__sync_price(sync, st, &in, &c);
        if (c.raw_s > tot->dp_raw) {
            tot->dp_raw = c.raw_s;
            tot->dp_algo = c.algo;
        }
        if (c.bytes_intra + c.bytes_inter >
            tot->dp_bytes_intra + tot->dp_bytes_inter) {
            tot->dp_bytes_intra = c.bytes_intra;
            tot->dp_bytes_inter = c.bytes_inter;
        }
        if (c.exposed_s > tot->dp_exposed)
            tot->dp_exposed = c.exposed_s;
        if (c.deferred_s > tot->dp_deferred)
            tot->dp_deferred = c.deferred_s;
    }
    double t_opt = optimizer_time(st, s.params);
    if (t_opt > tot->opt_s)
        tot->opt_s = t_opt;
}

/* ---- the step ------------------------------------------------------------ */

static void fill_prediction(const dml__step *st, double step, double t_pipe,
                            double bubble, double t_dp, double t_p2p,
                            const rank_totals *tot, dml_prediction *out);
static void fill_detail(const dml__step *st, const dml__layer_cost *lc,
                        dml_coll_algo tp_algo, double t_embed, double t_head,
                        double t_p2p, double t_pipe, double t_dp,
                        const rank_totals *tot, const dml_prediction *pred,
                        dml_costmodel_detail *d);

dml_status dml_costmodel_step_time(const dml_costmodel_ctx *ctx,
                                   const dml_parallel_config *par,
                                   const dml_stage_range *stages,
                                   int stage_count, dml_prediction *out,
                                   dml_costmodel_detail *detail,
                                   dml_error *err)
{
    DML_CHECK(dml__step_check(ctx, par, stage_count, stages != NULL, err));
    if (ctx->hetero)
        return dml__step_hetero(ctx, par, stages, stage_count, out, detail,
                                NULL, err);
    dml__step st;
    dml__step_setup(ctx, par, stages, stage_count, &st);

    /* One layer (every transformer layer is the same), the embedding, the
     * head and the pipeline sends, per micro-batch. */
    dml__layer_cost lc;
    memset(&lc, 0, sizeof lc);
    dml_coll_algo tp_algo = DML_ALGO_NONE;
    if (st.transformer)
        dml__transformer_layer(&st, &lc, &tp_algo);
    double t_embed = dml__embed_time(&st);
    double t_head = dml__head_time(&st);
    double t_p2p = dml__p2p_time(&st);

    /* Each pipeline rank: its time, memory, DP sync and optimizer. */
    const dml_sync_pricer *sync = dml_sync_pricer_for(&st.sync);
    rank_totals tot;
    memset(&tot, 0, sizeof tot);
    tot.mem_max = -1;
    for (int r = 0; r < par->pp; r++)
        price_rank(&st, &lc, t_embed, t_head, t_p2p, sync, r, &tot);

    /* t = t_pipe + t_dp_exposed + t_opt (+ tied embeddings, overhead) */
    double bubble = 0;
    double t_pipe = dml_pipeline_time(par->schedule, par->pp, st.v,
                                      st.microbatches, tot.t_max, tot.t_sum,
                                      &bubble);
    double t_dp = tot.dp_exposed;
    if (tot.dp_deferred > 0)
        t_dp += dml__exposed(tot.dp_deferred, t_pipe, st.contention);
    double t_tied = tied_embedding_time(&st);
    double step = t_pipe + t_dp + t_tied + tot.opt_s +
                  ctx->opt.calib.overhead_s;

    fill_prediction(&st, step, t_pipe, bubble, t_dp + t_tied, t_p2p, &tot,
                    out);
    if (detail)
        fill_detail(&st, &lc, tp_algo, t_embed, t_head, t_p2p, t_pipe, t_dp,
                    &tot, out, detail);
    return DML_OK;
}

/* Breakdown: the slowest device's steady state, then the rest. */
static void fill_prediction(const dml__step *st, double step, double t_pipe,
                            double bubble, double t_dp, double t_p2p,
                            const rank_totals *tot, dml_prediction *out)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_model_spec *m = &ctx->model;
    const dml_parallel_config *par = st->par;
    (void)t_pipe;
    double share = st->microbatches;
    dml_time_breakdown *bd = &out->time;
    memset(out, 0, sizeof *out);
    out->present = true;
    out->step_s = step;
    double compute_pmb = tot->t_max - t_p2p - tot->tp_slowest;
    bd->compute_s = share * compute_pmb;
    bd->tp_comm_s = share * tot->tp_slowest;
    bd->pp_comm_s = share * t_p2p;
    bd->bubble_s = bubble;
    bd->dp_comm_s = t_dp;
    bd->optimizer_s = tot->opt_s;
    bd->overhead_s = ctx->opt.calib.overhead_s;
    out->mem = tot->mem_worst;
    out->mem_bytes_per_device = tot->mem_max;

    double samples = (double)par->dp * (double)par->mbs * st->microbatches;
    double executed = 0;
    double model_flops = dml_flops_iteration(m, samples, (int)par->recompute,
                                             &executed);
    out->tokens_per_s =
        samples * (st->transformer ? (double)m->seq_len : 1.0) / step;
    out->flops_per_device = executed / (step * (double)st->world);
    out->mfu = model_flops / (step * (double)st->world * ctx->peak_flops);
}

static void fill_detail(const dml__step *st, const dml__layer_cost *lc,
                        dml_coll_algo tp_algo, double t_embed, double t_head,
                        double t_p2p, double t_pipe, double t_dp,
                        const rank_totals *tot, const dml_prediction *pred,
                        dml_costmodel_detail *d)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_parallel_config *par = st->par;
    double samples = (double)par->dp * (double)par->mbs * st->microbatches;
    memset(d, 0, sizeof *d);
    d->layer_fwd_s = lc->fwd;
    d->layer_bwd_s = lc->bwd;
    d->layer_gemm_fwd_s = lc->gemm_f;
    d->layer_gemm_bwd_s = lc->gemm_b;
    d->layer_membound_fwd_s = lc->mem_f;
    d->layer_membound_bwd_s = lc->mem_b;
    d->layer_tp_fwd_s = lc->tp_f;
    d->layer_tp_bwd_s = lc->tp_b;
    d->layer_recompute_s = lc->recompute;
    d->embed_s = t_embed;
    d->head_s = t_head;
    d->p2p_s = t_p2p;
    d->stage_max_s = tot->t_max;
    d->stage_sum_s = tot->t_sum;
    d->slowest_rank = tot->slowest;
    d->pipeline_s = t_pipe;
    d->dp_comm_s = tot->dp_raw;
    d->dp_exposed_s = t_dp;
    d->dp_bytes_intra = tot->dp_bytes_intra;
    d->dp_bytes_inter = tot->dp_bytes_inter;
    d->bubble_fraction = dml_pipeline_bubble_fraction(
        par->schedule, par->pp, st->v, st->microbatches);
    d->tp_algo = tp_algo;
    d->dp_algo = tot->dp_algo;
    d->model_flops = dml_flops_iteration(&ctx->model, samples,
                                         (int)par->recompute,
                                         &d->executed_flops);
    d->params_per_device = tot->params_max;
    d->mem_rank = tot->mem_rank;
    d->mem_first = tot->mem_first;
    d->mem_last = tot->mem_last;
    d->layer_activation_bytes = st->act_layer;
    d->inflight_first = tot->inflight_first;
    d->fits = pred->mem_bytes_per_device <= ctx->mem_bytes;
}

dml_status dml_costmodel_predict_plan(const dml_costmodel_ctx *ctx,
                                      dml_plan *plan,
                                      dml_costmodel_detail *detail,
                                      dml_error *err)
{
    const dml_costmodel_ctx *use = ctx;
    dml_costmodel_ctx *copy = NULL;
    if (plan->sched.optimizer != ctx->opt.optimizer) {
        copy = malloc(sizeof *copy);
        if (!copy)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        *copy = *ctx;
        copy->opt.optimizer = plan->sched.optimizer;
        dml_memory_state_bytes(ctx->model.dtype, copy->opt.optimizer,
                               ctx->opt.grad_bytes, &copy->state);
        use = copy;
    }
    dml_status s = dml_costmodel_step_time(
        use, &plan->par, plan->stage_count ? plan->stages : NULL,
        plan->stage_count, &plan->pred, detail, err);
    free(copy);
    return s;
}
