/*
 * sample.c: the client sampler of sample.h.
 */
#include "executor/federated/sample.h"

#include <math.h>
#include <stdlib.h>

#include "common/rng.h"

#define SAMPLE_SEED_MIX 0x5A3B1E5C11E475EDULL

int dml_fed_clients_per_round(int clients, double fraction)
{
    long m = lround(fraction * clients);
    return m < 1 ? 1 : m > clients ? clients : (int)m;
}

static void new_cycle(dml_fed_sampler *s)
{
    dml_rng r;
    dml_rng_seed(&r, (s->seed ^ SAMPLE_SEED_MIX) +
                         (uint64_t)s->cycle * 0x9E3779B97F4A7C15ULL);
    for (int i = 0; i < s->clients; i++)
        s->perm[i] = (uint32_t)i;
    dml_rng_shuffle(&r, s->perm, (uint64_t)s->clients);
    s->pos = 0;
}

int dml_fed_sampler_init(dml_fed_sampler *s, int clients, int per_round,
                         uint64_t seed)
{
    s->clients = clients;
    s->per_round = per_round;
    s->seed = seed;
    s->perm = malloc(sizeof *s->perm * (size_t)clients);
    if (!s->perm)
        return -1;
    dml_fed_sampler_seek(s, 0);
    return 0;
}

void dml_fed_sampler_free(dml_fed_sampler *s)
{
    free(s->perm);
    s->perm = NULL;
}

/* Move the clients of out[0..have) found in the fresh order to its end,
 * keeping the order of the rest. */
static void move_taken_to_end(dml_fed_sampler *s, const int *out, int have)
{
    int w = 0, t = 0;
    uint32_t *taken = malloc(sizeof *taken * (size_t)(have ? have : 1));
    for (int i = 0; i < s->clients; i++) {
        int in = 0;
        for (int j = 0; j < have && !in; j++)
            in = (int)s->perm[i] == out[j];
        if (in)
            taken[t++] = s->perm[i];
        else
            s->perm[w++] = s->perm[i];
    }
    for (int j = 0; j < t; j++)
        s->perm[w++] = taken[j];
    free(taken);
}

void dml_fed_sampler_next(dml_fed_sampler *s, int *out)
{
    for (int i = 0; i < s->per_round; i++) {
        if (s->pos == s->clients) {
            s->cycle++;
            new_cycle(s);
            move_taken_to_end(s, out, i);
        }
        out[i] = (int)s->perm[s->pos++];
    }
    s->round++;
}

void dml_fed_sampler_seek(dml_fed_sampler *s, int64_t round)
{
    s->cycle = 0;
    s->round = 0;
    new_cycle(s);
    int *tmp = malloc(sizeof *tmp * (size_t)s->per_round);
    while (s->round < round)
        dml_fed_sampler_next(s, tmp);
    free(tmp);
}
