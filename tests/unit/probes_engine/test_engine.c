/*
 * test_engine.c: the probes' measuring engine: statistics over samples,
 * the repetition loop, and sample sizing for short operations.
 */
#include "tests/support/unit.h"

#include "probes/engine.h"

static void stats_are_min_median_mean_max(void **state)
{
    (void)state;
    double s[] = {4, 1, 3, 2};
    dml_probe_stats st;
    dml_probe_stats_from(s, 4, &st);
    assert_int_equal(st.reps, 4);
    assert_true(st.min_s == 1 && st.max_s == 4);
    assert_true(st.median_s == 2.5); /* even count: mean of the middle two */
    assert_true(st.mean_s == 2.5);
    double odd[] = {9, 7, 8};
    dml_probe_stats_from(odd, 3, &st);
    assert_true(st.median_s == 8);
}

typedef struct counter {
    int calls;
    double t;
} counter;

static dml_status fake_op(void *ctx, double *elapsed_s, dml_error *err)
{
    (void)err;
    counter *c = ctx;
    c->calls++;
    *elapsed_s = c->t;
    return DML_OK;
}

static void run_respects_reps_and_time(void **state)
{
    (void)state;
    counter c = {0, 0.125}; /* binary fractions keep the sums exact */
    dml_probe_budget b = {.warmup = 2, .min_reps = 3, .max_reps = 50,
                          .max_time_s = 1.0};
    dml_probe_stats st;
    assert_int_equal(dml_probe_run(&b, fake_op, &c, &st, NULL), DML_OK);
    /* 0.125 s a run: stops once 1 s of timed work is spent, after 8 */
    assert_int_equal(st.reps, 8);
    assert_int_equal(c.calls, 10); /* plus the two warm-up runs */
    /* max_time_s = 0 runs exactly min_reps (what MPI probes rely on) */
    c.calls = 0;
    b.max_time_s = 0;
    assert_int_equal(dml_probe_run(&b, fake_op, &c, &st, NULL), DML_OK);
    assert_int_equal(st.reps, 3);
}

static void short_calls_are_batched_into_samples(void **state)
{
    (void)state;
    dml_probe_budget base = {.warmup = 3, .min_reps = 10, .max_reps = 100,
                             .max_time_s = 5};
    int calls = 0;
    /* 1/1024 s calls, 1/4 s samples: 256 calls a sample */
    dml_probe_budget b =
        dml_probe_budget_for_calls(&base, 1.0 / 1024, 0.25, 0.5, &calls);
    assert_int_equal(calls, 256);
    assert_int_equal(b.warmup, 0);
    assert_true(b.max_time_s == 0.5);
    assert_int_equal(b.min_reps, 2); /* 0.5 s holds two 0.25 s samples */
    /* a 0.2 s call with 0.5 s per point: only two samples fit */
    b = dml_probe_budget_for_calls(&base, 0.2, 1e-3, 0.5, &calls);
    assert_int_equal(calls, 1);
    assert_int_equal(b.min_reps, 2);
    /* calls are capped at 10,000 a sample */
    dml_probe_budget_for_calls(&base, 1e-9, 1.0, 10, &calls);
    assert_int_equal(calls, 10000);
}

DML_TEST_MAIN(
    cmocka_unit_test(stats_are_min_median_mean_max),
    cmocka_unit_test(run_respects_reps_and_time),
    cmocka_unit_test(short_calls_are_batched_into_samples))
