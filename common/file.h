/*
 * file.h: whole-file reads and atomic writes, and what they do with files
 * that are not regular files.
 *
 * Every file dml writes for people (plan files, cluster specs, checkpoints)
 * goes through dml_file_write_atomic: a temporary file in the same directory,
 * fsync, rename, fsync of the directory (dml_file_write_atomic_parts when
 * the file is made of pieces). A reader therefore sees the old file or the
 * new one, never half of one, whatever kills the writer.
 *
 * What a write does with the target that is already there (issue 10):
 *
 *   target                                  write
 *   ------------------------------------    ---------------------------------
 *   absent, or a regular file               atomic: temporary file + rename
 *   a symbolic link                         followed, link by link; the rules
 *                                           apply to what it points to, the
 *                                           link itself is never replaced (a
 *                                           dangling link: the file it names
 *                                           is created)
 *   a character device (/dev/null, a tty)   written in place: opened with
 *   or a FIFO (a named pipe)                O_WRONLY, no temporary file, no
 *                                           rename; a FIFO waits for its
 *                                           reader, as a shell redirection
 *                                           does
 *   reached through a file-descriptor       written in place, whatever it is
 *   link (/dev/stdout, /dev/fd/N,           (a pipe, a terminal, or the file
 *   /proc/PID/fd/N)                         the shell redirected to, which is
 *                                           appended to, never truncated)
 *   a directory, a block device, a socket   refused: DML_EINPUT, one line
 *
 * so that `--out /dev/null` leaves /dev/null a device and `--out
 * /dev/stdout | jq` works; only the atomic case has the all-or-nothing
 * guarantee above. dml_file_check_writable applies the same rules.
 *
 * Reads open only regular files: dml_file_open_regular refuses a FIFO, a
 * device, a socket or a directory with "not a regular file" before it can
 * block (a FIFO without a writer) or act (opening some devices does
 * something), so that no input hangs a tool. Inputs from /dev/stdin or a
 * pipe are therefore refused too; pass a file.
 */
#ifndef DML_FILE_H
#define DML_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/*
 * Open path for reading if it is a regular file (symbolic links followed);
 * *fd is a blocking O_RDONLY | O_CLOEXEC descriptor the caller closes. A
 * missing or unreadable file is DML_EINPUT "cannot open: reason"; anything
 * else than a regular file is DML_EINPUT "not a regular file (a FIFO)" and
 * is never opened in a way that blocks: the type is checked with stat
 * before the open, and again on the open descriptor (opened O_NONBLOCK |
 * O_NOCTTY) in case the path changed in between.
 */
dml_status dml_file_open_regular(const char *path, int *fd, dml_error *err);

/* What a file of mode m is that is not a regular file, for messages:
 * "a FIFO", "a character device", "a directory", ... */
const char *dml_file_kind_name(mode_t m);

/* The same check without opening, for files that a library opens itself
 * (SQLite's journal): DML_OK when path is a regular file. */
dml_status dml_file_check_regular(const char *path, dml_error *err);

/* Read all of path into a NUL-terminated buffer the caller frees. A missing
 * file is DML_EINPUT ("no such file"), so is one that is not a regular file
 * (dml_file_open_regular); a file over max_bytes is DML_EINPUT, refused
 * before it is read. */
dml_status dml_file_read_all(const char *path, size_t max_bytes, char **out,
                             size_t *len, dml_error *err);

/* Write data to path atomically (see above; a device or a FIFO is written
 * in place). On failure path is untouched and no temporary file is left
 * behind. */
dml_status dml_file_write_atomic(const char *path, const void *data,
                                 size_t len, dml_error *err);

/* One piece of a file written by dml_file_write_atomic_parts. */
typedef struct dml_file_part {
    const void *data; /* the bytes; may be NULL when len is 0 */
    size_t len;       /* bytes */
} dml_file_part;

/*
 * dml_file_write_atomic for a file made of n parts written one after the
 * other, so that large state is written where it lies rather than copied
 * into one buffer. Errors say "cannot write WHAT: reason" (what: "checkpoint
 * shard"), every one DML_EIO: a full disk (ENOSPC) or a file size limit
 * (EFBIG) gives the system's reason. before_rename (may be NULL) is called
 * with arg once the temporary file is complete and synced, just before the
 * rename (a test hook stops there to be killed). The files written so are
 * dml's own (checkpoint shards), so a target that the table above would
 * write in place is refused instead (DML_EIO, "not a regular file"): a
 * shard written into a device is lost, into a FIFO it hangs the rank.
 */
dml_status dml_file_write_atomic_parts(const char *path,
                                       const dml_file_part *parts, size_t n,
                                       const char *what,
                                       void (*before_rename)(void *arg),
                                       void *arg, dml_error *err);

/* Can a file be written at path by the writers above (the same rules:
 * a directory, block device or socket is refused, a device or FIFO must be
 * writable, the folder of a file to replace must exist and be writable)?
 * Checked before long work so that an unwritable --out fails at once
 * rather than after the measurements. Nothing is opened. */
dml_status dml_file_check_writable(const char *path, dml_error *err);

bool dml_file_exists(const char *path);

#endif
