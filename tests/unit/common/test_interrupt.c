/*
 * test_interrupt.c: SIGINT/SIGTERM for the tools (common/interrupt.h) and
 * the processes a child started (common/proctree.h). The exit mode ends
 * its process, so each of its cases runs in a child whose stderr is a
 * pipe read back here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "common/interrupt.h"
#include "common/proctree.h"

/* Whatever the test runner left us: the defaults, as a terminal's
 * foreground job has them. */
static int defaults(void **state)
{
    (void)state;
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return 0;
}

static void note_mode_only_notes(void **state)
{
    (void)state;
    assert_int_equal(dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL),
                     0);
    assert_int_equal(dml_interrupt_signal(), 0);
    raise(SIGTERM);
    assert_int_equal(dml_interrupt_signal(), SIGTERM);
    assert_int_equal(dml_interrupt_count(), 1);
    /* the second is counted ("stop now"); the first stays the one named */
    raise(SIGINT);
    assert_int_equal(dml_interrupt_signal(), SIGTERM);
    assert_int_equal(dml_interrupt_count(), 2);
    /* installing again starts afresh */
    assert_int_equal(dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL),
                     0);
    assert_int_equal(dml_interrupt_signal(), 0);
    dml_interrupt_restore();
    assert_int_equal(dml_interrupt_signal(), 0);
    /* restored: the disposition found before (default) is back */
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
    assert_string_equal(dml_interrupt_name(SIGINT), "SIGINT");
    assert_string_equal(dml_interrupt_name(SIGTERM), "SIGTERM");
    assert_int_equal(dml_interrupt_exit_code(SIGINT), 130);
    assert_int_equal(dml_interrupt_exit_code(SIGTERM), 143);
}

/* A signal ignored at the start (a script's background job) stays so. */
static void ignored_stays_ignored(void **state)
{
    (void)state;
    signal(SIGINT, SIG_IGN);
    assert_int_equal(dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL),
                     0);
    raise(SIGINT);
    assert_int_equal(dml_interrupt_signal(), 0);
    raise(SIGTERM);
    assert_int_equal(dml_interrupt_signal(), SIGTERM);
    dml_interrupt_restore();
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    assert_true(sa.sa_handler == SIG_IGN);
    signal(SIGINT, SIG_DFL);
}

/* Run body in a child with stderr on a pipe; its wait status and what it
 * wrote on stderr. */
static int in_child(void (*body)(int arg), int arg, char *text, size_t size)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], STDERR_FILENO);
        body(arg);
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(p[0], text + n, size - 1 - n)) > 0)
        n += (size_t)r;
    text[n] = '\0';
    close(p[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void raise_in_exit_mode(int sig)
{
    dml_interrupt_install(DML_INTERRUPT_EXIT, "tool", "nothing recorded");
    raise(sig);
    _exit(99); /* not reached */
}

static void exit_mode_says_one_line_and_exits(void **state)
{
    (void)state;
    char text[512];
    int st = in_child(raise_in_exit_mode, SIGTERM, text, sizeof text);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    assert_string_equal(text, "tool: interrupted by SIGTERM; nothing "
                              "recorded\n");
    st = in_child(raise_in_exit_mode, SIGINT, text, sizeof text);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 130);
    assert_string_equal(text, "tool: interrupted by SIGINT; nothing "
                              "recorded\n");
}

/* A rank other than 0: no line, the same exit status. */
static void silent_rank(int sig)
{
    dml_interrupt_install(DML_INTERRUPT_EXIT, NULL, "nothing recorded");
    raise(sig);
    _exit(99);
}

/* Once recording has begun, the signal waits for it. */
static void deferred(int sig)
{
    dml_interrupt_install(DML_INTERRUPT_EXIT, "tool", "nothing recorded");
    if (!dml_interrupt_defer())
        _exit(98);
    raise(sig);
    /* still here: the record goes on, then the tool reports and stops */
    fprintf(stderr, "recorded, then stopped by %d\n",
            dml_interrupt_signal());
    _exit(dml_interrupt_exit_code(dml_interrupt_signal()));
}

static void exit_mode_silent_and_deferred(void **state)
{
    (void)state;
    char text[512];
    int st = in_child(silent_rank, SIGTERM, text, sizeof text);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    assert_string_equal(text, "");
    st = in_child(deferred, SIGTERM, text, sizeof text);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 143);
    char want[64];
    snprintf(want, sizeof want, "recorded, then stopped by %d\n", SIGTERM);
    assert_string_equal(text, want);
}

/* ---- proctree ---- */

static bool gone(pid_t pid)
{
    for (int i = 0; i < 100; i++) {
        char st = dml_proc_state(pid);
        if (st == 0 || st == 'Z')
            return true;
        usleep(20000);
    }
    return false;
}

/* A child that starts a grandchild in a process group of its own (as
 * mpirun does with each rank) and then waits. */
static void lists_and_stops_a_launchers_descendants(void **state)
{
    (void)state;
    /* orphans come to us, so that we can reap them */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t launcher = fork();
    assert_true(launcher >= 0);
    if (launcher == 0) {
        pid_t rank = fork();
        if (rank == 0) {
            setpgid(0, 0);
            for (;;)
                pause();
        }
        ssize_t w = write(p[1], &rank, sizeof rank);
        (void)w;
        for (;;)
            pause();
    }
    pid_t rank = 0;
    assert_int_equal(read(p[0], &rank, sizeof rank), (ssize_t)sizeof rank);
    close(p[0]);
    close(p[1]);
    dml_proctree t;
    dml_proctree_init(&t);
    assert_int_equal(dml_proctree_add_descendants(&t, launcher), 1);
    assert_int_equal(t.p[0].pid, rank);
    /* listing again adds nothing twice */
    assert_int_equal(dml_proctree_add_descendants(&t, launcher), 1);
    assert_int_equal(dml_proctree_alive(&t), 1);
    /* the launcher killed: the rank runs on, in its own group */
    kill(-launcher, SIGKILL);
    kill(launcher, SIGKILL);
    assert_int_equal(waitpid(launcher, NULL, 0), launcher);
    assert_int_equal(dml_proctree_alive(&t), 1);
    /* found still, and stopped */
    assert_int_equal(dml_proctree_signal(&t, SIGKILL), 1);
    assert_true(gone(rank));
    assert_int_equal(dml_proctree_alive(&t), 0);
    waitpid(rank, NULL, 0);
    assert_int_equal(dml_proctree_alive(&t), 0);
    assert_int_equal(dml_proctree_signal(&t, SIGKILL), 0);
    /* a process with no children has no descendants */
    dml_proctree_init(&t);
    assert_int_equal(dml_proctree_add_descendants(&t, getpid()), 0);
    prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* ---- child ---- */

/* A child's output, its exit status and a missing program; a child that
 * outlives its time limit stopped with its own child, and stderr kept by
 * its tail. */
static void child_runs_to_its_end_or_its_limit(void **state)
{
    (void)state;
    char *ok[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    dml_child_spec cs = {.argv = ok, .term_grace_s = 1,
                         .stdout_max = 1024, .stderr_max = 2};
    dml_child_result r;
    dml_error err;
    assert_int_equal(dml_child_run(&cs, &r, &err), DML_OK);
    assert_int_equal(r.stop, DML_CHILD_EXITED);
    assert_true(WIFEXITED(r.wstatus) && WEXITSTATUS(r.wstatus) == 3);
    assert_string_equal(r.out, "out\n");
    assert_false(r.out_truncated);
    assert_string_equal(r.err, "r\n"); /* the last 2 bytes of "err\n" */
    assert_int_equal(r.err_len, 2);
    dml_child_result_free(&r);

    char *slow[] = {"sh", "-c", "sleep 30 & wait", NULL};
    cs.argv = slow;
    cs.timeout_s = 0.3;
    assert_int_equal(dml_child_run(&cs, &r, &err), DML_OK);
    assert_int_equal(r.stop, DML_CHILD_TIMEOUT);
    assert_true(WIFSIGNALED(r.wstatus));
    dml_child_result_free(&r);

    char *none[] = {"/nonexistent/dml-no-such-program", NULL};
    cs.argv = none;
    assert_int_equal(dml_child_run(&cs, &r, &err), DML_ENOTFOUND);
    assert_non_null(strstr(err.msg, "cannot start"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(note_mode_only_notes),
        cmocka_unit_test(ignored_stays_ignored),
        cmocka_unit_test(exit_mode_says_one_line_and_exits),
        cmocka_unit_test(exit_mode_silent_and_deferred),
        cmocka_unit_test(lists_and_stops_a_launchers_descendants),
        cmocka_unit_test(child_runs_to_its_end_or_its_limit),
    };
    return cmocka_run_group_tests(tests, defaults, NULL);
}
