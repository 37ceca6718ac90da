/*
 * sync_check: every gradient-exchange strategy of executor/sync/, checked
 * on real MPI ranks the way nccl-tests checks a collective (issues 13, 14):
 *
 *   mpirun -np N sync_check
 *
 * The ranks are put on fake nodes of g consecutive ranks (every g that
 * divides N: all on one node, one to a node, and between), so the
 * strategies that go node by node run both of their levels on one
 * machine. For each strategy, layout and bucket size, every rank fills its
 * gradient with values that sum exactly in fp32 ((rank + 1) x a small
 * integer / 4), the buckets are started layer by layer from the last, as
 * backward does, and after reduce_finish:
 *   - each owned range holds the sum over the ranks (every value checked,
 *     wrong ones counted);
 *   - the owned ranges of the data-parallel group cover every value
 *     exactly `replicas` times (allreduce: every rank owns everything;
 *     zero1: each value is one rank's), and nstate is their size;
 *   - after step_finish every rank holds the parameters the owners wrote;
 *   - the bytes each rank counted are the collectives' bus bandwidth
 *     factors times their buffers, on the link each one took (a flat
 *     ring: the link to the next rank; hierarchical: inside the node for
 *     the reduce-scatter and all-gather, across for the shard's
 *     allreduce);
 *   - averaged over the ranks, they are the bytes the strategy's pricer
 *     says a replica sends to its node and to others (dml_sync_cost via
 *     the cost model's detail.dp_bytes_intra/inter), for the same model
 *     on a cluster of N/g nodes of g ranks (the executor pads its buffer
 *     to a multiple of N values; the pricer counts the parameters).
 * The compressed strategies (issue 15) run here too: fp16/bf16 (with and
 * without ZeRO-1) and top-k with K = 1 must give the exact sums (the
 * values are exact in 16 bits); top-k with K = 0.25 and PowerSGD of rank
 * 2 are checked for ownership and bytes (sync_compress_check checks their
 * values): 2 bytes a value, (n-1) k (4 + 4), and R (rows + cols) per
 * matrix plus the biases, against their pricers.
 * Nodes of unequal size make sync=hierarchical refuse in one line on every
 * rank. Prints one line per case with its #wrong; exit 1 when any is not
 * 0.
 */
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/presets.h"
#include "costmodel/step_time.h"
#include "executor/stage.h"
#include "executor/sync/sync.h"

/* The equivalence tests' MLP: 32 -> 16 -> 16 -> 4, one stage. */
static const int64_t widths[] = {32, 16, 16, 4};

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

/* A strategy with the knob that selects it (top-k's fraction, PowerSGD's
 * rank). exact: every owned value is the exact sum over the ranks (the
 * test's values are exact in 16 bits too, and top-k with K = 1 sends
 * everything); else the sums are sync_compress_check's, and this checks
 * ownership, the gather and the bytes. */
typedef struct sync_case {
    const dml_sync_strategy *strategy;
    dml_sync_kind kind;
    double param;
    bool exact;
} sync_case;

static bool sharded(const dml_sync_strategy *s)
{
    return s == &dml_sync_zero1 || s == &dml_sync_hier_zero1 ||
           s == &dml_sync_fp16_zero1 || s == &dml_sync_bf16_zero1;
}

/* Fake nodes: ranks r and r' share one when r / g == r' / g, or, with
 * uneven, ranks 0 .. n-2 share node 0 and the last is alone. */
static void fake_nodes(int g, bool uneven, dml_dp_nodes *out)
{
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    int node = uneven ? rank == n - 1 : rank / g;
    MPI_Comm_split(MPI_COMM_WORLD, node, rank, &out->node);
    MPI_Comm_dup(out->node, &out->node_late);
    int local, here;
    MPI_Comm_rank(out->node, &local);
    MPI_Comm_size(out->node, &here);
    MPI_Comm_split(MPI_COMM_WORLD, local, rank, &out->cross);
    out->per_node_min = uneven ? 1 : g;
    out->per_node_max = uneven ? n - 1 : g;
    int next = (rank + 1) % n;
    out->next_same_node =
        uneven ? (next == n - 1) == (rank == n - 1) : next / g == node;
}

static void fake_nodes_free(dml_dp_nodes *n)
{
    MPI_Comm_free(&n->node);
    MPI_Comm_free(&n->node_late);
    MPI_Comm_free(&n->cross);
}

/* The pricer's bytes per replica for the strategy on n ranks, g to a
 * node: intra and inter, bytes. */
static void priced_bytes(const sync_case *c, int n, int g, double *intra,
                         double *inter)
{
    *intra = *inter = 0;
    if (n < 2)
        return;
    dml_error err;
    json_t *mj = json_pack("{s:s, s:s, s:i, s:[i, i], s:i, s:s}", "type",
                           "mlp", "name", "mlp-tiny", "input", 32, "hidden",
                           16, 16, "output", 4, "dtype", "fp32");
    static dml_model_spec model;
    static dml_cluster_spec cluster;
    static dml_costmodel_ctx ctx;
    const char *dd = dml_costmodel_data_dir(NULL);
    if (dml_model_spec_from_json(mj, "mlp-tiny", &model, &err) != DML_OK ||
        dml_cluster_spec_load("cpu-node", dd, &cluster, &err) != DML_OK) {
        fprintf(stderr, "pricer inputs: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    json_decref(mj);
    cluster.groups[0].devices_per_node = g;
    dml_parallel_config par;
    dml_parallel_config_init(&par);
    par.dp = n;
    par.mbs = 1;
    par.microbatches = 1;
    par.zero = sharded(c->strategy);
    par.sync = (dml_sync_spec){.kind = c->kind, .param = c->param};
    dml_prediction pred;
    dml_costmodel_detail d;
    if (dml_cluster_spec_scale_nodes(&cluster, n / g, &err) != DML_OK ||
        dml_costmodel_prepare(&model, &cluster, NULL, &ctx, &err) != DML_OK ||
        dml_costmodel_step_time(&ctx, &par, NULL, 0, &pred, &d, &err) !=
            DML_OK) {
        fprintf(stderr, "pricer: %s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* the pricer counts the parameters; the executor its padded buffer,
     * but for top-k and PowerSGD, which send entries of parameters */
    double pad = 1.0;
    size_t params = 0;
    for (int l = 0; l < 3; l++)
        params += (size_t)(widths[l] * widths[l + 1] + widths[l + 1]);
    if (c->kind != DML_SYNC_TOPK && c->kind != DML_SYNC_TOPK_NOEF &&
        c->kind != DML_SYNC_POWERSGD)
        pad = (double)((params + (size_t)n - 1) / (size_t)n * (size_t)n) /
              (double)params;
    *intra = d.dp_bytes_intra * pad;
    *inter = d.dp_bytes_inter * pad;
}

/* What this rank's collectives send, by level, under the ring's bus
 * bandwidth factors (sync.h). */
static void counted_bytes(const sync_case *c, const dml_stage *st, int n,
                          int g, bool next_same, double *intra,
                          double *inter)
{
    const dml_sync_strategy *strategy = c->strategy;
    double b = (double)st->nflat * 4.0;
    *intra = *inter = 0;
    if (n < 2)
        return;
    if (strategy == &dml_sync_hier ||
        strategy == &dml_sync_hier_zero1) {
        int nodes = n / g;
        /* reduce-scatter + all-gather inside, the shard's allreduce (or
         * reduce-scatter + all-gather) across */
        *intra = 2.0 * (g - 1) / g * b;
        *inter = 2.0 * (nodes - 1) / nodes * b / g;
        return;
    }
    double ring = (double)(n - 1) / n, all = 2.0 * ring * b;
    if (c->kind == DML_SYNC_FP16 || c->kind == DML_SYNC_BF16)
        /* 2 bytes a value reduced; ZeRO-1's gather of fp32 parameters */
        all = sharded(strategy) ? ring * b / 2 + ring * b : all / 2;
    if (c->kind == DML_SYNC_TOPK || c->kind == DML_SYNC_TOPK_NOEF)
        /* (n - 1) k entries of a 4-byte index and a 4-byte value */
        all = (n - 1) * ceil(c->param * (double)st->nparams) * 8.0;
    if (c->kind == DML_SYNC_POWERSGD) {
        /* R (rows + cols) per matrix and the biases, allreduced */
        double v = 0;
        for (int l = 0; l < st->nlayers; l++)
            v += c->param * (st->layers[l].in + st->layers[l].out) +
                 st->layers[l].out;
        all = 2.0 * ring * v * 4.0;
    }
    if (next_same)
        *intra = all;
    else
        *inter = all;
}

static bool near(double got, double want)
{
    return fabs(got - want) <= 1e-9 * (fabs(want) + 1.0);
}

/* One case; returns the values found wrong (summed over the ranks). */
static long check(const sync_case *c, dml_stage *st, size_t bucket_bytes,
                  int g)
{
    const dml_sync_strategy *strategy = c->strategy;
    dml_sync_spec spec = {.kind = c->kind, .param = c->param};
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    dml_dp_nodes nodes;
    fake_nodes(g, false, &nodes);
    dml_sync *s = NULL;
    dml_error err;
    if (dml_sync_open(strategy, &spec, 1, st, MPI_COMM_WORLD, &nodes,
                      bucket_bytes, &s, &err) != DML_OK) {
        fprintf(stderr, "rank %d: dml_sync_open failed: %s\n", rank,
                err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    /* the padding's gradient is zero, as in training (no layer writes
     * it; top-k and PowerSGD send parameters only) */
    for (size_t i = 0; i < st->nflat; i++)
        st->grads[i] = i < st->nparams ? grad_value(rank, i) : 0.0f;
    dml_sync_begin_step(s, NULL, NULL);
    for (int l = st->nlayers - 1; l >= 0; l--) {
        dml_sync_grad_ready(s, l);
        dml_sync_progress(s);
    }
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
            float want = i < st->nparams ? tri * (float)(1 + i % 7) * 0.25f
                                         : 0.0f;
            wrong += c->exact && o->grad[i - o->lo] != want;
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

    /* this rank's bytes, by level */
    double want_in, want_out;
    counted_bytes(c, st, n, g, nodes.next_same_node, &want_in, &want_out);
    wrong += !near(s->sent.intra_node, want_in) +
             !near(s->sent.inter_node, want_out);
    /* the group's average against the pricer */
    double mean[2] = {s->sent.intra_node / n, s->sent.inter_node / n};
    MPI_Allreduce(MPI_IN_PLACE, mean, 2, MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);
    double priced_in, priced_out;
    priced_bytes(c, n, g, &priced_in, &priced_out);
    wrong += !near(mean[0], priced_in) + !near(mean[1], priced_out);

    long total = 0;
    MPI_Allreduce(&wrong, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    char name[48];
    if (dml_sync_kind_has_param(c->kind))
        snprintf(name, sizeof name, "%s:%g", strategy->name, c->param);
    else
        snprintf(name, sizeof name, "%s", strategy->name);
    if (rank == 0)
        printf("%-18s %d ranks, %d to a node, %8zu-byte buckets %3d "
               "buckets: bytes/replica intra %8.0f inter %8.0f (priced "
               "%8.0f %8.0f) #wrong %ld\n",
               name, n, g, bucket_bytes, s->nbuckets, mean[0], mean[1],
               priced_in, priced_out, total);
    dml_sync_close(s);
    fake_nodes_free(&nodes);
    return total;
}

/* Nodes of 1 and n-1 ranks: hierarchical refuses, on every rank alike. */
static long check_uneven(dml_stage *st)
{
    int rank, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    dml_dp_nodes nodes;
    fake_nodes(1, true, &nodes);
    dml_sync *s = NULL;
    dml_error err;
    dml_status r = dml_sync_open(&dml_sync_hier, NULL, 1, st,
                                 MPI_COMM_WORLD, &nodes, 1u << 20, &s, &err);
    long wrong = r == DML_OK || s != NULL ||
                 !strstr(err.msg, "as many data-parallel ranks on every "
                                  "node");
    long total = 0;
    MPI_Allreduce(&wrong, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%-18s %d ranks on nodes of %d and 1: refused (%s) "
               "#wrong %ld\n",
               "hierarchical", n, n - 1, r == DML_OK ? "no!" : err.msg,
               total);
    fake_nodes_free(&nodes);
    return total;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int n;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    dml_stage_model m = {.layers = 3, .widths = widths,
                         .hidden_act = DML_ACT_KIND_RELU};
    dml_stage st;
    dml_error err;
    if (dml_stage_init(&st, &m, 0, 2, 1, 0, MPI_COMM_SELF, (size_t)n,
                       &err) != DML_OK) {
        fprintf(stderr, "dml_stage_init failed\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const sync_case all[] = {
        {&dml_sync_allreduce, DML_SYNC_ALLREDUCE, 0, true},
        {&dml_sync_zero1, DML_SYNC_ALLREDUCE, 0, true},
        {&dml_sync_hier, DML_SYNC_HIERARCHICAL, 0, true},
        {&dml_sync_hier_zero1, DML_SYNC_HIERARCHICAL, 0, true},
        {&dml_sync_fp16, DML_SYNC_FP16, 0, true},
        {&dml_sync_bf16, DML_SYNC_BF16, 0, true},
        {&dml_sync_fp16_zero1, DML_SYNC_FP16, 0, true},
        {&dml_sync_bf16_zero1, DML_SYNC_BF16, 0, true},
        {&dml_sync_topk_ef, DML_SYNC_TOPK, 1, true},
        {&dml_sync_topk_ef, DML_SYNC_TOPK, 0.25, false},
        {&dml_sync_topk_noef, DML_SYNC_TOPK_NOEF, 0.25, false},
        {&dml_sync_psgd, DML_SYNC_POWERSGD, 2, false},
    };
    const size_t buckets[] = {64, 200, 1u << 20};
    long wrong = 0;
    for (size_t a = 0; a < sizeof all / sizeof all[0]; a++) {
        /* sharded, node-by-node and compressed strategies run with
         * dp > 1 only (dml_sync_strategy_for) */
        if (all[a].strategy != &dml_sync_allreduce && n < 2)
            continue;
        for (int g = 1; g <= n; g++) {
            if (n % g)
                continue;
            for (size_t b = 0; b < 3; b++)
                wrong += check(&all[a], &st, buckets[b], g);
        }
    }
    if (n >= 3)
        wrong += check_uneven(&st);
    dml_stage_free(&st);
    MPI_Finalize();
    return wrong == 0 ? 0 : 1;
}
