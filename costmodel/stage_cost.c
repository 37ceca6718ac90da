/*
 * stage_cost.c: one pipeline rank of a configuration, per micro-batch (the
 * "stage cost" and "stage memory" phases of step_time, step_internal.h):
 * the time of its layers, the embedding on the first rank and the head on
 * the last; the parameters it holds; the activations it stores at its
 * peak (the micro-batches the schedule keeps in flight on it); and its
 * memory by kind.
 */
#include <string.h>

#include "costmodel/flops.h"
#include "costmodel/pipeline.h"
#include "costmodel/step_internal.h"

/* Layers held by pipeline rank r: explicit stages, or the even split. */
static int64_t rank_layers(const dml__step *st, int r)
{
    const dml_model_spec *m = &st->ctx->model;
    int p = st->par->pp, nst = p * st->v;
    int64_t n = 0;
    if (st->stages && st->stage_count == nst) {
        for (int i = r; i < nst; i += p)
            n += st->stages[i].last_layer - st->stages[i].first_layer + 1;
        return n;
    }
    for (int i = r; i < nst; i += p)
        n += dml_plan_chunk_layers(m->layers, p, st->v, i);
    return n;
}

/* MLP layers of rank r. MLP pipelines do not interleave in practice: the
 * v = 1 ranges. */
static void mlp_rank_range(const dml__step *st, int r, int64_t *first,
                           int64_t *last)
{
    const dml_model_spec *m = &st->ctx->model;
    int p = st->par->pp;
    if (st->stages && st->stage_count == p) {
        *first = st->stages[r].first_layer;
        *last = st->stages[r].last_layer;
        return;
    }
    int64_t next = 0;
    for (int i = 0; i < r; i++)
        next += dml_plan_chunk_layers(m->layers, p, 1, i);
    *first = next;
    *last = next + dml_plan_chunk_layers(m->layers, p, 1, r) - 1;
}

static void transformer_stage(const dml__step *st, const dml__layer_cost *lc,
                              int r, dml__stage *s)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_model_spec *m = &ctx->model;
    const dml_parallel_config *par = st->par;
    int p = par->pp, tp = par->tp;
    bool full = par->recompute == DML_RECOMPUTE_FULL; /* redoes fwd comm */
    int64_t nl = rank_layers(st, r);
    s->layers = nl;
    s->t_fwd = (double)nl * lc->fwd;
    s->t_bwd = (double)nl * lc->bwd;
    s->t_tp = (double)nl * (lc->tp_f + lc->tp_b + (full ? lc->tp_f : 0));
    double dense = ctx->layer_params - ctx->expert_params;
    s->params = (double)nl * (dense / tp + ctx->expert_params /
                                               ((double)tp * st->ep));
    s->inflight = dml_memory_inflight(par->schedule, p, st->v,
                                      st->microbatches, r);
    s->act_bytes = (double)nl * st->act_layer * s->inflight;
    if (r == 0) {
        s->params += ctx->embed_params / tp;
        s->act_bytes += dml_memory_embedding_activations(
                            m, (double)par->mbs, tp, par->sp) *
                        s->inflight;
    }
    if (r == p - 1) {
        double head = ctx->head_params;
        if (m->tied_embeddings && p > 1)
            head += (double)m->vocab * (double)m->hidden;
        s->params += head / tp;
        s->act_bytes += dml_memory_logits_activations(m, (double)par->mbs,
                                                      tp);
    }
    if (full)
        s->act_bytes += st->act_layer_full; /* the layer being recomputed */
}

static void mlp_stage(const dml__step *st, int r, dml__stage *s)
{
    const dml_model_spec *m = &st->ctx->model;
    const dml_parallel_config *par = st->par;
    int tp = par->tp;
    bool full = par->recompute == DML_RECOMPUTE_FULL;
    int64_t first, last;
    mlp_rank_range(st, r, &first, &last);
    s->layers = last - first + 1;
    s->first_layer = first;
    s->inflight = dml_memory_inflight(par->schedule, par->pp, 1,
                                      st->microbatches, r);
    for (int64_t i = first; i <= last; i++) {
        dml__layer_cost l;
        double act = 0;
        dml__mlp_layer(st, (int)i, first, last, &l, &act);
        s->t_fwd += l.fwd;
        s->t_bwd += l.bwd;
        s->t_tp += l.tp_f + l.tp_b + (full ? l.tp_f : 0);
        bool split = dml_mlp_tp_split(first, last, i, tp) != DML_TP_SPLIT_NONE;
        s->params += dml_flops_layer_params(m, (int)i) / (split ? tp : 1);
        s->act_bytes += act * s->inflight;
    }
    if (r == par->pp - 1)
        s->act_bytes += dml_memory_logits_activations(m, (double)par->mbs,
                                                      tp);
}

void dml__stage_cost(const dml__step *st, const dml__layer_cost *lc,
                     double t_embed, double t_head, int r, dml__stage *out)
{
    memset(out, 0, sizeof *out);
    if (st->transformer)
        transformer_stage(st, lc, r, out);
    else
        mlp_stage(st, r, out);
    /* embedding and head times are forward + backward; split evenly, as
     * only their sum matters to the pipeline */
    if (r == 0) {
        out->t_fwd += 0.5 * t_embed;
        out->t_bwd += 0.5 * t_embed;
    }
    if (r == st->par->pp - 1) {
        out->t_fwd += 0.5 * t_head;
        out->t_bwd += 0.5 * t_head;
    }
    /* a runtime that adds each micro-batch's gradients into fp32 copies
     * in a pass of its own (DeepSpeed's bf16 pipeline) pays it after
     * every backward */
    if (st->fw.grad_accum_bytes > 0)
        out->t_bwd += dml__mem_time(st->ctx,
                                    out->params * st->fw.grad_accum_bytes);
}

void dml__stage_memory(const dml__step *st, const dml__stage *s,
                       dml_mem_breakdown *out)
{
    const dml_costmodel_ctx *ctx = st->ctx;
    const dml_model_spec *m = &ctx->model;
    const dml_parallel_config *par = st->par;
    int tp = par->tp;
    dml_memory_model_states(s->params, par->dp, par->zero, &ctx->state, out);
    out->activations_bytes = s->act_bytes;
    double buffers = ctx->opt.workspace_bytes;
    /* the gathered sequence of a TP layer's input, the pipeline's send
     * and receive buffers, ZeRO-3's gathered layer weights (two: the one
     * in use and the prefetched next) */
    if (st->transformer && tp > 1)
        buffers += (double)par->mbs * (double)m->seq_len *
                   (double)m->hidden * ctx->elem_bytes;
    if (par->pp > 1 && st->transformer)
        buffers += 2.0 * (double)par->mbs * (double)m->seq_len *
                   (double)m->hidden * ctx->elem_bytes / tp;
    if (par->zero >= 3 && st->transformer)
        buffers += 2.0 * ctx->layer_params / tp * ctx->state.param;
    out->buffers_bytes = buffers;
}
