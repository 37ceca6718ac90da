/*
 * partition.c: the iid, classes:K and Dirichlet splits of partition.h.
 * Each split decides an owner per sample; one counting sort then groups
 * the samples by owner, which is what makes invariant 1 hold by
 * construction for all three.
 */
#include "executor/federated/partition.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

/* Mixed into the run's seed so the shards are not the data order's draw. */
#define PARTITION_SEED_MIX 0xFED5A1D0C0FFEE11ULL

/* The samples grouped by class (counting sort), each class shuffled:
 * class k is byclass[start[k] .. start[k+1]). */
static void group_by_class(const uint8_t *labels, int64_t n, int classes,
                           dml_rng *r, uint32_t *byclass, int64_t *start)
{
    memset(start, 0, sizeof *start * (size_t)(classes + 1));
    for (int64_t i = 0; i < n; i++)
        start[labels[i] + 1]++;
    for (int k = 0; k < classes; k++)
        start[k + 1] += start[k];
    int64_t *fill = malloc(sizeof *fill * (size_t)classes);
    memcpy(fill, start, sizeof *fill * (size_t)classes);
    for (int64_t i = 0; i < n; i++)
        byclass[fill[labels[i]]++] = (uint32_t)i;
    free(fill);
    for (int k = 0; k < classes; k++)
        dml_rng_shuffle(r, byclass + start[k], (uint64_t)(start[k + 1] - start[k]));
}

static void split_iid(int64_t n, int clients, dml_rng *r, int *owner)
{
    uint32_t *perm = malloc(sizeof *perm * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        perm[i] = (uint32_t)i;
    dml_rng_shuffle(r, perm, (uint64_t)n);
    for (int c = 0; c < clients; c++)
        for (int64_t q = n * c / clients; q < n * (c + 1) / clients; q++)
            owner[perm[q]] = c;
    free(perm);
}

static dml_status split_classes(const uint8_t *labels, int64_t n, int classes,
                                int clients, int k_per, dml_rng *r,
                                int *owner, dml_error *err)
{
    if (k_per > classes)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                             "classes:%d: the data has only %d classes",
                             k_per, classes);
    if ((int64_t)clients * k_per < classes)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                             "classes:%d: %d clients hold %lld class slots, "
                             "fewer than the %d classes", k_per, clients,
                             (long long)clients * k_per, classes);
    uint32_t *byclass = malloc(sizeof *byclass * (size_t)n);
    int64_t start[257];
    group_by_class(labels, n, classes, r, byclass, start);
    uint32_t cperm[256], *order = malloc(sizeof *order * (size_t)clients);
    for (int k = 0; k < classes; k++)
        cperm[k] = (uint32_t)k;
    dml_rng_shuffle(r, cperm, (uint64_t)classes);
    for (int c = 0; c < clients; c++)
        order[c] = (uint32_t)c;
    dml_rng_shuffle(r, order, (uint64_t)clients);
    /* holder[k][h]: the h-th client holding class k, slots in order. */
    int64_t nhold[256] = {0};
    int *holder = malloc(sizeof *holder * (size_t)clients * (size_t)k_per);
    int64_t slot = 0;
    for (int i = 0; i < clients; i++)
        for (int j = 0; j < k_per; j++, slot++) {
            int k = (int)cperm[slot % classes];
            holder[slot] = k; /* the class of this slot, for now */
            nhold[k]++;
        }
    dml_status st = DML_OK;
    for (int k = 0; k < classes && st == DML_OK; k++)
        if (nhold[k] > start[k + 1] - start[k])
            st = dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                               "classes:%d: class %d has %lld samples for "
                               "%lld clients", k_per, k,
                               (long long)(start[k + 1] - start[k]),
                               (long long)nhold[k]);
    /* Walk the slots again, giving each its even cut of its class. */
    int64_t seen[256] = {0};
    slot = 0;
    for (int i = 0; i < clients && st == DML_OK; i++)
        for (int j = 0; j < k_per; j++, slot++) {
            int k = holder[slot];
            int64_t nk = start[k + 1] - start[k], h = seen[k]++;
            for (int64_t q = nk * h / nhold[k]; q < nk * (h + 1) / nhold[k]; q++)
                owner[byclass[start[k] + q]] = (int)order[i];
        }
    free(holder);
    free(order);
    free(byclass);
    return st;
}

/* One Dirichlet draw (NIID-Bench's loop body); the smallest shard. */
static int64_t dirichlet_draw(const uint32_t *byclass, const int64_t *start,
                              int classes, int clients, double alpha,
                              int64_t n, dml_rng *r, double *p, int64_t *cnt,
                              int *owner)
{
    memset(cnt, 0, sizeof *cnt * (size_t)clients);
    for (int k = 0; k < classes; k++) {
        double sum = 0;
        for (int c = 0; c < clients; c++) {
            /* The balancing: a full client takes no more classes. */
            p[c] = cnt[c] * clients < n ? dml_rng_gamma(r, alpha) : 0.0;
            sum += p[c];
        }
        int64_t nk = start[k + 1] - start[k], from = 0;
        double cum = 0;
        for (int c = 0; c < clients; c++) {
            cum += sum > 0 ? p[c] / sum : 1.0 / clients;
            int64_t to = c == clients - 1 ? nk : (int64_t)floor(cum * (double)nk);
            if (to > nk)
                to = nk;
            for (int64_t q = from; q < to; q++)
                owner[byclass[start[k] + q]] = c;
            cnt[c] += to > from ? to - from : 0;
            from = to > from ? to : from;
        }
    }
    int64_t min = n;
    for (int c = 0; c < clients; c++)
        min = cnt[c] < min ? cnt[c] : min;
    return min;
}

static dml_status split_dirichlet(const uint8_t *labels, int64_t n,
                                  int classes, int clients, double alpha,
                                  dml_rng *r, int *owner, dml_error *err)
{
    uint32_t *byclass = malloc(sizeof *byclass * (size_t)n);
    int64_t start[257];
    group_by_class(labels, n, classes, r, byclass, start);
    double *p = malloc(sizeof *p * (size_t)clients);
    int64_t *cnt = malloc(sizeof *cnt * (size_t)clients);
    int64_t min = 0;
    for (int t = 0; t < DML_FED_DIRICHLET_TRIES && min < DML_FED_MIN_SHARD; t++)
        min = dirichlet_draw(byclass, start, classes, clients, alpha, n, r, p,
                             cnt, owner);
    free(cnt);
    free(p);
    free(byclass);
    if (min < DML_FED_MIN_SHARD)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                             "Dirichlet alpha %g: no draw in %d gave every "
                             "one of %d clients %d samples", alpha,
                             DML_FED_DIRICHLET_TRIES, clients,
                             DML_FED_MIN_SHARD);
    return DML_OK;
}

dml_status dml_fed_partition_make(const uint8_t *labels, int64_t n,
                                  int classes, int clients,
                                  const dml_fed_split *split, uint64_t seed,
                                  dml_fed_partition *out, dml_error *err)
{
    memset(out, 0, sizeof *out);
    if (clients < 1 || n < clients || classes < 1 || classes > 256 ||
        n > UINT32_MAX)
        return dml_error_set(err, DML_EINPUT, NULL, 0, 0, NULL,
                             "%lld samples cannot be cut into %d clients' "
                             "shards", (long long)n, clients);
    dml_rng r;
    dml_rng_seed(&r, seed ^ PARTITION_SEED_MIX);
    int *owner = malloc(sizeof *owner * (size_t)n);
    if (!owner)
        return dml_error_set(err, DML_ENOMEM, NULL, 0, 0, NULL,
                             "partition of %lld samples", (long long)n);
    dml_status st = DML_OK;
    if (split->kind == DML_FED_SPLIT_IID)
        split_iid(n, clients, &r, owner);
    else if (split->kind == DML_FED_SPLIT_CLASSES)
        st = split_classes(labels, n, classes, clients,
                           split->classes_per_client, &r, owner, err);
    else
        st = split_dirichlet(labels, n, classes, clients, split->alpha, &r,
                             owner, err);
    if (st != DML_OK) {
        free(owner);
        return st;
    }
    out->clients = clients;
    out->n = n;
    out->offset = calloc((size_t)clients + 1, sizeof *out->offset);
    out->index = malloc(sizeof *out->index * (size_t)n);
    for (int64_t i = 0; i < n; i++)
        out->offset[owner[i] + 1]++;
    for (int c = 0; c < clients; c++)
        out->offset[c + 1] += out->offset[c];
    int64_t *fill = malloc(sizeof *fill * (size_t)clients);
    memcpy(fill, out->offset, sizeof *fill * (size_t)clients);
    for (int64_t i = 0; i < n; i++)
        out->index[fill[owner[i]]++] = (uint32_t)i;
    free(fill);
    free(owner);
    return DML_OK;
}

void dml_fed_partition_free(dml_fed_partition *p)
{
    free(p->offset);
    free(p->index);
    memset(p, 0, sizeof *p);
}

void dml_fed_partition_class_counts(const dml_fed_partition *p,
                                    const uint8_t *labels, int classes, int c,
                                    int64_t *counts)
{
    memset(counts, 0, sizeof *counts * (size_t)classes);
    for (int64_t q = p->offset[c]; q < p->offset[c + 1]; q++)
        counts[labels[p->index[q]]]++;
}

void dml_fed_partition_stats(const dml_fed_partition *p, const uint8_t *labels,
                             int classes, dml_fed_shard_stats *out)
{
    memset(out, 0, sizeof *out);
    out->min_samples = p->n;
    out->min_classes = classes;
    out->mean_samples = (double)p->n / p->clients;
    int64_t counts[256];
    for (int c = 0; c < p->clients; c++) {
        dml_fed_partition_class_counts(p, labels, classes, c, counts);
        int64_t size = dml_fed_shard_size(p, c), top = 0;
        int distinct = 0;
        for (int k = 0; k < classes; k++) {
            distinct += counts[k] > 0;
            top = counts[k] > top ? counts[k] : top;
        }
        out->min_samples = size < out->min_samples ? size : out->min_samples;
        out->max_samples = size > out->max_samples ? size : out->max_samples;
        out->min_classes = distinct < out->min_classes ? distinct : out->min_classes;
        out->max_classes = distinct > out->max_classes ? distinct : out->max_classes;
        out->mean_classes += (double)distinct / p->clients;
        out->mean_max_fraction += size ? (double)top / (double)size / p->clients : 0;
    }
}
