/*
 * clock.h: monotonic and wall-clock time in seconds, and wall-clock time
 * as the text dml stores.
 *
 * Measurements use the monotonic clock; the database, the probe report
 * and the executor's state files record wall-clock times as ISO 8601 UTC
 * text with milliseconds ("2026-12-06T12:48:16.123Z"), all written by
 * dml_clock_iso8601 or dml_clock_iso8601_at so that every time dml writes
 * has one form: it sorts as text and SQLite's julianday() reads it (as it
 * reads the whole-second times of databases written before, 2026-12).
 * costmodel/ must not call these.
 */
#ifndef DML_CLOCK_H
#define DML_CLOCK_H

#include <stddef.h>

/* Bytes a time written by dml_clock_iso8601 needs, the NUL included
 * ("2026-11-25T17:19:41.123Z": 24 characters). */
#define DML_CLOCK_ISO8601_LEN 25

/* Seconds from an arbitrary fixed point, never going backwards. */
double dml_clock_now_s(void);

/* Seconds since the Unix epoch. */
double dml_clock_wall_s(void);

/* Current UTC time as "2026-11-25T17:19:41.123Z" into buf (at least
 * DML_CLOCK_ISO8601_LEN bytes); returns buf. */
char *dml_clock_iso8601(char *buf, size_t size);

/* The same for a wall-clock time given as seconds since the Unix epoch
 * (a file's modification time), milliseconds truncated, never rounded
 * into the next second. buf is "" when wall_s is not a representable
 * time. */
char *dml_clock_iso8601_at(double wall_s, char *buf, size_t size);

#endif
