/*
 * interrupt.c: SIGINT and SIGTERM for tools that do long work (see
 * interrupt.h).
 */
#include "interrupt.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What the exit-mode handler may do; changed only by compare-and-swap. */
enum { RUNNING, DEFERRED, EXITING };

/* A handler may run in any thread: the word must be lock-free to be
 * touched from one. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic int must be lock-free");

static volatile sig_atomic_t noted;   /* first signal caught, 0 if none */
static volatile sig_atomic_t caught;  /* signals caught */
static atomic_int state = RUNNING;
static dml_interrupt_mode mode;
static bool installed;
static const int signals[] = {SIGINT, SIGTERM};
#define NSIG_CAUGHT ((int)(sizeof signals / sizeof signals[0]))
static struct sigaction previous[NSIG_CAUGHT];
/* The exit-mode lines, one per signal of signals[], built beforehand. */
static char lines[NSIG_CAUGHT][512];
static size_t line_len[NSIG_CAUGHT];

static void note(int sig)
{
    if (!noted)
        noted = sig;
    if (caught < 1000)
        caught++;
}

static void on_signal(int sig)
{
    if (mode == DML_INTERRUPT_NOTE) {
        note(sig);
        return;
    }
    int expected = RUNNING;
    if (!atomic_compare_exchange_strong(&state, &expected, EXITING)) {
        note(sig); /* inside a section, or already on the way out */
        return;
    }
    for (int i = 0; i < NSIG_CAUGHT; i++)
        if (signals[i] == sig && line_len[i] > 0) {
            ssize_t w = write(STDERR_FILENO, lines[i], line_len[i]);
            (void)w;
        }
    _exit(dml_interrupt_exit_code(sig));
}

const char *dml_interrupt_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
}

int dml_interrupt_exit_code(int sig) { return 128 + sig; }

int dml_interrupt_install(dml_interrupt_mode m, const char *program,
                          const char *after)
{
    if (installed)
        dml_interrupt_restore();
    mode = m;
    noted = 0;
    caught = 0;
    atomic_store(&state, RUNNING);
    for (int i = 0; i < NSIG_CAUGHT; i++) {
        line_len[i] = 0;
        if (m == DML_INTERRUPT_EXIT && program) {
            /* On a terminal, over the progress line if one is drawn. */
            int n = snprintf(lines[i], sizeof lines[i],
                             "%s%s: interrupted by %s%s%s\n",
                             isatty(STDERR_FILENO) ? "\r\033[K" : "",
                             program,
                             dml_interrupt_name(signals[i]),
                             after && after[0] ? "; " : "",
                             after ? after : "");
            line_len[i] = n < 0 ? 0
                                : (size_t)n < sizeof lines[i]
                                      ? (size_t)n
                                      : sizeof lines[i] - 1;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    /* One handler at a time: a SIGINT arriving while the SIGTERM handler
     * runs waits for it. */
    for (int i = 0; i < NSIG_CAUGHT; i++)
        sigaddset(&sa.sa_mask, signals[i]);
    for (int i = 0; i < NSIG_CAUGHT; i++) {
        if (sigaction(signals[i], NULL, &previous[i]) != 0) {
            for (int j = 0; j < i; j++)
                sigaction(signals[j], &previous[j], NULL);
            return -1;
        }
        /* Ignored when we started (a background job of a script, whose
         * shell wants Ctrl-C to spare it): stays ignored. */
        if (previous[i].sa_handler == SIG_IGN &&
            !(previous[i].sa_flags & SA_SIGINFO))
            continue;
        sigaction(signals[i], &sa, NULL);
    }
    installed = true;
    return 0;
}

void dml_interrupt_restore(void)
{
    if (installed)
        for (int i = 0; i < NSIG_CAUGHT; i++)
            sigaction(signals[i], &previous[i], NULL);
    installed = false;
    noted = 0;
    caught = 0;
    atomic_store(&state, RUNNING);
}

int dml_interrupt_signal(void) { return (int)noted; }

int dml_interrupt_count(void) { return (int)caught; }

bool dml_interrupt_defer(void)
{
    int expected = RUNNING;
    return atomic_compare_exchange_strong(&state, &expected, DEFERRED) ||
           expected == DEFERRED;
}
