/*
 * db_writer: a database writer for the contention and crash tests, going
 * through the db/ API exactly as dml-exec does.
 *
 *   db_writer run DB STEPS [MARKER]
 *       Record one whole run in one transaction (dml_db_begin: model,
 *       cluster, plan, run, STEPS steps, an event, finish), the way
 *       dml-exec opens a run. With MARKER: after the steps, create the file
 *       MARKER and sleep inside the open transaction until killed.
 *   db_writer loop DB STEPS
 *       Record whole runs like the above, one transaction each, forever
 *       (until killed), printing the id of each committed run.
 *   db_writer hold DB SECONDS MARKER
 *       Take the write lock (BEGIN IMMEDIATE, one event written), create
 *       MARKER, hold it SECONDS, then commit: other writers must wait.
 *
 * Exit 0 on success; a database error prints one line and exits 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/plan_store.h"
#include "db/run_store.h"
#include "db/spec_store.h"

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
}

/* One run with steps, in the caller's transaction. */
static dml_status record_run(dml_db *db, long steps, int64_t *run_id,
                             dml_error *err)
{
    dml_db_model m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "mlp-tiny");
    snprintf(m.type, sizeof m.type, "mlp");
    m.spec_json = "{\"type\":\"mlp\",\"name\":\"mlp-tiny\",\"input\":32,"
                  "\"hidden\":[16,16],\"output\":4}";
    int64_t model_id = 0, cluster_id = 0, plan_id = 0;
    DML_CHECK(dml_db_record_model(db, &m, &model_id, err));
    dml_db_cluster c;
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "db-writer");
    snprintf(c.source, sizeof c.source, "user");
    DML_CHECK(dml_db_record_cluster(db, &c, 0, &cluster_id, err));
    dml_db_plan p;
    memset(&p, 0, sizeof p);
    p.model_id = model_id;
    p.cluster_id = cluster_id;
    p.config = (dml_db_plan_config){.dp = 1, .tp = 1, .pp = 1, .v = 1,
                                    .mbs = 8, .microbatches = 4,
                                    .global_batch = 32,
                                    .threads_per_rank = 1};
    snprintf(p.config.recompute, sizeof p.config.recompute, "none");
    snprintf(p.config.schedule, sizeof p.config.schedule, "1f1b");
    p.predicted_step_s = 0.002;
    p.predicted_mem_bytes = NAN;
    p.predicted_tokens_per_s = NAN;
    p.mfu = NAN;
    DML_CHECK(dml_db_record_plan(db, &p, &plan_id, err));
    dml_db_run_start rs;
    memset(&rs, 0, sizeof rs);
    rs.plan_id = plan_id;
    rs.ranks = 1;
    rs.predicted_step_s = NAN;
    DML_CHECK(dml_db_run_begin(db, &rs, run_id, err));
    dml_db_step *st = calloc((size_t)steps, sizeof *st);
    if (!st)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    for (long i = 0; i < steps; i++) {
        st[i].step = i;
        st[i].loss = 1.0 / (double)(i + 1);
        st[i].lr = 1e-3;
        st[i].global_batch = 32;
        st[i].step_s = 0.002;
        st[i].compute_s = st[i].tp_comm_s = st[i].pp_comm_s = NAN;
        st[i].dp_comm_s = st[i].pipeline_idle_s = st[i].optimizer_s = NAN;
        st[i].samples_per_s = 16000;
        st[i].noise_scale = NAN;
        st[i].consensus = NAN;
    }
    dml_status s = dml_db_record_steps(db, *run_id, st, (size_t)steps, err);
    free(st);
    DML_CHECK(s);
    return dml_db_record_event(db, *run_id, "checkpoint", -1, steps,
                               "db_writer", err);
}

static dml_status finish_run(dml_db *db, int64_t run_id, long steps,
                             dml_error *err)
{
    dml_db_run_result r;
    memset(&r, 0, sizeof r);
    snprintf(r.status, sizeof r.status, "ok");
    r.steps = steps;
    r.measured_step_s = 0.002;
    r.peak_rss_bytes = NAN;
    r.final_loss = 1.0 / (double)steps;
    r.test_accuracy = NAN;
    return dml_db_run_finish(db, run_id, &r, err);
}

static dml_status whole_run(dml_db *db, long steps, const char *marker,
                            int64_t *run_id, dml_error *err)
{
    DML_CHECK(dml_db_begin(db, err));
    dml_status s = record_run(db, steps, run_id, err);
    if (s == DML_OK && marker) {
        touch(marker);
        for (;;)
            pause(); /* killed here, inside the transaction */
    }
    if (s == DML_OK)
        s = finish_run(db, *run_id, steps, err);
    if (s == DML_OK)
        return dml_db_commit(db, err);
    dml_db_rollback(db);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: db_writer run DB STEPS [MARKER] | loop DB "
                        "STEPS | hold DB SECONDS MARKER\n");
        return 2;
    }
    const char *mode = argv[1];
    long n = atol(argv[3]);
    dml_error err;
    dml_error_clear(&err);
    dml_db *db = NULL;
    dml_status s = dml_db_open(argv[2], &db, &err);
    int64_t run_id = 0;
    if (s == DML_OK && strcmp(mode, "run") == 0) {
        s = whole_run(db, n, argc > 4 ? argv[4] : NULL, &run_id, &err);
        if (s == DML_OK)
            printf("%lld\n", (long long)run_id);
    } else if (s == DML_OK && strcmp(mode, "loop") == 0) {
        while (s == DML_OK) {
            s = whole_run(db, n, NULL, &run_id, &err);
            if (s == DML_OK) {
                printf("%lld\n", (long long)run_id);
                fflush(stdout);
            }
        }
    } else if (s == DML_OK && strcmp(mode, "hold") == 0 && argc > 4) {
        s = dml_db_begin(db, &err);
        if (s == DML_OK)
            s = dml_db_record_event(db, 0, "straggler", -1, -1,
                                    "db_writer holds the write lock", &err);
        if (s == DML_OK) {
            touch(argv[4]);
            sleep((unsigned)n);
            s = dml_db_commit(db, &err);
        }
    } else if (s == DML_OK) {
        fprintf(stderr, "db_writer: unknown mode '%s'\n", mode);
        dml_db_close(db);
        return 2;
    }
    dml_db_close(db);
    if (s != DML_OK) {
        char line[2048];
        fprintf(stderr, "db_writer: %s\n",
                dml_error_format(&err, line, sizeof line));
        return dml_status_exit_code(s);
    }
    return 0;
}
