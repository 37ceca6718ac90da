/*
 * memory.c: model states and activation bytes (see memory.h).
 */
#include "memory.h"

#include "costmodel/flops.h"

static bool mixed(dml_dtype t)
{
    return t == DML_DTYPE_BF16 || t == DML_DTYPE_FP16 || t == DML_DTYPE_FP8;
}

void dml_memory_state_bytes(dml_dtype dtype, dml_optimizer optimizer,
                            double grad_bytes, dml_state_bytes *out)
{
    bool adam = optimizer == DML_OPT_ADAM || optimizer == DML_OPT_ADAMW ||
                optimizer == DML_OPT_LAMB;
    out->param = dml_dtype_bytes(dtype);
    if (mixed(dtype)) {
        out->grad = grad_bytes > 0 ? grad_bytes : 4.0;
        /* fp32 master weights + one (SGD/LARS momentum) or two (Adam/LAMB
         * moments) fp32 states. */
        out->optim = adam ? 12.0 : 8.0;
    } else {
        double w = dml_dtype_bytes(dtype);
        out->grad = grad_bytes > 0 ? grad_bytes : w;
        out->optim = adam ? 2.0 * w : w;
    }
}

void dml_memory_model_states(double psi, int dp, int zero,
                             const dml_state_bytes *sb,
                             dml_mem_breakdown *out)
{
    double n = dp > 0 ? dp : 1;
    out->params_bytes = psi * sb->param / (zero >= 3 ? n : 1.0);
    out->grads_bytes = psi * sb->grad / (zero >= 2 ? n : 1.0);
    out->optimizer_bytes = psi * sb->optim / (zero >= 1 ? n : 1.0);
}

double dml_memory_layer_activations(const dml_model_spec *m, int layer,
                                    double samples, int tp, bool sp,
                                    dml_recompute recompute,
                                    dml_attention_impl attn)
{
    double e = dml_dtype_bytes(m->dtype);
    double t = tp > 0 ? tp : 1;
    if (m->type == DML_MODEL_MLP) {
        int64_t in, out;
        dml_model_spec_mlp_layer(m, layer, &in, &out);
        if (recompute == DML_RECOMPUTE_FULL)
            return samples * (double)in * e;
        /* Column-parallel layers split their outputs, row-parallel ones
         * their inputs (flops.h, one stage holding every layer). */
        dml_tp_split split = dml_mlp_tp_split(0, m->layers - 1, layer, tp);
        return samples * e *
               ((split == DML_TP_SPLIT_ROW ? (double)in / t : (double)in) +
                (split == DML_TP_SPLIT_COLUMN ? (double)out / t
                                              : (double)out));
    }
    double s = (double)m->seq_len, h = (double)m->hidden;
    double sbh = s * samples * h;
    double outside_split = sp ? t : 1.0;
    if (recompute == DML_RECOMPUTE_FULL)
        return sbh * e / outside_split;
    /* Norm inputs and outputs (4 tensors) and two 1-byte dropout masks
     * (a model without dropout keeps none): replicated on every TP rank
     * unless sequence parallel. */
    double mask = m->dropout > 0 ? 1.0 : 0.0;
    double outside = sbh * (4.0 * e + 2.0 * mask) / outside_split;
    /* Q, K, V (K and V at the kv width), the projection input. */
    double r = (double)m->kv_heads / (double)m->heads;
    double kv_split = dml_flops_kv_heads_per_rank(m, tp) * t /
                      (double)m->kv_heads; /* >1 when kv is replicated */
    double attn_in = sbh * e * (2.0 + 2.0 * r * kv_split) / t;
    /* FFN: gelu keeps its input and output (f wide); a gated FFN keeps its
     * two inputs and the product. MoE: each token visits top_k experts. */
    double f = (double)m->ffn_hidden;
    double tokens_f = s * samples * f *
                      (m->moe_experts > 0 ? (double)m->moe_top_k : 1.0);
    double ffn = tokens_f * e * (m->activation == DML_ACT_SWIGLU ? 3.0 : 2.0) /
                 t;
    if (m->moe_experts > 0)
        ffn += s * samples * (double)m->moe_experts * 4.0 / outside_split;
    /* Scores: softmax output (e), dropout mask (1), dropout output (e);
     * without dropout the softmax output alone. */
    double a = (double)m->heads;
    double scores = 0;
    if (attn == DML_ATTN_FLASH)
        scores = a * s * samples * 4.0 / t; /* fp32 log-sum-exp per row */
    else if (recompute != DML_RECOMPUTE_SELECTIVE)
        scores = a * s * s * samples * (mask > 0 ? 2.0 * e + 1.0 : e) / t;
    return outside + attn_in + ffn + scores;
}

double dml_memory_inflight(dml_pp_schedule schedule, int pp, int v, double m,
                           int rank)
{
    if (pp < 1)
        pp = 1;
    if (schedule == DML_PP_GPIPE)
        return m;
    if (schedule == DML_PP_INTERLEAVED && v > 1) {
        /* Megatron: warm-up chunk-micro-batches (p - r - 1)·2 + (v - 1)·p,
         * plus the one in the steady state; v chunks make one device's
         * layers. */
        double chunks = 2.0 * (pp - rank - 1) + (double)(v - 1) * pp + 1.0;
        double cap = m * v;
        return (chunks < cap ? chunks : cap) / v;
    }
    double in_flight = (double)(pp - rank);
    return in_flight < m ? in_flight : m;
}

double dml_memory_embedding_activations(const dml_model_spec *m,
                                        double samples, int tp, bool sp)
{
    if (m->type == DML_MODEL_MLP)
        return 0;
    double e = dml_dtype_bytes(m->dtype);
    double sbh = (double)m->seq_len * samples * (double)m->hidden;
    /* embedding output and its dropout mask (if the model drops out) */
    return sbh * (e + (m->dropout > 0 ? 1.0 : 0.0)) / (sp ? tp : 1);
}

double dml_memory_logits_activations(const dml_model_spec *m, double samples,
                                     int tp)
{
    if (m->type == DML_MODEL_MLP)
        return samples * (double)m->output * 4.0 * 2.0;
    double e = dml_dtype_bytes(m->dtype);
    double sbv = (double)m->seq_len * samples * (double)m->vocab / tp;
    double sbh = (double)m->seq_len * samples * (double)m->hidden;
    /* final norm input and output, logits, fp32 softmax for the loss */
    return 2.0 * sbh * e + sbv * (e + 4.0);
}
