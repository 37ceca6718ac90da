/*
 * link_share.h: the inter-node bandwidth each device gets when all of a
 * node's ranks send to other nodes at once.
 *
 * A cluster spec's links.inter_node.bw_Bps is per device (docs/formats.md):
 * a DGX gives each GPU its own NIC, so one pair of ranks measures it, but
 * the ranks of a CPU node usually share one NIC (and the nodes of
 * scripts/emu-cluster share one shaped link each), so a pair alone sees g
 * times what each of g ranks gets when all of them send, as a
 * data-parallel exchange or a pipeline with tensor parallelism does. The
 * point-to-point probe (p2p.h) measures one pair, the node leaders, with
 * every other rank quiet; this measures every place l of a node at once:
 * the node's l-th rank on the first node streams to the l-th rank on the
 * last node (osu_bw's windows of large messages, after a warm-up message),
 * all places together, and the slowest pair's rate is the figure: what a
 * collective of all of them waits for (issue 14).
 */
#ifndef DML_PROBES_LINK_SHARE_H
#define DML_PROBES_LINK_SHARE_H

#include "common/error.h"
#include "probes/comm_levels.h"

/*
 * Collective over lv->comm. Each pair streams `bytes` (rounded to 1 MiB
 * messages, at least one) `reps` times (>= 1); *per_device_Bps (valid on
 * every rank) gets the slowest pair's best repetition, B/s, or 0 where
 * lv has no inter_node level (one node). DML_EMPI when MPI fails.
 */
dml_status dml_link_share_measure(const dml_comm_levels *lv, double bytes,
                                  int reps, double *per_device_Bps,
                                  dml_error *err);

#endif
