/*
 * powersgd.c: PowerSGD gradient compression of rank R with error feedback
 * and a warm-started Q (Vogels, Karimireddy and Jaggi 2019, algorithms 1
 * and 2; sync=powersgd:R), priced by the cost model's dml_sync_powersgd
 * (costmodel/sync_powersgd.c).
 *
 * For the weight matrix of each of the stage's layers, as this rank holds
 * it (rows = its output features, cols = its input features, after the
 * TP split of stage.h), with residual E kept from the last step:
 *
 *   M = grad + E               (rows x cols)
 *   P = M Q                    (rows x R; Q: cols x R, from the last step)
 *   P = allreduce(P)           one message for every layer's P and every
 *                              bias, which is sent as it is
 *   P = orthonormal(P)         Gram-Schmidt, the same bits on every rank
 *   Q_own = M^T P              (cols x R)
 *   Q = allreduce(Q_own)       the second message; Q is kept for the next
 *                              step (the warm start)
 *   grad = P Q^T               what the optimizer reads, on every rank
 *   E = M - P Q_own^T          what this rank's compression left out
 *
 * The executor's gradients are already means over the global batch (each
 * micro-batch scaled by 1/B, executor/README.md) and its reductions are
 * sums, so the paper's ALL_REDUCE_MEAN is a sum here and P Q^T is the
 * approximation of the averaged gradient. The residual is each rank's own
 * (M - P P^T M), as in the paper's error feedback: what one rank leaves
 * out is added to that rank's next gradient, and the residuals and the
 * update together hold every rank's M exactly. Q starts from the seed:
 * each layer's full cols x R matrix, standard normal from its own stream
 * (seed, model layer), of which a row-parallel layer keeps its rows, so
 * every DP rank starts from the same Q and a layer that every TP rank
 * holds whole gets the same updates on each (stage.h). Q and the
 * residual are the strategy's state, saved in every checkpoint shard and
 * restored from it (sync.h).
 *
 * Bytes: R (rows + cols) values a matrix plus the biases, in two
 * allreduces that cannot overlap (Q needs the reduced P), the pricer's
 * count. A rank R above min(rows, cols) is sent as asked (the pricer
 * prices R (rows + cols)); the columns of P beyond the matrix's rank come
 * out of Gram-Schmidt as zero, and P Q^T is then M itself. The exchange
 * needs every layer's gradient, so it starts when bucket 0 does (the
 * first layer, the last that backward finishes), not overlapped with
 * backward (topk.c says what the pricer assumes).
 */
#include "executor/sync/compress.h"
#include "executor/sync/sync.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

/* One layer's parts. */
typedef struct psgd_layer {
    int rows, cols;      /* its weight matrix, as this rank holds it */
    size_t w_off;        /* the matrix in the flat buffers */
    size_t b_off, b_n;   /* its bias */
    size_t e_off;        /* its residual in psgd.residual */
    size_t q_off;        /* its Q in psgd.q and psgd.q_own */
    size_t p_off;        /* its P in psgd.p */
} psgd_layer;

typedef struct psgd {
    int R;               /* rank of the approximation */
    int nlayers;
    psgd_layer *layer;   /* [nlayers] */
    size_t ne, nq, np;   /* values of residual, of Q, of the P message */
    size_t np_mat;       /* of which the matrices' P (the biases follow) */
    float *residual;     /* [ne] E, then M during the step */
    float *q;            /* [nq] Q (state: the warm start) */
    float *q_own;        /* [nq] this rank's M^T P (the Q message) */
    float *p;            /* [np] every P, then every bias */
    double *work;        /* a column of the tallest P (Gram-Schmidt) */
} psgd;

/* Each layer's Q from its own stream: the full in x R, then this rank's
 * rows (a row-parallel layer holds in/tp input features from row0). */
static void init_q(dml_sync *s, psgd *g)
{
    for (int l = 0; l < g->nlayers; l++) {
        const dml_stage_layer *L = &s->st->layers[l];
        dml_rng r;
        dml_rng_seed(&r, s->seed ^ (0x8CB92BA72F3D8DD7ull *
                                    (uint64_t)(L->index + 1)));
        int first = L->mode == DML_TP_ROW ? L->row0 : 0;
        float *q = g->q + g->layer[l].q_off;
        for (int i = 0; i < L->in; i++)
            for (int j = 0; j < g->R; j++) {
                float v = (float)dml_rng_normal(&r);
                if (i >= first && i < first + L->in_local)
                    q[(size_t)(i - first) * (size_t)g->R + (size_t)j] = v;
            }
    }
}

/* Offsets of every layer's pieces; the sizes of the buffers. */
static void lay_out(const dml_sync *s, psgd *g)
{
    size_t np_mat = 0;
    for (int l = 0; l < g->nlayers; l++) {
        const dml_stage_layer *L = &s->st->layers[l];
        psgd_layer *x = &g->layer[l];
        x->rows = L->out_local;
        x->cols = L->in_local;
        x->w_off = L->w_off;
        x->b_off = L->b_off;
        x->b_n = s->st->tensors[L->b_tensor].n;
        x->e_off = g->ne;
        x->q_off = g->nq;
        x->p_off = np_mat;
        g->ne += (size_t)x->rows * (size_t)x->cols;
        g->nq += (size_t)x->cols * (size_t)g->R;
        np_mat += (size_t)x->rows * (size_t)g->R;
    }
    g->np = g->np_mat = np_mat;
    for (int l = 0; l < g->nlayers; l++)
        g->np += g->layer[l].b_n;
}

static dml_status psgd_setup(dml_sync *s, dml_error *err)
{
    psgd *g = calloc(1, sizeof *g);
    if (!g)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    s->impl = g;
    double R = s->spec.param;
    if (!(R >= 1 && R <= 1 << 16 && R == floor(R)))
        return dml_error_msg(err, DML_EINPUT, "sync=powersgd needs a whole "
                             "rank 1 <= R <= 65536, not %g", R);
    g->R = (int)R;
    g->nlayers = s->st->nlayers;
    g->layer = calloc((size_t)(g->nlayers ? g->nlayers : 1),
                      sizeof *g->layer);
    if (!g->layer)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    lay_out(s, g);
    if (g->np > INT_MAX || g->nq > INT_MAX)
        return dml_error_msg(err, DML_EINPUT, "sync=powersgd:%d: %zu "
                             "values are more than one MPI message holds",
                             g->R, g->np > g->nq ? g->np : g->nq);
    size_t widest = 1;
    for (int l = 0; l < g->nlayers; l++)
        if ((size_t)g->layer[l].rows > widest)
            widest = (size_t)g->layer[l].rows;
    g->residual = calloc(g->ne ? g->ne : 1, sizeof(float));
    g->q = calloc(g->nq ? g->nq : 1, sizeof(float));
    g->q_own = calloc(g->nq ? g->nq : 1, sizeof(float));
    g->p = calloc(g->np ? g->np : 1, sizeof(float));
    g->work = malloc(widest * sizeof(double));
    if (!g->residual || !g->q || !g->q_own || !g->p || !g->work)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for PowerSGD");
    init_q(s, g);
    /* every replica updates everything from P Q^T */
    return dml__sync_own_all(s, err);
}

/* Bucket 0 starts last, when backward is over: M = grad + E, P = M Q
 * and the biases, reduced. */
static void psgd_start(dml_sync *s, int k)
{
    if (k != 0)
        return;
    psgd *g = s->impl;
    const float *grads = s->st->grads;
    float *bias_out = g->p + g->np_mat;
    for (int l = 0; l < g->nlayers; l++) {
        const psgd_layer *x = &g->layer[l];
        float *m = g->residual + x->e_off;
        size_t n = (size_t)x->rows * (size_t)x->cols;
        for (size_t i = 0; i < n; i++)
            m[i] += grads[x->w_off + i];
        dml_gemm(NULL, false, false, x->rows, g->R, x->cols, m, x->cols,
                 g->q + x->q_off, g->R, 0.0f, g->p + x->p_off, g->R);
        memcpy(bias_out, grads + x->b_off, x->b_n * sizeof(float));
        bias_out += x->b_n;
    }
    MPI_Iallreduce(MPI_IN_PLACE, g->p, (int)g->np, MPI_FLOAT, MPI_SUM,
                   s->dp_comm, &s->req[0]);
    dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)g->np * sizeof(float));
}

/* P has arrived: orthonormalise it, Q_own = M^T P, reduce into Q. */
static void psgd_send_q(dml_sync *s)
{
    psgd *g = s->impl;
    for (int l = 0; l < g->nlayers; l++) {
        const psgd_layer *x = &g->layer[l];
        float *p = g->p + x->p_off;
        dml_orthonormalise(p, x->rows, g->R, g->work);
        dml_gemm(NULL, true, false, x->cols, g->R, x->rows,
                 g->residual + x->e_off, x->cols, p, g->R, 0.0f,
                 g->q_own + x->q_off, g->R);
    }
    MPI_Iallreduce(g->q_own, g->q, (int)g->nq, MPI_FLOAT, MPI_SUM,
                   s->dp_comm, &s->req[0]);
    dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)g->nq * sizeof(float));
}

/* Q has arrived: the update P Q^T, the residual M - P Q_own^T, the
 * biases as reduced. */
static void psgd_finish(dml_sync *s)
{
    psgd *g = s->impl;
    float *grads = s->st->grads;
    const float *bias = g->p + g->np_mat;
    for (int l = 0; l < g->nlayers; l++) {
        const psgd_layer *x = &g->layer[l];
        const float *p = g->p + x->p_off;
        float *q_own = g->q_own + x->q_off;
        size_t nq = (size_t)x->cols * (size_t)g->R;
        dml_gemm(NULL, false, true, x->rows, x->cols, g->R, p, g->R,
                 g->q + x->q_off, g->R, 0.0f, grads + x->w_off, x->cols);
        /* E = M + P (-Q_own)^T: negation is exact, and sgemm adds the
         * product to E (beta 1) */
        for (size_t i = 0; i < nq; i++)
            q_own[i] = -q_own[i];
        dml_gemm(NULL, false, true, x->rows, x->cols, g->R, p, g->R, q_own,
                 g->R, 1.0f, g->residual + x->e_off, x->cols);
        memcpy(grads + x->b_off, bias, x->b_n * sizeof(float));
        bias += x->b_n;
    }
}

static bool psgd_next(dml_sync *s, int k)
{
    if (k != 0)
        return false;
    if (s->buckets[0].phase == 1) {
        psgd_send_q(s);
        return true;
    }
    psgd_finish(s);
    return false;
}

static size_t psgd_state_values(const dml_sync *s)
{
    const psgd *g = s->impl;
    return g->ne + g->nq;
}

static void psgd_state_save(const dml_sync *s, float *out)
{
    const psgd *g = s->impl;
    memcpy(out, g->residual, g->ne * sizeof(float));
    memcpy(out + g->ne, g->q, g->nq * sizeof(float));
}

static void psgd_state_restore(dml_sync *s, const float *in)
{
    psgd *g = s->impl;
    memcpy(g->residual, in, g->ne * sizeof(float));
    memcpy(g->q, in + g->ne, g->nq * sizeof(float));
}

static void psgd_teardown(dml_sync *s)
{
    psgd *g = s->impl;
    if (!g)
        return;
    free(g->layer);
    free(g->residual);
    free(g->q);
    free(g->q_own);
    free(g->p);
    free(g->work);
    free(g);
    s->impl = NULL;
}

void dml_orthonormalise(float *p, int rows, int cols, double *work)
{
    for (int j = 0; j < cols; j++) {
        double before = 0, after = 0;
        for (int i = 0; i < rows; i++) {
            work[i] = p[(size_t)i * (size_t)cols + (size_t)j];
            before += work[i] * work[i];
        }
        /* twice is enough (Giraud et al. 2005): the second pass removes
         * what rounding left of the earlier columns */
        for (int pass = 0; pass < 2; pass++)
            for (int c = 0; c < j; c++) {
                double dot = 0;
                for (int i = 0; i < rows; i++)
                    dot += work[i] * p[(size_t)i * (size_t)cols + (size_t)c];
                for (int i = 0; i < rows; i++)
                    work[i] -= dot * p[(size_t)i * (size_t)cols + (size_t)c];
            }
        for (int i = 0; i < rows; i++)
            after += work[i] * work[i];
        /* in the span of the columns before it, up to rounding (fp32
         * inputs: about 1e-7 of its length left): zero */
        double scale = after > 1e-10 * before && after > 0 ? 1 / sqrt(after)
                                                           : 0;
        for (int i = 0; i < rows; i++)
            p[(size_t)i * (size_t)cols + (size_t)j] = (float)(work[i] * scale);
    }
}

const dml_sync_strategy dml_sync_psgd = {
    .name = "powersgd",
    .setup = psgd_setup,
    .start = psgd_start,
    .next = psgd_next,
    .state_values = psgd_state_values,
    .state_save = psgd_state_save,
    .state_restore = psgd_state_restore,
    .teardown = psgd_teardown,
};
