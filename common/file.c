/*
 * file.c: whole-file reads and atomic writes, and the rules for targets
 * that are not regular files (see file.h).
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

/* procfs's f_type (linux/magic.h), where the descriptor links live. */
#define DML__PROC_SUPER_MAGIC 0x9fa0

/* The longest chain of symbolic links followed (Linux's own limit). */
#define DML__MAX_LINKS 40

const char *dml_file_kind_name(mode_t m)
{
    if (S_ISDIR(m))
        return "a directory";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a file";
}

static dml_status not_regular(const char *path, mode_t m, dml_error *err)
{
    return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                         "not a regular file (%s)", dml_file_kind_name(m));
}

dml_status dml_file_check_regular(const char *path, dml_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot open: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return not_regular(path, st.st_mode, err);
    return DML_OK;
}

dml_status dml_file_open_regular(const char *path, int *fd, dml_error *err)
{
    *fd = -1;
    /* stat first: opening a device can act (a tape rewinds, a watchdog
     * starts), so a path that is not a file is never opened at all. */
    DML_CHECK(dml_file_check_regular(path, err));
    /* Should the path have become a FIFO since, O_NONBLOCK keeps the open
     * from waiting for a writer, and O_NOCTTY a terminal from becoming
     * ours; fstat then judges what was really opened. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (f < 0)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(f, &st) != 0) {
        int e = errno;
        close(f);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot open: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(f);
        return not_regular(path, st.st_mode, err);
    }
    int flags = fcntl(f, F_GETFL);
    if (flags < 0 || fcntl(f, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot open: %s", strerror(e));
    }
    *fd = f;
    return DML_OK;
}

dml_status dml_file_read_all(const char *path, size_t max_bytes, char **out,
                             size_t *len, dml_error *err)
{
    *out = NULL;
    *len = 0;
    int fd;
    DML_CHECK(dml_file_open_regular(path, &fd, err));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL, "cannot read: %s",
                             strerror(e));
    }
    if ((size_t)st.st_size > max_bytes) {
        close(fd);
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "file is %lld bytes, more than the %zu allowed",
                             (long long)st.st_size, max_bytes);
    }
    size_t cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return dml_error_msg(err, DML_ENOMEM, "out of memory reading %s", path);
    }
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            /* The file grew since fstat; stay within max_bytes. */
            if (cap > max_bytes) {
                free(buf);
                close(fd);
                return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                     "file is larger than the %zu bytes allowed",
                                     max_bytes);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                close(fd);
                return dml_error_msg(err, DML_ENOMEM, "out of memory reading %s",
                                     path);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(buf);
            close(fd);
            return dml_error_set(err, DML_EIO, path, 0, 0, NULL, "read failed: %s",
                                 strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return DML_OK;
}

static dml_status write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return DML_EIO;
        }
        p += w;
        len -= (size_t)w;
    }
    return DML_OK;
}

static void dir_of(const char *path, char *dir, size_t size)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(dir, size, "%s", dirname(tmp));
}

/* How a write reaches what is at its path (file.h's table). */
typedef enum write_how {
    WRITE_REPLACE,  /* temporary file, then rename over path */
    WRITE_IN_PLACE, /* open path O_WRONLY and write to it */
} write_how;

/* Where a write lands once symbolic links are followed. */
typedef struct write_target {
    write_how how;
    char path[4096]; /* the file to replace or to write in place */
    bool exists;     /* something is at path */
    mode_t type;     /* its S_IFMT bits when it exists */
} write_target;

/* Is the link at path one of procfs's descriptor links (/proc/PID/fd/N,
 * which /dev/stdout and /dev/fd/N lead to)? Those name an open file, not a
 * path: following them as text would find "pipe:[1234]", or the file a
 * shell redirected to, which a rename would swap from under the shell. */
static bool on_procfs(const char *path)
{
    char dir[4096];
    dir_of(path, dir, sizeof dir);
    struct statfs fs;
    return statfs(dir, &fs) == 0 && fs.f_type == DML__PROC_SUPER_MAGIC;
}

/* Refuse the targets a write never touches (status s); path is what
 * people gave, real where its links led. */
static dml_status refuse_type(const char *path, const char *real, mode_t m,
                              dml_status s, dml_error *err)
{
    const char *what = S_ISDIR(m)   ? "is a directory, not a file"
                       : S_ISBLK(m) ? "is a block device: not written over"
                                    : "is a socket, not a file";
    if (strcmp(path, real) == 0)
        return dml_error_set(err, s, path, 0, 0, NULL, "%s", what);
    return dml_error_set(err, s, path, 0, 0, NULL, "%s (%s)", what, real);
}

static bool refused_type(mode_t m)
{
    return S_ISDIR(m) || S_ISBLK(m) || S_ISSOCK(m);
}

/* Follow path's symbolic links and decide how to write there. Errors
 * (refused types, link loops, unreadable links) are status s. */
static dml_status resolve_target(const char *path, dml_status s,
                                 write_target *t, dml_error *err)
{
    memset(t, 0, sizeof *t);
    t->how = WRITE_REPLACE;
    if (snprintf(t->path, sizeof t->path, "%s", path) >= (int)sizeof t->path)
        return dml_error_set(err, s, path, 0, 0, NULL,
                             "cannot write: %s", strerror(ENAMETOOLONG));
    struct stat st;
    for (int links = 0;; links++) {
        /* Nothing there (or no way to look): a new file, and the
         * temporary file's creation reports any real problem. */
        if (lstat(t->path, &st) != 0)
            return DML_OK;
        if (!S_ISLNK(st.st_mode))
            break;
        if (links == DML__MAX_LINKS)
            return dml_error_set(err, s, path, 0, 0, NULL,
                                 "cannot write: %s", strerror(ELOOP));
        if (on_procfs(t->path)) {
            /* A descriptor link: write through it, whatever it is. */
            if (stat(t->path, &st) != 0)
                return dml_error_set(err, s, path, 0, 0, NULL,
                                     "cannot write: %s", strerror(errno));
            if (refused_type(st.st_mode))
                return refuse_type(path, t->path, st.st_mode, s, err);
            t->how = WRITE_IN_PLACE;
            t->exists = true;
            t->type = st.st_mode & S_IFMT;
            return DML_OK;
        }
        char link[4096], next[4096];
        ssize_t n = readlink(t->path, link, sizeof link - 1);
        if (n < 0)
            return dml_error_set(err, s, path, 0, 0, NULL,
                                 "cannot write: %s", strerror(errno));
        link[n] = '\0';
        int w;
        if (link[0] == '/') {
            w = snprintf(next, sizeof next, "%s", link);
        } else {
            /* A relative link is relative to the folder it lives in. */
            char dir[4096];
            dir_of(t->path, dir, sizeof dir);
            w = snprintf(next, sizeof next, "%s/%s", dir, link);
        }
        if (w >= (int)sizeof next)
            return dml_error_set(err, s, path, 0, 0, NULL,
                                 "cannot write: %s", strerror(ENAMETOOLONG));
        memcpy(t->path, next, (size_t)w + 1);
    }
    if (refused_type(st.st_mode))
        return refuse_type(path, t->path, st.st_mode, s, err);
    t->exists = true;
    t->type = st.st_mode & S_IFMT;
    if (!S_ISREG(st.st_mode))
        t->how = WRITE_IN_PLACE; /* a character device or a FIFO */
    return DML_OK;
}

static dml_status write_error(dml_error *err, dml_status status,
                              const char *path, const char *what, int e)
{
    return dml_error_set(err, status, path, 0, 0, NULL, "cannot write%s%s: %s",
                         what ? " " : "", what ? what : "", strerror(e));
}

/*
 * A device, a FIFO or a descriptor link: written where it is, never
 * replaced. O_APPEND for a regular file reached through a descriptor link,
 * so that the file a shell redirected to keeps what is in it. A FIFO
 * blocks in open until it has a reader, as a shell redirection does.
 */
static dml_status write_in_place(const char *path, const write_target *t,
                                 const dml_file_part *parts, size_t n,
                                 dml_status open_status, const char *what,
                                 dml_error *err)
{
    int flags = O_WRONLY | O_NOCTTY | O_CLOEXEC;
    if (t->type == S_IFREG)
        flags |= O_APPEND;
    int fd = open(t->path, flags);
    if (fd < 0)
        return write_error(err, open_status, path, what, errno);
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : 0;
    if (!e && (st.st_mode & S_IFMT) != t->type) {
        close(fd);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot write%s%s: it changed while being "
                             "opened",
                             what ? " " : "", what ? what : "");
    }
    for (size_t i = 0; i < n && !e; i++)
        if (write_all(fd, parts[i].data, parts[i].len) != DML_OK)
            e = errno ? errno : EIO;
    /* Only a file has anything to sync (fsync on a FIFO is EINVAL). */
    if (!e && t->type == S_IFREG && fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (close(fd) != 0 && !e)
        e = errno;
    return e ? write_error(err, DML_EIO, path, what, e) : DML_OK;
}

/*
 * The write behind both public writers: resolve the target, then write it
 * in place or atomically. A target that cannot be opened or created is
 * open_status ("cannot write: ..." for a path people gave is bad input);
 * what, when not NULL, names the file in errors and marks one of dml's own
 * files, which is only ever a regular file: written in place into a FIFO
 * it would hang the rank, into a device it would be lost.
 */
static dml_status write_atomic(const char *path, const dml_file_part *parts,
                               size_t n, dml_status open_status,
                               const char *what,
                               void (*before_rename)(void *arg), void *arg,
                               dml_error *err)
{
    write_target t;
    DML_CHECK(resolve_target(path, open_status, &t, err));
    if (t.how == WRITE_IN_PLACE && what)
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot write %s: not a regular file (%s)", what,
                             t.type == S_IFREG ? "a descriptor link"
                                               : dml_file_kind_name(t.type));
    if (t.how == WRITE_IN_PLACE)
        return write_in_place(path, &t, parts, n, open_status, what, err);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", t.path);
    int fd = mkstemp(tmp);
    int e = fd < 0 ? errno : 0;
    if (fd < 0)
        return write_error(err, open_status, path, what, e);
    for (size_t i = 0; i < n && !e; i++)
        if (write_all(fd, parts[i].data, parts[i].len) != DML_OK)
            e = errno ? errno : EIO;
    if (!e && fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (close(fd) != 0 && !e)
        e = errno;
    if (!e) {
        if (before_rename)
            before_rename(arg);
        /* mkstemp makes 0600; files people share should follow the umask. */
        mode_t mask = umask(0);
        umask(mask);
        (void)chmod(tmp, 0666 & ~mask);
        if (rename(tmp, t.path) != 0)
            e = errno;
    }
    if (e) {
        unlink(tmp);
        return write_error(err, DML_EIO, path, what, e);
    }
    char dir[4096];
    dir_of(t.path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return DML_OK;
}

dml_status dml_file_write_atomic(const char *path, const void *data,
                                 size_t len, dml_error *err)
{
    dml_file_part part = {data, len};
    return write_atomic(path, &part, 1, DML_EINPUT, NULL, NULL, NULL, err);
}

dml_status dml_file_write_atomic_parts(const char *path,
                                       const dml_file_part *parts, size_t n,
                                       const char *what,
                                       void (*before_rename)(void *arg),
                                       void *arg, dml_error *err)
{
    return write_atomic(path, parts, n, DML_EIO, what, before_rename, arg,
                        err);
}

dml_status dml_file_check_writable(const char *path, dml_error *err)
{
    write_target t;
    DML_CHECK(resolve_target(path, DML_EINPUT, &t, err));
    if (t.exists && access(t.path, W_OK) != 0)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot write: %s", strerror(errno));
    if (t.how == WRITE_IN_PLACE)
        return DML_OK; /* opened where it is: its folder does not matter */
    char dir[4096];
    dir_of(t.path, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot write: directory %s does not exist", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot write: directory %s: %s", dir,
                             strerror(errno));
    return DML_OK;
}

bool dml_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}
