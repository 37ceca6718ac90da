/*
 * layers.h: the executor's layers, each a forward/backward pair (llm.c style).
 *
 * Plain C over OpenBLAS. Activations are row-major [rows x width] float
 * arrays, one row per sample. A linear layer's weight is stored as PyTorch
 * stores nn.Linear: [out x in] row-major, so y = x W^T + b. Backward
 * functions *accumulate* parameter gradients (dW, db) so that micro-batches
 * add up in place; callers zero the gradient buffers once per step.
 *
 * Every sgemm goes through dml_linear_* so that the time spent in GEMMs can
 * be accumulated in a dml_gemm_timer (the speed benchmark compares it with
 * the same shapes timed directly).
 */
#ifndef DML_EXECUTOR_LAYERS_H
#define DML_EXECUTOR_LAYERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Time spent in sgemm calls, and the calls made (for the benchmark). */
typedef struct dml_gemm_timer {
    double time_s;      /* accumulated wall time inside cblas_sgemm, s */
    double flop;        /* accumulated 2*m*n*k, FLOP */
    long calls;         /* sgemm calls made */
    bool record_shapes; /* count calls per distinct shape in shapes[] */
    int nshapes;        /* entries used in shapes[] */
    struct {
        int m, n, k;    /* row-major C[m x n] = op(A)[m x k] op(B)[k x n] */
        bool trans_a, trans_b; /* op() transposes */
        bool accumulate;       /* beta = 1 (else 0) */
        long count;            /* calls with this shape */
    } shapes[32];       /* distinct shapes seen (the first 32) */
} dml_gemm_timer;

/* C[m x n] = alpha op(A) op(B) + beta C, row-major, timed into t (may be
 * NULL). lda/ldb/ldc are the row strides of the stored matrices. */
void dml_gemm(dml_gemm_timer *t, bool trans_a, bool trans_b, int m, int n,
              int k, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc);

/* out[rows x oc] = inp[rows x c] W[oc x c]^T (+ bias[oc] when bias != NULL). */
void dml_linear_forward(dml_gemm_timer *t, float *out, const float *inp,
                        const float *w, const float *bias, int rows, int c,
                        int oc);

/*
 * Given dout[rows x oc]: dw[oc x c] += dout^T inp; dbias[oc] += column sums
 * of dout (when dbias != NULL); dinp[rows x c] = dout W (overwritten, when
 * dinp != NULL: the first layer of the network needs no input gradient).
 */
void dml_linear_backward(dml_gemm_timer *t, float *dinp, float *dw,
                         float *dbias, const float *dout, const float *inp,
                         const float *w, int rows, int c, int oc);

/* out[rows x oc] += bias[oc] on every row (row-parallel layers add the
 * bias after the tensor-parallel allreduce, so it is a separate step). */
void dml_bias_forward(float *out, const float *bias, int rows, int oc);

/* Elementwise activations: out = f(inp); backward dinp = dout * f'(inp),
 * given both the forward input and output (dinp may alias dout). GELU is
 * the tanh approximation of GPT-2 (Hendrycks & Gimpel 2016). */
typedef enum dml_act_kind {
    DML_ACT_KIND_NONE = 0, /* identity (the output layer, before softmax) */
    DML_ACT_KIND_RELU = 1,
    DML_ACT_KIND_TANH = 2,
    DML_ACT_KIND_GELU = 3,
} dml_act_kind;

void dml_act_forward(dml_act_kind k, float *out, const float *inp, size_t n);
void dml_act_backward(dml_act_kind k, float *dinp, const float *dout,
                      const float *inp, const float *out, size_t n);

/*
 * Softmax cross-entropy over logits[rows x classes] with integer labels.
 * probs gets the softmax; returns the *sum* over rows of -log p[label]
 * (in double, so that the mean over a large batch stays exact enough).
 * correct (may be NULL) gets the number of rows whose argmax is the label.
 */
double dml_xent_forward(float *probs, const float *logits,
                        const uint8_t *labels, int rows, int classes,
                        long *correct);

/* dlogits = (probs - onehot(label)) * scale; scale = 1 / global batch makes
 * the loss the mean over the global batch whatever the split. */
void dml_xent_backward(float *dlogits, const float *probs,
                       const uint8_t *labels, int rows, int classes,
                       float scale);

#endif
