/*
 * step_time.c: time and memory of one training step (see step_time.h).
 *
 * Byte counts of the memory-bound kernels assume Megatron's fused kernels
 * with activations of E bytes and 1-byte dropout masks, per layer and
 * micro-batch (T = tokens, Th = T·h on a rank, split by t under sequence
 * parallelism, A = b·(a/t)·s² attention scores, Tf = T·f/t):
 *   forward:  two norms 4E·Th, two bias-dropout-residual adds (6E+2)·Th,
 *             scale-mask-softmax 2E·A, attention dropout (2E+1)·A,
 *             activation 2E·Tf (gelu) or 3E·Tf (swiglu);
 *   backward: norms 6E·Th, dropout-adds (6E+2)·Th, softmax 3E·A,
 *             dropout (2E+1)·A, activation 3E·Tf (gelu) or 5E·Tf (swiglu).
 * With E = 2 that is 22·Th + 9·A + 4·Tf forward, as in Korthikanti et al.
 * 2022's accounting of the same tensors.
 */
#include "step_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/flops.h"
#include "costmodel/pipeline.h"

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
    o->attention = DML_ATTN_MATERIALIZED;
    o->dp_overlap = true;
    o->p2p_scatter_gather = true;
    o->p2p_batched = true;
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
        if (d->peak_flops[t] < slowest) {
            slowest = d->peak_flops[t];
            ctx->group = i;
            ctx->compute_dtype = t;
        }
        if (d->mem_bytes < ctx->mem_bytes)
            ctx->mem_bytes = d->mem_bytes;
    }
    const dml_node_group *g = &cluster->groups[ctx->group];
    const dml_device_spec *d = &g->device;
    ctx->peak_flops = d->peak_flops[ctx->compute_dtype];
    ctx->membound_Bps = d->mem_bw_Bps * d->membound_efficiency;
    ctx->elem_bytes = dml_dtype_bytes(model->dtype);
    ctx->devices_per_node = g->devices_per_node;
    ctx->devices = dml_cluster_spec_devices(cluster);
    dml_coll_group tmp;
    dml_coll_group_init(&tmp, g, 2, 1);
    ctx->intra = tmp.intra;
    ctx->inter = tmp.inter;
    for (int i = 0; i < cluster->group_count; i++) {
        const dml_link_spec *l = &cluster->groups[i].links[DML_LINK_INTER];
        if (l->present && l->bw_Bps * l->efficiency <
                              ctx->inter.bw_Bps * ctx->inter.efficiency)
            ctx->inter = *l;
    }
    dml_gemm_curve_init(&ctx->curve, d, ctx->compute_dtype);
    if (ctx->curve.count == 0 && ctx->compute_dtype != model->dtype)
        dml_gemm_curve_init(&ctx->curve, d, model->dtype);
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

void dml_costmodel_set_calib(dml_costmodel_ctx *ctx,
                             const dml_costmodel_calib *calib)
{
    ctx->opt.calib = *calib;
}

/* ---- helpers ------------------------------------------------------------- */

/* Exposed part of communication c overlapped with compute window w: what
 * does not fit, plus the contention the hidden part causes. */
static double exposed(double c, double w, double contention)
{
    if (c <= 0)
        return 0;
    if (w <= 0)
        return c;
    double hidden = c < w ? c : w;
    return (c - hidden) + contention * hidden;
}

/* What one call of step_time derives from its configuration. */
typedef struct comm_env {
    dml_coll_group tp;      /* the TP group */
    dml_coll_group ep;      /* the expert-parallel (dp) group */
    double contention;      /* options.overlap_contention */
    double peak;            /* FLOP/s a rank reaches (CPU: its threads) */
} comm_env;

static double gemm_t(const dml_costmodel_ctx *ctx, const comm_env *env,
                     double batch, double m, double n, double k)
{
    return dml_gemm_time(&ctx->curve, env->peak, ctx->membound_Bps,
                         ctx->elem_bytes, batch, m, n, k);
}

static double mem_t(const dml_costmodel_ctx *ctx, double bytes)
{
    return bytes / ctx->membound_Bps * ctx->opt.calib.membound;
}

typedef struct layer_cost {
    double gemm_f, gemm_b;  /* GEMMs */
    double mem_f, mem_b;    /* memory-bound kernels */
    double tp_f, tp_b;      /* exposed TP (and MoE all-to-all) comm */
    double recompute;       /* extra inside backward */
    double fwd, bwd;        /* totals */
} layer_cost;


static void transformer_layer(const dml_costmodel_ctx *ctx,
                              const dml_parallel_config *par, int ep,
                              const comm_env *env, layer_cost *lc,
                              dml_coll_algo *tp_algo)
{
    const dml_model_spec *m = &ctx->model;
    const dml_costmodel_calib *cal = &ctx->opt.calib;
    bool flash = ctx->opt.attention == DML_ATTN_FLASH;
    double b = (double)par->mbs, t = par->tp, e = ctx->elem_bytes;
    double s = (double)m->seq_len, h = (double)m->hidden;
    double tokens = b * s;
    dml_gemm_shape g[DML_LAYER_GEMMS_MAX];
    int n = dml_layer_gemms(m, 0, b, par->tp, ep, g);
    double core_f = 0, wgrad_col = 0, dgrad_col = 0;
    memset(lc, 0, sizeof *lc);
    for (int i = 0; i < n; i++) {
        double tf;
        if (g[i].attention_core && flash) {
            /* Fused: no s x s tensor in memory, compute-bound. */
            double eff = dml_gemm_curve_eval(&ctx->curve, g[i].m, g[i].n,
                                             g[i].k);
            tf = 2.0 * g[i].batch * g[i].m * g[i].n * g[i].k /
                 (env->peak * eff);
        } else {
            tf = gemm_t(ctx, env, g[i].batch, g[i].m, g[i].n, g[i].k);
        }
        lc->gemm_f += tf;
        if (g[i].role == DML_GEMM_WEIGHT) {
            double dgrad =
                gemm_t(ctx, env, g[i].batch, g[i].m, g[i].k, g[i].n);
            double wgrad =
                gemm_t(ctx, env, g[i].batch, g[i].k, g[i].n, g[i].m);
            lc->gemm_b += dgrad + wgrad;
            if (g[i].column_parallel) {
                wgrad_col += wgrad;
                dgrad_col += dgrad;
            }
        } else {
            /* flash-attention backward redoes P and runs 4 products */
            lc->gemm_b += (flash ? 2.5 : 2.0) * tf;
        }
        if (g[i].attention_core)
            core_f += tf;
    }
    lc->gemm_f *= cal->compute;
    lc->gemm_b *= cal->compute;
    core_f *= cal->compute;
    wgrad_col *= cal->compute;
    dgrad_col *= cal->compute;

    double th = tokens * h / (par->sp ? t : 1.0);
    double att = flash ? 0 : b * ((double)m->heads / t) * s * s;
    double tf_ = tokens * (double)m->ffn_hidden / t *
                 (m->moe_experts > 0 ? (double)m->moe_top_k : 1.0);
    bool glu = m->activation == DML_ACT_SWIGLU;
    double rope = 0;
    if (m->position == DML_POS_ROTARY)
        rope = 2.0 * e * tokens *
               ((double)m->heads / t +
                dml_flops_kv_heads_per_rank(m, par->tp)) *
               (h / (double)m->heads);
    double scores_f = (4.0 * e + 1.0) * att;
    lc->mem_f = mem_t(ctx, (10.0 * e + 2.0) * th + scores_f +
                               (glu ? 3.0 : 2.0) * e * tf_ + rope);
    lc->mem_b = mem_t(ctx, (12.0 * e + 2.0) * th + (5.0 * e + 1.0) * att +
                               (glu ? 5.0 : 3.0) * e * tf_ + rope);

    if (par->tp > 1) {
        double a = tokens * h * e;
        dml_coll_algo algo = DML_ALGO_NONE;
        if (!par->sp) {
            double ar = dml_collective_time(&env->tp, DML_COLL_ALLREDUCE, a,
                                            &algo);
            lc->tp_f = 2.0 * ar;
            lc->tp_b = exposed(2.0 * ar, wgrad_col, env->contention);
        } else {
            double ag = dml_collective_time(&env->tp, DML_COLL_ALLGATHER, a,
                                            &algo);
            double rs = dml_collective_time(&env->tp, DML_COLL_REDUCESCATTER,
                                            a, NULL);
            lc->tp_f = 2.0 * (ag + rs);
            /* Korthikanti §4.2.2: the re-gather of the input overlaps the
             * input-gradient GEMM, its reduce-scatter the weight-gradient
             * GEMM; the gather of the output gradient is exposed. */
            lc->tp_b = 2.0 * ag +
                       exposed(2.0 * ag, dgrad_col, env->contention) +
                       exposed(2.0 * rs, wgrad_col, env->contention);
        }
        if (tp_algo)
            *tp_algo = algo;
    }
    if (m->moe_experts > 0 && env->ep.ranks > 1) {
        double bytes = tokens * h * e * (double)m->moe_top_k / t;
        double a2a = dml_collective_time(&env->ep, DML_COLL_ALLTOALL, bytes,
                                         NULL);
        lc->tp_f += 2.0 * a2a;
        lc->tp_b += 2.0 * a2a;
    }

    if (par->recompute == DML_RECOMPUTE_FULL)
        lc->recompute = lc->gemm_f + lc->mem_f + lc->tp_f;
    else if (par->recompute == DML_RECOMPUTE_SELECTIVE && !flash)
        lc->recompute = core_f + mem_t(ctx, scores_f);
    lc->fwd = lc->gemm_f + lc->mem_f + lc->tp_f;
    lc->bwd = lc->gemm_b + lc->mem_b + lc->tp_b + lc->recompute;
}

/* MLP layer `layer` of the stage first..last, split as the executor
 * splits it (dml_mlp_tp_split); its TP allreduces are blocking calls. */
static void mlp_layer(const dml_costmodel_ctx *ctx,
                      const dml_parallel_config *par, int layer,
                      int64_t first, int64_t last, const comm_env *env,
                      layer_cost *lc, double *act_bytes)
{
    const dml_model_spec *m = &ctx->model;
    double b = (double)par->mbs, e = ctx->elem_bytes, t = par->tp;
    int64_t in, out;
    dml_model_spec_mlp_layer(m, layer, &in, &out);
    dml_tp_split split = dml_mlp_tp_split(first, last, layer, par->tp);
    double n = split == DML_TP_SPLIT_COLUMN ? (double)out / t : (double)out;
    double k = split == DML_TP_SPLIT_ROW ? (double)in / t : (double)in;
    memset(lc, 0, sizeof *lc);
    double cal = ctx->opt.calib.compute;
    lc->gemm_f = gemm_t(ctx, env, 1, b, n, k) * cal;
    double wgrad = gemm_t(ctx, env, 1, k, n, b) * cal;
    double dgrad = layer > 0 ? gemm_t(ctx, env, 1, b, k, n) * cal : 0;
    lc->gemm_b = wgrad + dgrad;
    /* bias + activation forward, activation gradient + bias sums back */
    lc->mem_f = mem_t(ctx, 2.0 * e * b * n);
    lc->mem_b = mem_t(ctx, 3.0 * e * b * n + e * n);
    if (split == DML_TP_SPLIT_COLUMN && layer > 0)
        lc->tp_b = dml_collective_time(&env->tp, DML_COLL_ALLREDUCE,
                                       b * (double)in * e, NULL);
    if (split == DML_TP_SPLIT_ROW)
        lc->tp_f = dml_collective_time(&env->tp, DML_COLL_ALLREDUCE,
                                       b * (double)out * e, NULL);
    if (par->recompute == DML_RECOMPUTE_FULL)
        lc->recompute = lc->gemm_f + lc->mem_f + lc->tp_f;
    lc->fwd = lc->gemm_f + lc->mem_f + lc->tp_f;
    lc->bwd = lc->gemm_b + lc->mem_b + lc->tp_b + lc->recompute;
    /* stored: the layer's input and its output (the input alone under
     * full recomputation) */
    *act_bytes = par->recompute == DML_RECOMPUTE_FULL
                     ? b * (double)k * e
                     : b * e * ((double)k + n);
}

/* Embedding forward + backward on the first device, per micro-batch. */
static double embed_time(const dml_costmodel_ctx *ctx,
                         const dml_parallel_config *par, const comm_env *env)
{
    const dml_model_spec *m = &ctx->model;
    if (m->type == DML_MODEL_MLP)
        return 0;
    double e = ctx->elem_bytes, t = par->tp;
    double tokens = (double)par->mbs * (double)m->seq_len;
    double th_full = tokens * (double)m->hidden;
    double th = th_full / (par->sp ? t : 1.0);
    /* lookup (+ positions), dropout; backward: dropout, fp32 scatter-add */
    double fwd = mem_t(ctx, 3.0 * e * th_full + (2.0 * e + 1.0) * th);
    double bwd = mem_t(ctx, (2.0 * e + 1.0) * th + (e + 8.0) * th_full / t);
    double comm = 0;
    if (par->tp > 1) {
        double a = th_full * e;
        comm = par->sp ? dml_collective_time(&env->tp,
                                             DML_COLL_REDUCESCATTER, a, NULL)
                       : dml_collective_time(&env->tp, DML_COLL_ALLREDUCE, a,
                                             NULL);
        if (par->sp) /* gather the output gradient for the lookup's grad */
            comm += dml_collective_time(&env->tp, DML_COLL_ALLGATHER, a, NULL);
    }
    return fwd + bwd + comm;
}

/* Final norm, logits, loss forward + backward on the last device. */
static double head_time(const dml_costmodel_ctx *ctx,
                        const dml_parallel_config *par, const comm_env *env)
{
    const dml_model_spec *m = &ctx->model;
    double e = ctx->elem_bytes, t = par->tp;
    if (m->type == DML_MODEL_MLP) /* softmax cross-entropy on b x out */
        return mem_t(ctx, 12.0 * (double)par->mbs * (double)m->output);
    double tokens = (double)par->mbs * (double)m->seq_len;
    double h = (double)m->hidden, v = (double)m->vocab / t;
    double th = tokens * h / (par->sp ? t : 1.0);
    double gf = gemm_t(ctx, env, 1, tokens, v, h);
    double gd = gemm_t(ctx, env, 1, tokens, h, v);
    double gw = gemm_t(ctx, env, 1, h, v, tokens);
    double cal = ctx->opt.calib.compute;
    double norm = mem_t(ctx, 4.0 * e * th + 6.0 * e * th);
    /* vocab-parallel cross-entropy: max, exp-sum and softmax passes in
     * fp32, then the gradient */
    double ce = mem_t(ctx, (e + 12.0) * tokens * v + (4.0 + e) * tokens * v);
    double comm = 0;
    if (par->tp > 1) {
        double a = tokens * h * e;
        comm += 3.0 * dml_collective_time(&env->tp, DML_COLL_ALLREDUCE,
                                          tokens * 4.0, NULL);
        if (par->sp)
            comm += dml_collective_time(&env->tp, DML_COLL_ALLGATHER, a,
                                        NULL) +
                    dml_collective_time(&env->tp, DML_COLL_REDUCESCATTER, a,
                                        NULL);
        else
            comm += exposed(dml_collective_time(&env->tp, DML_COLL_ALLREDUCE,
                                                a, NULL),
                            gw * cal, env->contention);
    }
    return (gf + gd + gw) * cal + norm + ce + comm;
}

/* Layers held by pipeline rank r: explicit stages, or the even split. */
static int64_t rank_layers(const dml_model_spec *m, int p, int v,
                           const dml_stage_range *stages, int stage_count,
                           int r)
{
    int64_t n = 0;
    int nst = p * v;
    if (stages && stage_count == nst) {
        for (int i = r; i < nst; i += p)
            n += stages[i].last_layer - stages[i].first_layer + 1;
        return n;
    }
    int64_t base = m->layers / nst, extra = m->layers % nst;
    for (int i = r; i < nst; i += p)
        n += base + (i < extra ? 1 : 0);
    return n;
}

/* MLP layers of rank r, as a range sum of per-layer costs. */
static void mlp_rank_range(const dml_model_spec *m, int p, int v,
                           const dml_stage_range *stages, int stage_count,
                           int r, int64_t *first, int64_t *last)
{
    /* MLP pipelines do not interleave in practice; take v = 1 ranges. */
    (void)v;
    if (stages && stage_count == p) {
        *first = stages[r].first_layer;
        *last = stages[r].last_layer;
        return;
    }
    int64_t base = m->layers / p, extra = m->layers % p, next = 0;
    for (int i = 0; i < r; i++)
        next += base + (i < extra ? 1 : 0);
    *first = next;
    *last = next + base + (r < extra ? 1 : 0) - 1;
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

/* ---- the step ------------------------------------------------------------ */

dml_status dml_costmodel_step_time(const dml_costmodel_ctx *ctx,
                                   const dml_parallel_config *par,
                                   const dml_stage_range *stages,
                                   int stage_count, dml_prediction *out,
                                   dml_costmodel_detail *detail,
                                   dml_error *err)
{
    const dml_model_spec *m = &ctx->model;
    const dml_costmodel_options *o = &ctx->opt;
    bool tf = m->type == DML_MODEL_TRANSFORMER;
    int p = par->pp, tp = par->tp, dp = par->dp;
    int v = par->schedule == DML_PP_INTERLEAVED && par->v > 1 ? par->v : 1;
    double mb = (double)par->microbatches;
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
    if (tf && (m->heads % tp != 0 || m->ffn_hidden % tp != 0))
        return dml_error_msg(err, DML_EINPUT,
                             "tp %d does not divide heads %lld and "
                             "ffn_hidden %lld", tp, (long long)m->heads,
                             (long long)m->ffn_hidden);
    if (stages && stage_count != p * v)
        return dml_error_msg(err, DML_EINPUT,
                             "%d stage ranges given for pp x v = %d",
                             stage_count, p * v);

    const dml_node_group *grp = &ctx->cluster.groups[ctx->group];
    int dpn = ctx->devices_per_node;
    comm_env env;
    env.contention = o->overlap_contention;
    /* A CPU rank computes with threads_per_rank cores at the per-core
     * peak, as far as the node has cores for all its ranks' threads
     * (ranks fill a node before the next: min(world, devices_per_node)
     * of them share its devices_per_node x cores cores; oversubscribed
     * threads share what is there). Calibration prices what the ideal
     * leaves out: extra threads of a rank and extra ranks on a node do
     * not scale perfectly (and not alike: on small VMs a second BLAS
     * thread may gain less than a second rank). */
    env.peak = ctx->peak_flops;
    const dml_device_spec *dev = &ctx->cluster.groups[ctx->group].device;
    if (dev->type == DML_DEVICE_CPU) {
        double cores = dev->cores > 0 ? (double)dev->cores : 1.0;
        double threads = par->threads_per_rank > 0 ? par->threads_per_rank
                                                   : 1.0;
        double ranks_here = (double)(world < dpn ? world : dpn);
        double busy = ranks_here * threads;
        if (busy > (double)dpn * cores)
            busy = (double)dpn * cores;
        env.peak = ctx->peak_flops / cores * (busy / ranks_here);
        env.peak /= (1.0 + o->calib.cpu_thread_overhead * (threads - 1.0)) *
                    (1.0 + o->calib.cpu_rank_contention * (ranks_here - 1.0));
    }
    dml_coll_group_init(&env.tp, grp, tp, tp < dpn ? tp : dpn);
    int tpp = tp * p;
    int dp_per_node = tpp >= dpn ? 1 : dpn / tpp;
    if (dp_per_node > dp)
        dp_per_node = dp;
    dml_coll_group dpg;
    dml_coll_group_init(&dpg, grp, dp, dp_per_node);
    int ep = 1;
    if (tf && m->moe_experts > 0)
        ep = gcd_int(dp, (int)m->moe_experts);
    dml_coll_group_init(&env.ep, grp, ep, ep < dp_per_node ? ep : dp_per_node);
    dml_coll_group *all[] = {&env.tp, &dpg, &env.ep};
    for (int i = 0; i < 3; i++) {
        all[i]->intra = ctx->intra;
        all[i]->inter = ctx->inter;
        all[i]->scale_intra = o->calib.comm_intra;
        all[i]->scale_inter = o->calib.comm_inter;
        all[i]->latency_scale_intra = o->calib.latency_intra;
        all[i]->latency_scale_inter = o->calib.latency_inter;
    }

    /* Per-layer costs (every transformer layer is the same). */
    layer_cost lc;
    memset(&lc, 0, sizeof lc);
    dml_coll_algo tp_algo = DML_ALGO_NONE;
    if (tf)
        transformer_layer(ctx, par, ep, &env, &lc, &tp_algo);
    double t_embed = embed_time(ctx, par, &env);
    double t_head = head_time(ctx, par, &env);

    /* Pipeline transfers per device per micro-batch. */
    double t_p2p = 0;
    if (p > 1) {
        double act;
        if (tf) {
            act = (double)par->mbs * (double)m->seq_len * (double)m->hidden *
                  ctx->elem_bytes;
        } else {
            int64_t widest = m->input;
            for (int i = 0; i < m->hidden_count; i++)
                if (m->hidden_sizes[i] > widest)
                    widest = m->hidden_sizes[i];
            act = (double)par->mbs * (double)widest * ctx->elem_bytes;
        }
        bool split = tp > 1 && (par->sp || o->p2p_scatter_gather);
        double msg = split ? act / tp : act;
        bool spans = (int64_t)tp * p > dpn;
        dml_link_spec link = spans ? ctx->inter : ctx->intra;
        link.latency_s *= spans ? o->calib.latency_inter
                                : o->calib.latency_intra;
        double one = dml_p2p_time(&link, msg) *
                     (spans ? o->calib.comm_inter : o->calib.comm_intra);
        if (split && !par->sp)
            one += dml_collective_time(&env.tp, DML_COLL_ALLGATHER, act, NULL);
        /* per chunk: forward and backward phase; unbatched, each phase
         * is a blocking receive and a blocking send */
        t_p2p = (o->p2p_batched ? 2.0 : 4.0) * v * one;
    }

    /* Each pipeline device: time per micro-batch, params and memory. */
    double t_max = 0, t_sum = 0, params_max = 0, tp_slowest = 0;
    bool full = par->recompute == DML_RECOMPUTE_FULL; /* redoes fwd comm */
    int slowest = 0;
    double lt_f = lc.fwd, lt_b = lc.bwd;
    double act_layer = tf ? dml_memory_layer_activations(
                                m, 0, (double)par->mbs, tp, par->sp,
                                par->recompute, o->attention)
                          : 0;
    double act_layer_full = tf ? dml_memory_layer_activations(
                                     m, 0, (double)par->mbs, tp, par->sp,
                                     DML_RECOMPUTE_NONE, o->attention)
                               : 0;
    double best_mem = -1;
    dml_mem_breakdown mem_worst, mem_first, mem_last;
    memset(&mem_worst, 0, sizeof mem_worst);
    memset(&mem_first, 0, sizeof mem_first);
    memset(&mem_last, 0, sizeof mem_last);
    int mem_rank = 0;
    double dp_exposed = 0, dp_raw = 0, opt_time = 0;
    dml_coll_algo dp_algo = DML_ALGO_NONE;
    /* Gradient bytes on the wire per element. */
    double wire = o->grad_reduce_bytes > 0 ? o->grad_reduce_bytes
                                           : ctx->state.grad;
    if (par->grad_compression == DML_COMPRESS_FP16 && wire > 2)
        wire = 2;
    double opt_bpp = optimizer_bytes_per_param(ctx);
    double inflight0 = 0;
    double async_raw = 0; /* async DP sync: hidden behind the next step */

    for (int r = 0; r < p; r++) {
        double tf_r, tb_r, params_r, act_r, tp_r = 0;
        if (tf) {
            int64_t nl = rank_layers(m, p, v, stages, stage_count, r);
            tf_r = (double)nl * lt_f;
            tb_r = (double)nl * lt_b;
            tp_r = (double)nl * (lc.tp_f + lc.tp_b + (full ? lc.tp_f : 0));
            double dense = ctx->layer_params - ctx->expert_params;
            params_r = (double)nl * (dense / tp + ctx->expert_params /
                                                      ((double)tp * ep));
            double infl = dml_memory_inflight(par->schedule, p, v, mb, r);
            act_r = (double)nl * act_layer * infl;
            if (r == 0) {
                inflight0 = infl;
                params_r += ctx->embed_params / tp;
                act_r += dml_memory_embedding_activations(
                             m, (double)par->mbs, tp, par->sp) * infl;
            }
            if (r == p - 1) {
                double head = ctx->head_params;
                if (m->tied_embeddings && p > 1)
                    head += (double)m->vocab * (double)m->hidden;
                params_r += head / tp;
                act_r += dml_memory_logits_activations(m, (double)par->mbs,
                                                       tp);
            }
            if (par->recompute == DML_RECOMPUTE_FULL)
                act_r += act_layer_full; /* the layer being recomputed */
        } else {
            int64_t first, last;
            mlp_rank_range(m, p, v, stages, stage_count, r, &first, &last);
            tf_r = tb_r = params_r = act_r = 0;
            double infl = dml_memory_inflight(par->schedule, p, 1, mb, r);
            if (r == 0)
                inflight0 = infl;
            for (int64_t i = first; i <= last; i++) {
                layer_cost l;
                double act = 0;
                mlp_layer(ctx, par, (int)i, first, last, &env, &l, &act);
                tf_r += l.fwd;
                tb_r += l.bwd;
                tp_r += l.tp_f + l.tp_b + (full ? l.tp_f : 0);
                bool split = dml_mlp_tp_split(first, last, i, tp) !=
                             DML_TP_SPLIT_NONE;
                params_r += dml_flops_layer_params(m, (int)i) /
                            (split ? tp : 1);
                act_r += act * infl;
            }
            if (r == p - 1)
                act_r += dml_memory_logits_activations(m, (double)par->mbs,
                                                       tp);
        }
        /* embedding and head times are forward + backward; split evenly,
         * as only their sum matters to the pipeline */
        if (r == 0) {
            tf_r += 0.5 * t_embed;
            tb_r += 0.5 * t_embed;
        }
        if (r == p - 1) {
            tf_r += 0.5 * t_head;
            tb_r += 0.5 * t_head;
        }
        double t_r = tf_r + tb_r + t_p2p + o->calib.microbatch_overhead_s;
        t_sum += t_r;
        if (t_r > t_max) {
            t_max = t_r;
            slowest = r;
            tp_slowest = tp_r;
        }
        if (params_r > params_max)
            params_max = params_r;

        /* Model states and buffers. */
        dml_mem_breakdown mb_r;
        dml_memory_model_states(params_r, dp, par->zero, &ctx->state, &mb_r);
        mb_r.activations_bytes = act_r;
        double buffers = o->workspace_bytes;
        if (tf && tp > 1)
            buffers += (double)par->mbs * (double)m->seq_len *
                       (double)m->hidden * ctx->elem_bytes;
        if (p > 1 && tf)
            buffers += 2.0 * (double)par->mbs * (double)m->seq_len *
                       (double)m->hidden * ctx->elem_bytes / tp;
        if (par->zero >= 3 && tf)
            buffers += 2.0 * ctx->layer_params / tp * ctx->state.param;
        mb_r.buffers_bytes = buffers;
        double total = mb_r.params_bytes + mb_r.grads_bytes +
                       mb_r.optimizer_bytes + mb_r.activations_bytes +
                       mb_r.buffers_bytes;
        if (r == 0)
            mem_first = mb_r;
        if (r == p - 1)
            mem_last = mb_r;
        if (total > best_mem) {
            best_mem = total;
            mem_worst = mb_r;
            mem_rank = r;
        }

        /* Data-parallel gradient sync of this rank. */
        if (dp > 1) {
            double g_bytes = params_r * wire;
            double p_bytes = params_r * ctx->state.param;
            double reduce, gather = 0;
            dml_coll_algo a = DML_ALGO_NONE;
            if (par->grad_compression == DML_COMPRESS_TOPK) {
                double k = params_r * par->topk_ratio;
                reduce = dml_collective_time(&dpg, DML_COLL_ALLGATHER,
                                             dp * k * (wire + 4.0), &a) +
                         mem_t(ctx, 12.0 * params_r + dp * k * 8.0);
                if (par->zero >= 1)
                    gather = dml_collective_time(&dpg, DML_COLL_ALLGATHER,
                                                 p_bytes, NULL);
            } else if (par->zero == 0) {
                reduce = dml_collective_time(&dpg, DML_COLL_ALLREDUCE, g_bytes,
                                             &a);
            } else {
                reduce = dml_collective_time(&dpg, DML_COLL_REDUCESCATTER,
                                             g_bytes, &a);
                gather = dml_collective_time(&dpg, DML_COLL_ALLGATHER,
                                             p_bytes, NULL);
            }
            double raw, exp_r;
            /* rank r finishes its last backward about r stage-backwards
             * before rank 0 does, so its sync has that much slack */
            double slack = r * tb_r;
            double window = o->dp_overlap ? tb_r : 0;
            if (par->sync == DML_SYNC_ASYNC) {
                raw = reduce + gather;
                exp_r = 0;
                if (raw > async_raw)
                    async_raw = raw;
            } else if (par->zero <= 1 ||
                       par->grad_compression == DML_COMPRESS_TOPK) {
                raw = reduce + gather;
                double c = reduce > slack ? reduce - slack : 0;
                exp_r = exposed(c, window, env.contention) + gather;
            } else if (par->zero == 2) {
                /* a reduce-scatter per micro-batch, behind the next one */
                raw = mb * reduce + gather;
                double c = reduce > slack ? reduce - slack : 0;
                exp_r = (mb - 1) * exposed(reduce, tb_r, env.contention) +
                        exposed(c, window, env.contention) + gather;
            } else {
                /* ZeRO-3: gather weights for forward and backward, scatter
                 * gradients, every micro-batch, prefetched */
                double ag = dml_collective_time(&dpg, DML_COLL_ALLGATHER,
                                                p_bytes, NULL);
                raw = mb * (2.0 * ag + reduce);
                exp_r = mb * (exposed(ag, tf_r, env.contention) +
                              exposed(ag + reduce, tb_r, env.contention));
            }
            if (raw > dp_raw) {
                dp_raw = raw;
                dp_algo = a;
            }
            if (exp_r > dp_exposed)
                dp_exposed = exp_r;
        }
        double opt_params = params_r / (par->zero >= 1 ? dp : 1);
        double t_opt = opt_params * opt_bpp / ctx->membound_Bps *
                       o->calib.optimizer;
        if (t_opt > opt_time)
            opt_time = t_opt;
    }

    double bubble = 0;
    double t_pipe = dml_pipeline_time(par->schedule, p, v, mb, t_max, t_sum,
                                      &bubble);
    if (async_raw > 0)
        dp_exposed = exposed(async_raw, t_pipe, env.contention);

    /* Tied embeddings split over the first and last stage sum their
     * gradients once per step. */
    double t_tied = 0;
    if (tf && m->tied_embeddings && p > 1) {
        dml_coll_group pair;
        bool spans = (int64_t)tp * p > dpn;
        dml_coll_group_init(&pair, grp, 2, spans ? 1 : 2);
        pair.intra = ctx->intra;
        pair.inter = ctx->inter;
        pair.scale_intra = o->calib.comm_intra;
        pair.scale_inter = o->calib.comm_inter;
        pair.latency_scale_intra = o->calib.latency_intra;
        pair.latency_scale_inter = o->calib.latency_inter;
        t_tied = dml_collective_time(&pair, DML_COLL_ALLREDUCE,
                                     ctx->embed_params / tp * wire, NULL);
    }

    double step = t_pipe + dp_exposed + t_tied + opt_time +
                  o->calib.overhead_s;

    /* Breakdown: the slowest device's steady state, then the rest. */
    double share = mb;
    dml_time_breakdown *bd = &out->time;
    memset(out, 0, sizeof *out);
    out->present = true;
    out->step_s = step;
    double tp_pmb = tp_slowest;
    double compute_pmb = t_max - t_p2p - tp_pmb;
    bd->compute_s = share * compute_pmb;
    bd->tp_comm_s = share * tp_pmb;
    bd->pp_comm_s = share * t_p2p;
    bd->bubble_s = bubble;
    bd->dp_comm_s = dp_exposed + t_tied;
    bd->optimizer_s = opt_time;
    bd->overhead_s = o->calib.overhead_s;
    out->mem = mem_worst;
    out->mem_bytes_per_device = best_mem;

    double samples = (double)dp * (double)par->mbs * mb;
    double executed = 0;
    double model_flops = dml_flops_iteration(m, samples, (int)par->recompute,
                                             &executed);
    out->tokens_per_s = samples * (tf ? (double)m->seq_len : 1.0) / step;
    out->flops_per_device = executed / (step * (double)world);
    out->mfu = model_flops / (step * (double)world * ctx->peak_flops);

    if (detail) {
        memset(detail, 0, sizeof *detail);
        detail->layer_fwd_s = lc.fwd;
        detail->layer_bwd_s = lc.bwd;
        detail->layer_gemm_fwd_s = lc.gemm_f;
        detail->layer_gemm_bwd_s = lc.gemm_b;
        detail->layer_membound_fwd_s = lc.mem_f;
        detail->layer_membound_bwd_s = lc.mem_b;
        detail->layer_tp_fwd_s = lc.tp_f;
        detail->layer_tp_bwd_s = lc.tp_b;
        detail->layer_recompute_s = lc.recompute;
        detail->embed_s = t_embed;
        detail->head_s = t_head;
        detail->p2p_s = t_p2p;
        detail->stage_max_s = t_max;
        detail->stage_sum_s = t_sum;
        detail->slowest_rank = slowest;
        detail->pipeline_s = t_pipe;
        detail->dp_comm_s = dp_raw;
        detail->dp_exposed_s = dp_exposed;
        detail->bubble_fraction = dml_pipeline_bubble_fraction(
            par->schedule, p, v, mb);
        detail->tp_algo = tp_algo;
        detail->dp_algo = dp_algo;
        detail->model_flops = model_flops;
        detail->executed_flops = executed;
        detail->params_per_device = params_max;
        detail->mem_rank = mem_rank;
        detail->mem_first = mem_first;
        detail->mem_last = mem_last;
        detail->layer_activation_bytes = act_layer;
        detail->inflight_first = inflight0;
        detail->fits = best_mem <= ctx->mem_bytes;
    }
    return DML_OK;
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
