/*
 * sync.h: how data-parallel replicas exchange gradients (or weights), as
 * strategies behind one interface.
 *
 * Every way of moving gradients or weights between the data-parallel
 * replicas of a plan is a strategy with two halves of the same name
 * (DESIGN.md): a file here that does it, and a pricer in the cost model
 * that says what it costs (costmodel/sync.h). The halves agree on three
 * things: what is sent (which collectives, on how many bytes), when
 * (behind which part of the backward pass, or after the optimizer), and
 * which parameters each rank updates. The pricer predicts from the plan;
 * the strategy here counts what it really sent (dml_sync.sent, below), so
 * the two can be compared run by run.
 *
 *   executor (here)   cost model (costmodel/)    plan knobs
 *   "allreduce"       dml_sync_dense, zero = 0   sync=allreduce, zero=0
 *   "zero1"           dml_sync_dense, zero = 1   sync=allreduce, zero=1,
 *                                                dp > 1
 *   "hierarchical"    dml_sync_hierarchical      sync=hierarchical,
 *   "hierarchical-zero1"                         zero=0 or 1
 *   "fp16", "bf16"    dml_sync_half              sync=fp16 or bf16,
 *   "fp16-zero1", "bf16-zero1"                   zero=0 or 1
 *   "topk"            dml_sync_topk              sync=topk:K, zero=0
 *   "topk-noef"       dml_sync_topk              sync=topk-noef:K, zero=0
 *   "powersgd"        dml_sync_powersgd          sync=powersgd:R, zero=0
 *   "local"           dml_sync_local             sync=local:H or
 *                                                local:H:W, zero=0
 *   "ssp"             dml_sync_ssp               sync=ssp:S, zero=0,
 *                                                tp=1
 *   "gossip"          dml_sync_gossip            sync=gossip:G or
 *                                                gossip:G:topk:K, zero=0
 *
 * (The cost model's dense pricer prices ZeRO 0-3 in one function; the
 * executor runs ZeRO 0 and 1, each its own file, because what a rank
 * does differs: a whole replica updated, or a shard and a gather.)
 *
 * The life of a strategy within one run, in the order the training loop
 * calls it (exec.c):
 *
 *   setup          once: its buffers (the ZeRO-1 gradient shard) and what
 *                  this rank updates (the owned ranges, below);
 *   per step
 *     grad_ready   backward of the step's last micro-batch has finished a
 *                  layer: its gradients are final, so a strategy that
 *                  overlaps starts the non-blocking reduction of every
 *                  bucket now complete (Megatron's and DDP's overlap);
 *     reduce_finish the backward pass is over: start what is left and
 *                  wait; the reduced gradient of every owned range is
 *                  then where the optimizer reads it;
 *                  (the optimizer updates the owned ranges: update.h)
 *     next_update  after reduce_finish, once or more: the reduced
 *                  gradient the optimizer applies next, at s->owned, and
 *                  the step whose gradient it is (NULL: one a step, the
 *                  step's own; ssp.c applies each step's exchange when it
 *                  has arrived, none, one or several a step, and waits
 *                  only for the one S steps old; with `drain` it waits
 *                  for every exchange it started);
 *     step_finish  after the update: bring every rank's parameters up to
 *                  date (ZeRO-1's all-gather of the shards, local SGD's
 *                  periodic average);
 *   progress       between layers (NULL: the engine tests s->req): let
 *                  MPI move what the strategy keeps in flight beyond the
 *                  step (ssp.c's older steps);
 *   finish         once, after the last step, before evaluation and the
 *                  weight file (local SGD's last average); NULL: nothing;
 *   state          what the strategy keeps between steps that a resumed
 *                  run needs (top-k's residuals, a staleness clock): the
 *                  number of values, saved after the optimizer state in
 *                  each checkpoint shard and restored from it; NULL for a
 *                  strategy without state (allreduce, zero1);
 *   teardown       once: free what setup made.
 *
 * The shared engine (sync.c) owns the rest: the buckets the flat gradient
 * buffer is cut into, their requests, letting MPI progress between layers,
 * the time the step waits (comm_s), and the count of bytes sent.
 *
 * A strategy that needs several collectives in a row on each bucket (node
 * by node: reduce-scatter, then allreduce, then all-gather) gives a `next`
 * function: when bucket k's collective completes, the engine calls it to
 * start the next one into s->req[k]. MPI needs every rank to start the
 * collectives of one communicator in the same order, and ranks see
 * completions in different orders, so the engine calls `next` for the
 * buckets in the order they were started: a bucket's n-th collective
 * starts only after the n-th of every bucket started before it. (A
 * strategy whose later collectives share a communicator with the first
 * ones would still interleave them by timing: it uses a second handle on
 * those ranks, dml_dp_nodes.node_late.)
 *
 * Bytes sent are counted by the strategy as it starts each collective
 * (dml__sync_sent): the buffer's bytes times the cost model's bus
 * bandwidth factor of the collective (dml_collective_busbw_factor:
 * allreduce 2 (n-1)/n, reduce-scatter and all-gather (n-1)/n), which is
 * what one rank sends under the ring algorithm, the volume any
 * bandwidth-optimal algorithm moves, and what the pricer prices. A ring
 * sends to the next rank of the data-parallel group, so the bytes are put
 * on the link to it: inside the node when that rank shares this one's
 * node (MPI_Comm_split_type with MPI_COMM_TYPE_SHARED), between nodes
 * when not. (Open MPI's libnbc is told to use the ring for
 * MPI_Iallreduce: dml_exec_mpi_preinit.) Averaged over the group this is
 * the pricer's dml_sync_cost.bytes_intra and bytes_inter (with g ranks of
 * the group to a node, one ring hop in g crosses nodes); the executor's
 * buffer is padded to a multiple of dp values, the pricer counts the
 * parameters alone. A strategy that runs its collectives on a
 * communicator of one level (the ranks of its node, or one rank per node)
 * counts them on that level (dml__sync_sent_on).
 *
 * How to add a strategy: write executor/sync/NAME.c with its functions and
 * one `const dml_sync_strategy` descriptor (declared below) named
 * dml_sync_NAME, or a shorter name where the cost model's pricer already
 * holds that one (dml_sync_hier: the pricers are dml_sync_hierarchical,
 * _half, _topk, _powersgd, _local, _ssp, and two static libraries
 * defining one name link without a word, the first found serving both);
 * add it to executor/CMakeLists.txt; return it from dml_sync_strategy_for
 * (sync.c) for the plans that ask for it, the plan knob that selects it
 * (parallel.sync, whose values costmodel/sync_spec.h names, and
 * parallel.zero); executor/input.c refuses a plan whose strategy has no
 * file here. Write its
 * pricer, costmodel/sync_NAME.c, under the same name (costmodel/sync.h,
 * "How to add a strategy"). Add its layouts to
 * tests/integration/executor/exec_equivalence.sh (a strategy that changes
 * the mathematics, such as top-k, gets its own bound instead) and check
 * that its counted bytes match what its pricer assumes
 * (tests/integration/executor/sync_check.c).
 */
#ifndef DML_EXECUTOR_SYNC_SYNC_H
#define DML_EXECUTOR_SYNC_SYNC_H

#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/cluster_spec.h"
#include "costmodel/plan.h"
#include "executor/groups.h"
#include "executor/stage.h"

typedef struct dml_sync dml_sync;

/* One data-parallel gradient bucket: [lo, hi) of the flat buffers. */
typedef struct dml_sync_bucket {
    size_t lo, hi;       /* range in the flat gradient buffer, values */
    size_t chunk;        /* (hi - lo) / dp: one rank's ZeRO-1 shard */
    size_t shard_off;    /* offset of this rank's shard in the compact
                            shard arrays (gradient shard, optimizer state) */
    bool launched;       /* its collective has been started this step */
    int phase;           /* collectives started on it this step (`next`) */
    bool done;           /* its last collective has completed (`next`) */
} dml_sync_bucket;

/* A range of the flat parameter buffer this rank updates, and where the
 * reduced gradient of that range lies after reduce_finish. */
typedef struct dml_sync_owned {
    size_t lo, hi;       /* [lo, hi) of the flat buffers, values */
    const float *grad;   /* the reduced gradient of lo .. hi-1 */
    size_t state_off;    /* offset of lo's optimizer state, values */
} dml_sync_owned;

/* Bytes this rank sent, by the link they took. */
typedef struct dml_sync_bytes {
    double intra_node;   /* to a rank on this node, bytes */
    double inter_node;   /* to a rank on another node, bytes */
} dml_sync_bytes;

typedef struct dml_sync_strategy {
    const char *name;    /* as the cost model names it (table above) */
    /* Buffers and owned ranges (s->owned, nowned, nstate, replicas). */
    dml_status (*setup)(dml_sync *s, dml_error *err);
    /* Start the reduction of bucket k (non-blocking, request s->req[k]);
     * the engine calls it for each bucket once per step, from the last. */
    void (*start)(dml_sync *s, int k);
    /* Bucket k's collective number b->phase has completed: start the
     * next into s->req[k] and return true, or return false when the
     * bucket is reduced. NULL: one collective per bucket. */
    bool (*next)(dml_sync *s, int k);
    /* After the optimizer; NULL: nothing to do. */
    void (*step_finish)(dml_sync *s);
    /* Values of state to checkpoint (floats); NULL: none. */
    size_t (*state_values)(const dml_sync *s);
    void (*state_save)(const dml_sync *s, float *out);
    void (*state_restore)(dml_sync *s, const float *in);
    /* The state is the same on every rank of every layout (ssp's clock,
     * saved where nothing is in flight): a checkpoint of another layout
     * hands it on (executor/ckpt_relayout.h). False: it belongs to the
     * replicas that made it (residuals, local weights), and a checkpoint
     * of another layout is refused. */
    bool state_layout_free;
    /* SGD's momentum belongs to the strategy, which applies it to each
     * replica's own gradient before it compresses (top-k's momentum
     * correction, topk.c): dml_sync_take_momentum hands it s->momentum
     * and the optimizer steps without. */
    bool own_momentum;
    /* Free what setup made; NULL: nothing. */
    void (*teardown)(dml_sync *s);
    /* The next reduced gradient to apply (see above); NULL: the step's. */
    bool (*next_update)(dml_sync *s, bool drain, int64_t *step);
    /* Between layers; NULL: the engine tests s->req. */
    void (*progress)(dml_sync *s);
    /* After the last step (collective over dp_comm); NULL: nothing. */
    void (*finish)(dml_sync *s);
} dml_sync_strategy;

/* Before a bucket's gradients are reduced in place: lets the gradient
 * noise estimate see each replica's own gradient (noise.h). */
typedef void (*dml_sync_pre_reduce_fn)(void *ctx, const float *grads,
                                       size_t lo, size_t hi);

struct dml_sync {
    const dml_sync_strategy *strategy; /* the plan's (dml_sync_strategy_for) */
    dml_stage *st;            /* the rank's flat buffers (borrowed) */
    MPI_Comm dp_comm;         /* data-parallel group (borrowed) */
    int dp, dp_i;             /* its size and this rank's place */
    dml_dp_nodes nodes;       /* dp_comm node by node (communicators
                                 borrowed) */
    dml_sync_bucket *buckets; /* [nbuckets] by increasing offset */
    int nbuckets;
    MPI_Request *req;         /* [nbuckets] */
    int *order;               /* [nbuckets] buckets in the order started */
    int nstarted;             /* entries of order this step */
    int *completed;           /* [nbuckets] MPI_Testsome's indices */
    size_t final_lo;          /* gradients at offsets >= this are final */
    dml_sync_owned *owned;    /* [nowned] what this rank updates */
    int nowned;
    size_t nstate;            /* values owned = optimizer state per slot */
    int replicas;             /* DP ranks that update each owned value:
                                 dp (allreduce) or 1 (sharded, zero1) */
    void *impl;               /* the strategy's own (zero1: its reduced
                                 gradient shard) */
    dml_sync_spec spec;       /* the plan's sync knob; its number is
                                 top-k's fraction K, PowerSGD's rank R
                                 (costmodel/sync_spec.h) */
    uint64_t seed;            /* the run's seed (PowerSGD's first Q) */
    dml_sync_pre_reduce_fn pre_reduce; /* NULL: none this step */
    void *pre_reduce_ctx;
    double comm_s;            /* this step's exposed sync time, s */
    dml_sync_bytes sent;      /* this step's bytes sent */
    int lag;                  /* steps a rank may run ahead of the
                                 slowest (ssp:S: S; else 0): the steps'
                                 statistics are summed that late */
    bool grad_summed;         /* this step's update reads the sum of
                                 this step's gradients over the replicas
                                 (false: local SGD's local steps, ssp:S
                                 with S > 0; the noise scale needs it) */
    double staleness;         /* steps of other replicas' gradients the
                                 weights this step read lacked (ssp:S,
                                 0..S); NAN: the strategy has none */
    double momentum;          /* SGD's momentum when the strategy
                                 applies it (own_momentum), else 0 */
    bool updated;             /* the step's one update was handed out
                                 (strategies without next_update) */
    double consensus;         /* the replicas' mean squared distance to
                                 their mean weights, measured this step
                                 (gossip, every few steps); NAN: not */
};

extern const dml_sync_strategy dml_sync_allreduce;
extern const dml_sync_strategy dml_sync_zero1;
extern const dml_sync_strategy dml_sync_hier;
extern const dml_sync_strategy dml_sync_hier_zero1;
extern const dml_sync_strategy dml_sync_fp16;       /* half.c */
extern const dml_sync_strategy dml_sync_bf16;
extern const dml_sync_strategy dml_sync_fp16_zero1;
extern const dml_sync_strategy dml_sync_bf16_zero1;
extern const dml_sync_strategy dml_sync_topk_ef;    /* topk.c */
extern const dml_sync_strategy dml_sync_topk_noef;
extern const dml_sync_strategy dml_sync_psgd;       /* powersgd.c */
extern const dml_sync_strategy dml_sync_localsgd;   /* local.c */
extern const dml_sync_strategy dml_sync_stale;      /* ssp.c */
extern const dml_sync_strategy dml_sync_decentral;  /* gossip.c */

/* Bytes this rank sent to measure the consensus distance (gossip.c;
 * not in `sent`); 0 for the other strategies. */
double dml_sync_gossip_consensus_bytes(const dml_sync *s);

/* The strategy of a plan on dp replicas (its parallel.sync): zero1 for
 * ZeRO >= 1 with dp > 1, else allreduce; hierarchical_zero1 or
 * hierarchical alike for sync=hierarchical (allreduce, which does
 * nothing, with one replica); NULL for a strategy this executor has no
 * file for (executor/input.c refuses the plan then). */
const dml_sync_strategy *dml_sync_strategy_for(const dml_parallel_config *par,
                                               int dp);

/* Cut st's flat buffers into buckets of bucket_bytes (> 0) and set the
 * strategy up for the group dp_comm (no communication: a rank that fails
 * here cannot leave the others waiting). spec: the plan's sync knob (its
 * number parametrises top-k and PowerSGD; NULL: allreduce), seed: the
 * run's. nodes: dp_comm node by node (dml_groups.dp_nodes; a test may
 * fake the nodes), copied, its communicators borrowed. *out NULL on
 * failure. */
dml_status dml_sync_open(const dml_sync_strategy *strategy,
                         const dml_sync_spec *spec, uint64_t seed,
                         dml_stage *st, MPI_Comm dp_comm,
                         const dml_dp_nodes *nodes, size_t bucket_bytes,
                         dml_sync **out, dml_error *err);
void dml_sync_close(dml_sync *s);

/* Before the optimizer is set up (update.h, which reads s->momentum):
 * give a strategy that applies SGD's momentum itself (own_momentum) the
 * schedule's, when the optimizer is SGD with momentum. */
void dml_sync_take_momentum(dml_sync *s, const dml_train_schedule *sched);

/* A new step: no bucket started, no time or bytes counted; pre_reduce
 * (may be NULL) sees each bucket before it is reduced. */
void dml_sync_begin_step(dml_sync *s, dml_sync_pre_reduce_fn pre_reduce,
                         void *ctx);

/* Layer local_layer of the stage has its final gradient (a
 * dml_stage_layer_done for the step's last micro-batch; ctx is the
 * dml_sync). Starts every bucket at or above it. With one replica this
 * and dml_sync_reduce_finish do nothing. */
void dml_sync_grad_ready(void *ctx, int local_layer);

/* Let MPI move the reductions in flight (Open MPI progresses non-blocking
 * collectives only inside MPI calls). */
void dml_sync_progress(dml_sync *s);

/* Start what has not started and wait for all of it. */
void dml_sync_reduce_finish(dml_sync *s);

/* The strategy's step_finish, timed into comm_s. */
void dml_sync_step_finish(dml_sync *s);

/* After dml_sync_reduce_finish of step `step`: true while there is a
 * reduced gradient for the optimizer to apply now, at s->owned, and
 * *update_step the step it belongs to (the optimizer's step count and
 * rate); call until false. Without the strategy's next_update: once, the
 * step's own. drain: wait for every exchange in flight (a collective
 * point: checkpoint, evaluation, the end), so that the replicas then hold
 * one model. Waiting is timed into comm_s. */
bool dml_sync_next_update(dml_sync *s, int64_t step, bool drain,
                          int64_t *update_step);

/* After the last step: the strategy's finish (collective over the
 * data-parallel group), timed into comm_s. */
void dml_sync_finish(dml_sync *s);

/* Values of state the strategy keeps for a checkpoint (0: none). */
size_t dml_sync_state_values(const dml_sync *s);
void dml_sync_state_save(const dml_sync *s, float *out);
void dml_sync_state_restore(dml_sync *s, const float *in);

/* For the strategies' files: count what one collective op on a buffer of
 * `bytes` (nccl-tests size) sends from this rank, on the ring. */
void dml__sync_sent(dml_sync *s, dml_coll_op op, double bytes);

/* The same for a collective among `ranks` ranks that all share a node
 * (inter false) or are all on different nodes (inter true). */
void dml__sync_sent_on(dml_sync *s, dml_coll_op op, double bytes, int ranks,
                       bool inter);

/* For the strategies whose checkpointed state is a step count (local.c,
 * ssp.c): state_values, the count in two floats (each half below 2^24,
 * so exact), and the count read back. */
size_t dml__sync_count_values(const dml_sync *s);
void dml__sync_count_save(int64_t count, float *out);
int64_t dml__sync_count_restore(const float *in);

/* The teardown of a strategy whose state (s->impl) is one malloc'd
 * block. */
void dml__sync_free_impl(dml_sync *s);

/* For the strategies' files (allreduce.c, half.c, topk.c, powersgd.c):
 * this rank updates every value (s->owned the whole buffer, nstate
 * nflat, replicas dp), reading the reduced gradient in place. */
dml_status dml__sync_own_all(dml_sync *s, dml_error *err);

/* For the sharded strategies' files (zero1.c, half.c): own this rank's
 * 1/dp of every bucket (s->owned, nowned, nstate, replicas 1), its reduced
 * gradient at shard + the bucket's shard_off. */
dml_status dml__sync_own_shards(dml_sync *s, const float *shard,
                                dml_error *err);

/* After the update of the owned shards: every rank's parameters from
 * their owners (one all-gather per bucket, waited for). */
void dml__sync_gather_shards(dml_sync *s);

#endif
