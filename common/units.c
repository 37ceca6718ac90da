/*
 * units.c: SI formatting and parsing at the edges (see units.h).
 */
#include "units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *scaled(double x, const char *const units[], int nunits,
                    double step, char *buf, size_t size)
{
    int i = 0;
    double a = fabs(x);
    while (i + 1 < nunits && a >= step) {
        a /= step;
        x /= step;
        i++;
    }
    if (a == 0 || a >= 100 || i == 0)
        snprintf(buf, size, "%.0f %s", x, units[i]);
    else if (a >= 10)
        snprintf(buf, size, "%.1f %s", x, units[i]);
    else
        snprintf(buf, size, "%.2f %s", x, units[i]);
    return buf;
}

char *dml_units_bytes(double bytes, char *buf, size_t size)
{
    static const char *const u[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    return scaled(bytes, u, 6, 1000.0, buf, size);
}

char *dml_units_bytes_binary(double bytes, char *buf, size_t size)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    return scaled(bytes, u, 6, 1024.0, buf, size);
}

char *dml_units_bandwidth(double Bps, char *buf, size_t size)
{
    static const char *const u[] = {"B/s", "kB/s", "MB/s", "GB/s", "TB/s"};
    return scaled(Bps, u, 5, 1000.0, buf, size);
}

char *dml_units_flops(double flops, char *buf, size_t size)
{
    static const char *const u[] = {"FLOP/s", "kFLOP/s", "MFLOP/s", "GFLOP/s",
                                    "TFLOP/s", "PFLOP/s", "EFLOP/s"};
    return scaled(flops, u, 7, 1000.0, buf, size);
}

char *dml_units_seconds(double s, char *buf, size_t size)
{
    double a = fabs(s);
    if (a == 0)
        snprintf(buf, size, "0 s");
    else if (a < 1e-6)
        snprintf(buf, size, "%.0f ns", s * 1e9);
    else if (a < 1e-3)
        snprintf(buf, size, "%.2f us", s * 1e6);
    else if (a < 1)
        snprintf(buf, size, "%.2f ms", s * 1e3);
    else if (a < 3600)
        snprintf(buf, size, "%.2f s", s);
    else if (a < 86400 * 2)
        snprintf(buf, size, "%.1f h", s / 3600);
    else
        snprintf(buf, size, "%.1f d", s / 86400);
    return buf;
}

bool dml_units_parse_size(const char *text, double *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    double x = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(x) || x < 0)
        return false;
    static const struct {
        const char *suffix;
        double mult;
    } sfx[] = {
        {"", 1},          {"B", 1},         {"K", 1e3},       {"KB", 1e3},
        {"k", 1e3},       {"kB", 1e3},      {"M", 1e6},       {"MB", 1e6},
        {"G", 1e9},       {"GB", 1e9},      {"T", 1e12},      {"TB", 1e12},
        {"Ki", 1024.0},   {"KiB", 1024.0},  {"Mi", 1048576.0},
        {"MiB", 1048576.0},                 {"Gi", 1073741824.0},
        {"GiB", 1073741824.0},              {"Ti", 1099511627776.0},
        {"TiB", 1099511627776.0},
    };
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        if (strcmp(end, sfx[i].suffix) == 0) {
            *out = x * sfx[i].mult;
            return isfinite(*out);
        }
    }
    return false;
}

bool dml_units_parse_long(const char *text, long min, long max, long *out)
{
    if (!text || !*text)
        return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || errno == ERANGE || v < min || v > max)
        return false;
    *out = v;
    return true;
}
