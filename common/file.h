/*
 * file.h: whole-file reads and atomic writes.
 *
 * Every file dml writes for people (plan files, cluster specs, checkpoints)
 * goes through dml_file_write_atomic: a temporary file in the same directory,
 * fsync, rename, fsync of the directory (dml_file_write_atomic_parts when
 * the file is made of pieces). A reader therefore sees the old file or the
 * new one, never half of one, whatever kills the writer.
 */
#ifndef DML_FILE_H
#define DML_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Read all of path into a NUL-terminated buffer the caller frees. A missing
 * file is DML_EINPUT ("no such file"); a file over max_bytes is DML_EINPUT,
 * refused before it is read. */
dml_status dml_file_read_all(const char *path, size_t max_bytes, char **out,
                             size_t *len, dml_error *err);

/* Write data to path atomically (see above). On failure path is untouched
 * and no temporary file is left behind. */
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
 * rename (a test hook stops there to be killed).
 */
dml_status dml_file_write_atomic_parts(const char *path,
                                       const dml_file_part *parts, size_t n,
                                       const char *what,
                                       void (*before_rename)(void *arg),
                                       void *arg, dml_error *err);

/* Can a file be created at path? Checked before long work so that an
 * unwritable --out fails at once rather than after the measurements. */
dml_status dml_file_check_writable(const char *path, dml_error *err);

bool dml_file_exists(const char *path);

#endif
