/*
 * job_store.h: jobs that dml-run supervises (migration 8).
 *
 * A job is one training that outlives its launches: dml-run opens it
 * ('running'), records each decision it takes as an event (launch;
 * after a failure: failure, hosts, plan, resume, in that order; finished
 * or stopped at the end) and closes it with its status, the reason it
 * ended and its goodput figures. Each launch's dml-exec records its own
 * run (run_store.h). Values not measured are NAN (stored as NULL).
 */
#ifndef DML_DB_JOB_STORE_H
#define DML_DB_JOB_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

/* Open a job: the command line (text), its checkpoint directory and the
 * ranks it starts on. */
dml_status dml_db_job_begin(dml_db *db, const char *command,
                            const char *checkpoint_dir, int ranks,
                            int64_t *job_id, dml_error *err);

/* One decision of the supervisor: step (-1: none), ranks (0: none),
 * seconds (NAN: none) and a sentence. */
dml_status dml_db_job_event(dml_db *db, int64_t job_id, const char *kind,
                            int64_t step, int ranks, double seconds,
                            const char *message, dml_error *err);

/* A job's growth and the planner's Young/Daly model of it
 * (elastic/goodput.h; NAN: not known). */
typedef struct dml_db_job_model {
    int failures;              /* relaunches after failures */
    int grows;                 /* relaunches on more ranks */
    double replan_s;           /* stops to grow to training again, s */
    double step_s;             /* mean step the job saw, s */
    double ckpt_interval_s;    /* --checkpoint-every x step_s, s */
    double ckpt_write_s;       /* one checkpoint, by the cluster spec, s */
    double mtbf_plan_s;        /* job MTBF by the cluster spec, s */
    double mtbf_seen_s;        /* wall / failures, s */
    double young_s, daly_s;    /* optimal intervals at the MTBF seen (the
                                  spec's without failures), s */
    double expected_lost_s;    /* failures x interval / 2, s */
    double expected_restart_s; /* failures x (write + read back), s */
    double expected_wall_s;    /* the useful training x (1 + overhead) */
    double expected_goodput;   /* 1 / (1 + overhead), 0-1 */
} dml_db_job_model;

typedef struct dml_db_job_result {
    char status[16];     /* "ok", "failed" or "interrupted" */
    const char *reason;  /* why it ended (borrowed) */
    int restarts;        /* relaunches after failures */
    double wall_s;       /* from the start to the end, s */
    double compute_s;    /* training (first step to the end of each
                            launch), s */
    double lost_s;       /* training whose steps a failure undid (since
                            the checkpoint resumed from), s */
    double detect_s;     /* newest heartbeat to the failure seen, s */
    double restart_s;    /* failure seen to training again, s */
    dml_db_job_model model; /* migration 11 */
} dml_db_job_result;

dml_status dml_db_job_finish(dml_db *db, int64_t job_id,
                             const dml_db_job_result *r, dml_error *err);

#endif
