/*
 * rng.h: a seeded, portable random number generator.
 *
 * xoshiro256** seeded through splitmix64: the same seed gives the same
 * sequence on every machine and every rank, which the executor's
 * layout-independence guarantee and the tests rely on. No hidden global
 * state: each user owns a dml_rng.
 */
#ifndef DML_RNG_H
#define DML_RNG_H

#include <stdint.h>

typedef struct dml_rng {
    uint64_t s[4]; /* xoshiro256** state */
} dml_rng;

void dml_rng_seed(dml_rng *r, uint64_t seed);
uint64_t dml_rng_u64(dml_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double dml_rng_uniform(dml_rng *r);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t dml_rng_below(dml_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
double dml_rng_normal(dml_rng *r);
/* Gamma(shape, 1), shape > 0 (Marsaglia and Tsang 2000; shape < 1 by
 * Gamma(shape + 1) U^(1/shape)): what Dirichlet draws are made of. */
double dml_rng_gamma(dml_rng *r, double shape);
/* Fisher-Yates shuffle of idx[0..n). */
void dml_rng_shuffle(dml_rng *r, uint32_t *idx, uint64_t n);

#endif
