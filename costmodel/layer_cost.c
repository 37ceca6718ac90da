/*
 * layer_cost.c: one layer for one micro-batch on one tensor-parallel rank
 * (the "layer cost" phase of step_time, step_internal.h), and the
 * embedding and head that sit on the first and last pipeline devices.
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
 * 2022's accounting of the same tensors. A model without dropout (Llama)
 * has neither the masks nor the attention dropout: the adds move 6E·Th,
 * the scores only the softmax's.
 */
#include <math.h>
#include <string.h>

#include "costmodel/flops.h"
#include "costmodel/step_internal.h"

/*
 * One attention-core product (QK^T or PV) inside flash attention's fused
 * kernel, forward: no s x s tensor touches memory, so it is compute-bound,
 * at the efficiency the device reaches on the whole kernel's work (all
 * heads of the micro-batch run in one launch), a little lower for narrow
 * heads (Dao 2023, FlashAttention-2: about 0.73 of an A100's peak forward
 * at head dimension 128, less at 64). A causal model's kernel skips the
 * blocks above the diagonal (128-wide blocks: half the work plus half the
 * diagonal's).
 */
static double flash_core_time(const dml__step *st, const dml_gemm_shape *g,
                              double head_dim, double seq)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    double eff = dml_gemm_curve_eval(&ctx->curve, g->batch * g->m, g->n,
                                     g->k) *
                 head_dim / (head_dim + 12.0);
    double work = ctx->model.causal ? 0.5 + 64.0 / seq : 1.0;
    if (work > 1)
        work = 1;
    return 2.0 * g->batch * g->m * g->n * g->k * work / (st->peak * eff);
}

/* FlashAttention-2's backward: five products instead of the forward's two
 * (P recomputed, dV, dP, dS, dQ and dK) at about 0.85 of the forward's
 * efficiency (Dao 2023). */
#define FLASH_BWD_PER_FWD (2.5 / 0.85)

void dml__transformer_layer(const dml__step *st, dml__layer_cost *lc,
                            dml_coll_algo *tp_algo)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_parallel_config *par = st->par;
    const dml_model_spec *m = &ctx->model;
    const dml_costmodel_calib *cal = &ctx->opt.calib;
    bool flash = par->attention == DML_ATTN_FLASH;
    double b = (double)par->mbs, t = par->tp, e = ctx->elem_bytes;
    double s = (double)m->seq_len, h = (double)m->hidden;
    double tokens = b * s;
    dml_gemm_shape g[DML_LAYER_GEMMS_MAX];
    int n = dml_layer_gemms(m, 0, b, par->tp, st->ep, g);
    double core_f = 0, wgrad_col = 0, dgrad_col = 0;
    memset(lc, 0, sizeof *lc);
    for (int i = 0; i < n; i++) {
        double tf;
        if (g[i].attention_core && flash) {
            tf = flash_core_time(st, &g[i], h / (double)m->heads, s);
        } else {
            tf = dml__gemm_time(st, g[i].batch, g[i].m, g[i].n, g[i].k);
        }
        lc->gemm_f += tf;
        if (g[i].role == DML_GEMM_WEIGHT) {
            double dgrad =
                dml__gemm_time(st, g[i].batch, g[i].m, g[i].k, g[i].n);
            double wgrad =
                dml__gemm_time(st, g[i].batch, g[i].k, g[i].n, g[i].m);
            lc->gemm_b += dgrad + wgrad;
            if (g[i].column_parallel) {
                wgrad_col += wgrad;
                dgrad_col += dgrad;
            }
        } else {
            lc->gemm_b += (flash ? FLASH_BWD_PER_FWD : 2.0) * tf;
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
    double mask = m->dropout > 0 ? 1.0 : 0.0;
    double scores_f = (2.0 * e + mask * (2.0 * e + 1.0)) * att;
    double scores_b = (3.0 * e + mask * (2.0 * e + 1.0)) * att;
    lc->mem_f = dml__mem_time(ctx, (10.0 * e + 2.0 * mask) * th + scores_f +
                                       (glu ? 3.0 : 2.0) * e * tf_ + rope);
    lc->mem_b = dml__mem_time(ctx, (12.0 * e + 2.0 * mask) * th + scores_b +
                                       (glu ? 5.0 : 3.0) * e * tf_ + rope);

    if (par->tp > 1) {
        double a = tokens * h * e;
        dml_coll_algo algo = DML_ALGO_NONE;
        if (!par->sp) {
            double ar = dml_collective_time(&st->tp, DML_COLL_ALLREDUCE, a,
                                            &algo);
            lc->tp_f = 2.0 * ar;
            lc->tp_b = dml__exposed(2.0 * ar, wgrad_col, st->contention);
        } else {
            double ag = dml_collective_time(&st->tp, DML_COLL_ALLGATHER, a,
                                            &algo);
            double rs = dml_collective_time(&st->tp, DML_COLL_REDUCESCATTER,
                                            a, NULL);
            lc->tp_f = 2.0 * (ag + rs);
            /* Korthikanti §4.2.2: the re-gather of the input overlaps the
             * input-gradient GEMM, its reduce-scatter the weight-gradient
             * GEMM; the gather of the output gradient is exposed. */
            lc->tp_b = 2.0 * ag +
                       dml__exposed(2.0 * ag, dgrad_col, st->contention) +
                       dml__exposed(2.0 * rs, wgrad_col, st->contention);
        }
        if (tp_algo)
            *tp_algo = algo;
    }
    if (m->moe_experts > 0 && st->epg.ranks > 1) {
        double bytes = tokens * h * e * (double)m->moe_top_k / t;
        double a2a = dml_collective_time(&st->epg, DML_COLL_ALLTOALL, bytes,
                                         NULL);
        lc->tp_f += 2.0 * a2a;
        lc->tp_b += 2.0 * a2a;
    }

    if (par->recompute == DML_RECOMPUTE_FULL)
        lc->recompute = lc->gemm_f + lc->mem_f + lc->tp_f;
    else if (par->recompute == DML_RECOMPUTE_SELECTIVE)
        /* Megatron recomputes the attention core it checkpoints; under
         * flash that is the fused kernel's forward again, and it saves no
         * memory (flash keeps no s x s tensor to drop) */
        lc->recompute = core_f + (flash ? 0 : dml__mem_time(ctx, scores_f));
    lc->fwd = lc->gemm_f + lc->mem_f + lc->tp_f;
    lc->bwd = lc->gemm_b + lc->mem_b + lc->tp_b + lc->recompute;
}

/* Its TP allreduces are blocking calls. */
void dml__mlp_layer(const dml__step *st, int layer, int64_t first,
                    int64_t last, dml__layer_cost *lc, double *act_bytes)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_parallel_config *par = st->par;
    const dml_model_spec *m = &ctx->model;
    double b = (double)par->mbs, e = ctx->elem_bytes, t = par->tp;
    int64_t in, out;
    dml_model_spec_mlp_layer(m, layer, &in, &out);
    dml_tp_split split = dml_mlp_tp_split(first, last, layer, par->tp);
    double n = split == DML_TP_SPLIT_COLUMN ? (double)out / t : (double)out;
    double k = split == DML_TP_SPLIT_ROW ? (double)in / t : (double)in;
    memset(lc, 0, sizeof *lc);
    double cal = ctx->opt.calib.compute;
    lc->gemm_f = dml__gemm_time(st, 1, b, n, k) * cal;
    double wgrad = dml__gemm_time(st, 1, k, n, b) * cal;
    double dgrad = layer > 0 ? dml__gemm_time(st, 1, b, k, n) * cal : 0;
    lc->gemm_b = wgrad + dgrad;
    /* bias + activation forward, activation gradient + bias sums back */
    lc->mem_f = dml__mem_time(ctx, 2.0 * e * b * n);
    lc->mem_b = dml__mem_time(ctx, 3.0 * e * b * n + e * n);
    if (split == DML_TP_SPLIT_COLUMN && layer > 0)
        lc->tp_b = dml_collective_time(&st->tp, DML_COLL_ALLREDUCE,
                                       b * (double)in * e, NULL);
    if (split == DML_TP_SPLIT_ROW)
        lc->tp_f = dml_collective_time(&st->tp, DML_COLL_ALLREDUCE,
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

double dml__embed_time(const dml__step *st)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_parallel_config *par = st->par;
    const dml_model_spec *m = &ctx->model;
    if (m->type == DML_MODEL_MLP)
        return 0;
    double e = ctx->elem_bytes, t = par->tp;
    double tokens = (double)par->mbs * (double)m->seq_len;
    double th_full = tokens * (double)m->hidden;
    double th = th_full / (par->sp ? t : 1.0);
    /* lookup (+ positions), dropout; backward: dropout, fp32 scatter-add */
    double drop = m->dropout > 0 ? (2.0 * e + 1.0) * th : 0;
    double fwd = dml__mem_time(ctx, 3.0 * e * th_full + drop);
    double bwd = dml__mem_time(ctx, drop + (e + 8.0) * th_full / t);
    double comm = 0;
    if (par->tp > 1) {
        double a = th_full * e;
        comm = par->sp ? dml_collective_time(&st->tp,
                                             DML_COLL_REDUCESCATTER, a, NULL)
                       : dml_collective_time(&st->tp, DML_COLL_ALLREDUCE, a,
                                             NULL);
        if (par->sp) /* gather the output gradient for the lookup's grad */
            comm += dml_collective_time(&st->tp, DML_COLL_ALLGATHER, a, NULL);
    }
    return fwd + bwd + comm;
}

double dml__head_time(const dml__step *st)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_parallel_config *par = st->par;
    const dml_model_spec *m = &ctx->model;
    double e = ctx->elem_bytes, t = par->tp;
    if (m->type == DML_MODEL_MLP) /* softmax cross-entropy on b x out */
        return dml__mem_time(ctx, 12.0 * (double)par->mbs * (double)m->output);
    double tokens = (double)par->mbs * (double)m->seq_len;
    double h = (double)m->hidden, v = (double)m->vocab / t;
    double th = tokens * h / (par->sp ? t : 1.0);
    double gf = dml__gemm_time(st, 1, tokens, v, h);
    double gd = dml__gemm_time(st, 1, tokens, h, v);
    double gw = dml__gemm_time(st, 1, h, v, tokens);
    double cal = ctx->opt.calib.compute;
    double norm = dml__mem_time(ctx, 4.0 * e * th + 6.0 * e * th);
    /* vocab-parallel cross-entropy: max, exp-sum and softmax passes in
     * fp32, then the gradient */
    double ce = dml__mem_time(ctx, (e + 12.0) * tokens * v + (4.0 + e) * tokens * v);
    double comm = 0;
    if (par->tp > 1) {
        double a = tokens * h * e;
        comm += 3.0 * dml_collective_time(&st->tp, DML_COLL_ALLREDUCE,
                                          tokens * 4.0, NULL);
        if (par->sp)
            comm += dml_collective_time(&st->tp, DML_COLL_ALLGATHER, a,
                                        NULL) +
                    dml_collective_time(&st->tp, DML_COLL_REDUCESCATTER, a,
                                        NULL);
        else
            comm += dml__exposed(dml_collective_time(&st->tp, DML_COLL_ALLREDUCE,
                                                a, NULL),
                            gw * cal, st->contention);
    }
    return (gf + gd + gw) * cal + norm + ce + comm;
}
