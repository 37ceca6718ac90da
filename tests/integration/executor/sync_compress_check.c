/*
 * sync_compress_check: the compressed gradient exchanges of executor/sync/
 * (issue 15) checked on real MPI ranks against references computed here:
 *
 *   mpirun -np N sync_compress_check      (N = 2..4; 4 for the TP cases)
 *
 *   - fp16, bf16 and their ZeRO-1 variants: every reduced value within
 *     half.c's bound of the exact sum (double) of the ranks' gradients,
 *     spread over 2^-30 .. 2^4 (and bf16 over 1e30, which fp16 cannot
 *     hold), a 16-bit value, the same on every rank; and not the fp32
 *     sum everywhere (a strategy that sent fp32 would fail);
 *   - topk:K and topk-noef:K over three steps: every rank's result and,
 *     with error feedback, every rank's residual bitwise equal to a
 *     reference computed on rank 0 from all ranks' gradients (a sort by
 *     magnitude, ties by index, sums rank by rank); gradients with many
 *     ties;
 *   - powersgd:R with R the full rank of every matrix: the dense sum
 *     within 1e-4 relative; with R = 1 over two steps (warm start): the
 *     update plus every rank's residual is every rank's gradient plus
 *     residual (error feedback loses nothing), the update the same on
 *     every rank;
 *   - on 4 ranks as dp 2 x tp 2 (tensor-parallel MLP of stage.h): top-k
 *     and PowerSGD give the tensors every TP rank holds whole the same
 *     update on both TP ranks;
 *   - each: the bytes counted are the collectives' ring bytes.
 * Prints one line per case with its #wrong; exit 1 when any is not 0.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "executor/stage.h"
#include "executor/sync/compress.h"
#include "executor/sync/sync.h"

/* The equivalence tests' MLP: 32 -> 16 -> 16 -> 4. */
static const int64_t widths[] = {32, 16, 16, 4};

typedef struct world {
    int rank, n;
} world;

static world me(void)
{
    world w;
    MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w.n);
    return w;
}

static void init_stage(dml_stage *st, int tp, int tp_i, MPI_Comm tp_comm,
                       size_t pad)
{
    dml_stage_model m = {.layers = 3, .widths = widths,
                         .hidden_act = DML_ACT_KIND_RELU};
    dml_error err;
    if (dml_stage_init(st, &m, 0, 2, tp, tp_i, tp_comm, pad, &err) !=
        DML_OK) {
        fprintf(stderr, "dml_stage_init failed: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
}

static dml_sync *open_sync(const dml_sync_strategy *strategy,
                           dml_sync_kind kind, double param, dml_stage *st,
                           MPI_Comm dp)
{
    dml_dp_nodes nodes;
    memset(&nodes, 0, sizeof nodes);
    nodes.node = nodes.node_late = nodes.cross = MPI_COMM_NULL;
    nodes.next_same_node = true;
    dml_sync_spec spec = {.kind = kind, .param = param};
    dml_sync *s = NULL;
    dml_error err;
    if (dml_sync_open(strategy, &spec, 11, st, dp, &nodes, 200, &s, &err) !=
        DML_OK) {
        fprintf(stderr, "dml_sync_open(%s) failed: %s\n", strategy->name,
                err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return s;
}

/* One step of the exchange, as the training loop drives it. */
static void exchange(dml_sync *s)
{
    dml_sync_begin_step(s, NULL, NULL);
    for (int l = s->st->nlayers - 1; l >= 0; l--) {
        dml_sync_grad_ready(s, l);
        dml_sync_progress(s);
    }
    dml_sync_reduce_finish(s);
    dml_sync_step_finish(s);
}

static long report(const char *what, long wrong)
{
    world w = me();
    long total = 0;
    MPI_Allreduce(&wrong, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (w.rank == 0)
        printf("%-44s %d ranks #wrong %ld\n", what, w.n, total);
    return total;
}

/* Values differing between the ranks of comm (bitwise), counted once. */
static long differ_across(const float *v, size_t n, MPI_Comm comm)
{
    int size;
    MPI_Comm_size(comm, &size);
    float *all = malloc((size_t)size * n * sizeof(float));
    MPI_Allgather(v, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, comm);
    long wrong = 0;
    for (int r = 1; r < size; r++)
        wrong += memcmp(all, all + (size_t)r * n, n * sizeof(float)) != 0;
    free(all);
    return wrong;
}

/* ---- fp16, bf16 --------------------------------------------------------- */

/* Rank r's gradient value i: sign x 2^e x (1 + f), e in [-30, 4]; bf16
 * also gets some values near 1e30. */
static float half_grad(int r, size_t i, bool huge)
{
    dml_rng g;
    dml_rng_seed(&g, 1000003u * (uint64_t)(r + 1) + i);
    double e = -30.0 + (double)dml_rng_below(&g, 35);
    double v = ldexp(1.0 + dml_rng_uniform(&g), (int)e);
    if (huge && i % 11 == 0)
        v = 1e30 * (1.0 + dml_rng_uniform(&g));
    return dml_rng_below(&g, 2) ? (float)v : (float)-v;
}

static long check_half_case(const dml_sync_strategy *strategy, bool bf16,
                            dml_stage *st)
{
    world w = me();
    dml_sync *s = open_sync(strategy, bf16 ? DML_SYNC_BF16 : DML_SYNC_FP16,
                            0, st, MPI_COMM_WORLD);
    for (size_t i = 0; i < st->nflat; i++)
        st->grads[i] = half_grad(w.rank, i, bf16);
    exchange(s);
    double u = (bf16 ? 0x1p-8 : 0x1p-11) + 0x1p-24;
    double gamma = w.n * u / (1 - w.n * u);
    double floor_abs = bf16 ? 0 : w.n * 0x1p-24;
    long wrong = 0, not_fp32 = 0;
    for (int k = 0; k < s->nowned; k++) {
        const dml_sync_owned *o = &s->owned[k];
        for (size_t i = o->lo; i < o->hi; i++) {
            double sum = 0, mag = 0;
            float sum32 = 0;
            for (int r = 0; r < w.n; r++) {
                sum += half_grad(r, i, bf16);
                mag += fabs(half_grad(r, i, bf16));
                sum32 += half_grad(r, i, bf16);
            }
            float got = o->grad[i - o->lo];
            float back = bf16 ? dml_bf16_to_f32(dml_bf16_from_f32(got))
                              : dml_fp16_to_f32(dml_fp16_from_f32(got));
            wrong += !isfinite(got) || back != got ||
                     fabs(got - sum) > gamma * mag + floor_abs;
            not_fp32 += got != sum32;
        }
    }
    wrong += not_fp32 == 0; /* an fp32 exchange would pass the bound */
    /* bytes: 2 per value, allreduce or reduce-scatter on the ring; with
     * ZeRO-1 the fp32 parameters' all-gather after it */
    bool z = strategy == &dml_sync_fp16_zero1 ||
             strategy == &dml_sync_bf16_zero1;
    double ring = (double)(w.n - 1) / w.n * (double)st->nflat;
    double want = z ? ring * 2.0 + ring * 4.0 : 2.0 * ring * 2.0;
    wrong += fabs(s->sent.intra_node - want) > 1e-9 * want;
    if (!z)
        wrong += differ_across(st->grads, st->nflat, MPI_COMM_WORLD);
    dml_sync_close(s);
    char what[64];
    snprintf(what, sizeof what, "%s within dp u sum|g| of the sum",
             strategy->name);
    return report(what, wrong);
}

static long check_half(void)
{
    world w = me();
    dml_stage st;
    init_stage(&st, 1, 0, MPI_COMM_SELF, (size_t)w.n);
    long wrong = check_half_case(&dml_sync_fp16, false, &st) +
                 check_half_case(&dml_sync_bf16, true, &st) +
                 check_half_case(&dml_sync_fp16_zero1, false, &st) +
                 check_half_case(&dml_sync_bf16_zero1, true, &st);
    dml_stage_free(&st);
    return wrong;
}

/* ---- top-k -------------------------------------------------------------- */

/* Rank r's gradient at step t: multiples of 1/8 in [-10, 10]/8, many
 * ties. */
static void topk_grads(float *g, size_t n, int r, int t)
{
    dml_rng x;
    dml_rng_seed(&x, 77u + 1000u * (uint64_t)r + (uint64_t)t);
    for (size_t i = 0; i < n; i++)
        g[i] = (float)((int)dml_rng_below(&x, 21) - 10) * 0.125f;
}

static const float *sort_base;

/* Larger magnitude first, then the lower index. */
static int by_magnitude(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    float x = fabsf(sort_base[i]), y = fabsf(sort_base[j]);
    if (x != y)
        return x > y ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int by_index(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    return i < j ? -1 : i > j;
}

/* Rank 0's reference of one step: acc[r] = grad + residual of each rank,
 * the top k of each by a full sort, summed rank by rank into sum; the
 * residuals (ef) keep what was not sent. */
static void topk_reference(float *acc, float *res, float *sum, size_t n,
                           size_t nflat, size_t k, int ranks, bool ef)
{
    size_t *order = malloc(n * sizeof *order);
    memset(sum, 0, nflat * sizeof(float));
    for (int r = 0; r < ranks; r++) {
        float *a = acc + (size_t)r * n;
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        sort_base = a;
        qsort(order, n, sizeof *order, by_magnitude);
        qsort(order, k, sizeof *order, by_index);
        for (size_t j = 0; j < k; j++)
            sum[order[j]] += a[order[j]];
        if (ef) {
            memcpy(res + (size_t)r * n, a, n * sizeof(float));
            for (size_t j = 0; j < k; j++)
                res[(size_t)r * n + order[j]] = 0;
        }
    }
    free(order);
}

static long check_topk_case(const dml_sync_strategy *strategy, double K)
{
    world w = me();
    dml_stage st;
    init_stage(&st, 1, 0, MPI_COMM_SELF, (size_t)w.n);
    bool ef = strategy == &dml_sync_topk_ef;
    dml_sync *s = open_sync(strategy, ef ? DML_SYNC_TOPK : DML_SYNC_TOPK_NOEF,
                            K, &st, MPI_COMM_WORLD);
    size_t n = st.nparams, k = (size_t)ceil(K * (double)n);
    float *acc = calloc((size_t)w.n * n, sizeof(float));
    float *res = calloc((size_t)w.n * n, sizeof(float));
    float *sum = calloc(st.nflat, sizeof(float));
    float *mine = malloc(n * sizeof(float));
    float *state = malloc(n * sizeof(float));
    long wrong = 0;
    for (int t = 0; t < 3; t++) {
        topk_grads(mine, n, w.rank, t);
        memset(st.grads, 0, st.nflat * sizeof(float));
        memcpy(st.grads, mine, n * sizeof(float));
        MPI_Gather(mine, (int)n, MPI_FLOAT, acc, (int)n, MPI_FLOAT, 0,
                   MPI_COMM_WORLD);
        exchange(s);
        if (w.rank == 0) {
            for (size_t i = 0; i < (size_t)w.n * n; i++)
                acc[i] += res[i]; /* the residual joins the gradient */
            topk_reference(acc, res, sum, n, st.nflat, k, w.n, ef);
        }
        MPI_Bcast(sum, (int)st.nflat, MPI_FLOAT, 0, MPI_COMM_WORLD);
        wrong += memcmp(sum, st.grads, st.nflat * sizeof(float)) != 0;
        if (ef) {
            wrong += dml_sync_state_values(s) != n;
            dml_sync_state_save(s, state);
            float *want = malloc(n * sizeof(float));
            MPI_Scatter(res, (int)n, MPI_FLOAT, want, (int)n, MPI_FLOAT, 0,
                        MPI_COMM_WORLD);
            wrong += memcmp(want, state, n * sizeof(float)) != 0;
            free(want);
        }
        double bytes = (double)(w.n - 1) * (double)k * 8.0;
        wrong += fabs(s->sent.intra_node - bytes) > 1e-9 * bytes;
    }
    dml_sync_close(s);
    dml_stage_free(&st);
    free(acc);
    free(res);
    free(sum);
    free(mine);
    free(state);
    char what[64];
    snprintf(what, sizeof what, "%s:%g equals rank 0's reference",
             strategy->name, K);
    return report(what, wrong);
}

/* ---- PowerSGD ----------------------------------------------------------- */

static void normal_grads(float *g, size_t n, int r, int t)
{
    dml_rng x;
    dml_rng_seed(&x, 555u + 1000u * (uint64_t)r + (uint64_t)t);
    for (size_t i = 0; i < n; i++)
        g[i] = (float)dml_rng_normal(&x);
}

/* R = 16, the full rank of every matrix of 32-16-16-4: the dense sum. */
static long check_psgd_full(void)
{
    world w = me();
    dml_stage st;
    init_stage(&st, 1, 0, MPI_COMM_SELF, (size_t)w.n);
    dml_sync *s = open_sync(&dml_sync_psgd, DML_SYNC_POWERSGD, 16, &st,
                            MPI_COMM_WORLD);
    size_t n = st.nparams;
    normal_grads(st.grads, n, w.rank, 0);
    double *sum = calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        sum[i] = st.grads[i];
    MPI_Allreduce(MPI_IN_PLACE, sum, (int)n, MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
    exchange(s);
    double big = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        big = fmax(big, fabs(sum[i]));
        err = fmax(err, fabs(st.grads[i] - sum[i]));
    }
    long wrong = !(err <= 1e-4 * big);
    wrong += differ_across(st.grads, n, MPI_COMM_WORLD);
    /* P: R (16 + 16 + 4) + biases 36; Q: R (32 + 16 + 16) */
    double p = 16.0 * 36 + 36, q = 16.0 * 64;
    double bytes = 2.0 * (w.n - 1) / w.n * (p + q) * 4.0;
    wrong += fabs(s->sent.intra_node - bytes) > 1e-9 * bytes;
    if (w.rank == 0)
        printf("powersgd:16 largest error %.3g of largest value %.3g\n",
               err, big);
    dml_sync_close(s);
    dml_stage_free(&st);
    free(sum);
    return report("powersgd:16 (full rank) is the dense sum", wrong);
}

/* R = 1 over two steps: update + sum of residuals = sum of (gradient +
 * old residual), within rounding. */
static long check_psgd_feedback(void)
{
    world w = me();
    dml_stage st;
    init_stage(&st, 1, 0, MPI_COMM_SELF, (size_t)w.n);
    dml_sync *s = open_sync(&dml_sync_psgd, DML_SYNC_POWERSGD, 1, &st,
                            MPI_COMM_WORLD);
    size_t n = st.nparams, ns = dml_sync_state_values(s);
    float *state = calloc(ns, sizeof(float));
    double *before = calloc(n, sizeof(double));
    double *after = calloc(n, sizeof(double));
    long wrong = 0;
    for (int t = 0; t < 2; t++) {
        normal_grads(st.grads, n, w.rank, t);
        dml_sync_state_save(s, state);
        /* the residual covers the weights, in flat order, layer by layer */
        for (size_t i = 0; i < n; i++)
            before[i] = st.grads[i];
        size_t e = 0;
        for (int l = 0; l < st.nlayers; l++) {
            const dml_tensor *x = &st.tensors[st.layers[l].w_tensor];
            for (size_t i = 0; i < x->n; i++)
                before[x->off + i] += state[e++];
        }
        exchange(s);
        dml_sync_state_save(s, state);
        memset(after, 0, n * sizeof(double));
        e = 0;
        for (int l = 0; l < st.nlayers; l++) {
            const dml_tensor *x = &st.tensors[st.layers[l].w_tensor];
            for (size_t i = 0; i < x->n; i++)
                after[x->off + i] = state[e++];
        }
        MPI_Allreduce(MPI_IN_PLACE, before, (int)n, MPI_DOUBLE, MPI_SUM,
                      MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, after, (int)n, MPI_DOUBLE, MPI_SUM,
                      MPI_COMM_WORLD);
        double big = 0, err = 0;
        for (size_t i = 0; i < n; i++) {
            big = fmax(big, fabs(before[i]));
            err = fmax(err, fabs(st.grads[i] + after[i] - before[i]));
        }
        wrong += !(err <= 1e-5 * big);
        wrong += differ_across(st.grads, n, MPI_COMM_WORLD);
    }
    dml_sync_close(s);
    dml_stage_free(&st);
    free(state);
    free(before);
    free(after);
    return report("powersgd:1 update + residuals keep every M", wrong);
}

/* ---- tensor parallelism ------------------------------------------------- */

/* dp 2 x tp 2: rank = dp_i * 2 + tp_i. A tensor every TP rank holds
 * whole gets the same gradient on both; the others their own. */
static long check_tp(const dml_sync_strategy *strategy, dml_sync_kind kind,
                     double param)
{
    world w = me();
    int dp_i = w.rank / 2, tp_i = w.rank % 2;
    MPI_Comm tp, dp;
    MPI_Comm_split(MPI_COMM_WORLD, dp_i, w.rank, &tp);
    MPI_Comm_split(MPI_COMM_WORLD, tp_i, w.rank, &dp);
    dml_stage st;
    init_stage(&st, 2, tp_i, tp, 2);
    dml_sync *s = open_sync(strategy, kind, param, &st, dp);
    long wrong = 0;
    for (int t = 0; t < 2; t++) {
        for (int x = 0; x < st.ntensors; x++) {
            const dml_tensor *v = &st.tensors[x];
            int who = v->tp_replicated ? dp_i : w.rank + 10;
            normal_grads(st.grads + v->off, v->n, who, t * 100 + x);
        }
        exchange(s);
        for (int x = 0; x < st.ntensors; x++)
            if (st.tensors[x].tp_replicated)
                wrong += differ_across(st.grads + st.tensors[x].off,
                                       st.tensors[x].n, tp);
    }
    dml_sync_close(s);
    dml_stage_free(&st);
    MPI_Comm_free(&tp);
    MPI_Comm_free(&dp);
    char what[64];
    snprintf(what, sizeof what, "%s dp2 x tp2: replicated tensors agree",
             strategy->name);
    return report(what, wrong);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    world w = me();
    long wrong = 0;
    if (w.n >= 2) {
        wrong += check_half();
        wrong += check_topk_case(&dml_sync_topk_ef, 0.1);
        wrong += check_topk_case(&dml_sync_topk_noef, 0.1);
        wrong += check_topk_case(&dml_sync_topk_ef, 0.013);
        wrong += check_psgd_full();
        wrong += check_psgd_feedback();
    }
    if (w.n == 4) {
        wrong += check_tp(&dml_sync_topk_ef, DML_SYNC_TOPK, 0.1);
        wrong += check_tp(&dml_sync_psgd, DML_SYNC_POWERSGD, 1);
    }
    MPI_Finalize();
    return wrong == 0 ? 0 : 1;
}
