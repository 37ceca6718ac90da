/*
 * test_cli.c: the command-line edge the tools share (common/cli.h): the
 * getopt loop, its usage errors in both wordings, whole numbers, paths,
 * --help/--version and the error line.
 */
#include "tests/support/unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/version.h"

enum { OPT_NAME = DML_CLI_OPT_FIRST, OPT_FLAG };

static const struct option test_opts[] = {
    {"name", required_argument, NULL, OPT_NAME},
    {"flag", no_argument, NULL, OPT_FLAG},
    DML_CLI_OPTIONS_END,
};

typedef struct seen {
    const char *name; /* last --name value */
    int flags;        /* --flag count */
    int calls;        /* callback calls */
} seen;

static dml_status on_test_option(void *ctx, int id, const char *arg,
                                 dml_error *err)
{
    seen *s = ctx;
    s->calls++;
    if (id == OPT_NAME) {
        if (strcmp(arg, "bad") == 0)
            return dml_error_msg(err, DML_EUSAGE, "--name: no");
        s->name = arg;
    } else if (id == OPT_FLAG) {
        s->flags++;
    }
    return DML_OK;
}

/* Parse a NULL-ended argument list; argv is copied since getopt permutes. */
static dml_status parse(dml_cli_style style, dml_cli *cli, seen *s,
                        dml_error *err, ...)
{
    static char *argv[16];
    static char store[16][64];
    va_list ap;
    va_start(ap, err);
    int argc = 0;
    snprintf(store[argc], sizeof store[argc], "prog");
    argv[argc] = store[argc];
    argc++;
    for (const char *a; (a = va_arg(ap, const char *)) != NULL; argc++) {
        snprintf(store[argc], sizeof store[argc], "%s", a);
        argv[argc] = store[argc];
    }
    va_end(ap);
    argv[argc] = NULL;
    memset(cli, 0, sizeof *cli);
    cli->style = style;
    memset(s, 0, sizeof *s);
    dml_error_clear(err);
    return dml_cli_parse(cli, argc, argv, test_opts, on_test_option, s, err);
}

static void parse_hands_options_to_the_callback(void **state)
{
    (void)state;
    dml_cli cli;
    seen s;
    dml_error err;
    assert_int_equal(parse(DML_CLI_BARE, &cli, &s, &err, "--flag", "--name",
                           "x", "--flag", "--name=y", NULL),
                     DML_OK);
    /* Every tool option reaches the callback, in order, last value wins. */
    assert_int_equal(s.calls, 4);
    assert_int_equal(s.flags, 2);
    assert_string_equal(s.name, "y");
    assert_false(cli.help);
    assert_false(cli.version);
    /* A second parse in the same process starts afresh (optind reset). */
    assert_int_equal(parse(DML_CLI_BARE, &cli, &s, &err, "-h", "--version",
                           NULL),
                     DML_OK);
    assert_true(cli.help);
    assert_true(cli.version);
    assert_int_equal(s.calls, 0);
}

static void parse_words_usage_errors_per_style(void **state)
{
    (void)state;
    dml_cli cli;
    seen s;
    dml_error err;
    /* The exact lines the bad-input corpus and scripts match. */
    assert_int_equal(parse(DML_CLI_BARE, &cli, &s, &err, "--name", NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "--name needs a value");
    assert_int_equal(parse(DML_CLI_QUOTED, &cli, &s, &err, "--name", NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "option '--name' needs a value (see --help)");
    assert_int_equal(parse(DML_CLI_BARE, &cli, &s, &err, "--nope", NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "unknown option --nope (see --help)");
    assert_int_equal(parse(DML_CLI_QUOTED, &cli, &s, &err, "-x", NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "unknown option '-x' (see --help)");
    assert_int_equal(parse(DML_CLI_BARE, &cli, &s, &err, "--flag", "op",
                           NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "unexpected argument \"op\"");
    assert_int_equal(parse(DML_CLI_QUOTED, &cli, &s, &err, "op", NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "unexpected argument 'op' (see --help)");
    /* The callback's own error stops the parse and comes back unchanged. */
    assert_int_equal(parse(DML_CLI_BARE, &cli, &s, &err, "--name", "bad",
                           "--flag", NULL),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "--name: no");
    assert_int_equal(s.flags, 0);
}

static void whole_numbers_and_paths(void **state)
{
    (void)state;
    dml_error err;
    long v = -1;
    assert_int_equal(dml_cli_parse_long(DML_CLI_QUOTED, "--limit", "0", 0,
                                        1000000000L, &v, &err),
                     DML_OK);
    assert_int_equal(v, 0);
    assert_int_equal(dml_cli_parse_long(DML_CLI_QUOTED, "--limit", "-1", 0,
                                        1000000000L, &v, &err),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "--limit: '-1' is not a whole number from "
                                 "0 to 1000000000");
    assert_int_equal(dml_cli_parse_long(DML_CLI_BARE, "--top", "65", 1, 64,
                                        &v, &err),
                     DML_EUSAGE);
    assert_string_equal(err.msg,
                        "--top: \"65\" is not a whole number from 1 to 64");
    const char *path = NULL;
    assert_int_equal(dml_cli_parse_path("--db", "", &path, &err), DML_EUSAGE);
    assert_string_equal(err.msg, "--db: empty path");
    assert_null(path);
    assert_int_equal(dml_cli_parse_path("--db", "x.db", &path, &err), DML_OK);
    assert_string_equal(path, "x.db");
}

/* Real numbers are range-checked before anything converts them to an
 * integer (issue 10: --tokens 1e30 and --batch-ramp 1e308 became
 * undefined int64 conversions). */
static void real_numbers_in_range(void **state)
{
    (void)state;
    dml_error err;
    double v = -1;
    assert_int_equal(dml_cli_parse_number(DML_CLI_BARE, "--tokens", "300e9",
                                          1, 1e18, &v, &err),
                     DML_OK);
    assert_true(v == 300e9);
    assert_int_equal(dml_cli_parse_number(DML_CLI_BARE, "--tokens", "2T", 1,
                                          1e18, &v, &err),
                     DML_OK);
    assert_true(v == 2e12);
    assert_int_equal(dml_cli_parse_number(DML_CLI_BARE, "--tokens", "1e18",
                                          1, 1e18, &v, &err),
                     DML_OK);
    v = -1;
    static const char *bad[] = {"1e30", "1e308", "1e400", "inf", "-inf",
                                "nan", "0", "-5", "", "12x", "1e18K"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dml_cli_parse_number(DML_CLI_BARE, "--tokens", bad[i], 1, 1e18,
                                 &v, &err) != DML_EUSAGE)
            fail_msg("'%s' was taken for a number from 1 to 1e18", bad[i]);
    assert_true(v == -1); /* untouched when refused */
    assert_int_equal(dml_cli_parse_number(DML_CLI_BARE, "--tokens", "1e30",
                                          1, 1e18, &v, &err),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "--tokens: \"1e30\" is not a number from 1 "
                                 "to 1e+18");
    assert_int_equal(dml_cli_parse_number(DML_CLI_QUOTED, "--lr", "2", 0, 1,
                                          &v, &err),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "--lr: '2' is not a number from 0 to 1");
}

/* Unsigned 64-bit whole numbers (seeds): no saturation past 2^64 - 1, no
 * sign, no spaces. */
static void unsigned_whole_numbers(void **state)
{
    (void)state;
    dml_error err;
    uint64_t v = 7;
    assert_int_equal(dml_cli_parse_u64(DML_CLI_QUOTED, "--seed",
                                       "18446744073709551615", UINT64_MAX,
                                       &v, &err),
                     DML_OK);
    assert_true(v == UINT64_MAX);
    assert_int_equal(dml_cli_parse_u64(DML_CLI_QUOTED, "--seed",
                                       "9223372036854775807", INT64_MAX, &v,
                                       &err),
                     DML_OK);
    assert_true(v == (uint64_t)INT64_MAX);
    assert_int_equal(dml_cli_parse_u64(DML_CLI_QUOTED, "--seed", "0",
                                       INT64_MAX, &v, &err),
                     DML_OK);
    assert_true(v == 0);
    v = 7;
    static const char *bad[] = {"18446744073709551616",
                                "99999999999999999999999", "-1", "+1", " 1",
                                "1 ", "1abc", "", "0x10", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (dml_cli_parse_u64(DML_CLI_QUOTED, "--seed", bad[i], UINT64_MAX,
                              &v, &err) != DML_EUSAGE)
            fail_msg("'%s' was taken for a 64-bit whole number", bad[i]);
    assert_true(v == 7);
    assert_int_equal(dml_cli_parse_u64(DML_CLI_QUOTED, "--seed",
                                       "9223372036854775808", INT64_MAX, &v,
                                       &err),
                     DML_EUSAGE);
    assert_string_equal(err.msg, "--seed: '9223372036854775808' is not a "
                                 "whole number from 0 to "
                                 "9223372036854775807");
}

/* What f received, as a string (f is a tmpfile). */
static const char *contents(FILE *f, char *buf, size_t size)
{
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    return buf;
}

static void help_version_and_error_line(void **state)
{
    (void)state;
    char buf[256];
    FILE *f = tmpfile();
    assert_non_null(f);
    dml_cli cli = {.style = DML_CLI_BARE};
    assert_false(dml_cli_print_help_version(&cli, "dml-x", "usage\n", f));
    assert_string_equal(contents(f, buf, sizeof buf), "");
    cli.version = true;
    assert_true(dml_cli_print_help_version(&cli, "dml-x", "usage\n", f));
    assert_string_equal(contents(f, buf, sizeof buf),
                        "dml-x " DML_VERSION "\n");
    fclose(f);
    /* --help wins over --version, as in every tool before. */
    f = tmpfile();
    cli.help = true;
    assert_true(dml_cli_print_help_version(&cli, "dml-x", "usage\n", f));
    assert_string_equal(contents(f, buf, sizeof buf), "usage\n");
    fclose(f);

    f = tmpfile();
    dml_error err;
    dml_error_set(&err, DML_EINPUT, "m.json", 3, 7, "layers", "bad");
    assert_int_equal(dml_cli_fail(f, "dml-x", err.status, &err), 2);
    assert_string_equal(contents(f, buf, sizeof buf),
                        "dml-x: error: m.json:3:7: layers: bad\n");
    fclose(f);
    f = tmpfile();
    /* The exit code is that of the status given. */
    assert_int_equal(dml_cli_fail(f, "dml-x", DML_EINFEASIBLE, &err), 3);
    fclose(f);
}

DML_TEST_MAIN(
    cmocka_unit_test(parse_hands_options_to_the_callback),
    cmocka_unit_test(parse_words_usage_errors_per_style),
    cmocka_unit_test(whole_numbers_and_paths),
    cmocka_unit_test(real_numbers_in_range),
    cmocka_unit_test(unsigned_whole_numbers),
    cmocka_unit_test(help_version_and_error_line))
