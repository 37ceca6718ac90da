/*
 * plot.c: charts through gnuplot (see plot.h).
 */
#include "plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file.h"

/* The image a chart becomes, at most: gnuplot's SVG of a few thousand
 * points is some hundred kB. */
#define PLOT_MAX_BYTES (64u << 20)

/* Exit status of the child when execvp finds no gnuplot (the shell's). */
#define EXIT_NOT_FOUND 127

void dml_plot_init(dml_plot *p)
{
    memset(p, 0, sizeof *p);
}

void dml_plot_free(dml_plot *p)
{
    for (size_t i = 0; i < p->n_series; i++) {
        free(p->series[i].x);
        free(p->series[i].y);
    }
    free(p->series);
    dml_plot_init(p);
}

dml_status dml_plot_add_series(dml_plot *p, const char *title,
                               dml_plot_style style, dml_plot_series **out,
                               dml_error *err)
{
    if (p->n_series == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        dml_plot_series *s = realloc(p->series, cap * sizeof *s);
        if (!s)
            return dml_error_msg(err, DML_ENOMEM, "out of memory for a plot");
        p->series = s;
        p->cap = cap;
    }
    dml_plot_series *s = &p->series[p->n_series++];
    memset(s, 0, sizeof *s);
    snprintf(s->title, sizeof s->title, "%s", title ? title : "");
    s->style = style;
    *out = s;
    return DML_OK;
}

dml_status dml_plot_push(dml_plot_series *s, double x, double y,
                         dml_error *err)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, cap * sizeof *nx);
        if (nx)
            s->x = nx;
        double *ny = nx ? realloc(s->y, cap * sizeof *ny) : NULL;
        if (!ny)
            return dml_error_msg(err, DML_ENOMEM, "out of memory for a plot");
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return DML_OK;
}

static bool drawable(const dml_plot *p, double x, double y)
{
    return isfinite(x) && isfinite(y) && (!p->logx || x > 0) &&
           (!p->logy || y > 0);
}

size_t dml_plot_points(const dml_plot *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_series; i++)
        for (size_t k = 0; k < p->series[i].n; k++)
            n += drawable(p, p->series[i].x[k], p->series[i].y[k]);
    return n;
}

/* ---- the script ---- */

/* s as a gnuplot single-quoted string: '' stands for a quote, and control
 * characters (which a database may hold) become spaces. */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '\'')
            fputs("''", f);
        else if (*c < 0x20 || *c == 0x7f)
            fputc(' ', f);
        else
            fputc(*c, f);
    }
    fputc('\'', f);
}

static const char *style_name(dml_plot_style s)
{
    switch (s) {
    case DML_PLOT_POINTS: return "points pointtype 7 pointsize 1.1";
    case DML_PLOT_LINES: return "lines linewidth 1.5";
    case DML_PLOT_LINESPOINTS: return "linespoints linewidth 1.5 pointsize 0.6";
    }
    return "points";
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* One range for both axes, a little wider than the points, and a square
 * drawing area. */
static void put_square_range(const dml_plot *p, FILE *f)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < p->n_series; i++)
        for (size_t k = 0; k < p->series[i].n; k++) {
            double x = p->series[i].x[k], y = p->series[i].y[k];
            if (!drawable(p, x, y))
                continue;
            lo = fmin(lo, fmin(x, y));
            hi = fmax(hi, fmax(x, y));
        }
    if (!(lo <= hi))
        return;
    bool logs = p->logx || p->logy;
    double a = logs ? lo / 1.5 : lo - 0.05 * (hi - lo + 1e-300);
    double b = logs ? hi * 1.5 : hi + 0.05 * (hi - lo + 1e-300);
    fprintf(f, "set size square\nset xrange [%.17g:%.17g]\n"
               "set yrange [%.17g:%.17g]\n", a, b, a, b);
}

/* Data files s<i>.dat (x y per line, drawable points only) and plot.gp,
 * which writes the image to 'image' in the same folder. */
static dml_status write_inputs(const dml_plot *p, const char *dir, bool png,
                               dml_error *err)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < p->n_series; i++) {
        snprintf(path, sizeof path, "%s/s%zu.dat", dir, i);
        FILE *f = fopen(path, "w");
        if (!f)
            return dml_error_msg(err, DML_EIO, "cannot write %s: %s", path,
                                 strerror(errno));
        const dml_plot_series *s = &p->series[i];
        for (size_t k = 0; k < s->n; k++)
            if (drawable(p, s->x[k], s->y[k]))
                fprintf(f, "%.17g %.17g\n", s->x[k], s->y[k]);
        if (fclose(f) != 0)
            return dml_error_msg(err, DML_EIO, "cannot write %s: %s", path,
                                 strerror(errno));
    }
    snprintf(path, sizeof path, "%s/plot.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return dml_error_msg(err, DML_EIO, "cannot write %s: %s", path,
                             strerror(errno));
    /* noenhanced: a title such as "dp2_tp1" is text, not a subscript. */
    if (png)
        fputs("set terminal pngcairo size 900,600 noenhanced "
              "font 'sans,10' background rgb 'white'\n", f);
    else
        fputs("set terminal svg size 900,600 fixed noenhanced "
              "font 'sans,11' background rgb 'white'\n", f);
    fputs("set output 'image'\n", f);
    fputs("set title ", f);
    put_quoted(f, p->title);
    fputs("\nset xlabel ", f);
    put_quoted(f, p->xlabel);
    fputs("\nset ylabel ", f);
    put_quoted(f, p->ylabel);
    fputs("\nset grid\nset key outside right top\n", f);
    if (p->logx)
        fputs("set logscale x\nset format x '%g'\n", f);
    if (p->logy)
        fputs("set logscale y\nset format y '%g'\n", f);
    if (p->square)
        put_square_range(p, f);
    fputs("plot ", f);
    bool any = false;
    for (size_t i = 0; i < p->n_series; i++) {
        fprintf(f, "%s's%zu.dat' using 1:2 with %s title ", any ? ", \\\n  "
                                                                : "",
                i, style_name(p->series[i].style));
        put_quoted(f, p->series[i].title);
        any = true;
    }
    if (p->diagonal)
        fprintf(f, "%sx with lines dashtype 2 linecolor rgb 'gray40' "
                   "title 'y = x'",
                any ? ", \\\n  " : "");
    fputs("\n", f);
    if (fclose(f) != 0)
        return dml_error_msg(err, DML_EIO, "cannot write %s: %s", path,
                             strerror(errno));
    return DML_OK;
}

/* ---- running gnuplot ---- */

/* The first non-empty line of gnuplot's standard error, for the message. */
static void first_error_line(const char *dir, char *out, size_t size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/gnuplot.err", dir);
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *s = line + strspn(line, " \t^");
        if (*s) {
            snprintf(out, size, "%s", s);
            break;
        }
    }
    fclose(f);
}

/* Run gnuplot plot.gp in dir; the child's output goes to dir/gnuplot.err. */
static dml_status run_gnuplot(const char *dir, dml_error *err)
{
    pid_t pid = fork();
    if (pid < 0)
        return dml_error_msg(err, DML_ERUNTIME, "cannot start gnuplot: %s",
                             strerror(errno));
    if (pid == 0) {
        /* The child: only async-signal-safe calls until execvp. */
        if (chdir(dir) != 0)
            _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = open("gnuplot.err", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 ||
            dup2(out, 2) < 0)
            _exit(126);
        char *argv[] = {"gnuplot", "plot.gp", NULL};
        execvp("gnuplot", argv);
        _exit(errno == ENOENT ? EXIT_NOT_FOUND : 126);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return dml_error_msg(err, DML_ERUNTIME, "waiting for gnuplot: %s",
                                 strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return DML_OK;
    if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_NOT_FOUND)
        return dml_error_msg(err, DML_ERUNTIME,
                             "gnuplot not found; install gnuplot-nox");
    char why[256];
    first_error_line(dir, why, sizeof why);
    if (WIFSIGNALED(status))
        return dml_error_msg(err, DML_ERUNTIME,
                             "gnuplot was killed by signal %d%s%s",
                             WTERMSIG(status), why[0] ? ": " : "", why);
    return dml_error_msg(err, DML_ERUNTIME, "gnuplot failed (exit %d)%s%s",
                         WEXITSTATUS(status), why[0] ? ": " : "", why);
}

/* Remove what dml_plot_write put in dir, then dir. */
static void remove_dir(const char *dir, size_t n_series)
{
    char path[PATH_MAX];
    const char *names[] = {"plot.gp", "gnuplot.err", "image"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    for (size_t i = 0; i < n_series; i++) {
        snprintf(path, sizeof path, "%s/s%zu.dat", dir, i);
        unlink(path);
    }
    rmdir(dir);
}

dml_status dml_plot_write(const dml_plot *p, const char *path,
                          const char *what, dml_error *err)
{
    if (dml_plot_points(p) == 0)
        return dml_error_msg(err, DML_ENOTFOUND, "nothing to plot%s%s",
                             what ? ": " : "", what ? what : "");
    const char *tmp = getenv("TMPDIR");
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/dml-plot-XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return dml_error_msg(err, DML_EIO, "cannot make a folder for "
                             "gnuplot under %s: %s",
                             tmp && tmp[0] ? tmp : "/tmp", strerror(errno));
    bool png = ends_with(path, ".png");
    dml_status s = write_inputs(p, dir, png, err);
    if (s == DML_OK)
        s = run_gnuplot(dir, err);
    char *image = NULL;
    size_t len = 0;
    if (s == DML_OK) {
        char ipath[PATH_MAX];
        snprintf(ipath, sizeof ipath, "%s/image", dir);
        s = dml_file_read_all(ipath, PLOT_MAX_BYTES, &image, &len, err);
        if (s == DML_OK && len == 0)
            s = dml_error_msg(err, DML_ERUNTIME,
                              "gnuplot wrote an empty image");
    }
    if (s == DML_OK)
        s = dml_file_write_atomic(path, image, len, err);
    free(image);
    remove_dir(dir, p->n_series);
    return s;
}
