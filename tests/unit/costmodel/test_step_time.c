/*
 * test_step_time.c: behaviour of the step-time and memory model: the
 * breakdown adds up, each knob moves time and memory the way the physics
 * says, the MLP workload on CPU nodes is priced, bad configurations are
 * refused, and a call is cheap enough for a planner's search.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "costmodel/flops.h"
#include "costmodel/memory.h"
#include "costmodel/presets.h"
#include "costmodel/step_time.h"
#include "tests/support/test_support.h"

#define FIX DML_FIXTURES "/specs/"
#define REL(a, b) (fabs((double)(a) - (double)(b)) / fabs((double)(b)))

typedef struct env {
    dml_model_spec model;
    dml_cluster_spec *cluster;
    dml_costmodel_ctx *ctx;
} env;

static env *setup(const char *model, const char *cluster, int64_t nodes,
                  const dml_costmodel_options *opt)
{
    env *e = calloc(1, sizeof *e);
    e->cluster = malloc(sizeof *e->cluster);
    e->ctx = malloc(sizeof *e->ctx);
    dml_error err;
    char buf[1200];
    const char *dd = dml_costmodel_data_dir(NULL);
    if (dml_model_spec_load(model, dd, &e->model, &err) != DML_OK ||
        dml_cluster_spec_load(cluster, dd, e->cluster, &err) != DML_OK ||
        (nodes > 0 &&
         dml_cluster_spec_scale_nodes(e->cluster, nodes, &err) != DML_OK) ||
        dml_costmodel_prepare(&e->model, e->cluster, opt, e->ctx, &err) !=
            DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    return e;
}

static void teardown(env *e)
{
    free(e->cluster);
    free(e->ctx);
    free(e);
}

static dml_prediction run(const env *e, const dml_parallel_config *par,
                          dml_costmodel_detail *det)
{
    dml_prediction p;
    dml_error err;
    char buf[1200];
    if (dml_costmodel_step_time(e->ctx, par, NULL, 0, &p, det, &err) != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    return p;
}

static dml_parallel_config cfg(int dp, int tp, int pp, int64_t mbs,
                               int64_t micro)
{
    return dml_test_parallel(dp, tp, pp, 1, mbs, micro);
}

static double total_mem(const dml_mem_breakdown *m)
{
    return m->params_bytes + m->grads_bytes + m->optimizer_bytes +
           m->activations_bytes + m->buffers_bytes;
}

static void check_sums(const env *e, const dml_parallel_config *par,
                       const dml_prediction *p)
{
    const dml_time_breakdown *t = &p->time;
    double sum = t->compute_s + t->tp_comm_s + t->pp_comm_s + t->dp_comm_s +
                 t->bubble_s + t->optimizer_s + t->overhead_s;
    assert_true(REL(sum, p->step_s) < 1e-9);
    assert_true(REL(total_mem(&p->mem), p->mem_bytes_per_device) < 1e-12);
    assert_true(t->compute_s > 0);
    assert_true(t->bubble_s >= -1e-12 && t->dp_comm_s >= 0 &&
                t->tp_comm_s >= 0 && t->pp_comm_s >= 0);
    /* throughput and MFU follow from the step time */
    double samples = (double)par->dp * par->mbs * par->microbatches;
    double tokens = samples * (e->model.type == DML_MODEL_TRANSFORMER
                                   ? (double)e->model.seq_len
                                   : 1.0);
    assert_true(REL(p->tokens_per_s * p->step_s, tokens) < 1e-9);
    double model_flops = dml_flops_iteration(&e->model, samples, 0, NULL);
    double world = (double)par->dp * par->tp * par->pp;
    assert_true(REL(p->mfu * p->step_s * world * e->ctx->peak_flops,
                    model_flops) < 1e-9);
    assert_true(p->mfu > 0 && p->mfu < 1);
}

static void breakdown_adds_up(void **state)
{
    (void)state;
    env *e = setup("gpt3-175b", "dgx-a100-80g", 128, NULL);
    dml_parallel_config par = cfg(16, 8, 8, 1, 96);
    for (int zero = 0; zero <= 3; zero++)
        for (int rc = 0; rc < 3; rc++)
            for (int sync = 0; sync < 2; sync++) {
                par.zero = zero;
                par.recompute = (dml_recompute)rc;
                par.sync.kind = sync ? DML_SYNC_SSP : DML_SYNC_ALLREDUCE;
                par.sync.param = sync;
                par.sp = rc == 1;
                dml_prediction p = run(e, &par, NULL);
                check_sums(e, &par, &p);
            }
    par = cfg(16, 8, 8, 1, 96);
    par.v = 3;
    par.schedule = DML_PP_INTERLEAVED;
    dml_prediction p = run(e, &par, NULL);
    check_sums(e, &par, &p);
    /* the same inputs give the same numbers */
    dml_prediction q = run(e, &par, NULL);
    assert_memory_equal(&p, &q, sizeof p);
    teardown(e);
}

static void knobs_move_time_and_memory(void **state)
{
    (void)state;
    env *e = setup("gpt3-175b", "dgx-a100-80g", 128, NULL);
    dml_costmodel_detail d;
    dml_parallel_config par = cfg(16, 8, 8, 1, 96);
    /* recompute: none > selective > full in memory, reverse in time */
    dml_prediction none = run(e, &par, NULL);
    par.recompute = DML_RECOMPUTE_SELECTIVE;
    dml_prediction sel = run(e, &par, NULL);
    par.recompute = DML_RECOMPUTE_FULL;
    dml_prediction full = run(e, &par, NULL);
    assert_true(none.mem.activations_bytes > sel.mem.activations_bytes);
    assert_true(sel.mem.activations_bytes > full.mem.activations_bytes);
    assert_true(none.step_s < sel.step_s && sel.step_s < full.step_s);
    /* full recompute costs about one more forward: 25-40% */
    assert_true(full.step_s / none.step_s > 1.2 &&
                full.step_s / none.step_s < 1.45);
    /* sequence parallelism cuts activations and memory-bound time */
    par.recompute = DML_RECOMPUTE_NONE;
    par.sp = true;
    dml_prediction sp = run(e, &par, NULL);
    /* 175B, tp 8: sbh/8 (34 + 5as/h) = 14.25 sbh against 23 sbh */
    assert_true(REL(sp.mem.activations_bytes / none.mem.activations_bytes,
                    14.25 / 23) < 0.02);
    assert_true(sp.step_s < none.step_s);
    /* ZeRO shards states over dp = 16 */
    par.sp = false;
    dml_prediction z[4];
    for (int s = 0; s < 4; s++) {
        par.zero = s;
        z[s] = run(e, &par, NULL);
    }
    assert_true(REL(z[1].mem.optimizer_bytes, z[0].mem.optimizer_bytes / 16) <
                1e-12);
    assert_true(REL(z[2].mem.grads_bytes, z[0].mem.grads_bytes / 16) < 1e-12);
    assert_true(REL(z[3].mem.params_bytes, z[0].mem.params_bytes / 16) <
                1e-12);
    assert_true(z[3].step_s > z[1].step_s); /* gathers every micro-batch */
    /* interleaving shrinks the bubble, more micro-batches too */
    par = cfg(16, 8, 8, 1, 96);
    dml_prediction plain = run(e, &par, &d);
    double bubble_plain = d.bubble_fraction;
    par.v = 3;
    par.schedule = DML_PP_INTERLEAVED;
    dml_prediction inter = run(e, &par, &d);
    assert_true(inter.time.bubble_s < plain.time.bubble_s);
    assert_true(REL(d.bubble_fraction, bubble_plain / 3) < 1e-12);
    assert_true(inter.mem.activations_bytes > plain.mem.activations_bytes);
    /* GPipe keeps every micro-batch's activations */
    par = cfg(16, 8, 8, 1, 96);
    par.schedule = DML_PP_GPIPE;
    dml_prediction gp = run(e, &par, NULL);
    assert_true(gp.mem.activations_bytes > 5 * plain.mem.activations_bytes);
    assert_true(REL(gp.step_s, plain.step_s) < 1e-9);
    /* flash attention: less memory, less time */
    par = cfg(16, 8, 8, 1, 96);
    par.attention = DML_ATTN_FLASH;
    dml_prediction fl = run(e, &par, NULL);
    assert_true(fl.mem.activations_bytes < plain.mem.activations_bytes);
    assert_true(fl.step_s < plain.step_s);
    teardown(e);
}

static void data_parallel_sync_options(void **state)
{
    (void)state;
    env *e = setup("gpt3-13b", "dgx-a100-80g", 16, NULL);
    dml_parallel_config par = cfg(32, 4, 1, 4, 4);
    dml_costmodel_detail d;
    dml_prediction base = run(e, &par, &d);
    assert_true(d.dp_comm_s > 0);
    assert_true(base.time.dp_comm_s > 0);
    /* fp16 on the wire halves the fp32 gradient reduction's bytes; the
     * casts cost memory traffic, so the time is between half and all */
    par.sync.kind = DML_SYNC_FP16;
    dml_costmodel_detail d16;
    run(e, &par, &d16);
    assert_true(REL(d16.dp_bytes_intra + d16.dp_bytes_inter,
                    (d.dp_bytes_intra + d.dp_bytes_inter) / 2) < 1e-12);
    assert_true(d16.dp_comm_s > d.dp_comm_s / 2);
    assert_true(d16.dp_comm_s < 0.75 * d.dp_comm_s);
    /* top-k sends 1% of the entries (with indices) */
    par.sync.kind = DML_SYNC_TOPK;
    par.sync.param = 0.01;
    dml_costmodel_detail dk;
    run(e, &par, &dk);
    assert_true(dk.dp_comm_s < d16.dp_comm_s);
    /* stale-synchronous hides the reduction behind the next steps; with
     * one short micro-batch the synchronous reduction is mostly exposed */
    par = cfg(32, 4, 1, 1, 1);
    dml_prediction sy = run(e, &par, NULL);
    par.sync.kind = DML_SYNC_SSP;
    par.sync.param = 2;
    dml_prediction as = run(e, &par, NULL);
    assert_true(as.time.dp_comm_s < sy.time.dp_comm_s);
    assert_true(as.step_s < sy.step_s);
    /* one node's worth of DP ranks reduce over NVLink: cheaper than over
     * the network */
    par = cfg(2, 4, 1, 4, 64);
    dml_costmodel_detail dn;
    run(e, &par, &dn);
    par = cfg(2, 8, 1, 4, 64);
    dml_costmodel_detail dx;
    run(e, &par, &dx);
    /* tp 8: the two dp ranks are on two nodes (half the params each) */
    assert_true(dx.dp_comm_s > dn.dp_comm_s / 2);
    teardown(e);
}

/* A model without dropout (Llama) keeps no dropout masks and runs no
 * attention dropout: per layer and micro-batch (materialized attention,
 * no recomputation, no SP) 2 sbh / 1 byte masks and a s^2 (e + 1) of the
 * scores fewer bytes stored, and fewer memory-bound bytes moved; any
 * dropout rate above 0 costs the same. */
static void dropout_free_models_keep_no_masks(void **state)
{
    (void)state;
    env *e = setup("gpt3-1.3b", "dgx-a100-80g", 1, NULL);
    dml_model_spec m0 = e->model, m2 = e->model;
    m0.dropout = 0;
    m2.dropout = 0.2;
    double b = 4, s = (double)m0.seq_len, h = (double)m0.hidden;
    double a = (double)m0.heads;
    double with = dml_memory_layer_activations(&e->model, 0, b, 1, false,
                                               DML_RECOMPUTE_NONE,
                                               DML_ATTN_MATERIALIZED);
    double without = dml_memory_layer_activations(&m0, 0, b, 1, false,
                                                  DML_RECOMPUTE_NONE,
                                                  DML_ATTN_MATERIALIZED);
    assert_true(REL(with - without, 2 * s * b * h + a * s * s * b * 3) <
                1e-12);
    assert_true(dml_memory_layer_activations(&m2, 0, b, 1, false,
                                             DML_RECOMPUTE_NONE,
                                             DML_ATTN_MATERIALIZED) == with);
    dml_costmodel_ctx *c0 = malloc(sizeof *c0);
    dml_error err;
    assert_int_equal(dml_costmodel_prepare(&m0, e->cluster, NULL, c0, &err),
                     DML_OK);
    dml_parallel_config par = cfg(8, 1, 1, 4, 8);
    dml_costmodel_detail d, d0;
    run(e, &par, &d);
    dml_prediction p0;
    assert_int_equal(
        dml_costmodel_step_time(c0, &par, NULL, 0, &p0, &d0, &err), DML_OK);
    assert_true(d0.layer_membound_fwd_s < d.layer_membound_fwd_s);
    assert_true(d0.layer_membound_bwd_s < d.layer_membound_bwd_s);
    assert_true(d0.layer_gemm_fwd_s == d.layer_gemm_fwd_s);
    free(c0);
    teardown(e);
}

/* Issue 11: on A100 and H100, fp16 and bf16 run on the same tensor cores
 * at the same peak, so a run labelled fp16 is predicted as the same run
 * labelled bf16, to the last bit, across models and layouts. */
static void fp16_is_priced_as_bf16(void **state)
{
    (void)state;
    static const char *const models[] = {"gpt3-1.3b", "gpt3-13b",
                                         "llama3-70b"};
    static const char *const clusters[] = {"dgx-a100-80g", "dgx-h100"};
    for (size_t ci = 0; ci < 2; ci++)
        for (size_t mi = 0; mi < 3; mi++) {
            env *b = setup(models[mi], clusters[ci], 16, NULL);
            dml_model_spec m16 = b->model;
            m16.dtype = DML_DTYPE_FP16;
            dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
            dml_error err;
            assert_int_equal(dml_costmodel_prepare(&m16, b->cluster, NULL,
                                                   ctx, &err),
                             DML_OK);
            for (int tp = 1; tp <= 8; tp *= 2)
                for (int pp = 1; pp <= 4; pp *= 2) {
                    dml_parallel_config par = cfg(128 / (tp * pp), tp, pp, 1,
                                                  8);
                    dml_prediction pb, ph;
                    if (dml_costmodel_step_time(b->ctx, &par, NULL, 0, &pb,
                                                NULL, &err) != DML_OK)
                        continue;
                    assert_int_equal(dml_costmodel_step_time(ctx, &par, NULL,
                                                             0, &ph, NULL,
                                                             &err),
                                     DML_OK);
                    assert_true(ph.step_s == pb.step_s);
                    assert_true(ph.mem_bytes_per_device ==
                                pb.mem_bytes_per_device);
                }
            free(ctx);
            teardown(b);
        }
}

/* ZeRO-3 (issue 11): every layer's weights are all-gathered for each
 * micro-batch before its forward and again before its backward (once more
 * under full recomputation), its gradients reduce-scattered after it; a
 * layer's collectives hide behind one layer's compute at most, the first
 * gather of a micro-batch behind nothing. Checked against the collective
 * model directly, on GPT-3 13B over 16 DGX A100 nodes with TP 8 (one DP
 * rank per node: the gathers cross the network). */
static void zero3_gathers_every_layer_every_microbatch(void **state)
{
    (void)state;
    env *e = setup("gpt3-13b", "dgx-a100-80g", 16, NULL);
    const dml_costmodel_ctx *ctx = e->ctx;
    const double L = (double)e->model.layers;
    for (int full = 0; full < 2; full++) {
        dml_parallel_config par = cfg(16, 8, 1, 1, 4);
        par.zero = 3;
        par.recompute = full ? DML_RECOMPUTE_FULL : DML_RECOMPUTE_NONE;
        dml_costmodel_detail d;
        dml_prediction p = run(e, &par, &d);
        /* the DP group as step_time builds it: 16 ranks, one per node */
        dml_coll_group g;
        dml_coll_group_init(&g, &ctx->cluster.groups[ctx->group], 16, 1);
        g.intra = ctx->intra;
        g.inter = ctx->inter;
        double p_layer = d.params_per_device / L;
        double ag = dml_collective_time(&g, DML_COLL_ALLGATHER,
                                        p_layer * ctx->state.param, NULL);
        double rs = dml_collective_time(&g, DML_COLL_REDUCESCATTER,
                                        p_layer * ctx->state.grad, NULL);
        double gathers = full ? 3.0 : 2.0;
        double mb = (double)par.microbatches;
        /* raw: every collective of every layer of every micro-batch */
        assert_true(REL(d.dp_comm_s, mb * L * (gathers * ag + rs)) < 1e-9);
        /* exposed: at least what one layer's compute cannot hide */
        double tf = (L * d.layer_fwd_s + 0.5 * (d.embed_s + d.head_s)) / L;
        double tb = (L * d.layer_bwd_s + 0.5 * (d.embed_s + d.head_s)) / L;
        double floor_f = ag + (L - 1) * fmax(0, ag - tf);
        double floor_b = L * fmax(0, (gathers - 1) * ag + rs - tb);
        assert_true(p.time.dp_comm_s >= mb * (floor_f + floor_b) - 1e-12);
        assert_true(p.time.dp_comm_s <= d.dp_comm_s);
        /* the first gather of each micro-batch is always exposed */
        assert_true(p.time.dp_comm_s >= mb * ag);
    }
    /* Per micro-batch, unlike ZeRO-1's once-per-step reduction: four
     * times the micro-batches, four times the ZeRO-3 traffic. */
    dml_parallel_config a = cfg(16, 8, 1, 1, 4), b = cfg(16, 8, 1, 1, 16);
    a.zero = b.zero = 3;
    dml_costmodel_detail da, db;
    run(e, &a, &da);
    run(e, &b, &db);
    assert_true(REL(db.dp_comm_s, 4 * da.dp_comm_s) < 1e-9);
    a.zero = b.zero = 1;
    run(e, &a, &da);
    run(e, &b, &db);
    assert_true(REL(db.dp_comm_s, da.dp_comm_s) < 1e-9);
    teardown(e);
}

static void faster_hardware_is_faster(void **state)
{
    (void)state;
    env *a = setup("llama3-70b", "dgx-a100-80g", 8, NULL);
    env *h = setup("llama3-70b", "dgx-h100", 8, NULL);
    dml_parallel_config par = cfg(2, 8, 4, 1, 32);
    par.sp = true;
    par.recompute = DML_RECOMPUTE_SELECTIVE;
    dml_prediction pa = run(a, &par, NULL), ph = run(h, &par, NULL);
    assert_true(ph.step_s < pa.step_s);
    assert_true(pa.step_s / ph.step_s > 1.5 && pa.step_s / ph.step_s < 3.5);
    check_sums(a, &par, &pa);
    check_sums(h, &par, &ph);
    /* GQA with tp 16 > 8 kv heads replicates kv heads: still priced */
    par = cfg(1, 16, 2, 1, 8);
    dml_prediction g = run(h, &par, NULL);
    check_sums(h, &par, &g);
    teardown(a);
    teardown(h);
}

/* Mixture of experts: experts shard over the dp ranks (expert
 * parallelism), tokens travel by all-to-all. */
static void mixture_of_experts(void **state)
{
    (void)state;
    env *e = calloc(1, sizeof *e);
    e->cluster = malloc(sizeof *e->cluster);
    e->ctx = malloc(sizeof *e->ctx);
    dml_error err;
    assert_int_equal(dml_model_spec_read_file(FIX "model-gqa.json", &e->model,
                                              &err),
                     DML_OK);
    assert_int_equal(dml_cluster_spec_load("dgx-a100-80g",
                                           dml_costmodel_data_dir(NULL),
                                           e->cluster, &err),
                     DML_OK);
    assert_int_equal(dml_costmodel_prepare(&e->model, e->cluster, NULL, e->ctx,
                                           &err),
                     DML_OK);
    dml_costmodel_detail d1, d8;
    dml_parallel_config one = cfg(1, 1, 1, 8, 1);
    dml_prediction p1 = run(e, &one, &d1);
    dml_parallel_config eight = cfg(8, 1, 1, 1, 1);
    dml_prediction p8 = run(e, &eight, &d8);
    check_sums(e, &one, &p1);
    check_sums(e, &eight, &p8);
    assert_true(p1.time.tp_comm_s == 0);
    assert_true(p8.time.tp_comm_s > 0); /* the all-to-alls */
    /* 8 experts over 8 ranks: each holds one expert's FFN */
    double dense = e->ctx->layer_params - e->ctx->expert_params;
    assert_true(REL(d8.params_per_device - d1.params_per_device,
                    -2.0 * e->ctx->expert_params * 7 / 8) < 1e-9);
    assert_true(dense > 0);
    teardown(e);
}

/* A heterogeneous cluster is priced at its slowest group. */
static void heterogeneous_cluster_uses_slowest(void **state)
{
    (void)state;
    env *h = setup("gpt3-6.7b", "dgx-h100", 1, NULL);
    dml_cluster_spec *c = malloc(sizeof *c);
    *c = *h->cluster;
    dml_cluster_spec *a100 = malloc(sizeof *a100);
    dml_error err;
    assert_int_equal(dml_cluster_spec_load("dgx-a100-80g",
                                           dml_costmodel_data_dir(NULL), a100,
                                           &err),
                     DML_OK);
    c->groups[1] = a100->groups[0];
    c->group_count = 2;
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    assert_int_equal(dml_costmodel_prepare(&h->model, c, NULL, ctx, &err),
                     DML_OK);
    assert_int_equal(ctx->group, 1);
    assert_true(ctx->peak_flops == 312e12);
    assert_int_equal(ctx->devices, 16);
    free(ctx);
    free(c);
    free(a100);
    teardown(h);
}

/* The executor's workload: mlp-fmnist in fp32 on CPU ranks. */
static void mlp_on_cpu_nodes(void **state)
{
    (void)state;
    env *e = setup("mlp-fmnist", "cpu-node", 2, NULL);
    dml_costmodel_detail d;
    dml_parallel_config one = cfg(1, 1, 1, 256, 1);
    dml_prediction p1 = run(e, &one, &d);
    check_sums(e, &one, &p1);
    /* Forward GEMMs 784x256, 256x256, 256x10 on 256 samples; backward
     * twice that but for the first layer's input gradient, which the
     * executor does not compute (nothing to propagate it to). */
    double flops = dml_flops_iteration(&e->model, 256, 0, NULL);
    double fwd = 2.0 * 256 * (784.0 * 256 + 256.0 * 256 + 256.0 * 10);
    assert_true(REL(flops, 3.0 * fwd - 2.0 * 256 * 784.0 * 256) < 1e-12);
    /* at a few hundred GFLOP/s: well under 10 ms */
    assert_true(p1.step_s > flops / 4.096e12);
    assert_true(p1.step_s < 0.01);
    /* model states: 269,322 fp32 parameters, Adam: 16 bytes each */
    assert_true(REL(p1.mem.params_bytes + p1.mem.grads_bytes +
                        p1.mem.optimizer_bytes,
                    16.0 * 269322) < 1e-12);
    /* four ranks of data parallelism on the same global batch: less
     * compute per rank, plus a gradient allreduce */
    dml_parallel_config four = cfg(4, 1, 1, 64, 1);
    dml_prediction p4 = run(e, &four, &d);
    check_sums(e, &four, &p4);
    assert_true(p4.time.compute_s < p1.time.compute_s);
    assert_true(d.dp_comm_s > 0);
    /* tensor parallelism splits the 256-wide layers */
    dml_parallel_config tp2 = cfg(1, 2, 1, 256, 1);
    dml_prediction pt = run(e, &tp2, &d);
    check_sums(e, &tp2, &pt);
    assert_true(pt.time.tp_comm_s > 0);
    assert_true(pt.mem.params_bytes < p1.mem.params_bytes);
    /* a pipeline over the three layers */
    dml_parallel_config pp = cfg(1, 1, 3, 32, 8);
    dml_prediction pq = run(e, &pp, &d);
    check_sums(e, &pp, &pq);
    assert_true(pq.time.pp_comm_s > 0 && pq.time.bubble_s > 0);
    /* a rank with 4 of its 32 cores computes 8x slower */
    dml_parallel_config t4 = cfg(1, 1, 1, 256, 1);
    t4.threads_per_rank = 4;
    dml_parallel_config t32 = t4;
    t32.threads_per_rank = 32;
    dml_costmodel_detail d4, d32;
    run(e, &t4, &d4);
    run(e, &t32, &d32);
    assert_true(d4.layer_gemm_fwd_s == 0); /* MLP layers are per rank */
    dml_prediction q4 = run(e, &t4, NULL), q32 = run(e, &t32, NULL);
    assert_true(q4.time.compute_s > 4 * q32.time.compute_s);
    teardown(e);
}

static void bad_configurations_are_refused(void **state)
{
    (void)state;
    env *e = setup("gpt3-175b", "dgx-a100-80g", 8, NULL);
    dml_prediction p;
    dml_error err;
    dml_parallel_config par = cfg(2, 8, 8, 1, 8); /* 128 > 64 devices */
    assert_int_equal(dml_costmodel_step_time(e->ctx, &par, NULL, 0, &p, NULL,
                                             &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "64"));
    par = cfg(1, 5, 1, 1, 8); /* 96 heads */
    assert_int_equal(dml_costmodel_step_time(e->ctx, &par, NULL, 0, &p, NULL,
                                             &err),
                     DML_EINPUT);
    par = cfg(1, 1, 8, 1, 8);
    dml_stage_range st[4] = {{0, 23}, {24, 47}, {48, 71}, {72, 95}};
    assert_int_equal(dml_costmodel_step_time(e->ctx, &par, st, 4, &p, NULL,
                                             &err),
                     DML_EINPUT);
    par = cfg(0, 1, 1, 1, 8);
    assert_int_equal(dml_costmodel_step_time(e->ctx, &par, NULL, 0, &p, NULL,
                                             &err),
                     DML_EINPUT);
    /* a bf16 model on CPU nodes that state only fp64 runs at the fp64 peak */
    dml_cluster_spec *c = malloc(sizeof *c);
    assert_int_equal(dml_cluster_spec_load("cpu-node",
                                           dml_costmodel_data_dir(NULL), c,
                                           &err),
                     DML_OK);
    dml_device_spec *dev = &c->groups[0].device;
    dev->peak_flops[DML_DTYPE_FP32] = 0;
    int kept = 0; /* its fp64 points only */
    for (int i = 0; i < dev->gemm_count; i++)
        if (dev->gemm[i].dtype == DML_DTYPE_FP64)
            dev->gemm[kept++] = dev->gemm[i];
    dev->gemm_count = kept;
    assert_true(kept > 0);
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    assert_int_equal(dml_costmodel_prepare(&e->model, c, NULL, ctx, &err),
                     DML_OK);
    assert_int_equal(ctx->compute_dtype, DML_DTYPE_FP64);
    /* issue 11: a spec without a curve for the unit the model runs on is
     * bad input naming the field, not a guessed curve */
    c->groups[0].device.gemm_count = 0;
    assert_int_equal(dml_costmodel_prepare(&e->model, c, NULL, ctx, &err),
                     DML_EINPUT);
    assert_string_equal(err.field, "node_groups[0].device.gemm_efficiency");
    assert_non_null(strstr(err.msg, "no points for fp64 GEMMs"));
    free(ctx);
    free(c);
    teardown(e);
}

/* A plan file gets a prediction, explicit stages included. */
static void plan_prediction(void **state)
{
    (void)state;
    dml_plan *plan = malloc(sizeof *plan);
    dml_error err;
    char buf[1200];
    assert_int_equal(dml_plan_load(FIX "plan-mlp-dp2.json", plan, &err),
                     DML_OK);
    dml_cluster_spec *c = malloc(sizeof *c);
    assert_int_equal(dml_cluster_spec_load("cpu-node",
                                           dml_costmodel_data_dir(NULL), c,
                                           &err),
                     DML_OK);
    assert_int_equal(dml_cluster_spec_scale_nodes(c, 2, &err), DML_OK);
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    assert_int_equal(dml_costmodel_prepare(&plan->model, c, NULL, ctx, &err),
                     DML_OK);
    memset(&plan->pred, 0, sizeof plan->pred);
    plan->sched.optimizer = DML_OPT_SGD; /* differs from the context */
    dml_costmodel_detail d;
    if (dml_costmodel_predict_plan(ctx, plan, &d, &err) != DML_OK)
        fail_msg("%s", dml_error_format(&err, buf, sizeof buf));
    assert_true(plan->pred.present);
    assert_true(plan->pred.step_s > 0);
    /* SGD with momentum in fp32: 4 + 4 + 4 bytes per parameter, ZeRO-1
     * shards the momentum over dp = 2 */
    double p0 = dml_flops_layer_params(&plan->model, 0) +
                dml_flops_layer_params(&plan->model, 1);
    assert_true(REL(d.mem_first.params_bytes, 4 * p0) < 1e-12);
    assert_true(REL(d.mem_first.optimizer_bytes, 4 * p0 / 2) < 1e-12);
    json_t *j = dml_plan_to_json(plan);
    assert_non_null(json_object_get(j, "prediction"));
    json_decref(j);
    free(ctx);
    free(c);
    free(plan);
}

/* The planner calls step_time for every candidate: GPT-3 175B on 1024
 * A100s, a few thousand configurations, must take well under a second.
 * The bound is 100x what it takes on a 2-core machine, so noise cannot
 * trip it; a regression to allocation or per-layer loops would. */
static void search_grid_best_plan_near_published(void **state)
{
    (void)state;
    env *e = setup("gpt3-175b", "dgx-a100-80g", 128, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long calls = 0, ok = 0;
    double best = INFINITY;
    for (int tp = 1; tp <= 8; tp *= 2)
        for (int pp = 1; pp <= 64; pp *= 2) {
            int dp = 1024 / (tp * pp);
            for (int mbs = 1; mbs <= 8; mbs *= 2)
                for (int zero = 0; zero <= 3; zero++)
                    for (int rc = 0; rc < 3; rc++)
                        for (int v = 1; v <= 4; v++) {
                            if (1536 % (dp * mbs))
                                continue;
                            dml_parallel_config par =
                                cfg(dp, tp, pp, mbs, 1536 / (dp * mbs));
                            par.zero = zero;
                            par.recompute = (dml_recompute)rc;
                            par.sp = tp > 1;
                            par.v = v;
                            if (v > 1) {
                                if (pp < 2 || par.microbatches % pp)
                                    continue;
                                par.schedule = DML_PP_INTERLEAVED;
                            }
                            dml_prediction p;
                            calls++;
                            if (dml_costmodel_step_time(e->ctx, &par, NULL, 0,
                                                        &p, NULL,
                                                        NULL) != DML_OK)
                                continue;
                            ok++;
                            if (p.mem_bytes_per_device <= 80e9 &&
                                p.step_s < best)
                                best = p.step_s;
                        }
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) +
                1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("  %ld step_time calls (%ld valid) in %.4f s: %.2f us per call; "
           "best feasible step %.2f s\n",
           calls, ok, dt, 1e6 * dt / calls, best);
    /* The time is printed, not judged: speed is bench/plan's (a timed
     * assertion fails on a loaded machine and proves nothing on a fast
     * one). */
    assert_true(calls > 1000);
    /* Korthikanti et al. 2022, Table 5 (dev_set.md): GPT-3 175B on 64
     * A100s, batch 64, sequence parallelism and selective recompute, 13.75
     * s an iteration at 51.4 % MFU, the best published for it. Here each
     * GPU has 1536/1024 = 1.5 sequences where it had 1: at the same MFU
     * 13.75 x 1.5 = 20.6 s. The best plan of the search is within 15 % of
     * that (measured 19.8 s; at peak, 100 % MFU, it would be 10.6 s). */
    double published = 13.75 * (1536.0 / 1024.0);
    assert_true(fabs(best - published) <= 0.15 * published);
    teardown(e);
}

DML_TEST_MAIN(
    cmocka_unit_test(breakdown_adds_up),
    cmocka_unit_test(knobs_move_time_and_memory),
    cmocka_unit_test(data_parallel_sync_options),
    cmocka_unit_test(zero3_gathers_every_layer_every_microbatch),
    cmocka_unit_test(fp16_is_priced_as_bf16),
    cmocka_unit_test(dropout_free_models_keep_no_masks),
    cmocka_unit_test(faster_hardware_is_faster),
    cmocka_unit_test(mixture_of_experts),
    cmocka_unit_test(heterogeneous_cluster_uses_slowest),
    cmocka_unit_test(mlp_on_cpu_nodes),
    cmocka_unit_test(bad_configurations_are_refused),
    cmocka_unit_test(plan_prediction),
    cmocka_unit_test(search_grid_best_plan_near_published))
