/*
 * cluster_spec.h: the hardware a plan runs on, as read from a cluster spec.
 *
 * A cluster is one or more node groups (several make a heterogeneous
 * cluster). Each group gives its node count, devices per node, the device
 * (peak FLOP/s per dtype, memory and its bandwidth, measured GEMM
 * efficiency points, the efficiency of memory-bound kernels), the links
 * inside a node and between nodes (latency, bandwidth, achievable
 * efficiency), optional alpha-beta fits of measured collectives, node MTBF
 * and checkpoint storage bandwidth. Presets are data/clusters/NAME.json;
 * dml-probe writes the same format through dml_cluster_spec_to_json.
 *
 * The struct is plain data of fixed size so the cost model can read it
 * without allocation and the planner can copy and rescale it.
 */
#ifndef DML_COSTMODEL_CLUSTER_SPEC_H
#define DML_COSTMODEL_CLUSTER_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/json.h"
#include "costmodel/dtype.h"
#include "costmodel/presets.h"

#define DML_CLUSTER_NAME_MAX 64
#define DML_CLUSTER_DESC_MAX 1024
#define DML_CLUSTER_GROUPS_MAX 8
#define DML_GEMM_POINTS_MAX 48
#define DML_FINGERPRINT_MAX 65
#define DML_CLUSTER_MAX_NODES 1000000
#define DML_CLUSTER_MAX_DEVICES_PER_NODE 4096

typedef enum dml_device_type {
    DML_DEVICE_GPU = 0,
    DML_DEVICE_CPU = 1,
} dml_device_type;

/* The collectives a cluster spec may carry measured fits for. */
typedef enum dml_coll_op {
    DML_COLL_ALLREDUCE = 0,
    DML_COLL_ALLGATHER,
    DML_COLL_REDUCESCATTER,
    DML_COLL_ALLTOALL,
    DML_COLL_BROADCAST,
    DML_COLL_OP_COUNT
} dml_coll_op;

/* Link levels: devices inside one node, and nodes with each other. */
typedef enum dml_link_level {
    DML_LINK_INTRA = 0,
    DML_LINK_INTER = 1,
    DML_LINK_LEVEL_COUNT
} dml_link_level;

typedef struct dml_gemm_point {
    dml_dtype dtype;   /* dtype the point was measured in */
    double m, n, k;    /* GEMM shape, elements */
    double efficiency; /* achieved / peak_flops[dtype], (0, 1] */
} dml_gemm_point;

typedef struct dml_device_spec {
    dml_device_type type;                /* gpu or cpu */
    char model[DML_CLUSTER_NAME_MAX];    /* "A100-SXM4-80GB" */
    double peak_flops[DML_DTYPE_COUNT];  /* dense peak per dtype, FLOP/s;
                                            0 = not supported */
    double mem_bytes;                    /* device memory, bytes */
    double mem_bw_Bps;                   /* memory bandwidth, bytes/s */
    int cores;                           /* cores per device (CPU: per rank) */
    int gemm_count;                      /* points used in gemm[] */
    dml_gemm_point gemm[DML_GEMM_POINTS_MAX]; /* measured efficiency curve */
    double membound_efficiency;          /* fraction of mem_bw_Bps that
                                            elementwise kernels reach */
    double kernel_floor_s;               /* least time one GEMM kernel
                                            takes however small (launch
                                            and latency), s; 0 = none */
    double collective_floor_s;           /* least time one collective call
                                            takes, s; 0 = none */
} dml_device_spec;

typedef struct dml_link_spec {
    bool present;       /* given in the spec */
    double latency_s;   /* per message, s */
    double bw_Bps;      /* unidirectional per device, bytes/s */
    double efficiency;  /* achievable fraction of bw_Bps, (0, 1] */
} dml_link_spec;

typedef struct dml_coll_fit {
    bool present;       /* measured */
    double alpha_s;     /* fixed cost per call, s */
    double busbw_Bps;   /* bus bandwidth (nccl-tests definition), bytes/s */
} dml_coll_fit;

typedef struct dml_node_group {
    char name[DML_CLUSTER_NAME_MAX];   /* "dgx-a100" */
    int64_t nodes;                     /* nodes in the group, >= 1 */
    int devices_per_node;              /* devices (GPUs or CPU ranks) */
    dml_device_spec device;            /* every device of the group */
    dml_link_spec links[DML_LINK_LEVEL_COUNT]; /* intra_node, inter_node */
    dml_coll_fit coll[DML_COLL_OP_COUNT][DML_LINK_LEVEL_COUNT];
                                       /* measured fits, op x level */
    double node_mtbf_s;                /* mean time between failures of one
                                          node, s; 0 = unknown */
    double storage_write_Bps;          /* checkpoint write bw per node,
                                          bytes/s; 0 = unknown */
} dml_node_group;

typedef struct dml_cluster_spec {
    char name[DML_CLUSTER_NAME_MAX];        /* "dgx-a100-80g" */
    char description[DML_CLUSTER_DESC_MAX]; /* free text */
    char source[16];                        /* preset | dml-probe | user */
    char fingerprint[DML_FINGERPRINT_MAX];  /* hex; computed when absent */
    int group_count;                        /* groups used */
    dml_node_group groups[DML_CLUSTER_GROUPS_MAX];
} dml_cluster_spec;

/* Empty spec with source "user" and no groups. */
void dml_cluster_spec_init(dml_cluster_spec *c);

/* Defaults for a new group (membound_efficiency 0.8, one node, one device,
 * link efficiencies 1). */
void dml_node_group_init(dml_node_group *g);

/* Read a cluster spec object with full validation (positions in errors). */
dml_status dml_cluster_spec_parse(const dml_json_obj *o, dml_cluster_spec *out,
                                  dml_error *err);
dml_status dml_cluster_spec_read_file(const char *path, dml_cluster_spec *out,
                                      dml_error *err);
dml_status dml_cluster_spec_from_json(const json_t *j, const char *name,
                                      dml_cluster_spec *out, dml_error *err);

/* A preset name (data_dir/clusters/NAME.json) or a file path; an unknown
 * preset is DML_ENOTFOUND. */
dml_status dml_cluster_spec_load(const char *name_or_file,
                                 const char *data_dir, dml_cluster_spec *out,
                                 dml_error *err);

/* Check a struct built in code (dml-probe) before it is written. */
dml_status dml_cluster_spec_validate(const dml_cluster_spec *c,
                                     dml_error *err);

/* The spec as a JSON object in the file format (fingerprint included). */
json_t *dml_cluster_spec_to_json(const dml_cluster_spec *c);

/* Preset names in data_dir/clusters, sorted; free with
 * dml_costmodel_list_free (presets.h). */
dml_status dml_cluster_spec_list(const char *data_dir, char ***names,
                                 size_t *count, dml_error *err);

/*
 * `--nodes N`: make the cluster N nodes in all. With one group the group
 * gets N nodes; with several, N must be a multiple of the current total
 * and every group is scaled by the same factor. More than one node needs an
 * inter_node link (DML_EINPUT otherwise).
 */
dml_status dml_cluster_spec_scale_nodes(dml_cluster_spec *c, int64_t nodes,
                                        dml_error *err);

/*
 * Cut every device into k: on a CPU node of c cores per device, k ranks of
 * c/k cores each (the planner's ranks x threads choice), with peak, memory
 * and bandwidth shared out. A spec of one device per node (dml-probe run
 * without mpirun) has no link between ranks of a node; the cut gets one:
 * shared memory, where a copy reads and writes, so half the device's
 * memory bandwidth and a microsecond per message.
 */
void dml_cluster_spec_cut_devices(const dml_cluster_spec *in, int k,
                                  dml_cluster_spec *out);

/* Total devices: sum over groups of nodes x devices_per_node. */
int64_t dml_cluster_spec_devices(const dml_cluster_spec *c);
int64_t dml_cluster_spec_nodes(const dml_cluster_spec *c);

/* FNV-1a 64 of the per-node hardware (device model, type, peaks, memory,
 * cores, devices per node, link figures; not node counts, so --nodes keeps
 * it, and not measured fits, which vary run to run) as 16 hex digits. */
void dml_cluster_spec_fingerprint(const dml_cluster_spec *c,
                                  char out[DML_FINGERPRINT_MAX]);

const char *dml_coll_op_name(dml_coll_op op);      /* "allreduce", ... */
const char *dml_link_level_name(dml_link_level l); /* "intra_node", ... */

#endif
