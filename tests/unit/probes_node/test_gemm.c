/*
 * test_gemm.c: the OpenBLAS sweep on small shapes (complete, sorted,
 * positive, peaks consistent, thread count restored), the reference check,
 * the presets and the measurement rows.
 */
#include "tests/support/unit.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probes/gemm.h"

static const dml_gemm_shape small_shapes[] = {
    {96, 96, 96}, {32, 32, 32}, {64, 48, 16},
};
static const int small_threads[] = {1, 2};

static dml_gemm_config small_config(void)
{
    dml_gemm_config c = dml_gemm_config_default(true);
    c.shapes = small_shapes;
    c.shape_count = 3;
    c.threads = small_threads;
    c.thread_count = 2;
    c.budget = (dml_probe_budget){.warmup = 1, .min_reps = 2, .max_reps = 4,
                                  .max_time_s = 0.01};
    c.point_time_s = 0.005;
    c.sample_time_s = 0.0005;
    return c;
}

static void flop_count_is_two_m_n_k(void **state)
{
    (void)state;
    assert_true(dml_gemm_flop_count(2048, 3072, 768) ==
                2.0 * 2048 * 3072 * 768);
    /* Large shapes must not overflow int arithmetic. */
    assert_true(dml_gemm_flop_count(65536, 65536, 65536) == 2 * pow(2, 48));
    assert_string_equal(dml_gemm_dtype_name(DML_GEMM_F32), "sgemm");
    assert_string_equal(dml_gemm_dtype_name(DML_GEMM_F64), "dgemm");
}

static void reference_check_catches_a_wrong_element(void **state)
{
    (void)state;
    /* A 2x3 times 3x2: C = [[58, 64], [139, 154]] (worked by hand). */
    double a[] = {1, 2, 3, 4, 5, 6};
    double b[] = {7, 8, 9, 10, 11, 12};
    double c[] = {58, 64, 139, 154};
    dml_error err;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            assert_int_equal(dml_gemm_check_element(DML_GEMM_F64, a, b, c, 2,
                                                    2, 3, i, j, &err),
                             DML_OK);
    c[3] = 154.001;
    assert_int_equal(dml_gemm_check_element(DML_GEMM_F64, a, b, c, 2, 2, 3, 1,
                                            1, &err),
                     DML_EVALIDATE);
    assert_non_null(strstr(err.msg, "C[1][1]"));
    float af[] = {1, 2, 3, 4, 5, 6}, bf[] = {7, 8, 9, 10, 11, 12};
    float cf[] = {58, 64, 139, 0}; /* a library that left C untouched */
    assert_int_equal(dml_gemm_check_element(DML_GEMM_F32, af, bf, cf, 2, 2, 3,
                                            0, 1, &err),
                     DML_OK);
    assert_int_equal(dml_gemm_check_element(DML_GEMM_F32, af, bf, cf, 2, 2, 3,
                                            1, 1, &err),
                     DML_EVALIDATE);
}

static void sweep_is_complete_sorted_and_positive(void **state)
{
    (void)state;
    int before = openblas_get_num_threads();
    dml_gemm_config c = small_config();
    dml_gemm_result r;
    dml_error err;
    dml_status s = dml_gemm_run(NULL, &c, &r, &err);
    if (s != DML_OK)
        fail_msg("gemm sweep: %s", err.msg);
    /* The caller's OpenBLAS thread count is given back. */
    assert_int_equal(openblas_get_num_threads(), before);
    assert_int_equal(r.blas_threads_before, before);

    /* Complete: 2 dtypes x 2 thread counts x 3 shapes. */
    assert_int_equal(r.point_count, 12);
    int seen[2][2][3] = {{{0}}};
    for (int i = 0; i < r.point_count; i++) {
        const dml_gemm_sample *p = &r.points[i];
        int ti = p->threads == 1 ? 0 : 1;
        int si = -1;
        for (int k = 0; k < 3; k++)
            if (p->m == small_shapes[k].m && p->n == small_shapes[k].n &&
                p->k == small_shapes[k].k)
                si = k;
        assert_true(si >= 0);
        assert_true(p->threads == 1 || p->threads == 2);
        seen[p->dtype][ti][si]++;
        assert_true(p->flop_count == dml_gemm_flop_count(p->m, p->n, p->k));
        assert_true(p->best_flops > 0);
        assert_true(p->time_s > 0 && p->time_median_s >= p->time_s);
        assert_true(p->best_flops >= p->median_flops);
        assert_true(p->reps >= 1 && p->calls_per_rep >= 1);
        assert_true(p->efficiency > 0 && p->efficiency <= 1.0);
        /* Sorted by dtype, then threads, then FLOPs. */
        if (i > 0) {
            const dml_gemm_sample *q = &r.points[i - 1];
            assert_true(q->dtype < p->dtype ||
                        (q->dtype == p->dtype &&
                         (q->threads < p->threads ||
                          (q->threads == p->threads &&
                           q->flop_count <= p->flop_count))));
        }
    }
    for (int d = 0; d < 2; d++)
        for (int t = 0; t < 2; t++)
            for (int k = 0; k < 3; k++)
                assert_int_equal(seen[d][t][k], 1);

    /* One peak per (dtype, threads): the best point, efficiency 1 there. */
    assert_int_equal(r.peak_count, 4);
    for (int d = 0; d < 2; d++)
        for (int t = 1; t <= 2; t++) {
            const dml_gemm_peak *pk = dml_gemm_find_peak(&r, d, t);
            assert_non_null(pk);
            double best = 0;
            int at_peak = 0;
            for (int i = 0; i < r.point_count; i++) {
                const dml_gemm_sample *p = &r.points[i];
                if ((int)p->dtype != d || p->threads != t)
                    continue;
                best = fmax(best, p->best_flops);
                at_peak += p->efficiency == 1.0;
            }
            assert_true(pk->peak_flops == best);
            assert_true(at_peak >= 1);
        }
    assert_null(dml_gemm_find_peak(&r, DML_GEMM_F64, 3));
    dml_gemm_result_free(&r);
    assert_null(r.points);
}

static void dgemm_figures_follow_from_its_times(void **state)
{
    (void)state;
    /* Every figure of a point is its FLOP count over a measured time, and
     * the peak of its (dtype, threads) is its best: checked exactly, not
     * against a speed (a shared machine's speed is noise; how fast the
     * probe finds this machine is bench/probe/probe_vs_hpcc.sh's job). */
    static const dml_gemm_shape sq[] = {{256, 256, 256}};
    static const int one[] = {1};
    dml_gemm_config c = small_config();
    c.shapes = sq;
    c.shape_count = 1;
    c.threads = one;
    c.thread_count = 1;
    c.sgemm = false;
    c.point_time_s = 0.05;
    dml_gemm_result r;
    dml_error err;
    assert_int_equal(dml_gemm_run(NULL, &c, &r, &err), DML_OK);
    assert_int_equal(r.point_count, 1);
    const dml_gemm_sample *p = &r.points[0];
    assert_int_equal(p->dtype, DML_GEMM_F64);
    assert_true(p->m == 256 && p->n == 256 && p->k == 256 && p->threads == 1);
    assert_true(p->flop_count == 2.0 * 256 * 256 * 256);
    assert_true(p->reps >= 1 && p->calls_per_rep >= 1);
    assert_true(p->time_s > 0 && p->time_s <= p->time_median_s);
    assert_true(fabs(p->best_flops - p->flop_count / p->time_s) <=
                1e-12 * p->best_flops);
    assert_true(fabs(p->median_flops - p->flop_count / p->time_median_s) <=
                1e-12 * p->median_flops);
    assert_int_equal(r.peak_count, 1);
    assert_true(r.peaks[0].dtype == DML_GEMM_F64 && r.peaks[0].threads == 1);
    assert_true(r.peaks[0].peak_flops == p->best_flops);
    assert_true(fabs(p->efficiency - 1.0) <= 1e-12); /* its own peak */
    dml_gemm_result_free(&r);
}

static void bad_configs_are_refused(void **state)
{
    (void)state;
    dml_gemm_config c = small_config();
    dml_gemm_result r;
    dml_error err;
    c.sgemm = c.dgemm = false;
    assert_int_equal(dml_gemm_run(NULL, &c, &r, &err), DML_ERANGE);
    c = small_config();
    static const dml_gemm_shape bad[] = {{8, 0, 8}};
    c.shapes = bad;
    c.shape_count = 1;
    assert_int_equal(dml_gemm_run(NULL, &c, &r, &err), DML_ERANGE);
    assert_non_null(strstr(err.msg, "n=0"));
    c = small_config();
    static const int zero[] = {0};
    c.threads = zero;
    c.thread_count = 1;
    assert_int_equal(dml_gemm_run(NULL, &c, &r, &err), DML_ERANGE);
}

static void presets_cover_squares_and_transformer_shapes(void **state)
{
    (void)state;
    int nq = 0, nd = 0;
    const dml_gemm_shape *q = dml_gemm_shapes_preset(true, &nq);
    const dml_gemm_shape *d = dml_gemm_shapes_preset(false, &nd);
    assert_true(nq > 0 && nd > nq);
    int squares = 0, largest = 0, transformer = 0;
    for (int i = 0; i < nd; i++) {
        if (d[i].m == d[i].n && d[i].n == d[i].k) {
            squares++;
            largest = d[i].m > largest ? d[i].m : largest;
        } else {
            transformer++;
        }
    }
    assert_true(squares >= 5);
    assert_int_equal(largest, 2048);
    assert_true(transformer >= 4);
    /* FFN shapes of h = 768: n = 4h up, k = 4h down (2048 tokens). */
    int up = 0, down = 0;
    for (int i = 0; i < nd; i++) {
        up += d[i].m == 2048 && d[i].n == 3072 && d[i].k == 768;
        down += d[i].m == 2048 && d[i].n == 768 && d[i].k == 3072;
    }
    assert_int_equal(up, 1);
    assert_int_equal(down, 1);
    for (int i = 0; i < nq; i++)
        assert_true(dml_gemm_flop_count(q[i].m, q[i].n, q[i].k) <=
                    dml_gemm_flop_count(1024, 1024, 1024) * 2);
}

static void rows_carry_shape_threads_and_flops(void **state)
{
    (void)state;
    dml_gemm_config c = small_config();
    dml_gemm_result r;
    dml_error err;
    assert_int_equal(dml_gemm_run(NULL, &c, &r, &err), DML_OK);
    dml_measurement *rows = NULL;
    int count = 0;
    assert_int_equal(dml_gemm_to_measurements(&r, &rows, &count, &err),
                     DML_OK);
    assert_int_equal(count, r.point_count);
    for (int i = 0; i < count; i++) {
        const dml_gemm_sample *p = &r.points[i];
        char detail[96];
        snprintf(detail, sizeof detail, "m=%d n=%d k=%d", p->m, p->n, p->k);
        assert_string_equal(rows[i].kind, "gemm");
        assert_string_equal(rows[i].op, dml_gemm_dtype_name(p->dtype));
        assert_string_equal(rows[i].unit, "FLOP/s");
        assert_string_equal(rows[i].detail, detail);
        assert_int_equal(rows[i].threads, p->threads);
        assert_true(rows[i].value == p->best_flops);
        assert_true(rows[i].time_s == p->time_s);
        double elem = p->dtype == DML_GEMM_F32 ? 4 : 8;
        assert_true(rows[i].bytes ==
                    elem * ((double)p->m * p->k + (double)p->k * p->n +
                            (double)p->m * p->n));
    }
    free(rows);
    dml_gemm_result_free(&r);
}

DML_TEST_MAIN(
    cmocka_unit_test(flop_count_is_two_m_n_k),
    cmocka_unit_test(reference_check_catches_a_wrong_element),
    cmocka_unit_test(sweep_is_complete_sorted_and_positive),
    cmocka_unit_test(dgemm_figures_follow_from_its_times),
    cmocka_unit_test(bad_configs_are_refused),
    cmocka_unit_test(presets_cover_squares_and_transformer_shapes),
    cmocka_unit_test(rows_carry_shape_threads_and_flops))
