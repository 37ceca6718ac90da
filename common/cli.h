/*
 * cli.h: the command-line edge the dml tools share.
 *
 * Every tool's main() parses long options with getopt_long, answers
 * --help and --version, rejects operands, and turns a failure into one
 * line on stderr and an exit code. The loop, its usage errors and those
 * last steps live here once; a tool keeps only its table of options and
 * what each one means (a callback). The tools word usage errors in one of
 * two ways (dml_cli_style), which scripts and the bad-input corpus
 * (tests/fixtures/bad/) match byte for byte, so the wording is chosen per
 * tool rather than unified. Nothing here exits; output goes to the
 * streams main() passes in.
 */
#ifndef DML_CLI_H
#define DML_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* How a tool words its usage errors. */
typedef enum dml_cli_style {
    /* dml-probe, dml-plan: `--x needs a value`, `unknown option --x (see
     * --help)`, `unexpected argument "a"`; values quoted "like this" */
    DML_CLI_BARE,
    /* dml-exec, dml-history: `option '--x' needs a value (see --help)`,
     * `unknown option '--x' (see --help)`, `unexpected argument 'a' (see
     * --help)`; values quoted 'like this' */
    DML_CLI_QUOTED,
} dml_cli_style;

/* Option ids dml_cli_parse answers itself; a tool numbers its own options
 * from DML_CLI_OPT_FIRST up, above anything getopt returns for a short
 * option or a usage error ('?', ':'). */
enum {
    DML_CLI_OPT_HELP = 'h',
    DML_CLI_OPT_VERSION = 255,
    DML_CLI_OPT_FIRST = 256,
};

/* The end of every tool's option table: --help, --version, terminator. */
#define DML_CLI_OPTIONS_END                                                   \
    {"help", no_argument, NULL, DML_CLI_OPT_HELP},                            \
    {"version", no_argument, NULL, DML_CLI_OPT_VERSION},                      \
    {NULL, 0, NULL, 0}

typedef struct dml_cli {
    dml_cli_style style; /* wording of this tool's usage errors */
    bool help;           /* --help or -h was given */
    bool version;        /* --version was given */
} dml_cli;

/*
 * Called once per option of the tool's own (id >= DML_CLI_OPT_FIRST), in
 * command-line order; arg is the option's value, or NULL for a flag. A
 * status other than DML_OK stops the parse and is returned from it.
 */
typedef dml_status (*dml_cli_option_fn)(void *ctx, int id, const char *arg,
                                        dml_error *err);

/*
 * Parse argv against longopts (ending with DML_CLI_OPTIONS_END; -h is
 * accepted too), setting cli->help and cli->version and handing every
 * other option to on_option(ctx, ...). A missing value, an unknown option
 * or any operand is DML_EUSAGE worded in cli->style. getopt's own messages
 * are off, and the scan starts afresh.
 */
dml_status dml_cli_parse(dml_cli *cli, int argc, char **argv,
                         const struct option *longopts,
                         dml_cli_option_fn on_option, void *ctx,
                         dml_error *err);

/*
 * A whole number from min to max for option opt (e.g. "--limit"), or
 * DML_EUSAGE `--limit: '12x' is not a whole number from 0 to 100` with
 * text quoted in style.
 */
dml_status dml_cli_parse_long(dml_cli_style style, const char *opt,
                              const char *text, long min, long max,
                              long *out, dml_error *err);

/*
 * A number from min to max for option opt, with the suffixes of
 * dml_units_parse_size ("300e9", "2T", "64Ki"), or DML_EUSAGE
 * `--tokens: "1e30" is not a number from 1 to 1e+18`. The range is
 * checked on the double before any caller converts it to an integer
 * (a conversion out of range is undefined behaviour in C), and infinity,
 * NaN and values past DBL_MAX are refused.
 */
dml_status dml_cli_parse_number(dml_cli_style style, const char *opt,
                                const char *text, double min, double max,
                                double *out, dml_error *err);

/*
 * A whole number from 0 to max, as unsigned 64 bits (a seed), or
 * DML_EUSAGE `--seed: '2^64' is not a whole number from 0 to
 * 18446744073709551615`: digits only, no sign, no spaces, and a value
 * past 2^64 - 1 refused rather than saturated.
 */
dml_status dml_cli_parse_u64(dml_cli_style style, const char *opt,
                             const char *text, uint64_t max, uint64_t *out,
                             dml_error *err);

/* A path for option opt; an empty one is DML_EUSAGE `--db: empty path`. */
dml_status dml_cli_parse_path(const char *opt, const char *text,
                              const char **out, dml_error *err);

/*
 * --help puts usage on out, else --version puts "program VERSION"; true
 * when either was asked for (main() is then done).
 */
bool dml_cli_print_help_version(const dml_cli *cli, const char *program,
                                const char *usage, FILE *out);

/*
 * Put the one error line `program: error: file:line:col: field: message`
 * on out (stderr, from main()) and return the exit code of status s. The
 * word "error" is the level the logging module writes for the others
 * ("program: warning: ..."), so that the four tools report alike.
 */
int dml_cli_fail(FILE *out, const char *program, dml_status s,
                 const dml_error *err);

#endif
