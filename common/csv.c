/*
 * csv.c: RFC 4180 records (see csv.h).
 */
#include "csv.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dml_csv_init(dml_csv *c, FILE *out)
{
    c->out = out;
    c->first = true;
}

static void sep(dml_csv *c)
{
    if (!c->first)
        fputc(',', c->out);
    c->first = false;
}

void dml_csv_text(dml_csv *c, const char *s)
{
    sep(c);
    if (!s || !s[0])
        return;
    size_t n = strlen(s);
    bool quote = strpbrk(s, ",\"\r\n") != NULL || s[0] == ' ' ||
                 s[n - 1] == ' ';
    if (!quote) {
        fputs(s, c->out);
        return;
    }
    fputc('"', c->out);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', c->out);
        fputc(*p, c->out);
    }
    fputc('"', c->out);
}

void dml_csv_num(dml_csv *c, double v)
{
    sep(c);
    if (!isfinite(v))
        return;
    /* The shortest of 9 or 17 significant digits that reads back as v. */
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    fputs(buf, c->out);
}

void dml_csv_i64(dml_csv *c, int64_t v)
{
    sep(c);
    fprintf(c->out, "%" PRId64, v);
}

void dml_csv_end(dml_csv *c)
{
    fputs("\r\n", c->out);
    c->first = true;
}

void dml_csv_header(dml_csv *c, const char *const names[])
{
    for (size_t i = 0; names[i]; i++)
        dml_csv_text(c, names[i]);
    dml_csv_end(c);
}
