/*
 * federated_spec.h: a plan's training mode and, in federated mode, how
 * its clients are made and trained (issue 18, docs/federated.md).
 *
 * mode (--config mode=..., a plan file's parallel.mode): sync, the
 * data-parallel training of every other strategy, or federated: N virtual
 * clients, each owning a shard of the training set, of which a seeded
 * fraction C trains E local epochs with batch B each round, a server rank
 * averaging what they return (FedAvg, McMahan et al. 2017, weighted by
 * sample counts), with FedProx's proximal term mu (Li et al. 2020), and
 * pairwise-masked secure aggregation (Bonawitz et al. 2017) as options.
 * In federated mode a step is a round.
 *
 * The plan file's federated section holds the fields of dml_fed_spec
 * under the names of docs/formats.md; every value is checked here.
 */
#ifndef DML_COSTMODEL_FEDERATED_SPEC_H
#define DML_COSTMODEL_FEDERATED_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/error.h"
#include "common/json.h"

typedef enum dml_run_mode {
    DML_MODE_SYNC = 0,
    DML_MODE_FEDERATED,
    DML_MODE_GOSSIP,    /* decentralised SGD: sync gossip:G
                           (costmodel/sync_spec.h, gossip_graph.h) */
    DML_MODE_COUNT
} dml_run_mode;

/* "sync", "federated", "gossip". */
const char *dml_run_mode_name(dml_run_mode m);
bool dml_run_mode_parse(const char *text, dml_run_mode *out);

typedef enum dml_fed_split_kind {
    DML_FED_SPLIT_IID = 0,
    DML_FED_SPLIT_CLASSES,  /* classes:K */
    DML_FED_SPLIT_DIRICHLET /* alpha */
} dml_fed_split_kind;

/* How the training set is cut into client shards
 * (executor/federated/partition.h). */
typedef struct dml_fed_split {
    dml_fed_split_kind kind;
    int classes_per_client; /* K of classes:K */
    double alpha;           /* concentration of Dirichlet, > 0 */
} dml_fed_split;

/* Parse "iid", "classes:K" or a positive number (alpha). DML_EINPUT with
 * err->msg saying what is wrong (the caller names the file and field). */
dml_status dml_fed_split_parse(const char *text, dml_fed_split *out,
                               dml_error *err);
/* The same text back ("iid", "classes:2", "0.1"). */
void dml_fed_split_format(const dml_fed_split *s, char *buf, int size);

typedef struct dml_fed_spec {
    int clients;          /* N virtual clients */
    double sample;        /* C: fraction of the clients per round, (0, 1] */
    double epochs;        /* E: local epochs over the client's shard; 0:
                             one batch (FedSGD) */
    int64_t batch;        /* B: local batch, samples; 0: the whole shard */
    dml_fed_split split;  /* the clients' shards */
    double prox;          /* FedProx mu, 0: FedAvg */
    bool secagg;          /* pairwise-masked secure aggregation */
    double stragglers;    /* fraction of each round's clients that
                             straggle, [0, 1) */
    bool partial;         /* stragglers return partial work (FedProx);
                             false: they are dropped */
    double lr;            /* client learning rate (local SGD), > 0 */
} dml_fed_spec;

/* Defaults: 100 clients, C 0.1, E 5, B 10, iid, mu 0, no secagg, no
 * stragglers (dropped when there are), lr 0.05. */
void dml_fed_spec_init(dml_fed_spec *f);
bool dml_fed_spec_equal(const dml_fed_spec *a, const dml_fed_spec *b);

/* The federated object of a plan file (every field optional, defaults
 * above; unknown fields and bad values are errors naming the field). */
dml_status dml_fed_spec_parse(const dml_json_obj *o, dml_fed_spec *out,
                              dml_error *err);
json_t *dml_fed_spec_to_json(const dml_fed_spec *f);

/* Local SGD steps a client holding n samples takes in a round at full
 * work: ceil(E n / B) (one when E is 0), with B = n when B is 0. */
int64_t dml_fed_local_steps(const dml_fed_spec *f, int64_t n);

#endif
