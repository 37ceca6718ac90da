/*
 * test_probes_comm.c: the arithmetic of the communication probes, which
 * needs no MPI job: busbw factors and nccl-tests counts, the alpha-beta
 * fit and its residual, fake-node layout, size sweeps, tables with
 * averages, #wrong and nccl-tests' footers, the data check of each
 * collective, the p2p headline, the cluster spec's links, and
 * measurement rows.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "probes/alphabeta.h"
#include "probes/busbw.h"
#include "probes/collectives.h"
#include "probes/comm_levels.h"
#include "probes/nccl_collectives.h"
#include "probes/coll_check.h"
#include "probes/p2p.h"
#include "probes/probe_job.h"

#include <unistd.h>

#define assert_close(got, want, rel)                                          \
    do {                                                                      \
        double g_ = (got), w_ = (want);                                       \
        if (!(fabs(g_ - w_) <= (rel) * fabs(w_)))                             \
            fail_msg("%s = %.17g, expected %.17g within %g relative", #got,  \
                     g_, w_, (double)(rel));                                  \
    } while (0)

/* Factors from nccl-tests doc/PERFORMANCE.md (dev_set.md, "Collective bus
 * bandwidth"): allreduce 2(n-1)/n; reduce-scatter, all-gather, all-to-all
 * (n-1)/n; broadcast 1. */
static void busbw_factors_follow_nccl_tests(void **state)
{
    double (*f)(dml_coll_op, int) = dml_collective_busbw_factor;
    (void)state;
    assert_close(f(DML_COLL_ALLREDUCE, 8), 1.75, 1e-15);
    assert_close(f(DML_COLL_ALLREDUCE, 2), 1.0, 1e-15);
    assert_close(f(DML_COLL_ALLREDUCE, 4), 1.5, 1e-15);
    assert_close(f(DML_COLL_ALLGATHER, 8), 0.875, 1e-15);
    assert_close(f(DML_COLL_REDUCESCATTER, 4), 0.75, 1e-15);
    assert_close(f(DML_COLL_ALLTOALL, 2), 0.5, 1e-15);
    assert_close(f(DML_COLL_BROADCAST, 8), 1.0, 1e-15);
    /* One rank moves nothing over a link. */
    assert_true(f(DML_COLL_ALLREDUCE, 1) == 0);
    assert_true(f(DML_COLL_ALLGATHER, 1) == 0);
    assert_true(f(DML_COLL_ALLREDUCE, 0) == 0);
    assert_true(f(DML_COLL_OP_COUNT, 8) == 0);
}

static void op_names_round_trip(void **state)
{
    (void)state;
    const char *want[] = {"allreduce", "allgather", "reducescatter",
                          "alltoall", "broadcast"};
    for (int i = 0; i < DML_COLL_OP_COUNT; i++) {
        dml_coll_op op = DML_COLL_OP_COUNT;
        assert_string_equal(dml_coll_op_name((dml_coll_op)i), want[i]);
        assert_true(dml_coll_op_parse(want[i], &op));
        assert_int_equal(op, i);
    }
    dml_coll_op op;
    assert_false(dml_coll_op_parse("all_reduce", &op));
    assert_false(dml_coll_op_parse(NULL, &op));
    assert_string_equal(dml_coll_op_name(DML_COLL_OP_COUNT), "unknown");
}

static void counts_follow_nccl_tests_size_convention(void **state)
{
    (void)state;
    size_t count, per_rank;
    double bytes;
    /* allreduce: the size is the buffer. */
    assert_true(dml_coll_count(DML_COLL_ALLREDUCE, 1024, 3, 4, &count,
                               &per_rank, &bytes));
    assert_int_equal(count, 256);
    assert_int_equal(per_rank, 256);
    assert_true(bytes == 1024);
    /* allgather: the size is the whole gathered buffer, a whole number of
     * floats per rank: 1024 B on 3 ranks -> 85 floats each, 1020 B. */
    assert_true(dml_coll_count(DML_COLL_ALLGATHER, 1024, 3, 4, &count,
                               &per_rank, &bytes));
    assert_int_equal(per_rank, 85);
    assert_int_equal(count, 255);
    assert_true(bytes == 1020);
    /* reducescatter: size = send total, receive = size / n. */
    assert_true(dml_coll_count(DML_COLL_REDUCESCATTER, 1 << 20, 4, 4, &count,
                               &per_rank, &bytes));
    assert_int_equal(per_rank, (1 << 20) / 16);
    assert_true(bytes == 1 << 20);
    /* A size below one float per rank still sends one float per rank. */
    assert_true(dml_coll_count(DML_COLL_ALLTOALL, 4, 4, 4, &count, &per_rank,
                               &bytes));
    assert_int_equal(per_rank, 1);
    assert_int_equal(count, 4);
    assert_true(bytes == 16);
    assert_false(dml_coll_count(DML_COLL_ALLREDUCE, 0, 2, 4, &count,
                                &per_rank, &bytes));
    assert_false(dml_coll_count(DML_COLL_ALLREDUCE, 64, 0, 4, &count,
                                &per_rank, &bytes));
}

static void bandwidths_are_size_over_time_times_factor(void **state)
{
    (void)state;
    double alg, bus;
    dml_coll_bandwidth(DML_COLL_ALLREDUCE, 4, 1e6, 1e-3, &alg, &bus);
    assert_close(alg, 1e9, 1e-15);
    assert_close(bus, 1.5e9, 1e-15);
    dml_coll_bandwidth(DML_COLL_ALLGATHER, 8, 8e6, 2e-3, &alg, &bus);
    assert_close(alg, 4e9, 1e-15);
    assert_close(bus, 3.5e9, 1e-15);
    dml_coll_bandwidth(DML_COLL_BROADCAST, 8, 8e6, 0, &alg, &bus);
    assert_true(alg == 0 && bus == 0);
}

/* 1 KiB .. 64 MiB, the default collective sweep. */
static size_t sweep(double *x)
{
    dml_comm_sweep sw = {1024, 64 << 20, 1};
    return dml_comm_sweep_sizes(&sw, x, DML_COMM_MAX_POINTS);
}

static void fit_recovers_exact_alpha_beta(void **state)
{
    (void)state;
    double x[DML_COMM_MAX_POINTS], t[DML_COMM_MAX_POINTS];
    size_t n = sweep(x);
    assert_int_equal(n, 17);
    const double alpha = 20e-6, beta = 1.0 / 12.5e9;
    for (size_t i = 0; i < n; i++)
        t[i] = alpha + beta * x[i];
    dml_alphabeta ab;
    dml_error err;
    assert_int_equal(dml_alphabeta_fit(x, t, n, &ab, &err), DML_OK);
    assert_close(ab.alpha_s, alpha, 1e-9);
    assert_close(ab.beta_s_per_B, beta, 1e-9);
    assert_close(ab.bw_Bps, 12.5e9, 1e-9);
    assert_true(ab.max_rel_residual < 1e-9);
    assert_int_equal(ab.points, n);
    assert_true(ab.busbw_Bps == 0);
    dml_alphabeta_set_busbw(&ab,
                            dml_collective_busbw_factor(DML_COLL_ALLREDUCE, 8));
    assert_close(ab.busbw_Bps, 1.75 * 12.5e9, 1e-9);
    assert_close(dml_alphabeta_time(&ab, 1e6), alpha + beta * 1e6, 1e-9);

    /* A pure bandwidth law sits on the alpha = 0 boundary. */
    for (size_t i = 0; i < n; i++)
        t[i] = x[i] / 3e9;
    assert_int_equal(dml_alphabeta_fit(x, t, n, &ab, &err), DML_OK);
    assert_true(ab.alpha_s >= 0 && ab.alpha_s < 1e-15);
    assert_close(ab.bw_Bps, 3e9, 1e-9);

    /* p2p sweeps start at 1 byte; latency-dominated small sizes must give
     * alpha, large ones beta. */
    dml_comm_sweep p = {1, 4 << 20, 1};
    n = dml_comm_sweep_sizes(&p, x, DML_COMM_MAX_POINTS);
    assert_int_equal(n, 23);
    for (size_t i = 0; i < n; i++)
        t[i] = 1.5e-6 + x[i] / 8e9;
    assert_int_equal(dml_alphabeta_fit(x, t, n, &ab, &err), DML_OK);
    assert_close(ab.alpha_s, 1.5e-6, 1e-9);
    assert_close(ab.bw_Bps, 8e9, 1e-9);
}

static void fit_is_within_a_few_percent_under_noise(void **state)
{
    (void)state;
    double x[DML_COMM_MAX_POINTS], t[DML_COMM_MAX_POINTS];
    size_t n = sweep(x);
    const double alpha = 35e-6, beta = 1.0 / 5e9;
    dml_rng rng;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dml_rng_seed(&rng, seed);
        /* +-5% multiplicative noise, as a shared machine gives. */
        for (size_t i = 0; i < n; i++)
            t[i] = (alpha + beta * x[i]) *
                   (1 + 0.05 * (2 * dml_rng_uniform(&rng) - 1));
        dml_alphabeta ab;
        dml_error err;
        assert_int_equal(dml_alphabeta_fit(x, t, n, &ab, &err), DML_OK);
        assert_close(ab.alpha_s, alpha, 0.05);
        assert_close(ab.beta_s_per_B, beta, 0.05);
        /* The worst point is off by about the noise, not more. */
        assert_true(ab.max_rel_residual > 0.005);
        assert_true(ab.max_rel_residual < 0.11);
    }
}

static void fit_clamps_negative_alpha_to_zero(void **state)
{
    (void)state;
    /* A convex curve: a straight line through these points crosses zero
     * time at a positive size (negative intercept), which no link has. */
    const double x[] = {1e3, 1e4, 1e5, 1e6};
    const double t[] = {0.5e-7, 0.8e-6, 0.9e-5, 1e-4};
    dml_alphabeta ab;
    dml_error err;
    assert_int_equal(dml_alphabeta_fit(x, t, 4, &ab, &err), DML_OK);
    assert_true(ab.alpha_s == 0);
    /* On alpha = 0 the largest size alone fixes beta (the others are more
     * than 8x smaller): 1e-4 s for 1e6 B. */
    assert_close(ab.beta_s_per_B, 1e-4 / 1e6, 1e-12);
    assert_close(ab.bw_Bps, 1e10, 1e-12);
}

static void fit_takes_beta_from_the_largest_sizes(void **state)
{
    (void)state;
    /* A token-bucket link (scripts/emu-cluster: tc tbf at 100 Mbit/s, a
     * 12.5 kB burst) passes a ping-pong message up to the burst at once,
     * since the bucket refills while the peer answers: the quick p2p sweep
     * (1 B .. 2 MiB every 8x) sees 13 us up to 4 KiB, then the rate. The
     * line through the two ends keeps both; the relative-error fit over
     * every size that came before read 1.8 GB/s here (and twice the rate
     * on the measured link). */
    dml_comm_sweep p = {1, 2 << 20, 3};
    double x[DML_COMM_MAX_POINTS], t[DML_COMM_MAX_POINTS];
    size_t n = dml_comm_sweep_sizes(&p, x, DML_COMM_MAX_POINTS);
    assert_int_equal(n, 8);
    const double alpha = 13e-6, rate = 11.95e6, burst = 12500;
    for (size_t i = 0; i < n; i++)
        t[i] = alpha + fmax(0, x[i] - burst) / rate;
    dml_alphabeta ab;
    dml_error err;
    assert_int_equal(dml_alphabeta_fit(x, t, n, &ab, &err), DML_OK);
    /* 256 KiB and 2 MiB each save one burst: 1.1% above the rate. */
    assert_close(ab.bw_Bps, rate * 2359296 / (2359296 - 2 * burst), 1e-4);
    assert_close(ab.alpha_s, alpha, 0.05);
    /* The middle sizes are what the straight line misses. */
    assert_true(ab.max_rel_residual > 1);
}

static void fit_rejects_degenerate_input(void **state)
{
    (void)state;
    dml_alphabeta ab;
    dml_error err;
    const double x1[] = {1024};
    const double t1[] = {1e-5};
    assert_int_equal(dml_alphabeta_fit(x1, t1, 1, &ab, &err), DML_EINPUT);
    assert_int_equal(dml_alphabeta_fit(NULL, t1, 2, &ab, &err), DML_EINPUT);
    const double same[] = {1024, 1024, 1024};
    const double t3[] = {1e-5, 2e-5, 3e-5};
    assert_int_equal(dml_alphabeta_fit(same, t3, 3, &ab, &err), DML_EINPUT);
    assert_non_null(strstr(err.msg, "distinct"));
    const double x3[] = {1e3, 1e4, 1e5};
    const double zero_t[] = {1e-5, 0, 3e-5};
    assert_int_equal(dml_alphabeta_fit(x3, zero_t, 3, &ab, &err), DML_EINPUT);
    const double nan_t[] = {1e-5, NAN, 3e-5};
    assert_int_equal(dml_alphabeta_fit(x3, nan_t, 3, &ab, &err), DML_EINPUT);
    const double neg_x[] = {-1, 1e4, 1e5};
    assert_int_equal(dml_alphabeta_fit(neg_x, t3, 3, &ab, &err), DML_EINPUT);
    /* Times that fall as sizes grow leave no bandwidth term. */
    const double falling[] = {3e-5, 2e-5, 1e-5};
    assert_int_equal(dml_alphabeta_fit(x3, falling, 3, &ab, &err),
                     DML_EVALIDATE);
    assert_true(ab.bw_Bps == 0);
    /* Flat times: the best fit is a constant. */
    const double flat[] = {1e-5, 1e-5, 1e-5};
    assert_int_equal(dml_alphabeta_fit(x3, flat, 3, &ab, &err),
                     DML_EVALIDATE);
}

static void fake_nodes_split_ranks_in_blocks(void **state)
{
    (void)state;
    /* mpirun -np 4 with DML_PROBE_FAKE_NODES=2: ranks 0,1 | 2,3. */
    const int four_two[] = {0, 0, 1, 1};
    for (int r = 0; r < 4; r++)
        assert_int_equal(dml_comm_fake_node_of(r, 4, 2), four_two[r]);
    const int five_two[] = {0, 0, 0, 1, 1};
    for (int r = 0; r < 5; r++)
        assert_int_equal(dml_comm_fake_node_of(r, 5, 2), five_two[r]);
    const int six_three[] = {0, 0, 1, 1, 2, 2};
    for (int r = 0; r < 6; r++)
        assert_int_equal(dml_comm_fake_node_of(r, 6, 3), six_three[r]);
    /* Every size and node count: blocks in rank order, every node used,
     * sizes differing by at most one, rank/(size/nodes) when it divides. */
    for (int size = 1; size <= 64; size++) {
        for (int nodes = 1; nodes <= size; nodes++) {
            int per[64] = {0}, prev = 0;
            for (int r = 0; r < size; r++) {
                int node = dml_comm_fake_node_of(r, size, nodes);
                assert_in_range(node, prev, nodes - 1);
                prev = node;
                per[node]++;
                if (size % nodes == 0)
                    assert_int_equal(node, r / (size / nodes));
            }
            int lo = size, hi = 0;
            for (int k = 0; k < nodes; k++) {
                lo = per[k] < lo ? per[k] : lo;
                hi = per[k] > hi ? per[k] : hi;
            }
            assert_true(lo >= 1);
            assert_true(hi - lo <= 1);
        }
    }
    assert_int_equal(dml_comm_fake_node_of(4, 4, 2), -1);
    assert_int_equal(dml_comm_fake_node_of(-1, 4, 2), -1);
    assert_int_equal(dml_comm_fake_node_of(0, 4, 0), -1);
    assert_int_equal(dml_comm_fake_node_of(0, 4, 5), -1);
    assert_int_equal(dml_comm_fake_node_of(0, 0, 1), -1);
}

static void fake_node_counts_are_validated(void **state)
{
    (void)state;
    int nodes = 0;
    dml_error err;
    assert_int_equal(dml_comm_parse_fake_nodes("2", 4, &nodes, &err), DML_OK);
    assert_int_equal(nodes, 2);
    assert_int_equal(dml_comm_parse_fake_nodes("4", 4, &nodes, &err), DML_OK);
    const char *bad[] = {"0", "5", "-1", "x", "", "2.5", "2 nodes"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(dml_comm_parse_fake_nodes(bad[i], 4, &nodes, &err),
                         DML_EINPUT);
        assert_string_equal(err.field, DML_PROBE_FAKE_NODES_ENV);
    }
}

static void levels_exist_only_with_two_of_each(void **state)
{
    (void)state;
    dml_comm_levels lv = {.nodes = 1, .ranks_per_node_min = 2,
                          .ranks_per_node_max = 2};
    const char *why = NULL;
    assert_true(dml_comm_levels_has(&lv, DML_COMM_INTRA_NODE, &why));
    assert_null(why);
    assert_false(dml_comm_levels_has(&lv, DML_COMM_INTER_NODE, &why));
    assert_string_equal(why, "1 node: no inter_node level");
    char buf[128];
    assert_string_equal(dml_comm_levels_describe(&lv, buf, sizeof buf),
                        "1 node x 2 ranks per node");
    lv = (dml_comm_levels){.nodes = 3, .ranks_per_node_min = 1,
                           .ranks_per_node_max = 2, .fake_nodes = 3};
    assert_false(dml_comm_levels_has(&lv, DML_COMM_INTRA_NODE, &why));
    assert_non_null(strstr(why, "only 1 rank"));
    assert_true(dml_comm_levels_has(&lv, DML_COMM_INTER_NODE, NULL));
    assert_string_equal(dml_comm_levels_describe(&lv, buf, sizeof buf),
                        "3 nodes x 1-2 ranks per node (faked by "
                        "DML_PROBE_FAKE_NODES=3)");
    assert_string_equal(dml_comm_level_name(DML_COMM_INTRA_NODE),
                        "intra_node");
    assert_string_equal(dml_comm_level_name(DML_COMM_INTER_NODE),
                        "inter_node");
}

static void sweeps_are_powers_of_two(void **state)
{
    (void)state;
    double x[DML_COMM_MAX_POINTS];
    dml_p2p_options pq = dml_p2p_options_quick();
    size_t n = dml_comm_sweep_sizes(&pq.sweep, x, DML_COMM_MAX_POINTS);
    const double quick_p2p[] = {1, 8, 64, 512, 4096, 32768, 262144, 2097152};
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i] == quick_p2p[i]);
    dml_p2p_options pd = dml_p2p_options_default();
    n = dml_comm_sweep_sizes(&pd.sweep, x, DML_COMM_MAX_POINTS);
    assert_int_equal(n, 23); /* 1 B .. 4 MiB, every power of two */
    assert_true(x[22] == 4194304);
    dml_coll_options cq = dml_coll_options_quick();
    n = dml_comm_sweep_sizes(&cq.sweep, x, DML_COMM_MAX_POINTS);
    /* 1K 4K 16K 64K 256K 1M 4M 16M: the fit's busbw comes from 4 and 16
     * MiB, buffers larger than a last-level cache (issue 12). */
    assert_int_equal(n, 8);
    assert_true(x[7] == 16777216);
    dml_coll_options cd = dml_coll_options_default();
    assert_int_equal(dml_comm_sweep_sizes(&cd.sweep, x, DML_COMM_MAX_POINTS),
                     17);
    /* A slow link stops the MPI sweep early: at 100 Mbit/s a 64 MiB
     * allreduce takes 5.6 s, times 11 repetitions and warm-up. A 4 MiB
     * allreduce (0.35 s there) still fits the quick probe. */
    assert_true(cq.max_op_s >= 0.35 && cq.max_op_s <= 1);
    assert_true(cd.max_op_s >= cq.max_op_s && cd.max_op_s <= 2);
    /* ... but not before 1 MiB, where the plans' gradients lie (issue 15:
     * at 10 Mbit/s the quick sweep stopped at 256 KiB) */
    assert_true(cq.min_stop_bytes >= 1 << 20 && cd.min_stop_bytes >= 1 << 20);
    dml_coll_options nq = dml_nccl_options_quick();
    assert_int_equal(dml_comm_sweep_sizes(&nq.sweep, x, DML_COMM_MAX_POINTS),
                     9); /* 1K .. 64M every 4x */
    dml_coll_options nd = dml_nccl_options_default();
    assert_int_equal(dml_comm_sweep_sizes(&nd.sweep, x, DML_COMM_MAX_POINTS),
                     19);
    /* Issue 12: --quick samples the sizes its headlines come from (latency
     * at <= 8 B, the largest message) about as long as the full probe
     * does, after settling the peers: 50 ms samples read 0.64-0.76 of
     * HPCC's 2 MB ping-pong and never its fast latency. */
    assert_true(pq.headline_time_s >= pd.time_per_size_s &&
                pq.settle_s > 0 && pd.settle_s > 0);
    assert_true(pq.budget.max_reps * pq.rep_time_s >= pq.headline_time_s);
    /* A maximum off the sweep ends at the last power below it. */
    dml_comm_sweep odd = {1, 10, 1};
    assert_int_equal(dml_comm_sweep_sizes(&odd, x, DML_COMM_MAX_POINTS), 4);
    assert_true(x[3] == 8);
    dml_comm_sweep bad[] = {{0, 8, 1}, {8, 4, 1}, {1, 8, 0}, {1, 1e30, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(dml_comm_sweep_sizes(&bad[i], x, DML_COMM_MAX_POINTS),
                         0);
}

static dml_coll_result sample_coll(void)
{
    dml_coll_result r = {.op = DML_COLL_ALLREDUCE, .ranks = 2, .npoints = 3};
    snprintf(r.kind, sizeof r.kind, "collective");
    snprintf(r.level, sizeof r.level, "intra_node");
    const double bytes[] = {1024, 4194304, 67108864};
    const double time[] = {5.12e-6, 2.5e-3, 12.5e-3};
    for (int i = 0; i < 3; i++) {
        dml_coll_point *p = &r.points[i];
        p->bytes = bytes[i];
        p->count = (size_t)bytes[i] / 4;
        p->time_s = time[i];
        p->time_median_s = 1.1 * time[i];
        p->time_mean_s = 1.25 * time[i];
        p->reps = 7;
        p->wrong = 0;
        dml_coll_bandwidth(r.op, r.ranks, p->bytes, p->time_s, &p->algbw_Bps,
                           &p->busbw_Bps);
        dml_coll_bandwidth(r.op, r.ranks, p->bytes, p->time_mean_s,
                           &p->algbw_mean_Bps, &p->busbw_mean_Bps);
    }
    return r;
}

/* nccl-tests src/common.cu: "%12li  %12li  %8s  %6s  %6i" for size,
 * count, type, redop and root, then "  %7s  %6.2f  %6.2f  %5s" for time,
 * algbw, busbw and #wrong per group (its out-of-place and in-place, our
 * average and best), and the two footer lines. Average busbw over sizes:
 * (0.164 + 1.342 + 4.295) / 3 GB/s. */
static const char *coll_table =
    "# collective allreduce, intra_node, 2 ranks: nccl-tests conventions, "
    "average and best of repetitions\n"
    "#                                                          "
    "average of repetitions          best repetition\n"
    "#       size         count      type   redop    root     time   algbw"
    "   busbw #wrong     time   algbw   busbw #wrong\n"
    "#        (B)    (elements)                               (us)  (GB/s)"
    "  (GB/s)            (us)  (GB/s)  (GB/s)       \n"
    "        1024           256     float     sum      -1     6.40    0.16"
    "    0.16      0     5.12    0.20    0.20      0\n"
    "     4194304       1048576     float     sum      -1   3125.0    1.34"
    "    1.34      0   2500.0    1.68    1.68      0\n"
    "    67108864      16777216     float     sum      -1    15625    4.29"
    "    4.29      0    12500    5.37    5.37      0\n"
    "# Out of bounds values : 0 OK\n"
    "# Avg bus bandwidth    : 1.93238 \n";

static void coll_table_has_nccl_tests_columns(void **state)
{
    (void)state;
    dml_coll_result r = sample_coll();
    char buf[2048];
    size_t len = dml_coll_format_table(&r, buf, sizeof buf);
    assert_string_equal(buf, coll_table);
    assert_int_equal(len, strlen(coll_table));
    /* snprintf semantics: a short buffer gets a terminated prefix and the
     * return value still tells the whole length. */
    char small[20];
    assert_int_equal(dml_coll_format_table(&r, small, sizeof small),
                     strlen(coll_table));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, coll_table, sizeof small - 1);
    assert_int_equal(dml_coll_format_table(&r, NULL, 0), strlen(coll_table));

    FILE *f = tmpfile();
    assert_non_null(f);
    dml_error err;
    assert_int_equal(dml_coll_write_table(f, &r, &err), DML_OK);
    rewind(f);
    char back[2048] = "";
    size_t got = fread(back, 1, sizeof back - 1, f);
    fclose(f);
    assert_int_equal(got, strlen(coll_table));
    assert_string_equal(back, coll_table);
}

static dml_p2p_result sample_p2p(void)
{
    dml_p2p_result r = {.ranks = 2, .peer_a = 0, .peer_b = 1, .npoints = 3};
    snprintf(r.level, sizeof r.level, "intra_node");
    const double bytes[] = {1, 8, 4194304};
    const double lat[] = {0.231e-6, 0.2449e-6, 1.2e-3};
    for (int i = 0; i < 3; i++) {
        dml_p2p_point *p = &r.points[i];
        p->bytes = bytes[i];
        p->latency_s = lat[i];
        p->latency_median_s = 1.2 * lat[i];
        p->latency_mean_s = 1.5 * lat[i];
        p->latency_iters = 100;
        p->latency_reps = 5;
        p->bw_time_s = lat[i] / 2;
        p->bw_time_median_s = lat[i];
        p->bw_time_mean_s = 1.25 * lat[i];
        p->bandwidth_Bps = bytes[i] / p->bw_time_s;
        p->bandwidth_median_Bps = bytes[i] / p->bw_time_median_s;
        p->bandwidth_mean_Bps = bytes[i] / p->bw_time_mean_s;
        p->window = 64;
        p->bw_iters = 10;
        p->bw_reps = 5;
    }
    return r;
}

static void p2p_tables_have_osu_columns(void **state)
{
    (void)state;
    dml_p2p_result r = sample_p2p();
    char buf[1024];
    dml_p2p_format_table(&r, DML_P2P_TABLE_LATENCY, buf, sizeof buf);
    /* osu_latency prints "%-10s%20s" headers and "%-10d%20.2f" rows, its
     * figure being the average over all iterations; the best repetition
     * follows. */
    assert_string_equal(
        buf,
        "# MPI latency (osu_latency method), intra_node: ranks 0 and 1 of 2, "
        "average and best of repetitions\n"
        "# Size         Avg Latency(us)        Best Latency(us)\n"
        "1                         0.35                    0.23\n"
        "8                         0.37                    0.24\n"
        "4194304                1800.00                 1200.00\n");
    dml_p2p_format_table(&r, DML_P2P_TABLE_BANDWIDTH, buf, sizeof buf);
    /* MB/s is 1e6 B/s in osu_bw: 4194304 B / 0.6 ms = 6990.51 MB/s best,
     * / 1.5 ms = 2796.20 MB/s on average. */
    assert_string_equal(
        buf,
        "# MPI bandwidth (osu_bw method), intra_node: ranks 0 and 1 of 2, "
        "average and best of repetitions\n"
        "# Size        Bandwidth (MB/s)   Best Bandwidth (MB/s)\n"
        "1                         3.46                    8.66\n"
        "8                        26.13                   65.33\n"
        "4194304                2796.20                 6990.51\n");
}

static void rows_carry_units_and_levels(void **state)
{
    (void)state;
    dml_p2p_result p = sample_p2p();
    dml_measurement rows[8];
    memset(rows, 0x5a, sizeof rows);
    assert_int_equal(dml_p2p_to_measurements(&p, rows, 8), 6);
    assert_string_equal(rows[0].kind, "p2p");
    assert_string_equal(rows[0].op, "latency");
    assert_string_equal(rows[0].level, "intra_node");
    assert_string_equal(rows[0].unit, "s");
    assert_int_equal(rows[0].ranks, 2);
    assert_true(rows[0].value == 0.231e-6 && rows[0].time_s == 0.231e-6);
    assert_close(rows[0].time_median_s, 1.2 * 0.231e-6, 1e-15);
    assert_string_equal(rows[5].op, "bandwidth");
    assert_string_equal(rows[5].unit, "B/s");
    assert_true(rows[5].bytes == 4194304);
    assert_close(rows[5].value, 4194304 / 0.6e-3, 1e-12);
    assert_non_null(strstr(rows[5].detail, "window 64"));
    /* A short array gets the first rows; the count still says all. */
    dml_measurement two[3];
    memset(two, 0x5a, sizeof two);
    assert_int_equal(dml_p2p_to_measurements(&p, two, 2), 6);
    assert_int_equal(((unsigned char *)&two[2])[0], 0x5a);

    dml_coll_result c = sample_coll();
    snprintf(c.kind, sizeof c.kind, "nccl");
    assert_int_equal(dml_coll_to_measurements(&c, rows, 8), 3);
    assert_string_equal(rows[1].kind, "nccl");
    assert_string_equal(rows[1].op, "allreduce");
    assert_string_equal(rows[1].unit, "B/s");
    assert_int_equal(rows[1].ranks, 2);
    assert_true(rows[1].value == rows[1].busbw_Bps);
    assert_close(rows[1].algbw_Bps, 4194304 / 2.5e-3, 1e-12);
    assert_close(rows[1].time_median_s, 1.1 * 2.5e-3, 1e-12);
    assert_non_null(strstr(rows[1].detail, "count=1048576"));
}

static void coll_fit_sets_busbw_from_factor(void **state)
{
    (void)state;
    dml_coll_result r = {.op = DML_COLL_ALLGATHER, .ranks = 4, .npoints = 6};
    snprintf(r.kind, sizeof r.kind, "collective");
    for (int i = 0; i < 6; i++) {
        r.points[i].bytes = 1024.0 * (1 << (3 * i));
        r.points[i].time_s = 10e-6 + r.points[i].bytes / 2e9;
    }
    dml_coll_result_fit(&r);
    assert_int_equal(r.fit_status, DML_OK);
    assert_close(r.fit.alpha_s, 10e-6, 1e-9);
    assert_close(r.fit.bw_Bps, 2e9, 1e-9);
    assert_close(r.fit.busbw_Bps, 2e9 * 0.75, 1e-9);
    r.npoints = 1;
    dml_coll_result_fit(&r);
    assert_int_equal(r.fit_status, DML_EINPUT);
}

/* Issue 11: the collective floor is the least time of any call measured
 * (the smallest sizes), over every result given. */
static void collective_floor_is_the_fastest_call(void **state)
{
    (void)state;
    dml_coll_result r[2];
    memset(r, 0, sizeof r);
    double t0[] = {12e-6, 13e-6, 40e-6}, t1[] = {11e-6, 30e-6};
    r[0].npoints = 3;
    for (int i = 0; i < 3; i++)
        r[0].points[i].time_s = t0[i];
    r[1].npoints = 2;
    for (int i = 0; i < 2; i++)
        r[1].points[i].time_s = t1[i];
    assert_true(dml_coll_floor(r, 2) == 11e-6);
    assert_true(dml_coll_floor(r, 1) == 12e-6);
    assert_true(dml_coll_floor(r, 0) == 0);
}

/* A wrong element shows in #wrong (both groups) and makes the footer say
 * FAILED with the count, as nccl-tests' does; a size not checked (the
 * NCCL probe without a device copy, say) reads N/A and counts nothing. */
static void coll_table_footer_counts_wrong_and_averages_busbw(void **state)
{
    (void)state;
    dml_coll_result r = sample_coll();
    r.points[1].wrong = 3;
    r.points[2].wrong = -1;
    char buf[2048];
    dml_coll_format_table(&r, buf, sizeof buf);
    assert_non_null(strstr(buf, "    1.34      3   2500.0    1.68    1.68"
                                "      3\n"));
    assert_non_null(strstr(buf, "    4.29    N/A    12500    5.37    5.37"
                                "    N/A\n"));
    assert_non_null(strstr(buf, "# Out of bounds values : 3 FAILED\n"));
    assert_int_equal(dml_coll_wrong_total(&r), 3);
    /* nccl-tests averages the busbw of its timed (average) runs over the
     * sizes, not the best ones. */
    double want = 0;
    for (int i = 0; i < 3; i++)
        want += r.points[i].busbw_mean_Bps / 3;
    assert_close(dml_coll_avg_busbw(&r), want, 1e-15);
    assert_true(dml_coll_avg_busbw(&r) < r.points[2].busbw_Bps);
    r.npoints = 0;
    assert_true(dml_coll_avg_busbw(&r) == 0);
}

/* What each collective must leave, computed here from the send buffers
 * of every rank by the operation's definition (MPI 4.0, chapter 6), not
 * from coll_check's closed forms. */
#define CHECK_RANKS 3
#define CHECK_PER 5
static void reference_result(dml_coll_op op, int rank,
                             float send[CHECK_RANKS][CHECK_RANKS * CHECK_PER],
                             float *out)
{
    int n = CHECK_RANKS, per = CHECK_PER;
    switch (op) {
    case DML_COLL_ALLREDUCE:
        for (int i = 0; i < per; i++) {
            out[i] = 0;
            for (int q = 0; q < n; q++)
                out[i] += send[q][i];
        }
        break;
    case DML_COLL_ALLGATHER:
        for (int q = 0; q < n; q++)
            for (int j = 0; j < per; j++)
                out[q * per + j] = send[q][j];
        break;
    case DML_COLL_REDUCESCATTER:
        for (int j = 0; j < per; j++) {
            out[j] = 0;
            for (int q = 0; q < n; q++)
                out[j] += send[q][rank * per + j];
        }
        break;
    case DML_COLL_ALLTOALL:
        for (int q = 0; q < n; q++)
            for (int j = 0; j < per; j++)
                out[q * per + j] = send[q][rank * per + j];
        break;
    case DML_COLL_BROADCAST:
        for (int i = 0; i < per; i++)
            out[i] = send[0][i];
        break;
    default:
        break;
    }
}

static void coll_check_counts_wrong_elements_of_each_op(void **state)
{
    (void)state;
    enum { N = CHECK_RANKS, PER = CHECK_PER, ALL = N * PER };
    for (int o = 0; o < DML_COLL_OP_COUNT; o++) {
        dml_coll_op op = (dml_coll_op)o;
        size_t ns = 0, nr = 0;
        dml_coll_check_lengths(op, N, PER, &ns, &nr);
        assert_true(ns <= ALL && nr <= ALL);
        float send[N][ALL], recv[N][ALL];
        for (int r = 0; r < N; r++) {
            memset(recv[r], 0x7f, sizeof recv[r]);
            dml_coll_check_fill(op, r, N, PER, send[r],
                                op == DML_COLL_BROADCAST ? NULL : recv[r]);
            /* The pattern is the rank's and whole numbers; the receive
             * buffer starts at a value no pattern takes. */
            for (size_t i = 0; i < ns; i++)
                assert_true(send[r][i] == dml_coll_check_value(r, i) &&
                            send[r][i] >= 1 &&
                            send[r][i] <= DML_COLL_CHECK_PERIOD &&
                            send[r][i] == floorf(send[r][i]));
            for (size_t i = 0; i < nr; i++)
                assert_true(recv[r][i] == DML_COLL_CHECK_SENTINEL);
        }
        /* Ranks differ: a buffer left with another rank's data is wrong. */
        assert_true(send[1][0] != send[0][0] && send[2][0] != send[1][0]);
        float send_copy[N][ALL];
        memcpy(send_copy, send, sizeof send);
        for (int r = 0; r < N; r++) {
            float *result = op == DML_COLL_BROADCAST ? send[r] : recv[r];
            size_t len = op == DML_COLL_BROADCAST ? ns : nr;
            /* Before the collective ran: every element is wrong, except on
             * the broadcast's root, which holds the answer already. */
            dml_coll_wrong first = {0};
            size_t before = dml_coll_check_count(op, r, N, PER, send[r],
                                                 recv[r], &first);
            assert_int_equal(before,
                             op == DML_COLL_BROADCAST && r == 0 ? 0 : len);
            reference_result(op, r, send_copy, result);
            assert_int_equal(dml_coll_check_count(op, r, N, PER, send[r],
                                                  recv[r], &first),
                             0);
            for (size_t i = 0; i < len; i++)
                assert_true(dml_coll_check_expected(op, r, N, PER, i) ==
                            result[i]);
            /* One element off by one is found, with where and what. */
            size_t at = len - 1;
            float good = result[at];
            result[at] = good + 1;
            assert_int_equal(dml_coll_check_count(op, r, N, PER, send[r],
                                                  recv[r], &first),
                             1);
            assert_int_equal(first.index, at);
            assert_true(first.got == good + 1 && first.expected == good);
            /* A NaN is never right. */
            result[0] = NAN;
            assert_int_equal(dml_coll_check_count(op, r, N, PER, send[r],
                                                  recv[r], NULL),
                             at == 0 ? 1 : 2);
        }
    }
}

/* Reductions stay exact in float over many ranks, so a correct sum
 * matches to the bit whatever order the library adds in. */
static void coll_check_sums_are_exact_over_many_ranks(void **state)
{
    (void)state;
    enum { N = 1024, PER = 600 };
    static float sum[PER];
    for (int q = N - 1; q >= 0; q--) /* backwards: another order */
        for (size_t i = 0; i < PER; i++)
            sum[i] += dml_coll_check_value(q, i);
    assert_int_equal(dml_coll_check_count(DML_COLL_ALLREDUCE, 7, N, PER, sum,
                                          sum, NULL),
                     0);
    sum[PER - 1] += 1;
    assert_int_equal(dml_coll_check_count(DML_COLL_ALLREDUCE, 7, N, PER, sum,
                                          sum, NULL),
                     1);
}

/* Run fn with stderr in a file and return what it wrote (a warning). */
static void capture_stderr(void (*fn)(void *), void *arg, char *buf,
                           size_t size)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
    fn(arg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void fit_coll(void *r) { dml_coll_result_fit(r); }
static void summarise_p2p(void *r) { dml_p2p_summarise(r); }

/* Issue 12: the fit's RMS relative residual is kept (JSON, table) and a
 * warning line names a fit that misses by more than 20 %. */
static void fit_residual_is_kept_and_a_large_one_warned(void **state)
{
    (void)state;
    dml_coll_result r = {.op = DML_COLL_ALLREDUCE, .ranks = 2, .npoints = 6};
    snprintf(r.kind, sizeof r.kind, "collective");
    snprintf(r.level, sizeof r.level, "intra_node");
    for (int i = 0; i < 6; i++) {
        r.points[i].bytes = 1024.0 * (1 << (2 * i));
        r.points[i].time_s = 5e-6 + r.points[i].bytes / 1e9;
    }
    char out[2048];
    capture_stderr(fit_coll, &r, out, sizeof out);
    assert_int_equal(r.fit_status, DML_OK);
    assert_true(r.fit.rms_rel_residual < 1e-9);
    assert_false(dml_alphabeta_residual_large(&r.fit));
    assert_string_equal(out, "");
    /* The middle sizes three times slower than the line through the
     * ends (a protocol switch): RMS residual sqrt(2/6 * (2/3)^2) = 38 %. */
    r.points[2].time_s *= 3;
    r.points[3].time_s *= 3;
    capture_stderr(fit_coll, &r, out, sizeof out);
    assert_int_equal(r.fit_status, DML_OK);
    assert_true(r.fit.rms_rel_residual > 0.2 &&
                r.fit.rms_rel_residual <= r.fit.max_rel_residual);
    assert_true(dml_alphabeta_residual_large(&r.fit));
    assert_non_null(strstr(out, "warning: collective allreduce intra_node: "
                                "the alpha-beta fit misses the measured "
                                "times by "));
    assert_non_null(strstr(out, "% RMS (over 20%)"));
    assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out));

    dml_p2p_result p = sample_p2p();
    p.points[1].latency_s = 50e-6; /* 8 B two hundred times slower */
    capture_stderr(summarise_p2p, &p, out, sizeof out);
    assert_int_equal(p.fit_status, DML_OK);
    assert_true(dml_alphabeta_residual_large(&p.fit));
    assert_non_null(strstr(out, "warning: p2p intra_node: the alpha-beta fit "
                                "misses the measured latencies by "));
}

/* Issue 12: the headline (and the cluster spec's link) bandwidth is the
 * largest message's, not a middle size that fits in a cache. */
static void p2p_headline_bandwidth_is_the_largest_size(void **state)
{
    (void)state;
    dml_p2p_result r = {.ranks = 2, .peer_a = 0, .peer_b = 1, .npoints = 4};
    snprintf(r.level, sizeof r.level, "intra_node");
    const double bytes[] = {1, 8, 262144, 2097152};
    const double bw[] = {5e6, 40e6, 21e9, 9e9}; /* 256 KiB in the L2 */
    const double lat[] = {0.3e-6, 0.25e-6, 16e-6, 150e-6};
    for (int i = 0; i < 4; i++) {
        r.points[i].bytes = bytes[i];
        r.points[i].latency_s = lat[i];
        r.points[i].bandwidth_Bps = bw[i];
    }
    dml_p2p_summarise(&r);
    assert_true(r.bandwidth_Bps == 9e9);
    assert_true(r.latency_s == 0.25e-6);
}

/* An empty measured job of ranks over nodes, to fill by hand. */
static void measured_job(dml_probe_job *job, int ranks, int nodes)
{
    memset(job, 0, sizeof *job);
    job->measured = true;
    job->ranks = ranks;
    job->nodes = nodes;
}

/* A one-node job measured by hand: the cluster spec's intra-node link is
 * the p2p headline (largest message), its collectives the fits, whose
 * busbw comes from the large end of the sweep. */
static void cluster_spec_links_come_from_large_messages(void **state)
{
    (void)state;
    static dml_probe_job job;
    measured_job(&job, 2, 1);
    dml_probe_host host = {.ranks = 2, .packages = 1, .cores = 2, .pus = 2,
                           .mem_total_bytes = 24e9,
                           .mem_available_bytes = 20e9, .llc_bytes = 32e6,
                           .triad_1t_Bps = 15e9, .triad_all_Bps = 20e9,
                           .dgemm_1t_flops = 18e9, .dgemm_all_flops = 36e9,
                           .sgemm_1t_flops = 36e9, .sgemm_all_flops = 72e9};
    snprintf(host.hostname, sizeof host.hostname, "vm");
    snprintf(host.cpu_model, sizeof host.cpu_model, "AMD EPYC");
    job.hosts = &host;
    job.host_count = 1;
    job.p2p_count = 1;
    dml_p2p_result *p = &job.p2p[0];
    snprintf(p->level, sizeof p->level, "intra_node");
    p->ranks = 2;
    p->npoints = 4;
    const double bytes[] = {1, 8, 262144, 2097152};
    const double bw[] = {5e6, 40e6, 21e9, 9e9};
    const double lat[] = {0.3e-6, 0.25e-6, 16e-6, 150e-6};
    for (int i = 0; i < 4; i++) {
        p->points[i].bytes = bytes[i];
        p->points[i].latency_s = lat[i];
        p->points[i].bandwidth_Bps = bw[i];
    }
    dml_p2p_summarise(p);
    job.coll_count = 1;
    dml_coll_result *c = &job.coll[0];
    dml_coll_result_init(c, "collective", "intra_node", DML_COLL_ALLREDUCE);
    c->ranks = 2;
    c->npoints = 8;
    for (int i = 0; i < 8; i++) {
        c->points[i].bytes = 1024.0 * (1 << (2 * i));
        /* 4 MiB and 16 MiB at 1 GB/s; the middle sizes faster, as cached
         * sizes are. */
        double bw_i = c->points[i].bytes >= 4 << 20 ? 1e9 : 3e9;
        c->points[i].time_s = 2e-6 + c->points[i].bytes / bw_i;
    }
    char warning[1024]; /* the middle sizes miss the line: a warning */
    capture_stderr(fit_coll, c, warning, sizeof warning);
    dml_cluster_spec spec;
    dml_error err;
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    const dml_node_group *g = &spec.groups[0];
    assert_true(g->links[DML_LINK_INTRA].present);
    assert_true(g->links[DML_LINK_INTRA].bw_Bps == 9e9);
    assert_true(g->links[DML_LINK_INTRA].latency_s == 0.25e-6);
    assert_true(g->coll[DML_COLL_ALLREDUCE][DML_LINK_INTRA].present);
    /* busbw of a 2-rank allreduce = algbw: the large sizes' 1 GB/s. */
    assert_close(g->coll[DML_COLL_ALLREDUCE][DML_LINK_INTRA].busbw_Bps, 1e9,
                 0.02);
}

/* Nodes that measure differently (issue 16): the emulated cluster's CPU
 * quotas 0.6, 0.6, 0.3, 0.15 of a core, with 10 % of noise between the
 * two fast nodes, then a fast node again: a group per run of nodes of one
 * speed, in node order, each at its nodes' mean; within the tolerance,
 * one group. */
static void cluster_spec_groups_nodes_by_speed(void **state)
{
    (void)state;
    static dml_probe_job job;
    measured_job(&job, 5, 5);
    const double quota[5] = {0.6, 0.66, 0.3, 0.15, 0.6};
    dml_probe_host hosts[5];
    for (int i = 0; i < 5; i++) {
        hosts[i] = (dml_probe_host){
            .ranks = 1, .packages = 1, .cores = 1, .pus = 1,
            .mem_total_bytes = 24e9, .mem_available_bytes = 20e9,
            .triad_1t_Bps = 15e9, .triad_all_Bps = 15e9 * quota[i],
            .dgemm_1t_flops = 40e9 * quota[i],
            .sgemm_1t_flops = 80e9 * quota[i]};
        snprintf(hosts[i].hostname, sizeof hosts[i].hostname, "node%d", i);
        snprintf(hosts[i].cpu_model, sizeof hosts[i].cpu_model, "AMD EPYC");
    }
    job.hosts = hosts;
    job.host_count = 5;
    job.p2p_count = 1; /* several nodes need a link between them */
    snprintf(job.p2p[0].level, sizeof job.p2p[0].level, "inter_node");
    job.p2p[0].latency_s = 50e-6;
    job.p2p[0].bandwidth_Bps = 12.5e6;
    dml_cluster_spec spec;
    dml_error err;
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    assert_int_equal(spec.group_count, 4);
    const int64_t nodes[4] = {2, 1, 1, 1};
    const double fp32[4] = {80e9 * 0.63, 80e9 * 0.3, 80e9 * 0.15,
                            80e9 * 0.6};
    for (int k = 0; k < 4; k++) {
        const dml_device_spec *d = &spec.groups[k].device;
        assert_int_equal(spec.groups[k].nodes, nodes[k]);
        assert_close(d->peak_flops[DML_DTYPE_FP32], fp32[k], 1e-12);
        assert_close(d->peak_flops[DML_DTYPE_FP64], fp32[k] / 2, 1e-12);
        assert_close(d->mem_bw_Bps, 15e9 * fp32[k] / 80e9, 1e-12);
    }
    /* The nodes alike within 25 %: one group at their mean. */
    for (int i = 0; i < 5; i++) {
        double q = i % 2 ? 0.55 : 0.65;
        hosts[i].triad_all_Bps = 15e9 * q;
        hosts[i].dgemm_1t_flops = 40e9 * q;
        hosts[i].sgemm_1t_flops = 80e9 * q;
    }
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    assert_int_equal(spec.group_count, 1);
    assert_int_equal(spec.groups[0].nodes, 5);
    assert_close(spec.groups[0].device.peak_flops[DML_DTYPE_FP32],
                 80e9 * (3 * 0.65 + 2 * 0.55) / 5, 1e-12);
}

/* The links between nodes (levels 1) or also inside them (2). */
static void both_links(dml_probe_job *job, int levels)
{
    job->p2p_count = (size_t)levels;
    for (int l = 0; l < levels; l++) {
        snprintf(job->p2p[l].level, sizeof job->p2p[l].level, "%s",
                 l ? "intra_node" : "inter_node");
        job->p2p[l].latency_s = l ? 0.3e-6 : 50e-6;
        job->p2p[l].bandwidth_Bps = l ? 9e9 : 12.5e6;
    }
}

/* What the node probes cannot see (gemm_busy.h). Nodes under CPU quotas
 * 0.6, 0.6, 0.3, 0.15 of a core whose node probes ran in bursts shorter
 * than a quota period, so every node measured a whole core; only the busy
 * probe, every rank computing for half a second, saw the quotas: the
 * groups and their devices follow it. Then two nodes of two ranks sharing
 * two cores whose all-core sweeps ran at different moments (each read
 * the whole machine): the busy probe's half of a core bounds the device,
 * its GEMMs and its memory bandwidth alike. */
static void cluster_spec_devices_held_to_busy_fraction(void **state)
{
    (void)state;
    static dml_probe_job job;
    measured_job(&job, 4, 4);
    const double quota[4] = {0.6, 0.6, 0.3, 0.15};
    dml_probe_host hosts[4];
    for (int i = 0; i < 4; i++) {
        hosts[i] = (dml_probe_host){
            .ranks = 1, .packages = 1, .cores = 1, .pus = 1,
            .mem_total_bytes = 24e9, .mem_available_bytes = 20e9,
            .triad_1t_Bps = 15e9, .triad_all_Bps = 24e9,
            .dgemm_1t_flops = 40e9, .dgemm_all_flops = 80e9,
            .sgemm_1t_flops = 80e9, .sgemm_all_flops = 160e9,
            .solo_flops = {70e9, 35e9},
            .busy_flops = {70e9 * quota[i], 35e9 * quota[i]}};
        snprintf(hosts[i].hostname, sizeof hosts[i].hostname, "node%d", i);
        snprintf(hosts[i].cpu_model, sizeof hosts[i].cpu_model, "AMD EPYC");
    }
    job.hosts = hosts;
    job.host_count = 4;
    both_links(&job, 1);
    dml_cluster_spec spec;
    dml_error err;
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    assert_int_equal(spec.group_count, 3);
    const int64_t nodes[3] = {2, 1, 1};
    const double q[3] = {0.6, 0.3, 0.15};
    for (int k = 0; k < 3; k++) {
        const dml_device_spec *d = &spec.groups[k].device;
        assert_int_equal(spec.groups[k].nodes, nodes[k]);
        assert_close(d->peak_flops[DML_DTYPE_FP32], 80e9 * q[k], 1e-12);
        assert_close(d->peak_flops[DML_DTYPE_FP64], 40e9 * q[k], 1e-12);
        assert_close(d->mem_bw_Bps, 15e9 * q[k], 1e-12);
    }
    /* Shared cores: 2 x 2 ranks on 2 cores, each rank half a core. */
    measured_job(&job, 4, 2);
    for (int i = 0; i < 2; i++) {
        hosts[i].ranks = 2;
        hosts[i].cores = hosts[i].pus = 2;
        hosts[i].busy_flops[DML_GEMM_F32] = 0.5 * 70e9;
        hosts[i].busy_flops[DML_GEMM_F64] = 0.5 * 35e9;
    }
    job.hosts = hosts;
    job.host_count = 2;
    both_links(&job, 2); /* a device per rank */
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    assert_int_equal(spec.group_count, 1);
    const dml_device_spec *d = &spec.groups[0].device;
    assert_close(d->peak_flops[DML_DTYPE_FP32], 40e9, 1e-12);
    assert_close(d->peak_flops[DML_DTYPE_FP64], 20e9, 1e-12);
    assert_close(d->mem_bw_Bps, 7.5e9, 1e-12);
    /* One rank a node of two cores, held to 0.3 of a core: the rank is
     * the node's one device and ran the busy GEMM on both cores (its
     * solo figure the all-core sweep's), reaching 0.3 of one core's rate;
     * the device is 0.3 of a core, not two cores' worth. */
    measured_job(&job, 2, 2);
    for (int i = 0; i < 2; i++) {
        hosts[i].ranks = 1;
        hosts[i].busy_threads = 2;
        hosts[i].solo_flops[DML_GEMM_F32] = 140e9;
        hosts[i].solo_flops[DML_GEMM_F64] = 70e9;
        hosts[i].busy_flops[DML_GEMM_F32] = 0.3 * 70e9;
        hosts[i].busy_flops[DML_GEMM_F64] = 0.3 * 35e9;
    }
    job.hosts = hosts;
    job.host_count = 2;
    both_links(&job, 1); /* between the nodes only: a device a node */
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    assert_int_equal(spec.group_count, 1);
    d = &spec.groups[0].device;
    assert_int_equal(spec.groups[0].devices_per_node, 1);
    assert_close(d->peak_flops[DML_DTYPE_FP32], 0.3 * 80e9, 1e-12);
    assert_close(d->peak_flops[DML_DTYPE_FP64], 0.3 * 40e9, 1e-12);
    /* Not measured (an older probe, a foreign topology): as before, the
     * all-core sweep's share of a core. */
    measured_job(&job, 4, 2);
    job.hosts = hosts;
    job.host_count = 2;
    both_links(&job, 2);
    for (int i = 0; i < 2; i++)
        memset(hosts[i].busy_flops, 0, sizeof hosts[i].busy_flops);
    assert_int_equal(dml_probe_job_cluster_spec(&job, &spec, &err), DML_OK);
    assert_close(spec.groups[0].device.peak_flops[DML_DTYPE_FP32], 80e9,
                 1e-12);
    assert_close(spec.groups[0].device.mem_bw_Bps, 12e9, 1e-12);
}

DML_TEST_MAIN(
    cmocka_unit_test(busbw_factors_follow_nccl_tests),
    cmocka_unit_test(cluster_spec_groups_nodes_by_speed),
    cmocka_unit_test(cluster_spec_devices_held_to_busy_fraction),
    cmocka_unit_test(op_names_round_trip),
    cmocka_unit_test(counts_follow_nccl_tests_size_convention),
    cmocka_unit_test(bandwidths_are_size_over_time_times_factor),
    cmocka_unit_test(fit_recovers_exact_alpha_beta),
    cmocka_unit_test(fit_is_within_a_few_percent_under_noise),
    cmocka_unit_test(fit_clamps_negative_alpha_to_zero),
    cmocka_unit_test(fit_takes_beta_from_the_largest_sizes),
    cmocka_unit_test(fit_rejects_degenerate_input),
    cmocka_unit_test(fake_nodes_split_ranks_in_blocks),
    cmocka_unit_test(fake_node_counts_are_validated),
    cmocka_unit_test(levels_exist_only_with_two_of_each),
    cmocka_unit_test(sweeps_are_powers_of_two),
    cmocka_unit_test(coll_table_has_nccl_tests_columns),
    cmocka_unit_test(p2p_tables_have_osu_columns),
    cmocka_unit_test(rows_carry_units_and_levels),
    cmocka_unit_test(coll_fit_sets_busbw_from_factor),
    cmocka_unit_test(collective_floor_is_the_fastest_call),
    cmocka_unit_test(coll_table_footer_counts_wrong_and_averages_busbw),
    cmocka_unit_test(coll_check_counts_wrong_elements_of_each_op),
    cmocka_unit_test(coll_check_sums_are_exact_over_many_ranks),
    cmocka_unit_test(fit_residual_is_kept_and_a_large_one_warned),
    cmocka_unit_test(p2p_headline_bandwidth_is_the_largest_size),
    cmocka_unit_test(cluster_spec_links_come_from_large_messages))
