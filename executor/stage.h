/*
 * stage.h: the part of the MLP one rank holds, and its forward/backward.
 *
 * A pipeline stage owns a contiguous range of linear layers (the plan's
 * placement). With tensor parallelism the layers of a stage are paired
 * Megatron-style (Shoeybi et al. 2019, section 3): the first of each pair
 * is column-parallel (each TP rank holds out/tp rows of W and of the bias,
 * and applies the activation to its slice), the second row-parallel (each
 * rank holds in/tp columns of W; the partial outputs are summed with one
 * allreduce in the TP group, then the replicated bias and activation are
 * applied). Backward needs one allreduce per pair too, on the input
 * gradient of the column-parallel layer. Pairs are formed inside a stage,
 * from its first layer on; a stage with an odd number of layers keeps its
 * last layer whole on every TP rank (replicated: same inputs, same
 * gradients, computed redundantly). With tp = 1 every layer is replicated.
 * The rule is the cost model's dml_mlp_tp_split (costmodel/flops.h), the
 * one definition the planner prices and the executor runs.
 *
 * The rank's parameters live in one flat buffer, layer by layer, weight
 * then bias, padded at the end; the gradient buffer mirrors it. That lets
 * data parallelism reduce the gradients in a few large buckets and ZeRO-1
 * shard them by offset.
 */
#ifndef DML_EXECUTOR_STAGE_H
#define DML_EXECUTOR_STAGE_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "executor/layers.h"

typedef enum dml_tp_mode {
    DML_TP_REPLICATED = 0, /* whole layer on every TP rank */
    DML_TP_COLUMN = 1,     /* output features split over the TP group */
    DML_TP_ROW = 2,        /* input features split over the TP group */
} dml_tp_mode;

/* "replicated", "column", "row". */
const char *dml_tp_mode_name(dml_tp_mode m);

typedef struct dml_stage_layer {
    int index;            /* layer number in the whole model, 0-based */
    dml_tp_mode mode;     /* how the TP group splits it */
    int in, out;          /* full fan-in and fan-out */
    int in_local;         /* input width this rank multiplies */
    int out_local;        /* output width this rank produces */
    int row0;             /* first output row (COLUMN) or input column
                             (ROW) of the full W held here, else 0 */
    dml_act_kind act;     /* activation after the linear */
    size_t w_off, b_off;  /* offsets of W and b in the flat buffers */
    int w_tensor, b_tensor; /* their indices in dml_stage.tensors */
} dml_stage_layer;

typedef struct dml_tensor {
    size_t off;           /* offset in the flat buffers, values */
    size_t n;             /* values held by this rank */
    int layer;            /* model layer it belongs to */
    bool bias;            /* bias (else weight) */
    bool tp_replicated;   /* identical on every TP rank: counted once when
                             norms are summed over the TP group */
} dml_tensor;

/* Wall time of one rank's work, split the way the database records it. */
typedef struct dml_stage_timers {
    double compute_s;     /* layer arithmetic (GEMMs and elementwise), s */
    double tp_comm_s;     /* tensor-parallel allreduces, s */
    dml_gemm_timer gemm;  /* the GEMM share of compute_s */
} dml_stage_timers;

typedef struct dml_stage {
    int first_layer, last_layer; /* model layers held, inclusive */
    int nlayers;                 /* last - first + 1 */
    dml_stage_layer *layers;     /* [nlayers] */
    int ntensors;                /* 2 * nlayers */
    dml_tensor *tensors;         /* [ntensors] in flat-buffer order */
    size_t nparams;              /* values in use in the flat buffers */
    size_t nflat;                /* allocated values (padding included) */
    int in_width;                /* width of the activations entering */
    int out_width;               /* width of the activations leaving */
    bool is_first, is_last;      /* first / last pipeline stage */
    int tp, tp_index;            /* TP group size and this rank's place */
    MPI_Comm tp_comm;            /* TP group (borrowed) */
    float *params;               /* [nflat] */
    float *grads;                /* [nflat] */
} dml_stage;

/* Per-layer widths of an MLP: widths[0] input, widths[i+1] output of
 * layer i. */
typedef struct dml_stage_model {
    int layers;                  /* linear layers in the model */
    const int64_t *widths;       /* [layers + 1] */
    dml_act_kind hidden_act;     /* after every layer but the last */
} dml_stage_model;

/* Values of the whole model in weight-file order (weights.h): the sum
 * over layers of out*in + out. */
size_t dml_stage_model_values(const dml_stage_model *m);

/*
 * Lay out the stage holding layers first..last for TP rank tp_index of tp.
 * pad_multiple: nflat is rounded up to a multiple of it (the DP bucketing
 * needs multiples of dp). A column-parallel layer whose output width is not
 * a multiple of tp is DML_EINPUT.
 */
dml_status dml_stage_init(dml_stage *st, const dml_stage_model *m, int first,
                          int last, int tp, int tp_index, MPI_Comm tp_comm,
                          size_t pad_multiple, dml_error *err);
void dml_stage_free(dml_stage *st);

/* Are the layout rules met (used by validation before any MPI work)? */
dml_status dml_stage_check(const dml_stage_model *m, int first, int last,
                           int tp, dml_error *err);

/*
 * Set the parameters from full-model values in weight-file order
 * (weights.h), taking this rank's shard.
 */
void dml_stage_load_full(dml_stage *st, const dml_stage_model *m,
                         const float *full);

/* Write this rank's shard into a zeroed full-model array (weight-file
 * order); replicated tensors only when write_replicated, so that a sum over
 * the TP group rebuilds the model exactly once. */
void dml_stage_store_full(const dml_stage *st, const dml_stage_model *m,
                          float *full, bool write_replicated);

/* The same for any flat buffer laid out like this rank's parameters (an
 * optimizer state slot): full-model values in weight-file order into
 * flat, this rank's shard of them. */
void dml_stage_full_to_flat(const dml_stage *st, const dml_stage_model *m,
                            const float *full, float *flat);

/* The values of flat (laid out like this rank's parameters) at offsets
 * lo..hi-1 into their places in a full-model array, replicated tensors
 * included; the rest of full is left as it is. Re-sharding a checkpoint
 * of another layout (ckpt_relayout.h) gathers every shard this way. */
void dml_stage_flat_to_full(const dml_stage *st, const dml_stage_model *m,
                            const float *flat, size_t lo, size_t hi,
                            float *full);

/*
 * Deterministic initialisation that does not depend on the layout: the
 * full matrix of every layer is drawn from its own stream (seed, layer),
 * then this rank keeps its shard. Weights uniform in +-sqrt(6/fan_in)
 * (He et al. 2015) before ReLU/GELU, +-sqrt(6/(fan_in+fan_out)) (Glorot &
 * Bengio 2010) before tanh and for the output layer; biases 0.
 */
void dml_stage_init_weights(dml_stage *st, uint64_t seed);

/* Activations of one micro-batch in flight through this stage. */
typedef struct dml_stage_acts {
    int cap_rows;       /* rows the buffers hold */
    float *x;           /* [rows x in_width] stage input */
    float **z;          /* [nlayers][rows x out_local] before activation */
    float **a;          /* [nlayers][rows x out_local] after (probs on the
                           last layer of the last stage) */
    uint8_t *labels;    /* [rows] (last stage) */
} dml_stage_acts;

dml_status dml_stage_acts_init(dml_stage_acts *a, const dml_stage *st,
                               int rows, dml_error *err);
void dml_stage_acts_free(dml_stage_acts *a, const dml_stage *st);

/* Output of the stage for a forward pass: a[nlayers-1], rows x out_width. */
float *dml_stage_output(const dml_stage_acts *a, const dml_stage *st);

/*
 * Forward rows of acts->x through the stage. On the last stage the last
 * layer's activation is the softmax; the return value is then the summed
 * cross-entropy over the rows against acts->labels (0 elsewhere) and
 * *correct the rows classified right (may be NULL).
 */
double dml_stage_forward(dml_stage *st, dml_stage_acts *acts, int rows,
                         long *correct, dml_stage_timers *t);

/* Called after each layer's backward with its index in the stage (highest
 * first), so that data parallelism can start reducing finished buckets. */
typedef void (*dml_stage_layer_done)(void *ctx, int local_layer);

/*
 * Backward through the stage, accumulating into st->grads. dout is the
 * gradient of the stage output [rows x out_width] (ignored on the last
 * stage, which starts from the loss with scale 1/global batch). scratch0 and
 * scratch1 are two buffers of rows x the widest layer (see
 * dml_stage_scratch_width). dinp gets the gradient of the stage input
 * (NULL on the first stage, where it is not needed).
 */
void dml_stage_backward(dml_stage *st, dml_stage_acts *acts, int rows,
                        const float *dout, float scale, float *dinp,
                        float *scratch0, float *scratch1,
                        dml_stage_layer_done done, void *done_ctx,
                        dml_stage_timers *t);

/* Widest activation (full width) any layer of the stage reads or writes. */
int dml_stage_scratch_width(const dml_stage *st);

#endif
