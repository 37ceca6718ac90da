/*
 * test_gpu_gemm.c: the cuBLAS probe. Where no GPU exists (this machine:
 * no driver; or a build without CUDA) every entry point answers
 * DML_ENODEV "no GPU..." and leaves nothing allocated; where one exists,
 * a quick sweep gives validated positive FLOP/s. The 16-bit conversions
 * and the reference the GPU results are checked against run everywhere.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "probes/gpu_gemm.h"

static bool have_gpu(void)
{
    int n = 0;
    dml_error err;
    return dml_gpu_count(&n, &err) == DML_OK && n > 0;
}

static void no_gpu_is_enodev_and_says_so(void **state)
{
    (void)state;
    if (have_gpu())
        skip(); /* the other branch is checked by the sweep test */
    int n = -1;
    dml_error err;
    assert_int_equal(dml_gpu_count(&n, &err), DML_ENODEV);
    assert_int_equal(n, 0);
    assert_int_equal(err.status, DML_ENODEV);
    /* The caller logs this and skips the GPU part. */
    assert_int_equal(strncmp(err.msg, "no GPU", 6), 0);

    dml_gpu_device_info info;
    assert_int_equal(dml_gpu_device_info_get(0, &info, &err), DML_ENODEV);
    assert_int_equal(strncmp(err.msg, "no GPU", 6), 0);

    dml_gpu_gemm_config c = dml_gpu_gemm_config_default(true);
    dml_gpu_gemm_result r;
    memset(&r, 0xab, sizeof r); /* must be reset */
    assert_int_equal(dml_gpu_gemm_run(&c, &r, &err), DML_ENODEV);
    assert_int_equal(strncmp(err.msg, "no GPU", 6), 0);
    assert_null(r.points);
    assert_int_equal(r.point_count, 0);
    dml_measurement *rows = NULL;
    int count = 0;
    assert_int_equal(dml_gpu_gemm_to_measurements(&r, &rows, &count, &err),
                     DML_OK);
    assert_int_equal(count, 0);
    dml_gpu_gemm_result_free(&r);
}

static void gpu_sweep_is_validated_and_positive(void **state)
{
    (void)state;
    if (!have_gpu())
        skip();
    dml_gpu_gemm_config c = dml_gpu_gemm_config_default(true);
    c.budget.min_reps = 2;
    c.point_time_s = 0.02;
    dml_gpu_gemm_result r;
    dml_error err;
    dml_status s = dml_gpu_gemm_run(&c, &r, &err);
    if (s != DML_OK)
        fail_msg("gpu sweep: %s", err.msg);
    assert_true(r.point_count > 0);
    assert_true(r.device.sm_count > 0);
    assert_true(r.device.mem_bytes > 0);
    for (int i = 0; i < r.point_count; i++) {
        assert_true(r.points[i].best_flops > 0);
        assert_true(r.points[i].efficiency > 0 &&
                    r.points[i].efficiency <= 1);
    }
    /* Tensor-core fp16 beats plain fp32 on every GPU cuBLAS supports. */
    assert_true(r.peak_flops[DML_GPU_GEMM_FP16] >
                r.peak_flops[DML_GPU_GEMM_FP32]);
    dml_measurement *rows = NULL;
    int count = 0;
    assert_int_equal(dml_gpu_gemm_to_measurements(&r, &rows, &count, &err),
                     DML_OK);
    assert_int_equal(count, r.point_count);
    assert_string_equal(rows[0].kind, "gpu_gemm");
    assert_string_equal(rows[0].level, "device");
    free(rows);
    dml_gpu_gemm_result_free(&r);
}

/* Issue 11: the kernel floor a cluster spec takes from the sweep is the
 * best time of its smallest GEMM, whatever order the points come in. */
static void kernel_floor_is_the_smallest_gemms_best_time(void **state)
{
    (void)state;
    dml_gpu_gemm_point pts[4] = {
        {.dtype = DML_GPU_GEMM_BF16, .m = 1024, .n = 1024, .k = 1024,
         .flop_count = 2.0 * 1024 * 1024 * 1024, .time_s = 9e-6},
        {.dtype = DML_GPU_GEMM_BF16, .m = 256, .n = 256, .k = 256,
         .flop_count = 2.0 * 256 * 256 * 256, .time_s = 5.5e-6},
        {.dtype = DML_GPU_GEMM_FP32, .m = 256, .n = 256, .k = 256,
         .flop_count = 2.0 * 256 * 256 * 256, .time_s = 4.8e-6},
        {.dtype = DML_GPU_GEMM_FP32, .m = 4096, .n = 4096, .k = 4096,
         .flop_count = 2.0 * 4096 * 4096 * 4096, .time_s = 7e-3},
    };
    dml_gpu_gemm_result r = {.points = pts, .point_count = 4};
    assert_true(dml_gpu_gemm_kernel_floor(&r) == 4.8e-6);
    r.point_count = 0;
    assert_true(dml_gpu_gemm_kernel_floor(&r) == 0);
    assert_true(dml_gpu_gemm_kernel_floor(NULL) == 0);
}

static void half_conversion_rounds_to_nearest_even(void **state)
{
    (void)state;
    /* IEEE 754 binary16 encodings. */
    assert_int_equal(dml_gpu_gemm_float_to_half(1.0f), 0x3c00);
    assert_int_equal(dml_gpu_gemm_float_to_half(-2.0f), 0xc000);
    assert_int_equal(dml_gpu_gemm_float_to_half(0.1f), 0x2e66);
    assert_int_equal(dml_gpu_gemm_float_to_half(65504.0f), 0x7bff); /* max */
    assert_int_equal(dml_gpu_gemm_float_to_half(65520.0f), 0x7c00); /* inf */
    assert_int_equal(dml_gpu_gemm_float_to_half(ldexpf(1, -24)), 0x0001);
    assert_int_equal(dml_gpu_gemm_float_to_half(ldexpf(1, -26)), 0x0000);
    /* 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to even. */
    assert_int_equal(dml_gpu_gemm_float_to_half(1.0f + ldexpf(1, -11)),
                     0x3c00);
    assert_int_equal(dml_gpu_gemm_float_to_half(1.0f + 3 * ldexpf(1, -11)),
                     0x3c02);
    assert_true(dml_gpu_gemm_half_to_float(0x3555) == 0.333251953125f);
    assert_true(dml_gpu_gemm_half_to_float(0x0001) == ldexpf(1, -24));
    /* Every finite half survives the round trip through float. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        float f = dml_gpu_gemm_half_to_float((uint16_t)h);
        assert_int_equal(dml_gpu_gemm_float_to_half(f), h);
    }
}

static void bf16_conversion_rounds_to_nearest_even(void **state)
{
    (void)state;
    assert_int_equal(dml_gpu_gemm_float_to_bf16(1.0f), 0x3f80);
    assert_int_equal(dml_gpu_gemm_float_to_bf16(-2.0f), 0xc000);
    /* pi = 0x40490fdb: rounds down to 0x4049 (3.140625). */
    assert_int_equal(dml_gpu_gemm_float_to_bf16(3.14159265f), 0x4049);
    assert_true(dml_gpu_gemm_bf16_to_float(0x4049) == 3.140625f);
    /* Ties: 1 + 2^-8 goes to 1 (even), 1 + 3*2^-8 up to 1 + 2^-6. */
    assert_int_equal(dml_gpu_gemm_float_to_bf16(1.0f + ldexpf(1, -8)),
                     0x3f80);
    assert_int_equal(dml_gpu_gemm_float_to_bf16(1.0f + 3 * ldexpf(1, -8)),
                     0x3f82);
}

static void reference_tiles_the_pattern_and_bounds_the_error(void **state)
{
    (void)state;
    /* A[i][p] = pa[(i k + p) % 3], B[p][j] = pb[(p n + j) % 3], k = n = 2:
     * C[1][1] = pa[2] pb[1] + pa[0] pb[0] = 3 (-1) + 1 (1) = -2. */
    const float pa[] = {1, 2, 3}, pb[] = {1, -1, 2};
    double ref, tol16, tol32, tolt;
    dml_gpu_gemm_reference(DML_GPU_GEMM_FP32, pa, pb, 3, 2, 2, 1, 1, &ref,
                           &tol32);
    assert_true(ref == -2.0);
    dml_gpu_gemm_reference(DML_GPU_GEMM_FP16, pa, pb, 3, 2, 2, 1, 1, &ref,
                           &tol16);
    dml_gpu_gemm_reference(DML_GPU_GEMM_TF32, pa, pb, 3, 2, 2, 1, 1, &ref,
                           &tolt);
    /* fp16 output rounding and tf32 input rounding allow more than fp32. */
    assert_true(tol32 > 0);
    assert_true(tol16 > tol32);
    assert_true(tolt > tol32);
    /* A result left at 0 for a large dot product is outside the bound:
     * b = a + 1/8 with a in {-3/4 .. 3/4} gives about K/4 = 1024. */
    enum { K = 4096 };
    float *big_a = malloc(K * sizeof *big_a), *big_b = malloc(K * sizeof *big_b);
    for (int i = 0; i < K; i++) {
        big_a[i] = (float)((i % 7) - 3) / 4;
        big_b[i] = big_a[i] + 0.125f;
    }
    dml_gpu_gemm_reference(DML_GPU_GEMM_TF32, big_a, big_b, K, 1, K, 0, 0,
                           &ref, &tolt);
    assert_true(ref > 1000 && ref < 1100);
    assert_true(tolt < ref / 100);
    free(big_a);
    free(big_b);
}

DML_TEST_MAIN(
    cmocka_unit_test(no_gpu_is_enodev_and_says_so),
    cmocka_unit_test(gpu_sweep_is_validated_and_positive),
    cmocka_unit_test(kernel_floor_is_the_smallest_gemms_best_time),
    cmocka_unit_test(half_conversion_rounds_to_nearest_even),
    cmocka_unit_test(bf16_conversion_rounds_to_nearest_even),
    cmocka_unit_test(reference_tiles_the_pattern_and_bounds_the_error))
