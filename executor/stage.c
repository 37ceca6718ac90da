/*
 * stage.c: one rank's share of the MLP (see stage.h).
 */
#include "executor/stage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/rng.h"
#include "costmodel/flops.h"

const char *dml_tp_mode_name(dml_tp_mode m)
{
    switch (m) {
    case DML_TP_REPLICATED: return "replicated";
    case DML_TP_COLUMN: return "column";
    case DML_TP_ROW: return "row";
    }
    return "?";
}

/* Mode of the i-th layer (0-based) of a stage of n layers: the cost
 * model's rule (costmodel/flops.h), so that what is priced is what runs. */
static dml_tp_mode mode_of(int i, int n, int tp)
{
    switch (dml_mlp_tp_split(0, n - 1, i, tp)) {
    case DML_TP_SPLIT_COLUMN: return DML_TP_COLUMN;
    case DML_TP_SPLIT_ROW: return DML_TP_ROW;
    case DML_TP_SPLIT_NONE: break;
    }
    return DML_TP_REPLICATED;
}

dml_status dml_stage_check(const dml_stage_model *m, int first, int last,
                           int tp, dml_error *err)
{
    if (first < 0 || last < first || last >= m->layers)
        return dml_error_msg(err, DML_EINPUT,
                             "stage layers %d..%d outside the model's %d "
                             "layers", first, last, m->layers);
    int n = last - first + 1;
    for (int i = 0; i < n; i++) {
        int64_t out = m->widths[first + i + 1];
        if (mode_of(i, n, tp) == DML_TP_COLUMN && out % tp != 0)
            return dml_error_msg(err, DML_EINPUT,
                                 "layer %d has %lld outputs, not a multiple "
                                 "of tp=%d (it is column-parallel)",
                                 first + i, (long long)out, tp);
    }
    return DML_OK;
}

dml_status dml_stage_init(dml_stage *st, const dml_stage_model *m, int first,
                          int last, int tp, int tp_index, MPI_Comm tp_comm,
                          size_t pad_multiple, dml_error *err)
{
    memset(st, 0, sizeof *st);
    DML_CHECK(dml_stage_check(m, first, last, tp, err));
    st->first_layer = first;
    st->last_layer = last;
    st->nlayers = last - first + 1;
    st->ntensors = 2 * st->nlayers;
    st->tp = tp;
    st->tp_index = tp_index;
    st->tp_comm = tp_comm;
    st->is_first = first == 0;
    st->is_last = last == m->layers - 1;
    st->in_width = (int)m->widths[first];
    st->out_width = (int)m->widths[last + 1];
    st->layers = calloc((size_t)st->nlayers, sizeof *st->layers);
    st->tensors = calloc((size_t)st->ntensors, sizeof *st->tensors);
    if (!st->layers || !st->tensors) {
        dml_stage_free(st);
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    }
    size_t off = 0;
    for (int i = 0; i < st->nlayers; i++) {
        dml_stage_layer *L = &st->layers[i];
        L->index = first + i;
        L->mode = mode_of(i, st->nlayers, tp);
        L->in = (int)m->widths[L->index];
        L->out = (int)m->widths[L->index + 1];
        L->in_local = L->in;
        L->out_local = L->out;
        if (L->mode == DML_TP_COLUMN) {
            L->out_local = L->out / tp;
            L->row0 = tp_index * L->out_local;
        } else if (L->mode == DML_TP_ROW) {
            L->in_local = L->in / tp;
            L->row0 = tp_index * L->in_local;
        }
        L->act = L->index == m->layers - 1 ? DML_ACT_KIND_NONE : m->hidden_act;
        dml_tensor *w = &st->tensors[2 * i], *b = &st->tensors[2 * i + 1];
        L->w_tensor = 2 * i;
        L->b_tensor = 2 * i + 1;
        L->w_off = off;
        w->off = off;
        w->n = (size_t)L->out_local * L->in_local;
        w->layer = L->index;
        w->tp_replicated = L->mode == DML_TP_REPLICATED;
        off += w->n;
        L->b_off = off;
        b->off = off;
        b->n = (size_t)L->out_local;
        b->layer = L->index;
        b->bias = true;
        /* A row-parallel layer adds its bias after the allreduce, so every
         * TP rank holds the whole bias. */
        b->tp_replicated = L->mode != DML_TP_COLUMN;
        off += b->n;
    }
    st->nparams = off;
    size_t p = pad_multiple ? pad_multiple : 1;
    st->nflat = (off + p - 1) / p * p;
    st->params = calloc(st->nflat, sizeof(float));
    st->grads = calloc(st->nflat, sizeof(float));
    if (!st->params || !st->grads) {
        size_t n = st->nflat; /* dml_stage_free clears it */
        dml_stage_free(st);
        return dml_error_msg(err, DML_ENOMEM, "out of memory for %zu "
                             "parameters", n);
    }
    return DML_OK;
}

void dml_stage_free(dml_stage *st)
{
    free(st->layers);
    free(st->tensors);
    free(st->params);
    free(st->grads);
    memset(st, 0, sizeof *st);
}

/* Offset of layer l's weight (or bias) in weight-file order (weights.h). */
static size_t full_offset(const dml_stage_model *m, int l, bool bias)
{
    size_t n = 0;
    for (int i = 0; i < l; i++)
        n += (size_t)m->widths[i + 1] * m->widths[i] + m->widths[i + 1];
    return bias ? n + (size_t)m->widths[l + 1] * m->widths[l] : n;
}

size_t dml_stage_model_values(const dml_stage_model *m)
{
    return full_offset(m, m->layers, false);
}

/* Does the full-matrix element (o, c) of layer L live on this rank, and
 * where in the local W? */
static bool local_index(const dml_stage_layer *L, int o, int c, size_t *at)
{
    switch (L->mode) {
    case DML_TP_REPLICATED:
        *at = (size_t)o * L->in + c;
        return true;
    case DML_TP_COLUMN:
        if (o < L->row0 || o >= L->row0 + L->out_local)
            return false;
        *at = (size_t)(o - L->row0) * L->in + c;
        return true;
    case DML_TP_ROW:
        if (c < L->row0 || c >= L->row0 + L->in_local)
            return false;
        *at = (size_t)o * L->in_local + (c - L->row0);
        return true;
    }
    return false;
}

static bool local_bias(const dml_stage_layer *L, int o, size_t *at)
{
    if (L->mode == DML_TP_COLUMN) {
        if (o < L->row0 || o >= L->row0 + L->out_local)
            return false;
        *at = (size_t)(o - L->row0);
        return true;
    }
    *at = (size_t)o;
    return true;
}

void dml_stage_full_to_flat(const dml_stage *st, const dml_stage_model *m,
                            const float *full, float *flat)
{
    for (int i = 0; i < st->nlayers; i++) {
        const dml_stage_layer *L = &st->layers[i];
        const float *W = full + full_offset(m, L->index, false);
        const float *B = full + full_offset(m, L->index, true);
        size_t at;
        for (int o = 0; o < L->out; o++)
            for (int c = 0; c < L->in; c++)
                if (local_index(L, o, c, &at))
                    flat[L->w_off + at] = W[(size_t)o * L->in + c];
        for (int o = 0; o < L->out; o++)
            if (local_bias(L, o, &at))
                flat[L->b_off + at] = B[o];
    }
}

void dml_stage_load_full(dml_stage *st, const dml_stage_model *m,
                         const float *full)
{
    dml_stage_full_to_flat(st, m, full, st->params);
}

/* Flat values at offsets lo..hi-1 into their places in full; replicated
 * tensors only when write_replicated. */
static void put_full(const dml_stage *st, const dml_stage_model *m,
                     const float *flat, size_t lo, size_t hi,
                     bool write_replicated, float *full)
{
    for (int i = 0; i < st->nlayers; i++) {
        const dml_stage_layer *L = &st->layers[i];
        float *W = full + full_offset(m, L->index, false);
        float *B = full + full_offset(m, L->index, true);
        size_t at;
        if (write_replicated || !st->tensors[L->w_tensor].tp_replicated)
            for (int o = 0; o < L->out; o++)
                for (int c = 0; c < L->in; c++)
                    if (local_index(L, o, c, &at) && L->w_off + at >= lo &&
                        L->w_off + at < hi)
                        W[(size_t)o * L->in + c] = flat[L->w_off + at];
        if (write_replicated || !st->tensors[L->b_tensor].tp_replicated)
            for (int o = 0; o < L->out; o++)
                if (local_bias(L, o, &at) && L->b_off + at >= lo &&
                    L->b_off + at < hi)
                    B[o] = flat[L->b_off + at];
    }
}

void dml_stage_store_full(const dml_stage *st, const dml_stage_model *m,
                          float *full, bool write_replicated)
{
    put_full(st, m, st->params, 0, st->nflat, write_replicated, full);
}

void dml_stage_flat_to_full(const dml_stage *st, const dml_stage_model *m,
                            const float *flat, size_t lo, size_t hi,
                            float *full)
{
    put_full(st, m, flat, lo, hi, true, full);
}

void dml_stage_init_weights(dml_stage *st, uint64_t seed)
{
    for (int i = 0; i < st->nlayers; i++) {
        const dml_stage_layer *L = &st->layers[i];
        double bound = L->act == DML_ACT_KIND_RELU || L->act == DML_ACT_KIND_GELU
                           ? sqrt(6.0 / L->in)
                           : sqrt(6.0 / (L->in + L->out));
        /* One stream per layer, drawn in full-matrix order on every rank,
         * so the values never depend on how the layer is split. */
        dml_rng r;
        dml_rng_seed(&r, seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(L->index + 1)));
        size_t at;
        for (int o = 0; o < L->out; o++)
            for (int c = 0; c < L->in; c++) {
                float w = (float)((2.0 * dml_rng_uniform(&r) - 1.0) * bound);
                if (local_index(L, o, c, &at))
                    st->params[L->w_off + at] = w;
            }
        for (int o = 0; o < L->out; o++)
            if (local_bias(L, o, &at))
                st->params[L->b_off + at] = 0.0f;
    }
}

int dml_stage_scratch_width(const dml_stage *st)
{
    int w = st->in_width > st->out_width ? st->in_width : st->out_width;
    for (int i = 0; i < st->nlayers; i++) {
        if (st->layers[i].in > w)
            w = st->layers[i].in;
        if (st->layers[i].out > w)
            w = st->layers[i].out;
    }
    return w;
}

dml_status dml_stage_acts_init(dml_stage_acts *a, const dml_stage *st,
                               int rows, dml_error *err)
{
    memset(a, 0, sizeof *a);
    a->cap_rows = rows;
    a->x = malloc((size_t)rows * st->in_width * sizeof(float));
    a->z = calloc((size_t)st->nlayers, sizeof *a->z);
    a->a = calloc((size_t)st->nlayers, sizeof *a->a);
    a->labels = calloc((size_t)rows, 1);
    bool ok = a->x && a->z && a->a && a->labels;
    for (int i = 0; ok && i < st->nlayers; i++) {
        size_t n = (size_t)rows * st->layers[i].out_local;
        a->z[i] = malloc(n * sizeof(float));
        a->a[i] = malloc(n * sizeof(float));
        ok = a->z[i] && a->a[i];
    }
    if (!ok) {
        dml_stage_acts_free(a, st);
        return dml_error_msg(err, DML_ENOMEM, "out of memory for "
                             "activations");
    }
    return DML_OK;
}

void dml_stage_acts_free(dml_stage_acts *a, const dml_stage *st)
{
    for (int i = 0; a->z && i < st->nlayers; i++)
        free(a->z[i]);
    for (int i = 0; a->a && i < st->nlayers; i++)
        free(a->a[i]);
    free(a->z);
    free(a->a);
    free(a->x);
    free(a->labels);
    memset(a, 0, sizeof *a);
}

float *dml_stage_output(const dml_stage_acts *a, const dml_stage *st)
{
    return a->a[st->nlayers - 1];
}

static void tp_allreduce(dml_stage *st, float *buf, size_t n,
                         dml_stage_timers *t)
{
    double t0 = dml_clock_now_s();
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, st->tp_comm);
    t->tp_comm_s += dml_clock_now_s() - t0;
}

double dml_stage_forward(dml_stage *st, dml_stage_acts *acts, int rows,
                         long *correct, dml_stage_timers *t)
{
    double loss = 0.0;
    for (int i = 0; i < st->nlayers; i++) {
        const dml_stage_layer *L = &st->layers[i];
        const float *x = i == 0 ? acts->x : acts->a[i - 1];
        const float *W = st->params + L->w_off, *b = st->params + L->b_off;
        float *z = acts->z[i], *a = acts->a[i];
        size_t n = (size_t)rows * L->out_local;
        double t0 = dml_clock_now_s();
        if (L->mode == DML_TP_ROW) {
            dml_linear_forward(&t->gemm, z, x, W, NULL, rows, L->in_local,
                               L->out);
            t->compute_s += dml_clock_now_s() - t0;
            tp_allreduce(st, z, n, t);
            t0 = dml_clock_now_s();
            dml_bias_forward(z, b, rows, L->out);
        } else {
            dml_linear_forward(&t->gemm, z, x, W, b, rows, L->in_local,
                               L->out_local);
        }
        if (st->is_last && i == st->nlayers - 1)
            loss = dml_xent_forward(a, z, acts->labels, rows, L->out, correct);
        else
            dml_act_forward(L->act, a, z, n);
        t->compute_s += dml_clock_now_s() - t0;
    }
    return loss;
}

void dml_stage_backward(dml_stage *st, dml_stage_acts *acts, int rows,
                        const float *dout, float scale, float *dinp,
                        float *scratch0, float *scratch1,
                        dml_stage_layer_done done, void *done_ctx,
                        dml_stage_timers *t)
{
    float *cur = scratch0, *next = scratch1;
    for (int i = st->nlayers - 1; i >= 0; i--) {
        const dml_stage_layer *L = &st->layers[i];
        size_t n = (size_t)rows * L->out_local;
        double t0 = dml_clock_now_s();
        if (i == st->nlayers - 1) {
            if (st->is_last)
                dml_xent_backward(cur, acts->a[i], acts->labels, rows, L->out,
                                  scale);
            else
                dml_act_backward(L->act, cur, dout, acts->z[i], acts->a[i], n);
        } else {
            dml_act_backward(L->act, cur, cur, acts->z[i], acts->a[i], n);
        }
        const float *x = i == 0 ? acts->x : acts->a[i - 1];
        float *dx = i == 0 ? dinp : next;
        dml_linear_backward(&t->gemm, dx, st->grads + L->w_off,
                            st->grads + L->b_off, cur, x,
                            st->params + L->w_off, rows, L->in_local,
                            L->out_local);
        t->compute_s += dml_clock_now_s() - t0;
        /* The column-parallel layer saw the whole input: each TP rank has a
         * partial input gradient, summed here (Megatron's "f" operator). */
        if (dx && L->mode == DML_TP_COLUMN)
            tp_allreduce(st, dx, (size_t)rows * L->in, t);
        if (done)
            done(done_ctx, i);
        float *tmp = cur;
        cur = next;
        next = tmp;
    }
}
