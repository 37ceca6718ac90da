/*
 * config.h: a partial parallel configuration, as people type it after
 * `--config` or `--why-not`: "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,
 * recompute=selective,sp=1,schedule=interleaved,attn=flash".
 *
 * Each knob given is fixed; the search chooses the others. The parser
 * checks every value on its own (a positive integer, a known name) and
 * says which item is wrong in one line; whether the fixed knobs fit the
 * model and the cluster is the search space's question (space.h).
 */
#ifndef DML_PLANNER_CONFIG_H
#define DML_PLANNER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "costmodel/plan.h"

typedef enum dml_knob {
    DML_KNOB_DP = 0,
    DML_KNOB_TP,
    DML_KNOB_PP,
    DML_KNOB_V,
    DML_KNOB_MBS,
    DML_KNOB_ZERO,
    DML_KNOB_RECOMPUTE,
    DML_KNOB_SP,
    DML_KNOB_SCHEDULE,
    DML_KNOB_ATTN,      /* attention kernel: flash or materialized */
    DML_KNOB_THREADS,
    DML_KNOB_SYNC,      /* data-parallel strategy (costmodel/sync_spec.h) */
    DML_KNOB_BALANCE,   /* equal, static or dynamic (costmodel/balance.h) */
    DML_KNOB_MODE,      /* sync, federated or gossip
                           (costmodel/federated_spec.h); mode=gossip alone
                           searches the graphs; mode=federated fixes tp=1,
                           pp=1, zero=0 and sync=allreduce with it */
    DML_KNOB_GRAPH,     /* gossip's graph (costmodel/gossip_graph.h):
                           mode=gossip with sync gossip:G fixed (the
                           sync knob is fixed with it) */
    DML_KNOB_COUNT
} dml_knob;

/* The federated knobs (mode=federated): fixed by the user, never
 * searched, so they live apart from the parallel knobs above. */
typedef enum dml_fed_knob {
    DML_FED_KNOB_CLIENTS = 0, /* clients=N, virtual clients */
    DML_FED_KNOB_SAMPLE,      /* sample=C, fraction per round, (0, 1] */
    DML_FED_KNOB_EPOCHS,      /* epochs=E local epochs, or batch (FedSGD) */
    DML_FED_KNOB_ALPHA,       /* alpha=A (Dirichlet), iid or classes:K */
    DML_FED_KNOB_PROX,        /* prox=MU, FedProx's term, >= 0 */
    DML_FED_KNOB_SECAGG,      /* secagg=0|1, secure aggregation */
    DML_FED_KNOB_COUNT
} dml_fed_knob;

typedef struct dml_planner_config {
    unsigned fixed;            /* bit (1u << knob) for each knob given */
    dml_parallel_config par;   /* the values of the fixed knobs; the rest
                                  hold dml_parallel_config_init defaults */
    unsigned fed_fixed;        /* bit (1u << dml_fed_knob) for each given */
    dml_fed_spec fed;          /* mode=federated: the round's knobs, the
                                  rest dml_fed_spec_init's defaults */
} dml_planner_config;

/* Nothing fixed. */
void dml_planner_config_init(dml_planner_config *c);

/*
 * Parse "knob=value,knob=value" (spaces around items allowed). option
 * names the command-line option in messages ("--config"). DML_EUSAGE with
 * `--config: "tp=three": tp must be a positive integer` and the like for
 * an unknown knob, a value out of range, a knob given twice or an empty
 * text.
 */
dml_status dml_planner_config_parse(const char *text, const char *option,
                                    dml_planner_config *out, dml_error *err);

static inline bool dml_planner_config_has(const dml_planner_config *c,
                                          dml_knob k)
{
    return (c->fixed >> k) & 1u;
}

/* The knob's name as typed ("dp", "recompute", ...). */
const char *dml_knob_name(dml_knob k);

/* A configuration in --config syntax with every knob a model of type
 * has: "dp=16,tp=8,pp=8,v=3,mbs=1,zero=1,recompute=selective,sp=1,
 * schedule=interleaved,attn=flash" (attn for transformers only, an MLP
 * having no attention; threads=N added when it is not 1). */
char *dml_planner_config_format(const dml_parallel_config *p,
                                dml_model_type type, char *buf, size_t size);

/* The federated knobs of f in --config syntax ("clients=100,sample=0.1,
 * epochs=5,alpha=iid,prox=0,secagg=0"). */
char *dml_planner_fed_format(const dml_fed_spec *f, char *buf, size_t size);

/* Only the knobs fixed in c, in the same syntax ("tp=4,pp=8"). */
char *dml_planner_config_format_fixed(const dml_planner_config *c, char *buf,
                                      size_t size);

#endif
