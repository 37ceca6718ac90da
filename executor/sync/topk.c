/*
 * topk.c: top-k gradient sparsification (sync=topk:K with error feedback,
 * sync=topk-noef:K without), priced by the cost model's dml_sync_topk
 * (costmodel/sync_topk.c).
 *
 * Each rank sends only the k = ceil(K n) entries of largest magnitude of
 * its n parameters' gradient (with error feedback, of the gradient plus
 * the residual it kept from earlier steps; Stich et al. 2018, Lin et al.
 * 2018), ties broken by the lower index so that runs repeat bit for bit
 * (dml_topk_select, compress.h). Every rank holds the same layout, so an
 * entry is (index into the flat buffer, value): k indices (32-bit when
 * the buffer has at most 2^32 values, else 64-bit) then k fp32 values,
 * exchanged with one MPI_Iallgather of the same k from every rank; each
 * rank then sums the dp sparse vectors, rank by rank in order, into the
 * dense gradient the optimizer reads (the same bits on every rank: every
 * replica updates everything, as allreduce.c). An entry counted by the
 * engine: the ring's all-gather sends (dp - 1) k (4 + 4) bytes per rank,
 * what the pricer prices (its k is K n without the ceiling, a fraction of
 * an entry apart).
 *
 * Error feedback keeps residual = (gradient + residual) - what was sent:
 * the sent entries' residual is zero, the others carry their whole value
 * to the next step. It is the strategy's state: saved in every
 * checkpoint shard and restored from it (sync.h), so a resumed run
 * repeats the uninterrupted one bit for bit. Without error feedback what
 * is not sent is lost.
 *
 * Momentum (SGD's, with error feedback): accumulating the raw gradient
 * and letting the optimizer's momentum act on the sparse sum delays the
 * momentum of every entry until it is sent, and then applies it to a
 * burst of many steps' gradients at once; at 1 % that cost 2 points of
 * accuracy against dense (bench/strategies/README.md). Deep Gradient
 * Compression (Lin et al. 2018) moves the momentum before the
 * compression instead ("momentum correction"): each rank keeps its own
 * velocity u = mu u + g and accumulates u, not g, into the residual, so
 * that what is eventually sent is what dense momentum SGD would have
 * applied; the sent entries' velocity is zeroed with their residual
 * ("factor masking": their momentum was spent, and stale momentum would
 * push them on after the update), and the optimizer steps without
 * momentum (sync.h, own_momentum). The velocity is state like the
 * residual. Weight decay stays with the optimizer, so its term is not
 * amplified by momentum here (1/(1 - mu) less decay than dense; the
 * bench's 1e-4 makes that invisible).
 *
 * The selection needs the whole gradient, so the exchange is not
 * overlapped with backward: the engine starts buckets as backward
 * finishes them, from the last; this strategy does nothing for the others
 * and everything when bucket 0 (the stage's first layer, the last to
 * finish) starts. (The cost model's dml__sync_once_per_step hides the
 * exchange behind the last backward pass as it does a dense allreduce's:
 * it does not know the selection waits for the whole gradient.)
 *
 * Tensor parallelism: a layer that every TP rank holds whole (a
 * replicated layer, a row-parallel layer's bias) has the same gradient on
 * every TP rank, and must get the same update; selecting over the rank's
 * whole buffer would mix in the TP shard's own entries, which differ. So
 * the replicated tensors and the split ones are two selection groups,
 * each keeping ceil(K n) of its n values (with tp = 1 there is one).
 */
#include "executor/sync/compress.h"
#include "executor/sync/sync.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One selection group: the tensors of one kind, as ranges of the flat
 * buffer, gathered into one array to select from. */
typedef struct topk_group {
    int nranges;
    size_t *lo, *hi;     /* [nranges] ranges of the flat buffer */
    size_t n;            /* values in them */
    size_t k;            /* values sent */
} topk_group;

typedef struct topk {
    bool ef;             /* error feedback */
    topk_group group[2]; /* TP-split tensors (every one with tp = 1),
                            TP-replicated ones */
    size_t k;            /* entries sent: the groups' k summed */
    int ibytes;          /* 4 or 8: bytes of an index */
    float *acc;          /* [nparams] gradient (+ residual) */
    float *residual;     /* [nparams] error feedback's (NULL without) */
    float *velocity;     /* [nparams] momentum correction's (with error
                            feedback; used when s->momentum > 0) */
    float *vals;         /* [nparams] one group's values, gathered */
    float *keys;         /* [nparams] scratch of the selection */
    uint64_t *sel;       /* [k] selected positions in a group */
    unsigned char *send; /* k indices, then k values */
    unsigned char *recv; /* dp of those, rank by rank */
} topk;

static size_t entry_bytes(const topk *t)
{
    return (size_t)t->ibytes + sizeof(float);
}

/* ceil(K n), at least 1 and at most n; K n is computed in binary, so a
 * product whole in decimal (0.1 x 870) must not round up to one more. */
static size_t keep(double K, size_t n)
{
    double x = K * (double)n;
    size_t k = (size_t)ceil(x - x * 1e-12);
    return k < 1 ? 1 : k > n ? n : k;
}

/* The two groups from the stage's tensors (flat-buffer order). */
static dml_status make_groups(dml_sync *s, topk *t, dml_error *err)
{
    const dml_stage *st = s->st;
    for (int g = 0; g < 2; g++) {
        topk_group *gr = &t->group[g];
        gr->lo = calloc((size_t)st->ntensors + 1, sizeof *gr->lo);
        gr->hi = calloc((size_t)st->ntensors + 1, sizeof *gr->hi);
        if (!gr->lo || !gr->hi)
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        for (int i = 0; i < st->ntensors; i++) {
            const dml_tensor *x = &st->tensors[i];
            if ((int)(st->tp > 1 && x->tp_replicated) != g || x->n == 0)
                continue;
            if (gr->nranges && gr->hi[gr->nranges - 1] == x->off) {
                gr->hi[gr->nranges - 1] += x->n; /* contiguous: merge */
            } else {
                gr->lo[gr->nranges] = x->off;
                gr->hi[gr->nranges++] = x->off + x->n;
            }
            gr->n += x->n;
        }
        gr->k = gr->n ? keep(s->spec.param, gr->n) : 0;
        t->k += gr->k;
    }
    return DML_OK;
}

static dml_status topk_setup(dml_sync *s, dml_error *err)
{
    topk *t = calloc(1, sizeof *t);
    if (!t)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    s->impl = t;
    t->ef = s->strategy == &dml_sync_topk_ef;
    if (!(s->spec.param > 0 && s->spec.param <= 1))
        return dml_error_msg(err, DML_EINPUT, "sync=%s needs a fraction "
                             "0 < K <= 1, not %g", s->strategy->name,
                             s->spec.param);
    DML_CHECK(make_groups(s, t, err));
    size_t n = s->st->nparams;
    t->ibytes = n <= (size_t)UINT32_MAX + 1 ? 4 : 8;
    if ((double)t->k * (double)entry_bytes(t) > (double)INT_MAX)
        return dml_error_msg(err, DML_EINPUT, "sync=%s: %zu entries of %zu "
                             "bytes are more than one MPI message holds",
                             s->strategy->name, t->k, entry_bytes(t));
    size_t nn = n ? n : 1, kk = t->k ? t->k : 1;
    t->acc = malloc(nn * sizeof(float));
    t->residual = t->ef ? calloc(nn, sizeof(float)) : NULL;
    t->velocity = t->ef ? calloc(nn, sizeof(float)) : NULL;
    t->vals = malloc(nn * sizeof(float));
    t->keys = malloc(nn * sizeof(float));
    t->sel = malloc(kk * sizeof *t->sel);
    t->send = malloc(kk * entry_bytes(t));
    t->recv = malloc((size_t)s->dp * kk * entry_bytes(t));
    if (!t->acc || (t->ef && (!t->residual || !t->velocity)) || !t->vals || !t->keys ||
        !t->sel || !t->send || !t->recv)
        return dml_error_msg(err, DML_ENOMEM, "out of memory for top-k");
    /* every replica updates everything from the summed entries */
    return dml__sync_own_all(s, err);
}

static void put_index(const topk *t, size_t j, uint64_t i)
{
    if (t->ibytes == 4) {
        uint32_t v = (uint32_t)i;
        memcpy(t->send + j * 4, &v, 4);
    } else {
        memcpy(t->send + j * 8, &i, 8);
    }
}

static uint64_t get_index(const topk *t, const unsigned char *p, size_t j)
{
    if (t->ibytes == 4) {
        uint32_t v;
        memcpy(&v, p + j * 4, 4);
        return v;
    }
    uint64_t v;
    memcpy(&v, p + j * 8, 8);
    return v;
}

/* Select each group's entries of acc into the send buffer (*at entries
 * written so far), in increasing index order; with error feedback their
 * residual (and with momentum their velocity) is spent. */
static void select_group(topk *t, const topk_group *gr, bool masking,
                         size_t *at)
{
    if (gr->k == 0)
        return;
    size_t m = 0;
    for (int r = 0; r < gr->nranges; r++) {
        memcpy(t->vals + m, t->acc + gr->lo[r],
               (gr->hi[r] - gr->lo[r]) * sizeof(float));
        m += gr->hi[r] - gr->lo[r];
    }
    dml_topk_select(t->vals, gr->n, gr->k, t->keys, t->sel);
    float *values = (float *)(t->send + t->k * (size_t)t->ibytes);
    int r = 0;
    size_t base = 0; /* position in vals of range r's first value */
    for (size_t j = 0; j < gr->k; j++) {
        uint64_t p = t->sel[j];
        while (p >= base + (gr->hi[r] - gr->lo[r])) {
            base += gr->hi[r] - gr->lo[r];
            r++;
        }
        uint64_t i = gr->lo[r] + (p - base);
        put_index(t, *at, i);
        float v = t->acc[i];
        memcpy(values + *at, &v, sizeof v);
        if (t->residual)
            t->residual[i] = 0.0f; /* sent: nothing left over */
        if (masking)
            t->velocity[i] = 0.0f;
        (*at)++;
    }
}

/* Bucket 0 starts last, when backward is over: select and send. */
static void topk_start(dml_sync *s, int k)
{
    if (k != 0)
        return;
    topk *t = s->impl;
    size_t n = s->st->nparams;
    const float mu = (float)s->momentum;
    bool masking = t->residual && mu > 0.0f;
    if (masking) {
        /* momentum correction: the velocity is what accumulates */
        float *u = t->velocity;
        const float *g = s->st->grads;
        for (size_t i = 0; i < n; i++) {
            u[i] = mu * u[i] + g[i];
            t->residual[i] += u[i];
        }
        memcpy(t->acc, t->residual, n * sizeof(float));
    } else if (t->residual) {
        /* acc = gradient + residual; the residual becomes acc, less the
         * entries sent (select_group zeroes them) */
        for (size_t i = 0; i < n; i++)
            t->residual[i] += s->st->grads[i];
        memcpy(t->acc, t->residual, n * sizeof(float));
    } else {
        memcpy(t->acc, s->st->grads, n * sizeof(float));
    }
    size_t at = 0;
    select_group(t, &t->group[0], masking, &at);
    select_group(t, &t->group[1], masking, &at);
    int bytes = (int)(t->k * entry_bytes(t));
    MPI_Iallgather(t->send, bytes, MPI_BYTE, t->recv, bytes, MPI_BYTE,
                   s->dp_comm, &s->req[0]);
    dml__sync_sent(s, DML_COLL_ALLGATHER, (double)s->dp * bytes);
}

/* Every rank's entries have arrived: their sum, rank by rank, is the
 * dense gradient. */
static bool topk_next(dml_sync *s, int k)
{
    if (k != 0)
        return false;
    const topk *t = s->impl;
    float *g = s->st->grads;
    memset(g, 0, s->st->nflat * sizeof(float));
    size_t per = t->k * entry_bytes(t);
    for (int r = 0; r < s->dp; r++) {
        const unsigned char *p = t->recv + (size_t)r * per;
        const float *values = (const float *)(p + t->k * (size_t)t->ibytes);
        for (size_t j = 0; j < t->k; j++) {
            float v;
            memcpy(&v, values + j, sizeof v);
            g[get_index(t, p, j)] += v;
        }
    }
    return false;
}

static size_t topk_state_values(const dml_sync *s)
{
    const topk *t = s->impl;
    size_t n = s->st->nparams;
    return t->residual ? (s->momentum > 0 ? 2 * n : n) : 0;
}

/* The residual, then (with momentum) the velocity. */
static void topk_state_save(const dml_sync *s, float *out)
{
    const topk *t = s->impl;
    size_t n = s->st->nparams;
    memcpy(out, t->residual, n * sizeof(float));
    if (s->momentum > 0)
        memcpy(out + n, t->velocity, n * sizeof(float));
}

static void topk_state_restore(dml_sync *s, const float *in)
{
    topk *t = s->impl;
    size_t n = s->st->nparams;
    memcpy(t->residual, in, n * sizeof(float));
    if (s->momentum > 0)
        memcpy(t->velocity, in + n, n * sizeof(float));
}

static void topk_teardown(dml_sync *s)
{
    topk *t = s->impl;
    if (!t)
        return;
    for (int g = 0; g < 2; g++) {
        free(t->group[g].lo);
        free(t->group[g].hi);
    }
    free(t->acc);
    free(t->residual);
    free(t->velocity);
    free(t->vals);
    free(t->keys);
    free(t->sel);
    free(t->send);
    free(t->recv);
    free(t);
    s->impl = NULL;
}

/* The k-th largest of a[0..n) (k >= 1), reordering a: quickselect with
 * a three-way partition (many equal keys, zeros above all, stay linear). */
static float kth_largest(float *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n, want = k - 1;
    while (hi - lo > 1) {
        float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
        float p = x < y ? (y < z ? y : x < z ? z : x)
                        : (x < z ? x : y < z ? z : y); /* median */
        size_t lt = lo, i = lo, gt = hi;
        while (i < gt) { /* [lo,lt) > p, [lt,i) == p, [gt,hi) < p */
            float v = a[i];
            if (v > p) {
                a[i++] = a[lt];
                a[lt++] = v;
            } else if (v < p) {
                a[i] = a[--gt];
                a[gt] = v;
            } else {
                i++;
            }
        }
        if (want < lt)
            hi = lt;
        else if (want >= gt)
            lo = gt;
        else
            return p;
    }
    return a[lo];
}

void dml_topk_select(const float *v, size_t n, size_t k, float *keys,
                     uint64_t *idx)
{
    for (size_t i = 0; i < n; i++)
        keys[i] = isnan(v[i]) ? INFINITY : fabsf(v[i]);
    float th = kth_largest(keys, n, k);
    /* all above the threshold, then the first of those equal to it */
    size_t above = 0;
    for (size_t i = 0; i < n; i++) {
        float key = isnan(v[i]) ? INFINITY : fabsf(v[i]);
        above += key > th;
    }
    size_t ties = k - above, j = 0;
    for (size_t i = 0; i < n && j < k; i++) {
        float key = isnan(v[i]) ? INFINITY : fabsf(v[i]);
        if (key > th) {
            idx[j++] = i;
        } else if (key == th && ties > 0) {
            idx[j++] = i;
            ties--;
        }
    }
}

const dml_sync_strategy dml_sync_topk_ef = {
    .name = "topk",
    .setup = topk_setup,
    .start = topk_start,
    .next = topk_next,
    .state_values = topk_state_values,
    .state_save = topk_state_save,
    .state_restore = topk_state_restore,
    .teardown = topk_teardown,
    .own_momentum = true,
};

const dml_sync_strategy dml_sync_topk_noef = {
    .name = "topk-noef",
    .setup = topk_setup,
    .start = topk_start,
    .next = topk_next,
    .teardown = topk_teardown,
};
