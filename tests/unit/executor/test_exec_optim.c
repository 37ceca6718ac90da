/*
 * test_exec_optim.c: the optimizers against values computed by hand from
 * their papers' update rules (see executor/optim.h), slicing (ZeRO/TP
 * shards) against whole tensors, and the learning-rate schedule.
 */
#include "tests/support/unit.h"

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
    dml_optim_slice s = {&w, &g, &m, NULL, 1, 0, false};
    dml_optim_apply(&h, &s, 1, 1, 0.1, NULL);
    assert_close(w, 0.94, 1e-6, "SGD step 1 weight");
    assert_close(m, 0.6, 1e-6, "SGD step 1 momentum buffer");
    dml_optim_apply(&h, &s, 1, 2, 0.1, NULL);
    assert_close(w, 0.8266, 1e-6, "SGD step 2 weight");
    assert_close(m, 1.134, 1e-6, "SGD step 2 momentum buffer");
}

/* Expected values of two steps of an Adam-type rule from w=1 with
 * g = 0.5 then -0.25, lr 0.1, wd 0.01, betas (0.9, 0.999), eps 1e-8. */
typedef struct adam_case {
    dml_optimizer kind;
    double w1, m1, v1; /* after step 1 */
    double w2;         /* weight after step 2 */
    const char *name;
} adam_case;

static void two_adam_steps(const adam_case *c)
{
    dml_optim_hparams h = hparams(c->kind, 0.01);
    float w = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    dml_optim_slice s = {&w, &g, &m, &v, 1, 0, false};
    dml_optim_apply(&h, &s, 1, 1, 0.1, NULL);
    print_message("%s\n", c->name);
    assert_close(w, c->w1, 1e-6, "step 1 weight");
    assert_close(m, c->m1, 1e-6, "step 1 first moment");
    assert_close(v, c->v1, 1e-6, "step 1 second moment");
    g = -0.25f;
    dml_optim_apply(&h, &s, 1, 2, 0.1, NULL);
    assert_close(w, c->w2, 1e-6, "step 2 weight");
    assert_int_equal(dml_optim_state_slots(c->kind), 2);
    assert_false(dml_optim_needs_norms(c->kind));
}

static void adamw_matches_hand_computation(void **state)
{
    (void)state;
    /* step 1, g=0.5: w = 0.999 (decay); m=0.05, v=0.00025, m^=0.5, v^=0.25,
     *   w = 0.999 - 0.1 * 0.5/(0.5+1e-8) = 0.899000002.
     * step 2, g=-0.25: m = 0.02, v = 0.00031225, m^ = 0.02/0.19,
     *   v^ = 0.00031225/0.001999, w = 0.898101 - 0.1 m^/(sqrt(v^)+eps)
     *   = 0.8714672987. */
    adam_case c = {DML_OPT_ADAMW, 0.899000002, 0.05, 0.00025, 0.8714672987,
                   "AdamW (decoupled weight decay)"};
    two_adam_steps(&c);
}

static void adam_adds_weight_decay_to_the_gradient(void **state)
{
    (void)state;
    /* torch.optim.Adam with weight_decay:
     * step 1, g=0.5: g' = 0.5 + 0.01*1 = 0.51, m = 0.051, v = 0.0002601,
     *   m^ = v^^(1/2) = 0.51, w = 1 - 0.1 * 0.51/(0.51+1e-8) = 0.900000002.
     * step 2, g=-0.25: g' = -0.25 + 0.01*0.900000002 = -0.241, m = 0.0218,
     *   v = 0.0003179209, w = 0.8712293476 (AdamW, decoupled, gives
     *   0.8714672987 from the same start: the two are not the same rule). */
    adam_case c = {DML_OPT_ADAM, 0.9000000019607843, 0.051, 0.0002601,
                   0.8712293476231743, "Adam (L2 in the gradient)"};
    two_adam_steps(&c);
}

/* A bias (no_decay) takes no weight decay under any rule and no trust
 * ratio under LAMB and LARS: its update is the rule's plain step, with
 * the same numbers as a weight tensor with wd = 0 and ratio 1. */
static void biases_take_no_decay_and_no_trust_ratio(void **state)
{
    (void)state;
    /* SGD, wd 0.1, lr 0.1: w=1, g=0.5 -> w = 1 - 0.1*0.5 = 0.95 (a weight
     * would take 0.94, sgd_momentum_matches_hand_computation). */
    dml_optim_hparams h = hparams(DML_OPT_SGD, 0.1);
    float w = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
    dml_optim_slice s = {&w, &g, &m, NULL, 1, 0, true};
    dml_optim_apply(&h, &s, 1, 1, 0.1, NULL);
    assert_close(w, 0.95, 1e-6, "SGD bias without weight decay");
    /* Adam (L2) and AdamW: the wd = 0 step, 1 - 0.1 * 0.5/(0.5 + 1e-8). */
    for (int k = 0; k < 2; k++) {
        h = hparams(k ? DML_OPT_ADAMW : DML_OPT_ADAM, 0.01);
        w = 1.0f, g = 0.5f, m = 0.0f, v = 0.0f;
        s = (dml_optim_slice){&w, &g, &m, &v, 1, 0, true};
        dml_optim_apply(&h, &s, 1, 1, 0.1, NULL);
        assert_close(w, 0.900000002, 1e-7,
                     k ? "AdamW bias without decoupled decay"
                       : "Adam bias without L2");
    }
    /* LAMB, wd 0.01, lr 0.1, t=1: a zero bias b=(0, 0.5) with g=(0.5,-1):
     * direction (1,-1), no wd term, ratio 1 (|b| would give 0.35):
     * b = (-0.1, 0.6). The norms are not summed for it. */
    h = hparams(DML_OPT_LAMB, 0.01);
    float b[2] = {0.0f, 0.5f}, gb[2] = {0.5f, -1.0f}, mb[2] = {0}, vb[2] = {0};
    s = (dml_optim_slice){b, gb, mb, vb, 2, 0, true};
    double sq[2] = {0, 0};
    dml_optim_partial_norms(&h, &s, 1, 1, sq);
    assert_true(sq[0] == 0.0 && sq[1] == 0.0);
    dml_optim_apply(&h, &s, 1, 1, 0.1, sq);
    assert_close(b[0], -0.1, 1e-6, "LAMB bias 0: lr times the Adam direction");
    assert_close(b[1], 0.6, 1e-6, "LAMB bias 1: lr times the Adam direction");
    /* LARS, wd 0.1, lr 1, momentum 0.9: buf = lr g = (0.6, 0.8) (a weight
     * tensor would be scaled by eta |w| / (|g| + wd |w|), 1/300 here):
     * b = (3, 4) - (0.6, 0.8) = (2.4, 3.2); second step, same g:
     * buf = 0.9 (0.6, 0.8) + (0.6, 0.8) = (1.14, 1.52), b = (1.26, 1.68). */
    h = hparams(DML_OPT_LARS, 0.1);
    float c[2] = {3.0f, 4.0f}, gc[2] = {0.6f, 0.8f}, mc[2] = {0};
    s = (dml_optim_slice){c, gc, mc, NULL, 2, 0, true};
    for (long t = 1; t <= 2; t++) {
        double sq2[2] = {0, 0};
        dml_optim_partial_norms(&h, &s, 1, t, sq2);
        dml_optim_apply(&h, &s, 1, t, 1.0, sq2);
    }
    assert_close(c[0], 1.26, 1e-6, "LARS bias 0 after two plain steps");
    assert_close(c[1], 1.68, 1e-6, "LARS bias 1 after two plain steps");
    assert_close(mc[0], 1.14, 1e-6, "LARS bias momentum buffer");
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
    dml_optim_slice s = {w, g, m, v, 2, 0, false};
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
    dml_optim_slice s = {w, g, m, NULL, 2, 0, false};
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
    for (int kind = DML_OPT_SGD; kind <= DML_OPT_ADAM; kind++) {
        dml_optim_hparams h = hparams((dml_optimizer)kind, 0.05);
        float w1[N], w2[N], g[N], m1[N] = {0}, m2[N] = {0}, v1[N] = {0},
                                  v2[N] = {0};
        for (int i = 0; i < N; i++) {
            w1[i] = w2[i] = 0.1f * (float)(i - 5);
            g[i] = 0.01f * (float)((i * 7) % 5 - 2);
        }
        for (long t = 1; t <= 3; t++) {
            dml_optim_slice whole = {w1, g, m1, v1, N, 0, false};
            dml_optim_slice parts[3] = {
                {w2, g, m2, v2, 4, 0, false},
                {w2 + 4, g + 4, m2 + 4, v2 + 4, 3, 0, false},
                {w2 + 7, g + 7, m2 + 7, v2 + 7, 4, 0, false}};
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
    /* Without a decay length (decay_steps 0, a plan made without
     * --tokens) the rate holds its peak after warmup, whatever the decay
     * names: dml-plan writes "constant" then. */
    s.decay = DML_DECAY_COSINE;
    s.decay_steps = 0;
    s.warmup_steps = 10;
    assert_close(dml_optim_lr_at(&s, 9), 1e-3, 1e-12, "warmup still ramps");
    assert_close(dml_optim_lr_at(&s, 10), 1e-3, 1e-12, "peak after warmup");
    assert_close(dml_optim_lr_at(&s, 100000), 1e-3, 1e-12,
                 "no decay without a decay length");
}

DML_TEST_MAIN(
    cmocka_unit_test(sgd_momentum_matches_hand_computation),
    cmocka_unit_test(adamw_matches_hand_computation),
    cmocka_unit_test(adam_adds_weight_decay_to_the_gradient),
    cmocka_unit_test(biases_take_no_decay_and_no_trust_ratio),
    cmocka_unit_test(lamb_matches_hand_computation),
    cmocka_unit_test(lars_matches_hand_computation),
    cmocka_unit_test(slices_update_like_the_whole_tensor),
    cmocka_unit_test(state_slots_and_norm_needs),
    cmocka_unit_test(lr_schedule_warmup_and_decay))
