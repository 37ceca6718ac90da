/*
 * secagg.c: pairwise masks, fixed point and dropout recovery (secagg.h).
 */
#include "executor/federated/secagg.h"

#include <math.h>

#include "common/rng.h"

#define SECAGG_SEED_MIX 0x5ECA66A5ECA66A11ULL

uint64_t dml_secagg_pair_seed(uint64_t round_seed, int a, int b)
{
    uint64_t lo = (uint64_t)(a < b ? a : b), hi = (uint64_t)(a < b ? b : a);
    dml_rng r;
    dml_rng_seed(&r, (round_seed ^ SECAGG_SEED_MIX) + (hi << 32 | lo) *
                                                         0x9E3779B97F4A7C15ULL);
    return dml_rng_u64(&r);
}

int64_t dml_secagg_limit(int m)
{
    return (INT64_C(1) << 31) / (m > 0 ? m : 1) - 1;
}

size_t dml_secagg_encode(const float *u, size_t n, double weight,
                         int64_t limit, uint32_t *x)
{
    size_t clamped = 0;
    double scale = weight * (double)(1 << DML_SECAGG_FRAC_BITS);
    for (size_t i = 0; i < n; i++) {
        double v = nearbyint((double)u[i] * scale);
        if (!(v <= (double)limit && v >= -(double)limit)) {
            clamped++;
            v = v > 0 ? (double)limit : -(double)limit;
        }
        x[i] = (uint32_t)(int64_t)v;
    }
    return clamped;
}

/* y += sign * PRG(seed) over n values, mod 2^32. */
static void add_stream(uint32_t *y, size_t n, uint64_t seed, int sign)
{
    dml_rng r;
    dml_rng_seed(&r, seed);
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint64_t w = dml_rng_u64(&r);
        uint32_t a = (uint32_t)w, b = (uint32_t)(w >> 32);
        y[i] = sign > 0 ? y[i] + a : y[i] - a;
        y[i + 1] = sign > 0 ? y[i + 1] + b : y[i + 1] - b;
    }
    if (n % 2) {
        uint32_t a = (uint32_t)dml_rng_u64(&r);
        y[n - 1] = sign > 0 ? y[n - 1] + a : y[n - 1] - a;
    }
}

void dml_secagg_mask(uint32_t *y, size_t n, int self, const int *clients,
                     int m, uint64_t round_seed)
{
    for (int j = 0; j < m; j++)
        if (clients[j] != self)
            add_stream(y, n, dml_secagg_pair_seed(round_seed, self, clients[j]),
                       clients[j] > self ? 1 : -1);
}

void dml_secagg_unmask_dropped(uint32_t *sum, size_t n, const int *survivors,
                               int ns, const int *dropped, int nd,
                               uint64_t round_seed)
{
    /* Survivor s added sign(d - s) PRG(s_sd); take it away again. */
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < nd; j++)
            add_stream(sum, n,
                       dml_secagg_pair_seed(round_seed, survivors[i],
                                            dropped[j]),
                       dropped[j] > survivors[i] ? -1 : 1);
}

void dml_secagg_decode(const uint32_t *sum, size_t n, double *out)
{
    double inv = 1.0 / (double)(1 << DML_SECAGG_FRAC_BITS);
    for (size_t i = 0; i < n; i++)
        out[i] = (double)(int32_t)sum[i] * inv;
}

double dml_secagg_bytes_up(size_t n, int dropped)
{
    return 4.0 * (double)n + (double)dropped * DML_SECAGG_SEED_BYTES;
}
