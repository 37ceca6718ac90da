/*
 * memory.h: bytes a device holds while training.
 *
 * Model states (Rajbhandari et al. SC20, ZeRO §5): per parameter, working
 * weights, gradients and optimizer states. Mixed-precision Adam keeps
 * K = 12 bytes of optimizer state (fp32 master weights, momentum and
 * variance); fp32 training needs no master copy (K = 8 for Adam, 4 for SGD
 * with momentum). ZeRO stage 1 shards the optimizer states over the dp
 * group, stage 2 also the gradients, stage 3 also the weights.
 *
 * Activations (Korthikanti et al. 2022, Table 2, generalised to GQA, gated
 * FFNs, MoE and other element sizes): per layer and micro-batch, the
 * tensors the backward pass needs; tensor parallelism splits those inside
 * the attention and FFN blocks; sequence parallelism splits the rest;
 * selective recomputation drops the s x s attention tensors; full
 * recomputation keeps only each layer's input. With GPT settings in bf16
 * this is exactly sbh(34 + 5as/h) without parallelism,
 * sbh(10 + 24/t + 5as/(ht)) with TP, (sbh/t)(34 + 5as/h) with TP + SP,
 * 34sbh/t with TP + SP + selective and 2sbh with full recomputation.
 *
 * Pipeline schedules multiply by the micro-batches in flight: all m for
 * GPipe, p - r on pipeline rank r for 1F1B, and for the interleaved
 * schedule Megatron's warm-up count, which on the first rank is
 * p (1 + (p-1)/(p v)) in units of the device's layers.
 */
#ifndef DML_COSTMODEL_MEMORY_H
#define DML_COSTMODEL_MEMORY_H

#include <stdbool.h>

#include "costmodel/model_spec.h"
#include "costmodel/plan.h"

/* Bytes per parameter before ZeRO sharding. */
typedef struct dml_state_bytes {
    double param; /* working weights (the training dtype) */
    double grad;  /* gradients as kept for accumulation */
    double optim; /* optimizer states incl. master weights: K */
} dml_state_bytes;

/*
 * Bytes per parameter for training in dtype with optimizer. grad_bytes
 * > 0 overrides the gradient width (the ZeRO paper counts 2-byte fp16
 * gradients; Megatron accumulates bf16 gradients in fp32, 4 bytes);
 * 0 picks 4 for 16-bit dtypes (fp32 accumulation) and the dtype width
 * otherwise.
 */
void dml_memory_state_bytes(dml_dtype dtype, dml_optimizer optimizer,
                            double grad_bytes, dml_state_bytes *out);

/* Model states of psi parameters on one device of a dp group under ZeRO
 * stage zero (0-3): fills params/grads/optimizer of out, bytes. */
void dml_memory_model_states(double psi, int dp, int zero,
                             const dml_state_bytes *sb,
                             dml_mem_breakdown *out);

/*
 * Stored activations of one transformer layer for one micro-batch of
 * `samples` sequences on one TP rank, bytes (MLP layer `layer`: its input
 * and output, split as dml_mlp_tp_split for one stage of every layer).
 */
double dml_memory_layer_activations(const dml_model_spec *m, int layer,
                                    double samples, int tp, bool sp,
                                    dml_recompute recompute,
                                    dml_attention_impl attn);

/*
 * Micro-batches whose activations pipeline rank `rank` holds at its peak,
 * in units of that device's layers (see above). m = micro-batches per step.
 */
double dml_memory_inflight(dml_pp_schedule schedule, int pp, int v,
                           double m, int rank);

/* Activations outside the layers for one micro-batch on one TP rank:
 * embedding output (first stage) and logits with their fp32 softmax (last
 * stage), bytes. */
double dml_memory_embedding_activations(const dml_model_spec *m,
                                        double samples, int tp, bool sp);
double dml_memory_logits_activations(const dml_model_spec *m, double samples,
                                     int tp);

#endif
