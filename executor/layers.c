/*
 * layers.c: forward/backward pairs over cblas_sgemm.
 */
#include "executor/layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "common/clock.h"

void dml_gemm(dml_gemm_timer *t, bool trans_a, bool trans_b, int m, int n,
              int k, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc)
{
    double t0 = t ? dml_clock_now_s() : 0.0;
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f, a, lda, b,
                ldb, beta, c, ldc);
    if (!t)
        return;
    t->time_s += dml_clock_now_s() - t0;
    t->flop += 2.0 * m * n * k;
    t->calls++;
    if (!t->record_shapes)
        return;
    bool acc = beta != 0.0f;
    for (int i = 0; i < t->nshapes; i++)
        if (t->shapes[i].m == m && t->shapes[i].n == n &&
            t->shapes[i].k == k && t->shapes[i].trans_a == trans_a &&
            t->shapes[i].trans_b == trans_b && t->shapes[i].accumulate == acc) {
            t->shapes[i].count++;
            return;
        }
    if (t->nshapes < (int)(sizeof t->shapes / sizeof t->shapes[0])) {
        t->shapes[t->nshapes].count = 1;
        t->shapes[t->nshapes].m = m;
        t->shapes[t->nshapes].n = n;
        t->shapes[t->nshapes].k = k;
        t->shapes[t->nshapes].trans_a = trans_a;
        t->shapes[t->nshapes].trans_b = trans_b;
        t->shapes[t->nshapes].accumulate = acc;
        t->nshapes++;
    }
}

void dml_bias_forward(float *out, const float *bias, int rows, int oc)
{
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * oc;
        for (int j = 0; j < oc; j++)
            o[j] += bias[j];
    }
}

void dml_linear_forward(dml_gemm_timer *t, float *out, const float *inp,
                        const float *w, const float *bias, int rows, int c,
                        int oc)
{
    /* out = inp W^T: W is [oc x c] row-major, read transposed. */
    dml_gemm(t, false, true, rows, oc, c, inp, c, w, c, 0.0f, out, oc);
    if (bias)
        dml_bias_forward(out, bias, rows, oc);
}

void dml_linear_backward(dml_gemm_timer *t, float *dinp, float *dw,
                         float *dbias, const float *dout, const float *inp,
                         const float *w, int rows, int c, int oc)
{
    /* dW[oc x c] += dout^T [oc x rows] inp [rows x c] */
    dml_gemm(t, true, false, oc, c, rows, dout, oc, inp, c, 1.0f, dw, c);
    if (dbias) {
        /* Column sums in double, in blocks of columns so that the
         * accumulator stays on the stack and rows are read in order. */
        enum { BLOCK = 256 };
        double acc[BLOCK];
        for (int j0 = 0; j0 < oc; j0 += BLOCK) {
            int nb = oc - j0 < BLOCK ? oc - j0 : BLOCK;
            memset(acc, 0, sizeof acc);
            for (int r = 0; r < rows; r++) {
                const float *d = dout + (size_t)r * oc + j0;
                for (int j = 0; j < nb; j++)
                    acc[j] += d[j];
            }
            for (int j = 0; j < nb; j++)
                dbias[j0 + j] = (float)((double)dbias[j0 + j] + acc[j]);
        }
    }
    if (dinp) {
        /* dinp[rows x c] = dout [rows x oc] W [oc x c] */
        dml_gemm(t, false, false, rows, c, oc, dout, oc, w, c, 0.0f, dinp, c);
    }
}

/* sqrt(2/pi), the GELU tanh-approximation constant. */
#define GELU_C 0.7978845608028654
#define GELU_A 0.044715

void dml_act_forward(dml_act_kind k, float *out, const float *inp, size_t n)
{
    switch (k) {
    case DML_ACT_KIND_NONE:
        if (out != inp)
            memcpy(out, inp, n * sizeof *out);
        break;
    case DML_ACT_KIND_RELU:
        /* NaN passes through (x != x), so that it reaches the loss,
         * which is checked: `x > 0 ? x : 0` alone maps NaN to 0 and hides
         * it (issue 10). Every other value is as before, -0 included. */
        for (size_t i = 0; i < n; i++) {
            float x = inp[i];
            out[i] = x > 0.0f || x != x ? x : 0.0f;
        }
        break;
    case DML_ACT_KIND_TANH:
        for (size_t i = 0; i < n; i++)
            out[i] = tanhf(inp[i]);
        break;
    case DML_ACT_KIND_GELU:
        for (size_t i = 0; i < n; i++) {
            float x = inp[i];
            float u = (float)GELU_C * (x + (float)GELU_A * x * x * x);
            out[i] = 0.5f * x * (1.0f + tanhf(u));
        }
        break;
    }
}

void dml_act_backward(dml_act_kind k, float *dinp, const float *dout,
                      const float *inp, const float *out, size_t n)
{
    switch (k) {
    case DML_ACT_KIND_NONE:
        if (dinp != dout)
            memcpy(dinp, dout, n * sizeof *dinp);
        break;
    case DML_ACT_KIND_RELU:
        for (size_t i = 0; i < n; i++)
            dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
        break;
    case DML_ACT_KIND_TANH:
        for (size_t i = 0; i < n; i++)
            dinp[i] = dout[i] * (1.0f - out[i] * out[i]);
        break;
    case DML_ACT_KIND_GELU:
        for (size_t i = 0; i < n; i++) {
            float x = inp[i];
            float u = (float)GELU_C * (x + (float)GELU_A * x * x * x);
            float t = tanhf(u);
            float du = (float)GELU_C * (1.0f + 3.0f * (float)GELU_A * x * x);
            float d = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
            dinp[i] = dout[i] * d;
        }
        break;
    }
}

double dml_xent_forward(float *probs, const float *logits,
                        const uint8_t *labels, int rows, int classes,
                        long *correct)
{
    double loss = 0.0;
    long ok = 0;
    for (int r = 0; r < rows; r++) {
        const float *z = logits + (size_t)r * classes;
        float *p = probs + (size_t)r * classes;
        /* Subtract the maximum so exp() cannot overflow. */
        int arg = 0;
        for (int j = 1; j < classes; j++)
            if (z[j] > z[arg])
                arg = j;
        double zmax = z[arg], sum = 0.0;
        for (int j = 0; j < classes; j++)
            sum += exp((double)z[j] - zmax);
        double log_sum = log(sum);
        for (int j = 0; j < classes; j++)
            p[j] = (float)exp((double)z[j] - zmax - log_sum);
        loss += log_sum - ((double)z[labels[r]] - zmax);
        if (arg == labels[r])
            ok++;
    }
    if (correct)
        *correct = ok;
    return loss;
}

void dml_xent_backward(float *dlogits, const float *probs,
                       const uint8_t *labels, int rows, int classes,
                       float scale)
{
    for (int r = 0; r < rows; r++) {
        const float *p = probs + (size_t)r * classes;
        float *d = dlogits + (size_t)r * classes;
        for (int j = 0; j < classes; j++)
            d[j] = (p[j] - (j == labels[r] ? 1.0f : 0.0f)) * scale;
    }
}
