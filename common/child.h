/*
 * child.h: running a program as a child and waiting for it, with its
 * output captured, a time limit, and SIGINT/SIGTERM to us passed on, so
 * that nothing it started outlives it.
 *
 * The child runs in a process group of its own with stdin from /dev/null
 * and stdout and stderr into pipes read while it runs (stdout keeps its
 * first bytes, stderr its last). Its life as the poll loop sees it:
 *
 *   running  --time limit, spec->tick, or SIGINT/SIGTERM to us-->
 *            terminating:
 *            SIGTERM to the child's process group (mpirun forwards it
 *            to the ranks, each in a group of its own, and waits for
 *            them; a rank given a second SIGTERM directly would die
 *            before recording its run, so we do not)
 *   terminating  --grace passed, or a second signal to us-->  killed:
 *            SIGKILL to the group and to every descendant listed
 *   child exited: done once the output is read and no descendant listed
 *            is alive; descendants that outlive the child (orphans, e.g.
 *            after a launcher crash) are terminated and killed the same
 *            way.
 *
 * Descendants are listed from /proc (proctree.h) while the child runs, so
 * that they can still be found after it is gone. Linux only.
 */
#ifndef DML_CHILD_H
#define DML_CHILD_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef struct dml_child_spec {
    char *const *argv;   /* program (a path, or a name looked up on $PATH)
                            and its arguments, NULL-terminated */
    double timeout_s;    /* stop it after this long, s; 0: no limit */
    double term_grace_s; /* SIGTERM to SIGKILL, s (> 0) */
    size_t stdout_max;   /* bytes of stdout kept (the first ones) */
    size_t stderr_max;   /* bytes of stderr kept (the last ones) */
    bool pass_output;    /* stdout and stderr are ours, nothing captured
                            (the *_max are then unused) */
    /* Called at every turn of the poll loop while the child runs (at
     * least ten times a second; NULL: never): true stops the child as a
     * time limit does (DML_CHILD_STOPPED). dml-run watches heartbeat
     * files this way. */
    bool (*tick)(void *ctx, double now);
    void *tick_ctx;
} dml_child_spec;

/* Why the child ended. */
typedef enum dml_child_stop {
    DML_CHILD_EXITED = 0,  /* by itself: see wstatus */
    DML_CHILD_TIMEOUT,     /* stopped at the time limit */
    DML_CHILD_INTERRUPTED, /* stopped because we were signalled */
    DML_CHILD_STOPPED,     /* stopped because spec->tick said so */
} dml_child_stop;

typedef struct dml_child_result {
    dml_child_stop stop; /* why it ended */
    int wstatus;         /* waitpid's status of the child */
    double wall_s;       /* from start to reaped, s */
    char *out;           /* stdout, NUL-terminated (NULL: none) */
    bool out_truncated;  /* stdout longer than stdout_max */
    char *err;           /* the tail of stderr, NUL-terminated (NULL:
                            none) */
    size_t err_len;      /* its bytes, NUL not counted */
} dml_child_result;

/*
 * Start spec->argv and wait until it and its descendants are gone. A
 * program that is not there is DML_ENOTFOUND ("cannot start 'x': ..."),
 * a failed pipe or spawn DML_ERUNTIME; otherwise DML_OK with *r filled
 * (free with dml_child_result_free), whatever the child's fate.
 */
dml_status dml_child_run(const dml_child_spec *spec, dml_child_result *r,
                         dml_error *err);

void dml_child_result_free(dml_child_result *r);

#endif
