/*
 * test_exec_compress.c: the arithmetic of the compressed gradient
 * exchanges (executor/sync/compress.h, issue 15) without MPI: fp16 and
 * bf16 rounded to nearest with ties to even, their ranges (fp16's
 * subnormals and overflow at 65520, bf16 keeping fp32's range), NaN kept;
 * the top-k selection (largest magnitudes, ties to the lower index, NaN
 * counted largest, the same set whatever the order of the work); the
 * Gram-Schmidt of PowerSGD (orthonormal columns, a dependent or zero
 * column zero, the same bits twice); and the run identity naming the
 * strategy, so a checkpoint of another strategy is refused.
 */
#include "tests/support/unit.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "costmodel/plan.h"
#include "executor/identity.h"
#include "executor/sync/compress.h"

static float bits_to_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static void fp16_rounds_to_nearest_even(void **state)
{
    (void)state;
    assert_int_equal(dml_fp16_from_f32(1.0f), 0x3c00);
    assert_int_equal(dml_fp16_from_f32(-2.0f), 0xc000);
    assert_int_equal(dml_fp16_from_f32(0.0f), 0x0000);
    assert_int_equal(dml_fp16_from_f32(-0.0f), 0x8000);
    /* halfway between 1 and 1 + 2^-10: to the even one, 1 */
    assert_int_equal(dml_fp16_from_f32(1.0f + 0x1p-11f), 0x3c00);
    /* halfway between 1 + 2^-10 and 1 + 2^-9: to 1 + 2^-9 (even) */
    assert_int_equal(dml_fp16_from_f32(1.0f + 3 * 0x1p-11f), 0x3c02);
    /* a little above halfway: up */
    assert_int_equal(dml_fp16_from_f32(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    /* the largest, the last below infinity and infinity (65520 on) */
    assert_int_equal(dml_fp16_from_f32(65504.0f), 0x7bff);
    assert_int_equal(dml_fp16_from_f32(65519.99f), 0x7bff);
    assert_int_equal(dml_fp16_from_f32(65520.0f), 0x7c00);
    assert_int_equal(dml_fp16_from_f32(-1e6f), 0xfc00);
    assert_int_equal(dml_fp16_from_f32(INFINITY), 0x7c00);
}

static void fp16_subnormals_and_nan(void **state)
{
    (void)state;
    assert_int_equal(dml_fp16_from_f32(0x1p-24f), 0x0001);
    assert_int_equal(dml_fp16_from_f32(0x1p-25f), 0x0000);    /* tie: 0 */
    assert_int_equal(dml_fp16_from_f32(3 * 0x1p-25f), 0x0002); /* to 2 */
    assert_int_equal(dml_fp16_from_f32(0x1p-14f), 0x0400); /* smallest
                                                              normal */
    assert_int_equal(dml_fp16_from_f32(0x1p-14f - 0x1p-25f), 0x0400);
    assert_true(dml_fp16_to_f32(0x0001) == 0x1p-24f);
    assert_true(isnan(dml_fp16_to_f32(dml_fp16_from_f32(NAN))));
    assert_true(isinf(dml_fp16_to_f32(0x7c00)));
    /* every finite fp16 value reads back as itself */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7c00u) == 0x7c00u)
            continue;
        assert_int_equal(dml_fp16_from_f32(dml_fp16_to_f32((uint16_t)h)), h);
    }
}

static void bf16_keeps_fp32_range(void **state)
{
    (void)state;
    assert_int_equal(dml_bf16_from_f32(1.0f), 0x3f80);
    /* ties to even: 1 + 2^-8 is halfway between 1 and 1 + 2^-7 */
    assert_int_equal(dml_bf16_from_f32(1.0f + 0x1p-8f), 0x3f80);
    assert_int_equal(dml_bf16_from_f32(1.0f + 3 * 0x1p-8f), 0x3f82);
    /* fp32's range: 1e30 and 1e-30 within 2^-8 relative */
    float big = dml_bf16_to_f32(dml_bf16_from_f32(1e30f));
    float small = dml_bf16_to_f32(dml_bf16_from_f32(1e-30f));
    assert_true(fabsf(big - 1e30f) <= 0x1p-8f * 1e30f);
    assert_true(fabsf(small - 1e-30f) <= 0x1p-8f * 1e-30f);
    /* FLT_MAX rounds up past the largest bf16: infinity */
    assert_int_equal(dml_bf16_from_f32(FLT_MAX), 0x7f80);
    assert_true(isnan(dml_bf16_to_f32(dml_bf16_from_f32(NAN))));
    assert_true(isnan(dml_bf16_to_f32(
        dml_bf16_from_f32(bits_to_f32(0x7f800001u))))); /* signalling */
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7f80u) == 0x7f80u && (h & 0x7fu))
            continue; /* NaN: quietened */
        assert_int_equal(dml_bf16_from_f32(dml_bf16_to_f32((uint16_t)h)), h);
    }
}

static void topk_ties_go_to_the_lower_index(void **state)
{
    (void)state;
    const float v[] = {1, -3, 3, 2, -3, 0, 0.5f};
    float keys[7];
    uint64_t idx[7];
    dml_topk_select(v, 7, 2, keys, idx);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 2);
    dml_topk_select(v, 7, 3, keys, idx);
    assert_int_equal(idx[0], 1);
    assert_int_equal(idx[1], 2);
    assert_int_equal(idx[2], 4);
    dml_topk_select(v, 7, 4, keys, idx);
    assert_int_equal(idx[3], 4);
    assert_int_equal(idx[2], 3); /* in increasing index order */
    dml_topk_select(v, 7, 7, keys, idx);
    for (int i = 0; i < 7; i++)
        assert_int_equal(idx[i], i);
    /* all equal: the first k */
    const float z[] = {0, 0, 0, 0, 0};
    dml_topk_select(z, 5, 2, keys, idx);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
    /* NaN is counted largest, so the guard sees it after the exchange */
    const float n[] = {5, NAN, 7};
    dml_topk_select(n, 3, 1, keys, idx);
    assert_int_equal(idx[0], 1);
}

/* Against a plain reference on many random vectors with many ties. */
static void topk_matches_a_sort(void **state)
{
    (void)state;
    enum { N = 997 };
    float v[N], keys[N];
    uint64_t idx[N];
    dml_rng r;
    dml_rng_seed(&r, 3);
    for (int rep = 0; rep < 50; rep++) {
        for (int i = 0; i < N; i++)
            v[i] = (float)((int)dml_rng_below(&r, 9) - 4);
        size_t k = 1 + (size_t)dml_rng_below(&r, N);
        dml_topk_select(v, N, k, keys, idx);
        /* the threshold: the k-th largest magnitude, by counting */
        int count[5] = {0};
        for (int i = 0; i < N; i++)
            count[abs((int)v[i])]++;
        int th = 4;
        size_t above = 0;
        while (above + (size_t)count[th] < k) {
            above += (size_t)count[th];
            th--;
        }
        size_t ties = k - above, j = 0;
        for (int i = 0; i < N; i++) {
            int m = abs((int)v[i]);
            if (m > th || (m == th && ties > 0)) {
                if (m == th)
                    ties--;
                assert_int_equal(idx[j], i);
                j++;
            }
        }
        assert_int_equal(j, k);
    }
}

static void gram_schmidt_is_orthonormal(void **state)
{
    (void)state;
    enum { ROWS = 9, COLS = 4 };
    float p[ROWS * COLS], q[ROWS * COLS];
    double work[ROWS];
    dml_rng r;
    dml_rng_seed(&r, 5);
    for (int i = 0; i < ROWS * COLS; i++)
        p[i] = (float)dml_rng_normal(&r);
    /* column 2 = column 0 + column 1, column 3 zero */
    for (int i = 0; i < ROWS; i++) {
        p[i * COLS + 2] = p[i * COLS] + p[i * COLS + 1];
        p[i * COLS + 3] = 0;
    }
    memcpy(q, p, sizeof p);
    dml_orthonormalise(p, ROWS, COLS, work);
    dml_orthonormalise(q, ROWS, COLS, work);
    assert_memory_equal(p, q, sizeof p); /* deterministic */
    for (int a = 0; a < COLS; a++)
        for (int b = 0; b < COLS; b++) {
            double dot = 0;
            for (int i = 0; i < ROWS; i++)
                dot += (double)p[i * COLS + a] * p[i * COLS + b];
            double want = a == b && a < 2 ? 1.0 : 0.0;
            assert_true(fabs(dot - want) < 1e-6);
        }
}

static void identity_names_the_strategy(void **state)
{
    (void)state;
    dml_plan *p = malloc(sizeof *p);
    dml_identity *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_true(p && a && b);
    dml_plan_init(p);
    p->model.type = DML_MODEL_MLP;
    p->model.input = 32;
    p->model.hidden_count = 1;
    p->model.hidden_sizes[0] = 16;
    p->model.output = 4;
    p->model.layers = 2;
    p->stage_count = 1;
    p->stages[0].last_layer = 1;
    p->sched.global_batch = 32;
    dml_error err;
    assert_int_equal(dml_identity_make(p, NULL, 1, false, NULL, 0, a, &err),
                     DML_OK);
    /* allreduce: no line, as every identity written before strategies */
    assert_null(strstr(a->text, "parallel.sync"));
    p->par.sync = (dml_sync_spec){.kind = DML_SYNC_TOPK, .param = 0.01};
    assert_int_equal(dml_identity_make(p, NULL, 1, false, NULL, 0, b, &err),
                     DML_OK);
    assert_non_null(strstr(b->text, "parallel.sync=topk:0.01\n"));
    assert_string_not_equal(a->sha256, b->sha256);
    char why[256];
    assert_true(dml_identity_diff(b->text, a->text, why, sizeof why));
    assert_string_equal(why, "parallel.sync is topk:0.01 there, absent here");
    free(p);
    free(a);
    free(b);
}

DML_TEST_MAIN(
    cmocka_unit_test(fp16_rounds_to_nearest_even),
    cmocka_unit_test(fp16_subnormals_and_nan),
    cmocka_unit_test(bf16_keeps_fp32_range),
    cmocka_unit_test(topk_ties_go_to_the_lower_index),
    cmocka_unit_test(topk_matches_a_sort),
    cmocka_unit_test(gram_schmidt_is_orthonormal),
    cmocka_unit_test(identity_names_the_strategy))
