/*
 * test_heartbeat: the per-rank state files of executor/heartbeat.h, with
 * real processes (fork) and real signals:
 *   - a live rank holds its file's lock (another process sees it alive);
 *     killed with SIGKILL it leaves "running" at its step, unlocked;
 *   - SIGTERM rewrites the state to "stopped" and still ends the process
 *     by SIGTERM; SIGCONT marks "stopped" and the next step "running";
 *   - dml_heartbeat_report_died names the one silent rank among stopped
 *     ones, or several, or none, and says nothing of a finished job;
 *   - a second process cannot open the same rank's file while it is held;
 *   - a file whose numbers are not numbers ("step 12abc") or that holds a
 *     NUL byte is not a rank file (issue 10: read as 12, or cut short);
 *   - a FIFO, a link to a device or a link to a file of the user's under
 *     the rank file's name is refused with one line saying what it is,
 *     and left as it was: the FIFO not removed, the linked file not
 *     truncated, the device not opened (issue 13).
 */
#include "tests/support/unit.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "executor/heartbeat.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/dml-test-hb-XXXXXX");
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    dml_error err;
    dml_heartbeat_clear(root, &err);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/ranks", root);
    rmdir(dir);
    rmdir(root);
    return 0;
}

static dml_heartbeat_run the_run(void)
{
    dml_heartbeat_run run;
    memset(&run, 0, sizeof run);
    run.run_id = 7;
    run.world = 4;
    snprintf(run.db, sizeof run.db, "/data/dml.db");
    snprintf(run.started_at, sizeof run.started_at, "2026-01-02T03:04:05Z");
    return run;
}

/* A child that opens rank's file, reaches step, writes "r" to the pipe
 * and waits for signals; after a SIGCONT it waits for a byte on go_fd,
 * does one more step and writes "c". */
static volatile sig_atomic_t continued;
static void on_cont(int sig)
{
    (void)sig;
    continued = 1;
}

static pid_t spawn_rank(int rank, int64_t step, int *ready_fd, int *go_fd)
{
    int p[2], g[2];
    if (pipe(p) != 0 || pipe(g) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        close(g[1]);
        /* Installed before the heartbeat's, which chains to it. */
        signal(SIGCONT, on_cont);
        dml_heartbeat_run run = the_run();
        dml_heartbeat *hb = NULL;
        dml_error err;
        if (dml_heartbeat_open(root, rank, &run, &hb, &err) != DML_OK)
            _exit(3);
        dml_heartbeat_step(hb, step, "running");
        /* SIGCONT stays pending until sigsuspend, so that one sent right
         * after "r" is not lost before the wait begins. */
        sigset_t block, wait_mask;
        sigemptyset(&block);
        sigaddset(&block, SIGCONT);
        sigprocmask(SIG_BLOCK, &block, &wait_mask);
        sigdelset(&wait_mask, SIGCONT);
        if (write(p[1], "r", 1) != 1)
            _exit(4);
        for (;;) {
            sigsuspend(&wait_mask);
            if (continued) {
                char go;
                if (read(g[0], &go, 1) != 1)
                    _exit(5);
                continued = 0;
                dml_heartbeat_step(hb, ++step, "running");
                if (write(p[1], "c", 1) != 1)
                    _exit(4);
            }
        }
    }
    close(p[1]);
    close(g[0]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    *ready_fd = p[0];
    *go_fd = g[1];
    return pid;
}

static const dml_heartbeat_rank *rank_of(const dml_heartbeat_report *rep,
                                         int rank)
{
    for (int i = 0; i < rep->count; i++)
        if (rep->ranks[i].rank == rank)
            return &rep->ranks[i];
    return NULL;
}

static void killed_rank_is_named(void **state)
{
    (void)state;
    int fds[4], go[4];
    pid_t pids[4];
    for (int r = 0; r < 4; r++)
        pids[r] = spawn_rank(r, 13, &fds[r], &go[r]);
    dml_heartbeat_report rep;
    dml_error err;
    assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
    assert_int_equal(rep.count, 4);
    /* Every live rank holds its lock. */
    for (int r = 0; r < 4; r++)
        assert_true(rank_of(&rep, r)->alive);
    assert_non_null(dml_heartbeat_report_alive(&rep));
    int rank;
    int64_t step;
    char msg[512];
    assert_false(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                           sizeof msg));
    assert_int_equal(rep.run.run_id, 7);
    assert_string_equal(rep.run.db, "/data/dml.db");
    assert_int_equal(rep.run.world, 4);
    dml_heartbeat_report_free(&rep);

    /* A second process cannot take rank 2's file while it is held. */
    dml_heartbeat_run run = the_run();
    dml_heartbeat *hb = NULL;
    pid_t probe = fork();
    if (probe == 0)
        _exit(dml_heartbeat_open(root, 2, &run, &hb, &err) == DML_EINPUT
                  ? 0
                  : 1);
    int st;
    waitpid(probe, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* Rank 2 dies without a word; the launcher then stops the others
     * with SIGTERM (SIGTERM still ends them). */
    kill(pids[2], SIGKILL);
    waitpid(pids[2], &st, 0);
    for (int r = 0; r < 4; r++) {
        if (r == 2)
            continue;
        kill(pids[r], SIGTERM);
        waitpid(pids[r], &st, 0);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
        close(fds[r]);
        close(go[r]);
    }
    close(fds[2]);
    close(go[2]);
    assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
    assert_null(dml_heartbeat_report_alive(&rep));
    assert_string_equal(rank_of(&rep, 2)->state, "running");
    assert_string_equal(rank_of(&rep, 0)->state, "stopped");
    assert_int_equal(rank_of(&rep, 2)->step, 13);
    assert_int_equal(rank_of(&rep, 2)->pid, pids[2]);
    assert_true(rep.last_seen_at[0] != '\0');
    assert_true(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                          sizeof msg));
    assert_int_equal(rank, 2);
    assert_int_equal(step, 13);
    char want[128];
    snprintf(want, sizeof want, "rank 2 (pid %ld on ", (long)pids[2]);
    assert_non_null(strstr(msg, want));
    assert_non_null(strstr(msg, "died during step 13"));
    assert_non_null(strstr(msg, "the launcher then stopped ranks 0, 1 and 3"));
    dml_heartbeat_report_free(&rep);
}

static void sigcont_marks_stopped_until_the_next_step(void **state)
{
    (void)state;
    int fd, go;
    pid_t pid = spawn_rank(0, 5, &fd, &go);
    kill(pid, SIGCONT);
    /* The handler runs when the child is next scheduled: wait for it (the
     * child makes no step until told to). */
    dml_heartbeat_report rep;
    dml_error err;
    bool seen = false;
    for (int i = 0; i < 500 && !seen; i++) {
        assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
        const dml_heartbeat_rank *r = rank_of(&rep, 0);
        assert_non_null(r);
        seen = r && strcmp(r->state, "stopped") == 0;
        if (seen)
            assert_int_equal(r->step, 5);
        dml_heartbeat_report_free(&rep);
        if (!seen)
            usleep(10000);
    }
    assert_true(seen);
    assert_int_equal(write(go, "g", 1), 1);
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
    assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
    assert_string_equal(rank_of(&rep, 0)->state, "running");
    assert_int_equal(rank_of(&rep, 0)->step, 6);
    dml_heartbeat_report_free(&rep);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
    close(go);
}

static void reports_of_whole_jobs(void **state)
{
    (void)state;
    dml_heartbeat_rank ranks[3];
    memset(ranks, 0, sizeof ranks);
    dml_heartbeat_report rep;
    memset(&rep, 0, sizeof rep);
    rep.ranks = ranks;
    rep.count = 3;
    for (int r = 0; r < 3; r++) {
        ranks[r].rank = r;
        ranks[r].pid = 100 + r;
        snprintf(ranks[r].host, sizeof ranks[r].host, "n%d", r);
        ranks[r].step = 9 + r;
        snprintf(ranks[r].state, sizeof ranks[r].state, "running");
    }
    int rank;
    int64_t step;
    char msg[512];
    /* All silent: killed together; the earliest step. */
    assert_true(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                          sizeof msg));
    assert_int_equal(rank, -1);
    assert_int_equal(step, 9);
    assert_non_null(strstr(msg, "ranks 0, 1 and 2 died during step 9"));
    /* All stopped: cancelled. */
    for (int r = 0; r < 3; r++)
        snprintf(ranks[r].state, sizeof ranks[r].state, "stopped");
    assert_true(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                          sizeof msg));
    assert_int_equal(rank, -1);
    assert_non_null(strstr(msg, "every rank was stopped by a signal"));
    /* One died in a checkpoint write. */
    snprintf(ranks[1].state, sizeof ranks[1].state, "ckpt");
    assert_true(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                          sizeof msg));
    assert_int_equal(rank, 1);
    assert_int_equal(step, 10);
    assert_non_null(strstr(msg, "died while writing checkpoint step 10"));
    /* Finished or failed (recorded by the run itself): nothing to say. */
    for (int r = 0; r < 3; r++)
        snprintf(ranks[r].state, sizeof ranks[r].state,
                 r ? "finished" : "failed");
    assert_false(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                           sizeof msg));
    /* No files: nothing. */
    rep.count = 0;
    assert_false(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                           sizeof msg));
}

static void a_closed_heartbeat_says_finished(void **state)
{
    (void)state;
    dml_heartbeat_run run = the_run();
    dml_heartbeat *hb = NULL;
    dml_error err;
    assert_int_equal(dml_heartbeat_open(root, 3, &run, &hb, &err), DML_OK);
    dml_heartbeat_step(hb, 39, "running");
    dml_heartbeat_close(hb, 40, "finished");
    dml_heartbeat_report rep;
    assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
    const dml_heartbeat_rank *r = rank_of(&rep, 3);
    assert_non_null(r);
    assert_string_equal(r->state, "finished");
    assert_int_equal(r->step, 40);
    assert_false(r->alive);
    int rank;
    int64_t step;
    char msg[256];
    assert_false(dml_heartbeat_report_died(&rep, &rank, &step, msg,
                                           sizeof msg));
    dml_heartbeat_report_free(&rep);
}

/* Write text (n bytes) as rank 0's file under root. */
static void write_rank_file(const char *text, size_t n)
{
    char path[256];
    snprintf(path, sizeof path, "%s/ranks", root);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/ranks/rank-00000", root);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, n, f), n);
    fclose(f);
}

static void numbers_are_read_whole(void **state)
{
    (void)state;
    static const char good[] = "state    running \nstep     000000000012\n"
                               "rank     0\npid      4242\nhost     vm\n"
                               "run      7\nworld    1\n";
    dml_heartbeat_report rep;
    dml_error err;
    write_rank_file(good, sizeof good - 1);
    assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
    assert_int_equal(rep.count, 1);
    assert_int_equal(rep.ranks[0].step, 12);
    assert_int_equal(rep.run.run_id, 7);
    dml_heartbeat_report_free(&rep);
    const char *bad[] = {"step     000000000012", "rank     0",
                         "pid      4242", "run      7", "world    1"};
    const char *worse[] = {"step     12abc", "rank     0x1",
                           "pid      -5", "run      7 8", "world    0"};
    for (int i = 0; i < 5; i++) {
        char text[sizeof good + 16];
        const char *at = strstr(good, bad[i]);
        int n = snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good),
                         good, worse[i], at + strlen(bad[i]));
        write_rank_file(text, (size_t)n);
        assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
        assert_int_equal(rep.count, 0); /* not a rank file */
        dml_heartbeat_report_free(&rep);
    }
    char with_nul[sizeof good];
    memcpy(with_nul, good, sizeof good);
    with_nul[40] = '\0';
    write_rank_file(with_nul, sizeof good - 1);
    assert_int_equal(dml_heartbeat_scan(root, &rep, &err), DML_OK);
    assert_int_equal(rep.count, 0);
    dml_heartbeat_report_free(&rep);
}

/* Open rank 0's state file over whatever was planted at its name: the
 * open must fail with DML_EINPUT and a message containing what. */
static void refused(const char *what)
{
    dml_heartbeat_run run = the_run();
    dml_heartbeat *hb = NULL;
    dml_error err;
    dml_error_clear(&err);
    assert_int_equal(dml_heartbeat_open(root, 0, &run, &hb, &err),
                     DML_EINPUT);
    assert_null(hb);
    char msg[1400];
    dml_error_format(&err, msg, sizeof msg);
    if (!strstr(msg, what))
        fail_msg("the refusal should say '%s': %s", what, msg);
    if (!strstr(msg, "ranks/rank-00000"))
        fail_msg("the refusal should name the file: %s", msg);
}

static void only_regular_files_are_state_files(void **state)
{
    (void)state;
    char dir[128], path[160], mine[160];
    snprintf(dir, sizeof dir, "%s/ranks", root);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/rank-00000", dir);
    struct stat st;

    /* A FIFO: refused, still there after a clear, still a FIFO. */
    assert_int_equal(mkfifo(path, 0644), 0);
    refused("not a regular file (a FIFO)");
    dml_error err;
    assert_int_equal(dml_heartbeat_clear(root, &err), DML_OK);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode)); /* not replaced */
    unlink(path);

    /* A link to a device: refused, the device never opened for writing. */
    assert_int_equal(symlink("/dev/null", path), 0);
    refused("symbolic link");
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    unlink(path);

    /* A link to a file of the user's: refused, its content intact. */
    snprintf(mine, sizeof mine, "%s/precious", root);
    FILE *f = fopen(mine, "w");
    assert_non_null(f);
    fputs("keep me\n", f);
    fclose(f);
    assert_int_equal(symlink(mine, path), 0);
    refused("symbolic link");
    assert_int_equal(stat(mine, &st), 0);
    assert_int_equal(st.st_size, 8); /* "keep me\n", not truncated */
    unlink(path);

    /* A dangling link (O_CREAT would have created its target). */
    char target[200];
    snprintf(target, sizeof target, "%s/created-through-a-link", root);
    assert_int_equal(symlink(target, path), 0);
    refused("symbolic link");
    assert_int_not_equal(access(target, F_OK), 0);
    unlink(path);
    unlink(mine);

    /* With the name free again, the state file is made as usual. */
    dml_heartbeat_run run = the_run();
    dml_heartbeat *hb = NULL;
    assert_int_equal(dml_heartbeat_open(root, 0, &run, &hb, &err), DML_OK);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    dml_heartbeat_close(hb, 1, "finished");
}

DML_TEST_MAIN(
    cmocka_unit_test_setup_teardown(killed_rank_is_named, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(
        sigcont_marks_stopped_until_the_next_step, setup, teardown),
    cmocka_unit_test(reports_of_whole_jobs),
    cmocka_unit_test_setup_teardown(a_closed_heartbeat_says_finished,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(numbers_are_read_whole, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(only_regular_files_are_state_files,
                                    setup, teardown))
