/*
 * heartbeat.c: per-rank state files that outlive a killed job (see
 * heartbeat.h).
 *
 * The file is text, one "key value" per line, so that people (and the
 * fault tests) can read it with cat. The first two lines have fixed
 * widths so that a step and a state are rewritten in place with one
 * pwrite, and the signal handlers rewrite the state word alone:
 *   "state    running \n"        state at offset 9, 8 characters
 *   "step     000000000012\n"    step at offset 27, 12 digits
 */
#include "executor/heartbeat.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h"

#define STATE_OFF 9
#define STATE_WIDTH 8
#define RANK_FILE_MAX 4096

struct dml_heartbeat {
    int fd;           /* the rank file, locked */
    char path[DML_HEARTBEAT_PATH_MAX + 64];
};

/* ---- signal handlers ------------------------------------------------------ */

/* The descriptor the handlers write to: one heartbeat per process. */
static volatile int hb_fd = -1;
static const int hb_signals[] = {SIGCONT, SIGTERM, SIGINT};
#define HB_NSIG ((int)(sizeof hb_signals / sizeof hb_signals[0]))
static struct sigaction hb_old[HB_NSIG];

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
    int saved = errno;
    int fd = hb_fd;
    if (fd >= 0) {
        ssize_t w = pwrite(fd, "stopped ", STATE_WIDTH, STATE_OFF);
        (void)w;
    }
    errno = saved;
    int i = 0;
    while (i < HB_NSIG && hb_signals[i] != sig)
        i++;
    if (i == HB_NSIG)
        return;
    const struct sigaction *old = &hb_old[i];
    if (old->sa_flags & SA_SIGINFO) {
        old->sa_sigaction(sig, info, ctx);
    } else if (old->sa_handler == SIG_DFL) {
        /* SIGCONT's default (continue) has happened already; the others
         * end the process as they would have: the signal is blocked while
         * this runs, so it is delivered again on return. */
        if (sig != SIGCONT) {
            struct sigaction dfl;
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigemptyset(&dfl.sa_mask);
            sigaction(sig, &dfl, NULL);
            raise(sig);
        }
    } else if (old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    }
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < HB_NSIG; i++)
        sigaction(hb_signals[i], &sa, &hb_old[i]);
}

static void restore_handlers(void)
{
    for (int i = 0; i < HB_NSIG; i++)
        sigaction(hb_signals[i], &hb_old[i], NULL);
}

/* ---- writing ----------------------------------------------------------------- */

static void ranks_dir(const char *root, char *out, size_t size)
{
    snprintf(out, size, "%s/ranks", root);
}

/* The rank files ("rank-N") of a root's ranks folder, one at a time. */
typedef struct rank_files {
    DIR *d;                                 /* the open ranks folder */
    char dir[DML_HEARTBEAT_PATH_MAX + 16];  /* its path */
    char path[DML_HEARTBEAT_PATH_MAX + 64]; /* the current rank file */
} rank_files;

/* False when there is no ranks folder to read (no run wrote one). */
static bool rank_files_open(const char *root, rank_files *it)
{
    ranks_dir(root, it->dir, sizeof it->dir);
    it->d = opendir(it->dir);
    return it->d != NULL;
}

/* The next rank file into it->path; false at the end. */
static bool rank_files_next(rank_files *it)
{
    struct dirent *e;
    while ((e = readdir(it->d)) != NULL) {
        int rank;
        char tail;
        if (sscanf(e->d_name, "rank-%d%c", &rank, &tail) != 1)
            continue;
        snprintf(it->path, sizeof it->path, "%s/%s", it->dir, e->d_name);
        return true;
    }
    return false;
}

/* Text that must stay on its line (a path or host with a newline). */
static void one_line(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            *s = '?';
}

/*
 * Open (or create) a rank's state file for writing. Only a regular file
 * is ever written: O_NOFOLLOW refuses a symbolic link (which could point
 * at any file of the user's, or a device), O_NONBLOCK and O_NOCTTY keep a
 * FIFO or a terminal planted there from blocking or adopting us, and
 * fstat then refuses whatever else the name is. Such a name is left
 * alone: the error says what it is and to remove it.
 */
static dml_status open_rank_file(const char *path, int rank, int *fd,
                                 dml_error *err)
{
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
                           O_NONBLOCK | O_NOCTTY,
                 0644);
    if (f < 0) {
        int e = errno;
        if (e == ELOOP)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "rank %d's state file is a symbolic link; "
                                 "state files are regular files that "
                                 "dml-exec creates: remove it",
                                 rank);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot write rank %d's state file: %s", rank,
                             strerror(e));
    }
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot write rank %d's state file: %s", rank,
                             strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "rank %d's state file is not a regular file "
                             "(%s); state files are regular files that "
                             "dml-exec creates: remove it",
                             rank, dml_file_kind_name(st.st_mode));
    }
    /* Regular files ignore O_NONBLOCK; cleared all the same, so the
     * descriptor is an ordinary one. */
    int flags = fcntl(f, F_GETFL);
    if (flags >= 0)
        fcntl(f, F_SETFL, flags & ~O_NONBLOCK);
    *fd = f;
    return DML_OK;
}

static void write_head(dml_heartbeat *hb, int64_t step, const char *state)
{
    char head[64];
    int n = snprintf(head, sizeof head, "state    %-8.8s\nstep     %012lld\n",
                     state, (long long)(step < 0 ? 0 : step));
    ssize_t w = pwrite(hb->fd, head, (size_t)n, 0);
    (void)w;
}

dml_status dml_heartbeat_open(const char *root, int rank,
                              const dml_heartbeat_run *run,
                              dml_heartbeat **out, dml_error *err)
{
    *out = NULL;
    char dir[DML_HEARTBEAT_PATH_MAX + 16];
    ranks_dir(root, dir, sizeof dir);
    if ((mkdir(root, 0755) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0755) != 0 && errno != EEXIST))
        return dml_error_set(err, DML_EIO, dir, 0, 0, NULL,
                             "cannot create the rank state folder: %s",
                             strerror(errno));
    dml_heartbeat *hb = calloc(1, sizeof *hb);
    if (!hb)
        return dml_error_msg(err, DML_ENOMEM, "out of memory");
    snprintf(hb->path, sizeof hb->path, "%s/rank-%05d", dir, rank);
    dml_status s = open_rank_file(hb->path, rank, &hb->fd, err);
    if (s != DML_OK) {
        free(hb);
        return s;
    }
    struct flock lk;
    memset(&lk, 0, sizeof lk);
    lk.l_type = F_WRLCK;
    lk.l_whence = SEEK_SET;
    if (fcntl(hb->fd, F_SETLK, &lk) != 0) {
        int e = errno;
        close(hb->fd);
        free(hb);
        return dml_error_set(err, DML_EINPUT, dir, 0, 0, NULL,
                             "rank %d's state file is locked by another "
                             "process (%s): another dml-exec uses this "
                             "checkpoint directory",
                             rank, strerror(e));
    }
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    char db[DML_HEARTBEAT_PATH_MAX];
    snprintf(db, sizeof db, "%s", run->db);
    one_line(host);
    one_line(db);
    char body[RANK_FILE_MAX];
    int n = snprintf(body, sizeof body,
                     "state    %-8s\nstep     %012d\nrank     %d\n"
                     "pid      %ld\nhost     %s\nrun      %lld\n"
                     "world    %d\nstarted  %s\ndb       %s\n",
                     "running", 0, rank, (long)getpid(), host,
                     (long long)run->run_id, run->world,
                     run->started_at[0] ? run->started_at : "-", db);
    if (n >= (int)sizeof body)
        n = (int)sizeof body - 1;
    if (ftruncate(hb->fd, 0) != 0 || pwrite(hb->fd, body, (size_t)n, 0) != n) {
        int e = errno;
        close(hb->fd);
        unlink(hb->path);
        free(hb);
        return dml_error_set(err, DML_EIO, dir, 0, 0, NULL,
                             "cannot write rank %d's state file: %s", rank,
                             strerror(e));
    }
    hb_fd = hb->fd;
    install_handlers();
    *out = hb;
    return DML_OK;
}

void dml_heartbeat_step(dml_heartbeat *hb, int64_t step, const char *state)
{
    if (hb)
        write_head(hb, step, state);
}

void dml_heartbeat_close(dml_heartbeat *hb, int64_t step, const char *state)
{
    if (!hb)
        return;
    restore_handlers();
    hb_fd = -1;
    write_head(hb, step, state);
    close(hb->fd); /* releases the lock */
    free(hb);
}

/* ---- reading ------------------------------------------------------------------ */

static int cmp_rank(const void *a, const void *b)
{
    const dml_heartbeat_rank *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* A decimal integer in [lo, hi], all of v: "12abc" is not 12. */
static bool whole(const char *v, long long lo, long long hi, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (!v[0] || *end || errno || x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

/* Parse one rank file of n bytes; false when it is not one (a NUL in it,
 * no state or rank, or a number that is not one). */
static bool parse_rank_file(const char *text, size_t n, dml_heartbeat_rank *r,
                            dml_heartbeat_run *run)
{
    if (memchr(text, '\0', n))
        return false;
    bool have_state = false, have_rank = false, ok = true;
    long long x = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[DML_HEARTBEAT_PATH_MAX + 16];
        if (len >= sizeof line)
            len = sizeof line - 1;
        memcpy(line, p, len);
        line[len] = '\0';
        char *v = line + strcspn(line, " ");
        if (*v) {
            *v++ = '\0';
            v += strspn(v, " ");
        }
        char *end = v + strlen(v);
        while (end > v && end[-1] == ' ')
            *--end = '\0';
        if (strcmp(line, "state") == 0) {
            snprintf(r->state, sizeof r->state, "%s", v);
            have_state = true;
        } else if (strcmp(line, "step") == 0) {
            ok = ok && whole(v, 0, INT64_MAX, &x);
            r->step = x;
        } else if (strcmp(line, "rank") == 0) {
            ok = ok && whole(v, 0, INT32_MAX, &x);
            r->rank = (int)x;
            have_rank = true;
        } else if (strcmp(line, "pid") == 0) {
            ok = ok && whole(v, 0, LONG_MAX, &x);
            r->pid = (long)x;
        } else if (strcmp(line, "host") == 0) {
            snprintf(r->host, sizeof r->host, "%s", v);
        } else if (strcmp(line, "run") == 0) {
            ok = ok && whole(v, 0, INT64_MAX, &x);
            run->run_id = x;
        } else if (strcmp(line, "world") == 0) {
            ok = ok && whole(v, 1, INT32_MAX, &x);
            run->world = (int)x;
        } else if (strcmp(line, "started") == 0) {
            snprintf(run->started_at, sizeof run->started_at, "%s", v);
        } else if (strcmp(line, "db") == 0) {
            snprintf(run->db, sizeof run->db, "%s", v);
        }
        p = eol ? eol + 1 : p + len;
    }
    return ok && have_state && have_rank;
}

dml_status dml_heartbeat_scan(const char *root, dml_heartbeat_report *rep,
                              dml_error *err)
{
    memset(rep, 0, sizeof *rep);
    rank_files it;
    if (!rank_files_open(root, &it))
        return DML_OK;
    int cap = 0;
    double newest = 0; /* s since the epoch, to the nanosecond */
    dml_status s = DML_OK;
    while (s == DML_OK && rank_files_next(&it)) {
        /* Through common/file, so that a FIFO named like a rank file is
         * skipped instead of hanging the scan in open. */
        int fd;
        if (dml_file_open_regular(it.path, &fd, NULL) != DML_OK)
            continue;
        char text[RANK_FILE_MAX];
        ssize_t n = read(fd, text, sizeof text - 1);
        struct flock lk;
        memset(&lk, 0, sizeof lk);
        lk.l_type = F_WRLCK;
        lk.l_whence = SEEK_SET;
        bool alive = fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;
        struct stat st;
        if (fstat(fd, &st) == 0) {
            double t = (double)st.st_mtim.tv_sec +
                       1e-9 * (double)st.st_mtim.tv_nsec;
            if (t > newest)
                newest = t;
        }
        close(fd);
        if (n <= 0)
            continue;
        text[n] = '\0';
        dml_heartbeat_rank r;
        dml_heartbeat_run run;
        memset(&r, 0, sizeof r);
        memset(&run, 0, sizeof run);
        if (!parse_rank_file(text, (size_t)n, &r, &run))
            continue;
        r.alive = alive;
        if (rep->count == cap) {
            cap = cap ? 2 * cap : 16;
            dml_heartbeat_rank *grown =
                realloc(rep->ranks, (size_t)cap * sizeof *grown);
            if (!grown) {
                s = dml_error_msg(err, DML_ENOMEM, "out of memory");
                break;
            }
            rep->ranks = grown;
        }
        if (rep->count == 0 || r.rank < rep->ranks[0].rank)
            rep->run = run;
        rep->ranks[rep->count++] = r;
    }
    closedir(it.d);
    if (s != DML_OK) {
        dml_heartbeat_report_free(rep);
        return s;
    }
    if (rep->count > 1)
        qsort(rep->ranks, (size_t)rep->count, sizeof *rep->ranks, cmp_rank);
    /* in the form of every time dml stores (common/clock.h) */
    if (newest > 0)
        dml_clock_iso8601_at(newest, rep->last_seen_at,
                             sizeof rep->last_seen_at);
    return DML_OK;
}

void dml_heartbeat_report_free(dml_heartbeat_report *rep)
{
    free(rep->ranks);
    memset(rep, 0, sizeof *rep);
}

const dml_heartbeat_rank *
dml_heartbeat_report_alive(const dml_heartbeat_report *rep)
{
    for (int i = 0; i < rep->count; i++)
        if (rep->ranks[i].alive)
            return &rep->ranks[i];
    return NULL;
}

static bool silent(const dml_heartbeat_rank *r)
{
    return strcmp(r->state, "running") == 0 || strcmp(r->state, "ckpt") == 0;
}

static bool ended(const dml_heartbeat_rank *r)
{
    return strcmp(r->state, "finished") == 0 ||
           strcmp(r->state, "failed") == 0;
}

/* "ranks 0, 1 and 3" of the ranks for which pick() holds, at most 16
 * named. */
static void rank_list(const dml_heartbeat_report *rep,
                      bool (*pick)(const dml_heartbeat_rank *), char *out,
                      size_t size)
{
    int n = 0;
    for (int i = 0; i < rep->count; i++)
        n += pick(&rep->ranks[i]);
    size_t len = (size_t)snprintf(out, size, "%s", n == 1 ? "rank" : "ranks");
    int k = 0;
    for (int i = 0; i < rep->count && len < size; i++) {
        if (!pick(&rep->ranks[i]))
            continue;
        k++;
        if (k > 16) {
            len += (size_t)snprintf(out + len, size - len, " ... (%d in all)",
                                    n);
            break;
        }
        const char *sep = k == 1 ? " " : k == n ? " and " : ", ";
        len += (size_t)snprintf(out + len, size - len, "%s%d", sep,
                                rep->ranks[i].rank);
    }
}

static bool stopped(const dml_heartbeat_rank *r)
{
    return strcmp(r->state, "stopped") == 0;
}

bool dml_heartbeat_report_died(const dml_heartbeat_report *rep, int *rank,
                               int64_t *step, char *msg, size_t size)
{
    *rank = -1;
    *step = 0;
    if (msg && size)
        msg[0] = '\0';
    if (rep->count == 0 || dml_heartbeat_report_alive(rep))
        return false;
    int nsilent = 0, nstopped = 0, nended = 0;
    const dml_heartbeat_rank *first = NULL;
    int64_t min_step = INT64_MAX;
    for (int i = 0; i < rep->count; i++) {
        const dml_heartbeat_rank *r = &rep->ranks[i];
        nended += ended(r);
        nstopped += stopped(r);
        if (silent(r)) {
            nsilent++;
            if (!first)
                first = r;
        }
        if (!ended(r) && r->step < min_step)
            min_step = r->step;
    }
    if (nended == rep->count)
        return false;
    char others[256] = "";
    if (nstopped)
        rank_list(rep, stopped, others, sizeof others);
    if (nsilent == 1) {
        *rank = first->rank;
        *step = first->step;
        bool ck = strcmp(first->state, "ckpt") == 0;
        snprintf(msg, size,
                 "rank %d (pid %ld on %s) died %s %lld without exiting "
                 "(killed by a signal such as SIGKILL, crashed, or its node "
                 "was lost)%s%s",
                 first->rank, first->pid, first->host,
                 ck ? "while writing checkpoint step" : "during step",
                 (long long)first->step,
                 nstopped ? "; the launcher then stopped " : "", others);
    } else if (nsilent > 1) {
        char dead[256];
        rank_list(rep, silent, dead, sizeof dead);
        *step = min_step;
        snprintf(msg, size,
                 "%s died during step %lld without exiting (the job was "
                 "killed outright, or their nodes were lost)%s%s",
                 dead, (long long)min_step,
                 nstopped ? "; the launcher then stopped " : "", others);
    } else {
        *step = min_step;
        snprintf(msg, size,
                 "every rank was stopped by a signal during step %lld (the "
                 "job was cancelled, or a rank exited without recording why)",
                 (long long)min_step);
    }
    return true;
}

dml_status dml_heartbeat_clear(const char *root, dml_error *err)
{
    rank_files it;
    if (!rank_files_open(root, &it))
        return DML_OK;
    dml_status s = DML_OK;
    struct stat st;
    while (rank_files_next(&it)) {
        /* Only state files: whatever else carries the name (a FIFO, a
         * link) is not ours to remove, and dml_heartbeat_open refuses it
         * with a line that says so. */
        if (lstat(it.path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (unlink(it.path) != 0 && errno != ENOENT && s == DML_OK)
            s = dml_error_set(err, DML_EIO, it.path, 0, 0, NULL,
                              "cannot remove: %s", strerror(errno));
    }
    closedir(it.d);
    return s;
}
