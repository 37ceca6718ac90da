/*
 * test_fed_partition.c: the client shards of federated runs on the real
 * Fashion-MNIST training labels (60,000; skipped where the dataset is not
 * installed) and the client sampler: every sample in exactly one shard,
 * classes:K's exact class counts, Dirichlet's skew at small alpha,
 * reproducibility from the seed, and sampling uniform within 1.5 % per
 * client over 1,000 rounds (issue 18).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "executor/data.h"
#include "executor/federated/partition.h"
#include "executor/federated/sample.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static dml_dataset train;

static int load_labels(void **state)
{
    (void)state;
    dml_error err;
    return dml_data_load_idx(FMNIST, "train", false, true, 10, &train, &err);
}

static int free_labels(void **state)
{
    (void)state;
    dml_dataset_free(&train);
    return 0;
}

static dml_fed_partition split(const char *text, int clients, uint64_t seed)
{
    dml_fed_split s;
    dml_fed_partition p;
    dml_error err;
    assert_int_equal(dml_fed_split_parse(text, &s, &err), DML_OK);
    assert_int_equal(dml_fed_partition_make(train.y, train.n, 10, clients, &s,
                                            seed, &p, &err),
                     DML_OK);
    return p;
}

/* Every sample index appears exactly once over all shards. */
static void assert_exact_cover(const dml_fed_partition *p)
{
    assert_int_equal(p->offset[0], 0);
    assert_int_equal(p->offset[p->clients], train.n);
    unsigned char *seen = calloc((size_t)train.n, 1);
    for (int64_t q = 0; q < train.n; q++) {
        assert_true(p->index[q] < train.n);
        assert_int_equal(seen[p->index[q]]++, 0); /* no sample twice */
    }
    free(seen);
}

static void iid_shards_equal_and_balanced(void **state)
{
    (void)state;
    dml_fed_partition p = split("iid", 100, 7);
    assert_exact_cover(&p);
    dml_fed_shard_stats st;
    dml_fed_partition_stats(&p, train.y, 10, &st);
    /* 60,000 / 100: every shard holds exactly 600 samples. */
    assert_int_equal(st.min_samples, 600);
    assert_int_equal(st.max_samples, 600);
    assert_int_equal(st.min_classes, 10);
    /* 600 draws of 10 equally likely classes: the largest class is about
     * 0.13 of a shard (60 expected, about +2 standard deviations). */
    assert_true(st.mean_max_fraction > 0.10 && st.mean_max_fraction < 0.16);
    dml_fed_partition_free(&p);
}

/* Every client holds exactly k classes, lo..hi samples of each; holders[]
 * counts the clients of each class. */
static void assert_class_counts(const dml_fed_partition *p, int k, int64_t lo,
                                int64_t hi, int *holders)
{
    int64_t counts[10];
    for (int c = 0; c < p->clients; c++) {
        dml_fed_partition_class_counts(p, train.y, 10, c, counts);
        int distinct = 0;
        for (int j = 0; j < 10; j++)
            if (counts[j]) {
                distinct++;
                holders[j]++;
                assert_true(counts[j] >= lo && counts[j] <= hi);
            }
        assert_int_equal(distinct, k);
    }
}

static void classes_k_gives_exact_counts(void **state)
{
    (void)state;
    dml_fed_partition p = split("classes:2", 100, 7);
    assert_exact_cover(&p);
    /* 100 clients x 2 slots over 10 classes: 20 holders a class; each class
     * has 6,000 samples, so every client holds 300 of each of its 2. */
    int holders[10] = {0};
    assert_class_counts(&p, 2, 300, 300, holders);
    for (int k = 0; k < 10; k++)
        assert_int_equal(holders[k], 20);
    dml_fed_partition_free(&p);
    /* 30 clients x 3 classes: 9 holders a class, 6000/9 = 666 or 667. */
    p = split("classes:3", 30, 11);
    assert_exact_cover(&p);
    memset(holders, 0, sizeof holders);
    assert_class_counts(&p, 3, 666, 667, holders);
    for (int k = 0; k < 10; k++)
        assert_int_equal(holders[k], 9);
    dml_fed_partition_free(&p);
}

static void dirichlet_small_alpha_is_skewed(void **state)
{
    (void)state;
    dml_fed_shard_stats iid, skew, mild;
    dml_fed_partition p = split("iid", 100, 3);
    dml_fed_partition_stats(&p, train.y, 10, &iid);
    dml_fed_partition_free(&p);
    p = split("0.1", 100, 3);
    assert_exact_cover(&p);
    dml_fed_partition_stats(&p, train.y, 10, &skew);
    dml_fed_partition_free(&p);
    p = split("100", 100, 3);
    assert_exact_cover(&p);
    dml_fed_partition_stats(&p, train.y, 10, &mild);
    dml_fed_partition_free(&p);
    print_message("max-class fraction: iid %.3f, alpha 100 %.3f, alpha 0.1 "
                  "%.3f; classes per client %.2f / %.2f / %.2f\n",
                  iid.mean_max_fraction, mild.mean_max_fraction,
                  skew.mean_max_fraction, iid.mean_classes,
                  mild.mean_classes, skew.mean_classes);
    /* Dir(0.1) over 10 classes puts most of a shard in one class; IID
     * holds about 0.13. */
    assert_true(skew.mean_max_fraction > 0.5);
    assert_true(skew.mean_max_fraction > 3 * iid.mean_max_fraction);
    assert_true(skew.mean_classes < 5.0);
    assert_true(skew.min_samples >= DML_FED_MIN_SHARD);
    /* Large alpha tends to IID. */
    assert_true(mild.mean_max_fraction < 0.25);
    assert_true(mild.min_classes == 10);
}

static void same_seed_same_shards(void **state)
{
    (void)state;
    const char *splits[] = {"iid", "classes:2", "0.5"};
    for (int i = 0; i < 3; i++) {
        dml_fed_partition a = split(splits[i], 50, 42);
        dml_fed_partition b = split(splits[i], 50, 42);
        dml_fed_partition c = split(splits[i], 50, 43);
        assert_memory_equal(a.offset, b.offset, sizeof *a.offset * 51);
        assert_memory_equal(a.index, b.index, sizeof *a.index * (size_t)train.n);
        assert_memory_not_equal(a.index, c.index,
                                sizeof *a.index * (size_t)train.n);
        dml_fed_partition_free(&a);
        dml_fed_partition_free(&b);
        dml_fed_partition_free(&c);
    }
}

static void bad_splits_are_refused(void **state)
{
    (void)state;
    dml_fed_split s;
    dml_fed_partition p;
    dml_error err;
    const char *bad[] = {"", "0", "-1", "classes:", "classes:0", "nan",
                         "classes:2x", "iidx", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(dml_fed_split_parse(bad[i], &s, &err), DML_EINPUT);
    char buf[32];
    assert_int_equal(dml_fed_split_parse("classes:4", &s, &err), DML_OK);
    dml_fed_split_format(&s, buf, sizeof buf);
    assert_string_equal(buf, "classes:4");
    assert_int_equal(dml_fed_split_parse("0.1", &s, &err), DML_OK);
    assert_true(s.alpha == 0.1);
    /* More classes per client than the data has, too few slots. */
    assert_int_equal(dml_fed_split_parse("classes:11", &s, &err), DML_OK);
    assert_int_equal(dml_fed_partition_make(train.y, train.n, 10, 100, &s, 1,
                                            &p, &err),
                     DML_EINPUT);
    assert_int_equal(dml_fed_split_parse("classes:2", &s, &err), DML_OK);
    assert_int_equal(dml_fed_partition_make(train.y, train.n, 10, 4, &s, 1,
                                            &p, &err),
                     DML_EINPUT);
}

/* Over `rounds` rounds: every client's count within 1.5 % of R m / N, each
 * round m distinct clients, the same sequence from the same seed. */
static void check_sampler(int clients, int m, int rounds)
{
    dml_fed_sampler s, again;
    assert_int_equal(dml_fed_sampler_init(&s, clients, m, 99), 0);
    assert_int_equal(dml_fed_sampler_init(&again, clients, m, 99), 0);
    int *count = calloc((size_t)clients, sizeof *count);
    int *round = malloc(sizeof *round * (size_t)m);
    int *round2 = malloc(sizeof *round2 * (size_t)m);
    for (int r = 0; r < rounds; r++) {
        dml_fed_sampler_next(&s, round);
        dml_fed_sampler_next(&again, round2);
        assert_memory_equal(round, round2, sizeof *round * (size_t)m);
        for (int i = 0; i < m; i++) {
            assert_true(round[i] >= 0 && round[i] < clients);
            for (int j = 0; j < i; j++)
                assert_int_not_equal(round[i], round[j]);
            count[round[i]]++;
        }
    }
    double expect = (double)rounds * m / clients;
    for (int c = 0; c < clients; c++)
        assert_true(count[c] >= expect * 0.985 && count[c] <= expect * 1.015);
    /* Seeking replays the same rounds. */
    dml_fed_sampler_seek(&again, 37);
    dml_fed_sampler_seek(&s, 0);
    for (int r = 0; r <= 37; r++)
        dml_fed_sampler_next(&s, round);
    dml_fed_sampler_next(&again, round2);
    assert_memory_equal(round, round2, sizeof *round * (size_t)m);
    free(count);
    free(round);
    free(round2);
    dml_fed_sampler_free(&s);
    dml_fed_sampler_free(&again);
}

static void sampling_uniform_and_reproducible(void **state)
{
    (void)state;
    assert_int_equal(dml_fed_clients_per_round(100, 0.1), 10);
    assert_int_equal(dml_fed_clients_per_round(100, 0.001), 1);
    assert_int_equal(dml_fed_clients_per_round(7, 1.0), 7);
    check_sampler(100, 10, 1000);
    check_sampler(30, 7, 1000); /* rounds straddle the cycles */
    /* Another seed, another sequence; cycles are fresh draws (round 0 and
     * round 10 of 100 clients at 10 a round differ). */
    dml_fed_sampler a, b;
    int ra[10], rb[10], r10[10];
    dml_fed_sampler_init(&a, 100, 10, 1);
    dml_fed_sampler_init(&b, 100, 10, 2);
    dml_fed_sampler_next(&a, ra);
    dml_fed_sampler_next(&b, rb);
    assert_memory_not_equal(ra, rb, sizeof ra);
    dml_fed_sampler_seek(&a, 10);
    dml_fed_sampler_next(&a, r10);
    assert_memory_not_equal(ra, r10, sizeof ra);
    dml_fed_sampler_free(&a);
    dml_fed_sampler_free(&b);
}

int main(void)
{
    if (!dml_file_exists(FMNIST "/train-labels-idx1-ubyte.gz") &&
        !dml_file_exists(FMNIST "/train-labels-idx1-ubyte"))
        return 77; /* dataset-fashion-mnist not installed */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iid_shards_equal_and_balanced),
        cmocka_unit_test(classes_k_gives_exact_counts),
        cmocka_unit_test(dirichlet_small_alpha_is_skewed),
        cmocka_unit_test(same_seed_same_shards),
        cmocka_unit_test(bad_splits_are_refused),
        cmocka_unit_test(sampling_uniform_and_reproducible),
    };
    return cmocka_run_group_tests(tests, load_labels, free_labels);
}
