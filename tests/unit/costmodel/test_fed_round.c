/*
 * test_fed_round.c: the federated round pricer (costmodel/fed_round.h)
 * against numbers worked by hand for the mlp-fmnist model (P = 269,322)
 * and Fashion-MNIST's 60,000 samples over 100 clients (issue 18).
 */
#include "tests/support/unit.h"

#include <math.h>

#include "costmodel/fed_round.h"

#define P 269322.0

static dml_fed_round_input input(const dml_fed_spec *f, int ranks)
{
    return (dml_fed_round_input){
        .fed = f, .params = P, .samples = 60000, .flops_per_sample = 2 * P,
        .rank_flops = 1e10, .mask_values_per_s = 1e9, .ranks = ranks,
        .server_link = {.present = true, .latency_s = 1e-4, .bw_Bps = 1.25e7,
                        .efficiency = 1.0}};
}

static void fedavg_and_fedsgd_rounds(void **state)
{
    (void)state;
    dml_fed_spec f;
    dml_fed_spec_init(&f); /* 100 clients, C 0.1, E 5, B 10 */
    dml_fed_round_input in = input(&f, 2);
    dml_fed_round_price avg, sgd;
    dml_fed_round_price_of(&in, &avg);
    assert_int_equal(avg.clients, 10);
    assert_true(avg.client_steps == 300); /* 5 x 600 / 10 */
    /* 5 clients a rank, 300 steps of 10 samples, 3 x 2P FLOPs each */
    assert_true(fabs(avg.compute_s - 5 * 300 * 10 * 6 * P / 1e10) < 1e-9);
    /* one other rank: the model down (4P), the double sum up (8P) */
    assert_true(avg.server_link_bytes == 12 * P);
    assert_true(fabs(avg.comm_s - (2e-4 + 12 * P / 1.25e7)) < 1e-12);
    assert_true(avg.logical_down_bytes == 10 * 4 * P);
    f.epochs = 0; /* FedSGD: one step of the whole shard */
    f.batch = 0;
    dml_fed_round_price_of(&in, &sgd);
    assert_true(sgd.client_steps == 1);
    assert_true(fabs(avg.compute_s / sgd.compute_s - 5.0) < 1e-12);
    assert_true(sgd.server_link_bytes == avg.server_link_bytes);
}

static void secagg_and_ranks(void **state)
{
    (void)state;
    dml_fed_spec f;
    dml_fed_spec_init(&f);
    f.secagg = true;
    dml_fed_round_input in = input(&f, 4);
    dml_fed_round_price p;
    dml_fed_round_price_of(&in, &p);
    /* 3 other ranks, each the model down and a 32-bit sum plus 10 seeds up */
    assert_true(p.server_link_bytes == 3 * (4 * P + 4 * P + 80));
    /* ceil(10 / 4) = 3 clients on the slowest rank, 9 masks of P each */
    assert_true(fabs(p.secagg_s - 3 * 9 * P / 1e9) < 1e-12);
    assert_true(fabs(p.round_s - (p.compute_s + p.secagg_s + p.comm_s)) < 1e-12);
    /* the logical bytes up are within 2x the plain ones */
    assert_true(p.logical_up_bytes <= 2 * p.logical_down_bytes);
    in.ranks = 1; /* the server alone: nothing crosses a link */
    dml_fed_round_price_of(&in, &p);
    assert_true(p.server_link_bytes == 0 && p.comm_s == 0);
}

DML_TEST_MAIN(
    cmocka_unit_test(fedavg_and_fedsgd_rounds),
    cmocka_unit_test(secagg_and_ranks))
