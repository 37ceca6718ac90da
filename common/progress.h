/*
 * progress.h: progress of long work on stderr.
 *
 * On a terminal, one line redrawn in place and erased at the end. Where
 * the stream is not a terminal (a log file, stderr forwarded by mpirun or
 * Slurm), dml_progress_begin shows nothing, so that scripts and logs stay
 * clean; a tool whose work runs for minutes asks for plain lines instead
 * with dml_progress_begin_lines: one line of text at the first phase and
 * then one every interval, with no carriage return or escape sequence, naming
 * the phase, what is being done, the time elapsed and, where the phase's
 * amount of work is known, about how long the phase has left:
 *
 *   dml-probe: progress: 12 s: collectives intra_node [14/35] allreduce
 *   1 MiB, about 9 s left in this phase
 *
 * A ticker thread prints the plain lines, so a single long step (a GEMM
 * sweep, a collective on a slow link) does not fall silent; the calls
 * below only update what it prints. The thread blocks every signal, so
 * the tools' handlers run on the threads they expect.
 *
 * Every function accepts NULL and a disabled progress, and does nothing.
 */
#ifndef DML_PROGRESS_H
#define DML_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct dml__progress_ticker;

typedef struct dml_progress {
    bool enabled;     /* progress is shown (redrawn or plain lines) */
    bool lines;       /* plain lines rather than a redrawn line */
    FILE *out;        /* where it goes (stderr unless the caller chose) */
    char label[64];   /* who is working ("dml-probe", "tuning") */
    char phase[64];   /* the current phase ("STREAM"), or "" */
    char what[96];    /* the current step ("allreduce 1 MiB"), or "" */
    long total;       /* units of work in the phase, or 0 when unknown */
    long done;        /* units finished in the phase */
    double started_s;       /* monotonic time of begin, s */
    double phase_started_s; /* monotonic time the phase began, s */
    double last_draw;       /* monotonic time of the last redraw, s */
    double interval_s;      /* plain lines: seconds between lines */
    struct dml__progress_ticker *ticker; /* the plain-line thread, or NULL */
} dml_progress;

/* Redrawn line on stderr when it is a terminal and want is true (e.g.
 * false for --quiet); nothing otherwise. */
void dml_progress_begin(dml_progress *p, const char *label, long total,
                        bool want);

/*
 * Progress on out (normally stderr) whenever want is true: redrawn when
 * out is a terminal, else plain lines: the first at the first
 * dml_progress_phase (or interval_s after begin if none comes), then one
 * every interval_s (5 s is the tools' choice), printed by whichever
 * thread finds one due: the caller at a change of phase or step, the
 * ticker while the caller is busy. Without a ticker (pthread_create
 * failed) the caller's calls alone print them.
 */
void dml_progress_begin_lines(dml_progress *p, FILE *out, const char *label,
                              bool want, double interval_s);

/* A new phase of total units (0: unknown); done restarts at 0 and the
 * estimate of what is left restarts with the phase's own clock. */
void dml_progress_phase(dml_progress *p, const char *phase, long total);

/* done units of the phase are finished; what (NULL: keep) is under way. */
void dml_progress_step(dml_progress *p, long done, const char *what);

/* what is under way now; done is unchanged. */
void dml_progress_doing(dml_progress *p, const char *what);

/* One more unit of the phase is finished. */
void dml_progress_advance(dml_progress *p);

/* Stop: erase the redrawn line, or stop the ticker (no line after it). */
void dml_progress_end(dml_progress *p);

/*
 * The plain line for p's state at monotonic time now_s, without the
 * newline: "<label>: progress: <elapsed>: <phase> [done/total] <what>,
 * about <s> left in this phase". The estimate is the phase's time per
 * unit so far times the units left, given once a unit is done. snprintf
 * semantics; returns the whole length.
 */
size_t dml_progress_format_line(const dml_progress *p, double now_s,
                                char *buf, size_t size);

#endif
