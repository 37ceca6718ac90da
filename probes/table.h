/*
 * table.h: the plain-text tables the communication probes print the way
 * their reference tools do (nccl-tests for collectives.c, the OSU
 * micro-benchmarks for p2p.c): appending to a buffer with snprintf's
 * semantics, and writing a table so formatted to a stream.
 *
 * Internal to probes/ (names dml__table_*).
 */
#ifndef DML_PROBES_TABLE_H
#define DML_PROBES_TABLE_H

#include <stddef.h>
#include <stdio.h>

#include "common/error.h"

/*
 * snprintf onto the end of buf (size bytes; buf may be NULL to measure):
 * *len counts the whole text even past size, as snprintf does, so that a
 * formatter returns the length its caller must allocate.
 */
__attribute__((format(printf, 4, 5))) void
dml__table_appendf(char *buf, size_t size, size_t *len, const char *fmt, ...);

/* A formatter with snprintf's semantics: writes at most size bytes of
 * table's text into buf (NULL: none), returns the whole length. */
typedef size_t (*dml__table_format_fn)(const void *table, char *buf,
                                       size_t size);

/*
 * Format table in full and write it to f. DML_ENOMEM "no memory for a
 * <what> table", DML_EIO "writing the <what> table failed".
 */
dml_status dml__table_write(FILE *f, dml__table_format_fn format,
                            const void *table, const char *what,
                            dml_error *err);

#endif
