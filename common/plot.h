/*
 * plot.h: charts drawn by gnuplot, written as SVG or PNG.
 *
 * A dml_plot describes a chart in data terms (title, axis labels with
 * their units, log scales, series of (x, y) points drawn as points or
 * lines, an optional y = x line); dml_plot_write turns it into a file:
 *
 *   1. a private folder from mkdtemp under $TMPDIR (else /tmp) gets one
 *      data file per series and the gnuplot script;
 *   2. gnuplot runs there (fork and execvp, no shell: nothing in a title
 *      or a path is ever parsed by a shell), its standard error kept in
 *      the folder; a non-zero exit or a signal is an error quoting
 *      gnuplot's first line, and a missing gnuplot is "gnuplot not found;
 *      install gnuplot-nox" (DML_ERUNTIME: exit 1);
 *   3. the image is read back and written to the target through
 *      dml_file_write_atomic (common/file.h: atomic for a regular file, in
 *      place for /dev/stdout or a FIFO, refused for a directory);
 *   4. the folder is removed, whatever happened.
 *
 * The format follows the target's extension: ".png" is PNG (gnuplot's
 * pngcairo terminal), anything else SVG. Titles are text, never gnuplot
 * markup (the terminal is noenhanced, quotes are escaped). Nothing here
 * prints; only the gnuplot child writes, and only into the folder.
 */
#ifndef DML_PLOT_H
#define DML_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

typedef enum dml_plot_style {
    DML_PLOT_POINTS,      /* a marker per point (a scatter) */
    DML_PLOT_LINES,       /* a line through the points in order */
    DML_PLOT_LINESPOINTS, /* both */
} dml_plot_style;

typedef struct dml_plot_series {
    char title[128];      /* legend entry, plain text */
    dml_plot_style style;
    double *x, *y;        /* n values each, malloc'd (dml_plot_free) */
    size_t n, cap;        /* points used, points allocated */
} dml_plot_series;

typedef struct dml_plot {
    char title[256];          /* chart title, plain text */
    char xlabel[128];         /* x axis label with its unit ("size (bytes)") */
    char ylabel[128];         /* y axis label with its unit */
    bool logx, logy;          /* logarithmic axes (non-positive values are
                                 left out of the data files) */
    bool diagonal;            /* draw the line y = x ("predicted = measured") */
    bool square;              /* one range for both axes, drawn square, so
                                 that y = x runs corner to corner */
    dml_plot_series *series;  /* n_series of them, malloc'd */
    size_t n_series, cap;
} dml_plot;

void dml_plot_init(dml_plot *p);
void dml_plot_free(dml_plot *p);

/* A new, empty series at the end of p; *out points into p->series and is
 * valid until the next dml_plot_add_series. */
dml_status dml_plot_add_series(dml_plot *p, const char *title,
                               dml_plot_style style, dml_plot_series **out,
                               dml_error *err);

/* Append one point (non-finite values are kept and left out when written). */
dml_status dml_plot_push(dml_plot_series *s, double x, double y,
                         dml_error *err);

/* Points that will be drawn: finite, and positive on a log axis. */
size_t dml_plot_points(const dml_plot *p);

/*
 * Draw p with gnuplot into path (see above). A chart with no point to draw
 * is DML_ENOTFOUND "nothing to plot: WHAT", where what says which rows
 * were missing (what may be NULL).
 */
dml_status dml_plot_write(const dml_plot *p, const char *path,
                          const char *what, dml_error *err);

#endif
