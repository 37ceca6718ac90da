/*
 * interrupt.h: SIGINT and SIGTERM for tools that do long work.
 *
 * A tool that has something to tidy before it stops installs the handlers
 * in DML_INTERRUPT_NOTE mode: a handler only notes the signal (a store to
 * a sig_atomic_t, async-signal-safe) and the tool's loops read
 * dml_interrupt_signal() at their next safe point (dml-plan --tune: the
 * poll loop of a trial terminates the trial's processes and records it as
 * interrupted). A second signal is noted too (dml_interrupt_count), so a
 * loop can skip its grace periods when the user insists; the process is
 * never ended from inside the handler in this mode, since that would
 * leave the very things the handler exists to tidy.
 *
 * A tool with nothing to tidy while it works, only at the end, uses
 * DML_INTERRUPT_EXIT (dml-probe: it measures for minutes and records in
 * one transaction at the end): the handler writes a line prepared at
 * installation and ends the process with _exit(128 + signal) at once.
 * Once the tool has begun to record (dml_interrupt_defer), a signal is
 * only noted; the tool finishes, reads dml_interrupt_signal() and stops.
 * A three-state word, changed by compare-and-swap, decides between the
 * handler (in whatever thread the kernel picked) and the recording, so
 * recording never begins in a process that is already exiting, and the
 * line never says "nothing recorded" about a process that recorded.
 *
 * A signal that was ignored when the tool started stays ignored (a shell
 * starts the background jobs of a script with SIGINT ignored, so that
 * Ctrl-C meant for the script spares them; nohup-like wrappers do the
 * same). The exit status after a signal is 128 + its number (130 for
 * SIGINT, 143 for SIGTERM), what a shell shows for a process the signal
 * ended.
 * Handlers are installed with SA_RESTART: reads and writes in progress
 * carry on; poll() and sleeps return early, which is what wakes a loop.
 */
#ifndef DML_INTERRUPT_H
#define DML_INTERRUPT_H

#include <stdbool.h>

typedef enum dml_interrupt_mode {
    DML_INTERRUPT_NOTE, /* note the signal; the tool polls */
    DML_INTERRUPT_EXIT, /* write the line, _exit(128 + signal) */
} dml_interrupt_mode;

/*
 * Catch SIGINT and SIGTERM in mode. In DML_INTERRUPT_EXIT, the line
 * written on stderr is "PROGRAM: interrupted by SIGTERM; AFTER\n" (no line
 * when program is NULL: under mpirun only one rank speaks); it is built
 * here, since nothing that formats may run in a handler. Installing again
 * replaces the mode and clears what was noted. 0, or -1 when sigaction
 * failed.
 */
int dml_interrupt_install(dml_interrupt_mode mode, const char *program,
                          const char *after);

/* Put back the dispositions found at installation; clears the note. */
void dml_interrupt_restore(void);

/* The first SIGINT or SIGTERM caught since installation, 0 if none. */
int dml_interrupt_signal(void);

/* How many were caught (a second one means "stop now"). */
int dml_interrupt_count(void);

/* "SIGINT", "SIGTERM", else "signal". */
const char *dml_interrupt_name(int sig);

/* 128 + sig: the exit status a tool returns after sig. */
int dml_interrupt_exit_code(int sig);

/*
 * DML_INTERRUPT_EXIT mode: from here on a signal is only noted (the tool
 * has begun to record what it did, and finishes; it then reads
 * dml_interrupt_signal() and stops with the signal's exit status). false
 * when a handler has already begun to end the process, in another
 * thread: the caller must not begin.
 */
bool dml_interrupt_defer(void);

#endif
