/*
 * units.h: converting SI quantities to and from human text.
 *
 * Inside dml every quantity is an SI base unit in a double (seconds, bytes,
 * FLOP/s, bytes/s). These helpers are for the edges only: command-line
 * values in, table cells out. Decimal prefixes throughout (1 GB = 1e9 B),
 * as nccl-tests reports them; binary prefixes only where asked (GiB).
 */
#ifndef DML_UNITS_H
#define DML_UNITS_H

#include <stdbool.h>
#include <stddef.h>

/* "1.50 GB", "812 kB", "64 B". */
char *dml_units_bytes(double bytes, char *buf, size_t size);
/* "12.3 GiB" (binary), for memory people compare with nvidia-smi. */
char *dml_units_bytes_binary(double bytes, char *buf, size_t size);
/* "3.21 ms", "1.5 us", "2.40 s", "3.1 h", "12.5 d". */
char *dml_units_seconds(double s, char *buf, size_t size);
/* "18.2 GB/s". */
char *dml_units_bandwidth(double Bps, char *buf, size_t size);
/* "95.1 GFLOP/s", "312 TFLOP/s". */
char *dml_units_flops(double flops, char *buf, size_t size);

/*
 * Parse a count or size: plain numbers ("4096", "1e12") and decimal or
 * binary suffixes ("64K", "8M", "2G", "1T", "16KiB", "4GiB"; with an
 * optional trailing "B"). Returns false on anything else, or a negative,
 * NaN or infinite value.
 */
bool dml_units_parse_size(const char *text, double *out);

/* Parse a whole number in [min, max]; false on junk or out of range. */
bool dml_units_parse_long(const char *text, long min, long max, long *out);

#endif
