/*
 * dml-run: a dml-exec job that outlives its hosts (issue 17).
 *
 * A thin main(): parse the options before "--", hand them and the
 * arguments after it to elastic/supervise.h, map the outcome to the exit
 * code. The supervisor's decisions go to stderr (info level unless
 * DML_LOG_LEVEL says otherwise) and to the database.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "elastic/supervise.h"

static const char usage_text[] =
    "usage: dml-run [--hostfile F] [--launcher CMD] [--min-ranks N]\n"
    "               [--max-restarts K] [--hang-timeout S] [--probe-every S]\n"
    "               [--cluster C]\n"
    "               [--db PATH] -- ARGS-FOR-DML-EXEC\n"
    "\n"
    "Run dml-exec under a launcher (LAUNCHER [--hostfile H] -np N dml-exec\n"
    "ARGS) and keep the training going when ranks die: find the hosts\n"
    "still alive, plan again for them (same model, global batch and\n"
    "schedule; dp, tp and pp for the new rank count), and relaunch from the\n"
    "newest checkpoint, re-sharded onto the new layout. Hosts lost are\n"
    "probed (a launch of dml-exec --version there); when they answer, the\n"
    "job stops right after its next checkpoint and grows back onto them\n"
    "the same way. ARGS must hold\n"
    "--plan, --checkpoint-dir and --checkpoint-every.\n"
    "\n"
    "  --hostfile F       hosts, Open MPI's format (HOST [slots=N] a line);\n"
    "                     default: inside a Slurm allocation its nodes\n"
    "                     (SLURM_JOB_NODELIST, SLURM_TASKS_PER_NODE), else\n"
    "                     this machine with the plan's ranks\n"
    "  --launcher CMD     the launcher's words (default mpirun; e.g.\n"
    "                     \"scripts/emu-cluster mpirun\")\n"
    "  --min-ranks N      end the job when fewer ranks are left (default 1)\n"
    "  --max-restarts K   relaunches after failures, at most (default 3)\n"
    "  --hang-timeout S   a launch with no step for S seconds is stopped and\n"
    "                     counts as a failure (default 120)\n"
    "  --probe-every S    probe the lost hosts every S seconds, and at once\n"
    "                     when the hostfile changes (default 30; 0: never)\n"
    "  --cluster C        cluster preset or spec file to plan on (default:\n"
    "                     the plan's cluster)\n"
    "  --db PATH          database (default: dml-exec's --db, $DML_DB, else\n"
    "                     ./dml.db); the job, its decisions and goodput go\n"
    "                     there (dml-history --jobs)\n"
    "  --help             this text\n"
    "  --version          print the version\n"
    "\n"
    "Exit status: 0 the training finished, 1 the job ended without it (the\n"
    "reason on stderr), 2 bad usage or input, 128 + signal when stopped by\n"
    "SIGINT or SIGTERM.\n";

typedef struct options {
    dml_cli cli;
    dml_elastic_options run;
} options;

enum { OPT_HOSTFILE = DML_CLI_OPT_FIRST, OPT_LAUNCHER, OPT_MIN_RANKS,
       OPT_MAX_RESTARTS, OPT_HANG, OPT_PROBE, OPT_CLUSTER, OPT_DB };

static const struct option longopts[] = {
    {"hostfile", required_argument, NULL, OPT_HOSTFILE},
    {"launcher", required_argument, NULL, OPT_LAUNCHER},
    {"min-ranks", required_argument, NULL, OPT_MIN_RANKS},
    {"max-restarts", required_argument, NULL, OPT_MAX_RESTARTS},
    {"hang-timeout", required_argument, NULL, OPT_HANG},
    {"probe-every", required_argument, NULL, OPT_PROBE},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"db", required_argument, NULL, OPT_DB},
    DML_CLI_OPTIONS_END,
};

static dml_status on_option(void *ctx, int id, const char *arg,
                            dml_error *err)
{
    options *o = ctx;
    dml_elastic_options *r = &o->run;
    long v;
    switch (id) {
    case OPT_HOSTFILE:
        return dml_cli_parse_path("--hostfile", arg, &r->hostfile, err);
    case OPT_LAUNCHER:
        return dml_cli_parse_path("--launcher", arg, &r->launcher, err);
    case OPT_CLUSTER:
        return dml_cli_parse_path("--cluster", arg, &r->cluster, err);
    case OPT_DB: return dml_cli_parse_path("--db", arg, &r->db_path, err);
    case OPT_MIN_RANKS:
        DML_CHECK(dml_cli_parse_long(o->cli.style, "--min-ranks", arg, 1,
                                     1L << 20, &v, err));
        r->min_ranks = (int)v;
        break;
    case OPT_MAX_RESTARTS:
        DML_CHECK(dml_cli_parse_long(o->cli.style, "--max-restarts", arg, 0,
                                     1000000, &v, err));
        r->max_restarts = (int)v;
        break;
    case OPT_PROBE:
        return dml_cli_parse_number(o->cli.style, "--probe-every", arg, 0,
                                    1e7, &r->probe_s, err);
    case OPT_HANG:
        return dml_cli_parse_number(o->cli.style, "--hang-timeout", arg, 1,
                                    1e7, &r->hang_s, err);
    }
    return DML_OK;
}

int main(int argc, char **argv)
{
    dml_log_init("dml-run");
    if (!getenv("DML_LOG_LEVEL"))
        dml_log_set_level(DML_LOG_INFO); /* the decisions are its output */
    dml_error err;
    dml_error_clear(&err);
    options o;
    memset(&o, 0, sizeof o);
    o.cli.style = DML_CLI_QUOTED;
    dml_elastic_options_init(&o.run);
    int dash = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            dash = i;
            break;
        }
    dml_status s = dml_cli_parse(&o.cli, dash, argv, longopts, on_option, &o,
                                 &err);
    if (s != DML_OK)
        return dml_cli_fail(stderr, "dml-run", s, &err);
    if (dml_cli_print_help_version(&o.cli, "dml-run", usage_text, stdout))
        return 0;
    if (dash + 1 >= argc) {
        dml_error_msg(&err, DML_EUSAGE, "no arguments for dml-exec after "
                      "'--' (see --help)");
        return dml_cli_fail(stderr, "dml-run", DML_EUSAGE, &err);
    }
    o.run.nargs = argc - dash - 1;
    o.run.args = argv + dash + 1;
    if (dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL) != 0)
        dml_log_warn("cannot catch SIGINT/SIGTERM: a launch running when "
                     "one arrives is left running");
    dml_elastic_result r;
    s = dml_elastic_run(&o.run, &r, &err);
    if (s == DML_OK)
        return 0;
    int code = dml_cli_fail(stderr, "dml-run", s, &err);
    return r.stop_signal ? 128 + r.stop_signal : code;
}
