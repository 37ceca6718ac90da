/*
 * gossip.c: decentralised SGD (sync=gossip:G, D-PSGD, Lian et al. 2017,
 * "Can decentralized algorithms outperform centralized algorithms?") and
 * its compressed form CHOCO-SGD (sync=gossip:G:topk:K, Koloskova et al.
 * 2019, "Decentralized stochastic optimization and gossip algorithms with
 * compressed communication"). Priced by the cost model's dml_sync_gossip
 * (costmodel/sync_gossip.c: degree x model bytes a step, exposed).
 *
 * No rank is special and no gradient is summed. Each replica takes its
 * own step, as local SGD's local steps do (`start` scales its gradient
 * by dp to the mean of its own B/dp samples, with the plan's rate and
 * its own optimizer state), and then (step_finish) replaces its weights
 * x_i by sum_j W_ij x_j over itself and its in-neighbours on graph G
 * (costmodel/gossip_graph.h, weights doubly stochastic and the graph
 * connected, checked when it is built). The graph is an MPI distributed
 * graph topology (MPI_Dist_graph_create_adjacent over the data-parallel
 * group, the union of the graph's edges over its period), and the
 * exchange one neighbour collective: MPI_Ineighbor_allgather of the
 * weights for a static graph, MPI_Ineighbor_alltoallv for the one-peer
 * exponential graph, whose counts are the model for the step's one peer
 * and 0 for the others. Bytes sent: the model's (or CHOCO's message's)
 * per out-neighbour of the step, on the link to that neighbour (its node
 * or another, from MPI_Comm_split_type's node group), so --json's
 * bytes_per_step per replica is degree x model bytes.
 *
 * CHOCO-SGD keeps a public copy xhat_i of each replica's weights, the
 * same on the replica and its neighbours, and s_i = sum_j W_ij xhat_j.
 * After the step: q_i = top-K(x_i - xhat_i) (dml_topk_select,
 * compress.h), sent with its indices to the neighbours; xhat_i += q_i,
 * s_i += sum_j W_ij q_j; x_i += gamma (s_i - xhat_i), gamma =
 * dml_sync_choco_gamma(K). The replicas start from one model (the
 * executor initialises every replica alike from the seed), so xhat and s
 * start as the weights (the paper's xhat = 0 would only spend its first
 * steps sending the model itself). With K = 1, gamma = 1 and this is
 * D-PSGD, within rounding. A graph that changes peer every step cannot
 * keep every neighbour's copy current: CHOCO refuses onepeer-exp
 * (dml_sync_spec_check).
 *
 * Consensus distance: every DML_GOSSIP_CONSENSUS_EVERY steps (default
 * 50; 0: never) the replicas allreduce their weights and each adds up its
 * squared distance to the mean: s->consensus is the mean over the
 * replicas of |x_i - mean|^2 (squared L2 norm over every parameter),
 * logged with the step (steps.consensus, --json consensus). That
 * allreduce is a measurement, not the algorithm: its bytes are not
 * counted in `sent` (the --json field consensus_bytes says what it
 * sent), so that bytes_per_step is gossip's alone.
 *
 * A lost neighbour: Open MPI 4.1 cannot go on with a communicator that
 * lost a rank (no ULFM here); what it does is tear the job down when a
 * rank dies (executor/heartbeat.h), so no rank hangs. A run started on
 * the ranks left builds its graph for their number (every graph exists
 * for any n; random:D redrawn, or refused with the reason when D no
 * longer fits). What does not follow yet: resuming a gossip checkpoint
 * on fewer ranks, which the elastic supervisor dml-run would do, is
 * refused (the replicas' weights and optimizer states differ, as local
 * SGD's do: executor/ckpt_relayout.c), so dml-run stops there with
 * dml-exec's one-line reason instead of continuing. A neighbour that hangs without
 * dying would leave its peers in the exchange for ever: the exchange is
 * non-blocking and polled against a deadline (DML_GOSSIP_TIMEOUT_S,
 * default 300 s), past which the rank logs which neighbours it waited
 * for and aborts the job (MPI_Abort), so that the launcher, or dml-run,
 * sees a failure rather than a hang.
 *
 * State (checkpointed): the step count (which says the one-peer graph's
 * peer) and, for CHOCO, xhat and s; they belong to the replica that made
 * them (state_layout_free false), as local SGD's weights do. finish:
 * after the last step the replicas average exactly once (an allreduce),
 * so that evaluation and the weight file see the replicas' mean, as
 * D-PSGD's papers evaluate it.
 */
#include "executor/sync/sync.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "costmodel/collective.h"
#include "costmodel/gossip_graph.h"
#include "executor/sync/compress.h"

typedef struct gossip {
    dml_gossip_graph graph;
    MPI_Comm nbr;        /* dist graph over dp_comm (owned) */
    dml_gossip_peers all; /* union of the period: the order of nbr's
                            sources (in) and destinations (out) */
    bool out_inter[DML_GOSSIP_MAX_DEGREE]; /* destination k on another
                                              node */
    bool dynamic;        /* the peers change with the step (alltoallv) */
    size_t n;            /* values of the model */
    float *recv;         /* [all.nin * msg] what the neighbours sent */
    int64_t step;        /* steps run */
    int64_t consensus_every; /* steps between measures, 0: none */
    double timeout_s;    /* longest wait for the neighbours */
    double consensus_bytes; /* sent by the measures, this rank */
    /* CHOCO (compress > 0) */
    size_t k;            /* entries sent per step */
    float gamma;         /* consensus step */
    float *hat;          /* [n] xhat_i */
    float *mix;          /* [n] s_i */
    float *diff;         /* [n] x_i - xhat_i */
    float *keys;         /* [n] dml_topk_select's scratch */
    uint64_t *idx;       /* [k] selected entries */
    float *msg;          /* [2k] values, then indices as uint32 bits */
    float *sum;          /* [n] consensus: the replicas' sum */
} gossip;

static double env_num(const char *name, double dflt)
{
    const char *v = getenv(name);
    char *end = NULL;
    double x = v && *v ? strtod(v, &end) : NAN;
    return v && *v && end && !*end && isfinite(x) && x >= 0 ? x : dflt;
}

/* The node of every rank of dp_comm, from the node group's members. */
static dml_status mark_inter(dml_sync *s, gossip *p, dml_error *err)
{
    MPI_Group dp_grp, node_grp;
    MPI_Comm_group(s->dp_comm, &dp_grp);
    MPI_Comm_group(s->nodes.node, &node_grp);
    for (int k = 0; k < p->all.nout; k++) {
        int r = p->all.out[k], there = MPI_UNDEFINED;
        MPI_Group_translate_ranks(dp_grp, 1, &r, node_grp, &there);
        p->out_inter[k] = there == MPI_UNDEFINED;
    }
    MPI_Group_free(&dp_grp);
    MPI_Group_free(&node_grp);
    (void)err;
    return DML_OK;
}

static dml_status gossip_alloc(gossip *p, size_t msg_values, dml_error *err)
{
    size_t n = p->n ? p->n : 1;
    size_t nin = p->all.nin ? (size_t)p->all.nin : 1;
    p->recv = malloc(nin * msg_values * sizeof(float));
    if (p->k) {
        p->hat = malloc(n * sizeof(float));
        p->mix = malloc(n * sizeof(float));
        p->diff = malloc(n * sizeof(float));
        p->keys = malloc(n * sizeof(float));
        p->idx = malloc(p->k * sizeof(uint64_t));
        p->msg = malloc(2 * p->k * sizeof(float));
    }
    if (!p->recv || (p->k && (!p->hat || !p->mix || !p->diff || !p->keys ||
                              !p->idx || !p->msg)))
        return dml_error_msg(err, DML_ENOMEM, "out of memory for gossip's "
                             "neighbour buffers");
    return DML_OK;
}

static dml_status gossip_setup(dml_sync *s, dml_error *err)
{
    gossip *p = calloc(1, sizeof *p);
    s->impl = p;
    if (!p)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    p->nbr = MPI_COMM_NULL;
    p->n = s->st->nflat;
    if (p->n > (size_t)INT32_MAX)
        return dml_error_msg(err, DML_EUSAGE, "gossip sends a model of at "
                             "most 2^31 values (this one has %zu)", p->n);
    DML_CHECK(dml_gossip_graph_build(&s->spec.graph, s->dp, s->seed,
                                     &p->graph, err));
    dml_gossip_graph_union(&p->graph, s->dp_i, &p->all);
    p->dynamic = p->graph.period > 1;
    DML_CHECK(mark_inter(s, p, err));
    if (s->spec.compress > 0) {
        double k = ceil(s->spec.compress * (double)p->n);
        p->k = k < 1 ? 1 : (size_t)k;
        p->gamma = (float)dml_sync_choco_gamma(s->spec.compress);
    }
    p->consensus_every =
        (int64_t)env_num("DML_GOSSIP_CONSENSUS_EVERY", 50);
    p->timeout_s = env_num("DML_GOSSIP_TIMEOUT_S", 300);
    DML_CHECK(gossip_alloc(p, p->k ? 2 * p->k : p->n, err));
    if (p->k) { /* one model on every replica (header) */
        memcpy(p->hat, s->st->params, p->n * sizeof(float));
        memcpy(p->mix, s->st->params, p->n * sizeof(float));
    }
    /* every edge alike (MPI_UNWEIGHTED is a pointer GCC sees as an empty
     * array read) */
    int ones[DML_GOSSIP_MAX_DEGREE];
    for (int i = 0; i < DML_GOSSIP_MAX_DEGREE; i++)
        ones[i] = 1;
    int rc = MPI_Dist_graph_create_adjacent(
        s->dp_comm, p->all.nin, p->all.in, ones, p->all.nout, p->all.out,
        ones, MPI_INFO_NULL, 0, &p->nbr);
    if (rc != MPI_SUCCESS)
        return dml_error_msg(err, DML_EMPI, "MPI_Dist_graph_create_adjacent "
                             "failed for the gossip graph");
    return dml__sync_own_all(s, err);
}

/* A local step on the replica's own mean gradient (local.c's). */
static void gossip_start(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    float *g = s->st->grads + b->lo;
    size_t n = b->hi - b->lo;
    float scale = (float)s->dp;
    for (size_t i = 0; i < n; i++)
        g[i] *= scale;
    s->req[k] = MPI_REQUEST_NULL;
    s->grad_summed = false;
}

/* Wait for req against the deadline: past it, say whom and abort. */
static void wait_neighbours(dml_sync *s, gossip *p, MPI_Request *req)
{
    double t0 = dml_clock_now_s();
    int done = 0;
    while (!done) {
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (done || dml_clock_now_s() - t0 <= p->timeout_s)
            continue;
        char who[256] = "";
        size_t len = 0;
        for (int i = 0; i < p->all.nin && len < sizeof who - 12; i++)
            len += (size_t)snprintf(who + len, sizeof who - len, "%s%d",
                                    i ? ", " : "", p->all.in[i]);
        dml_log_error("gossip: data-parallel rank %d waited %.0f s for its "
                      "neighbours (%s) at step %lld: aborting the job "
                      "rather than hanging (DML_GOSSIP_TIMEOUT_S)",
                      s->dp_i, p->timeout_s, who, (long long)p->step);
        MPI_Abort(s->dp_comm, 1);
    }
}

/* Send msg (count floats) to the step's out-neighbours and receive each
 * in-neighbour's into p->recv; counts the bytes. *from[i]: recv block of
 * the step's in-neighbour i. */
static void exchange(dml_sync *s, gossip *p, const float *msg, int count,
                     const dml_gossip_peers *now, int *from)
{
    MPI_Request req;
    if (!p->dynamic) {
        MPI_Ineighbor_allgather(msg, count, MPI_FLOAT, p->recv, count,
                                MPI_FLOAT, p->nbr, &req);
    } else {
        int sc[DML_GOSSIP_MAX_DEGREE], sd[DML_GOSSIP_MAX_DEGREE];
        int rc[DML_GOSSIP_MAX_DEGREE], rd[DML_GOSSIP_MAX_DEGREE];
        for (int k = 0; k < p->all.nout; k++) {
            sc[k] = sd[k] = 0;
            for (int i = 0; i < now->nout; i++)
                if (now->out[i] == p->all.out[k])
                    sc[k] = count;
        }
        for (int k = 0; k < p->all.nin; k++) {
            rd[k] = k * count;
            rc[k] = 0;
            for (int i = 0; i < now->nin; i++)
                if (now->in[i] == p->all.in[k])
                    rc[k] = count;
        }
        MPI_Ineighbor_alltoallv(msg, sc, sd, MPI_FLOAT, p->recv, rc, rd,
                                MPI_FLOAT, p->nbr, &req);
    }
    wait_neighbours(s, p, &req);
    for (int i = 0; i < now->nin; i++)
        for (int k = 0; k < p->all.nin; k++)
            if (p->all.in[k] == now->in[i])
                from[i] = k;
    double bytes = (double)count * sizeof(float);
    for (int i = 0; i < now->nout; i++)
        for (int k = 0; k < p->all.nout; k++)
            if (p->all.out[k] == now->out[i]) {
                if (p->out_inter[k])
                    s->sent.inter_node += bytes;
                else
                    s->sent.intra_node += bytes;
            }
}

/* D-PSGD: x_i = W_ii x_i + sum_j W_ij x_j. */
static void mix_dense(dml_sync *s, gossip *p, const dml_gossip_peers *now)
{
    int from[DML_GOSSIP_MAX_DEGREE];
    float *x = s->st->params;
    exchange(s, p, x, (int)p->n, now, from);
    float ws = (float)now->w_self;
    for (size_t v = 0; v < p->n; v++)
        x[v] *= ws;
    for (int i = 0; i < now->nin; i++) {
        const float *xj = p->recv + (size_t)from[i] * p->n;
        float w = (float)now->w_in[i];
        for (size_t v = 0; v < p->n; v++)
            x[v] += w * xj[v];
    }
}

/* q's entries (values, then indices) added to out with weight w. */
static void add_sparse(float *out, const float *q, size_t k, float w)
{
    for (size_t e = 0; e < k; e++) {
        uint32_t at;
        memcpy(&at, &q[k + e], sizeof at);
        out[at] += w * q[e];
    }
}

/* CHOCO-SGD's gossip step (header). */
static void mix_choco(dml_sync *s, gossip *p, const dml_gossip_peers *now)
{
    float *x = s->st->params;
    for (size_t v = 0; v < p->n; v++)
        p->diff[v] = x[v] - p->hat[v];
    dml_topk_select(p->diff, p->n, p->k, p->keys, p->idx);
    for (size_t e = 0; e < p->k; e++) {
        uint32_t at = (uint32_t)p->idx[e];
        p->msg[e] = p->diff[at];
        memcpy(&p->msg[p->k + e], &at, sizeof at);
    }
    int from[DML_GOSSIP_MAX_DEGREE];
    exchange(s, p, p->msg, (int)(2 * p->k), now, from);
    add_sparse(p->hat, p->msg, p->k, 1.0f);
    add_sparse(p->mix, p->msg, p->k, (float)now->w_self);
    for (int i = 0; i < now->nin; i++)
        add_sparse(p->mix, p->recv + (size_t)from[i] * 2 * p->k, p->k,
                   (float)now->w_in[i]);
    for (size_t v = 0; v < p->n; v++)
        x[v] += p->gamma * (p->mix[v] - p->hat[v]);
}

/* p->sum: the replicas' weights summed (an allreduce, counted in
 * consensus_bytes); false when out of memory (every rank alike). */
static bool replica_sum(dml_sync *s, gossip *p)
{
    if (!p->sum)
        p->sum = malloc((p->n ? p->n : 1) * sizeof(float));
    if (!p->sum)
        return false;
    memcpy(p->sum, s->st->params, p->n * sizeof(float));
    MPI_Allreduce(MPI_IN_PLACE, p->sum, (int)p->n, MPI_FLOAT, MPI_SUM,
                  s->dp_comm);
    p->consensus_bytes += (double)p->n * sizeof(float) *
                          dml_collective_busbw_factor(DML_COLL_ALLREDUCE,
                                                      s->dp);
    return true;
}

/* The mean over the replicas of |x_i - mean|^2 (collective). */
static double consensus(dml_sync *s, gossip *p)
{
    if (!replica_sum(s, p))
        return NAN;
    const float *x = s->st->params;
    double d2 = 0;
    for (size_t v = 0; v < p->n; v++) {
        double e = (double)x[v] - (double)p->sum[v] / s->dp;
        d2 += e * e;
    }
    MPI_Allreduce(MPI_IN_PLACE, &d2, 1, MPI_DOUBLE, MPI_SUM, s->dp_comm);
    return d2 / s->dp;
}

static void gossip_step_finish(dml_sync *s)
{
    gossip *p = s->impl;
    dml_gossip_peers now;
    dml_gossip_graph_peers(&p->graph, s->dp_i, p->step, &now);
    if (p->k)
        mix_choco(s, p, &now);
    else
        mix_dense(s, p, &now);
    p->step++;
    if (p->consensus_every > 0 && p->step % p->consensus_every == 0)
        s->consensus = consensus(s, p);
}

/* The replicas' mean, once, after the last step (header). */
static void gossip_finish(dml_sync *s)
{
    gossip *p = s->impl;
    float *x = s->st->params;
    if (!replica_sum(s, p))
        return;
    for (size_t v = 0; v < p->n; v++)
        x[v] = p->sum[v] / (float)s->dp;
}

static size_t gossip_state_values(const dml_sync *s)
{
    const gossip *p = s->impl;
    return dml__sync_count_values(s) + (p->k ? 2 * p->n : 0);
}

static void gossip_state_save(const dml_sync *s, float *out)
{
    const gossip *p = s->impl;
    dml__sync_count_save(p->step, out);
    size_t c = dml__sync_count_values(s);
    if (p->k) {
        memcpy(out + c, p->hat, p->n * sizeof(float));
        memcpy(out + c + p->n, p->mix, p->n * sizeof(float));
    }
}

static void gossip_state_restore(dml_sync *s, const float *in)
{
    gossip *p = s->impl;
    p->step = dml__sync_count_restore(in);
    size_t c = dml__sync_count_values(s);
    if (p->k) {
        memcpy(p->hat, in + c, p->n * sizeof(float));
        memcpy(p->mix, in + c + p->n, p->n * sizeof(float));
    }
}

static void gossip_teardown(dml_sync *s)
{
    gossip *p = s->impl;
    if (!p)
        return;
    if (p->nbr != MPI_COMM_NULL)
        MPI_Comm_free(&p->nbr);
    dml_gossip_graph_free(&p->graph);
    free(p->recv);
    free(p->hat);
    free(p->mix);
    free(p->diff);
    free(p->keys);
    free(p->idx);
    free(p->msg);
    free(p->sum);
    free(p);
    s->impl = NULL;
}

double dml_sync_gossip_consensus_bytes(const dml_sync *s)
{
    const gossip *p = s->strategy == &dml_sync_decentral ? s->impl : NULL;
    return p ? p->consensus_bytes : 0;
}

const dml_sync_strategy dml_sync_decentral = {
    .name = "gossip",
    .setup = gossip_setup,
    .start = gossip_start,
    .step_finish = gossip_step_finish,
    .state_values = gossip_state_values,
    .state_save = gossip_state_save,
    .state_restore = gossip_state_restore,
    .teardown = gossip_teardown,
    .finish = gossip_finish,
};
