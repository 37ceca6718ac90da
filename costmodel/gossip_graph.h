/*
 * gossip_graph.h: the communication graphs of decentralised (gossip) SGD
 * and their mixing weights, for any number of ranks.
 *
 * In gossip training (D-PSGD, Lian et al. 2017) every rank, after its
 * local step, replaces its model x_i by sum_j W_ij x_j over itself and its
 * in-neighbours j. Pure code: the executor (executor/sync/gossip.c) asks
 * it whom to send to and receive from at a step, and with which weights;
 * the cost model (costmodel/sync_gossip.c) asks it how many models each
 * rank sends and how many cross nodes. Graphs:
 *
 *   ring         i <-> i +- 1; degree 2 (1 at n = 2)
 *   torus        a rows x cols grid (rows the largest divisor of n at most
 *                sqrt(n)), wrapped: i <-> its 4 grid neighbours, fewer
 *                where a side is 2 (both ways are one rank) or 1; a prime
 *                n is a 1 x n torus, the ring
 *   exp          static exponential graph (Ying et al. 2021, "Exponential
 *                graph is provably efficient for decentralized deep
 *                training"): i -> i + 2^k mod n for k = 0 .. tau-1,
 *                tau = ceil(log2 n), directed; degree tau
 *   onepeer-exp  one-peer exponential graph (same paper; Assran et al.
 *                2019's SGP): at step t, i -> i + 2^(t mod tau) only;
 *                degree 1, the peer changes every step; with n a power of
 *                2, tau steps average exactly
 *   random:D     a seeded random D-regular undirected graph (pairing model,
 *                redrawn until simple and connected); needs D < n and
 *                n D even
 *
 * Mixing weights: every graph here is regular (each rank has the same
 * number d of in-neighbours as out-neighbours, at every step), and each
 * rank weighs itself and each in-neighbour 1/(d+1), so every row and
 * every column of W sums to 1: W is doubly stochastic, and the average of
 * the models is kept by every gossip step. dml_gossip_graph_check checks
 * that (rows, columns, weights in [0, 1]) at every step of the graph's
 * period, and that the union of the period's edges is strongly connected:
 * a graph that splits the ranks into groups that never hear from each
 * other is refused with the reason, never used.
 *
 * Any n >= 1 (n = 1: no neighbours, W = 1): a run restarted on fewer
 * ranks (the elastic supervisor, elastic/) rebuilds its graph for the
 * ranks it has.
 */
#ifndef DML_COSTMODEL_GOSSIP_GRAPH_H
#define DML_COSTMODEL_GOSSIP_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Most neighbours of one rank (random:D's D, exp's tau at 2^31 ranks). */
#define DML_GOSSIP_MAX_DEGREE 64

typedef enum dml_graph_kind {
    DML_GRAPH_RING = 0,
    DML_GRAPH_TORUS,
    DML_GRAPH_EXP,
    DML_GRAPH_ONEPEER_EXP,
    DML_GRAPH_RANDOM,
    DML_GRAPH_KIND_COUNT
} dml_graph_kind;

typedef struct dml_graph_spec {
    dml_graph_kind kind;
    int degree;          /* random:D's D; 0 for the others */
} dml_graph_spec;

/* One rank's neighbourhood at one step. */
typedef struct dml_gossip_peers {
    int nin;                              /* in-neighbours */
    int in[DML_GOSSIP_MAX_DEGREE];        /* ranks it receives from */
    double w_in[DML_GOSSIP_MAX_DEGREE];   /* their weights W_ij */
    double w_self;                        /* W_ii */
    int nout;                             /* out-neighbours */
    int out[DML_GOSSIP_MAX_DEGREE];       /* ranks it sends its model to */
} dml_gossip_peers;

typedef struct dml_gossip_graph {
    dml_graph_spec spec;
    int n;               /* ranks */
    int period;          /* steps after which the mixing repeats (1 for
                            static graphs, tau for onepeer-exp) */
    int rows, cols;      /* torus: grid shape */
    int tau;             /* exp, onepeer-exp: ceil(log2 n) */
    int *adj;            /* random: [n * D] neighbours of each rank,
                            sorted; NULL otherwise */
} dml_gossip_graph;

/* "ring", "torus", "exp", "onepeer-exp", "random:3". On failure false,
 * with why saying what is wrong in a phrase. */
bool dml_graph_spec_parse(const char *text, dml_graph_spec *out, char *why,
                          size_t size);
char *dml_graph_spec_format(const dml_graph_spec *s, char *buf, size_t size);
bool dml_graph_spec_equal(const dml_graph_spec *a, const dml_graph_spec *b);

/* The graph of spec on n ranks (random: drawn from seed). DML_EUSAGE with
 * one line when it cannot exist (random:D with D >= n, or n D odd; no
 * simple connected draw) or fails dml_gossip_graph_check. */
dml_status dml_gossip_graph_build(const dml_graph_spec *spec, int n,
                                  uint64_t seed, dml_gossip_graph *g,
                                  dml_error *err);
void dml_gossip_graph_free(dml_gossip_graph *g);

/* Rank r's neighbours and weights at step `step` (>= 0). */
void dml_gossip_graph_peers(const dml_gossip_graph *g, int r, int64_t step,
                            dml_gossip_peers *out);

/* The union over the period of rank r's in- and out-neighbours (weights
 * unset): the adjacency of MPI_Dist_graph_create_adjacent. */
void dml_gossip_graph_union(const dml_gossip_graph *g, int r,
                            dml_gossip_peers *out);

/* W is doubly stochastic at every step of the period and the union of
 * the edges is strongly connected; else DML_EUSAGE saying which. */
dml_status dml_gossip_graph_check(const dml_gossip_graph *g, dml_error *err);

/* Models one rank sends per step (the same for every rank): its
 * out-degree. */
int dml_gossip_graph_degree(const dml_graph_spec *spec, int n);

/* Averaged over the period, with ranks placed g to a node in order
 * (ranks r*g .. r*g+g-1 on node r): the models a rank sends per step to
 * its own node (*intra) and to other nodes (*inter), means over the ranks,
 * and the most models any one node sends out of itself in a step
 * (*node_out, the busiest node link's load). */
void dml_gossip_graph_traffic(const dml_gossip_graph *g, int per_node,
                              double *intra, double *inter,
                              double *node_out);

#endif
