/*
 * test_schedule.c: learning-rate scaling and schedules, gradient noise
 * scale, checkpoint intervals, batch ramps, and the calibration fit.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "costmodel/fit.h"
#include "costmodel/presets.h"
#include "costmodel/schedule.h"
#include "tests/support/test_support.h"

#define REL(a, b) (fabs((double)(a) - (double)(b)) / fabs((double)(b)))

/* Goyal et al. 2017: eta = 0.1 B / 256 for SGD, so batch 8192 takes 3.2;
 * Adam-type optimizers scale with the square root. */
static void lr_scaling_rules(void **state)
{
    (void)state;
    assert_true(REL(dml_schedule_scale_lr(DML_OPT_SGD, 0.1, 256, 8192), 3.2) <
                1e-12);
    assert_true(REL(dml_schedule_scale_lr(DML_OPT_LARS, 0.1, 256, 1024), 0.4) <
                1e-12);
    assert_true(REL(dml_schedule_scale_lr(DML_OPT_ADAMW, 1e-3, 256, 1024),
                    2e-3) < 1e-12);
    assert_true(REL(dml_schedule_scale_lr(DML_OPT_LAMB, 1e-3, 512, 128),
                    5e-4) < 1e-12);
}

static void warmup_and_decay_values(void **state)
{
    (void)state;
    dml_train_schedule s; /* peak 1e-3, floor 1e-4, 10 warm-up, 100 decay */
    dml_test_cosine_schedule(&s);
    /* linear warmup: (step + 1)/10 of the peak */
    assert_true(REL(dml_schedule_lr_at(&s, 0), 1e-4) < 1e-12);
    assert_true(REL(dml_schedule_lr_at(&s, 4), 5e-4) < 1e-12);
    assert_true(REL(dml_schedule_lr_at(&s, 9), 1e-3) < 1e-12);
    /* cosine: peak at the end of warmup, midpoint halfway, floor after */
    assert_true(REL(dml_schedule_lr_at(&s, 10), 1e-3) < 1e-12);
    assert_true(REL(dml_schedule_lr_at(&s, 60), 5.5e-4) < 1e-12);
    assert_true(REL(dml_schedule_lr_at(&s, 35),
                    1e-4 + 9e-4 * 0.5 * (1 + cos(M_PI * 0.25))) < 1e-12);
    assert_true(REL(dml_schedule_lr_at(&s, 110), 1e-4) < 1e-12);
    assert_true(REL(dml_schedule_lr_at(&s, 100000), 1e-4) < 1e-12);
    s.decay = DML_DECAY_LINEAR;
    assert_true(REL(dml_schedule_lr_at(&s, 35), 1e-3 - 9e-4 * 0.25) < 1e-12);
    s.decay = DML_DECAY_CONSTANT;
    assert_true(REL(dml_schedule_lr_at(&s, 500), 1e-3) < 1e-12);
}

/* McCandlish et al. 2018: |G_B|^2 = |G|^2 + tr(Sigma)/B in expectation;
 * two batch sizes recover |G|^2, tr(Sigma) and B_simple; S(B) = S_min
 * (1 + B_noise/B), E(B) = E_min (1 + B/B_noise). */
static void noise_scale_and_time_to_target(void **state)
{
    (void)state;
    double G2 = 2.5, S = 5000.0;
    double g_small = G2 + S / 32, g_big = G2 + S / 1024;
    double g2 = 0, tr = 0;
    double b = dml_schedule_noise_scale(32, g_small, 1024, g_big, &g2, &tr);
    assert_true(REL(g2, G2) < 1e-12);
    assert_true(REL(tr, S) < 1e-12);
    assert_true(REL(b, 2000) < 1e-12);
    /* at B = B_noise: twice the minimum steps and twice the examples */
    assert_true(REL(dml_schedule_steps_to_target(1000, 2000, 2000), 2000) <
                1e-12);
    assert_true(REL(dml_schedule_examples_to_target(1e6, 2000, 2000), 2e6) <
                1e-12);
    assert_true(REL(dml_schedule_steps_to_target(1000, 2000, 500), 5000) <
                1e-12);
    /* time to target trades steps against step time */
    double t_small = dml_schedule_time_to_target(1000, 2000, 500, 0.1);
    double t_big = dml_schedule_time_to_target(1000, 2000, 8000, 1.2);
    assert_true(REL(t_small, 500) < 1e-12);
    assert_true(REL(t_big, 1500) < 1e-12);
    /* estimates too noisy to be positive give no noise scale */
    assert_true(dml_schedule_noise_scale(32, 1.0, 1024, 2.0, NULL, NULL) == 0);
    assert_true(dml_schedule_noise_scale(32, 10.0, 1024, 0.1, NULL, NULL) ==
                0);
}

/* Young 1974: tau = sqrt(2 C M); with C = 60 s and M = 1 day, 3219.9 s.
 * Daly 2006 adds the higher-order terms. */
static void young_daly_checkpoint_interval(void **state)
{
    (void)state;
    double c = 60, m = 86400;
    double young = dml_schedule_young_interval(c, m);
    assert_true(fabs(young - 3219.94) < 0.01);
    double r = c / (2 * m);
    double daly = sqrt(2 * c * m) * (1 + sqrt(r) / 3 + r / 9) - c;
    assert_true(REL(dml_schedule_daly_interval(c, m), daly) < 1e-12);
    assert_true(dml_schedule_daly_interval(c, m) < young);
    assert_true(dml_schedule_daly_interval(200, 50) == 50); /* C >= 2M */
    /* overhead at Young's interval ~ sqrt(2C/M) + (C + R)/M, and any other
     * interval costs more */
    double o = dml_schedule_checkpoint_overhead(young, c, 120, m);
    assert_true(REL(o, sqrt(2 * c / m) + (c + 120) / m) < 1e-9);
    assert_true(dml_schedule_checkpoint_overhead(young / 2, c, 120, m) > o);
    assert_true(dml_schedule_checkpoint_overhead(young * 2, c, 120, m) > o);
    /* cluster: the dgx-a100-80g preset states a node MTBF and storage */
    dml_cluster_spec *cl = malloc(sizeof *cl);
    dml_error err;
    assert_int_equal(dml_cluster_spec_load("dgx-a100-80g",
                                           dml_costmodel_data_dir(NULL), cl,
                                           &err),
                     DML_OK);
    double mtbf = dml_schedule_job_mtbf(cl, 128);
    assert_true(REL(mtbf, cl->groups[0].node_mtbf_s / 128) < 1e-12);
    double ct = dml_schedule_checkpoint_time(cl, 128, 2.8e12);
    assert_true(REL(ct, 2.8e12 / (128 * cl->groups[0].storage_write_Bps)) <
                1e-12);
    free(cl);
}

static void batch_ramp(void **state)
{
    (void)state;
    dml_batch_ramp r[8];
    /* GPT-3 style: from 32 to 1536 over 1000 steps in 4 increments, in
     * multiples of dp x mbs = 32. */
    int n = dml_schedule_make_ramp(32, 1536, 1000, 32, 4, r, 8);
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        assert_true(r[i].global_batch % 32 == 0);
        assert_true(r[i].global_batch < 1536);
        if (i > 0) {
            assert_true(r[i].until_step > r[i - 1].until_step);
            assert_true(r[i].global_batch > r[i - 1].global_batch);
        }
    }
    assert_int_equal(r[0].global_batch, 32);
    assert_int_equal(r[3].until_step, 1000);
    assert_int_equal(dml_schedule_make_ramp(1536, 1536, 1000, 32, 4, r, 8), 0);
    /* A ramp feeds a plan: batch at a step follows it. */
    dml_plan *p = calloc(1, sizeof *p);
    dml_plan_init(p);
    p->sched.global_batch = 1536;
    p->sched.ramp_count = n;
    memcpy(p->sched.ramp, r, sizeof r[0] * (size_t)n);
    assert_int_equal(dml_plan_global_batch_at(p, 0), 32);
    assert_int_equal(dml_plan_global_batch_at(p, 999), r[3].global_batch);
    assert_int_equal(dml_plan_global_batch_at(p, 1000), 1536);
    free(p);
}

/* Synthetic runs with known factors: the fit recovers them exactly,
 * honours bounds, and leave-one-out MAPE is ~0 on exact data. */
static void fit_recovers_factors(void **state)
{
    (void)state;
    enum { N = 12, K = DML_FIT_PARTS };
    double parts[N * K], y[N];
    const double truth[K] = {1.3, 0.8, 1.1, 0.004};
    dml_rng rng;
    dml_rng_seed(&rng, 42);
    for (int i = 0; i < N; i++) {
        parts[i * K + 0] = 0.01 + dml_rng_uniform(&rng);
        parts[i * K + 1] = 0.001 + 0.3 * dml_rng_uniform(&rng);
        parts[i * K + 2] = 0.01 * dml_rng_uniform(&rng);
        parts[i * K + 3] = 1.0;
        y[i] = 0;
        for (int k = 0; k < K; k++)
            y[i] += truth[k] * parts[i * K + k];
    }
    const double lo[K] = {0.25, 0.25, 0.25, 0};
    const double hi[K] = {4, 4, 4, 1};
    double x[K], rms = 1;
    dml_error err;
    assert_int_equal(dml_fit_scales(parts, y, N, K, lo, hi, true, x, &rms,
                                    &err),
                     DML_OK);
    for (int k = 0; k < K; k++)
        if (fabs(x[k] - truth[k]) > 1e-6)
            fail_msg("factor %d: fitted %.9g, truth %.9g", k, x[k], truth[k]);
    assert_true(rms < 1e-8);
    assert_true(dml_fit_mape(parts, y, N, K, x) < 1e-8);
    double loo = 1;
    assert_int_equal(dml_fit_loo_mape(parts, y, N, K, lo, hi, true, &loo,
                                      &err),
                     DML_OK);
    assert_true(loo < 1e-6);

    /* A bound that excludes the truth is respected. */
    const double hi2[K] = {1.0, 4, 4, 1};
    assert_int_equal(dml_fit_scales(parts, y, N, K, lo, hi2, true, x, &rms,
                                    &err),
                     DML_OK);
    assert_true(x[0] == 1.0);
    assert_true(rms > 1e-3);

    /* Noisy measurements: factors close, LOO error about the noise. */
    double yn[N];
    for (int i = 0; i < N; i++)
        yn[i] = y[i] * (1 + 0.02 * dml_rng_normal(&rng));
    assert_int_equal(dml_fit_scales(parts, yn, N, K, lo, hi, true, x, &rms,
                                    &err),
                     DML_OK);
    assert_true(fabs(x[0] - 1.3) < 0.15);
    assert_int_equal(dml_fit_loo_mape(parts, yn, N, K, lo, hi, true, &loo,
                                      &err),
                     DML_OK);
    assert_true(loo > 0.001 && loo < 0.1);

    /* A part no run exercises stays at 1. */
    for (int i = 0; i < N; i++)
        parts[i * K + 2] = 0;
    assert_int_equal(dml_fit_scales(parts, y, N, K, lo, hi, true, x, &rms,
                                    &err),
                     DML_OK);
    assert_true(fabs(x[2] - 1.0) < 1e-6);

    /* Bad input. */
    assert_int_equal(dml_fit_scales(parts, y, 0, K, lo, hi, true, x, &rms,
                                    &err),
                     DML_EINPUT);
    y[3] = -1;
    assert_int_equal(dml_fit_scales(parts, y, N, K, lo, hi, true, x, &rms,
                                    &err),
                     DML_EINPUT);

    /* Applying the factors to a calibration. */
    dml_costmodel_calib cal;
    dml_costmodel_calib_init(&cal);
    cal.compute = 2.0;
    dml_fit_apply(truth, &cal);
    assert_true(REL(cal.compute, 2.6) < 1e-12);
    assert_true(REL(cal.comm_inter, 0.8) < 1e-12);
    assert_true(REL(cal.overhead_s, 0.004) < 1e-12);
}

DML_TEST_MAIN(
    cmocka_unit_test(lr_scaling_rules),
    cmocka_unit_test(warmup_and_decay_values),
    cmocka_unit_test(noise_scale_and_time_to_target),
    cmocka_unit_test(young_daly_checkpoint_interval),
    cmocka_unit_test(batch_ramp),
    cmocka_unit_test(fit_recovers_factors))
