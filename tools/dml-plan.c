/*
 * dml-plan: recommend how to split a model's training over a cluster, with
 * the batch size, learning-rate schedule and time to train; explain,
 * answer "why not ...?", export for Megatron-LM / DeepSpeed / Slurm /
 * torchrun, write the plan file dml-exec runs.
 *
 * A thin main(): parse options, let the planner check every input before
 * anything is searched or written (bad input: exit 2, nothing recorded),
 * search (nothing fits: exit 3), record the plans in one transaction, write
 * the plan file with its database id, print.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/datadir.h"
#include "common/error.h"
#include "common/file.h"
#include "common/interrupt.h"
#include "common/log.h"
#include "common/units.h"
#include "common/version.h"
#include "db/db.h"
#include "db/once.h"
#include "planner/config.h"
#include "planner/export.h"
#include "planner/planner.h"
#include "planner/record.h"
#include "planner/report.h"
#include "planner/calibrate.h"
#include "planner/tune.h"

static const char usage_text[] =
    "usage: dml-plan --model NAME|FILE --cluster NAME|FILE|this\n"
    "                --global-batch B|auto [--nodes N] [--devices N] [--seq S]\n"
    "                [--top K|all] [--config KNOBS] [--why-not KNOBS]\n"
    "                [--framework megatron|deepspeed] [--explain]\n"
    "                [--json] [--out plan.json] [--export KIND]\n"
    "                [--export-out FILE] [--code-dir D] [--slurm-time T]\n"
    "                [--slurm-partition P] [--slurm-account A]\n"
    "                [--db PATH] [--tokens T]\n"
    "                [--optimizer adam|adamw|sgd|lamb|lars]\n"
    "                [--base-lr LR --base-batch B] [--noise-scale B]\n"
    "                [--batch-ramp T] [--allow-cross-node-tp]\n"
    "                [--target-accuracy A | --target-loss L]\n"
    "       dml-plan --list-models | --list-clusters [--json]\n"
    "\n"
    "Search data, tensor and pipeline parallelism (with interleaving),\n"
    "micro-batch size, ZeRO stage, recomputation, sequence parallelism and\n"
    "the attention kernel for a model on a cluster, for one training runtime;\n"
    "predict each plan's step time and memory per\n"
    "device with the cost model; show the best with their batch and\n"
    "learning-rate schedule and time to train. Plans shown are recorded in\n"
    "the database.\n"
    "\n"
    "  --model M          model preset (--list-models) or spec file\n"
    "  --cluster C        cluster preset (--list-clusters), spec file, or\n"
    "                     'this': the newest cluster dml-probe measured\n"
    "                     with links between ranks (else the newest), the\n"
    "                     probe run named in the report\n"
    "  --nodes N          scale the cluster to N nodes\n"
    "  --devices N        plan for N devices (CPU: N MPI ranks)\n"
    "  --global-batch B   samples (sequences) per step, or 'auto' to search\n"
    "                     it with the plan by time to train (needs a noise\n"
    "                     scale: --noise-scale, or one dml-exec measured)\n"
    "  --seq S            sequence length instead of the model's\n"
    "  --top K|all        plans to show and record (default 5; all: every\n"
    "                     feasible plan, at most 10000)\n"
    "  --config KNOBS     fix knobs, search the rest: dp=,tp=,pp=,v=,mbs=,\n"
    "                     zero=0-3,recompute=none|selective|full,sp=0|1,\n"
    "                     schedule=1f1b|gpipe|interleaved,\n"
    "                     attn=flash|materialized,threads= (CPU),\n"
    "                     sync=allreduce|hierarchical|fp16|...,\n"
    "                     mode=sync|federated|gossip, graph= (gossip);\n"
    "                     mode=federated: clients=,sample=,epochs=,alpha=,\n"
    "                     prox=,secagg= (fixed); also says where its best\n"
    "                     plan ranks among all feasible plans\n"
    "  --framework F      megatron (default) or deepspeed: the runtime the\n"
    "                     plans are priced for, proposing only what it runs\n"
    "                     (--export megatron|deepspeed implies its own)\n"
    "  --why-not KNOBS    what rules that configuration out, or how much\n"
    "                     slower than the winner it is and why\n"
    "  --explain          break the winner down; why the runner-up lost\n"
    "  --json             one JSON document on stdout instead of tables\n"
    "  --out FILE         write the winner as a plan file for dml-exec\n"
    "  --export KIND      megatron, deepspeed, slurm or torchrun for the\n"
    "                     winner, on stdout (or --export-out FILE); a winner\n"
    "                     the target cannot run is never exported: the best\n"
    "                     plan it runs is, with a note on stderr, or exit 2\n"
    "  --code-dir D       the Megatron-LM checkout the Slurm script and the\n"
    "                     torchrun line cd into (default: $MEGATRON_LM, else\n"
    "                     the folder sbatch or torchrun is started in)\n"
    "  --slurm-time T     sbatch --time, e.g. 2-00:00:00 (default: the\n"
    "                     predicted time to train and a fifth, with --tokens)\n"
    "  --slurm-partition P, --slurm-account A   sbatch --partition and\n"
    "                     --account (default: commented placeholders)\n"
    "  --db PATH          database (default: $DML_DB, else ./dml.db)\n"
    "  --tokens T         training length in tokens (samples for an mlp),\n"
    "                     e.g. 300e9 or 2T, up to 1e18 and 1e12 steps; with\n"
    "                     'auto' the tokens the target needs at small\n"
    "                     batches (McCandlish E_min)\n"
    "  --optimizer O      adamw (default: Adam with decoupled weight decay),\n"
    "                     adam (weight decay as L2 in the gradient; planned\n"
    "                     without), sgd, lamb or lars (dml-exec(1) has each\n"
    "                     rule)\n"
    "  --base-lr LR, --base-batch B   a learning rate (1e-12 to 1000)\n"
    "                     tuned at batch B (1 to 1e12), to scale (linear\n"
    "                     for sgd/lars, square root for adam/lamb);\n"
    "                     default: GPT-3's table by model size\n"
    "  --noise-scale B    gradient noise scale (critical batch), samples,\n"
    "                     1 to 1e9\n"
    "  --batch-ramp T     ramp the batch up over the first T tokens (up to\n"
    "                     1e18 and 1e12 steps)\n"
    "  --allow-cross-node-tp  let tensor-parallel groups span nodes\n"
    "  --target-accuracy A  rank by predicted time to test accuracy A (0.84\n"
    "                     or 84%%): step time x steps to A, the steps each\n"
    "                     data-parallel strategy (sync=) needs taken from\n"
    "                     this model's runs at this --global-batch in the\n"
    "                     database (dml-exec --eval-every); every strategy\n"
    "                     is searched unless --config fixes sync=\n"
    "  --target-loss L    the same with a training loss of at most L\n"
    "  --tune K           run the top K plans (and the best of each other\n"
    "                     layout family) with mpirun dml-exec, rank them by\n"
    "                     measured step time, write the measured winner as\n"
    "                     --out, and refit this cluster's calibration\n"
    "  --tune-steps S     steps per trial (default 30)\n"
    "  --tune-data D      dml-exec --data for the trials (default: its own)\n"
    "  --keep-trials      keep the trials' plan files (default: removed)\n"
    "  --ranks N          tune with N MPI ranks (the same as --devices N)\n"
    "  --no-calibration   price plans with the spec as written, not with the\n"
    "                     newest calibration of the cluster in the database\n"
    "  --recalibrate      first refit the cluster's calibration from the\n"
    "                     dml-exec runs of its plans already in the\n"
    "                     database (as --tune does after its trials), and\n"
    "                     price with it when it is kept\n"
    "  --list-models, --list-clusters   the presets\n"
    "  --help, --version\n"
    "\n"
    "With --tune, SIGINT or SIGTERM stops the running trial (all of its\n"
    "processes; its run is recorded as interrupted) and dml-plan writes no\n"
    "file; when no trial succeeds, nothing is written either (exit 1).\n"
    "\n"
    "Exit status: 0 success, 1 runtime failure, 2 bad usage or bad input,\n"
    "3 no feasible plan, 128+N stopped by signal N (130 SIGINT, 143 SIGTERM).\n";

typedef struct options {
    dml_cli cli;              /* --help, --version */
    dml_planner_request req;
    bool have_batch;
    bool explain, json, list_models, list_clusters;
    const char *out;          /* --out */
    bool have_export;
    dml_export_kind export_kind;
    const char *export_out;   /* --export-out */
    dml_export_options export_opt; /* --code-dir, --slurm-* */
    const char *why_not;      /* --why-not text */
    bool have_framework;      /* --framework given */
    long tune_k;              /* --tune K, 0 = no tuning */
    int64_t tune_steps;       /* --tune-steps */
    const char *tune_data;    /* --tune-data */
    bool keep_trials;         /* --keep-trials */
    bool no_calibration;      /* --no-calibration */
    bool recalibrate;         /* --recalibrate */
    dml_planner_config why_not_cfg;
} options;

static dml_status parse_count(const char *opt, const char *text, long max,
                              int64_t *out, dml_error *err)
{
    long v = 0;
    DML_CHECK(dml_cli_parse_long(DML_CLI_BARE, opt, text, 1, max, &v, err));
    *out = v;
    return DML_OK;
}

/* Ranges of the real-valued options, checked before anything converts
 * them (the planner turns tokens into int64 step counts): generous, but
 * finite. */
#define TOKENS_MAX 1e18       /* --tokens, --batch-ramp: tokens */
#define LR_MIN 1e-12          /* --base-lr */
#define LR_MAX 1e3
#define BATCH_MAX 1e12        /* --base-batch: samples */
#define NOISE_MAX 1e9         /* --noise-scale: samples (the batch search
                                 goes up to 16 x it, capped at 2^26) */

static dml_status parse_real(const char *opt, const char *text, double min,
                             double max, double *out, dml_error *err)
{
    return dml_cli_parse_number(DML_CLI_BARE, opt, text, min, max, out, err);
}

/* --target-accuracy: a fraction (0.84) or a percentage (84%). */
static dml_status parse_target_accuracy(const char *text,
                                        dml_planner_request *r,
                                        dml_error *err)
{
    if (r->target.kind == DML_TARGET_LOSS)
        return dml_error_msg(err, DML_EUSAGE, "--target-accuracy and "
                             "--target-loss: one target at a time");
    char num[64];
    size_t n = strlen(text);
    bool pct = n > 0 && n < sizeof num && text[n - 1] == '%';
    snprintf(num, sizeof num, "%.*s", (int)(pct ? n - 1 : n), text);
    double v = 0;
    if (dml_cli_parse_number(DML_CLI_BARE, "--target-accuracy", num, 1e-9,
                             pct ? 100 : 1, &v, err) != DML_OK)
        return dml_error_msg(err, DML_EUSAGE, "--target-accuracy: '%s' is "
                             "not a fraction in (0, 1] (0.84) or a "
                             "percentage (84%%)", text);
    r->target.kind = DML_TARGET_ACCURACY;
    r->target.value = pct ? v / 100 : v;
    return DML_OK;
}

static dml_status parse_optimizer(const char *text, dml_optimizer *out,
                                  dml_error *err)
{
    if (strcmp(text, "adam") == 0)
        *out = DML_OPT_ADAM;
    else if (strcmp(text, "adamw") == 0)
        *out = DML_OPT_ADAMW;
    else if (strcmp(text, "sgd") == 0)
        *out = DML_OPT_SGD;
    else if (strcmp(text, "lamb") == 0)
        *out = DML_OPT_LAMB;
    else if (strcmp(text, "lars") == 0)
        *out = DML_OPT_LARS;
    else
        return dml_error_msg(err, DML_EUSAGE,
                             "--optimizer: \"%s\" is not adam, adamw, sgd, "
                             "lamb or lars", text);
    return DML_OK;
}

enum { OPT_MODEL = DML_CLI_OPT_FIRST, OPT_CLUSTER, OPT_NODES, OPT_DEVICES,
       OPT_BATCH, OPT_SEQ, OPT_TOP, OPT_CONFIG, OPT_WHYNOT, OPT_EXPLAIN,
       OPT_JSON, OPT_OUT, OPT_EXPORT, OPT_EXPORT_OUT, OPT_DB, OPT_TOKENS,
       OPT_OPT, OPT_BASE_LR, OPT_BASE_BATCH, OPT_NOISE, OPT_RAMP, OPT_XNODE,
       OPT_LIST_MODELS, OPT_LIST_CLUSTERS, OPT_TUNE, OPT_TUNE_STEPS,
       OPT_TUNE_DATA, OPT_RANKS, OPT_NO_CALIB, OPT_KEEP_TRIALS,
       OPT_FRAMEWORK, OPT_CODE_DIR, OPT_SLURM_TIME, OPT_SLURM_PARTITION,
       OPT_SLURM_ACCOUNT, OPT_TARGET_ACC, OPT_TARGET_LOSS, OPT_RECALIB };

static const struct option longopts[] = {
    {"model", required_argument, NULL, OPT_MODEL},
    {"cluster", required_argument, NULL, OPT_CLUSTER},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"devices", required_argument, NULL, OPT_DEVICES},
    {"global-batch", required_argument, NULL, OPT_BATCH},
    {"seq", required_argument, NULL, OPT_SEQ},
    {"top", required_argument, NULL, OPT_TOP},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"why-not", required_argument, NULL, OPT_WHYNOT},
    {"framework", required_argument, NULL, OPT_FRAMEWORK},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"json", no_argument, NULL, OPT_JSON},
    {"out", required_argument, NULL, OPT_OUT},
    {"export", required_argument, NULL, OPT_EXPORT},
    {"export-out", required_argument, NULL, OPT_EXPORT_OUT},
    {"code-dir", required_argument, NULL, OPT_CODE_DIR},
    {"slurm-time", required_argument, NULL, OPT_SLURM_TIME},
    {"slurm-partition", required_argument, NULL, OPT_SLURM_PARTITION},
    {"slurm-account", required_argument, NULL, OPT_SLURM_ACCOUNT},
    {"db", required_argument, NULL, OPT_DB},
    {"tokens", required_argument, NULL, OPT_TOKENS},
    {"optimizer", required_argument, NULL, OPT_OPT},
    {"base-lr", required_argument, NULL, OPT_BASE_LR},
    {"base-batch", required_argument, NULL, OPT_BASE_BATCH},
    {"noise-scale", required_argument, NULL, OPT_NOISE},
    {"batch-ramp", required_argument, NULL, OPT_RAMP},
    {"allow-cross-node-tp", no_argument, NULL, OPT_XNODE},
    {"target-accuracy", required_argument, NULL, OPT_TARGET_ACC},
    {"target-loss", required_argument, NULL, OPT_TARGET_LOSS},
    {"tune", required_argument, NULL, OPT_TUNE},
    {"tune-steps", required_argument, NULL, OPT_TUNE_STEPS},
    {"tune-data", required_argument, NULL, OPT_TUNE_DATA},
    {"keep-trials", no_argument, NULL, OPT_KEEP_TRIALS},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"no-calibration", no_argument, NULL, OPT_NO_CALIB},
    {"recalibrate", no_argument, NULL, OPT_RECALIB},
    {"list-models", no_argument, NULL, OPT_LIST_MODELS},
    {"list-clusters", no_argument, NULL, OPT_LIST_CLUSTERS},
    DML_CLI_OPTIONS_END,
};

static dml_status on_option(void *ctx, int id, const char *arg,
                            dml_error *err)
{
    options *o = ctx;
    int64_t n = 0;
    switch (id) {
    case OPT_MODEL: o->req.model = arg; break;
    case OPT_CLUSTER: o->req.cluster = arg; break;
    case OPT_NODES:
        DML_CHECK(parse_count("--nodes", arg, 1000000, &o->req.nodes, err));
        break;
    case OPT_DEVICES:
        DML_CHECK(parse_count("--devices", arg, 100000000,
                              &o->req.devices, err));
        break;
    case OPT_BATCH:
        o->have_batch = true;
        if (strcmp(arg, "auto") == 0)
            o->req.global_batch = 0;
        else
            DML_CHECK(parse_count("--global-batch", arg, 1000000000,
                                  &o->req.global_batch, err));
        break;
    case OPT_SEQ:
        DML_CHECK(parse_count("--seq", arg, 100000000, &o->req.seq, err));
        break;
    case OPT_TOP:
        /* all: every feasible plan (the search keeps what fits) */
        if (strcmp(arg, "all") == 0)
            n = DML_PLANNER_TOP_MAX;
        else
            DML_CHECK(parse_count("--top", arg, DML_PLANNER_TOP_MAX, &n,
                                  err));
        o->req.top_k = (int)n;
        break;
    case OPT_FRAMEWORK:
        if (!dml_framework_parse(arg, &o->req.framework))
            return dml_error_msg(err, DML_EUSAGE,
                                 "--framework: \"%s\" is not megatron or "
                                 "deepspeed", arg);
        o->have_framework = true;
        break;
    case OPT_CONFIG:
        DML_CHECK(dml_planner_config_parse(arg, "--config",
                                           &o->req.config, err));
        break;
    case OPT_WHYNOT:
        DML_CHECK(dml_planner_config_parse(arg, "--why-not",
                                           &o->why_not_cfg, err));
        o->why_not = arg;
        break;
    case OPT_EXPLAIN: o->explain = true; break;
    case OPT_JSON: o->json = true; break;
    case OPT_OUT: o->out = arg; break;
    case OPT_EXPORT:
        if (!dml_export_parse(arg, &o->export_kind))
            return dml_error_msg(err, DML_EUSAGE,
                                 "--export: \"%s\" is not megatron, "
                                 "deepspeed, slurm or torchrun", arg);
        o->have_export = true;
        break;
    case OPT_EXPORT_OUT: o->export_out = arg; break;
    case OPT_DB:
        return dml_cli_parse_path("--db", arg, &o->req.db_path, err);
    case OPT_TOKENS:
        DML_CHECK(parse_real("--tokens", arg, 1, TOKENS_MAX, &o->req.tokens,
                             err));
        break;
    case OPT_OPT:
        DML_CHECK(parse_optimizer(arg, &o->req.optimizer, err));
        break;
    case OPT_BASE_LR:
        DML_CHECK(parse_real("--base-lr", arg, LR_MIN, LR_MAX,
                             &o->req.base_lr, err));
        break;
    case OPT_BASE_BATCH:
        DML_CHECK(parse_real("--base-batch", arg, 1, BATCH_MAX,
                             &o->req.base_batch, err));
        break;
    case OPT_NOISE:
        DML_CHECK(parse_real("--noise-scale", arg, 1, NOISE_MAX,
                             &o->req.noise_scale, err));
        break;
    case OPT_RAMP:
        DML_CHECK(parse_real("--batch-ramp", arg, 1, TOKENS_MAX,
                             &o->req.ramp_tokens, err));
        break;
    case OPT_XNODE: o->req.allow_cross_node_tp = true; break;
    case OPT_TARGET_ACC: return parse_target_accuracy(arg, &o->req, err);
    case OPT_TARGET_LOSS:
        if (o->req.target.kind == DML_TARGET_ACCURACY)
            return dml_error_msg(err, DML_EUSAGE, "--target-loss and "
                                 "--target-accuracy: one target at a time");
        o->req.target.kind = DML_TARGET_LOSS;
        return parse_real("--target-loss", arg, 1e-9, 1e9,
                          &o->req.target.value, err);
    case OPT_TUNE:
        return dml_cli_parse_long(o->cli.style, "--tune", arg, 1,
                                  DML_TUNE_MAX_TRIALS / 2, &o->tune_k, err);
    case OPT_TUNE_STEPS:
        DML_CHECK(parse_count("--tune-steps", arg, 100000,
                              &o->tune_steps, err));
        if (o->tune_steps < 5)
            return dml_error_msg(err, DML_EUSAGE,
                                 "--tune-steps: at least 5 steps, so "
                                 "that warm-up steps can be left out");
        break;
    case OPT_TUNE_DATA: o->tune_data = arg; break;
    case OPT_KEEP_TRIALS: o->keep_trials = true; break;
    case OPT_RANKS:
        DML_CHECK(parse_count("--ranks", arg, 1 << 20,
                              &o->req.devices, err));
        break;
    case OPT_NO_CALIB: o->no_calibration = true; break;
    case OPT_RECALIB: o->recalibrate = true; break;
    case OPT_CODE_DIR: o->export_opt.code_dir = arg; break;
    case OPT_SLURM_TIME: o->export_opt.slurm_time = arg; break;
    case OPT_SLURM_PARTITION: o->export_opt.slurm_partition = arg; break;
    case OPT_SLURM_ACCOUNT: o->export_opt.slurm_account = arg; break;
    case OPT_LIST_MODELS: o->list_models = true; break;
    case OPT_LIST_CLUSTERS: o->list_clusters = true; break;
    }
    return DML_OK;
}

static dml_status parse_options(int argc, char **argv, options *o,
                                dml_error *err)
{
    memset(o, 0, sizeof *o);
    o->cli.style = DML_CLI_BARE;
    dml_planner_request_init(&o->req);
    o->tune_steps = 30;
    DML_CHECK(dml_cli_parse(&o->cli, argc, argv, longopts, on_option, o,
                            err));
    /* --json is one document; the two lists have a schema each */
    if (o->list_models && o->list_clusters && o->json && !o->cli.help &&
        !o->cli.version)
        return dml_error_msg(err, DML_EUSAGE,
                             "--list-models and --list-clusters with --json "
                             "would be two documents: ask for one list at a "
                             "time");
    if (o->cli.help || o->cli.version || o->list_models || o->list_clusters)
        return DML_OK;
    if (!o->req.model)
        return dml_error_msg(err, DML_EUSAGE,
                             "--model is required (see --list-models)");
    if (!o->req.cluster)
        return dml_error_msg(err, DML_EUSAGE,
                             "--cluster is required (see --list-clusters)");
    if (!o->have_batch)
        return dml_error_msg(err, DML_EUSAGE,
                             "--global-batch is required (a number of "
                             "samples, or auto)");
    if (o->export_out && !o->have_export)
        return dml_error_msg(err, DML_EUSAGE, "--export-out needs --export");
    /* The launch options go into a Slurm script or a torchrun line. */
    const dml_export_options *eo = &o->export_opt;
    bool launch = o->have_export && (o->export_kind == DML_EXPORT_SLURM ||
                                     o->export_kind == DML_EXPORT_TORCHRUN);
    if (eo->code_dir && !launch)
        return dml_error_msg(err, DML_EUSAGE,
                             "--code-dir needs --export slurm or torchrun");
    if ((eo->slurm_time || eo->slurm_partition || eo->slurm_account) &&
        !(o->have_export && o->export_kind == DML_EXPORT_SLURM))
        return dml_error_msg(err, DML_EUSAGE,
                             "--slurm-time, --slurm-partition and "
                             "--slurm-account need --export slurm");
    DML_CHECK(dml_export_options_check(eo, err));
    if (o->have_export && !o->export_out && o->json)
        return dml_error_msg(err, DML_EUSAGE,
                             "--json and --export both write to standard "
                             "output: add --export-out FILE");
    /* An export for a runtime plans for that runtime: implied, or a
     * contradiction. */
    dml_framework ef;
    if (o->have_export && dml_export_framework(o->export_kind, &ef)) {
        if (o->have_framework && ef != o->req.framework)
            return dml_error_msg(
                err, DML_EUSAGE,
                "--framework %s and --export %s disagree: a %s export runs "
                "plans priced for %s (drop --framework, or make them agree)",
                dml_framework_name(o->req.framework),
                dml_export_name(o->export_kind),
                dml_export_name(o->export_kind), dml_framework_name(ef));
        o->req.framework = ef;
    }
    return DML_OK;
}

static int fail(const dml_error *err)
{
    return dml_cli_fail(stderr, "dml-plan", err->status, err);
}

/* --recalibrate: the cluster's calibration refitted from the runs in db
 * (stored when it predicts held-out plans better than the spec alone),
 * one line on what came of it (on stderr under --json). */
static dml_status refit(const options *o, const dml_planner *p, dml_db *db,
                        dml_error *err)
{
    dml_calibration_result r;
    dml_status s = dml_calibrate_refit(db, &p->cluster, p->req.data_dir, &r,
                                       err);
    if (s != DML_OK)
        return s;
    dml_calibration_print(o->json ? stderr : stdout, s, "", &r);
    dml_calibration_result_free(&r);
    return DML_OK;
}

/* The newest calibration of the cluster, unless --no-calibration or there
 * is no database yet (a reading step never creates one). */
static dml_status apply_calibration(const options *o, dml_planner *p,
                                    dml_calibration_applied *cal,
                                    bool *found, dml_error *err)
{
    *found = false;
    if (o->no_calibration && o->recalibrate)
        return dml_error_msg(err, DML_EINPUT, "--recalibrate and "
                             "--no-calibration: one or the other");
    if (o->no_calibration)
        return DML_OK;
    dml_db *db = NULL;
    dml_status s = dml_db_once_read(o->req.db, &db, err);
    if (s == DML_ENOTFOUND && !o->recalibrate) {
        dml_error_clear(err);
        return DML_OK;
    }
    DML_CHECK(s);
    if (o->recalibrate)
        s = refit(o, p, db, err);
    if (s == DML_OK)
        s = dml_calibration_load(db, p->cluster.fingerprint, cal, found,
                                 err);
    DML_CHECK(s);
    if (!*found)
        return DML_OK;
    return dml_planner_apply_calibration(p, &cal->calib, cal->id,
                                         cal->mem_extra_bytes, err);
}

static void print_calibration(const options *o,
                              const dml_calibration_applied *cal, bool found)
{
    if (o->no_calibration)
        printf("Calibration: off (--no-calibration); predictions use the "
               "cluster spec as written.\n");
    else if (found)
        printf("Calibrated: predictions +-%.0f%% (calibration #%lld of %s, "
               "%d runs, leave-one-out MAPE %.1f%%).\n",
               cal->interval_pct, (long long)cal->id, cal->created_at,
               cal->n_runs, cal->loo_mape_pct);
    else
        printf("Calibration: none yet for this cluster (dml-plan --tune "
               "makes one from measured runs).\n");
}

/* The error when every trial failed: how many, and the first reason. */
static dml_status no_trial_succeeded(const dml_tune_report *t, dml_error *err)
{
    for (size_t k = 0; k < t->n; k++)
        if (t->result[k].outcome != DML_TUNE_OK)
            return dml_error_msg(err, DML_ERUNTIME,
                                 "no trial succeeded (%zu tried; trial "
                                 "%zu, plan #%zu: %s); nothing written",
                                 t->n, k + 1, t->plan_index[k] + 1,
                                 t->result[k].reason);
    return dml_error_msg(err, DML_ERUNTIME,
                         "no trial succeeded; nothing written");
}

/* Everything after the search: record, tune, write files, print. */
static dml_status finish(const options *o, dml_planner *p,
                         const dml_why_not *why,
                         const dml_calibration_applied *cal, bool cal_found,
                         dml_error *err)
{
    const char *db_path = o->req.db->path;
    dml_db *db = NULL;
    DML_CHECK(dml_db_once_write(o->req.db, &db, err));
    dml_status s = dml_planner_record(db, p, err);
    dml_tune_report tune;
    memset(&tune, 0, sizeof tune);
    bool tuned = false;
    if (s == DML_OK && o->tune_k > 0) {
        dml_tune_request rq = {.top_k = (int)o->tune_k,
                               .steps = o->tune_steps,
                               .db_path = db_path,
                               .data = o->tune_data,
                               .keep_trials = o->keep_trials,
                               .progress = !o->json};
        s = dml_planner_tune(p, db, &rq, &tune, err);
        tuned = s == DML_OK;
    }
    /* With tuning, the plan written is the one that measured fastest, and
     * when its trials gave a calibration that is kept, with the prediction
     * of that calibration (recorded as a plan of its own), so that the run
     * of it is compared with what dml now expects. */
    const dml_planned *win =
        tuned && tune.have_winner ? &p->plans[tune.winner] : &p->plans[0];
    dml_planned *recal = NULL;
    if (s == DML_OK && tuned && tune.have_winner && tune.cal.kept &&
        tune.cal.calibration_id > 0) {
        recal = malloc(sizeof *recal);
        s = recal ? dml_planner_repredict(p, win, &tune.cal.calib,
                                          tune.cal.mem_extra_bytes, recal, err)
                  : dml_error_msg(err, DML_ENOMEM, "out of memory");
        if (s == DML_OK)
            s = dml_planner_record_one(db, p, recal,
                                       tune.cal.calibration_id, err);
        if (s == DML_OK)
            win = recal;
    }
    if (s != DML_OK) {
        free(recal);
        dml_tune_report_free(&tune);
        return s;
    }
    /* Nothing measured: the report says why, and no file is written (an
     * unmeasured plan under --out would pass for a tuned one). */
    bool none_measured = tuned && !tune.have_winner;
    /* The plan the target runs: the winner, or the best of the others
     * with a note saying why, or none (exit 2) -- checked before any
     * file is written. */
    const dml_planned *exported = win;
    if (o->have_export && !none_measured) {
        bool fallback = false;
        char passed_over[1024];
        s = dml_export_pick(o->export_kind, p, win, &exported, &fallback,
                            passed_over, sizeof passed_over, err);
        if (s == DML_OK && fallback)
            dml_log_warn("%s", passed_over);
    }
    if (s == DML_OK && o->out && !none_measured)
        s = dml_planner_write_plan_file(o->out, &win->plan, err);
    char *export_text = NULL;
    dml_export_options eo = o->export_opt;
    eo.plan_file = o->out;
    if (s == DML_OK && o->have_export && !none_measured)
        s = dml_planner_export_with(o->export_kind, p, exported, &eo,
                                    &export_text, err);
    if (s == DML_OK && export_text && o->export_out)
        s = dml_file_write_atomic(o->export_out, export_text,
                                  strlen(export_text), err);
    if (s != DML_OK) {
        free(export_text);
        free(recal);
        dml_tune_report_free(&tune);
        return s;
    }
    dml_report_extras x = {.explain = o->explain, .why_not = why,
                           .why_not_config = o->why_not, .db_path = db_path,
                           .plan_file = tuned ? NULL : o->out,
                           .interval_pct = cal_found ? cal->interval_pct : 0};
    if (export_text && !o->export_out) {
        fputs(export_text, stdout); /* the export is the data */
    } else if (o->json) {
        json_t *doc = dml_planner_to_json(p, &x);
        if (doc && !o->no_calibration && cal_found)
            json_object_set_new(
                doc, "calibration",
                json_pack("{s:I, s:i, s:f, s:f}", "id", (json_int_t)cal->id,
                          "runs", cal->n_runs, "interval_pct",
                          cal->interval_pct, "loo_mape_pct",
                          cal->loo_mape_pct));
        if (doc && tuned) {
            json_t *trials = json_array();
            for (size_t k = 0; k < tune.n; k++) {
                size_t t = tune.order[k];
                const dml_tune_trial_result *r = &tune.result[t];
                const dml_plan *pl = &p->plans[tune.plan_index[t]].plan;
                json_array_append_new(
                    trials,
                    json_pack("{s:i, s:s, s:f, s:o, s:I, s:s}", "plan",
                              (int)tune.plan_index[t] + 1, "outcome",
                              dml_tune_outcome_name(r->outcome),
                              "predicted_step_s", pl->pred.step_s,
                              "measured_step_s",
                              r->outcome == DML_TUNE_OK
                                  ? json_real(r->measured_step_s)
                                  : json_null(),
                              "run_id", (json_int_t)r->run_id, "reason",
                              r->reason));
            }
            json_object_set_new(doc, "tuning", trials);
            if (recal)
                json_object_set_new(
                    doc, "tuned_winner",
                    json_pack("{s:i, s:f, s:I, s:I}", "plan",
                              (int)tune.winner + 1, "calibrated_step_s",
                              recal->plan.pred.step_s, "db_plan_id",
                              (json_int_t)recal->plan.db_plan_id,
                              "calibration_id",
                              (json_int_t)tune.cal.calibration_id));
        }
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2) |
                                                JSON_PRESERVE_ORDER |
                                                JSON_REAL_PRECISION(9))) {
            json_decref(doc);
            free(export_text);
            free(recal);
            dml_tune_report_free(&tune);
            return dml_error_msg(err, DML_ENOMEM, "out of memory");
        }
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        dml_planner_print(stdout, p, &x);
        print_calibration(o, cal, cal_found);
        if (tuned)
            dml_tune_report_print(stdout, p, &tune);
        if (tuned && o->out && tune.have_winner && recal) {
            char a[32], b[32];
            printf("The measured winner (#%zu) is written to %s with the "
                   "calibrated prediction, %s per step (uncalibrated %s; "
                   "plan %lld in the database).\n",
                   tune.winner + 1, o->out,
                   dml_units_seconds(recal->plan.pred.step_s, a, sizeof a),
                   dml_units_seconds(p->plans[tune.winner].plan.pred.step_s,
                                     b, sizeof b),
                   (long long)recal->plan.db_plan_id);
        } else if (tuned && o->out && tune.have_winner) {
            printf("The measured winner (#%zu) is written to %s.\n",
                   tune.winner + 1, o->out);
        }
        if (o->export_out)
            printf("%s export written to %s.\n",
                   dml_export_name(o->export_kind), o->export_out);
    }
    free(export_text);
    free(recal);
    if (none_measured)
        s = no_trial_succeeded(&tune, err);
    dml_tune_report_free(&tune);
    if (fflush(stdout) != 0)
        return dml_error_msg(err, DML_EIO, "cannot write to standard output");
    return s;
}

int main(int argc, char **argv)
{
    dml_log_init(argv[0]);
    options o;
    dml_error err;
    dml_error_clear(&err);
    if (parse_options(argc, argv, &o, &err) != DML_OK)
        return fail(&err);
    if (dml_cli_print_help_version(&o.cli, "dml-plan", usage_text, stdout))
        return 0;
    /* The presets: $DML_DATA_DIR, else share/dml of an installed prefix,
     * else the source tree (common/datadir.h). */
    char data_dir_buf[4096];
    const char *data_dir = dml_datadir_resolve(getenv("DML_DATA_DIR"),
                                               data_dir_buf,
                                               sizeof data_dir_buf);
    if (o.list_models || o.list_clusters) {
        if (o.list_models &&
            dml_planner_list_presets(stdout, data_dir, true, o.json, &err))
            return fail(&err);
        if (o.list_clusters &&
            dml_planner_list_presets(stdout, data_dir, false, o.json, &err))
            return fail(&err);
        return 0;
    }
    o.req.data_dir = data_dir;
    /* every step that reads or writes the database asks this one handle,
     * so the file is opened once, when first needed */
    dml_db_once db;
    dml_db_once_init(&db, dml_db_default_path(o.req.db_path));
    o.req.db = &db;
    /* Trials run in process groups of their own, which a terminal's
     * Ctrl-C does not reach: catch it (and SIGTERM) so that the tuning
     * loop stops the running trial instead of leaving it orphaned. */
    if (o.tune_k > 0 &&
        dml_interrupt_install(DML_INTERRUPT_NOTE, NULL, NULL) != 0)
        dml_log_warn("cannot catch SIGINT/SIGTERM: a trial running when "
                     "one arrives is left running");
    /* Tuning tries the family bests too: keep enough candidates. */
    if (o.tune_k > 0 && o.req.top_k < 4 * o.tune_k)
        o.req.top_k = (int)(4 * o.tune_k < DML_PLANNER_TOP_MAX
                                ? 4 * o.tune_k
                                : DML_PLANNER_TOP_MAX);
    dml_planner *p = NULL;
    dml_status s = dml_planner_new(&o.req, &p, &err);
    /* the history does not say what (some) strategies cost: one line */
    if (s == DML_OK && p->conv_warning[0])
        dml_log_warn("%s", p->conv_warning);
    dml_calibration_applied cal;
    memset(&cal, 0, sizeof cal);
    bool cal_found = false;
    if (s == DML_OK)
        s = apply_calibration(&o, p, &cal, &cal_found, &err);
    if (s == DML_OK && o.have_export)
        s = dml_export_check(o.export_kind, &p->model, &err);
    if (s == DML_OK && o.out)
        s = dml_file_check_writable(o.out, &err);
    if (s == DML_OK && o.export_out)
        s = dml_file_check_writable(o.export_out, &err);
    if (s == DML_OK)
        s = dml_planner_run(p, &err);
    /* An export no plan of the search can be: refused before anything
     * is recorded (finish picks the plan again, after tuning). */
    if (s == DML_OK && o.have_export && o.tune_k == 0) {
        const dml_planned *pick = NULL;
        bool fallback = false;
        char passed_over[8];
        s = dml_export_pick(o.export_kind, p, &p->plans[0], &pick, &fallback,
                            passed_over, sizeof passed_over, &err);
    }
    dml_why_not why;
    if (s == DML_OK && o.why_not)
        s = dml_planner_why_not(p, &o.why_not_cfg, &why, &err);
    if (s == DML_OK)
        s = finish(&o, p, o.why_not ? &why : NULL, &cal, cal_found, &err);
    dml_planner_free(p);
    dml_db_once_close(&db);
    if (s == DML_OK)
        return 0;
    /* Stopped by a signal: the one line reads as dml-probe's
     * ("dml-plan: interrupted by SIGTERM ..."), a notice rather than an
     * "error:", and the exit code is 128 + the signal. */
    int sig = dml_interrupt_signal();
    if (sig) {
        char line[2048];
        fprintf(stderr, "dml-plan: %s\n",
                dml_error_format(&err, line, sizeof line));
        return dml_interrupt_exit_code(sig);
    }
    return fail(&err);
}
