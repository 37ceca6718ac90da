/*
 * comm_levels.h: the link levels the communication probes measure, and
 * what they share: the communicator split, which levels a job has, the
 * message-size sweep and the agreement of ranks on success.
 *
 * A cluster has two link levels (docs/formats.md `links`): inside a node
 * (shared memory, NVLink) and between nodes (the network). The ranks of
 * the caller's communicator are split with MPI_Comm_split_type(SHARED)
 * into one intra-node communicator per node, and by local rank into one
 * inter-node communicator per local index (the leaders', local rank 0, is
 * the one measured). Results are valid on rank 0 of the caller's
 * communicator, which is rank 0 of node 0 and of the leaders.
 *
 * Fake nodes: with DML_PROBE_FAKE_NODES=N in the environment of rank 0 (or
 * fake_nodes = N passed to dml_comm_levels_split), the real node layout is
 * ignored and rank r of size s is put on pseudo-node floor(r·N/s), which is
 * r / (s/N) when N divides s. This runs the inter-node code path on one
 * machine (e.g. mpirun -np 4 with N = 2: ranks 0,1 and 2,3 form two
 * "nodes"), for tests; the "inter_node" numbers then measure shared memory.
 */
#ifndef DML_PROBES_COMM_LEVELS_H
#define DML_PROBES_COMM_LEVELS_H

#include <stdbool.h>
#include <stddef.h>

#include <mpi.h>

#include "common/error.h"

/* Environment variable read by dml_comm_levels_split when fake_nodes is 0. */
#define DML_PROBE_FAKE_NODES_ENV "DML_PROBE_FAKE_NODES"

/* Largest number of sizes in one sweep. */
#define DML_COMM_MAX_POINTS 32

typedef enum dml_comm_level {
    DML_COMM_INTRA_NODE = 0,
    DML_COMM_INTER_NODE = 1,
    DML_COMM_LEVEL_COUNT
} dml_comm_level;

/* "intra_node" or "inter_node" (the names of the cluster spec). */
const char *dml_comm_level_name(dml_comm_level level);

typedef struct dml_comm_levels {
    MPI_Comm comm;      /* the caller's communicator (not owned) */
    MPI_Comm intra;     /* the ranks of my node (owned) */
    MPI_Comm inter;     /* the ranks with my local rank, one per node (owned) */
    int rank;           /* my rank in comm */
    int size;           /* ranks in comm */
    int node;           /* my node, 0 .. nodes-1 (node 0 holds rank 0) */
    int local_rank;     /* my rank in intra */
    int nodes;          /* number of nodes */
    int ranks_per_node_min; /* fewest ranks on one node */
    int ranks_per_node_max; /* most ranks on one node (= min when uniform) */
    int fake_nodes;     /* N when nodes were faked (DML_PROBE_FAKE_NODES), else 0 */
} dml_comm_levels;

/*
 * Split comm into levels (collective over comm). fake_nodes > 0 fakes that
 * many nodes; 0 reads DML_PROBE_FAKE_NODES on rank 0 (unset or empty: the
 * real nodes). DML_EINPUT for a fake count that is not in 1..size.
 * Free with dml_comm_levels_free.
 */
dml_status dml_comm_levels_split(MPI_Comm comm, int fake_nodes,
                                 dml_comm_levels *out, dml_error *err);

/* Free the communicators of a split (collective); safe on a zeroed struct. */
void dml_comm_levels_free(dml_comm_levels *lv);

/* Whether level can be measured: intra_node needs >= 2 ranks on every
 * node, inter_node >= 2 nodes. When not, *why (may be NULL) says why. */
bool dml_comm_levels_has(const dml_comm_levels *lv, dml_comm_level level,
                         const char **why);

/* Whether a probe measures level: dml_comm_levels_has, and when it has
 * not, rank 0 logs "<probe>: skipping <level>: <why>" at info level. */
bool dml_comm_levels_usable(const dml_comm_levels *lv, dml_comm_level level,
                            const char *probe);

/* The communicator a rank measures level on, or MPI_COMM_NULL when this
 * rank takes no part in it: intra_node is measured on node 0 only (the
 * node whose results rank 0 reports), inter_node among the leaders. */
MPI_Comm dml_comm_levels_comm(const dml_comm_levels *lv, dml_comm_level level);

/* "2 nodes x 2 ranks per node (faked by DML_PROBE_FAKE_NODES=2)". */
char *dml_comm_levels_describe(const dml_comm_levels *lv, char *buf,
                               size_t size);

/*
 * The pseudo-node of rank in size ranks split into nodes:
 * floor(rank·nodes/size); -1 when the arguments are out of range
 * (size < 1, nodes not in 1..size, rank not in 0..size-1).
 */
int dml_comm_fake_node_of(int rank, int size, int nodes);

/* Parse a fake node count for size ranks ("2"); DML_EINPUT, naming
 * DML_PROBE_FAKE_NODES, unless it is a whole number in 1..size. */
dml_status dml_comm_parse_fake_nodes(const char *text, int size, int *nodes,
                                     dml_error *err);

/* A sweep of message sizes: min_bytes, then ×2^stride_log2 up to max_bytes
 * (OSU and nccl-tests both step by powers of two). */
typedef struct dml_comm_sweep {
    double min_bytes; /* first size, B (>= 1) */
    double max_bytes; /* last size, B (inclusive when on the sweep) */
    int stride_log2;  /* each size is 2^stride_log2 times the previous (>= 1) */
} dml_comm_sweep;

/* Write the sizes of sw into out (at most cap); returns how many, or 0
 * when sw is invalid (min < 1, max < min, stride < 1) or needs more than
 * cap sizes. */
size_t dml_comm_sweep_sizes(const dml_comm_sweep *sw, double *out,
                            size_t cap);

/*
 * Agree on success over comm (collective): returns `local` when it is not
 * DML_OK (err already filled by the caller), DML_ERUNTIME when another rank
 * failed, DML_OK when every rank succeeded. Used before a measurement so
 * that one rank's failed allocation does not leave the others waiting.
 */
dml_status dml_comm_agree(MPI_Comm comm, dml_status local, dml_error *err);

/*
 * A barrier that sleeps instead of spinning. Ranks waiting while another
 * rank of their node measures memory bandwidth or GEMM must leave the cores
 * alone: a busy-polling MPI barrier on an oversubscribed node would both
 * slow the measurement and falsify it.
 */
dml_status dml_comm_wait_quietly(MPI_Comm comm, dml_error *err);

/*
 * End of one level's measurement (collective over lv->comm): every rank
 * waits quietly (dml_comm_wait_quietly) until the ranks measuring it are
 * done, then all agree on success as dml_comm_agree does. Ranks that take
 * no part in a level call it at once, so that they sleep instead of
 * spinning in their next MPI call while others measure: on nodes that
 * share cores (scripts/emu-cluster) a spinning rank delays every message
 * of the measurement by a scheduler time slice.
 */
dml_status dml_comm_levels_done(const dml_comm_levels *lv, dml_status local,
                                dml_error *err);

/* Map an MPI return code to DML_EMPI with MPI's message ("what: message"). */
dml_status dml_comm_check(int mpi_rc, const char *what, dml_error *err);

#endif
