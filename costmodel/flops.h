/*
 * flops.h: parameters and floating-point work of a model, per layer and
 * per iteration.
 *
 * A transformer layer is: norm, QKV projection (GQA: kv_heads key/value
 * heads of width hidden/heads), attention scores and context (the s x s
 * products, counted in full as Megatron computes them), output projection,
 * norm, FFN (gelu: h->f->h; swiglu: two h->f and one f->h; MoE: top_k of
 * `experts` FFNs plus a router). Outside the layers: token embedding,
 * learned positions, the final norm and the logits projection (shared with
 * the embedding when tied). With GPT settings these reduce exactly to
 * Narayanan et al. SC21 Eq. 2 (parameters) and Eq. 3 / Korthikanti et al.
 * 2022 Eq. 7 (FLOPs); the tests check that.
 *
 * An MLP layer i is a dense fan_in x fan_out linear layer with bias.
 *
 * dml_layer_gemms lists one layer's forward GEMMs as one tensor-parallel
 * rank runs them; the step-time model prices each shape separately.
 */
#ifndef DML_COSTMODEL_FLOPS_H
#define DML_COSTMODEL_FLOPS_H

#include <stdbool.h>

#include "costmodel/model_spec.h"

#define DML_LAYER_GEMMS_MAX 10

typedef enum dml_gemm_role {
    DML_GEMM_WEIGHT = 0,     /* activation x weight: backward is dgrad +
                                wgrad */
    DML_GEMM_ACTIVATION = 1, /* activation x activation (attention): two
                                backward products of the same size */
} dml_gemm_role;

typedef struct dml_gemm_shape {
    dml_gemm_role role;
    double batch; /* independent products of this shape */
    double m;     /* rows of the output (tokens for weight GEMMs) */
    double n;     /* columns of the output */
    double k;     /* inner dimension */
    bool attention_core; /* QK^T or PV: redone by selective recompute */
    bool column_parallel; /* input gathered (TP region entry): its wgrad can
                             hide the backward TP collective */
} dml_gemm_shape;

/* Parameters of one transformer layer (all TP ranks together), or of MLP
 * layer `layer` (weights + bias). */
double dml_flops_layer_params(const dml_model_spec *m, int layer);

/* Of that, the FFN/expert part (which MoE shards over expert parallel). */
double dml_flops_layer_expert_params(const dml_model_spec *m);

/* Token + position embedding, final norm, and the untied output layer. */
double dml_flops_embedding_params(const dml_model_spec *m);

/* Every parameter of the model. */
double dml_flops_total_params(const dml_model_spec *m);

/* Forward FLOPs of one layer for `samples` sequences (MLP: samples rows). */
double dml_flops_layer_forward(const dml_model_spec *m, int layer,
                               double samples);

/* Forward FLOPs of the attention core (QK^T and PV) of one layer: what
 * selective recomputation redoes. 0 for an MLP. */
double dml_flops_attention_core_forward(const dml_model_spec *m,
                                        double samples);

/* Forward FLOPs of the logits projection (transformer), 0 for an MLP. */
double dml_flops_logits_forward(const dml_model_spec *m, double samples);

/*
 * FLOPs of one iteration on `samples` sequences: model FLOPs (forward +
 * backward = 3 x forward, what MFU counts; an MLP's first layer has no
 * input gradient, so 2 x its forward) and, in *executed, what the
 * hardware runs including the recomputation (full: layers' forward once
 * more; selective: the attention core once more). executed may be NULL.
 */
double dml_flops_iteration(const dml_model_spec *m, double samples,
                           int recompute, double *executed);

/*
 * The forward GEMMs of one layer on one TP rank of tp, for `samples`
 * sequences (MLP: rows, split as dml_mlp_tp_split for a single stage
 * holding every layer) and expert-parallel degree ep (MoE only; 1
 * otherwise). Returns the count written to out (at most
 * DML_LAYER_GEMMS_MAX).
 */
int dml_layer_gemms(const dml_model_spec *m, int layer, double samples,
                    int tp, int ep, dml_gemm_shape out[DML_LAYER_GEMMS_MAX]);

typedef enum dml_tp_split {
    DML_TP_SPLIT_NONE = 0,   /* replicated on every TP rank */
    DML_TP_SPLIT_COLUMN = 1, /* output features split; input gradient
                                allreduced in backward */
    DML_TP_SPLIT_ROW = 2,    /* input features split; output allreduced in
                                forward */
} dml_tp_split;

/*
 * How MLP layer `layer` of the pipeline stage holding layers first..last
 * is split over tp ranks, as the executor does it (executor/stage.h):
 * Megatron pairs from the stage's first layer, column- then row-parallel;
 * an odd last layer of the stage is replicated; tp = 1 replicates all.
 */
dml_tp_split dml_mlp_tp_split(int64_t first, int64_t last, int64_t layer,
                              int tp);

/* Key/value heads held by one TP rank (replicated when tp > kv_heads). */
double dml_flops_kv_heads_per_rank(const dml_model_spec *m, int tp);

#endif
