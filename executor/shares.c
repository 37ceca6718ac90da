/*
 * shares.c: the replicas' micro-batches per step (see shares.h).
 */
#include "executor/shares.h"

#include <stdlib.h>
#include <string.h>

#include "costmodel/balance.h"
#include "executor/rebalance.h"

/* A step whose batch is row r's: step 0 for the first ramp entry, the
 * end of the one before for the others, the end of the ramp for the
 * full batch. */
static int64_t step_of_row(const dml_plan *p, int r)
{
    const dml_train_schedule *s = &p->sched;
    if (r == 0)
        return 0;
    return s->ramp[r - 1].until_step;
}

dml_status dml_shares_init(dml_shares *s, const dml_plan *p, dml_error *err)
{
    memset(s, 0, sizeof *s);
    s->dp = p->par.dp;
    s->rows = p->sched.ramp_count + 1;
    size_t cells = (size_t)s->rows * (size_t)s->dp;
    s->m = malloc(cells * sizeof *s->m);
    s->base = malloc(cells * sizeof *s->base);
    if (!s->m || !s->base)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (int r = 0; r < s->rows; r++) {
        int64_t step = step_of_row(p, r);
        int64_t *row = s->m + (size_t)r * (size_t)s->dp;
        s->batch[r] = dml_plan_global_batch_at(p, step);
        if (s->batch[r] == p->sched.global_batch)
            s->full = r;
        if (!dml_plan_replica_microbatches(p, step, row))
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        for (int i = 0; i < s->dp; i++) {
            if (row[i] > s->max_mb)
                s->max_mb = row[i];
            s->uneven |= row[i] != row[0];
        }
    }
    memcpy(s->base, s->m, cells * sizeof *s->m);
    if (p->par.balance == DML_BALANCE_DYNAMIC)
        s->max_mb = p->sched.global_batch / p->par.mbs - (s->dp - 1);
    return DML_OK;
}

const int64_t *dml_shares_full(const dml_shares *s)
{
    return s->m + (size_t)s->full * (size_t)s->dp;
}

void dml_shares_set(dml_shares *s, const int64_t *full)
{
    size_t dp = (size_t)s->dp;
    const int64_t *own = s->base + (size_t)s->full * dp;
    if (memcmp(full, own, dp * sizeof *full) == 0) {
        memcpy(s->m, s->base, (size_t)s->rows * dp * sizeof *s->m);
    } else {
        double weight[DML_REBALANCE_REPLICAS_MAX];
        for (size_t i = 0; i < dp && i < DML_REBALANCE_REPLICAS_MAX; i++)
            weight[i] = (double)full[i];
        for (int r = 0; r < s->rows; r++) {
            int64_t *row = s->m + (size_t)r * dp, total = 0;
            for (size_t i = 0; i < dp; i++)
                total += s->base[(size_t)r * dp + i];
            dml_balance_apportion(total, weight, s->dp, 1, row);
        }
    }
    s->uneven = false;
    for (size_t k = 1; k < (size_t)s->rows * dp; k++)
        s->uneven |= s->m[k] != s->m[k - k % dp];
}

void dml_shares_free(dml_shares *s)
{
    free(s->m);
    free(s->base);
    memset(s, 0, sizeof *s);
}

int64_t dml_shares_at(const dml_shares *s, const dml_plan *p, int64_t step,
                      int dp_i, int64_t *before)
{
    int64_t b = dml_plan_global_batch_at(p, step);
    int r = 0;
    while (r < s->rows - 1 && s->batch[r] != b)
        r++;
    const int64_t *row = s->m + (size_t)r * (size_t)s->dp;
    *before = 0;
    for (int i = 0; i < dp_i; i++)
        *before += row[i];
    return row[dp_i];
}
