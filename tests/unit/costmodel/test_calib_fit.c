/*
 * test_calib_fit.c: the calibration fit (costmodel/calib_fit.h) on its
 * own, without a database: runs "measured" on a machine whose true
 * efficiency factors are known (the cost model priced with them, plus
 * seeded noise) must give those factors back, predict plans it did not
 * see, and keep factors no run exercises at their defaults; the prior
 * keeps an undetermined fit near the spec.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "costmodel/calib_fit.h"
#include "costmodel/presets.h"
#include "tests/support/test_support.h"

#define REL(a, b) (fabs((double)(a) - (double)(b)) / fabs((double)(b)))
#define MAX_RUNS 64

typedef struct bench {
    dml_model_spec model;
    dml_cluster_spec cluster;
    dml_costmodel_ctx ctx[MAX_RUNS];
    dml_calib_run runs[MAX_RUNS];
    int n;
} bench;

static bench *bench_new(const char *model, const char *cluster,
                        int64_t nodes)
{
    bench *b = calloc(1, sizeof *b);
    dml_error err;
    const char *dd = dml_costmodel_data_dir(NULL);
    if (dml_model_spec_load(model, dd, &b->model, &err) != DML_OK ||
        dml_cluster_spec_load(cluster, dd, &b->cluster, &err) != DML_OK ||
        dml_cluster_spec_scale_nodes(&b->cluster, nodes, &err) != DML_OK)
        fail_msg("%s", err.msg);
    return b;
}

/* A run of par, measured as the model priced with `truth` says, times
 * (1 + noise x a standard normal draw); repeats of one plan share its
 * group. */
static void add_run(bench *b, const dml_parallel_config *par,
                    const dml_costmodel_calib *truth, double noise,
                    dml_rng *rng, int repeats)
{
    int group = b->n;
    for (int k = 0; k < repeats; k++) {
        assert_true(b->n < MAX_RUNS);
        dml_error err;
        dml_costmodel_ctx *ctx = &b->ctx[b->n];
        assert_int_equal(dml_costmodel_prepare(&b->model, &b->cluster, NULL,
                                               ctx, &err),
                         DML_OK);
        dml_calib_run *r = &b->runs[b->n];
        memset(r, 0, sizeof *r);
        r->ctx = ctx;
        r->par = *par;
        r->group = group;
        dml_prediction p;
        assert_int_equal(dml_calib_run_predict(r, truth, &p, &err), DML_OK);
        r->measured_s = p.step_s * (1.0 + noise * dml_rng_normal(rng));
        b->n++;
    }
}

/* Sixteen configurations of GPT-3 1.3B on 4 DGX A100 nodes: TP inside a
 * node and DP across nodes, micro-batch sizes and counts that move the
 * compute, communication and optimizer parts differently. */
static void add_grid(bench *b, const dml_costmodel_calib *truth,
                     double noise, dml_rng *rng, int repeats)
{
    static const int tps[] = {1, 2, 4, 8};
    static const int64_t mbss[] = {1, 4};
    static const int64_t mbs_count[] = {2, 8};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++) {
                dml_parallel_config par = dml_test_parallel(
                    32 / tps[i], tps[i], 1, 1, mbss[j], mbs_count[k]);
                add_run(b, &par, truth, noise, rng, repeats);
            }
}

static void recovers_the_true_factors_from_noisy_runs(void **state)
{
    (void)state;
    bench *b = bench_new("gpt3-1.3b", "dgx-a100-80g", 4);
    dml_costmodel_calib truth;
    dml_costmodel_calib_init(&truth);
    truth.compute = 1.30;    /* GEMMs 30 % slower than the spec says */
    truth.comm_inter = 1.8;  /* the network at 56 % of its rating */
    truth.overhead_s = 4e-3; /* 4 ms of framework time per step */
    dml_rng rng;
    dml_rng_seed(&rng, 42);
    add_grid(b, &truth, 0.01, &rng, 3); /* 1 % noise, 3 runs a plan */

    dml_calib_fit_result f;
    dml_calib_run_fit per[MAX_RUNS];
    dml_error err;
    assert_int_equal(dml_calib_fit(b->runs, b->n, 0.3, &f, per, &err),
                     DML_OK);
    assert_int_equal(f.n_plans, 16);
    /* The uncalibrated model is about 25 % off; the fit within noise. */
    assert_true(f.mape_before_pct > 15);
    assert_true(f.mape_after_pct < 2.0);
    assert_true(f.loo_mape_after_pct < 3.0);
    assert_true(f.interval_pct > 0 && f.interval_pct < 5.0);
    /* The factor that sets most of every step comes back; the smaller
     * parts (network behind the backward pass, fixed overheads) trade
     * off against each other within the noise, which is why the fit is
     * judged on held-out plans rather than on each factor. */
    assert_true(f.free_factor[DML_CALIB_COMPUTE]);
    assert_true(REL(f.calib.compute, truth.compute) < 0.06);
    /* A run's own figures: plan median, fitted and held-out predictions
     * near what it measured. */
    for (int i = 0; i < b->n; i++) {
        assert_true(REL(per[i].calibrated_s, per[i].plan_measured_s) < 0.05);
        assert_true(REL(per[i].loo_s, per[i].plan_measured_s) < 0.08);
    }
    /* Factors the runs do not exercise keep their defaults: these plans
     * have no pipeline and run on GPUs (no CPU scaling terms). */
    assert_false(f.free_factor[DML_CALIB_CPU_THREADS]);
    assert_false(f.free_factor[DML_CALIB_CPU_RANKS]);
    assert_true(f.calib.cpu_thread_overhead == 0);
    assert_true(f.calib.cpu_rank_contention == 0);
    free(b);
}

static void exact_runs_are_fitted_exactly(void **state)
{
    (void)state;
    bench *b = bench_new("gpt3-1.3b", "dgx-a100-80g", 4);
    dml_costmodel_calib truth;
    dml_costmodel_calib_init(&truth);
    truth.compute = 0.8; /* faster than the spec: a better library */
    dml_rng rng;
    dml_rng_seed(&rng, 7);
    add_grid(b, &truth, 0.0, &rng, 1);
    dml_calib_fit_result f;
    dml_error err;
    /* Without prior rows a noiseless fit lands on the truth. */
    assert_int_equal(dml_calib_fit(b->runs, b->n, 0, &f, NULL, &err),
                     DML_OK);
    assert_true(REL(f.calib.compute, 0.8) < 1e-3);
    assert_true(f.mape_after_pct < 0.1);
    assert_true(f.iterations >= 1 && f.iterations <= 25);
    free(b);
}

static void the_prior_holds_factors_the_runs_cannot_tell_apart(void **state)
{
    (void)state;
    /* Three plans that differ only in micro-batch count: compute and
     * memory-bound time move together, so without a prior the split
     * between them is arbitrary. */
    bench *b = bench_new("gpt3-1.3b", "dgx-a100-80g", 1);
    dml_costmodel_calib truth;
    dml_costmodel_calib_init(&truth);
    truth.compute = 1.2;
    truth.membound = 1.2;
    dml_rng rng;
    dml_rng_seed(&rng, 3);
    for (int64_t mb = 2; mb <= 8; mb *= 2) {
        dml_parallel_config par = dml_test_parallel(8, 1, 1, 1, 4, mb);
        add_run(b, &par, &truth, 0.005, &rng, 1);
    }
    dml_calib_fit_result f;
    dml_error err;
    assert_int_equal(dml_calib_fit(b->runs, b->n, 0.3, &f, NULL, &err),
                     DML_OK);
    /* At most plans/2 = 1 factor is free, and it stays plausible. */
    int free_count = 0;
    for (int k = 0; k < DML_CALIB_FACTORS; k++)
        free_count += f.free_factor[k];
    assert_int_equal(free_count, 1);
    assert_true(f.calib.compute > 1.0 && f.calib.compute < 1.5);
    assert_true(f.mape_after_pct < f.mape_before_pct);
    free(b);
}

static void factor_names_and_bounds(void **state)
{
    (void)state;
    double lo, hi;
    dml_calib_factor_bounds(DML_CALIB_COMPUTE, &lo, &hi);
    assert_true(lo > 0 && lo < 1 && hi > 1);
    assert_string_equal(dml_calib_factor_name(DML_CALIB_OVERHEAD),
                        "overhead_s");
    dml_costmodel_calib c;
    dml_costmodel_calib_init(&c);
    dml_calib_factor_set(&c, DML_CALIB_COMM_INTER, 2.5);
    assert_true(c.comm_inter == 2.5);
    assert_true(dml_calib_factor_get(&c, DML_CALIB_COMM_INTER) == 2.5);
    assert_true(isnan(dml_calib_factor_get(&c, DML_CALIB_FACTORS)));
}

DML_TEST_MAIN(
    cmocka_unit_test(recovers_the_true_factors_from_noisy_runs),
    cmocka_unit_test(exact_runs_are_fitted_exactly),
    cmocka_unit_test(the_prior_holds_factors_the_runs_cannot_tell_apart),
    cmocka_unit_test(factor_names_and_bounds))
