/*
 * convergence.h: what a data-parallel strategy costs in convergence,
 * from measured runs: the steps it needs to reach a target (a test
 * accuracy, or a training loss), so that the planner can rank plans by
 * predicted time to the target = predicted step time x predicted steps
 * (issue 15: compression and local or stale updates shorten the step
 * and may lengthen the training; only measurement says by how much).
 *
 * The history is this workload's: every run of the same model (by name)
 * at the same global batch that ran from step 0 and ended 'ok' or was
 * stopped by a diverged or NaN loss (which then never reached the target
 * unless it had before: ssp:2 under momentum 0.9), on any cluster
 * (steps to a target are a property of the mathematics, not of the
 * links; the runs' own clusters are not asked). A run reaches an
 * accuracy target at the first step evaluated (dml-exec --eval-every)
 * at or above it, and a loss target at the first step whose mean
 * training loss over the last DML_CONVERGENCE_LOSS_WINDOW steps is at
 * or below it. A strategy's steps are the median over its runs, a run
 * that never reached the target counting as never (so a strategy whose
 * runs mostly fail is never predicted to reach it).
 *
 * Strategies that compute the same sums are one: allreduce, hierarchical
 * and ssp:0 share "dense" history (dml_convergence_same_math). Every
 * other strategy has its own. A strategy without runs is assumed to cost
 * no more steps than dense, and the report says so; without dense
 * history nothing is known and the planner ranks by step time alone,
 * with one warning (dml_convergence_warning).
 */
#ifndef DML_PLANNER_CONVERGENCE_H
#define DML_PLANNER_CONVERGENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/sync_spec.h"
#include "db/convergence_query.h"
#include "db/once.h"

#define DML_CONVERGENCE_MAX 32         /* strategies kept */
#define DML_CONVERGENCE_LOSS_WINDOW 10 /* steps a loss target averages */

typedef enum dml_target_kind {
    DML_TARGET_NONE = 0,   /* rank by step time */
    DML_TARGET_ACCURACY,   /* --target-accuracy A: test accuracy >= A */
    DML_TARGET_LOSS,       /* --target-loss L: training loss <= L */
} dml_target_kind;

typedef struct dml_target {
    dml_target_kind kind;
    double value;          /* accuracy as a fraction 0-1, or loss, nats */
} dml_target;

/* One strategy's measured runs. */
typedef struct dml_convergence_entry {
    dml_sync_spec sync;    /* the strategy (dense: allreduce) */
    int runs;              /* runs that measured what the target needs */
    int reached;           /* of those, runs that reached the target */
    double steps;          /* median steps to the target; INFINITY: half
                              of the runs or more never reached it */
} dml_convergence_entry;

/* Where a strategy's predicted steps come from. */
typedef enum dml_convergence_source {
    DML_CONV_MEASURED = 0, /* its own runs (or dense's, same math) */
    DML_CONV_ASSUMED,      /* no runs: assumed as many as dense */
    DML_CONV_UNKNOWN,      /* no dense runs reach the target either */
} dml_convergence_source;

typedef struct dml_convergence {
    dml_target target;
    int count;                                  /* entries in e */
    dml_convergence_entry e[DML_CONVERGENCE_MAX];
    int dense;                                  /* e[] of dense, -1 */
    int64_t points;                             /* history rows read */
} dml_convergence;

/* "allreduce", "hierarchical" and "ssp:0" compute the same sums: true,
 * and s's entry is dense's. */
bool dml_convergence_same_math(const dml_sync_spec *s);

/* The history of the curve points (runs in order, steps in order), for
 * target t. Pure: the unit test feeds it a synthetic history. */
void dml_convergence_from_curves(const dml_target *t,
                                 const dml_db_curve_point *pts, size_t n,
                                 dml_convergence *out);

/* The history of model at global_batch from the database db (none
 * there, or no database: an empty history, not an error). */
dml_status dml_convergence_load(dml_db_once *db, const char *model,
                                int64_t global_batch, const dml_target *t,
                                dml_convergence *out, dml_error *err);

/* Predicted steps to the target for strategy s (its runs', dense's for
 * the same mathematics, else assumed dense's), and where they come from;
 * NAN when unknown (no dense runs reach it). */
double dml_convergence_steps(const dml_convergence *c,
                             const dml_sync_spec *s,
                             dml_convergence_source *src);

/* s's steps over dense's: the factor a time to the target carries beyond
 * the step time; 1 when either is unknown (assumed none). */
double dml_convergence_factor(const dml_convergence *c,
                              const dml_sync_spec *s);

/*
 * The one warning line a search with a target deserves, or false: no
 * dense history ("no measured run of M at global batch B reaches test
 * accuracy 84.0 %: assuming no strategy costs convergence, ranking by
 * step time (dml-exec --eval-every K measures it)"), or strategies of
 * the search without runs ("no measured runs of sync=fp16, powersgd:2 at
 * ...: assuming they need as many steps as allreduce").
 */
bool dml_convergence_warning(const dml_convergence *c, const char *model,
                             int64_t global_batch,
                             const dml_sync_spec *searched, int nsearched,
                             char *buf, size_t size);

/* The strategies a search with a target tries (out[0..max), allreduce
 * first): allreduce, hierarchical, fp16, bf16, topk:0.01, powersgd:2,
 * local:16, ssp:2, gossip on onepeer-exp, exp, ring and torus, and every
 * other strategy c (may be NULL) has runs of (its measured topk:0.05 or
 * local:4). Returns how many. */
int dml_convergence_strategies(const dml_convergence *c, dml_sync_spec *out,
                               int max);

/* "test accuracy 84 %" or "training loss 0.45". */
char *dml_target_format(const dml_target *t, char *buf, size_t size);

#endif
