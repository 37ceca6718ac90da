/*
 * collective.h: time of a collective or point-to-point transfer on the
 * links of a cluster (alpha-beta model, per algorithm).
 *
 * A group of n ranks with g of them on each node (n/g nodes) exchanges
 * data over two link levels: `intra` (devices of one node) and `inter`
 * (node to node, bandwidth per device, so g ranks of the group on a node
 * bring g NICs). Achievable bandwidth is bw_Bps x efficiency. Sizes follow
 * nccl-tests: allreduce and broadcast the buffer, allgather the gathered
 * output, reducescatter the input, alltoall the bytes each rank holds.
 *
 * Algorithms:
 * - ring: 2(n-1) (allreduce) or n-1 steps of one latency each; every rank
 *   moves 2(n-1)/n·S (allreduce) or (n-1)/n·S; the ring is as fast as its
 *   slower level: min(intra, g x inter) when it spans nodes. This is the
 *   nccl-tests bus bandwidth relation busbw = algbw·2(n-1)/n.
 * - tree (allreduce, broadcast): NCCL's intra-node chain plus inter-node
 *   double binary tree: latency (g-1)·a_intra + log2(n/g)·a_inter per
 *   phase, 2S (allreduce) or S over the ring's bottleneck bandwidth
 *   derated to 0.92, as NCCL's tuning model rates trees.
 * - hierarchical (allreduce, allgather, reducescatter): intra-node
 *   reduce-scatter, inter-node collective on S/g per rank, intra-node
 *   all-gather.
 * - measured: the cluster spec's alpha-beta fit for that op and level
 *   (dml-probe), time = alpha + S·factor/busbw with the nccl-tests factor.
 * The cheapest is returned with its algorithm.
 */
#ifndef DML_COSTMODEL_COLLECTIVE_H
#define DML_COSTMODEL_COLLECTIVE_H

#include <stdbool.h>

#include "costmodel/cluster_spec.h"

/*
 * The collective kinds, one row each (index: dml_coll_op), read by the
 * probes (sizes, bus bandwidth, buffers, the data check), the cost model
 * (ring times, bytes on the wire) and the executor's byte counts, instead
 * of a switch over the kinds in each of them. Sizes follow nccl-tests:
 * allreduce and broadcast the buffer, allgather the gathered output,
 * reducescatter the input, alltoall the bytes each rank holds.
 */
#define DML_COLL_N (-1) /* a buffer of n per-rank blocks, n the ranks */

typedef struct dml_coll_kind {
    const char *name; /* in cluster specs, probe reports and the database */
    int passes;       /* ring passes over the size: each rank moves
                         passes (n-1)/n of it in passes (n-1) steps, and
                         busbw = algbw passes (n-1)/n (nccl-tests); 0: a
                         pipelined chain that moves it once in n-1 steps,
                         busbw = algbw (broadcast) */
    bool ring;        /* a ring algorithm exists (not alltoall) */
    bool blocks;      /* the size is n blocks of one count per rank */
    int send;         /* send buffer in per-rank counts: 1 or DML_COLL_N */
    int recv;         /* receive buffer likewise; 0: none, the result is
                         in the send buffer (broadcast, root 0) */
    bool reduces;     /* sums over the ranks */
} dml_coll_kind;

/* The row of op; NULL when op is not a kind. */
const dml_coll_kind *dml_coll_kind_of(dml_coll_op op);

/* The inverse of dml_coll_op_name; false for any other text. */
bool dml_coll_op_parse(const char *name, dml_coll_op *op);

typedef enum dml_coll_algo {
    DML_ALGO_NONE = 0, /* one rank: nothing to do */
    DML_ALGO_RING,
    DML_ALGO_TREE,
    DML_ALGO_HIER,
    DML_ALGO_MEASURED,
    DML_ALGO_DIRECT, /* point-to-point, pairwise all-to-all */
} dml_coll_algo;

typedef struct dml_coll_group {
    int ranks;            /* n, ranks in the group */
    int ranks_per_node;   /* g, members of the group on each node (1..n) */
    dml_link_spec intra;  /* device-device link inside a node */
    dml_link_spec inter;  /* node-node link (per device) */
    const dml_coll_fit (*fits)[DML_LINK_LEVEL_COUNT]; /* measured fits
                             [op][level] of the node group, or NULL */
    double scale_intra;   /* calibration: multiplies intra-node times (1) */
    double scale_inter;   /* and times that cross nodes (1) */
    double latency_scale_intra; /* calibration: multiplies the latency
                                   (alpha) terms inside a node (1) */
    double latency_scale_inter; /* and those between nodes (1) */
    double floor_s;       /* least time of one call (the device's
                             collective_floor_s), s */
} dml_coll_group;

/* A group of `ranks` members, `ranks_per_node` per node, on the links and
 * fits of node group g; scales (time and latency) 1. */
void dml_coll_group_init(dml_coll_group *grp, const dml_node_group *g,
                         int ranks, int ranks_per_node);

/* Time of op on `bytes` (nccl-tests size), s; *algo (may be NULL) gets
 * the cheapest algorithm. */
double dml_collective_time(const dml_coll_group *grp, dml_coll_op op,
                           double bytes, dml_coll_algo *algo);

/* Time of one algorithm (for tests and explanations); a huge value when
 * the algorithm does not apply to op. */
double dml_collective_time_algo(const dml_coll_group *grp, dml_coll_op op,
                                double bytes, dml_coll_algo algo);

/* One message of `bytes` over link: latency + bytes / (bw x efficiency). */
double dml_p2p_time(const dml_link_spec *link, double bytes);

/* nccl-tests bus bandwidth factor of op for n ranks (doc/PERFORMANCE.md,
 * the table's passes): 2(n-1)/n for allreduce, (n-1)/n for allgather,
 * reducescatter and alltoall, 1 for broadcast; 0 when n < 1 or op is not
 * a kind. */
double dml_collective_busbw_factor(dml_coll_op op, int n);

const char *dml_coll_algo_name(dml_coll_algo a);

#endif
