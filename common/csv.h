/*
 * csv.h: comma-separated values as RFC 4180 writes them, for tables that
 * people load into a spreadsheet, pandas or gnuplot.
 *
 * A field is quoted when it holds a comma, a double quote, CR or LF, or
 * starts or ends with a space (which some readers strip), with each double
 * quote doubled; every record ends with CRLF. A number is written with 9
 * significant digits when they read back as the same double, else 17; a
 * value that is absent (NaN) is an empty field, never "nan". Nothing here
 * allocates.
 */
#ifndef DML_CSV_H
#define DML_CSV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* A writer of one record at a time: fields are separated by commas. */
typedef struct dml_csv {
    FILE *out;   /* where records go */
    bool first;  /* the next field is the first of its record */
} dml_csv;

void dml_csv_init(dml_csv *c, FILE *out);

/* One field of text (NULL: empty). */
void dml_csv_text(dml_csv *c, const char *s);
/* One number; NaN or infinity: an empty field. */
void dml_csv_num(dml_csv *c, double v);
void dml_csv_i64(dml_csv *c, int64_t v);
/* End the record (CRLF). */
void dml_csv_end(dml_csv *c);

/* A header record from a NULL-terminated list of names. */
void dml_csv_header(dml_csv *c, const char *const names[]);

#endif
