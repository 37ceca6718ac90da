/*
 * child.c: a child program run to its end, output captured, stopped at a
 * time limit or when we are signalled (see child.h).
 */
#include "common/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/proctree.h"

extern char **environ;

/* After the child exits, output still in flight is read this long. */
#define DRAIN_S 2.0

/* Is prog an executable file, directly or on $PATH? */
static bool program_found(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char dir[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, n ? path : ".", prog);
        if (access(dir, X_OK) == 0)
            return true;
        path += n;
        if (*path == ':')
            path++;
    }
    return false;
}

typedef struct buffer {
    char *data;
    size_t len, cap, max;
    bool truncated; /* kept the first max bytes (stdout) */
    bool tail;      /* keep the last max bytes instead (stderr) */
} buffer;

static void buffer_add(buffer *b, const char *p, size_t n)
{
    if (b->tail && b->len + n > b->max) {
        /* keep the newest bytes */
        if (n >= b->max) {
            p += n - b->max;
            n = b->max;
            b->len = 0;
        } else {
            size_t drop = b->len + n - b->max;
            memmove(b->data, b->data + drop, b->len - drop);
            b->len -= drop;
        }
    }
    if (!b->tail && b->len + n > b->max) {
        n = b->max - b->len;
        b->truncated = true;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->truncated = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void drain(int *fd, buffer *b)
{
    char chunk[65536];
    ssize_t r = read(*fd, chunk, sizeof chunk);
    if (r > 0) {
        buffer_add(b, chunk, (size_t)r);
    } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(*fd);
        *fd = -1;
    }
}

/* The child and its descendants, as the poll loop sees them (child.h). */
typedef struct watch {
    pid_t pid;          /* the child, leader of its process group */
    dml_proctree tree;  /* its descendants seen so far */
    dml_child_stop stop; /* why we stop it; DML_CHILD_EXITED: we do not */
    bool exited;        /* child reaped */
    int wstatus;        /* its wait status once reaped */
    double grace;       /* SIGTERM to SIGKILL, s */
    double scan_at;     /* next listing of descendants, s */
    double term_at;     /* SIGTERM sent, s; -1 not yet */
    double kill_at;     /* SIGKILL sent, s; -1 not yet */
    double exit_at;     /* child reaped, s; -1 not yet */
} watch;

#define SCAN_S 1.0

static void watch_init(watch *w, pid_t pid, double grace)
{
    memset(w, 0, sizeof *w);
    w->pid = pid;
    dml_proctree_init(&w->tree);
    w->grace = grace;
    w->scan_at = w->term_at = w->kill_at = w->exit_at = -1;
}

static void watch_terminate(watch *w, double now)
{
    if (w->term_at >= 0)
        return;
    w->term_at = now;
    if (!w->exited) {
        dml_proctree_add_descendants(&w->tree, w->pid);
        kill(-w->pid, SIGTERM);
    } else {
        dml_proctree_signal(&w->tree, SIGTERM); /* orphans */
    }
}

static void watch_kill(watch *w, double now)
{
    w->kill_at = now;
    if (!w->exited) {
        dml_proctree_add_descendants(&w->tree, w->pid);
        kill(-w->pid, SIGKILL);
    }
    dml_proctree_signal(&w->tree, SIGKILL);
}

static void watch_stop(watch *w, dml_child_stop why, double now)
{
    w->stop = why;
    watch_terminate(w, now);
}

static void watch_step(watch *w, double now)
{
    if (!w->exited && waitpid(w->pid, &w->wstatus, WNOHANG) == w->pid) {
        w->exited = true;
        w->exit_at = now;
    }
    if (!w->exited && now >= w->scan_at) {
        dml_proctree_add_descendants(&w->tree, w->pid);
        w->scan_at = now + (w->term_at >= 0 ? 0.2 : SCAN_S);
    }
    if (w->exited && w->term_at < 0 && w->tree.n > 0 &&
        dml_proctree_alive(&w->tree) > 0)
        watch_terminate(w, now);
    /* A second SIGINT/SIGTERM to us: the user will not wait the grace. */
    if (w->term_at >= 0 && w->kill_at < 0 &&
        (now - w->term_at > w->grace || dml_interrupt_count() > 1))
        watch_kill(w, now);
}

/* Is the trial over: child reaped, descendants gone, output read? */
static bool watch_done(watch *w, const int fds[2], double now)
{
    bool kill_done = w->kill_at >= 0 && now - w->kill_at > DRAIN_S;
    if (!w->exited) {
        if (!kill_done)
            return false;
        /* SIGKILL cannot be ignored: reap it, whatever holds pipes */
        waitpid(w->pid, &w->wstatus, 0);
        w->exited = true;
        w->exit_at = now;
    }
    if (!kill_done && w->tree.n > 0 && dml_proctree_alive(&w->tree) > 0)
        return false;
    /* done, or descendants we do not know of hold the pipes open */
    return (fds[0] < 0 && fds[1] < 0) || now - w->exit_at > DRAIN_S ||
           kill_done;
}

/* The loop broke early (poll failed): leave nothing running. */
static void watch_finish(watch *w)
{
    if (w->exited)
        return;
    kill(-w->pid, SIGKILL);
    dml_proctree_signal(&w->tree, SIGKILL);
    waitpid(w->pid, &w->wstatus, 0);
    w->exited = true;
}

dml_status dml_child_run(const dml_child_spec *spec, dml_child_result *r,
                         dml_error *err)
{
    memset(r, 0, sizeof *r);
    char *const *argv = spec->argv;
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if (!spec->pass_output && (pipe(out_pipe) != 0 || pipe(err_pipe) != 0)) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (out_pipe[i] >= 0)
                close(out_pipe[i]);
            if (err_pipe[i] >= 0)
                close(err_pipe[i]);
        }
        return dml_error_msg(err, DML_ERUNTIME, "pipe: %s", strerror(e));
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!spec->pass_output) {
        fcntl(out_pipe[0], F_SETFD, FD_CLOEXEC);
        fcntl(err_pipe[0], F_SETFD, FD_CLOEXEC);
        posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
        posix_spawn_file_actions_addclose(&fa, out_pipe[1]);
        posix_spawn_file_actions_addclose(&fa, err_pipe[1]);
    }
    /* its own process group, so a timeout reaches every process of it */
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t def;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    posix_spawnattr_setsigdefault(&attr, &def);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                        POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);

    double t0 = dml_clock_now_s();
    pid_t pid = 0;
    /* posix_spawnp may report a missing program only as the child's exit
     * status 127 (POSIX allows it; valgrind does it): look first. */
    int rc = program_found(argv[0]) ? posix_spawnp(&pid, argv[0], &fa,
                                                   &attr, argv, environ)
                                    : ENOENT;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (!spec->pass_output) {
        close(out_pipe[1]);
        close(err_pipe[1]);
    }
    if (rc != 0) {
        if (!spec->pass_output) {
            close(out_pipe[0]);
            close(err_pipe[0]);
        }
        return dml_error_msg(err, rc == ENOENT ? DML_ENOTFOUND : DML_ERUNTIME,
                             "cannot start '%s': %s", argv[0], strerror(rc));
    }
    dml_log_debug("started %s (pid %d)", argv[0], (int)pid);

    buffer sout = {.max = spec->stdout_max},
           serr = {.max = spec->stderr_max, .tail = true};
    int fds[2] = {out_pipe[0], err_pipe[0]};
    watch w;
    watch_init(&w, pid, spec->term_grace_s);
    while (!watch_done(&w, fds, dml_clock_now_s())) {
        double now = dml_clock_now_s();
        if (w.stop == DML_CHILD_EXITED && dml_interrupt_signal())
            watch_stop(&w, DML_CHILD_INTERRUPTED, now);
        else if (w.stop == DML_CHILD_EXITED && !w.exited &&
                 spec->timeout_s > 0 && now - t0 > spec->timeout_s)
            watch_stop(&w, DML_CHILD_TIMEOUT, now);
        else if (w.stop == DML_CHILD_EXITED && !w.exited && spec->tick &&
                 spec->tick(spec->tick_ctx, now))
            watch_stop(&w, DML_CHILD_STOPPED, now);
        watch_step(&w, now);
        struct pollfd p[2];
        int np = 0;
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                p[np].fd = fds[i];
                p[np].events = POLLIN;
                p[np].revents = 0;
                np++;
            }
        if (np == 0) {
            usleep(20000);
            continue;
        }
        int pr = poll(p, (nfds_t)np, 100);
        if (pr < 0 && errno != EINTR)
            break;
        for (int i = 0; pr > 0 && i < np; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (p[i].fd == fds[0])
                drain(&fds[0], &sout);
            else
                drain(&fds[1], &serr);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    watch_finish(&w);
    r->stop = w.stop;
    r->wstatus = w.wstatus;
    r->wall_s = dml_clock_now_s() - t0;
    r->out = sout.data;
    r->out_truncated = sout.truncated;
    r->err = serr.data;
    r->err_len = serr.len;
    return DML_OK;
}

void dml_child_result_free(dml_child_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}
