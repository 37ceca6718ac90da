/*
 * progress.c: the redrawn progress line (see progress.h).
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

void dml_progress_begin(dml_progress *p, const char *label, long total,
                        bool want)
{
    memset(p, 0, sizeof *p);
    p->enabled = want && isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total;
    dml_progress_step(p, 0, NULL);
}

void dml_progress_step(dml_progress *p, long done, const char *what)
{
    p->done = done;
    if (!p->enabled)
        return;
    double now = dml_clock_now_s();
    /* Ten redraws a second are plenty and keep a slow terminal cheap. */
    if (done != 0 && done != p->total && now - p->last_draw < 0.1)
        return;
    p->last_draw = now;
    if (p->total > 0)
        fprintf(stderr, "\r\033[K%s [%ld/%ld] %3.0f%% %s", p->label, done,
                p->total, 100.0 * (double)done / (double)p->total,
                what ? what : "");
    else
        fprintf(stderr, "\r\033[K%s %s", p->label, what ? what : "");
    fflush(stderr);
}

void dml_progress_end(dml_progress *p)
{
    if (!p->enabled)
        return;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
    p->enabled = false;
}
