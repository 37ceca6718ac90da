/*
 * proctree.h: the processes a child started, found in /proc, so that all
 * of them can be stopped.
 *
 * Signalling a child's process group is not enough to stop a job it
 * launched: Open MPI's mpirun puts every rank in a process group of its
 * own (a rank's pgid is its pid), and a launcher ended by SIGKILL leaves
 * its ranks running, reparented to init, where nothing waits for them.
 * So the launcher's descendants are listed while it still holds them (a
 * process whose chain of parents leads to the root, read from
 * /proc/PID/stat), kept in a set, and signalled directly. A process is
 * named by its pid and its start time, so a pid the kernel has since given
 * to another process is never signalled; a zombie counts as gone.
 *
 * Linux only (/proc), as the rest of dml's process handling is.
 */
#ifndef DML_PROCTREE_H
#define DML_PROCTREE_H

#include <stdbool.h>
#include <sys/types.h>

/* Processes a set holds at most; a job of one machine's ranks and their
 * helpers is far below it. */
#define DML_PROCTREE_MAX 256

typedef struct dml_proctree {
    int n;                       /* processes held */
    bool full;                   /* some were left out (DML_PROCTREE_MAX) */
    struct {
        pid_t pid;               /* process id */
        unsigned long long start; /* start time, clock ticks after boot */
    } p[DML_PROCTREE_MAX];
} dml_proctree;

void dml_proctree_init(dml_proctree *t);

/* Add root's descendants alive now (not root itself) to t, keeping what
 * t holds; returns how many t holds. */
int dml_proctree_add_descendants(dml_proctree *t, pid_t root);

/* Send sig to every process of t that is still alive (same pid, same
 * start time, not a zombie); returns how many were. */
int dml_proctree_signal(const dml_proctree *t, int sig);

/* How many processes of t are alive. */
int dml_proctree_alive(const dml_proctree *t);

/* The state letter /proc/PID/stat gives pid ('R', 'S', 'Z' for a zombie,
 * ...), or 0 when there is no such process (or it cannot be read). */
char dml_proc_state(pid_t pid);

#endif
