/*
 * test_exec_optim.c: the optimizers against values computed by hand from
 * their papers' update rules (see executor/optim.h), slicing (ZeRO/TP
 * shards) against whole tensors, and the learning-rate schedule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "executor/optim.h"
#include "tests/support/test_support.h"

static dml_optim_hparams hparams(dml_optimizer kind, double wd)
{
    dml_optim_hparams h = {kind, wd, 0.9, 0.9, 0.999, 1e-8};
    return h;
}

static void assert_close(double got, double want, double rel, const char *what)
{
    if (fabs(got - want) > rel * fabs(want)) {
        print_error("%s: got %.10g, expected %.10g\n", what, got, want);
        fail();
    }
}

static void sgd_momentum_matches_hand_computation(void **state)
{
    (void)state;
    /* w=1, g=0.5, wd=0.1, momentum 0.9, lr 0.1.
     * step 1: g' = 0.5 + 0.1*1 = 0.6, buf = 0.6, w = 1 - 0.06 = 0.94.
     * step 2: g' = 0.5 + 0.1*0.94 = 0.594, buf = 0.9*0.6 + 0.594 = 1.134,
     *         w = 0.94 - 0.1134 = 0.8266. */
    dml_optim_hparams h = hparams(DML_OPT_SGD, 0.1);
    float w = 1.0f, g = 0.5f, m = 0.0f;
    dml_optim_slice s = {&w, &g, &m, NULL, 1, 0};
    dml_optim_apply(&h, &s, 1, 1, 0.1, NULL);
    assert_close(w, 0.94, 1e-6, "SGD step 1 weight");
    assert_close(m, 0.6, 1e-6, "SGD step 1 momentum buffer");
    dml_optim_apply(&h, &s, 1, 2, 0.1, NULL);
    assert_close(w, 0.8266, 1e-6, "SGD step 2 weight");
    assert_close(m, 1.134, 1e-6, "SGD step 2 momentum buffer");
}

static void adamw_matches_hand_computation(void **state)
{
    (void)state;
    /* w=1, lr 0.1, wd 0.01, betas (0.9, 0.999), eps 1e-8.
     * step 1, g=0.5: w = 0.999 (decay); m=0.05, v=0.00025, m^=0.5, v^=0.25,
     *   w = 0.999 - 0.1 * 0.5/(0.5+1e-8) = 0.899000002.
     * step 2, g=-0.25: m = 0.02, v = 0.00031225, m^ = 0.02/0.19,
     *   v^ = 0.00031225/0.001999, w = 0.898101 - 0.1 m^/(sqrt(v^)+eps)
     *   = 0.8714672987. */
    dml_optim_hparams h = hparams(DML_OPT_ADAMW, 0.01);
    float w = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    dml_optim_slice s = {&w, &g, &m, &v, 1, 0};
    dml_optim_apply(&h, &s, 1, 1, 0.1, NULL);
    assert_close(w, 0.899000002, 1e-6, "AdamW step 1 weight");
    assert_close(m, 0.05, 1e-6, "AdamW step 1 first moment");
    assert_close(v, 0.00025, 1e-6, "AdamW step 1 second moment");
    g = -0.25f;
    dml_optim_apply(&h, &s, 1, 2, 0.1, NULL);
    assert_close(w, 0.8714672987, 1e-6, "AdamW step 2 weight");
}

static void lamb_matches_hand_computation(void **state)
{
    (void)state;
    /* w=(1,2), g=(0.5,-1), lr 0.1, wd 0.01, t=1: m^=g, v^=g^2, so the Adam
     * direction is (1,-1) up to eps; u = (1.01, -0.98); |w| = sqrt(5),
     * |u| = sqrt(1.9805), ratio 1.5889037330;
     * w = w - 0.1 * ratio * u = (0.8395207261, 2.1557125642). */
    dml_optim_hparams h = hparams(DML_OPT_LAMB, 0.01);
    float w[2] = {1.0f, 2.0f}, g[2] = {0.5f, -1.0f}, m[2] = {0}, v[2] = {0};
    dml_optim_slice s = {w, g, m, v, 2, 0};
    double sq[2] = {0, 0};
    dml_optim_partial_norms(&h, &s, 1, 1, sq);
    assert_close(sq[0], 5.0, 1e-6, "LAMB |w|^2");
    assert_close(sq[1], 1.9805, 1e-6, "LAMB |u|^2");
    dml_optim_apply(&h, &s, 1, 1, 0.1, sq);
    assert_close(w[0], 0.8395207261, 1e-6, "LAMB weight 0");
    assert_close(w[1], 2.1557125642, 1e-6, "LAMB weight 1");
}

static void lars_matches_hand_computation(void **state)
{
    (void)state;
    /* w=(3,4): |w| = 5; g=(0.6,0.8): |g| = 1; wd 0.1, lr 1, eta 0.001:
     * local = 0.001 * 5 / (1 + 0.1*5) = 1/300; buf = local (g + 0.1 w)
     * = (0.9, 1.2)/300 = (0.003, 0.004); w = (2.997, 3.996). */
    dml_optim_hparams h = hparams(DML_OPT_LARS, 0.1);
    float w[2] = {3.0f, 4.0f}, g[2] = {0.6f, 0.8f}, m[2] = {0};
    dml_optim_slice s = {w, g, m, NULL, 2, 0};
    double sq[2] = {0, 0};
    dml_optim_partial_norms(&h, &s, 1, 1, sq);
    assert_close(sq[0], 25.0, 1e-6, "LARS |w|^2");
    assert_close(sq[1], 1.0, 1e-6, "LARS |g|^2");
    dml_optim_apply(&h, &s, 1, 1, 1.0, sq);
    assert_close(w[0], 2.997, 1e-6, "LARS weight 0");
    assert_close(w[1], 3.996, 1e-6, "LARS weight 1");
    assert_close(m[0], 0.003, 1e-5, "LARS momentum buffer 0");
}

/* A tensor cut into slices (as ZeRO-1 and TP cut it), with the partial
 * norms added up, must update exactly like the whole tensor. */
static void slices_update_like_the_whole_tensor(void **state)
{
    (void)state;
    enum { N = 11 };
    for (int kind = DML_OPT_SGD; kind <= DML_OPT_LARS; kind++) {
        dml_optim_hparams h = hparams((dml_optimizer)kind, 0.05);
        float w1[N], w2[N], g[N], m1[N] = {0}, m2[N] = {0}, v1[N] = {0},
                                  v2[N] = {0};
        for (int i = 0; i < N; i++) {
            w1[i] = w2[i] = 0.1f * (float)(i - 5);
            g[i] = 0.01f * (float)((i * 7) % 5 - 2);
        }
        for (long t = 1; t <= 3; t++) {
            dml_optim_slice whole = {w1, g, m1, v1, N, 0};
            dml_optim_slice parts[3] = {{w2, g, m2, v2, 4, 0},
                                        {w2 + 4, g + 4, m2 + 4, v2 + 4, 3, 0},
                                        {w2 + 7, g + 7, m2 + 7, v2 + 7, 4, 0}};
            double sq1[2] = {0, 0}, sq2[2] = {0, 0};
            dml_optim_partial_norms(&h, &whole, 1, t, sq1);
            dml_optim_partial_norms(&h, parts, 3, t, sq2);
            dml_optim_apply(&h, &whole, 1, t, 0.5, sq1);
            dml_optim_apply(&h, parts, 3, t, 0.5, sq2);
        }
        for (int i = 0; i < N; i++)
            assert_close(w2[i], w1[i], 1e-6,
                         "sliced update equals the whole-tensor update");
    }
}

static void state_slots_and_norm_needs(void **state)
{
    (void)state;
    assert_int_equal(dml_optim_state_slots(DML_OPT_SGD), 1);
    assert_int_equal(dml_optim_state_slots(DML_OPT_ADAMW), 2);
    assert_int_equal(dml_optim_state_slots(DML_OPT_LAMB), 2);
    assert_int_equal(dml_optim_state_slots(DML_OPT_LARS), 1);
    assert_false(dml_optim_needs_norms(DML_OPT_ADAMW));
    assert_true(dml_optim_needs_norms(DML_OPT_LAMB));
}

static void lr_schedule_warmup_and_decay(void **state)
{
    (void)state;
    dml_train_schedule s; /* peak 1e-3, floor 1e-4, 10 warm-up, 100 decay */
    dml_test_cosine_schedule(&s);
    assert_close(dml_optim_lr_at(&s, 0), 1e-4, 1e-12, "warmup step 0 = peak/10");
    assert_close(dml_optim_lr_at(&s, 4), 5e-4, 1e-12, "warmup step 4");
    assert_close(dml_optim_lr_at(&s, 9), 1e-3, 1e-12, "last warmup step = peak");
    assert_close(dml_optim_lr_at(&s, 10), 1e-3, 1e-12, "decay starts at peak");
    /* Half-way through the decay cos(pi/2) = 0: min + (peak-min)/2. */
    assert_close(dml_optim_lr_at(&s, 60), 5.5e-4, 1e-12, "cosine half-way");
    assert_close(dml_optim_lr_at(&s, 110), 1e-4, 1e-12, "cosine end = min");
    assert_close(dml_optim_lr_at(&s, 5000), 1e-4, 1e-12, "after the decay");
    s.decay = DML_DECAY_LINEAR;
    assert_close(dml_optim_lr_at(&s, 35), 7.75e-4, 1e-12, "linear quarter");
    assert_close(dml_optim_lr_at(&s, 60), 5.5e-4, 1e-12, "linear half-way");
    s.decay = DML_DECAY_CONSTANT;
    assert_close(dml_optim_lr_at(&s, 60), 1e-3, 1e-12, "constant");
    s.warmup_steps = 0;
    assert_close(dml_optim_lr_at(&s, 0), 1e-3, 1e-12, "no warmup");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd_momentum_matches_hand_computation),
        cmocka_unit_test(adamw_matches_hand_computation),
        cmocka_unit_test(lamb_matches_hand_computation),
        cmocka_unit_test(lars_matches_hand_computation),
        cmocka_unit_test(slices_update_like_the_whole_tensor),
        cmocka_unit_test(state_slots_and_norm_needs),
        cmocka_unit_test(lr_schedule_warmup_and_decay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
