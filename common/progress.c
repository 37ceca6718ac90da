/*
 * progress.c: the redrawn progress line and the plain lines of a ticker
 * thread (see progress.h).
 *
 * The ticker and the working thread share the dml_progress fields under
 * the ticker's mutex; without a ticker there is one thread and no lock.
 */
#include "progress.h"

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct dml__progress_ticker {
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* signalled to stop the thread early */
    pthread_t thread;
    bool stop;          /* dml_progress_end asked the thread to stop */
    dml_progress *p;    /* the state the lines are made of */
};

static void lock(dml_progress *p)
{
    if (p->ticker)
        pthread_mutex_lock(&p->ticker->mu);
}

static void unlock(dml_progress *p)
{
    if (p->ticker)
        pthread_mutex_unlock(&p->ticker->mu);
}

/* "12 s", "3 min 05 s": a log is read by people. */
static void say_seconds(double s, char *buf, size_t size)
{
    if (!(s >= 0) || !isfinite(s))
        s = 0;
    if (s < 60)
        snprintf(buf, size, "%.0f s", s);
    else
        snprintf(buf, size, "%.0f min %02.0f s", floor(s / 60),
                 floor(fmod(s, 60)));
}

size_t dml_progress_format_line(const dml_progress *p, double now_s,
                                char *buf, size_t size)
{
    char elapsed[32], left[32];
    say_seconds(now_s - p->started_s, elapsed, sizeof elapsed);
    char count[48] = "";
    if (p->total > 0)
        snprintf(count, sizeof count, " [%ld/%ld]", p->done, p->total);
    char estimate[80] = "";
    if (p->total > 0 && p->done > 0 && p->done < p->total) {
        double t = (now_s - p->phase_started_s) / (double)p->done *
                   (double)(p->total - p->done);
        if (t < 1)
            snprintf(estimate, sizeof estimate,
                     ", less than a second left in this phase");
        else {
            say_seconds(t, left, sizeof left);
            snprintf(estimate, sizeof estimate,
                     ", about %s left in this phase", left);
        }
    }
    int n = snprintf(buf, size, "%s: progress: %s%s%s%s%s%s", p->label,
                     elapsed, p->phase[0] ? ": " : "", p->phase, count,
                     p->what[0] ? " " : "", p->what);
    size_t len = n > 0 ? (size_t)n : 0;
    int m = snprintf(buf && len < size ? buf + len : NULL,
                     buf && len < size ? size - len : 0, "%s", estimate);
    return len + (m > 0 ? (size_t)m : 0);
}

/* One plain line; the caller holds the lock (or there is no ticker). */
static void print_line(dml_progress *p, double now)
{
    char line[512];
    dml_progress_format_line(p, now, line, sizeof line);
    /* What comes from the caller is the caller's own text (phase names,
     * sizes), but keep the promise of no escapes whatever it holds. */
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    fprintf(p->out, "%s\n", line);
    fflush(p->out);
    p->last_draw = now;
}

static void redraw(dml_progress *p, double now)
{
    p->last_draw = now;
    char name[sizeof p->label + sizeof p->phase + 1];
    snprintf(name, sizeof name, "%s%s%s", p->label, p->phase[0] ? " " : "",
             p->phase);
    if (p->total > 0)
        fprintf(p->out, "\r\033[K%s [%ld/%ld] %3.0f%% %s", name, p->done,
                p->total, 100.0 * (double)p->done / (double)p->total,
                p->what);
    else
        fprintf(p->out, "\r\033[K%s %s", name, p->what);
    fflush(p->out);
}

/* After a change of state: redraw a terminal at most ten times a second
 * (cheap on a slow terminal); plain lines are the ticker's, unless it
 * could not start. */
static void show(dml_progress *p, bool force)
{
    double now = dml_clock_now_s();
    if (!p->lines) {
        if (force || now - p->last_draw >= 0.1)
            redraw(p, now);
    } else if (now - p->last_draw >= p->interval_s) {
        /* Due: the working thread prints at a change of state, the ticker
         * while the work is stuck in one step; last_draw keeps them from
         * both printing in one interval. */
        print_line(p, now);
    }
}

static void *ticker_main(void *arg)
{
    struct dml__progress_ticker *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        /* The first line is the first phase's, when it comes in time. */
        double next = fmax(t->p->last_draw, t->p->started_s) +
                      t->p->interval_s;
        double wait = next - dml_clock_now_s();
        if (wait > 0) {
            struct timespec at;
            clock_gettime(CLOCK_MONOTONIC, &at);
            double whole = floor(wait);
            at.tv_sec += (time_t)whole;
            at.tv_nsec += (long)((wait - whole) * 1e9);
            if (at.tv_nsec >= 1000000000L) {
                at.tv_sec++;
                at.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&t->cv, &t->mu, &at);
            continue;
        }
        print_line(t->p, dml_clock_now_s());
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

static void start_ticker(dml_progress *p)
{
    struct dml__progress_ticker *t = calloc(1, sizeof *t);
    if (!t)
        return;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    t->p = p;
    /* The thread inherits the mask: block everything while creating it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, ticker_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return;
    }
    p->ticker = t;
}

static void init(dml_progress *p, FILE *out, const char *label, long total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->total = total;
    p->started_s = p->phase_started_s = dml_clock_now_s();
}

void dml_progress_begin(dml_progress *p, const char *label, long total,
                        bool want)
{
    if (!p)
        return;
    init(p, stderr, label, total);
    p->enabled = want && isatty(STDERR_FILENO);
    if (p->enabled)
        show(p, true);
}

void dml_progress_begin_lines(dml_progress *p, FILE *out, const char *label,
                              bool want, double interval_s)
{
    if (!p)
        return;
    init(p, out ? out : stderr, label, 0);
    p->enabled = want;
    if (!want)
        return;
    p->lines = !isatty(fileno(p->out));
    p->interval_s = interval_s > 0 ? interval_s : 5.0;
    if (!p->lines) {
        show(p, true);
        return;
    }
    /* Due at once: the first phase (or the ticker, interval_s from now
     * when no phase comes) prints the first line. */
    p->last_draw = p->started_s - p->interval_s;
    start_ticker(p);
}

void dml_progress_phase(dml_progress *p, const char *phase, long total)
{
    if (!p || !p->enabled)
        return;
    lock(p);
    snprintf(p->phase, sizeof p->phase, "%s", phase ? phase : "");
    p->what[0] = '\0';
    p->total = total;
    p->done = 0;
    p->phase_started_s = dml_clock_now_s();
    show(p, true);
    unlock(p);
}

void dml_progress_step(dml_progress *p, long done, const char *what)
{
    if (!p)
        return;
    if (!p->enabled) {
        p->done = done;
        return;
    }
    lock(p);
    p->done = done;
    if (what)
        snprintf(p->what, sizeof p->what, "%s", what);
    show(p, done == 0 || done == p->total);
    unlock(p);
}

void dml_progress_doing(dml_progress *p, const char *what)
{
    if (!p || !p->enabled)
        return;
    lock(p);
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    show(p, false);
    unlock(p);
}

void dml_progress_advance(dml_progress *p)
{
    if (!p)
        return;
    if (!p->enabled) {
        p->done++;
        return;
    }
    lock(p);
    p->done++;
    show(p, p->done == p->total);
    unlock(p);
}

void dml_progress_end(dml_progress *p)
{
    if (!p || !p->enabled)
        return;
    struct dml__progress_ticker *t = p->ticker;
    if (t) {
        pthread_mutex_lock(&t->mu);
        t->stop = true;
        pthread_cond_signal(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->thread, NULL);
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        p->ticker = NULL;
    } else if (!p->lines) {
        fprintf(p->out, "\r\033[K");
        fflush(p->out);
    }
    p->enabled = false;
}
