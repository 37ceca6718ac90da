/*
 * test_fed_secagg.c: secure aggregation (executor/federated/secagg.h) on
 * a real vector, the mlp-fmnist model's initial weights (784-256-256-10,
 * 269,322 values), as each of 10 clients' update (scaled and shifted per
 * client): the masked sum is bitwise the plaintext fixed-point sum, with
 * all 10 clients and after 2 of them drop out having masked; the bytes
 * sent are within 2x the plain update's; and what the server sees of one
 * client is uncorrelated with that client's update (issue 18).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "executor/federated/secagg.h"
#include "executor/stage.h"

#define M 10

static float *weights;   /* the real vector */
static size_t n;

static int setup(void **state)
{
    (void)state;
    static const int64_t widths[] = {784, 256, 256, 10};
    dml_stage_model model = {.layers = 3, .widths = widths,
                             .hidden_act = DML_ACT_KIND_RELU};
    dml_stage st;
    dml_error err;
    if (dml_stage_init(&st, &model, 0, 2, 1, 0, MPI_COMM_NULL, 1, &err) !=
        DML_OK)
        return -1;
    dml_stage_init_weights(&st, 1);
    n = st.nparams;
    weights = malloc(sizeof *weights * n);
    memcpy(weights, st.params, sizeof *weights * n);
    dml_stage_free(&st);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(weights);
    return 0;
}

/* Client c's update: the weights, scaled and rotated per client. */
static void update_of(int c, float *u)
{
    for (size_t i = 0; i < n; i++)
        u[i] = 0.01f * (float)(c + 1) * weights[(i + (size_t)c * 7919) % n];
}

static const int clients[M] = {3, 17, 22, 40, 41, 58, 63, 77, 90, 99};

/* Plain fixed-point sum and masked sum over the clients in `in`. */
static void sums(const int *in, int nin, uint32_t *plain, uint32_t *masked)
{
    float *u = malloc(sizeof *u * n);
    uint32_t *x = malloc(sizeof *x * n);
    memset(plain, 0, sizeof *plain * n);
    memset(masked, 0, sizeof *masked * n);
    for (int k = 0; k < nin; k++) {
        int c = in[k];
        update_of(c, u);
        assert_int_equal(dml_secagg_encode(u, n, 1.0 + c / 100.0,
                                           dml_secagg_limit(M), x),
                         0);
        for (size_t i = 0; i < n; i++)
            plain[i] += x[i];
        /* masked against every client of the round: dropout comes later */
        dml_secagg_mask(x, n, c, clients, M, 0xC0FFEE);
        for (size_t i = 0; i < n; i++)
            masked[i] += x[i];
    }
    free(u);
    free(x);
}

static void masked_sum_is_the_plain_sum(void **state)
{
    (void)state;
    uint32_t *plain = malloc(sizeof *plain * n), *masked = malloc(sizeof *masked * n);
    sums(clients, M, plain, masked);
    assert_memory_equal(plain, masked, sizeof *plain * n);
    /* and it decodes to the weighted sum of the updates, to the fixed
     * point's rounding (half a unit per client) */
    double *dec = malloc(sizeof *dec * n);
    float *u = malloc(sizeof *u * n);
    double *want = calloc(n, sizeof *want);
    for (int k = 0; k < M; k++) {
        update_of(clients[k], u);
        for (size_t i = 0; i < n; i++)
            want[i] += (1.0 + clients[k] / 100.0) * u[i];
    }
    dml_secagg_decode(masked, n, dec);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(dec[i] - want[i]));
    assert_true(worst <= M * 0.5 / (1 << DML_SECAGG_FRAC_BITS) + 1e-12);
    assert_true(worst > 0); /* the check can see rounding */
    free(dec);
    free(u);
    free(want);
    free(plain);
    free(masked);
}

static void two_of_ten_drop_after_masking(void **state)
{
    (void)state;
    int surv[M - 2], drop[2] = {clients[2], clients[7]}, ns = 0;
    for (int k = 0; k < M; k++)
        if (k != 2 && k != 7)
            surv[ns++] = clients[k];
    uint32_t *plain = malloc(sizeof *plain * n), *masked = malloc(sizeof *masked * n);
    sums(surv, ns, plain, masked);
    /* the dropped clients' pair masks are left in the survivors' sum */
    assert_memory_not_equal(plain, masked, sizeof *plain * n);
    dml_secagg_unmask_dropped(masked, n, surv, ns, drop, 2, 0xC0FFEE);
    assert_memory_equal(plain, masked, sizeof *plain * n);
    /* bytes: the masked vector and 2 revealed seeds, against 4 n plain */
    double ratio = dml_secagg_bytes_up(n, 2) / (4.0 * (double)n);
    assert_true(ratio >= 1.0 && ratio <= 2.0);
    free(plain);
    free(masked);
}

static double pearson(const double *a, const double *b, size_t k)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < k; i++) {
        ma += a[i] / (double)k;
        mb += b[i] / (double)k;
    }
    for (size_t i = 0; i < k; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

static void server_view_of_one_client_is_uncorrelated(void **state)
{
    (void)state;
    float *u = malloc(sizeof *u * n);
    uint32_t *y = malloc(sizeof *y * n);
    double *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n);
    update_of(clients[4], u);
    dml_secagg_encode(u, n, 1.0, dml_secagg_limit(M), y);
    for (size_t i = 0; i < n; i++) {
        a[i] = u[i];
        b[i] = (double)(int32_t)y[i];
    }
    /* unmasked, the server's view would be the update itself */
    assert_true(pearson(a, b, n) > 0.999);
    dml_secagg_mask(y, n, clients[4], clients, M, 0xC0FFEE);
    for (size_t i = 0; i < n; i++)
        b[i] = (double)(int32_t)y[i];
    double r = pearson(a, b, n);
    print_message("correlation of a masked client's view with its update: "
                  "%.5f over %zu values\n", r, n);
    /* independent: r ~ N(0, 1/n), sd 0.0019; 0.01 is over 5 sd */
    assert_true(fabs(r) < 0.01);
    free(u);
    free(y);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(masked_sum_is_the_plain_sum),
        cmocka_unit_test(two_of_ten_drop_after_masking),
        cmocka_unit_test(server_view_of_one_client_is_uncorrelated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
