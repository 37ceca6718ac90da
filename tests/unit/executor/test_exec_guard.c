/*
 * test_exec_guard.c: what keeps a run honest when its surroundings fail
 * (issue 10): the steps kept while the database refuses writes
 * (record.h: bounded whatever the database does, every step written,
 * kept or counted, retried with a growing pause, written when the
 * database takes writes again), the checks of guard.h (non-finite values,
 * divergence), ReLU letting NaN through, and the run identity of
 * identity.h (stable, sensitive to what changes the result, blind to what
 * does not, and naming the field that differs).
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "costmodel/plan.h"
#include "executor/guard.h"
#include "executor/identity.h"
#include "executor/layers.h"
#include "executor/record.h"

/* ---- a database that fails on demand -------------------------------------- */

typedef struct fake_db {
    bool fail;          /* refuse the next writes */
    int64_t written[4096]; /* steps written, in order */
    size_t nwritten;
    int calls;          /* write attempts */
} fake_db;

static dml_status fake_write(void *ctx, const dml_db_step *steps, size_t n,
                             dml_error *err)
{
    fake_db *db = ctx;
    db->calls++;
    if (db->fail)
        return dml_error_msg(err, DML_EDB, "database is locked");
    for (size_t i = 0; i < n && db->nwritten < 4096; i++)
        db->written[db->nwritten++] = steps[i].step;
    return DML_OK;
}

/* The clock record.c reads after a failed write: the tests move it. */
static double fake_now;
static double fake_clock(void)
{
    return fake_now;
}

static dml_db_step step_no(int64_t s)
{
    dml_db_step d;
    memset(&d, 0, sizeof d);
    d.step = s;
    d.loss = 1.0;
    return d;
}

/* A record over a fresh fake database, the clock at now. */
static fake_db *open_record(dml_record *r, double now, size_t keep_max)
{
    fake_db *db = calloc(1, sizeof *db);
    assert_non_null(db);
    dml_error err;
    fake_now = now;
    assert_int_equal(dml_record_init(r, fake_write, db, fake_clock, keep_max,
                                     &err),
                     DML_OK);
    return db;
}

/* Add steps [from, to) one clock tick (1 ms) apart, flushing when due;
 * returns the clock after. */
static double run_steps(dml_record *r, int64_t from, int64_t to, double t)
{
    for (int64_t s = from; s < to; s++, t += 0.001) {
        fake_now = t;
        dml_db_step d = step_no(s);
        if (dml_record_add(r, &d, t))
            dml_record_flush_steps(r, t, false);
    }
    return t;
}

static void record_keeps_steps_through_an_outage(void **state)
{
    (void)state;
    dml_record r;
    fake_db *db = open_record(&r, 0.0, 1000);
    double t = run_steps(&r, 0, 100, 0.0);
    assert_int_equal(db->nwritten, 96); /* three batches of 32 */
    assert_false(r.failing);

    /* The database refuses: the first failing flush starts an outage,
     * which is reported once, and steps are kept (the old code stopped
     * resetting its count after the first failure and wrote past its 32
     * entries). */
    db->fail = true;
    for (int64_t s = 100; s < 400; s++, t += 0.001) {
        fake_now = t;
        dml_db_step d = step_no(s);
        if (dml_record_add(&r, &d, t)) {
            dml_record_flush f = dml_record_flush_steps(&r, t, false);
            assert_true(f == DML_RECORD_IDLE || f == DML_RECORD_FAILED ||
                        f == DML_RECORD_OUTAGE);
        }
        assert_true(r.n <= r.cap);
        assert_true(r.cap <= r.keep_max);
    }
    assert_true(r.failing);
    assert_int_equal(r.n, 304); /* steps 96..399: nothing written, none lost */
    assert_int_equal(r.lost, 0);
    assert_int_equal(r.outage_step, 96);
    /* 0.3 s of steps: the first try failed and the next waits 1 s, so
     * one attempt only (each may cost the busy timeout). */
    int calls = db->calls;
    assert_int_equal(dml_record_flush_steps(&r, t, false), DML_RECORD_IDLE);
    assert_int_equal(db->calls, calls);
    /* Another row is not even tried while the pause lasts; it is counted. */
    assert_false(dml_record_may_write(&r, t));
    assert_int_equal(r.lost_rows, 1);
    assert_true(dml_record_incomplete(&r));

    /* After the pause a retry fails again, after waiting 10 s (the busy
     * timeout), and the pause doubles, counted from the end of the wait:
     * not at once again. */
    fake_now = t + 11.5;
    assert_int_equal(dml_record_flush_steps(&r, t + 1.5, false),
                     DML_RECORD_FAILED);
    assert_true(r.retry_at_s >= t + 11.5 + 2.0 - 1e-9);
    assert_int_equal(dml_record_flush_steps(&r, t + 12.0, false),
                     DML_RECORD_IDLE);

    /* The database takes writes again: everything kept goes in, in order. */
    db->fail = false;
    assert_int_equal(dml_record_flush_steps(&r, t + 1.6, true),
                     DML_RECORD_RECOVERED);
    assert_false(r.failing);
    assert_int_equal(r.n, 0);
    assert_int_equal(db->nwritten, 400);
    for (size_t i = 0; i < db->nwritten; i++)
        assert_int_equal(db->written[i], (int64_t)i);
    /* A row was lost meanwhile: the record says so. */
    char msg[512];
    dml_record_describe(&r, msg, sizeof msg);
    assert_non_null(strstr(msg, "1 other row"));
    assert_non_null(strstr(msg, "database is locked"));
    dml_record_free(&r);
    free(db);
}

static void record_is_bounded_and_counts_what_it_drops(void **state)
{
    (void)state;
    dml_record r;
    /* keep_max below one batch is raised to a batch. */
    fake_db *db = open_record(&r, 0.0, 5);
    assert_int_equal(r.keep_max, DML_RECORD_BATCH);
    dml_record_free(&r);
    free(db);

    db = open_record(&r, 0.0, 100);
    db->fail = true;
    /* 10000 steps, the database never takes one, flushes forced every
     * time (the worst case for the old code). */
    for (int64_t s = 0; s < 10000; s++) {
        dml_db_step d = step_no(s);
        fake_now = (double)s;
        dml_record_add(&r, &d, (double)s);
        dml_record_flush_steps(&r, (double)s, true);
        assert_true(r.n <= r.cap && r.cap <= 100);
    }
    assert_int_equal(r.n, 100);
    assert_int_equal(r.lost, 9900);
    assert_int_equal(r.lost_first, 100);
    assert_int_equal(r.lost_last, 9999);
    char msg[512];
    dml_record_describe(&r, msg, sizeof msg);
    assert_non_null(strstr(msg, "steps 100-9999 (9900"));
    assert_non_null(strstr(msg, "steps 0-99 (100)"));
    assert_non_null(strstr(msg, "stays 'running'"));
    dml_record_free(&r);
    free(db);
}

static void record_batches_and_seconds(void **state)
{
    (void)state;
    dml_record r;
    fake_db *db = open_record(&r, 10.0, 1000);
    dml_db_step d = step_no(0);
    assert_false(dml_record_add(&r, &d, 10.1));
    d = step_no(1);
    assert_true(dml_record_add(&r, &d, 11.2)); /* a second has passed */
    assert_int_equal(dml_record_flush_steps(&r, 11.2, false),
                     DML_RECORD_WROTE);
    assert_int_equal(dml_record_flush_steps(&r, 11.3, false),
                     DML_RECORD_IDLE); /* nothing kept */
    assert_false(dml_record_incomplete(&r));
    dml_record_free(&r);
    free(db);
}

/* ---- guard ------------------------------------------------------------------ */

static void guard_finds_non_finite_values(void **state)
{
    (void)state;
    float v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = (float)i * 1e30f; /* large but finite, 0 included */
    assert_int_equal(dml_guard_first_nonfinite(v, 1000), 1000);
    assert_int_equal(dml_guard_count_nonfinite(v, 1000), 0);
    v[0] = -3.4028235e38f;
    assert_int_equal(dml_guard_first_nonfinite(v, 1000), 1000);
    v[777] = NAN;
    v[901] = -INFINITY;
    assert_int_equal(dml_guard_first_nonfinite(v, 1000), 777);
    assert_int_equal(dml_guard_count_nonfinite(v, 1000), 2);
    v[3] = INFINITY;
    assert_int_equal(dml_guard_first_nonfinite(v, 1000), 3);
    assert_int_equal(dml_guard_first_nonfinite(v, 0), 0);
}

static void guard_bounds_the_loss(void **state)
{
    (void)state;
    /* The bound: 1e3 x max(first, 1). */
    assert_false(dml_guard_diverged(2.3, 2.3));
    assert_false(dml_guard_diverged(2299.0, 2.3));
    assert_true(dml_guard_diverged(2301.0, 2.3));
    assert_false(dml_guard_diverged(999.0, 0.01)); /* a first loss below 1 */
    assert_true(dml_guard_diverged(1001.0, 0.01));
    assert_true(dml_guard_diverged(1.9e17, 2.3)); /* the loss */
    assert_true(dml_guard_diverged(NAN, 2.3));
    assert_true(dml_guard_diverged(INFINITY, 2.3));
    assert_false(dml_guard_diverged(5.0, NAN)); /* no first loss: bound 1e3 */
}

static void relu_lets_nan_through(void **state)
{
    (void)state;
    float in[5] = {-1.0f, 0.0f, 2.0f, NAN, -0.0f}, out[5];
    dml_act_forward(DML_ACT_KIND_RELU, out, in, 5);
    assert_true(out[0] == 0.0f && !signbit(out[0]));
    assert_true(out[1] == 0.0f);
    assert_true(out[2] == 2.0f);
    assert_true(isnan(out[3])); /* `x > 0 ? x : 0` made it 0 */
    assert_true(out[4] == 0.0f && !signbit(out[4])); /* -0 -> +0 as before */
}

/* ---- identity ----------------------------------------------------------------- */

static void tiny_plan(dml_plan *p)
{
    dml_plan_init(p);
    p->model.type = DML_MODEL_MLP;
    snprintf(p->model.name, sizeof p->model.name, "mlp-tiny");
    p->model.input = 32;
    p->model.hidden_count = 2;
    p->model.hidden_sizes[0] = p->model.hidden_sizes[1] = 16;
    p->model.output = 4;
    p->model.activation = DML_ACT_RELU;
    p->model.layers = 3;
    p->par.mbs = 8;
    p->par.microbatches = 4;
    p->stage_count = 1;
    p->stages[0].first_layer = 0;
    p->stages[0].last_layer = 2;
    p->sched.global_batch = 32;
}

static void identity_follows_what_changes_the_result(void **state)
{
    (void)state;
    dml_plan *p = malloc(sizeof *p), *q = malloc(sizeof *q);
    dml_identity *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    assert_true(p && q && a && b);
    dml_error err;
    tiny_plan(p);
    assert_int_equal(dml_identity_make(p, "synthetic", 1, false, NULL, 0, a,
                                       &err),
                     DML_OK);
    assert_int_equal(strlen(a->sha256), 64);
    assert_non_null(strstr(a->text, "model.widths=32,16,16,4\n"));
    assert_non_null(strstr(a->text, "data=synthetic 32x4\n"));
    char why[256];

    /* Names, the prediction and threads do not change the weights. */
    *q = *p;
    snprintf(q->model.name, sizeof q->model.name, "renamed");
    snprintf(q->cluster_name, sizeof q->cluster_name, "elsewhere");
    q->par.threads_per_rank = 4;
    q->pred.present = true;
    q->pred.step_s = 1.0;
    assert_int_equal(dml_identity_make(q, NULL, 1, false, NULL, 0, b, &err),
                     DML_OK);
    assert_string_equal(a->sha256, b->sha256);
    assert_false(dml_identity_diff(a->text, b->text, why, sizeof why));

    /* Each of these does, and the difference is named. */
    const char *fields[] = {"model.activation", "schedule.peak_lr",
                            "schedule.beta2", "parallel.mbs",
                            "schedule.global_batch"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        *q = *p;
        switch (i) {
        case 0: q->model.activation = DML_ACT_GELU; break;
        case 1: q->sched.peak_lr *= 2; break;
        case 2: q->sched.beta2 = 0.95; break;
        case 3: q->par.microbatches = 2; q->par.mbs = 16; break;
        case 4: q->sched.global_batch = 64; break;
        }
        assert_int_equal(dml_identity_make(q, "synthetic", 1, false, NULL, 0,
                                           b, &err),
                         DML_OK);
        assert_string_not_equal(a->sha256, b->sha256);
        assert_true(dml_identity_diff(a->text, b->text, why, sizeof why));
        assert_non_null(strstr(why, fields[i]));
        assert_non_null(strstr(why, "there"));
    }
    /* Seed, shuffle and the starting weights. */
    assert_int_equal(dml_identity_make(p, "synthetic", 2, false, NULL, 0, b,
                                       &err),
                     DML_OK);
    assert_true(dml_identity_diff(a->text, b->text, why, sizeof why));
    assert_string_equal(why, "seed is 1 there, 2 here");
    float w[3] = {1, 2, 3};
    assert_int_equal(dml_identity_make(p, "synthetic", 1, false, w, 3, b,
                                       &err),
                     DML_OK);
    assert_true(dml_identity_diff(a->text, b->text, why, sizeof why));
    assert_non_null(strstr(why, "init_weights is none there, sha256:"));
    /* A field one side lacks. */
    assert_true(dml_identity_diff("dml-exec identity 1\nx=1\n",
                                  "dml-exec identity 1\n", why, sizeof why));
    assert_string_equal(why, "x is 1 there, absent here");
    assert_true(dml_identity_diff("dml-exec identity 1\n",
                                  "dml-exec identity 2\n", why, sizeof why));
    /* Data that cannot be read is bad input. */
    assert_int_equal(dml_identity_make(p, "/nonexistent-dml-data", 1, false,
                                       NULL, 0, b, &err),
                     DML_EINPUT);
    free(p);
    free(q);
    free(a);
    free(b);
}

DML_TEST_MAIN(
    cmocka_unit_test(record_keeps_steps_through_an_outage),
    cmocka_unit_test(record_is_bounded_and_counts_what_it_drops),
    cmocka_unit_test(record_batches_and_seconds),
    cmocka_unit_test(guard_finds_non_finite_values),
    cmocka_unit_test(guard_bounds_the_loss),
    cmocka_unit_test(relu_lets_nan_through),
    cmocka_unit_test(identity_follows_what_changes_the_result))
