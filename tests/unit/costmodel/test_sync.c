/*
 * test_sync.c: the data-parallel strategies' knob text and their pricers
 * (costmodel/sync_spec.h, costmodel/sync.h): the bytes each puts on each
 * link level against a hand computation, and how each is timed (hidden
 * behind the backward pass, amortised over H steps, deferred behind the
 * next steps).
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/presets.h"
#include "costmodel/step_time.h"
#include "costmodel/sync.h"
#include "tests/support/test_support.h"

#define REL(a, b) (fabs((double)(a) - (double)(b)) / fabs((double)(b)))

static void knob_text_round_trips_and_errors_say_why(void **state)
{
    (void)state;
    static const char *const good[] = {
        "allreduce", "hierarchical", "fp16",  "bf16",   "topk:0.01",
        "topk-noef:0.05", "powersgd:2", "local:16", "local:16:200", "ssp:0",
        "ssp:2", "gossip:ring", "gossip:onepeer-exp", "gossip:random:3",
        "gossip:torus:topk:0.1", "gossip:random:4:topk:0.01"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        dml_sync_spec s;
        char why[160], back[48];
        assert_true(dml_sync_spec_parse(good[i], &s, why, sizeof why));
        assert_string_equal(dml_sync_spec_format(&s, back, sizeof back),
                            good[i]);
    }
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"topk", "topk needs the fraction of entries kept"},
        {"topk:0", "topk needs"},
        {"topk:1.5", "topk needs"},
        {"powersgd:2.5", "a whole number"},
        {"local:0", "local needs"},
        {"ssp:-1", "ssp needs"},
        {"allreduce:2", "allreduce takes no number"},
        {"gossip", "gossip needs a graph"},
        {"gossip:star", "not a graph"},
        {"gossip:ring:topk:0", "gossip's topk needs the fraction"},
        {"gossip:ring:topk:", "gossip's topk needs the fraction"},
        {"gossip:random:x", "random needs the degree"},
        {"gossips", "not a strategy"},
        {"fp16:", "fp16 takes no number"},
        /* post-local SGD's warm-up: a whole number of steps */
        {"local:16:", "synchronous warm-up steps W"},
        {"local:16:-1", "synchronous warm-up steps W"},
        {"local:16:2.5", "synchronous warm-up steps W"},
        {"ssp:2:3", "ssp needs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dml_sync_spec s;
        char why[160];
        assert_false(dml_sync_spec_parse(bad[i].text, &s, why, sizeof why));
        if (!strstr(why, bad[i].why))
            fail_msg("%s: %s", bad[i].text, why);
    }
    /* local:H:W keeps W apart from H: another strategy than local:H */
    dml_sync_spec a, b;
    char why[160];
    assert_true(dml_sync_spec_parse("local:16:200", &a, why, sizeof why));
    assert_true(dml_sync_spec_parse("local:16", &b, why, sizeof why));
    assert_true(a.param == 16 && a.warmup == 200 && b.warmup == 0);
    assert_false(dml_sync_spec_equal(&a, &b));
    /* the graph and the compression tell gossip strategies apart */
    assert_true(dml_sync_spec_parse("gossip:ring", &a, why, sizeof why));
    assert_true(dml_sync_spec_parse("gossip:exp", &b, why, sizeof why));
    assert_false(dml_sync_spec_equal(&a, &b));
    assert_true(dml_sync_spec_parse("gossip:ring:topk:0.1", &b, why,
                                    sizeof why));
    assert_false(dml_sync_spec_equal(&a, &b));
    assert_true(b.kind == DML_SYNC_GOSSIP && b.compress == 0.1 &&
                b.graph.kind == DML_GRAPH_RING);
    /* which ZeRO stages each can run with */
    dml_sync_spec s = {.kind = DML_SYNC_TOPK, .param = 0.01};
    dml_error err;
    assert_int_equal(dml_sync_spec_check(&s, 0, 4, &err), DML_OK);
    assert_int_equal(dml_sync_spec_check(&s, 1, 4, &err), DML_EUSAGE);
    assert_non_null(strstr(err.msg, "needs zero=0"));
    s.kind = DML_SYNC_HIERARCHICAL;
    assert_int_equal(dml_sync_spec_check(&s, 1, 4, &err), DML_OK);
    assert_int_equal(dml_sync_spec_check(&s, 2, 4, &err), DML_EUSAGE);
    s.kind = DML_SYNC_ALLREDUCE;
    assert_int_equal(dml_sync_spec_check(&s, 3, 4, &err), DML_OK);
}

static void ring_bytes_split_by_level(void **state)
{
    (void)state;
    /* 2 nodes x 2 replicas: a ring allreduce sends 2(n-1)/n = 1.5 sizes
     * per replica, of which one hop in two crosses: 1.5 sizes per node on
     * the link (issue 14) */
    double in = 0, out = 0;
    dml__ring_bytes(DML_COLL_ALLREDUCE, 1000, 4, 2, &in, &out);
    assert_true(in + out == 1500);
    assert_true(out == 750);
    /* all on one node: nothing crosses */
    in = out = 0;
    dml__ring_bytes(DML_COLL_ALLGATHER, 1000, 4, 4, &in, &out);
    assert_true(in == 750 && out == 0);
    /* one per node: everything crosses */
    in = out = 0;
    dml__ring_bytes(DML_COLL_REDUCESCATTER, 1000, 4, 1, &in, &out);
    assert_true(in == 0 && out == 750);
}

typedef struct env {
    dml_model_spec model;
    dml_cluster_spec cluster;
    dml_costmodel_ctx ctx;
} env;

/* mlp-fmnist-sized work on `nodes` CPU nodes of `per_node` ranks. */
static env *setup(int nodes, int per_node)
{
    env *e = calloc(1, sizeof *e);
    dml_error err;
    const char *dd = dml_costmodel_data_dir(NULL);
    if (dml_model_spec_load("mlp-fmnist", dd, &e->model, &err) != DML_OK ||
        dml_cluster_spec_load("cpu-node", dd, &e->cluster, &err) != DML_OK)
        fail_msg("%s", err.msg);
    e->cluster.groups[0].devices_per_node = per_node;
    assert_int_equal(dml_cluster_spec_scale_nodes(&e->cluster, nodes, &err),
                     DML_OK);
    assert_int_equal(dml_costmodel_prepare(&e->model, &e->cluster, NULL,
                                           &e->ctx, &err),
                     DML_OK);
    return e;
}

static dml_costmodel_detail price(env *e, int dp, const char *sync,
                                  dml_prediction *pred)
{
    dml_parallel_config par = dml_test_parallel(dp, 1, 1, 1, 64, 1);
    char why[160];
    assert_true(dml_sync_spec_parse(sync, &par.sync, why, sizeof why));
    dml_costmodel_detail d;
    dml_prediction p;
    dml_error err;
    if (dml_costmodel_step_time(&e->ctx, &par, NULL, 0, &p, &d, &err) !=
        DML_OK)
        fail_msg("%s: %s", sync, err.msg);
    if (pred)
        *pred = p;
    return d;
}

static void strategies_bytes_against_hand_counts(void **state)
{
    (void)state;
    env *e = setup(2, 2); /* the 2 nodes x 2 ranks */
    dml_costmodel_detail flat = price(e, 4, "allreduce", NULL);
    double params = flat.params_per_device;
    double S = params * e->ctx.state.grad; /* the gradients' bytes */
    /* flat ring: 1.5 S per replica, half of it across the nodes */
    assert_true(REL(flat.dp_bytes_intra + flat.dp_bytes_inter, 1.5 * S) <
                1e-12);
    assert_true(REL(flat.dp_bytes_inter, 0.75 * S) < 1e-12);
    /* hierarchical: inside the node a reduce-scatter and an all-gather
     * ((g-1)/g S each), across nodes an allreduce of the S/g shard
     * (2 (N-1)/N S/g): S/2 per replica, one S per node instead of 1.5 */
    dml_costmodel_detail hier = price(e, 4, "hierarchical", NULL);
    assert_true(REL(hier.dp_bytes_intra, S) < 1e-12);
    assert_true(REL(hier.dp_bytes_inter, 0.5 * S) < 1e-12);
    assert_true(REL(2 * hier.dp_bytes_inter / (2 * flat.dp_bytes_inter),
                    1 / 1.5) < 1e-12);
    /* 16 bits: half the bytes of fp32 gradients, at every level */
    dml_costmodel_detail h16 = price(e, 4, "fp16", NULL);
    dml_costmodel_detail hb16 = price(e, 4, "bf16", NULL);
    assert_true(REL(h16.dp_bytes_inter, flat.dp_bytes_inter / 2) < 1e-12);
    assert_true(h16.dp_bytes_inter == hb16.dp_bytes_inter);
    /* top-k 1 %: (n-1) k (4-byte value + 4-byte index) per replica, an
     * all-gather */
    dml_costmodel_detail tk = price(e, 4, "topk:0.01", NULL);
    double k = 0.01 * params;
    assert_true(REL(tk.dp_bytes_intra + tk.dp_bytes_inter,
                    3 * k * (e->ctx.state.grad + 4)) < 1e-12);
    assert_true((tk.dp_bytes_inter + tk.dp_bytes_intra) /
                    (flat.dp_bytes_inter + flat.dp_bytes_intra) <
                0.05);
    dml_costmodel_detail tn = price(e, 4, "topk-noef:0.01", NULL);
    assert_true(tn.dp_bytes_inter == tk.dp_bytes_inter);
    assert_true(tn.dp_comm_s < tk.dp_comm_s); /* no residual to keep */
    /* PowerSGD rank 2: r (rows + cols) a matrix instead of rows x cols,
     * plus the biases sent whole: under 2 % of dense for these layers */
    dml_costmodel_detail ps = price(e, 4, "powersgd:2", NULL);
    assert_true(ps.dp_bytes_inter / flat.dp_bytes_inter < 0.02);
    assert_true(ps.dp_bytes_inter > 0);
    /* local SGD, H = 16: one weights' allreduce every 16 steps */
    dml_costmodel_detail lo = price(e, 4, "local:16", NULL);
    double w = params * e->ctx.state.param;
    assert_true(REL(lo.dp_bytes_intra + lo.dp_bytes_inter, 1.5 * w / 16) <
                1e-12);
    /* gossip: degree x the weights a replica; on 2 x 2 the ring's
     * neighbours are one inside the node and one outside, the one-peer
     * exponential graph's peers 1 and 2 ranks on (inside for half the
     * ranks at the first step, outside at the second) */
    dml_costmodel_detail gr = price(e, 4, "gossip:ring", NULL);
    assert_true(REL(gr.dp_bytes_intra, w) < 1e-12);
    assert_true(REL(gr.dp_bytes_inter, w) < 1e-12);
    dml_costmodel_detail g1 = price(e, 4, "gossip:onepeer-exp", NULL);
    assert_true(REL(g1.dp_bytes_intra, w / 4) < 1e-12);
    assert_true(REL(g1.dp_bytes_inter, 3 * w / 4) < 1e-12);
    /* CHOCO at 10 %: a tenth of the entries, each with its index */
    dml_costmodel_detail gc = price(e, 4, "gossip:ring:topk:0.1", NULL);
    assert_true(REL(gc.dp_bytes_intra + gc.dp_bytes_inter,
                    2 * 0.1 * params * (e->ctx.state.param + 4)) < 1e-12);
    free(e);
}

static void strategies_are_timed_as_they_run(void **state)
{
    (void)state;
    env *e = setup(2, 2);
    dml_prediction pf, pl, ps0, ps2;
    dml_costmodel_detail flat = price(e, 4, "allreduce", &pf);
    /* gossip: its exchange follows the update, none of it hidden; on 4
     * nodes of one rank the one-peer graph sends one model over a link
     * where the ring allreduce sends 1.5: less time on the wire, though
     * the allreduce hides behind the backward pass */
    env *e4 = setup(4, 1);
    dml_costmodel_detail g1 = price(e4, 4, "gossip:onepeer-exp", NULL);
    dml_costmodel_detail f4 = price(e4, 4, "allreduce", NULL);
    assert_true(g1.dp_exposed_s == g1.dp_comm_s && g1.dp_comm_s > 0);
    assert_true(g1.dp_comm_s < f4.dp_comm_s);
    free(e4);
    /* local: 1/16 of an averaging allreduce a step, none of it hidden */
    dml_costmodel_detail lo = price(e, 4, "local:16", &pl);
    assert_true(lo.dp_exposed_s == lo.dp_comm_s);
    assert_true(pl.step_s < pf.step_s);
    /* ssp:0 is synchronous SGD; ssp:2 defers the exchange behind the
     * next steps, so a step waits for less of it */
    dml_costmodel_detail s0 = price(e, 4, "ssp:0", &ps0);
    assert_true(ps0.step_s == pf.step_s);
    assert_true(s0.dp_exposed_s == flat.dp_exposed_s);
    dml_costmodel_detail s2 = price(e, 4, "ssp:2", &ps2);
    assert_true(s2.dp_comm_s == flat.dp_comm_s);
    assert_true(ps2.step_s <= ps0.step_s);
    /* a single replica has nothing to exchange, whatever the strategy */
    static const char *const all[] = {"allreduce", "hierarchical", "fp16",
                                      "topk:0.01", "powersgd:2", "local:4",
                                      "ssp:2"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        dml_costmodel_detail one = price(e, 1, all[i], NULL);
        assert_true(one.dp_comm_s == 0 && one.dp_bytes_inter == 0);
    }
    free(e);
}

DML_TEST_MAIN(
    cmocka_unit_test(knob_text_round_trips_and_errors_say_why),
    cmocka_unit_test(ring_bytes_split_by_level),
    cmocka_unit_test(strategies_bytes_against_hand_counts),
    cmocka_unit_test(strategies_are_timed_as_they_run))
