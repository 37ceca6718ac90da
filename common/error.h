/*
 * error.h: the error context that travels with a dml_status.
 *
 * A function that fails fills a dml_error and returns its status. For bad
 * input the context names where the problem is, so that main() can print the
 * one line people expect from a compiler: `file:line:col: field: message`.
 * Parts that are unknown are left empty (line/col 0, empty field) and are
 * omitted from the formatted line.
 */
#ifndef DML_ERROR_H
#define DML_ERROR_H

#include <stddef.h>

#include "status.h"

#define DML_ERROR_FILE_MAX 512
#define DML_ERROR_FIELD_MAX 256
#define DML_ERROR_MSG_MAX 768

typedef struct dml_error {
    dml_status status;               /* the code returned with this context */
    char file[DML_ERROR_FILE_MAX];   /* input file, or "" */
    int line;                        /* 1-based line in file, 0 if unknown */
    int col;                         /* 1-based column in file, 0 if unknown */
    char field[DML_ERROR_FIELD_MAX]; /* field path ("node_groups[0].nodes"), or "" */
    char msg[DML_ERROR_MSG_MAX];     /* what is wrong, lower case, no final period */
} dml_error;

/* Reset to DML_OK with every part empty. err may be NULL. */
void dml_error_clear(dml_error *err);

/*
 * Fill err (which may be NULL) and return status, so that a failing branch
 * reads `return dml_error_set(err, DML_EINPUT, path, 3, 7, "layers", "...")`.
 * file and field may be NULL.
 */
dml_status dml_error_set(dml_error *err, dml_status status, const char *file,
                         int line, int col, const char *field,
                         const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Shorthand for an error with no position: only a message. */
dml_status dml_error_msg(dml_error *err, dml_status status, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

/* Prefix the message with more context ("reading plan: ..."). */
void dml_error_prefix(dml_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The reason for a verdict into a caller's optional buffer: format into
 * why when it is not NULL and size is not 0 (checks that answer yes or no
 * and say why on no, e.g. dml_name_valid).
 */
void dml_error_why(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Format as `file:line:col: field: message` (parts that are unknown left
 * out) into buf; returns buf. A message of "" falls back to dml_strerror().
 */
char *dml_error_format(const dml_error *err, char *buf, size_t size);

#endif
