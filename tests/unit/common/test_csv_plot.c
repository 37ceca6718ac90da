/*
 * test_csv_plot.c: RFC 4180 records (common/csv.h) and gnuplot charts
 * (common/plot.h): quoting, absent numbers, the message when gnuplot is
 * missing, gnuplot's own failure, and an SVG that parses as one.
 */
#include "tests/support/unit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/csv.h"
#include "common/plot.h"

/* What the writer calls produce, as a string. */
static char *csv_of(void (*fill)(dml_csv *))
{
    static char buf[512];
    FILE *f = fmemopen(buf, sizeof buf, "w");
    dml_csv c;
    dml_csv_init(&c, f);
    fill(&c);
    fclose(f);
    return buf;
}

static void fill_quoting(dml_csv *c)
{
    dml_csv_text(c, "plain");
    dml_csv_text(c, "a,b");
    dml_csv_text(c, "say \"hi\"");
    dml_csv_text(c, "two\nlines");
    dml_csv_text(c, " padded");
    dml_csv_text(c, NULL);
    dml_csv_end(c);
}

static void fields_are_quoted_as_rfc4180_says(void **state)
{
    (void)state;
    assert_string_equal(csv_of(fill_quoting),
                        "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\","
                        "\" padded\",\r\n");
}

static void fill_numbers(dml_csv *c)
{
    dml_csv_num(c, 0.012);
    dml_csv_num(c, NAN);
    dml_csv_num(c, 1.0 / 3.0);
    dml_csv_i64(c, -7);
    dml_csv_end(c);
}

static void numbers_read_back_and_nan_is_empty(void **state)
{
    (void)state;
    const char *s = csv_of(fill_numbers);
    if (strncmp(s, "0.012,,", 7) != 0)
        fail_msg("0.012 then an empty field for NaN, got '%s'", s);
    double third = strtod(s + 7, NULL);
    if (third != 1.0 / 3.0)
        fail_msg("1/3 must read back as the same double, got '%s'", s);
    assert_non_null(strstr(s, ",-7\r\n"));
}

/* A small chart in p: two series, one with a point a log axis drops. */
static void small_chart(dml_plot *p)
{
    dml_error err;
    dml_plot_init(p);
    snprintf(p->title, sizeof p->title, "it's a test");
    snprintf(p->xlabel, sizeof p->xlabel, "size (bytes)");
    snprintf(p->ylabel, sizeof p->ylabel, "bandwidth (GB/s)");
    p->logx = p->logy = true;
    p->diagonal = true;
    dml_plot_series *s = NULL;
    assert_int_equal(dml_plot_add_series(p, "a_b", DML_PLOT_LINESPOINTS, &s,
                                         &err), DML_OK);
    for (int i = 0; i < 8; i++)
        assert_int_equal(dml_plot_push(s, 1 << (i * 2), 0.5 + i, &err),
                         DML_OK);
    assert_int_equal(dml_plot_add_series(p, "b", DML_PLOT_POINTS, &s, &err),
                     DML_OK);
    assert_int_equal(dml_plot_push(s, 0.0, 1.0, &err), DML_OK);
    assert_int_equal(dml_plot_push(s, 10.0, 2.0, &err), DML_OK);
    assert_int_equal(dml_plot_points(p), 9); /* x = 0 is off a log axis */
}

static void a_missing_gnuplot_is_one_clear_line(void **state)
{
    (void)state;
    char empty[] = "/tmp/dml-nognuplot-XXXXXX";
    assert_non_null(mkdtemp(empty));
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", empty, 1);
    dml_plot p;
    small_chart(&p);
    char out[64];
    snprintf(out, sizeof out, "%s/x.svg", empty);
    dml_error err;
    dml_status s = dml_plot_write(&p, out, NULL, &err);
    if (old)
        setenv("PATH", old, 1);
    free(old);
    assert_int_equal(s, DML_ERUNTIME);
    assert_string_equal(err.msg, "gnuplot not found; install gnuplot-nox");
    if (access(out, F_OK) == 0)
        fail_msg("no image may be written when gnuplot is missing");
    dml_plot_free(&p);
    rmdir(empty);
}

static void nothing_to_draw_names_what_is_missing(void **state)
{
    (void)state;
    dml_plot p;
    dml_plot_init(&p);
    dml_error err;
    assert_int_equal(dml_plot_write(&p, "/tmp/never.svg", "no runs", &err),
                     DML_ENOTFOUND);
    assert_string_equal(err.msg, "nothing to plot: no runs");
}

static bool have_gnuplot(void)
{
    return system("command -v gnuplot >/dev/null 2>&1") == 0;
}

static void an_svg_is_written_whole(void **state)
{
    (void)state;
    if (!have_gnuplot())
        skip();
    char dir[] = "/tmp/dml-plot-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char out[96], cmd[1024];
    snprintf(out, sizeof out, "%s/chart.svg", dir);
    dml_plot p;
    small_chart(&p);
    dml_error err;
    if (dml_plot_write(&p, out, NULL, &err) != DML_OK)
        fail_msg("dml_plot_write: %s", err.msg);
    dml_plot_free(&p);
    /* The root is <svg> with a size, and the quote in the title survived
     * gnuplot's parser. */
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, xml.etree.ElementTree as E; "
             "r = E.parse(sys.argv[1]).getroot(); "
             "assert r.tag.endswith(\"svg\") and r.get(\"width\"); "
             "assert \"it&apos;s a test\" in open(sys.argv[1]).read() or "
             "\"it'\"'\"'s a test\" in open(sys.argv[1]).read()' %s", out);
    if (system(cmd) != 0)
        fail_msg("%s is not an SVG with a size and the title", out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

DML_TEST_MAIN(
    cmocka_unit_test(fields_are_quoted_as_rfc4180_says),
    cmocka_unit_test(numbers_read_back_and_nan_is_empty),
    cmocka_unit_test(a_missing_gnuplot_is_one_clear_line),
    cmocka_unit_test(nothing_to_draw_names_what_is_missing),
    cmocka_unit_test(an_svg_is_written_whole))
