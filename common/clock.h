/*
 * clock.h: monotonic and wall-clock time in seconds.
 *
 * Measurements use the monotonic clock; the database records wall-clock
 * times as ISO 8601 strings. costmodel/ must not call these.
 */
#ifndef DML_CLOCK_H
#define DML_CLOCK_H

#include <stddef.h>

/* Seconds from an arbitrary fixed point, never going backwards. */
double dml_clock_now_s(void);

/* Seconds since the Unix epoch. */
double dml_clock_wall_s(void);

/* Current UTC time as "2026-11-25T17:19:41Z" into buf (at least 21 bytes). */
char *dml_clock_iso8601(char *buf, size_t size);

#endif
