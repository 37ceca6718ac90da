/*
 * sync_powersgd.c: PowerSGD gradient compression of rank R, priced
 * (Vogels et al. 2019; the executor's executor/sync/powersgd.c).
 *
 * Each weight matrix M (a x b) of the replica's layers, gradient plus
 * error-feedback residual, is approximated as P Q^T of rank R: P = M Q
 * (Q warm-started from the last step), P allreduced and orthogonalised,
 * Q = M^T P, Q allreduced; the replicas then use P Q^T and keep M - P Q^T
 * as the residual. The allreduces carry R (a + b) elements a matrix
 * instead of a b, in two rounds that cannot overlap (Q needs the reduced
 * P); vectors (biases) are allreduced as they are. Compute: the two
 * products M Q and M^T P (a x b x R each, memory-bound for small R: M is
 * read twice), P Q^T once more to form the update and the residual, the
 * Gram-Schmidt of P (2 a R^2 FLOPs), and the residual's read and write.
 * Once per step, behind the last backward.
 */
#include <math.h>

#include "costmodel/flops.h"
#include "costmodel/sync.h"

/* Sum over the replica's weight matrices of (rows + cols), of rows x cols
 * (their elements), and the elements of its vectors. */
static void matrices(const dml__step *st, const dml_sync_rank *rank,
                     double *edges, double *elems, double *vectors)
{
    const dml_model_spec *m = &st->ctx->model;
    int tp = st->par->tp;
    *edges = *elems = *vectors = 0;
    if (!st->transformer) {
        for (int64_t i = 0; i < rank->layers; i++) {
            int layer = (int)(rank->first_layer + i);
            int64_t in, out;
            dml_model_spec_mlp_layer(m, layer, &in, &out);
            dml_tp_split sp = dml_mlp_tp_split(
                rank->first_layer, rank->first_layer + rank->layers - 1,
                layer, tp);
            double a = sp == DML_TP_SPLIT_ROW ? (double)in / tp : (double)in;
            double b = sp == DML_TP_SPLIT_COLUMN ? (double)out / tp
                                                 : (double)out;
            *edges += a + b;
            *elems += a * b;
            *vectors += b;
        }
        return;
    }
    dml_gemm_shape g[DML_LAYER_GEMMS_MAX];
    int n = dml_layer_gemms(m, 0, 1, tp, st->ep, g);
    double e1 = 0, x1 = 0;
    for (int i = 0; i < n; i++)
        if (g[i].role == DML_GEMM_WEIGHT) {
            e1 += g[i].k + g[i].n;
            x1 += g[i].k * g[i].n;
        }
    *edges = e1 * (double)rank->layers;
    *elems = x1 * (double)rank->layers;
    /* what is not in the layers' matrices (norms, biases, embeddings) is
     * sent as it is */
    *vectors = rank->params > *elems ? rank->params - *elems : 0;
}

static void powersgd_exchange(const dml__step *st, const dml_sync_rank *rank,
                              dml_sync_exchange *out)
{
    double r = st->sync.param;
    double edges, elems, vectors;
    matrices(st, rank, &edges, &elems, &vectors);
    double e = st->wire;
    int n = st->dpg.ranks, g = st->dpg.ranks_per_node;
    memset(out, 0, sizeof *out);
    /* two dependent rounds: P (and the vectors), then Q */
    double p_bytes = (r * edges / 2.0 + vectors) * e;
    double q_bytes = r * edges / 2.0 * e;
    out->reduce_s =
        dml_collective_time(&st->dpg, DML_COLL_ALLREDUCE, p_bytes,
                            &out->algo) +
        dml_collective_time(&st->dpg, DML_COLL_ALLREDUCE, q_bytes, NULL);
    dml__ring_bytes(DML_COLL_ALLREDUCE, p_bytes, n, g, &out->bytes_intra,
                    &out->bytes_inter);
    dml__ring_bytes(DML_COLL_ALLREDUCE, q_bytes, n, g, &out->bytes_intra,
                    &out->bytes_inter);
    /* three a x b x R products, as one GEMM of the whole stage's elements
     * (the matrices run one after another, each memory-bound for small R:
     * the curve's roofline counts M's bytes) */
    double side = sqrt(elems > 1 ? elems : 1);
    double prod = 3.0 * dml__gemm_time(st, 1, side, r, side);
    /* Gram-Schmidt of P, the residual (M = grad + residual read and
     * written; M - P Q^T read and written) */
    double gs = 2.0 * r * r * edges / 2.0 / st->peak;
    double mem = dml__mem_time(st->ctx, 16.0 * elems);
    out->reduce_s += prod + gs + mem;
}

const dml_sync_pricer dml_sync_powersgd = {"powersgd", powersgd_exchange,
                                           NULL, false};
