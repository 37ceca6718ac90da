/*
 * heartbeat.h: what every rank of a dml-exec run was doing when the job
 * died, so that the next dml-exec can record the failure.
 *
 * When one rank of an Open MPI 4.1 job dies (SIGKILL, a crash, a lost
 * node), mpirun tears the job down: SIGCONT to the other ranks, a second
 * later SIGTERM and about 2 ms after it SIGKILL. No rank can reliably
 * write to the database in that time, and the rank that died cannot at
 * all. So with a checkpoint directory every rank keeps a small text file,
 * ROOT/ranks/rank-%05d (one per rank, on the storage the checkpoints go
 * to), that it rewrites in place at every step (one pwrite, no fsync: the
 * page cache outlives the process) and holds a write lock on (fcntl) while
 * it lives. The file names the run (database id, database path, start
 * time), the rank, its pid and host, the step in progress (= steps
 * completed) and a state:
 *   running   training step `step`
 *   ckpt      writing checkpoint `step`
 *   stopped   SIGCONT, SIGTERM or SIGINT arrived: the launcher (or a
 *             person) is stopping the job; a step rewrites it to running.
 *             Also what rank 0 closes its file with when it could not
 *             record the run's end (the database refused), so that the
 *             next run marks it failed
 *   finished  the run ended, recorded by the run itself
 *   failed    the run failed, or was interrupted, and recorded it itself
 * The signal handlers only pwrite the state word, which is async-signal
 * safe, then chain to the handler that was there: dml-exec's, which notes
 * SIGTERM and SIGINT so that the run stops at the next step boundary
 * (executor/README.md, "Stopping"); where there is none, the signal's
 * default action (SIGTERM and SIGINT end the process).
 *
 * The next dml-exec with the same checkpoint directory (--resume, or a
 * fresh run) scans the files before writing its own: a file still locked
 * means that job is alive (refused: two jobs would overwrite each other's
 * checkpoints); a job whose files are all unlocked but not finished or
 * failed died. The ranks still "running" or "ckpt" then are the ones that
 * died without a word, and the ranks "stopped" were stopped by the
 * launcher because of them.
 */
#ifndef DML_EXECUTOR_HEARTBEAT_H
#define DML_EXECUTOR_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define DML_HEARTBEAT_PATH_MAX 1024
#define DML_HEARTBEAT_TIME_MAX 32

/* The run the rank files belong to (the same in every rank's file). */
typedef struct dml_heartbeat_run {
    int64_t run_id;                            /* runs.id, 0 if none */
    char db[DML_HEARTBEAT_PATH_MAX];           /* database, absolute path */
    char started_at[DML_HEARTBEAT_TIME_MAX];   /* ISO 8601 UTC */
    int world;                                 /* ranks of the job */
} dml_heartbeat_run;

/* One rank's file as a later process reads it. */
typedef struct dml_heartbeat_rank {
    int rank;           /* MPI rank */
    long pid;           /* its process id on host */
    char host[64];      /* its host name */
    int64_t step;       /* step in progress (= steps completed) */
    char state[12];     /* running, ckpt, stopped, finished, failed */
    bool alive;         /* its process still holds the file's lock */
} dml_heartbeat_rank;

/* What a previous job left under a checkpoint directory. */
typedef struct dml_heartbeat_report {
    dml_heartbeat_run run;       /* from the lowest rank's file */
    char last_seen_at[DML_HEARTBEAT_TIME_MAX]; /* ISO 8601 UTC of the
                                    newest write to any rank file: about
                                    when the job died */
    int count;                   /* rank files found (0: none) */
    dml_heartbeat_rank *ranks;   /* [count], by rank; malloc'd */
} dml_heartbeat_report;

typedef struct dml_heartbeat dml_heartbeat;

/* Create ROOT/ranks/rank-%05d for this rank, lock it, write step 0 and
 * install the signal handlers (one heartbeat per process at a time). The
 * name must be a regular file or nothing: a symbolic link, a FIFO or a
 * device planted there is DML_EINPUT, one line naming what it is, and is
 * neither opened for writing nor removed. */
dml_status dml_heartbeat_open(const char *root, int rank,
                              const dml_heartbeat_run *run,
                              dml_heartbeat **out, dml_error *err);

/* Record the step in progress and the state ("running" or "ckpt"). */
void dml_heartbeat_step(dml_heartbeat *hb, int64_t step, const char *state);

/* Record the final step and state ("finished" or "failed"), restore the
 * signal handlers, unlock and close. hb may be NULL. */
void dml_heartbeat_close(dml_heartbeat *hb, int64_t step, const char *state);

/* Read every rank file under root (none: count 0) and test its lock. */
dml_status dml_heartbeat_scan(const char *root, dml_heartbeat_report *rep,
                              dml_error *err);
void dml_heartbeat_report_free(dml_heartbeat_report *rep);

/* The first rank whose process is still alive, or NULL. */
const dml_heartbeat_rank *
dml_heartbeat_report_alive(const dml_heartbeat_report *rep);

/*
 * Did the job of rep die (files present, no process alive, some rank
 * neither finished nor failed)? Then *rank gets the one rank that died
 * first (-1 when that is not one rank), *step its step in progress, and
 * msg one sentence naming the ranks, their pid and host, and the step.
 */
bool dml_heartbeat_report_died(const dml_heartbeat_report *rep, int *rank,
                               int64_t *step, char *msg, size_t size);

/* Remove the rank files under root (after a report has been recorded):
 * regular files only; anything else of that name is left for
 * dml_heartbeat_open to refuse. */
dml_status dml_heartbeat_clear(const char *root, dml_error *err);

#endif
