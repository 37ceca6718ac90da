/*
 * search.h: enumerate the parallel configurations of a model on a number of
 * devices, price each with the cost model, keep the best K.
 *
 * The space is dp x tp x pp x v x mbs x ZeRO stage x recompute x sequence
 * parallel x data-parallel strategy x attention kernel (with the pipeline
 * schedule that v implies:
 * 1f1b for v = 1, interleaved for v > 1; gpipe only when fixed), gradient
 * accumulation making up the global batch; knobs fixed by the caller are
 * not searched. The attention kernel is searched only for a transformer
 * whose spec names none (a spec that names one fixes it, an MLP has
 * none); under flash, recompute=selective is not proposed (it would price
 * as recompute=none, space.h). The strategy (sync) is the flat allreduce,
 * and also hierarchical where the DP group spans nodes with more than one
 * replica on each (anywhere else the two are the same ring), unless the
 * caller fixes it; a request with a strategy menu (a target to rank by,
 * convergence.h) tries each strategy of it where dp > 1, and multiplies
 * each candidate's score by its strategy's steps to the target over
 * dense's (sync_factor: time to the target, up to dense's steps, which
 * every candidate shares). Every candidate is for the space's
 * framework, and what that runtime cannot run is rejected ("framework").
 * Rules (space.h) cut branches before anything is priced; the cost model
 * is prepared once and priced with dml_costmodel_step_time, which does not
 * allocate, and nothing in the loop allocates either.
 *
 * Pruning that cannot lose a plan:
 * - recompute: none, selective, full cost strictly more time in that
 *   order and save memory, so once one fits the rest are dominated;
 * - mbs: a larger micro-batch never needs less memory for the same other
 *   knobs (activations ~ mbs x min(in-flight, micro-batches) = min(mbs x
 *   in-flight, B/dp), buffers ~ mbs), so when no recompute choice fits at
 *   one mbs no larger mbs is priced.
 * Both can be turned off (req.prune = false) to check that claim.
 *
 * The kept plans live in a heap that grows with what fits, up to top_k
 * (at most DML_PLANNER_TOP_MAX): memory follows the feasible plans, not
 * the request, so "all" costs what there is to keep.
 *
 * With an automatic global batch the candidates' batches are searched in
 * the same pass and ranked by time to target S_min (1 + B_noise/B) x step
 * time (McCandlish et al. 2018); with a fixed batch by step time.
 */
#ifndef DML_PLANNER_SEARCH_H
#define DML_PLANNER_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/step_time.h"
#include "planner/config.h"
#include "planner/space.h"

#define DML_PLANNER_TOP_MAX 10000 /* most plans a search keeps (and
                                     dml-plan makes, ~20 kB each) */
#define DML_PLANNER_MSG_MAX 256  /* one rejection message */
#define DML_SEARCH_SYNC_MAX 40   /* strategies a search tries */

typedef struct dml_candidate {
    dml_parallel_config par;   /* configuration, microbatches included */
    int64_t global_batch;      /* samples per step */
    dml_prediction pred;       /* the cost model's answer */
    double score_s;            /* ranking key, s: step time, or time to
                                  target with an automatic batch */
    int split;                 /* request tag (CPU ranks x threads split) */
    uint64_t order;            /* enumeration index, breaks ties */
} dml_candidate;

typedef struct dml_search_request {
    const dml_costmodel_ctx *ctx;  /* prepared for model and cluster */
    dml_planner_space space;       /* rules and device count */
    dml_planner_config fixed;      /* knobs not searched */
    int64_t global_batch;          /* samples per step; 0 = batches[] */
    const int64_t *batches;        /* automatic batch: the choices */
    int batch_count;               /* entries in batches */
    double noise_scale;            /* B_noise, samples (automatic batch) */
    double s_min;                  /* S_min, steps (automatic; <= 0: 1) */
    int split;                     /* copied into every candidate */
    bool prune;                    /* dominance pruning (see above) */
    const dml_sync_spec *syncs;    /* strategies to try where sync is not
                                      fixed, allreduce first (NULL: the
                                      flat ring, and hierarchical where
                                      it differs) */
    const double *sync_factor;     /* [nsyncs] each one's steps to the
                                      target over dense's (NULL: 1) */
    int nsyncs;                    /* entries, <= DML_SEARCH_SYNC_MAX */
    double fixed_factor;           /* a fixed sync's factor (0: 1) */
} dml_search_request;

/*
 * Where one plan falls among everything a search prices (dml-plan
 * --config: "#654 of 2,145 feasible"). Set on and target before the
 * search; every feasible candidate that the finished ranking would put
 * ahead of target (dml_candidate_better, with the enumeration order of
 * this search for exact ties; every tie when the search never meets
 * target) is counted, without keeping it.
 */
typedef struct dml_search_rank {
    bool on;                /* count for target */
    dml_candidate target;   /* its score_s, split and configuration */
    bool seen;              /* the search priced target's configuration
                               (false: it does not propose it: gpipe,
                               selective with flash, or pruned as
                               dominated) */
    int64_t before;         /* feasible candidates ranked ahead of it */
} dml_search_rank;

typedef struct dml_search_result {
    int64_t candidates;      /* configurations priced by the cost model */
    int64_t feasible;        /* of those, fitting in device memory */
    int64_t pruned;          /* not priced: dominated or sure not to fit */
    int64_t rejected[DML_REJECT_COUNT]; /* per reason; a rule broken at an
                                           outer loop counts once */
    char example[DML_REJECT_COUNT][DML_PLANNER_MSG_MAX]; /* first message
                                                           per reason */
    bool have_smallest;      /* some priced configuration was over memory */
    dml_candidate smallest;  /* the over-memory one needing the least */
    double elapsed_s;        /* wall time spent searching, s */
    dml_search_rank rank;    /* optional: where one plan falls */
    int top_k;               /* plans to keep, 1..DML_PLANNER_TOP_MAX */
    int count;               /* plans in top[] */
    int cap;                 /* entries allocated in top */
    bool oom;                /* top could not grow: the search fails */
    dml_candidate *top;      /* count plans, best first once finished
                                (malloc'd; dml_search_result_free) */
} dml_search_result;

/* Empty result keeping the best top_k (clamped to 1..TOP_MAX). r holds no
 * memory yet (new, or after dml_search_result_free). */
void dml_search_result_init(dml_search_result *r, int top_k);

/* Release top (r may be NULL); r is then as after init with top_k 1. */
void dml_search_result_free(dml_search_result *r);

/*
 * Search req's space and add to r (several requests, e.g. one per CPU
 * ranks x threads split, accumulate into one result). Only an internal
 * failure (DML_ENOMEM when top cannot grow) is an error: rejected
 * configurations are counted in r.
 */
dml_status dml_planner_search(const dml_search_request *req,
                              dml_search_result *r, dml_error *err);

/* Sort top[] best first (score, then enumeration order). */
void dml_search_result_finish(dml_search_result *r);

/* The reason that rejected most configurations (DML_REJECT_NONE when
 * nothing was rejected). */
dml_reject dml_search_main_rejection(const dml_search_result *r);

/* Ranking order: true when a is better than b. */
bool dml_candidate_better(const dml_candidate *a, const dml_candidate *b);

/* The same plan: global batch and every knob of the configuration
 * (attention kernel and framework included); the prediction and the
 * enumeration index are not compared. */
bool dml_candidate_same_plan(const dml_candidate *a, const dml_candidate *b);

#endif
