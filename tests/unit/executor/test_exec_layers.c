/*
 * test_exec_layers.c: every layer's backward against central finite
 * differences of its forward, the whole stage (linear + activation layers
 * + softmax cross-entropy) the same way, and the layout-independence of
 * the weight initialisation and of the shard <-> full-model mapping.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "executor/layers.h"
#include "executor/stage.h"
#include "executor/weights.h"

static void fill(dml_rng *r, float *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((2.0 * dml_rng_uniform(r) - 1.0) * scale);
}

/* |analytic - numeric| <= 2e-3 * max(|numeric|, 0.05): float forward
 * passes, so differences of 1e-3 steps carry ~1e-4 rounding. */
static void assert_grad(double analytic, double numeric, const char *what,
                        size_t i)
{
    double tol = 2e-3 * fmax(fabs(numeric), 0.05);
    if (fabs(analytic - numeric) > tol) {
        print_error("%s[%zu]: backward %.8g, finite difference %.8g\n", what,
                    i, analytic, numeric);
        fail();
    }
}

/* The linear layer, loss L = sum(out * R) so that dout = R. */
enum { ROWS = 3, C = 5, OC = 4 };
static float lin_x[ROWS * C], lin_w[OC * C], lin_b[OC], lin_r[ROWS * OC];

static double linear_loss(void)
{
    float out[ROWS * OC];
    dml_linear_forward(NULL, out, lin_x, lin_w, lin_b, ROWS, C, OC);
    double l = 0.0;
    for (int i = 0; i < ROWS * OC; i++)
        l += (double)out[i] * lin_r[i];
    return l;
}

static void check_fd(float *p, size_t n, const float *grad, double h,
                     double (*loss)(void), const char *what)
{
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        p[i] = keep + (float)h;
        double lp = loss();
        p[i] = keep - (float)h;
        double lm = loss();
        p[i] = keep;
        assert_grad(grad[i], (lp - lm) / (2.0 * h), what, i);
    }
}

static void linear_backward_matches_finite_differences(void **state)
{
    (void)state;
    dml_rng r;
    dml_rng_seed(&r, 11);
    fill(&r, lin_x, ROWS * C, 1.0);
    fill(&r, lin_w, OC * C, 1.0);
    fill(&r, lin_b, OC, 1.0);
    fill(&r, lin_r, ROWS * OC, 1.0);
    float dw[OC * C] = {0}, db[OC] = {0}, dx[ROWS * C];
    dml_gemm_timer t;
    memset(&t, 0, sizeof t);
    dml_linear_backward(&t, dx, dw, db, lin_r, lin_x, lin_w, ROWS, C, OC);
    check_fd(lin_w, OC * C, dw, 1e-2, linear_loss, "dW");
    check_fd(lin_b, OC, db, 1e-2, linear_loss, "db");
    check_fd(lin_x, ROWS * C, dx, 1e-2, linear_loss, "dx");
    assert_int_equal(t.calls, 2); /* dW and dx, one GEMM each */
    assert_true(t.flop == 2.0 * 2 * ROWS * C * OC);
    /* Backward accumulates: a second micro-batch adds the same again. */
    float dw2[OC * C], db2[OC];
    memcpy(dw2, dw, sizeof dw);
    memcpy(db2, db, sizeof db);
    dml_linear_backward(NULL, NULL, dw2, db2, lin_r, lin_x, lin_w, ROWS, C,
                        OC);
    for (int i = 0; i < OC * C; i++)
        assert_true(fabsf(dw2[i] - 2.0f * dw[i]) <= 1e-5f * fabsf(dw[i]) + 1e-6f);
    for (int i = 0; i < OC; i++)
        assert_true(fabsf(db2[i] - 2.0f * db[i]) <= 1e-5f * fabsf(db[i]) + 1e-6f);
}

/* Activations: L = sum(f(x) * R). */
enum { NA = 40 };
static float act_x[NA], act_r[NA];
static dml_act_kind act_kind;

static double act_loss(void)
{
    float out[NA];
    dml_act_forward(act_kind, out, act_x, NA);
    double l = 0.0;
    for (int i = 0; i < NA; i++)
        l += (double)out[i] * act_r[i];
    return l;
}

static void activations_match_finite_differences(void **state)
{
    (void)state;
    static const dml_act_kind kinds[] = {DML_ACT_KIND_NONE, DML_ACT_KIND_RELU,
                                         DML_ACT_KIND_TANH, DML_ACT_KIND_GELU};
    static const char *const names[] = {"identity", "relu", "tanh", "gelu"};
    dml_rng r;
    dml_rng_seed(&r, 12);
    for (int k = 0; k < 4; k++) {
        act_kind = kinds[k];
        fill(&r, act_x, NA, 3.0);
        fill(&r, act_r, NA, 1.0);
        /* ReLU has a kink at 0: keep the points away from it. */
        for (int i = 0; i < NA; i++)
            if (fabsf(act_x[i]) < 0.1f)
                act_x[i] = 0.5f;
        float out[NA], dx[NA];
        dml_act_forward(act_kind, out, act_x, NA);
        dml_act_backward(act_kind, dx, act_r, act_x, out, NA);
        check_fd(act_x, NA, dx, 1e-3, act_loss, names[k]);
    }
    /* Known values: GELU(1) = 0.8411920 (tanh approximation of
     * Hendrycks & Gimpel 2016), tanh(1) = 0.7615942. */
    float one = 1.0f, y;
    dml_act_forward(DML_ACT_KIND_GELU, &y, &one, 1);
    assert_true(fabsf(y - 0.8411920f) < 1e-6f);
    dml_act_forward(DML_ACT_KIND_TANH, &y, &one, 1);
    assert_true(fabsf(y - 0.7615942f) < 1e-6f);
}

/* Softmax cross-entropy: L = sum over rows of -log p[label]. */
enum { XR = 4, XC = 5 };
static float xent_z[XR * XC];
static const uint8_t xent_y[XR] = {0, 3, 4, 1};

static double xent_loss(void)
{
    float p[XR * XC];
    return dml_xent_forward(p, xent_z, xent_y, XR, XC, NULL);
}

static void xent_matches_finite_differences_and_known_values(void **state)
{
    (void)state;
    /* All-zero logits: every class has p = 1/5, loss log(5) per row. */
    memset(xent_z, 0, sizeof xent_z);
    float p[XR * XC], dz[XR * XC];
    double l = dml_xent_forward(p, xent_z, xent_y, XR, XC, NULL);
    assert_true(fabs(l - XR * log(5.0)) < 1e-6);
    assert_true(fabsf(p[7] - 0.2f) < 1e-7f);
    dml_rng r;
    dml_rng_seed(&r, 13);
    fill(&r, xent_z, XR * XC, 3.0);
    long correct = -1;
    dml_xent_forward(p, xent_z, xent_y, XR, XC, &correct);
    long want = 0;
    for (int i = 0; i < XR; i++) {
        int arg = 0;
        for (int j = 1; j < XC; j++)
            if (xent_z[i * XC + j] > xent_z[i * XC + arg])
                arg = j;
        want += arg == xent_y[i];
    }
    assert_int_equal(correct, want);
    dml_xent_backward(dz, p, xent_y, XR, XC, 1.0f);
    check_fd(xent_z, XR * XC, dz, 1e-3, xent_loss, "dlogits");
    /* The scale (1 / global batch) multiplies the gradient. */
    float dz4[XR * XC];
    dml_xent_backward(dz4, p, xent_y, XR, XC, 0.25f);
    for (int i = 0; i < XR * XC; i++)
        assert_true(fabsf(dz4[i] - 0.25f * dz[i]) < 1e-7f);
}

/* A whole stage (tp = 1): three linear layers, activations, softmax
 * cross-entropy; backward from the loss against finite differences of
 * every parameter and of the stage input. */
static const int64_t stage_widths[] = {6, 5, 4, 3};
static dml_stage stage_st;
static dml_stage_acts stage_acts;
enum { SROWS = 4 };

static double stage_loss(void)
{
    dml_stage_timers t;
    memset(&t, 0, sizeof t);
    return dml_stage_forward(&stage_st, &stage_acts, SROWS, NULL, &t);
}

static void stage_backward_matches_finite_differences(void **state)
{
    (void)state;
    static const dml_act_kind kinds[] = {DML_ACT_KIND_TANH, DML_ACT_KIND_GELU};
    for (int k = 0; k < 2; k++) {
        dml_stage_model m = {3, stage_widths, kinds[k]};
        dml_error err;
        assert_int_equal(dml_stage_init(&stage_st, &m, 0, 2, 1, 0,
                                        MPI_COMM_NULL, 1, &err),
                         DML_OK);
        assert_true(stage_st.is_first && stage_st.is_last);
        assert_int_equal(stage_st.nparams, 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3);
        dml_stage_init_weights(&stage_st, 5);
        /* Non-zero biases so that their gradients are exercised too. */
        dml_rng r;
        dml_rng_seed(&r, 14);
        for (int i = 0; i < stage_st.nlayers; i++)
            fill(&r, stage_st.params + stage_st.layers[i].b_off,
                 (size_t)stage_st.layers[i].out, 0.3);
        assert_int_equal(dml_stage_acts_init(&stage_acts, &stage_st, SROWS,
                                             &err),
                         DML_OK);
        fill(&r, stage_acts.x, SROWS * 6, 1.0);
        for (int i = 0; i < SROWS; i++)
            stage_acts.labels[i] = (uint8_t)(i % 3);
        stage_loss();
        float s0[SROWS * 6], s1[SROWS * 6], dx[SROWS * 6];
        dml_stage_timers t;
        memset(&t, 0, sizeof t);
        dml_stage_backward(&stage_st, &stage_acts, SROWS, NULL, 1.0f, dx, s0,
                           s1, NULL, NULL, &t);
        /* Steps of 1e-2: float logits round the loss at ~1e-6, which a
         * smaller step would amplify past the tolerance. */
        check_fd(stage_st.params, stage_st.nparams, stage_st.grads, 1e-2,
                 stage_loss, kinds[k] == DML_ACT_KIND_TANH ? "tanh stage"
                                                           : "gelu stage");
        stage_loss();
        check_fd(stage_acts.x, SROWS * 6, dx, 1e-2, stage_loss,
                 "stage input");
        assert_int_equal(t.gemm.calls, 6); /* dW and dx of each layer */
        dml_stage_acts_free(&stage_acts, &stage_st);
        dml_stage_free(&stage_st);
    }
}

/* Initialisation and sharding must not depend on the layout: the two TP
 * shards of a stage put back together are the tp = 1 stage, bit for bit,
 * and a full model loaded into shards comes back unchanged. */
static void init_and_shards_do_not_depend_on_the_layout(void **state)
{
    (void)state;
    static const int64_t widths[] = {8, 6, 4, 2};
    dml_stage_model m = {3, widths, DML_ACT_KIND_RELU};
    dml_mlp_shape shape = {3, {8, 6, 4, 2}};
    size_t count = dml_weights_count(&shape);
    float *whole = calloc(count, sizeof(float));
    float *parts = calloc(count, sizeof(float));
    float *back = calloc(count, sizeof(float));
    dml_error err;
    dml_stage one, half[2];
    assert_int_equal(dml_stage_init(&one, &m, 0, 2, 1, 0, MPI_COMM_NULL, 1,
                                    &err),
                     DML_OK);
    dml_stage_init_weights(&one, 42);
    dml_stage_store_full(&one, &m, whole, true);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(dml_stage_init(&half[t], &m, 0, 2, 2, t,
                                        MPI_COMM_NULL, 2, &err),
                         DML_OK);
        /* Megatron pairs: column, row, then the odd layer replicated. */
        assert_int_equal(half[t].layers[0].mode, DML_TP_COLUMN);
        assert_int_equal(half[t].layers[1].mode, DML_TP_ROW);
        assert_int_equal(half[t].layers[2].mode, DML_TP_REPLICATED);
        assert_int_equal(half[t].layers[0].out_local, 3);
        assert_int_equal(half[t].layers[1].in_local, 3);
        assert_int_equal(half[t].nflat % 2, 0);
        dml_stage_init_weights(&half[t], 42);
        float *mine = calloc(count, sizeof(float));
        dml_stage_store_full(&half[t], &m, mine, t == 0);
        for (size_t i = 0; i < count; i++)
            parts[i] += mine[i];
        free(mine);
    }
    assert_memory_equal(whole, parts, count * sizeof(float));
    /* He-uniform bound sqrt(6/fan_in) on the ReLU layers. */
    for (int i = 0; i < 6 * 8; i++)
        assert_true(fabsf(whole[i]) <= sqrtf(6.0f / 8.0f));
    /* Load the full model into the second shard and take it out again. */
    memset(half[1].params, 0, half[1].nflat * sizeof(float));
    dml_stage_load_full(&half[1], &m, whole);
    dml_stage_store_full(&half[1], &m, back, true);
    const dml_stage_layer *L0 = &half[1].layers[0];
    for (int o = 3; o < 6; o++) /* rows 3..5 of layer 0 live on TP rank 1 */
        for (int c = 0; c < 8; c++)
            assert_true(back[o * 8 + c] == whole[o * 8 + c]);
    assert_int_equal(L0->row0, 3);
    assert_int_equal(dml_stage_check(&m, 0, 2, 4, &err), DML_EINPUT);
    free(whole);
    free(parts);
    free(back);
    dml_stage_free(&one);
    dml_stage_free(&half[0]);
    dml_stage_free(&half[1]);
}

DML_TEST_MAIN(
    cmocka_unit_test(linear_backward_matches_finite_differences),
    cmocka_unit_test(activations_match_finite_differences),
    cmocka_unit_test(xent_matches_finite_differences_and_known_values),
    cmocka_unit_test(stage_backward_matches_finite_differences),
    cmocka_unit_test(init_and_shards_do_not_depend_on_the_layout))
