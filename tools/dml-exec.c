/*
 * dml-exec: train a plan for real under mpirun and record what happened.
 *
 * A thin main(): start MPI, parse options (every rank parses the same
 * argv; only rank 0 prints), hand them to executor/exec.h, print the
 * summary on rank 0 and map the status to the exit code. Bad input is
 * judged by rank 0 before any training work, so every rank exits with the
 * same code and there is exactly one error line.
 */
#include <cblas.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/units.h"
#include "common/version.h"
#include "executor/ckpt.h"
#include "executor/exec.h"
#include "executor/limits.h"

static const char usage_text[] =
    "usage: mpirun -np N dml-exec --plan PLAN.json [--steps S] [--db PATH]\n"
    "         [--data DIR|synthetic] [--seed S] [--shuffle none|epoch]\n"
    "         [--threads T] [--checkpoint-dir DIR --checkpoint-every K]\n"
    "         [--resume] [--init-weights FILE] [--save-weights FILE]\n"
    "         [--bucket-bytes B] [--eval-every K] [--json]\n"
    "\n"
    "Train the plan's MLP on Fashion-MNIST (or synthetic data) with the\n"
    "plan's data, tensor and pipeline parallelism, and record every step in\n"
    "the dml database. N must be dp x tp x pp of the plan.\n"
    "\n"
    "  --plan FILE          plan file (dml-plan --out)\n"
    "  --steps S            optimizer steps in all, a resumed run included\n"
    "                       (default: the plan's warmup + decay steps, or 100)\n"
    "  --db PATH            database (default: $DML_DB, else ./dml.db)\n"
    "  --data DIR           Fashion-MNIST IDX files (default\n"
    "                       /usr/share/datasets/fashion-mnist), or\n"
    "                       'synthetic' for deterministic synthetic data\n"
    "  --seed S             initialisation and shuffle seed, 0 to 2^63-1\n"
    "                       (default 1)\n"
    "  --shuffle MODE       none: step s uses samples s*B .. s*B+B-1 mod N in\n"
    "                       file order (default); epoch: a seeded permutation\n"
    "                       per epoch\n"
    "  --threads T          BLAS threads per rank (default: the plan's)\n"
    "  --checkpoint-dir DIR write checkpoints under DIR ...\n"
    "  --checkpoint-every K ... every K steps\n"
    "  --resume             continue from the newest valid checkpoint in DIR\n"
    "  --init-weights FILE  start from a weight file (executor/WEIGHTS.md)\n"
    "  --save-weights FILE  write the trained weights there\n"
    "  --bucket-bytes B     data-parallel gradient bucket size (default 1M)\n"
    "  --eval-every K       test accuracy after every K-th step too, recorded\n"
    "                       with the step (steps to a target accuracy)\n"
    "  --json               one JSON document on stdout (rank 0)\n"
    "  --help, --version\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure (a loss or parameters that\n"
    "are not finite, a diverged loss, a checkpoint that cannot be written,\n"
    "a database that did not take the whole record, too little address\n"
    "space to start), 2 bad usage or bad input (wrong rank count, a model\n"
    "dml-exec cannot run, missing or truncated data files, weights that are\n"
    "not finite), 128+N when signal N (SIGINT: 130, SIGTERM: 143) stopped\n"
    "the run at a step boundary: it is recorded as interrupted; 75 when\n"
    "DIR/stop-at-checkpoint (written by dml-run) stopped it right after a\n"
    "checkpoint (recorded as interrupted too; --resume continues).\n";

typedef struct options {
    dml_cli cli; /* --help, --version */
    dml_exec_options exec;
    bool json;
} options;

enum { OPT_PLAN = DML_CLI_OPT_FIRST, OPT_STEPS, OPT_DB, OPT_DATA, OPT_SEED,
       OPT_SHUFFLE, OPT_THREADS, OPT_CKDIR, OPT_CKEVERY, OPT_RESUME, OPT_INIT,
       OPT_SAVE, OPT_BUCKET, OPT_EVAL, OPT_JSON };

static const struct option longopts[] = {
    {"plan", required_argument, NULL, OPT_PLAN},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"db", required_argument, NULL, OPT_DB},
    {"data", required_argument, NULL, OPT_DATA},
    {"seed", required_argument, NULL, OPT_SEED},
    {"shuffle", required_argument, NULL, OPT_SHUFFLE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"checkpoint-dir", required_argument, NULL, OPT_CKDIR},
    {"checkpoint-every", required_argument, NULL, OPT_CKEVERY},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"init-weights", required_argument, NULL, OPT_INIT},
    {"save-weights", required_argument, NULL, OPT_SAVE},
    {"bucket-bytes", required_argument, NULL, OPT_BUCKET},
    {"eval-every", required_argument, NULL, OPT_EVAL},
    {"json", no_argument, NULL, OPT_JSON},
    DML_CLI_OPTIONS_END,
};

static dml_status on_option(void *ctx, int id, const char *arg,
                            dml_error *err)
{
    options *o = ctx;
    long v;
    double d;
    switch (id) {
    case OPT_PLAN: o->exec.plan_path = arg; break;
    case OPT_STEPS:
        DML_CHECK(dml_cli_parse_long(o->cli.style, "--steps", arg, 0,
                                     1000000000L, &v, err));
        o->exec.steps = v;
        break;
    case OPT_DB:
        return dml_cli_parse_path("--db", arg, &o->exec.db_path, err);
    case OPT_DATA: o->exec.data = arg; break;
    case OPT_SEED:
        /* Up to 2^63 - 1: the --json summary carries the seed as a JSON
         * integer, which jansson holds signed (2^63 read back as -1). */
        return dml_cli_parse_u64(o->cli.style, "--seed", arg, INT64_MAX,
                                 &o->exec.seed, err);
    case OPT_SHUFFLE:
        if (strcmp(arg, "none") == 0)
            o->exec.shuffle = false;
        else if (strcmp(arg, "epoch") == 0)
            o->exec.shuffle = true;
        else
            return dml_error_msg(err, DML_EUSAGE, "--shuffle: '%s' is "
                                 "not none or epoch", arg);
        break;
    case OPT_THREADS:
        DML_CHECK(dml_cli_parse_long(o->cli.style, "--threads", arg, 1, 4096,
                                     &v, err));
        o->exec.threads = (int)v;
        break;
    case OPT_CKDIR: o->exec.checkpoint_dir = arg; break;
    case OPT_CKEVERY:
        if (!dml_units_parse_long(arg, 1, 1000000000L, &v))
            return dml_error_msg(err, DML_EUSAGE, "--checkpoint-every: "
                                 "'%s' is not a whole number from 1", arg);
        o->exec.checkpoint_every = v;
        break;
    case OPT_RESUME: o->exec.resume = true; break;
    case OPT_INIT: o->exec.init_weights = arg; break;
    case OPT_SAVE: o->exec.save_weights = arg; break;
    case OPT_BUCKET:
        if (!dml_units_parse_size(arg, &d) || d < 4 || d > 1e10)
            return dml_error_msg(err, DML_EUSAGE, "--bucket-bytes: '%s' "
                                 "is not a size from 4 B to 10 GB", arg);
        o->exec.bucket_bytes = (size_t)d;
        break;
    case OPT_EVAL:
        if (!dml_units_parse_long(arg, 1, 1000000000L, &v))
            return dml_error_msg(err, DML_EUSAGE, "--eval-every: '%s' is "
                                 "not a whole number from 1", arg);
        o->exec.eval_every = v;
        break;
    case OPT_JSON: o->json = true; break;
    }
    return DML_OK;
}

static dml_status parse_options(int argc, char **argv, options *o,
                                dml_error *err)
{
    memset(o, 0, sizeof *o);
    o->cli.style = DML_CLI_QUOTED;
    dml_exec_options_init(&o->exec);
    DML_CHECK(dml_cli_parse(&o->cli, argc, argv, longopts, on_option, o,
                            err));
    if (!o->cli.help && !o->cli.version && !o->exec.plan_path)
        return dml_error_msg(err, DML_EUSAGE, "--plan FILE is required "
                             "(see --help)");
    o->exec.quiet_progress = o->json;
    return DML_OK;
}

/* --eval-every's test accuracies, on one line (about 10 of them). */
static void print_accuracy_curve(const json_t *curve)
{
    size_t n = json_array_size(curve);
    if (n == 0)
        return;
    size_t every = n > 10 ? (n + 9) / 10 : 1;
    printf("accuracy by step  ");
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(curve, i);
        if (i % every == 0 || i + 1 == n)
            printf(" %lld: %.2f %%",
                   (long long)json_integer_value(json_object_get(p, "steps")),
                   100.0 * json_real_value(
                               json_object_get(p, "test_accuracy")));
    }
    printf("\n");
}

/* The human summary: a loss table thinned to about 20 rows, then totals. */
static void print_summary(const json_t *j)
{
    const json_t *losses = json_object_get(j, "losses");
    json_int_t first = json_integer_value(json_object_get(j, "first_step"));
    size_t n = json_array_size(losses);
    size_t every = n > 20 ? (n + 19) / 20 : 1;
    printf("  %8s  %12s\n", "step", "loss");
    for (size_t i = 0; i < n; i++)
        if (i % every == 0 || i + 1 == n)
            printf("  %8lld  %12.6f\n", (long long)(first + (json_int_t)i),
                   json_real_value(json_array_get(losses, i)));
    char a[32], b[32];
    const json_t *med = json_object_get(j, "median_step_s");
    const json_t *pred = json_object_get(j, "predicted_step_s");
    const json_t *acc = json_object_get(j, "test_accuracy");
    const json_t *run = json_object_get(j, "run_id");
    printf("\nmedian step time   %s\n",
           json_is_real(med) ? dml_units_seconds(json_real_value(med), a,
                                                 sizeof a)
                             : "-");
    printf("predicted          %s\n",
           json_is_real(pred) ? dml_units_seconds(json_real_value(pred), b,
                                                  sizeof b)
                              : "-");
    if (json_is_real(acc))
        printf("test accuracy      %.2f %%\n", 100.0 * json_real_value(acc));
    else
        printf("test accuracy      -\n");
    print_accuracy_curve(json_object_get(j, "accuracy"));
    const json_t *stale = json_object_get(j, "max_staleness");
    if (json_is_integer(stale))
        printf("largest staleness  %lld steps\n",
               (long long)json_integer_value(stale));
    if (json_is_integer(run))
        printf("database run       %lld\n",
               (long long)json_integer_value(run));
    const json_t *bytes = json_object_get(j, "bytes_per_step");
    if (json_is_object(bytes))
        printf("DP bytes per step  %s inside nodes, %s between nodes "
               "(all ranks)\n",
               dml_units_bytes(
                   json_real_value(json_object_get(bytes, "intra_node")), a,
                   sizeof a),
               dml_units_bytes(
                   json_real_value(json_object_get(bytes, "inter_node")), b,
                   sizeof b));
}

/* Under mpirun before MPI_Init: is this rank 0 (or no launcher)? */
static bool launcher_rank0(void)
{
    const char *r = getenv("OMPI_COMM_WORLD_RANK");
    if (!r)
        r = getenv("PMIX_RANK");
    return !r || strcmp(r, "0") == 0;
}

int main(int argc, char **argv)
{
    dml_log_init("dml-exec");
    dml_error err;
    dml_error_clear(&err);
    char line[DML_ERROR_MSG_MAX + DML_ERROR_FILE_MAX + 64];
    /* Too little address space hangs OpenBLAS and MPI_Init instead of
     * failing (executor/limits.h). _exit: a normal exit would run
     * OpenBLAS's destructor, which waits for its threads, which may be
     * spinning on an mmap that cannot succeed. */
    if (dml_limits_check_start(openblas_get_num_threads(), &err) != DML_OK) {
        if (launcher_rank0())
            dml_log_error("%s", dml_error_format(&err, line, sizeof line));
        _exit(dml_status_exit_code(err.status));
    }
    dml_exec_mpi_preinit();
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    options o;
    dml_status s = parse_options(argc, argv, &o, &err);
    if (s != DML_OK || o.cli.help || o.cli.version) {
        if (rank == 0) {
            if (s != DML_OK)
                dml_log_error("%s", dml_error_format(&err, line, sizeof line));
            else
                dml_cli_print_help_version(&o.cli, "dml-exec", usage_text,
                                           stdout);
        }
        MPI_Finalize();
        return dml_status_exit_code(s);
    }
    dml_exec *x = NULL;
    s = dml_exec_open(&o.exec, MPI_COMM_WORLD, &x, &err);
    if (s == DML_OK)
        s = dml_exec_run(x, &err);
    int stopped_by = dml_exec_stop_signal(x);
    if (s != DML_OK) {
        if (rank == 0)
            dml_log_error("%s", dml_error_format(&err, line, sizeof line));
    } else if (rank == 0) {
        json_t *j = dml_exec_summary(x);
        if (o.json) {
            json_object_set_new(j, "schema_version",
                                json_integer(DML_JSON_SCHEMA_VERSION));
            char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
                                           JSON_REAL_PRECISION(17));
            if (text)
                puts(text);
            free(text);
        } else if (j) {
            print_summary(j);
        }
        json_decref(j);
    }
    dml_exec_close(x);
    MPI_Finalize();
    /* Stopped by a signal (and recorded as interrupted): the shell's
     * convention, 128 + the signal. */
    if (s != DML_OK && stopped_by > 0)
        return dml_interrupt_exit_code(stopped_by);
    if (s != DML_OK && stopped_by == DML_EXEC_STOP_ASKED)
        return DML_CKPT_STOP_EXIT;
    return dml_status_exit_code(s);
}
