/*
 * partition.h: how the training set of a federated run is cut into the
 * shards of its virtual clients, and what the shards look like.
 *
 * A client's shard is a list of sample indices into the training set; the
 * shards of all clients are one permutation of 0..n-1 cut at offset[], so
 * every sample belongs to exactly one client (invariant 1). Everything is
 * drawn from dml_rng seeded with the run's seed (mixed with a constant of
 * this module), so a seed gives the same shards on every rank and every
 * machine (invariant 2). The three splits (docs/federated.md):
 *
 *  - iid: the samples shuffled and cut into N shards whose sizes differ by
 *    at most one.
 *  - classes:K (McMahan et al. 2017's "pathological non-IID", made exact):
 *    the clients, in a seeded order, take K consecutive classes each from a
 *    seeded permutation of the classes, round robin, so every client holds
 *    exactly K distinct classes and every class is held by N K / classes
 *    clients (+-1); each class's samples are shuffled and cut evenly among
 *    the clients that hold it. Needs K <= classes and at least as many
 *    samples of each class as it has holders.
 *  - Dirichlet(alpha) label skew (Hsu et al. 2019; the procedure of
 *    NIID-Bench, Li et al. 2021): per class, proportions over the clients
 *    drawn from Dir(alpha, ..., alpha); a client already holding n/N
 *    samples gets no share of the classes that follow (the balancing that
 *    keeps shard sizes bounded); each class's shuffled samples are cut by
 *    the cumulative proportions. The whole draw is repeated (up to
 *    DML_FED_DIRICHLET_TRIES times) until every client holds at least
 *    DML_FED_MIN_SHARD samples. Small alpha: few classes per client; large
 *    alpha tends to IID.
 */
#ifndef DML_EXECUTOR_FEDERATED_PARTITION_H
#define DML_EXECUTOR_FEDERATED_PARTITION_H

#include <stdint.h>

#include "common/error.h"
#include "costmodel/federated_spec.h"

/* Fewest samples a Dirichlet shard may hold (NIID-Bench's min_require_size). */
#define DML_FED_MIN_SHARD 10
/* Dirichlet draws tried before the split is refused. */
#define DML_FED_DIRICHLET_TRIES 1000

typedef struct dml_fed_partition {
    int clients;      /* N */
    int64_t n;        /* samples in the training set */
    int64_t *offset;  /* [clients + 1]: client c holds index[offset[c] ..
                         offset[c+1]) */
    uint32_t *index;  /* [n]: sample indices, grouped by client */
} dml_fed_partition;

/* Cut n samples with labels[n] in [0, classes) among clients shards. */
dml_status dml_fed_partition_make(const uint8_t *labels, int64_t n,
                                  int classes, int clients,
                                  const dml_fed_split *split, uint64_t seed,
                                  dml_fed_partition *out, dml_error *err);
void dml_fed_partition_free(dml_fed_partition *p);

static inline int64_t dml_fed_shard_size(const dml_fed_partition *p, int c)
{
    return p->offset[c + 1] - p->offset[c];
}

/* What the shards look like, as recorded with a run. */
typedef struct dml_fed_shard_stats {
    int64_t min_samples;      /* fewest samples of a client */
    int64_t max_samples;      /* most samples of a client */
    double mean_samples;      /* n / clients */
    double mean_classes;      /* distinct classes per client, mean */
    int min_classes;          /* distinct classes per client, fewest */
    int max_classes;          /* distinct classes per client, most */
    double mean_max_fraction; /* per client, the share of its largest
                                 class, mean over clients (1/classes for
                                 a perfectly balanced shard, 1 for one
                                 class) */
} dml_fed_shard_stats;

/* Class counts of client c into counts[classes]. */
void dml_fed_partition_class_counts(const dml_fed_partition *p,
                                    const uint8_t *labels, int classes, int c,
                                    int64_t *counts);
void dml_fed_partition_stats(const dml_fed_partition *p, const uint8_t *labels,
                             int classes, dml_fed_shard_stats *out);

#endif
