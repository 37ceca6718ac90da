/*
 * test_hetero.c: the cost model on a cluster of unequal node groups
 * (costmodel/hetero.c, issue 16): 4 one-rank nodes at relative speeds 1,
 * 1, 1/2, 1/4 (the emulated cluster's CPU quotas 0.6, 0.6, 0.3, 0.15).
 * Under balance=equal a step is the slowest node's, to the bit of a
 * cluster made of that node alone; balanced shares come within 15 % of
 * the ideal (total work over total speed) and at least twice as fast;
 * a 4-stage pipeline of a deep MLP gets more layers on its fast stages.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/presets.h"
#include "costmodel/step_time.h"

static const double speed[4] = {1.0, 1.0, 0.5, 0.25};

/* The cpu-node preset's device, one rank a node, scaled to speed s. */
static void group_at(const dml_cluster_spec *base, double s, int64_t nodes,
                     dml_node_group *g)
{
    *g = base->groups[0];
    g->nodes = nodes;
    g->devices_per_node = 1;
    g->device.cores = 1;
    for (int t = 0; t < DML_DTYPE_COUNT; t++)
        g->device.peak_flops[t] *= s / 32.0; /* one core of 32 */
    g->device.mem_bw_Bps *= s / 32.0;
}

/* groups 1 (2 nodes), 1/2, 1/4; or all four nodes at speed `all` */
static dml_cluster_spec *cluster(double all)
{
    dml_cluster_spec *base = malloc(sizeof *base), *c = malloc(sizeof *c);
    dml_error err;
    assert_int_equal(dml_cluster_spec_load("cpu-node",
                                           dml_costmodel_data_dir(NULL), base,
                                           &err),
                     DML_OK);
    *c = *base;
    if (all > 0) {
        group_at(base, all, 4, &c->groups[0]);
        c->group_count = 1;
    } else {
        group_at(base, speed[0], 2, &c->groups[0]);
        group_at(base, speed[2], 1, &c->groups[1]);
        group_at(base, speed[3], 1, &c->groups[2]);
        c->group_count = 3;
    }
    free(base);
    return c;
}

static dml_model_spec mlp(int hidden_layers, int64_t width)
{
    dml_model_spec m;
    dml_model_spec_init(&m, DML_MODEL_MLP);
    snprintf(m.name, sizeof m.name, "mlp-deep");
    m.dtype = DML_DTYPE_FP32;
    m.input = 784;
    m.output = 10;
    m.hidden_count = hidden_layers;
    for (int i = 0; i < hidden_layers; i++)
        m.hidden_sizes[i] = width;
    m.layers = hidden_layers + 1;
    return m;
}

static dml_costmodel_ctx *prepare(const dml_model_spec *m,
                                  const dml_cluster_spec *c)
{
    dml_costmodel_ctx *ctx = malloc(sizeof *ctx);
    dml_error err;
    dml_costmodel_options opt;
    dml_costmodel_options_init(&opt);
    opt.optimizer = DML_OPT_SGD;
    assert_int_equal(dml_costmodel_prepare(m, c, &opt, ctx, &err), DML_OK);
    return ctx;
}

static double step(const dml_costmodel_ctx *ctx, const dml_parallel_config *p)
{
    dml_prediction pred;
    dml_error err;
    assert_int_equal(dml_costmodel_step_time(ctx, p, NULL, 0, &pred, NULL,
                                             &err),
                     DML_OK);
    return pred.step_s;
}

static void dp_shares(void **state)
{
    (void)state;
    dml_model_spec m = mlp(2, 256);
    dml_cluster_spec *het = cluster(0), *slow = cluster(0.25),
                     *fast = cluster(1.0);
    dml_costmodel_ctx *h = prepare(&m, het), *s = prepare(&m, slow),
                      *f = prepare(&m, fast);
    assert_true(h->hetero);
    assert_false(s->hetero);
    dml_parallel_config p;
    dml_parallel_config_init(&p);
    p.dp = 4;
    p.mbs = 64;
    p.microbatches = 8;
    /* equal: the slowest node's step, exactly */
    double eq = step(h, &p), eq_slow = step(s, &p);
    assert_true(fabs(eq - eq_slow) <= 1e-12 * eq_slow);

    /* the per-micro-batch time of a fast node, from two batch sizes */
    dml_parallel_config one = p;
    one.microbatches = 1;
    double t_fast = (step(f, &p) - step(f, &one)) / 7.0;
    double t_slow = (eq_slow - step(s, &one)) / 7.0;
    /* 1/4 of the speed: 4 x the time, to within the kernels' floors */
    assert_true(t_slow > 3.5 * t_fast && t_slow < 4.5 * t_fast);
    double rest = eq_slow - 8 * t_slow;
    double ideal = 32.0 * t_fast / (1 + 1 + 0.5 + 0.25) + rest;

    p.balance = DML_BALANCE_STATIC;
    double bal = step(h, &p);
    print_message("equal %.3g s, balanced %.3g s, ideal %.3g s\n", eq, bal,
                  ideal);
    assert_true(bal <= 1.15 * ideal);
    assert_true(bal >= 0.999 * ideal);
    assert_true(eq >= 2.0 * bal);

    dml_costmodel_balance b;
    dml_error err;
    assert_int_equal(dml_costmodel_balance_of(h, &p, NULL, 0, &b, &err),
                     DML_OK);
    assert_true(b.sum.hetero);
    assert_true(fabs(b.sum.balanced_step_s - bal) <= 1e-12 * bal);
    assert_true(fabs(b.sum.equal_step_s - eq) <= 1e-12 * eq);
    /* 32 micro-batches: 12, 12 on the fast nodes, the 8 left about 2:1
     * (12, 12, 6, 2 at speeds 1, 1, 1/2, 1/4 without fixed costs; the
     * slow nodes' optimizer and floors make it 5, 3) */
    print_message("shares %lld x %lld, %lld x %lld, %lld x %lld\n",
                  (long long)b.shares[0].replicas,
                  (long long)b.shares[0].microbatches,
                  (long long)b.shares[1].replicas,
                  (long long)b.shares[1].microbatches,
                  (long long)b.shares[2].replicas,
                  (long long)b.shares[2].microbatches);
    assert_int_equal(b.share_count, 3);
    assert_int_equal(b.shares[0].replicas, 2);
    assert_int_equal(b.shares[0].microbatches, 12);
    assert_int_equal(b.shares[1].replicas, 1);
    assert_int_equal(b.shares[2].replicas, 1);
    assert_int_equal(b.shares[1].microbatches + b.shares[2].microbatches, 8);
    assert_true(b.shares[1].microbatches >= 5);
    assert_true(b.shares[2].microbatches >= 2);
    assert_true(b.sum.group_used[0] && b.sum.group_used[1] && b.sum.group_used[2]);
    assert_int_equal(b.sum.group_first_node[2], 3);
    assert_true(b.sum.group_mb_s[2] > 3.5 * b.sum.group_mb_s[0]);
    free(h);
    free(s);
    free(f);
    free(het);
    free(slow);
    free(fast);
}

static void stage_boundaries(void **state)
{
    (void)state;
    dml_model_spec m = mlp(23, 512); /* 24 layers */
    dml_cluster_spec *het = cluster(0);
    dml_costmodel_ctx *h = prepare(&m, het);
    dml_parallel_config p;
    dml_parallel_config_init(&p);
    p.pp = 4;
    p.mbs = 32;
    p.microbatches = 16;
    double eq = step(h, &p);
    p.balance = DML_BALANCE_STATIC;
    double bal = step(h, &p);
    dml_costmodel_balance b;
    dml_error err;
    assert_int_equal(dml_costmodel_balance_of(h, &p, NULL, 0, &b, &err),
                     DML_OK);
    assert_true(b.stages_balanced);
    assert_int_equal(b.stage_count, 4);
    int64_t n[4];
    for (int r = 0; r < 4; r++)
        n[r] = b.stages[r].last_layer - b.stages[r].first_layer + 1;
    print_message("equal %.3g s, balanced %.3g s, layers %lld %lld %lld "
                  "%lld\n", eq, bal, (long long)n[0], (long long)n[1],
                  (long long)n[2], (long long)n[3]);
    assert_int_equal(b.stages[0].first_layer, 0);
    assert_int_equal(b.stages[3].last_layer, 23);
    /* layers in proportion to speed, 24 x (1, 1, 1/2, 1/4) / 2.75 =
     * 8.7, 8.7, 4.4, 2.2, give or take a layer for the first layer's
     * missing input gradient and the head */
    assert_true(n[0] >= 8 && n[0] <= 10);
    assert_true(n[1] >= 8 && n[1] <= 10);
    assert_true(n[2] >= 3 && n[2] <= 5);
    assert_true(n[3] >= 1 && n[3] <= 3);
    /* the even split: 6 layers on a quarter-speed node, 24 at full speed
     * in the time; balanced, about 8.7: at least 1.5 x faster */
    assert_true(eq >= 1.5 * bal);
    assert_true(fabs(b.sum.balanced_step_s - bal) <= 1e-12 * bal);
    free(h);
    free(het);
}

DML_TEST_MAIN(
    cmocka_unit_test(dp_shares),
    cmocka_unit_test(stage_boundaries))
