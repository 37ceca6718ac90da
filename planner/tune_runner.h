/*
 * tune_runner.h: running candidate plans for real, for dml-plan --tune.
 *
 * A trial is one plan file run through
 *
 *     mpirun -np N [--oversubscribe] [--bind-to none] dml-exec --plan FILE
 *            --steps S --json [--db DB] [--data DIR] [--threads T]
 *
 * as a child process in its own process group, with stdin from /dev/null
 * (mpirun would otherwise eat the caller's), stdout (dml-exec's --json
 * summary) and stderr captured, and a timeout after which the whole group
 * is terminated (SIGTERM, then SIGKILL). `--bind-to none` is added when a
 * rank runs more than one thread: Open MPI binds each of up to two ranks
 * to one core by default, which would put all of a rank's BLAS threads on
 * that core. `--oversubscribe` is added when ranks x threads exceed the
 * online cores.
 *
 * A trial that crashes, exits non-zero, times out or prints no readable
 * summary is a failed trial with a reason, not an error: the caller goes
 * on with the next one. When a database is given, the failure is recorded
 * there: a run dml-exec opened and left 'running' is finished as 'failed'
 * with the reason, and a "trial_failed" event names the plan and reason.
 *
 * Stopping a trial (at its timeout, or when the caller has caught SIGINT
 * or SIGTERM through common/interrupt.h: the poll loop reads
 * dml_interrupt_signal() ten times a second) ends every process of it:
 * SIGTERM to the launcher's process group (mpirun forwards it to the
 * ranks, which Open MPI puts in process groups of their own), SIGKILL to
 * the group and to every descendant of the launcher (listed from /proc,
 * common/proctree.h) after the grace period, or at once on a second
 * signal; descendants that outlive the launcher are stopped the same way.
 * A trial stopped for a signal is DML_TUNE_INTERRUPTED, its run finished
 * as 'interrupted' (if dml-exec left it 'running') with a
 * "trial_interrupted" event, and dml_tune_run_all starts no other.
 *
 * dml-exec is found by spec->exec_path, else $DML_EXEC, else
 * $DML_BIN/dml-exec, else next to the running program (/proc/self/exe);
 * the launcher by spec->mpiexec, else $MPIEXEC, else "mpirun" on PATH.
 *
 * dml_tune_select_trials chooses which candidates to run: the top K by
 * predicted step time plus the best candidate of each other layout family
 * (dp, tp, pp, v, threads per rank), so that the trials are not K
 * near-copies that differ only in micro-batching.
 */
#ifndef DML_PLANNER_TUNE_RUNNER_H
#define DML_PLANNER_TUNE_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "costmodel/plan.h"
#include "db/db.h"

typedef struct dml_tune_trial_spec {
    const char *plan_path; /* plan file to run (required) */
    int ranks;             /* MPI ranks (dp x tp x pp); 0 = read from
                              the plan file */
    int threads;           /* BLAS threads per rank, passed as --threads;
                              0 = the plan's threads_per_rank (read from
                              the plan file) */
    int64_t steps;         /* --steps, >= 1 */
    const char *db_path;   /* --db; NULL = dml-exec's default */
    const char *data;      /* --data DIR|synthetic; NULL = default */
    double timeout_s;      /* wall-clock limit, s; <= 0 = none */
    double term_grace_s;   /* after SIGTERM, time before SIGKILL, s;
                              <= 0 = 5 s */
    bool oversubscribe;    /* force --oversubscribe */
    const char *exec_path; /* dml-exec; NULL = found as above */
    const char *mpiexec;   /* launcher; NULL = $MPIEXEC or "mpirun" */
    dml_db *db;            /* where failures are recorded; NULL = nowhere
                              (the child writes its run to db_path) */
} dml_tune_trial_spec;

void dml_tune_trial_spec_init(dml_tune_trial_spec *spec);

typedef enum dml_tune_outcome {
    DML_TUNE_OK = 0,     /* ran and printed a summary with a median */
    DML_TUNE_EXIT,       /* exited with a non-zero status */
    DML_TUNE_SIGNAL,     /* killed by a signal (crash, out of memory) */
    DML_TUNE_TIMEOUT,    /* still running at the timeout; killed */
    DML_TUNE_BAD_OUTPUT, /* exit 0 but no readable summary */
    DML_TUNE_INTERRUPTED, /* stopped because we caught SIGINT/SIGTERM */
} dml_tune_outcome;

const char *dml_tune_outcome_name(dml_tune_outcome o);

#define DML_TUNE_REASON_MAX 512

typedef struct dml_tune_trial_result {
    dml_tune_outcome outcome;      /* DML_TUNE_OK or why not */
    char reason[DML_TUNE_REASON_MAX]; /* one line for people ("" if ok) */
    int exit_code;                 /* child's exit status, -1 if none */
    int signal;                    /* signal that ended it, 0 if none */
    double wall_s;                 /* wall time of the trial, s */
    double measured_step_s;        /* median step time after warm-up, s */
    double predicted_step_s;       /* the plan's prediction, s (NAN) */
    double final_loss;             /* loss of the last step (NAN) */
    double test_accuracy;          /* 0-1 (NAN if not evaluated) */
    int64_t steps;                 /* steps the run reached */
    int64_t run_id;                /* runs.id dml-exec recorded, 0 none */
    char stderr_tail[1024];        /* last part of the child's stderr */
} dml_tune_trial_result;

/*
 * Run one trial (see the top of the file). DML_OK whenever the trial was
 * started, whatever its outcome (out->outcome says); DML_EINPUT for a bad
 * spec, DML_ENOTFOUND when dml-exec cannot be found, DML_ERUNTIME when no
 * child process can be started at all.
 */
dml_status dml_tune_trial_run(const dml_tune_trial_spec *spec,
                              dml_tune_trial_result *out, dml_error *err);

/*
 * Read dml-exec's --json summary from text (what a trial printed) into
 * out's measured fields. DML_EINPUT when there is no JSON object with a
 * positive median_step_s. Exposed for tests and for callers that ran
 * dml-exec themselves.
 */
dml_status dml_tune_parse_summary(const char *text,
                                  dml_tune_trial_result *out,
                                  dml_error *err);

/*
 * The line of a failed trial's stderr that says why, trimmed, into out:
 * dml-exec's own error line, else the headline of Open MPI's first framed
 * message (not the advice at its end), else the first line mentioning an
 * error, else the last line with words. "" when text has none.
 */
void dml_tune_reason_line(const char *text, char *out, size_t size);

/* dml-exec's path into out: given (an executable file, else
 * DML_ENOTFOUND), else found as the top of this file says. */
dml_status dml_tune_find_exec(const char *given, char *out, size_t size,
                              dml_error *err);

/* The argv of a trial (NULL-terminated, each entry malloc'd; free with
 * dml_tune_argv_free); DML_ENOTFOUND when dml-exec cannot be found. */
dml_status dml_tune_trial_argv(const dml_tune_trial_spec *spec,
                               char ***argv, dml_error *err);
void dml_tune_argv_free(char **argv);

/* A planned candidate, as trial selection sees it. */
typedef struct dml_tune_candidate {
    dml_parallel_config par; /* its configuration */
    double predicted_s;      /* predicted step time, s; not finite or <= 0
                                = infeasible (never chosen) */
} dml_tune_candidate;

/* Whether two configurations are of one layout family (same dp, tp, pp,
 * v and threads per rank). */
bool dml_tune_same_family(const dml_parallel_config *a,
                          const dml_parallel_config *b);

/*
 * Choose trials among n candidates: the top_k fastest predicted, then the
 * fastest of each further family, families in order of their best
 * prediction, at most max_families of them (< 0: all). Writes candidate
 * indices to out (room for max_out), top-k first, each in order of
 * prediction; returns how many. Ties keep the candidates' order.
 */
size_t dml_tune_select_trials(const dml_tune_candidate *cands, size_t n,
                              int top_k, int max_families, size_t *out,
                              size_t max_out);

/*
 * Run n trials one after the other (dml-plan --tune), with a progress line
 * on stderr when progress is true and stderr is a terminal ("trial 2/5:
 * plan-01.json"). A failed trial does not stop the others; what
 * dml_tune_trial_run returns as an error (dml-exec or the launcher not
 * found) stops the loop, and so does a signal caught (common/interrupt.h:
 * the running trial is stopped and recorded as interrupted, and the
 * result is DML_ERUNTIME "interrupted by SIGTERM during trial 2/5: ...");
 * the trials not run are then failed ones with the reason "not run". order (may be NULL, else room for n) gets the
 * ranking of dml_tune_rank_results.
 */
dml_status dml_tune_run_all(const dml_tune_trial_spec *specs, size_t n,
                            bool progress, dml_tune_trial_result *results,
                            size_t *order, dml_error *err);

/*
 * Order finished trials for the ranking: successful ones by measured
 * step time, then the failed ones in their original order. order gets n
 * indices into results.
 */
void dml_tune_rank_results(const dml_tune_trial_result *results, size_t n,
                           size_t *order);

#endif
