/*
 * flops.c: parameter and FLOP counts (see flops.h).
 */
#include "flops.h"

static double head_dim(const dml_model_spec *m)
{
    return (double)m->hidden / (double)m->heads;
}

static bool gated(const dml_model_spec *m)
{
    return m->activation == DML_ACT_SWIGLU;
}

/* Parameters of one FFN (one expert). */
static double ffn_params(const dml_model_spec *m)
{
    double h = (double)m->hidden, f = (double)m->ffn_hidden;
    double w = (gated(m) ? 3.0 : 2.0) * h * f;
    double b = m->bias ? (gated(m) ? 2.0 * f : f) + h : 0;
    return w + b;
}

double dml_flops_layer_expert_params(const dml_model_spec *m)
{
    if (m->type == DML_MODEL_MLP)
        return 0;
    double e = m->moe_experts > 0 ? (double)m->moe_experts : 1.0;
    return e * ffn_params(m);
}

double dml_flops_layer_params(const dml_model_spec *m, int layer)
{
    if (m->type == DML_MODEL_MLP) {
        int64_t in, out;
        dml_model_spec_mlp_layer(m, layer, &in, &out);
        return (double)in * (double)out + (double)out;
    }
    double h = (double)m->hidden;
    double kv = (double)m->kv_heads * head_dim(m);
    double qkv = h * (h + 2.0 * kv) + (m->bias ? h + 2.0 * kv : 0);
    double proj = h * h + (m->bias ? h : 0);
    double norms = (m->norm == DML_NORM_LAYERNORM ? 2.0 : 1.0) * 2.0 * h;
    double router = m->moe_experts > 0 ? h * (double)m->moe_experts : 0;
    return qkv + proj + norms + router + dml_flops_layer_expert_params(m);
}

double dml_flops_embedding_params(const dml_model_spec *m)
{
    if (m->type == DML_MODEL_MLP)
        return 0;
    double h = (double)m->hidden, v = (double)m->vocab;
    double p = v * h;
    if (m->position == DML_POS_LEARNED)
        p += (double)m->seq_len * h;
    p += (m->norm == DML_NORM_LAYERNORM ? 2.0 : 1.0) * h; /* final norm */
    if (!m->tied_embeddings)
        p += v * h;
    return p;
}

double dml_flops_total_params(const dml_model_spec *m)
{
    if (m->type == DML_MODEL_MLP) {
        double p = 0;
        for (int i = 0; i < m->layers; i++)
            p += dml_flops_layer_params(m, i);
        return p;
    }
    return (double)m->layers * dml_flops_layer_params(m, 0) +
           dml_flops_embedding_params(m);
}

double dml_flops_kv_heads_per_rank(const dml_model_spec *m, int tp)
{
    if (m->kv_heads >= tp)
        return (double)m->kv_heads / tp;
    return 1.0; /* each rank keeps a copy of its group's kv head */
}

dml_tp_split dml_mlp_tp_split(int64_t first, int64_t last, int64_t layer,
                              int tp)
{
    if (tp <= 1 || layer < first || layer > last)
        return DML_TP_SPLIT_NONE;
    int64_t pos = layer - first;
    if (pos % 2 == 0)
        return layer < last ? DML_TP_SPLIT_COLUMN : DML_TP_SPLIT_NONE;
    return DML_TP_SPLIT_ROW;
}

int dml_layer_gemms(const dml_model_spec *m, int layer, double samples,
                    int tp, int ep, dml_gemm_shape out[DML_LAYER_GEMMS_MAX])
{
    int n = 0;
    if (m->type == DML_MODEL_MLP) {
        int64_t in, o;
        dml_model_spec_mlp_layer(m, layer, &in, &o);
        dml_tp_split sp = dml_mlp_tp_split(0, m->layers - 1, layer, tp);
        double nn = sp == DML_TP_SPLIT_COLUMN ? (double)o / tp : (double)o;
        double kk = sp == DML_TP_SPLIT_ROW ? (double)in / tp : (double)in;
        out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, 1, samples, nn, kk,
                                    false, sp == DML_TP_SPLIT_COLUMN};
        return n;
    }
    double t = tp, s = (double)m->seq_len, h = (double)m->hidden;
    double d = head_dim(m), tokens = samples * s;
    double heads = (double)m->heads / t;
    double kv = dml_flops_kv_heads_per_rank(m, tp);
    double f = (double)m->ffn_hidden / t;
    out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, 1, tokens,
                                (heads + 2.0 * kv) * d, h, false, true};
    out[n++] = (dml_gemm_shape){DML_GEMM_ACTIVATION, samples * heads, s, s, d,
                                true, false};
    out[n++] = (dml_gemm_shape){DML_GEMM_ACTIVATION, samples * heads, s, d, s,
                                true, false};
    out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, 1, tokens, h, heads * d,
                                false, false};
    double up = gated(m) ? 2.0 * f : f;
    if (m->moe_experts > 0) {
        double e = (double)m->moe_experts;
        double local = e / (ep > 0 ? ep : 1);
        double routed = tokens * (double)m->moe_top_k / local;
        out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, 1, tokens, e, h, false,
                                    false};
        out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, local, routed, up, h,
                                    false, true};
        out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, local, routed, h, f,
                                    false, false};
    } else {
        out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, 1, tokens, up, h, false,
                                    true};
        out[n++] = (dml_gemm_shape){DML_GEMM_WEIGHT, 1, tokens, h, f, false,
                                    false};
    }
    return n;
}

double dml_flops_layer_forward(const dml_model_spec *m, int layer,
                               double samples)
{
    dml_gemm_shape g[DML_LAYER_GEMMS_MAX];
    int n = dml_layer_gemms(m, layer, samples, 1, 1, g);
    double f = 0;
    for (int i = 0; i < n; i++)
        f += 2.0 * g[i].batch * g[i].m * g[i].n * g[i].k;
    return f;
}

double dml_flops_attention_core_forward(const dml_model_spec *m,
                                        double samples)
{
    if (m->type == DML_MODEL_MLP)
        return 0;
    double s = (double)m->seq_len;
    return 4.0 * samples * s * s * (double)m->hidden;
}

double dml_flops_logits_forward(const dml_model_spec *m, double samples)
{
    if (m->type == DML_MODEL_MLP)
        return 0;
    return 2.0 * samples * (double)m->seq_len * (double)m->hidden *
           (double)m->vocab;
}

double dml_flops_iteration(const dml_model_spec *m, double samples,
                           int recompute, double *executed)
{
    double layers = 0;
    for (int i = 0; i < m->layers; i++) {
        layers += dml_flops_layer_forward(m, i, samples);
        if (m->type == DML_MODEL_TRANSFORMER) {
            /* Every transformer layer is the same. */
            layers *= (double)m->layers;
            break;
        }
    }
    double logits = dml_flops_logits_forward(m, samples);
    double model = 3.0 * (layers + logits);
    /* An MLP's first layer has no input gradient to compute (its input is
     * the data), so its backward is the weight gradient alone, as the
     * executor runs it: counting 3 x forward there made MFU pass 100%. A
     * transformer's first layer feeds the embedding's gradient. */
    if (m->type == DML_MODEL_MLP && m->layers > 0)
        model -= dml_flops_layer_forward(m, 0, samples);
    if (executed) {
        double extra = 0;
        if (recompute == 2)
            extra = layers;
        else if (recompute == 1)
            extra = (double)m->layers *
                    dml_flops_attention_core_forward(m, samples);
        *executed = model + extra;
    }
    return model;
}
