/*
 * collective.c: alpha-beta collective times by algorithm (see collective.h).
 */
#include "collective.h"

#include <math.h>
#include <string.h>

#define DML__NEVER 1e300

#define N DML_COLL_N
static const dml_coll_kind kinds[DML_COLL_OP_COUNT] = {
    [DML_COLL_ALLREDUCE] = {"allreduce", 2, true, false, 1, 1, true},
    [DML_COLL_ALLGATHER] = {"allgather", 1, true, true, 1, N, false},
    [DML_COLL_REDUCESCATTER] = {"reducescatter", 1, true, true, N, 1, true},
    [DML_COLL_ALLTOALL] = {"alltoall", 1, false, true, N, N, false},
    [DML_COLL_BROADCAST] = {"broadcast", 0, true, false, 1, 0, false},
};
#undef N

const dml_coll_kind *dml_coll_kind_of(dml_coll_op op)
{
    return (int)op >= 0 && op < DML_COLL_OP_COUNT ? &kinds[op] : NULL;
}

const char *dml_coll_op_name(dml_coll_op op)
{
    const dml_coll_kind *k = dml_coll_kind_of(op);
    return k ? k->name : "unknown";
}

bool dml_coll_op_parse(const char *name, dml_coll_op *op)
{
    for (int i = 0; name && i < DML_COLL_OP_COUNT; i++) {
        if (strcmp(name, kinds[i].name) == 0) {
            *op = (dml_coll_op)i;
            return true;
        }
    }
    return false;
}

const char *dml_coll_algo_name(dml_coll_algo a)
{
    switch (a) {
    case DML_ALGO_NONE: return "none";
    case DML_ALGO_RING: return "ring";
    case DML_ALGO_TREE: return "tree";
    case DML_ALGO_HIER: return "hierarchical";
    case DML_ALGO_MEASURED: return "measured";
    case DML_ALGO_DIRECT: return "direct";
    }
    return "?";
}

void dml_coll_group_init(dml_coll_group *grp, const dml_node_group *g,
                         int ranks, int ranks_per_node)
{
    grp->ranks = ranks > 0 ? ranks : 1;
    if (ranks_per_node < 1)
        ranks_per_node = 1;
    if (ranks_per_node > grp->ranks)
        ranks_per_node = grp->ranks;
    grp->ranks_per_node = ranks_per_node;
    grp->intra = g->links[DML_LINK_INTRA];
    grp->inter = g->links[DML_LINK_INTER];
    /* A missing level is never used by a group that fits the cluster;
     * keep numbers finite anyway. */
    if (!grp->intra.present)
        grp->intra = grp->inter.present ? grp->inter
                                        : (dml_link_spec){true, 1e-6, 1e9, 1};
    if (!grp->inter.present)
        grp->inter = grp->intra;
    grp->fits = g->coll;
    grp->scale_intra = 1.0;
    grp->scale_inter = 1.0;
    grp->latency_scale_intra = 1.0;
    grp->latency_scale_inter = 1.0;
    grp->floor_s = g->device.collective_floor_s;
}

double dml_collective_busbw_factor(dml_coll_op op, int n)
{
    const dml_coll_kind *k = dml_coll_kind_of(op);
    if (!k || n < 1)
        return 0;
    /* passes·(n-1)/n in that order: the same bits as 2.0·(n-1)/n */
    return k->passes ? (double)k->passes * (n - 1) / n : 1.0;
}

static double bw(const dml_link_spec *l) { return l->bw_Bps * l->efficiency; }

/* Bottleneck bandwidth of a ring or chain through the group. */
static double ring_bw(const dml_coll_group *grp)
{
    int g = grp->ranks_per_node;
    bool spans = grp->ranks > g;
    if (!spans)
        return bw(&grp->intra);
    double inter = g * bw(&grp->inter);
    if (g == 1)
        return inter;
    double intra = bw(&grp->intra);
    return intra < inter ? intra : inter;
}

static double step_latency(const dml_coll_group *grp)
{
    return grp->ranks > grp->ranks_per_node ? grp->inter.latency_s
                                            : grp->intra.latency_s;
}

/* Ring time of op for n ranks at bandwidth b and per-step latency a. */
static double ring(dml_coll_op op, double bytes, int n, double b, double a)
{
    if (n <= 1)
        return 0;
    const dml_coll_kind *k = dml_coll_kind_of(op);
    if (!k || !k->ring)
        return DML__NEVER;
    /* a broadcast is a pipelined chain: n-1 steps, the size once */
    int steps = (k->passes ? k->passes : 1) * (n - 1);
    return steps * a + dml_collective_busbw_factor(op, n) * bytes / b;
}

static double tree(const dml_coll_group *grp, dml_coll_op op, double bytes)
{
    if (op != DML_COLL_ALLREDUCE && op != DML_COLL_BROADCAST)
        return DML__NEVER;
    int g = grp->ranks_per_node;
    double nodes = (double)grp->ranks / g;
    double lat = (g - 1) * grp->intra.latency_s +
                 ceil(log2(nodes > 1 ? nodes : 1)) * grp->inter.latency_s;
    /* Both trees together move what a ring moves, but NCCL's own tuning
     * model rates tree bandwidth at 0.92 of ring (graph/tuning.cc). */
    double b = 0.92 * ring_bw(grp);
    if (op == DML_COLL_ALLREDUCE)
        return 2.0 * lat + 2.0 * bytes / b;
    return lat + bytes / b;
}

static double hier(const dml_coll_group *grp, dml_coll_op op, double bytes)
{
    int g = grp->ranks_per_node;
    int nodes = grp->ranks / g;
    if (g <= 1 || nodes <= 1)
        return DML__NEVER; /* same as the flat ring */
    double bi = bw(&grp->intra), bo = bw(&grp->inter);
    double ai = grp->intra.latency_s, ao = grp->inter.latency_s;
    switch (op) {
    case DML_COLL_ALLREDUCE:
        return ring(DML_COLL_REDUCESCATTER, bytes, g, bi, ai) +
               ring(DML_COLL_ALLREDUCE, bytes / g, nodes, bo, ao) +
               ring(DML_COLL_ALLGATHER, bytes, g, bi, ai);
    case DML_COLL_ALLGATHER:
    case DML_COLL_REDUCESCATTER:
        /* inter-node step on the node's share, intra-node on the whole */
        return ring(op, bytes / g, nodes, bo, ao) + ring(op, bytes, g, bi, ai);
    default:
        return DML__NEVER;
    }
}

static double alltoall(const dml_coll_group *grp, double bytes)
{
    int n = grp->ranks, g = grp->ranks_per_node;
    double t_intra = (double)(g - 1) / n * bytes / bw(&grp->intra);
    double t_inter = (double)(n - g) / n * bytes / bw(&grp->inter);
    double t = t_intra > t_inter ? t_intra : t_inter;
    return (n - 1) * step_latency(grp) + t;
}

static double measured(const dml_coll_group *grp, dml_coll_op op,
                       double bytes)
{
    if (!grp->fits)
        return DML__NEVER;
    bool spans = grp->ranks > grp->ranks_per_node;
    int level = spans ? DML_LINK_INTER : DML_LINK_INTRA;
    const dml_coll_fit *f = &grp->fits[op][level];
    if (!f->present || !(f->busbw_Bps > 0))
        return DML__NEVER;
    /* The inter-node fit was measured by one rank per node alone; a group
     * whose g ranks per node share the node's links with the node's other
     * ranks (g groups at once, as node-by-node reductions run) gets no
     * more than their per-device bandwidth (issue 14). */
    double busbw = f->busbw_Bps;
    double cap = spans ? grp->ranks_per_node * bw(&grp->inter) : busbw;
    if (cap < busbw)
        busbw = cap;
    return f->alpha_s * (spans ? grp->latency_scale_inter
                               : grp->latency_scale_intra) +
           bytes * dml_collective_busbw_factor(op, grp->ranks) / busbw;
}

double dml_collective_time_algo(const dml_coll_group *in, dml_coll_op op,
                                double bytes, dml_coll_algo algo)
{
    if (in->ranks <= 1 || bytes <= 0)
        return 0;
    /* The algorithms read latencies from the links: calibrate them there. */
    dml_coll_group scaled = *in;
    scaled.intra.latency_s *= in->latency_scale_intra;
    scaled.inter.latency_s *= in->latency_scale_inter;
    const dml_coll_group *grp = &scaled;
    double t;
    switch (algo) {
    case DML_ALGO_RING:
        t = op == DML_COLL_ALLTOALL
                ? DML__NEVER
                : ring(op, bytes, grp->ranks, ring_bw(grp), step_latency(grp));
        break;
    case DML_ALGO_TREE: t = tree(grp, op, bytes); break;
    case DML_ALGO_HIER: t = hier(grp, op, bytes); break;
    case DML_ALGO_MEASURED: t = measured(grp, op, bytes); break;
    case DML_ALGO_DIRECT:
        t = op == DML_COLL_ALLTOALL ? alltoall(grp, bytes) : DML__NEVER;
        break;
    default: t = DML__NEVER; break;
    }
    if (t >= DML__NEVER)
        return t;
    t *= grp->ranks > grp->ranks_per_node ? grp->scale_inter
                                          : grp->scale_intra;
    /* a call is a kernel launch at least, however few bytes it moves */
    return t > in->floor_s ? t : in->floor_s;
}

double dml_collective_time(const dml_coll_group *grp, dml_coll_op op,
                           double bytes, dml_coll_algo *algo)
{
    if (grp->ranks <= 1 || bytes <= 0) {
        if (algo)
            *algo = DML_ALGO_NONE;
        return 0;
    }
    /* A measurement of this very op beats any model of it. */
    double t = dml_collective_time_algo(grp, op, bytes, DML_ALGO_MEASURED);
    if (t < DML__NEVER) {
        if (algo)
            *algo = DML_ALGO_MEASURED;
        return t;
    }
    static const dml_coll_algo cands[] = {DML_ALGO_RING, DML_ALGO_TREE,
                                          DML_ALGO_HIER, DML_ALGO_DIRECT};
    double best = DML__NEVER;
    dml_coll_algo best_algo = DML_ALGO_RING;
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        double c = dml_collective_time_algo(grp, op, bytes, cands[i]);
        if (c < best) {
            best = c;
            best_algo = cands[i];
        }
    }
    if (algo)
        *algo = best_algo;
    return best;
}

double dml_p2p_time(const dml_link_spec *link, double bytes)
{
    if (bytes <= 0)
        return 0;
    return link->latency_s + bytes / (link->bw_Bps * link->efficiency);
}
