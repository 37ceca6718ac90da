/*
 * sync_check: every gradient-exchange strategy of executor/sync/, checked
 * on real MPI ranks the way nccl-tests checks a collective (issue 13):
 *
 *   mpirun -np N sync_check
 *
 * For each strategy and bucket size, every rank fills its gradient with
 * values that sum exactly in fp32 ((rank + 1) x a small integer / 4), the
 * buckets are started layer by layer from the last, as backward does, and
 * after reduce_finish:
 *   - each owned range holds the sum over the ranks (every value checked,
 *     wrong ones counted);
 *   - the owned ranges of the data-parallel group cover every value
 *     exactly `replicas` times (allreduce: every rank owns everything;
 *     zero1: each value is one rank's), and nstate is their size;
 *   - after step_finish every rank holds the parameters the owners wrote;
 *   - the bytes counted are the cost model's: the gradient bytes times the
 *     bus bandwidth factor 2 (n-1)/n (allreduce; reduce-scatter plus
 *     all-gather, (n-1)/n each, for zero1), on the link the caller named.
 * Prints one line per case with its #wrong; exit 1 when any is not 0.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "executor/stage.h"
#include "executor/sync/sync.h"

/* A gradient value that sums exactly: (rank + 1) * (1 + i % 7) / 4. */
static float grad_value(int rank, size_t i)
{
    return (float)(rank + 1) * (float)(1 + i % 7) * 0.25f;
}

/* The value the owner of parameter i writes (the same on every rank). */
static float param_value(size_t i)
{
    return (float)(i % 1000) * 0.5f;
}

/* One case; returns the values found wrong (summed over the ranks). */
static long check(const dml_sync_strategy *strategy, dml_stage *st,
                  size_t bucket_bytes, bool same_node)
{
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    dml_sync *s = NULL;
    dml_error err;
    if (dml_sync_open(strategy, st, MPI_COMM_WORLD, same_node, bucket_bytes,
                      &s, &err) != DML_OK) {
        fprintf(stderr, "rank %d: dml_sync_open failed\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (size_t i = 0; i < st->nflat; i++)
        st->grads[i] = grad_value(rank, i);
    dml_sync_begin_step(s, NULL, NULL);
    for (int l = st->nlayers - 1; l >= 0; l--)
        dml_sync_grad_ready(s, l);
    dml_sync_reduce_finish(s);

    long wrong = 0;
    float tri = (float)n * (float)(n + 1) / 2.0f;
    int *covered = calloc(st->nflat, sizeof *covered);
    size_t owned = 0;
    for (size_t i = 0; i < st->nflat; i++)
        st->params[i] = -1.0f;
    for (int k = 0; k < s->nowned; k++) {
        const dml_sync_owned *o = &s->owned[k];
        owned += o->hi - o->lo;
        for (size_t i = o->lo; i < o->hi; i++) {
            float want = tri * (float)(1 + i % 7) * 0.25f;
            wrong += o->grad[i - o->lo] != want;
            covered[i]++;
            st->params[i] = param_value(i);
        }
    }
    wrong += owned != s->nstate;
    MPI_Allreduce(MPI_IN_PLACE, covered, (int)st->nflat, MPI_INT, MPI_SUM,
                  MPI_COMM_WORLD);
    for (size_t i = 0; i < st->nflat; i++)
        wrong += covered[i] != s->replicas;
    free(covered);

    dml_sync_step_finish(s);
    for (size_t i = 0; i < st->nflat; i++)
        wrong += st->params[i] != param_value(i);

    double want = n > 1 ? 2.0 * (n - 1) / n * (double)st->nflat * 4.0 : 0.0;
    double got = same_node ? s->sent.intra_node : s->sent.inter_node;
    double other = same_node ? s->sent.inter_node : s->sent.intra_node;
    wrong += fabs(got - want) > 1e-9 * (want + 1.0) || other != 0.0;
    long total = 0;
    MPI_Allreduce(&wrong, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%-10s %4d ranks %8zu-byte buckets %3d buckets %10.0f "
               "bytes sent/rank (%s) #wrong %ld\n",
               strategy->name, n, bucket_bytes, s->nbuckets, got,
               same_node ? "intra-node" : "inter-node", total);
    dml_sync_close(s);
    return total;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int n;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    /* The equivalence tests' MLP: 32 -> 16 -> 16 -> 4, one stage. */
    static const int64_t widths[] = {32, 16, 16, 4};
    dml_stage_model m = {.layers = 3, .widths = widths,
                         .hidden_act = DML_ACT_KIND_RELU};
    dml_stage st;
    dml_error err;
    if (dml_stage_init(&st, &m, 0, 2, 1, 0, MPI_COMM_SELF, (size_t)n,
                       &err) != DML_OK) {
        fprintf(stderr, "dml_stage_init failed\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const dml_sync_strategy *all[] = {&dml_sync_allreduce, &dml_sync_zero1};
    const size_t buckets[] = {64, 200, 1u << 20};
    long wrong = 0;
    for (size_t a = 0; a < 2; a++) {
        if (all[a] == &dml_sync_zero1 && n < 2)
            continue; /* ZeRO-1 runs with dp > 1 only */
        for (size_t b = 0; b < 3; b++)
            wrong += check(all[a], &st, buckets[b], b != 1);
    }
    dml_stage_free(&st);
    MPI_Finalize();
    return wrong == 0 ? 0 : 1;
}
