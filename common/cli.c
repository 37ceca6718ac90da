/*
 * cli.c: the command-line edge the dml tools share (see cli.h).
 */
#include "cli.h"

#include <inttypes.h>

#include "common/version.h"
#include "units.h"

/* The quote a style puts around a value it repeats back. */
static char quote(dml_cli_style style)
{
    return style == DML_CLI_QUOTED ? '\'' : '"';
}

dml_status dml_cli_parse(dml_cli *cli, int argc, char **argv,
                         const struct option *longopts,
                         dml_cli_option_fn on_option, void *ctx,
                         dml_error *err)
{
    bool quoted = cli->style == DML_CLI_QUOTED;
    opterr = 0; /* one line of our own instead of getopt's */
    optind = 0; /* glibc: 0 re-initialises the scan, as on a first call */
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == DML_CLI_OPT_HELP) {
            cli->help = true;
        } else if (c == DML_CLI_OPT_VERSION) {
            cli->version = true;
        } else if (c == ':') {
            /* argv[optind - 1]: the option as typed, not as getopt
             * matched it (an abbreviation stays one). */
            return quoted ? dml_error_msg(err, DML_EUSAGE,
                                          "option '%s' needs a value "
                                          "(see --help)",
                                          argv[optind - 1])
                          : dml_error_msg(err, DML_EUSAGE,
                                          "%s needs a value",
                                          argv[optind - 1]);
        } else if (c < DML_CLI_OPT_FIRST) {
            return quoted ? dml_error_msg(err, DML_EUSAGE,
                                          "unknown option '%s' (see --help)",
                                          argv[optind - 1])
                          : dml_error_msg(err, DML_EUSAGE,
                                          "unknown option %s (see --help)",
                                          argv[optind - 1]);
        } else {
            DML_CHECK(on_option(ctx, c, optarg, err));
        }
    }
    if (optind < argc)
        return quoted ? dml_error_msg(err, DML_EUSAGE,
                                      "unexpected argument '%s' (see --help)",
                                      argv[optind])
                      : dml_error_msg(err, DML_EUSAGE,
                                      "unexpected argument \"%s\"",
                                      argv[optind]);
    return DML_OK;
}

dml_status dml_cli_parse_long(dml_cli_style style, const char *opt,
                              const char *text, long min, long max,
                              long *out, dml_error *err)
{
    if (!dml_units_parse_long(text, min, max, out))
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: %c%s%c is not a whole number from %ld to "
                             "%ld",
                             opt, quote(style), text, quote(style), min, max);
    return DML_OK;
}

dml_status dml_cli_parse_number(dml_cli_style style, const char *opt,
                                const char *text, double min, double max,
                                double *out, dml_error *err)
{
    double v = 0;
    if (!dml_units_parse_size(text, &v) || !(v >= min && v <= max))
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: %c%s%c is not a number from %g to %g", opt,
                             quote(style), text, quote(style), min, max);
    *out = v;
    return DML_OK;
}

dml_status dml_cli_parse_u64(dml_cli_style style, const char *opt,
                             const char *text, uint64_t max, uint64_t *out,
                             dml_error *err)
{
    /* strtoull would take a sign ("-1" as 2^64 - 1) and leading spaces,
     * and saturates past 2^64 - 1: digits are summed here instead. */
    uint64_t v = 0;
    bool ok = text[0] != '\0';
    for (const char *p = text; ok && *p; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            ok = false;
        else
            v = v * 10 + d;
    }
    if (!ok || v > max)
        return dml_error_msg(err, DML_EUSAGE,
                             "%s: %c%s%c is not a whole number from 0 to "
                             "%" PRIu64,
                             opt, quote(style), text, quote(style), max);
    *out = v;
    return DML_OK;
}

dml_status dml_cli_parse_path(const char *opt, const char *text,
                              const char **out, dml_error *err)
{
    if (!text[0])
        return dml_error_msg(err, DML_EUSAGE, "%s: empty path", opt);
    *out = text;
    return DML_OK;
}

bool dml_cli_print_help_version(const dml_cli *cli, const char *program,
                                const char *usage, FILE *out)
{
    if (cli->help)
        fputs(usage, out);
    else if (cli->version)
        fprintf(out, "%s %s\n", program, DML_VERSION);
    return cli->help || cli->version;
}

int dml_cli_fail(FILE *out, const char *program, dml_status s,
                 const dml_error *err)
{
    char line[2048];
    /* "error:" as the logging module writes "warning:" (common/log.h), so
     * that every diagnostic of every tool reads "tool: level: message". */
    fprintf(out, "%s: error: %s\n", program,
            dml_error_format(err, line, sizeof line));
    return dml_status_exit_code(s);
}
