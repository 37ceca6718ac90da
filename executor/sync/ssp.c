/*
 * ssp.c: stale-synchronous parallel SGD (sync=ssp:S; Ho et al. 2013,
 * "More effective distributed ML via a stale synchronous parallel
 * parameter server"): no replica waits for the others unless it runs
 * more than S steps ahead of the slowest. Priced by the cost model's
 * dml_sync_ssp (costmodel/sync_ssp.c: the dense allreduce's bytes, run
 * behind the next steps).
 *
 * Design: every replica holds the whole model, and there is no server.
 * Step c's gradients (clock c) are summed over the replicas by the same
 * non-blocking ring allreduce per bucket as the dense strategy, started
 * as backward finishes each bucket, but into a buffer of their own
 * (S + 1 of them, one per clock in flight), so that the step does not
 * wait for it: at the end of step c a replica waits only for clock c - S
 * (which needs every replica to have finished the backward pass of step
 * c - S: the bound) and applies, in clock order, every clock whose sum
 * has arrived, each through the optimizer with its own step count and
 * learning rate. Each clock's sum is the same on every replica (one
 * allreduce), and every replica applies the same sums in the same order,
 * so the replicas hold the same weights after the same clocks; what
 * differs between them, and from run to run, is only how many clocks a
 * replica had applied when it read its weights for a step: the
 * staleness, c - 1 - (newest clock applied), 0..S, measured for every
 * step's gradient and logged (the step's largest over the replicas:
 * steps.staleness, dml-exec --json "staleness").
 *
 * Determinism: given the staleness of every replica's every step the run
 * is reproducible bitwise; the staleness itself depends on timing. With
 * S = 0 a replica waits for its own clock at every step: the exchange is
 * allreduce.c's (same buckets, same ring, same sums) and the optimizer
 * applies it at once, so ssp:0 is synchronous SGD bitwise
 * (exec_local_ssp.sh). The test hook DML_TEST_SSP_EXACT=1 (read at
 * setup) applies no clock before it must, so every step reads weights
 * exactly S clocks stale (fewer only at the start and after a drain) and
 * a run with S > 0 is reproducible too: resuming is then checked
 * bitwise.
 *
 * Why not read-my-writes: Ho et al.'s table shows a worker its own
 * updates at once. Here a replica's own gradient is applied with the
 * others' of the same clock, after their sum arrives, because the
 * optimizer's state (momentum, Adam moments) is advanced once per clock
 * on every replica alike; applying a replica's own part first would make
 * the replicas' weights and states drift apart.
 *
 * The statistics of a step (loss, times) are summed over the ranks as
 * late as the bound allows (dml_sync.lag = S, exec.c), else that sum
 * would make every rank wait for the slowest at every step. Checkpoints,
 * evaluations and the end are collective points: the executor drains
 * every clock in flight there (dml_sync_next_update with drain), so the
 * replicas hold one model, and a checkpoint's state is the clock alone
 * (two floats, high and low 2^24). Outstanding reductions are moved
 * between layers (progress: Open MPI advances non-blocking collectives
 * only inside MPI calls).
 *
 * Tensor parallelism is refused (executor/input.c): the TP ranks of a
 * stage could apply different numbers of clocks in a step, and the
 * optimizer's norms (LAMB, LARS) are summed over them per update.
 * Pipeline stages apply their clocks independently, each stage's
 * replicas agreeing among themselves.
 */
#include "executor/sync/sync.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One clock in flight. */
typedef struct ssp_slot {
    float *sum;          /* [nflat] the clock's gradients, summed in
                            place */
    MPI_Request *req;    /* [nbuckets] one allreduce per bucket */
    int64_t clock;       /* the step it belongs to; -1: free */
} ssp_slot;

typedef struct ssp {
    int64_t bound;       /* S */
    int nslots;          /* S + 1 */
    ssp_slot *slots;     /* [nslots], clock c in slot c mod nslots */
    float *apply;        /* [nflat] the sum being applied (owned grad) */
    int64_t clock;       /* the step being run */
    int64_t applied;     /* the newest clock applied, clock - 1 after a
                            drain */
    int64_t read;        /* applied when this step's forward ran */
    bool exact;          /* test hook: apply nothing early */
} ssp;

static dml_status ssp_setup(dml_sync *s, dml_error *err)
{
    ssp *p = calloc(1, sizeof *p);
    s->impl = p;
    s->owned = malloc(sizeof *s->owned);
    if (!p || !s->owned)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    p->bound = s->spec.param > 0 ? (int64_t)s->spec.param : 0;
    p->nslots = (int)p->bound + 1;
    p->applied = -1;
    p->read = -1;
    const char *hook = getenv("DML_TEST_SSP_EXACT");
    p->exact = hook && strcmp(hook, "1") == 0;
    size_t n = s->st->nflat ? s->st->nflat : 1;
    p->apply = calloc(n, sizeof(float));
    p->slots = calloc((size_t)p->nslots, sizeof *p->slots);
    if (!p->apply || !p->slots)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for ssp:%lld's "
                             "clocks in flight", (long long)p->bound);
    for (int i = 0; i < p->nslots; i++) {
        ssp_slot *sl = &p->slots[i];
        sl->clock = -1;
        sl->sum = calloc(n, sizeof(float));
        sl->req = malloc((size_t)(s->nbuckets ? s->nbuckets : 1) *
                         sizeof *sl->req);
        if (!sl->sum || !sl->req)
            return dml_error_msg(err, DML_ENOMEM, "out of memory for "
                                 "ssp:%lld's clocks in flight",
                                 (long long)p->bound);
        for (int k = 0; k < s->nbuckets; k++)
            sl->req[k] = MPI_REQUEST_NULL;
    }
    s->owned[0] = (dml_sync_owned){
        .lo = 0, .hi = s->st->nflat, .grad = p->apply, .state_off = 0};
    s->nowned = 1;
    s->nstate = s->st->nflat;
    s->replicas = s->dp;
    s->lag = (int)p->bound;
    return DML_OK;
}

static ssp_slot *slot_of(const ssp *p, int64_t clock)
{
    return &p->slots[clock % p->nslots];
}

/* Bucket k of this step's clock: copied out of the gradient buffer (the
 * next step zeroes it) and summed in its clock's buffer. The engine's
 * own request stays null: the step does not wait for it. */
static void ssp_start(dml_sync *s, int k)
{
    ssp *p = s->impl;
    ssp_slot *sl = slot_of(p, p->clock);
    if (s->nstarted == 1) {
        /* the first bucket of the step: its weights were read with the
         * clocks applied until now */
        p->read = p->applied;
        if (sl->clock >= 0) /* not applied (a caller without updates):
                               finish it, its slot is needed */
            MPI_Waitall(s->nbuckets, sl->req, MPI_STATUSES_IGNORE);
        sl->clock = p->clock;
    }
    const dml_sync_bucket *b = &s->buckets[k];
    int n = (int)(b->hi - b->lo);
    memcpy(sl->sum + b->lo, s->st->grads + b->lo, (size_t)n * sizeof(float));
    MPI_Iallreduce(MPI_IN_PLACE, sl->sum + b->lo, n, MPI_FLOAT, MPI_SUM,
                   s->dp_comm, &sl->req[k]);
    dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)n * sizeof(float));
    s->req[k] = MPI_REQUEST_NULL;
    if (p->bound > 0)
        s->grad_summed = false;
}

/* The next clock to apply, if it must be applied now (it is S steps old,
 * or drain) or its sum has arrived; its sum is then at s->owned. */
static bool ssp_next_update(dml_sync *s, bool drain, int64_t *step)
{
    ssp *p = s->impl;
    int64_t next = p->applied + 1;
    if (next > p->clock || slot_of(p, next)->clock != next)
        return false; /* nothing started beyond what is applied */
    ssp_slot *sl = slot_of(p, next);
    if (drain || next <= p->clock - p->bound) {
        MPI_Waitall(s->nbuckets, sl->req, MPI_STATUSES_IGNORE);
    } else {
        int done = 0;
        if (p->exact)
            return false;
        MPI_Testall(s->nbuckets, sl->req, &done, MPI_STATUSES_IGNORE);
        if (!done)
            return false;
    }
    memcpy(p->apply, sl->sum, s->st->nflat * sizeof(float));
    sl->clock = -1;
    p->applied = next;
    *step = next;
    return true;
}

/* The staleness of this step's gradient; the next step's clock. */
static void ssp_step_finish(dml_sync *s)
{
    ssp *p = s->impl;
    s->staleness = (double)(p->clock - 1 - p->read);
    p->clock++;
}

/* Move the oldest clock in flight (any MPI call that tests a request
 * drives Open MPI's progress of every non-blocking collective). */
static void ssp_progress(dml_sync *s)
{
    ssp *p = s->impl;
    for (int64_t c = p->applied + 1; c <= p->clock; c++) {
        ssp_slot *sl = slot_of(p, c);
        if (sl->clock != c)
            continue;
        int done = 0;
        MPI_Testall(s->nbuckets, sl->req, &done, MPI_STATUSES_IGNORE);
        if (!done)
            return;
    }
}

/* Written at a drained step boundary: every clock before `clock` is
 * applied, none is in flight. */
static void ssp_state_save(const dml_sync *s, float *out)
{
    const ssp *p = s->impl;
    dml__sync_count_save(p->clock, out);
}

static void ssp_state_restore(dml_sync *s, const float *in)
{
    ssp *p = s->impl;
    p->clock = dml__sync_count_restore(in);
    p->applied = p->read = p->clock - 1;
    for (int i = 0; i < p->nslots; i++)
        p->slots[i].clock = -1;
}

static void ssp_teardown(dml_sync *s)
{
    ssp *p = s->impl;
    if (!p)
        return;
    for (int i = 0; p->slots && i < p->nslots; i++) {
        ssp_slot *sl = &p->slots[i];
        /* a run that stopped with clocks in flight: every rank stops at
         * one step boundary with the same clocks started, so waiting
         * here cannot hang on a rank that left */
        if (sl->clock >= 0 && sl->req)
            MPI_Waitall(s->nbuckets, sl->req, MPI_STATUSES_IGNORE);
        free(sl->sum);
        free(sl->req);
    }
    free(p->slots);
    free(p->apply);
    free(p);
    s->impl = NULL;
}

const dml_sync_strategy dml_sync_stale = {
    .name = "ssp",
    .setup = ssp_setup,
    .start = ssp_start,
    .step_finish = ssp_step_finish,
    .state_values = dml__sync_count_values,
    .state_save = ssp_state_save,
    .state_restore = ssp_state_restore,
    .state_layout_free = true,
    .teardown = ssp_teardown,
    .next_update = ssp_next_update,
    .progress = ssp_progress,
};
