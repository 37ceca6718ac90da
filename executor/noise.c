/*
 * noise.c: the gradient noise scale (see noise.h).
 *
 * The gradient here is sum(g_i) / B (each micro-batch is scaled by the
 * global batch), so a part of B/k samples estimates the mean gradient as
 * k times its sum: the shares below carry that factor k.
 */
#include "executor/noise.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Sum of squares of g over [lo, hi) of the flat buffer, counting tensors
 * replicated over the TP group on TP rank 0 only, so that a sum over the
 * whole world counts every parameter of a replica once. */
static double flat_sumsq(const dml_stage *st, const float *g, size_t lo,
                         size_t hi)
{
    double s = 0.0;
    for (int t = 0; t < st->ntensors; t++) {
        const dml_tensor *T = &st->tensors[t];
        if (T->tp_replicated && st->tp_index != 0)
            continue;
        size_t a = T->off > lo ? T->off : lo;
        size_t e = T->off + T->n < hi ? T->off + T->n : hi;
        for (size_t i = a; i < e; i++)
            s += (double)g[i] * g[i];
    }
    return s;
}

dml_status dml_noise_init(dml_noise *n, const dml_stage *st, int dp,
                          int64_t max_microbatches, dml_error *err)
{
    memset(n, 0, sizeof *n);
    n->st = st;
    n->dp = dp;
    if (dp == 1 && max_microbatches >= 2) {
        n->half = malloc(st->nflat * sizeof(float));
        if (!n->half)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    return DML_OK;
}

void dml_noise_free(dml_noise *n)
{
    free(n->half);
    memset(n, 0, sizeof *n);
}

void dml_noise_begin_step(dml_noise *n, int64_t batch, int m)
{
    n->batch = batch;
    n->small_sq = 0.0;
    n->measure = (n->dp > 1 && !n->uneven) ||
                 (n->half && m >= 2 && m % 2 == 0);
}

void dml_noise_pre_reduce(void *ctx, const float *grads, size_t lo,
                          size_t hi)
{
    dml_noise *n = ctx;
    n->small_sq += flat_sumsq(n->st, grads, lo, hi);
}

void dml_noise_after_backward(dml_noise *n, int j, int m)
{
    if (n->half && n->measure && j == m / 2 - 1)
        memcpy(n->half, n->st->grads, n->st->nflat * sizeof(float));
}

void dml_noise_shares(dml_noise *n, const dml_update *u, int replicas,
                      double *small, double *big)
{
    *small = *big = 0.0;
    if (!n->measure)
        return;
    const dml_stage *st = n->st;
    if (n->dp > 1) {
        *small = (double)n->dp * n->small_sq;
        *big = dml_update_grad_sumsq(u) / replicas;
        return;
    }
    double h1 = flat_sumsq(st, n->half, 0, st->nflat);
    for (size_t i = 0; i < st->nflat; i++)
        n->half[i] = st->grads[i] - n->half[i];
    double h2 = flat_sumsq(st, n->half, 0, st->nflat);
    *small = 2.0 * (h1 + h2);
    *big = flat_sumsq(st, st->grads, 0, st->nflat);
}

double dml_noise_scale(const dml_noise *n, double small, double big)
{
    if (!n->measure)
        return NAN;
    double b_big = (double)n->batch;
    double b_small = n->dp > 1 ? b_big / n->dp : b_big / 2.0;
    double g2 = (b_big * big - b_small * small) / (b_big - b_small);
    double tr = (small - big) / (1.0 / b_small - 1.0 / b_big);
    return g2 > 0.0 ? tr / g2 : NAN;
}
