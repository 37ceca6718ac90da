/*
 * clock.c: time sources (see clock.h).
 */
#include "clock.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

double dml_clock_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double dml_clock_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* sec and a millisecond count 0-999 as the stored text. */
static char *format(time_t sec, long ms, char *buf, size_t size)
{
    struct tm tm;
    char whole[32];
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (!gmtime_r(&sec, &tm) ||
        strftime(whole, sizeof whole, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return buf;
    snprintf(buf, size, "%s.%03ldZ", whole, ms);
    return buf;
}

char *dml_clock_iso8601(char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return format(ts.tv_sec, ts.tv_nsec / 1000000L, buf, size);
}

char *dml_clock_iso8601_at(double wall_s, char *buf, size_t size)
{
    if (!isfinite(wall_s) || wall_s < 0 || wall_s > 253402300799.0) {
        if (size)
            buf[0] = '\0';
        return buf;
    }
    double whole = floor(wall_s);
    /* a thousandth of a millisecond absorbs the double's rounding of
     * a time given to the nanosecond (x.123 as x.1229999) */
    long ms = (long)((wall_s - whole) * 1000.0 + 1e-3);
    if (ms > 999) /* the double's rounding, never the next second */
        ms = 999;
    return format((time_t)whole, ms, buf, size);
}
