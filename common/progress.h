/*
 * progress.h: a one-line progress indicator on stderr for long work.
 *
 * Shown only when stderr is a terminal, so scripts and logs stay clean; the
 * line is redrawn in place and erased at the end.
 */
#ifndef DML_PROGRESS_H
#define DML_PROGRESS_H

#include <stdbool.h>

typedef struct dml_progress {
    bool enabled;     /* stderr is a terminal and progress was wanted */
    char label[64];   /* what is being done ("probing memory bandwidth") */
    long total;       /* units of work, or 0 when unknown */
    long done;        /* units finished */
    double last_draw; /* monotonic seconds of the last redraw */
} dml_progress;

/* want = false (e.g. --quiet or --json to a terminal) disables it. */
void dml_progress_begin(dml_progress *p, const char *label, long total,
                        bool want);
void dml_progress_step(dml_progress *p, long done, const char *what);
void dml_progress_end(dml_progress *p);

#endif
