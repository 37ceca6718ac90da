/*
 * test_exec_rebalance.c: balance=dynamic's decisions (executor/
 * rebalance.h) on synthetic series of per-replica compute and exchange
 * times: a replica slowed to a third is flagged with cause compute within
 * the flag's steps and the shares move toward it, then return to the
 * plan's when it recovers; a replica with a slow link is flagged "link";
 * flat series with 10 % jitter (and lone spikes) cause no event at all;
 * a mild slowdown between the thresholds moves nothing; steps of a few
 * milliseconds are not judged.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <string.h>

#include "executor/rebalance.h"

#define N 4
#define TOTAL 32 /* micro-batches a step: 8 each */

/* Deterministic jitter: uniform in [1 - j, 1 + j]. */
static double jitter(uint64_t *s, double j)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    double u = (double)(*s >> 11) / 9007199254740992.0;
    return 1.0 + j * (2.0 * u - 1.0);
}

/* One step of a synthetic synchronous run: replica i computes its
 * micro-batches at slow[i] x 10 ms each with jitter, then waits in the
 * exchange for the slowest and exchanges for 5 ms (+ link[i]). */
static int step(dml_rebalance *r, int64_t s, const double *slow,
                const double *link, double jit, uint64_t *seed,
                dml_rebalance_event *ev)
{
    double c[N], x[N], cmax = 0;
    for (int i = 0; i < N; i++) {
        c[i] = (double)r->cur[i] * 0.010 * slow[i] * jitter(seed, jit);
        cmax = fmax(cmax, c[i]);
    }
    for (int i = 0; i < N; i++)
        x[i] = cmax - c[i] + 0.005 + link[i];
    return dml_rebalance_observe(r, s, c, x, r->cur, ev, N + 1);
}

static void init(dml_rebalance *r)
{
    dml_rebalance_params p;
    dml_rebalance_params_default(&p);
    int64_t eq[N] = {8, 8, 8, 8};
    dml_rebalance_init(r, &p, N, eq);
}

static bool is_equal(const int64_t *m)
{
    for (int i = 0; i < N; i++)
        if (m[i] != 8)
            return false;
    return true;
}

/* Replica 2 at a third of the speed from step 100 to 199. */
static void test_step_change_straggler(void **state)
{
    (void)state;
    dml_rebalance r;
    init(&r);
    uint64_t seed = 88172645463325252ull;
    double slow[N] = {1, 1, 1, 1}, link[N] = {0};
    int64_t flagged = -1, moved = -1, recovered = -1, back = -1;
    for (int64_t s = 0; s < 300; s++) {
        slow[2] = s >= 100 && s < 200 ? 3.0 : 1.0;
        dml_rebalance_event ev[N + 1];
        int k = step(&r, s, slow, link, 0.10, &seed, ev);
        for (int e = 0; e < k; e++) {
            switch (ev[e].kind) {
            case DML_REBALANCE_STRAGGLER:
                assert_int_equal(ev[e].replica, 2);
                assert_string_equal(ev[e].cause, "compute");
                assert_true(ev[e].ratio > 2.0 && ev[e].ratio < 4.0);
                assert_int_equal(flagged, -1);
                flagged = s;
                break;
            case DML_REBALANCE_RECOVERED:
                assert_int_equal(ev[e].replica, 2);
                assert_string_equal(ev[e].cause, "compute");
                assert_int_equal(recovered, -1);
                recovered = s;
                break;
            case DML_REBALANCE_SHARES:
                assert_int_equal(ev[e].replica, -1);
                int64_t sum = 0;
                for (int i = 0; i < N; i++)
                    sum += ev[e].new_shares[i];
                assert_int_equal(sum, TOTAL); /* global batch unchanged */
                if (moved < 0) {
                    moved = s;
                    assert_true(is_equal(ev[e].old_shares));
                    assert_false(ev[e].to_equal);
                    /* toward the straggler: 10, 10, 10, 2 or near it */
                    assert_true(ev[e].new_shares[2] <= 3);
                    assert_true(ev[e].new_shares[0] >= 9);
                    assert_true(ev[e].ratio > 2.0);
                    assert_true(ev[e].speed[2] < 0.5 * ev[e].speed[0]);
                } else {
                    assert_int_equal(back, -1);
                    back = s;
                    assert_true(ev[e].to_equal);
                    assert_true(is_equal(ev[e].new_shares));
                }
                break;
            }
        }
    }
    print_message("flagged %lld, shares moved %lld, recovered %lld, back "
                  "to equal %lld\n", (long long)flagged, (long long)moved,
                  (long long)recovered, (long long)back);
    assert_true(flagged >= 104 && flagged < 110);
    assert_true(moved >= flagged && moved < 120);
    assert_true(recovered >= 204 && recovered < 210);
    assert_true(back == recovered); /* at the flag's end */
    assert_true(is_equal(r.cur));
}

/* Flat series: 10 % jitter, and a lone 2 x spike on a random replica
 * every 37 steps (another process on its core for a moment): nothing. */
static void test_quiet_runs_no_event(void **state)
{
    (void)state;
    for (uint64_t run = 1; run <= 20; run++) {
        dml_rebalance r;
        init(&r);
        uint64_t seed = 0x9E3779B97F4A7C15ull * run;
        double slow[N], link[N] = {0};
        for (int64_t s = 0; s < 2000; s++) {
            for (int i = 0; i < N; i++)
                slow[i] = 1.0;
            if (s % 37 == 0)
                slow[(s / 37) % N] = 2.0;
            dml_rebalance_event ev[N + 1];
            assert_int_equal(step(&r, s, slow, link, 0.10, &seed, ev), 0);
        }
        assert_true(is_equal(r.cur));
    }
}

/* A replica 20 % slow: flagged by neither rule (1.2 < 1.5), and the best
 * shares (9, 9, 8, 6 or so) gain under 1.3: the shares stay. */
static void test_mild_slowdown_between_thresholds(void **state)
{
    (void)state;
    dml_rebalance r;
    init(&r);
    uint64_t seed = 12345;
    double slow[N] = {1, 1, 1.2, 1}, link[N] = {0};
    for (int64_t s = 0; s < 500; s++) {
        dml_rebalance_event ev[N + 1];
        assert_int_equal(step(&r, s, slow, link, 0.05, &seed, ev), 0);
    }
}

/* Replica 1's exchange 60 ms longer (its link), compute normal: flagged
 * "link" within the flag's steps, the shares untouched (its compute is
 * not slow); cleared when the link recovers. */
static void test_link_straggler(void **state)
{
    (void)state;
    dml_rebalance r;
    init(&r);
    uint64_t seed = 777;
    double slow[N] = {1, 1, 1, 1}, link[N] = {0};
    int64_t flagged = -1, recovered = -1;
    for (int64_t s = 0; s < 200; s++) {
        link[1] = s >= 50 && s < 120 ? 0.060 : 0.0;
        dml_rebalance_event ev[N + 1];
        int k = step(&r, s, slow, link, 0.10, &seed, ev);
        for (int e = 0; e < k; e++) {
            assert_int_not_equal(ev[e].kind, DML_REBALANCE_SHARES);
            assert_int_equal(ev[e].replica, 1);
            assert_string_equal(ev[e].cause, "link");
            if (ev[e].kind == DML_REBALANCE_STRAGGLER)
                flagged = s;
            else
                recovered = s;
        }
    }
    assert_true(flagged >= 54 && flagged < 60);
    assert_true(recovered >= 124 && recovered < 130);
}

/* A CPU quota's straggler: at 4 micro-batches or more it computes at a
 * third of the speed, below that in one burst almost at full speed (1.35
 * x the others' time: the quota lets short bursts through, and its flag,
 * cleared under 1.25 x, stays). No move gives it more work while it is
 * flagged, nobody else is flagged, and once it is back the shares are
 * the plan's. */
static void test_burst_straggler_never_given_more(void **state)
{
    (void)state;
    dml_rebalance r;
    init(&r);
    uint64_t seed = 99;
    double link[N] = {0};
    int64_t last_move = -1;
    for (int64_t s = 0; s < 400; s++) {
        double slow[N] = {1, 1, 1, 1};
        if (s >= 50 && s < 250)
            slow[2] = r.cur[2] >= 4 ? 3.0 : 1.35;
        dml_rebalance_event ev[N + 1];
        int k = step(&r, s, slow, link, 0.10, &seed, ev);
        for (int e = 0; e < k; e++) {
            assert_true(ev[e].kind == DML_REBALANCE_SHARES ||
                        ev[e].replica == 2);
            if (ev[e].kind == DML_REBALANCE_SHARES) {
                assert_true(ev[e].to_equal ||
                            ev[e].new_shares[2] < ev[e].old_shares[2]);
                last_move = s;
            }
        }
    }
    assert_true(last_move >= 250 && last_move < 270);
    assert_true(is_equal(r.cur));
}

/* Steps of a few milliseconds (a tiny model: the scheduler's time
 * slices) are not judged, however uneven: 3 x jitter, nothing. */
static void test_short_steps_not_judged(void **state)
{
    (void)state;
    dml_rebalance r;
    init(&r);
    uint64_t seed = 4242;
    for (int64_t s = 0; s < 300; s++) {
        double c[N], x[N];
        for (int i = 0; i < N; i++) {
            c[i] = 0.001 * (i == 1 && s > 50 ? 3.0 : 1.0) * jitter(&seed, 0.9);
            x[i] = 0.002 * jitter(&seed, 0.9);
        }
        dml_rebalance_event ev[N + 1];
        assert_int_equal(
            dml_rebalance_observe(&r, s, c, x, r.cur, ev, N + 1), 0);
    }
}

static void test_format(void **state)
{
    (void)state;
    int64_t m[4] = {10, 10, 10, 2};
    char buf[64];
    assert_string_equal(dml_rebalance_format(m, 4, buf, sizeof buf),
                        "10,10,10,2");
}

DML_TEST_MAIN(
    cmocka_unit_test(test_step_change_straggler),
    cmocka_unit_test(test_quiet_runs_no_event),
    cmocka_unit_test(test_mild_slowdown_between_thresholds),
    cmocka_unit_test(test_link_straggler),
    cmocka_unit_test(test_burst_straggler_never_given_more),
    cmocka_unit_test(test_short_steps_not_judged),
    cmocka_unit_test(test_format))
