/*
 * test_balance.c: the balancing algorithms of costmodel/balance.h against
 * brute force on small cases: micro-batch shares (every way of giving n
 * replicas their micro-batches), stage boundaries (every cut of n layers
 * into p stages, with and without memory limits), identical layers
 * against the general programme, and the apportionment a batch ramp uses.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/rng.h"
#include "costmodel/balance.h"

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            print_error(__VA_ARGS__);                                        \
            print_error("\n");                                               \
            fail();                                                          \
        }                                                                    \
    } while (0)

/* ---- shares ---------------------------------------------------------------- */

/* The least makespan of replicas r (each its own class) over all
 * assignments of total micro-batches, each at least one. */
static double brute_shares(int n, const double *first, const double *slope,
                           int64_t left, int r)
{
    if (r == n - 1)
        return first[r] + slope[r] * (double)(left - 1);
    double best = INFINITY;
    for (int64_t m = 1; m <= left - (n - 1 - r); m++) {
        double here = first[r] + slope[r] * (double)(m - 1);
        double rest = brute_shares(n, first, slope, left - m, r + 1);
        best = fmin(best, fmax(here, rest));
    }
    return best;
}

static void shares_match_brute_force(void **state)
{
    (void)state;
    dml_rng rng;
    dml_rng_seed(&rng, 16);
    for (int trial = 0; trial < 400; trial++) {
        int n = 1 + (int)dml_rng_below(&rng, 4);
        int64_t total = n + (int64_t)dml_rng_below(&rng, 14);
        /* sized beyond n: GCC cannot see that the recursion stops */
        double first[8], slope[8];
        int64_t count[4] = {1, 1, 1, 1}, m[4], up[4];
        for (int k = 0; k < n; k++) {
            slope[k] = 0.1 + dml_rng_uniform(&rng);
            /* a pipeline's fill: up to three more stages' worth */
            first[k] = slope[k] * (1.0 + 3.0 * dml_rng_uniform(&rng));
        }
        double got = dml_balance_shares(n, count, first, slope, total, m, up);
        double want = brute_shares(n, first, slope, total, 0);
        int64_t sum = 0;
        double worst = 0;
        for (int k = 0; k < n; k++) {
            CHECK(up[k] == 0, "trial %d: a class of one replica has no "
                  "replicas above its share (up %lld)", trial,
                  (long long)up[k]);
            CHECK(m[k] >= 1, "trial %d: every replica runs at least one "
                  "micro-batch", trial);
            sum += m[k];
            worst = fmax(worst, first[k] + slope[k] * (double)(m[k] - 1));
        }
        CHECK(sum == total, "trial %d: the shares sum to the total (%lld, "
              "want %lld)", trial, (long long)sum, (long long)total);
        CHECK(fabs(got - want) <= 1e-12 * want && fabs(worst - want) <=
              1e-12 * want, "trial %d: makespan %.15g (returned %.15g) is "
              "the brute force's least %.15g", trial, worst, got, want);
    }
}

/* Classes of several replicas: the makespan is that of the same replicas
 * as classes of one. */
static void share_classes_are_their_replicas(void **state)
{
    (void)state;
    /* speeds 0.6, 0.6, 0.3, 0.15 of a core (issue 16's acceptance): 32
     * micro-batches over 4 data-parallel replicas */
    int64_t count[3] = {2, 1, 1}, m[3], up[3];
    double first[3] = {1 / 0.6, 1 / 0.3, 1 / 0.15};
    double slope[3] = {1 / 0.6, 1 / 0.3, 1 / 0.15};
    double t = dml_balance_shares(3, count, first, slope, 32, m, up);
    int64_t c1[4] = {1, 1, 1, 1}, m1[4], u1[4];
    double f1[4] = {1 / 0.6, 1 / 0.6, 1 / 0.3, 1 / 0.15};
    double t1 = dml_balance_shares(4, c1, f1, f1, 32, m1, u1);
    CHECK(fabs(t - t1) < 1e-12, "a class of two replicas gives the makespan "
          "of the two as their own classes (%g, %g)", t, t1);
    int64_t sum = 0;
    for (int k = 0; k < 3; k++)
        sum += count[k] * m[k] + up[k];
    CHECK(sum == 32, "the shares cover the 32 micro-batches (%lld)",
          (long long)sum);
    /* ideal: 32 / (0.6 + 0.6 + 0.3 + 0.15) = 19.4; 20 is the best a
     * whole micro-batch allows (12, 12, 6, 3 would be 33) */
    CHECK(fabs(t - 20.0) < 1e-9, "the balanced step takes 20 units (%g)", t);
    CHECK(m[2] == 3 && m[1] == 6, "the 0.3 node runs 6 and the 0.15 node "
          "3 micro-batches (%lld, %lld)", (long long)m[1], (long long)m[2]);
}

static void apportion_by_weights(void **state)
{
    (void)state;
    int64_t out[4];
    double w[4] = {12, 11, 6, 3};
    dml_balance_apportion(32, w, 4, 1, out);
    CHECK(out[0] == 12 && out[1] == 11 && out[2] == 6 && out[3] == 3,
          "the weights' own total gives the weights back");
    dml_balance_apportion(16, w, 4, 1, out);
    CHECK(out[0] + out[1] + out[2] + out[3] == 16, "a half batch sums to 16");
    /* quotas 6, 5.5, 3, 1.5: the one unit floor leaves goes to the
     * first largest remainder */
    CHECK(out[0] == 6 && out[1] == 6 && out[2] == 3 && out[3] == 1,
          "a half batch gives 6, 6, 3, 1 (%lld %lld %lld %lld)",
          (long long)out[0], (long long)out[1], (long long)out[2],
          (long long)out[3]);
    dml_balance_apportion(4, w, 4, 1, out);
    CHECK(out[0] == 1 && out[1] == 1 && out[2] == 1 && out[3] == 1,
          "at least one each when the batch has only one each");
    double eq[3] = {1, 1, 1};
    dml_balance_apportion(7, eq, 3, 1, out);
    CHECK(out[0] == 3 && out[1] == 2 && out[2] == 2,
          "equal weights: the remainder to the lower index first");
}

/* ---- stage boundaries ------------------------------------------------------- */

typedef struct brute {
    int n, p;
    const double *work, *pb, *ab;
    const dml_balance_stage *st;
    int64_t cur[8];
    double best;
} brute;

static void brute_cut(brute *b, int r, int start)
{
    if (r == b->p - 1) {
        b->cur[r] = b->n - start;
        for (int s = 0, i = 0; s < b->p; s++) {
            double pb = 0, ab = 0;
            for (int64_t k = 0; k < b->cur[s]; k++, i++) {
                pb += b->pb[i];
                ab += b->ab[i];
            }
            if (pb + b->st[s].inflight * ab > b->st[s].mem_cap_bytes)
                return;
        }
        b->best = fmin(b->best, dml_balance_bottleneck(b->n, b->work, b->p,
                                                       b->st, b->cur));
        return;
    }
    for (int len = 1; start + len <= b->n - (b->p - 1 - r); len++) {
        b->cur[r] = len;
        brute_cut(b, r + 1, start + len);
    }
}

static void partition_matches_brute_force(void **state)
{
    (void)state;
    dml_rng rng;
    dml_rng_seed(&rng, 1616);
    int fits = 0;
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + (int)dml_rng_below(&rng, 9);
        int p = 1 + (int)dml_rng_below(&rng, (uint64_t)(n < 5 ? n : 5));
        double work[9], pb[9], ab[9];
        dml_balance_stage st[5];
        for (int i = 0; i < n; i++) {
            work[i] = 0.2 + dml_rng_uniform(&rng);
            pb[i] = dml_rng_uniform(&rng);
            ab[i] = dml_rng_uniform(&rng);
        }
        bool limited = trial % 2 == 1;
        for (int r = 0; r < p; r++) {
            st[r].time_per_work = 0.25 + 2 * dml_rng_uniform(&rng);
            st[r].extra_s = r == 0 || r == p - 1 ? dml_rng_uniform(&rng) : 0;
            st[r].inflight = (double)(p - r);
            st[r].mem_cap_bytes = limited ? 1.0 + 4 * dml_rng_uniform(&rng)
                                          : INFINITY;
        }
        brute b = {.n = n, .p = p, .work = work, .pb = pb, .ab = ab,
                   .st = st, .best = INFINITY};
        brute_cut(&b, 0, 0);
        int64_t count[5];
        bool ok = dml_balance_partition(n, work, pb, ab, p, st, count);
        CHECK(ok == isfinite(b.best), "trial %d: the programme finds a cut "
              "exactly when one fits (%d, brute %g)", trial, ok, b.best);
        if (!ok)
            continue;
        fits++;
        int64_t sum = 0;
        for (int r = 0; r < p; r++) {
            CHECK(count[r] >= 1, "trial %d: every stage holds a layer", trial);
            sum += count[r];
        }
        CHECK(sum == n, "trial %d: the stages hold the %d layers", trial, n);
        double got = dml_balance_bottleneck(n, work, p, st, count);
        CHECK(fabs(got - b.best) <= 1e-12 * b.best, "trial %d: bottleneck "
              "%.15g is the brute force's %.15g", trial, got, b.best);
    }
    CHECK(fits > 150, "most random cases fit (%d of 300)", fits);
}

/* Identical layers: the bisection gives the programme's bottleneck. */
static void uniform_matches_programme(void **state)
{
    (void)state;
    dml_rng rng;
    dml_rng_seed(&rng, 61);
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + (int)dml_rng_below(&rng, 40);
        int p = 1 + (int)dml_rng_below(&rng, (uint64_t)(n < 8 ? n : 8));
        double w = 0.5 + dml_rng_uniform(&rng);
        double pb = trial % 3 == 0 ? dml_rng_uniform(&rng) : 0;
        double work[40], pbs[40], abs_[40];
        dml_balance_stage st[8];
        for (int i = 0; i < n; i++) {
            work[i] = w;
            pbs[i] = pb;
            abs_[i] = 0;
        }
        for (int r = 0; r < p; r++) {
            st[r].time_per_work = 0.1 + 3 * dml_rng_uniform(&rng);
            st[r].extra_s = r == 0 || r == p - 1 ? 2 * dml_rng_uniform(&rng)
                                                  : 0;
            st[r].inflight = 1;
            /* half a layer beyond a whole number of layers: prefix sums
             * and a product round differently at an exact multiple */
            st[r].mem_cap_bytes =
                pb > 0 ? pb * (floor(1 + (double)n / p * 1.5) + 0.5)
                       : INFINITY;
        }
        int64_t a[8], b[8];
        bool oka = dml_balance_partition(n, work, pbs, abs_, p, st, a);
        bool okb = dml_balance_partition_uniform(n, w, pb, 0, p, st, b);
        CHECK(oka == okb, "trial %d: both find a cut or neither", trial);
        if (!oka)
            continue;
        int64_t sum = 0;
        for (int r = 0; r < p; r++) {
            CHECK(b[r] >= 1, "trial %d: every stage holds a layer", trial);
            sum += b[r];
        }
        CHECK(sum == n, "trial %d: the stages hold the %d layers", trial, n);
        double ta = dml_balance_bottleneck(n, work, p, st, a);
        double tb = dml_balance_bottleneck(n, work, p, st, b);
        if (fabs(ta - tb) > 1e-9 * ta) {
            for (int r = 0; r < p; r++)
                print_error("stage %d: tpw %g extra %g cap %g: dp %lld "
                            "uniform %lld\n", r, st[r].time_per_work,
                            st[r].extra_s, st[r].mem_cap_bytes,
                            (long long)a[r], (long long)b[r]);
            print_error("n %d w %g pb %g\n", n, w, pb);
        }
        CHECK(fabs(ta - tb) <= 1e-9 * ta, "trial %d: identical layers' "
              "bottleneck %.15g is the programme's %.15g", trial, tb, ta);
    }
}

/* Twice as fast a device takes twice the layers. */
static void faster_stage_takes_more_layers(void **state)
{
    (void)state;
    dml_balance_stage st[4];
    double speeds[4] = {0.6, 0.6, 0.3, 0.15};
    for (int r = 0; r < 4; r++)
        st[r] = (dml_balance_stage){.time_per_work = 1 / speeds[r],
                                    .inflight = 1,
                                    .mem_cap_bytes = INFINITY};
    int64_t c[4];
    assert_true(dml_balance_partition_uniform(33, 1.0, 0, 0, 4, st, c));
    CHECK(c[0] == 12 && c[1] == 12 && c[2] == 6 && c[3] == 3,
          "33 layers on speeds 0.6, 0.6, 0.3, 0.15 split 12, 12, 6, 3 "
          "(%lld %lld %lld %lld)", (long long)c[0], (long long)c[1],
          (long long)c[2], (long long)c[3]);
    dml_balance_name(DML_BALANCE_DYNAMIC);
    dml_balance b;
    CHECK(dml_balance_parse("static", &b) && b == DML_BALANCE_STATIC,
          "\"static\" is the static knob");
    CHECK(!dml_balance_parse("even", &b), "\"even\" is not a knob value");
}

DML_TEST_MAIN(
    cmocka_unit_test(shares_match_brute_force),
    cmocka_unit_test(share_classes_are_their_replicas),
    cmocka_unit_test(apportion_by_weights),
    cmocka_unit_test(partition_matches_brute_force),
    cmocka_unit_test(uniform_matches_programme),
    cmocka_unit_test(faster_stage_takes_more_layers))
