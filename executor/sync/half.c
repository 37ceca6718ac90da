/*
 * half.c: dense gradients sent in 16 bits (sync=fp16, sync=bf16), priced
 * by the cost model's dml_sync_half (costmodel/sync_half.c): half the
 * bytes of the fp32 ring, the same collectives, started bucket by bucket
 * as backward finishes them (sync.h), so the exchange overlaps backward
 * as allreduce.c's does.
 *
 * Each bucket is cast to 16 bits (round to nearest, ties to even), reduced
 * with MPI_Iallreduce on MPI_UINT16_T under our own operator, and cast
 * back to fp32 once it has arrived (the engine's `next`). The operator
 * (MPI_Op_create, commutative) widens both operands to fp32, adds them in
 * fp32 and rounds the sum once to 16 bits: every hop of the reduction
 * rounds once, and no partial sum is ever added in 16-bit arithmetic.
 * The ring (dml_exec_mpi_preinit) reduces each chunk on one rank and then
 * passes the result on, so every rank ends with the same bits.
 *
 * Error bound. With u the unit roundoff (fp16 2^-11, bf16 2^-8), u' = u +
 * 2^-24 (the fp32 addition before the rounding), the dp gradients g_i of
 * one value are each rounded once and the reduction rounds dp - 1 partial
 * sums: recursive summation with one more rounding per term, whose bound
 * is (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
 * section 4.2)
 *
 *     |result - sum g_i| <= gamma sum_i |g_i| [+ dp 2^-24],
 *     gamma = dp u' / (1 - dp u'),
 *
 * about dp u of the sum of magnitudes, whatever the order of the hops
 * (ring or tree). The bracket is for fp16 only: below 2^-14 fp16 has
 * subnormal steps of 2^-24, and each of the 2 dp - 1 roundings may lose
 * half of one. bf16 keeps fp32's exponent range, so nothing small is lost
 * and nothing large overflows; fp16 is infinite from 65520 on, which the
 * run's guard stops as a non-finite gradient (executor/guard.h). The
 * training's gradients are means over the global batch, far inside
 * fp16's range. Tested on values spread over 2^-30 .. 2^4, and bf16 on
 * 1e30 (tests/integration/executor/sync_compress_check.c).
 *
 * ZeRO-1 (fp16-zero1, bf16-zero1; dml_sync_spec_check allows ZeRO 0-1):
 * a 16-bit reduce-scatter under the same operator, this rank's shard cast
 * back to fp32 for the update of its 1/dp of every bucket, and the fp32
 * all-gather of the parameters zero1.c does. The pricer prices the same:
 * 2 bytes a value in the reduce-scatter, the parameter's bytes in the
 * gather.
 */
#include "executor/sync/compress.h"
#include "executor/sync/sync.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint16_t dml_fp16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN: quiet, keep the top of the payload */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* 65520 and above round to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* below 2^-14: a multiple of 2^-24. The scaling is exact, and
         * adding 2^23 leaves a float whose last place is 1, so the sum
         * rounds to a whole number, to nearest even (zeros, common in
         * gradients, take this path: nearbyintf was 5x slower) */
        float m = (fabsf(x) * 0x1p24f + 0x1p23f) - 0x1p23f;
        return (uint16_t)(sign | (uint16_t)m);
    }
    uint32_t h = ((a >> 23) - 127u + 15u) << 10 | ((a >> 13) & 0x3ffu);
    uint32_t rest = a & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++; /* a carry into the exponent is still the right value */
    return (uint16_t)(sign | h);
}

float dml_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) { /* zero or subnormal: m 2^-24, exact in fp32 */
        float v = (float)m * 0x1p-24f;
        return sign ? -v : v;
    }
    uint32_t u = e == 31 ? sign | 0x7f800000u | m << 13
                         : sign | (e - 15u + 127u) << 23 | m << 13;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

uint16_t dml_bf16_from_f32(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* NaN stays NaN, quiet */
    u += 0x7fffu + ((u >> 16) & 1u);          /* to nearest, ties even */
    return (uint16_t)(u >> 16);
}

float dml_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* The reduction operators: inout = round16(widen(in) + widen(inout)). */
static void add_fp16(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++)
        b[i] = dml_fp16_from_f32(dml_fp16_to_f32(a[i]) +
                                 dml_fp16_to_f32(b[i]));
}

static void add_bf16(void *in, void *inout, int *len, MPI_Datatype *type)
{
    (void)type;
    const uint16_t *a = in;
    uint16_t *b = inout;
    for (int i = 0; i < *len; i++)
        b[i] = dml_bf16_from_f32(dml_bf16_to_f32(a[i]) +
                                 dml_bf16_to_f32(b[i]));
}

typedef struct half {
    bool bf16;          /* bf16 (else fp16) */
    MPI_Op op;          /* add_fp16 or add_bf16 */
    uint16_t *wire;     /* [nflat] this rank's gradients in 16 bits; the
                           allreduce sums them in place */
    uint16_t *shard16;  /* ZeRO-1: [nflat / dp] the reduced shards */
    float *shard;       /* ZeRO-1: [nflat / dp] the same in fp32, what
                           the optimizer reads */
} half;

static bool is_bf16(const dml_sync *s)
{
    return s->strategy == &dml_sync_bf16 ||
           s->strategy == &dml_sync_bf16_zero1;
}

static dml_status half_common(dml_sync *s, bool zero1, dml_error *err)
{
    half *h = calloc(1, sizeof *h);
    if (!h)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    s->impl = h;
    h->op = MPI_OP_NULL;
    h->bf16 = is_bf16(s);
    size_t n = s->st->nflat, nshard = n / (size_t)s->dp;
    h->wire = malloc((n ? n : 1) * sizeof *h->wire);
    if (zero1) {
        h->shard16 = malloc((nshard ? nshard : 1) * sizeof *h->shard16);
        h->shard = calloc(nshard ? nshard : 1, sizeof *h->shard);
    }
    if (!h->wire || (zero1 && (!h->shard16 || !h->shard)))
        return dml_error_msg(err, DML_ENOMEM, "out of memory for the "
                             "16-bit gradients");
    /* local: creating an operator does not communicate */
    if (MPI_Op_create(h->bf16 ? add_bf16 : add_fp16, 1, &h->op) !=
        MPI_SUCCESS)
        return dml_error_msg(err, DML_ERUNTIME, "MPI_Op_create failed");
    return DML_OK;
}

/* Every rank updates everything, reading the summed gradient in place
 * (as allreduce.c). */
static dml_status half_setup(dml_sync *s, dml_error *err)
{
    DML_CHECK(half_common(s, false, err));
    return dml__sync_own_all(s, err);
}

static dml_status half_zero1_setup(dml_sync *s, dml_error *err)
{
    DML_CHECK(half_common(s, true, err));
    const half *h = s->impl;
    return dml__sync_own_shards(s, h->shard, err);
}

static void to_16(const half *h, const float *x, uint16_t *out, size_t n)
{
    if (h->bf16)
        for (size_t i = 0; i < n; i++)
            out[i] = dml_bf16_from_f32(x[i]);
    else
        for (size_t i = 0; i < n; i++)
            out[i] = dml_fp16_from_f32(x[i]);
}

static void to_32(const half *h, const uint16_t *x, float *out, size_t n)
{
    if (h->bf16)
        for (size_t i = 0; i < n; i++)
            out[i] = dml_bf16_to_f32(x[i]);
    else
        for (size_t i = 0; i < n; i++)
            out[i] = dml_fp16_to_f32(x[i]);
}

static void half_start(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    half *h = s->impl;
    size_t n = b->hi - b->lo;
    to_16(h, s->st->grads + b->lo, h->wire + b->lo, n);
    MPI_Iallreduce(MPI_IN_PLACE, h->wire + b->lo, (int)n, MPI_UINT16_T,
                   h->op, s->dp_comm, &s->req[k]);
    dml__sync_sent(s, DML_COLL_ALLREDUCE, (double)n * sizeof(uint16_t));
}

/* The bucket's sum has arrived: back to fp32, where the optimizer reads
 * it. */
static bool half_next(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    const half *h = s->impl;
    to_32(h, h->wire + b->lo, s->st->grads + b->lo, b->hi - b->lo);
    return false;
}

static void half_zero1_start(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    half *h = s->impl;
    size_t n = b->hi - b->lo;
    to_16(h, s->st->grads + b->lo, h->wire + b->lo, n);
    MPI_Ireduce_scatter_block(h->wire + b->lo, h->shard16 + b->shard_off,
                              (int)b->chunk, MPI_UINT16_T, h->op,
                              s->dp_comm, &s->req[k]);
    dml__sync_sent(s, DML_COLL_REDUCESCATTER, (double)n * sizeof(uint16_t));
}

static bool half_zero1_next(dml_sync *s, int k)
{
    const dml_sync_bucket *b = &s->buckets[k];
    const half *h = s->impl;
    to_32(h, h->shard16 + b->shard_off, h->shard + b->shard_off, b->chunk);
    return false;
}

static void half_teardown(dml_sync *s)
{
    half *h = s->impl;
    if (!h)
        return;
    if (h->op != MPI_OP_NULL)
        MPI_Op_free(&h->op);
    free(h->wire);
    free(h->shard16);
    free(h->shard);
    free(h);
    s->impl = NULL;
}

const dml_sync_strategy dml_sync_fp16 = {
    .name = "fp16",
    .setup = half_setup,
    .start = half_start,
    .next = half_next,
    .teardown = half_teardown,
};

const dml_sync_strategy dml_sync_bf16 = {
    .name = "bf16",
    .setup = half_setup,
    .start = half_start,
    .next = half_next,
    .teardown = half_teardown,
};

const dml_sync_strategy dml_sync_fp16_zero1 = {
    .name = "fp16-zero1",
    .setup = half_zero1_setup,
    .start = half_zero1_start,
    .next = half_zero1_next,
    .step_finish = dml__sync_gather_shards,
    .teardown = half_teardown,
};

const dml_sync_strategy dml_sync_bf16_zero1 = {
    .name = "bf16-zero1",
    .setup = half_zero1_setup,
    .start = half_zero1_start,
    .next = half_zero1_next,
    .step_finish = dml__sync_gather_shards,
    .teardown = half_teardown,
};
