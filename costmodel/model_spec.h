/*
 * model_spec.h: what is being trained, as read from a model spec file.
 *
 * A model spec names a transformer (layers, hidden, heads, GQA kv_heads,
 * FFN width, sequence, vocabulary, activation, optional mixture of experts)
 * or a plain MLP (input, hidden widths, output), the executor's workload.
 * Presets live in data/models/NAME.json; a name without '/' and without a
 * ".json" suffix is looked up there, anything else is a file path. Every
 * reader refuses unknown keys, wrong types and out-of-range or inconsistent
 * sizes with DML_EINPUT and `file:line:col: field: message`, before any
 * allocation that depends on the sizes.
 *
 * The struct is plain data of fixed size (no pointers), so it can be copied,
 * embedded in a plan and compared with memcmp after dml_model_spec_init.
 */
#ifndef DML_COSTMODEL_MODEL_SPEC_H
#define DML_COSTMODEL_MODEL_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/json.h"
#include "costmodel/dtype.h"
#include "costmodel/presets.h"

#define DML_MODEL_NAME_MAX 64
#define DML_MODEL_DESC_MAX 512
#define DML_MLP_HIDDEN_MAX 64

/* Sanity limits: anything larger is a typo, refused before use. */
#define DML_MODEL_MAX_LAYERS 100000       /* transformer layers */
#define DML_MODEL_MAX_HIDDEN 1000000      /* hidden width */
#define DML_MODEL_MAX_HEADS 100000        /* attention heads */
#define DML_MODEL_MAX_FFN 10000000        /* FFN width */
#define DML_MODEL_MAX_SEQ 100000000       /* tokens per sequence */
#define DML_MODEL_MAX_VOCAB 100000000     /* vocabulary entries */
#define DML_MODEL_MAX_EXPERTS 100000      /* MoE experts */
#define DML_MODEL_MAX_WIDTH 100000000     /* MLP input/hidden/output width */
#define DML_MODEL_MAX_ROPE_THETA 1e12     /* RoPE base */
#define DML_MODEL_ROPE_THETA_DEFAULT 10000.0 /* Su et al. 2021 (RoFormer) */
#define DML_MODEL_DROPOUT_DEFAULT 0.1      /* GPT-2, BERT, Megatron-LM */

typedef enum dml_model_type {
    DML_MODEL_TRANSFORMER = 0,
    DML_MODEL_MLP = 1,
} dml_model_type;

typedef enum dml_activation {
    DML_ACT_GELU = 0,   /* transformer FFN h->f->h, or MLP elementwise */
    DML_ACT_SWIGLU = 1, /* gated FFN: two h->f projections and one f->h */
    DML_ACT_RELU = 2,
    DML_ACT_TANH = 3,
} dml_activation;

/* How the attention core runs (Dao et al. 2022: flash attention). */
typedef enum dml_attention_impl {
    DML_ATTN_MATERIALIZED = 0, /* softmax(QK^T) stored (Megatron 2022) */
    DML_ATTN_FLASH = 1,        /* fused kernel: only row statistics kept */
} dml_attention_impl;

typedef enum dml_norm {
    DML_NORM_LAYERNORM = 0, /* scale and bias: 2h parameters */
    DML_NORM_RMSNORM = 1,   /* scale only: h parameters */
} dml_norm;

typedef enum dml_position {
    DML_POS_LEARNED = 0, /* learned position table: seq_len x hidden */
    DML_POS_ROTARY = 1,  /* RoPE: no parameters */
    DML_POS_NONE = 2,
} dml_position;

typedef struct dml_model_spec {
    dml_model_type type;                 /* transformer or mlp */
    char name[DML_MODEL_NAME_MAX];       /* "gpt3-175b" */
    char description[DML_MODEL_DESC_MAX]; /* free text, source of the dims */
    dml_dtype dtype;                     /* training dtype (bf16 default for
                                            transformers, fp32 for mlp) */
    dml_activation activation;           /* gelu|swiglu (transformer),
                                            relu|gelu|tanh (mlp) */
    /* transformer only (0 for an mlp) */
    int64_t layers;          /* transformer blocks; for an mlp the number of
                                linear layers (hidden_count + 1) */
    int64_t hidden;          /* model width h, elements */
    int64_t heads;           /* attention heads a */
    int64_t kv_heads;        /* key/value heads (GQA); = heads by default */
    int64_t ffn_hidden;      /* FFN inner width f; 4h by default */
    int64_t seq_len;         /* tokens per sequence s */
    int64_t vocab;           /* vocabulary size V */
    bool tied_embeddings;    /* output projection shares the input table */
    bool bias;               /* linear layers carry biases (GPT: yes) */
    dml_norm norm;           /* layernorm (default) or rmsnorm */
    dml_position position;   /* learned (default), rotary or none */
    double rope_theta;       /* RoPE base theta (rotary only; 0 otherwise):
                                10000 by default (Su et al. 2021), 500000
                                for Llama 3; it changes no cost, but a run
                                of the model needs it (exports) */
    double dropout;          /* dropout probability of attention and hidden
                                states, 0 to <1: 0.1 by default (GPT-2,
                                BERT, Megatron-LM), 0 for Llama; priced
                                as if on (the masks' memory), exported */
    bool causal;             /* decoder: each token attends to those before
                                 it (true); an encoder attends to all */
    bool attention_set;      /* the spec names its attention kernel (else
                                 the planner may choose either) */
    dml_attention_impl attention; /* that kernel, when attention_set */
    int64_t moe_experts;     /* experts per FFN, 0 = dense */
    int64_t moe_top_k;       /* experts each token visits, 0 = dense */
    /* mlp only */
    int64_t input;                              /* input width, elements */
    int hidden_count;                           /* hidden layers, 0..64 */
    int64_t hidden_sizes[DML_MLP_HIDDEN_MAX];   /* width of each */
    int64_t output;                             /* output width (classes) */
} dml_model_spec;

/* Zero everything and set the defaults a file may leave out. */
void dml_model_spec_init(dml_model_spec *m, dml_model_type type);

/* Read the model spec object o (root of a file, or "model" inside a plan)
 * with full validation; errors point into o's document. */
dml_status dml_model_spec_parse(const dml_json_obj *o, dml_model_spec *out,
                                dml_error *err);

/* Read a model spec file. */
dml_status dml_model_spec_read_file(const char *path, dml_model_spec *out,
                                    dml_error *err);

/* Read from a jansson tree (e.g. received over MPI); errors point into its
 * compact serialisation, called name. */
dml_status dml_model_spec_from_json(const json_t *j, const char *name,
                                    dml_model_spec *out, dml_error *err);

/* A preset name ("gpt3-175b" -> data_dir/models/gpt3-175b.json) or a file
 * path (contains '/' or ends in ".json"). An unknown preset is
 * DML_ENOTFOUND. */
dml_status dml_model_spec_load(const char *name_or_file, const char *data_dir,
                               dml_model_spec *out, dml_error *err);

/* Check the consistency rules on a struct built in code (no positions). */
dml_status dml_model_spec_validate(const dml_model_spec *m, dml_error *err);

/* The spec as a JSON object in the file format; NULL only without memory. */
json_t *dml_model_spec_to_json(const dml_model_spec *m);

/* Preset names found in data_dir/models, sorted; free with
 * dml_costmodel_list_free (presets.h). */
dml_status dml_model_spec_list(const char *data_dir, char ***names,
                               size_t *count, dml_error *err);

/* Width of MLP linear layer i (0-based): fan_in and fan_out. */
void dml_model_spec_mlp_layer(const dml_model_spec *m, int i, int64_t *fan_in,
                              int64_t *fan_out);

#endif
