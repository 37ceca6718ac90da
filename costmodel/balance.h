/*
 * balance.h: splitting a step's work over devices of unequal speed (issue
 * 16): the data-parallel micro-batch shares, the pipeline's stage
 * boundaries, and the knob that chooses between an even split and a
 * balanced one.
 *
 * Synchronous training runs at the pace of its slowest rank. On a cluster
 * whose devices differ (node groups of cluster_spec.h, or measured node
 * speeds), an even split leaves the fast devices waiting; the remedy, as
 * HetPipe, Whale and Metis plan it, is to give each data-parallel replica
 * a number of micro-batches in proportion to its speed (the global batch
 * and the gradient unchanged: every sample's gradient is scaled by 1/B and
 * the replicas' gradients are summed, so the sum is the same average over
 * the same samples whoever computed which), and each pipeline stage a
 * number of layers that its device finishes in the same time (dynamic
 * programming over the layer boundaries, as Metis and AMP do).
 *
 *   balance=equal    every replica the same micro-batches, the even split
 *                    of the layers (dml_plan_split_stages)
 *   balance=static   shares and boundaries from the devices' speeds (the
 *                    cluster spec's groups, or speeds measured by earlier
 *                    runs), fixed for the run
 *   balance=dynamic  static, the data-parallel shares re-planned while
 *                    running from the compute times dml-exec measures
 *                    (executor/rebalance.h)
 *
 * The algorithms here are plain arithmetic on arrays the caller owns (no
 * allocation), so the cost model can call them for every configuration it
 * prices and the executor for every re-plan, and both get the same answer.
 */
#ifndef DML_COSTMODEL_BALANCE_H
#define DML_COSTMODEL_BALANCE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum dml_balance {
    DML_BALANCE_EQUAL = 0,   /* the even split */
    DML_BALANCE_STATIC = 1,  /* by the devices' speeds, fixed */
    DML_BALANCE_DYNAMIC = 2, /* static, re-planned while running */
    DML_BALANCE_COUNT
} dml_balance;

/* Runs of a plan's data-parallel shares at most (placement.dp_shares). */
#define DML_PLAN_SHARES_MAX 64

/* Consecutive data-parallel replicas (in rank order) that take the same
 * number of micro-batches a step. */
typedef struct dml_dp_share {
    int64_t replicas;     /* replicas in the run, >= 1 */
    int64_t microbatches; /* micro-batches each runs per step, >= 1 */
} dml_dp_share;

/* Items the stage partition's dynamic programme splits at most (an MLP
 * has at most 65 layers; identical transformer layers take
 * dml_balance_partition_uniform, which has no limit). */
#define DML_BALANCE_ITEMS_MAX 72

const char *dml_balance_name(dml_balance b); /* "equal", "static", ... */
bool dml_balance_parse(const char *text, dml_balance *out);

/*
 * Largest-remainder apportionment: total units over n parts in proportion
 * to weight[i] (> 0), every part at least `least` (total >= n x least);
 * ties of the remainder go to the lower index. Sum of out = total. The
 * executor scales a plan's shares to a batch-ramp step this way.
 */
void dml_balance_apportion(int64_t total, const double *weight, int n,
                           int64_t least, int64_t *out);

/*
 * Micro-batch shares of n classes of replicas: class k has count[k]
 * replicas, each taking first[k] + slope[k] (m - 1) seconds for m >= 1
 * micro-batches (a pipeline: fill and drain, then one slowest stage per
 * micro-batch; slope > 0). Minimises the slowest replica's time with
 * every replica at least one micro-batch and the sum over replicas of m
 * equal to total (>= sum of count). Class k's replicas get m[k], except
 * its first up[k] (0 <= up[k] < count[k]) which get m[k] + 1. Returns the
 * slowest replica's time, s.
 */
double dml_balance_shares(int n, const int64_t *count, const double *first,
                          const double *slope, int64_t total, int64_t *m,
                          int64_t *up);

/* One pipeline stage of a partition: the device it runs on. */
typedef struct dml_balance_stage {
    double time_per_work; /* its seconds per unit of the items' work */
    double extra_s;       /* time it spends besides its items (the
                             embedding on the first, the head on the
                             last), s */
    double inflight;      /* activation copies of its items it keeps
                             (micro-batches in flight) */
    double mem_cap_bytes; /* bytes its items may take (device memory less
                             what it holds anyway); INFINITY: no limit */
} dml_balance_stage;

/*
 * Cut n items (layers, in order; 1 <= n <= DML_BALANCE_ITEMS_MAX) into p
 * contiguous runs, each at least one item, run r on stage[r]: minimises
 * the largest stage time extra_s + time_per_work x (work of its items),
 * with each stage's param_bytes + inflight x act_bytes of its items
 * within mem_cap_bytes (dynamic programming over the boundaries, O(p n^2)).
 * count[r] gets the items of run r. false (count untouched) when no cut
 * fits the memory, p > n or n > DML_BALANCE_ITEMS_MAX.
 */
bool dml_balance_partition(int n, const double *work,
                           const double *param_bytes, const double *act_bytes,
                           int p, const dml_balance_stage *stage,
                           int64_t *count);

/* The same for n identical items (a transformer's layers), for any n:
 * the least bottleneck found by bisection on the time, then the items
 * beyond n taken from the stages that finish last. false when no cut
 * fits (count then holds nothing of use). */
bool dml_balance_partition_uniform(int64_t n, double work, double param_bytes,
                                   double act_bytes, int p,
                                   const dml_balance_stage *stage,
                                   int64_t *count);

/* The largest stage time of a cut (count[r] items on stage r), s; the
 * objective both partitions minimise. */
double dml_balance_bottleneck(int n, const double *work, int p,
                              const dml_balance_stage *stage,
                              const int64_t *count);

#endif
