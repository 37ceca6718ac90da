/*
 * sync_gossip.c: decentralised SGD, priced (sync=gossip:G and CHOCO's
 * gossip:G:topk:K; the executor's executor/sync/gossip.c).
 *
 * After its own step each replica sends its weights (in the training
 * dtype, the whole model) to each of its out-neighbours on graph G
 * (costmodel/gossip_graph.h): degree x model bytes a replica a step, no
 * reduction, nothing hidden (the next step's forward needs the mixed
 * weights). CHOCO sends the top-K fraction of the change of its public
 * copy instead, values with their 4-byte indices, and pays the selection
 * and the mixing in memory traffic.
 *
 * Time of one step's exchange: the ranks place g to a node in order (as
 * mpirun's default by-slot mapping does); the busiest node's messages out
 * of it go over its g ranks' node-node links together
 * (dml_gossip_graph_traffic's node_out, averaged over the period of a
 * graph that changes), its ranks' messages inside the node over the
 * device-device link, each neighbour exchange a latency. A random:D
 * graph is priced on the draw of seed 0 (the traffic of another draw
 * differs by a message or two a node). Every 50 steps the executor
 * measures the consensus distance with an allreduce of the weights
 * (gossip.c): a fiftieth of that is added to the time, and not to the
 * bytes, which count the gossip alone as the executor does.
 *
 * What gossip costs in convergence (more steps to a target: the replicas
 * never agree exactly) is not a time of the step: the planner takes it
 * from measured runs (planner/convergence).
 */
#include <math.h>

#include "costmodel/gossip_graph.h"
#include "costmodel/sync.h"

/* The consensus measure's period, in steps (gossip.c's default). */
#define CONSENSUS_EVERY 50.0

static void gossip_exchange(const dml__step *st, const dml_sync_rank *rank,
                            dml_sync_exchange *out)
{
    memset(out, 0, sizeof *out);
    const dml_coll_group *g = &st->dpg;
    dml_gossip_graph graph;
    dml_error err;
    if (g->ranks <= 1 ||
        dml_gossip_graph_build(&st->sync.graph, g->ranks, 0, &graph,
                               &err) != DML_OK)
        return; /* one replica, or a graph refused (plan.c refuses it) */
    double per_node = g->ranks_per_node > 0 ? g->ranks_per_node : 1;
    double intra = 0, inter = 0, node_out = 0;
    dml_gossip_graph_traffic(&graph, (int)per_node, &intra, &inter,
                             &node_out);
    dml_gossip_graph_free(&graph);
    double w_bytes = rank->params * st->ctx->state.param;
    double k = st->sync.compress;
    double msg = k > 0 ? rank->params * k * (st->ctx->state.param + 4.0)
                       : w_bytes;
    double inter_s = 0, intra_s = 0;
    if (inter > 0)
        inter_s = g->inter.latency_s * ceil(inter) +
                  node_out * msg /
                      (per_node * g->inter.bw_Bps * g->inter.efficiency);
    if (intra > 0)
        intra_s = g->intra.latency_s * ceil(intra) +
                  intra * msg / (g->intra.bw_Bps * g->intra.efficiency);
    out->reduce_s = (inter_s * g->scale_inter > intra_s * g->scale_intra
                         ? inter_s * g->scale_inter
                         : intra_s * g->scale_intra) +
                    dml_collective_time(g, DML_COLL_ALLREDUCE, w_bytes,
                                        &out->algo) /
                        CONSENSUS_EVERY;
    /* mixing reads the neighbours' weights and writes its own; CHOCO
     * also selects (reads the change twice) and keeps two public copies */
    double degree = intra + inter;
    double mem = k > 0 ? (6.0 + degree * k * 2.0) * w_bytes
                       : (2.0 + degree) * w_bytes;
    out->reduce_s += dml__mem_time(st->ctx, mem);
    out->bytes_intra = intra * msg;
    out->bytes_inter = inter * msg;
}

const dml_sync_pricer dml_sync_gossip = {"gossip", gossip_exchange, NULL,
                                         true};
