/*
 * file.c: whole-file reads and atomic writes (see file.h).
 */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

dml_status dml_file_read_all(const char *path, size_t max_bytes, char **out,
                             size_t *len, dml_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                             "not a regular file");
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

/*
 * The atomic write behind both public writers. A temporary file that
 * cannot be created is open_status ("cannot write: ..." for a path people
 * gave is bad input); what, when not NULL, names the file in errors.
 */
static dml_status write_atomic(const char *path, const dml_file_part *parts,
                               size_t n, dml_status open_status,
                               const char *what,
                               void (*before_rename)(void *arg), void *arg,
                               dml_error *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    int e = fd < 0 ? errno : 0;
    if (fd < 0)
        return dml_error_set(err, open_status, path, 0, 0, NULL,
                             "cannot write%s%s: %s", what ? " " : "",
                             what ? what : "", strerror(e));
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
        if (rename(tmp, path) != 0)
            e = errno;
    }
    if (e) {
        unlink(tmp);
        return dml_error_set(err, DML_EIO, path, 0, 0, NULL,
                             "cannot write%s%s: %s", what ? " " : "",
                             what ? what : "", strerror(e));
    }
    char dir[4096];
    dir_of(path, dir, sizeof dir);
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
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "is a directory, not a file");
        if (access(path, W_OK) != 0)
            return dml_error_set(err, DML_EINPUT, path, 0, 0, NULL,
                                 "cannot write: %s", strerror(errno));
    }
    char dir[4096];
    dir_of(path, dir, sizeof dir);
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
