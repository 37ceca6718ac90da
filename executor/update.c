/*
 * update.c: one rank's optimizer state and update (see update.h).
 */
#include "executor/update.h"

#include <stdlib.h>
#include <string.h>

/* Cut the owned ranges at tensor boundaries: for each tensor, its part in
 * each range, in that order (the order the norms are summed in). */
static void make_slices(dml_update *u, dml_stage *st, const dml_sync *sync)
{
    float *m = u->state;
    float *v = u->state_slots > 1 ? u->state + u->nstate : NULL;
    for (int t = 0; t < st->ntensors; t++) {
        const dml_tensor *T = &st->tensors[t];
        for (int k = 0; k < sync->nowned; k++) {
            const dml_sync_owned *o = &sync->owned[k];
            size_t a = T->off > o->lo ? T->off : o->lo;
            size_t e = T->off + T->n < o->hi ? T->off + T->n : o->hi;
            if (a >= e)
                continue;
            size_t c = o->state_off + (a - o->lo);
            u->slices[u->nslices++] = (dml_optim_slice){
                st->params + a, o->grad + (a - o->lo), m + c,
                v ? v + c : NULL, e - a, t, T->bias};
        }
    }
}

dml_status dml_update_init(dml_update *u, const dml_train_schedule *sched,
                           dml_stage *st, const dml_sync *sync,
                           MPI_Comm tp_comm, dml_error *err)
{
    memset(u, 0, sizeof *u);
    u->hp.kind = sched->optimizer;
    u->hp.weight_decay = sched->weight_decay;
    /* a strategy that applies the momentum before it compresses
     * (dml_sync_take_momentum) leaves plain SGD to the optimizer */
    u->hp.momentum = sync->momentum > 0 ? 0.0 : sched->momentum;
    u->hp.beta1 = sched->beta1;
    u->hp.beta2 = sched->beta2;
    u->hp.eps = sched->eps;
    u->st = st;
    u->dp_comm = sync->dp_comm;
    u->sharded = sync->replicas == 1 && sync->dp > 1;
    u->tp_comm = tp_comm;
    u->tp = st->tp;
    u->tp_i = st->tp_index;
    u->state_slots = dml_optim_state_slots(sched->optimizer);
    u->nstate = sync->nstate;
    u->state = calloc((size_t)u->state_slots * u->nstate, sizeof(float));
    u->norm_sq = calloc(2 * (size_t)st->ntensors, sizeof(double));
    size_t cap = (size_t)st->ntensors * (size_t)sync->nowned;
    u->slices = calloc(cap ? cap : 1, sizeof *u->slices);
    if (!u->state || !u->norm_sq || !u->slices)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for the "
                             "optimizer state");
    make_slices(u, st, sync);
    return DML_OK;
}

void dml_update_free(dml_update *u)
{
    free(u->state);
    free(u->slices);
    free(u->norm_sq);
    memset(u, 0, sizeof *u);
}

/* Full-tensor norms: partial sums over this rank's slices, added over the
 * DP group when the strategy shards and over the TP group when layers are
 * split (replicated tensors counted by TP rank 0 only). */
static void tensor_norms(dml_update *u, int64_t step)
{
    size_t n = 2 * (size_t)u->st->ntensors;
    memset(u->norm_sq, 0, n * sizeof(double));
    dml_optim_partial_norms(&u->hp, u->slices, u->nslices, step + 1,
                            u->norm_sq);
    if (u->sharded)
        MPI_Allreduce(MPI_IN_PLACE, u->norm_sq, (int)n, MPI_DOUBLE, MPI_SUM,
                      u->dp_comm);
    if (u->tp > 1) {
        for (int t = 0; t < u->st->ntensors; t++)
            if (u->st->tensors[t].tp_replicated && u->tp_i != 0)
                u->norm_sq[2 * t] = u->norm_sq[2 * t + 1] = 0.0;
        MPI_Allreduce(MPI_IN_PLACE, u->norm_sq, (int)n, MPI_DOUBLE, MPI_SUM,
                      u->tp_comm);
    }
}

void dml_update_step(dml_update *u, int64_t step, double lr)
{
    if (dml_optim_needs_norms(u->hp.kind))
        tensor_norms(u, step);
    dml_optim_apply(&u->hp, u->slices, u->nslices, step + 1, lr, u->norm_sq);
}

double dml_update_grad_sumsq(const dml_update *u)
{
    double s = 0.0;
    for (size_t i = 0; i < u->nslices; i++) {
        const dml_optim_slice *sl = &u->slices[i];
        if (u->st->tensors[sl->tensor].tp_replicated && u->tp_i != 0)
            continue;
        for (size_t e = 0; e < sl->n; e++)
            s += (double)sl->g[e] * sl->g[e];
    }
    return s;
}

size_t dml_update_state_values(const dml_update *u)
{
    return (size_t)u->state_slots * u->nstate;
}
