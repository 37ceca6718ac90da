/*
 * model_spec.c: reading, checking and writing model specs (see model_spec.h).
 */
#include "model_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/name.h"
#include "costmodel/presets.h"

void dml_model_spec_init(dml_model_spec *m, dml_model_type type)
{
    memset(m, 0, sizeof *m);
    m->type = type;
    if (type == DML_MODEL_TRANSFORMER) {
        m->dtype = DML_DTYPE_BF16;
        m->activation = DML_ACT_GELU;
        m->bias = true;
        m->norm = DML_NORM_LAYERNORM;
        m->position = DML_POS_LEARNED;
        m->causal = true;
        m->dropout = DML_MODEL_DROPOUT_DEFAULT;
    } else {
        m->dtype = DML_DTYPE_FP32;
        m->activation = DML_ACT_RELU;
    }
}

void dml_model_spec_mlp_layer(const dml_model_spec *m, int i, int64_t *fan_in,
                              int64_t *fan_out)
{
    *fan_in = i == 0 ? m->input : m->hidden_sizes[i - 1];
    *fan_out = i == m->hidden_count ? m->output : m->hidden_sizes[i];
}

/*
 * The rules that tie fields together. On failure err names the field to
 * blame (no file) and says why; the caller decides whether a position can
 * be attached.
 */
static dml_status consistent(const dml_model_spec *m, dml_error *err)
{
#define DML__BAD(f, ...)                                                      \
    return dml_error_set(err, DML_EINPUT, NULL, 0, 0, f, __VA_ARGS__)
    char why[DML_ERROR_MSG_MAX];
    if (!dml_name_valid(m->name, why, sizeof why))
        DML__BAD("name", "%s", why);
    if (m->type == DML_MODEL_MLP) {
        if (m->input < 1 || m->input > DML_MODEL_MAX_WIDTH)
            DML__BAD("input", "%lld is out of range [1, %d]",
                     (long long)m->input, DML_MODEL_MAX_WIDTH);
        if (m->output < 1 || m->output > DML_MODEL_MAX_WIDTH)
            DML__BAD("output", "%lld is out of range [1, %d]",
                     (long long)m->output, DML_MODEL_MAX_WIDTH);
        if (m->hidden_count < 0 || m->hidden_count > DML_MLP_HIDDEN_MAX)
            DML__BAD("hidden", "at most %d hidden layers", DML_MLP_HIDDEN_MAX);
        for (int i = 0; i < m->hidden_count; i++)
            if (m->hidden_sizes[i] < 1 ||
                m->hidden_sizes[i] > DML_MODEL_MAX_WIDTH) {
                char f[32];
                snprintf(f, sizeof f, "hidden[%d]", i);
                DML__BAD(f, "%lld is out of range [1, %d]",
                         (long long)m->hidden_sizes[i], DML_MODEL_MAX_WIDTH);
            }
        if (m->layers != m->hidden_count + 1)
            DML__BAD("hidden", "layers must be hidden layers + 1");
        if (m->activation == DML_ACT_SWIGLU)
            DML__BAD("activation", "swiglu is for transformers; an mlp takes "
                                   "relu, gelu or tanh");
        return DML_OK;
    }
    struct {
        const char *f;
        int64_t v, max;
    } ranges[] = {
        {"layers", m->layers, DML_MODEL_MAX_LAYERS},
        {"hidden", m->hidden, DML_MODEL_MAX_HIDDEN},
        {"heads", m->heads, DML_MODEL_MAX_HEADS},
        {"kv_heads", m->kv_heads, DML_MODEL_MAX_HEADS},
        {"ffn_hidden", m->ffn_hidden, DML_MODEL_MAX_FFN},
        {"seq_len", m->seq_len, DML_MODEL_MAX_SEQ},
        {"vocab", m->vocab, DML_MODEL_MAX_VOCAB},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].v < 1 || ranges[i].v > ranges[i].max)
            DML__BAD(ranges[i].f, "%lld is out of range [1, %lld]",
                     (long long)ranges[i].v, (long long)ranges[i].max);
    if (m->hidden % m->heads != 0)
        DML__BAD("heads", "%lld heads do not divide hidden %lld",
                 (long long)m->heads, (long long)m->hidden);
    if (m->heads % m->kv_heads != 0)
        DML__BAD("kv_heads", "%lld kv_heads do not divide heads %lld",
                 (long long)m->kv_heads, (long long)m->heads);
    if (m->activation != DML_ACT_GELU && m->activation != DML_ACT_SWIGLU &&
        m->activation != DML_ACT_RELU)
        DML__BAD("activation", "a transformer takes gelu, swiglu or relu");
    if (m->position != DML_POS_ROTARY && m->rope_theta != 0)
        DML__BAD("rope_theta", "is for position_embedding rotary");
    if (!(m->rope_theta >= 0 && m->rope_theta <= DML_MODEL_MAX_ROPE_THETA) ||
        (m->rope_theta > 0 && m->rope_theta < 1))
        DML__BAD("rope_theta", "%g is out of range [1, %g]", m->rope_theta,
                 DML_MODEL_MAX_ROPE_THETA);
    if (!(m->dropout >= 0 && m->dropout < 1))
        DML__BAD("dropout", "%g is out of range [0, 1)", m->dropout);
    if (m->moe_experts < 0 || m->moe_experts > DML_MODEL_MAX_EXPERTS)
        DML__BAD("moe.experts", "%lld is out of range [1, %d]",
                 (long long)m->moe_experts, DML_MODEL_MAX_EXPERTS);
    if ((m->moe_experts == 0) != (m->moe_top_k == 0))
        DML__BAD("moe", "experts and top_k go together");
    if (m->moe_top_k > m->moe_experts)
        DML__BAD("moe.top_k", "top_k %lld exceeds experts %lld",
                 (long long)m->moe_top_k, (long long)m->moe_experts);
    return DML_OK;
#undef DML__BAD
}

dml_status dml_model_spec_validate(const dml_model_spec *m, dml_error *err)
{
    return consistent(m, err);
}

static const char *const transformer_keys[] = {
    "schema_version", "type",       "name",           "description",
    "layers",         "hidden",     "heads",          "kv_heads",
    "ffn_hidden",     "seq_len",    "vocab",          "activation",
    "tied_embeddings", "bias",      "norm",           "position_embedding",
    "dtype",          "moe",        "attention",      "causal",
    "rope_theta",     "dropout",    NULL};
static const char *const mlp_keys[] = {
    "schema_version", "type",   "name",  "description", "input",
    "hidden",         "output", "dtype", "activation",  NULL};
static const char *const type_names[] = {"transformer", "mlp", NULL};
static const char *const act_names[] = {"gelu", "swiglu", "relu", "tanh",
                                        NULL};
static const char *const norm_names[] = {"layernorm", "rmsnorm", NULL};
static const char *const pos_names[] = {"learned", "rotary", "none", NULL};
static const char *const attention_names[] = {"materialized", "flash", NULL};

static dml_status parse_transformer(const dml_json_obj *o, dml_model_spec *m,
                                    dml_error *err)
{
    DML_CHECK(dml_json_check_keys(o, transformer_keys, err));
    DML_CHECK(dml_json_get_i64(o, "layers", true, 1, DML_MODEL_MAX_LAYERS,
                               &m->layers, err));
    DML_CHECK(dml_json_get_i64(o, "hidden", true, 1, DML_MODEL_MAX_HIDDEN,
                               &m->hidden, err));
    DML_CHECK(dml_json_get_i64(o, "heads", true, 1, DML_MODEL_MAX_HEADS,
                               &m->heads, err));
    m->kv_heads = m->heads;
    DML_CHECK(dml_json_get_i64(o, "kv_heads", false, 1, DML_MODEL_MAX_HEADS,
                               &m->kv_heads, err));
    m->ffn_hidden = 4 * m->hidden;
    DML_CHECK(dml_json_get_i64(o, "ffn_hidden", false, 1, DML_MODEL_MAX_FFN,
                               &m->ffn_hidden, err));
    DML_CHECK(dml_json_get_i64(o, "seq_len", true, 1, DML_MODEL_MAX_SEQ,
                               &m->seq_len, err));
    DML_CHECK(dml_json_get_i64(o, "vocab", true, 1, DML_MODEL_MAX_VOCAB,
                               &m->vocab, err));
    int v = (int)m->activation;
    DML_CHECK(dml_json_get_enum(o, "activation", false, act_names, &v, err));
    m->activation = (dml_activation)v;
    DML_CHECK(dml_json_get_bool(o, "tied_embeddings", false,
                                &m->tied_embeddings, err));
    DML_CHECK(dml_json_get_bool(o, "bias", false, &m->bias, err));
    v = (int)m->norm;
    DML_CHECK(dml_json_get_enum(o, "norm", false, norm_names, &v, err));
    m->norm = (dml_norm)v;
    v = (int)m->position;
    DML_CHECK(dml_json_get_enum(o, "position_embedding", false, pos_names, &v,
                                err));
    m->position = (dml_position)v;
    /* Read whatever the position: the rules below refuse a base given
     * for positions that have none. */
    DML_CHECK(dml_json_get_f64(o, "rope_theta", false, 1,
                               DML_MODEL_MAX_ROPE_THETA, &m->rope_theta,
                               err));
    if (m->position == DML_POS_ROTARY && m->rope_theta == 0)
        m->rope_theta = DML_MODEL_ROPE_THETA_DEFAULT;
    DML_CHECK(dml_json_get_f64(o, "dropout", false, 0, 1, &m->dropout, err));
    v = -1;
    DML_CHECK(dml_json_get_enum(o, "attention", false, attention_names, &v,
                                err));
    m->attention_set = v >= 0;
    m->attention = v >= 0 ? (dml_attention_impl)v : DML_ATTN_MATERIALIZED;
    DML_CHECK(dml_json_get_bool(o, "causal", false, &m->causal, err));
    dml_json_obj moe;
    bool have_moe = false;
    DML_CHECK(dml_json_get_obj(o, "moe", false, &moe, &have_moe, err));
    if (have_moe) {
        static const char *const moe_keys[] = {"experts", "top_k", NULL};
        DML_CHECK(dml_json_check_keys(&moe, moe_keys, err));
        DML_CHECK(dml_json_get_i64(&moe, "experts", true, 1,
                                   DML_MODEL_MAX_EXPERTS, &m->moe_experts,
                                   err));
        DML_CHECK(dml_json_get_i64(&moe, "top_k", true, 1,
                                   DML_MODEL_MAX_EXPERTS, &m->moe_top_k, err));
    }
    return DML_OK;
}

static dml_status parse_mlp(const dml_json_obj *o, dml_model_spec *m,
                            dml_error *err)
{
    DML_CHECK(dml_json_check_keys(o, mlp_keys, err));
    DML_CHECK(dml_json_get_i64(o, "input", true, 1, DML_MODEL_MAX_WIDTH,
                               &m->input, err));
    DML_CHECK(dml_json_get_i64(o, "output", true, 1, DML_MODEL_MAX_WIDTH,
                               &m->output, err));
    json_t *arr = NULL;
    size_t n = 0;
    DML_CHECK(dml_json_get_array(o, "hidden", true, &arr, &n, NULL, err));
    char apath[DML_JSON_PATH_MAX];
    dml_json_path_key(apath, sizeof apath, o->path, "hidden");
    if (n > DML_MLP_HIDDEN_MAX)
        return dml_json_doc_error(o->doc, err, apath, false,
                                  "%zu hidden layers, at most %d", n,
                                  DML_MLP_HIDDEN_MAX);
    for (size_t i = 0; i < n; i++) {
        double w = 0;
        DML_CHECK(dml_json_array_f64(o, "hidden", arr, i, 1,
                                     DML_MODEL_MAX_WIDTH, &w, err));
        if (w != floor(w)) {
            char path[DML_JSON_PATH_MAX];
            dml_json_path_index(path, sizeof path, apath, i);
            return dml_json_doc_error(o->doc, err, path, false,
                                      "expected an integer, found %g", w);
        }
        m->hidden_sizes[i] = (int64_t)w;
    }
    m->hidden_count = (int)n;
    m->layers = m->hidden_count + 1;
    int v = (int)m->activation;
    DML_CHECK(dml_json_get_enum(o, "activation", false, act_names, &v, err));
    m->activation = (dml_activation)v;
    return DML_OK;
}

dml_status dml_model_spec_parse(const dml_json_obj *o, dml_model_spec *out,
                                dml_error *err)
{
    int type = 0;
    DML_CHECK(dml_json_get_enum(o, "type", true, type_names, &type, err));
    dml_model_spec m;
    dml_model_spec_init(&m, (dml_model_type)type);
    int64_t version = 1;
    DML_CHECK(dml_json_get_i64(o, "schema_version", false, 1, 1, &version,
                               err));
    DML_CHECK(dml_name_get(o, "name", true, m.name, sizeof m.name, err));
    DML_CHECK(dml_json_get_text(o, "description", false, m.description,
                       sizeof m.description, err));
    int dt = (int)m.dtype;
    DML_CHECK(dml_json_get_enum(o, "dtype", false, dml_dtype_names, &dt, err));
    m.dtype = (dml_dtype)dt;
    if (m.type == DML_MODEL_TRANSFORMER)
        DML_CHECK(parse_transformer(o, &m, err));
    else
        DML_CHECK(parse_mlp(o, &m, err));
    dml_error bad;
    if (consistent(&m, &bad) != DML_OK) {
        char path[DML_JSON_PATH_MAX];
        dml_json_path_key(path, sizeof path, o->path, bad.field);
        return dml_json_doc_error(o->doc, err, path, false, "%s", bad.msg);
    }
    *out = m;
    return DML_OK;
}

/* dml_json_parse_fn for model specs. */
static dml_status parse_any(const dml_json_obj *root, void *out,
                            dml_error *err)
{
    return dml_model_spec_parse(root, out, err);
}

dml_status dml_model_spec_read_file(const char *path, dml_model_spec *out,
                                    dml_error *err)
{
    return dml_json_parse_file(path, parse_any, out, err);
}

dml_status dml_model_spec_from_json(const json_t *j, const char *name,
                                    dml_model_spec *out, dml_error *err)
{
    return dml_json_parse_value(j, name, "model spec", parse_any, out,
                                err);
}

dml_status dml_model_spec_load(const char *name_or_file, const char *data_dir,
                               dml_model_spec *out, dml_error *err)
{
    char path[1024];
    DML_CHECK(dml_costmodel_resolve(name_or_file, data_dir, "model", path,
                                    sizeof path, err));
    return dml_model_spec_read_file(path, out, err);
}

json_t *dml_model_spec_to_json(const dml_model_spec *m)
{
    json_t *j = json_object();
    if (!j)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(j, "schema_version", json_integer(1));
    bad |= json_object_set_new(j, "type", json_string(type_names[m->type]));
    bad |= json_object_set_new(j, "name", json_string(m->name));
    if (m->description[0])
        bad |= json_object_set_new(j, "description",
                                   json_string(m->description));
    if (m->type == DML_MODEL_MLP) {
        bad |= json_object_set_new(j, "input", json_integer(m->input));
        json_t *h = json_array();
        for (int i = 0; h && i < m->hidden_count; i++)
            bad |= json_array_append_new(h, json_integer(m->hidden_sizes[i]));
        bad |= json_object_set_new(j, "hidden", h);
        bad |= json_object_set_new(j, "output", json_integer(m->output));
    } else {
        bad |= json_object_set_new(j, "layers", json_integer(m->layers));
        bad |= json_object_set_new(j, "hidden", json_integer(m->hidden));
        bad |= json_object_set_new(j, "heads", json_integer(m->heads));
        bad |= json_object_set_new(j, "kv_heads", json_integer(m->kv_heads));
        bad |= json_object_set_new(j, "ffn_hidden",
                                   json_integer(m->ffn_hidden));
        bad |= json_object_set_new(j, "seq_len", json_integer(m->seq_len));
        bad |= json_object_set_new(j, "vocab", json_integer(m->vocab));
        bad |= json_object_set_new(j, "tied_embeddings",
                                   json_boolean(m->tied_embeddings));
        bad |= json_object_set_new(j, "bias", json_boolean(m->bias));
        bad |= json_object_set_new(j, "norm", json_string(norm_names[m->norm]));
        if (!m->causal)
            bad |= json_object_set_new(j, "causal", json_false());
        if (m->attention_set)
            bad |= json_object_set_new(
                j, "attention", json_string(attention_names[m->attention]));
        bad |= json_object_set_new(j, "position_embedding",
                                   json_string(pos_names[m->position]));
        if (m->dropout != DML_MODEL_DROPOUT_DEFAULT)
            bad |= json_object_set_new(j, "dropout", json_real(m->dropout));
        if (m->position == DML_POS_ROTARY && m->rope_theta > 0)
            bad |= json_object_set_new(j, "rope_theta",
                                       json_real(m->rope_theta));
        if (m->moe_experts > 0) {
            json_t *moe = json_pack("{s:I, s:I}", "experts",
                                    (json_int_t)m->moe_experts, "top_k",
                                    (json_int_t)m->moe_top_k);
            bad |= json_object_set_new(j, "moe", moe);
        }
    }
    bad |= json_object_set_new(j, "activation",
                               json_string(act_names[m->activation]));
    bad |= json_object_set_new(j, "dtype",
                               json_string(dml_dtype_name(m->dtype)));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

dml_status dml_model_spec_list(const char *data_dir, char ***names,
                               size_t *count, dml_error *err)
{
    return dml_costmodel_list_presets(data_dir, "model", names, count, err);
}
