/*
 * test_exec_data.c: IDX files (the Fashion-MNIST fixture: its known first
 * labels, a truncated copy, bad magic, trailing bytes), synthetic data and
 * the documented order of the training stream.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor/data.h"

#define SMALL DML_FIXTURES "/exec/fmnist-small"
#define TRUNC DML_FIXTURES "/exec/fmnist-truncated"

static void fixture_loads_with_known_labels(void **state)
{
    (void)state;
    dml_dataset d;
    dml_error err;
    assert_int_equal(dml_data_load_idx(SMALL, "train", true, true, 10, &d,
                                       &err),
                     DML_OK);
    assert_int_equal(d.n, 200);
    assert_int_equal(d.dim, 784);
    /* fixtures/exec/README.md: the first training labels of Fashion-MNIST. */
    static const uint8_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    assert_memory_equal(d.y, first, 10);
    assert_null(d.x); /* images stay bytes until rows are copied out */
    float lo = 1, hi = 0, row[784];
    for (int64_t i = 0; i < d.n; i++) {
        dml_data_features(&d, i, row);
        for (int j = 0; j < 784; j++) {
            lo = row[j] < lo ? row[j] : lo;
            hi = row[j] > hi ? row[j] : hi;
        }
    }
    assert_true(lo == 0.0f && hi == 1.0f); /* pixels 0..255 scaled */
    dml_dataset_free(&d);
    /* Only labels: no image buffer. */
    assert_int_equal(dml_data_load_idx(SMALL, "t10k", false, true, 10, &d,
                                       &err),
                     DML_OK);
    assert_null(d.x);
    assert_null(d.pixels);
    assert_int_equal(d.n, 100);
    assert_int_equal(d.y[0], 9);
    dml_dataset_free(&d);
    assert_int_equal(dml_data_check_dir(SMALL, 784, 10, &err), DML_OK);
}

static void bad_files_are_clear_input_errors(void **state)
{
    (void)state;
    dml_dataset d;
    dml_error err;
    assert_int_equal(dml_data_load_idx(TRUNC, "train", true, true, 10, &d,
                                       &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.file, "train-images-idx3-ubyte.gz"));
    assert_non_null(strstr(err.msg, "truncated IDX file"));
    assert_int_equal(dml_data_check_dir(TRUNC, 784, 10, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "truncated"));
    /* Labels past the model's classes, and a wrong image size. */
    assert_int_equal(dml_data_check_dir(SMALL, 784, 5, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "not below the model's 5 outputs"));
    assert_int_equal(dml_data_check_dir(SMALL, 32, 10, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "model's input is 32"));
    assert_int_equal(dml_data_check_dir("/nonexistent-dml", 784, 10, &err),
                     DML_EINPUT);

    /* Uncompressed files in a scratch directory: a label file where
     * images belong; then right images but a label file one byte longer
     * than its header says; then both right. */
    char dir[] = "/tmp/dml-data-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[256];
    const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    FILE *f = fopen(p, "wb");
    fwrite(labels, 1, 10, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    f = fopen(p, "wb");
    fwrite(labels, 1, sizeof labels, f);
    fclose(f);
    assert_int_equal(dml_data_load_idx(dir, "train", true, true, 10, &d,
                                       &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "not an IDX image file"));
    const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1,
                                    0, 0, 0, 1, 7, 9};
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    f = fopen(p, "wb");
    fwrite(images, 1, sizeof images, f);
    fclose(f);
    assert_int_equal(dml_data_load_idx(dir, "train", true, true, 10, &d,
                                       &err),
                     DML_EINPUT);
    assert_non_null(strstr(err.msg, "longer than its header says"));
    /* Exactly the header's length: accepted, 2 images of 1x1. */
    f = fopen(p, "wb");
    fwrite(images, 1, sizeof images, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    f = fopen(p, "wb");
    fwrite(labels, 1, 10, f);
    fclose(f);
    assert_int_equal(dml_data_load_idx(dir, "train", true, true, 10, &d,
                                       &err),
                     DML_OK);
    assert_int_equal(d.n, 2);
    float px[1];
    dml_data_features(&d, 0, px);
    assert_true(px[0] == 7.0f / 255.0f && d.y[1] == 2);
    dml_dataset_free(&d);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir);
    unlink(p);
    rmdir(dir);
}

static void synthetic_data_is_deterministic(void **state)
{
    (void)state;
    dml_dataset a, b, labels_only;
    dml_error err;
    assert_int_equal(dml_data_synthetic(0, 500, 32, 4, true, true, &a, &err),
                     DML_OK);
    assert_int_equal(dml_data_synthetic(0, 500, 32, 4, true, true, &b, &err),
                     DML_OK);
    assert_int_equal(dml_data_synthetic(0, 500, 32, 4, false, true,
                                        &labels_only, &err),
                     DML_OK);
    assert_memory_equal(a.x, b.x, 500 * 32 * sizeof(float));
    assert_memory_equal(a.y, b.y, 500);
    assert_memory_equal(a.y, labels_only.y, 500);
    int count[4] = {0};
    for (int i = 0; i < 500; i++) {
        assert_true(a.y[i] < 4);
        count[a.y[i]]++;
    }
    for (int c = 0; c < 4; c++)
        assert_true(count[c] > 25); /* every class is represented */
    dml_dataset test;
    assert_int_equal(dml_data_synthetic(1, 500, 32, 4, true, true, &test,
                                        &err),
                     DML_OK);
    assert_memory_not_equal(a.x, test.x, 500 * 32 * sizeof(float));
    dml_dataset_free(&a);
    dml_dataset_free(&b);
    dml_dataset_free(&labels_only);
    dml_dataset_free(&test);
}

static void stream_order_is_documented_order(void **state)
{
    (void)state;
    dml_data_order o;
    dml_error err;
    assert_int_equal(dml_data_order_init(&o, 10, false, 1, &err), DML_OK);
    /* --shuffle none: position q is sample q mod N. */
    assert_int_equal(dml_data_order_sample(&o, 0), 0);
    assert_int_equal(dml_data_order_sample(&o, 7), 7);
    assert_int_equal(dml_data_order_sample(&o, 23), 3);
    dml_data_order_free(&o);

    dml_data_order e1, e2, other;
    assert_int_equal(dml_data_order_init(&e1, 100, true, 5, &err), DML_OK);
    assert_int_equal(dml_data_order_init(&e2, 100, true, 5, &err), DML_OK);
    assert_int_equal(dml_data_order_init(&other, 100, true, 6, &err), DML_OK);
    int seen[100], same_seed = 1, diff_seed = 0, diff_epoch = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        memset(seen, 0, sizeof seen);
        for (int i = 0; i < 100; i++) {
            int64_t q = epoch * 100 + i;
            int64_t s = dml_data_order_sample(&e1, q);
            assert_true(s >= 0 && s < 100);
            seen[s]++;
            same_seed &= s == dml_data_order_sample(&e2, q);
            diff_seed |= s != dml_data_order_sample(&other, q);
            diff_epoch |= s != dml_data_order_sample(&e2, (epoch + 1) * 100 + i);
        }
        for (int i = 0; i < 100; i++)
            assert_int_equal(seen[i], 1); /* each epoch a permutation */
    }
    assert_true(same_seed);
    assert_true(diff_seed);
    assert_true(diff_epoch);
    /* Reading out of order (another rank's micro-batch) gives the same. */
    int64_t late = dml_data_order_sample(&e1, 250);
    dml_data_order_sample(&e1, 3);
    assert_int_equal(dml_data_order_sample(&e1, 250), late);
    dml_data_order_free(&e1);
    dml_data_order_free(&e2);
    dml_data_order_free(&other);

    /* Gathering rows follows the order across the end of an epoch. */
    dml_dataset d;
    assert_int_equal(dml_data_synthetic(0, 10, 3, 2, true, true, &d, &err),
                     DML_OK);
    assert_int_equal(dml_data_order_init(&o, 10, false, 1, &err), DML_OK);
    float x[4 * 3];
    uint8_t y[4];
    dml_data_gather(&d, &o, 8, 4, x, y);
    assert_memory_equal(x, d.x + 8 * 3, 2 * 3 * sizeof(float));
    assert_memory_equal(x + 6, d.x, 2 * 3 * sizeof(float));
    assert_int_equal(y[2], d.y[0]);
    dml_data_order_free(&o);
    dml_dataset_free(&d);
}

DML_TEST_MAIN(
    cmocka_unit_test(fixture_loads_with_known_labels),
    cmocka_unit_test(bad_files_are_clear_input_errors),
    cmocka_unit_test(synthetic_data_is_deterministic),
    cmocka_unit_test(stream_order_is_documented_order))
